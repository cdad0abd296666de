//! Logs and traces. Logs go to stderr (stdout carries the JSONL results of the batch
//! commands) as text or JSON lines, filtered RUST_LOG-style. With the `otlp` cargo feature
//! and `--otlp-endpoint`, the same spans — one per gRPC call, carrying method and request id —
//! are also exported to an OpenTelemetry collector over OTLP/gRPC.

use crate::error::Error;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry};

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Json,
    Pretty,
}

/// Set once an exporter that reads span fields is installed (see [`spans_exported`]).
static SPANS_EXPORTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether spans leave the process (OTLP): then every span field is worth recording, even
/// when no log line will show it.
pub fn spans_exported() -> bool {
    SPANS_EXPORTED.load(std::sync::atomic::Ordering::Relaxed)
}

type BoxedLayer = Box<dyn Layer<Registry> + Send + Sync>;

/// What must outlive the program's work: the span exporter, flushed by [`Telemetry::shutdown`].
#[derive(Default)]
pub struct Telemetry {
    #[cfg(feature = "otlp")]
    otlp: Option<otlp::Exporter>,
}

impl Telemetry {
    /// Send the spans still buffered (a no-op without an exporter).
    pub fn shutdown(self) {
        #[cfg(feature = "otlp")]
        if let Some(e) = self.otlp {
            e.shutdown();
        }
    }
}

/// Install the global subscriber: `filter` (RUST_LOG wins when set), `format`, and an OTLP
/// exporter when `otlp_endpoint` is given.
pub fn init(filter: &str, format: LogFormat, otlp_endpoint: Option<&str>) -> Result<Telemetry, Error> {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(filter))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let stderr_is_tty = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let fmt: BoxedLayer = match format {
        // one JSON object per line, with the current span's fields (method, request id)
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .with_writer(std::io::stderr)
            .boxed(),
        // colours only for a person at a terminal, never escape codes in a log file
        LogFormat::Pretty => tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(stderr_is_tty)
            .boxed(),
    };
    #[allow(unused_mut)]
    let mut layers = vec![fmt];
    #[allow(unused_mut)]
    let mut telemetry = Telemetry::default();
    if let Some(endpoint) = otlp_endpoint.filter(|e| !e.trim().is_empty()) {
        #[cfg(feature = "otlp")]
        {
            let (exporter, layer) = otlp::start(endpoint)?;
            layers.push(layer);
            telemetry.otlp = Some(exporter);
            SPANS_EXPORTED.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        #[cfg(not(feature = "otlp"))]
        return Err(Error::invalid(
            "otlp_endpoint",
            format!(
                "{endpoint}: this binary was built without OTLP export; rebuild with `cargo build --release --features otlp`"
            ),
        ));
    }
    tracing_subscriber::registry()
        .with(layers)
        .with(filter)
        .try_init()
        .map_err(|e| Error::Internal(format!("cannot install the log subscriber: {e}")))?;
    Ok(telemetry)
}

#[cfg(feature = "otlp")]
mod otlp {
    use super::BoxedLayer;
    use crate::error::Error;
    use opentelemetry::trace::TracerProvider as _;
    use opentelemetry_otlp::WithExportConfig;
    use opentelemetry_sdk::trace::SdkTracerProvider;
    use tracing_subscriber::Layer;

    /// The tracer provider and the small runtime its gRPC exporter's connection runs on (kept
    /// apart from the serving runtime, so exporting never competes with requests for it).
    pub struct Exporter {
        provider: SdkTracerProvider,
        runtime: tokio::runtime::Runtime,
    }

    impl Exporter {
        pub fn shutdown(self) {
            if let Err(e) = self.provider.shutdown() {
                eprintln!("warta: OTLP export did not flush: {e}");
            }
            self.runtime.shutdown_timeout(std::time::Duration::from_secs(2));
        }
    }

    pub fn start(endpoint: &str) -> Result<(Exporter, BoxedLayer), Error> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("otlp")
            .enable_all()
            .build()?;
        // the exporter's channel binds to the runtime it is built in
        let _entered = runtime.enter();
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(endpoint)
            .with_timeout(std::time::Duration::from_secs(5))
            .build()
            .map_err(|e| Error::invalid("otlp_endpoint", format!("{endpoint}: {e}")))?;
        let resource = opentelemetry_sdk::Resource::builder()
            .with_service_name("warta")
            .with_attribute(opentelemetry::KeyValue::new(
                "service.version",
                env!("CARGO_PKG_VERSION"),
            ))
            .build();
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(resource)
            .build();
        let tracer = provider.tracer("warta");
        let layer = tracing_opentelemetry::layer().with_tracer(tracer).boxed();
        Ok((Exporter { provider, runtime }, layer))
    }
}
