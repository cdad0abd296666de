//! Any line as a JSONL row: parsed or refused with a message, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|line: &str| {
    if let Ok(row) = warta::corpus::parse_row_ref(line) {
        let _ = row.full_text();
    }
    let _ = serde_json::from_str::<warta::ner::TaggedSentence>(line);
});
