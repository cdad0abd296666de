//! Complement naive Bayes (Rennie et al. 2003) on sparse TF-IDF features, as a linfa algorithm.
//! Fast to fit (one pass over the non-zeros) and strong on small, unbalanced text corpora.

use super::{softmax_in_place, ModelError};
use crate::features::{SparseMatrix, SparseRow};
use linfa::prelude::*;
use ndarray::{Array1, Array2};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq)]
pub struct ComplementNbValidParams {
    alpha: f64,
}

/// Hyperparameters, checked once by linfa's [`ParamGuard`].
#[derive(Debug, Clone, PartialEq)]
pub struct ComplementNbParams(ComplementNbValidParams);

impl Default for ComplementNbParams {
    fn default() -> Self {
        ComplementNbParams(ComplementNbValidParams { alpha: 0.3 })
    }
}

impl ComplementNbParams {
    /// Additive (Laplace/Lidstone) smoothing.
    pub fn alpha(mut self, alpha: f64) -> Self {
        self.0.alpha = alpha;
        self
    }
}

impl ParamGuard for ComplementNbParams {
    type Checked = ComplementNbValidParams;
    type Error = ModelError;

    fn check_ref(&self) -> Result<&ComplementNbValidParams, ModelError> {
        if !(self.0.alpha.is_finite() && self.0.alpha > 0.0) {
            return Err(ModelError::Params(format!(
                "alpha must be a positive number, got {}",
                self.0.alpha
            )));
        }
        Ok(&self.0)
    }

    fn check(self) -> Result<ComplementNbValidParams, ModelError> {
        self.check_ref()?;
        Ok(self.0)
    }
}

/// Fitted complement NB: per-feature weights, feature-major like [`super::Softmax`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComplementNb {
    classes: usize,
    features: usize,
    weights: Vec<f32>,
}

impl ComplementNb {
    pub fn classes(&self) -> usize {
        self.classes
    }

    pub fn features(&self) -> usize {
        self.features
    }

    pub fn validate(&self) -> Result<(), String> {
        if self.classes == 0 || self.weights.len() != self.classes * self.features {
            return Err("naive Bayes weights do not match their shape".into());
        }
        if self.weights.iter().any(|w| !w.is_finite()) {
            return Err("naive Bayes weights are not finite".into());
        }
        Ok(())
    }

    pub fn decision(&self, row: SparseRow<'_>, out: &mut [f64]) {
        out.iter_mut().for_each(|o| *o = 0.0);
        let k = self.classes;
        for (j, x) in row.iter() {
            if let Some(w) = self.weights.get(j * k..(j + 1) * k) {
                for (o, w) in out.iter_mut().zip(w) {
                    *o += (*w * x) as f64;
                }
            }
        }
    }

    /// Normalised scores (a softmax of the joint log-likelihoods; CNB is not calibrated).
    pub fn predict_proba_row(&self, row: SparseRow<'_>, out: &mut [f64]) {
        self.decision(row, out);
        softmax_in_place(out);
    }

    pub fn weight(&self, j: usize, c: usize) -> f32 {
        self.weights.get(j * self.classes + c).copied().unwrap_or(0.0)
    }
}

impl Fit<SparseMatrix, Array1<usize>, ModelError> for ComplementNbValidParams {
    type Object = ComplementNb;

    fn fit(&self, dataset: &DatasetBase<SparseMatrix, Array1<usize>>) -> Result<ComplementNb, ModelError> {
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
        // feature mass per class
        let mut count = vec![0.0f64; d * k];
        for (row, &c) in x.rows().zip(y.iter()) {
            for (j, v) in row.iter() {
                count[j * k + c] += v as f64;
            }
        }
        let mut feature_total = vec![0.0f64; d];
        for j in 0..d {
            feature_total[j] = count[j * k..(j + 1) * k].iter().sum();
        }
        let grand: f64 = feature_total.iter().sum();
        let mut class_total = vec![0.0f64; k];
        for j in 0..d {
            for c in 0..k {
                class_total[c] += count[j * k + c];
            }
        }
        let mut weights = vec![0.0f32; d * k];
        for c in 0..k {
            // complement of class c: everything else, smoothed
            let denom = grand - class_total[c] + self.alpha * d as f64;
            for j in 0..d {
                let comp = feature_total[j] - count[j * k + c] + self.alpha;
                weights[j * k + c] = -(comp / denom).ln() as f32;
            }
        }
        let model = ComplementNb {
            classes: k,
            features: d,
            weights,
        };
        model.validate().map_err(ModelError::NotConverged)?;
        Ok(model)
    }
}

impl PredictInplace<SparseMatrix, Array2<f64>> for ComplementNb {
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

impl PredictInplace<SparseMatrix, Array1<usize>> for ComplementNb {
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

/// Checked hyperparameters of multinomial naive Bayes.
#[derive(Debug, Clone, PartialEq)]
pub struct MultinomialNbValidParams {
    alpha: f64,
}

/// Multinomial naive Bayes hyperparameters, checked once by linfa's [`ParamGuard`].
#[derive(Debug, Clone, PartialEq)]
pub struct MultinomialNbParams(MultinomialNbValidParams);

impl Default for MultinomialNbParams {
    fn default() -> Self {
        MultinomialNbParams(MultinomialNbValidParams { alpha: 0.1 })
    }
}

impl MultinomialNbParams {
    /// Additive (Lidstone) smoothing.
    pub fn alpha(mut self, alpha: f64) -> Self {
        self.0.alpha = alpha;
        self
    }
}

impl ParamGuard for MultinomialNbParams {
    type Checked = MultinomialNbValidParams;
    type Error = ModelError;

    fn check_ref(&self) -> Result<&MultinomialNbValidParams, ModelError> {
        if !(self.0.alpha.is_finite() && self.0.alpha > 0.0) {
            return Err(ModelError::Params(format!(
                "alpha must be a positive number, got {}",
                self.0.alpha
            )));
        }
        Ok(&self.0)
    }

    fn check(self) -> Result<MultinomialNbValidParams, ModelError> {
        self.check_ref()?;
        Ok(self.0)
    }
}

/// Fitted multinomial NB: log class priors and per-feature log likelihoods (feature-major).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MultinomialNb {
    classes: usize,
    features: usize,
    log_prior: Vec<f32>,
    weights: Vec<f32>,
}

impl MultinomialNb {
    pub fn classes(&self) -> usize {
        self.classes
    }

    pub fn features(&self) -> usize {
        self.features
    }

    pub fn validate(&self) -> Result<(), String> {
        if self.classes == 0
            || self.weights.len() != self.classes * self.features
            || self.log_prior.len() != self.classes
        {
            return Err("naive Bayes weights do not match their shape".into());
        }
        if self.weights.iter().chain(&self.log_prior).any(|w| !w.is_finite()) {
            return Err("naive Bayes weights are not finite".into());
        }
        Ok(())
    }

    pub fn decision(&self, row: SparseRow<'_>, out: &mut [f64]) {
        for (o, p) in out.iter_mut().zip(&self.log_prior) {
            *o = *p as f64;
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

    /// Posterior class probabilities.
    pub fn predict_proba_row(&self, row: SparseRow<'_>, out: &mut [f64]) {
        self.decision(row, out);
        softmax_in_place(out);
    }

    pub fn weight(&self, j: usize, c: usize) -> f32 {
        self.weights.get(j * self.classes + c).copied().unwrap_or(0.0)
    }
}

impl Fit<SparseMatrix, Array1<usize>, ModelError> for MultinomialNbValidParams {
    type Object = MultinomialNb;

    fn fit(&self, dataset: &DatasetBase<SparseMatrix, Array1<usize>>) -> Result<MultinomialNb, ModelError> {
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
        let mut count = vec![0.0f64; d * k];
        let mut docs = vec![0.0f64; k];
        for (row, &c) in x.rows().zip(y.iter()) {
            docs[c] += 1.0;
            for (j, v) in row.iter() {
                count[j * k + c] += v as f64;
            }
        }
        let mut class_total = vec![0.0f64; k];
        for j in 0..d {
            for c in 0..k {
                class_total[c] += count[j * k + c];
            }
        }
        let n = x.nrows() as f64;
        let mut weights = vec![0.0f32; d * k];
        for c in 0..k {
            let denom = class_total[c] + self.alpha * d as f64;
            for j in 0..d {
                weights[j * k + c] = ((count[j * k + c] + self.alpha) / denom).ln() as f32;
            }
        }
        // a class absent from training keeps a tiny prior rather than -inf
        let log_prior = docs
            .iter()
            .map(|&m| ((m + 1e-3) / (n + 1e-3 * k as f64)).ln() as f32)
            .collect();
        let model = MultinomialNb {
            classes: k,
            features: d,
            log_prior,
            weights,
        };
        model.validate().map_err(ModelError::NotConverged)?;
        Ok(model)
    }
}
