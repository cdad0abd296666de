//! Any bytes as a topic model file or an entity model file: an error or a model, never a
//! panic (the checksum is bypassed by also trying the body with a correct header).
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let p = Path::new("fuzz");
    let _ = warta::model::TopicModel::from_bytes(data, p);
    let _ = warta::ner::Tagger::from_bytes(data, p);
    // the same bytes as a body behind a valid header, so decoding itself is exercised
    for (magic, version, checksum) in [
        (b"WARTA\x00TM", warta::model::FORMAT_VERSION, warta::model::checksum as fn(&[u8]) -> u64),
        (b"WARTA\x00NE", warta::ner::TAGGER_FORMAT_VERSION, warta::ner::checksum),
    ] {
        let mut file = magic.to_vec();
        file.extend_from_slice(&version.to_le_bytes());
        file.extend_from_slice(&checksum(data).to_le_bytes());
        file.extend_from_slice(data);
        if let Ok(m) = warta::model::TopicModel::from_bytes(&file, p) {
            let _ = m.classify("migran di perbatasan", 0);
        }
        if let Ok(t) = warta::ner::Tagger::from_bytes(&file, p) {
            let _ = t.tag(&["Joko", "Widodo"]);
        }
    }
});
