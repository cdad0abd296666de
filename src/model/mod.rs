//! Features → labels: sparse linear classifiers implemented as linfa algorithms, and the
//! [`TopicModel`] that bundles a fitted vectorizer, a classifier and the label names.

mod char_choice;
mod ensemble;
mod linear;
mod multilabel;
mod naive_bayes;
mod nb_weighted;
mod persist;
mod softmax;
mod svm;

pub use char_choice::{CharPolicy, CharVerdict, Z as CHAR_Z};
pub use ensemble::EnsembleParams;
pub use linear::{LinearModel, Link};
pub use multilabel::{select as select_labels, train_multilabel, train_multilabel_judged, MultiLabelExample};
pub use naive_bayes::{NaiveBayesKind, NaiveBayesParams};
pub use nb_weighted::NbWeightedParams;
pub use persist::{ModelFileError, FORMAT_VERSION};
pub use softmax::SoftmaxParams;
pub use svm::SvmParams;

use crate::eval::Metrics;
use crate::features::{FeatureConfig, FeatureError, HalfWeights, SparseMatrix, SparseRow, Vectorizer};
use linfa::prelude::*;
use ndarray::Array1;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::str::FromStr;

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("invalid hyperparameter: {0}")]
    Params(String),
    #[error("invalid training data: {0}")]
    Data(String),
    #[error("training failed: {0}")]
    NotConverged(String),
    #[error(transparent)]
    Features(#[from] FeatureError),
    #[error("linfa: {0}")]
    Linfa(#[from] linfa::Error),
}

/// Which classifier `warta train --algorithm` fits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Algorithm {
    /// Multinomial logistic regression (L-BFGS): calibrated probabilities.
    Softmax,
    /// Complement naive Bayes: fastest to fit, strong on small corpora.
    ComplementNb,
    /// Multinomial naive Bayes.
    MultinomialNb,
    /// NB-weighted logistic regression, one-vs-rest (NB-SVM's logistic form).
    NbLogReg,
    /// Linear SVM (squared hinge, one-vs-rest) with temperature-calibrated probabilities.
    LinearSvm,
    /// NB-SVM: the linear SVM over NB-weighted features, temperature-calibrated.
    NbSvm,
    /// Complement NB and NB-SVM, their log-probabilities averaged: one linear model. The default.
    Ensemble,
}

impl Algorithm {
    pub const ALL: [Algorithm; 7] = [
        Algorithm::Softmax,
        Algorithm::ComplementNb,
        Algorithm::MultinomialNb,
        Algorithm::NbLogReg,
        Algorithm::LinearSvm,
        Algorithm::NbSvm,
        Algorithm::Ensemble,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Softmax => "logreg",
            Algorithm::ComplementNb => "complement-nb",
            Algorithm::MultinomialNb => "multinomial-nb",
            Algorithm::NbLogReg => "nb-logreg",
            Algorithm::LinearSvm => "linear-svm",
            Algorithm::NbSvm => "nb-svm",
            Algorithm::Ensemble => "ensemble",
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Algorithm {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Algorithm::ALL.into_iter().find(|a| a.name() == s).ok_or_else(|| {
            format!(
                "unknown algorithm {s:?}; choose one of: ensemble, logreg, complement-nb, multinomial-nb, nb-logreg, linear-svm, nb-svm"
            )
        })
    }
}

/// A fitted classifier: which algorithm made it, and its linear model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Classifier {
    Softmax(LinearModel),
    ComplementNb(LinearModel),
    MultinomialNb(LinearModel),
    NbLogReg(LinearModel),
    LinearSvm(LinearModel),
    NbSvm(LinearModel),
    Ensemble(LinearModel),
}

impl Classifier {
    /// The weights, whatever fitted them.
    pub fn linear(&self) -> &LinearModel {
        match self {
            Classifier::Softmax(m)
            | Classifier::ComplementNb(m)
            | Classifier::MultinomialNb(m)
            | Classifier::NbLogReg(m)
            | Classifier::LinearSvm(m)
            | Classifier::NbSvm(m)
            | Classifier::Ensemble(m) => m,
        }
    }

    pub fn classes(&self) -> usize {
        self.linear().classes()
    }

    pub fn features(&self) -> usize {
        self.linear().features()
    }

    pub fn algorithm(&self) -> Algorithm {
        match self {
            Classifier::Softmax(_) => Algorithm::Softmax,
            Classifier::ComplementNb(_) => Algorithm::ComplementNb,
            Classifier::MultinomialNb(_) => Algorithm::MultinomialNb,
            Classifier::NbLogReg(_) => Algorithm::NbLogReg,
            Classifier::LinearSvm(_) => Algorithm::LinearSvm,
            Classifier::NbSvm(_) => Algorithm::NbSvm,
            Classifier::Ensemble(_) => Algorithm::Ensemble,
        }
    }

    fn validate(&self) -> Result<(), String> {
        self.linear().validate()
    }

    /// Weight of feature `j` for class `c` in the decision function.
    pub fn weight(&self, j: usize, c: usize) -> f32 {
        self.linear().weight(j, c)
    }

    /// Probabilities over the classes for one feature row (sums to 1).
    pub fn predict_proba_row(&self, row: SparseRow<'_>, out: &mut [f64]) {
        self.linear().predict_proba_row(row, out)
    }
}

/// Numerically stable softmax; a non-finite input yields the uniform distribution.
pub(crate) fn softmax_in_place(z: &mut [f64]) {
    z.iter_mut().filter(|v| v.is_nan()).for_each(|v| *v = f64::NEG_INFINITY);
    let max = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !max.is_finite() {
        let u = 1.0 / z.len().max(1) as f64;
        z.iter_mut().for_each(|v| *v = u);
        return;
    }
    let mut sum = 0.0;
    for v in z.iter_mut() {
        *v = (*v - max).exp();
        sum += *v;
    }
    z.iter_mut().for_each(|v| *v /= sum);
}

/// Index of the largest value (NaN-safe: NaN never wins; ties go to the lower index).
pub(crate) fn argmax(v: &[f64]) -> usize {
    let mut best = 0;
    for (i, x) in v.iter().enumerate() {
        if x.total_cmp(&v[best]).is_gt() && !x.is_nan() || v[best].is_nan() {
            best = i;
        }
    }
    best
}

/// Hyperparameters of a whole training run.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainConfig {
    pub features: FeatureConfig,
    pub algorithm: Algorithm,
    /// Inverse regularisation of the regressions and the SVM (`None`: the algorithm's default).
    pub c: Option<f64>,
    /// Smoothing of naive Bayes (`None`: the algorithm's default).
    pub alpha: Option<f64>,
    /// Whether the character n-grams of `features` are kept whatever they do, or only where
    /// the corpus shows they help (single-label training; see [`CharVerdict::keep`]).
    pub char_policy: CharPolicy,
}

impl TrainConfig {
    /// C for this config's algorithm: set, or its default (logreg 10, nb-logreg 20, linear SVM
    /// and NB-SVM 1).
    pub fn c(&self) -> f64 {
        self.c.unwrap_or(match self.algorithm {
            Algorithm::LinearSvm | Algorithm::NbSvm | Algorithm::Ensemble => 1.0,
            Algorithm::NbLogReg => 20.0,
            _ => 10.0,
        })
    }

    /// Naive Bayes smoothing: set, or its default 0.1 (best by cross-validation on every
    /// corpus we measure, with character n-grams on).
    pub fn alpha(&self) -> f64 {
        self.alpha.unwrap_or(0.1)
    }
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            features: FeatureConfig::default(),
            // chosen by cross-validation on the corpora: see README, "Choosing the default"
            algorithm: Algorithm::Ensemble,
            c: None,
            alpha: None,
            char_policy: CharPolicy::IfTheyHelp,
        }
    }
}

/// One label and its probability.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LabelScore {
    pub label: String,
    pub score: f64,
    /// With explanations: the article's terms that pushed most towards this label.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub terms: Vec<TermWeight>,
}

/// A term of the article and how much it moved a label's score (log-odds units).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TermWeight {
    pub term: String,
    pub weight: f64,
}

/// Facts about how a model was made, saved with it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelMeta {
    pub trained_at_unix: u64,
    pub training_documents: u64,
    /// Cross-validated metrics, when training ran cross-validation.
    pub metrics: Option<Metrics>,
    /// Free text such as "embedded-default" or the training files.
    pub source: String,
}

#[derive(Serialize, Deserialize)]
struct TopicModelData {
    labels: Vec<String>,
    vectorizer: Vectorizer,
    classifier: Classifier,
    meta: ModelMeta,
    thresholds: Option<Vec<f32>>,
}

/// Everything needed to classify text: vectorizer, classifier, label names, metadata.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "TopicModelData", into = "TopicModelData")]
pub struct TopicModel {
    labels: Vec<String>,
    vectorizer: Vectorizer,
    classifier: Classifier,
    pub meta: ModelMeta,
    /// Per-label decision thresholds of a multi-label model (`None`: single-label).
    thresholds: Option<Vec<f32>>,
    /// Content hash of labels, vectorizer, classifier and thresholds.
    version: String,
    /// The classifier's weights as prediction reads them, where the CPU and the label count
    /// allow (see [`HalfWeights`]); derived, not saved.
    half: Option<HalfWeights>,
}

impl From<TopicModel> for TopicModelData {
    fn from(m: TopicModel) -> Self {
        TopicModelData {
            labels: m.labels,
            vectorizer: m.vectorizer,
            classifier: m.classifier,
            meta: m.meta,
            thresholds: m.thresholds,
        }
    }
}

impl TryFrom<TopicModelData> for TopicModel {
    type Error = String;

    fn try_from(d: TopicModelData) -> Result<Self, String> {
        let mut m = TopicModel::new(d.labels, d.vectorizer, d.classifier, d.meta)?;
        if let Some(t) = d.thresholds {
            m.set_thresholds(t)?;
        }
        Ok(m)
    }
}

/// The checksum topic model files carry ([`crate::framing::hash64`] of the body); public for
/// tools and fuzzing.
pub fn checksum(bytes: &[u8]) -> u64 {
    crate::framing::hash64(CHECKSUM_SEED, bytes)
}

const CHECKSUM_SEED: u64 = 0x7761_7274_615f_666d;
const VERSION_SEED: u64 = 0x7761_7274_615f_766e;

/// A model's content hash, its version: of the serialised labels, vectorizer and classifier.
pub(crate) fn content_hash(bytes: &[u8]) -> u64 {
    crate::framing::hash64(VERSION_SEED, bytes)
}

impl TopicModel {
    /// Assemble and check a model.
    pub fn new(
        labels: Vec<String>,
        vectorizer: Vectorizer,
        classifier: Classifier,
        meta: ModelMeta,
    ) -> Result<Self, String> {
        let body = postcard::to_allocvec(&(&labels, &vectorizer, &classifier)).map_err(|e| e.to_string())?;
        Self::assemble(labels, vectorizer, classifier, meta, content_hash(&body))
    }

    /// A model read from a file: `hash` is [`content_hash`] of the file's bytes of labels, vectorizer
    /// and classifier, exactly what [`Self::new`] would serialise to hash them, so the
    /// version comes from the file without writing the model again.
    pub(crate) fn from_file_parts(
        labels: Vec<String>,
        vectorizer: Vectorizer,
        classifier: Classifier,
        meta: ModelMeta,
        thresholds: Option<Vec<f32>>,
        hash: u64,
    ) -> Result<Self, String> {
        let mut model = Self::assemble(labels, vectorizer, classifier, meta, hash)?;
        if let Some(t) = thresholds {
            model.apply_thresholds(t, hash)?;
        }
        Ok(model)
    }

    /// Check the parts and put them together; `content_hash` is [`content_hash`] of the serialised
    /// labels, vectorizer and classifier.
    fn assemble(
        labels: Vec<String>,
        vectorizer: Vectorizer,
        classifier: Classifier,
        meta: ModelMeta,
        content_hash: u64,
    ) -> Result<Self, String> {
        classifier.validate()?;
        if labels.len() < 2 {
            return Err(format!("a model needs at least 2 labels, found {}", labels.len()));
        }
        if labels.iter().collect::<BTreeSet<_>>().len() != labels.len() || labels.iter().any(|l| l.is_empty()) {
            return Err("labels must be unique and non-empty".into());
        }
        if classifier.classes() != labels.len() {
            return Err(format!(
                "classifier has {} classes for {} labels",
                classifier.classes(),
                labels.len()
            ));
        }
        if classifier.features() != vectorizer.len() {
            return Err(format!(
                "classifier has {} features, vectorizer {}",
                classifier.features(),
                vectorizer.len()
            ));
        }
        let version = format!("{content_hash:016x}");
        let linear = classifier.linear();
        let half = HalfWeights::build(
            vectorizer.idf_values(),
            linear.weights(),
            linear.classes(),
            linear.shift_invariant(),
        );
        Ok(TopicModel {
            labels,
            vectorizer,
            classifier,
            meta,
            thresholds: None,
            version,
            half,
        })
    }

    /// Make this a multi-label model with one threshold per label, each in (0, 1).
    pub fn set_thresholds(&mut self, thresholds: Vec<f32>) -> Result<(), String> {
        let body =
            postcard::to_allocvec(&(&self.labels, &self.vectorizer, &self.classifier)).map_err(|e| e.to_string())?;
        self.apply_thresholds(thresholds, content_hash(&body))
    }

    /// [`Self::set_thresholds`] given the hash of labels, vectorizer and classifier: the
    /// version then also covers the thresholds.
    fn apply_thresholds(&mut self, thresholds: Vec<f32>, content_hash: u64) -> Result<(), String> {
        if thresholds.len() != self.labels.len() || thresholds.iter().any(|t| !(*t > 0.0 && *t < 1.0)) {
            return Err(format!(
                "{} thresholds in (0, 1) expected for {} labels",
                self.labels.len(),
                self.labels.len()
            ));
        }
        let tail = postcard::to_allocvec(&thresholds).map_err(|e| e.to_string())?;
        self.version = format!("{:016x}", crate::framing::hash64(content_hash, &tail));
        self.thresholds = Some(thresholds);
        Ok(())
    }

    /// Per-label thresholds of a multi-label model.
    pub fn thresholds(&self) -> Option<&[f32]> {
        self.thresholds.as_deref()
    }

    pub fn is_multi_label(&self) -> bool {
        self.thresholds.is_some()
    }

    /// Indices of the predicted labels: the best one, or for a multi-label model every label
    /// at or over its threshold.
    pub fn predict_labels(&self, text: &str) -> Vec<usize> {
        let p = self.predict_proba(text);
        match &self.thresholds {
            Some(t) => select_labels(&p, t),
            None => vec![argmax(&p)],
        }
    }

    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    pub fn vectorizer(&self) -> &Vectorizer {
        &self.vectorizer
    }

    pub fn classifier(&self) -> &Classifier {
        &self.classifier
    }

    pub fn algorithm(&self) -> Algorithm {
        self.classifier.algorithm()
    }

    /// Content hash: equal models have equal versions, whenever and wherever they were trained.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Probabilities over [`Self::labels`], in label order.
    pub fn predict_proba(&self, text: &str) -> Vec<f64> {
        let mut p = Vec::new();
        self.probabilities_into(text, &mut p);
        p
    }

    /// [`Self::predict_proba`] into `p` (cleared first).
    fn probabilities_into(&self, text: &str, p: &mut Vec<f64>) {
        let linear = self.classifier.linear();
        p.clear();
        p.extend(linear.biases().iter().map(|&b| b as f64));
        self.vectorizer
            .linear_scores(text, linear.weights(), self.half.as_ref(), p);
        linear.apply_link(p);
    }

    /// The `top_k` most probable labels, best first (`top_k == 0`: all).
    pub fn classify(&self, text: &str, top_k: usize) -> Vec<LabelScore> {
        self.classify_explained(text, top_k, 0)
    }

    /// The labels [`Self::classify`] returns, as indices into [`Self::labels`], best first, into
    /// `order`; `p[c]` is label c's probability (non-finite made 0). Reuses both buffers: the
    /// batch commands classify without allocating.
    pub fn rank_into(&self, text: &str, top_k: usize, p: &mut Vec<f64>, order: &mut Vec<usize>) {
        self.probabilities_into(text, p);
        p.iter_mut().filter(|v| !v.is_finite()).for_each(|v| *v = 0.0);
        order.clear();
        let best_first =
            |&a: &usize, &b: &usize| p[b].total_cmp(&p[a]).then_with(|| self.labels[a].cmp(&self.labels[b]));
        if self.thresholds.is_none() && top_k == 1 {
            // the usual batch call wants the one best label: a scan, not a sort
            order.extend((0..self.labels.len()).min_by(best_first));
            return;
        }
        order.extend(0..self.labels.len());
        order.sort_by(best_first);
        if let Some(t) = &self.thresholds {
            // multi-label: every label at its threshold, and never none
            let best = order.first().copied();
            order.retain(|&c| p[c] >= t.get(c).copied().unwrap_or(0.5) as f64 || Some(c) == best);
        }
        if top_k > 0 {
            order.truncate(top_k);
        }
    }

    /// Like [`Self::classify`], and for each returned label up to `terms` of the article's
    /// features that raised that label's score most against the others: feature value ×
    /// (its weight for the label − its mean weight over all labels).
    pub fn classify_explained(&self, text: &str, top_k: usize, terms: usize) -> Vec<LabelScore> {
        self.ranked(text, top_k, |p, order| self.explained(text, p, order, terms))
    }

    /// [`Self::rank_into`] in this thread's reused buffers, handed to `f`: a served call or a
    /// CLI row allocates only its answer.
    pub fn ranked<R>(&self, text: &str, top_k: usize, f: impl FnOnce(&[f64], &[usize]) -> R) -> R {
        thread_local! {
            static RANK: std::cell::RefCell<(Vec<f64>, Vec<usize>)> = const { std::cell::RefCell::new((Vec::new(), Vec::new())) };
        }
        RANK.with(|scratch| match scratch.try_borrow_mut() {
            Ok(mut buffers) => {
                let (p, order) = &mut *buffers;
                self.rank_into(text, top_k, p, order);
                f(p, order)
            }
            // only if `f` ranks again on this thread
            Err(_) => {
                let (mut p, mut order) = (Vec::new(), Vec::new());
                self.rank_into(text, top_k, &mut p, &mut order);
                f(&p, &order)
            }
        })
    }

    /// The ranked labels with their probabilities and, when `terms` > 0, their explanations;
    /// `p` and `order` as [`Self::rank_into`] gives them for `text`.
    pub fn explained(&self, text: &str, p: &[f64], order: &[usize], terms: usize) -> Vec<LabelScore> {
        let mut scored: Vec<(usize, LabelScore)> = order
            .iter()
            .map(|&c| {
                (
                    c,
                    LabelScore {
                        label: self.labels[c].clone(),
                        score: p[c],
                        terms: Vec::new(),
                    },
                )
            })
            .collect();
        if terms > 0 {
            // named by the article's own words (stems and hashed buckets have no better name);
            // a word's character n-grams add to that word
            let x = self.vectorizer.transform_unordered(text);
            let names = self.vectorizer.names_in(text);
            let k = self.labels.len();
            for (c, ls) in scored.iter_mut() {
                let mut by_name: HashMap<&str, f64> = HashMap::new();
                for (j, v) in x.row().iter() {
                    let mean = (0..k).map(|d| self.classifier.weight(j, d) as f64).sum::<f64>() / k as f64;
                    let w = v as f64 * (self.classifier.weight(j, *c) as f64 - mean);
                    if let Some(name) = names.get(&(j as u32)).filter(|_| w.is_finite()) {
                        *by_name.entry(name.as_str()).or_insert(0.0) += w;
                    }
                }
                let mut contributions: Vec<(&str, f64)> = by_name.into_iter().filter(|(_, w)| *w > 0.0).collect();
                contributions.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0)));
                ls.terms = contributions
                    .into_iter()
                    .take(terms)
                    .map(|(term, weight)| TermWeight {
                        term: term.to_string(),
                        weight,
                    })
                    .collect();
            }
        }
        scored.into_iter().map(|(_, s)| s).collect()
    }

    /// Index of the most probable label.
    pub fn predict_index(&self, text: &str) -> usize {
        argmax(&self.predict_proba(text))
    }
}

/// A labelled training text.
#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    pub text: String,
    pub label: String,
}

/// Fit a topic model on labelled texts (no cross-validation; see [`crate::eval`]).
/// The sorted distinct labels of a training set; at least two are needed.
pub(crate) fn label_set<'a>(names: impl Iterator<Item = &'a String>) -> Result<Vec<String>, ModelError> {
    let labels: Vec<String> = names.cloned().collect::<BTreeSet<_>>().into_iter().collect();
    if labels.len() < 2 {
        return Err(ModelError::Data(format!(
            "training needs at least 2 distinct labels, found {}",
            labels.len()
        )));
    }
    Ok(labels)
}

impl ModelMeta {
    /// Metadata of a model trained now on `documents` rows.
    pub(crate) fn trained_now(documents: usize) -> Self {
        ModelMeta {
            trained_at_unix: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            training_documents: documents as u64,
            metrics: None,
            source: String::new(),
        }
    }
}

pub fn train(examples: &[Example], config: &TrainConfig) -> Result<TopicModel, ModelError> {
    train_judged(examples, config).map(|(model, _)| model)
}

/// Fit the vectorizer on `texts` and vectorise them. When `config` leaves the character
/// n-grams to the corpus, `judge` gives its verdict on the rows, and a verdict against them
/// refits without them: exactly what `--char-ngrams 0` would have fitted.
fn vectorize_judged(
    config: &TrainConfig,
    texts: &[&str],
    judge: impl FnOnce(&SparseMatrix, &Vectorizer) -> Option<CharVerdict>,
) -> Result<(Vectorizer, SparseMatrix, Option<CharVerdict>), ModelError> {
    let started = std::time::Instant::now();
    let vectorize = |features: &FeatureConfig| -> Result<(Vectorizer, SparseMatrix), ModelError> {
        let vectorizer = Vectorizer::fit(features.clone(), texts)?;
        // rows are independent: all cores (a tenth of SIB-200's training ran here, on one)
        let rows: Vec<_> = texts.par_iter().map(|t| vectorizer.transform(t)).collect();
        let records = SparseMatrix::from_rows(vectorizer.len(), &rows);
        let elapsed_us = started.elapsed().as_micros() as u64;
        tracing::debug!(elapsed_us, features = vectorizer.len(), "features computed");
        Ok((vectorizer, records))
    };
    let (mut vectorizer, mut records) = vectorize(&config.features)?;
    let mut verdict = None;
    if config.char_policy == CharPolicy::IfTheyHelp && config.features.char_ngrams() {
        verdict = judge(&records, &vectorizer);
        let elapsed_us = started.elapsed().as_micros() as u64;
        tracing::debug!(?verdict, elapsed_us, "character n-grams judged");
        if verdict.is_some_and(|v| !v.keep()) {
            (vectorizer, records) = vectorize(&config.features.without_char_ngrams())?;
        }
    }
    Ok((vectorizer, records, verdict))
}

/// [`train`], with the verdict on the character n-grams when the config left them to the
/// corpus (and there were enough rows to judge).
pub fn train_judged(
    examples: &[Example],
    config: &TrainConfig,
) -> Result<(TopicModel, Option<CharVerdict>), ModelError> {
    let labels = label_set(examples.iter().map(|e| &e.label))?;
    let texts: Vec<&str> = examples.iter().map(|e| e.text.as_str()).collect();
    let targets: Array1<usize> = examples
        .iter()
        .map(|e| labels.binary_search(&e.label).unwrap_or(0))
        .collect();
    let started = std::time::Instant::now();
    let (vectorizer, records, verdict) = vectorize_judged(config, &texts, |x, vectorizer| {
        char_choice::judge(
            x,
            targets.as_slice().unwrap_or(&[]),
            labels.len(),
            config.alpha(),
            |j| vectorizer.is_char_feature(j),
        )
    })?;
    let dataset = DatasetBase::new(records, targets);
    let classifier = match config.algorithm {
        Algorithm::Softmax => Classifier::Softmax(SoftmaxParams::default().c(config.c()).fit(&dataset)?),
        Algorithm::ComplementNb => {
            Classifier::ComplementNb(NaiveBayesParams::complement().alpha(config.alpha()).fit(&dataset)?)
        }
        Algorithm::MultinomialNb => {
            Classifier::MultinomialNb(NaiveBayesParams::multinomial().alpha(config.alpha()).fit(&dataset)?)
        }
        Algorithm::NbLogReg => Classifier::NbLogReg(NbWeightedParams::logistic().c(config.c()).fit(&dataset)?),
        Algorithm::LinearSvm => Classifier::LinearSvm(SvmParams::default().c(config.c()).fit(&dataset)?),
        Algorithm::NbSvm => Classifier::NbSvm(NbWeightedParams::svm().c(config.c()).fit(&dataset)?),
        Algorithm::Ensemble => Classifier::Ensemble(
            EnsembleParams::default()
                .alpha(config.alpha())
                .c(config.c())
                .fit(&dataset)?,
        ),
    };
    tracing::debug!(elapsed_us = started.elapsed().as_micros() as u64, "classifier fitted");
    let meta = ModelMeta::trained_now(examples.len());
    let model = TopicModel::new(labels, vectorizer, classifier, meta).map_err(ModelError::NotConverged)?;
    Ok((model, verdict))
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn toy() -> Vec<Example> {
        toy_examples(&[
            ("migration", "migran perbatasan suaka pengungsi deportasi visa"),
            ("drugs", "narkoba kokain kartel sabu penyelundupan ganja"),
            ("health", "vaksin rumah sakit demam berdarah pasien dokter"),
        ])
    }

    /// Eight short texts per label, each three of its six words and a common phrase.
    fn toy_examples(topics: &[(&str, &str)]) -> Vec<Example> {
        let mut v = Vec::new();
        for (label, words) in topics {
            let w: Vec<&str> = words.split(' ').collect();
            for i in 0..8 {
                let text = format!("{} {} {} berita hari ini", w[i % 6], w[(i + 1) % 6], w[(i + 3) % 6]);
                v.push(Example {
                    text,
                    label: label.to_string(),
                });
            }
        }
        v
    }

    /// The toy problem's model for each algorithm.
    fn toy_models() -> impl Iterator<Item = (Algorithm, TopicModel)> {
        Algorithm::ALL.into_iter().map(|algorithm| {
            let cfg = TrainConfig {
                algorithm,
                ..TrainConfig::default()
            };
            (algorithm, train(&toy(), &cfg).unwrap())
        })
    }

    #[test]
    fn served_probabilities_match_the_f32_weights() {
        // six and eight labels: prediction reads half-float rows where the CPU has them (5–8
        // labels, softmax links; with 8, the last label's weights are implied by the others),
        // and must agree with the f32 weights the model saves
        let topics = [
            ("defence", "tentara latihan militer kapal perang senjata"),
            ("trade", "ekspor impor tarif dagang pasar komoditas"),
            ("sport", "sepak bola pemain gol liga pelatih"),
            ("weather", "hujan badai banjir cuaca angin musim"),
            ("science", "peneliti laboratorium teleskop planet sel genetika"),
        ];
        for extra in [3, 5] {
            let mut examples = toy();
            examples.extend(toy_examples(&topics[..extra]));
            for algorithm in Algorithm::ALL {
                let cfg = TrainConfig {
                    algorithm,
                    ..TrainConfig::default()
                };
                let m = train(&examples, &cfg).unwrap();
                let k = m.labels().len();
                assert_eq!(k, 3 + extra);
                let softmax = m.classifier().linear().shift_invariant();
                assert_eq!(
                    m.half.is_some(),
                    softmax && HalfWeights::build(&[1.0; 1], &vec![0.5; k], k, true).is_some()
                );
                for text in [
                    "kartel kokain ditangkap di perbatasan",
                    "tarif ekspor dan pemain",
                    "badai di planet dan teleskop",
                    "berita hari ini",
                ] {
                    let linear = m.classifier().linear();
                    let mut exact: Vec<f64> = linear.biases().iter().map(|&b| b as f64).collect();
                    m.vectorizer().linear_scores(text, linear.weights(), None, &mut exact);
                    linear.apply_link(&mut exact);
                    let served = m.predict_proba(text);
                    assert_eq!(argmax(&served), argmax(&exact), "{algorithm}, {k} labels: {text}");
                    for (s, e) in served.iter().zip(&exact) {
                        // half floats keep 11 significant bits of each weight: within 1e-2
                        // even for the calibrated SVM, whose logits run to tens
                        assert!(
                            (s - e).abs() < 1e-2,
                            "{algorithm}, {k} labels: {text}: {served:?} vs {exact:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn both_algorithms_learn_a_toy_problem() {
        for (algorithm, m) in toy_models() {
            assert_eq!(m.labels(), ["drugs", "health", "migration"]);
            let top = m.classify("kartel kokain ditangkap", 0);
            assert_eq!(top[0].label, "drugs", "{algorithm}: {top:?}");
            assert_eq!(top.len(), 3);
            let sum: f64 = top.iter().map(|s| s.score).sum();
            assert!((sum - 1.0).abs() < 1e-9);
            assert!(top.windows(2).all(|w| w[0].score >= w[1].score));
            assert_eq!(m.classify("pengungsi di perbatasan", 1)[0].label, "migration");
            assert_eq!(m.classify("vaksin", 2).len(), 2);
            assert_eq!(m.algorithm(), algorithm);
            let explained = m.classify_explained("kartel kokain ditangkap di perbatasan", 2, 3);
            assert_eq!(explained[0].label, "drugs");
            let terms: Vec<&str> = explained[0].terms.iter().map(|t| t.term.as_str()).collect();
            assert!(
                terms.contains(&"kartel") || terms.contains(&"kokain"),
                "{algorithm}: {terms:?}"
            );
            assert!(!terms.contains(&"perbatasan"), "{algorithm}: {terms:?}");
            assert!(explained[0].terms.windows(2).all(|w| w[0].weight >= w[1].weight));
            assert!(m.classify("kartel", 1)[0].terms.is_empty());
        }
    }

    #[test]
    fn the_best_label_alone_is_the_head_of_the_full_ranking() {
        for (algorithm, m) in toy_models() {
            // "" and unknown words score every label alike: the tie goes to the first name
            for text in ["kartel kokain ditangkap", "migran perbatasan", "vaksin", "", "zzz qqq"] {
                let all = m.classify(text, 0);
                let one = m.classify(text, 1);
                assert_eq!(one.len(), 1);
                assert_eq!(one[0].label, all[0].label, "{algorithm}: {text:?}");
                assert_eq!(one[0].score, all[0].score);
                assert_eq!(m.classify(text, 2)[..], all[..2]);
            }
        }
    }

    #[test]
    fn unknown_text_gets_a_valid_distribution() {
        let m = train(&toy(), &TrainConfig::default()).unwrap();
        let p = m.predict_proba("zzz qqq");
        assert!(p.iter().all(|x| x.is_finite() && *x > 0.0));
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-9);
    }

    #[test]
    fn training_is_deterministic_and_versioned_by_content() {
        let a = train(&toy(), &TrainConfig::default()).unwrap();
        let b = train(&toy(), &TrainConfig::default()).unwrap();
        assert_eq!(a.version(), b.version());
        let c = train(&toy()[1..], &TrainConfig::default()).unwrap();
        assert_ne!(a.version(), c.version());
    }

    #[test]
    fn one_label_is_an_error() {
        let one: Vec<Example> = toy().into_iter().filter(|e| e.label == "drugs").collect();
        assert!(matches!(train(&one, &TrainConfig::default()), Err(ModelError::Data(_))));
    }

    #[test]
    fn bad_hyperparameters_are_rejected_by_param_guard() {
        assert!(SoftmaxParams::default().c(-1.0).check().is_err());
        assert!(SoftmaxParams::default().c(f64::NAN).check().is_err());
        assert!(NaiveBayesParams::complement().alpha(0.0).check().is_err());
        assert!(NbWeightedParams::logistic().alpha(f64::INFINITY).check().is_err());
        assert!(NbWeightedParams::svm().c(0.0).check().is_err());
        assert!(NbWeightedParams::svm().alpha(-0.5).check().is_err());
        assert!(NbWeightedParams::svm().c(0.5).alpha(0.5).check().is_ok());
        let cfg = TrainConfig {
            algorithm: Algorithm::NbSvm,
            c: Some(f64::NAN),
            ..TrainConfig::default()
        };
        assert!(matches!(train(&toy(), &cfg), Err(ModelError::Params(_))));
        let cfg = TrainConfig {
            algorithm: Algorithm::Softmax,
            c: Some(0.0),
            ..TrainConfig::default()
        };
        assert!(matches!(train(&toy(), &cfg), Err(ModelError::Params(_))));
        let cfg = TrainConfig {
            alpha: Some(-1.0),
            ..TrainConfig::default()
        };
        assert!(matches!(train(&toy(), &cfg), Err(ModelError::Params(_))));
    }

    #[test]
    fn character_n_grams_stay_only_where_the_corpus_shows_they_help() {
        // the toy topics are told apart by whole words: character n-grams add nothing measurable
        let (m, verdict) = train_judged(&toy(), &TrainConfig::default()).unwrap();
        let v = verdict.expect("24 rows of 3 labels are judged");
        assert!(!v.keep(), "{v:?}");
        assert!(!m.vectorizer().config().char_ngrams());
        // dropped, they leave exactly the model trained without them
        let words = TrainConfig {
            features: FeatureConfig {
                char_ngram_min: 0,
                char_ngram_max: 0,
                ..FeatureConfig::default()
            },
            ..TrainConfig::default()
        };
        assert_eq!(train(&toy(), &words).unwrap().version(), m.version());
        // set, they stay unjudged
        let always = TrainConfig {
            char_policy: CharPolicy::Always,
            ..TrainConfig::default()
        };
        let (m, verdict) = train_judged(&toy(), &always).unwrap();
        assert!(verdict.is_none() && m.vectorizer().config().char_ngrams());
        // where every word is new but each topic's words share an ending, only they generalise
        let mut rows = Vec::new();
        for i in 0..30 {
            for (label, ending) in [("a", "nggar"), ("b", "mptox")] {
                rows.push(Example {
                    text: format!("x{i}{ending} q{i}z{ending}"),
                    label: label.to_string(),
                });
            }
        }
        let (m, verdict) = train_judged(&rows, &TrainConfig::default()).unwrap();
        let v = verdict.expect("judged");
        assert!(v.keep(), "{v:?}");
        assert!(m.vectorizer().config().char_ngrams());
        assert_eq!(m.classify("y99nggar", 1)[0].label, "a");
    }

    #[test]
    fn argmax_and_softmax_are_nan_safe() {
        assert_eq!(argmax(&[0.1, f64::NAN, 0.5]), 2);
        assert_eq!(argmax(&[f64::NAN, 0.2]), 1);
        let mut z = [f64::NAN, 1.0];
        softmax_in_place(&mut z);
        assert_eq!(z, [0.0, 1.0]);
        let mut z = [f64::NAN, f64::NAN];
        softmax_in_place(&mut z);
        assert_eq!(z, [0.5, 0.5]);
        let mut z = [1000.0, 0.0];
        softmax_in_place(&mut z);
        assert!((z[0] - 1.0).abs() < 1e-12);
    }
}
