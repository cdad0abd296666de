//! Article → facts: title, dateline, entities, dates, quantities, quotes, keywords.
//!
//! Extraction is a pipeline over one [`Document`]. Entities come from any number of
//! [`EntitySource`]s (the gazetteer and the capitalised-span rules today; a trained tagger can
//! join as one more source), and overlapping candidates are resolved in one place,
//! [`resolve_overlaps`]: the longer span wins; at equal length the source with the higher
//! priority wins; then the earlier one. Offsets are character offsets (Unicode scalar values).

mod document;
mod entities;
mod layout;
pub(crate) mod lexicon;
mod numbers;
mod quotes;

pub use document::Document;
pub use entities::{EntitySource, Gazetteer, NameRules, TaggerSource};
pub use lexicon::Lexicon;
pub use numbers::parse_number;

use crate::features::{analyze, Vectorizer};
use serde::Serialize;
use std::collections::HashMap;
use std::fmt;

/// What an entity is.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EntityKind {
    Person,
    Location,
    Organization,
    /// Any other kind a model has learnt.
    Other(String),
}

impl EntityKind {
    pub fn as_str(&self) -> &str {
        match self {
            EntityKind::Person => "PERSON",
            EntityKind::Location => "LOCATION",
            EntityKind::Organization => "ORGANIZATION",
            EntityKind::Other(s) => s,
        }
    }

    /// "PERSON" → Person, …; any other name is kept as it is.
    pub fn from_name(name: &str) -> EntityKind {
        match name {
            "PERSON" => EntityKind::Person,
            "LOCATION" => EntityKind::Location,
            "ORGANIZATION" => EntityKind::Organization,
            other => EntityKind::Other(other.to_string()),
        }
    }
}

impl fmt::Display for EntityKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for EntityKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// An entity candidate in byte offsets, before overlaps are resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct EntitySpan {
    pub start: usize,
    pub end: usize,
    pub kind: EntityKind,
    pub source: &'static str,
    /// Higher wins between equally long overlapping spans.
    pub priority: u8,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entity {
    pub text: String,
    pub kind: EntityKind,
    pub start: u32,
    pub end: u32,
    pub source: &'static str,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Quantity {
    pub text: String,
    pub value: f64,
    pub unit: String,
    pub start: u32,
    pub end: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DateMention {
    pub text: String,
    pub start: u32,
    pub end: u32,
    /// ISO-8601 ("2024-03-12", "2024-03", "--06-08", "2022") or empty when unresolved (a weekday).
    pub normalized: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Quote {
    pub text: String,
    pub speaker: String,
    pub start: u32,
    pub end: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Keyword {
    pub term: String,
    pub weight: f64,
}

/// Everything extracted from one article (the `warta extract` JSON row and `ExtractResponse`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Extraction {
    pub id: String,
    pub title: String,
    pub dateline: String,
    pub entities: Vec<Entity>,
    pub quantities: Vec<Quantity>,
    pub dates: Vec<DateMention>,
    pub quotes: Vec<Quote>,
    pub keywords: Vec<Keyword>,
}

/// Keep the best of overlapping candidates (see the module docs), sorted by position.
pub fn resolve_overlaps(mut spans: Vec<EntitySpan>) -> Vec<EntitySpan> {
    spans.retain(|s| s.start < s.end);
    spans.sort_by(|a, b| {
        (b.end - b.start)
            .cmp(&(a.end - a.start))
            .then(b.priority.cmp(&a.priority))
            .then(a.start.cmp(&b.start))
    });
    let mut kept: Vec<EntitySpan> = Vec::with_capacity(spans.len());
    for s in spans {
        if kept.iter().all(|k| s.end <= k.start || s.start >= k.end) {
            kept.push(s);
        }
    }
    kept.sort_by_key(|s| s.start);
    kept
}

/// The extraction pipeline.
pub struct Extractor {
    sources: Vec<Box<dyn EntitySource>>,
    /// How many keywords to return.
    pub max_keywords: usize,
}

/// The gazetteer, the rules and the compiled-in entity tagger (or, should it fail to load —
/// it is checked by the tests — the gazetteer and rules alone, with a warning).
impl Default for Extractor {
    fn default() -> Self {
        match crate::ner::default_tagger() {
            Ok(t) => Extractor::with_tagger(t),
            Err(e) => {
                tracing::warn!(error = %e, "default entity tagger unavailable; gazetteer and rules only");
                Extractor::without_tagger()
            }
        }
    }
}

impl Extractor {
    /// Gazetteer and capitalised-span rules only.
    pub fn without_tagger() -> Self {
        Extractor {
            sources: vec![Box::new(Gazetteer), Box::new(NameRules)],
            max_keywords: 10,
        }
    }

    /// Gazetteer, rules and a trained tagger.
    pub fn with_tagger(tagger: std::sync::Arc<crate::ner::Tagger>) -> Self {
        Extractor::without_tagger().with_source(Box::new(TaggerSource::new(tagger)))
    }

    /// Add an entity source (for example a trained tagger) to the pipeline.
    pub fn with_source(mut self, source: Box<dyn EntitySource>) -> Self {
        self.sources.push(source);
        self
    }

    /// Extract the facts of one article. `title` is the caller's headline, if any; `idf`
    /// weights keywords (the topic model's vectorizer), or plain term frequency without it.
    pub fn extract(&self, id: &str, title: &str, text: &str, idf: Option<&Vectorizer>) -> Extraction {
        let doc = Document::new(text);
        let layout = layout::find(&doc, title);
        let mut candidates = Vec::new();
        for source in &self.sources {
            source.find(&doc, &mut candidates);
        }
        let spans = entities::add_coreferences(&doc, resolve_overlaps(candidates));
        let dates = numbers::dates(&doc);
        let quantities = numbers::quantities(&doc, &dates);
        let quotes = quotes::find(&doc, &spans);
        let span_text = |s: usize, e: usize| doc.text[s..e].to_string();
        Extraction {
            id: id.to_string(),
            title: layout.title,
            dateline: layout.dateline,
            entities: spans
                .iter()
                .map(|s| Entity {
                    text: span_text(s.start, s.end),
                    kind: s.kind.clone(),
                    start: doc.char_of(s.start),
                    end: doc.char_of(s.end),
                    source: s.source,
                })
                .collect(),
            quantities: quantities
                .into_iter()
                .map(|q| Quantity {
                    text: span_text(q.start, q.end),
                    value: q.value,
                    unit: q.unit,
                    start: doc.char_of(q.start),
                    end: doc.char_of(q.end),
                })
                .collect(),
            dates: dates
                .into_iter()
                .map(|d| DateMention {
                    text: span_text(d.start, d.end),
                    start: doc.char_of(d.start),
                    end: doc.char_of(d.end),
                    normalized: d.normalized,
                })
                .collect(),
            quotes: quotes
                .into_iter()
                .map(|q| Quote {
                    text: span_text(q.start, q.end),
                    speaker: q.speaker,
                    start: doc.char_of(q.start),
                    end: doc.char_of(q.end),
                })
                .collect(),
            keywords: keywords(text, title, idf, self.max_keywords),
        }
    }
}

/// Weekdays and months say when, not what: no keyword contains one.
fn calendar_word(term: &str) -> bool {
    let lex = Lexicon::get();
    term.split(' ').any(|w| lex.is_day(w) || lex.is_full_month(w))
}

/// A recurring phrase ("gugus tugas") nearly as strong as its best word stands in for its
/// words: it takes the best word's weight and the words leave the list. Other phrases go.
fn prefer_phrases(scored: Vec<(String, f64, bool)>) -> Vec<(String, f64)> {
    let single: HashMap<&str, f64> = scored
        .iter()
        .filter(|(t, _, _)| !t.contains(' '))
        .map(|(t, w, _)| (t.as_str(), *w))
        .collect();
    let mut phrases: Vec<&(String, f64, bool)> = scored.iter().filter(|(t, _, c)| t.contains(' ') && *c).collect();
    phrases.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let mut consumed: std::collections::HashSet<&str> = std::collections::HashSet::new();
    let mut out: Vec<(String, f64)> = Vec::new();
    for (phrase, w, _) in phrases {
        let parts: Vec<&str> = phrase.split(' ').collect();
        if parts.iter().any(|p| consumed.contains(p)) {
            continue;
        }
        let best = parts
            .iter()
            .filter_map(|p| single.get(p))
            .fold(0.0f64, |a, b| a.max(*b));
        if best > 0.0 && *w >= 0.6 * best {
            consumed.extend(parts.iter().copied());
            out.push((phrase.clone(), best.max(*w)));
        }
    }
    out.extend(
        scored
            .iter()
            .filter(|(t, _, _)| !t.contains(' ') && !consumed.contains(t.as_str()))
            .map(|(t, w, _)| (t.clone(), *w)),
    );
    out
}

/// The article's most characteristic terms. With a model's vectorizer: its TF-IDF features
/// (words and phrases such as "perdagangan manusia") by weight, a term skipped when its words
/// are all covered by better ones. Without: sublinear term frequency of single words.
/// Weights are scaled so the best is 1.
pub fn keywords(text: &str, title: &str, idf: Option<&Vectorizer>, max: usize) -> Vec<Keyword> {
    let full = crate::corpus::join_title(title, text);
    // (term, weight, is a phrase that recurs in the article and in training)
    let scored: Vec<(String, f64, bool)> = match idf {
        // plain occurrences: a phrase "recurs" only if the article really repeats it
        Some(v) => v
            .named_counts(&full, 1.0)
            .into_iter()
            .filter_map(|(f, n, name)| {
                let w = (1.0 + (n as f64).ln()) * v.idf(f as usize)? as f64;
                let collocation = n >= 2.0 && v.document_frequency(f as usize)? >= 2;
                Some((name, w, collocation))
            })
            .filter(|(n, _, _)| n.chars().filter(|c| c.is_alphabetic()).count() >= 3 && !calendar_word(n))
            .collect(),
        None => {
            let mut terms = Vec::new();
            analyze(&full, true, &mut terms);
            let mut tf: HashMap<String, u32> = HashMap::new();
            for t in terms {
                if t.chars().filter(|c| c.is_alphabetic()).count() >= 3 && !calendar_word(&t) {
                    *tf.entry(t).or_insert(0) += 1;
                }
            }
            tf.into_iter().map(|(t, n)| (t, 1.0 + (n as f64).ln(), false)).collect()
        }
    };
    let mut scored = prefer_phrases(scored);
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let mut chosen: Vec<(String, f64)> = Vec::with_capacity(max);
    let mut covered: std::collections::HashSet<String> = std::collections::HashSet::new();
    for (term, w) in scored {
        if chosen.len() >= max {
            break;
        }
        let words: Vec<&str> = term.split(' ').collect();
        if words.iter().all(|x| covered.contains(*x)) {
            continue;
        }
        covered.extend(words.iter().map(|x| x.to_string()));
        chosen.push((term, w));
    }
    let top = chosen.first().map_or(1.0, |s| s.1).max(f64::MIN_POSITIVE);
    chosen
        .into_iter()
        .map(|(term, s)| Keyword { term, weight: s / top })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(start: usize, end: usize, priority: u8) -> EntitySpan {
        EntitySpan {
            start,
            end,
            kind: EntityKind::Location,
            source: "t",
            priority,
        }
    }

    /// (text, kind) of every entity the full default extractor finds.
    fn entities(text: &str) -> Vec<(String, String)> {
        Extractor::default()
            .extract("t", "", text, None)
            .entities
            .into_iter()
            .map(|e| (e.text, e.kind.to_string()))
            .collect()
    }

    #[test]
    fn a_name_before_a_place_and_a_place_before_a_weekday() {
        let got =
            entities("Blinken bertemu Presiden Meksiko Andrés Manuel López Obrador di Mexico City pada Selasa (8/6).");
        let has = |t: &str, k: &str| got.iter().any(|(x, y)| x == t && y == k);
        assert!(has("Andrés Manuel López Obrador", "PERSON"), "{got:?}");
        assert!(has("Mexico City", "LOCATION"), "{got:?}");
        assert!(has("Meksiko", "LOCATION"), "{got:?}");
        assert!(
            !got.iter().any(|(x, _)| x.contains("Selasa") || x.ends_with(" di")),
            "{got:?}"
        );
    }

    #[test]
    fn overlaps_resolve_longest_then_priority() {
        let got = resolve_overlaps(vec![
            span(0, 5, 1),
            span(0, 10, 0),
            span(8, 12, 9),
            span(20, 25, 1),
            span(20, 25, 2),
        ]);
        assert_eq!(got, vec![span(0, 10, 0), span(20, 25, 2)]);
    }

    #[test]
    fn keywords_prefer_rare_repeated_terms() {
        let k = keywords("migran migran migran di perbatasan yang jauh", "", None, 3);
        assert_eq!(k[0].term, "migran");
        assert_eq!(k[0].weight, 1.0);
        assert!(k.iter().all(|k| k.term != "yang"));
    }

    #[test]
    fn random_text_never_panics_and_offsets_stay_inside() {
        let alphabet: Vec<char> =
            "aZ9 .,;:()/%$“”\"'’-–\n\tÉñ東😀ßİ0123Rp JAKARTA Selasa Mei juta ribu Presiden Mr. J. kata ujarnya “"
                .chars()
                .collect();
        let x = Extractor::default();
        let mut rng = crate::eval::SplitMix::new(7);
        for _ in 0..3000 {
            let len = (rng.next_u64() % 60) as usize;
            let text: String = (0..len)
                .map(|_| alphabet[(rng.next_u64() % alphabet.len() as u64) as usize])
                .collect();
            let n = text.chars().count() as u32;
            let e = x.extract("r", "", &text, None);
            let spans = e
                .entities
                .iter()
                .map(|s| (s.start, s.end))
                .chain(e.dates.iter().map(|s| (s.start, s.end)))
                .chain(e.quantities.iter().map(|s| (s.start, s.end)))
                .chain(e.quotes.iter().map(|s| (s.start, s.end)));
            for (a, b) in spans {
                assert!(a <= b && b <= n, "{a}..{b} outside {n} chars of {text:?}");
            }
            assert!(e.quantities.iter().all(|q| q.value.is_finite()));
        }
    }

    #[test]
    fn empty_and_odd_text_extracts_nothing_and_never_panics() {
        let x = Extractor::default();
        for text in [
            "",
            " ",
            "“",
            "\"",
            "”“",
            "8/6/",
            "1,5,",
            "Rp",
            "—",
            "Mr.",
            "(8/",
            "\u{0}\u{feff}",
            "ﬀ ß İ",
        ] {
            let e = x.extract("i", "", text, None);
            assert_eq!(e.id, "i");
            for ent in &e.entities {
                assert!(ent.start < ent.end && ent.end as usize <= text.chars().count());
            }
        }
    }
}
