//! Quotations (“…”, "…", «…») and who said them.

use super::lexicon::Lexicon;
use super::{Document, EntityKind, EntitySpan};

pub struct QuoteSpan {
    pub start: usize,
    pub end: usize,
    pub speaker: String,
}

/// Byte ranges of quoted text (inside the marks), paired within a paragraph.
fn quoted_ranges(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut open_curly: Option<usize> = None;
    let mut open_straight: Option<usize> = None;
    let mut open_guillemet: Option<usize> = None;
    let mut prev_newline = false;
    for (i, c) in text.char_indices() {
        match c {
            '\n' => {
                // a quote may run on to the next paragraph only if it reopens there; drop strays
                if prev_newline {
                    open_curly = None;
                    open_straight = None;
                    open_guillemet = None;
                }
                prev_newline = true;
                continue;
            }
            '“' => open_curly = Some(i + c.len_utf8()),
            '”' => {
                if let Some(s) = open_curly.take() {
                    out.push((s, i));
                }
            }
            '«' => open_guillemet = Some(i + c.len_utf8()),
            '»' => {
                if let Some(s) = open_guillemet.take() {
                    out.push((s, i));
                }
            }
            '"' => match open_straight.take() {
                Some(s) => out.push((s, i)),
                None => open_straight = Some(i + 1),
            },
            _ => {}
        }
        if !c.is_whitespace() {
            prev_newline = false;
        }
    }
    out.retain(|&(s, e)| !text[s..e].trim().is_empty());
    out.sort_unstable();
    out
}

fn clean_phrase(s: &str) -> String {
    s.trim().trim_end_matches(['.', ',', ';', ':']).trim().to_string()
}

fn is_speaker_kind(k: &EntityKind) -> bool {
    matches!(k, EntityKind::Person | EntityKind::Organization)
}

/// Quotes with speakers. Looks after the quote first (“…,” ujar X / “…,” X said), then
/// before it in the same sentence (X mengatakan “…”, Menurut X, “…”). A speech verb ending
/// in -nya ("imbuhnya") points back to the previous speaker.
pub fn find(doc: &Document<'_>, entities: &[EntitySpan]) -> Vec<QuoteSpan> {
    let lex = Lexicon::get();
    let mut out: Vec<QuoteSpan> = Vec::new();
    let mut last_speaker = String::new();
    for (start, end) in quoted_ranges(doc.text) {
        let first_after = doc.words.iter().position(|w| w.start > end);
        let mut speaker = String::new();
        // after: words following the closing mark, in the same clause
        if let Some(a) = first_after {
            let between = &doc.text[end..doc.words[a].start];
            let close_len = doc.text[end..].chars().next().map_or(0, char::len_utf8);
            let lead = between[close_len.min(between.len())..].trim();
            if (lead.is_empty() || lead == ",") && !between.contains('\n') {
                let w = doc.words[a];
                if lex.is_speech_verb(w.text) || lex.is_speech_verb(w.text.trim_end_matches("nya")) {
                    if w.text.to_lowercase().ends_with("nya") && !lex.speech_verbs.contains("nya") && w.text.len() > 4 {
                        speaker = last_speaker.clone();
                    } else {
                        // "ujar X, …" / "said X." : the phrase up to the next punctuation
                        let from = w.end;
                        let stop = doc.text[from..]
                            .find(['.', ',', ';', '\n', '“', '"'])
                            .map_or(doc.text.len(), |k| from + k);
                        let phrase = clean_phrase(&doc.text[from..stop]);
                        if !phrase.is_empty() && phrase.split_whitespace().count() <= 8 {
                            speaker = phrase;
                        }
                    }
                } else {
                    // "“…,” Harris said." : a name, then the verb
                    let verb = (a..(a + 5).min(doc.words.len())).find(|&k| lex.is_speech_verb(doc.words[k].text));
                    if let Some(v) = verb.filter(|&v| v > a && doc.sentence[v] == doc.sentence[a]) {
                        speaker = clean_phrase(&doc.text[w.start..doc.words[v - 1].end]);
                    }
                }
            }
        }
        // before: the sentence up to the opening mark
        if speaker.is_empty() {
            let first_before = doc.words.iter().rposition(|w| w.end < start);
            if let Some(b) = first_before {
                let sentence = doc.sentence[b];
                let s0 = doc.sentence.iter().position(|&s| s == sentence).unwrap_or(b);
                let verb = (s0..=b).rev().find(|&k| lex.is_speech_verb(doc.words[k].text));
                if let Some(v) = verb {
                    let (s_start, v_start) = (doc.words[s0].start, doc.words[v].start);
                    let in_range = |e: &&EntitySpan| e.start >= s_start && e.end <= v_start;
                    let menurut =
                        doc.words[v].text.eq_ignore_ascii_case("menurut") || doc.words[v].text.starts_with("Di");
                    if menurut {
                        // "Menurut kantor kepresidenan Meksiko, …" / "Diungkapkan otoritas negara itu, …"
                        let from = doc.words[v].end;
                        let stop = doc.text[from..start].find(',').map_or(start, |k| from + k);
                        let phrase = clean_phrase(&doc.text[from..stop]);
                        if phrase.split_whitespace().count() <= 8 {
                            speaker = phrase;
                        }
                    } else if let Some(e) = entities.iter().rfind(|e| in_range(e) && e.kind == EntityKind::Person) {
                        speaker = doc.text[e.start..e.end].to_string();
                    } else if let Some(e) = entities
                        .iter()
                        .find(|e| in_range(e) && (is_speaker_kind(&e.kind) || e.kind == EntityKind::Location))
                    {
                        speaker = doc.text[e.start..e.end].to_string();
                    }
                }
            }
        }
        if !speaker.is_empty() {
            last_speaker = speaker.clone();
        }
        out.push(QuoteSpan { start, end, speaker });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::Extractor;

    fn quotes(text: &str) -> Vec<(String, String)> {
        Extractor::default()
            .extract("", "", text, None)
            .quotes
            .into_iter()
            .map(|q| (q.text, q.speaker))
            .collect()
    }

    #[test]
    fn speaker_after_the_quote() {
        let q = quotes("“Kerja sama ini penting,” ungkap pemerintah Meksiko. “Mereka sepakat,” imbuhnya.");
        assert_eq!(q[0], ("Kerja sama ini penting,".into(), "pemerintah Meksiko".into()));
        assert_eq!(q[1], ("Mereka sepakat,".into(), "pemerintah Meksiko".into()));
        let q = quotes("\"We will act,\" Maria Lopez said on Monday.");
        assert_eq!(q[0].1, "Maria Lopez");
    }

    #[test]
    fn speaker_before_the_quote() {
        let q = quotes("Kristie Canegallo, pejabat senior, mengatakan bahwa perjanjian itu penting untuk “menyediakan kerangka kerja.”");
        assert_eq!(q[0], ("menyediakan kerangka kerja.".into(), "Kristie Canegallo".into()));
        let q = quotes("Menurut kantor kepresidenan Meksiko, kedua negara memperkuat “hubungan bilateral”.");
        assert_eq!(q[0].1, "kantor kepresidenan Meksiko");
    }

    #[test]
    fn unbalanced_marks_are_ignored() {
        assert!(quotes("Dia berkata “tanpa penutup.\n\nParagraf baru.").is_empty());
        assert_eq!(quotes("“a” dan “b”").len(), 2);
    }
}
