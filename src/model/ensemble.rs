//! Complement naive Bayes and NB-SVM together, as one linfa algorithm: both are fitted on the
//! same features and their calibrated log-probabilities averaged. The two err differently
//! (NB counts evidence, the SVM weighs it against the margin), and on every corpus we
//! measure their mean beats either alone under cross-validation (README, "Choosing the
//! default"). Both are softmaxes of linear scores, so the mean of their log-probabilities is
//! the softmax of their mean scores: one linear model, predicted at the cost of either.

use super::linear::{check_dataset, LinearModel};
use super::naive_bayes::NaiveBayesParams;
use super::nb_weighted::NbWeightedParams;
use super::ModelError;
use crate::features::SparseMatrix;
use linfa::prelude::*;
use ndarray::Array1;

/// Checked hyperparameters.
#[derive(Debug, Clone, PartialEq)]
pub struct EnsembleValidParams {
    alpha: f64,
    c: f64,
}

/// Hyperparameters (naive Bayes smoothing, SVM C), checked once by linfa's [`ParamGuard`].
#[derive(Debug, Clone, PartialEq)]
pub struct EnsembleParams(EnsembleValidParams);

impl Default for EnsembleParams {
    /// Each member's own default: alpha 0.1, C 1.
    fn default() -> Self {
        EnsembleParams(EnsembleValidParams { alpha: 0.1, c: 1.0 })
    }
}

impl EnsembleParams {
    /// Smoothing of the naive Bayes member.
    pub fn alpha(mut self, alpha: f64) -> Self {
        self.0.alpha = alpha;
        self
    }

    /// Inverse L2 regularisation of the NB-SVM member.
    pub fn c(mut self, c: f64) -> Self {
        self.0.c = c;
        self
    }

    fn members(p: &EnsembleValidParams) -> (NaiveBayesParams, NbWeightedParams) {
        (
            NaiveBayesParams::complement().alpha(p.alpha),
            NbWeightedParams::svm().c(p.c),
        )
    }
}

impl ParamGuard for EnsembleParams {
    type Checked = EnsembleValidParams;
    type Error = ModelError;

    fn check_ref(&self) -> Result<&EnsembleValidParams, ModelError> {
        let (nb, svm) = Self::members(&self.0);
        nb.check_ref()?;
        svm.check_ref()?;
        Ok(&self.0)
    }

    fn check(self) -> Result<EnsembleValidParams, ModelError> {
        self.check_ref()?;
        Ok(self.0)
    }
}

impl Fit<SparseMatrix, Array1<usize>, ModelError> for EnsembleValidParams {
    type Object = LinearModel;

    fn fit(&self, dataset: &DatasetBase<SparseMatrix, Array1<usize>>) -> Result<LinearModel, ModelError> {
        check_dataset(dataset)?;
        let (nb, svm) = EnsembleParams::members(self);
        // independent fits: one per core when there are two
        let timed = |name: &'static str, fit: &dyn Fn() -> Result<LinearModel, ModelError>| {
            let started = std::time::Instant::now();
            let fitted = fit();
            tracing::debug!(
                member = name,
                elapsed_us = started.elapsed().as_micros() as u64,
                "member fitted"
            );
            fitted
        };
        let (nb, svm) = rayon::join(
            || timed("complement-nb", &|| nb.fit(dataset)),
            || timed("nb-svm", &|| svm.fit(dataset)),
        );
        LinearModel::mean(&[nb?, svm?]).map_err(ModelError::NotConverged)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::SparseVec;

    fn dataset() -> DatasetBase<SparseMatrix, Array1<usize>> {
        // feature 0 and 1 mark label 0, 2 and 3 label 1, 4 is noise
        let rows: [&[(u32, f32)]; 8] = [
            &[(0, 1.0), (4, 0.5)],
            &[(1, 1.0)],
            &[(0, 0.7), (1, 0.7)],
            &[(0, 1.0), (2, 0.2)],
            &[(2, 1.0), (4, 0.5)],
            &[(3, 1.0)],
            &[(2, 0.7), (3, 0.7)],
            &[(1, 0.2), (3, 1.0)],
        ];
        let mut x = SparseMatrix::new(5);
        for r in rows {
            x.push(&SparseVec {
                indices: r.iter().map(|&(j, _)| j).collect(),
                values: r.iter().map(|&(_, v)| v).collect(),
            });
        }
        DatasetBase::new(x, Array1::from(vec![0, 0, 0, 0, 1, 1, 1, 1]))
    }

    #[test]
    fn the_ensemble_is_the_mean_of_its_members_log_probabilities() {
        let data = dataset();
        let both = EnsembleParams::default().fit(&data).unwrap();
        let nb = NaiveBayesParams::complement().alpha(0.1).fit(&data).unwrap();
        let svm = NbWeightedParams::svm().c(1.0).fit(&data).unwrap();
        for probe in [
            vec![(0u32, 1.0f32)],
            vec![(3, 1.0)],
            vec![(0, 0.5), (3, 0.5)],
            vec![(4, 1.0)],
        ] {
            let v = SparseVec {
                indices: probe.iter().map(|p| p.0).collect(),
                values: probe.iter().map(|p| p.1).collect(),
            };
            let (mut p, mut a, mut b) = (vec![0.0; 2], vec![0.0; 2], vec![0.0; 2]);
            both.predict_proba_row(v.row(), &mut p);
            nb.predict_proba_row(v.row(), &mut a);
            svm.predict_proba_row(v.row(), &mut b);
            // normalised geometric mean of the two distributions
            let g: Vec<f64> = a.iter().zip(&b).map(|(a, b)| (a * b).sqrt()).collect();
            let sum: f64 = g.iter().sum();
            for (p, g) in p.iter().zip(&g) {
                assert!((p - g / sum).abs() < 1e-4, "{probe:?}: {p} vs {}", g / sum);
            }
        }
        let (mut p, mut q) = (vec![0.0; 2], vec![0.0; 2]);
        let one = |j: u32| SparseVec {
            indices: vec![j],
            values: vec![1.0],
        };
        both.predict_proba_row(one(1).row(), &mut p);
        both.predict_proba_row(one(2).row(), &mut q);
        assert!(p[0] > 0.5 && q[1] > 0.5, "{p:?} {q:?}");
    }

    #[test]
    fn bad_members_are_rejected_before_fitting() {
        assert!(EnsembleParams::default().alpha(0.0).check().is_err());
        assert!(EnsembleParams::default().c(f64::NAN).check().is_err());
        assert!(EnsembleParams::default().c(2.0).alpha(0.5).check().is_ok());
    }
}
