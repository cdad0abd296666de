//! Title and dateline: where the article says what it is and where it was filed.

use super::Document;

pub struct Layout {
    pub title: String,
    pub dateline: String,
}

const DASHES: [char; 3] = ['–', '—', '-'];

/// Non-empty lines with their byte offsets.
fn lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut offset = 0;
    text.split('\n').filter_map(move |l| {
        let start = offset;
        offset += l.len() + 1;
        (!l.trim().is_empty()).then_some((start, l.trim()))
    })
}

fn words_of(s: &str) -> Vec<&str> {
    crate::text::words(s).map(|w| w.text).collect()
}

/// "Washington, Infomalangraya.com" or "JAKARTA (ANTARA)": a place, then a source, alone.
fn dateline_line(line: &str) -> bool {
    if line.chars().count() > 60 || line.ends_with(['.', '!', '?', ':', '"', '”']) {
        return false;
    }
    let (place, source) = match line.split_once(',') {
        Some(p) => p,
        None => match line.split_once('(') {
            Some((p, s)) if s.ends_with(')') => (p, s),
            _ => return false,
        },
    };
    let place_words = words_of(place);
    let source_words = words_of(source);
    (1..=3).contains(&place_words.len())
        && place_words
            .iter()
            .all(|w| w.chars().next().is_some_and(char::is_uppercase))
        && (1..=3).contains(&source_words.len())
        && source_words.iter().any(|w| w.chars().any(char::is_uppercase))
}

/// "MEXICO CITY – …", "JAKARTA, KOMPAS.com – …", "Washington, Antara – …": the prefix before
/// the dash at the start of the body.
fn dateline_prefix(line: &str) -> Option<&str> {
    let (cut, _) = line
        .char_indices()
        .take(70)
        .find(|&(i, c)| DASHES.contains(&c) && line[..i].ends_with(' ') && line[i + c.len_utf8()..].starts_with(' '))?;
    let prefix = line[..cut].trim();
    let place = prefix.split([',', '(']).next().unwrap_or("");
    let place_words = words_of(place);
    if !(1..=4).contains(&place_words.len()) {
        return None;
    }
    let all_caps = place_words.iter().all(|w| !w.chars().any(char::is_lowercase));
    let capitalised = place_words
        .iter()
        .all(|w| w.chars().next().is_some_and(char::is_uppercase));
    let has_source = prefix.len() > place.len();
    (all_caps || (capitalised && has_source)).then_some(prefix)
}

/// A first line that reads as a headline: short, most words capitalised or no final stop.
fn headline(line: &str) -> bool {
    let w = words_of(line);
    if !(2..=25).contains(&w.len()) || line.chars().count() > 200 || line.ends_with(':') {
        return false;
    }
    let long: Vec<&&str> = w.iter().filter(|x| x.chars().count() >= 4).collect();
    let caps = long
        .iter()
        .filter(|x| x.chars().next().is_some_and(char::is_uppercase))
        .count();
    let mostly_caps = !long.is_empty() && caps * 10 >= long.len() * 6;
    !line.ends_with(['.', '!', '?', ',', ';']) || (mostly_caps && w.len() <= 15)
}

pub fn find(doc: &Document<'_>, given_title: &str) -> Layout {
    let mut layout = Layout {
        title: given_title.trim().to_string(),
        dateline: String::new(),
    };
    let mut it = lines(doc.text).peekable();
    if let Some((_, first)) = it.peek().copied() {
        if layout.title.is_empty() && !dateline_line(first) && dateline_prefix(first).is_none() && headline(first) {
            let rest_has_text = lines(doc.text).nth(1).is_some();
            if rest_has_text {
                layout.title = first.to_string();
                it.next();
            }
        }
    }
    if let Some((_, line)) = it.next() {
        if dateline_line(line) {
            layout.dateline = line.to_string();
        } else if let Some(prefix) = dateline_prefix(line) {
            layout.dateline = prefix.to_string();
        }
    }
    layout
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(text: &str) -> (String, String) {
        let l = find(&Document::new(text), "");
        (l.title, l.dateline)
    }

    #[test]
    fn headline_then_body() {
        let (t, d) = layout("Menteri Blinken Mengadakan Pembicaraan tentang Migrasi di Amerika Latin.\n\nMenteri Luar Negeri tiba pada hari Selasa sebagai bagian dari kunjungan.");
        assert_eq!(
            t,
            "Menteri Blinken Mengadakan Pembicaraan tentang Migrasi di Amerika Latin."
        );
        assert_eq!(d, "");
    }

    #[test]
    fn datelines() {
        assert_eq!(
            layout("MEXICO CITY – Meksiko dan Amerika Serikat sepakat.").1,
            "MEXICO CITY"
        );
        assert_eq!(
            layout("JAKARTA, KOMPAS.com – Pemerintah menyatakan hal itu.").1,
            "JAKARTA, KOMPAS.com"
        );
        assert_eq!(
            layout("Washington, Antara – Pemerintah menyatakan hal itu.").1,
            "Washington, Antara"
        );
        assert_eq!(
            layout("Washington, Infomalangraya.com\nPertemuan penting akan segera diadakan.").1,
            "Washington, Infomalangraya.com"
        );
        assert_eq!(
            layout("Washington, Infomalangraya.com\nPertemuan penting akan segera diadakan.").0,
            ""
        );
        assert_eq!(
            layout("Judul Berita Besar\nJAKARTA (ANTARA) - Isi berita.").1,
            "JAKARTA (ANTARA)"
        );
    }

    #[test]
    fn plain_sentences_are_neither() {
        assert_eq!(
            layout("Harga naik lagi - kata pedagang di pasar yang ramai itu."),
            (String::new(), String::new())
        );
        assert_eq!(layout("Satu kalimat saja tanpa judul."), (String::new(), String::new()));
    }
}
