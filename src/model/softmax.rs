//! Multinomial logistic regression on sparse features, as a linfa algorithm.
//!
//! Minimises the mean cross-entropy plus `1 / (2·C·n)·‖W‖²` (scikit-learn's `C`) with L-BFGS.
//! The objective is smooth and strictly convex, so full-batch L-BFGS reaches the optimum
//! deterministically — no learning rate to tune, no shuffling.

use super::linear::{check_dataset, LinearModel, Link};
use super::ModelError;
use crate::features::SparseMatrix;
use linfa::prelude::*;
use ndarray::Array1;

/// Checked hyperparameters.
#[derive(Debug, Clone, PartialEq)]
pub struct SoftmaxValidParams {
    c: f64,
    max_iter: usize,
    tolerance: f64,
}

/// Hyperparameters, checked once by linfa's [`ParamGuard`].
#[derive(Debug, Clone, PartialEq)]
pub struct SoftmaxParams(SoftmaxValidParams);

impl Default for SoftmaxParams {
    fn default() -> Self {
        SoftmaxParams(SoftmaxValidParams {
            c: 10.0,
            max_iter: 300,
            tolerance: 1e-5,
        })
    }
}

impl SoftmaxParams {
    /// Inverse regularisation strength (larger = less regularised).
    pub fn c(mut self, c: f64) -> Self {
        self.0.c = c;
        self
    }

    pub fn max_iter(mut self, n: usize) -> Self {
        self.0.max_iter = n;
        self
    }

    pub fn tolerance(mut self, t: f64) -> Self {
        self.0.tolerance = t;
        self
    }
}

impl ParamGuard for SoftmaxParams {
    type Checked = SoftmaxValidParams;
    type Error = ModelError;

    fn check_ref(&self) -> Result<&SoftmaxValidParams, ModelError> {
        let p = &self.0;
        if !(p.c.is_finite() && p.c > 0.0) {
            return Err(ModelError::Params(format!("C must be a positive number, got {}", p.c)));
        }
        if p.max_iter == 0 {
            return Err(ModelError::Params("max_iter must be at least 1".into()));
        }
        if !(p.tolerance.is_finite() && p.tolerance > 0.0) {
            return Err(ModelError::Params(format!(
                "tolerance must be positive, got {}",
                p.tolerance
            )));
        }
        Ok(p)
    }

    fn check(self) -> Result<SoftmaxValidParams, ModelError> {
        self.check_ref()?;
        Ok(self.0)
    }
}

/// Mean cross-entropy + L2 penalty and its gradient, for parameters `[W (feature-major) | b]`.
fn objective(x: &SparseMatrix, y: &[usize], k: usize, lambda: f64, theta: &[f64], grad: &mut [f64]) -> f64 {
    let d = x.ncols();
    let n = x.nrows() as f64;
    let (w, b) = theta.split_at(d * k);
    grad.iter_mut().for_each(|g| *g = 0.0);
    let mut loss = 0.0;
    let mut z = vec![0.0f64; k];
    for (i, row) in x.rows().enumerate() {
        z.copy_from_slice(b);
        for (j, v) in row.iter() {
            let wj = &w[j * k..(j + 1) * k];
            for (zc, wc) in z.iter_mut().zip(wj) {
                *zc += wc * v as f64;
            }
        }
        let max = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let sum: f64 = z.iter().map(|s| (s - max).exp()).sum();
        let log_norm = max + sum.ln();
        loss += log_norm - z[y[i]];
        // dL/dz = p - onehot(y)
        for (c, zc) in z.iter_mut().enumerate() {
            *zc = (*zc - log_norm).exp() - if c == y[i] { 1.0 } else { 0.0 };
        }
        let (gw, gb) = grad.split_at_mut(d * k);
        for (j, v) in row.iter() {
            for (g, zc) in gw[j * k..(j + 1) * k].iter_mut().zip(&z) {
                *g += zc * v as f64;
            }
        }
        for (g, zc) in gb.iter_mut().zip(&z) {
            *g += zc;
        }
    }
    loss /= n;
    grad.iter_mut().for_each(|g| *g /= n);
    let (gw, _) = grad.split_at_mut(d * k);
    let mut penalty = 0.0;
    for (g, wv) in gw.iter_mut().zip(w) {
        penalty += wv * wv;
        *g += lambda * wv;
    }
    loss + 0.5 * lambda * penalty
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Minimise a smooth convex function with L-BFGS and a backtracking (Armijo) line search.
fn lbfgs(theta: &mut [f64], max_iter: usize, tol: f64, mut f: impl FnMut(&[f64], &mut [f64]) -> f64) -> usize {
    const HISTORY: usize = 6;
    let n = theta.len();
    let mut grad = vec![0.0; n];
    let mut value = f(theta, &mut grad);
    let mut s_hist: Vec<Vec<f64>> = Vec::new();
    let mut y_hist: Vec<Vec<f64>> = Vec::new();
    let mut new_theta = vec![0.0; n];
    let mut new_grad = vec![0.0; n];
    for iter in 0..max_iter {
        let gnorm = dot(&grad, &grad).sqrt();
        if gnorm <= tol * (1.0 + value.abs()) {
            return iter;
        }
        // two-loop recursion: direction = -H·grad
        let mut q = grad.clone();
        let mut alphas = Vec::with_capacity(s_hist.len());
        for (s, y) in s_hist.iter().zip(&y_hist).rev() {
            let rho = 1.0 / dot(y, s);
            let a = rho * dot(s, &q);
            q.iter_mut().zip(y).for_each(|(qi, yi)| *qi -= a * yi);
            alphas.push((a, rho));
        }
        if let (Some(s), Some(y)) = (s_hist.last(), y_hist.last()) {
            let gamma = dot(s, y) / dot(y, y);
            q.iter_mut().for_each(|qi| *qi *= gamma);
        } else {
            q.iter_mut().for_each(|qi| *qi /= gnorm.max(1.0));
        }
        for ((s, y), (a, rho)) in s_hist.iter().zip(&y_hist).zip(alphas.into_iter().rev()) {
            let b = rho * dot(y, &q);
            q.iter_mut().zip(s).for_each(|(qi, si)| *qi += (a - b) * si);
        }
        let mut slope = -dot(&grad, &q);
        if slope >= 0.0 {
            // not a descent direction (numerical trouble): restart with steepest descent
            s_hist.clear();
            y_hist.clear();
            q.copy_from_slice(&grad);
            q.iter_mut().for_each(|qi| *qi /= gnorm.max(1.0));
            slope = -dot(&grad, &q);
        }
        let mut step = 1.0;
        let mut new_value;
        loop {
            for ((t, o), d) in new_theta.iter_mut().zip(theta.iter()).zip(&q) {
                *t = o - step * d;
            }
            new_value = f(&new_theta, &mut new_grad);
            if new_value <= value + 1e-4 * step * slope || step < 1e-12 {
                break;
            }
            step *= 0.5;
        }
        if step < 1e-12 {
            return iter;
        }
        let s: Vec<f64> = new_theta.iter().zip(theta.iter()).map(|(a, b)| a - b).collect();
        let y: Vec<f64> = new_grad.iter().zip(&grad).map(|(a, b)| a - b).collect();
        if dot(&s, &y) > 1e-12 {
            if s_hist.len() == HISTORY {
                s_hist.remove(0);
                y_hist.remove(0);
            }
            s_hist.push(s);
            y_hist.push(y);
        }
        let improvement = value - new_value;
        theta.copy_from_slice(&new_theta);
        grad.copy_from_slice(&new_grad);
        value = new_value;
        if improvement.abs() <= tol * value.abs().max(1e-12) * 1e-3 {
            return iter + 1;
        }
    }
    max_iter
}

impl Fit<SparseMatrix, Array1<usize>, ModelError> for SoftmaxValidParams {
    type Object = LinearModel;

    fn fit(&self, dataset: &DatasetBase<SparseMatrix, Array1<usize>>) -> Result<LinearModel, ModelError> {
        let k = check_dataset(dataset)?;
        let x = dataset.records();
        let y = dataset.targets();
        let y = y
            .as_slice()
            .ok_or_else(|| ModelError::Data("targets are not contiguous".into()))?;
        let d = x.ncols();
        let lambda = 1.0 / (self.c * x.nrows() as f64);
        let mut theta = vec![0.0f64; d * k + k];
        let iterations = lbfgs(&mut theta, self.max_iter, self.tolerance, |t, g| {
            objective(x, y, k, lambda, t, g)
        });
        tracing::debug!(
            iterations,
            samples = x.nrows(),
            features = d,
            classes = k,
            "softmax fitted"
        );
        let (w, b) = theta.split_at(d * k);
        LinearModel::new(
            k,
            d,
            w.iter().map(|&v| v as f32).collect(),
            b.iter().map(|&v| v as f32).collect(),
            Link::Softmax,
        )
        .map_err(ModelError::NotConverged)
    }
}

/// A loss of the margin `m = y·z` of a binary linear classifier.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum MarginLoss {
    /// log(1 + e^−m): logistic regression.
    Logistic,
    /// max(0, 1 − m)²: the smooth (L2) SVM.
    SquaredHinge,
}

impl MarginLoss {
    /// The loss and its derivative with respect to `m`.
    fn eval(self, m: f64) -> (f64, f64) {
        match self {
            // log(1 + e^-m), stably
            MarginLoss::Logistic => {
                let loss = if m > 0.0 {
                    (-m).exp().ln_1p()
                } else {
                    -m + m.exp().ln_1p()
                };
                (loss, -1.0 / (1.0 + m.exp()))
            }
            MarginLoss::SquaredHinge => {
                let slack = 1.0 - m;
                if slack > 0.0 {
                    (slack * slack, -2.0 * slack)
                } else {
                    (0.0, 0.0)
                }
            }
        }
    }
}

/// The L2-regularised squared-hinge SVM on the rows `rows` of `x` with labels ±1, by dual
/// coordinate descent (Hsieh et al., ICML 2008; liblinear's default solver): each pass visits
/// the rows once, in a fixed pseudo-random order, and solves for one row's dual variable
/// exactly, so a few dozen cheap passes replace hundreds of L-BFGS gradient evaluations.
/// Minimises `C·Σ max(0, 1 − y·z)² + ½‖w‖² + ½b²` (the objective of [`fit_binary`] times
/// `C·n`, except that the bias is a constant feature and so is penalised, as in liblinear).
/// Each feature `j` is multiplied by `scale[j]` when a scale is given, without building the
/// scaled copy (NB-SVM fits one such model per label and calibration fold). Stops when the
/// projected gradient spans less than `tol`, or after `max_passes`. Returns (weights, bias).
pub(crate) fn fit_svm_dual(
    x: &SparseMatrix,
    scale: Option<&[f32]>,
    y: &[f64],
    rows: &[usize],
    c: f64,
    max_passes: usize,
    tol: f64,
) -> (Vec<f64>, f64) {
    // the rows' features, gathered once into contiguous arrays (values already scaled): every
    // pass reads them twice. Kept as u32 and f32, as in `x`, and widened where read: the same
    // arithmetic as f64 copies, in half the memory (the gather was a third of the solver's time)
    let nnz: usize = rows.iter().map(|&i| x.row(i).indices.len()).sum();
    let mut starts = Vec::with_capacity(rows.len() + 1);
    let (mut idx, mut val): (Vec<u32>, Vec<f32>) = (Vec::with_capacity(nnz), Vec::with_capacity(nnz));
    starts.push(0);
    for &i in rows {
        let row = x.row(i);
        idx.extend_from_slice(row.indices);
        match scale {
            Some(s) => val.extend(
                row.indices
                    .iter()
                    .zip(row.values)
                    .map(|(&j, &v)| v * s.get(j as usize).copied().unwrap_or(0.0)),
            ),
            None => val.extend_from_slice(row.values),
        }
        starts.push(idx.len());
    }
    let mut w = vec![0.0f64; x.ncols()];
    let mut b = 0.0f64;
    let n = rows.len();
    // the squared hinge adds 1/(2C) to the dual's diagonal
    let diag = 0.5 / c;
    let q: Vec<f64> = (0..n)
        .map(|p| {
            val[starts[p]..starts[p + 1]]
                .iter()
                .map(|&v| f64::from(v) * f64::from(v))
                .sum::<f64>()
                + 1.0
                + diag
        })
        .collect();
    let mut alpha = vec![0.0f64; n];
    let mut active: Vec<usize> = (0..n).collect();
    let mut active_len = n;
    // xorshift64: the same order for the same rows, run after run
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    // shrinking (liblinear): a row at α = 0 whose gradient lies beyond the last pass's largest
    // projected gradient will stay at 0; it leaves the active set until a final full check
    let (mut shrink_above, mut shrink_below) = (f64::INFINITY, f64::NEG_INFINITY);
    for _ in 0..max_passes {
        for s in (1..active_len).rev() {
            active.swap(s, (next() % (s as u64 + 1)) as usize);
        }
        let (mut pg_max, mut pg_min) = (f64::NEG_INFINITY, f64::INFINITY);
        let mut s = 0;
        while s < active_len {
            let p = active[s];
            let (a, yi) = (alpha[p], y[rows[p]]);
            let (ix, vx) = (&idx[starts[p]..starts[p + 1]], &val[starts[p]..starts[p + 1]]);
            let z = b + sparse_dot(&w, ix, vx);
            let g = yi * z - 1.0 + diag * a;
            // projected gradient: at the bound α = 0 only a descent into α > 0 counts
            let pg = if a == 0.0 {
                if g > shrink_above {
                    active_len -= 1;
                    active.swap(s, active_len);
                    continue;
                }
                g.min(0.0)
            } else {
                g
            };
            s += 1;
            pg_max = pg_max.max(pg);
            pg_min = pg_min.min(pg);
            if pg != 0.0 {
                let updated = (a - g / q[p]).max(0.0);
                alpha[p] = updated;
                let step = (updated - a) * yi;
                for (&j, &v) in ix.iter().zip(vx) {
                    w[j as usize] += step * f64::from(v);
                }
                b += step;
            }
        }
        if pg_max - pg_min <= tol {
            if active_len == n {
                break;
            }
            // converged on the active rows: check every row once more before stopping
            active_len = n;
            (shrink_above, shrink_below) = (f64::INFINITY, f64::NEG_INFINITY);
            continue;
        }
        shrink_above = if pg_max <= 0.0 { f64::INFINITY } else { pg_max };
        shrink_below = if pg_min >= 0.0 { f64::NEG_INFINITY } else { pg_min };
    }
    let _ = shrink_below; // α has no upper bound with the squared hinge: nothing shrinks there
    (w, b)
}

/// `Σ w[ix[k]]·vx[k]` with four running sums: one sum is a chain of dependent additions, and
/// the solver spent most of its time waiting on it.
#[inline]
fn sparse_dot(w: &[f64], ix: &[u32], vx: &[f32]) -> f64 {
    let mut acc = [0.0f64; 4];
    let (ic, vc) = (ix.chunks_exact(4), vx.chunks_exact(4));
    let (ir, vr) = (ic.remainder(), vc.remainder());
    for (i4, v4) in ic.zip(vc) {
        for l in 0..4 {
            acc[l] += w[i4[l] as usize] * f64::from(v4[l]);
        }
    }
    for (&j, &v) in ir.iter().zip(vr) {
        acc[0] += w[j as usize] * f64::from(v);
    }
    (acc[0] + acc[1]) + (acc[2] + acc[3])
}

/// A binary linear classifier on the rows `rows` of `x` with labels ±1: minimises the mean
/// margin loss plus `1 / (2·C·n)·‖w‖²` by L-BFGS (the bias is not penalised). Returns
/// (weights, bias). One weight vector, where a two-class softmax would fit two.
pub(crate) fn fit_binary(
    x: &SparseMatrix,
    y: &[f64],
    rows: &[usize],
    c: f64,
    loss: MarginLoss,
    max_iter: usize,
    tol: f64,
) -> (Vec<f64>, f64) {
    let d = x.ncols();
    let n = rows.len().max(1) as f64;
    let lambda = 1.0 / (c * n);
    let mut theta = vec![0.0f64; d + 1];
    lbfgs(&mut theta, max_iter, tol, |t, grad| {
        grad.iter_mut().for_each(|g| *g = 0.0);
        let (w, b) = (&t[..d], t[d]);
        let mut total = 0.0;
        for &i in rows {
            let row = x.row(i);
            let z = b + row.iter().map(|(j, v)| w[j] * v as f64).sum::<f64>();
            let (l, dl) = loss.eval(y[i] * z);
            total += l;
            if dl != 0.0 {
                let dz = dl * y[i] / n;
                for (j, v) in row.iter() {
                    grad[j] += dz * v as f64;
                }
                grad[d] += dz;
            }
        }
        let mut penalty = 0.0;
        for j in 0..d {
            penalty += w[j] * w[j];
            grad[j] += lambda * w[j];
        }
        total / n + 0.5 * lambda * penalty
    });
    let b = theta[d];
    theta.truncate(d);
    (theta, b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::SparseVec;

    /// liblinear's primal: C·Σ max(0, 1 − y·z)² + ½‖w‖² + ½b².
    fn primal(x: &SparseMatrix, y: &[f64], c: f64, w: &[f64], b: f64) -> f64 {
        let loss: f64 = (0..x.nrows())
            .map(|i| {
                let z = b + x.row(i).iter().map(|(j, v)| w[j] * v as f64).sum::<f64>();
                (1.0 - y[i] * z).max(0.0).powi(2)
            })
            .sum();
        c * loss + 0.5 * (w.iter().map(|v| v * v).sum::<f64>() + b * b)
    }

    #[test]
    fn dual_coordinate_descent_reaches_the_primal_optimum() {
        // overlapping classes, so some rows stay inside the margin
        let mut x = SparseMatrix::new(4);
        let mut y = Vec::new();
        for i in 0..40u32 {
            let label = if i % 2 == 0 { 1.0 } else { -1.0 };
            let shift = (i % 7) as f32 / 7.0;
            let (a, b) = if label > 0.0 { (1.0, shift) } else { (shift, 1.0) };
            x.push(&SparseVec {
                indices: vec![0, 1, 2 + i % 2],
                values: vec![a, b, 0.3 + (i % 5) as f32 / 10.0],
            });
            y.push(label);
        }
        let rows: Vec<usize> = (0..40).collect();
        for c in [0.1, 1.0, 10.0] {
            let (w, b) = fit_svm_dual(&x, None, &y, &rows, c, 1000, 1e-6);
            let best = primal(&x, &y, c, &w, b);
            // no nearby point does better: the optimum of a strictly convex objective
            for j in 0..5 {
                for step in [1e-3, -1e-3] {
                    let (mut w2, mut b2) = (w.clone(), b);
                    if j < 4 {
                        w2[j] += step;
                    } else {
                        b2 += step;
                    }
                    assert!(primal(&x, &y, c, &w2, b2) >= best - 1e-9, "C={c}, coordinate {j}");
                }
            }
            // and the L-BFGS fit of (nearly) the same objective is no better
            let (wl, bl) = fit_binary(&x, &y, &rows, c, MarginLoss::SquaredHinge, 500, 1e-9);
            assert!(best <= primal(&x, &y, c, &wl, bl) + 1e-6, "C={c}");
        }
    }

    #[test]
    fn the_dual_fit_is_deterministic() {
        let mut x = SparseMatrix::new(3);
        for i in 0..10u32 {
            x.push(&SparseVec {
                indices: vec![i % 3],
                values: vec![1.0],
            });
        }
        let y: Vec<f64> = (0..10).map(|i| if i % 3 == 0 { 1.0 } else { -1.0 }).collect();
        let rows: Vec<usize> = (0..10).collect();
        assert_eq!(
            fit_svm_dual(&x, None, &y, &rows, 1.0, 100, 0.1),
            fit_svm_dual(&x, None, &y, &rows, 1.0, 100, 0.1)
        );
    }
}
