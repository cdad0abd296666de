//! Naive Bayes on sparse TF-IDF features, as linfa algorithms: multinomial, and complement
//! (Rennie et al. 2003), which is strong on small, unbalanced text corpora. Both fit in one
//! pass over the non-zeros.

use super::linear::{fit_calibrated, fit_inputs, LinearModel, Link};
use super::ModelError;
use crate::features::SparseMatrix;
use linfa::prelude::*;
use ndarray::Array1;

/// Which naive Bayes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NaiveBayesKind {
    Complement,
    Multinomial,
}

/// Checked hyperparameters.
#[derive(Debug, Clone, PartialEq)]
pub struct NaiveBayesValidParams {
    kind: NaiveBayesKind,
    alpha: f64,
}

/// Hyperparameters, checked once by linfa's [`ParamGuard`].
#[derive(Debug, Clone, PartialEq)]
pub struct NaiveBayesParams(NaiveBayesValidParams);

impl NaiveBayesParams {
    pub fn complement() -> Self {
        NaiveBayesParams(NaiveBayesValidParams {
            kind: NaiveBayesKind::Complement,
            alpha: 0.3,
        })
    }

    pub fn multinomial() -> Self {
        NaiveBayesParams(NaiveBayesValidParams {
            kind: NaiveBayesKind::Multinomial,
            alpha: 0.1,
        })
    }

    /// Additive (Laplace/Lidstone) smoothing.
    pub fn alpha(mut self, alpha: f64) -> Self {
        self.0.alpha = alpha;
        self
    }
}

impl ParamGuard for NaiveBayesParams {
    type Checked = NaiveBayesValidParams;
    type Error = ModelError;

    fn check_ref(&self) -> Result<&NaiveBayesValidParams, ModelError> {
        if !(self.0.alpha.is_finite() && self.0.alpha > 0.0) {
            return Err(ModelError::Params(format!(
                "alpha must be a positive number, got {}",
                self.0.alpha
            )));
        }
        Ok(&self.0)
    }

    fn check(self) -> Result<NaiveBayesValidParams, ModelError> {
        self.check_ref()?;
        Ok(self.0)
    }
}

impl Fit<SparseMatrix, Array1<usize>, ModelError> for NaiveBayesValidParams {
    type Object = LinearModel;

    fn fit(&self, dataset: &DatasetBase<SparseMatrix, Array1<usize>>) -> Result<LinearModel, ModelError> {
        let (x, y, k) = fit_inputs(dataset)?;
        let fit_rows = |rows: &[usize]| match self.kind {
            NaiveBayesKind::Complement => self.fit_complement(x, &y, rows, k),
            NaiveBayesKind::Multinomial => self.fit_multinomial(x, &y, rows, k),
        };
        // naive Bayes is famously over-confident: one temperature, fitted out of fold, makes
        // its probabilities honest without changing a single ranking
        fit_calibrated(x, &y, k, fit_rows)
    }
}

impl NaiveBayesValidParams {
    fn fit_complement(
        &self,
        x: &SparseMatrix,
        y: &[usize],
        rows: &[usize],
        k: usize,
    ) -> Result<LinearModel, ModelError> {
        let d = x.ncols();
        // feature mass per class
        let mut count = vec![0.0f64; d * k];
        for &i in rows {
            for (j, v) in x.row(i).iter() {
                let c = y[i];
                count[j * k + c] += v as f64;
            }
        }
        let mut feature_total = vec![0.0f64; d];
        for j in 0..d {
            feature_total[j] = count[j * k..(j + 1) * k].iter().sum();
        }
        let grand: f64 = feature_total.iter().sum();
        // smoothing spreads over the features training saw: empty hash buckets must not dilute
        let active = feature_total.iter().filter(|&&t| t > 0.0).count().max(1) as f64;
        let mut class_total = vec![0.0f64; k];
        for j in 0..d {
            for c in 0..k {
                class_total[c] += count[j * k + c];
            }
        }
        // where class c never saw feature j (most pairs) the complement is the feature's whole
        // mass: one logarithm per feature, not one per feature and class
        let ln_whole: Vec<f64> = feature_total.iter().map(|t| (t + self.alpha).ln()).collect();
        let mut weights = vec![0.0f32; d * k];
        for c in 0..k {
            // complement of class c: everything else, smoothed
            let ln_denom = (grand - class_total[c] + self.alpha * active).ln();
            for j in 0..d {
                let n = count[j * k + c];
                let ln_comp = if n == 0.0 {
                    ln_whole[j]
                } else {
                    (feature_total[j] - n + self.alpha).ln()
                };
                weights[j * k + c] = (ln_denom - ln_comp) as f32;
            }
        }
        // CNB scores are complement log-likelihoods: no prior, softmax-normalised
        LinearModel::new(k, d, weights, vec![0.0; k], Link::Softmax).map_err(ModelError::NotConverged)
    }

    fn fit_multinomial(
        &self,
        x: &SparseMatrix,
        y: &[usize],
        rows: &[usize],
        k: usize,
    ) -> Result<LinearModel, ModelError> {
        let d = x.ncols();
        let mut count = vec![0.0f64; d * k];
        let mut docs = vec![0.0f64; k];
        for &i in rows {
            let c = y[i];
            docs[c] += 1.0;
            for (j, v) in x.row(i).iter() {
                count[j * k + c] += v as f64;
            }
        }
        let mut class_total = vec![0.0f64; k];
        for j in 0..d {
            for c in 0..k {
                class_total[c] += count[j * k + c];
            }
        }
        let n = rows.len() as f64;
        let active = (0..d)
            .filter(|&j| count[j * k..(j + 1) * k].iter().any(|&v| v > 0.0))
            .count()
            .max(1) as f64;
        let mut weights = vec![0.0f32; d * k];
        for c in 0..k {
            let denom = class_total[c] + self.alpha * active;
            for j in 0..d {
                weights[j * k + c] = ((count[j * k + c] + self.alpha) / denom).ln() as f32;
            }
        }
        // a class absent from training keeps a tiny prior rather than -inf
        let log_prior = docs
            .iter()
            .map(|&m| ((m + 1e-3) / (n + 1e-3 * k as f64)).ln() as f32)
            .collect();
        LinearModel::new(k, d, weights, log_prior, Link::Softmax).map_err(ModelError::NotConverged)
    }
}
