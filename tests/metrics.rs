//! Prometheus metrics after a small load: requests by method and code, latency histograms,
//! batch sizes, in-flight requests, articles by label, the model as an info metric.

mod common;

use common::{article, batch_req, classify_req, small_model, TestServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use warta::service::metrics;

async fn scrape(addr: std::net::SocketAddr, path: &str) -> String {
    let mut conn = tokio::net::TcpStream::connect(addr).await.expect("connect");
    conn.write_all(format!("GET {path} HTTP/1.1\r\nhost: x\r\n\r\n").as_bytes())
        .await
        .expect("write");
    let mut out = String::new();
    conn.read_to_string(&mut out).await.expect("read");
    out
}

/// The value of the sample whose line starts with `prefix` (name and labels).
fn sample(text: &str, prefix: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[tokio::test]
async fn metrics_count_calls_codes_latency_batches_labels_and_the_model() {
    let handle = metrics::handle().expect("recorder");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let metrics_addr = listener.local_addr().expect("addr");
    tokio::spawn(metrics::serve(listener, handle));

    let model = small_model();
    let version = model.version().to_string();
    let server = TestServer::with_model(model).await;
    let mut client = server.ready_client().await;
    for _ in 0..3 {
        client
            .classify(classify_req(article("a", "Kartel narkoba menyelundupkan kokain."), 1))
            .await
            .expect("classify");
    }
    let _ = client
        .classify(classify_req(article("e", "  "), 1))
        .await
        .expect_err("empty");
    let batch = (0..5)
        .map(|i| article(&i.to_string(), "migran di perbatasan"))
        .collect::<Option<Vec<_>>>();
    client
        .classify_batch(batch_req(batch.expect("articles"), 1))
        .await
        .expect("batch");
    // a stream is one call, timed over its whole life (three requests 150 ms apart)
    let requests = async_stream_of_three();
    let mut answers = client.classify_stream(requests).await.expect("stream").into_inner();
    let mut answered = 0;
    while let Some(a) = answers.message().await.expect("answer") {
        assert!(a.error.is_none());
        answered += 1;
    }
    assert_eq!(answered, 3);
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;

    let page = scrape(metrics_addr, "/metrics").await;
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    let ok = sample(&page, r#"warta_requests_total{method="Classify",code="OK"}"#).expect("ok counter");
    assert!(ok >= 3.0, "{page}");
    assert_eq!(
        sample(
            &page,
            r#"warta_requests_total{method="Classify",code="INVALID_ARGUMENT"}"#
        ),
        Some(1.0)
    );
    assert!(page.contains(r#"warta_request_duration_seconds_bucket{method="Classify",le="0.005"}"#));
    assert!(sample(&page, r#"warta_request_duration_seconds_count{method="Classify"}"#).expect("count") >= 4.0);
    assert!(page.contains(r#"warta_batch_size_bucket{method="ClassifyBatch",le="8"}"#));
    assert_eq!(
        sample(&page, "warta_in_flight_requests"),
        Some(0.0),
        "nothing in flight after the calls"
    );
    let labelled: f64 = page
        .lines()
        .filter(|l| l.starts_with("warta_articles_classified_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert!(labelled >= 8.0, "3 + 5 articles classified: {page}");
    assert!(
        page.lines()
            .any(|l| l.starts_with("warta_model_info{") && l.contains(&version) && l.ends_with(" 1")),
        "{page}"
    );
    assert_eq!(
        sample(&page, r#"warta_requests_total{method="ClassifyStream",code="OK"}"#),
        Some(1.0),
        "{page}"
    );
    let stream_secs =
        sample(&page, r#"warta_request_duration_seconds_sum{method="ClassifyStream"}"#).expect("stream time");
    assert!(
        stream_secs >= 0.3,
        "the stream's whole life is timed, not its opening: {stream_secs}"
    );
    assert!(scrape(metrics_addr, "/other").await.starts_with("HTTP/1.1 404"));

    // an open stream is in flight until it ends (the gauge is read from the server's own
    // count at each scrape)
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let mut answers = client
        .classify_stream(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await
        .expect("stream")
        .into_inner();
    tx.send(classify_req(article("s", "kokain dan kartel"), 1))
        .await
        .expect("send");
    assert!(answers.message().await.expect("answer").is_some());
    let page = scrape(metrics_addr, "/metrics").await;
    assert_eq!(sample(&page, "warta_in_flight_requests"), Some(1.0), "{page}");
    drop(tx);
    assert!(answers.message().await.expect("end").is_none());
    // the server lets the slot go as it finishes the stream, which may be just after the
    // client sees the end: wait for it (up to 5 s) instead of guessing a delay
    let mut page = scrape(metrics_addr, "/metrics").await;
    for _ in 0..100 {
        if sample(&page, "warta_in_flight_requests") == Some(0.0) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        page = scrape(metrics_addr, "/metrics").await;
    }
    assert_eq!(sample(&page, "warta_in_flight_requests"), Some(0.0), "{page}");
}

/// Three classify requests, 150 ms apart, then the end of the stream.
fn async_stream_of_three() -> impl tokio_stream::Stream<Item = warta::proto::v1::ClassifyRequest> {
    use tokio_stream::StreamExt;
    tokio_stream::iter(0..3).then(|i| async move {
        if i > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(150)).await;
        }
        classify_req(article(&i.to_string(), "vaksin di rumah sakit"), 1)
    })
}
