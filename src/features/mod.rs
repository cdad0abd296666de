//! Tokens → features: bag-of-words n-grams weighted by TF-IDF, L2-normalised.
//!
//! Everything learnt from data (the vocabulary and the IDF weights) is fixed by
//! [`Vectorizer::fit`] and saved with the model, so serving computes exactly the features
//! training saw (linfa's TfIdfVectorizer recomputes IDF per batch, which skews serving).

mod half;
mod sparse;
mod table;
mod vectorizer;

pub use half::HalfWeights;
pub use sparse::{SparseMatrix, SparseRow, SparseVec};
pub use vectorizer::{analyze, analyze_each, FeatureConfig, FeatureError, Vectorizer};
