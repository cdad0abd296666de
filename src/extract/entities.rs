//! Entity sources: the gazetteer and capitalised-span rules with honorifics, and the
//! coreference pass that finds later short mentions ("Harris") of a full name.

use super::lexicon::{Lexicon, ORG_HEADS, PLACE_HEADS};
use super::{Document, EntityKind, EntitySpan};
use crate::text::Word;
use std::collections::HashSet;

/// Something that proposes entity spans; overlaps between sources are resolved afterwards.
pub trait EntitySource: Send + Sync {
    fn name(&self) -> &'static str;
    fn find(&self, doc: &Document<'_>, out: &mut Vec<EntitySpan>);
}

/// Can words `i..j` form one name: no line break, only short joiners between them?
fn joined(doc: &Document<'_>, i: usize, j: usize) -> bool {
    (i..j.saturating_sub(1)).all(|k| {
        let gap = doc.gap_after(k);
        let same_sentence = doc.sentence.get(k + 1).is_none_or(|s| *s == doc.sentence[k]);
        same_sentence
            && !gap.contains('\n')
            && gap.chars().count() <= 2
            && gap.chars().all(|c| c == ' ' || c == '.' || c == '\u{a0}')
    })
}

fn lookup(lex: &Lexicon, words: &[Word<'_>]) -> Option<EntityKind> {
    let key: Vec<String> = words.iter().map(|w| w.text.to_string()).collect();
    if let Some(kind) = lex.names.get(&key) {
        return Some(kind.clone());
    }
    let all_upper = words.iter().all(|w| !w.text.chars().any(char::is_lowercase));
    // single ALL-CAPS words like "CITY" are too ambiguous on their own
    if all_upper && (words.len() > 1 || words[0].text.chars().count() > 3) {
        return lex.upper_names.get(&key).cloned();
    }
    None
}

/// Longest gazetteer name starting at word `i`: (words it spans, kind).
pub(crate) fn gazetteer_at(doc: &Document<'_>, i: usize) -> Option<(usize, EntityKind)> {
    let lex = Lexicon::get();
    let max = lex.max_name_words.min(doc.words.len() - i);
    (1..=max).rev().find_map(|n| {
        if !doc.words[i].is_capitalized() && !doc.words[i].text.starts_with(|c: char| c.is_ascii_digit()) {
            return None;
        }
        if n > 1 && !joined(doc, i, i + n) {
            return None;
        }
        lookup(lex, &doc.words[i..i + n]).map(|k| (n, k))
    })
}

/// Countries, cities, regions and organisations from `data/gazetteer`, in Indonesian and English.
pub struct Gazetteer;

impl EntitySource for Gazetteer {
    fn name(&self) -> &'static str {
        "gazetteer"
    }

    fn find(&self, doc: &Document<'_>, out: &mut Vec<EntitySpan>) {
        let lex = Lexicon::get();
        let mut i = 0;
        while i < doc.words.len() {
            if let Some((n, kind)) = gazetteer_at(doc, i) {
                out.push(EntitySpan {
                    start: doc.words[i].start,
                    end: doc.words[i + n - 1].end,
                    kind,
                    source: "gazetteer",
                    priority: 2,
                });
                i += n;
                continue;
            }
            // parts of hyphenated compounds: "AS-Meksiko-Kanada"
            let w = doc.words[i];
            if w.text.contains('-') {
                let mut offset = w.start;
                for part in w.text.split('-') {
                    let key = vec![part.to_string()];
                    if let Some(kind) = lex.names.get(&key) {
                        out.push(EntitySpan {
                            start: offset,
                            end: offset + part.len(),
                            kind: kind.clone(),
                            source: "gazetteer",
                            priority: 2,
                        });
                    }
                    offset += part.len() + 1;
                }
            }
            i += 1;
        }
    }
}

/// Does `word` appear capitalised outside headlines and subheadings?
fn capitalised_in_body(doc: &Document<'_>, word: &str) -> bool {
    doc.words
        .iter()
        .zip(&doc.title_case)
        .any(|(w, &tc)| !tc && w.text == word)
}

/// Name particles that may stand lower-case inside a person's name.
const PARTICLES: &[&str] = &[
    "de", "da", "del", "della", "di", "do", "dos", "van", "von", "der", "bin", "binti", "al", "la", "le", "y",
];
/// Lower-case words that may join the parts of an organisation's name.
const ORG_CONNECTORS: &[&str] = &[
    "untuk", "dan", "of", "for", "the", "on", "and", "de", "del", "la", "pada", "urusan",
];
/// Words right before a name that mark it as a person.
const PERSON_CUES_BEFORE: &[&str] = &[
    "oleh", "kata", "ujar", "menurut", "said", "by", "tutur", "ungkap", "sang", "saudara", "mendiang",
];

fn is_initial(doc: &Document<'_>, i: usize) -> bool {
    let w = doc.words[i];
    w.text.chars().count() == 1 && w.is_capitalized() && doc.gap_after(i).starts_with('.')
}

/// Title (honorific, office) that ends at word `j` exclusive, starting at `i`: returns its length.
fn title_at(doc: &Document<'_>, i: usize) -> Option<usize> {
    let lex = Lexicon::get();
    let max = lex.max_title_words.min(doc.words.len() - i);
    (1..=max).rev().find(|&n| {
        joined(doc, i, i + n) && {
            let key: Vec<String> = doc.words[i..i + n].iter().map(|w| w.text.to_lowercase()).collect();
            lex.titles.contains(&key)
        }
    })
}

/// Extent of a person's name from word `i`: capitalised words, initials and particles.
fn name_run(doc: &Document<'_>, i: usize) -> usize {
    let lex = Lexicon::get();
    let mut j = i;
    while j < doc.words.len() && j - i < 6 {
        let w = doc.words[j];
        if j > i && !joined(doc, j - 1, j + 1) {
            break;
        }
        let ok = if w.is_capitalized() {
            // capitalised function words are names here ("Jenderal Dan Caine"); capitalised
            // common nouns ("Kepala Staf") are not
            let common = lex.non_names.contains(&w.text.to_lowercase());
            !common && title_at(doc, j).is_none_or(|_| j == i) && gazetteer_at(doc, j).is_none()
        } else {
            j > i && PARTICLES.contains(&w.text) && doc.words.get(j + 1).is_some_and(|n| n.is_capitalized())
        };
        if !ok || !w.has_letter() {
            break;
        }
        j += 1;
    }
    // a particle belongs to a name only between capitalised parts: "Obrador di | Mexico City"
    while j > i + 1 && !doc.words[j - 1].is_capitalized() {
        j -= 1;
    }
    j - i
}

/// Days and full month names are capitalised but name nothing: "… City pada Selasa".
fn is_calendar_word(word: &str) -> bool {
    let lex = Lexicon::get();
    lex.is_day(word) || lex.is_full_month(word)
}

/// Capitalised-span rules: people after titles and honorifics or with person cues,
/// organisations and places named by their head word.
pub struct NameRules;

impl EntitySource for NameRules {
    fn name(&self) -> &'static str {
        "rule"
    }

    fn find(&self, doc: &Document<'_>, out: &mut Vec<EntitySpan>) {
        let lex = Lexicon::get();
        let n = doc.words.len();
        let mut i = 0;
        while i < n {
            // 1. Title + (place or organisation)* + name: "Wakil Presiden AS Kamala Harris"
            if let Some(t) = title_at(doc, i) {
                let mut j = i + t;
                loop {
                    if j >= n || !joined(doc, j - 1, j + 1) {
                        break;
                    }
                    if let Some((g, _)) = gazetteer_at(doc, j) {
                        j += g;
                    } else if let Some(t2) = title_at(doc, j) {
                        j += t2;
                    } else {
                        break;
                    }
                }
                if j < n && joined(doc, j - 1, j + 1) && doc.words[j].is_capitalized() {
                    let mut len = name_run(doc, j);
                    if doc.title_case[j] {
                        // in a headline only words the body also capitalises can be the name
                        len = (0..len)
                            .take_while(|&k| capitalised_in_body(doc, doc.words[j + k].text))
                            .count();
                    }
                    // "Kepala Staf Gabungan Militer Amerika Serikat": an office of a place, no name
                    let into_place =
                        j + len < n && joined(doc, j + len - 1, j + len + 1) && gazetteer_at(doc, j + len).is_some();
                    if len > 0 && !into_place {
                        out.push(EntitySpan {
                            start: doc.words[j].start,
                            end: doc.words[j + len - 1].end,
                            kind: EntityKind::Person,
                            source: "rule",
                            priority: 3,
                        });
                        i = j + len;
                        continue;
                    }
                }
                i += 1;
                continue;
            }
            // 2. A run of capitalised words
            let w = doc.words[i];
            if doc.title_case[i]
                || !w.is_capitalized()
                || !w.has_letter()
                || (doc.starts_sentence(i) && lex.is_non_name(w.text))
            {
                i += 1;
                continue;
            }
            // organisations and places with a head word, lower-case connectors allowed; a
            // place head inside a capitalised run is its tail ("Mexico City"), not a start
            let inside_run = i > 0
                && joined(doc, i - 1, i + 1)
                && doc.words[i - 1].is_capitalized()
                && doc.words[i - 1].has_letter();
            if ORG_HEADS.contains(&w.text) || (PLACE_HEADS.contains(&w.text) && !inside_run) {
                let mut j = i + 1;
                let mut end = i + 1;
                while j < n && joined(doc, j - 1, j + 1) && j - i < 10 {
                    let x = doc.words[j];
                    if x.is_capitalized() && x.has_letter() && !is_calendar_word(x.text) {
                        j += 1;
                        end = j;
                    } else if ORG_CONNECTORS.contains(&x.text)
                        && doc
                            .words
                            .get(j + 1)
                            .is_some_and(|nx| nx.is_capitalized() && !is_calendar_word(nx.text))
                    {
                        j += 1;
                    } else {
                        break;
                    }
                }
                if end - i >= 2 {
                    let kind = if ORG_HEADS.contains(&w.text) {
                        EntityKind::Organization
                    } else {
                        EntityKind::Location
                    };
                    out.push(EntitySpan {
                        start: w.start,
                        end: doc.words[end - 1].end,
                        kind,
                        source: "rule",
                        priority: 1,
                    });
                    i = end;
                    continue;
                }
            }
            let len = name_run(doc, i);
            if len >= 2 && (i..i + len).all(|k| gazetteer_at(doc, k).is_none()) {
                let has_initial = (i..i + len).any(|k| is_initial(doc, k));
                let after = doc.gap_after(i + len - 1);
                let next = doc.words.get(i + len);
                let apposition = after.trim_start().starts_with(',')
                    && !after.contains('\n')
                    && next.is_some_and(|nx| !nx.is_capitalized() && nx.has_letter());
                let verb_after = after.trim().is_empty() && next.is_some_and(|nx| lex.is_speech_verb(nx.text));
                let cue_before = i > 0 && PERSON_CUES_BEFORE.contains(&doc.words[i - 1].text.to_lowercase().as_str());
                if has_initial || apposition || verb_after || cue_before {
                    out.push(EntitySpan {
                        start: w.start,
                        end: doc.words[i + len - 1].end,
                        kind: EntityKind::Person,
                        source: "rule",
                        priority: 1,
                    });
                }
                i += len;
                continue;
            }
            i += 1;
        }
    }
}

/// Later mentions of a person by part of the name ("Harris", "Lopez Obrador") and repeats of
/// the full name get the same kind.
pub fn add_coreferences(doc: &Document<'_>, spans: Vec<EntitySpan>) -> Vec<EntitySpan> {
    let lex = Lexicon::get();
    let mut names: HashSet<Vec<&str>> = HashSet::new();
    for s in spans.iter().filter(|s| s.kind == EntityKind::Person) {
        let parts: Vec<&str> = doc
            .words
            .iter()
            .filter(|w| w.start >= s.start && w.end <= s.end)
            .map(|w| w.text)
            .collect();
        for k in 0..parts.len() {
            let suffix = parts[k..].to_vec();
            // a lone initial or particle is no name
            if suffix.len() == 1 && (suffix[0].chars().count() < 3 || lex.is_non_name(suffix[0])) {
                continue;
            }
            names.insert(suffix);
        }
    }
    if names.is_empty() {
        return spans;
    }
    let max = names.iter().map(Vec::len).max().unwrap_or(1);
    let covered = |a: usize, b: usize, list: &[EntitySpan]| list.iter().any(|s| a < s.end && b > s.start);
    let mut out = spans.clone();
    let mut i = 0;
    while i < doc.words.len() {
        let found = (1..=max.min(doc.words.len() - i)).rev().find(|&n| {
            doc.words[i].is_capitalized() && joined(doc, i, i + n) && {
                let key: Vec<&str> = doc.words[i..i + n].iter().map(|w| w.text).collect();
                names.contains(&key)
            }
        });
        match found {
            Some(n) if !covered(doc.words[i].start, doc.words[i + n - 1].end, &spans) => {
                out.push(EntitySpan {
                    start: doc.words[i].start,
                    end: doc.words[i + n - 1].end,
                    kind: EntityKind::Person,
                    source: "rule",
                    priority: 1,
                });
                i += n;
            }
            Some(n) => i += n,
            None => i += 1,
        }
    }
    out.sort_by_key(|s| s.start);
    out
}

/// A trained sequence tagger ([`crate::ner::Tagger`]) as an entity source. Each sentence is
/// tagged as the training corpora are tokenised: words, and punctuation as tokens of its own.
pub struct TaggerSource {
    tagger: std::sync::Arc<crate::ner::Tagger>,
}

impl TaggerSource {
    pub fn new(tagger: std::sync::Arc<crate::ner::Tagger>) -> Self {
        TaggerSource { tagger }
    }
}

impl EntitySource for TaggerSource {
    fn name(&self) -> &'static str {
        "tagger"
    }

    fn find(&self, doc: &Document<'_>, out: &mut Vec<EntitySpan>) {
        let mut i = 0;
        while i < doc.words.len() {
            let sentence = doc.sentence[i];
            let j = i + doc.sentence[i..].iter().take_while(|&&s| s == sentence).count();
            let mut tokens: Vec<&str> = Vec::with_capacity(2 * (j - i));
            let mut word_of: Vec<Option<usize>> = Vec::with_capacity(2 * (j - i));
            for k in i..j {
                tokens.push(doc.words[k].text);
                word_of.push(Some(k));
                let gap = doc.gap_after(k);
                for (at, c) in gap.char_indices().filter(|(_, c)| !c.is_whitespace()) {
                    tokens.push(&gap[at..at + c.len_utf8()]);
                    word_of.push(None);
                }
            }
            let mut tags = self.tagger.tag(&tokens);
            // a name runs through "." (initials) and "&", not through other punctuation
            // ("MEXICO CITY – Meksiko" is two names)
            for ((t, w), token) in tags.iter_mut().zip(&word_of).zip(&tokens) {
                if w.is_none() && !matches!(*token, "." | "&") {
                    *t = "O";
                }
            }
            for (a, b, kind) in crate::ner::spans(&tags) {
                let mut words = word_of[a..b].iter().flatten();
                let (Some(&first), last) = (words.next(), words.last()) else {
                    continue;
                };
                let last = last.copied().unwrap_or(first);
                out.push(EntitySpan {
                    start: doc.words[first].start,
                    end: doc.words[last].end,
                    kind: EntityKind::from_name(&crate::ner::canonical_kind(&kind)),
                    source: "tagger",
                    priority: 1,
                });
            }
            i = j.max(i + 1);
        }
    }
}
