//! NB-weighted logistic regression (NB-LR, the logistic cousin of Wang & Manning's NB-SVM),
//! one-vs-rest, as a linfa algorithm. For each label, features are scaled by their naive Bayes
//! log-count ratio (how much more often they occur with the label than without) and a binary
//! logistic regression is fitted on the scaled features. Strong on short texts.

use super::linear::{check_dataset, LinearModel, Link};
use super::softmax::{fit_binary, MarginLoss};
use super::ModelError;
use crate::features::{SparseMatrix, SparseVec};
use linfa::prelude::*;
use ndarray::Array1;

#[derive(Debug, Clone, PartialEq)]
pub struct NbLogRegValidParams {
    c: f64,
    alpha: f64,
}

/// Hyperparameters, checked once by linfa's [`ParamGuard`].
#[derive(Debug, Clone, PartialEq)]
pub struct NbLogRegParams(NbLogRegValidParams);

impl Default for NbLogRegParams {
    fn default() -> Self {
        NbLogRegParams(NbLogRegValidParams { c: 20.0, alpha: 1.0 })
    }
}

impl NbLogRegParams {
    /// Inverse L2 regularisation of each binary regression.
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

impl ParamGuard for NbLogRegParams {
    type Checked = NbLogRegValidParams;
    type Error = ModelError;

    fn check_ref(&self) -> Result<&NbLogRegValidParams, ModelError> {
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

    fn check(self) -> Result<NbLogRegValidParams, ModelError> {
        self.check_ref()?;
        Ok(self.0)
    }
}

impl Fit<SparseMatrix, Array1<usize>, ModelError> for NbLogRegValidParams {
    type Object = LinearModel;

    fn fit(&self, dataset: &DatasetBase<SparseMatrix, Array1<usize>>) -> Result<LinearModel, ModelError> {
        let k = check_dataset(dataset)?;
        let x = dataset.records();
        let y = dataset.targets();
        let d = x.ncols();
        // documents containing each feature, per label
        let mut present = vec![0.0f64; d * k];
        for (row, &c) in x.rows().zip(y.iter()) {
            for (j, v) in row.iter() {
                if v > 0.0 {
                    present[j * k + c] += 1.0;
                }
            }
        }
        let total: Vec<f64> = (0..d).map(|j| present[j * k..(j + 1) * k].iter().sum()).collect();
        let mut weights = vec![0.0f32; d * k];
        let mut bias = vec![0.0f32; k];
        for c in 0..k {
            let p: Vec<f64> = (0..d).map(|j| present[j * k + c] + self.alpha).collect();
            let q: Vec<f64> = (0..d).map(|j| total[j] - present[j * k + c] + self.alpha).collect();
            // normalise over the features training saw: empty hash buckets must not dilute
            let seen = |v: &[f64]| (0..d).filter(|&j| total[j] > 0.0).map(|j| v[j]).sum::<f64>();
            let (ps, qs) = (seen(&p), seen(&q));
            let r: Vec<f32> = p
                .iter()
                .zip(&q)
                .map(|(a, b)| ((a / ps) / (b / qs)).ln() as f32)
                .collect();
            let mut scaled = SparseMatrix::new(d);
            for row in x.rows() {
                scaled.push(&SparseVec {
                    indices: row.indices.to_vec(),
                    values: row.iter().map(|(j, v)| v * r[j]).collect(),
                });
            }
            let signs: Vec<f64> = y.iter().map(|&t| if t == c { 1.0 } else { -1.0 }).collect();
            let rows: Vec<usize> = (0..x.nrows()).collect();
            let (w, b) = fit_binary(&scaled, &signs, &rows, self.c, MarginLoss::Logistic, 300, 1e-5);
            for j in 0..d {
                weights[j * k + c] = r[j] * w[j] as f32;
            }
            bias[c] = b as f32;
        }
        // the product of ratio and weight per label: one sparse dot product at prediction
        LinearModel::new(k, d, weights, bias, Link::OneVsRest).map_err(ModelError::NotConverged)
    }
}
