//! A serving copy of a linear model's weights, folded with the vectorizer's IDF and stored as
//! half floats: one 16-byte row per feature (up to 8 labels), a quarter of a cache line where
//! the f32 weights take half of one. Prediction reads a row for every feature of a text, at
//! random, so the rows' footprint is what the caches hold: halved, a 45-word lead classifies
//! about 8% faster once other work has been through the caches (6% when hot). A row's last
//! lane carries the feature's IDF, so the IDF array is not read at all: another 4–5% after
//! the caches' sweep (see `IDF_LANE`). F16C, AVX and FMA convert and add a row in a few
//! instructions. Without them, for more than 8 labels, or for 4 or fewer (whose f32 rows are
//! 16 bytes already), there are no half rows and prediction reads the f32 weights.

/// Labels a half row holds.
pub const LANES: usize = 8;

/// Fewest labels worth half rows: up to 4, an f32 row is 16 bytes already.
pub const FEWEST: usize = 5;

/// The lane that holds the feature's IDF, for the block's norm: a row's last. A model with
/// fewer labels has it free; with [`LANES`] labels the last label's weight gives it up, as a
/// centred row sums to zero and that weight is minus the others' sum. So prediction reads
/// one row per feature, not a row and an IDF from another array (a 45-word lead after an
/// 8 MiB cache sweep: 3.65–3.76 µs against 3.77–4.02; a whole article 21.2–21.9 against
/// 22.3–23.0).
const IDF_LANE: usize = LANES - 1;

/// Largest magnitude a half float holds (65504), with a margin for rounding.
const HALF_MAX: f32 = 65_000.0;

/// `idf[j] × (weights[j·k + c] − mean_c weights[j·k + c])` for every feature j and label c
/// (but the 8th), and `idf[j]` in the last lane, as half floats: each row centred on its mean
/// over the labels. Linear weights often share a large part across labels (a naive Bayes
/// weight is a log-probability, about −10 for every label, and the labels differ in its
/// decimals); half floats keep 11 significant bits, so a row stored as it is would lose the
/// differences that decide the answer. Centring shifts every label's score by the same
/// amount, which a softmax ignores; so only a model with a softmax link gets half rows.
#[derive(Clone)]
pub struct HalfWeights {
    rows: Vec<[u16; LANES]>,
    /// Labels (`k`); with [`LANES`] of them the last one's weight is not stored (see `build`).
    labels: usize,
}

impl std::fmt::Debug for HalfWeights {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HalfWeights({} rows)", self.rows.len())
    }
}

impl HalfWeights {
    /// The centred half rows of feature-major `weights` over `k` labels, scaled by `idf`.
    /// `None` unless the link ignores a shift common to all labels (`shift_invariant`), the
    /// CPU has F16C, AVX and FMA, `k` is within [`FEWEST`]..=[`LANES`], the shapes agree,
    /// and every value fits a half float.
    pub fn build(idf: &[f32], weights: &[f32], k: usize, shift_invariant: bool) -> Option<HalfWeights> {
        if !shift_invariant
            || !(FEWEST..=LANES).contains(&k)
            || Some(weights.len()) != idf.len().checked_mul(k)
            || !supported()
        {
            return None;
        }
        let mut rows = Vec::with_capacity(idf.len());
        for (&d, w) in idf.iter().zip(weights.chunks_exact(k)) {
            let mean = w.iter().map(|&x| x as f64).sum::<f64>() / k as f64;
            let mut v = [0.0f32; LANES];
            // the labels' centred weights, but for the 8th label's (minus the others' sum)
            for (v, &w) in v.iter_mut().zip(w).take(IDF_LANE) {
                *v = (d as f64 * (w as f64 - mean)) as f32;
            }
            v[IDF_LANE] = d;
            if v.iter().any(|x| !x.is_finite() || x.abs() > HALF_MAX) {
                return None;
            }
            rows.push(simd::pack(&v)?);
        }
        Some(HalfWeights { rows, labels: k })
    }

    /// Add each feature's row times its term weight `tf_weight(count)` to the labels' sums,
    /// resetting its count, for the features of `block`; returns the sums (in the first `k`
    /// lanes; centred, so each is off by one amount common to all labels) and the squared
    /// norm of the block's TF-IDF values (`tf_weight(count) × idf`, the IDF to half
    /// precision: the norm scales every label alike).
    #[inline]
    pub(super) fn block_sums(
        &self,
        block: &[u32],
        counts: &mut [f32],
        tf_weight: impl Fn(f32) -> f32,
    ) -> ([f32; LANES], f32) {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: rows are built only where `supported()` found F16C, AVX and FMA.
        let (mut sums, squares) = unsafe { simd::block_sums(&self.rows, block, counts, tf_weight) };
        #[cfg(not(target_arch = "x86_64"))]
        let (mut sums, squares): ([f32; LANES], [f32; LANES]) = {
            let _ = (block, counts, tf_weight);
            unreachable!("half rows are built only on x86_64")
        };
        let norm2 = squares[IDF_LANE];
        sums[IDF_LANE] = if self.labels == LANES {
            -sums[..IDF_LANE].iter().sum::<f32>()
        } else {
            0.0
        };
        (sums, norm2)
    }
}

#[cfg(target_arch = "x86_64")]
fn supported() -> bool {
    is_x86_feature_detected!("f16c") && is_x86_feature_detected!("avx") && is_x86_feature_detected!("fma")
}

#[cfg(not(target_arch = "x86_64"))]
fn supported() -> bool {
    false
}

#[cfg(target_arch = "x86_64")]
mod simd {
    use super::LANES;
    use std::arch::x86_64::*;

    /// Eight floats as half floats (round to nearest); `None` without F16C and AVX.
    pub fn pack(v: &[f32; LANES]) -> Option<[u16; LANES]> {
        if !(is_x86_feature_detected!("f16c") && is_x86_feature_detected!("avx")) {
            return None;
        }
        // SAFETY: the features `pack_f16c` is compiled for were detected just above.
        Some(unsafe { pack_f16c(v) })
    }

    #[target_feature(enable = "f16c,avx")]
    unsafe fn pack_f16c(v: &[f32; LANES]) -> [u16; LANES] {
        // SAFETY: `v` is 8 floats and `out` 8 halves, each read or written whole, unaligned.
        unsafe {
            let h = _mm256_cvtps_ph::<_MM_FROUND_TO_NEAREST_INT>(_mm256_loadu_ps(v.as_ptr()));
            let mut out = [0u16; LANES];
            _mm_storeu_si128(out.as_mut_ptr().cast::<__m128i>(), h);
            out
        }
    }

    /// The lanes' sums of each row of `block` times its term weight, and of the squares of
    /// those products (whose IDF lane is the block's squared norm), with F16C, AVX and FMA.
    ///
    /// # Safety
    /// The CPU must have F16C, AVX and FMA.
    #[target_feature(enable = "f16c,avx,fma")]
    pub unsafe fn block_sums(
        rows: &[[u16; LANES]],
        block: &[u32],
        counts: &mut [f32],
        tf_weight: impl Fn(f32) -> f32,
    ) -> ([f32; LANES], [f32; LANES]) {
        let mut sum = _mm256_setzero_ps();
        let mut squares = _mm256_setzero_ps();
        for &f in block {
            let f = f as usize;
            let (Some(count), Some(row)) = (counts.get_mut(f), rows.get(f)) else {
                continue;
            };
            let t = _mm256_set1_ps(tf_weight(std::mem::replace(count, 0.0)));
            // SAFETY: a row is 8 halves, 16 bytes, read whole and unaligned.
            unsafe {
                let r = _mm256_cvtph_ps(_mm_loadu_si128(row.as_ptr().cast::<__m128i>()));
                sum = _mm256_fmadd_ps(t, r, sum);
                let v = _mm256_mul_ps(t, r);
                squares = _mm256_fmadd_ps(v, v, squares);
            }
        }
        let (mut out, mut sq) = ([0.0f32; LANES], [0.0f32; LANES]);
        // SAFETY: `out` and `sq` are 8 floats each, written whole, unaligned.
        unsafe {
            _mm256_storeu_ps(out.as_mut_ptr(), sum);
            _mm256_storeu_ps(sq.as_mut_ptr(), squares);
        }
        (out, sq)
    }
}

#[cfg(not(target_arch = "x86_64"))]
mod simd {
    use super::LANES;

    pub fn pack(_: &[f32; LANES]) -> Option<[u16; LANES]> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sums and squared norm the f32 weights give, as `Vectorizer::block_sums` adds them.
    fn f32_sums(idf: &[f32], weights: &[f32], k: usize, block: &[u32], counts: &[f32]) -> (Vec<f32>, f32) {
        let mut sums = vec![0.0f32; k];
        let mut norm2 = 0.0;
        for &f in block {
            let f = f as usize;
            let v = (1.0 + counts[f].ln()) * idf[f];
            norm2 += v * v;
            for c in 0..k {
                sums[c] += v * weights[f * k + c];
            }
        }
        (sums, norm2)
    }

    #[test]
    fn half_rows_give_the_f32_sums_to_half_precision() {
        // 8 labels: the last label's weight is implied by the others (its lane holds the IDF)
        for k in [5, 7, 8] {
            let features = 50;
            let idf: Vec<f32> = (0..features).map(|j| 1.0 + (j % 9) as f32 * 0.7).collect();
            // naive-Bayes-like: a large part shared by the labels, and small differences that
            // decide between them
            let weights: Vec<f32> = (0..features * k)
                .map(|i| -10.0 + ((i * 37 % 101) as f32 - 50.0) / 500.0)
                .collect();
            let Some(half) = HalfWeights::build(&idf, &weights, k, true) else {
                // only a CPU without F16C/AVX/FMA has no half rows
                assert!(!supported());
                return;
            };
            let block: Vec<u32> = vec![3, 17, 4, 49, 0, 22];
            let mut counts = vec![0.0f32; features];
            for (i, &f) in block.iter().enumerate() {
                counts[f as usize] = 1.0 + (i % 3) as f32;
            }
            let (want, want_norm2) = f32_sums(&idf, &weights, k, &block, &counts);
            let (got, norm2) = half.block_sums(&block, &mut counts, |tf| 1.0 + tf.ln());
            // the IDF to half precision (11 significant bits)
            assert!(
                (norm2 - want_norm2).abs() <= 2e-3 * want_norm2,
                "{k} labels: {norm2} vs {want_norm2}"
            );
            // what a softmax sees: the differences between labels (a few tenths here, in
            // scores of about −360), kept to half precision of the differences themselves
            let spread = want.iter().map(|w| (w - want[0]).abs()).fold(0.0, f32::max);
            for c in 1..k {
                let (d, e) = (got[c] - got[0], want[c] - want[0]);
                assert!(
                    (d - e).abs() <= 2e-3 * spread,
                    "{k} labels, label {c}: {d} vs {e} (spread {spread})"
                );
            }
            assert!(counts.iter().all(|&c| c == 0.0), "every count read is reset");
        }
    }

    #[test]
    fn weights_half_rows_cannot_serve_keep_the_f32_path() {
        let idf = vec![2.0f32; 4];
        let fine = vec![0.5f32; 4 * 6];
        assert_eq!(HalfWeights::build(&idf, &fine, 6, true).is_some(), supported());
        assert_eq!(HalfWeights::build(&[1.0], &[0.5; 8], 8, true).is_some(), supported());
        // a link that sees each label's score alone (sigmoids) keeps the f32 weights
        assert!(HalfWeights::build(&idf, &fine, 6, false).is_none());
        let mut huge = fine.clone();
        huge[5] = 40_000.0; // centred × IDF 2: 66,667, past a half float's 65,504
        assert!(HalfWeights::build(&idf, &huge, 6, true).is_none());
        let mut nan = fine.clone();
        nan[0] = f32::NAN;
        assert!(HalfWeights::build(&idf, &nan, 6, true).is_none());
        // more labels than a row holds, too few to gain, and shapes that disagree
        assert!(HalfWeights::build(&[1.0], &[0.1; 9], 9, true).is_none());
        assert!(HalfWeights::build(&idf, &fine[..16], 4, true).is_none());
        assert!(HalfWeights::build(&idf, &fine, 5, true).is_none());
        assert!(HalfWeights::build(&idf, &fine, 0, true).is_none());
    }
}
