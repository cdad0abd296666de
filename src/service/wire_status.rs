//! Statuses tonic chooses differently from gRPC's conventions and our interface, for requests
//! that fail before our handlers run: a message over the size limit (tonic: OUT_OF_RANGE;
//! gRPC: RESOURCE_EXHAUSTED), and a request that is malformed on the wire — a message that
//! does not decode (invalid UTF-8 in a string field, say), a stream that ends inside a
//! message, a message frame with a compression flag other than 0 or 1. tonic answers those
//! INTERNAL, which tells an operator the server is at fault; they are the client's mistake:
//! INVALID_ARGUMENT. (A compressed flag without a grpc-encoding stays INTERNAL, as the gRPC
//! compression spec requires.)
//! This layer rewrites them on unary responses; ClassifyStream maps its own with [`fix`].

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use tonic::Code;
use tower::{Layer, Service};

/// The message tonic puts on a too-large decoded message.
const TOO_LARGE: &str = "decoded message length too large";
/// The start of the message tonic puts on a message that does not decode.
const UNDECODABLE: &str = "failed to decode Protobuf message";
/// tonic's message for a request stream that ends inside a message.
const TRUNCATED: &str = "Unexpected EOF decoding stream";
/// Part of tonic's message for a message frame whose compression flag is not 0 or 1, and how
/// it ends when the frame came from the client.
const BAD_FLAG: &str = "invalid compression flag";
const FROM_CLIENT: &str = "while sending request";

/// The code a status should carry: `code` as tonic chose it, `message` unescaped.
fn corrected(code: Code, message: &str) -> Code {
    match code {
        Code::OutOfRange if message.contains(TOO_LARGE) => Code::ResourceExhausted,
        Code::Internal
            if message.starts_with(UNDECODABLE)
                || message.starts_with(TRUNCATED)
                || (message.contains(BAD_FLAG) && message.ends_with(FROM_CLIENT)) =>
        {
            Code::InvalidArgument
        }
        other => other,
    }
}

/// The same status with the code gRPC conventions call for.
pub fn fix(status: tonic::Status) -> tonic::Status {
    let code = corrected(status.code(), status.message());
    if code == status.code() {
        status
    } else {
        tonic::Status::new(code, status.message())
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct WireStatusLayer;

impl<S> Layer<S> for WireStatusLayer {
    type Service = WireStatus<S>;

    fn layer(&self, inner: S) -> WireStatus<S> {
        WireStatus { inner }
    }
}

#[derive(Debug, Clone)]
pub struct WireStatus<S> {
    inner: S,
}

fn rewrite<B>(response: &mut http::Response<B>) {
    let headers = response.headers_mut();
    let Some(code) = headers
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i32>().ok())
        .map(Code::from_i32)
    else {
        return;
    };
    // grpc-message is percent-encoded; spaces are all these checks need decoded
    let message = headers
        .get("grpc-message")
        .and_then(|v| v.to_str().ok())
        .map(|m| m.replace("%20", " "))
        .unwrap_or_default();
    let fixed = corrected(code, &message);
    if fixed != code {
        headers.insert("grpc-status", http::HeaderValue::from(fixed as i32));
    }
}

impl<S, ReqBody, ResBody> Service<http::Request<ReqBody>> for WireStatus<S>
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
