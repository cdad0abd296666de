//! Word lists that drive the rule stages, compiled in from `data/gazetteer` and `data/lexicon`.

use crate::text::{is_stopword, words};
use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use super::EntityKind;

const LOCATIONS: &str = include_str!("../../data/gazetteer/locations.tsv");
const ORGANIZATIONS: &str = include_str!("../../data/gazetteer/organizations.tsv");
const PERSON_TITLES: &str = include_str!("../../data/lexicon/person_titles.txt");
const SPEECH_VERBS: &str = include_str!("../../data/lexicon/speech_verbs.txt");
const UNITS: &str = include_str!("../../data/lexicon/units.txt");
const NON_NAMES: &str = include_str!("../../data/lexicon/non_name_capitalized.txt");
const PERSON_NAMES: &str = include_str!("../../data/lexicon/person_names.txt");

fn entries(list: &str) -> impl Iterator<Item = &str> {
    list.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
}

/// Words of a phrase as the tokenizer sees them.
pub fn phrase_words(s: &str) -> Vec<String> {
    words(s).map(|w| w.text.to_string()).collect()
}

pub struct Lexicon {
    /// Gazetteer: exact word sequence → kind.
    pub names: HashMap<Vec<String>, EntityKind>,
    /// Same names upper-cased, for ALL-CAPS datelines ("MEXICO CITY").
    pub upper_names: HashMap<Vec<String>, EntityKind>,
    pub max_name_words: usize,
    /// Titles before a person's name, lower-cased word sequences.
    pub titles: HashSet<Vec<String>>,
    pub max_title_words: usize,
    /// Lower-case speech verbs, single words.
    pub speech_verbs: HashSet<String>,
    pub units: HashSet<String>,
    pub non_names: HashSet<String>,
    /// Given and family names, lower-cased single words (a tagger feature, not a gazetteer:
    /// "Siti" alone is not an entity, but a hint that one is here).
    pub person_names: HashSet<String>,
    pub months: HashMap<&'static str, u32>,
    pub days: HashSet<&'static str>,
}

/// Words that mark a capitalised span as an organisation.
pub const ORG_HEADS: &[&str] = &[
    "Kementerian",
    "Kemenkes",
    "Badan",
    "Komisi",
    "Dewan",
    "Majelis",
    "Mahkamah",
    "Pengadilan",
    "Kejaksaan",
    "Kepolisian",
    "Polda",
    "Polres",
    "Universitas",
    "Institut",
    "Lembaga",
    "Yayasan",
    "Partai",
    "Bank",
    "Kantor",
    "Departemen",
    "Direktorat",
    "Angkatan",
    "Tentara",
    "Pasukan",
    "Satuan",
    "Korps",
    "Komando",
    "Perusahaan",
    "PT",
    "Koalisi",
    "Organisasi",
    "Asosiasi",
    "Serikat",
    "Gerakan",
    "Front",
    "Sekretariat",
    "Ministry",
    "Department",
    "Agency",
    "Council",
    "Commission",
    "Court",
    "University",
    "Institute",
    "Party",
    "Bureau",
    "Office",
    "Organization",
    "Organisation",
    "Association",
    "Corporation",
    "Company",
    "Group",
    "Foundation",
    "Forces",
    "Army",
    "Navy",
    "Command",
    "Committee",
    "Union",
    "Authority",
    "Service",
    "Guard",
    "Coalition",
    "Network",
    "Center",
    "Centre",
    "Fund",
    "Program",
    "Programme",
];

/// Words that mark a capitalised span as a place.
pub const PLACE_HEADS: &[&str] = &[
    "Kota",
    "Kabupaten",
    "Provinsi",
    "Pulau",
    "Kepulauan",
    "Laut",
    "Selat",
    "Teluk",
    "Gunung",
    "Sungai",
    "Danau",
    "Desa",
    "Kecamatan",
    "Kampung",
    "Istana",
    "Bandara",
    "Pelabuhan",
    "Jalan",
    "Jl",
    "City",
    "Island",
    "Islands",
    "Sea",
    "River",
    "Mount",
    "Lake",
    "Province",
    "State",
    "County",
    "Port",
    "Airport",
    "Palace",
    "Street",
    "Valley",
    "Bay",
    "Gulf",
    "Strait",
    "Desert",
];

const MONTHS: &[(&str, u32)] = &[
    ("januari", 1),
    ("january", 1),
    ("jan", 1),
    ("februari", 2),
    ("pebruari", 2),
    ("february", 2),
    ("feb", 2),
    ("maret", 3),
    ("march", 3),
    ("mar", 3),
    ("april", 4),
    ("apr", 4),
    ("mei", 5),
    ("may", 5),
    ("juni", 6),
    ("june", 6),
    ("jun", 6),
    ("juli", 7),
    ("july", 7),
    ("jul", 7),
    ("agustus", 8),
    ("august", 8),
    ("agu", 8),
    ("agt", 8),
    ("aug", 8),
    ("september", 9),
    ("sept", 9),
    ("sep", 9),
    ("oktober", 10),
    ("october", 10),
    ("okt", 10),
    ("oct", 10),
    ("november", 11),
    ("nopember", 11),
    ("nov", 11),
    ("desember", 12),
    ("december", 12),
    ("des", 12),
    ("dec", 12),
];

const DAYS: &[&str] = &[
    "senin",
    "selasa",
    "rabu",
    "kamis",
    "jumat",
    "jum'at",
    "sabtu",
    "minggu",
    "ahad",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

impl Lexicon {
    fn build() -> Lexicon {
        let mut names = HashMap::new();
        for (list, default) in [
            (LOCATIONS, EntityKind::Location),
            (ORGANIZATIONS, EntityKind::Organization),
        ] {
            for line in entries(list) {
                let name = line.split('\t').next().unwrap_or("").trim();
                let key = phrase_words(name);
                if !key.is_empty() {
                    // a name listed as both place and organisation keeps its first listing
                    names.entry(key).or_insert(default.clone());
                }
            }
        }
        let upper_names = names
            .iter()
            .filter(|(k, _)| k.iter().any(|w| w.chars().any(char::is_lowercase)))
            .map(|(k, v)| (k.iter().map(|w| w.to_uppercase()).collect(), v.clone()))
            .collect();
        let max_name_words = names.keys().map(Vec::len).max().unwrap_or(1);
        let titles: HashSet<Vec<String>> = entries(PERSON_TITLES)
            .map(|t| phrase_words(&t.to_lowercase()))
            .filter(|k| !k.is_empty())
            .collect();
        let max_title_words = titles.iter().map(Vec::len).max().unwrap_or(1);
        Lexicon {
            names,
            upper_names,
            max_name_words,
            titles,
            max_title_words,
            speech_verbs: entries(SPEECH_VERBS).map(str::to_lowercase).collect(),
            units: entries(UNITS).map(str::to_lowercase).collect(),
            non_names: entries(NON_NAMES).map(str::to_lowercase).collect(),
            person_names: entries(PERSON_NAMES).map(str::to_lowercase).collect(),
            months: MONTHS.iter().copied().collect(),
            days: DAYS.iter().copied().collect(),
        }
    }

    /// The compiled-in lexicon, built once.
    pub fn get() -> &'static Lexicon {
        static LEXICON: OnceLock<Lexicon> = OnceLock::new();
        LEXICON.get_or_init(Lexicon::build)
    }

    /// A capitalised word that is never part of a name (sentence-initial function words etc.).
    pub fn is_non_name(&self, word: &str) -> bool {
        let lower = word.to_lowercase();
        is_stopword(&lower)
            || self.non_names.contains(&lower)
            || self.days.contains(lower.as_str())
            || self.months.contains_key(lower.as_str())
    }

    pub fn month(&self, word: &str) -> Option<u32> {
        self.months.get(word.to_lowercase().trim_end_matches('.')).copied()
    }

    /// A month written in full ("Mei", "Desember"), not an abbreviation like "Des".
    pub fn is_full_month(&self, word: &str) -> bool {
        const SHORT: &[&str] = &[
            "jan", "feb", "mar", "apr", "jun", "jul", "agu", "agt", "aug", "sep", "sept", "okt", "oct", "nov", "des",
            "dec",
        ];
        let lower = word.to_lowercase();
        self.months.contains_key(lower.as_str()) && !SHORT.contains(&lower.as_str())
    }

    pub fn is_day(&self, word: &str) -> bool {
        self.days.contains(word.to_lowercase().as_str())
    }

    pub fn is_speech_verb(&self, word: &str) -> bool {
        self.speech_verbs.contains(&word.to_lowercase())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_load() {
        let l = Lexicon::get();
        assert!(l.names.len() > 500, "{}", l.names.len());
        assert_eq!(l.names.get(&phrase_words("Meksiko")), Some(&EntityKind::Location));
        assert_eq!(l.names.get(&phrase_words("Pentagon")), Some(&EntityKind::Organization));
        assert!(l.upper_names.contains_key(&phrase_words("MEXICO CITY")));
        assert!(l.titles.contains(&phrase_words("menteri luar negeri")));
        assert!(l.is_speech_verb("mengatakan") && l.is_speech_verb("said"));
        assert!(l.units.contains("orang"));
        assert_eq!(l.month("Desember"), Some(12));
        assert!(l.is_day("Selasa"));
        assert!(l.is_non_name("Pada"));
        assert!(l.person_names.len() > 3000 && l.person_names.contains("siti"));
    }
}
