//! Any UTF-8 text: words lie on character boundaries inside the text, in order.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let mut last = 0;
    for w in warta::text::words(text) {
        assert!(w.start >= last && w.start < w.end && w.end <= text.len());
        assert!(text.is_char_boundary(w.start) && text.is_char_boundary(w.end));
        assert_eq!(&text[w.start..w.end], w.text);
        last = w.end;
    }
    let offsets = warta::text::char_offsets(text);
    assert_eq!(offsets.char_of(text.len()), text.chars().count());
});
