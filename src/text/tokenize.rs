//! Word tokenizer shared by features and extraction.
//!
//! A word is a run of letters and digits. A joiner (`-`, `'`, `’`) between two letters or digits
//! stays inside the word ("negara-negara", "O'Brien", "COVID-19"); `.` and `,` between two digits
//! stay inside numbers ("250.000", "1,5"). Offsets are byte offsets into the input; use
//! [`char_offsets`] to turn them into the character offsets the API reports.

use super::swar::alnum_run;

/// A word of the input: its slice and byte range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Word<'a> {
    pub text: &'a str,
    pub start: usize,
    pub end: usize,
}

impl Word<'_> {
    /// True when the word has at least one letter (so "2024" and "8/6" parts are not terms).
    pub fn has_letter(&self) -> bool {
        self.text.chars().any(char::is_alphabetic)
    }

    /// True when the first character is an upper-case letter.
    pub fn is_capitalized(&self) -> bool {
        self.text.chars().next().is_some_and(char::is_uppercase)
    }
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric()
}

fn is_joiner(c: char) -> bool {
    matches!(c, '-' | '\'' | '’' | '‐' | '‑')
}

/// Iterate over the words of `text` in order.
pub fn words(text: &str) -> Words<'_> {
    Words { text, pos: 0 }
}

/// Iterator returned by [`words`].
pub struct Words<'a> {
    text: &'a str,
    pos: usize,
}

/// The character at byte `i` (a char boundary) and its length; ASCII without decoding.
#[inline]
fn char_at(text: &str, i: usize) -> Option<(char, usize)> {
    let b = *text.as_bytes().get(i)?;
    if b < 0x80 {
        Some((b as char, 1))
    } else {
        text.get(i..)?.chars().next().map(|c| (c, c.len_utf8()))
    }
}

#[inline]
fn is_word_char_fast(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_alphanumeric()
    } else {
        is_word_char(c)
    }
}

/// ASCII bytes that separate words on the fast path (not letters, digits or non-ASCII).
const SEPARATOR: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 0x80 {
        t[b] = !(b as u8).is_ascii_alphanumeric();
        b += 1;
    }
    t
};

impl<'a> Iterator for Words<'a> {
    type Item = Word<'a>;

    #[inline(always)]
    fn next(&mut self) -> Option<Word<'a>> {
        // Fast path for the common case, byte by byte: an ASCII word ended by ASCII that is
        // not a joiner or a number separator. Anything else takes the general path below,
        // from the same place, so both give the same words.
        let bytes = self.text.as_bytes();
        let mut i = self.pos;
        while bytes.get(i).is_some_and(|&b| SEPARATOR[b as usize]) {
            i += 1;
        }
        let start = i;
        if bytes.get(start).is_some_and(u8::is_ascii_alphanumeric) {
            let j = alnum_run(bytes, start + 1);
            let next = bytes.get(j + 1).copied();
            let ends_here = match bytes.get(j) {
                None => true,
                // a joiner stays inside only before a word character
                Some(b'-' | b'\'') => next.is_some_and(|n| n < 0x80 && !n.is_ascii_alphanumeric()) || next.is_none(),
                // a number separator only between two digits
                Some(b'.' | b',') => {
                    !(bytes.get(j - 1).is_some_and(u8::is_ascii_digit) && next.is_some_and(|n| n.is_ascii_digit()))
                }
                Some(&b) => b < 0x80,
            };
            if ends_here {
                self.pos = j;
                return Some(Word {
                    text: self.text.get(start..j)?,
                    start,
                    end: j,
                });
            }
        }
        self.pos = start;
        self.next_general()
    }
}

impl<'a> Words<'a> {
    /// The general word rule, for any Unicode text (see the module docs). Out of line, so
    /// the fast path inlines into its callers.
    #[cold]
    #[inline(never)]
    fn next_general(&mut self) -> Option<Word<'a>> {
        let text = self.text;
        let mut i = self.pos;
        // skip to the start of the next word
        let start = loop {
            let (c, len) = char_at(text, i)?;
            if is_word_char_fast(c) {
                break i;
            }
            i += len;
        };
        let mut end = start;
        let mut j = start;
        let mut prev: Option<char> = None;
        while let Some((c, len)) = char_at(text, j) {
            if is_word_char_fast(c) {
                j += len;
                end = j;
                prev = Some(c);
                continue;
            }
            let next = char_at(text, j + len).map(|(n, _)| n);
            let inner = match (prev, next) {
                (Some(p), Some(n)) if is_joiner(c) => is_word_char_fast(p) && is_word_char_fast(n),
                (Some(p), Some(n)) if c == '.' || c == ',' => p.is_ascii_digit() && n.is_ascii_digit(),
                _ => false,
            };
            if !inner {
                break;
            }
            j += len;
            prev = Some(c);
        }
        self.pos = end;
        Some(Word {
            text: &text[start..end],
            start,
            end,
        })
    }
}

/// Maps byte offsets of one text to character (Unicode scalar value) offsets.
pub struct CharOffsets {
    /// `starts[i]` is the byte offset of character `i`; the last entry is the text length.
    starts: Vec<usize>,
}

/// Build the byte → character offset map of `text`.
pub fn char_offsets(text: &str) -> CharOffsets {
    let mut starts: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
    starts.push(text.len());
    CharOffsets { starts }
}

impl CharOffsets {
    /// Character offset of a byte offset (a byte inside a character maps to that character).
    pub fn char_of(&self, byte: usize) -> usize {
        match self.starts.binary_search(&byte) {
            Ok(i) => i,
            Err(i) => i.saturating_sub(1),
        }
    }

    /// Number of characters in the text.
    pub fn len(&self) -> usize {
        self.starts.len() - 1
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(s: &str) -> Vec<&str> {
        words(s).map(|w| w.text).collect()
    }

    #[test]
    fn splits_on_punctuation_and_space() {
        assert_eq!(
            texts("Meksiko dan Amerika Serikat (AS) sepakat."),
            ["Meksiko", "dan", "Amerika", "Serikat", "AS", "sepakat"]
        );
    }

    #[test]
    fn keeps_joined_words_and_numbers() {
        assert_eq!(
            texts("negara-negara lebih dari 250.000 migran, 1,5 juta; COVID-19 O’Brien -x- a-"),
            [
                "negara-negara",
                "lebih",
                "dari",
                "250.000",
                "migran",
                "1,5",
                "juta",
                "COVID-19",
                "O’Brien",
                "x",
                "a"
            ]
        );
    }

    #[test]
    fn unicode_letters_and_offsets() {
        let text = "“Peña” dijo: Ñandú 東京";
        let ws: Vec<_> = words(text).collect();
        assert_eq!(
            ws.iter().map(|w| w.text).collect::<Vec<_>>(),
            ["Peña", "dijo", "Ñandú", "東京"]
        );
        let map = char_offsets(text);
        assert_eq!(map.char_of(ws[0].start), 1);
        assert_eq!(map.char_of(ws[0].end), 5);
        assert_eq!(text.chars().skip(1).take(4).collect::<String>(), "Peña");
        assert_eq!(map.len(), text.chars().count());
    }

    #[test]
    fn trailing_separators_do_not_join() {
        assert_eq!(texts("1.000. Lalu"), ["1.000", "Lalu"]);
        assert_eq!(texts("(8/6)"), ["8", "6"]);
        assert!(texts("  ,.;  ").is_empty());
        assert!(texts("").is_empty());
    }

    #[test]
    fn the_ascii_fast_path_gives_the_general_rule_s_words() {
        fn general(s: &str) -> Vec<Word<'_>> {
            let mut it = Words { text: s, pos: 0 };
            std::iter::from_fn(move || it.next_general()).collect()
        }
        for s in [
            "Para MIGRAN tiba di perbatasan, 250.000 orang (8/6).",
            "a. b, 1. 2, 1.a a.1 x-- y-. z'é 7,5 7,é 7.",
            "negara-negara O'Brien COVID-19 1,5 persen x- -y 'a' a.b 3.",
            "Andrés Manuel López Obrador di Meksiko—Kolombia’s naïve café",
            "end-",
            "12,",
            "word",
            " \t\n  ",
            "a‐b c‑d e’f",
        ] {
            assert_eq!(words(s).collect::<Vec<_>>(), general(s), "{s}");
        }
        // and on random strings over the characters that matter
        let alphabet: Vec<char> = "ab1 9.,-'’‐é\n(Z@[`{/:".chars().collect();
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for round in 0..40_000 {
            // short strings, and long ones that fill the eight-byte steps
            let len = (state >> 60) as usize + if round % 2 == 0 { 0 } else { 16 };
            let s: String = (0..len)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    alphabet[(state % alphabet.len() as u64) as usize]
                })
                .collect();
            assert_eq!(words(&s).collect::<Vec<_>>(), general(&s), "{s:?}");
        }
    }
}
