//! Entity tagging benchmark: warta's tagger beside the CRF peer (`../shared/bench/ner_peer.py`,
//! sklearn-crfsuite with classic word-shape features) on the same splits, in one run: train →
//! dev on nergrit, nerui-indolem and nerp. Prints exact-span micro-F1, macro-F1, F1 per type,
//! training time and single-thread tagging rate. warta's predictions are also scored by the
//! peer's own scorer (`ner_peer.py --score`), so both sides are counted the same way.
//!
//! Run: `benches/ner.sh` (sets up the peer's Python environment), or `cargo bench --bench ner`
//! with `WARTA_SHARED` (default `../shared`) and `WARTA_PYTHON` (with sklearn-crfsuite) set.
//! `benches/ner.sh --test` scores the held-back test splits instead of dev (`<corpus>/test.jsonl`
//! under `$WARTA_HOLDOUT`, default the corpora folder).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;
use warta::ner::{score, NerConfig, TaggedSentence, Tagger};

fn read(path: &Path) -> Vec<TaggedSentence> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn python_json(python: &str, args: &[&Path]) -> Option<serde_json::Value> {
    let out = Command::new(python)
        .args(args)
        .env("OMP_NUM_THREADS", "1")
        .output()
        .ok()?;
    if !out.status.success() {
        eprintln!("{python} failed: {}", String::from_utf8_lossy(&out.stderr));
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.lines().last()?).ok()
}

fn per_type(v: &serde_json::Value) -> String {
    v.as_object()
        .map(|m| {
            m.iter()
                .map(|(k, f)| format!("{k} {:.3}", f.as_f64().unwrap_or(0.0)))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

fn main() {
    let shared = PathBuf::from(std::env::var("WARTA_SHARED").unwrap_or_else(|_| "../shared".into()));
    let python = std::env::var("WARTA_PYTHON").unwrap_or_else(|_| "python3".into());
    let only: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    // `--test`: score the held-back test splits, `<corpus>/test.jsonl` under $WARTA_HOLDOUT
    // (default: the corpora folder), in place of dev; a corpus without one is skipped
    let test = std::env::args().any(|a| a == "--test");
    let holdout = std::env::var_os("WARTA_HOLDOUT").map_or_else(|| shared.join("corpora"), PathBuf::from);
    let peer = shared.join("bench/ner_peer.py");
    if !shared.join("corpora").is_dir() {
        eprintln!("no corpora under {}: set WARTA_SHARED", shared.display());
        return;
    }
    let work = PathBuf::from("target/bench-data");
    std::fs::create_dir_all(&work).expect("mkdir");
    println!(
        "| corpus | system | micro-F1 | macro-F1 | F1 per type | train s | tokens/s | micro-F1 − CRF | speed ÷ CRF |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for corpus in ["nergrit", "nerui-indolem", "nerp"] {
        if only.as_deref().is_some_and(|o| o != corpus) {
            continue;
        }
        let dir = shared.join("corpora").join(corpus);
        let train_path = dir.join("train.jsonl");
        let dev_path = if test {
            holdout.join(corpus).join("test.jsonl")
        } else {
            dir.join("dev.jsonl")
        };
        if test && !dev_path.is_file() {
            eprintln!("{corpus}: no held-back test split at {}; skipped", dev_path.display());
            continue;
        }
        let (train, dev) = (read(&train_path), read(&dev_path));
        let started = Instant::now();
        let tagger = Tagger::train(&train, &NerConfig::default()).expect("train");
        let train_s = started.elapsed().as_secs_f64();
        let predicted: Vec<Vec<&str>> = dev.iter().map(|r| tagger.tag(&r.tokens)).collect();
        // single thread, features included: repeat dev until ~1M tokens are tagged
        let dev_tokens: usize = dev.iter().map(|r| r.tokens.len()).sum();
        let rounds = (1_000_000 / dev_tokens.max(1)).max(1);
        let started = Instant::now();
        let mut sink = 0usize;
        for _ in 0..rounds {
            for r in &dev {
                sink = sink.wrapping_add(tagger.tag(&r.tokens).len());
            }
        }
        let rate = (rounds * dev_tokens) as f64 / started.elapsed().as_secs_f64();
        std::hint::black_box(sink);
        let ours = score(
            dev.iter().map(|r| r.tags.as_slice()),
            predicted.iter().map(Vec::as_slice),
        );
        // the peer's scorer on our predictions: the same counting for both sides
        let pred_path = work.join(format!("{corpus}-warta.pred.jsonl"));
        let lines: Vec<String> = dev
            .iter()
            .zip(&predicted)
            .map(|(r, p)| serde_json::json!({"id": r.id, "tokens": r.tokens, "tags": p}).to_string())
            .collect();
        std::fs::write(&pred_path, lines.join("\n") + "\n").expect("write predictions");
        let checked = python_json(&python, &[&peer, Path::new("--score"), &dev_path, &pred_path]);
        let crf = python_json(&python, &[&peer, &train_path, &dev_path]);
        let crf_f1 = crf.as_ref().and_then(|c| c["micro_f1"].as_f64());
        let crf_rate = crf.as_ref().and_then(|c| c["tokens_per_s"].as_f64());
        if let Some(c) = &checked {
            let theirs = c["micro_f1"].as_f64().unwrap_or(-1.0);
            if (theirs - ours.micro_f1).abs() > 1e-9 {
                eprintln!(
                    "{corpus}: scorers disagree: warta {} vs ner_peer {theirs}",
                    ours.micro_f1
                );
            }
        }
        let types = serde_json::to_value(&ours.per_type).unwrap_or_default();
        println!(
            "| {corpus} | warta perceptron | {:.4} | {:.4} | {} | {:.2} | {:.0} | {} | {} |",
            ours.micro_f1,
            ours.macro_f1,
            per_type(&types),
            train_s,
            rate,
            crf_f1.map_or("-".into(), |c| format!("{:+.4}", ours.micro_f1 - c)),
            crf_rate.map_or("-".into(), |c| format!("{:.1}×", rate / c)),
        );
        if let Some(c) = crf {
            println!(
                "| {corpus} | sklearn-crfsuite CRF | {:.4} | {:.4} | {} | {:.2} | {:.0} | | |",
                c["micro_f1"].as_f64().unwrap_or(0.0),
                c["macro_f1"].as_f64().unwrap_or(0.0),
                per_type(&c["per_type"]),
                c["train_s"].as_f64().unwrap_or(0.0),
                c["tokens_per_s"].as_f64().unwrap_or(0.0),
            );
        }
    }
}
