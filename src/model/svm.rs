//! Linear support vector machine (L2-regularised squared hinge, one-vs-rest) with calibrated
//! probabilities, as a linfa algorithm. The squared hinge is smooth, so the same L-BFGS as
//! logistic regression fits it. Probabilities: a softmax over the SVM scores with one
//! temperature, chosen to minimise the log-loss of 3-fold out-of-fold scores.

use super::linear::{check_dataset, LinearModel, Link};
use super::softmax::{fit_binary, MarginLoss};
use super::{softmax_in_place, ModelError};
use crate::features::SparseMatrix;
use linfa::prelude::*;
use ndarray::Array1;

#[derive(Debug, Clone, PartialEq)]
pub struct SvmValidParams {
    c: f64,
    max_iter: usize,
    tolerance: f64,
}

/// Hyperparameters, checked once by linfa's [`ParamGuard`].
#[derive(Debug, Clone, PartialEq)]
pub struct SvmParams(SvmValidParams);

impl Default for SvmParams {
    fn default() -> Self {
        SvmParams(SvmValidParams {
            c: 1.0,
            max_iter: 200,
            tolerance: 1e-5,
        })
    }
}

impl SvmParams {
    /// Inverse regularisation (scikit-learn's `C`).
    pub fn c(mut self, c: f64) -> Self {
        self.0.c = c;
        self
    }
}

impl ParamGuard for SvmParams {
    type Checked = SvmValidParams;
    type Error = ModelError;

    fn check_ref(&self) -> Result<&SvmValidParams, ModelError> {
        if !(self.0.c.is_finite() && self.0.c > 0.0) {
            return Err(ModelError::Params(format!(
                "C must be a positive number, got {}",
                self.0.c
            )));
        }
        Ok(&self.0)
    }

    fn check(self) -> Result<SvmValidParams, ModelError> {
        self.check_ref()?;
        Ok(self.0)
    }
}

impl SvmValidParams {
    /// One-vs-rest weights fitted on `rows`: (feature-major weights, biases).
    fn fit_rows(&self, x: &SparseMatrix, targets: &[usize], rows: &[usize], k: usize) -> (Vec<f32>, Vec<f32>) {
        let d = x.ncols();
        let mut weights = vec![0.0f32; d * k];
        let mut bias = vec![0.0f32; k];
        for c in 0..k {
            let y: Vec<f64> = targets.iter().map(|&t| if t == c { 1.0 } else { -1.0 }).collect();
            let (w, b) = fit_binary(
                x,
                &y,
                rows,
                self.c,
                MarginLoss::SquaredHinge,
                self.max_iter,
                self.tolerance,
            );
            for j in 0..d {
                weights[j * k + c] = w[j] as f32;
            }
            bias[c] = b as f32;
        }
        (weights, bias)
    }
}

impl Fit<SparseMatrix, Array1<usize>, ModelError> for SvmValidParams {
    type Object = LinearModel;

    fn fit(&self, dataset: &DatasetBase<SparseMatrix, Array1<usize>>) -> Result<LinearModel, ModelError> {
        let k = check_dataset(dataset)?;
        let x = dataset.records();
        let targets: Vec<usize> = dataset.targets().iter().copied().collect();
        let n = targets.len();
        let d = x.ncols();
        // out-of-fold scores for the temperature
        const FOLDS: usize = 3;
        let mut oof = vec![vec![0.0f64; k]; n];
        if n >= FOLDS * 2 {
            for f in 0..FOLDS {
                let train: Vec<usize> = (0..n).filter(|i| i % FOLDS != f).collect();
                let (w, b) = self.fit_rows(x, &targets, &train, k);
                let part = LinearModel::new(k, d, w, b, Link::Softmax).map_err(ModelError::NotConverged)?;
                for i in (0..n).filter(|i| i % FOLDS == f) {
                    part.decision(x.row(i), &mut oof[i]);
                }
            }
        }
        let nll = |t: f64| -> f64 {
            let mut z = vec![0.0; k];
            oof.iter()
                .zip(&targets)
                .map(|(s, &y)| {
                    z.iter_mut().zip(s).for_each(|(z, s)| *z = s / t);
                    softmax_in_place(&mut z);
                    -(z[y].max(1e-12)).ln()
                })
                .sum()
        };
        let temperature = if n >= FOLDS * 2 {
            (0..=40)
                .map(|i| 0.02 * 10f64.powf(i as f64 / 16.0)) // 0.02 … ~6.3, log-spaced
                .min_by(|a, b| nll(*a).total_cmp(&nll(*b)))
                .unwrap_or(1.0)
        } else {
            1.0
        };
        let all: Vec<usize> = (0..n).collect();
        let (w, b) = self.fit_rows(x, &targets, &all, k);
        let scale = |v: f32| (v as f64 / temperature) as f32;
        tracing::debug!(temperature, "linear SVM calibrated");
        LinearModel::new(
            k,
            d,
            w.into_iter().map(scale).collect(),
            b.into_iter().map(scale).collect(),
            Link::Softmax,
        )
        .map_err(ModelError::NotConverged)
    }
}
