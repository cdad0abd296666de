//! Load and fault tests on loopback, bounded in count and time: many concurrent calls give
//! exactly the single-call answers; a reload or a SIGTERM in the middle of a load loses nothing;
//! memory stays flat; a corrupt model at start-up is a one-line failure.

mod common;

use common::{article, classify_req, serve_command, small_model, TestServer, SEED_001};
use std::time::{Duration, Instant};
use tonic::Code;
use warta::model::{train, Example, TopicModel, TrainConfig};
use warta::proto::v1::article_service_client::ArticleServiceClient;
use warta::proto::v1::ClassifyResponse;
use warta::service::{ServedModel, ServerOptions};

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

fn texts() -> Vec<String> {
    vec![
        SEED_001.to_string(),
        "Kartel narkoba menyelundupkan kokain melalui pelabuhan; polisi menyita sabu.".to_string(),
        "Vaksin campak tiba di rumah sakit; dokter merawat pasien demam berdarah.".to_string(),
        "Migran menunggu di perbatasan untuk mengajukan suaka.".to_string(),
    ]
}

fn labels(r: &ClassifyResponse) -> Vec<(String, u64)> {
    // scores compared to 1e-9: the same model on the same text gives the same numbers
    r.labels
        .iter()
        .map(|l| (l.label.clone(), (l.score * 1e9).round() as u64))
        .collect()
}

fn other_model() -> TopicModel {
    let rows = warta::corpus::default_rows(false);
    let ex: Vec<Example> = rows
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 3 == 1)
        .map(|(_, r)| Example {
            text: r.full_text(),
            label: r.labels[0].clone(),
        })
        .collect();
    train(&ex, &TrainConfig::default()).expect("train")
}

/// `total` Classify calls at `concurrency` over 4 connections; returns each call's outcome
/// and latency.
async fn load(
    addr: std::net::SocketAddr,
    total: usize,
    concurrency: usize,
    token: Option<&'static str>,
) -> Vec<(usize, Result<ClassifyResponse, tonic::Status>, Duration)> {
    let mut clients = Vec::new();
    for _ in 0..4 {
        clients.push(
            ArticleServiceClient::connect(format!("http://{addr}"))
                .await
                .expect("connect"),
        );
    }
    let texts = texts();
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut workers = Vec::new();
    for w in 0..concurrency {
        let mut client = clients[w % clients.len()].clone();
        let next = next.clone();
        let texts = texts.clone();
        workers.push(tokio::spawn(async move {
            let mut out = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= total {
                    return out;
                }
                let t = i % texts.len();
                let started = Instant::now();
                let mut req = tonic::Request::new(classify_req(article(&i.to_string(), &texts[t]), 3));
                if let Some(token) = token {
                    req.metadata_mut()
                        .insert("authorization", format!("Bearer {token}").parse().expect("header"));
                }
                let r = client.classify(req).await.map(|r| r.into_inner());
                out.push((t, r, started.elapsed()));
            }
        }));
    }
    let mut all = Vec::with_capacity(total);
    for w in workers {
        all.extend(w.await.expect("worker"));
    }
    all
}

fn percentile(mut d: Vec<Duration>, p: f64) -> Duration {
    d.sort();
    d.get(((d.len() as f64 - 1.0) * p).round() as usize)
        .copied()
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_calls_at_concurrency_64_give_the_single_call_answers() {
    let server = TestServer::with_model(small_model()).await;
    let mut client = server.ready_client().await;
    let mut expected = Vec::new();
    for t in texts() {
        expected.push(labels(
            &client
                .classify(classify_req(article("x", &t), 3))
                .await
                .expect("single")
                .into_inner(),
        ));
    }
    let rss_start = rss_kib();
    let started = Instant::now();
    let results = load(server.addr, 10_000, 64, None).await;
    let elapsed = started.elapsed();
    let rss_end = rss_kib();
    let mut errors = 0;
    for (t, r, _) in &results {
        match r {
            Ok(r) => assert_eq!(
                labels(r),
                expected[*t],
                "a loaded answer differs from the single-call answer"
            ),
            Err(_) => errors += 1,
        }
    }
    let latencies: Vec<Duration> = results.iter().map(|r| r.2).collect();
    println!(
        "10000 Classify calls, concurrency 64: {errors} errors, {:.0} req/s, p50 {:?}, p99 {:?}, RSS {} → {} MiB",
        results.len() as f64 / elapsed.as_secs_f64(),
        percentile(latencies.clone(), 0.5),
        percentile(latencies, 0.99),
        rss_start / 1024,
        rss_end / 1024
    );
    assert_eq!(results.len(), 10_000);
    assert_eq!(errors, 0);
    // steady memory: no growth with the number of calls (allow allocator slack)
    assert!(rss_end < rss_start + 64 * 1024, "RSS {rss_start} KiB → {rss_end} KiB");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reloading_in_the_middle_of_a_load_fails_no_call() {
    use warta::proto::v1::admin_service_client::AdminServiceClient;
    use warta::proto::v1::ReloadModelRequest;
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, b) = (dir.path().join("a.warta"), dir.path().join("b.warta"));
    let (ma, mb) = (small_model(), other_model());
    ma.save(&a).expect("save");
    mb.save(&b).expect("save");
    let versions = [ma.version().to_string(), mb.version().to_string()];
    let server = TestServer::start(
        async move { Ok(ServedModel::new(ma, "a")) },
        ServerOptions {
            api_token: Some("t".into()),
            ..ServerOptions::default()
        },
    )
    .await;
    // ready when health says so (article calls need the token here)
    let mut health = tonic_health::pb::health_client::HealthClient::new(server.channel().await);
    for _ in 0..300 {
        let r = health
            .check(tonic_health::pb::HealthCheckRequest { service: String::new() })
            .await
            .expect("health");
        if r.into_inner().status == tonic_health::pb::health_check_response::ServingStatus::Serving as i32 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let addr = server.addr;
    let loader = tokio::spawn(async move { load(addr, 3000, 32, Some("t")).await });
    let mut admin = AdminServiceClient::new(server.channel().await);
    let mut reloads = 0;
    while !loader.is_finished() && reloads < 20 {
        let path = if reloads % 2 == 0 { &b } else { &a };
        let mut r = tonic::Request::new(ReloadModelRequest {
            path: path.display().to_string(),
        });
        r.metadata_mut()
            .insert("authorization", "Bearer t".parse().expect("header"));
        admin.reload_model(r).await.expect("reload");
        reloads += 1;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let results = loader.await.expect("loader");
    assert!(reloads >= 2, "the load ended before two reloads");
    for (_, r, _) in &results {
        let r = r.as_ref().expect("no call fails during a reload");
        assert!(versions.contains(&r.model_version), "{}", r.model_version);
        assert_eq!(r.labels.len(), 3);
    }
    println!("3000 calls with {reloads} reloads in the middle: 0 errors");
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_in_the_middle_of_a_load_loses_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("m.warta");
    let model = small_model();
    model.save(&path).expect("save");
    let (mut cmd, addr) = serve_command(
        &[],
        &["--shutdown-grace-ms", "200", "--drain-timeout-ms", "3000"],
        &path,
    );
    let addr: std::net::SocketAddr = addr.parse().expect("addr");
    let mut child = cmd.env("WARTA_LOG", "error").spawn().expect("start warta serve");
    let mut up = false;
    for _ in 0..300 {
        if let Ok(mut c) = ArticleServiceClient::connect(format!("http://{addr}")).await {
            if c.classify(classify_req(article("p", "migran"), 1)).await.is_ok() {
                up = true;
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(up, "server did not come up");
    let mut single = ArticleServiceClient::connect(format!("http://{addr}"))
        .await
        .expect("connect");
    let mut expected = Vec::new();
    for t in texts() {
        expected.push(labels(
            &single
                .classify(classify_req(article("x", &t), 3))
                .await
                .expect("single")
                .into_inner(),
        ));
    }
    let loader = tokio::spawn(async move { load(addr, 20_000, 32, None).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    common::signal(&child, libc::SIGTERM);
    let stopping = Instant::now();
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .expect("join")
        .expect("wait");
    let exit_took = stopping.elapsed();
    let results = loader.await.expect("loader");
    let (mut answered, mut refused) = (0, 0);
    for (t, r, _) in &results {
        match r {
            Ok(r) => {
                assert_eq!(labels(r), expected[*t], "an answer during the drain is wrong");
                answered += 1;
            }
            // refused before any work: UNAVAILABLE while draining; once the server has sent
            // GOAWAY, a call raced onto the closing connection was never started, which
            // tonic's client reports as CANCELLED with a transport error, as INTERNAL
            // carrying h2's GOAWAY(NO_ERROR) for a stream the server never processed (RFC 9113
            // §6.8: safe to retry), or as UNKNOWN with a broken pipe once the server has closed
            // the connection
            Err(s) => {
                let never_started = (s.code() == Code::Cancelled
                    && std::error::Error::source(s).is_some_and(|e| e.to_string().contains("transport")))
                    || turned_away_at_shutdown(s);
                assert!(s.code() == Code::Unavailable || never_started, "{s:?}");
                refused += 1;
            }
        }
    }
    println!(
        "SIGTERM mid-load: {answered} answered correctly, {refused} refused before any work, exit after {exit_took:?}"
    );
    assert!(status.success(), "{status:?}");
    assert!(answered > 0 && exit_took < Duration::from_secs(6));
}

/// Was this call turned away by the server's shutdown before it was processed? Either the
/// server's graceful GOAWAY (NO_ERROR) excluded its stream, or the server had closed the
/// connection (after answering every stream it accepted) while the request was being written:
/// a broken pipe on the write.
fn turned_away_at_shutdown(s: &tonic::Status) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(s);
    while let Some(e) = cause {
        if let Some(h2) = e.downcast_ref::<h2::Error>() {
            return h2.is_go_away() && h2.reason() == Some(h2::Reason::NO_ERROR) && h2.is_remote();
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            return io.kind() == std::io::ErrorKind::BrokenPipe;
        }
        cause = e.source();
    }
    false
}

#[test]
fn a_corrupt_model_at_start_up_is_a_one_line_failure() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bad.warta");
    std::fs::write(&path, b"WARTA\x00TM\x03\x00not a model at all").expect("write");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_warta"))
        .args(["serve", "--addr", "127.0.0.1:0", "--model"])
        .arg(&path)
        .env("WARTA_LOG", "off")
        .output()
        .expect("run");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("bad.warta"), "{stderr}");
}

/// At the default log level nothing a client sent — article text, the token — reaches the logs.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn info_logs_carry_no_article_text_and_no_token() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("m.warta");
    small_model().save(&path).expect("save");
    let log = std::fs::File::create(dir.path().join("log")).expect("log file");
    let (mut cmd, addr) = serve_command(&[], &["--drain-timeout-ms", "500"], &path);
    let mut child = cmd
        .env("WARTA_LOG", "info")
        .env("WARTA_API_TOKEN", "tok-ZX81-secret")
        .stdout(log.try_clone().expect("dup"))
        .stderr(log)
        .spawn()
        .expect("start");
    let secret_text = "Rahasia-Kalimat-QJX perbatasan migran";
    let mut answered = false;
    for _ in 0..300 {
        if let Ok(mut c) = ArticleServiceClient::connect(format!("http://{addr}")).await {
            let mut req = tonic::Request::new(classify_req(article("id-QJX", secret_text), 1));
            req.metadata_mut()
                .insert("authorization", "Bearer tok-ZX81-secret".parse().expect("header"));
            if c.classify(req).await.is_ok() {
                // a refused call (bad token) and a bad request are logged too: still no secrets
                let mut bad = tonic::Request::new(classify_req(article("id-QJX", secret_text), 1));
                bad.metadata_mut()
                    .insert("authorization", "Bearer tok-ZX81-wrong".parse().expect("header"));
                let _ = c.classify(bad).await;
                answered = true;
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    common::signal(&child, libc::SIGTERM);
    let _ = child.wait();
    assert!(answered);
    let logs = std::fs::read_to_string(dir.path().join("log")).expect("logs");
    assert!(logs.contains("model ready"), "info logs are on: {logs}");
    for secret in ["Rahasia-Kalimat-QJX", "tok-ZX81", "id-QJX"] {
        assert!(!logs.contains(secret), "{secret} leaked into the logs:\n{logs}");
    }
}

/// `--log-format json`: every log line is a JSON object; a call's lines carry its method and
/// request id (the caller's x-request-id) and, at debug, its latency.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_carry_method_request_id_and_latency() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("m.warta");
    small_model().save(&path).expect("save");
    let log = std::fs::File::create(dir.path().join("log")).expect("log file");
    let (mut cmd, addr) = serve_command(&["--log-format", "json"], &["--drain-timeout-ms", "500"], &path);
    let mut child = cmd.env("WARTA_LOG", "warta=debug").stderr(log).spawn().expect("start");
    let mut answered = false;
    for _ in 0..300 {
        if let Ok(mut c) = ArticleServiceClient::connect(format!("http://{addr}")).await {
            let mut req = tonic::Request::new(classify_req(article("a", "migran"), 1));
            req.metadata_mut()
                .insert("x-request-id", "req-42".parse().expect("header"));
            if c.classify(req).await.is_ok() {
                answered = true;
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    common::signal(&child, libc::SIGTERM);
    let _ = child.wait();
    assert!(answered);
    let logs = std::fs::read_to_string(dir.path().join("log")).expect("logs");
    let lines: Vec<serde_json::Value> = logs
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let call = lines
        .iter()
        .find(|l| l["span"]["request_id"] == "req-42" && l["fields"]["micros"].is_u64() && l["span"]["code"] == "OK")
        .unwrap_or_else(|| panic!("no call line with request id and latency:\n{logs}"));
    assert_eq!(call["span"]["method"], "/warta.v1.ArticleService/Classify");
    // the span itself carries the outcome once the call ends (and so do exported spans)
    assert!(call["span"]["latency_us"].is_u64(), "{call}");
}
