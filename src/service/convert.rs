//! Conversions between our types and the generated proto messages.

use crate::error::Error;
use crate::eval::Metrics;
use crate::extract::Extraction;
use crate::model::LabelScore;
use crate::proto::v1 as pb;

pub fn labels(scores: Vec<LabelScore>) -> Vec<pb::LabelScore> {
    scores
        .into_iter()
        .map(|s| pb::LabelScore {
            label: s.label,
            score: s.score,
            terms: s
                .terms
                .into_iter()
                .map(|t| pb::TermWeight {
                    term: t.term,
                    weight: t.weight,
                })
                .collect(),
        })
        .collect()
}

pub fn item_error(e: &Error) -> pb::ItemError {
    pb::ItemError {
        code: e.code() as i32,
        message: e.to_string(),
        field: e.field().to_string(),
    }
}

pub fn metrics(m: &Metrics) -> pb::TrainingMetrics {
    pb::TrainingMetrics {
        folds: m.folds,
        accuracy: m.accuracy,
        macro_f1: m.macro_f1,
        per_label: m
            .per_label
            .iter()
            .map(|(label, l)| pb::LabelMetrics {
                label: label.clone(),
                precision: l.precision,
                recall: l.recall,
                f1: l.f1,
                support: l.support as u32,
            })
            .collect(),
    }
}

pub fn extraction(x: Extraction) -> pb::ExtractResponse {
    pb::ExtractResponse {
        id: x.id,
        title: x.title,
        dateline: x.dateline,
        entities: x
            .entities
            .into_iter()
            .map(|e| pb::Entity {
                text: e.text,
                kind: e.kind.as_str().to_string(),
                start: e.start,
                end: e.end,
                source: e.source.to_string(),
            })
            .collect(),
        quantities: x
            .quantities
            .into_iter()
            .map(|q| pb::Quantity {
                text: q.text,
                value: q.value,
                unit: q.unit,
                start: q.start,
                end: q.end,
            })
            .collect(),
        dates: x
            .dates
            .into_iter()
            .map(|d| pb::DateMention {
                text: d.text,
                start: d.start,
                end: d.end,
                normalized: d.normalized,
            })
            .collect(),
        quotes: x
            .quotes
            .into_iter()
            .map(|q| pb::Quote {
                text: q.text,
                speaker: q.speaker,
                start: q.start,
                end: q.end,
            })
            .collect(),
        keywords: x
            .keywords
            .into_iter()
            .map(|k| pb::Keyword {
                term: k.term,
                weight: k.weight,
            })
            .collect(),
    }
}

/// What GetModelInfo (and ReloadModel) answer about a served model.
pub fn model_info(served: &super::ServedModel) -> pb::ModelInfo {
    let m = &served.model;
    pb::ModelInfo {
        model_version: m.version().to_string(),
        labels: m.labels().to_vec(),
        vocabulary_size: m.vectorizer().vocabulary_size() as u64,
        algorithm: m.algorithm().to_string(),
        training_documents: m.meta.training_documents,
        training_metrics: m.meta.metrics.as_ref().map(metrics),
        format_version: crate::model::FORMAT_VERSION as u32,
        source: served.source.clone(),
        trained_at_unix: m.meta.trained_at_unix,
        features: Some(feature_settings(m.vectorizer())),
    }
}

/// What a model's vectorizer reads from a text.
fn feature_settings(v: &crate::features::Vectorizer) -> pb::FeatureSettings {
    let f = v.config();
    let narrow = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    pb::FeatureSettings {
        word_ngram_min: narrow(f.ngram_min),
        word_ngram_max: narrow(f.ngram_max),
        char_ngrams: f.char_range(),
        features: v.len() as u64,
        hash_bits: f.hash_bits.into(),
        stemmed: f.stem,
        lead_terms: narrow(f.lead_terms),
        lead_weight: f.lead_weight,
        min_document_count: f.min_df,
        max_document_fraction: f.max_df,
        max_features: f.max_features.map_or(0, |n| n as u64),
    }
}
