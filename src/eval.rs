//! Scoring: accuracy and macro-F1 (linfa's confusion matrix for accuracy; per-label figures
//! computed as scikit-learn does, so they compare one to one with the peers), and stratified
//! k-fold cross-validation at the text level — each fold fits its own vectorizer, so no IDF or
//! vocabulary leaks from the held-out fold.

use crate::model::{train, Example, ModelError, TrainConfig};
use linfa::prelude::*;
use ndarray::Array1;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Precision, recall and F1 of one label.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LabelMetrics {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// Rows whose true label this is.
    pub support: u64,
}

/// Scores of predictions against the truth.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    pub n: u64,
    pub accuracy: f64,
    /// Unweighted mean of per-label F1 over labels in the truth or the predictions
    /// (scikit-learn's `average="macro"`; undefined ratios count as 0).
    pub macro_f1: f64,
    pub per_label: BTreeMap<String, LabelMetrics>,
    /// k of k-fold cross-validation (0: a plain evaluation).
    pub folds: u32,
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// Precision, recall and F1 from counts (undefined ratios are 0, as scikit-learn reports them).
fn label_metrics(tp: u64, fp: u64, fnn: u64) -> LabelMetrics {
    let precision = ratio(tp, tp + fp);
    let recall = ratio(tp, tp + fnn);
    let f1 = if precision + recall > 0.0 {
        2.0 * precision * recall / (precision + recall)
    } else {
        0.0
    };
    LabelMetrics {
        precision,
        recall,
        f1,
        support: tp + fnn,
    }
}

/// Score predicted label indices against true ones; `labels` names the indices.
pub fn score(truth: &[usize], predicted: &[usize], labels: &[String]) -> Metrics {
    let n = truth.len().min(predicted.len());
    if n == 0 {
        return Metrics::default();
    }
    let t = Array1::from(truth[..n].to_vec());
    let p = Array1::from(predicted[..n].to_vec());
    let accuracy = p.confusion_matrix(&t).map_or(0.0, |cm| cm.accuracy() as f64);
    let k = labels
        .len()
        .max(truth.iter().chain(predicted).max().map_or(0, |m| m + 1));
    let (mut tp, mut fp, mut fnn) = (vec![0u64; k], vec![0u64; k], vec![0u64; k]);
    for (&y, &yhat) in t.iter().zip(p.iter()) {
        if y == yhat {
            tp[y] += 1;
        } else {
            fp[yhat] += 1;
            fnn[y] += 1;
        }
    }
    let mut per_label = BTreeMap::new();
    let mut f1_sum = 0.0;
    let mut present = 0;
    for c in 0..k {
        if tp[c] + fp[c] + fnn[c] == 0 {
            continue;
        }
        let m = label_metrics(tp[c], fp[c], fnn[c]);
        f1_sum += m.f1;
        present += 1;
        let name = labels.get(c).cloned().unwrap_or_else(|| format!("#{c}"));
        per_label.insert(name, m);
    }
    Metrics {
        n: n as u64,
        accuracy,
        macro_f1: if present > 0 { f1_sum / present as f64 } else { 0.0 },
        per_label,
        folds: 0,
    }
}

/// Score multi-label predictions: per-label precision/recall/F1 (each label a binary task),
/// macro-F1 over labels, and `accuracy` as exact-set match (subset accuracy).
pub fn score_multilabel(truth: &[Vec<usize>], predicted: &[Vec<usize>], labels: &[String]) -> Metrics {
    let n = truth.len().min(predicted.len());
    let k = labels.len();
    let (mut tp, mut fp, mut fnn) = (vec![0u64; k], vec![0u64; k], vec![0u64; k]);
    let mut exact = 0;
    for (t, p) in truth.iter().zip(predicted).take(n) {
        let mut ts: Vec<usize> = t.clone();
        let mut ps: Vec<usize> = p.clone();
        ts.sort_unstable();
        ts.dedup();
        ps.sort_unstable();
        ps.dedup();
        exact += usize::from(ts == ps);
        for c in 0..k {
            match (ts.contains(&c), ps.contains(&c)) {
                (true, true) => tp[c] += 1,
                (false, true) => fp[c] += 1,
                (true, false) => fnn[c] += 1,
                _ => {}
            }
        }
    }
    let mut per_label = BTreeMap::new();
    let mut f1_sum = 0.0;
    for c in 0..k {
        let m = label_metrics(tp[c], fp[c], fnn[c]);
        f1_sum += m.f1;
        per_label.insert(labels[c].clone(), m);
    }
    Metrics {
        n: n as u64,
        accuracy: ratio(exact as u64, n as u64),
        macro_f1: if k > 0 { f1_sum / k as f64 } else { 0.0 },
        per_label,
        folds: 0,
    }
}

/// SplitMix64: a tiny seeded generator for reproducible shuffles.
pub struct SplitMix(u64);

impl SplitMix {
    pub fn new(seed: u64) -> Self {
        SplitMix(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = (self.next_u64() % (i as u64 + 1)) as usize;
            v.swap(i, j);
        }
    }
}

/// Fold number of each example: stratified by label, shuffled with `seed`.
pub fn stratified_folds(labels: &[&str], k: usize, seed: u64) -> Vec<usize> {
    let mut by_label: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, l) in labels.iter().enumerate() {
        by_label.entry(l).or_default().push(i);
    }
    let mut rng = SplitMix::new(seed);
    let mut fold = vec![0; labels.len()];
    let mut next = 0;
    for idx in by_label.values_mut() {
        rng.shuffle(idx);
        for &i in idx.iter() {
            fold[i] = next % k;
            next += 1;
        }
    }
    fold
}

/// Stratified k-fold cross-validation: pooled out-of-fold predictions scored once.
pub fn cross_validate(examples: &[Example], config: &TrainConfig, k: usize, seed: u64) -> Result<Metrics, ModelError> {
    if k < 2 || k > examples.len() {
        return Err(ModelError::Data(format!(
            "{k}-fold cross-validation needs 2 ≤ k ≤ {} (the number of rows)",
            examples.len()
        )));
    }
    let label_of: Vec<&str> = examples.iter().map(|e| e.label.as_str()).collect();
    let fold = stratified_folds(&label_of, k, seed);
    let labels: Vec<String> = {
        let mut l: Vec<String> = examples.iter().map(|e| e.label.clone()).collect();
        l.sort();
        l.dedup();
        l
    };
    let index_of = |name: &str| labels.binary_search_by(|l| l.as_str().cmp(name)).unwrap_or(0);
    let run_fold = |f: usize| -> Result<Vec<(usize, usize)>, ModelError> {
        let train_set: Vec<Example> = examples
            .iter()
            .zip(&fold)
            .filter(|(_, &g)| g != f)
            .map(|(e, _)| e.clone())
            .collect();
        let model = train(&train_set, config)?;
        Ok(examples
            .iter()
            .enumerate()
            .filter(|&(i, _)| fold[i] == f)
            .map(|(i, e)| (i, index_of(&model.labels()[model.predict_index(&e.text)])))
            .collect())
    };
    // folds are independent: spread them over the cores
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(k);
    let results: Vec<Result<Vec<(usize, usize)>, ModelError>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let run_fold = &run_fold;
                s.spawn(move || (t..k).step_by(threads).map(run_fold).collect::<Vec<_>>())
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| {
                h.join()
                    .unwrap_or_else(|_| vec![Err(ModelError::NotConverged("a fold panicked".into()))])
            })
            .collect()
    });
    let mut predicted = vec![0; examples.len()];
    for r in results {
        for (i, p) in r? {
            predicted[i] = p;
        }
    }
    let truth: Vec<usize> = examples.iter().map(|e| index_of(&e.label)).collect();
    let mut m = score(&truth, &predicted, &labels);
    m.folds = k as u32;
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn scores_like_scikit_learn() {
        // scikit-learn gives: accuracy 0.5, F1 a=0.4 b=0.8 c=0, macro 0.4
        let truth = [0, 0, 1, 1, 2, 2];
        let pred = [0, 1, 1, 1, 0, 0];
        let m = score(&truth, &pred, &names(&["a", "b", "c"]));
        assert!((m.accuracy - 0.5).abs() < 1e-6);
        assert!((m.per_label["a"].f1 - 0.4).abs() < 1e-9);
        assert!((m.per_label["b"].f1 - 0.8).abs() < 1e-9);
        assert_eq!(m.per_label["c"].f1, 0.0);
        assert!((m.macro_f1 - 0.4).abs() < 1e-9);
        assert_eq!(m.per_label["c"].support, 2);
        assert_eq!(m.n, 6);
    }

    #[test]
    fn empty_input_scores_zero() {
        assert_eq!(score(&[], &[], &[]).n, 0);
    }

    #[test]
    fn folds_are_stratified_and_reproducible() {
        let labels: Vec<&str> = (0..30).map(|i| if i % 3 == 0 { "a" } else { "b" }).collect();
        let f = stratified_folds(&labels, 5, 7);
        assert_eq!(f, stratified_folds(&labels, 5, 7));
        for g in 0..5 {
            let a = (0..30).filter(|&i| f[i] == g && labels[i] == "a").count();
            assert_eq!(a, 2);
        }
    }

    #[test]
    fn cross_validation_checks_k() {
        let ex = vec![
            Example {
                text: "a".into(),
                label: "x".into(),
            };
            3
        ];
        assert!(cross_validate(&ex, &TrainConfig::default(), 1, 0).is_err());
        assert!(cross_validate(&ex, &TrainConfig::default(), 4, 0).is_err());
    }
}
