//! An article prepared for extraction: its words, sentence boundaries and the byte → char map.

use crate::text::{char_offsets, words, CharOffsets, Word};

/// Abbreviations whose trailing period does not end a sentence.
const ABBREVIATIONS: &[&str] = &[
    "Mr", "Mrs", "Ms", "Dr", "Jr", "Sr", "Sra", "St", "Gen", "Lt", "Col", "Capt", "Adm", "Maj", "Prof", "Sen", "Rep",
    "Gov", "No", "Co", "Inc", "Ltd", "Corp", "vs", "Ir", "H", "Hj", "dll", "dsb", "tsb", "Yth", "Bpk", "Sdr", "Jend",
    "Kol", "Brigjen", "Mayjen", "Letjen", "Kompol", "AKBP", "Drs", "Dra", "SH", "MH", "Ph", "Jl", "Jln", "approx",
    "etc", "e", "g", "i",
];

pub struct Document<'a> {
    pub text: &'a str,
    pub words: Vec<Word<'a>>,
    /// Sentence number of each word.
    pub sentence: Vec<usize>,
    /// Byte range of each sentence.
    pub sentences: Vec<(usize, usize)>,
    pub offsets: CharOffsets,
    /// Is word `i` on a title-cased line (a headline or subheading), where capitals say
    /// nothing about names?
    pub title_case: Vec<bool>,
}

/// Lines of at most 14 words where most words of four or more letters are capitalised.
fn title_case_flags(text: &str, words: &[Word<'_>]) -> Vec<bool> {
    let mut flags = vec![false; words.len()];
    let mut i = 0;
    while i < words.len() {
        let line_end = text[words[i].start..]
            .find('\n')
            .map_or(text.len(), |k| words[i].start + k);
        let j = i + words[i..].iter().take_while(|w| w.start < line_end).count();
        let line = &words[i..j];
        let long: Vec<&Word<'_>> = line
            .iter()
            .filter(|w| w.text.chars().count() >= 4 && w.has_letter())
            .collect();
        let caps = long.iter().filter(|w| w.is_capitalized()).count();
        if line.len() <= 14 && long.len() >= 2 && caps * 10 >= long.len() * 6 {
            flags[i..j].iter_mut().for_each(|f| *f = true);
        }
        i = j.max(i + 1);
    }
    flags
}

impl<'a> Document<'a> {
    pub fn new(text: &'a str) -> Self {
        let words: Vec<Word<'a>> = words(text).collect();
        let mut sentence = Vec::with_capacity(words.len());
        let mut sentences = Vec::new();
        let mut current = 0;
        let mut start = 0;
        for (i, w) in words.iter().enumerate() {
            sentence.push(current);
            let gap_end = words.get(i + 1).map_or(text.len(), |n| n.start);
            let gap = &text[w.end..gap_end];
            if i + 1 < words.len() && ends_sentence(w.text, gap) {
                sentences.push((start, w.end + gap.trim_end().len()));
                start = gap_end;
                current += 1;
            }
        }
        sentences.push((start, text.len()));
        let title_case = title_case_flags(text, &words);
        Document {
            title_case,
            text,
            words,
            sentence,
            sentences,
            offsets: char_offsets(text),
        }
    }

    /// The text between word `i` and word `i + 1` (or the end).
    pub fn gap_after(&self, i: usize) -> &'a str {
        let end = self.words.get(i + 1).map_or(self.text.len(), |n| n.start);
        self.words.get(i).map_or("", |w| &self.text[w.end..end])
    }

    /// The text before the first word of sentence containing word `i` up to that word.
    pub fn gap_before(&self, i: usize) -> &'a str {
        let start = if i == 0 { 0 } else { self.words[i - 1].end };
        &self.text[start..self.words[i].start]
    }

    /// Is word `i` the first word of its sentence?
    pub fn starts_sentence(&self, i: usize) -> bool {
        i == 0 || self.sentence[i] != self.sentence[i - 1]
    }

    /// Char offset of a byte offset.
    pub fn char_of(&self, byte: usize) -> u32 {
        self.offsets.char_of(byte) as u32
    }
}

fn ends_sentence(word: &str, gap: &str) -> bool {
    if gap.contains('\n') {
        return true;
    }
    let trimmed = gap.trim_end();
    if trimmed.len() == gap.len() {
        return false; // no white space after the punctuation: "Kompas.com", "3.5"
    }
    let punct = trimmed.trim_end_matches(['"', '”', '’', '\'', ')', ']']);
    match punct.chars().last() {
        Some('!') | Some('?') => true,
        Some('.') => {
            let initial = word.chars().count() == 1 && word.chars().all(char::is_uppercase);
            !(initial || ABBREVIATIONS.contains(&word))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_respect_initials_and_abbreviations() {
        let d = Document::new("Mr. Blinken dan Antony J. Blinken tiba. Lalu pergi!\nBaru Kompas.com hadir");
        let first: Vec<&str> = d
            .words
            .iter()
            .zip(&d.sentence)
            .filter(|(_, &s)| s == 0)
            .map(|(w, _)| w.text)
            .collect();
        assert_eq!(first, ["Mr", "Blinken", "dan", "Antony", "J", "Blinken", "tiba"]);
        assert_eq!(d.sentences.len(), 3);
        assert!(d.starts_sentence(7));
        assert_eq!(&d.text[d.sentences[1].0..d.sentences[1].1], "Lalu pergi!");
    }

    #[test]
    fn headlines_and_subheadings_are_title_case() {
        let d = Document::new(
            "Peran Kekuatan Regional\nMenurut Adam Isacson, seorang spesialis keamanan regional di kantor itu.",
        );
        assert_eq!(d.title_case[..3], [true, true, true]);
        assert!(d.title_case[3..].iter().all(|f| !f));
    }
}
