//! The fitted form every classifier here shares: per-label weights over sparse features plus
//! a bias, and a link that turns scores into probabilities. Algorithms differ in how they fit
//! the weights, not in how they predict.

use super::{argmax, softmax_in_place, ModelError};
use crate::features::{SparseMatrix, SparseRow};
use linfa::prelude::*;
use ndarray::{Array1, Array2};
use serde::{Deserialize, Serialize};

/// How label scores become probabilities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Link {
    /// Scores are joint log-likelihoods or logits of one multinomial model: softmax.
    Softmax,
    /// Scores are independent one-vs-rest log-odds: sigmoid each, then normalise.
    OneVsRest,
    /// Scores are log-odds of labels that may hold together: sigmoid each (multi-label).
    Independent,
}

/// Weights laid out feature-major (`weights[j * classes + c]`), so a sparse row touches
/// contiguous memory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinearModel {
    classes: usize,
    features: usize,
    weights: Vec<f32>,
    bias: Vec<f32>,
    link: Link,
}

impl LinearModel {
    /// Assemble and check a model (shapes agree, every number finite).
    pub fn new(classes: usize, features: usize, weights: Vec<f32>, bias: Vec<f32>, link: Link) -> Result<Self, String> {
        let m = LinearModel {
            classes,
            features,
            weights,
            bias,
            link,
        };
        m.validate()?;
        Ok(m)
    }

    pub fn classes(&self) -> usize {
        self.classes
    }

    pub fn features(&self) -> usize {
        self.features
    }

    /// Shape and finiteness check, also for a model read from a file.
    pub fn validate(&self) -> Result<(), String> {
        // checked: the shape may come from a hostile file (fuzzing found the overflow)
        let cells = self.classes.checked_mul(self.features);
        if self.classes == 0 || cells != Some(self.weights.len()) || self.bias.len() != self.classes {
            return Err("model weights do not match their shape".into());
        }
        if self.weights.iter().chain(&self.bias).any(|w| !w.is_finite()) {
            return Err("model weights are not finite".into());
        }
        Ok(())
    }

    /// Per-label scores before the link.
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

    /// The weights, feature-major (`weights[j * classes + c]`).
    pub fn weights(&self) -> &[f32] {
        &self.weights
    }

    /// The per-label biases.
    pub fn biases(&self) -> &[f32] {
        &self.bias
    }

    /// Probabilities of the labels for one row (they sum to 1 unless the link is `Independent`).
    pub fn predict_proba_row(&self, row: SparseRow<'_>, out: &mut [f64]) {
        self.decision(row, out);
        self.apply_link(out);
    }

    /// Turn decision scores into probabilities, in place.
    pub fn apply_link(&self, out: &mut [f64]) {
        match self.link {
            Link::Softmax => softmax_in_place(out),
            Link::Independent => {
                for o in out.iter_mut() {
                    *o = if o.is_nan() { 0.0 } else { 1.0 / (1.0 + (-*o).exp()) };
                }
            }
            Link::OneVsRest => {
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
        }
    }

    /// Weight of feature `j` for label `c`.
    pub fn weight(&self, j: usize, c: usize) -> f32 {
        self.weights.get(j * self.classes + c).copied().unwrap_or(0.0)
    }

    /// Bias of label `c`.
    pub fn bias(&self, c: usize) -> f32 {
        self.bias.get(c).copied().unwrap_or(0.0)
    }

    /// The same model with its scores divided by `temperature` (rankings unchanged).
    pub(crate) fn with_temperature(mut self, temperature: f64) -> Self {
        let scale = |v: &mut f32| *v = (*v as f64 / temperature) as f32;
        self.weights.iter_mut().for_each(scale);
        self.bias.iter_mut().for_each(scale);
        self
    }
}

/// Probabilities that mean what they say: refit `fit` on 3 folds of the training rows, and
/// choose the softmax temperature that minimises the log-loss of the out-of-fold scores
/// (log-spaced, 0.001 … 100). Fewer than 6 rows: temperature 1.
pub(crate) fn calibrate_temperature(
    x: &SparseMatrix,
    targets: &[usize],
    classes: usize,
    mut fit: impl FnMut(&[usize]) -> Result<LinearModel, ModelError>,
) -> Result<f64, ModelError> {
    const FOLDS: usize = 3;
    let n = targets.len();
    if n < FOLDS * 2 {
        return Ok(1.0);
    }
    let mut oof = vec![vec![0.0f64; classes]; n];
    for f in 0..FOLDS {
        let train: Vec<usize> = (0..n).filter(|i| i % FOLDS != f).collect();
        let part = fit(&train)?;
        for i in (0..n).filter(|i| i % FOLDS == f) {
            part.decision(x.row(i), &mut oof[i]);
        }
    }
    let nll = |t: f64| -> f64 {
        let mut z = vec![0.0; classes];
        oof.iter()
            .zip(targets)
            .map(|(s, &y)| {
                z.iter_mut().zip(s).for_each(|(z, s)| *z = s / t);
                softmax_in_place(&mut z);
                -(z.get(y).copied().unwrap_or(0.0).max(1e-12)).ln()
            })
            .sum()
    };
    Ok((0..=60)
        .map(|i| 0.001 * 10f64.powf(i as f64 / 12.0))
        .min_by(|a, b| nll(*a).total_cmp(&nll(*b)))
        .unwrap_or(1.0))
}

impl PredictInplace<SparseMatrix, Array2<f64>> for LinearModel {
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

impl PredictInplace<SparseMatrix, Array1<usize>> for LinearModel {
    fn predict_inplace(&self, x: &SparseMatrix, y: &mut Array1<usize>) {
        let mut p = vec![0.0; self.classes];
        for (i, row) in x.rows().enumerate() {
            self.decision(row, &mut p);
            y[i] = argmax(&p);
        }
    }

    fn default_target(&self, x: &SparseMatrix) -> Array1<usize> {
        Array1::zeros(x.nrows())
    }
}

/// Checks every fit makes on its dataset; returns the number of classes (at least 2).
pub(crate) fn check_dataset(dataset: &DatasetBase<SparseMatrix, Array1<usize>>) -> Result<usize, linfa::Error> {
    let (x, y) = (dataset.records(), dataset.targets());
    if x.nrows() == 0 {
        return Err(linfa::Error::NotEnoughSamples);
    }
    if y.len() != x.nrows() {
        return Err(linfa::Error::MismatchedShapes(x.nrows(), y.len()));
    }
    Ok(y.iter().max().map_or(0, |m| m + 1).max(2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hostile_shape_is_an_error_not_an_overflow() {
        // found by fuzzing model files: classes × features overflowed before the check
        let m = LinearModel {
            classes: usize::MAX / 2,
            features: 3,
            weights: vec![0.0; 3],
            bias: vec![0.0; 3],
            link: Link::Softmax,
        };
        assert!(m.validate().is_err());
        assert!(LinearModel::new(2, 2, vec![0.0; 4], vec![0.0; 2], Link::Softmax).is_ok());
    }
}
