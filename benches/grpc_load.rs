//! gRPC load: Classify against grpc.health.v1.Health/Check on the same server, with the same
//! client, connections and concurrency. Loopback only, bounded in count.
//!
//! Run: `cargo bench --bench grpc_load -- [requests] [concurrency] [connections]`
//! (defaults 20000, 64, 4); a trailing `check`, `whole` or `lead` loads that call alone, for
//! profiling. The server is warta's own (`warta::service::run`) with the
//! embedded default model, in this process on its own runtime.

use std::time::{Duration, Instant};
use tonic::transport::Channel;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;
use warta::proto::v1::article_service_client::ArticleServiceClient;
use warta::proto::v1::{Article, ClassifyRequest};
use warta::service::{run, ServedModel, ServerOptions};

const ARTICLE: &str = include_str!("../data/seeds/000_a5398182eba481b3.txt");

/// Rounds of the three calls; each call's best round is reported.
const ROUNDS: usize = 3;

/// A headline and lead: the first 45 words of the article.
fn lead() -> &'static str {
    let end = ARTICLE.split_whitespace().take(45).map(|w| w.len() + 1).sum::<usize>();
    let mut end = end.min(ARTICLE.len());
    while !ARTICLE.is_char_boundary(end) {
        end -= 1;
    }
    &ARTICLE[..end]
}

#[derive(Clone, Copy)]
enum Call {
    Health,
    Classify(&'static str),
}

struct Outcome {
    rate: f64,
    p50: Duration,
    p99: Duration,
    errors: usize,
}

async fn load(channels: &[Channel], call: Call, requests: usize, concurrency: usize) -> Outcome {
    let per_task = requests / concurrency;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for t in 0..concurrency {
        let channel = channels[t % channels.len()].clone();
        tasks.push(tokio::spawn(async move {
            let mut health = HealthClient::new(channel.clone());
            let mut api = ArticleServiceClient::new(channel);
            let mut latencies = Vec::with_capacity(per_task);
            let mut errors = 0;
            for i in 0..per_task {
                let t0 = Instant::now();
                let ok = match call {
                    Call::Health => health
                        .check(HealthCheckRequest {
                            service: "warta.v1.ArticleService".into(),
                        })
                        .await
                        .is_ok(),
                    Call::Classify(text) => api
                        .classify(ClassifyRequest {
                            article: Some(Article {
                                id: i.to_string(),
                                title: String::new(),
                                text: text.to_string(),
                                language: "id".into(),
                            }),
                            top_k: 3,
                            explain: false,
                        })
                        .await
                        .is_ok(),
                };
                latencies.push(t0.elapsed());
                if !ok {
                    errors += 1;
                }
            }
            (latencies, errors)
        }));
    }
    let mut latencies = Vec::with_capacity(requests);
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await.expect("load task");
        latencies.extend(l);
        errors += e;
    }
    let elapsed = started.elapsed();
    latencies.sort_unstable();
    let pick = |q: f64| {
        latencies
            .get(((latencies.len() as f64 - 1.0) * q) as usize)
            .copied()
            .unwrap_or_default()
    };
    Outcome {
        rate: latencies.len() as f64 / elapsed.as_secs_f64(),
        p50: pick(0.5),
        p99: pick(0.99),
        errors,
    }
}

fn main() {
    let args: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let requests = args.first().copied().unwrap_or(20_000);
    let concurrency = args.get(1).copied().unwrap_or(64).max(1);
    let connections = args.get(2).copied().unwrap_or(4).max(1);
    // an optional word picks one call to load (for profiling): check, whole or lead
    let only = std::env::args()
        .skip(1)
        .find(|a| a.parse::<usize>().is_err() && !a.starts_with('-'));
    let wanted = |name: &str| only.as_deref().is_none_or(|o| o == name);

    // the server: its own runtime, as in production
    let server_rt = warta::service::runtime().expect("server runtime");
    let listener = server_rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let model = async {
        let m = warta::pipeline::default_model()?;
        Ok(ServedModel::new(m, "embedded-default"))
    };
    let server = server_rt.spawn(run(listener, model, ServerOptions::default(), async move {
        let _ = stop_rx.await;
    }));

    let client_rt = tokio::runtime::Runtime::new().expect("client runtime");
    client_rt.block_on(async {
        let mut channels = Vec::new();
        for _ in 0..connections {
            let ch = loop {
                if let Ok(c) = Channel::from_shared(format!("http://{addr}")).expect("url").connect().await {
                    break c;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            };
            channels.push(ch);
        }
        // wait for SERVING, then warm up both paths
        let mut api = ArticleServiceClient::new(channels[0].clone());
        while api.get_model_info(warta::proto::v1::GetModelInfoRequest {}).await.is_err() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        load(&channels, Call::Health, 2000, concurrency).await;
        load(&channels, Call::Classify(ARTICLE), 2000, concurrency).await;
        println!(
            "gRPC load: {requests} requests per call, concurrency {concurrency}, {connections} HTTP/2 connections, loopback, \
             2 runtimes in one process; best of {ROUNDS} interleaved rounds per call"
        );
        println!("| call | requests/s | p50 | p99 | errors |");
        println!("|---|---|---|---|---|");
        // rounds interleave the calls, so a slow spell of this shared machine (steal time)
        // cannot favour one call; each call keeps its best round, errors summed over all
        let best = |a: Option<Outcome>, b: Outcome| match a {
            Some(a) if a.rate >= b.rate => Outcome {
                errors: a.errors + b.errors,
                ..a
            },
            Some(a) => Outcome {
                errors: a.errors + b.errors,
                ..b
            },
            None => b,
        };
        let (mut h, mut c, mut l) = (None, None, None);
        for _ in 0..ROUNDS {
            if wanted("check") {
                h = Some(best(h, load(&channels, Call::Health, requests, concurrency).await));
            }
            if wanted("whole") {
                c = Some(best(c, load(&channels, Call::Classify(ARTICLE), requests, concurrency).await));
            }
            if wanted("lead") {
                l = Some(best(l, load(&channels, Call::Classify(lead()), requests, concurrency).await));
            }
        }
        if only.is_some() {
            for o in [&h, &c, &l].into_iter().flatten() {
                println!("| {only:?} | {:.0} | {:?} | {:?} | {} |", o.rate, o.p50, o.p99, o.errors);
            }
            return;
        }
        let (Some(h), Some(c), Some(l)) = (h, c, l) else {
            return;
        };
        for (name, o) in [
            ("grpc.health.v1.Health/Check", &h),
            ("Classify, whole article (360 words)", &c),
            ("Classify, headline + lead (45 words)", &l),
        ] {
            println!("| {name} | {:.0} | {:?} | {:?} | {} |", o.rate, o.p50, o.p99, o.errors);
        }
        println!(
            "Classify ÷ Health/Check rate: {:.2} (whole article), {:.2} (headline + lead)",
            c.rate / h.rate,
            l.rate / h.rate
        );
    });
    let _ = stop_tx.send(());
    let _ = server_rt.block_on(server);
}
