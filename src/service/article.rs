//! `warta.v1.ArticleService`: Classify, ClassifyBatch, ClassifyStream, Extract, GetModelInfo.

use super::metrics::MethodMetrics;
use super::{convert, ServedModel, State};
use crate::corpus::join_title;
use crate::error::Error;
use crate::proto::v1 as pb;
use crate::proto::v1::article_service_server::ArticleService;
use rayon::prelude::*;
use std::borrow::Cow;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio_stream::{Stream, StreamExt};
use tonic::{Request, Response, Status, Streaming};

pub struct ArticleApi {
    state: Arc<State>,
    calls: Calls,
}

/// Each unary method's metrics.
struct Calls {
    classify: MethodMetrics,
    classify_batch: MethodMetrics,
    classify_stream: MethodMetrics,
    extract: MethodMetrics,
    get_model_info: MethodMetrics,
}

impl ArticleApi {
    pub fn new(state: Arc<State>) -> Self {
        ArticleApi {
            state,
            calls: Calls {
                classify: MethodMetrics::new("Classify"),
                classify_batch: MethodMetrics::new("ClassifyBatch"),
                classify_stream: MethodMetrics::new("ClassifyStream"),
                extract: MethodMetrics::new("Extract"),
                get_model_info: MethodMetrics::new("GetModelInfo"),
            },
        }
    }
}

/// Check an article and return the text to classify (title + body; the body itself when
/// there is no title). `field` names the article in an error, and is formatted only then.
fn article_text<'a>(
    article: Option<&'a pb::Article>,
    field: impl std::fmt::Display,
    max_bytes: usize,
) -> Result<Cow<'a, str>, Error> {
    let a = article.ok_or_else(|| Error::invalid(&field.to_string(), "is required"))?;
    if a.text.trim().is_empty() {
        return Err(Error::invalid(&format!("{field}.text"), "must not be empty"));
    }
    if a.text.len() + a.title.len() > max_bytes {
        return Err(Error::TooLarge {
            field: format!("{field}.text"),
            message: format!("is {} bytes; the limit is {max_bytes}", a.text.len() + a.title.len()),
        });
    }
    Ok(join_title(&a.title, &a.text))
}

/// Terms per label when a request asks for explanations.
const EXPLAIN_TERMS: usize = 10;

/// Log the outcome of a call inside its request span: client mistakes at debug (they are the
/// caller's to see), server faults at error.
fn logged<T>(calls: &MethodMetrics, started: std::time::Instant, result: Result<T, Status>) -> Result<T, Status> {
    let method = calls.method();
    let elapsed = started.elapsed();
    let code = result.as_ref().map_or_else(|s| s.code(), |_| tonic::Code::Ok);
    calls.record(code, elapsed);
    let micros = elapsed.as_micros() as u64;
    if outcome_is_read(code) {
        record_outcome(&tracing::Span::current(), code, micros);
    }
    match &result {
        Ok(_) => tracing::debug!(method, micros, "ok"),
        Err(s) if matches!(s.code(), tonic::Code::Internal | tonic::Code::Unknown) => {
            tracing::error!(method, micros, code = ?s.code(), message = s.message(), "failed")
        }
        Err(s) => tracing::debug!(method, micros, code = ?s.code(), message = s.message(), "refused"),
    }
    result
}

/// Will anything read a request span's outcome fields: an exported span, or a log line that
/// carries the span (debug, or a server fault at error)? When nothing will, they are not
/// filled in, because a log layer formats the span's fields again on every record (with JSON
/// logs that was ~2 µs a call, more than classifying a headline); nor is the current span
/// looked up (a registry lookup and a reference count up and down, ~0.1 µs a call).
fn outcome_is_read(code: tonic::Code) -> bool {
    crate::telemetry::spans_exported()
        || tracing::enabled!(tracing::Level::DEBUG)
        || matches!(code, tonic::Code::Internal | tonic::Code::Unknown)
}

/// Fill in the request span's outcome fields (see [`outcome_is_read`]).
fn record_outcome(span: &tracing::Span, code: tonic::Code, micros: u64) {
    span.record("code", super::metrics::code_name(code));
    span.record("latency_us", micros);
}

/// A ClassifyStream call from its start to its end: recorded in the metrics when dropped, so
/// its latency is the stream's whole life, not the time to open it.
struct StreamCall {
    metrics: MethodMetrics,
    started: std::time::Instant,
    code: tonic::Code,
    /// The call's request span (the stream's task runs outside it).
    span: tracing::Span,
}

impl Drop for StreamCall {
    fn drop(&mut self) {
        let elapsed = self.started.elapsed();
        self.metrics.record(self.code, elapsed);
        if outcome_is_read(self.code) {
            record_outcome(&self.span, self.code, elapsed.as_micros() as u64);
        }
        let _entered = self.span.enter();
        tracing::debug!(method = "ClassifyStream", micros = elapsed.as_micros() as u64, code = ?self.code, "stream ended");
    }
}

/// Most stream requests classified together.
const STREAM_CHUNK: usize = 64;
/// Batches with up to this many bytes of text (a few dozen leads) are classified on the
/// calling task, as one Classify is: handing them to a worker thread and back cost more
/// CPU than classifying them (16 leads, 5 KB: 155 µs of server CPU a call through a worker
/// and the pool, against 45 µs of classifying).
const INLINE_BYTES: usize = 16 << 10;
/// Batches with this many bytes of text or more are spread over all cores; below, waking
/// the pool's threads costs more than it saves.
const PARALLEL_BYTES: usize = 128 << 10;

/// Run `f(parallel)`, the classification of a batch with `bytes` bytes of text, where it
/// costs least: small batches here, others on a blocking worker, large ones over all cores.
async fn run_batch<T: Send + 'static>(bytes: usize, f: impl FnOnce(bool) -> T + Send + 'static) -> Result<T, Status> {
    if bytes <= INLINE_BYTES {
        Ok(f(false))
    } else {
        blocking(move || f(bytes >= PARALLEL_BYTES)).await
    }
}

/// The text bytes of a batch's articles.
fn text_bytes<'a>(articles: impl Iterator<Item = Option<&'a pb::Article>>) -> usize {
    articles.flatten().map(|a| a.text.len() + a.title.len()).sum()
}

/// The answer for one article: its `k` best labels (0: all) with their probabilities and,
/// when asked, the terms behind each; the top label counted in the metrics. Without
/// explanations the labels are built straight from the ranking: the served model's hot path
/// allocates only what the response holds.
fn answer(served: &ServedModel, text: &str, k: u32, explain: bool) -> Vec<pb::LabelScore> {
    let model = &served.model;
    model.ranked(text, k as usize, |p, order| {
        if let Some(&top) = order.first() {
            served.label_counts.count(top);
        }
        if explain {
            return convert::labels(model.explained(text, p, order, EXPLAIN_TERMS));
        }
        order
            .iter()
            .map(|&c| pb::LabelScore {
                label: model.labels()[c].clone(),
                score: p[c],
                terms: Vec::new(),
            })
            .collect()
    })
}

/// [`answer`] and the version of the model that gave it, the model lent under its read lock.
fn versioned_answer(state: &State, text: &str, k: u32, explain: bool) -> Result<(Vec<pb::LabelScore>, String), Error> {
    state.with_model(|served| (answer(served, text, k, explain), served.model.version().to_string()))
}

/// One stream answer: labels, or the item's error.
fn classify_one(state: &State, req: &pb::ClassifyRequest) -> pb::ClassifyResponse {
    let id = req.article.as_ref().map(|a| a.id.clone()).unwrap_or_default();
    let result = article_text(req.article.as_ref(), "article", state.options.max_text_bytes)
        .and_then(|text| versioned_answer(state, &text, req.top_k, req.explain));
    match result {
        Ok((labels, model_version)) => pb::ClassifyResponse {
            labels,
            model_version,
            id,
            error: None,
        },
        Err(e) => pb::ClassifyResponse {
            labels: Vec::new(),
            model_version: String::new(),
            id,
            error: Some(convert::item_error(&e)),
        },
    }
}

/// Classify requests in order, on all cores if `parallel`.
fn classify_many(state: &State, requests: &[pb::ClassifyRequest], parallel: bool) -> Vec<pb::ClassifyResponse> {
    if parallel {
        requests.par_iter().map(|r| classify_one(state, r)).collect()
    } else {
        requests.iter().map(|r| classify_one(state, r)).collect()
    }
}

/// Run CPU-bound work off the async executor.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, Status> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Status::internal(format!("worker failed: {e}")))
}

type ClassifyStreamOut = Pin<Box<dyn Stream<Item = Result<pb::ClassifyResponse, Status>> + Send>>;

impl ArticleApi {
    async fn classify_inner(
        &self,
        request: Request<pb::ClassifyRequest>,
    ) -> Result<Response<pb::ClassifyResponse>, Status> {
        let req = request.into_inner();
        let text = article_text(req.article.as_ref(), "article", self.state.options.max_text_bytes)?;
        let (labels, model_version) = versioned_answer(&self.state, &text, req.top_k, req.explain)?;
        Ok(Response::new(pb::ClassifyResponse {
            labels,
            model_version,
            id: req.article.map(|a| a.id).unwrap_or_default(),
            error: None,
        }))
    }

    async fn classify_batch_inner(
        &self,
        request: Request<pb::ClassifyBatchRequest>,
    ) -> Result<Response<pb::ClassifyBatchResponse>, Status> {
        let req = request.into_inner();
        super::metrics::record_batch("ClassifyBatch", req.articles.len());
        let max = self.state.options.max_batch;
        if req.articles.len() > max {
            return Err(Error::TooLarge {
                field: "articles".into(),
                message: format!("has {} articles; the limit is {max}", req.articles.len()),
            }
            .into());
        }
        let served = self.state.model()?;
        let max_bytes = self.state.options.max_text_bytes;
        let (k, explain) = (req.top_k, req.explain);
        let model = served.clone();
        let bytes = text_bytes(req.articles.iter().map(Some));
        let results = run_batch(bytes, move |parallel| {
            let one =
                |(i, a): (usize, &pb::Article)| match article_text(Some(a), format_args!("articles[{i}]"), max_bytes) {
                    Ok(text) => pb::ClassifyResult {
                        id: a.id.clone(),
                        labels: answer(&model, &text, k, explain),
                        error: None,
                    },
                    Err(e) => pb::ClassifyResult {
                        id: a.id.clone(),
                        labels: Vec::new(),
                        error: Some(convert::item_error(&e)),
                    },
                };
            if parallel {
                req.articles.par_iter().enumerate().map(one).collect::<Vec<_>>()
            } else {
                req.articles.iter().enumerate().map(one).collect::<Vec<_>>()
            }
        })
        .await?;
        Ok(Response::new(pb::ClassifyBatchResponse {
            results,
            model_version: served.model.version().to_string(),
        }))
    }

    async fn classify_stream_inner(
        &self,
        request: Request<Streaming<pb::ClassifyRequest>>,
        slot: super::Slot,
        started: std::time::Instant,
    ) -> Result<Response<ClassifyStreamOut>, Status> {
        // fail fast, before any work, if there is no model
        self.state.model()?;
        let state = self.state.clone();
        // Requests that are already waiting are classified together on all cores; answers
        // keep request order. The outbound channel is bounded: a slow reader slows the
        // stream instead of growing a queue.
        let mut inbound = Box::pin(
            request
                .into_inner()
                .chunks_timeout(STREAM_CHUNK, Duration::from_millis(1)),
        );
        let (tx, rx) = tokio::sync::mpsc::channel(STREAM_CHUNK);
        let span = tracing::Span::current();
        let metrics = self.calls.classify_stream.clone();
        tokio::spawn(async move {
            let _slot = slot;
            // the call is counted and timed when the stream ends, however it ends
            let mut call = StreamCall {
                metrics,
                started,
                code: tonic::Code::Ok,
                span,
            };
            while let Some(chunk) = inbound.next().await {
                super::metrics::record_batch("ClassifyStream", chunk.len());
                let mut requests = Vec::with_capacity(chunk.len());
                let mut failure = None;
                for item in chunk {
                    match item {
                        Ok(req) if failure.is_none() => requests.push(req),
                        Err(status) if failure.is_none() => failure = Some(super::wire_status::fix(status)),
                        _ => {}
                    }
                }
                let state = state.clone();
                let bytes = text_bytes(requests.iter().map(|r| r.article.as_ref()));
                let answers = match run_batch(bytes, move |parallel| classify_many(&state, &requests, parallel)).await {
                    Ok(a) => a,
                    Err(status) => {
                        call.code = status.code();
                        let _ = tx.send(Err(status)).await;
                        return;
                    }
                };
                for answer in answers {
                    if tx.send(Ok(answer)).await.is_err() {
                        call.code = tonic::Code::Cancelled; // the client went away
                        return;
                    }
                }
                if let Some(status) = failure {
                    call.code = status.code();
                    let _ = tx.send(Err(status)).await;
                    return;
                }
            }
        });
        Ok(Response::new(Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx))))
    }

    async fn extract_inner(
        &self,
        request: Request<pb::ExtractRequest>,
    ) -> Result<Response<pb::ExtractResponse>, Status> {
        let req = request.into_inner();
        article_text(req.article.as_ref(), "article", self.state.options.max_text_bytes)?;
        self.state.accepting()?;
        let article = req.article.unwrap_or_default();
        let state = self.state.clone();
        let extraction = blocking(move || {
            let served = state.model_if_ready();
            let idf = served.as_ref().map(|m| m.model.vectorizer());
            state.extractor.extract(&article.id, &article.title, &article.text, idf)
        })
        .await?;
        Ok(Response::new(convert::extraction(extraction)))
    }

    async fn get_model_info_inner(
        &self,
        _request: Request<pb::GetModelInfoRequest>,
    ) -> Result<Response<pb::ModelInfo>, Status> {
        let served = self.state.model()?;
        Ok(Response::new(convert::model_info(&served)))
    }
}

#[tonic::async_trait]
impl ArticleService for ArticleApi {
    async fn classify(&self, request: Request<pb::ClassifyRequest>) -> Result<Response<pb::ClassifyResponse>, Status> {
        let started = std::time::Instant::now();
        let result = match self.state.admit() {
            Ok(_slot) => self.classify_inner(request).await,
            Err(e) => Err(e.into()),
        };
        logged(&self.calls.classify, started, result)
    }

    async fn classify_batch(
        &self,
        request: Request<pb::ClassifyBatchRequest>,
    ) -> Result<Response<pb::ClassifyBatchResponse>, Status> {
        let started = std::time::Instant::now();
        let result = match self.state.admit() {
            Ok(_slot) => self.classify_batch_inner(request).await,
            Err(e) => Err(e.into()),
        };
        logged(&self.calls.classify_batch, started, result)
    }

    type ClassifyStreamStream = ClassifyStreamOut;

    async fn classify_stream(
        &self,
        request: Request<Streaming<pb::ClassifyRequest>>,
    ) -> Result<Response<Self::ClassifyStreamStream>, Status> {
        let started = std::time::Instant::now();
        // a stream holds one slot for its whole life
        let result = match self.state.admit() {
            Ok(slot) => self.classify_stream_inner(request, slot, started).await,
            Err(e) => Err(e.into()),
        };
        match result {
            ok @ Ok(_) => ok, // counted when the stream ends (StreamCall)
            refused => logged(&self.calls.classify_stream, started, refused),
        }
    }

    async fn extract(&self, request: Request<pb::ExtractRequest>) -> Result<Response<pb::ExtractResponse>, Status> {
        let started = std::time::Instant::now();
        let result = match self.state.admit() {
            Ok(_slot) => self.extract_inner(request).await,
            Err(e) => Err(e.into()),
        };
        logged(&self.calls.extract, started, result)
    }

    async fn get_model_info(
        &self,
        request: Request<pb::GetModelInfoRequest>,
    ) -> Result<Response<pb::ModelInfo>, Status> {
        let started = std::time::Instant::now();
        logged(
            &self.calls.get_model_info,
            started,
            self.get_model_info_inner(request).await,
        )
    }
}
