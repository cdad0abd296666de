//! Indonesian and English stopword lists (data/lexicon/stopwords_*.txt), compiled in.

use super::fasthash::FastSet;
use std::sync::OnceLock;

const INDONESIAN: &str = include_str!("../../data/lexicon/stopwords_id.txt");
const ENGLISH: &str = include_str!("../../data/lexicon/stopwords_en.txt");

/// A stopword list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    Indonesian,
    English,
}

fn parse(list: &str) -> impl Iterator<Item = &str> {
    list.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
}

fn all() -> &'static FastSet<&'static str> {
    static SET: OnceLock<FastSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| parse(INDONESIAN).chain(parse(ENGLISH)).collect())
}

/// Is the lowercase word a stopword in Indonesian or English?
/// Articles mix both languages (English quotes in Indonesian news), so one set serves both.
pub fn is_stopword(lower: &str) -> bool {
    all().contains(lower)
}

/// The words of one list, for callers that need a single language.
pub fn list(language: Language) -> Vec<&'static str> {
    match language {
        Language::Indonesian => parse(INDONESIAN).collect(),
        Language::English => parse(ENGLISH).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_languages() {
        assert!(is_stopword("yang"));
        assert!(is_stopword("the"));
        assert!(!is_stopword("migran"));
        assert!(!is_stopword("#"));
        assert!(list(Language::Indonesian).len() > 100);
        assert!(list(Language::English).len() > 100);
    }
}
