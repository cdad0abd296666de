//! `warta classify --remote ADDR`: a JSONL file through a running server's ClassifyStream.
//!
//! The server answers a stream in order, one response per request, so the client keeps the
//! requests it has sent in a queue and matches answers by position. At most `--remote-window`
//! requests are unanswered at once. When the stream breaks with UNAVAILABLE (a restart, a
//! drain, a dropped connection) or RESOURCE_EXHAUSTED (overload), the client waits with
//! exponential backoff, reconnects and sends the unanswered requests again; nothing is lost
//! and nothing is written twice. Any other status (UNAUTHENTICATED, say) ends the run.

use super::batch::{self, Done, Tally};
use super::ClassifyArgs;
use crate::corpus::{lines, parse_row_ref};
use crate::error::Error;
use crate::proto::v1::article_service_client::ArticleServiceClient;
use crate::proto::v1::{Article, ClassifyRequest, ClassifyResponse};
use serde_json::json;
use std::collections::VecDeque;
use std::io::Write;
use std::time::Duration;
use tokio::sync::mpsc;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};
use tonic::{Code, Status};

/// One input row on its way: a request for the server, or an answer known locally (a row that
/// cannot be parsed gets its error line here, in its place in the output).
enum Item {
    Remote {
        line: usize,
        request: ClassifyRequest,
    },
    Local {
        output: Vec<u8>,
        line: usize,
        error: String,
    },
}

pub fn classify(addr: &str, args: &ClassifyArgs) -> Result<(), Error> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(run(addr, args))
}

fn read_pem(path: &std::path::Path) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|e| {
        Error::Io(std::io::Error::new(
            e.kind(),
            format!("cannot read {}: {e}", path.display()),
        ))
    })
}

/// The server's endpoint: plaintext, or TLS when a CA is given (or the address is https://).
fn endpoint(addr: &str, args: &ClassifyArgs) -> Result<Endpoint, Error> {
    let tls = args.remote_ca.is_some() || addr.starts_with("https://");
    let url = if addr.contains("://") {
        addr.to_string()
    } else if tls {
        format!("https://{addr}")
    } else {
        format!("http://{addr}")
    };
    let bad = |e: &dyn std::fmt::Display| Error::invalid("remote", format!("bad address {addr:?}: {e}"));
    let mut endpoint = Endpoint::from_shared(url).map_err(|e| bad(&e))?;
    if tls {
        let mut config = ClientTlsConfig::new();
        config = match &args.remote_ca {
            Some(ca) => config.ca_certificate(Certificate::from_pem(read_pem(ca)?)),
            // a server with a certificate from a public CA
            None => config.with_webpki_roots(),
        };
        if let (Some(cert), Some(key)) = (&args.remote_cert, &args.remote_key) {
            config = config.identity(Identity::from_pem(read_pem(cert)?, read_pem(key)?));
        }
        if let Some(domain) = &args.remote_domain {
            config = config.domain_name(domain.clone());
        }
        endpoint = endpoint.tls_config(config).map_err(|e| bad(&e))?;
    }
    Ok(endpoint
        .connect_timeout(Duration::from_secs(5))
        .http2_keep_alive_interval(Duration::from_secs(30))
        .keep_alive_while_idle(true))
}

fn retryable(status: &Status) -> bool {
    matches!(status.code(), Code::Unavailable | Code::ResourceExhausted)
}

/// A response as the output row `warta classify` writes locally.
fn output_row(line: usize, r: ClassifyResponse) -> (Vec<u8>, Option<String>) {
    if let Some(e) = r.error {
        return (batch::error_row(line, Some(&r.id), &e.message), Some(e.message));
    }
    let labels: Vec<serde_json::Value> = r
        .labels
        .into_iter()
        .map(|l| {
            let mut v = json!({"label": l.label, "score": l.score});
            if !l.terms.is_empty() {
                v["terms"] = l
                    .terms
                    .into_iter()
                    .map(|t| json!({"term": t.term, "weight": t.weight}))
                    .collect();
            }
            v
        })
        .collect();
    let mut v = json!({"id": r.id, "labels": labels}).to_string().into_bytes();
    v.push(b'\n');
    (v, None)
}

/// Read the input on a thread of its own (a pipe may block) and turn rows into items.
fn reader(args: &ClassifyArgs, done: Done) -> Result<(mpsc::Receiver<std::io::Result<Item>>, ReaderProgress), Error> {
    let batch::Input {
        reader: input,
        read,
        bar,
    } = batch::open_input(&args.input, args.batch.progress)?;
    let (tx, rx) = mpsc::channel(1024);
    let shard = args.batch.shard;
    let max_line = usize::try_from(args.batch.max_line_bytes).unwrap_or(usize::MAX);
    let (top_k, explain) = (args.top_k as u32, args.explain);
    let skipped = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let skipped_in = std::sync::Arc::clone(&skipped);
    std::thread::spawn(move || {
        for item in lines(input).max_line(max_line) {
            let item = item.map(|(n, line)| {
                if shard.is_some_and(|(i, k)| (n - 1) % k != i) {
                    return None;
                }
                if done.contains(n, line.as_deref().ok()) {
                    skipped_in.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    return None;
                }
                Some(to_item(n, line, top_k, explain))
            });
            let item = match item {
                Ok(None) => continue,
                Ok(Some(i)) => Ok(i),
                Err(e) => Err(e),
            };
            if tx.blocking_send(item).is_err() {
                break;
            }
        }
    });
    Ok((rx, ReaderProgress { read, bar, skipped }))
}

struct ReaderProgress {
    read: std::sync::Arc<std::sync::atomic::AtomicU64>,
    bar: indicatif::ProgressBar,
    skipped: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

fn to_item(n: usize, line: Result<String, String>, top_k: u32, explain: bool) -> Item {
    let local = |id: Option<&str>, error: String| Item::Local {
        output: batch::error_row(n, id, &error),
        line: n,
        error,
    };
    let line = match line {
        Ok(l) => l,
        Err(e) => return local(None, e),
    };
    match parse_row_ref(&line) {
        Err(e) => local(None, e),
        Ok(row) => Item::Remote {
            line: n,
            request: ClassifyRequest {
                article: Some(Article {
                    id: row.id.to_string(),
                    title: row.title.to_string(),
                    text: row.text.to_string(),
                    language: String::new(),
                }),
                top_k,
                explain,
            },
        },
    }
}

async fn connect(endpoint: &Endpoint, token: Option<&str>) -> Result<Client, Status> {
    let channel = endpoint
        .connect()
        .await
        .map_err(|e| Status::unavailable(format!("cannot connect: {}", chain(&e))))?;
    Ok(Client {
        inner: ArticleServiceClient::new(channel)
            .max_decoding_message_size(64 << 20)
            .max_encoding_message_size(64 << 20),
        token: token.map(|t| format!("Bearer {t}")),
    })
}

struct Client {
    inner: ArticleServiceClient<Channel>,
    token: Option<String>,
}

async fn run(addr: &str, args: &ClassifyArgs) -> Result<(), Error> {
    let endpoint = endpoint(addr, args)?;
    let done = match (&args.batch.output, args.batch.resume) {
        (Some(path), true) => Done::read(path)?,
        _ => Done::default(),
    };
    let (mut input, progress) = reader(args, done)?;
    let mut out = batch::open_output(&args.batch)?;
    let mut tally = Tally::new();
    let window = args.remote_window as usize;
    // sent (or locally answered) and not yet written, in input order
    let mut pending: VecDeque<Item> = VecDeque::new();
    let mut in_flight = 0usize;
    let mut input_done = false;
    let mut failures = 0u32;
    let mut client: Option<Client> = None;
    let mut last_error = String::new();

    'attempt: loop {
        if failures > 0 {
            if failures > args.remote_retries {
                return Err(Error::Remote(format!(
                    "{addr}: gave up after {} retries ({last_error}); {} rows written, {} unanswered",
                    args.remote_retries, tally.rows, in_flight
                )));
            }
            let backoff = Duration::from_millis(100u64 << (failures - 1).min(6)).min(Duration::from_secs(5));
            tokio::time::sleep(backoff).await;
        }
        let c = match client.take() {
            Some(c) => c,
            None => match connect(&endpoint, args.api_token.as_deref()).await {
                Ok(c) => c,
                Err(s) => {
                    failures += 1;
                    tracing::warn!(attempt = failures, "{}", s.message());
                    last_error = s.message().to_string();
                    continue 'attempt;
                }
            },
        };
        let (tx, rx) = mpsc::channel::<ClassifyRequest>(window.max(1));
        // everything unanswered goes again, in order
        in_flight = pending.iter().filter(|i| matches!(i, Item::Remote { .. })).count();
        for item in &pending {
            if let Item::Remote { request, .. } = item {
                if tx.send(request.clone()).await.is_err() {
                    break;
                }
            }
        }
        let mut request = tonic::Request::new(tokio_stream::wrappers::ReceiverStream::new(rx));
        if let Some(t) = &c.token {
            match t.parse() {
                Ok(v) => {
                    request.metadata_mut().insert("authorization", v);
                }
                Err(_) => return Err(Error::invalid("api_token", "not valid in a header")),
            }
        }
        let mut inner = c.inner.clone();
        let mut responses = match inner.classify_stream(request).await {
            Ok(r) => r.into_inner(),
            Err(s) if retryable(&s) => {
                failures += 1;
                tracing::warn!(attempt = failures, code = ?s.code(), "{}", s.message());
                last_error = format!("{:?}: {}", s.code(), s.message());
                continue 'attempt;
            }
            Err(s) => return Err(status_error(addr, s)),
        };
        let mut tx = Some(tx);
        loop {
            // write whatever is answered locally at the front of the queue
            while let Some(Item::Local { .. }) = pending.front() {
                if let Some(Item::Local { output, line, error }) = pending.pop_front() {
                    tally.rows += 1;
                    tally.fail(line, &error);
                    if batch::write_row(&mut out, &output)? {
                        return Ok(());
                    }
                }
            }
            if input_done && pending.is_empty() {
                break 'attempt;
            }
            if input_done {
                tx = None; // half-close: the server ends the stream after its last answer
            }
            tokio::select! {
                item = input.recv(), if !input_done && in_flight < window => match item {
                    None => input_done = true,
                    Some(Err(e)) => return Err(e.into()),
                    Some(Ok(item)) => {
                        if let (Item::Remote { request, .. }, Some(tx)) = (&item, &tx) {
                            in_flight += 1;
                            // the stream is gone: the answer loop below sees why
                            let _ = tx.send(request.clone()).await;
                        }
                        pending.push_back(item);
                    }
                },
                answer = responses.message(), if in_flight > 0 => match answer {
                    Ok(Some(r)) => {
                        let Some(Item::Remote { line, .. }) = pending.pop_front() else {
                            return Err(Error::Internal("an answer with no request".into()));
                        };
                        in_flight -= 1;
                        failures = 0;
                        let (output, error) = output_row(line, r);
                        tally.rows += 1;
                        if let Some(e) = error {
                            tally.fail(line, &e);
                        }
                        if batch::write_row(&mut out, &output)? {
                            return Ok(());
                        }
                        progress.bar.set_position(progress.read.load(std::sync::atomic::Ordering::Relaxed));
                    }
                    Ok(None) => {
                        // the server ended the stream with requests unanswered: try again
                        failures += 1;
                        last_error = "the stream ended early".into();
                        tracing::warn!(attempt = failures, unanswered = in_flight, "stream ended early");
                        in_flight = 0;
                        client = None;
                        continue 'attempt;
                    }
                    Err(s) if retryable(&s) || s.code() == Code::Cancelled || s.code() == Code::Unknown => {
                        failures += 1;
                        last_error = format!("{:?}: {}", s.code(), s.message());
                        tracing::warn!(attempt = failures, code = ?s.code(), "{}", s.message());
                        in_flight = 0;
                        client = None;
                        continue 'attempt;
                    }
                    Err(s) => return Err(status_error(addr, s)),
                },
                else => return Err(Error::Internal("remote classify: nothing to wait for".into())),
            }
        }
    }
    out.flush()?;
    progress.bar.finish_and_clear();
    tally.skipped = progress.skipped.load(std::sync::atomic::Ordering::Relaxed);
    tally.finish("classify", args.strict)
}

/// An error with its causes: tonic's transport error alone says only "transport error".
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        s.push_str(": ");
        s.push_str(&cause.to_string());
        source = cause.source();
    }
    s
}

fn status_error(addr: &str, s: Status) -> Error {
    Error::Remote(format!("{addr}: {:?}: {}", s.code(), s.message()))
}
