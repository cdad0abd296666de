//! Prometheus metrics: requests by method and status code, latency histograms, batch sizes,
//! in-flight requests, articles by label, the served model as an info metric. Recorded always
//! (a no-op until a recorder is installed); `warta serve --metrics-addr` installs one and
//! serves the text format at `/metrics`.

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Latency buckets, in seconds: sub-millisecond calls up to the 30 s default deadline.
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];
/// Articles per ClassifyBatch call or per stream chunk.
const BATCH_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0];

pub const REQUESTS: &str = "warta_requests_total";
pub const LATENCY: &str = "warta_request_duration_seconds";
pub const IN_FLIGHT: &str = "warta_in_flight_requests";
pub const BATCH_SIZE: &str = "warta_batch_size";
pub const CLASSIFIED: &str = "warta_articles_classified_total";
pub const MODEL_INFO: &str = "warta_model_info";

/// The process-wide recorder, installed on first use (a process has one global recorder).
pub fn handle() -> Result<PrometheusHandle, String> {
    static HANDLE: OnceLock<Result<PrometheusHandle, String>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Full(LATENCY.into()), LATENCY_BUCKETS)
                .and_then(|b| b.set_buckets_for_metric(Matcher::Full(BATCH_SIZE.into()), BATCH_BUCKETS))
                .and_then(|b| b.install_recorder())
                .map_err(|e| e.to_string())
        })
        .clone()
}

pub fn record_batch(method: &'static str, size: usize) {
    metrics::histogram!(BATCH_SIZE, "method" => method).record(size as f64);
}

/// One method's calls. The common outcome (OK) and the latency record through handles
/// registered once per server, without building a key or hashing labels on every call.
#[derive(Clone)]
pub struct MethodMetrics {
    method: &'static str,
    ok: metrics::Counter,
    latency: metrics::Histogram,
}

impl MethodMetrics {
    pub fn new(method: &'static str) -> Self {
        MethodMetrics {
            method,
            ok: metrics::counter!(REQUESTS, "method" => method, "code" => code_name(tonic::Code::Ok)),
            latency: metrics::histogram!(LATENCY, "method" => method),
        }
    }

    pub fn method(&self) -> &'static str {
        self.method
    }

    /// One finished call.
    pub fn record(&self, code: tonic::Code, elapsed: Duration) {
        if code == tonic::Code::Ok {
            self.ok.increment(1);
        } else {
            metrics::counter!(REQUESTS, "method" => self.method, "code" => code_name(code)).increment(1);
        }
        self.latency.record(elapsed.as_secs_f64());
    }
}

/// Articles classified, by top label: one counter per label of a model, registered when the
/// model is made.
pub struct LabelCounters(Vec<metrics::Counter>);

impl LabelCounters {
    pub fn new(labels: &[String]) -> Self {
        LabelCounters(
            labels
                .iter()
                .map(|l| metrics::counter!(CLASSIFIED, "label" => l.clone()))
                .collect(),
        )
    }

    /// Count the model's label number `index`.
    pub fn count(&self, index: usize) {
        if let Some(c) = self.0.get(index) {
            c.increment(1);
        }
    }
}

/// The served model, as an info metric: 1 for the current version, 0 for the one it replaced.
pub fn record_model(version: &str, algorithm: &str, source: &str, previous: Option<&str>) {
    if let Some(old) = previous.filter(|p| *p != version) {
        metrics::gauge!(MODEL_INFO, "version" => old.to_string()).set(0.0);
    }
    metrics::gauge!(MODEL_INFO, "version" => version.to_string(), "algorithm" => algorithm.to_string(), "source" => source.to_string())
        .set(1.0);
}

/// Every server's count of requests in flight. The gauge is set from them when the page is
/// rendered, not on every call: a call then adds to its server's counter only, instead of
/// also updating the recorder's gauge (its value and its generation, on lines that every
/// worker thread writes) on the way in and out.
static IN_FLIGHT_COUNTS: Mutex<Vec<Weak<AtomicUsize>>> = Mutex::new(Vec::new());

/// A new server's in-flight counter, counted in the gauge for as long as it lives.
pub fn tracked_in_flight() -> Arc<AtomicUsize> {
    let count = Arc::new(AtomicUsize::new(0));
    if let Ok(mut all) = IN_FLIGHT_COUNTS.lock() {
        all.retain(|c| c.strong_count() > 0);
        all.push(Arc::downgrade(&count));
    }
    count
}

/// Set the in-flight gauge to the sum of the live servers' counts.
fn refresh_in_flight() {
    let total: usize = IN_FLIGHT_COUNTS.lock().map_or(0, |all| {
        all.iter()
            .filter_map(Weak::upgrade)
            .map(|c| c.load(Ordering::Acquire))
            .sum()
    });
    metrics::gauge!(IN_FLIGHT).set(total as f64);
}

pub(crate) fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code::*;
    match code {
        Ok => "OK",
        Cancelled => "CANCELLED",
        Unknown => "UNKNOWN",
        InvalidArgument => "INVALID_ARGUMENT",
        DeadlineExceeded => "DEADLINE_EXCEEDED",
        NotFound => "NOT_FOUND",
        AlreadyExists => "ALREADY_EXISTS",
        PermissionDenied => "PERMISSION_DENIED",
        ResourceExhausted => "RESOURCE_EXHAUSTED",
        FailedPrecondition => "FAILED_PRECONDITION",
        Aborted => "ABORTED",
        OutOfRange => "OUT_OF_RANGE",
        Unimplemented => "UNIMPLEMENTED",
        Internal => "INTERNAL",
        Unavailable => "UNAVAILABLE",
        DataLoss => "DATA_LOSS",
        Unauthenticated => "UNAUTHENTICATED",
    }
}

/// Serve `GET /metrics` (Prometheus text format) on `listener` until the process ends; any
/// other path is 404. A minimal HTTP/1.1 responder: one request per connection.
pub async fn serve(listener: tokio::net::TcpListener, handle: PrometheusHandle) {
    loop {
        let Ok((mut conn, _)) = listener.accept().await else {
            continue;
        };
        let handle = handle.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            let n = match tokio::time::timeout(Duration::from_secs(5), conn.read(&mut buf)).await {
                Ok(Ok(n)) => n,
                _ => return,
            };
            let head = String::from_utf8_lossy(&buf[..n]);
            let path = head.split_whitespace().nth(1).unwrap_or("");
            let (status, body, kind) =
                if head.starts_with("GET ") && (path == "/metrics" || path.starts_with("/metrics?")) {
                    refresh_in_flight();
                    handle.run_upkeep();
                    ("200 OK", handle.render(), "text/plain; version=0.0.4")
                } else {
                    ("404 Not Found", "not found: try /metrics\n".to_string(), "text/plain")
                };
            let response = format!(
                "HTTP/1.1 {status}\r\ncontent-type: {kind}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = conn.write_all(response.as_bytes()).await;
            let _ = conn.shutdown().await;
        });
    }
}
