//! NB-weighted logistic regression (NB-LR, the logistic cousin of Wang & Manning's NB-SVM),
//! one-vs-rest, as a linfa algorithm. For each label, features are scaled by their naive Bayes
//! log-count ratio (how much more often they occur with the label than without) and a binary
//! logistic regression is fitted on the scaled features. Strong on short texts.

use super::{ModelError, SoftmaxParams};
use crate::features::{SparseMatrix, SparseRow, SparseVec};
use linfa::prelude::*;
use ndarray::{Array1, Array2};
use serde::{Deserialize, Serialize};

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
        NbLogRegParams(NbLogRegValidParams { c: 10.0, alpha: 1.0 })
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

/// Fitted NB-LR: per label, the log-count ratio times the regression weight (feature-major),
/// so prediction is one sparse dot product per label.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NbLogReg {
    classes: usize,
    features: usize,
    weights: Vec<f32>,
    bias: Vec<f32>,
}

impl NbLogReg {
    pub fn classes(&self) -> usize {
        self.classes
    }

    pub fn features(&self) -> usize {
        self.features
    }

    pub fn validate(&self) -> Result<(), String> {
        if self.classes == 0 || self.weights.len() != self.classes * self.features || self.bias.len() != self.classes {
            return Err("NB-LR weights do not match their shape".into());
        }
        if self.weights.iter().chain(&self.bias).any(|w| !w.is_finite()) {
            return Err("NB-LR weights are not finite".into());
        }
        Ok(())
    }

    /// One-vs-rest log-odds per label.
    pub fn decision(&self, row: SparseRow<'_>, out: &mut [f64]) {
        for (o, b) in out.iter_mut().zip(&self.bias) {
            *o = *b as f64;
        }
        let k = self.classes;
        for (j, x) in row.iter() {
            if let Some(w) = self.weights.get(j * k..(j + 1) * k) {
                for (o, w) in out.iter_mut().zip(w) {
                    *o += (*w * x) as f64;
                }
            }
        }
    }

    /// Each label's one-vs-rest probability, normalised to sum to 1.
    pub fn predict_proba_row(&self, row: SparseRow<'_>, out: &mut [f64]) {
        self.decision(row, out);
        for o in out.iter_mut() {
            *o = if o.is_nan() { 0.0 } else { 1.0 / (1.0 + (-*o).exp()) };
        }
        let sum: f64 = out.iter().sum();
        if sum > 0.0 && sum.is_finite() {
            out.iter_mut().for_each(|o| *o /= sum);
        } else {
            let u = 1.0 / out.len().max(1) as f64;
            out.iter_mut().for_each(|o| *o = u);
        }
    }

    pub fn weight(&self, j: usize, c: usize) -> f32 {
        self.weights.get(j * self.classes + c).copied().unwrap_or(0.0)
    }
}

impl Fit<SparseMatrix, Array1<usize>, ModelError> for NbLogRegValidParams {
    type Object = NbLogReg;

    fn fit(&self, dataset: &DatasetBase<SparseMatrix, Array1<usize>>) -> Result<NbLogReg, ModelError> {
        let x = dataset.records();
        let y = dataset.targets();
        if x.nrows() == 0 {
            return Err(linfa::Error::NotEnoughSamples.into());
        }
        if y.len() != x.nrows() {
            return Err(linfa::Error::MismatchedShapes(x.nrows(), y.len()).into());
        }
        let k = y.iter().max().map_or(0, |m| m + 1).max(2);
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
            let (ps, qs) = (p.iter().sum::<f64>(), q.iter().sum::<f64>());
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
            let binary: Array1<usize> = y.iter().map(|&t| usize::from(t == c)).collect();
            let lr = SoftmaxParams::default()
                .c(self.c)
                .fit(&DatasetBase::new(scaled, binary))?;
            for j in 0..d {
                weights[j * k + c] = r[j] * (lr.weight(j, 1) - lr.weight(j, 0));
            }
            bias[c] = lr.bias(1) - lr.bias(0);
        }
        let model = NbLogReg {
            classes: k,
            features: d,
            weights,
            bias,
        };
        model.validate().map_err(ModelError::NotConverged)?;
        Ok(model)
    }
}

impl PredictInplace<SparseMatrix, Array2<f64>> for NbLogReg {
    fn predict_inplace(&self, x: &SparseMatrix, y: &mut Array2<f64>) {
        for (i, row) in x.rows().enumerate() {
            if let Some(out) = y.row_mut(i).as_slice_mut() {
                self.predict_proba_row(row, out);
            }
        }
    }

    fn default_target(&self, x: &SparseMatrix) -> Array2<f64> {
        Array2::zeros((x.nrows(), self.classes))
    }
}

impl PredictInplace<SparseMatrix, Array1<usize>> for NbLogReg {
    fn predict_inplace(&self, x: &SparseMatrix, y: &mut Array1<usize>) {
        let mut p = vec![0.0; self.classes];
        for (i, row) in x.rows().enumerate() {
            self.decision(row, &mut p);
            y[i] = super::argmax(&p);
        }
    }

    fn default_target(&self, x: &SparseMatrix) -> Array1<usize> {
        Array1::zeros(x.nrows())
    }
}
