//! Model → service: the tonic server with `warta.v1.ArticleService`, `grpc.health.v1` and
//! server reflection (v1 and v1alpha).
//!
//! The server listens at once and answers health checks with NOT_SERVING while the model
//! loads (or trains); when it is ready both `""` and `warta.v1.ArticleService` turn SERVING.
//! On shutdown they turn NOT_SERVING again, the grace period passes, and then the server stops
//! accepting and lets in-flight requests finish.

mod admin;
mod article;
mod auth;
mod convert;
pub mod metrics;
mod wire_status;

pub use article::ArticleApi;

use crate::error::Error;
use crate::extract::Extractor;
use crate::model::TopicModel;
use crate::proto::v1::article_service_server::ArticleServiceServer;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tokio::net::TcpListener;
use tonic_health::ServingStatus;

/// The gRPC service name health reports on besides `""`.
pub const SERVICE_NAME: &str = "warta.v1.ArticleService";

/// Limits and timings of a server.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Largest decoded request message.
    pub max_message_bytes: usize,
    /// Most articles in one ClassifyBatch.
    pub max_batch: usize,
    /// Longest article text, in bytes.
    pub max_text_bytes: usize,
    /// How long health reports NOT_SERVING before the server stops accepting.
    pub shutdown_grace: Duration,
    /// Entity tagger for Extract (`None`: the compiled-in default).
    pub tagger: Option<Arc<crate::ner::Tagger>>,
    /// Most requests (a stream counts as one) worked on at once; more are refused at once
    /// with RESOURCE_EXHAUSTED instead of queueing without bound.
    pub max_in_flight: usize,
    /// Deadline for every call; a client's shorter `grpc-timeout` wins.
    pub request_timeout: Duration,
    /// After the server stops accepting, how long in-flight calls and open connections may take
    /// before the process exits anyway.
    pub drain_timeout: Duration,
    /// TLS (and, with a client CA, mutual TLS) for every service; `None`: plaintext.
    pub tls: Option<tonic::transport::ServerTlsConfig>,
    /// The model file served, reloaded on SIGHUP or an empty ReloadModel path.
    pub model_path: Option<std::path::PathBuf>,
    /// When set, ArticleService calls need `authorization: Bearer <token>` (health and
    /// reflection stay open for probes and tooling).
    pub api_token: Option<String>,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            max_message_bytes: 4 * 1024 * 1024,
            max_batch: 1024,
            max_text_bytes: 1024 * 1024,
            tagger: None,
            max_in_flight: 256,
            request_timeout: Duration::from_secs(30),
            api_token: None,
            model_path: None,
            tls: None,
            drain_timeout: Duration::from_secs(10),
            shutdown_grace: Duration::ZERO,
        }
    }
}

/// A model being served, with where it came from.
pub struct ServedModel {
    pub model: TopicModel,
    pub source: String,
    /// Articles answered per top label (handles registered once, when the model is made).
    pub label_counts: metrics::LabelCounters,
}

impl ServedModel {
    pub fn new(model: TopicModel, source: impl Into<String>) -> Self {
        ServedModel {
            label_counts: metrics::LabelCounters::new(model.labels()),
            model,
            source: source.into(),
        }
    }
}

/// An admitted request: counts as in flight until dropped.
pub struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Release);
    }
}

/// State shared by the handlers.
pub struct State {
    model: RwLock<Option<Arc<ServedModel>>>,
    /// Requests admitted and not finished (the in-flight gauge reads it at each scrape).
    in_flight: Arc<AtomicUsize>,
    pub extractor: Extractor,
    pub options: ServerOptions,
    draining: std::sync::atomic::AtomicBool,
}

impl State {
    pub fn new(options: ServerOptions) -> Self {
        State {
            model: RwLock::new(None),
            in_flight: metrics::tracked_in_flight(),
            extractor: match &options.tagger {
                Some(t) => Extractor::with_tagger(t.clone()),
                None => Extractor::default(),
            },
            options,
            draining: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// The model, or why there is none to use.
    pub fn model(&self) -> Result<Arc<ServedModel>, Error> {
        self.accepting()?;
        let guard = self
            .model
            .read()
            .map_err(|_| Error::Internal("model lock poisoned".into()))?;
        guard.clone().ok_or(Error::NotReady)
    }

    /// `f` on the model, or why there is none to use. The model is lent under the read lock
    /// rather than cloned: an `Arc` clone and drop write its count, on the cache line that
    /// also holds the model's first fields, which every worker reads on every call.
    pub fn with_model<R>(&self, f: impl FnOnce(&ServedModel) -> R) -> Result<R, Error> {
        self.accepting()?;
        let guard = self
            .model
            .read()
            .map_err(|_| Error::Internal("model lock poisoned".into()))?;
        guard.as_deref().map(f).ok_or(Error::NotReady)
    }

    /// A request slot, or RESOURCE_EXHAUSTED at once when all are taken (load shedding: a
    /// refused request costs nothing; a queued one would only time out later). Nothing
    /// waits for a slot, so a counter does what a semaphore would: one atomic add to enter
    /// and one to leave, where a semaphore's release also locks its wait list.
    pub fn admit(&self) -> Result<Slot, Error> {
        self.accepting()?;
        if self.in_flight.fetch_add(1, Ordering::Acquire) >= self.options.max_in_flight.max(1) {
            self.in_flight.fetch_sub(1, Ordering::Release);
            return Err(Error::Overloaded(self.options.max_in_flight));
        }
        Ok(Slot(self.in_flight.clone()))
    }

    /// Refuse new work while draining.
    pub fn accepting(&self) -> Result<(), Error> {
        if self.draining.load(std::sync::atomic::Ordering::Relaxed) {
            Err(Error::ShuttingDown)
        } else {
            Ok(())
        }
    }

    /// The model if one is loaded, for work that can go on without it (keywords).
    pub fn model_if_ready(&self) -> Option<Arc<ServedModel>> {
        self.model.read().ok().and_then(|g| g.clone())
    }

    pub fn set_model(&self, m: ServedModel) {
        if let Ok(mut g) = self.model.write() {
            let previous = g.as_ref().map(|p| p.model.version().to_string());
            metrics::record_model(
                m.model.version(),
                &m.model.algorithm().to_string(),
                &m.source,
                previous.as_deref(),
            );
            *g = Some(Arc::new(m));
        }
    }

    /// Load, validate and swap in a model file; on any failure the served model stays and the
    /// reason is returned (and logged). `path` empty: the file the server was started with.
    pub async fn reload(&self, path: &str) -> Result<Arc<ServedModel>, Error> {
        let path = if path.is_empty() {
            self.options
                .model_path
                .clone()
                .ok_or_else(|| Error::Reload("no path given and the server was not started from a model file".into()))?
        } else {
            std::path::PathBuf::from(path)
        };
        let shown = path.display().to_string();
        let loaded = tokio::task::spawn_blocking(move || -> Result<TopicModel, Error> {
            let model = TopicModel::load(&path).map_err(|e| Error::Reload(e.to_string()))?;
            // a smoke prediction: finite scores that sum to 1 over the labels
            let p = model.predict_proba("uji coba: migran, perdagangan, pertahanan");
            let sum: f64 = p.iter().sum();
            if p.len() != model.labels().len() || p.iter().any(|x| !x.is_finite()) || (sum - 1.0).abs() > 1e-3 {
                return Err(Error::Reload(format!(
                    "{}: smoke prediction gave {p:?}",
                    path.display()
                )));
            }
            Ok(model)
        })
        .await
        .map_err(|e| Error::Internal(format!("reload worker failed: {e}")))?;
        match loaded {
            Ok(model) => {
                let old = self.model_if_ready().map(|m| m.model.version().to_string());
                let served = Arc::new(ServedModel::new(model, shown));
                if let Ok(mut g) = self.model.write() {
                    metrics::record_model(
                        served.model.version(),
                        &served.model.algorithm().to_string(),
                        &served.source,
                        old.as_deref(),
                    );
                    *g = Some(served.clone());
                }
                tracing::info!(
                    old = old.as_deref().unwrap_or("-"),
                    new = served.model.version(),
                    source = %served.source,
                    "model reloaded"
                );
                Ok(served)
            }
            Err(e) => {
                tracing::error!(error = %e, "model reload rejected; the served model stays");
                Err(e)
            }
        }
    }
}

/// Sends its signal when dropped: the drain future completing (or being dropped) means the
/// server no longer accepts.
struct StopSignal(Option<tokio::sync::oneshot::Sender<()>>);

impl Drop for StopSignal {
    fn drop(&mut self) {
        if let Some(tx) = self.0.take() {
            let _ = tx.send(());
        }
    }
}

async fn set_health(reporter: &tonic_health::server::HealthReporter, status: ServingStatus) {
    reporter.set_service_status("", status).await;
    reporter.set_service_status(SERVICE_NAME, status).await;
}

/// The server's runtime: tokio's multi-thread scheduler without its LIFO slot. With the slot,
/// the connection task that a finished call wakes runs next, so every answer is written (and
/// delivered, and its client woken) on its own: 0.75 `writev` per call under h2load. Without
/// it the connection runs after the other calls ready by then and writes their answers
/// together: 0.09 `writev` per call, and 30–40% more calls per second (benches/grpc_h2load.py).
/// A task in the slot is also never stolen by an idle worker. The switch is one of tokio's
/// unstable options (`--cfg tokio_unstable`, set in .cargo/config.toml); a build without it
/// keeps the slot and still works.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.enable_all();
    #[cfg(tokio_unstable)]
    builder.disable_lifo_slot();
    builder.build()
}

/// Serve on `listener` until `shutdown` completes. `model` loads (or trains) the model in the
/// background; if it fails, the server stops and the error is returned.
pub async fn run<M, S>(listener: TcpListener, model: M, options: ServerOptions, shutdown: S) -> Result<(), Error>
where
    M: Future<Output = Result<ServedModel, Error>> + Send + 'static,
    S: Future<Output = ()> + Send + 'static,
{
    let (reporter, health_service) = tonic_health::server::health_reporter();
    set_health(&reporter, ServingStatus::NotServing).await;
    let state = Arc::new(State::new(options.clone()));

    let failure: Arc<Mutex<Option<Error>>> = Arc::new(Mutex::new(None));
    let (failed_tx, failed_rx) = tokio::sync::oneshot::channel::<()>();
    {
        let state = state.clone();
        let reporter = reporter.clone();
        let failure = failure.clone();
        tokio::spawn(async move {
            let started = std::time::Instant::now();
            match model.await {
                Ok(m) => {
                    tracing::info!(
                        version = m.model.version(),
                        labels = m.model.labels().len(),
                        source = %m.source,
                        elapsed_ms = started.elapsed().as_millis() as u64,
                        "model ready, serving"
                    );
                    state.set_model(m);
                    set_health(&reporter, ServingStatus::Serving).await;
                }
                Err(e) => {
                    if let Ok(mut f) = failure.lock() {
                        *f = Some(e);
                    }
                    let _ = failed_tx.send(());
                }
            }
        });
    }

    // fires when the server stops accepting: in-flight work then has `drain_timeout` to finish
    let (stopped_accepting_tx, stopped_accepting_rx) = tokio::sync::oneshot::channel::<()>();
    let drain = {
        let state = state.clone();
        let reporter = reporter.clone();
        let grace = options.shutdown_grace;
        async move {
            let _stopped = StopSignal(Some(stopped_accepting_tx));
            tokio::select! {
                _ = shutdown => {
                    set_health(&reporter, ServingStatus::NotServing).await;
                    state.draining.store(true, std::sync::atomic::Ordering::Relaxed);
                    if !grace.is_zero() {
                        tracing::info!(grace_ms = grace.as_millis() as u64, "draining: health is NOT_SERVING");
                        tokio::time::sleep(grace).await;
                    }
                    tracing::info!("no longer accepting; finishing in-flight requests");
                }
                Ok(()) = failed_rx => {
                    set_health(&reporter, ServingStatus::NotServing).await;
                }
            }
        }
    };

    let reflection_v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(crate::proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .map_err(|e| Error::Internal(format!("reflection: {e}")))?;
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(crate::proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()
        .map_err(|e| Error::Internal(format!("reflection: {e}")))?;

    let api = ArticleServiceServer::new(ArticleApi::new(state.clone()))
        .max_decoding_message_size(options.max_message_bytes)
        .max_encoding_message_size(options.max_message_bytes.max(16 * 1024 * 1024));
    // Without a token there is nothing to check, so the service goes in bare: an interceptor
    // takes every call's request apart into tonic's form and puts it back together.
    let token = auth::BearerToken::new(options.api_token.clone());
    let (open_api, guarded_api) = if token.lets_all_through() {
        (Some(api), None)
    } else {
        (
            None,
            Some(tonic::service::interceptor::InterceptedService::new(api, token)),
        )
    };

    #[cfg(unix)]
    {
        let state = state.clone();
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
            Ok(mut hup) => {
                tokio::spawn(async move {
                    while hup.recv().await.is_some() {
                        tracing::info!("SIGHUP: reloading the model file");
                        let _ = state.reload("").await;
                    }
                });
            }
            Err(e) => tracing::warn!(error = %e, "cannot listen for SIGHUP; reload through AdminService only"),
        }
    }
    let admin = tonic::service::interceptor::InterceptedService::new(
        crate::proto::v1::admin_service_server::AdminServiceServer::new(admin::AdminApi::new(state.clone())),
        auth::BearerToken::required(options.api_token.clone()),
    );

    let addr = listener.local_addr()?;
    tracing::info!(%addr, "listening");
    // The builder's own tcp_nodelay applies only to listeners it binds itself; ours is
    // bound by the caller, so each accepted socket gets it here. Without it, Nagle's
    // algorithm holds a response's last segment until the client's delayed ACK (40 ms).
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    let mut builder = tonic::transport::Server::builder();
    if let Some(tls) = options.tls.clone() {
        builder = builder
            .tls_config(tls)
            .map_err(|e| Error::Internal(format!("TLS configuration: {e}")))?;
    }
    let server = builder
        // the server's deadline; a client's shorter grpc-timeout wins
        .timeout(options.request_timeout)
        // pings every 30 s find dead peers; grpc-go clients accept this (they ping no more
        // often than every 10 s by default, and we never send GOAWAY for pings)
        .http2_keepalive_interval(Some(Duration::from_secs(30)))
        .http2_keepalive_timeout(Some(Duration::from_secs(10)))
        // a span per call: method and request id (the caller's x-request-id, or ours)
        .trace_fn(|req| {
            static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
            let id = req
                .headers()
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .filter(|v| v.len() <= 128)
                .map(str::to_string)
                .unwrap_or_else(|| format!("w{}", NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)));
            tracing::info_span!(
                "grpc",
                method = %req.uri().path(),
                request_id = %id,
                // filled in when the call ends (article.rs): exported spans carry them
                code = tracing::field::Empty,
                latency_us = tracing::field::Empty
            )
        })
        .layer(wire_status::WireStatusLayer)
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_optional_service(open_api)
        .add_optional_service(guarded_api)
        .add_service(admin)
        .serve_with_incoming_shutdown(incoming, drain);
    let drain_timeout = options.drain_timeout;
    let bounded = async move {
        if stopped_accepting_rx.await.is_ok() {
            tokio::time::sleep(drain_timeout).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        served = server => served?,
        _ = bounded => tracing::warn!(
            drain_timeout_ms = drain_timeout.as_millis() as u64,
            "connections still open after the drain timeout; exiting anyway"
        ),
    }

    let failed = failure.lock().ok().and_then(|mut f| f.take());
    match failed {
        Some(e) => Err(e),
        None => {
            tracing::info!("stopped");
            Ok(())
        }
    }
}
