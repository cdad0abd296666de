//! Properties over arbitrary text (proptest): classification scores are finite and sum to 1;
//! every extracted span's character offsets lie inside the text, on character boundaries, and
//! slice out exactly the reported text.

mod common;

use common::small_model;
use proptest::prelude::*;
use std::sync::OnceLock;
use warta::extract::Extractor;
use warta::model::TopicModel;

fn model() -> &'static TopicModel {
    static M: OnceLock<TopicModel> = OnceLock::new();
    M.get_or_init(small_model)
}

fn extractor() -> &'static Extractor {
    static X: OnceLock<Extractor> = OnceLock::new();
    X.get_or_init(Extractor::default)
}

/// Text that looks like news often enough to reach the interesting paths: words from a news
/// vocabulary, names, numbers, quotes and punctuation, mixed with arbitrary Unicode.
fn newsish() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("Presiden".to_string()),
        Just("Kamala Harris".to_string()),
        Just("Meksiko".to_string()),
        Just("250.000".to_string()),
        Just("1,5 juta".to_string()),
        Just("Selasa (8/6)".to_string()),
        Just("\u{201c}Kami".to_string()),
        Just("kata\u{201d}".to_string()),
        Just("migran".to_string()),
        Just("\n".to_string()),
        Just("–".to_string()),
        "\\PC{0,12}",
        "[A-Z][a-z]{1,8}",
    ];
    prop::collection::vec(piece, 0..40).prop_map(|v| v.join(" "))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn scores_are_finite_and_sum_to_one(text in newsish()) {
        let labels = model().classify_explained(&text, 0, 3);
        prop_assert_eq!(labels.len(), model().labels().len());
        let sum: f64 = labels.iter().map(|l| l.score).sum();
        prop_assert!(labels.iter().all(|l| l.score.is_finite() && l.score >= 0.0));
        prop_assert!((sum - 1.0).abs() < 1e-6, "sum {}", sum);
        for l in &labels {
            prop_assert!(l.terms.iter().all(|t| t.weight.is_finite()));
        }
    }

    #[test]
    fn extracted_offsets_are_character_offsets_inside_the_text(title in "\\PC{0,20}", text in newsish()) {
        let out = extractor().extract("p", &title, &text, Some(model().vectorizer()));
        let chars: Vec<char> = text.chars().collect();
        let spans = out.entities.iter().map(|e| (e.start, e.end, e.text.clone()))
            .chain(out.dates.iter().map(|d| (d.start, d.end, d.text.clone())))
            .chain(out.quantities.iter().map(|q| (q.start, q.end, q.text.clone())))
            .chain(out.quotes.iter().map(|q| (q.start, q.end, q.text.clone())));
        for (start, end, shown) in spans {
            prop_assert!(start <= end && end as usize <= chars.len());
            let slice: String = chars[start as usize..end as usize].iter().collect();
            prop_assert_eq!(slice, shown);
        }
        prop_assert!(out.keywords.iter().all(|k| k.weight.is_finite()));
    }
}
