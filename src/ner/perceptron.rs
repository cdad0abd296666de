//! The averaged structured perceptron (Collins 2002) as a linfa algorithm: emissions from
//! hashed token features, first-order transitions, Viterbi decoding restricted to valid BIO or
//! BIOES transitions and endings both while training and when tagging. Trained dense, the
//! emissions are kept sparse and quantised for tagging ([`Emissions`]).

use super::NerError;
use crate::eval::SplitMix;
use linfa::dataset::Records;
use linfa::prelude::*;
use serde::{Deserialize, Serialize};

/// Sentences as hashed token features: `sentences[s][i]` lists the feature buckets of token i.
#[derive(Debug, Clone, Default)]
pub struct SequenceRecords {
    pub sentences: Vec<Vec<Vec<u32>>>,
    pub buckets: usize,
}

impl Records for SequenceRecords {
    type Elem = u32;

    fn nsamples(&self) -> usize {
        self.sentences.len()
    }

    fn nfeatures(&self) -> usize {
        self.buckets
    }
}

/// The two halves of a tag name: ("B", "PER") for "B-PER"; "O" and other tags have no kind.
fn split_tag(tag: &str) -> Option<(&str, &str)> {
    match tag.split_once('-') {
        Some((p @ ("B" | "I" | "E" | "S"), kind)) => Some((p, kind)),
        _ => None,
    }
}

/// Which tag may follow which: `allowed[(prev + 1) * tags + next]`, row 0 = sentence start.
/// BIO: "I-X" only continues "B-X" or "I-X". BIOES (the tag set has "E-X"): "I-X" and "E-X"
/// only continue "B-X" or "I-X", and those must be continued. Other tags may go anywhere.
pub fn chain_transitions(tags: &[String]) -> Vec<bool> {
    let t = tags.len();
    let closes = |kind: &str| tags.iter().any(|n| split_tag(n) == Some(("E", kind)));
    // a BIOES "B-X" or "I-X" must be continued
    let opens = |tag: &str| matches!(split_tag(tag), Some(("B" | "I", kind)) if closes(kind));
    let mut allowed = vec![true; (t + 1) * t];
    for (next, name) in tags.iter().enumerate() {
        let continues = match split_tag(name) {
            Some(("I" | "E", kind)) => Some(kind),
            _ => None,
        };
        allowed[next] = continues.is_none();
        for (prev, p) in tags.iter().enumerate() {
            let ok = match continues {
                Some(kind) => matches!(split_tag(p), Some(("B" | "I", k)) if k == kind),
                None => !opens(p),
            };
            allowed[(prev + 1) * t + next] = ok;
        }
    }
    allowed
}

/// Which tags may end a sentence: all but a BIOES span's "B-X" and "I-X".
pub fn chain_endings(tags: &[String]) -> Vec<bool> {
    let closes = |kind: &str| tags.iter().any(|n| split_tag(n) == Some(("E", kind)));
    tags.iter()
        .map(|n| !matches!(split_tag(n), Some(("B" | "I", kind)) if closes(kind)))
        .collect()
}

/// Most emission weights a model may have (256 MiB of f32 while training): 2^20 buckets × 64 tags.
pub const MAX_EMISSION: usize = 1 << 26;

/// Emission weights as tagging reads them: quantised to i16 with one scale, and sparse. Most
/// weights are zero (a bucket touches few tags), so bucket b's nonzero weights are
/// `entries[offsets[b]..offsets[b + 1]]` as (tag, weight ÷ scale). The dense f32 table of a
/// NERP model is 88 MB and every token's ~44 features missed the cache in it; this one is a
/// few MB.
#[derive(Debug, Clone, PartialEq)]
pub struct Emissions {
    scale: f32,
    offsets: Vec<u32>,
    entries: Vec<(u16, i16)>,
}

impl Emissions {
    /// Quantise dense `weights[bucket * tags + tag]` (decoding changes by at most 1/32767 of
    /// the largest weight per feature).
    fn quantise(weights: &[f32], tags: usize) -> Self {
        let max = weights.iter().fold(0.0f32, |a, w| a.max(w.abs()));
        let scale = if max > 0.0 && max.is_finite() {
            max / i16::MAX as f32
        } else {
            1.0
        };
        let mut offsets = Vec::with_capacity(weights.len() / tags.max(1) + 1);
        let mut entries = Vec::new();
        offsets.push(0);
        for row in weights.chunks(tags.max(1)) {
            for (tag, w) in row.iter().enumerate() {
                let q = (w / scale).round() as i16;
                if q != 0 {
                    entries.push((tag as u16, q));
                }
            }
            offsets.push(entries.len() as u32);
        }
        Emissions {
            scale,
            offsets,
            entries,
        }
    }

    fn buckets(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    /// Where bucket `f`'s weights lie in `entries` (empty for a bucket out of range).
    #[inline]
    fn range(&self, f: u32) -> (u32, u32) {
        let f = f as usize;
        match (self.offsets.get(f), self.offsets.get(f + 1)) {
            (Some(&a), Some(&b)) => (a, b),
            _ => (0, 0),
        }
    }

    /// Emission scores `out[i * tags + tag]` of a sentence's feature buckets.
    ///
    /// In two passes, first every bucket's range, then their weights: the loads of each pass
    /// are independent, so their cache misses overlap instead of queueing one behind another.
    fn scores(&self, sentence: &[Vec<u32>], tags: usize, out: &mut Vec<f32>) {
        let ranges: Vec<(u32, u32)> = sentence.iter().flatten().map(|&f| self.range(f)).collect();
        let mut acc = vec![0i32; sentence.len() * tags];
        let mut ranges = ranges.into_iter();
        for (feats, row) in sentence.iter().zip(acc.chunks_mut(tags.max(1))) {
            for (a, b) in ranges.by_ref().take(feats.len()) {
                for &(tag, w) in self.entries.get(a as usize..b as usize).unwrap_or_default() {
                    if let Some(r) = row.get_mut(tag as usize) {
                        *r += w as i32;
                    }
                }
            }
        }
        out.clear();
        out.extend(acc.into_iter().map(|q| q as f32 * self.scale));
    }
}

/// Stored form: the quantised emissions as (zeros skipped, value) pairs over the dense
/// bucket-major table, so the default model is a few MB.
#[derive(Serialize, Deserialize)]
struct ChainData {
    tags: usize,
    scale: f32,
    emission_len: u32,
    emission: Vec<(u32, i16)>,
    transition: Vec<f32>,
    allowed: Vec<bool>,
    can_end: Vec<bool>,
}

impl From<ChainModel> for ChainData {
    fn from(m: ChainModel) -> Self {
        let t = m.tags;
        let mut emission = Vec::with_capacity(m.emission.entries.len());
        let mut next = 0usize; // dense position after the last written weight
        for (bucket, pair) in m.emission.offsets.windows(2).enumerate() {
            for &(tag, q) in m
                .emission
                .entries
                .get(pair[0] as usize..pair[1] as usize)
                .unwrap_or_default()
            {
                let at = bucket * t + tag as usize;
                emission.push(((at - next) as u32, q));
                next = at + 1;
            }
        }
        ChainData {
            tags: t,
            scale: m.emission.scale,
            emission_len: (m.emission.buckets() * t) as u32,
            emission,
            transition: m.transition,
            allowed: m.allowed,
            can_end: m.can_end,
        }
    }
}

impl TryFrom<ChainData> for ChainModel {
    type Error = String;

    fn try_from(d: ChainData) -> Result<Self, String> {
        if !(d.scale.is_finite() && d.scale > 0.0) {
            return Err(format!("bad weight scale {}", d.scale));
        }
        let len = d.emission_len as usize;
        // the length comes from the file: bound it before allocating
        if len > MAX_EMISSION {
            return Err(format!("{len} emission weights exceed the limit of {MAX_EMISSION}"));
        }
        let t = d.tags;
        if t == 0 || len % t != 0 || d.emission.len() > len {
            return Err("emission weights do not match the tag set".into());
        }
        let buckets = len / t;
        let mut offsets = Vec::with_capacity(buckets + 1);
        offsets.push(0u32);
        let mut entries = Vec::with_capacity(d.emission.len());
        let mut at = 0usize;
        for (zeros, q) in d.emission {
            at = at.saturating_add(zeros as usize);
            if at >= len {
                return Err("emission weights overflow their length".into());
            }
            let bucket = at / t;
            while offsets.len() <= bucket {
                offsets.push(entries.len() as u32);
            }
            entries.push(((at % t) as u16, q));
            at += 1;
        }
        while offsets.len() <= buckets {
            offsets.push(entries.len() as u32);
        }
        Ok(ChainModel {
            tags: t,
            emission: Emissions {
                scale: d.scale,
                offsets,
                entries,
            },
            transition: d.transition,
            allowed: d.allowed,
            can_end: d.can_end,
        })
    }
}

/// A trained linear-chain model: sparse emissions and transitions `(prev + 1) * tags + next`
/// (row 0 = sentence start), with the allowed transitions and endings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(into = "ChainData", try_from = "ChainData")]
pub struct ChainModel {
    pub tags: usize,
    pub emission: Emissions,
    pub transition: Vec<f32>,
    pub allowed: Vec<bool>,
    /// Tags a sentence may end on.
    pub can_end: Vec<bool>,
}

/// What Viterbi needs besides the emissions.
struct Chain<'a> {
    tags: usize,
    transition: &'a [f32],
    allowed: &'a [bool],
    can_end: &'a [bool],
}

impl Chain<'_> {
    /// The best valid tag sequence for emission scores `emit[i * tags + tag]`. If the
    /// constraints leave no path, tag 0 fills in.
    fn viterbi(&self, emit: &[f32]) -> Vec<usize> {
        let t = self.tags;
        let n = emit.len() / t.max(1);
        if n == 0 {
            return Vec::new();
        }
        const NEG: f32 = f32::NEG_INFINITY;
        let mut score = vec![NEG; n * t];
        let mut back = vec![0u32; n * t];
        for k in 0..t {
            if self.allowed[k] {
                score[k] = emit[k] + self.transition[k];
            }
        }
        // the allowed (prev, next) pairs, once per sentence: BIOES allows about a third of them
        let pairs: Vec<(usize, usize)> = (0..t)
            .flat_map(|k| (0..t).map(move |p| (p, k)))
            .filter(|&(p, k)| self.allowed[(p + 1) * t + k])
            .collect();
        for i in 1..n {
            let mut pairs = pairs.iter().peekable();
            for k in 0..t {
                let mut best = NEG;
                let mut arg = 0;
                while let Some(&(p, _)) = pairs.next_if(|&&(_, next)| next == k) {
                    let prev = score[(i - 1) * t + p];
                    if prev == NEG {
                        continue;
                    }
                    let s = prev + self.transition[(p + 1) * t + k];
                    if s > best {
                        best = s;
                        arg = p;
                    }
                }
                if best > NEG {
                    score[i * t + k] = best + emit[i * t + k];
                    back[i * t + k] = arg as u32;
                }
            }
        }
        let last = &score[(n - 1) * t..];
        let mut k = (0..t)
            .filter(|&k| last[k] > NEG && self.can_end[k])
            .max_by(|&a, &b| last[a].total_cmp(&last[b]))
            .unwrap_or(0);
        let mut path = vec![0usize; n];
        for i in (0..n).rev() {
            path[i] = k;
            k = back[i * t + k] as usize;
        }
        path
    }
}

impl ChainModel {
    pub fn validate(&self, buckets: usize) -> Result<(), String> {
        let t = self.tags;
        // checked: the tag count may come from a hostile file
        let pairs = t.checked_add(1).and_then(|n| n.checked_mul(t));
        let e = &self.emission;
        if t == 0 || e.buckets() != buckets || Some(self.transition.len()) != pairs {
            return Err("weights do not match the tag set".into());
        }
        if e.offsets.first() != Some(&0)
            || e.offsets.last().map(|&l| l as usize) != Some(e.entries.len())
            || e.offsets.windows(2).any(|w| w[0] > w[1])
            || e.entries.iter().any(|&(tag, _)| tag as usize >= t)
        {
            return Err("emission weights are inconsistent".into());
        }
        if Some(self.allowed.len()) != pairs || self.can_end.len() != t {
            return Err("transition constraints do not match the tag set".into());
        }
        if !(e.scale.is_finite() && e.scale > 0.0) || self.transition.iter().any(|w| !w.is_finite()) {
            return Err("a weight is not a finite number".into());
        }
        Ok(())
    }

    fn chain(&self) -> Chain<'_> {
        Chain {
            tags: self.tags,
            transition: &self.transition,
            allowed: &self.allowed,
            can_end: &self.can_end,
        }
    }

    /// The best valid tag sequence (Viterbi) for a sentence's feature buckets.
    pub fn decode(&self, sentence: &[Vec<u32>]) -> Vec<usize> {
        let mut emit = Vec::new();
        self.emission.scores(sentence, self.tags, &mut emit);
        self.chain().viterbi(&emit)
    }
}

/// Checked hyperparameters.
#[derive(Debug, Clone, PartialEq)]
pub struct PerceptronValidParams {
    epochs: usize,
    runs: usize,
    seed: u64,
}

/// Hyperparameters, checked once by linfa's [`ParamGuard`].
#[derive(Debug, Clone, PartialEq)]
pub struct PerceptronParams(PerceptronValidParams);

impl Default for PerceptronParams {
    fn default() -> Self {
        PerceptronParams(PerceptronValidParams {
            epochs: 12,
            runs: 1,
            seed: 7,
        })
    }
}

impl PerceptronParams {
    /// Passes over the training sentences.
    pub fn epochs(mut self, n: usize) -> Self {
        self.0.epochs = n;
        self
    }

    /// Perceptrons trained on different shuffles of the sentences, their weights summed: a
    /// model that depends less on the order it saw the data in.
    pub fn runs(mut self, n: usize) -> Self {
        self.0.runs = n;
        self
    }

    /// Shuffling seed of the first run (run k uses seed + k): the same seed and data give the
    /// same model.
    pub fn seed(mut self, seed: u64) -> Self {
        self.0.seed = seed;
        self
    }
}

impl ParamGuard for PerceptronParams {
    type Checked = PerceptronValidParams;
    type Error = NerError;

    fn check_ref(&self) -> Result<&PerceptronValidParams, NerError> {
        if !(1..=200).contains(&self.0.epochs) {
            return Err(NerError::Params(format!(
                "epochs must be in 1..=200, got {}",
                self.0.epochs
            )));
        }
        if !(1..=32).contains(&self.0.runs) {
            return Err(NerError::Params(format!("runs must be in 1..=32, got {}", self.0.runs)));
        }
        Ok(&self.0)
    }

    fn check(self) -> Result<PerceptronValidParams, NerError> {
        self.check_ref()?;
        Ok(self.0)
    }
}

impl Fit<SequenceRecords, Vec<Vec<usize>>, NerError> for PerceptronValidParams {
    type Object = ChainModel;

    /// `targets[s][i]` is the tag index of token i of sentence s; the tag count is one more
    /// than the largest index. Every transition is allowed here; [`Self::fit_with`] takes
    /// constraints such as [`chain_transitions`].
    fn fit(&self, dataset: &DatasetBase<SequenceRecords, Vec<Vec<usize>>>) -> Result<ChainModel, NerError> {
        let tags = dataset.targets().iter().flatten().max().map_or(0, |m| m + 1);
        self.fit_with(dataset, vec![true; (tags + 1) * tags], vec![true; tags])
    }
}

impl PerceptronValidParams {
    /// Train under transition constraints (see [`chain_transitions`] and [`chain_endings`]).
    pub fn fit_with(
        &self,
        dataset: &DatasetBase<SequenceRecords, Vec<Vec<usize>>>,
        allowed: Vec<bool>,
        can_end: Vec<bool>,
    ) -> Result<ChainModel, NerError> {
        let x = dataset.records();
        let y = dataset.targets();
        if x.sentences.len() != y.len() {
            return Err(NerError::Data(format!(
                "{} sentences but {} tag rows",
                x.sentences.len(),
                y.len()
            )));
        }
        let t = y.iter().flatten().max().map_or(0, |m| m + 1);
        if t < 2 {
            return Err(NerError::Data("training needs at least 2 distinct tags".into()));
        }
        if t > u16::MAX as usize || x.buckets.saturating_mul(t) > MAX_EMISSION {
            return Err(NerError::Data(format!(
                "{} buckets × {t} tags is more weights than a model may hold ({MAX_EMISSION})",
                x.buckets
            )));
        }
        if allowed.len() != (t + 1) * t || can_end.len() != t {
            return Err(NerError::Data("transition constraints do not match the tag set".into()));
        }
        for (s, (feats, tags)) in x.sentences.iter().zip(y).enumerate() {
            if feats.len() != tags.len() {
                return Err(NerError::Data(format!(
                    "sentence {s}: {} tokens but {} tags",
                    feats.len(),
                    tags.len()
                )));
            }
            if feats.iter().flatten().any(|&f| f as usize >= x.buckets) {
                return Err(NerError::Data(format!(
                    "sentence {s}: a feature bucket is out of range"
                )));
            }
        }
        let chain = Chain {
            tags: t,
            transition: &[],
            allowed: &allowed,
            can_end: &can_end,
        };
        let mut emission = vec![0.0f32; x.buckets * t];
        let mut transition = vec![0.0f32; (t + 1) * t];
        for run in 0..self.runs as u64 {
            let (e, tr) = self.one_run(x, y, &chain, self.seed.wrapping_add(run));
            emission.iter_mut().zip(&e).for_each(|(a, b)| *a += b);
            transition.iter_mut().zip(&tr).for_each(|(a, b)| *a += b);
        }
        Ok(ChainModel {
            tags: t,
            emission: Emissions::quantise(&emission, t),
            transition,
            allowed,
            can_end,
        })
    }

    /// One averaged perceptron over one shuffle order: dense (emission, transition) weights.
    fn one_run(&self, x: &SequenceRecords, y: &[Vec<usize>], chain: &Chain, seed: u64) -> (Vec<f32>, Vec<f32>) {
        let t = chain.tags;
        let b = x.buckets;
        let mut emission = vec![0.0f32; b * t];
        let mut transition = vec![0.0f32; (t + 1) * t];
        // averaging: keep Σ c·δ beside the weights; the average is w − acc / c
        let mut acc_e = vec![0.0f64; b * t];
        let mut acc_t = vec![0.0f64; (t + 1) * t];
        let mut c = 1.0f64;
        let mut order: Vec<usize> = (0..y.len()).collect();
        let mut rng = SplitMix::new(seed);
        let mut emit = Vec::new();
        for _ in 0..self.epochs {
            rng.shuffle(&mut order);
            for &s in &order {
                let (feats, gold) = (&x.sentences[s], &y[s]);
                emit.clear();
                emit.resize(feats.len() * t, 0.0f32);
                for (f, row) in feats.iter().zip(emit.chunks_mut(t)) {
                    for &bkt in f {
                        let w = &emission[bkt as usize * t..(bkt as usize + 1) * t];
                        row.iter_mut().zip(w).for_each(|(r, w)| *r += w);
                    }
                }
                let pred = Chain {
                    transition: &transition,
                    ..*chain
                }
                .viterbi(&emit);
                if pred != *gold {
                    for (i, f) in feats.iter().enumerate() {
                        if pred[i] != gold[i] {
                            for &bkt in f {
                                let base = bkt as usize * t;
                                emission[base + gold[i]] += 1.0;
                                acc_e[base + gold[i]] += c;
                                emission[base + pred[i]] -= 1.0;
                                acc_e[base + pred[i]] -= c;
                            }
                        }
                        let (gp, pp) = if i == 0 {
                            (0, 0)
                        } else {
                            (gold[i - 1] + 1, pred[i - 1] + 1)
                        };
                        if (gp, gold[i]) != (pp, pred[i]) {
                            transition[gp * t + gold[i]] += 1.0;
                            acc_t[gp * t + gold[i]] += c;
                            transition[pp * t + pred[i]] -= 1.0;
                            acc_t[pp * t + pred[i]] -= c;
                        }
                    }
                }
                c += 1.0;
            }
        }
        for (w, a) in emission.iter_mut().zip(&acc_e) {
            *w = (*w as f64 - a / c) as f32;
        }
        for (w, a) in transition.iter_mut().zip(&acc_t) {
            *w = (*w as f64 - a / c) as f32;
        }
        (emission, transition)
    }
}

impl PredictInplace<SequenceRecords, Vec<Vec<usize>>> for ChainModel {
    fn predict_inplace(&self, x: &SequenceRecords, y: &mut Vec<Vec<usize>>) {
        *y = x.sentences.iter().map(|s| self.decode(s)).collect();
    }

    fn default_target(&self, x: &SequenceRecords) -> Vec<Vec<usize>> {
        vec![Vec::new(); x.sentences.len()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(tags: &str) -> Vec<String> {
        tags.split_whitespace().map(str::to_string).collect()
    }

    fn allowed(tags: &[String], prev: Option<&str>, next: &str) -> bool {
        let t = tags.len();
        let at = |n: &str| tags.iter().position(|x| x == n).unwrap();
        let row = prev.map_or(0, |p| at(p) + 1);
        chain_transitions(tags)[row * t + at(next)]
    }

    #[test]
    fn bio_constraints_only_stop_stray_insides() {
        let tags = names("B-PER I-PER B-LOC I-LOC O");
        assert!(!allowed(&tags, None, "I-PER"));
        assert!(!allowed(&tags, Some("O"), "I-PER"));
        assert!(!allowed(&tags, Some("B-LOC"), "I-PER"));
        assert!(allowed(&tags, Some("B-PER"), "I-PER"));
        assert!(allowed(&tags, Some("I-PER"), "I-PER"));
        assert!(allowed(&tags, Some("B-PER"), "O"));
        assert!(allowed(&tags, Some("I-PER"), "B-PER"));
        assert!(chain_endings(&tags).iter().all(|&e| e));
    }

    #[test]
    fn bioes_spans_must_close() {
        let tags = names("B-PER I-PER E-PER S-PER O");
        assert!(!allowed(&tags, None, "E-PER"));
        assert!(!allowed(&tags, Some("B-PER"), "O"));
        assert!(!allowed(&tags, Some("I-PER"), "S-PER"));
        assert!(allowed(&tags, Some("B-PER"), "E-PER"));
        assert!(allowed(&tags, Some("I-PER"), "I-PER"));
        assert!(allowed(&tags, Some("E-PER"), "B-PER"));
        assert!(allowed(&tags, Some("S-PER"), "O"));
        assert!(!allowed(&tags, Some("E-PER"), "I-PER"));
        assert_eq!(chain_endings(&tags), [false, false, true, true, true]);
    }

    #[test]
    fn decoding_keeps_to_the_constraints_whatever_the_weights() {
        // tags B I E S O; one feature per token, emissions shouting for an invalid "B O I"
        let tags = names("B-X I-X E-X S-X O");
        let t = tags.len();
        let mut emission = vec![0.0f32; 3 * t];
        emission[0] = 5.0; // token 0: B
        emission[t + 4] = 5.0; // token 1: O
        emission[2 * t + 1] = 5.0; // token 2: I (may not end a sentence)
        let model = ChainModel {
            tags: t,
            emission: Emissions::quantise(&emission, t),
            transition: vec![0.0; (t + 1) * t],
            allowed: chain_transitions(&tags),
            can_end: chain_endings(&tags),
        };
        model.validate(3).unwrap();
        let path = model.decode(&[vec![0], vec![1], vec![2]]);
        let valid = |p: &[usize]| {
            model.allowed[p[0]]
                && p.windows(2).all(|w| model.allowed[(w[0] + 1) * t + w[1]])
                && model.can_end[p[p.len() - 1]]
        };
        assert!(valid(&path), "{path:?}");
        assert!(model.decode(&[]).is_empty());
    }
}
