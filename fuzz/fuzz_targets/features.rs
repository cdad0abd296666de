//! Any text through a fitted vectorizer (words, character n-grams, hashing, stemming) and
//! the default-settings classifier: finite features, scores that sum to 1.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use warta::features::{FeatureConfig, Vectorizer};
use warta::model::{train, Example, TopicModel, TrainConfig};

fn fitted() -> &'static (Vec<Vectorizer>, TopicModel) {
    static F: OnceLock<(Vec<Vectorizer>, TopicModel)> = OnceLock::new();
    F.get_or_init(|| {
        let docs = [
            "Migran tiba di perbatasan selatan.",
            "Kartel narkoba menyelundupkan kokain.",
            "Vaksin campak tiba di rumah sakit.",
        ];
        let configs = [
            FeatureConfig::default(),
            FeatureConfig {
                stem: true,
                ..FeatureConfig::default()
            },
            FeatureConfig {
                hash_bits: 12,
                ..FeatureConfig::default()
            },
            FeatureConfig {
                char_ngram_min: 0,
                char_ngram_max: 0,
                ngram_max: 3,
                ..FeatureConfig::default()
            },
        ];
        let v = configs
            .into_iter()
            .map(|c| Vectorizer::fit(c, &docs).expect("fit"))
            .collect();
        let ex: Vec<Example> = docs
            .iter()
            .zip(["migration", "drugs", "health"])
            .map(|(t, l)| Example {
                text: t.to_string(),
                label: l.to_string(),
            })
            .collect();
        (v, train(&ex, &TrainConfig::default()).expect("train"))
    })
}

fuzz_target!(|text: &str| {
    let (vectorizers, model) = fitted();
    for v in vectorizers {
        for x in [v.transform(text), v.transform_unordered(text)] {
            assert!(x.values.iter().all(|a| a.is_finite()));
            assert!(x.indices.iter().all(|&i| (i as usize) < v.len()));
        }
        let _ = v.names_in(text);
    }
    let p = model.predict_proba(text);
    let sum: f64 = p.iter().sum();
    assert!(p.iter().all(|x| x.is_finite()) && (sum - 1.0).abs() < 1e-6);
    let _ = model.classify_explained(text, 0, 5);
});
