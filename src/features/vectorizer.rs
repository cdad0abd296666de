//! Word n-grams and character n-grams with IDF weights, learnt once and frozen: either a
//! vocabulary (named features, explainable) or, for huge vocabularies, hashed buckets.

use super::half::HalfWeights;
use super::sparse::SparseVec;
use super::table::{prefetch, IdTable, TermTable};
use crate::text::fasthash::{FastMap, FastSet};
use crate::text::{is_stopword, stem, stopword_list, words, Language};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use unicode_normalization::{is_nfc_quick, IsNormalized, UnicodeNormalization};

/// Longest n-gram the vectorizer supports.
pub const MAX_NGRAM: usize = 3;
const NONE: u32 = u32::MAX;
type NgramKey = [u32; MAX_NGRAM];
/// Longest character n-gram.
pub const MAX_CHAR_NGRAM: usize = 8;
pub const MIN_HASH_BITS: u8 = 10;
pub const MAX_HASH_BITS: u8 = 24;

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
    /// Character n-grams of every term inside its word boundary (" migran " gives " mi", "mig",
    /// …, "an "), lengths `char_ngram_min..=char_ngram_max`; 0 turns them off. They share
    /// evidence between inflected forms and survive spelling variants. Words and characters
    /// are two blocks, each L2-normalised to 1/√2.
    pub char_ngram_min: usize,
    pub char_ngram_max: usize,
    /// Hash features into 2^hash_bits buckets per block instead of learning a vocabulary:
    /// bounded memory whatever the corpus size, at the price of feature names. 0: vocabulary.
    pub hash_bits: u8,
    /// Reduce words to their Indonesian stem (light affix stripping) before word n-grams.
    pub stem: bool,
}

impl Default for FeatureConfig {
    fn default() -> Self {
        FeatureConfig {
            ngram_min: 1,
            ngram_max: 2,
            // every training word counts: on small corpora a word seen once still carries
            // topic evidence (SIB-200: +5 points over min_df 2 by CV)
            min_df: 1,
            max_df: 1.0,
            max_features: None,
            sublinear_tf: true,
            remove_stopwords: true,
            lead_terms: 40,
            lead_weight: 3.0,
            // 4-grams alone score as well as 3-5 by CV on every corpus (better on AG News)
            // with a third of the features: faster to serve
            char_ngram_min: 4,
            char_ngram_max: 4,
            hash_bits: 0,
            stem: false,
        }
    }
}

impl FeatureConfig {
    pub fn char_ngrams(&self) -> bool {
        self.char_ngram_max > 0
    }

    /// The same settings without character n-grams.
    pub fn without_char_ngrams(&self) -> FeatureConfig {
        FeatureConfig {
            char_ngram_min: 0,
            char_ngram_max: 0,
            ..self.clone()
        }
    }

    /// The character n-gram lengths as people write them: "4-4", or "none".
    pub fn char_range(&self) -> String {
        if self.char_ngrams() {
            format!("{}-{}", self.char_ngram_min, self.char_ngram_max)
        } else {
            "none".into()
        }
    }

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
        let chars = (self.char_ngram_min, self.char_ngram_max);
        if chars != (0, 0) && !(2 <= chars.0 && chars.0 <= chars.1 && chars.1 <= MAX_CHAR_NGRAM) {
            return Err(FeatureError::Config(format!(
                "character n-gram range {}..={} must lie within 2..={MAX_CHAR_NGRAM} (0..=0: none)",
                chars.0, chars.1
            )));
        }
        if self.hash_bits != 0 && !(MIN_HASH_BITS..=MAX_HASH_BITS).contains(&self.hash_bits) {
            return Err(FeatureError::Config(format!(
                "hash_bits {} must be 0 (vocabulary) or in {MIN_HASH_BITS}..={MAX_HASH_BITS}",
                self.hash_bits
            )));
        }
        if self.hash_bits != 0 && self.max_features.is_some() {
            return Err(FeatureError::Config(
                "max_features caps a vocabulary; hashed features are capped by hash_bits".into(),
            ));
        }
        if self.max_features == Some(0) {
            return Err(FeatureError::Config("max_features must be at least 1".into()));
        }
        Ok(())
    }
}

/// Visit the normalised terms of a text: lowercased NFC words that contain a letter, minus
/// stopwords when asked. This is the single definition of a "term" for features and keywords.
/// One buffer per thread is reused for every term of every text, so the hot path allocates
/// nothing per word, nor per text.
pub fn analyze_each(text: &str, remove_stopwords: bool, f: impl FnMut(&str)) {
    thread_local! {
        static BUF: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
    }
    /// A buffer grown past this by a freak word is not kept.
    const KEEP: usize = 1 << 10;
    BUF.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => {
            analyze_into(text, remove_stopwords, &mut buf, f);
            if buf.capacity() > KEEP {
                *buf = String::new();
            }
        }
        // `f` analyses another text
        Err(_) => analyze_into(text, remove_stopwords, &mut String::new(), f),
    })
}

/// [`analyze_each`] with its lowercasing buffer.
fn analyze_into(text: &str, remove_stopwords: bool, buf: &mut String, mut f: impl FnMut(&str)) {
    for w in words(text) {
        let term: &str = if w.text.is_ascii() {
            if !w.text.bytes().any(|b| b.is_ascii_alphabetic()) {
                continue;
            }
            if w.text.bytes().any(|b| b.is_ascii_uppercase()) {
                buf.clear();
                buf.push_str(w.text);
                buf.make_ascii_lowercase();
                buf
            } else {
                // most running words are already lower case: no copy
                w.text
            }
        } else {
            if !w.has_letter() {
                continue;
            }
            buf.clear();
            for c in w.text.chars() {
                if c == '’' {
                    buf.push('\'');
                } else {
                    buf.extend(c.to_lowercase());
                }
            }
            if is_nfc_quick(buf.chars()) != IsNormalized::Yes {
                let nfc: String = buf.nfc().collect();
                *buf = nfc;
            }
            buf
        };
        if remove_stopwords && is_stopword(term) {
            continue;
        }
        f(term);
    }
}

/// The normalised terms of a text, collected (see [`analyze_each`]).
pub fn analyze(text: &str, remove_stopwords: bool, out: &mut Vec<String>) {
    out.clear();
    analyze_each(text, remove_stopwords, |t| out.push(t.to_string()));
}

/// 64-bit FNV-1a, extended piece by piece so a character n-gram's hash grows with it.
const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

fn fnv_extend(mut h: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        h = (h ^ b as u64).wrapping_mul(FNV_PRIME);
    }
    h
}

/// The SplitMix64 finaliser: every input bit reaches the low bits that pick a bucket.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Hash of a string (a term, or a character n-gram with its boundary spaces).
fn str_hash(s: &str) -> u64 {
    mix(fnv_extend(FNV_OFFSET, s.as_bytes()))
}

/// Hash of a word n-gram from its terms' hashes (order matters).
fn ngram_hash(terms: &[u64]) -> u64 {
    terms.iter().skip(1).fold(terms[0], |h, &t| mix(h.rotate_left(23) ^ t))
}

/// Reusable buffers for the character n-grams of one term.
#[derive(Default)]
struct CharBuf {
    padded: Vec<u8>,
    bounds: Vec<usize>,
}

impl CharBuf {
    /// The term inside its word boundary: a space each side.
    fn pad(&mut self, term: &str) -> &[u8] {
        self.padded.clear();
        self.padded.push(b' ');
        self.padded.extend_from_slice(term.as_bytes());
        self.padded.push(b' ');
        &self.padded
    }

    /// [`Self::pad`] followed by 8 zero bytes (not part of the term), so any 8 bytes from a
    /// position inside it can be read as one word; and the padded length.
    fn pad_for_words(&mut self, term: &str) -> (&[u8], usize) {
        let chars = self.pad(term).len();
        self.padded.extend_from_slice(&[0; 8]);
        (&self.padded, chars)
    }
}

/// Visit the character n-grams of `term` inside its word boundary: the term padded with a
/// space each side, every run of `min..=max` characters (the whole padded term when it is
/// shorter than `min`), as (hash, bytes).
fn for_each_char_gram(term: &str, min: usize, max: usize, buf: &mut CharBuf, mut f: impl FnMut(u64, &[u8])) {
    if !term.is_ascii() {
        return char_grams_by_char(term, min, max, buf, f);
    }
    // one byte per character: the same n-grams and hashes as by character, without the
    // bounds table (out-of-vocabulary words take this path on every prediction)
    let padded = buf.pad(term);
    let chars = padded.len();
    if chars < min {
        f(mix(fnv_extend(FNV_OFFSET, padded)), padded);
        return;
    }
    for i in 0..chars {
        let mut h = FNV_OFFSET;
        for (n, &b) in padded[i..chars.min(i + max)].iter().enumerate() {
            h = (h ^ b as u64).wrapping_mul(FNV_PRIME);
            if n + 1 >= min {
                f(mix(h), &padded[i..i + n + 1]);
            }
        }
    }
}

/// The key of a character n-gram in a vocabulary: up to 7 bytes packed with their length
/// (exact, no hashing), longer ones hashed into a range packed keys never reach.
fn gram_key(g: &[u8]) -> u64 {
    if g.len() <= 7 {
        let mut k = (g.len() as u64) << 56;
        for (i, &b) in g.iter().enumerate() {
            k |= (b as u64) << (8 * i);
        }
        k
    } else {
        mix(fnv_extend(FNV_OFFSET, g)) | (0xf8 << 56)
    }
}

/// Whether a [`gram_key`] holds its n-gram's bytes (7 or fewer) rather than a hash of them.
fn is_packed(key: u64) -> bool {
    key >> 56 <= 7
}

/// The bytes a packed [`gram_key`] holds (the first `n` of the array); `None` for a hash.
fn unpacked(key: u64) -> Option<([u8; 8], usize)> {
    is_packed(key).then(|| (key.to_le_bytes(), (key >> 56) as usize))
}

/// [`for_each_char_gram`] for a vocabulary: each n-gram's [`gram_key`] and bytes. ASCII
/// n-grams of up to 7 bytes are masked out of one 8-byte read per start position.
fn for_each_char_key(term: &str, min: usize, max: usize, buf: &mut CharBuf, mut f: impl FnMut(u64, &[u8])) {
    if !term.is_ascii() || max > 7 {
        return for_each_char_gram(term, min, max, buf, |_, g| f(gram_key(g), g));
    }
    let (padded, chars) = buf.pad_for_words(term);
    if chars < min {
        let whole = &padded[..chars];
        f(gram_key(whole), whole);
        return;
    }
    // the 8 bytes from each start, read as one little-endian word: an n-gram's key is its
    // low n bytes and its length
    for i in 0..=chars - min {
        let Some(Ok(eight)) = padded.get(i..i + 8).map(<[u8; 8]>::try_from) else {
            return;
        };
        let word = u64::from_le_bytes(eight);
        for n in min..=max.min(chars - i) {
            f((word & ((1u64 << (8 * n)) - 1)) | ((n as u64) << 56), &padded[i..i + n]);
        }
    }
}

/// [`for_each_char_gram`] for any text, character by character.
fn char_grams_by_char(term: &str, min: usize, max: usize, buf: &mut CharBuf, mut f: impl FnMut(u64, &[u8])) {
    buf.pad(term);
    buf.bounds.clear();
    buf.bounds.push(0);
    buf.bounds.extend(term.char_indices().map(|(i, _)| i + 1));
    buf.bounds.push(term.len() + 1);
    buf.bounds.push(term.len() + 2);
    let chars = buf.bounds.len() - 1;
    let (padded, bounds) = (&buf.padded, &buf.bounds);
    if chars < min {
        f(mix(fnv_extend(FNV_OFFSET, padded)), padded);
        return;
    }
    for i in 0..chars {
        let mut h = FNV_OFFSET;
        for n in 1..=max.min(chars - i) {
            h = fnv_extend(h, &padded[bounds[i + n - 1]..bounds[i + n]]);
            if n >= min {
                f(mix(h), &padded[bounds[i]..bounds[i + n]]);
            }
        }
    }
}

/// How a character n-gram is shown: boundary spaces as "_" ("_mig").
fn char_gram_name(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).replace(' ', "_")
}

/// Serialised form: the index maps are rebuilt (and checked) on load.
#[derive(Deserialize)]
struct VectorizerData {
    config: FeatureConfig,
    terms: Vec<String>,
    features: Vec<NgramKey>,
    char_grams: Vec<String>,
    #[serde(with = "crate::framing::f32s")]
    idf: Vec<f32>,
    documents: u64,
    /// The stopwords removed at training time: a later build's lists cannot skew serving.
    stopwords: Vec<String>,
}

/// Fitted features and IDF.
///
/// Feature ids: the word block first (vocabulary n-grams, or 2^hash_bits buckets), then the
/// character block.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "VectorizerData")]
pub struct Vectorizer {
    config: FeatureConfig,
    /// Term id → term (a stem when stemming). Empty when hashing.
    terms: Vec<String>,
    /// Word feature id → term ids of the n-gram, padded with `NONE`. Empty when hashing.
    features: Vec<NgramKey>,
    /// Character feature id − `word_features` → the n-gram. Empty when hashing.
    char_grams: Vec<String>,
    idf: Vec<f32>,
    /// Training documents the IDF was computed on.
    documents: u64,
    stopwords: Vec<String>,
    /// Size of the word block.
    word_features: usize,
    /// Term → the start of its card in `cards`; stopwords map to `STOP`, so one lookup per
    /// word classifies it.
    term_index: TermTable,
    /// Per term, one run of `u32`s: its id, its unigram feature (or `NONE`), the number of its
    /// character n-gram features and those features (when cached, see
    /// [`Self::cached_chars`]). Everything a known word contributes sits behind one lookup
    /// and one cache line or two: no chain of dependent loads per word.
    cards: Vec<u32>,
    /// Character n-gram features are cached per term (vocabulary mode, unstemmed: the term is
    /// the surface form the n-grams come from).
    cached_chars: bool,
    /// Two term ids packed in a u64 → bigram feature.
    bigram: IdTable,
    /// Longer n-grams → feature.
    longer: FastMap<NgramKey, u32>,
    /// Hash of a character n-gram → feature.
    char_index: IdTable,
    /// 1 + ln(lead_weight): the sublinear weight of a term seen once in the lead.
    lead_tf: f32,
    /// `1 + ln(n)` for whole counts `n` below [`SMALL_COUNTS`]: repeated words in long articles
    /// would otherwise call `ln` for every repeated feature.
    sublinear: [f32; SMALL_COUNTS],
}

/// Whole term counts whose sublinear weight is tabulated.
const SMALL_COUNTS: usize = 64;

/// (feature, count) pairs sorted by feature.
type Counts = Vec<(u32, f32)>;

/// A term's card in `Vectorizer::cards` starts with its id, its unigram feature and the
/// number of its character n-gram features.
const CARD_HEAD: usize = 3;

/// Marks a stopword in `term_index`.
const STOP: u32 = u32::MAX - 1;
/// A word position that forms no n-gram: unknown to the vocabulary, or a stopword stem.
const GAP: u64 = u64::MAX;

/// A word position of a vocabulary term: its unigram feature (or `NONE`) above its term id.
/// Never `GAP`: term ids stay below `STOP`.
fn vocabulary_token(id: u32, unigram: u32) -> u64 {
    (u64::from(unigram) << 32) | u64::from(id)
}

fn pack(a: u32, b: u32) -> u64 {
    ((a as u64) << 32) | b as u64
}

/// [`VectorizerData`] borrowed from a vectorizer, field for field: the same bytes, without
/// cloning the vectorizer to write it (a model's content hash writes it on every load).
#[derive(Serialize)]
struct VectorizerDataRef<'a> {
    config: &'a FeatureConfig,
    terms: &'a [String],
    features: &'a [NgramKey],
    char_grams: &'a [String],
    #[serde(serialize_with = "crate::framing::f32s::serialize")]
    idf: &'a [f32],
    documents: u64,
    stopwords: &'a [String],
}

impl Serialize for Vectorizer {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        VectorizerDataRef {
            config: &self.config,
            terms: &self.terms,
            features: &self.features,
            char_grams: &self.char_grams,
            idf: &self.idf,
            documents: self.documents,
            stopwords: &self.stopwords,
        }
        .serialize(serializer)
    }
}

impl TryFrom<VectorizerData> for Vectorizer {
    type Error = FeatureError;

    fn try_from(d: VectorizerData) -> Result<Self, FeatureError> {
        d.config.validate()?;
        let hashing = d.config.hash_bits > 0;
        let word_features = if hashing {
            if !(d.terms.is_empty() && d.features.is_empty() && d.char_grams.is_empty()) {
                return Err(FeatureError::Corrupt("a hashing vectorizer with a vocabulary".into()));
            }
            1usize << d.config.hash_bits
        } else {
            d.features.len()
        };
        let char_features = match (hashing, d.config.char_ngrams()) {
            (_, false) => 0,
            (true, true) => word_features,
            (false, true) => d.char_grams.len(),
        };
        if !d.config.char_ngrams() && !d.char_grams.is_empty() {
            return Err(FeatureError::Corrupt(
                "character n-grams without a character range".into(),
            ));
        }
        if d.idf.len() != word_features + char_features {
            return Err(FeatureError::Corrupt(format!(
                "{} IDF weights for {} features",
                d.idf.len(),
                word_features + char_features
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
        let mut unigram = vec![NONE; d.terms.len()];
        let mut bigram_pairs = Vec::with_capacity(d.features.len());
        let mut longer = FastMap::default();
        let mut distinct = 0;
        for (i, key) in d.features.iter().enumerate() {
            let fresh = match key {
                [a, NONE, NONE] => std::mem::replace(&mut unigram[*a as usize], i as u32) == NONE,
                [a, b, NONE] => {
                    bigram_pairs.push((pack(*a, *b), i as u32));
                    true
                }
                _ => longer.insert(*key, i as u32).is_none(),
            };
            distinct += fresh as usize;
        }
        let bigram = IdTable::build(bigram_pairs.into_iter());
        if distinct != d.features.len() || bigram.is_err() {
            return Err(FeatureError::Corrupt("duplicate features".into()));
        }
        let bigram = bigram.unwrap_or_default();
        let char_index = IdTable::build(
            d.char_grams
                .iter()
                .enumerate()
                .map(|(j, g)| (gram_key(g.as_bytes()), (word_features + j) as u32)),
        )
        .map_err(|_| FeatureError::Corrupt("duplicate character n-grams".into()))?;
        let cached_chars = d.config.char_ngrams() && !hashing && !d.config.stem;
        let too_many = || FeatureError::Corrupt("too many terms and character n-grams".into());
        let mut cards = Vec::new();
        let mut card_of = Vec::with_capacity(d.terms.len());
        let mut buf = CharBuf::default();
        for (id, t) in d.terms.iter().enumerate() {
            let at = u32::try_from(cards.len())
                .ok()
                .filter(|&at| at < STOP)
                .ok_or_else(too_many)?;
            card_of.push(at);
            cards.extend([id as u32, unigram[id], 0]);
            if cached_chars {
                for_each_char_key(t, d.config.char_ngram_min, d.config.char_ngram_max, &mut buf, |h, _| {
                    if let Some(f) = char_index.get(h) {
                        cards.push(f);
                    }
                });
                let n = cards.len() - at as usize - CARD_HEAD;
                cards[at as usize + 2] = u32::try_from(n).map_err(|_| too_many())?;
            }
        }
        u32::try_from(cards.len()).map_err(|_| too_many())?;
        let terms = d.terms.iter().zip(&card_of).map(|(t, &at)| (t.as_str(), at));
        let terms_and_stopwords: Vec<(&str, u32)> =
            terms.chain(d.stopwords.iter().map(|w| (w.as_str(), STOP))).collect();
        let term_index = TermTable::build(terms_and_stopwords.into_iter())
            .map_err(|t| FeatureError::Corrupt(format!("{t:?} is listed twice among the terms and stopwords")))?;
        let lead_tf = 1.0 + d.config.lead_weight.ln();
        let sublinear = std::array::from_fn(|n| 1.0 + (n as f32).ln());
        Ok(Vectorizer {
            config: d.config,
            terms: d.terms,
            features: d.features,
            char_grams: d.char_grams,
            idf: d.idf,
            documents: d.documents,
            stopwords: d.stopwords,
            word_features,
            term_index,
            cards,
            cached_chars,
            bigram,
            longer,
            char_index,
            lead_tf,
            sublinear,
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

/// The stopwords a configuration removes, sorted.
fn stopwords_for(config: &FeatureConfig) -> Vec<String> {
    if !config.remove_stopwords {
        return Vec::new();
    }
    stopword_list(Language::Indonesian)
        .into_iter()
        .chain(stopword_list(Language::English))
        .map(str::to_string)
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// Smooth IDF, as scikit-learn: ln((1 + n) / (1 + df)) + 1.
fn smooth_idf(documents: f64, df: u32) -> f32 {
    (((1.0 + documents) / (1.0 + df as f64)).ln() + 1.0) as f32
}

/// Does a document frequency pass `min_df` and `max_df`?
fn df_kept(config: &FeatureConfig, documents: f64, df: u32) -> bool {
    let max_df = (config.max_df as f64 * documents).floor().max(1.0) as u32;
    df >= config.min_df && (config.max_df >= 1.0 || df <= max_df)
}

/// Most frequent first; ties broken by name so training is deterministic.
fn cap<K>(kept: &mut Vec<(K, u32)>, cap: Option<usize>, name: impl Fn(&K) -> String) {
    if let Some(cap) = cap {
        if kept.len() > cap {
            kept.sort_by_cached_key(|(k, d)| (std::cmp::Reverse(*d), name(k)));
            kept.truncate(cap);
        }
    }
}

/// Texts below which a share of [`Vectorizer::fit`]'s scan is not worth a core.
const MIN_SHARE: usize = 256;

/// What [`Vectorizer::fit`] counts over some texts: their terms in first-seen order, and the
/// document frequency of each word n-gram (by term ids) and character n-gram (by key).
#[derive(Default)]
struct DocCounts {
    dict: FastMap<String, u32>,
    names: Vec<String>,
    df: FastMap<NgramKey, u32>,
    char_df: FastMap<u64, u32>,
    /// names of the hashed (longer than 7 bytes) n-grams only: a packed key holds its name
    long_names: FastMap<u64, String>,
}

impl DocCounts {
    fn scan<S: AsRef<str>>(config: &FeatureConfig, stop_set: &FastSet<&str>, texts: &[S]) -> DocCounts {
        let mut counts = DocCounts::default();
        let DocCounts {
            dict,
            names,
            df,
            char_df,
            long_names,
        } = &mut counts;
        let mut seen: FastSet<NgramKey> = FastSet::default();
        let mut ids: Vec<Option<u32>> = Vec::new();
        let mut char_seen: FastSet<u64> = FastSet::default();
        let mut buf = CharBuf::default();
        let (cmin, cmax) = (config.char_ngram_min, config.char_ngram_max);
        for text in texts {
            ids.clear();
            analyze_each(text.as_ref(), config.remove_stopwords, |t| {
                if config.char_ngrams() {
                    for_each_char_key(t, cmin, cmax, &mut buf, |h, g| {
                        if char_seen.insert(h) && !is_packed(h) {
                            long_names
                                .entry(h)
                                .or_insert_with(|| String::from_utf8_lossy(g).into_owned());
                        }
                    });
                }
                let key = if config.stem { stem(t) } else { t.into() };
                // a stem that is a stopword breaks n-grams, as it does when serving
                if config.stem && stop_set.contains(key.as_ref()) {
                    ids.push(None);
                    return;
                }
                let id = match dict.get(key.as_ref()) {
                    Some(&id) => id,
                    None => {
                        let id = names.len() as u32;
                        names.push(key.to_string());
                        dict.insert(key.into_owned(), id);
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
            for h in char_seen.drain() {
                *char_df.entry(h).or_insert(0) += 1;
            }
        }
        counts
    }

    /// `self` followed by `later`, the counts of the texts after its own: `later`'s new terms
    /// take the next ids in their first-seen order, as one pass over all the texts gives them.
    fn merge(mut self, later: DocCounts) -> DocCounts {
        let ids: Vec<u32> = later
            .names
            .into_iter()
            .map(|name| match self.dict.get(&name) {
                Some(&id) => id,
                None => {
                    let id = self.names.len() as u32;
                    self.dict.insert(name.clone(), id);
                    self.names.push(name);
                    id
                }
            })
            .collect();
        for (key, d) in later.df {
            let key = key.map(|t| ids.get(t as usize).copied().unwrap_or(NONE));
            *self.df.entry(key).or_insert(0) += d;
        }
        for (h, d) in later.char_df {
            *self.char_df.entry(h).or_insert(0) += d;
        }
        for (h, name) in later.long_names {
            // the first text's spelling, as one pass keeps (two grams sharing a hash)
            self.long_names.entry(h).or_insert(name);
        }
        self
    }
}

impl Vectorizer {
    /// Learn the vocabulary (or the hashed buckets' document frequencies) and IDF from
    /// training texts.
    pub fn fit<S: AsRef<str> + Sync>(config: FeatureConfig, texts: &[S]) -> Result<Vectorizer, FeatureError> {
        config.validate()?;
        if config.hash_bits > 0 {
            return Self::fit_hashed(config, texts);
        }
        let stopwords = stopwords_for(&config);
        let stop_set: FastSet<&str> = stopwords.iter().map(String::as_str).collect();
        // a share of the texts per core, counted apart and merged in order: the same counts
        // as one pass (a fifth of SIB-200's training was this serial scan)
        let shares = rayon::current_num_threads().clamp(1, texts.len().div_ceil(MIN_SHARE).max(1));
        let counts: Vec<DocCounts> = texts
            .par_chunks(texts.len().div_ceil(shares).max(1))
            .map(|share| DocCounts::scan(&config, &stop_set, share))
            .collect();
        let DocCounts {
            names,
            df,
            char_df,
            long_names,
            ..
        } = counts.into_iter().reduce(DocCounts::merge).unwrap_or_default();
        let n_docs = texts.len() as f64;
        let label = |k: &NgramKey| -> String {
            k.iter()
                .take_while(|&&t| t != NONE)
                .map(|&t| names[t as usize].as_str())
                .collect::<Vec<_>>()
                .join(" ")
        };
        let mut kept: Vec<(NgramKey, u32)> = df.into_iter().filter(|&(_, d)| df_kept(&config, n_docs, d)).collect();
        cap(&mut kept, config.max_features, label);
        if kept.is_empty() {
            return Err(FeatureError::EmptyVocabulary);
        }
        // Feature ids by document frequency, most frequent first (ties by name): the features
        // most articles touch then share a few cache lines of the counts, IDF and weight
        // arrays, and the terms they use get the first ids and cards. On AG News this alone
        // made the CLI a fifth faster than with ids in name order.
        // Names compared term by term give the order of the joined labels (no term holds a
        // space or anything below it). Each term's place in name order, sorted once, turns
        // that into a comparison of integers: padding ranks 0, as "" sorts first, so a prefix
        // comes before its extensions. (Comparing the strings in the sort took a quarter of
        // the fit.)
        let mut by_name: Vec<u32> = (0..names.len() as u32).collect();
        by_name.sort_unstable_by(|&a, &b| names[a as usize].cmp(&names[b as usize]));
        let mut rank = vec![0u32; names.len()];
        for (r, &t) in by_name.iter().enumerate() {
            rank[t as usize] = r as u32 + 1;
        }
        // frequency and MAX_NGRAM ranks, 32 bits each, packed into one integer
        const _: () = assert!(MAX_NGRAM == 3);
        // as unique as the n-grams, so the unstable sort is deterministic
        let order_key = |k: &NgramKey, d: u32| {
            let r = |t: u32| if t == NONE { 0 } else { rank[t as usize] };
            k.iter()
                .fold(u128::from(u32::MAX - d), |acc, &t| acc << 32 | u128::from(r(t)))
        };
        let mut kept: Vec<(u128, NgramKey, u32)> = kept.into_iter().map(|(k, d)| (order_key(&k, d), k, d)).collect();
        kept.sort_unstable_by_key(|&(o, _, _)| o);
        let gram = |h: &u64| match unpacked(*h) {
            Some((bytes, n)) => String::from_utf8_lossy(&bytes[..n]).into_owned(),
            None => long_names.get(h).cloned().unwrap_or_default(),
        };
        let mut kept_chars: Vec<(u64, u32)> = char_df
            .into_iter()
            .filter(|&(_, d)| df_kept(&config, n_docs, d))
            .collect();
        cap(&mut kept_chars, config.max_features, gram);
        // Most frequent first, then by name: sorted by a key of the frequency and the name's
        // first 12 bytes (big-endian, zero-padded: byte order is str order, a prefix first),
        // the whole names compared only when those tie.
        let gram_order_key = |d: u32, name: &str| {
            let head = name.bytes().chain(std::iter::repeat(0)).take(12);
            head.fold(u128::from(u32::MAX - d), |acc, b| acc << 8 | u128::from(b))
        };
        let mut kept_chars: Vec<(u128, u32, String)> = kept_chars
            .into_iter()
            .map(|(h, d)| {
                let name = gram(&h);
                (gram_order_key(d, &name), d, name)
            })
            .collect();
        kept_chars.sort_unstable_by(|(ka, _, na), (kb, _, nb)| ka.cmp(kb).then_with(|| na.cmp(nb)));
        // Re-number the terms that kept features use, in first-use order.
        let mut remap: FastMap<u32, u32> = FastMap::default();
        let mut new_terms: Vec<String> = Vec::new();
        let mut features = Vec::with_capacity(kept.len());
        let mut idf = Vec::with_capacity(kept.len() + kept_chars.len());
        for (_, key, d) in kept {
            let mut new_key = [NONE; MAX_NGRAM];
            for (slot, &t) in new_key.iter_mut().zip(key.iter().take_while(|&&t| t != NONE)) {
                *slot = *remap.entry(t).or_insert_with(|| {
                    new_terms.push(names[t as usize].clone());
                    new_terms.len() as u32 - 1
                });
            }
            features.push(new_key);
            idf.push(smooth_idf(n_docs, d));
        }
        let mut char_grams = Vec::with_capacity(kept_chars.len());
        for (_, d, name) in kept_chars {
            char_grams.push(name);
            idf.push(smooth_idf(n_docs, d));
        }
        Vectorizer::try_from(VectorizerData {
            config,
            terms: new_terms,
            features,
            char_grams,
            idf,
            documents: texts.len() as u64,
            stopwords,
        })
    }

    /// Hashing: the buckets are fixed, only their document frequencies are learnt; a bucket
    /// outside min_df/max_df gets IDF 0 and so never fires.
    fn fit_hashed<S: AsRef<str>>(config: FeatureConfig, texts: &[S]) -> Result<Vectorizer, FeatureError> {
        let blocks = if config.char_ngrams() { 2 } else { 1 };
        let width = 1usize << config.hash_bits;
        let mut v = Vectorizer::try_from(VectorizerData {
            stopwords: stopwords_for(&config),
            config,
            terms: Vec::new(),
            features: Vec::new(),
            char_grams: Vec::new(),
            idf: vec![1.0; width * blocks],
            documents: 0,
        })?;
        let mut df = vec![0u32; width * blocks];
        for text in texts {
            let (words, chars) = v.scan(text.as_ref(), 1.0, None);
            for (f, _) in words.into_iter().chain(chars) {
                df[f as usize] += 1;
            }
        }
        let n_docs = texts.len() as f64;
        let mut any = false;
        for (w, &d) in v.idf.iter_mut().zip(&df) {
            *w = if d > 0 && df_kept(&v.config, n_docs, d) {
                any = true;
                smooth_idf(n_docs, d)
            } else {
                0.0
            };
        }
        if !any {
            return Err(FeatureError::EmptyVocabulary);
        }
        v.documents = texts.len() as u64;
        Ok(v)
    }

    pub fn config(&self) -> &FeatureConfig {
        &self.config
    }

    /// Number of features (columns).
    pub fn len(&self) -> usize {
        self.idf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.idf.is_empty()
    }

    /// Number of distinct terms the word features are built from (0 when hashing).
    pub fn vocabulary_size(&self) -> usize {
        self.terms.len()
    }

    /// Training documents the IDF was computed on.
    pub fn documents(&self) -> u64 {
        self.documents
    }

    /// The text of feature `id` ("perdagangan manusia", "_mig"); `None` when hashing, where
    /// only an article's own text can name a bucket (see [`Self::named_counts`]).
    pub fn feature_name(&self, id: usize) -> Option<String> {
        if let Some(key) = self.features.get(id) {
            return Some(
                key.iter()
                    .take_while(|&&t| t != NONE)
                    .filter_map(|&t| self.terms.get(t as usize).map(String::as_str))
                    .collect::<Vec<_>>()
                    .join(" "),
            );
        }
        let g = self.char_grams.get(id.checked_sub(self.features.len())?)?;
        Some(char_gram_name(g.as_bytes()))
    }

    /// Is feature `id` a character n-gram?
    pub fn is_char_feature(&self, id: usize) -> bool {
        id >= self.word_features && id < self.idf.len()
    }

    /// IDF of a single (already normalised) term, if it is a unigram feature.
    pub fn term_idf(&self, term: &str) -> Option<f32> {
        let (_, f, _) = self.card(self.term_index.get(term)?)?;
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
        if idf < 1.0 {
            return Some(0); // a pruned hash bucket
        }
        Some(
            ((1.0 + self.documents as f64) / (idf - 1.0).exp() - 1.0)
                .round()
                .max(0.0) as u64,
        )
    }

    /// The word and character features of one text before weighting, each block sorted by
    /// feature id with counts merged; occurrences among the first `lead_terms` terms count
    /// `weight` times. With `names`, the article text that produced each feature is recorded
    /// (its first occurrence).
    fn scan(&self, text: &str, weight: f32, names: Option<&mut FastMap<u32, String>>) -> (Counts, Counts) {
        let mut hits = Hits::default();
        self.scan_into(text, weight, names, &mut hits, &mut ScanBufs::default());
        (merge(hits.words), merge(hits.chars))
    }

    /// The feature occurrences of one text, in text order, into `sink`.
    fn scan_into(
        &self,
        text: &str,
        weight: f32,
        mut names: Option<&mut FastMap<u32, String>>,
        sink: &mut impl Sink,
        bufs: &mut ScanBufs,
    ) {
        let cfg = &self.config;
        let hashing = cfg.hash_bits > 0;
        let ScanBufs { toks, chars: buf, run } = bufs;
        toks.clear();
        let mut surfaces: Vec<String> = Vec::new();
        if !hashing && !cfg.stem && names.is_none() && self.cached_chars {
            // the usual prediction: words looked up a run at a time (see `TermRun`)
            run.clear();
            analyze_each(text, false, |t| {
                if run.push(&self.term_index, t) {
                    self.look_up_run(run, weight, sink, buf, toks);
                }
            });
            self.look_up_run(run, weight, sink, buf, toks);
        } else {
            self.look_up_each(text, weight, names.as_deref_mut(), sink, buf, toks, &mut surfaces);
        }
        self.word_ngrams(weight, names, sink, toks, &surfaces);
    }

    /// The features of the terms in `run`, in text order, into `sink`, and their tokens onto
    /// `toks`; empties the run. Every term's table slot was asked for when it joined the run,
    /// and every card is asked for before the first is read: the lookups of a run overlap.
    fn look_up_run(
        &self,
        run: &mut TermRun,
        weight: f32,
        sink: &mut impl Sink,
        buf: &mut CharBuf,
        toks: &mut Vec<u64>,
    ) {
        let cfg = &self.config;
        let mut start = 0;
        for &(end, hash) in &run.ends {
            let end = end as usize;
            let key = run.text.get(start..end).unwrap_or_default();
            match self.term_index.get_hashed(key, hash) {
                Some(STOP) => {}
                Some(at) => {
                    if let Some(head) = self.cards.get(at as usize) {
                        prefetch(head);
                    }
                    run.cards.push((at, 0, 0));
                }
                None if cfg.char_ngrams() => {
                    // an unknown word: its character n-gram keys, their slots asked for now
                    let from = run.keys.len() as u32;
                    for_each_char_key(key, cfg.char_ngram_min, cfg.char_ngram_max, buf, |k, _| {
                        self.char_index.prefetch(k);
                        run.keys.push(k);
                    });
                    run.cards.push((STOP, from, run.keys.len() as u32));
                }
                None => run.cards.push((STOP, 0, 0)),
            }
            start = end;
        }
        for &(at, start, end) in &run.cards {
            let w = if toks.len() < cfg.lead_terms { weight } else { 1.0 };
            let looked = if at == STOP { None } else { self.card(at) };
            match looked {
                Some((_, _, grams)) => {
                    for &f in grams {
                        sink.char(f, w);
                    }
                }
                // an unknown word's keys (a known word's range is empty)
                None => {
                    for &k in run.keys.get(start as usize..end as usize).unwrap_or_default() {
                        if let Some(f) = self.char_index.get(k) {
                            sink.char(f, w);
                        }
                    }
                }
            }
            toks.push(looked.map_or(GAP, |(id, unigram, _)| vocabulary_token(id, unigram)));
        }
        run.clear();
    }

    /// The features of a text's terms one word at a time, for every configuration (hashed,
    /// stemmed, named), into `sink`, with their tokens onto `toks` (and their surfaces onto
    /// `surfaces` when naming).
    #[allow(clippy::too_many_arguments)]
    fn look_up_each(
        &self,
        text: &str,
        weight: f32,
        mut names: Option<&mut FastMap<u32, String>>,
        sink: &mut impl Sink,
        buf: &mut CharBuf,
        toks: &mut Vec<u64>,
        surfaces: &mut Vec<String>,
    ) {
        let cfg = &self.config;
        let hashing = cfg.hash_bits > 0;
        let mask = (1u64 << cfg.hash_bits) - 1;
        let char_base = self.word_features as u32;
        // one lookup per word: a term id, a stopword (skipped), or unknown (breaks n-grams)
        analyze_each(text, false, |t| {
            let looked = match self.term_index.get(t) {
                Some(STOP) => return,
                Some(at) => self.card(at),
                None => None,
            };
            let w = if toks.len() < cfg.lead_terms { weight } else { 1.0 };
            if let (Some((_, _, grams)), true, None) = (looked, self.cached_chars, &names) {
                // a training word: its character n-grams were looked up once, at load
                for &f in grams {
                    sink.char(f, w);
                }
            } else if cfg.char_ngrams() {
                let mut hit = |f: u32| {
                    sink.char(f, w);
                    // named by the word it came from: explanations speak in words
                    if let Some(names) = names.as_deref_mut() {
                        names.entry(f).or_insert_with(|| t.to_string());
                    }
                };
                let (min, max) = (cfg.char_ngram_min, cfg.char_ngram_max);
                if hashing {
                    for_each_char_gram(t, min, max, buf, |h, _| hit(char_base + (h & mask) as u32));
                } else {
                    for_each_char_key(t, min, max, buf, |k, _| {
                        if let Some(f) = self.char_index.get(k) {
                            hit(f);
                        }
                    });
                }
            }
            // a vocabulary token carries its unigram feature in the high half: no second
            // lookup when the n-grams are formed
            let tok = match (hashing, cfg.stem) {
                (false, false) => looked.map_or(GAP, |(id, unigram, _)| vocabulary_token(id, unigram)),
                (false, true) => match self.term_index.get(stem(t).as_ref()).filter(|&at| at != STOP) {
                    Some(at) => self
                        .card(at)
                        .map_or(GAP, |(id, unigram, _)| vocabulary_token(id, unigram)),
                    None => GAP,
                },
                (true, false) => str_hash(t).min(GAP - 1),
                (true, true) => str_hash(&stem(t)).min(GAP - 1),
            };
            toks.push(tok);
            if names.is_some() {
                surfaces.push(t.to_string());
            }
        });
    }

    /// The word n-gram features of a text's tokens (from [`Self::look_up_run`] or
    /// [`Self::look_up_each`]) into `sink`.
    fn word_ngrams(
        &self,
        weight: f32,
        mut names: Option<&mut FastMap<u32, String>>,
        sink: &mut impl Sink,
        toks: &[u64],
        surfaces: &[String],
    ) {
        let cfg = &self.config;
        let hashing = cfg.hash_bits > 0;
        let mask = (1u64 << cfg.hash_bits) - 1;
        let (min, max) = (cfg.ngram_min, cfg.ngram_max);
        if !hashing && names.is_none() && min == 1 && max <= 2 {
            // the default (unigrams and bigrams of vocabulary terms), without the general
            // window loop
            if max == 2 && self.bigram.worth_prefetching() {
                for pair in toks.windows(2) {
                    if pair[0] != GAP && pair[1] != GAP {
                        self.bigram.prefetch(pack(pair[0] as u32, pair[1] as u32));
                    }
                }
            }
            for (i, &a) in toks.iter().enumerate() {
                if a == GAP {
                    continue;
                }
                let w = if i < cfg.lead_terms { weight } else { 1.0 };
                let unigram = (a >> 32) as u32;
                if unigram != NONE {
                    sink.word(unigram, w);
                }
                if max == 2 {
                    if let Some(&b) = toks.get(i + 1).filter(|&&b| b != GAP) {
                        if let Some(f) = self.bigram.get(pack(a as u32, b as u32)) {
                            sink.word(f, w);
                        }
                    }
                }
            }
            return;
        }
        for (i, &a) in toks.iter().enumerate() {
            if a == GAP {
                continue;
            }
            let w = if i < cfg.lead_terms { weight } else { 1.0 };
            for n in min..=max {
                let Some(window) = toks.get(i..i + n) else { break };
                if n > 1 && window[n - 1] == GAP {
                    break;
                }
                let f = if hashing {
                    (ngram_hash(window) & mask) as u32
                } else {
                    match *window {
                        [a] => (a >> 32) as u32,
                        [a, b] => self.bigram.get(pack(a as u32, b as u32)).unwrap_or(NONE),
                        [a, b, c] => self
                            .longer
                            .get(&[a as u32, b as u32, c as u32])
                            .copied()
                            .unwrap_or(NONE),
                        _ => NONE,
                    }
                };
                if f != NONE {
                    sink.word(f, w);
                    if let Some(names) = names.as_deref_mut() {
                        names.entry(f).or_insert_with(|| surfaces[i..i + n].join(" "));
                    }
                }
            }
        }
    }

    /// The card starting at `at` (a value of `term_index` other than `STOP`): the term's id,
    /// its unigram feature (or `NONE`) and its cached character n-gram features.
    #[inline(always)]
    fn card(&self, at: u32) -> Option<(u32, u32, &[u32])> {
        let at = at as usize;
        let head = self.cards.get(at..at + CARD_HEAD)?;
        let start = at + CARD_HEAD;
        let chars = self.cards.get(start..start + head[2] as usize)?;
        Some((head[0], head[1], chars))
    }

    /// Counts of the word features in one text, sorted by feature id (occurrences in the
    /// lead count `weight` times), each with the article's own words for it.
    pub fn named_counts(&self, text: &str, weight: f32) -> Vec<(u32, f32, String)> {
        let mut names = FastMap::default();
        let (words, _) = self.scan(text, weight, Some(&mut names));
        words
            .into_iter()
            .filter_map(|(f, n)| Some((f, n, names.remove(&f)?)))
            .collect()
    }

    /// The article's text behind each of its features: the words of a word n-gram, the word
    /// a character n-gram first came from.
    pub fn names_in(&self, text: &str) -> FastMap<u32, String> {
        let mut names = FastMap::default();
        self.scan(text, 1.0, Some(&mut names));
        names
    }

    /// Counts of the word features in one text, sorted by feature id; occurrences in the lead
    /// count `lead_weight` times.
    pub fn counts(&self, text: &str) -> Vec<(u32, f32)> {
        self.scan(text, self.config.lead_weight, None).0
    }

    /// TF-IDF vector of one text: the word block and the character block each L2-normalised
    /// (to 1/√2 when both exist, so the whole has norm 1); all zeros when no feature occurs.
    pub fn transform(&self, text: &str) -> SparseVec {
        let (words, chars) = self.scan(text, self.config.lead_weight, None);
        let mut out = SparseVec {
            indices: Vec::with_capacity(words.len() + chars.len()),
            values: Vec::with_capacity(words.len() + chars.len()),
        };
        let scale = if self.config.char_ngrams() {
            std::f32::consts::FRAC_1_SQRT_2
        } else {
            1.0
        };
        self.weigh(&words, scale, &mut out);
        self.weigh(&chars, scale, &mut out);
        out
    }

    /// [`Self::transform`] with the features in no particular order: the same values, about
    /// twice as fast, for prediction (a dot product does not care about order).
    pub fn transform_unordered(&self, text: &str) -> SparseVec {
        let scanned = self.scan_dense(text, |counts, words, chars, _| {
            let mut out = SparseVec {
                indices: Vec::with_capacity(words.len() + chars.len()),
                values: Vec::with_capacity(words.len() + chars.len()),
            };
            for block in [words, chars] {
                let start = out.values.len();
                for &f in block {
                    let v = self.take_value(counts, f as usize).unwrap_or(0.0);
                    if v > 0.0 {
                        out.indices.push(f);
                        out.values.push(v);
                    }
                }
                normalise(&mut out.values[start..], self.block_scale());
            }
            out
        });
        scanned.unwrap_or_else(|| self.transform(text))
    }

    /// Scan `text` into this thread's dense counts and run `f` on them with the touched word
    /// and character features (and a spare buffer); `f` must reset every count it was given
    /// to zero. `None` when the feature space is too wide for dense counts, or the scratch
    /// is in use (a re-entrant call): the caller then takes the sorted path.
    fn scan_dense<R>(&self, text: &str, f: impl FnOnce(&mut [f32], &[u32], &[u32], &mut Vec<f32>) -> R) -> Option<R> {
        if self.len() > DENSE_MAX {
            return None;
        }
        SCRATCH.with(|cell| {
            let mut scratch = cell.try_borrow_mut().ok()?;
            let Scratch {
                counts,
                words,
                chars,
                bufs,
                acc,
            } = &mut *scratch;
            if counts.len() < self.len() {
                counts.resize(self.len(), 0.0);
            }
            words.clear();
            chars.clear();
            let mut dense = Dense {
                counts,
                words: std::mem::take(words),
                chars: std::mem::take(chars),
            };
            self.scan_into(text, self.config.lead_weight, None, &mut dense, bufs);
            let Dense {
                counts,
                words: w,
                chars: c,
            } = dense;
            let result = f(counts, &w, &c, acc);
            *words = w;
            *chars = c;
            Some(result)
        })
    }

    /// Add to `out` the linear scores `Σ_f x_f · weights[f·k .. f·k + k]` of this text's
    /// TF-IDF vector `x` (as [`Self::transform`] gives it), without building `x`: each
    /// block's weighted sum and norm are accumulated in one pass over its features, and the
    /// sum is scaled once. `weights` is feature-major with `k = out.len()` columns; `half`,
    /// when given, holds the same weights as [`HalfWeights`] built with this vectorizer's
    /// IDF, and is read instead. The hot path of prediction.
    pub fn linear_scores(&self, text: &str, weights: &[f32], half: Option<&HalfWeights>, out: &mut [f64]) {
        let k = out.len();
        if k == 0 {
            return;
        }
        // each block's sums scaled to the block's norm, into `out`
        let add = |out: &mut [f64], sums: &[f32], norm2: f32| {
            if norm2 > 0.0 {
                let s = self.block_scale() / norm2.sqrt();
                for (o, a) in out.iter_mut().zip(sums) {
                    *o += (a * s) as f64;
                }
            }
        };
        let scored = match half {
            // a closure per path: in one closure together, the half path ran 2% slower
            Some(half) => self.scan_dense(text, |counts, words, chars, _| {
                for block in [words, chars] {
                    let (sums, norm2) = half.block_sums(block, counts, |tf| self.tf_weight(tf));
                    add(out, &sums, norm2);
                }
            }),
            None => self.scan_dense(text, |counts, words, chars, acc| {
                for block in [words, chars] {
                    acc.clear();
                    acc.resize(k, 0.0);
                    // the label count as a constant: each feature's row becomes a fixed-size,
                    // unrolled multiply-add
                    let norm2 = match k {
                        2 => self.block_sums::<2>(block, counts, weights, acc),
                        3 => self.block_sums::<3>(block, counts, weights, acc),
                        4 => self.block_sums::<4>(block, counts, weights, acc),
                        5 => self.block_sums::<5>(block, counts, weights, acc),
                        6 => self.block_sums::<6>(block, counts, weights, acc),
                        7 => self.block_sums::<7>(block, counts, weights, acc),
                        8 => self.block_sums::<8>(block, counts, weights, acc),
                        _ => self.block_sums_any(block, counts, weights, acc),
                    };
                    add(out, acc, norm2);
                }
            }),
        };
        if scored.is_none() {
            self.linear_scores_sorted(text, weights, out);
        }
    }

    /// The IDF of every feature, in feature order.
    pub fn idf_values(&self) -> &[f32] {
        &self.idf
    }

    /// Feature `f`'s TF-IDF value (before the norm) from the dense counts, resetting its
    /// count to zero.
    #[inline]
    fn take_value(&self, counts: &mut [f32], f: usize) -> Option<f32> {
        let (tf, idf) = (counts.get_mut(f)?, self.idf.get(f)?);
        Some(self.tf_weight(std::mem::replace(tf, 0.0)) * idf)
    }

    /// One block of [`Self::linear_scores`] for `K` labels: add each feature's TF-IDF value
    /// times its weight row to `acc`, reset its count, and return the block's squared norm.
    #[inline]
    fn block_sums<const K: usize>(&self, block: &[u32], counts: &mut [f32], weights: &[f32], acc: &mut [f32]) -> f32 {
        let mut sums = [0.0f32; K];
        let mut norm2 = 0.0f32;
        for &f in block {
            let f = f as usize;
            let Some(v) = self.take_value(counts, f) else { continue };
            norm2 += v * v;
            if let Some(row) = weights
                .get(f * K..f * K + K)
                .and_then(|r| <&[f32; K]>::try_from(r).ok())
            {
                for c in 0..K {
                    sums[c] += v * row[c];
                }
            }
        }
        acc.iter_mut().zip(sums).for_each(|(a, s)| *a = s);
        norm2
    }

    /// [`Self::block_sums`] for any number of labels.
    fn block_sums_any(&self, block: &[u32], counts: &mut [f32], weights: &[f32], acc: &mut [f32]) -> f32 {
        let k = acc.len();
        let mut norm2 = 0.0f32;
        for &f in block {
            let f = f as usize;
            let Some(v) = self.take_value(counts, f) else { continue };
            norm2 += v * v;
            if let Some(row) = weights.get(f * k..f * k + k) {
                for (a, w) in acc.iter_mut().zip(row) {
                    *a += v * w;
                }
            }
        }
        norm2
    }

    /// [`Self::linear_scores`] through the materialised vector (wide hashed spaces).
    fn linear_scores_sorted(&self, text: &str, weights: &[f32], out: &mut [f64]) {
        let k = out.len();
        for (f, x) in self.transform(text).row().iter() {
            if let Some(row) = weights.get(f * k..f * k + k) {
                for (o, w) in out.iter_mut().zip(row) {
                    *o += (x * w) as f64;
                }
            }
        }
    }

    /// Term frequency as weighted: 1 + ln(tf) when sublinear. A term seen once, in or out
    /// of the lead, needs no logarithm: most counts are one of those two.
    #[inline]
    fn tf_weight(&self, tf: f32) -> f32 {
        if !self.config.sublinear_tf {
            tf
        } else if tf == 1.0 {
            1.0
        } else if tf == self.config.lead_weight {
            self.lead_tf
        } else {
            let n = tf as usize;
            match self.sublinear.get(n) {
                Some(&w) if n as f32 == tf => w,
                _ => 1.0 + tf.ln(),
            }
        }
    }

    /// Each block's L2 norm: 1/√2 when words and characters are both on, so the whole is 1.
    fn block_scale(&self) -> f32 {
        if self.config.char_ngrams() {
            std::f32::consts::FRAC_1_SQRT_2
        } else {
            1.0
        }
    }

    /// Append one block's TF-IDF values, L2-normalised to `norm`.
    fn weigh(&self, counts: &[(u32, f32)], norm: f32, out: &mut SparseVec) {
        let start = out.values.len();
        for &(f, tf) in counts {
            let tf = self.tf_weight(tf);
            let v = tf * self.idf[f as usize];
            if v > 0.0 {
                out.indices.push(f);
                out.values.push(v);
            }
        }
        normalise(&mut out.values[start..], norm);
    }
}

/// Where scanning puts feature occurrences.
trait Sink {
    fn word(&mut self, feature: u32, weight: f32);
    fn char(&mut self, feature: u32, weight: f32);
}

/// Occurrences listed, to be sorted and merged: the path training takes.
#[derive(Default)]
struct Hits {
    words: Vec<(u32, f32)>,
    chars: Vec<(u32, f32)>,
}

impl Sink for Hits {
    #[inline]
    fn word(&mut self, feature: u32, weight: f32) {
        self.words.push((feature, weight));
    }

    #[inline]
    fn char(&mut self, feature: u32, weight: f32) {
        self.chars.push((feature, weight));
    }
}

/// Counts accumulated in place in a dense per-thread array (word and character ids are
/// disjoint), touched features listed per block: no sort, no hashing, one pass.
struct Dense<'a> {
    counts: &'a mut [f32],
    words: Vec<u32>,
    chars: Vec<u32>,
}

impl Dense<'_> {
    #[inline]
    fn add(counts: &mut [f32], touched: &mut Vec<u32>, feature: u32, weight: f32) {
        if let Some(c) = counts.get_mut(feature as usize) {
            // weights are ≥ 1, so 0 means untouched. Whether a feature repeats follows the
            // text, not a pattern a branch predictor learns: push always, keep it if new
            let repeat = *c != 0.0;
            *c += weight;
            touched.push(feature);
            touched.truncate(touched.len() - repeat as usize);
        }
    }
}

impl Sink for Dense<'_> {
    #[inline]
    fn word(&mut self, feature: u32, weight: f32) {
        Self::add(self.counts, &mut self.words, feature, weight);
    }

    #[inline]
    fn char(&mut self, feature: u32, weight: f32) {
        Self::add(self.counts, &mut self.chars, feature, weight);
    }
}

/// Widest feature space the dense accumulator serves (16 MiB of counts per thread); wider
/// hashed spaces use the sorted path.
const DENSE_MAX: usize = 1 << 22;

/// Buffers one scan reuses: the text's term tokens, a term's padded characters, and the run
/// of terms waiting to be looked up.
#[derive(Default)]
struct ScanBufs {
    toks: Vec<u64>,
    chars: CharBuf,
    run: TermRun,
}

/// Terms looked up together: their slots are asked of the cache as they come, and looked up
/// when the run is full, so that one word's cache miss does not wait for the previous one's.
const RUN: usize = 16;

/// A run of a text's terms, their bytes one after the other, for [`Vectorizer::look_up_run`].
#[derive(Default)]
struct TermRun {
    text: String,
    /// Each term's end in `text` and its table hash.
    ends: Vec<(u32, (u64, u64))>,
    /// Each term's card, or `STOP` and the range of its character n-gram keys in `keys` for
    /// an unknown term.
    cards: Vec<(u32, u32, u32)>,
    keys: Vec<u64>,
}

impl TermRun {
    fn clear(&mut self) {
        self.text.clear();
        self.ends.clear();
        self.cards.clear();
        self.keys.clear();
    }

    /// Add a term and ask the cache for its slot; true when the run is full.
    #[inline]
    fn push(&mut self, table: &TermTable, term: &str) -> bool {
        let hash = TermTable::hash(term);
        table.prefetch(hash);
        self.text.push_str(term);
        // a text past 4 GiB is refused long before it gets here; saturate all the same
        self.ends
            .push((u32::try_from(self.text.len()).unwrap_or(u32::MAX), hash));
        self.ends.len() >= RUN
    }
}

/// Per-thread buffers for prediction: dense counts (all zero between calls), touched lists,
/// scan buffers. Reused, so a prediction allocates only its output.
#[derive(Default)]
struct Scratch {
    counts: Vec<f32>,
    words: Vec<u32>,
    chars: Vec<u32>,
    bufs: ScanBufs,
    /// Per-label sums of [`Vectorizer::linear_scores`].
    acc: Vec<f32>,
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

/// Scale a block of values to L2 norm `norm` (all-zero blocks stay zero).
fn normalise(block: &mut [f32], norm: f32) {
    let sum = block.iter().map(|v| v * v).sum::<f32>().sqrt();
    if sum > 0.0 {
        let k = norm / sum;
        block.iter_mut().for_each(|v| *v *= k);
    }
}

/// Sort (feature, count) pairs by feature and add up repeats.
fn merge(mut hits: Vec<(u32, f32)>) -> Vec<(u32, f32)> {
    hits.sort_unstable_by_key(|h| h.0);
    let mut out: Vec<(u32, f32)> = Vec::with_capacity(hits.len());
    for (f, w) in hits {
        match out.last_mut() {
            Some((g, n)) if *g == f => *n += w,
            _ => out.push((f, w)),
        }
    }
    out
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

    #[test]
    fn analysis_nested_in_analysis_and_freak_words_give_the_same_terms() {
        let text = "Kartel NARKOBA di Meksiko; Öl und Straße";
        let mut alone = Vec::new();
        analyze(text, false, &mut alone);
        // the callback analyses another text: the thread's buffer is in use, so it gets its own
        let mut outer = Vec::new();
        let mut inner = Vec::new();
        analyze_each(text, false, |t| {
            outer.push(t.to_string());
            analyze(t, false, &mut inner);
            assert_eq!(inner, vec![t.to_string()]);
        });
        assert_eq!(outer, alone);
        // a word longer than the kept buffer, then ordinary words again
        let long = "A".repeat(5000);
        let mut terms = Vec::new();
        analyze(&format!("{long} Kartel"), false, &mut terms);
        assert_eq!(terms, vec!["a".repeat(5000), "kartel".to_string()]);
        analyze(text, false, &mut terms);
        assert_eq!(terms, alone);
    }

    /// Word features only, every term kept.
    fn all() -> FeatureConfig {
        FeatureConfig {
            min_df: 1,
            ..words_only()
        }
    }

    fn words_only() -> FeatureConfig {
        FeatureConfig {
            char_ngram_min: 0,
            char_ngram_max: 0,
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
    fn feature_ids_follow_document_frequency_then_name_in_each_block() {
        // the most frequent features first keeps prediction's hot rows together in cache
        let v = Vectorizer::fit(FeatureConfig::default(), &docs()).unwrap();
        for block in [0..v.word_features, v.word_features..v.len()] {
            let keys: Vec<(std::cmp::Reverse<u64>, String)> = block
                .map(|i| {
                    let df = v.document_frequency(i).unwrap();
                    (std::cmp::Reverse(df), v.feature_name(i).unwrap())
                })
                .collect();
            assert!(keys.len() > 1);
            assert!(keys.windows(2).all(|w| w[0] < w[1]), "{keys:?}");
        }
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
            ..words_only()
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

    #[test]
    fn char_ngrams_stay_inside_words_and_form_their_own_block() {
        let mut grams = Vec::new();
        let mut buf = CharBuf::default();
        for_each_char_gram("ab", 3, 4, &mut buf, |h, g| {
            assert_eq!(h, str_hash(std::str::from_utf8(g).unwrap()));
            grams.push(String::from_utf8(g.to_vec()).unwrap());
        });
        assert_eq!(grams, [" ab", " ab ", "ab "]);
        grams.clear();
        for_each_char_gram("é", 3, 5, &mut buf, |_, g| {
            grams.push(String::from_utf8(g.to_vec()).unwrap())
        });
        assert_eq!(grams, [" é "], "short terms give their padded self, on char boundaries");

        let cfg = FeatureConfig {
            min_df: 1,
            ..FeatureConfig::default()
        };
        let v = Vectorizer::fit(cfg, &docs()).unwrap();
        let names: Vec<String> = (0..v.len()).map(|i| v.feature_name(i).unwrap()).collect();
        assert!(names.contains(&"_mig".to_string()) && names.contains(&"ran_".to_string()));
        let char_names = (0..v.len())
            .filter(|&i| v.is_char_feature(i))
            .map(|i| v.feature_name(i).unwrap());
        assert!(char_names.clone().count() > 50);
        assert!(char_names.clone().all(|n| !n.contains(' ')), "no gram crosses a word");
        // an unseen inflection still shares character n-grams with training words
        let x = v.transform("migrannya");
        assert!(x.indices.iter().all(|&f| v.is_char_feature(f as usize)));
        assert!(!x.indices.is_empty());
        let x = v.transform("migran perbatasan");
        let (words, chars): (Vec<f32>, Vec<f32>) =
            x.indices
                .iter()
                .zip(&x.values)
                .fold((vec![], vec![]), |(mut w, mut c), (&f, &val)| {
                    if v.is_char_feature(f as usize) {
                        c.push(val)
                    } else {
                        w.push(val)
                    }
                    (w, c)
                });
        let norm = |b: &[f32]| b.iter().map(|a| a * a).sum::<f32>();
        assert!((norm(&words) - 0.5).abs() < 1e-5 && (norm(&chars) - 0.5).abs() < 1e-5);
    }

    #[test]
    fn hashing_needs_no_vocabulary_and_names_come_from_the_text() {
        let cfg = FeatureConfig {
            min_df: 1,
            hash_bits: 12,
            ..FeatureConfig::default()
        };
        let v = Vectorizer::fit(cfg.clone(), &docs()).unwrap();
        assert_eq!(v.len(), 2 << 12);
        assert_eq!(v.vocabulary_size(), 0);
        let x = v.transform("migran di perbatasan");
        assert!(!x.indices.is_empty() && x.indices.windows(2).all(|w| w[0] < w[1]));
        assert!(
            v.transform("xyzzy qwerty").indices.is_empty(),
            "unseen buckets have IDF 0"
        );
        let named = v.named_counts("Migran tiba", 1.0);
        let names: Vec<&str> = named.iter().map(|(_, _, n)| n.as_str()).collect();
        assert!(names.contains(&"migran") && names.contains(&"migran tiba"), "{names:?}");
        let bytes = postcard::to_allocvec(&v).unwrap();
        let back: Vectorizer = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(back.transform("migran tiba"), v.transform("migran tiba"));
        let bad = FeatureConfig {
            max_features: Some(10),
            ..cfg
        };
        assert!(matches!(Vectorizer::fit(bad, &docs()), Err(FeatureError::Config(_))));
    }

    #[test]
    fn stemming_merges_inflections() {
        let cfg = FeatureConfig {
            min_df: 1,
            stem: true,
            ..words_only()
        };
        let v = Vectorizer::fit(cfg, &["Perdagangan manusia meningkat.", "Pedagang diperdagangkan."]).unwrap();
        let a = v.transform("perdagangan");
        assert_eq!(a, v.transform("diperdagangkan"));
        assert!(!a.indices.is_empty());
        let names = v.names_in("diperdagangkan");
        assert_eq!(
            names.values().next().map(String::as_str),
            Some("diperdagangkan"),
            "named by the surface form"
        );
    }

    /// Feature setups the fast prediction paths must agree on with the sorted transform:
    /// characters and words, words with a short lead, stems with raw counts, hashing.
    fn varied_configs() -> Vec<FeatureConfig> {
        vec![
            FeatureConfig {
                min_df: 1,
                ..FeatureConfig::default()
            },
            all(),
            FeatureConfig { lead_terms: 3, ..all() },
            FeatureConfig {
                min_df: 1,
                stem: true,
                ..FeatureConfig::default()
            },
            FeatureConfig {
                min_df: 1,
                sublinear_tf: false,
                stem: true,
                ..FeatureConfig::default()
            },
            FeatureConfig {
                min_df: 1,
                hash_bits: 12,
                ..FeatureConfig::default()
            },
        ]
    }

    #[test]
    fn unordered_transform_has_the_same_features_and_values() {
        let texts = [
            "Migran migran tiba di perbatasan selatan, perdagangan manusia.",
            "xyzzy",
            "",
            "Para MIGRAN menunggu: pengungsi, pengungsi, pengungsi!",
        ];
        for cfg in varied_configs() {
            let v = Vectorizer::fit(cfg, &docs()).unwrap();
            for t in texts {
                let sorted = v.transform(t);
                let fast = v.transform_unordered(t);
                let mut pairs: Vec<(u32, f32)> =
                    fast.indices.iter().copied().zip(fast.values.iter().copied()).collect();
                pairs.sort_by_key(|p| p.0);
                assert_eq!(pairs.iter().map(|p| p.0).collect::<Vec<_>>(), sorted.indices, "{t}");
                for (a, b) in pairs.iter().map(|p| p.1).zip(&sorted.values) {
                    assert!((a - b).abs() < 1e-6, "{t}: {a} vs {b}");
                }
            }
        }
    }

    #[test]
    fn words_looked_up_in_runs_give_the_features_of_words_looked_up_one_at_a_time() {
        // prediction takes `look_up_run`; naming (explanations) takes `look_up_each`. A long
        // text crosses several runs, with stopwords, capitals, accents, and unknown words
        // ("migrasi", "manusiawi") whose character n-grams are known
        let words = "Migran tiba di perbatasan xyzzy pengungsi migrasi Selatan PERDAGANGAN manusiawi Bogotá para";
        let words: Vec<&str> = words.split(' ').collect();
        let long: Vec<&str> = (0..3 * RUN + 5).map(|i| words[i % words.len()]).collect();
        let long = long.join(" ");
        for cfg in varied_configs() {
            let v = Vectorizer::fit(cfg, &docs()).unwrap();
            for t in [long.as_str(), "Migran tiba.", "xyzzy", "", "di para yang"] {
                let plain = v.scan(t, 3.0, None);
                let named = v.scan(t, 3.0, Some(&mut FastMap::default()));
                assert_eq!(plain, named, "{t}");
            }
        }
    }

    #[test]
    fn linear_scores_equal_the_dot_product_of_the_tf_idf_vector() {
        // the fused scorer must score exactly what training saw: x · w for x = transform(text)
        let texts = [
            "Migran migran tiba di perbatasan selatan, perdagangan manusia. Migran!",
            "xyzzy",
            "",
            "Para MIGRAN menunggu: pengungsi, pengungsi, pengungsi! Perbatasan perbatasan.",
        ];
        for cfg in varied_configs() {
            let v = Vectorizer::fit(cfg, &docs()).unwrap();
            // 3 labels takes the fixed-width path, 11 the general one
            for k in [3usize, 11] {
                let weights: Vec<f32> = (0..v.len() * k)
                    .map(|i| ((i * 7919) % 101) as f32 / 50.0 - 1.0)
                    .collect();
                for t in texts {
                    let mut expected = vec![0.0f64; k];
                    for (j, x) in v.transform(t).row().iter() {
                        for (c, e) in expected.iter_mut().enumerate() {
                            *e += (x * weights[j * k + c]) as f64;
                        }
                    }
                    let mut got = vec![0.0f64; k];
                    v.linear_scores(t, &weights, None, &mut got);
                    for (g, e) in got.iter().zip(&expected) {
                        assert!((g - e).abs() < 1e-5, "{t} (k={k}): {got:?} vs {expected:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn ascii_character_n_grams_equal_the_general_path() {
        let mut buf = CharBuf::default();
        for term in ["", "a", "ab", "migran", "perbatasan-selatan", "o'brien", "x1y2"] {
            for (min, max) in [(2, 2), (3, 5), (4, 4), (2, 8)] {
                let (mut fast, mut general) = (Vec::new(), Vec::new());
                for_each_char_gram(term, min, max, &mut buf, |h, g| fast.push((h, g.to_vec())));
                char_grams_by_char(term, min, max, &mut buf, |h, g| general.push((h, g.to_vec())));
                assert_eq!(fast, general, "{term} {min}-{max}");
                assert!(!fast.is_empty());
            }
        }
    }

    #[test]
    fn vocabulary_keys_are_the_packed_n_grams() {
        let mut buf = CharBuf::default();
        for term in [
            "",
            "a",
            "abc",
            "migran",
            "o'brien",
            "perbatasan",
            "perbatasan-selatan",
            "négara",
            "日本語",
        ] {
            for (min, max) in [(2, 2), (3, 5), (4, 4), (2, 7), (5, 7), (7, 7), (2, 8)] {
                let mut grams = Vec::new();
                for_each_char_gram(term, min, max, &mut buf, |_, g| grams.push(g.to_vec()));
                let mut keyed = Vec::new();
                for_each_char_key(term, min, max, &mut buf, |k, g| keyed.push((k, g.to_vec())));
                assert_eq!(keyed.iter().map(|k| k.1.clone()).collect::<Vec<_>>(), grams, "{term}");
                for (k, g) in &keyed {
                    assert_eq!(*k, gram_key(g), "{term}: {g:?}");
                }
            }
        }
        // exact and distinct: a short gram, its padded twin, and a long gram never share a key
        assert_ne!(gram_key(b"ab"), gram_key(b"ab\0"));
        assert!(gram_key(b"abcdefgh") >> 56 >= 0xf8);
        assert_eq!(gram_key(b"abcdefg") >> 56, 7);
    }

    /// The scan split across cores gives the vocabulary one pass gives: the same features in
    /// the same order with the same IDF, hashed long n-gram names included.
    #[test]
    fn a_fit_on_several_cores_is_the_fit_on_one() {
        let words = [
            "migran",
            "perbatasan",
            "kartel",
            "narkoba",
            "Meksiko",
            "привет",
            "საქართველო",
            "pertahanan",
        ];
        let texts: Vec<String> = (0..3 * MIN_SHARE)
            .map(|i| {
                (0..6)
                    .map(|w| format!("{}{}", words[(i * 7 + w * 3) % words.len()], (i * w) % 11))
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect();
        let fit_on = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| Vectorizer::fit(FeatureConfig::default(), &texts).unwrap())
        };
        let (one, three) = (fit_on(1), fit_on(3));
        assert_eq!(one.len(), three.len());
        for id in 0..one.len() {
            assert_eq!(one.feature_name(id), three.feature_name(id), "feature {id}");
            assert_eq!(one.idf(id), three.idf(id), "feature {id}");
        }
        assert!((0..one.len()).any(|id| one.feature_name(id).is_some_and(|n| n.len() > 7 && !n.is_ascii())));
    }

    /// A packed n-gram's name is read back from its key, a hashed one's is kept as seen: both
    /// kinds come out named, in frequency-then-name order, and serve the same features.
    #[test]
    fn packed_and_hashed_character_n_grams_keep_their_names() {
        let docs = ["привет мир", "привет друг", "мир abc"];
        let v = Vectorizer::fit(FeatureConfig::default(), &docs).unwrap();
        let grams: Vec<String> = (0..v.len())
            .filter(|&i| v.is_char_feature(i))
            .filter_map(|i| v.feature_name(i))
            .collect();
        // " при" and "вет " are 7 bytes (packed); "прив", "риве", "ивет" are 8 (hashed)
        for g in ["_при", "прив", "риве", "ивет", "вет_", "_мир", "мир_", "_abc", "abc_"] {
            assert!(grams.contains(&g.to_string()), "{g} missing from {grams:?}");
        }
        let df2 = ["_мир", "_при", "вет_", "ивет", "мир_", "прив", "риве"];
        assert_eq!(grams[..df2.len()], df2.map(String::from), "seen twice first, by name");
        let x = v.transform("привет");
        let hit: Vec<String> = x.indices.iter().filter_map(|&f| v.feature_name(f as usize)).collect();
        assert!(["_при", "прив", "риве", "ивет", "вет_"]
            .iter()
            .all(|g| hit.contains(&g.to_string())));
    }
}
