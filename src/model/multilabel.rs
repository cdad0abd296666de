//! Multi-label topics: one-vs-rest logistic regressions (each a linfa fit), and one decision
//! threshold per label chosen by k-fold cross-validation to maximise that label's F1.
//! A multi-label model returns every label whose probability reaches its threshold (at least
//! the single most probable one), best first.

use super::char_choice::{self, CharVerdict};
use super::linear::{interleave, LinearModel, Link};
use super::softmax::{fit_binary, MarginLoss};
use super::{label_set, vectorize_judged, Classifier, ModelError, ModelMeta, TopicModel, TrainConfig};
use crate::eval::{score_multilabel, Metrics, SplitMix};
use crate::features::SparseMatrix;
use rayon::prelude::*;

/// A text with any number of labels.
#[derive(Debug, Clone, PartialEq)]
pub struct MultiLabelExample {
    pub text: String,
    pub labels: Vec<String>,
}

/// Candidate thresholds tried per label.
const THRESHOLDS: [f32; 17] = [
    0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9,
];

/// One binary logistic regression per label on the rows `rows` of `x`.
fn fit_ovr(x: &SparseMatrix, sets: &[Vec<usize>], rows: &[usize], k: usize, c: f64) -> Result<LinearModel, ModelError> {
    let d = x.ncols();
    // one binary regression per label, independent: fitted in parallel
    let per_label: Vec<(Vec<f64>, f64)> = (0..k)
        .into_par_iter()
        .map(|label| {
            let signs: Vec<f64> = sets
                .iter()
                .map(|s| if s.contains(&label) { 1.0 } else { -1.0 })
                .collect();
            let positives = rows.iter().filter(|&&i| signs[i] > 0.0).count();
            if positives == 0 || positives == rows.len() {
                // nothing to separate in this training part: a constant, very sure answer
                return (vec![0.0; d], if positives == 0 { -10.0 } else { 10.0 });
            }
            fit_binary(x, &signs, rows, c, MarginLoss::Logistic, 300, 1e-5)
        })
        .collect();
    let (weights, bias) = interleave(d, &per_label);
    LinearModel::new(k, d, weights, bias, Link::Independent).map_err(ModelError::NotConverged)
}

/// Labels predicted from per-label probabilities: all at or over their threshold, or else the best.
pub fn select(p: &[f64], thresholds: &[f32]) -> Vec<usize> {
    let mut chosen: Vec<usize> = (0..p.len())
        .filter(|&c| p[c] >= thresholds.get(c).copied().unwrap_or(0.5) as f64)
        .collect();
    if chosen.is_empty() {
        chosen.push(super::argmax(p));
    }
    chosen
}

/// Train a multi-label model; `folds ≥ 2` tunes the thresholds (and reports metrics) by
/// cross-validation, otherwise every threshold is 0.5.
pub fn train_multilabel(
    examples: &[MultiLabelExample],
    config: &TrainConfig,
    folds: usize,
) -> Result<TopicModel, ModelError> {
    train_multilabel_judged(examples, config, folds).map(|(model, _)| model)
}

/// [`train_multilabel`], with the verdict on the character n-grams when the config left them
/// to the corpus: judged per label ([`char_choice::judge_sets`]), as single-label training
/// judges them per row.
pub fn train_multilabel_judged(
    examples: &[MultiLabelExample],
    config: &TrainConfig,
    folds: usize,
) -> Result<(TopicModel, Option<CharVerdict>), ModelError> {
    let labels = label_set(examples.iter().flat_map(|e| e.labels.iter()))?;
    let k = labels.len();
    let sets: Vec<Vec<usize>> = examples
        .iter()
        .map(|e| e.labels.iter().filter_map(|l| labels.binary_search(l).ok()).collect())
        .collect();
    let texts: Vec<&str> = examples.iter().map(|e| e.text.as_str()).collect();
    let (vectorizer, x, verdict) = vectorize_judged(config, &texts, |x, vectorizer| {
        char_choice::judge_sets(x, &sets, k, config.alpha(), |j| vectorizer.is_char_feature(j))
    })?;
    let all: Vec<usize> = (0..examples.len()).collect();
    let mut thresholds = vec![0.5f32; k];
    let mut metrics = None;
    if folds >= 2 && examples.len() >= folds {
        // out-of-fold probabilities (the vocabulary is shared across folds: a small optimism
        // that does not move the thresholds much)
        let mut order = all.clone();
        SplitMix::new(crate::pipeline::CV_SEED).shuffle(&mut order);
        let mut oof = vec![vec![0.0f64; k]; examples.len()];
        for f in 0..folds {
            let train: Vec<usize> = order
                .iter()
                .enumerate()
                .filter(|(p, _)| p % folds != f)
                .map(|(_, &i)| i)
                .collect();
            let model = fit_ovr(&x, &sets, &train, k, config.c())?;
            for (p, &i) in order.iter().enumerate() {
                if p % folds == f {
                    model.predict_proba_row(x.row(i), &mut oof[i]);
                }
            }
        }
        for (label, t) in thresholds.iter_mut().enumerate() {
            let f1 = |th: f32| -> f64 {
                let (mut tp, mut fp, mut fnn) = (0.0f64, 0.0f64, 0.0f64);
                for (i, p) in oof.iter().enumerate() {
                    let truth = sets[i].contains(&label);
                    let said = p[label] >= th as f64;
                    match (truth, said) {
                        (true, true) => tp += 1.0,
                        (false, true) => fp += 1.0,
                        (true, false) => fnn += 1.0,
                        _ => {}
                    }
                }
                if tp == 0.0 {
                    0.0
                } else {
                    2.0 * tp / (2.0 * tp + fp + fnn)
                }
            };
            // best F1; ties go to the threshold nearest 0.5
            *t = THRESHOLDS
                .iter()
                .copied()
                .max_by(|a, b| {
                    f1(*a)
                        .total_cmp(&f1(*b))
                        .then(((b - 0.5).abs()).total_cmp(&(a - 0.5).abs()))
                })
                .unwrap_or(0.5);
        }
        let predicted: Vec<Vec<usize>> = oof.iter().map(|p| select(p, &thresholds)).collect();
        let mut m: Metrics = score_multilabel(&sets, &predicted, &labels);
        m.folds = folds as u32;
        metrics = Some(m);
    }
    let classifier = Classifier::Softmax(fit_ovr(&x, &sets, &all, k, config.c())?);
    let meta = ModelMeta {
        metrics,
        ..ModelMeta::trained_now(examples.len())
    };
    let mut model = TopicModel::new(labels, vectorizer, classifier, meta).map_err(ModelError::NotConverged)?;
    model.set_thresholds(thresholds).map_err(ModelError::NotConverged)?;
    Ok((model, verdict))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::FeatureConfig;
    use std::collections::BTreeSet;
    use std::path::Path;

    fn examples() -> Vec<MultiLabelExample> {
        let topics = [
            ("drugs", ["kartel", "kokain", "sabu", "narkoba"]),
            ("health", ["vaksin", "pasien", "dokter", "wabah"]),
            ("migration", ["migran", "perbatasan", "suaka", "visa"]),
        ];
        let mut v = Vec::new();
        for i in 0..30 {
            let (a, wa) = topics[i % 3];
            let (b, wb) = topics[(i + 1) % 3];
            let both = i % 2 == 0;
            let mut text = format!("{} {} berita", wa[i % 4], wa[(i + 1) % 4]);
            let mut labels = vec![a.to_string()];
            if both {
                text.push_str(&format!(" {} {}", wb[i % 4], wb[(i + 2) % 4]));
                labels.push(b.to_string());
            }
            v.push(MultiLabelExample { text, labels });
        }
        v
    }

    #[test]
    fn returns_every_label_over_its_threshold() {
        let m = train_multilabel(&examples(), &TrainConfig::default(), 3).unwrap();
        assert!(m.is_multi_label());
        assert_eq!(m.thresholds().unwrap().len(), 3);
        let both = m.classify("kartel kokain dan vaksin pasien", 0);
        let names: BTreeSet<&str> = both.iter().map(|l| l.label.as_str()).collect();
        assert_eq!(names, BTreeSet::from(["drugs", "health"]), "{both:?}");
        let one = m.classify("suaka visa migran", 0);
        assert_eq!(one[0].label, "migration");
        assert!(!one.is_empty());
        assert!(!m.classify("zzz", 0).is_empty(), "never no label");
        let metrics = m.meta.metrics.as_ref().unwrap();
        assert_eq!(metrics.folds, 3);
        assert!(metrics.macro_f1 > 0.8, "{metrics:?}");
    }

    #[test]
    fn character_n_grams_are_judged_per_label() {
        // topics told apart by whole words: the n-grams add nothing measurable, and dropped
        // they leave exactly the model trained without them
        let (m, verdict) = train_multilabel_judged(&examples(), &TrainConfig::default(), 3).unwrap();
        let v = verdict.expect("30 rows of 3 labels are judged");
        assert!(!v.keep(), "{v:?}");
        assert!(!m.vectorizer().config().char_ngrams());
        let words = TrainConfig {
            features: FeatureConfig::default().without_char_ngrams(),
            ..TrainConfig::default()
        };
        assert_eq!(train_multilabel(&examples(), &words, 3).unwrap().version(), m.version());
        // every word new, each label marked by its own ending: only the n-grams generalise
        let endings = [("a", "nggar"), ("b", "mptox"), ("c", "lwirk")];
        let rows: Vec<MultiLabelExample> = (0..45)
            .map(|i| {
                let (first, second) = (endings[i % 3], endings[(i + 1) % 3]);
                let mut text = format!("x{i}{} q{i}z{}", first.1, first.1);
                let mut labels = vec![first.0.to_string()];
                if i % 2 == 0 {
                    text.push_str(&format!(" w{i}{}", second.1));
                    labels.push(second.0.to_string());
                }
                MultiLabelExample { text, labels }
            })
            .collect();
        let (m, verdict) = train_multilabel_judged(&rows, &TrainConfig::default(), 3).unwrap();
        let v = verdict.expect("judged");
        assert!(v.keep(), "{v:?}");
        assert!(m.vectorizer().config().char_ngrams());
        let got: BTreeSet<String> = m
            .classify("y99nggar k98mptox", 0)
            .into_iter()
            .map(|l| l.label)
            .collect();
        assert_eq!(got, BTreeSet::from(["a".to_string(), "b".to_string()]));
    }

    #[test]
    fn thresholds_survive_the_model_file_and_change_the_version() {
        let m = train_multilabel(&examples(), &TrainConfig::default(), 3).unwrap();
        let back = TopicModel::from_bytes(&m.to_bytes().unwrap(), Path::new("m")).unwrap();
        assert_eq!(back.thresholds(), m.thresholds());
        assert_eq!(back.version(), m.version());
        let mut other = back.clone();
        other.set_thresholds(vec![0.5; 3]).unwrap();
        assert_ne!(other.version(), m.version());
        assert!(other.set_thresholds(vec![1.5; 3]).is_err());
        assert!(other.set_thresholds(vec![0.5; 2]).is_err());
    }
}
