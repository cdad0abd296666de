//! Whether a corpus's character n-grams earn their cost. They buy 4–5 points of accuracy on
//! SIB-200's 701 one-sentence rows and 0.2 on AG News's 4,864 longer ones, where they take 40%
//! of the prediction time and a sixth of the model. Training asks the corpus: complement naive
//! Bayes, cross-validated with and without them on the rows already vectorised, costs a pass
//! over the rows and at most a logarithm per feature and label a fold — far less than the fit
//! it may spare.

use crate::features::{SparseMatrix, SparseVec};

/// Folds of the cross-validation behind a verdict.
pub const FOLDS: usize = 5;

/// Which way the character n-grams go when a config leaves it to the corpus.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CharPolicy {
    /// Kept only when they measurably help ([`CharVerdict::keep`]).
    #[default]
    IfTheyHelp,
    /// Kept as configured, whatever they do.
    Always,
}

/// What the character n-grams did for complement naive Bayes under [`FOLDS`]-fold
/// cross-validation on the training rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CharVerdict {
    pub rows: usize,
    /// Rows answered right with character n-grams and wrong without them.
    pub won: usize,
    /// Rows answered right without them and wrong with them.
    pub lost: usize,
    /// Judged label by label, on rows with sets of labels ([`judge_sets`]).
    pub per_label: bool,
}

/// How many standard errors of the paired difference the rows won must lead the rows lost by:
/// McNemar's test at the 5% level, one-sided.
pub const Z: f64 = 1.96;

impl CharVerdict {
    /// How many standard errors (√(won + lost), McNemar's) the rows won lead the rows lost by.
    pub fn z(&self) -> f64 {
        let (won, lost) = (self.won as f64, self.lost as f64);
        if won + lost == 0.0 {
            0.0
        } else {
            (won - lost) / (won + lost).sqrt()
        }
    }

    /// Kept when they measurably help: the rows they win outnumber the rows they lose by more
    /// than [`Z`] standard errors. A gain within the noise of the corpus does not pay for the
    /// time and memory they take on every prediction.
    pub fn keep(&self) -> bool {
        self.z() > Z
    }
}

impl std::fmt::Display for CharVerdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let judge = if self.per_label {
            "naive Bayes, a binary model per label,"
        } else {
            "complement naive Bayes"
        };
        write!(
            f,
            "with them {FOLDS}-fold {judge} won {} and lost {} of {} rows (z = {:.2}, kept above {Z})",
            self.won,
            self.lost,
            self.rows,
            self.z()
        )
    }
}

/// Judge the character n-grams of `x` (rows of targets `y` in `0..k`; `is_char` tells their
/// columns apart) by cross-validating complement naive Bayes with smoothing `alpha` on all the
/// features, and on the word features alone, L2-normalised as a vectorizer without character
/// n-grams makes them. `None` when there are too few rows or labels to judge.
pub fn judge(
    x: &SparseMatrix,
    y: &[usize],
    k: usize,
    alpha: f64,
    is_char: impl Fn(usize) -> bool,
) -> Option<CharVerdict> {
    if !judgeable(x, k, alpha) || y.len() != x.nrows() || y.iter().any(|&c| c >= k) {
        return None;
    }
    let (all, words) = blocks(x, is_char);
    let answers = |x: &SparseMatrix| fold_answers(x, y, k, alpha, Bayes::Complement);
    let (with, without) = rayon::join(|| answers(&all), || answers(&words));
    Some(paired(&with, &without, false))
}

/// [`judge`] for rows with any number of labels (`sets`, each label in `0..k`): one binary
/// naive Bayes per label, and a row counts as answered right when every label's in-or-out
/// is — the exact-set accuracy multi-label training reports. Rows stay the unit of the test,
/// as in [`judge`], so the pairs it counts are independent. Multinomial, with the labels'
/// priors, rather than complement: a label few rows have is a lopsided binary question, and
/// complement naive Bayes, which ignores priors, answers "in" for most rows there (for a label
/// no training row has, every row) — one such label would make every row wrong both ways.
pub fn judge_sets(
    x: &SparseMatrix,
    sets: &[Vec<usize>],
    k: usize,
    alpha: f64,
    is_char: impl Fn(usize) -> bool,
) -> Option<CharVerdict> {
    let n = x.nrows();
    if !judgeable(x, k, alpha) || sets.len() != n || sets.iter().flatten().any(|&c| c >= k) {
        return None;
    }
    let (all, words) = blocks(x, is_char);
    let (mut with, mut without) = (vec![true; n], vec![true; n]);
    for label in 0..k {
        let y: Vec<usize> = sets.iter().map(|s| usize::from(s.contains(&label))).collect();
        let answers = |x: &SparseMatrix| fold_answers(x, &y, 2, alpha, Bayes::Multinomial);
        let (a, b) = rayon::join(|| answers(&all), || answers(&words));
        with.iter_mut().zip(&a).for_each(|(w, &a)| *w &= a);
        without.iter_mut().zip(&b).for_each(|(w, &b)| *w &= b);
    }
    Some(paired(&with, &without, true))
}

/// Enough rows for every fold to hold some twice over, two labels or more, and smoothing.
fn judgeable(x: &SparseMatrix, k: usize, alpha: f64) -> bool {
    x.nrows() >= 2 * FOLDS && k >= 2 && alpha > 0.0 && alpha.is_finite()
}

/// The rows with all their features, and with their word features alone (re-normalised).
fn blocks(x: &SparseMatrix, is_char: impl Fn(usize) -> bool) -> (SparseMatrix, SparseMatrix) {
    (packed(x, |_| true, false), packed(x, |j| !is_char(j), true))
}

/// The rows right with character n-grams and wrong without them, and the other way round.
fn paired(with: &[bool], without: &[bool], per_label: bool) -> CharVerdict {
    let won = with.iter().zip(without).filter(|&(&a, &b)| a && !b).count();
    let lost = with.iter().zip(without).filter(|&(&a, &b)| !a && b).count();
    CharVerdict {
        rows: with.len(),
        won,
        lost,
        per_label,
    }
}

/// The rows of `x` restricted to the columns `keep` admits (with `normalise`, each L2-normalised
/// as a vectorizer with only those features would make it), with the columns in use renumbered
/// densely in their order: the counts of [`fold_answers`] are then sized by the features rows
/// use, not by a hashed space's 2^bits buckets.
fn packed(x: &SparseMatrix, keep: impl Fn(usize) -> bool, normalise: bool) -> SparseMatrix {
    // a bit per column in use, and the columns in use before each 64-bit word of them
    let mut used = vec![0u64; x.ncols().div_ceil(64)];
    for r in x.rows() {
        for &j in r.indices.iter().filter(|&&j| keep(j as usize)) {
            if let Some(w) = used.get_mut(j as usize / 64) {
                *w |= 1 << (j % 64);
            }
        }
    }
    let mut before = Vec::with_capacity(used.len());
    let mut total = 0u32;
    for w in &used {
        before.push(total);
        total += w.count_ones();
    }
    let rank = |j: u32| {
        let (w, bit) = (j as usize / 64, j % 64);
        before.get(w).copied().unwrap_or(0) + (used.get(w).copied().unwrap_or(0) & ((1u64 << bit) - 1)).count_ones()
    };
    let mut out = SparseMatrix::new(total as usize);
    let mut row = SparseVec::default();
    for r in x.rows() {
        row.indices.clear();
        row.values.clear();
        for (&j, &v) in r.indices.iter().zip(r.values).filter(|&(&j, _)| keep(j as usize)) {
            row.indices.push(rank(j));
            row.values.push(v);
        }
        let norm = row.values.iter().map(|v| v * v).sum::<f32>().sqrt();
        if normalise && norm > 0.0 {
            row.values.iter_mut().for_each(|v| *v /= norm);
        }
        out.push(&row);
    }
    out
}

/// Which naive Bayes [`fold_answers`] cross-validates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bayes {
    /// Each label's weights from the other labels' counts; no priors (Rennie et al., 2003).
    Complement,
    /// Each label's weights from its own counts, plus its prior.
    Multinomial,
}

/// Whether naive Bayes answers each row right when trained on the other folds (row `i` is in
/// fold `i mod FOLDS`): the first folds and the last side by side, each half with its own
/// counts. With and without character n-grams alone, one core idled while the other answered
/// the larger block.
fn fold_answers(x: &SparseMatrix, y: &[usize], k: usize, alpha: f64, bayes: Bayes) -> Vec<bool> {
    let half = FOLDS.div_ceil(2);
    let (first, last) = rayon::join(
        || answers_in_folds(x, y, k, alpha, bayes, 0..half),
        || answers_in_folds(x, y, k, alpha, bayes, half..FOLDS),
    );
    // a row is answered in its own fold's half only
    first.iter().zip(&last).map(|(&a, &b)| a || b).collect()
}

/// [`fold_answers`] for the folds `folds`; rows of other folds are left `false`. The counts of
/// all rows are summed once; each fold's rows are taken out, answered, and put back.
fn answers_in_folds(
    x: &SparseMatrix,
    y: &[usize],
    k: usize,
    alpha: f64,
    bayes: Bayes,
    folds: std::ops::Range<usize>,
) -> Vec<bool> {
    let d = x.ncols();
    let mut count = vec![0.0f64; d * k];
    let mut feature_total = vec![0.0f64; d];
    let mut class_total = vec![0.0f64; k];
    let mut class_rows = vec![0usize; k];
    for &c in y {
        class_rows[c] += 1;
    }
    let add = |i: usize, sign: f64, count: &mut [f64], feature_total: &mut [f64], class_total: &mut [f64]| {
        let c = y[i];
        for (j, v) in x.row(i).iter() {
            let v = sign * v as f64;
            count[j * k + c] += v;
            feature_total[j] += v;
            class_total[c] += v;
        }
    };
    for i in 0..x.nrows() {
        add(i, 1.0, &mut count, &mut feature_total, &mut class_total);
    }
    // smoothing spreads over the features seen at all, as the fit's does over its rows'
    let active = feature_total.iter().filter(|&&t| t > 0.0).count().max(1) as f64;
    let mut right = vec![false; x.nrows()];
    let mut scores = vec![0.0f64; k];
    // each fold's −ln(complement mass + α) per feature and label, computed when first read: at
    // most one logarithm per feature and label a fold, however many rows share the feature
    let mut weight = vec![0.0f64; d * k];
    // the fold (plus one) that last computed each feature's weights: no refill between folds
    let mut computed_in = vec![0u8; d];
    for fold in folds {
        let held = || (fold..x.nrows()).step_by(FOLDS);
        for i in held() {
            add(i, -1.0, &mut count, &mut feature_total, &mut class_total);
        }
        let grand: f64 = class_total.iter().sum();
        // per label: the log of its weights' normaliser, and (multinomial) its log prior
        let mut rows_trained = class_rows.clone();
        for i in held() {
            rows_trained[y[i]] -= 1;
        }
        let trained_rows = (x.nrows() - held().count()) as f64;
        let ln_denom: Vec<f64> = (0..k)
            .map(|c| match bayes {
                Bayes::Complement => ((grand - class_total[c]).max(0.0) + alpha * active).ln(),
                Bayes::Multinomial => -(class_total[c].max(0.0) + alpha * active).ln(),
            })
            .collect();
        let ln_prior: Vec<f64> = (0..k)
            .map(|c| match bayes {
                Bayes::Complement => 0.0,
                // a label no training row has is never answered (ln 0 = −∞)
                Bayes::Multinomial => (rows_trained[c] as f64 / trained_rows).ln(),
            })
            .collect();
        let stamp = fold as u8 + 1;
        for i in held() {
            // Σ_j x_j · (ln denom_c − ln(complement mass of j + α)), as the fit's weights
            let mut mass = 0.0f64;
            scores.iter_mut().for_each(|s| *s = 0.0);
            for (j, v) in x.row(i).iter() {
                let v = v as f64;
                mass += v;
                let w = &mut weight[j * k..(j + 1) * k];
                if computed_in[j] != stamp {
                    computed_in[j] = stamp;
                    let total = feature_total[j];
                    let counts = &count[j * k..(j + 1) * k];
                    match bayes {
                        // where a label has none of the feature (most pairs) its complement is
                        // the feature's whole mass: one logarithm shared by all those labels
                        Bayes::Complement => {
                            let whole = -(total.max(0.0) + alpha).ln();
                            for (w, &n) in w.iter_mut().zip(counts) {
                                *w = if n == 0.0 {
                                    whole
                                } else {
                                    -((total - n).max(0.0) + alpha).ln()
                                };
                            }
                        }
                        Bayes::Multinomial => {
                            let none = alpha.ln();
                            for (w, &n) in w.iter_mut().zip(counts) {
                                *w = if n == 0.0 { none } else { (n.max(0.0) + alpha).ln() };
                            }
                        }
                    }
                }
                for (s, w) in scores.iter_mut().zip(w.iter()) {
                    *s += v * w;
                }
            }
            let score = |c: usize| scores[c] + mass * ln_denom[c] + ln_prior[c];
            let best = (0..k).max_by(|&a, &b| score(a).total_cmp(&score(b)).then(b.cmp(&a)));
            right[i] = best == Some(y[i]);
        }
        for i in held() {
            add(i, 1.0, &mut count, &mut feature_total, &mut class_total);
        }
    }
    right
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::{FeatureConfig, Vectorizer};

    /// Rows of two labels told apart only by word endings that no two rows share as whole
    /// words: "kata-kata" of each label end in their own suffix.
    fn suffix_rows() -> (Vec<String>, Vec<usize>) {
        let stems = [
            "bara", "celu", "dipa", "fomi", "gasu", "hile", "jopa", "kuna", "lome", "mira", "nusa", "pora", "rilu",
            "saki", "tomu", "vani", "wero", "yapi", "zulo", "beki",
        ];
        let mut texts = Vec::new();
        let mut y = Vec::new();
        for (i, s) in stems.iter().enumerate() {
            for (label, suffix) in [(0, "nggar"), (1, "mptox")] {
                // every word is new to the corpus: only its characters generalise
                texts.push(format!("{s}{suffix}{i} {s}{i}q{suffix}"));
                y.push(label);
            }
        }
        (texts, y)
    }

    /// Rows whose labels follow one topic word each, repeated across rows.
    fn word_rows() -> (Vec<String>, Vec<usize>) {
        let mut texts = Vec::new();
        let mut y = Vec::new();
        for i in 0..40 {
            let label = i % 2;
            let word = ["kokain kartel", "vaksin pasien"][label];
            texts.push(format!("{word} hari ke {i} laporan{i}"));
            y.push(label);
        }
        (texts, y)
    }

    fn verdict(texts: &[String], y: &[usize]) -> CharVerdict {
        let v = Vectorizer::fit(FeatureConfig::default(), texts).unwrap();
        let mut x = SparseMatrix::new(v.len());
        for t in texts {
            x.push(&v.transform(t));
        }
        judge(&x, y, 2, 0.1, |j| v.is_char_feature(j)).unwrap()
    }

    #[test]
    fn character_n_grams_are_kept_where_only_they_generalise() {
        let (texts, y) = suffix_rows();
        let v = verdict(&texts, &y);
        assert!(v.won > v.lost && v.keep(), "{v:?}");
    }

    #[test]
    fn character_n_grams_go_where_words_answer_alone() {
        let (texts, y) = word_rows();
        let v = verdict(&texts, &y);
        assert!(!v.keep(), "{v:?}");
    }

    #[test]
    fn the_rule_is_mc_nemars_test_at_five_percent() {
        let v = |won, lost| CharVerdict {
            rows: 1000,
            won,
            lost,
            per_label: false,
        };
        assert!(!v(0, 0).keep(), "no difference: they cost and buy nothing");
        assert!(!v(95, 79).keep(), "16 < 1.96 · √174 (AG News)");
        assert!(v(70, 26).keep(), "44 > 1.96 · √96 (SIB-200 Indonesian)");
        assert!(v(12, 4).keep(), "z = 8 / √16 = 2");
        assert!(!v(11, 4).keep(), "z = 7 / √15 = 1.81");
        assert!(!v(26, 70).keep());
    }

    #[test]
    fn packing_keeps_the_columns_in_use_in_their_order() {
        // a hashed space: 2^24 columns, four in use
        let mut x = SparseMatrix::new(1 << 24);
        x.push(&SparseVec {
            indices: vec![3, 70, 1 << 23],
            values: vec![0.6, 0.3, 0.4],
        });
        x.push(&SparseVec {
            indices: vec![70, (1 << 24) - 1],
            values: vec![1.0, 2.0],
        });
        let p = packed(&x, |j| j != 3, true);
        assert_eq!(p.ncols(), 3);
        let close = |got: &[f32], want: &[f32]| {
            got.len() == want.len() && got.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-6)
        };
        assert_eq!(p.row(0).indices, [0, 1]);
        assert!(close(p.row(0).values, &[0.6, 0.8]), "{:?}", p.row(0).values);
        assert_eq!(p.row(1).indices, [0, 2]);
        let third = 1.0 / 5f32.sqrt();
        assert!(close(p.row(1).values, &[third, 2.0 * third]), "{:?}", p.row(1).values);
        let p = packed(&x, |_| true, false);
        assert_eq!(p.ncols(), 4);
        assert_eq!(p.row(0).values, [0.6, 0.3, 0.4], "kept as they were");
    }

    #[test]
    fn too_few_rows_or_labels_give_no_verdict() {
        let x = SparseMatrix::new(3);
        assert_eq!(judge(&x, &[], 2, 0.1, |_| false), None);
        let (texts, y) = word_rows();
        let v = Vectorizer::fit(FeatureConfig::default(), &texts).unwrap();
        let mut x = SparseMatrix::new(v.len());
        for t in &texts {
            x.push(&v.transform(t));
        }
        assert_eq!(judge(&x, &y, 1, 0.1, |_| false), None, "one label");
        assert_eq!(judge(&x, &y[1..], 2, 0.1, |_| false), None, "targets do not match rows");
        assert_eq!(
            judge(&x, &vec![5; y.len()], 2, 0.1, |_| false),
            None,
            "a target out of range"
        );
        assert_eq!(judge(&x, &y, 2, -1.0, |_| false), None, "no smoothing to judge with");
        let sets: Vec<Vec<usize>> = y.iter().map(|&c| vec![c]).collect();
        assert!(judge_sets(&x, &sets, 2, 0.1, |_| false).is_some());
        assert_eq!(
            judge_sets(&x, &sets[1..], 2, 0.1, |_| false),
            None,
            "sets do not match rows"
        );
        assert_eq!(
            judge_sets(&x, &vec![vec![0, 2]; y.len()], 2, 0.1, |_| false),
            None,
            "a label out of range"
        );
    }

    #[test]
    fn per_label_verdicts_count_a_row_right_only_when_its_whole_set_is() {
        // one label per row: the binary questions a row's set answers are those of its label
        let (texts, y) = suffix_rows();
        let v = Vectorizer::fit(FeatureConfig::default(), &texts).unwrap();
        let mut x = SparseMatrix::new(v.len());
        for t in &texts {
            x.push(&v.transform(t));
        }
        let sets: Vec<Vec<usize>> = y.iter().map(|&c| vec![c]).collect();
        let judged = judge_sets(&x, &sets, 2, 0.1, |j| v.is_char_feature(j)).unwrap();
        assert!(judged.keep(), "{judged:?}");
        assert_eq!(judged.rows, texts.len());
        assert!(judged.per_label);
        // a third label no row has: every row still answers it right (out) either way
        let three = judge_sets(&x, &sets, 3, 0.1, |j| v.is_char_feature(j)).unwrap();
        assert_eq!((three.won, three.lost), (judged.won, judged.lost));
    }
}
