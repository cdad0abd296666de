//! Named-entity tagging: tokens → hashed features ([`features`]) → an averaged structured
//! perceptron with Viterbi constrained to valid BIO/BIOES transitions ([`perceptron`], a linfa
//! algorithm) → tags.
//!
//! Any BIO or BIOES tag set trains (`warta train-ner`; BIO is learnt as BIOES and answered in
//! BIO); [`spans`] reads tags as typed spans for Extract, with corpus kinds mapped onto
//! PERSON / LOCATION / ORGANIZATION ([`canonical_kind`]).

pub mod features;
pub mod perceptron;
mod persist;

use crate::text::fasthash::FastMap;
use features::{EntityDict, Featurizer};
use linfa::prelude::*;
use perceptron::{chain_endings, chain_transitions, ChainModel, PerceptronParams, SequenceRecords};
use serde::{Deserialize, Serialize};

pub use persist::{checksum, TaggerFileError, TAGGER_FORMAT_VERSION};

/// The default entity model, trained from NERGrit (see `data/README.md` for the command and
/// the licence) and compiled in.
const DEFAULT_TAGGER: &[u8] = include_bytes!("../../data/models/entities.ner");

/// The compiled-in default tagger, decoded once.
pub fn default_tagger() -> Result<std::sync::Arc<Tagger>, String> {
    static TAGGER: std::sync::OnceLock<Result<std::sync::Arc<Tagger>, String>> = std::sync::OnceLock::new();
    TAGGER
        .get_or_init(|| {
            Tagger::from_bytes(DEFAULT_TAGGER, std::path::Path::new("data/models/entities.ner"))
                .map(std::sync::Arc::new)
                .map_err(|e| e.to_string())
        })
        .clone()
}

#[derive(Debug, thiserror::Error)]
pub enum NerError {
    #[error("invalid tagger setting: {0}")]
    Params(String),
    #[error("bad training data: {0}")]
    Data(String),
    #[error(transparent)]
    Linfa(#[from] linfa::Error),
}

/// One tagged sentence (`warta train-ner` rows: `{"id","tokens","tags"}`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct TaggedSentence {
    #[serde(default)]
    pub id: String,
    pub tokens: Vec<String>,
    pub tags: Vec<String>,
}

/// Training settings.
#[derive(Debug, Clone, PartialEq)]
pub struct NerConfig {
    /// Feature buckets: 2^hash_bits.
    pub hash_bits: u8,
    pub epochs: usize,
    /// Perceptrons trained on different shuffles of the data, their weights summed.
    pub runs: usize,
    /// Seed of the first run's shuffles (run k uses seed + k).
    pub seed: u64,
}

impl Default for NerConfig {
    fn default() -> Self {
        NerConfig {
            hash_bits: 20,
            // with 4 runs, 10–20 epochs score alike on NERGrit and NERP dev; 15 is the middle
            epochs: 15,
            // 4 runs: NERGrit dev +0.004 F1 over one run (mean of 3 seeds)
            runs: 4,
            seed: 7,
        }
    }
}

/// Where a model came from, for `GetModelInfo` and logs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaggerMeta {
    pub trained_at_unix: u64,
    pub sentences: u64,
    pub source: String,
}

/// A trained tagger: tag names, feature hashing width and the chain model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tagger {
    /// [`features::FEATURE_SET`] at training time: a model only makes sense with the features
    /// it was trained on.
    feature_set: u16,
    /// The chain's tags. BIO training data is learnt as BIOES (a span's last token and
    /// one-token spans get tags of their own, so the chain sees where names end); `tag`
    /// answers in the training data's scheme.
    tags: Vec<String>,
    /// True when `tags` are BIOES made from BIO training data.
    bioes_from_bio: bool,
    /// The tag `tag` answers for each chain tag.
    #[serde(skip)]
    answers: Vec<String>,
    hash_bits: u8,
    model: ChainModel,
    /// Names seen as entities in training (hashed).
    dict: EntityDict,
    pub meta: TaggerMeta,
}

/// Folds of the jackknifed entity dictionary.
const DICT_FOLDS: usize = 5;

impl Tagger {
    /// Train on tagged sentences.
    pub fn train(sentences: &[TaggedSentence], config: &NerConfig) -> Result<Tagger, NerError> {
        if !(12..=24).contains(&config.hash_bits) {
            return Err(NerError::Params(format!(
                "hash_bits must be in 12..=24, got {}",
                config.hash_bits
            )));
        }
        let bioes_from_bio = !sentences
            .iter()
            .flat_map(|s| &s.tags)
            .any(|t| t.starts_with("E-") || t.starts_with("S-"));
        let chain_tags: Vec<Vec<String>> = sentences
            .iter()
            .map(|s| {
                if bioes_from_bio {
                    to_bioes(&s.tags)
                } else {
                    s.tags.clone()
                }
            })
            .collect();
        let mut tags: Vec<String> = chain_tags.iter().flatten().cloned().collect();
        tags.sort();
        tags.dedup();
        if (1usize << config.hash_bits).saturating_mul(tags.len()) > perceptron::MAX_EMISSION {
            return Err(NerError::Params(format!(
                "2^{} buckets × {} tags is more weights than a model may hold ({}); use fewer hash bits",
                config.hash_bits,
                tags.len(),
                perceptron::MAX_EMISSION
            )));
        }
        let index: FastMap<&str, usize> = tags.iter().enumerate().map(|(i, t)| (t.as_str(), i)).collect();
        let featurizer = Featurizer::new(config.hash_bits);
        let mut records = SequenceRecords {
            sentences: Vec::with_capacity(sentences.len()),
            buckets: 1 << config.hash_bits,
        };
        let mut targets = Vec::with_capacity(sentences.len());
        for (n, s) in sentences.iter().enumerate() {
            if s.tokens.len() != s.tags.len() {
                return Err(NerError::Data(format!(
                    "sentence {} ({}): {} tokens but {} tags",
                    n + 1,
                    s.id,
                    s.tokens.len(),
                    s.tags.len()
                )));
            }
        }
        // each fold's sentences see a dictionary built from the other folds: the weight the
        // tagger learns for "a known name" is what it is worth on names it has not seen
        let fold_dicts: Vec<EntityDict> = (0..DICT_FOLDS)
            .map(|f| {
                EntityDict::build(
                    sentences
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| i % DICT_FOLDS != f)
                        .map(|(_, s)| (s.tokens.as_slice(), s.tags.as_slice())),
                )
            })
            .collect();
        for (n, (s, chain)) in sentences.iter().zip(&chain_tags).enumerate() {
            let tokens: Vec<&str> = s.tokens.iter().map(String::as_str).collect();
            records
                .sentences
                .push(featurizer.sentence(&tokens, Some(&fold_dicts[n % DICT_FOLDS])));
            targets.push(chain.iter().map(|t| index[t.as_str()]).collect::<Vec<usize>>());
        }
        let dataset = DatasetBase::new(records, targets);
        // one perceptron per shuffle of the sentences, weights summed: a model that depends
        // less on the order it saw the data in (NERGrit dev F1 varies ±0.006 with the order)
        let model = PerceptronParams::default()
            .epochs(config.epochs)
            .runs(config.runs)
            .seed(config.seed)
            .check()?
            .fit_with(&dataset, chain_transitions(&tags), chain_endings(&tags))?;
        let dict = EntityDict::build(sentences.iter().map(|s| (s.tokens.as_slice(), s.tags.as_slice())));
        let answers = answer_tags(&tags, bioes_from_bio);
        Ok(Tagger {
            feature_set: features::FEATURE_SET,
            tags,
            bioes_from_bio,
            answers,
            hash_bits: config.hash_bits,
            model,
            dict,
            meta: TaggerMeta {
                trained_at_unix: std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs()),
                sentences: sentences.len() as u64,
                source: String::new(),
            },
        })
    }

    /// Rebuild lookup indexes after decoding, and check the model (file loading calls this).
    pub(crate) fn reindex(&mut self) -> Result<(), String> {
        self.answers = answer_tags(&self.tags, self.bioes_from_bio);
        if !self.dict.reindex() {
            return Err("the entity dictionary refers to unknown kinds".into());
        }
        self.validate()
    }

    /// Check a model.
    pub fn validate(&self) -> Result<(), String> {
        if self.feature_set != features::FEATURE_SET {
            return Err(format!(
                "trained with feature set {}, this build computes feature set {}: retrain it with `warta train-ner`",
                self.feature_set,
                features::FEATURE_SET
            ));
        }
        if !(12..=24).contains(&self.hash_bits) {
            return Err(format!("hash_bits {} out of range", self.hash_bits));
        }
        if self.tags.len() != self.model.tags {
            return Err("tag names do not match the weights".into());
        }
        self.model.validate(1 << self.hash_bits)?;
        if self.model.allowed != chain_transitions(&self.tags) || self.model.can_end != chain_endings(&self.tags) {
            return Err("transition constraints do not match the tag names".into());
        }
        Ok(())
    }

    /// The tags `tag` answers with (the training data's scheme).
    pub fn tags(&self) -> Vec<&str> {
        let mut t: Vec<&str> = self.answers.iter().map(String::as_str).collect();
        t.sort_unstable();
        t.dedup();
        t
    }

    /// The tag of every token.
    pub fn tag<S: AsRef<str>>(&self, tokens: &[S]) -> Vec<&str> {
        let tokens: Vec<&str> = tokens.iter().map(AsRef::as_ref).collect();
        let feats = Featurizer::new(self.hash_bits).sentence(&tokens, Some(&self.dict));
        self.model
            .decode(&feats)
            .into_iter()
            .map(|k| self.answers.get(k).map_or("O", String::as_str))
            .collect()
    }
}

/// BIO → BIOES: a one-token span's tag becomes "S-X", a longer span's last "E-X".
fn to_bioes(tags: &[String]) -> Vec<String> {
    let mut out = tags.to_vec();
    for (a, b, kind) in spans(tags) {
        if b - a == 1 {
            out[a] = format!("S-{kind}");
        } else {
            out[a] = format!("B-{kind}");
            for t in &mut out[a + 1..b - 1] {
                *t = format!("I-{kind}");
            }
            out[b - 1] = format!("E-{kind}");
        }
    }
    out
}

/// The tag answered for each chain tag: BIOES learnt from BIO answers in BIO ("S-X" → "B-X",
/// "E-X" → "I-X"); otherwise the chain's own tags.
fn answer_tags(tags: &[String], bioes_from_bio: bool) -> Vec<String> {
    tags.iter()
        .map(|t| match (bioes_from_bio, t.split_once('-')) {
            (true, Some(("S", kind))) => format!("B-{kind}"),
            (true, Some(("E", kind))) => format!("I-{kind}"),
            _ => t.clone(),
        })
        .collect()
}

/// Entity spans `(start, end, kind)` over token indices (end exclusive) in a BIO sequence,
/// read as the CoNLL scorer reads it: a span starts at B-X, or at an I-X that does not
/// continue X.
pub fn spans<S: AsRef<str>>(tags: &[S]) -> Vec<(usize, usize, String)> {
    let mut out = Vec::new();
    let mut open: Option<(usize, &str)> = None;
    for (i, t) in tags.iter().map(AsRef::as_ref).chain(std::iter::once("O")).enumerate() {
        let (begins, kind) = match (t.strip_prefix("B-"), t.strip_prefix("I-")) {
            (Some(k), _) => (true, Some(k)),
            (None, Some(k)) => (open.map(|(_, o)| o) != Some(k), Some(k)),
            _ => (true, None),
        };
        if begins {
            if let Some((s, k)) = open.take() {
                out.push((s, i, k.to_string()));
            }
            open = kind.map(|k| (i, k));
        }
    }
    out
}

/// Exact-span entity scores, as `../shared/bench/ner_peer.py --score` computes them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NerScores {
    pub micro_f1: f64,
    pub macro_f1: f64,
    pub per_type: std::collections::BTreeMap<String, f64>,
}

/// Score predicted tag rows against gold rows (micro-F1 over all spans, macro over types).
pub fn score<'a, G, P, S, T>(gold: G, pred: P) -> NerScores
where
    G: IntoIterator<Item = &'a [S]>,
    P: IntoIterator<Item = &'a [T]>,
    S: AsRef<str> + 'a,
    T: AsRef<str> + 'a,
{
    let f = |tp: u64, fp: u64, fn_: u64| {
        if tp == 0 {
            0.0
        } else {
            2.0 * tp as f64 / (2 * tp + fp + fn_) as f64
        }
    };
    let mut per: std::collections::BTreeMap<String, [u64; 3]> = Default::default();
    let (mut tp, mut fp, mut fn_) = (0, 0, 0);
    for (g, p) in gold.into_iter().zip(pred) {
        let gs: std::collections::HashSet<_> = spans(g).into_iter().collect();
        let ps: std::collections::HashSet<_> = spans(p).into_iter().collect();
        for s in &ps {
            let d = per.entry(s.2.clone()).or_default();
            if gs.contains(s) {
                tp += 1;
                d[0] += 1;
            } else {
                fp += 1;
                d[1] += 1;
            }
        }
        for s in gs.difference(&ps) {
            fn_ += 1;
            per.entry(s.2.clone()).or_default()[2] += 1;
        }
    }
    let per_type: std::collections::BTreeMap<String, f64> =
        per.iter().map(|(k, v)| (k.clone(), f(v[0], v[1], v[2]))).collect();
    NerScores {
        micro_f1: f(tp, fp, fn_),
        macro_f1: per_type.values().sum::<f64>() / per_type.len().max(1) as f64,
        per_type,
    }
}

/// A BIO tag with its kind made canonical ("B-PLC" → "B-LOCATION"); "O" and other tags as they are.
pub fn canonical_tag(tag: &str) -> String {
    match tag.split_once('-') {
        Some((p @ ("B" | "I"), kind)) => format!("{p}-{}", canonical_kind(kind)),
        _ => tag.to_string(),
    }
}

/// Corpus kinds onto warta's: PER/PPL/PERSON → PERSON, PLACE/PLC/LOC/GPE → LOCATION,
/// ORG/ORGANISATION/IND (NERP's institutions) → ORGANIZATION; others keep their name.
pub fn canonical_kind(kind: &str) -> String {
    match kind.to_ascii_uppercase().as_str() {
        "PER" | "PERSON" | "PPL" => "PERSON".into(),
        "PLACE" | "PLC" | "LOC" | "LOCATION" | "GPE" => "LOCATION".into(),
        "ORG" | "ORGANISATION" | "ORGANIZATION" | "IND" => "ORGANIZATION".into(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sent(words: &str, tags: &str) -> TaggedSentence {
        TaggedSentence {
            id: String::new(),
            tokens: words.split(' ').map(String::from).collect(),
            tags: tags.split(' ').map(String::from).collect(),
        }
    }

    fn toy() -> Vec<TaggedSentence> {
        let mut v = Vec::new();
        for _ in 0..3 {
            v.push(sent("Joko Widodo tiba di Jakarta .", "B-PER I-PER O O B-LOC O"));
            v.push(sent("Presiden Kamala Harris ke Meksiko .", "O B-PER I-PER O B-LOC O"));
            v.push(sent("Pejabat Pentagon bertemu di Bogota .", "O B-ORG O O B-LOC O"));
            v.push(sent(
                "Menteri Antony Blinken bertemu Pentagon .",
                "O B-PER I-PER O B-ORG O",
            ));
        }
        v
    }

    #[test]
    fn learns_a_toy_corpus_and_keeps_bio_valid() {
        let config = NerConfig {
            hash_bits: 14,
            epochs: 8,
            ..NerConfig::default()
        };
        let tagger = Tagger::train(&toy(), &config).unwrap();
        tagger.validate().unwrap();
        assert_eq!(
            tagger.tag(&["Joko", "Widodo", "tiba", "di", "Jakarta", "."]),
            ["B-PER", "I-PER", "O", "O", "B-LOC", "O"]
        );
        for words in [vec!["Harris", "Harris"], vec!["."], vec![]] {
            let tags = tagger.tag(&words);
            assert_eq!(tags.len(), words.len());
            for (i, t) in tags.iter().enumerate() {
                if let Some(k) = t.strip_prefix("I-") {
                    assert!(i > 0 && tags[i - 1].ends_with(k), "{tags:?}");
                }
            }
        }
    }

    #[test]
    fn bio_training_data_is_learnt_as_bioes_and_answered_in_bio() {
        let bio: Vec<String> = "B-PER I-PER I-PER O B-LOC I-ORG O"
            .split(' ')
            .map(str::to_string)
            .collect();
        assert_eq!(to_bioes(&bio), ["B-PER", "I-PER", "E-PER", "O", "S-LOC", "S-ORG", "O"]);
        let tagger = Tagger::train(&toy(), &NerConfig::default()).unwrap();
        assert!(tagger.bioes_from_bio);
        assert_eq!(tagger.tags(), ["B-LOC", "B-ORG", "B-PER", "I-PER", "O"]);
        // data already in BIOES trains and answers in BIOES
        let bioes: Vec<TaggedSentence> = toy()
            .into_iter()
            .map(|mut s| {
                s.tags = to_bioes(&s.tags);
                s
            })
            .collect();
        let tagger = Tagger::train(&bioes, &NerConfig::default()).unwrap();
        assert!(!tagger.bioes_from_bio);
        assert_eq!(
            tagger.tag(&["Joko", "Widodo", "tiba", "di", "Jakarta", "."]),
            ["B-PER", "E-PER", "O", "O", "S-LOC", "O"]
        );
    }

    #[test]
    fn bad_rows_and_settings_are_errors() {
        let mut rows = toy();
        rows[1].tags.pop();
        assert!(matches!(
            Tagger::train(&rows, &NerConfig::default()),
            Err(NerError::Data(_))
        ));
        let bad = NerConfig {
            hash_bits: 40,
            ..NerConfig::default()
        };
        assert!(matches!(Tagger::train(&toy(), &bad), Err(NerError::Params(_))));
        let no_runs = NerConfig {
            runs: 0,
            ..NerConfig::default()
        };
        assert!(matches!(Tagger::train(&toy(), &no_runs), Err(NerError::Params(_))));
        let one = vec![sent("a b", "O O")];
        assert!(matches!(
            Tagger::train(&one, &NerConfig::default()),
            Err(NerError::Data(_))
        ));
    }

    #[test]
    fn the_default_tagger_loads_and_finds_people_and_places() {
        let t = default_tagger().expect("default tagger");
        let tokens = [
            "Menteri", "Luar", "Negeri", "Antony", "Blinken", "tiba", "di", "Meksiko", ".",
        ];
        let tags = t.tag(&tokens);
        let found = spans(&tags);
        assert!(found.contains(&(3, 5, "PERSON".to_string())), "{tags:?}");
        assert!(found.iter().any(|s| s.0 == 7 && s.2 == "LOCATION"), "{tags:?}");
    }

    #[test]
    fn spans_read_bio_like_conll() {
        let tags = ["B-PER", "I-PER", "O", "I-LOC", "I-LOC", "B-ORG", "I-PER"];
        assert_eq!(
            spans(&tags),
            [
                (0, 2, "PER".to_string()),
                (3, 5, "LOC".to_string()),
                (5, 6, "ORG".to_string()),
                (6, 7, "PER".to_string())
            ]
        );
        assert_eq!(canonical_kind("PLC"), "LOCATION");
        assert_eq!(canonical_kind("ORGANISATION"), "ORGANIZATION");
        assert_eq!(canonical_kind("EVT"), "EVT");
        assert_eq!(canonical_tag("I-PPL"), "I-PERSON");
        assert_eq!(canonical_tag("O"), "O");
    }
}
