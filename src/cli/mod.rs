//! Command line: `warta serve | train | eval | classify | extract`. Every flag can also be set
//! from the environment as `WARTA_<FLAG>`.

mod batch;
mod remote;

use crate::corpus::{examples, read_labelled};
use crate::error::Error;
use crate::eval::{score, score_multilabel, Metrics};
use crate::features::FeatureConfig;
use crate::model::{train_multilabel_judged, Algorithm, CharPolicy, MultiLabelExample, TopicModel, TrainConfig};
use crate::pipeline::{default_model, train_rows, tune};
use crate::service::{ServedModel, ServerOptions};
use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(Debug, Parser)]
#[command(
    name = "warta",
    version,
    about = "Classify news articles by topic and extract the facts inside them, over gRPC or from the command line."
)]
pub struct Cli {
    /// Log filter, RUST_LOG syntax (e.g. "info", "warta=debug").
    #[arg(long, env = "WARTA_LOG", default_value = "info", global = true)]
    pub log: String,
    /// Log lines as JSON objects (for log shippers) or human-readable text.
    #[arg(long, env = "WARTA_LOG_FORMAT", value_enum, default_value = "pretty", global = true)]
    pub log_format: LogFormat,
    /// Worker threads for batch work (0: one per core).
    #[arg(long, env = "WARTA_THREADS", default_value_t = 0, global = true)]
    pub threads: usize,
    /// Export spans (one per gRPC call) to this OpenTelemetry collector, OTLP/gRPC, e.g.
    /// http://otel-collector:4317. Needs a binary built with `--features otlp`.
    #[arg(long, env = "WARTA_OTLP_ENDPOINT", global = true)]
    pub otlp_endpoint: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

pub use crate::telemetry::LogFormat;

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gRPC server.
    Serve(ServeArgs),
    /// Train a topic model from labelled JSONL rows; prints cross-validated metrics.
    Train(TrainArgs),
    /// Score a model on labelled JSONL rows.
    Eval(EvalArgs),
    /// Classify JSONL rows {"id","text"[,"title"]}: one JSON line out per row, in order.
    Classify(ClassifyArgs),
    /// Extract entities, dates, figures, quotes and keywords from JSONL rows or a .txt article.
    Extract(ExtractArgs),
    /// Train an entity tagger from JSONL rows {"id","tokens":[…],"tags":[BIO…]} (any tag set).
    TrainNer(TrainNerArgs),
    /// Tag JSONL rows {"id","tokens"}: the same rows out with "tags" added, one per token.
    Tag(TagArgs),
}

#[derive(Debug, Args)]
pub struct TrainNerArgs {
    /// Tagged JSONL file(s); repeat the flag for several.
    #[arg(long, env = "WARTA_DATA", value_delimiter = ',', required = true)]
    pub data: Vec<PathBuf>,
    /// Where to write the entity model.
    #[arg(long, env = "WARTA_OUT")]
    pub out: PathBuf,
    /// Tagged rows to score the model on after training (exact-span micro-F1 per type).
    #[arg(long, env = "WARTA_DEV")]
    pub dev: Option<PathBuf>,
    /// Passes of the perceptron over the training sentences.
    #[arg(long, env = "WARTA_EPOCHS", default_value_t = crate::ner::NerConfig::default().epochs)]
    pub epochs: usize,
    /// Perceptrons trained on different shuffles of the data and summed into one model (1–32):
    /// more runs, less dependence on the order of the sentences; training takes RUNS times longer.
    #[arg(long, env = "WARTA_RUNS", default_value_t = crate::ner::NerConfig::default().runs)]
    pub runs: usize,
    /// Shuffling seed: the same seed and data give the same model.
    #[arg(long, env = "WARTA_SEED", default_value_t = crate::ner::NerConfig::default().seed)]
    pub seed: u64,
    /// Feature buckets: 2^BITS (12–24).
    #[arg(long, env = "WARTA_HASH_BITS", default_value_t = crate::ner::NerConfig::default().hash_bits)]
    pub hash_bits: u8,
    /// Map corpus kinds onto PERSON / LOCATION / ORGANIZATION (PER, PPL → PERSON; PLACE, PLC →
    /// LOCATION; ORGANISATION, IND → ORGANIZATION; other kinds keep their names), in training
    /// and dev rows alike: corpora with different tag names then train one model.
    #[arg(long, env = "WARTA_CANONICAL_KINDS")]
    pub canonical_kinds: bool,
}

#[derive(Debug, Args)]
pub struct TagArgs {
    /// Entity model file (from `warta train-ner`).
    #[arg(long, env = "WARTA_NER_MODEL")]
    pub ner_model: PathBuf,
    /// Exit with status 2 when any row could not be tagged.
    #[arg(long, env = "WARTA_STRICT")]
    pub strict: bool,
    /// JSONL input file, or - for standard input.
    #[arg(default_value = "-")]
    pub input: PathBuf,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, env = "WARTA_ADDR", default_value = "127.0.0.1:50051")]
    pub addr: SocketAddr,
    /// Entity model file (from `warta train-ner`); default: the compiled-in model trained on NERGrit.
    #[arg(long, env = "WARTA_NER_MODEL")]
    pub ner_model: Option<PathBuf>,
    /// Topic model file; default: the embedded default model (data/models/topics.warta).
    #[arg(long, env = "WARTA_MODEL")]
    pub model: Option<PathBuf>,
    /// Largest request message accepted, in bytes.
    #[arg(long, env = "WARTA_MAX_MESSAGE_BYTES", default_value_t = 4 * 1024 * 1024)]
    pub max_message_bytes: usize,
    /// Most articles in one ClassifyBatch request.
    #[arg(long, env = "WARTA_MAX_BATCH", default_value_t = 1024)]
    pub max_batch: usize,
    /// Longest article (title + text), in bytes.
    #[arg(long, env = "WARTA_MAX_TEXT_BYTES", default_value_t = 1024 * 1024)]
    pub max_text_bytes: usize,
    /// On SIGTERM/SIGINT, report NOT_SERVING for this long before refusing new connections.
    #[arg(long, env = "WARTA_SHUTDOWN_GRACE_MS", default_value_t = 0)]
    pub shutdown_grace_ms: u64,
    /// After SIGTERM and the grace period, how long in-flight calls may take before the process
    /// exits anyway.
    #[arg(long, env = "WARTA_DRAIN_TIMEOUT_MS", default_value_t = 10_000)]
    pub drain_timeout_ms: u64,
    /// Most requests worked on at once (a stream counts as one); more are refused with
    /// RESOURCE_EXHAUSTED at once.
    #[arg(long, env = "WARTA_MAX_IN_FLIGHT", default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_in_flight: u32,
    /// Deadline of every call in milliseconds; a client's shorter grpc-timeout wins.
    #[arg(long, env = "WARTA_REQUEST_TIMEOUT_MS", default_value_t = 30_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub request_timeout_ms: u64,
    /// Require `authorization: Bearer <token>` on ArticleService calls (health and reflection stay
    /// open). Read it from the environment rather than the command line, where `ps` shows it.
    #[arg(long, env = "WARTA_API_TOKEN", hide_env_values = true)]
    pub api_token: Option<String>,
    /// Serve Prometheus metrics (text format) at http://HOST:PORT/metrics.
    #[arg(long, env = "WARTA_METRICS_ADDR")]
    pub metrics_addr: Option<SocketAddr>,
    /// Serve TLS with this certificate chain (PEM); needs --tls-key.
    #[arg(long, env = "WARTA_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// Private key (PEM) of --tls-cert.
    #[arg(long, env = "WARTA_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Mutual TLS: accept only clients with a certificate signed by this CA (PEM).
    #[arg(long, env = "WARTA_TLS_CLIENT_CA", requires = "tls_cert")]
    pub tls_client_ca: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Labelled JSONL file(s); repeat the flag for several. Default: the embedded corpus.
    #[arg(long, env = "WARTA_DATA", value_delimiter = ',')]
    pub data: Vec<PathBuf>,
    /// Where to write the model.
    #[arg(long, env = "WARTA_OUT")]
    pub out: PathBuf,
    /// Classifier: ensemble (complement-nb and nb-svm, log-probabilities averaged), logreg
    /// (multinomial logistic regression), complement-nb, multinomial-nb, nb-logreg (NB-weighted
    /// one-vs-rest logistic regression), linear-svm (calibrated linear SVM) or nb-svm (calibrated
    /// linear SVM over NB-weighted features).
    #[arg(long, env = "WARTA_ALGORITHM", default_value = "ensemble")]
    pub algorithm: Algorithm,
    /// Search a small grid (algorithm × C/alpha × character n-grams on/off × word n-gram
    /// length) by k-fold cross-validation, print it, and train the winner.
    #[arg(long, env = "WARTA_TUNE")]
    pub tune: bool,
    /// Folds of cross-validation before the final fit (0 or 1: none).
    #[arg(long, env = "WARTA_FOLDS", default_value_t = 5)]
    pub folds: usize,
    /// Inverse L2 regularisation of logreg, nb-logreg, linear-svm, nb-svm and the ensemble's
    /// nb-svm (default: 10, 20, 1, 1, 1).
    #[arg(long = "c", env = "WARTA_C")]
    pub c: Option<f64>,
    /// Smoothing of complement-nb, multinomial-nb and the ensemble's complement-nb (default: 0.1).
    #[arg(long, env = "WARTA_ALPHA")]
    pub alpha: Option<f64>,
    /// Longest word n-gram (1–3).
    #[arg(long, env = "WARTA_NGRAM_MAX", default_value_t = 2)]
    pub ngram_max: usize,
    /// Minimum document frequency of a feature.
    #[arg(long, env = "WARTA_MIN_DF", default_value_t = FeatureConfig::default().min_df)]
    pub min_df: u32,
    /// Drop a feature found in more than this fraction of the training documents, in (0, 1]
    /// (e.g. 0.5: words in over half the articles say nothing of their topic); 1 keeps all.
    #[arg(long, env = "WARTA_MAX_DF", default_value_t = FeatureConfig::default().max_df, value_parser = parse_max_df)]
    pub max_df: f32,
    /// Keep at most this many features (most frequent first).
    #[arg(long, env = "WARTA_MAX_FEATURES")]
    pub max_features: Option<usize>,
    /// Keep stopwords in the features.
    #[arg(long, env = "WARTA_KEEP_STOPWORDS")]
    pub keep_stopwords: bool,
    /// Terms at the start of an article (title and lead) that weigh more (0: none).
    #[arg(long, env = "WARTA_LEAD_TERMS", default_value_t = 40)]
    pub lead_terms: usize,
    /// How much more they weigh.
    #[arg(long, env = "WARTA_LEAD_WEIGHT", default_value_t = 3.0)]
    pub lead_weight: f32,
    /// Character n-grams inside word boundaries, as MIN-MAX (e.g. 3-5, or 4 for 4-4); "0" for
    /// none; "auto" (or "auto:MIN-MAX") for 4-4 (or MIN-MAX) kept only where 5-fold complement
    /// naive Bayes on the training rows shows they measurably help (McNemar's test at 5%).
    #[arg(long, env = "WARTA_CHAR_NGRAMS", default_value = "auto", value_parser = parse_char_ngrams)]
    pub char_ngrams: CharNgrams,
    /// Hash features into 2^BITS buckets instead of learning a vocabulary (10–24; 0: vocabulary).
    #[arg(long, env = "WARTA_HASH_BITS", default_value_t = 0)]
    pub hash_bits: u8,
    /// Reduce Indonesian words to their stems (light affix stripping) before word n-grams.
    #[arg(long, env = "WARTA_STEM")]
    pub stem: bool,
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Model file; default: the embedded default model.
    #[arg(long, env = "WARTA_MODEL")]
    pub model: Option<PathBuf>,
    /// Labelled JSONL file(s).
    #[arg(long, env = "WARTA_DATA", value_delimiter = ',', required = true)]
    pub data: Vec<PathBuf>,
    /// Print one JSON object: accuracy, macro_f1, n, per_label, model_version.
    #[arg(long, env = "WARTA_JSON")]
    pub json: bool,
    /// Also write a report to look at into this directory: confusion-matrix heatmap and
    /// per-label precision/recall/F1 bars (PNG and SVG) and an index.html with the numbers.
    #[arg(long, env = "WARTA_REPORT")]
    pub report: Option<PathBuf>,
}

/// Options every batch command (`classify`, `extract`) shares.
#[derive(Debug, Args)]
pub struct BatchArgs {
    /// Write the output rows to this file instead of standard output.
    #[arg(long, short = 'o', env = "WARTA_OUTPUT")]
    pub output: Option<PathBuf>,
    /// Skip the rows whose id is already in --output (appending the rest), so an interrupted
    /// job continues where it stopped.
    #[arg(long, env = "WARTA_RESUME", requires = "output")]
    pub resume: bool,
    /// Work on one shard of the input, I/N (0 <= I < N): the rows whose 0-based line index
    /// modulo N is I. For N parallel workers, e.g. an indexed Kubernetes Job.
    #[arg(long, env = "WARTA_SHARD", value_parser = parse_shard)]
    pub shard: Option<(usize, usize)>,
    /// Progress bar on standard error: auto (only on a terminal), always or never.
    #[arg(long, env = "WARTA_PROGRESS", value_enum, default_value = "auto")]
    pub progress: Progress,
    /// The longest input line read, in bytes: a longer one (a file without newlines, say)
    /// becomes an error row for its line and is read past, never held in memory.
    #[arg(long, env = "WARTA_MAX_LINE_BYTES", default_value_t = MAX_LINE_BYTES, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_line_bytes: u64,
}

/// The default of `--max-line-bytes`: far beyond any article, far below a memory's worth.
const MAX_LINE_BYTES: u64 = 64 << 20;

impl Default for BatchArgs {
    fn default() -> Self {
        BatchArgs {
            output: None,
            resume: false,
            shard: None,
            progress: Progress::default(),
            max_line_bytes: MAX_LINE_BYTES,
        }
    }
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Progress {
    #[default]
    Auto,
    Always,
    Never,
}

fn parse_shard(s: &str) -> Result<(usize, usize), String> {
    let (i, n) = s.split_once('/').ok_or("expected I/N, e.g. 0/4")?;
    let i: usize = i.trim().parse().map_err(|_| format!("bad shard index {i:?}"))?;
    let n: usize = n.trim().parse().map_err(|_| format!("bad shard count {n:?}"))?;
    if n == 0 || i >= n {
        return Err(format!("shard {i}/{n}: need 0 <= I < N"));
    }
    Ok((i, n))
}

#[derive(Debug, Args)]
pub struct ClassifyArgs {
    /// Model file; default: the embedded default model.
    #[arg(long, env = "WARTA_MODEL")]
    pub model: Option<PathBuf>,
    /// Labels per row, best first (0: all).
    #[arg(long, env = "WARTA_TOP_K", default_value_t = 3)]
    pub top_k: usize,
    /// Exit with status 2 when any row could not be classified.
    #[arg(long, env = "WARTA_STRICT")]
    pub strict: bool,
    /// Add to each label the terms of the row that pushed most towards it.
    #[arg(long, env = "WARTA_EXPLAIN")]
    pub explain: bool,
    /// Send the rows to a running server (HOST:PORT or URL) through ClassifyStream instead of
    /// classifying here; bounded in flight, retried on UNAVAILABLE.
    #[arg(long, env = "WARTA_REMOTE")]
    pub remote: Option<String>,
    /// With --remote: requests sent ahead of their answers.
    #[arg(long, env = "WARTA_REMOTE_WINDOW", default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..=65536))]
    pub remote_window: u32,
    /// With --remote: consecutive failed attempts (connect or stream) before giving up;
    /// backoff from 0.1 s doubling to 5 s between them.
    #[arg(long, env = "WARTA_REMOTE_RETRIES", default_value_t = 12)]
    pub remote_retries: u32,
    /// With --remote: TLS, trusting this CA certificate (PEM) for the server's certificate.
    #[arg(long, env = "WARTA_REMOTE_CA")]
    pub remote_ca: Option<PathBuf>,
    /// With --remote and TLS: a client certificate and key (PEM) for a server that requires
    /// mutual TLS (--tls-client-ca).
    #[arg(long, env = "WARTA_REMOTE_CERT", requires = "remote_key")]
    pub remote_cert: Option<PathBuf>,
    #[arg(long, env = "WARTA_REMOTE_KEY", requires = "remote_cert")]
    pub remote_key: Option<PathBuf>,
    /// With --remote and TLS: the name the server's certificate must carry (default: the
    /// address's host).
    #[arg(long, env = "WARTA_REMOTE_DOMAIN")]
    pub remote_domain: Option<String>,
    /// With --remote: bearer token for a server started with --api-token.
    #[arg(long, env = "WARTA_API_TOKEN", hide_env_values = true)]
    pub api_token: Option<String>,
    #[command(flatten)]
    pub batch: BatchArgs,
    /// JSONL input file, or - for standard input.
    #[arg(default_value = "-")]
    pub input: PathBuf,
}

#[derive(Debug, Args)]
pub struct ExtractArgs {
    /// Topic model whose IDF weighs keywords; default: the embedded default model.
    #[arg(long, env = "WARTA_MODEL")]
    pub model: Option<PathBuf>,
    /// Entity model file (from `warta train-ner`); default: the compiled-in model trained on NERGrit.
    #[arg(long, env = "WARTA_NER_MODEL")]
    pub ner_model: Option<PathBuf>,
    /// Treat the input as one plain-text article (implied by a .txt file name).
    #[arg(long, env = "WARTA_TEXT")]
    pub text: bool,
    /// Exit with status 2 when any row could not be processed.
    #[arg(long, env = "WARTA_STRICT")]
    pub strict: bool,
    #[command(flatten)]
    pub batch: BatchArgs,
    /// JSONL input file ({"id","text"[,"title"]}), a .txt article, or - for standard input.
    #[arg(default_value = "-")]
    pub input: PathBuf,
}

/// TLS settings from the serve flags (`None`: plaintext).
fn tls_config(args: &ServeArgs) -> Result<Option<tonic::transport::ServerTlsConfig>, Error> {
    let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) else {
        return Ok(None);
    };
    let read = |p: &PathBuf| {
        std::fs::read(p).map_err(|e| {
            Error::Io(std::io::Error::new(
                e.kind(),
                format!("cannot read {}: {e}", p.display()),
            ))
        })
    };
    let mut tls = tonic::transport::ServerTlsConfig::new()
        .identity(tonic::transport::Identity::from_pem(read(cert)?, read(key)?));
    if let Some(ca) = &args.tls_client_ca {
        tls = tls.client_ca_root(tonic::transport::Certificate::from_pem(read(ca)?));
    }
    Ok(Some(tls))
}

/// An entity model from a file (`None`: the compiled-in default is used).
fn load_tagger(path: Option<&PathBuf>) -> Result<Option<std::sync::Arc<crate::ner::Tagger>>, Error> {
    Ok(match path {
        Some(p) => Some(std::sync::Arc::new(crate::ner::Tagger::load(p)?)),
        None => None,
    })
}

/// The extractor for an entity model file, or the default one.
pub(crate) fn extractor_for(path: Option<&PathBuf>) -> Result<crate::extract::Extractor, Error> {
    Ok(match load_tagger(path)? {
        Some(t) => crate::extract::Extractor::with_tagger(t),
        None => crate::extract::Extractor::default(),
    })
}

/// A model from a file, or the embedded default.
pub fn load_or_default(path: Option<&PathBuf>) -> Result<TopicModel, Error> {
    match path {
        Some(p) => Ok(TopicModel::load(p)?),
        None => Ok(default_model()?),
    }
}

fn print_metrics(m: &Metrics) {
    println!(
        "  {:<28} {:>9} {:>9} {:>9} {:>8}",
        "label", "precision", "recall", "f1", "support"
    );
    for (label, l) in &m.per_label {
        println!(
            "  {:<28} {:>9.4} {:>9.4} {:>9.4} {:>8}",
            label, l.precision, l.recall, l.f1, l.support
        );
    }
}

pub async fn serve(args: ServeArgs) -> Result<(), Error> {
    let listener = tokio::net::TcpListener::bind(args.addr).await?;
    if let Some(addr) = args.metrics_addr {
        let handle = crate::service::metrics::handle().map_err(|e| Error::Internal(format!("metrics: {e}")))?;
        let metrics_listener = tokio::net::TcpListener::bind(addr).await?;
        tracing::info!(addr = %metrics_listener.local_addr()?, "metrics at /metrics");
        tokio::spawn(crate::service::metrics::serve(metrics_listener, handle));
    }
    let model_path = args.model.clone();
    let model = async move {
        tokio::task::spawn_blocking(move || -> Result<ServedModel, Error> {
            match model_path {
                Some(p) => Ok(ServedModel::new(TopicModel::load(&p)?, p.display().to_string())),
                None => Ok(ServedModel::new(default_model()?, "embedded-default")),
            }
        })
        .await
        .map_err(|e| Error::Internal(format!("model loader failed: {e}")))?
    };
    let options = ServerOptions {
        max_message_bytes: args.max_message_bytes,
        max_batch: args.max_batch,
        max_text_bytes: args.max_text_bytes,
        shutdown_grace: Duration::from_millis(args.shutdown_grace_ms),
        tagger: load_tagger(args.ner_model.as_ref())?,
        max_in_flight: args.max_in_flight as usize,
        request_timeout: Duration::from_millis(args.request_timeout_ms),
        api_token: args.api_token.clone(),
        model_path: args.model.clone(),
        drain_timeout: Duration::from_millis(args.drain_timeout_ms),
        tls: tls_config(&args)?,
    };
    crate::service::run(listener, model, options, crate::shutdown::signal()).await
}

/// `--char-ngrams`: a range of character n-gram lengths ((0, 0): none) and whether the corpus
/// decides if they stay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CharNgrams {
    pub min: usize,
    pub max: usize,
    pub policy: CharPolicy,
}

/// `--max-df`: a fraction of the training documents, in (0, 1].
fn parse_max_df(s: &str) -> Result<f32, String> {
    match s.trim().parse::<f32>() {
        Ok(f) if f > 0.0 && f <= 1.0 => Ok(f),
        _ => Err(format!("{s:?}: a fraction of the documents, in (0, 1]")),
    }
}

/// "2-5" → 2–5, kept; "0" or "none" → none; "auto" → the default range, kept if it helps;
/// "auto:2-5" → 2–5, kept if it helps. The range itself is checked with the rest of the
/// feature settings.
fn parse_char_ngrams(s: &str) -> Result<CharNgrams, String> {
    let s = s.trim();
    let (policy, range) = match s.split_once(':') {
        Some((auto, range)) if auto.trim().eq_ignore_ascii_case("auto") => (CharPolicy::IfTheyHelp, range.trim()),
        _ if s.eq_ignore_ascii_case("auto") => {
            let d = FeatureConfig::default();
            return Ok(CharNgrams {
                min: d.char_ngram_min,
                max: d.char_ngram_max,
                policy: CharPolicy::IfTheyHelp,
            });
        }
        _ => (CharPolicy::Always, s),
    };
    if range == "0" || range.eq_ignore_ascii_case("none") {
        return Ok(CharNgrams { min: 0, max: 0, policy });
    }
    let (a, b) = range.split_once('-').unwrap_or((range, range));
    let num = |x: &str| {
        x.trim()
            .parse::<usize>()
            .map_err(|e| format!("{x:?}: {e} (expected MIN-MAX such as 2-5, \"0\" or \"auto\")"))
    };
    Ok(CharNgrams {
        min: num(a)?,
        max: num(b)?,
        policy,
    })
}

/// Read tagged rows; a bad line is an error that names its file and line.
fn read_tagged(path: &std::path::Path) -> Result<Vec<crate::ner::TaggedSentence>, Error> {
    let text = crate::corpus::read_text_file(path)?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let row: crate::ner::TaggedSentence = serde_json::from_str(line)
            .map_err(|e| Error::invalid("data", format!("{} line {}: {e}", path.display(), i + 1)))?;
        if row.tokens.len() != row.tags.len() {
            return Err(Error::invalid(
                "data",
                format!(
                    "{} line {}: {} tokens but {} tags",
                    path.display(),
                    i + 1,
                    row.tokens.len(),
                    row.tags.len()
                ),
            ));
        }
        out.push(row);
    }
    Ok(out)
}

pub fn train_ner(args: TrainNerArgs) -> Result<(), Error> {
    let started = Instant::now();
    let canonical = |mut rows: Vec<crate::ner::TaggedSentence>| {
        if args.canonical_kinds {
            for r in &mut rows {
                r.tags.iter_mut().for_each(|t| *t = crate::ner::canonical_tag(t));
            }
        }
        rows
    };
    let mut rows = Vec::new();
    for p in &args.data {
        rows.extend(canonical(read_tagged(p)?));
    }
    let config = crate::ner::NerConfig {
        hash_bits: args.hash_bits,
        epochs: args.epochs,
        runs: args.runs,
        seed: args.seed,
    };
    let mut tagger = crate::ner::Tagger::train(&rows, &config).map_err(|e| Error::invalid("data", e.to_string()))?;
    tagger.meta.source = args
        .data
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(",");
    let tokens: usize = rows.iter().map(|r| r.tokens.len()).sum();
    println!(
        "trained on {} sentences ({tokens} tokens, tags {}) in {:.2}s",
        rows.len(),
        tagger.tags().join(" "),
        started.elapsed().as_secs_f64()
    );
    if let Some(dev) = &args.dev {
        let gold = canonical(read_tagged(dev)?);
        let started = Instant::now();
        let pred: Vec<Vec<&str>> = gold.iter().map(|r| tagger.tag(&r.tokens)).collect();
        let secs = started.elapsed().as_secs_f64();
        let dev_tokens: usize = gold.iter().map(|r| r.tokens.len()).sum();
        let s = crate::ner::score(gold.iter().map(|r| r.tags.as_slice()), pred.iter().map(Vec::as_slice));
        println!(
            "{}: micro-F1 {:.4}  macro-F1 {:.4}  ({} sentences, {:.0} tokens/s one thread)",
            dev.display(),
            s.micro_f1,
            s.macro_f1,
            gold.len(),
            dev_tokens as f64 / secs.max(1e-9)
        );
        for (kind, f1) in &s.per_type {
            println!("  {kind:<16} F1 {f1:.4}");
        }
    }
    tagger.save(&args.out)?;
    println!("wrote {}", args.out.display());
    Ok(())
}

pub use batch::tag;

pub fn train(args: TrainArgs) -> Result<(), Error> {
    let started = Instant::now();
    let (rows, source) = if args.data.is_empty() {
        (crate::corpus::default_rows(true), "embedded-default".to_string())
    } else {
        let mut rows = Vec::new();
        for p in &args.data {
            rows.extend(read_labelled(p)?);
        }
        (
            rows,
            args.data
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(","),
        )
    };
    let config = TrainConfig {
        features: FeatureConfig {
            ngram_max: args.ngram_max,
            min_df: args.min_df,
            max_df: args.max_df,
            max_features: args.max_features,
            remove_stopwords: !args.keep_stopwords,
            lead_terms: args.lead_terms,
            lead_weight: args.lead_weight,
            char_ngram_min: args.char_ngrams.min,
            char_ngram_max: args.char_ngrams.max,
            hash_bits: args.hash_bits,
            stem: args.stem,
            ..FeatureConfig::default()
        },
        algorithm: args.algorithm,
        c: args.c,
        alpha: args.alpha,
        char_policy: args.char_ngrams.policy,
    };
    let config = if args.tune {
        let trials = tune(&rows, &config, args.folds)?;
        println!(
            "tuning: {} settings, {}-fold cross-validation each",
            trials.len(),
            args.folds.max(2)
        );
        println!("  {:<44} {:>9} {:>9}", "setting", "accuracy", "macro-F1");
        for t in trials.iter().take(12) {
            println!(
                "  {:<44} {:>9.4} {:>9.4}",
                t.describe(),
                t.metrics.accuracy,
                t.metrics.macro_f1
            );
        }
        let best = trials
            .into_iter()
            .next()
            .ok_or_else(|| Error::Internal("empty tuning grid".into()))?;
        println!("winner: {}", best.describe());
        best.config
    } else {
        config
    };
    let multi_label = rows.iter().any(|r| r.labels.len() > 1);
    let (model, verdict) = if multi_label {
        if ![Algorithm::Softmax, TrainConfig::default().algorithm].contains(&config.algorithm) {
            // an algorithm was named that multi-label training does not use: say so
            tracing::warn!(
                algorithm = %config.algorithm,
                "rows with several labels train a multi-label model: one-vs-rest logistic regression with per-label thresholds; the algorithm applies to single-label data"
            );
        }
        let examples: Vec<MultiLabelExample> = rows
            .iter()
            .map(|r| MultiLabelExample {
                text: r.full_text(),
                labels: r.labels.clone(),
            })
            .collect();
        let (mut m, judged) = train_multilabel_judged(&examples, &config, args.folds)?;
        m.meta.source = source.clone();
        (m, judged)
    } else {
        train_rows(&rows, &config, args.folds, &source)?
    };
    let elapsed = started.elapsed();
    model.save(&args.out)?;
    let size = std::fs::metadata(&args.out).map(|m| m.len()).unwrap_or(0);
    println!(
        "trained {} on {} rows, {} labels, {} features ({} terms) in {:.2}s",
        model.algorithm(),
        rows.len(),
        model.labels().len(),
        model.vectorizer().len(),
        model.vectorizer().vocabulary_size(),
        elapsed.as_secs_f64()
    );
    if let Some(v) = verdict {
        let what = if v.keep() {
            "kept"
        } else {
            "dropped, not measurably better"
        };
        println!("character n-grams {what}: {v}");
    }
    if let Some(t) = model.thresholds() {
        let list: Vec<String> = model
            .labels()
            .iter()
            .zip(t)
            .map(|(l, t)| format!("{l}={t:.2}"))
            .collect();
        println!(
            "multi-label (one-vs-rest logistic regression); thresholds: {}",
            list.join(" ")
        );
    }
    if let Some(m) = &model.meta.metrics {
        let what = if model.is_multi_label() {
            "exact-set accuracy"
        } else {
            "accuracy"
        };
        println!(
            "{}-fold cross-validation: {what} {:.4}  macro-F1 {:.4}  (n={})",
            m.folds, m.accuracy, m.macro_f1, m.n
        );
        print_metrics(m);
    }
    println!(
        "saved {} ({} bytes, version {})",
        args.out.display(),
        size,
        model.version()
    );
    Ok(())
}

pub fn eval(args: EvalArgs) -> Result<(), Error> {
    let model = load_or_default(args.model.as_ref())?;
    let mut rows = Vec::new();
    for p in &args.data {
        rows.extend(read_labelled(p)?);
    }
    // names of every label seen in the model or the data, so unknown gold labels count as misses
    let mut names: Vec<String> = model.labels().to_vec();
    for l in rows.iter().flat_map(|r| r.labels.iter()) {
        if !names.contains(l) {
            names.push(l.clone());
        }
    }
    let index = |l: &str| names.iter().position(|n| n == l).unwrap_or(0);
    let started = Instant::now();
    let (m, n_rows, confusion) = if model.is_multi_label() {
        let predicted: Vec<Vec<usize>> = rows.iter().map(|r| model.predict_labels(&r.full_text())).collect();
        let truth: Vec<Vec<usize>> = rows
            .iter()
            .map(|r| r.labels.iter().map(|l| index(l)).collect())
            .collect();
        (score_multilabel(&truth, &predicted, &names), rows.len(), None)
    } else {
        let ex = examples(&rows);
        let predicted: Vec<usize> = ex.iter().map(|e| model.predict_index(&e.text)).collect();
        let truth: Vec<usize> = ex.iter().map(|e| index(&e.label)).collect();
        let mut confusion = vec![vec![0u64; names.len()]; names.len()];
        for (&t, &p) in truth.iter().zip(&predicted) {
            if let Some(cell) = confusion.get_mut(t).and_then(|r| r.get_mut(p)) {
                *cell += 1;
            }
        }
        (score(&truth, &predicted, &names), ex.len(), Some(confusion))
    };
    let elapsed = started.elapsed();
    if let Some(dir) = &args.report {
        let files = crate::report::write(
            dir,
            &crate::report::Evaluation {
                labels: &names,
                confusion,
                metrics: &m,
                model: model.version().to_string(),
                data: args.data.iter().map(|p| p.display().to_string()).collect(),
            },
        )?;
        eprintln!("report: {} ({})", dir.join("index.html").display(), files.join(", "));
    }
    if args.json {
        let mut v = serde_json::to_value(&m).map_err(|e| Error::Internal(e.to_string()))?;
        if let Some(o) = v.as_object_mut() {
            o.insert("model_version".into(), model.version().into());
            o.insert(
                "docs_per_s".into(),
                (n_rows as f64 / elapsed.as_secs_f64().max(1e-9)).into(),
            );
            o.insert("multi_label".into(), model.is_multi_label().into());
        }
        println!("{v}");
    } else {
        println!(
            "accuracy {:.4}  macro-F1 {:.4}  (n={}, model {})",
            m.accuracy,
            m.macro_f1,
            m.n,
            model.version()
        );
        print_metrics(&m);
    }
    Ok(())
}

pub use batch::{classify, extract};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn char_ngrams_parse_as_a_range_none_or_auto() {
        let got = |s: &str| parse_char_ngrams(s).map(|c| (c.min, c.max, c.policy));
        let d = FeatureConfig::default();
        assert_eq!(
            got("auto"),
            Ok((d.char_ngram_min, d.char_ngram_max, CharPolicy::IfTheyHelp))
        );
        assert_eq!(got(" AUTO : 3-5 "), Ok((3, 5, CharPolicy::IfTheyHelp)));
        assert_eq!(got("3-5"), Ok((3, 5, CharPolicy::Always)));
        assert_eq!(got("4"), Ok((4, 4, CharPolicy::Always)));
        assert_eq!(got("0"), Ok((0, 0, CharPolicy::Always)));
        assert_eq!(got("none"), Ok((0, 0, CharPolicy::Always)));
        for bad in ["", "x", "3-", "auto:", "auto:x-5", "always:3-5", "-1"] {
            assert!(got(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn max_df_is_a_fraction_of_the_documents() {
        assert_eq!(parse_max_df("0.5"), Ok(0.5));
        assert_eq!(parse_max_df(" 1 "), Ok(1.0));
        for bad in ["0", "-0.1", "1.01", "50%", "NaN", "inf", ""] {
            let err = parse_max_df(bad).expect_err(bad);
            assert!(err.contains("(0, 1]"), "{bad:?}: {err}");
        }
    }
}
