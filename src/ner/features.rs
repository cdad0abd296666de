//! Token features for the tagger, hashed into 2^bits buckets: the word and its lowercase form,
//! shape, prefixes and suffixes, neighbouring words and shapes, capitalisation patterns,
//! gazetteer membership and person titles. Lowercase-only text (NERP) still has the word,
//! affix, neighbour and lowercase-gazetteer features.

use crate::extract::lexicon::Lexicon;
use crate::text::fasthash::FastMap;
use crate::text::is_stopword;
use std::sync::OnceLock;

/// Version of the feature templates below; bump it whenever a feature changes, so an entity
/// model trained on other features is refused instead of silently mis-tagging.
pub const FEATURE_SET: u16 = 4;

/// 64-bit FNV-1a over a template id and its parts, mixed so the low bits pick a bucket.
struct FeatureHash(u64);

impl FeatureHash {
    fn new(template: u8) -> Self {
        FeatureHash((0xcbf2_9ce4_8422_2325u64 ^ template as u64).wrapping_mul(0x0000_0100_0000_01b3))
    }

    fn part(mut self, s: &str) -> Self {
        for &b in s.as_bytes() {
            self.0 = (self.0 ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3);
        }
        // a separator, so ("ab", "c") and ("a", "bc") differ
        self.0 = (self.0 ^ 0xff).wrapping_mul(0x0000_0100_0000_01b3);
        self
    }

    fn bucket(self, mask: u64) -> u32 {
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((z ^ (z >> 31)) & mask) as u32
    }
}

/// "Kamala" → "Xx", "COVID-19" → "X-d", "2024" → "d", "a.s." → "x.x.": character classes with
/// runs collapsed.
pub fn shape(word: &str) -> String {
    let mut out = String::with_capacity(8);
    let mut last = '\0';
    for c in word.chars() {
        let k = if c.is_uppercase() {
            'X'
        } else if c.is_lowercase() {
            'x'
        } else if c.is_numeric() {
            'd'
        } else {
            c
        };
        if k != last {
            out.push(k);
            last = k;
        }
    }
    out
}

fn prefix(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

fn suffix(s: &str, n: usize) -> &str {
    let count = s.chars().count();
    if count <= n {
        return s;
    }
    match s.char_indices().nth(count - n) {
        Some((i, _)) => &s[i..],
        None => s,
    }
}

/// The gazetteer's names, lowercased word sequences → kind name, for text of any case.
fn lower_gazetteer() -> &'static (FastMap<Vec<String>, &'static str>, usize) {
    static MAP: OnceLock<(FastMap<Vec<String>, &'static str>, usize)> = OnceLock::new();
    MAP.get_or_init(|| {
        let lex = Lexicon::get();
        let map: FastMap<Vec<String>, &'static str> = lex
            .names
            .iter()
            .map(|(k, v)| (k.iter().map(|w| w.to_lowercase()).collect(), v.as_str()))
            .collect();
        let max = map.keys().map(Vec::len).max().unwrap_or(1);
        (map, max)
    })
}

/// Per token: the gazetteer kind covering it and whether it begins the name ("B-LOCATION").
fn gazetteer_marks(lower: &[String]) -> Vec<Option<(bool, &'static str)>> {
    let (map, max) = lower_gazetteer();
    let mut marks = vec![None; lower.len()];
    let mut i = 0;
    while i < lower.len() {
        let mut matched = 0;
        for len in (1..=(*max).min(lower.len() - i)).rev() {
            if let Some(kind) = map.get(&lower[i..i + len]) {
                for (j, m) in marks[i..i + len].iter_mut().enumerate() {
                    *m = Some((j == 0, *kind));
                }
                matched = len;
                break;
            }
        }
        i += matched.max(1);
    }
    marks
}

/// Lowercased organisation and place head words ("kementerian", "kabupaten").
fn heads() -> &'static (FastMap<String, &'static str>, ()) {
    static HEADS: OnceLock<(FastMap<String, &'static str>, ())> = OnceLock::new();
    HEADS.get_or_init(|| {
        let mut m = FastMap::default();
        for h in crate::extract::lexicon::ORG_HEADS {
            m.insert(h.to_lowercase(), "org");
        }
        for h in crate::extract::lexicon::PLACE_HEADS {
            m.insert(h.to_lowercase(), "place");
        }
        (m, ())
    })
}

/// Runs of capitalised tokens ("Universitas Gadjah Mada"): for each token in a run, the run's
/// start and end (exclusive).
fn capital_runs(tokens: &[&str]) -> Vec<Option<(usize, usize)>> {
    let cap = |t: &str| t.chars().next().is_some_and(char::is_uppercase);
    let mut out = vec![None; tokens.len()];
    let mut i = 0;
    while i < tokens.len() {
        if cap(tokens[i]) {
            let start = i;
            while i < tokens.len() && cap(tokens[i]) {
                i += 1;
            }
            for o in &mut out[start..i] {
                *o = Some((start, i));
            }
        } else {
            i += 1;
        }
    }
    out
}

/// Names seen as entities in training: hashed lowercase token sequences → kind. No text is
/// kept, only 64-bit hashes. Training builds it jackknifed (each fold's sentences see the names
/// of the other folds only), so the tagger learns how far to trust it on unseen text.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EntityDict {
    kinds: Vec<String>,
    names: Vec<(u64, u16)>,
    #[serde(skip)]
    index: FastMap<u64, u16>,
    max_len: usize,
    /// Every training token (hashed, lowercased) with its most frequent tag
    /// (`token_tags` index), how often it was seen and whether that tag nearly always held.
    token_tags: Vec<String>,
    tokens: Vec<(u64, TokenSeen)>,
    #[serde(skip)]
    token_index: FastMap<u64, TokenSeen>,
}

/// What training said about one token: its usual tag, how often it was seen (1, 2–4, 5+)
/// and whether the usual tag held at least 80% of the time.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
struct TokenSeen {
    tag: u16,
    seen: u8,
    pure: bool,
}

/// Longest name the dictionary keeps, in tokens.
const DICT_MAX_TOKENS: usize = 6;

fn seq_hash<S: AsRef<str>>(tokens: &[S]) -> u64 {
    let mut h = FeatureHash::new(200);
    for t in tokens {
        h = h.part(t.as_ref());
    }
    h.0
}

impl EntityDict {
    /// From tagged sentences: every gold span (lowercased) with its most frequent kind.
    pub fn build<'a>(sentences: impl Iterator<Item = (&'a [String], &'a [String])>) -> Self {
        let mut counts: FastMap<u64, FastMap<String, u32>> = FastMap::default();
        let mut token_counts: FastMap<u64, FastMap<&'a str, u32>> = FastMap::default();
        for (tokens, tags) in sentences {
            for (t, tag) in tokens.iter().zip(tags) {
                *token_counts
                    .entry(seq_hash(&[t.to_lowercase()]))
                    .or_default()
                    .entry(tag.as_str())
                    .or_insert(0) += 1;
            }
            for (a, b, kind) in super::spans(tags) {
                if b - a > DICT_MAX_TOKENS || b > tokens.len() {
                    continue;
                }
                let lower: Vec<String> = tokens[a..b].iter().map(|t| t.to_lowercase()).collect();
                *counts.entry(seq_hash(&lower)).or_default().entry(kind).or_insert(0) += 1;
            }
        }
        let mut kinds: Vec<String> = counts.values().flat_map(|m| m.keys().cloned()).collect();
        kinds.sort();
        kinds.dedup();
        let mut names: Vec<(u64, u16)> = counts
            .into_iter()
            .filter_map(|(h, m)| {
                let best = m.into_iter().max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(&a.0)))?;
                Some((h, kinds.binary_search(&best.0).ok()? as u16))
            })
            .collect();
        names.sort_unstable();
        let mut token_tags: Vec<String> = token_counts
            .values()
            .flat_map(|m| m.keys().map(|t| t.to_string()))
            .collect();
        token_tags.sort();
        token_tags.dedup();
        let mut tokens: Vec<(u64, TokenSeen)> = token_counts
            .into_iter()
            .filter_map(|(h, m)| {
                let total: u32 = m.values().sum();
                let best = m.into_iter().max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(a.0)))?;
                let seen = match total {
                    1 => 1,
                    2..=4 => 2,
                    _ => 3,
                };
                let tag = token_tags.binary_search_by(|t| t.as_str().cmp(best.0)).ok()? as u16;
                let pure = best.1 as f64 >= 0.8 * total as f64;
                Some((h, TokenSeen { tag, seen, pure }))
            })
            .collect();
        tokens.sort_unstable_by_key(|&(h, _)| h);
        let mut d = EntityDict {
            kinds,
            names,
            token_tags,
            tokens,
            ..Default::default()
        };
        d.reindex();
        d
    }

    /// Rebuild the lookup indexes after deserialising; false if the dictionary is inconsistent.
    pub fn reindex(&mut self) -> bool {
        self.index = self.names.iter().copied().collect();
        self.token_index = self.tokens.iter().copied().collect();
        self.max_len = DICT_MAX_TOKENS;
        self.names.iter().all(|&(_, k)| (k as usize) < self.kinds.len())
            && self
                .tokens
                .iter()
                .all(|&(_, s)| (s.tag as usize) < self.token_tags.len())
    }

    /// What training said about a lowercased token: "B-PER/2/pure", or "new" if never seen.
    fn token(&self, lower: &str) -> String {
        match self.token_index.get(&seq_hash(&[lower])) {
            Some(s) => format!(
                "{}/{}/{}",
                self.token_tags.get(s.tag as usize).map_or("?", String::as_str),
                s.seen,
                if s.pure { "pure" } else { "mixed" }
            ),
            None => "new".into(),
        }
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Per token: the dictionary name covering it, longest match first, left to right.
    fn marks(&self, lower: &[String]) -> Vec<Option<(bool, &str)>> {
        let mut marks = vec![None; lower.len()];
        let mut i = 0;
        while i < lower.len() {
            let mut matched = 0;
            for len in (1..=self.max_len.min(lower.len() - i)).rev() {
                if let Some(&k) = self.index.get(&seq_hash(&lower[i..i + len])) {
                    let kind = self.kinds.get(k as usize).map_or("?", String::as_str);
                    for (j, m) in marks[i..i + len].iter_mut().enumerate() {
                        *m = Some((j == 0, kind));
                    }
                    matched = len;
                    break;
                }
            }
            i += matched.max(1);
        }
        marks
    }
}

/// Does a person title ("presiden", "menteri luar negeri") end just before token `i`?
fn after_title(lower: &[String], i: usize) -> bool {
    let lex = Lexicon::get();
    (1..=lex.max_title_words.min(i)).any(|k| lex.titles.contains(&lower[i - k..i]))
}

/// Hashes the features of every token of a sentence.
#[derive(Debug, Clone, Copy)]
pub struct Featurizer {
    mask: u64,
}

impl Featurizer {
    pub fn new(hash_bits: u8) -> Self {
        Featurizer {
            mask: (1u64 << hash_bits) - 1,
        }
    }

    /// Feature buckets of each token, `out[i]` for `tokens[i]`; `dict` adds membership in the
    /// names seen in training.
    pub fn sentence(&self, tokens: &[&str], dict: Option<&EntityDict>) -> Vec<Vec<u32>> {
        let lower: Vec<String> = tokens.iter().map(|t| t.to_lowercase()).collect();
        let dict_marks = dict.map(|d| d.marks(&lower));
        let dict_at = |i: isize| -> String {
            match &dict_marks {
                None => "_".into(),
                Some(_) if i < 0 || i as usize >= tokens.len() => "_".into(),
                Some(m) => match m[i as usize] {
                    Some((b, k)) => format!("{}{k}", if b { "B-" } else { "I-" }),
                    None => "-".into(),
                },
            }
        };
        let shapes: Vec<String> = tokens.iter().map(|t| shape(t)).collect();
        let seen: Vec<String> = match dict {
            Some(d) => lower.iter().map(|w| d.token(w)).collect(),
            None => vec!["_".into(); lower.len()],
        };
        let seen_at = |i: isize| -> &str {
            if i < 0 || i as usize >= tokens.len() {
                "_"
            } else {
                &seen[i as usize]
            }
        };
        let gaz = gazetteer_marks(&lower);
        let n = tokens.len();
        let word = |i: isize| -> &str {
            if i < 0 {
                "<s>"
            } else if i as usize >= n {
                "</s>"
            } else {
                &lower[i as usize]
            }
        };
        let shape_at = |i: isize| -> &str {
            if i < 0 || i as usize >= n {
                "_"
            } else {
                &shapes[i as usize]
            }
        };
        let gaz_at = |i: isize| -> &str {
            if i < 0 || i as usize >= n {
                return "_";
            }
            match gaz[i as usize] {
                Some((true, k)) => k,
                Some((false, _)) => "in",
                None => "-",
            }
        };
        let runs = capital_runs(tokens);
        let head = |i: isize| -> &str {
            if i < 0 || i as usize >= n {
                return "_";
            }
            heads().0.get(&lower[i as usize]).copied().unwrap_or("-")
        };
        let m = self.mask;
        let mut out = Vec::with_capacity(n);
        for (i, tok) in tokens.iter().enumerate() {
            let ii = i as isize;
            let lw = lower[i].as_str();
            let first = tok.chars().next().unwrap_or(' ');
            let flags = [
                first.is_uppercase(),
                tok.chars().all(|c| !c.is_lowercase()) && tok.chars().any(char::is_alphabetic),
                tok.chars().any(char::is_numeric),
                tok.contains('-'),
                tok.contains('.'),
                is_stopword(lw),
                i == 0,
            ];
            let flag_str: String = flags.iter().map(|&b| if b { '1' } else { '0' }).collect();
            let len = tok.chars().count().min(8).to_string();
            let gaz_here = match gaz[i] {
                Some((b, k)) => format!("{}{k}", if b { "B-" } else { "I-" }),
                None => "-".to_string(),
            };
            let f = [
                FeatureHash::new(0).bucket(m),
                FeatureHash::new(1).part(lw).bucket(m),
                FeatureHash::new(2).part(tok).bucket(m),
                FeatureHash::new(3).part(&shapes[i]).bucket(m),
                FeatureHash::new(4).part(prefix(lw, 2)).bucket(m),
                FeatureHash::new(5).part(prefix(lw, 3)).bucket(m),
                FeatureHash::new(6).part(suffix(lw, 2)).bucket(m),
                FeatureHash::new(7).part(suffix(lw, 3)).bucket(m),
                FeatureHash::new(8).part(suffix(lw, 4)).bucket(m),
                FeatureHash::new(9).part(&flag_str).part(&len).bucket(m),
                FeatureHash::new(10).part(word(ii - 1)).bucket(m),
                FeatureHash::new(11).part(word(ii + 1)).bucket(m),
                FeatureHash::new(12).part(word(ii - 2)).bucket(m),
                FeatureHash::new(13).part(word(ii + 2)).bucket(m),
                FeatureHash::new(14).part(shape_at(ii - 1)).bucket(m),
                FeatureHash::new(15).part(shape_at(ii + 1)).bucket(m),
                FeatureHash::new(16).part(word(ii - 1)).part(lw).bucket(m),
                FeatureHash::new(17).part(lw).part(word(ii + 1)).bucket(m),
                FeatureHash::new(18).part(&gaz_here).bucket(m),
                FeatureHash::new(19).part(gaz_at(ii - 1)).part(gaz_at(ii + 1)).bucket(m),
                FeatureHash::new(20)
                    .part(if after_title(&lower, i) { "t" } else { "-" })
                    .part(&shapes[i])
                    .bucket(m),
                FeatureHash::new(21)
                    .part(shape_at(ii - 1))
                    .part(&shapes[i])
                    .part(shape_at(ii + 1))
                    .bucket(m),
                FeatureHash::new(22).part(word(ii - 1)).part(&shapes[i]).bucket(m),
                FeatureHash::new(23).part(suffix(word(ii - 1), 3)).bucket(m),
                FeatureHash::new(24).part(suffix(word(ii + 1), 3)).bucket(m),
            ];
            let mut f = f.to_vec();
            // where the token sits in its capitalised run, and the run's first and last words
            let (pos, run_first, run_last, run_len) = match runs[i] {
                Some((a, b)) => (
                    match (i == a, i + 1 == b) {
                        (true, true) => "S",
                        (true, false) => "B",
                        (false, true) => "E",
                        (false, false) => "I",
                    },
                    lower[a].as_str(),
                    lower[b - 1].as_str(),
                    (b - a).min(5),
                ),
                None => ("-", "", "", 0),
            };
            f.push(FeatureHash::new(25).part(pos).part(run_first).bucket(m));
            f.push(FeatureHash::new(26).part(pos).part(run_last).bucket(m));
            f.push(FeatureHash::new(27).part(pos).part(&run_len.to_string()).bucket(m));
            // a head word anywhere in the run ("Fakultas Ekonomi Universitas Indonesia")
            let run_heads = match runs[i] {
                Some((a, b)) => {
                    let mut kinds: Vec<&str> = (a..b).filter_map(|k| heads().0.get(&lower[k]).copied()).collect();
                    kinds.sort_unstable();
                    kinds.dedup();
                    kinds.join("+")
                }
                None => "_".into(),
            };
            f.push(FeatureHash::new(38).part(pos).part(&run_heads).bucket(m));
            f.push(
                FeatureHash::new(28)
                    .part(head(ii - 1))
                    .part(head(ii))
                    .part(head(ii + 1))
                    .bucket(m),
            );
            f.push(FeatureHash::new(29).part(prefix(lw, 4)).bucket(m));
            f.push(FeatureHash::new(30).part(suffix(lw, 5)).bucket(m));
            f.push(FeatureHash::new(31).part(word(ii - 2)).part(word(ii - 1)).bucket(m));
            f.push(FeatureHash::new(32).part(word(ii + 1)).part(word(ii + 2)).bucket(m));
            f.push(FeatureHash::new(33).part(word(ii - 3)).bucket(m));
            f.push(FeatureHash::new(34).part(word(ii + 3)).bucket(m));
            let here = dict_at(ii);
            f.push(FeatureHash::new(35).part(&here).bucket(m));
            f.push(
                FeatureHash::new(36)
                    .part(&dict_at(ii - 1))
                    .part(&here)
                    .part(&dict_at(ii + 1))
                    .bucket(m),
            );
            f.push(FeatureHash::new(37).part(&here).part(&shapes[i]).bucket(m));
            // the token's own history in training, alone, with its shape and beside its
            // neighbours' (jackknifed like the names: "new" is learnt from unseen tokens)
            f.push(FeatureHash::new(39).part(&seen[i]).bucket(m));
            f.push(FeatureHash::new(40).part(&seen[i]).part(&shapes[i]).bucket(m));
            f.push(
                FeatureHash::new(41)
                    .part(seen_at(ii - 1))
                    .part(&seen[i])
                    .part(seen_at(ii + 1))
                    .bucket(m),
            );
            // a known given or family name here and beside it
            let names = &Lexicon::get().person_names;
            let name_at = |i: isize| -> &str {
                if i < 0 || i as usize >= n {
                    "_"
                } else if names.contains(&lower[i as usize]) {
                    "p"
                } else {
                    "-"
                }
            };
            f.push(
                FeatureHash::new(42)
                    .part(name_at(ii - 1))
                    .part(name_at(ii))
                    .part(name_at(ii + 1))
                    .bucket(m),
            );
            f.push(FeatureHash::new(43).part(name_at(ii)).part(&shapes[i]).bucket(m));
            out.push(f);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_entity_dictionary_marks_known_names_only() {
        let tokens: Vec<String> = ["Joko", "Widodo", "ke", "Bogor"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let tags: Vec<String> = ["B-PER", "I-PER", "O", "B-LOC"].iter().map(|s| s.to_string()).collect();
        let d = EntityDict::build(std::iter::once((tokens.as_slice(), tags.as_slice())));
        assert_eq!(d.len(), 2);
        let lower: Vec<String> = ["kata", "joko", "widodo", "di", "bogor"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let m = d.marks(&lower);
        assert_eq!(
            m,
            [
                None,
                Some((true, "PER")),
                Some((false, "PER")),
                None,
                Some((true, "LOC"))
            ]
        );
    }

    #[test]
    fn the_dictionary_remembers_each_token_s_usual_tag() {
        let rows: Vec<(Vec<String>, Vec<String>)> = [
            ("Joko tiba", "B-PER O"),
            ("Joko Widodo", "B-PER I-PER"),
            ("kata joko", "O B-PER"),
            ("tiba tiba", "O O"),
            ("Joko pergi", "O O"),
        ]
        .iter()
        .map(|(w, t)| {
            (
                w.split(' ').map(str::to_string).collect(),
                t.split(' ').map(str::to_string).collect(),
            )
        })
        .collect();
        let d = EntityDict::build(rows.iter().map(|(w, t)| (w.as_slice(), t.as_slice())));
        // seen 4 times (2–4 → "2"), B-PER 3 of 4 (< 80%)
        assert_eq!(d.token("joko"), "B-PER/2/mixed");
        assert_eq!(d.token("tiba"), "O/2/pure");
        assert_eq!(d.token("widodo"), "I-PER/1/pure");
        assert_eq!(d.token("bogor"), "new");
    }

    #[test]
    fn shapes_and_affixes() {
        assert_eq!(shape("Kamala"), "Xx");
        assert_eq!(shape("COVID-19"), "X-d");
        assert_eq!(shape("a.s."), "x.x.");
        assert_eq!(prefix("élan", 2), "él");
        assert_eq!(suffix("élan", 3), "lan");
        assert_eq!(suffix("ab", 3), "ab");
    }

    #[test]
    fn every_token_gets_the_same_number_of_features_in_range() {
        let f = Featurizer::new(12);
        let s = f.sentence(&["Presiden", "Joko", "Widodo", "ke", "Meksiko", "."], None);
        assert_eq!(s.len(), 6);
        assert!(s.iter().all(|t| t.len() == 44 && t.iter().all(|&b| b < 4096)));
        assert!(f.sentence(&[], None).is_empty());
        // the same word in the same context hashes the same
        assert_eq!(f.sentence(&["Meksiko"], None), f.sentence(&["Meksiko"], None));
    }
}
