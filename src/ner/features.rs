//! Token features for the tagger, hashed into 2^bits buckets: the word and its lowercase form,
//! shape, prefixes and suffixes, neighbouring words and shapes, capitalisation patterns,
//! gazetteer membership and person titles. Lowercase-only text (NERP) still has the word,
//! affix, neighbour and lowercase-gazetteer features.

use crate::extract::lexicon::Lexicon;
use crate::text::fasthash::{FastMap, FastSet};
use crate::text::is_stopword;
use std::sync::OnceLock;

/// Version of the feature templates below; bump it whenever a feature changes, so an entity
/// model trained on other features is refused instead of silently mis-tagging.
pub const FEATURE_SET: u16 = 5;

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

    /// A number as one part (codes that need no string).
    fn num(mut self, v: u64) -> Self {
        self.0 = (self.0 ^ v).wrapping_mul(0x0000_0100_0000_01b3);
        self.0 = (self.0 ^ 0xfe).wrapping_mul(0x0000_0100_0000_01b3);
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

/// Word sequences hashed as one: `seq_hash` of tokens i..i+len for len = 1..=max, built
/// token by token (the hash of a longer sequence extends the shorter one's).
fn prefix_hashes<S: AsRef<str>>(template: u8, tokens: &[S], max: usize, mut each: impl FnMut(usize, u64)) {
    let mut h = FeatureHash::new(template);
    for (len, t) in tokens.iter().take(max).enumerate() {
        h = h.part(t.as_ref());
        each(len + 1, h.0);
    }
}

/// Longest-first, left-to-right matches of hashed word sequences: per token, the kind of the
/// match covering it and whether the match begins there.
fn sequence_marks<'a>(
    template: u8,
    lower: &[String],
    max: usize,
    lookup: impl Fn(u64) -> Option<&'a str>,
) -> Vec<Option<(bool, &'a str)>> {
    let mut marks = vec![None; lower.len()];
    let mut i = 0;
    let mut found: Vec<Option<&str>> = Vec::with_capacity(max);
    while i < lower.len() {
        found.clear();
        prefix_hashes(template, &lower[i..], max, |_, h| found.push(lookup(h)));
        let mut matched = 0;
        if let Some((at, kind)) = found.iter().enumerate().rev().find_map(|(k, f)| f.map(|f| (k, f))) {
            let len = at + 1;
            for (j, m) in marks[i..i + len].iter_mut().enumerate() {
                *m = Some((j == 0, kind));
            }
            matched = len;
        }
        i += matched.max(1);
    }
    marks
}

/// Template of the entity dictionary's sequence hashes.
const DICT_SEQ: u8 = 200;
/// Template of the gazetteer's sequence hashes.
const GAZETTEER_SEQ: u8 = 201;
/// Template of the person titles' sequence hashes.
const TITLE_SEQ: u8 = 202;

/// The gazetteer's names, lowercased and hashed as word sequences → kind name, for text of
/// any case; and the longest name in words.
fn lower_gazetteer() -> &'static (FastMap<u64, &'static str>, usize) {
    static MAP: OnceLock<(FastMap<u64, &'static str>, usize)> = OnceLock::new();
    MAP.get_or_init(|| {
        let lex = Lexicon::get();
        let mut map: FastMap<u64, &'static str> = FastMap::default();
        let mut max = 1;
        for (k, v) in &lex.names {
            let lower: Vec<String> = k.iter().map(|w| w.to_lowercase()).collect();
            map.entry(seq_hash(GAZETTEER_SEQ, &lower)).or_insert(v.as_str());
            max = max.max(lower.len());
        }
        (map, max)
    })
}

/// Person titles, lowercased and hashed as word sequences.
fn title_hashes() -> &'static FastSet<u64> {
    static SET: OnceLock<FastSet<u64>> = OnceLock::new();
    SET.get_or_init(|| Lexicon::get().titles.iter().map(|t| seq_hash(TITLE_SEQ, t)).collect())
}

/// Per token: the gazetteer kind covering it and whether it begins the name ("B-LOCATION").
fn gazetteer_marks(lower: &[String]) -> Vec<Option<(bool, &'static str)>> {
    let (map, max) = lower_gazetteer();
    sequence_marks(GAZETTEER_SEQ, lower, *max, |h| map.get(&h).copied())
}

/// Per token: does a person title ("presiden", "menteri luar negeri") end just before it?
fn after_titles(lower: &[String]) -> Vec<bool> {
    let set = title_hashes();
    let max = Lexicon::get().max_title_words;
    let mut after = vec![false; lower.len()];
    for i in 0..lower.len() {
        prefix_hashes(TITLE_SEQ, &lower[i..], max, |len, h| {
            if set.contains(&h) {
                if let Some(a) = after.get_mut(i + len) {
                    *a = true;
                }
            }
        });
    }
    after
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

/// A word sequence hashed as one, under a template (the dictionary's, the gazetteer's, …).
fn seq_hash<S: AsRef<str>>(template: u8, tokens: &[S]) -> u64 {
    tokens
        .iter()
        .fold(FeatureHash::new(template), |h, t| h.part(t.as_ref()))
        .0
}

impl EntityDict {
    /// From tagged sentences: every gold span (lowercased) with its most frequent kind.
    pub fn build<'a>(sentences: impl Iterator<Item = (&'a [String], &'a [String])>) -> Self {
        let mut counts: FastMap<u64, FastMap<String, u32>> = FastMap::default();
        let mut token_counts: FastMap<u64, FastMap<&'a str, u32>> = FastMap::default();
        for (tokens, tags) in sentences {
            for (t, tag) in tokens.iter().zip(tags) {
                *token_counts
                    .entry(seq_hash(DICT_SEQ, &[t.to_lowercase()]))
                    .or_default()
                    .entry(tag.as_str())
                    .or_insert(0) += 1;
            }
            for (a, b, kind) in super::spans(tags) {
                if b - a > DICT_MAX_TOKENS || b > tokens.len() {
                    continue;
                }
                let lower: Vec<String> = tokens[a..b].iter().map(|t| t.to_lowercase()).collect();
                *counts
                    .entry(seq_hash(DICT_SEQ, &lower))
                    .or_default()
                    .entry(kind)
                    .or_insert(0) += 1;
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
    #[cfg(test)]
    fn token(&self, lower: &str) -> String {
        match self.token_index.get(&seq_hash(DICT_SEQ, &[lower])) {
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
        sequence_marks(DICT_SEQ, lower, self.max_len, |h| {
            self.index
                .get(&h)
                .map(|&k| self.kinds.get(k as usize).map_or("?", String::as_str))
        })
    }

    /// What training said about a lowercased token, as a code (0: never seen).
    fn token_code(&self, lower: &str) -> u64 {
        match self.token_index.get(&seq_hash(DICT_SEQ, &[lower])) {
            Some(s) => 1 + ((s.tag as u64) << 8 | (s.seen as u64) << 1 | s.pure as u64),
            None => 0,
        }
    }
}

/// A mark as (position, kind): "B" or "I" and the kind, "-" for none.
fn mark(m: Option<(bool, &str)>) -> (&'static str, &str) {
    match m {
        Some((true, k)) => ("B", k),
        Some((false, k)) => ("I", k),
        None => ("-", ""),
    }
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
    /// names seen in training and each token's training history.
    ///
    /// Everything a token's features read from its neighbours is computed once per sentence
    /// (lowercase forms, shapes, lexicon and dictionary marks), and codes are hashed as numbers:
    /// no string is built per feature.
    pub fn sentence(&self, tokens: &[&str], dict: Option<&EntityDict>) -> Vec<Vec<u32>> {
        const OUT: u64 = u64::MAX; // a neighbour beyond the sentence
        let n = tokens.len();
        let lower: Vec<String> = tokens.iter().map(|t| t.to_lowercase()).collect();
        let shapes: Vec<String> = tokens.iter().map(|t| shape(t)).collect();
        let dict_marks = dict.map(|d| d.marks(&lower));
        let seen: Vec<u64> = match dict {
            Some(d) => lower.iter().map(|w| d.token_code(w)).collect(),
            None => vec![OUT - 1; n],
        };
        let gaz = gazetteer_marks(&lower);
        let titles = after_titles(&lower);
        let lex = Lexicon::get();
        let named: Vec<bool> = lower.iter().map(|w| lex.person_names.contains(w)).collect();
        let head_of: Vec<&str> = lower.iter().map(|w| heads().0.get(w).copied().unwrap_or("-")).collect();
        let runs = capital_runs(tokens);
        // a head word anywhere in the run ("Fakultas Ekonomi Universitas Indonesia"), per run
        let mut run_heads: FastMap<usize, String> = FastMap::default();
        for &(a, b) in runs.iter().flatten() {
            run_heads.entry(a).or_insert_with(|| {
                let mut kinds: Vec<&str> = (a..b).filter_map(|k| heads().0.get(&lower[k]).copied()).collect();
                kinds.sort_unstable();
                kinds.dedup();
                kinds.join("+")
            });
        }
        let at = |i: isize| -> Option<usize> { (i >= 0 && (i as usize) < n).then_some(i as usize) };
        let word = |i: isize| -> &str {
            match at(i) {
                Some(i) => &lower[i],
                None if i < 0 => "<s>",
                None => "</s>",
            }
        };
        let shape_at = |i: isize| -> &str { at(i).map_or("_", |i| shapes[i].as_str()) };
        let dict_at = |i: isize| -> (&str, &str) {
            match (&dict_marks, at(i)) {
                (None, _) | (Some(_), None) => ("_", ""),
                (Some(m), Some(i)) => mark(m[i]),
            }
        };
        let gaz_at = |i: isize| -> &str {
            match at(i).map(|i| gaz[i]) {
                None => "_",
                Some(Some((true, k))) => k,
                Some(Some((false, _))) => "in",
                Some(None) => "-",
            }
        };
        let seen_at = |i: isize| -> u64 { at(i).map_or(OUT, |i| seen[i]) };
        let head = |i: isize| -> &str { at(i).map_or("_", |i| head_of[i]) };
        let name_at = |i: isize| -> u64 { at(i).map_or(2, |i| named[i] as u64) };
        let h = FeatureHash::new;
        let m = self.mask;
        let mut out = Vec::with_capacity(n);
        for (i, tok) in tokens.iter().enumerate() {
            let ii = i as isize;
            let lw = lower[i].as_str();
            let sh = shapes[i].as_str();
            let first = tok.chars().next().unwrap_or(' ');
            let flags = [
                first.is_uppercase(),
                tok.chars().all(|c| !c.is_lowercase()) && tok.chars().any(char::is_alphabetic),
                tok.chars().any(char::is_numeric),
                tok.contains('-'),
                tok.contains('.'),
                is_stopword(lw),
                i == 0,
            ]
            .iter()
            .enumerate()
            .fold(0u64, |acc, (k, &b)| acc | (b as u64) << k);
            let len = tok.chars().count().min(8) as u64;
            let (gp, gk) = mark(gaz[i]);
            let (dp, dk) = dict_at(ii);
            let (pos, run_first, run_last, run_len, run_head) = match runs[i] {
                Some((a, b)) => (
                    match (i == a, i + 1 == b) {
                        (true, true) => "S",
                        (true, false) => "B",
                        (false, true) => "E",
                        (false, false) => "I",
                    },
                    lower[a].as_str(),
                    lower[b - 1].as_str(),
                    (b - a).min(5) as u64,
                    run_heads.get(&a).map_or("", String::as_str),
                ),
                None => ("-", "", "", 0, "_"),
            };
            let (pd, kd) = dict_at(ii - 1);
            let (nd, knd) = dict_at(ii + 1);
            let f = vec![
                h(0).bucket(m),
                h(1).part(lw).bucket(m),
                h(2).part(tok).bucket(m),
                h(3).part(sh).bucket(m),
                h(4).part(prefix(lw, 2)).bucket(m),
                h(5).part(prefix(lw, 3)).bucket(m),
                h(6).part(suffix(lw, 2)).bucket(m),
                h(7).part(suffix(lw, 3)).bucket(m),
                h(8).part(suffix(lw, 4)).bucket(m),
                h(9).num(flags).num(len).bucket(m),
                h(10).part(word(ii - 1)).bucket(m),
                h(11).part(word(ii + 1)).bucket(m),
                h(12).part(word(ii - 2)).bucket(m),
                h(13).part(word(ii + 2)).bucket(m),
                h(14).part(shape_at(ii - 1)).bucket(m),
                h(15).part(shape_at(ii + 1)).bucket(m),
                h(16).part(word(ii - 1)).part(lw).bucket(m),
                h(17).part(lw).part(word(ii + 1)).bucket(m),
                h(18).part(gp).part(gk).bucket(m),
                h(19).part(gaz_at(ii - 1)).part(gaz_at(ii + 1)).bucket(m),
                h(20).num(titles[i] as u64).part(sh).bucket(m),
                h(21).part(shape_at(ii - 1)).part(sh).part(shape_at(ii + 1)).bucket(m),
                h(22).part(word(ii - 1)).part(sh).bucket(m),
                h(23).part(suffix(word(ii - 1), 3)).bucket(m),
                h(24).part(suffix(word(ii + 1), 3)).bucket(m),
                // where the token sits in its capitalised run, and the run's first and last words
                h(25).part(pos).part(run_first).bucket(m),
                h(26).part(pos).part(run_last).bucket(m),
                h(27).part(pos).num(run_len).bucket(m),
                h(38).part(pos).part(run_head).bucket(m),
                h(28).part(head(ii - 1)).part(head(ii)).part(head(ii + 1)).bucket(m),
                h(29).part(prefix(lw, 4)).bucket(m),
                h(30).part(suffix(lw, 5)).bucket(m),
                h(31).part(word(ii - 2)).part(word(ii - 1)).bucket(m),
                h(32).part(word(ii + 1)).part(word(ii + 2)).bucket(m),
                h(33).part(word(ii - 3)).bucket(m),
                h(34).part(word(ii + 3)).bucket(m),
                // names seen in training (jackknifed: see `EntityDict`)
                h(35).part(dp).part(dk).bucket(m),
                h(36).part(pd).part(kd).part(dp).part(dk).part(nd).part(knd).bucket(m),
                h(37).part(dp).part(dk).part(sh).bucket(m),
                // the token's own history in training, alone, with its shape and beside its
                // neighbours' (jackknifed like the names: "never seen" is learnt from tokens
                // unseen in the other folds)
                h(39).num(seen[i]).bucket(m),
                h(40).num(seen[i]).part(sh).bucket(m),
                h(41).num(seen_at(ii - 1)).num(seen[i]).num(seen_at(ii + 1)).bucket(m),
                // a known given or family name here and beside it
                h(42)
                    .num(name_at(ii - 1))
                    .num(name_at(ii))
                    .num(name_at(ii + 1))
                    .bucket(m),
                h(43).num(name_at(ii)).part(sh).bucket(m),
            ];
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
    fn lexicon_marks_take_the_longest_name_and_titles_mark_what_follows() {
        let lower: Vec<String> = [
            "menteri", "luar", "negeri", "amerika", "serikat", "tiba", "di", "meksiko",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let gaz = gazetteer_marks(&lower);
        assert!(
            matches!(gaz[3], Some((true, _))) && matches!(gaz[4], Some((false, _))),
            "{gaz:?}"
        );
        assert_eq!(gaz[5], None);
        assert!(matches!(gaz[7], Some((true, _))));
        let after = after_titles(&lower);
        assert!(after[3], "{after:?}");
        assert!(!after[5] && !after[0]);
        assert!(gazetteer_marks(&[]).is_empty() && after_titles(&[]).is_empty());
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
