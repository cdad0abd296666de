//! NB-weighted linear models, one-vs-rest, as linfa algorithms: Wang & Manning's NB-SVM
//! ("Baselines and Bigrams", 2012) and its logistic form NB-LR. For each label, features are
//! scaled by their naive Bayes log-count ratio (how much more often they occur with the label
//! than without), and a binary linear model is fitted on the scaled features: a logistic
//! regression (NB-LR, probabilities one-vs-rest) or an L2-regularised squared-hinge SVM
//! (NB-SVM, probabilities from a softmax temperature fitted on out-of-fold scores, as for the
//! plain linear SVM). Strong on short texts.

use super::linear::{fit_calibrated, fit_inputs, interleave, LinearModel, Link};
use super::softmax::{fit_binary, fit_svm_dual, MarginLoss};
use super::ModelError;
use crate::features::{SparseMatrix, SparseVec};
use linfa::prelude::*;
use ndarray::Array1;
use rayon::prelude::*;

/// Where dual coordinate descent stops: the projected gradient's spread (liblinear's 0.1).
pub(crate) const DUAL_TOLERANCE: f64 = 0.1;

/// Which binary model is fitted over the NB-weighted features.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NbWeightedKind {
    /// NB-LR: logistic regression, probabilities one-vs-rest.
    Logistic,
    /// NB-SVM: squared-hinge SVM, probabilities from a fitted softmax temperature.
    Svm,
}

/// Checked hyperparameters.
#[derive(Debug, Clone, PartialEq)]
pub struct NbWeightedValidParams {
    kind: NbWeightedKind,
    c: f64,
    alpha: f64,
}

/// Hyperparameters, checked once by linfa's [`ParamGuard`].
#[derive(Debug, Clone, PartialEq)]
pub struct NbWeightedParams(NbWeightedValidParams);

impl NbWeightedParams {
    /// NB-LR, C 20 (best by CV on the embedded corpus).
    pub fn logistic() -> Self {
        NbWeightedParams(NbWeightedValidParams {
            kind: NbWeightedKind::Logistic,
            c: 20.0,
            alpha: 1.0,
        })
    }

    /// NB-SVM, C 1 (best or within 0.01 by 5-fold CV on all four corpora).
    pub fn svm() -> Self {
        NbWeightedParams(NbWeightedValidParams {
            kind: NbWeightedKind::Svm,
            c: 1.0,
            alpha: 1.0,
        })
    }

    /// Inverse L2 regularisation of each binary model.
    pub fn c(mut self, c: f64) -> Self {
        self.0.c = c;
        self
    }

    /// Smoothing of the log-count ratios.
    pub fn alpha(mut self, alpha: f64) -> Self {
        self.0.alpha = alpha;
        self
    }
}

impl ParamGuard for NbWeightedParams {
    type Checked = NbWeightedValidParams;
    type Error = ModelError;

    fn check_ref(&self) -> Result<&NbWeightedValidParams, ModelError> {
        let p = &self.0;
        if !(p.c.is_finite() && p.c > 0.0) {
            return Err(ModelError::Params(format!("C must be a positive number, got {}", p.c)));
        }
        if !(p.alpha.is_finite() && p.alpha > 0.0) {
            return Err(ModelError::Params(format!(
                "alpha must be a positive number, got {}",
                p.alpha
            )));
        }
        Ok(p)
    }

    fn check(self) -> Result<NbWeightedValidParams, ModelError> {
        self.check_ref()?;
        Ok(self.0)
    }
}

impl Fit<SparseMatrix, Array1<usize>, ModelError> for NbWeightedValidParams {
    type Object = LinearModel;

    fn fit(&self, dataset: &DatasetBase<SparseMatrix, Array1<usize>>) -> Result<LinearModel, ModelError> {
        let (x, targets, k) = fit_inputs(dataset)?;
        let d = x.ncols();
        let all: Vec<usize> = (0..targets.len()).collect();
        match self.kind {
            NbWeightedKind::Logistic => {
                let (w, b) = fit_nb_weighted(x, &targets, &all, k, self.alpha, self.c, MarginLoss::Logistic, 300);
                LinearModel::new(k, d, w, b, Link::OneVsRest).map_err(ModelError::NotConverged)
            }
            // each calibration fold's ratios come from its own rows
            NbWeightedKind::Svm => fit_calibrated(x, &targets, k, |rows| {
                let (w, b) = fit_nb_weighted(x, &targets, rows, k, self.alpha, self.c, MarginLoss::SquaredHinge, 200);
                LinearModel::new(k, d, w, b, Link::Softmax).map_err(ModelError::NotConverged)
            }),
        }
    }
}

/// One-vs-rest NB-weighted weights fitted on `rows` (ratios counted on those rows alone):
/// (feature-major weights, biases). Each label's weight is ratio × the binary model's weight,
/// so prediction stays one sparse dot product.
#[allow(clippy::too_many_arguments)]
fn fit_nb_weighted(
    x: &SparseMatrix,
    targets: &[usize],
    rows: &[usize],
    k: usize,
    alpha: f64,
    c: f64,
    loss: MarginLoss,
    max_iter: usize,
) -> (Vec<f32>, Vec<f32>) {
    let d = x.ncols();
    // documents containing each feature, per label
    let mut present = vec![0.0f64; d * k];
    for &i in rows {
        let label = targets[i];
        for (j, v) in x.row(i).iter() {
            if v > 0.0 {
                present[j * k + label] += 1.0;
            }
        }
    }
    let total: Vec<f64> = (0..d).map(|j| present[j * k..(j + 1) * k].iter().sum()).collect();
    // where a label never saw a feature (most pairs), the ratio's logarithms are shared across
    // labels: one logarithm per feature, not one per feature and label
    let ln_absent: Vec<f64> = total.iter().map(|t| (t + alpha).ln()).collect();
    // one binary model per label, independent: fitted in parallel
    let per_label: Vec<(Vec<f64>, f64)> = (0..k)
        .into_par_iter()
        .map(|label| {
            // p = present + alpha, q = absent + alpha, each normalised over the features
            // training saw: empty hash buckets must not dilute
            let (mut ps, mut qs) = (0.0f64, 0.0f64);
            for j in (0..d).filter(|&j| total[j] > 0.0) {
                ps += present[j * k + label] + alpha;
                qs += total[j] - present[j * k + label] + alpha;
            }
            let shift = qs.ln() - ps.ln();
            let ln_alpha = alpha.ln();
            let r: Vec<f32> = (0..d)
                .map(|j| {
                    let n = present[j * k + label];
                    let ln_ratio = if n == 0.0 {
                        ln_alpha - ln_absent[j]
                    } else {
                        (n + alpha).ln() - (total[j] - n + alpha).ln()
                    };
                    (ln_ratio + shift) as f32
                })
                .collect();
            let signs: Vec<f64> = targets.iter().map(|&t| if t == label { 1.0 } else { -1.0 }).collect();
            let (w, b) = match loss {
                MarginLoss::SquaredHinge => fit_svm_dual(x, Some(&r), &signs, rows, c, max_iter, DUAL_TOLERANCE),
                MarginLoss::Logistic => {
                    let mut scaled = SparseMatrix::new(d);
                    for row in x.rows() {
                        scaled.push(&SparseVec {
                            indices: row.indices.to_vec(),
                            values: row.iter().map(|(j, v)| v * r[j]).collect(),
                        });
                    }
                    fit_binary(&scaled, &signs, rows, c, loss, max_iter, 1e-5)
                }
            };
            // the ratio folded into the weight: one sparse dot product at prediction
            let w: Vec<f64> = w.iter().zip(&r).map(|(&w, &r)| (r * w as f32) as f64).collect();
            (w, b)
        })
        .collect();
    interleave(d, &per_label)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matrix(rows: &[&[(u32, f32)]], d: usize) -> SparseMatrix {
        let mut x = SparseMatrix::new(d);
        for r in rows {
            x.push(&SparseVec {
                indices: r.iter().map(|&(j, _)| j).collect(),
                values: r.iter().map(|&(_, v)| v).collect(),
            });
        }
        x
    }

    /// Calibration fits on a subset of rows: the NB ratios must come from those rows alone,
    /// or the out-of-fold scores would have seen their own labels.
    #[test]
    fn a_fit_on_some_rows_is_the_fit_on_those_rows_alone() {
        let rows: [&[(u32, f32)]; 6] = [
            &[(0, 1.0), (1, 0.5)],
            &[(0, 0.8), (2, 0.3)],
            &[(1, 0.2), (3, 1.0)],
            &[(3, 0.7), (4, 0.9)],
            &[(0, 0.4), (4, 1.0)],
            &[(2, 1.0), (3, 0.3)],
        ];
        let targets = [0, 0, 1, 1, 0, 1];
        let x = matrix(&rows, 5);
        let some = [0, 2, 3, 5];
        let sub = matrix(&some.map(|i| rows[i]), 5);
        let sub_targets: Vec<usize> = some.iter().map(|&i| targets[i]).collect();
        for loss in [MarginLoss::Logistic, MarginLoss::SquaredHinge] {
            let (w, b) = fit_nb_weighted(&x, &targets, &some, 2, 1.0, 1.0, loss, 200);
            let (w2, b2) = fit_nb_weighted(&sub, &sub_targets, &[0, 1, 2, 3], 2, 1.0, 1.0, loss, 200);
            assert!(w.iter().zip(&w2).all(|(a, b)| (a - b).abs() < 1e-5), "{w:?} vs {w2:?}");
            assert!(b.iter().zip(&b2).all(|(a, b)| (a - b).abs() < 1e-5), "{b:?} vs {b2:?}");
        }
    }
}
