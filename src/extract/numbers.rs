//! Dates and quantities, with Indonesian and English number formats.

use super::lexicon::Lexicon;
use super::Document;

/// A date in byte offsets.
pub struct DateSpan {
    pub start: usize,
    pub end: usize,
    pub normalized: String,
}

/// A quantity in byte offsets.
pub struct QuantitySpan {
    pub start: usize,
    pub end: usize,
    pub value: f64,
    pub unit: String,
}

/// Parse a number written the Indonesian way ("250.000", "1,5") or the English way
/// ("250,000", "1.5"). A lone separator followed by exactly three digits groups thousands; a
/// separator that repeats groups thousands; with both, the last one is the decimal mark.
pub fn parse_number(s: &str) -> Option<f64> {
    if s.is_empty()
        || !s.chars().all(|c| c.is_ascii_digit() || c == '.' || c == ',')
        || !s.starts_with(|c: char| c.is_ascii_digit())
    {
        return None;
    }
    let dots = s.matches('.').count();
    let commas = s.matches(',').count();
    let decimal = match (dots, commas) {
        (0, 0) => None,
        (_, 0) | (0, _) => {
            let sep = if dots > 0 { '.' } else { ',' };
            let after = s.rsplit(sep).next().unwrap_or("");
            if dots + commas > 1 || after.len() == 3 {
                None
            } else {
                Some(sep)
            }
        }
        _ => s.chars().rev().find(|c| *c == '.' || *c == ','),
    };
    let mut clean = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_ascii_digit() {
            clean.push(c);
        } else if Some(c) == decimal {
            clean.push('.');
        }
    }
    clean.parse::<f64>().ok().filter(|v| v.is_finite())
}

fn scale(word: &str) -> Option<f64> {
    Some(match word.to_lowercase().as_str() {
        "ribu" | "rb" | "thousand" => 1e3,
        "juta" | "jt" | "million" | "millones" => 1e6,
        "miliar" | "milyar" | "billion" | "mil" => 1e9,
        "triliun" | "trillion" => 1e12,
        _ => return None,
    })
}

fn currency(word: &str) -> Option<&'static str> {
    Some(match word {
        "Rp" | "IDR" => "rupiah",
        "USD" | "US" => "dolar",
        "EUR" => "euro",
        "MXN" => "peso",
        _ => return None,
    })
}

fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

fn small(s: &str, max: u32) -> Option<u32> {
    if is_digits(s) && s.len() <= 2 {
        s.parse().ok().filter(|v| (1..=max).contains(v))
    } else {
        None
    }
}

fn year(s: &str) -> Option<u32> {
    if is_digits(s) && s.len() == 4 {
        s.parse().ok().filter(|y| (1900..=2100).contains(y))
    } else {
        None
    }
}

/// "(8/6)" starting at word `i`: (day, month, words used, byte end).
fn slash_date(doc: &Document<'_>, i: usize) -> Option<(u32, u32, Option<u32>, usize, usize)> {
    let w = &doc.words;
    let d = small(w.get(i)?.text, 31)?;
    if doc.gap_after(i) != "/" {
        return None;
    }
    let m = small(w.get(i + 1)?.text, 12)?;
    let (y, used) = match (doc.gap_after(i + 1) == "/", w.get(i + 2)) {
        (true, Some(yw)) if year(yw.text).is_some() => (year(yw.text), 3),
        _ => (None, 2),
    };
    Some((d, m, y, used, w[i + used - 1].end))
}

fn iso(y: Option<u32>, m: u32, d: Option<u32>) -> String {
    match (y, d) {
        (Some(y), Some(d)) => format!("{y:04}-{m:02}-{d:02}"),
        (Some(y), None) => format!("{y:04}-{m:02}"),
        (None, Some(d)) => format!("--{m:02}-{d:02}"),
        (None, None) => format!("--{m:02}"),
    }
}

/// Dates: weekdays ("Selasa (8/6)"), day-month(-year) in both languages, month-year, years.
pub fn dates(doc: &Document<'_>) -> Vec<DateSpan> {
    let lex = Lexicon::get();
    let w = &doc.words;
    let mut out = Vec::new();
    let mut i = 0;
    let same_clause = |k: usize| doc.gap_after(k).trim().is_empty() && !doc.gap_after(k).contains('\n');
    while i < w.len() {
        let word = w[i];
        // Weekday, optionally "(8/6)" or ", 12 Maret 2024"
        if word.is_capitalized() && lex.is_day(word.text) {
            let mut end = word.end;
            let mut normalized = String::new();
            let mut next = i + 1;
            if doc.gap_after(i).trim() == "(" {
                if let Some((d, m, y, used, e)) = slash_date(doc, i + 1) {
                    if doc.text[e..].starts_with(')') {
                        end = e + 1;
                        normalized = iso(y, m, Some(d));
                        next = i + 1 + used;
                    }
                }
            } else if matches!(doc.gap_after(i).trim(), "," | "") {
                if let Some(d) = w.get(i + 1).and_then(|x| small(x.text, 31)) {
                    if let Some(m) = w
                        .get(i + 2)
                        .and_then(|x| lex.month(x.text))
                        .filter(|_| same_clause(i + 1))
                    {
                        let y = w.get(i + 3).and_then(|x| year(x.text)).filter(|_| same_clause(i + 2));
                        let used = if y.is_some() { 3 } else { 2 };
                        end = w[i + used].end;
                        normalized = iso(y, m, Some(d));
                        next = i + 1 + used;
                    }
                }
            }
            out.push(DateSpan {
                start: word.start,
                end,
                normalized,
            });
            i = next;
            continue;
        }
        // (8/6) or 8/6/2021
        if let Some((d, m, y, used, e)) = slash_date(doc, i) {
            let before = doc.gap_before(i);
            let parenthesised = before.ends_with('(') && doc.text[e..].starts_with(')');
            if parenthesised || y.is_some() {
                let (start, end) = if parenthesised {
                    (word.start - 1, e + 1)
                } else {
                    (word.start, e)
                };
                out.push(DateSpan {
                    start,
                    end,
                    normalized: iso(y, m, Some(d)),
                });
                i += used;
                continue;
            }
        }
        // 20 Januari (2021)
        if let Some(d) = small(word.text, 31) {
            if let Some(m) = w
                .get(i + 1)
                .filter(|x| x.is_capitalized())
                .and_then(|x| lex.month(x.text))
                .filter(|_| same_clause(i))
            {
                let y = w.get(i + 2).and_then(|x| year(x.text)).filter(|_| same_clause(i + 1));
                let used = if y.is_some() { 3 } else { 2 };
                out.push(DateSpan {
                    start: word.start,
                    end: w[i + used - 1].end,
                    normalized: iso(y, m, Some(d)),
                });
                i += used;
                continue;
            }
        }
        // Januari 20, 2021 / Maret 2024 / Desember (full month names only when alone)
        if word.is_capitalized() {
            if let Some(m) = lex.month(word.text) {
                let next = w
                    .get(i + 1)
                    .filter(|_| same_clause(i) || doc.gap_after(i).trim() == ",");
                if let Some(d) = next.and_then(|x| small(x.text, 31)).filter(|_| same_clause(i)) {
                    let y = w
                        .get(i + 2)
                        .and_then(|x| year(x.text))
                        .filter(|_| matches!(doc.gap_after(i + 1).trim(), "," | ""));
                    let used = if y.is_some() { 3 } else { 2 };
                    out.push(DateSpan {
                        start: word.start,
                        end: w[i + used - 1].end,
                        normalized: iso(y, m, Some(d)),
                    });
                    i += used;
                    continue;
                }
                if let Some(y) = next.and_then(|x| year(x.text)).filter(|_| same_clause(i)) {
                    out.push(DateSpan {
                        start: word.start,
                        end: w[i + 1].end,
                        normalized: iso(Some(y), m, None),
                    });
                    i += 2;
                    continue;
                }
                if lex.is_full_month(word.text) {
                    out.push(DateSpan {
                        start: word.start,
                        end: word.end,
                        normalized: iso(None, m, None),
                    });
                }
                i += 1;
                continue;
            }
        }
        // A year on its own: 4 digits, not a count of something ("2000 migran")
        if let Some(y) = year(word.text) {
            let counted = w
                .get(i + 1)
                .is_some_and(|x| same_clause(i) && lex.units.contains(&x.text.to_lowercase()));
            let in_number = doc.gap_after(i).starts_with([',', '.', '/'])
                && w.get(i + 1).is_some_and(|x| is_digits(x.text))
                && same_clause(i);
            if !counted && !in_number {
                out.push(DateSpan {
                    start: word.start,
                    end: word.end,
                    normalized: format!("{y:04}"),
                });
            }
        }
        i += 1;
    }
    out
}

/// Quantities: numbers with scale words, currency and the noun they count.
pub fn quantities(doc: &Document<'_>, dates: &[DateSpan]) -> Vec<QuantitySpan> {
    let lex = Lexicon::get();
    let w = &doc.words;
    let in_date = |s: usize, e: usize| dates.iter().any(|d| s < d.end && e > d.start);
    let mut out = Vec::new();
    let mut i = 0;
    while i < w.len() {
        let word = w[i];
        let Some(mut value) = parse_number(word.text) else {
            i += 1;
            continue;
        };
        let before = doc.gap_before(i);
        if in_date(word.start, word.end) || before.ends_with('/') || doc.gap_after(i).starts_with('/') {
            i += 1;
            continue;
        }
        let mut start = word.start;
        let mut end = word.end;
        let mut unit = String::new();
        // currency before: "Rp 10 juta", "US$1,5 miliar", "$20"
        let tight = before.trim();
        if tight.ends_with('$') || tight.ends_with('€') {
            start = i
                .checked_sub(1)
                .filter(|&p| tight.len() <= 2 && w[p].text == "US")
                .map_or(word.start - before.trim_start().len(), |p| w[p].start);
            unit = if tight.ends_with('€') {
                "euro".into()
            } else {
                "dolar".into()
            };
        } else if i > 0 && before.trim().is_empty() {
            if let Some(c) = currency(w[i - 1].text) {
                start = w[i - 1].start;
                unit = c.into();
            }
        }
        let mut j = i + 1;
        let plain_gap = |k: usize| {
            let g = doc.gap_after(k);
            !g.is_empty() && g.trim().is_empty() && !g.contains('\n')
        };
        if doc.gap_after(i).starts_with('%') {
            end = word.end + 1;
            unit = "persen".into();
        } else {
            if let Some(s) = w.get(j).filter(|_| plain_gap(i)).and_then(|x| scale(x.text)) {
                value *= s;
                end = w[j].end;
                j += 1;
            }
            if unit.is_empty()
                || w.get(j).is_some_and(|x| {
                    currency(x.text).is_none() && ["dolar", "dollar", "rupiah", "euro", "peso"].contains(&x.text)
                })
            {
                if let Some(x) = w.get(j).filter(|_| plain_gap(j - 1)) {
                    let lower = x.text.to_lowercase();
                    let noun = !x.is_capitalized()
                        && x.text.chars().all(|c| c.is_alphabetic() || c == '-')
                        && !crate::text::is_stopword(&lower)
                        && lex.month(x.text).is_none();
                    if noun || lex.units.contains(&lower) {
                        unit = lower;
                        end = x.end;
                    }
                }
            }
        }
        out.push(QuantitySpan {
            start,
            end,
            value,
            unit,
        });
        i += 1;
        while i < w.len() && w[i].end <= end {
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_in_both_conventions() {
        assert_eq!(parse_number("250.000"), Some(250000.0));
        assert_eq!(parse_number("250,000"), Some(250000.0));
        assert_eq!(parse_number("1,5"), Some(1.5));
        assert_eq!(parse_number("1.5"), Some(1.5));
        assert_eq!(parse_number("1.234.567,89"), Some(1234567.89));
        assert_eq!(parse_number("1,234,567.89"), Some(1234567.89));
        assert_eq!(parse_number("34"), Some(34.0));
        assert_eq!(parse_number("2,50"), Some(2.5));
        assert_eq!(parse_number("abc"), None);
        assert_eq!(parse_number(""), None);
        assert_eq!(parse_number(",5"), None);
    }

    fn quantity_list(text: &str) -> Vec<(String, f64, String)> {
        let doc = Document::new(text);
        let d = dates(&doc);
        quantities(&doc, &d)
            .into_iter()
            .map(|q| (text[q.start..q.end].to_string(), q.value, q.unit))
            .collect()
    }

    #[test]
    fn quantities_with_scale_unit_and_currency() {
        let q = quantity_list("lebih dari 250.000 migran dan 1,5 juta orang, Rp 10 juta, US$2 miliar, 37% warga, sekitar 129.000, menurut");
        assert_eq!(q[0], ("250.000 migran".into(), 250000.0, "migran".into()));
        assert_eq!(q[1], ("1,5 juta orang".into(), 1500000.0, "orang".into()));
        assert_eq!(q[2], ("Rp 10 juta".into(), 10_000_000.0, "rupiah".into()));
        assert_eq!(q[3], ("US$2 miliar".into(), 2e9, "dolar".into()));
        assert_eq!(q[4], ("37%".into(), 37.0, "persen".into()));
        assert_eq!(q[5], ("129.000".into(), 129000.0, "".into()));
        assert_eq!(q.len(), 6);
    }

    fn date_list(text: &str) -> Vec<(String, String)> {
        let doc = Document::new(text);
        dates(&doc)
            .into_iter()
            .map(|d| (text[d.start..d.end].to_string(), d.normalized))
            .collect()
    }

    #[test]
    fn dates_in_both_languages() {
        let d = date_list("pada Selasa (8/6) sepakat; Senin (7/6) malam; sejak 20 Januari lalu; perjanjian 2022 itu");
        assert_eq!(
            d,
            [
                ("Selasa (8/6)".to_string(), "--06-08".to_string()),
                ("Senin (7/6)".into(), "--06-07".into()),
                ("20 Januari".into(), "--01-20".into()),
                ("2022".into(), "2022".into()),
            ]
        );
        let d = date_list(
            "On January 20, 2021 and 12 Maret 2024, in Maret 2024, pada akhir Desember, Kamis, 3 Oktober 2024.",
        );
        let texts: Vec<&str> = d.iter().map(|x| x.0.as_str()).collect();
        assert_eq!(
            texts,
            [
                "January 20, 2021",
                "12 Maret 2024",
                "Maret 2024",
                "Desember",
                "Kamis, 3 Oktober 2024"
            ]
        );
        assert_eq!(d[0].1, "2021-01-20");
        assert_eq!(d[2].1, "2024-03");
        assert_eq!(d[4].1, "2024-10-03");
    }

    #[test]
    fn counts_are_not_years() {
        assert!(date_list("sebanyak 2000 orang").is_empty());
        assert!(quantity_list("pada Selasa (8/6)").is_empty());
    }
}
