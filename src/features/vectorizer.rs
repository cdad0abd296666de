//! Vocabulary of word n-grams with IDF weights, learnt once and frozen.

use super::sparse::SparseVec;
use crate::text::fasthash::{FastMap, FastSet};
use crate::text::{is_stopword, stopword_list, words, Language};
use serde::{Deserialize, Serialize};
use unicode_normalization::{is_nfc_quick, IsNormalized, UnicodeNormalization};

/// Longest n-gram the vectorizer supports.
pub const MAX_NGRAM: usize = 3;
const NONE: u32 = u32::MAX;
type NgramKey = [u32; MAX_NGRAM];

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum FeatureError {
    #[error("invalid feature setting: {0}")]
    Config(String),
    #[error("no features: every term was filtered out (too few documents, or min_df/max_df too strict)")]
    EmptyVocabulary,
    #[error("corrupt vectorizer: {0}")]
    Corrupt(String),
}

/// How text becomes features. Fixed at training time and saved in the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureConfig {
    /// Shortest and longest word n-gram (1..=3).
    pub ngram_min: usize,
    pub ngram_max: usize,
    /// Keep a feature only if it occurs in at least this many training documents.
    pub min_df: u32,
    /// Drop a feature that occurs in more than this fraction of training documents.
    pub max_df: f32,
    /// Keep at most this many features, the most frequent by document frequency.
    pub max_features: Option<usize>,
    /// Use 1 + ln(tf) instead of raw term counts.
    pub sublinear_tf: bool,
    /// Drop Indonesian and English stopwords before forming n-grams.
    pub remove_stopwords: bool,
    /// News states its topic up front: n-grams starting among the first `lead_terms` terms
    /// (title and lead) count `lead_weight` times. 0 turns this off.
    pub lead_terms: usize,
    pub lead_weight: f32,
}

impl Default for FeatureConfig {
    fn default() -> Self {
        FeatureConfig {
            ngram_min: 1,
            ngram_max: 2,
            min_df: 2,
            max_df: 1.0,
            max_features: None,
            sublinear_tf: true,
            remove_stopwords: true,
            lead_terms: 40,
            lead_weight: 3.0,
        }
    }
}

impl FeatureConfig {
    pub fn validate(&self) -> Result<(), FeatureError> {
        if self.ngram_min < 1 || self.ngram_max > MAX_NGRAM || self.ngram_min > self.ngram_max {
            return Err(FeatureError::Config(format!(
                "n-gram range {}..={} must lie within 1..={MAX_NGRAM}",
                self.ngram_min, self.ngram_max
            )));
        }
        if !(self.max_df > 0.0 && self.max_df <= 1.0) {
            return Err(FeatureError::Config(format!(
                "max_df {} must be in (0, 1]",
                self.max_df
            )));
        }
        if !(self.lead_weight.is_finite() && self.lead_weight >= 1.0 && self.lead_weight <= 100.0) {
            return Err(FeatureError::Config(format!(
                "lead_weight {} must be in [1, 100]",
                self.lead_weight
            )));
        }
        if self.max_features == Some(0) {
            return Err(FeatureError::Config("max_features must be at least 1".into()));
        }
        Ok(())
    }
}

/// Visit the normalised terms of a text: lowercased NFC words that contain a letter, minus
/// stopwords when asked. This is the single definition of a "term" for features and keywords.
/// One buffer is reused for every term, so the hot path allocates nothing per word.
pub fn analyze_each(text: &str, remove_stopwords: bool, mut f: impl FnMut(&str)) {
    let mut buf = String::with_capacity(32);
    for w in words(text) {
        buf.clear();
        if w.text.is_ascii() {
            if !w.text.bytes().any(|b| b.is_ascii_alphabetic()) {
                continue;
            }
            buf.push_str(w.text);
            buf.make_ascii_lowercase();
        } else {
            if !w.has_letter() {
                continue;
            }
            for c in w.text.chars() {
                if c == '’' {
                    buf.push('\'');
                } else {
                    buf.extend(c.to_lowercase());
                }
            }
            if is_nfc_quick(buf.chars()) != IsNormalized::Yes {
                let nfc: String = buf.nfc().collect();
                buf = nfc;
            }
        }
        if remove_stopwords && is_stopword(&buf) {
            continue;
        }
        f(&buf);
    }
}

/// The normalised terms of a text, collected (see [`analyze_each`]).
pub fn analyze(text: &str, remove_stopwords: bool, out: &mut Vec<String>) {
    out.clear();
    analyze_each(text, remove_stopwords, |t| out.push(t.to_string()));
}

/// Serialised form: the index maps are rebuilt (and checked) on load.
#[derive(Serialize, Deserialize)]
struct VectorizerData {
    config: FeatureConfig,
    terms: Vec<String>,
    features: Vec<NgramKey>,
    idf: Vec<f32>,
    documents: u64,
    /// The stopwords removed at training time: a later build's lists cannot skew serving.
    stopwords: Vec<String>,
}

/// Fitted vocabulary and IDF.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "VectorizerData", into = "VectorizerData")]
pub struct Vectorizer {
    config: FeatureConfig,
    /// Term id → term.
    terms: Vec<String>,
    /// Feature id → term ids of the n-gram, padded with `NONE`.
    features: Vec<NgramKey>,
    idf: Vec<f32>,
    /// Training documents the IDF was computed on.
    documents: u64,
    stopwords: Vec<String>,
    /// Term → term id; stopwords (when removed) map to `STOP`, so one lookup per word
    /// classifies it.
    term_index: FastMap<String, u32>,
    /// Term id → its unigram feature (or `NONE`): an array index instead of a hash lookup.
    unigram: Vec<u32>,
    /// Two term ids packed in a u64 → bigram feature.
    bigram: FastMap<u64, u32>,
    /// Longer n-grams → feature.
    longer: FastMap<NgramKey, u32>,
}

/// Marks a stopword in `term_index`.
const STOP: u32 = u32::MAX - 1;

fn pack(a: u32, b: u32) -> u64 {
    ((a as u64) << 32) | b as u64
}

impl From<Vectorizer> for VectorizerData {
    fn from(v: Vectorizer) -> Self {
        VectorizerData {
            config: v.config,
            terms: v.terms,
            features: v.features,
            idf: v.idf,
            documents: v.documents,
            stopwords: v.stopwords,
        }
    }
}

impl TryFrom<VectorizerData> for Vectorizer {
    type Error = FeatureError;

    fn try_from(d: VectorizerData) -> Result<Self, FeatureError> {
        d.config.validate()?;
        if d.idf.len() != d.features.len() {
            return Err(FeatureError::Corrupt(format!(
                "{} IDF weights for {} features",
                d.idf.len(),
                d.features.len()
            )));
        }
        if let Some(w) = d.idf.iter().find(|w| !w.is_finite() || **w < 0.0) {
            return Err(FeatureError::Corrupt(format!(
                "IDF weight {w} is not a finite non-negative number"
            )));
        }
        let nterms = d.terms.len() as u32;
        for key in &d.features {
            let n = key.iter().take_while(|&&t| t != NONE).count();
            if n == 0 || key[..n].iter().any(|&t| t >= nterms) || key[n..].iter().any(|&t| t != NONE) {
                return Err(FeatureError::Corrupt(format!(
                    "feature {key:?} refers to unknown terms"
                )));
            }
        }
        let mut term_index: FastMap<String, u32> =
            d.terms.iter().enumerate().map(|(i, t)| (t.clone(), i as u32)).collect();
        if term_index.len() != d.terms.len() {
            return Err(FeatureError::Corrupt("duplicate terms".into()));
        }
        for w in &d.stopwords {
            if term_index.insert(w.clone(), STOP).is_some() {
                return Err(FeatureError::Corrupt(format!("stopword {w:?} is also a term")));
            }
        }
        let mut unigram = vec![NONE; d.terms.len()];
        let mut bigram = FastMap::default();
        let mut longer = FastMap::default();
        let mut distinct = 0;
        for (i, key) in d.features.iter().enumerate() {
            let fresh = match key {
                [a, NONE, NONE] => std::mem::replace(&mut unigram[*a as usize], i as u32) == NONE,
                [a, b, NONE] => bigram.insert(pack(*a, *b), i as u32).is_none(),
                _ => longer.insert(*key, i as u32).is_none(),
            };
            distinct += fresh as usize;
        }
        if distinct != d.features.len() {
            return Err(FeatureError::Corrupt("duplicate features".into()));
        }
        Ok(Vectorizer {
            config: d.config,
            terms: d.terms,
            features: d.features,
            idf: d.idf,
            documents: d.documents,
            stopwords: d.stopwords,
            term_index,
            unigram,
            bigram,
            longer,
        })
    }
}

/// Visit the n-gram keys of a term-id sequence (`None` = out of vocabulary, breaks n-grams).
fn for_each_ngram(ids: &[Option<u32>], min: usize, max: usize, mut f: impl FnMut(usize, NgramKey)) {
    for n in min..=max {
        for (start, window) in ids.windows(n).enumerate() {
            let mut key = [NONE; MAX_NGRAM];
            let mut ok = true;
            for (slot, id) in key.iter_mut().zip(window) {
                match id {
                    Some(id) => *slot = *id,
                    None => {
                        ok = false;
                        break;
                    }
                }
            }
            if ok {
                f(start, key);
            }
        }
    }
}

impl Vectorizer {
    /// Learn the vocabulary and IDF from training texts.
    pub fn fit<S: AsRef<str>>(config: FeatureConfig, texts: &[S]) -> Result<Vectorizer, FeatureError> {
        config.validate()?;
        let mut dict: FastMap<String, u32> = FastMap::default();
        let mut names: Vec<String> = Vec::new();
        let mut df: FastMap<NgramKey, u32> = FastMap::default();
        let mut seen: FastSet<NgramKey> = FastSet::default();
        let mut ids: Vec<Option<u32>> = Vec::new();
        for text in texts {
            ids.clear();
            analyze_each(text.as_ref(), config.remove_stopwords, |t| {
                let id = match dict.get(t) {
                    Some(&id) => id,
                    None => {
                        let id = names.len() as u32;
                        names.push(t.to_string());
                        dict.insert(t.to_string(), id);
                        id
                    }
                };
                ids.push(Some(id));
            });
            seen.clear();
            for_each_ngram(&ids, config.ngram_min, config.ngram_max, |_, k| {
                seen.insert(k);
            });
            for k in seen.drain() {
                *df.entry(k).or_insert(0) += 1;
            }
        }
        let n_docs = texts.len() as f64;
        let max_df = (config.max_df as f64 * n_docs).floor().max(1.0) as u32;
        let mut kept: Vec<(NgramKey, u32)> = df
            .into_iter()
            .filter(|&(_, d)| d >= config.min_df && (config.max_df >= 1.0 || d <= max_df))
            .collect();
        let label = |k: &NgramKey| -> String {
            k.iter()
                .take_while(|&&t| t != NONE)
                .map(|&t| names[t as usize].as_str())
                .collect::<Vec<_>>()
                .join(" ")
        };
        if let Some(cap) = config.max_features {
            if kept.len() > cap {
                // most frequent first; ties broken by the n-gram text so training is deterministic
                kept.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| label(&a.0).cmp(&label(&b.0))));
                kept.truncate(cap);
            }
        }
        if kept.is_empty() {
            return Err(FeatureError::EmptyVocabulary);
        }
        kept.sort_by_cached_key(|(k, _)| label(k));
        // Re-number the terms that kept features use, in first-use order.
        let mut remap: FastMap<u32, u32> = FastMap::default();
        let mut new_terms: Vec<String> = Vec::new();
        let mut features = Vec::with_capacity(kept.len());
        let mut idf = Vec::with_capacity(kept.len());
        for (key, d) in kept {
            let mut new_key = [NONE; MAX_NGRAM];
            for (slot, &t) in new_key.iter_mut().zip(key.iter().take_while(|&&t| t != NONE)) {
                *slot = *remap.entry(t).or_insert_with(|| {
                    new_terms.push(names[t as usize].clone());
                    new_terms.len() as u32 - 1
                });
            }
            features.push(new_key);
            // smooth IDF, as scikit-learn: ln((1 + n) / (1 + df)) + 1
            idf.push((((1.0 + n_docs) / (1.0 + d as f64)).ln() + 1.0) as f32);
        }
        let config_removes_stopwords = config.remove_stopwords;
        Vectorizer::try_from(VectorizerData {
            config,
            terms: new_terms,
            features,
            idf,
            documents: texts.len() as u64,
            stopwords: if config_removes_stopwords {
                stopword_list(Language::Indonesian)
                    .into_iter()
                    .chain(stopword_list(Language::English))
                    .map(str::to_string)
                    .collect::<std::collections::BTreeSet<_>>()
                    .into_iter()
                    .collect()
            } else {
                Vec::new()
            },
        })
    }

    pub fn config(&self) -> &FeatureConfig {
        &self.config
    }

    /// Number of features (columns).
    pub fn len(&self) -> usize {
        self.features.len()
    }

    pub fn is_empty(&self) -> bool {
        self.features.is_empty()
    }

    /// Number of distinct terms the features are built from.
    pub fn vocabulary_size(&self) -> usize {
        self.terms.len()
    }

    /// Training documents the IDF was computed on.
    pub fn documents(&self) -> u64 {
        self.documents
    }

    /// The text of feature `id` ("perdagangan manusia").
    pub fn feature_name(&self, id: usize) -> Option<String> {
        let key = self.features.get(id)?;
        Some(
            key.iter()
                .take_while(|&&t| t != NONE)
                .filter_map(|&t| self.terms.get(t as usize).map(String::as_str))
                .collect::<Vec<_>>()
                .join(" "),
        )
    }

    /// IDF of a single (already normalised) term, if it is a unigram feature.
    pub fn term_idf(&self, term: &str) -> Option<f32> {
        let id = *self.term_index.get(term)?;
        let f = *self.unigram.get(id as usize)?;
        self.idf.get(f as usize).copied()
    }

    /// IDF a term never seen in training would get (df = 0).
    pub fn unseen_idf(&self) -> f32 {
        ((1.0 + self.documents as f64).ln() + 1.0) as f32
    }

    /// IDF weight of feature `id`.
    pub fn idf(&self, id: usize) -> Option<f32> {
        self.idf.get(id).copied()
    }

    /// Training documents that contained feature `id` (recovered from its IDF).
    pub fn document_frequency(&self, id: usize) -> Option<u64> {
        let idf = *self.idf.get(id)? as f64;
        Some(
            ((1.0 + self.documents as f64) / (idf - 1.0).exp() - 1.0)
                .round()
                .max(0.0) as u64,
        )
    }

    /// Counts of the features in one text, sorted by feature id; occurrences in the lead
    /// count `lead_weight` times.
    pub fn counts(&self, text: &str) -> Vec<(u32, f32)> {
        self.counts_with_lead_weight(text, self.config.lead_weight)
    }

    /// Counts with a chosen lead weight (1.0: plain occurrence counts).
    pub fn counts_with_lead_weight(&self, text: &str, weight: f32) -> Vec<(u32, f32)> {
        // one lookup per word: a term id, a stopword (skipped), or unknown (breaks n-grams)
        let mut ids: Vec<u32> = Vec::with_capacity(text.len() / 6);
        analyze_each(text, false, |t| match self.term_index.get(t) {
            Some(&STOP) => {}
            Some(&id) => ids.push(id),
            None => ids.push(NONE),
        });
        let mut hits: Vec<(u32, f32)> = Vec::with_capacity(ids.len() * 2);
        let (min, max, lead) = (self.config.ngram_min, self.config.ngram_max, self.config.lead_terms);
        for (i, &a) in ids.iter().enumerate() {
            if a == NONE {
                continue;
            }
            let w = if i < lead { weight } else { 1.0 };
            if min <= 1 {
                let f = self.unigram[a as usize];
                if f != NONE {
                    hits.push((f, w));
                }
            }
            if max >= 2 && min <= 2 {
                if let Some(&b) = ids.get(i + 1).filter(|&&b| b != NONE) {
                    if let Some(&f) = self.bigram.get(&pack(a, b)) {
                        hits.push((f, w));
                    }
                }
            }
            if max >= 3 {
                if let (Some(&b), Some(&c)) = (ids.get(i + 1), ids.get(i + 2)) {
                    if b != NONE && c != NONE {
                        if let Some(&f) = self.longer.get(&[a, b, c]) {
                            hits.push((f, w));
                        }
                    }
                }
            }
        }
        hits.sort_unstable_by_key(|h| h.0);
        let mut out: Vec<(u32, f32)> = Vec::new();
        for (f, w) in hits {
            match out.last_mut() {
                Some((g, n)) if *g == f => *n += w,
                _ => out.push((f, w)),
            }
        }
        out
    }

    /// TF-IDF vector of one text, L2-normalised (all zeros when no feature occurs).
    pub fn transform(&self, text: &str) -> SparseVec {
        let counts = self.counts(text);
        let mut out = SparseVec {
            indices: Vec::with_capacity(counts.len()),
            values: Vec::with_capacity(counts.len()),
        };
        for (f, tf) in counts {
            let tf = if self.config.sublinear_tf { 1.0 + tf.ln() } else { tf };
            out.indices.push(f);
            out.values.push(tf * self.idf[f as usize]);
        }
        let norm = out.values.iter().map(|v| v * v).sum::<f32>().sqrt();
        if norm > 0.0 {
            out.values.iter_mut().for_each(|v| *v /= norm);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn docs() -> Vec<&'static str> {
        vec![
            "Migran tiba di perbatasan selatan.",
            "Perdagangan manusia di perbatasan.",
            "Para migran dan pengungsi menunggu.",
        ]
    }

    #[test]
    fn analyze_lowercases_and_drops_stopwords_and_numbers() {
        let mut out = Vec::new();
        analyze("Para MIGRAN yang tiba 2024 di Perbatasan, O’Brien", true, &mut out);
        assert_eq!(out, ["migran", "tiba", "perbatasan", "o'brien"]);
        analyze("yang di", false, &mut out);
        assert_eq!(out, ["yang", "di"]);
    }

    fn all() -> FeatureConfig {
        FeatureConfig {
            min_df: 1,
            ..FeatureConfig::default()
        }
    }

    #[test]
    fn fit_builds_unigrams_and_bigrams_with_idf() {
        let v = Vectorizer::fit(all(), &docs()).unwrap();
        let names: Vec<String> = (0..v.len()).map(|i| v.feature_name(i).unwrap()).collect();
        assert!(names.contains(&"perdagangan manusia".to_string()));
        assert!(names.contains(&"migran".to_string()));
        assert!(
            !names.iter().any(|n| n.split(' ').any(|t| t == "di")),
            "stopwords are gone: {names:?}"
        );
        // "migran" is in 2 of 3 docs, "pengungsi" in 1: rarer terms weigh more
        assert!(v.term_idf("pengungsi").unwrap() > v.term_idf("migran").unwrap());
        assert_eq!(v.term_idf("tidakada"), None);
        let migran = (0..v.len()).find(|&i| v.feature_name(i).unwrap() == "migran").unwrap();
        assert_eq!(v.document_frequency(migran), Some(2));
    }

    #[test]
    fn transform_is_l2_normalised_and_ignores_unknown_terms() {
        let v = Vectorizer::fit(all(), &docs()).unwrap();
        let x = v.transform("migran migran perbatasan xyzzy");
        let norm: f32 = x.values.iter().map(|a| a * a).sum();
        assert!((norm - 1.0).abs() < 1e-5);
        assert!(x.indices.windows(2).all(|w| w[0] < w[1]));
        assert!(v.transform("xyzzy").indices.is_empty());
        assert!(v.transform("").values.is_empty());
    }

    #[test]
    fn min_df_and_max_features_prune() {
        let cfg = FeatureConfig {
            min_df: 2,
            ..FeatureConfig::default()
        };
        let v = Vectorizer::fit(cfg, &docs()).unwrap();
        let names: Vec<String> = (0..v.len()).map(|i| v.feature_name(i).unwrap()).collect();
        assert_eq!(names, ["migran", "perbatasan"]);
        let cfg = FeatureConfig {
            max_features: Some(1),
            ..all()
        };
        assert_eq!(Vectorizer::fit(cfg, &docs()).unwrap().len(), 1);
        let cfg = FeatureConfig {
            min_df: 9,
            ..FeatureConfig::default()
        };
        assert_eq!(
            Vectorizer::fit(cfg, &docs()).unwrap_err(),
            FeatureError::EmptyVocabulary
        );
    }

    #[test]
    fn bad_config_is_rejected() {
        for cfg in [
            FeatureConfig {
                ngram_max: 4,
                ..FeatureConfig::default()
            },
            FeatureConfig {
                ngram_min: 0,
                ..FeatureConfig::default()
            },
            FeatureConfig {
                max_df: f32::NAN,
                ..FeatureConfig::default()
            },
        ] {
            assert!(matches!(Vectorizer::fit(cfg, &docs()), Err(FeatureError::Config(_))));
        }
    }

    #[test]
    fn serde_round_trip_rebuilds_index() {
        let v = Vectorizer::fit(all(), &docs()).unwrap();
        let bytes = postcard::to_allocvec(&v).unwrap();
        let back: Vectorizer = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(
            back.transform("migran di perbatasan"),
            v.transform("migran di perbatasan")
        );
    }
}
