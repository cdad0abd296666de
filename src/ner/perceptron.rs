//! The averaged structured perceptron (Collins 2002) as a linfa algorithm: emissions from
//! hashed token features, first-order transitions, Viterbi decoding restricted to valid BIO
//! transitions both while training and when tagging.

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

/// Checked hyperparameters.
#[derive(Debug, Clone, PartialEq)]
pub struct PerceptronValidParams {
    epochs: usize,
    seed: u64,
}

/// Hyperparameters, checked once by linfa's [`ParamGuard`].
#[derive(Debug, Clone, PartialEq)]
pub struct PerceptronParams(PerceptronValidParams);

impl Default for PerceptronParams {
    fn default() -> Self {
        PerceptronParams(PerceptronValidParams { epochs: 12, seed: 7 })
    }
}

impl PerceptronParams {
    /// Passes over the training sentences.
    pub fn epochs(mut self, n: usize) -> Self {
        self.0.epochs = n;
        self
    }

    /// Shuffling seed: the same seed and data give the same model.
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
        Ok(&self.0)
    }

    fn check(self) -> Result<PerceptronValidParams, NerError> {
        self.check_ref()?;
        Ok(self.0)
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

/// Most emission weights a model may have (256 MiB of f32): 2^20 buckets × 64 tags.
pub const MAX_EMISSION: usize = 1 << 26;

/// Stored form: emission weights quantised to i16 with one scale (decoding is unchanged to
/// within 1/32767 of the largest weight).
///
/// Most weights are zero (a bucket touches few tags), so the quantised emissions are stored as
/// (zeros skipped, value) pairs: the default model is a few MB instead of tens.
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
        let max = m.emission.iter().fold(0.0f32, |a, w| a.max(w.abs()));
        let scale = if max > 0.0 && max.is_finite() {
            max / i16::MAX as f32
        } else {
            1.0
        };
        let mut emission = Vec::new();
        let mut zeros = 0u32;
        for w in &m.emission {
            let q = (w / scale).round() as i16;
            if q == 0 {
                zeros += 1;
            } else {
                emission.push((zeros, q));
                zeros = 0;
            }
        }
        ChainData {
            tags: m.tags,
            scale,
            emission_len: m.emission.len() as u32,
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
        let mut emission = vec![0.0f32; len];
        let mut at = 0usize;
        for (zeros, q) in d.emission {
            at = at.saturating_add(zeros as usize);
            *emission.get_mut(at).ok_or("emission weights overflow their length")? = q as f32 * d.scale;
            at += 1;
        }
        Ok(ChainModel {
            tags: d.tags,
            emission,
            transition: d.transition,
            allowed: d.allowed,
            can_end: d.can_end,
        })
    }
}

/// Weights of a linear-chain model: emissions feature-major (`emission[bucket * tags + tag]`)
/// and transitions `(prev + 1) * tags + next`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(into = "ChainData", try_from = "ChainData")]
pub struct ChainModel {
    pub tags: usize,
    pub emission: Vec<f32>,
    pub transition: Vec<f32>,
    pub allowed: Vec<bool>,
    /// Tags a sentence may end on.
    pub can_end: Vec<bool>,
}

impl ChainModel {
    /// Add another model's weights to these (same tags and buckets): summed averaged
    /// perceptrons decode as their mean does.
    pub fn add_weights(&mut self, other: &ChainModel) {
        self.emission.iter_mut().zip(&other.emission).for_each(|(a, b)| *a += b);
        self.transition
            .iter_mut()
            .zip(&other.transition)
            .for_each(|(a, b)| *a += b);
    }

    pub fn validate(&self, buckets: usize) -> Result<(), String> {
        let t = self.tags;
        // checked: the tag count may come from a hostile file
        let pairs = t.checked_add(1).and_then(|n| n.checked_mul(t));
        if t == 0 || Some(self.emission.len()) != buckets.checked_mul(t) || Some(self.transition.len()) != pairs {
            return Err("weights do not match the tag set".into());
        }
        if Some(self.allowed.len()) != pairs || self.can_end.len() != t {
            return Err("transition constraints do not match the tag set".into());
        }
        if self.emission.iter().chain(&self.transition).any(|w| !w.is_finite()) {
            return Err("a weight is not a finite number".into());
        }
        Ok(())
    }

    /// The best valid tag sequence (Viterbi). Every tag may start a sentence unless it is
    /// forbidden there; if the constraints leave no path, the unconstrained best is used.
    pub fn decode(&self, sentence: &[Vec<u32>]) -> Vec<usize> {
        let t = self.tags;
        let n = sentence.len();
        if n == 0 {
            return Vec::new();
        }
        let mut emit = vec![0.0f32; n * t];
        for (i, feats) in sentence.iter().enumerate() {
            let row = &mut emit[i * t..(i + 1) * t];
            for &f in feats {
                if let Some(w) = self.emission.get(f as usize * t..(f as usize + 1) * t) {
                    row.iter_mut().zip(w).for_each(|(r, w)| *r += w);
                }
            }
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
        }
        let b = x.buckets;
        let mut model = ChainModel {
            tags: t,
            emission: vec![0.0; b * t],
            transition: vec![0.0; (t + 1) * t],
            allowed,
            can_end,
        };
        // averaging: keep Σ c·δ beside the weights; the average is w − acc / c
        let mut acc_e = vec![0.0f64; b * t];
        let mut acc_t = vec![0.0f64; (t + 1) * t];
        let mut c = 1.0f64;
        let mut order: Vec<usize> = (0..y.len()).collect();
        let mut rng = SplitMix::new(self.seed);
        for _ in 0..self.epochs {
            rng.shuffle(&mut order);
            for &s in &order {
                let (feats, gold) = (&x.sentences[s], &y[s]);
                let pred = model.decode(feats);
                if pred != *gold {
                    for (i, f) in feats.iter().enumerate() {
                        if pred[i] != gold[i] {
                            for &bkt in f {
                                let base = bkt as usize * t;
                                model.emission[base + gold[i]] += 1.0;
                                acc_e[base + gold[i]] += c;
                                model.emission[base + pred[i]] -= 1.0;
                                acc_e[base + pred[i]] -= c;
                            }
                        }
                        let (gp, pp) = if i == 0 {
                            (0, 0)
                        } else {
                            (gold[i - 1] + 1, pred[i - 1] + 1)
                        };
                        if (gp, gold[i]) != (pp, pred[i]) {
                            model.transition[gp * t + gold[i]] += 1.0;
                            acc_t[gp * t + gold[i]] += c;
                            model.transition[pp * t + pred[i]] -= 1.0;
                            acc_t[pp * t + pred[i]] -= c;
                        }
                    }
                }
                c += 1.0;
            }
        }
        for (w, a) in model.emission.iter_mut().zip(&acc_e) {
            *w = (*w as f64 - a / c) as f32;
        }
        for (w, a) in model.transition.iter_mut().zip(&acc_t) {
            *w = (*w as f64 - a / c) as f32;
        }
        Ok(model)
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
            emission,
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
