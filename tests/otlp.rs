//! With `--features otlp`, the real server exports one span per gRPC call, with its method
//! and request id, to an OpenTelemetry collector — here a fake collector on 127.0.0.1:0.
#![cfg(feature = "otlp")]

mod common;

use common::{article, classify_req, serve_command, small_model};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{TraceService, TraceServiceServer};
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tonic::{Request, Response, Status};
use warta::proto::v1::article_service_client::ArticleServiceClient;

#[derive(Clone, Default)]
struct Collector(Arc<Mutex<Vec<ExportTraceServiceRequest>>>);

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        self.0.lock().expect("lock").push(request.into_inner());
        Ok(Response::new(ExportTraceServiceResponse { partial_success: None }))
    }
}

/// (span name, attributes as strings) of every span received.
fn spans(c: &Collector) -> Vec<(String, Vec<(String, String)>)> {
    let got = c.0.lock().expect("lock");
    let mut out = Vec::new();
    for req in got.iter() {
        for rs in &req.resource_spans {
            for ss in &rs.scope_spans {
                for span in &ss.spans {
                    let attrs = span
                        .attributes
                        .iter()
                        .map(|kv| {
                            let v = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                                Some(AnyValue::StringValue(s)) => s.clone(),
                                Some(other) => format!("{other:?}"),
                                None => String::new(),
                            };
                            (kv.key.clone(), v)
                        })
                        .collect();
                    out.push((span.name.clone(), attrs));
                }
            }
        }
    }
    out
}

#[tokio::test]
async fn each_call_is_a_span_at_the_collector() {
    let collector = Collector::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let collector_addr = listener.local_addr().expect("addr");
    let server = tonic::transport::Server::builder()
        .add_service(TraceServiceServer::new(collector.clone()))
        .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener));
    tokio::spawn(server);

    let dir = tempfile::tempdir().expect("tmp");
    let model = dir.path().join("m.warta");
    small_model().save(&model).expect("save");
    let endpoint = format!("http://{collector_addr}");
    let (mut cmd, addr) = serve_command(&["--otlp-endpoint", &endpoint], &[], &model);
    let mut child = cmd.env("WARTA_LOG", "info").spawn().expect("start warta serve");

    let mut client = None;
    for _ in 0..300 {
        if let Ok(c) = ArticleServiceClient::connect(format!("http://{addr}")).await {
            client = Some(c);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut client = client.expect("server up");
    let mut answered = false;
    for _ in 0..100 {
        let mut req = Request::new(classify_req(article("a", "Migran menunggu di perbatasan."), 1));
        req.metadata_mut()
            .insert("x-request-id", "otlp-trace-1".parse().expect("header"));
        if client.classify(req).await.is_ok() {
            answered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(answered, "the server answered");

    // SIGTERM: the server drains and flushes its spans before it exits
    common::signal(&child, libc::SIGTERM);
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .expect("join")
        .expect("wait");
    assert!(status.success());
    let spans = spans(&collector);
    let call = spans
        .iter()
        .find(|(_, attrs)| {
            attrs.iter().any(|(k, v)| k == "request_id" && v == "otlp-trace-1")
                && attrs.iter().any(|(k, v)| k == "code" && v == "OK")
        })
        .unwrap_or_else(|| panic!("no span for the call among {spans:?}"));
    assert_eq!(call.0, "grpc");
    assert!(
        call.1
            .iter()
            .any(|(k, v)| k == "method" && v == "/warta.v1.ArticleService/Classify"),
        "{call:?}"
    );
    assert!(call.1.iter().any(|(k, _)| k == "latency_us"), "{call:?}");
}
