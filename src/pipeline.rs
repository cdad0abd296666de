//! Whole training runs shared by the CLI and the server: cross-validate, then fit on all rows.

use crate::corpus::{default_rows, examples, Row};
use crate::eval::{cross_validate, Metrics};
use crate::model::{train, ModelError, TopicModel, TrainConfig};

/// Seed of the cross-validation shuffle, fixed so reported figures are reproducible.
pub const CV_SEED: u64 = 20_240_611;

/// Fit a model on `rows`; with `folds ≥ 2`, first cross-validate and keep the figures in the
/// model's metadata.
pub fn train_rows(rows: &[Row], config: &TrainConfig, folds: usize, source: &str) -> Result<TopicModel, ModelError> {
    let ex = examples(rows);
    let metrics = if folds >= 2 {
        Some(cross_validate(&ex, config, folds, CV_SEED)?)
    } else {
        None
    };
    let mut model = train(&ex, config)?;
    model.meta.metrics = metrics;
    model.meta.source = source.to_string();
    Ok(model)
}

/// The embedded default model: trained on the project's own corpus under `data/` (and the
/// seed articles unless `with_seeds` is false), 5-fold cross-validated.
pub fn default_model(with_seeds: bool) -> Result<TopicModel, ModelError> {
    train_rows(
        &default_rows(with_seeds),
        &TrainConfig::default(),
        5,
        "embedded-default",
    )
}

/// The embedded default model without cross-validation (fast, for start-up), and the job that
/// cross-validates it later.
pub fn default_model_deferred_cv(
) -> Result<(TopicModel, impl FnOnce() -> Result<Metrics, ModelError> + Send + Sync), ModelError> {
    let rows = default_rows(true);
    let config = TrainConfig::default();
    let model = train_rows(&rows, &config, 0, "embedded-default")?;
    let job = move || cross_validate(&examples(&rows), &config, 5, CV_SEED);
    Ok((model, job))
}
