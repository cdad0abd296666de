//! Any article through the extractor: every span's character offsets lie inside the text and
//! slice out exactly the reported text.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use warta::extract::Extractor;

fuzz_target!(|data: (&str, &str)| {
    static X: OnceLock<Extractor> = OnceLock::new();
    let x = X.get_or_init(Extractor::default);
    let (title, text) = data;
    let out = x.extract("f", title, text, None);
    let chars: Vec<char> = text.chars().collect();
    let slice = |s: u32, e: u32| -> String {
        assert!(s <= e && (e as usize) <= chars.len(), "{s}..{e} of {}", chars.len());
        chars[s as usize..e as usize].iter().collect()
    };
    for e in &out.entities {
        assert_eq!(slice(e.start, e.end), e.text);
    }
    for d in &out.dates {
        assert_eq!(slice(d.start, d.end), d.text);
    }
    for q in &out.quantities {
        assert_eq!(slice(q.start, q.end), q.text);
    }
    for q in &out.quotes {
        assert_eq!(slice(q.start, q.end), q.text);
    }
});
