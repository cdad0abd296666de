//! gRPC says a message over the size limit is RESOURCE_EXHAUSTED; tonic answers OUT_OF_RANGE.
//! This layer rewrites that one status on unary responses (ClassifyStream maps it itself), so
//! clients see the code the spec and the interface promise.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use tonic::Code;
use tower::{Layer, Service};

/// The message tonic puts on a too-large decoded message.
pub const TOO_LARGE: &str = "decoded message length too large";

#[derive(Debug, Clone, Copy, Default)]
pub struct OversizeLayer;

impl<S> Layer<S> for OversizeLayer {
    type Service = Oversize<S>;

    fn layer(&self, inner: S) -> Oversize<S> {
        Oversize { inner }
    }
}

#[derive(Debug, Clone)]
pub struct Oversize<S> {
    inner: S,
}

fn rewrite<B>(response: &mut http::Response<B>) {
    let headers = response.headers_mut();
    let out_of_range =
        headers.get("grpc-status").and_then(|v| v.to_str().ok()) == Some(&(Code::OutOfRange as i32).to_string());
    let too_large = headers
        .get("grpc-message")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|m| m.contains("message%20length%20too%20large") || m.contains(TOO_LARGE));
    if out_of_range && too_large {
        headers.insert("grpc-status", http::HeaderValue::from(Code::ResourceExhausted as i32));
    }
}

impl<S, ReqBody, ResBody> Service<http::Request<ReqBody>> for Oversize<S>
where
    S: Service<http::Request<ReqBody>, Response = http::Response<ResBody>>,
    S::Future: Send + 'static,
{
    type Response = http::Response<ResBody>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<ReqBody>) -> Self::Future {
        let future = self.inner.call(request);
        Box::pin(async move {
            let mut response = future.await?;
            rewrite(&mut response);
            Ok(response)
        })
    }
}
