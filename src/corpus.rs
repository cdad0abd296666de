//! Labelled data: JSONL rows (`{"id","text","label"}` or `"labels": [...]`, optional `title`),
//! read line by line with line numbers, and the embedded default corpus under `data/`.

use crate::model::Example;
use serde::Deserialize;
use std::borrow::Cow;
use std::io::BufRead;
use std::path::Path;

/// One input row.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Row {
    pub id: String,
    pub title: String,
    pub text: String,
    /// `label` or `labels`; empty for unlabelled input.
    pub labels: Vec<String>,
}

impl Row {
    /// Title and body as the classifier sees them.
    pub fn full_text(&self) -> String {
        join_title(&self.title, &self.text).into_owned()
    }
}

/// Headline and body joined the one way training and serving both use. The body alone,
/// borrowed, when there is no headline or the body already opens with it: feeds such as AG
/// News's send `"title"` beside a `"text"` that is title + description, and counting the
/// headline twice would weigh its words double against rows that send the text alone.
pub fn join_title<'a>(title: &str, text: &'a str) -> Cow<'a, str> {
    let title = title.trim();
    if title.is_empty() || opens_with(text, title) {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(format!("{title}\n{text}"))
    }
}

/// Does `text` start with the words of `title`, whatever whitespace separates them, and end
/// them where the title does ("Obama visits Paris" opens "Obama  visits Paris today", not
/// "Obama visits Parisian cafés")?
fn opens_with(text: &str, title: &str) -> bool {
    let mut rest = text;
    for (i, word) in title.split_whitespace().enumerate() {
        if i > 0 && !rest.starts_with(char::is_whitespace) {
            return false;
        }
        match rest.trim_start().strip_prefix(word) {
            Some(r) => rest = r,
            None => return false,
        }
    }
    rest.chars().next().is_none_or(|c| !c.is_alphanumeric())
}

#[derive(Deserialize)]
struct RawRow<'a> {
    #[serde(borrow)]
    id: Option<&'a serde_json::value::RawValue>,
    #[serde(borrow)]
    title: Option<Cow<'a, str>>,
    #[serde(borrow)]
    text: Option<Cow<'a, str>>,
    #[serde(borrow)]
    label: Option<Cow<'a, str>>,
    #[serde(borrow)]
    labels: Option<Vec<Cow<'a, str>>>,
}

/// One input row borrowed from its line where it can be (no copy unless the JSON has
/// escapes): the fast path of `warta classify` and `warta extract`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RowRef<'a> {
    pub id: Cow<'a, str>,
    pub title: Cow<'a, str>,
    pub text: Cow<'a, str>,
    pub labels: Vec<Cow<'a, str>>,
}

impl<'a> RowRef<'a> {
    /// Title and body as the classifier sees them (borrowed when there is no title).
    pub fn full_text(&self) -> Cow<'_, str> {
        join_title(&self.title, &self.text)
    }

    pub fn into_owned(self) -> Row {
        Row {
            id: self.id.into_owned(),
            title: self.title.into_owned(),
            text: self.text.into_owned(),
            labels: self.labels.into_iter().map(Cow::into_owned).collect(),
        }
    }
}

/// Parse one JSONL line without copying what need not be copied. Unknown fields are ignored;
/// `id` may be a string or a number.
pub fn parse_row_ref(line: &str) -> Result<RowRef<'_>, String> {
    if let Some(row) = simple_row(line) {
        return Ok(row);
    }
    let raw: RawRow<'_> = serde_json::from_str(line).map_err(|e| format!("invalid JSON row: {e}"))?;
    let id = match raw.id.map(|r| r.get()) {
        None | Some("null") => Cow::Borrowed(""),
        Some(r) if r.starts_with('"') => {
            serde_json::from_str::<Cow<'_, str>>(r).map_err(|e| format!("invalid \"id\": {e}"))?
        }
        Some(r) if r.starts_with(|c: char| c == '-' || c.is_ascii_digit()) => Cow::Borrowed(r),
        Some(other) => return Err(format!("field \"id\" must be a string or a number, got {other}")),
    };
    let text = raw.text.ok_or("missing field \"text\"")?;
    let mut labels = raw.labels.unwrap_or_default();
    if let Some(l) = raw.label {
        labels.insert(0, l);
    }
    labels.dedup();
    if labels.iter().any(|l| l.trim().is_empty()) {
        return Err("empty label".into());
    }
    Ok(RowRef {
        id,
        title: raw.title.unwrap_or_default(),
        text,
        labels,
    })
}

/// The common row, read without a general JSON parser: one flat object whose values are
/// strings, with `id`, `title`, `text` and `label` read and other keys skipped. A value is
/// borrowed from the line, or decoded when it has escapes (the paragraphs and quotes of
/// whole articles). Anything else (escaped keys, numbers, arrays, repeated keys, a lone
/// surrogate, bad JSON) is `None`, and [`parse_row_ref`] reads it with serde, which then
/// decides; so both agree.
fn simple_row(line: &str) -> Option<RowRef<'_>> {
    let b = line.as_bytes();
    let ws = |mut i: usize| {
        while b.get(i).is_some_and(|c| matches!(c, b' ' | b'\t' | b'\r' | b'\n')) {
            i += 1;
        }
        i
    };
    // a string starting at `i` (its opening quote): its contents and the index after it
    let string = |i: usize| -> Option<(Cow<'_, str>, usize)> {
        if b.get(i) != Some(&b'"') {
            return None;
        }
        let rest = b.get(i + 1..)?;
        let len = crate::text::swar::plain_string_len(rest)?;
        match rest[len] {
            b'"' => Some((Cow::Borrowed(line.get(i + 1..i + 1 + len)?), i + len + 2)),
            b'\\' => unescaped(line, i + 1, len).map(|(s, end)| (Cow::Owned(s), end)),
            _ => None, // a control character: not JSON
        }
    };
    let mut i = ws(0);
    if b.get(i) != Some(&b'{') {
        return None;
    }
    let (mut id, mut title, mut text, mut label) = (None, None, None, None);
    i = ws(i + 1);
    if b.get(i) == Some(&b'}') {
        return None; // no text: let serde say so
    }
    loop {
        let (key, after) = string(i)?;
        let Cow::Borrowed(key) = key else {
            return None; // an escaped key
        };
        i = ws(after);
        if b.get(i) != Some(&b':') {
            return None;
        }
        let (value, after) = string(ws(i + 1))?;
        let slot = match key {
            "id" => &mut id,
            "title" => &mut title,
            "text" => &mut text,
            "label" => &mut label,
            "labels" => return None,
            _ => &mut None,
        };
        if slot.replace(value).is_some() {
            return None; // a repeated key
        }
        i = ws(after);
        match b.get(i) {
            Some(b',') => i = ws(i + 1),
            Some(b'}') => break,
            _ => return None,
        }
    }
    if ws(i + 1) != b.len() {
        return None;
    }
    let label: Option<Cow<'_, str>> = label;
    if label.as_ref().is_some_and(|l| l.trim().is_empty()) {
        return None;
    }
    Some(RowRef {
        id: id.unwrap_or_default(),
        title: title.unwrap_or_default(),
        text: text?,
        labels: label.map(|l| vec![l]).unwrap_or_default(),
    })
}

/// A JSON string's contents with its escapes decoded, and the index after its closing quote.
/// The string starts at `start` (after its opening quote) and its first `plain` bytes are
/// free of quotes, backslashes and control characters. `None` for what serde_json would
/// refuse — an unknown escape, a lone surrogate, a control character — so serde says why.
fn unescaped(line: &str, start: usize, plain: usize) -> Option<(String, usize)> {
    let b = line.as_bytes();
    // never longer than its escaped form: one allocation, no growing
    let mut out = String::with_capacity(b.len().saturating_sub(start));
    let (mut i, mut run) = (start, plain);
    loop {
        out.push_str(line.get(i..i + run)?);
        i += run;
        match *b.get(i)? {
            b'"' => return Some((out, i + 1)),
            b'\\' => {
                let (c, len) = match *b.get(i + 1)? {
                    b'"' => ('"', 2),
                    b'\\' => ('\\', 2),
                    b'/' => ('/', 2),
                    b'b' => ('\u{8}', 2),
                    b'f' => ('\u{c}', 2),
                    b'n' => ('\n', 2),
                    b'r' => ('\r', 2),
                    b't' => ('\t', 2),
                    b'u' => {
                        let unit = hex4(b.get(i + 2..i + 6)?)?;
                        match unit {
                            0xD800..=0xDBFF => {
                                // a high surrogate: only with the low one after it
                                if b.get(i + 6..i + 8)? != b"\\u" {
                                    return None;
                                }
                                let low = hex4(b.get(i + 8..i + 12)?)?;
                                if !(0xDC00..=0xDFFF).contains(&low) {
                                    return None;
                                }
                                (char::from_u32(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00))?, 12)
                            }
                            _ => (char::from_u32(unit)?, 6), // a lone low surrogate is not a char
                        }
                    }
                    _ => return None,
                };
                out.push(c);
                i += len;
            }
            _ => return None,
        }
        run = crate::text::swar::plain_string_len(b.get(i..)?)?;
    }
}

/// Four hex digits, either case.
fn hex4(digits: &[u8]) -> Option<u32> {
    digits
        .iter()
        .try_fold(0u32, |n, &d| Some(n << 4 | (d as char).to_digit(16)?))
}

/// Parse one JSONL line into an owned [`Row`].
pub fn parse_row(line: &str) -> Result<Row, String> {
    parse_row_ref(line).map(RowRef::into_owned)
}

/// A line of the input as the bulk readers give it: its number, and its byte range or why
/// it was not read.
pub type LineAt = (usize, Result<std::ops::Range<usize>, String>);

/// Lines of a JSONL stream as `(line number, line)`, skipping blank lines. Invalid UTF-8 is
/// an error for that line only; an I/O error ends the stream.
pub struct Lines<R> {
    reader: R,
    number: usize,
    buf: Vec<u8>,
    chunk: Chunk,
    /// The longest line the line-at-a-time methods hold (see [`Self::max_line`]).
    max_line: usize,
}

pub fn lines<R: BufRead>(reader: R) -> Lines<R> {
    Lines {
        reader,
        number: 0,
        buf: Vec::new(),
        chunk: Chunk::default(),
        max_line: usize::MAX,
    }
}

impl<R: BufRead> Lines<R> {
    /// Lines longer than `max_line` bytes become errors for their line, read past without
    /// being held (the iterator's and [`Self::next_into`]'s limit; [`Self::next_chunk`]
    /// takes its own).
    pub fn max_line(mut self, max_line: usize) -> Self {
        self.max_line = max_line;
        self
    }

    /// Append the next non-blank line (without its line ending, or a leading BOM) to `buf`:
    /// its line number and byte range there, or why it was not read (too long).
    pub fn next_into(&mut self, buf: &mut Vec<u8>) -> Option<std::io::Result<LineAt>> {
        let start = buf.len();
        loop {
            buf.truncate(start);
            match read_line_capped(&mut self.reader, buf, self.max_line) {
                Ok((0, _)) => return None,
                Ok((_, false)) => {}
                Ok((_, true)) => {
                    self.number += 1;
                    return Some(Ok((self.number, Err(too_long(self.max_line)))));
                }
                Err(e) => return Some(Err(e)),
            }
            self.number += 1;
            if let Some(content) = line_content(self.number, buf, start..buf.len()) {
                return Some(Ok((self.number, Ok(content))));
            }
        }
    }

    /// The next lines in bulk: reads of at least [`CHUNK_READ`] bytes straight into one
    /// reused buffer, split there, until `rows` holds `max_rows` lines or the buffer
    /// `max_bytes`. Each line [`Self::next_into`] would give (numbered and trimmed the same)
    /// that `keep` accepts by its number goes to `rows` with its byte range in the returned
    /// bytes; no rows means the end of the input. A line the last read cut is kept for the
    /// next call. A line longer than `max_line` bytes is not held: it goes to `rows` as an
    /// error, and its bytes are dropped as they arrive (a file without newlines must not
    /// fill the memory). The batch commands' path: a line costs a search for its newline,
    /// not a copy and a call. Not to be mixed with the line-at-a-time methods.
    pub fn next_chunk(
        &mut self,
        rows: &mut Vec<LineAt>,
        max_rows: usize,
        max_bytes: usize,
        max_line: usize,
        keep: impl Fn(usize) -> bool,
    ) -> std::io::Result<&[u8]> {
        rows.clear();
        let chunk = &mut self.chunk;
        // the line the previous call's last read cut goes first
        chunk.drop_whole_lines();
        let mut searched = 0;
        loop {
            if chunk.skipping {
                // the rest of a line too long to hold: up to its newline, if it has come
                match memchr::memchr(b'\n', chunk.bytes.get(chunk.cut..chunk.filled).unwrap_or_default()) {
                    Some(at) => {
                        chunk.cut += at + 1;
                        chunk.skipping = false;
                    }
                    None => chunk.filled = chunk.cut,
                }
                searched = chunk.cut;
            }
            if !chunk.skipping {
                while let Some(at) = memchr::memchr(b'\n', chunk.bytes.get(searched..chunk.filled).unwrap_or_default())
                {
                    let end = searched + at;
                    chunk_line(&mut self.number, &chunk.bytes, chunk.cut..end, max_line, rows, &keep);
                    chunk.cut = end + 1;
                    searched = chunk.cut;
                }
                searched = chunk.filled;
                // (one byte more: it may be the "\r" of the line's "\r\n")
                if chunk.filled - chunk.cut > max_line.saturating_add(1) {
                    self.number += 1;
                    if keep(self.number) {
                        rows.push((self.number, Err(too_long(max_line))));
                    }
                    chunk.skipping = true;
                    chunk.filled = chunk.cut;
                    searched = chunk.cut;
                }
            }
            if !rows.is_empty() && (rows.len() >= max_rows || chunk.filled >= max_bytes) {
                break;
            }
            if rows.is_empty() && chunk.cut > 0 {
                // nothing kept yet (blank lines, other shards): make room
                searched -= chunk.cut;
                chunk.drop_whole_lines();
            }
            if chunk.bytes.len() < chunk.filled + CHUNK_READ {
                chunk.bytes.resize(chunk.filled + CHUNK_READ, 0);
            }
            // larger than a BufReader's buffer, so it reads straight into ours
            match self
                .reader
                .read(chunk.bytes.get_mut(chunk.filled..).unwrap_or_default())
            {
                Ok(0) => {
                    if !chunk.skipping && chunk.cut < chunk.filled {
                        chunk_line(
                            &mut self.number,
                            &chunk.bytes,
                            chunk.cut..chunk.filled,
                            max_line,
                            rows,
                            &keep,
                        );
                        chunk.cut = chunk.filled;
                    }
                    chunk.skipping = false;
                    break;
                }
                Ok(n) => chunk.filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(chunk.bytes.get(..chunk.cut).unwrap_or_default())
    }
}

/// The buffer of [`Lines::next_chunk`]: `bytes[..filled]` read, of which `bytes[..cut]` are
/// whole lines; the rest of `bytes` is room for the next read (zeroed once, not per read).
#[derive(Default)]
struct Chunk {
    bytes: Vec<u8>,
    filled: usize,
    cut: usize,
    /// Dropping the rest of a line that was too long.
    skipping: bool,
}

impl Chunk {
    /// Forget the whole lines, moving the unfinished one to the front.
    fn drop_whole_lines(&mut self) {
        self.bytes.copy_within(self.cut..self.filled, 0);
        self.filled -= self.cut;
        self.cut = 0;
    }
}

/// `read_until(b'\n')` that holds at most `max_line` bytes of a line (plus its line ending):
/// the bytes read, and whether the line was longer (then `buf` keeps none of it, and the
/// reader is past its newline).
fn read_line_capped(reader: &mut impl BufRead, buf: &mut Vec<u8>, max_line: usize) -> std::io::Result<(usize, bool)> {
    let start = buf.len();
    let (mut read, mut too_long) = (0, false);
    loop {
        let available = match reader.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            return Ok((read, too_long));
        }
        let (ended, used) = match memchr::memchr(b'\n', available) {
            Some(at) => (true, at + 1),
            None => (false, available.len()),
        };
        if !too_long {
            buf.extend_from_slice(&available[..used]);
            let line = &buf[start..];
            let content = line.strip_suffix(b"\n").unwrap_or(line);
            let content = content.strip_suffix(b"\r").unwrap_or(content);
            if content.len() > max_line {
                too_long = true;
                buf.truncate(start);
            }
        }
        reader.consume(used);
        read += used;
        if ended {
            return Ok((read, too_long));
        }
    }
}

fn too_long(max_line: usize) -> String {
    format!("line longer than {max_line} bytes; skipped")
}

/// Bytes [`Lines::next_chunk`] leaves room for before each read.
const CHUNK_READ: usize = 1 << 18;

/// One line of [`Lines::next_chunk`], `range` of `bytes` without its newline: numbered,
/// trimmed as [`Lines::next_into`] trims, and pushed to `rows` unless blank or not kept.
fn chunk_line(
    number: &mut usize,
    bytes: &[u8],
    range: std::ops::Range<usize>,
    max_line: usize,
    rows: &mut Vec<LineAt>,
    keep: &impl Fn(usize) -> bool,
) {
    *number += 1;
    let line = bytes.get(range.clone()).unwrap_or_default();
    let line = if line.strip_suffix(b"\r").unwrap_or(line).len() > max_line {
        Err(too_long(max_line))
    } else {
        match line_content(*number, bytes, range) {
            Some(content) => Ok(content),
            None => return,
        }
    };
    if keep(*number) {
        rows.push((*number, line));
    }
}

/// Line `number`, at `range` of `bytes`, without its line ending (and on the first line
/// without a BOM): where its content lies, or `None` when it is blank (not a row).
fn line_content(number: usize, bytes: &[u8], range: std::ops::Range<usize>) -> Option<std::ops::Range<usize>> {
    let mut raw = bytes.get(range.clone())?;
    raw = raw.strip_suffix(b"\n").unwrap_or(raw);
    raw = raw.strip_suffix(b"\r").unwrap_or(raw);
    let mut from = range.start;
    if number == 1 {
        if let Some(rest) = raw.strip_prefix(b"\xef\xbb\xbf") {
            raw = rest;
            from += 3;
        }
    }
    (!raw.iter().all(u8::is_ascii_whitespace)).then(|| from..from + raw.len())
}

/// Why a line is not text: the message for its error row.
pub fn utf8_line(raw: &[u8]) -> Result<&str, String> {
    std::str::from_utf8(raw).map_err(|e| format!("invalid UTF-8: {e}"))
}

impl<R: BufRead> Iterator for Lines<R> {
    type Item = std::io::Result<(usize, Result<String, String>)>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        let item = self
            .next_into(&mut buf)
            .map(|r| r.map(|(n, line)| (n, line.and_then(|range| utf8_line(&buf[range]).map(str::to_string)))));
        self.buf = buf;
        item
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CorpusError {
    #[error("cannot read {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{path}:{line}: {message}{more}")]
    Row {
        path: String,
        line: usize,
        message: String,
        more: String,
    },
    #[error("{path}: no rows")]
    Empty { path: String },
}

/// Read a labelled JSONL file for training or evaluation. Any bad row fails the whole file
/// (training on silently partial data is worse than stopping): the error names the first bad
/// line and counts the others.
pub fn read_labelled(path: &Path) -> Result<Vec<Row>, CorpusError> {
    let name = path.display().to_string();
    let io = |source| CorpusError::Io {
        path: name.clone(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut rows = Vec::new();
    let mut first_bad: Option<(usize, String)> = None;
    let mut bad = 0;
    for item in lines(std::io::BufReader::new(file)) {
        let (n, line) = item.map_err(io)?;
        let row = line.and_then(|l| parse_row(&l)).and_then(|r| {
            if r.labels.is_empty() {
                Err("missing field \"label\" (or \"labels\")".to_string())
            } else if r.full_text().trim().is_empty() {
                Err("empty \"text\"".to_string())
            } else {
                Ok(r)
            }
        });
        match row {
            Ok(r) => rows.push(r),
            Err(e) => {
                bad += 1;
                first_bad.get_or_insert((n, e));
            }
        }
    }
    if let Some((line, message)) = first_bad {
        let more = if bad > 1 {
            format!(" (and {} more bad lines)", bad - 1)
        } else {
            String::new()
        };
        return Err(CorpusError::Row {
            path: name,
            line,
            message,
            more,
        });
    }
    if rows.is_empty() {
        return Err(CorpusError::Empty { path: name });
    }
    Ok(rows)
}

/// Training examples from rows: the first label of each row (multi-label comes later).
pub fn examples(rows: &[Row]) -> Vec<Example> {
    rows.iter()
        .filter_map(|r| {
            r.labels.first().map(|l| Example {
                text: r.full_text(),
                label: l.clone(),
            })
        })
        .collect()
}

/// The embedded default corpus: news articles written for warta, one file per label.
const DEFAULT_CORPUS: [(&str, &str); 8] = [
    ("defense", include_str!("../data/corpus/defense.jsonl")),
    ("diplomacy", include_str!("../data/corpus/diplomacy.jsonl")),
    ("drugs_crime", include_str!("../data/corpus/drugs_crime.jsonl")),
    ("economy_trade", include_str!("../data/corpus/economy_trade.jsonl")),
    ("health", include_str!("../data/corpus/health.jsonl")),
    (
        "human_trafficking",
        include_str!("../data/corpus/human_trafficking.jsonl"),
    ),
    ("migration", include_str!("../data/corpus/migration.jsonl")),
    ("politics", include_str!("../data/corpus/politics.jsonl")),
];

/// The seed articles warta was conceived from, with their main topics.
pub const SEEDS: [(&str, &str, &str); 3] = [
    (
        "000_a5398182eba481b3",
        "migration",
        include_str!("../data/seeds/000_a5398182eba481b3.txt"),
    ),
    (
        "001_dc89ad69bdbf3a7b",
        "human_trafficking",
        include_str!("../data/seeds/001_dc89ad69bdbf3a7b.txt"),
    ),
    (
        "002_2e9dbea5c19bf7fd",
        "defense",
        include_str!("../data/seeds/002_2e9dbea5c19bf7fd.txt"),
    ),
];

/// Rows of the embedded corpus (and the seeds, when asked), in a fixed order.
pub fn default_rows(with_seeds: bool) -> Vec<Row> {
    let mut rows = Vec::new();
    for (file, content) in DEFAULT_CORPUS {
        for (i, line) in content.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            // The corpus is ours and checked by tests; a bad row here is a build defect,
            // reported and skipped rather than a panic at start-up.
            match parse_row(line) {
                Ok(r) => rows.push(r),
                Err(e) => tracing::error!(file, line = i + 1, error = %e, "bad row in embedded corpus"),
            }
        }
    }
    if with_seeds {
        for (id, label, text) in SEEDS {
            rows.push(Row {
                id: format!("seed-{id}"),
                title: String::new(),
                text: text.to_string(),
                labels: vec![label.to_string()],
            });
        }
    }
    rows
}

/// Read a whole plain-text article (for `warta extract FILE.txt`).
pub fn read_text_file(path: &Path) -> Result<String, CorpusError> {
    let bytes = std::fs::read(path).map_err(|source| CorpusError::Io {
        path: path.display().to_string(),
        source,
    })?;
    String::from_utf8(bytes).map_err(|e| CorpusError::Row {
        path: path.display().to_string(),
        line: 0,
        message: format!("invalid UTF-8: {e}"),
        more: String::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The serde reading of a line, skipping the fast path.
    fn serde_row(line: &str) -> Result<RowRef<'_>, String> {
        let raw: RawRow<'_> = serde_json::from_str(line).map_err(|e| e.to_string())?;
        let id = match raw.id.map(|r| r.get()) {
            None | Some("null") => Cow::Borrowed(""),
            Some(r) => serde_json::from_str::<Cow<'_, str>>(r).map_err(|e| e.to_string())?,
        };
        let mut labels = raw.labels.unwrap_or_default();
        if let Some(l) = raw.label {
            labels.insert(0, l);
        }
        Ok(RowRef {
            id,
            title: raw.title.unwrap_or_default(),
            text: raw.text.ok_or("no text")?,
            labels,
        })
    }

    #[test]
    fn the_fast_row_reader_agrees_with_serde_or_steps_aside() {
        let lines = [
            r#"{"id":"548","label":"sports","text":"Dengan perubahan dari lari, kecepatan."}"#,
            r#"  { "text" : "é ü 中文" , "id":"x" , "other": "skip me", "title": "T" }  "#,
            r#"{"text":"a","extra":"b","extra":"c"}"#,
            r#"{"text":""}"#,
            r#"{"text":"a \"quoted\"\nparagraph\\ \/ \b\f\r\t","id":"\u00e9\u00C9"}"#,
            r#"{"text":"\ud83d\ude00 emoji \uD83D\uDE00","title":"\u0000","label":"L\u0131"}"#,
            r#"{"text":"\\"}"#,
        ];
        for line in lines {
            assert_eq!(simple_row(line), Some(serde_row(line).unwrap()), "{line}");
        }
        // not simple: serde decides (and may refuse)
        for line in [
            r#"{"id":7,"text":"a"}"#,
            r#"{"te\u0078t":"a"}"#,
            r#"{"text":"lone \ud83d"}"#,
            r#"{"text":"lone \ud83d\u0041"}"#,
            r#"{"text":"lone \ude00"}"#,
            r#"{"text":"bad \x"}"#,
            r#"{"text":"short \u12"}"#,
            r#"{"text":"end \"#,
            r#"{"text":"a\n	tab"}"#,
            r#"{"text":"a","text":"b"}"#,
            r#"{"text":"a","labels":["x"]}"#,
            r#"{"text":"a","label":" "}"#,
            r#"{"text":"a"} trailing"#,
            r#"{"text":"a",}"#,
            r#"{"id":null,"text":"a"}"#,
            r#"{"text":"tab	inside"}"#,
            r#"{"title":"t"}"#,
            "{}",
            "[]",
            "",
            r#"{"text":"unterminated"#,
        ] {
            assert_eq!(simple_row(line), None, "{line}");
        }
        assert_eq!(parse_row_ref(r#"{"id":7,"text":"a"}"#).unwrap().id, "7");
        assert!(parse_row_ref(r#"{"text":"lone \ud83d"}"#).is_err());
    }

    #[test]
    fn escaped_strings_read_as_serde_reads_them() {
        // rows as serde_json writes them, from texts full of what JSON must escape
        let alphabet: Vec<char> = "ab \"\\/\n\r\t\u{1}\u{1f}\u{7f}é中😀\u{2028}".chars().collect();
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..2000 {
            let mut s = String::new();
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            for k in 0..(state % 24) {
                s.push(alphabet[((state >> (k * 2 % 60)) as usize + k as usize) % alphabet.len()]);
            }
            let line = serde_json::json!({"id": s, "text": s, "title": s}).to_string();
            assert_eq!(simple_row(&line), Some(serde_row(&line).unwrap()), "{line}");
        }
        assert!(parse_row_ref(r#"{"text":"a","text":"b"}"#).is_err());
    }
    use std::collections::BTreeMap;

    #[test]
    fn parses_rows_leniently_but_strictly_typed() {
        let r = parse_row(r#"{"id": 7, "text": "t", "label": "x", "extra": [1]}"#).unwrap();
        assert_eq!((r.id.as_str(), r.labels.as_slice()), ("7", &["x".to_string()][..]));
        let r = parse_row(r#"{"text": "t", "labels": ["a", "b"], "title": "H"}"#).unwrap();
        assert_eq!(r.labels, ["a", "b"]);
        assert_eq!(r.full_text(), "H\nt");
        // a body that already opens with its headline is not given it twice
        let r = parse_row(r#"{"title": " Oil rises ", "text": "Oil rises. Prices up"}"#).unwrap();
        assert_eq!(r.full_text(), "Oil rises. Prices up");
        let r = parse_row(r#"{"title": "Oil", "text": "Oilfield output"}"#).unwrap();
        assert_eq!(r.full_text(), "Oil\nOilfield output");
        let r = parse_row(r#"{"title": "Oil rises", "text": "Oil rises"}"#).unwrap();
        assert_eq!(r.full_text(), "Oil rises");
        let r = parse_row(r#"{"title": "Oil  rises", "text": " Oil\nrises: up"}"#).unwrap();
        assert_eq!(r.full_text(), " Oil\nrises: up");
        let r = parse_row(r#"{"title": "Oil rises", "text": "Oilrises"}"#).unwrap();
        assert_eq!(r.full_text(), "Oil rises\nOilrises");
        assert!(parse_row(r#"{"id": "1"}"#).unwrap_err().contains("text"));
        assert!(parse_row("not json").unwrap_err().contains("invalid JSON"));
        assert!(parse_row(r#"{"id": [1], "text": "t"}"#).unwrap_err().contains("id"));
        assert!(parse_row(r#"{"text": "t", "label": " "}"#).is_err());
    }

    #[test]
    fn lines_number_and_skip_blank_and_flag_bad_utf8() {
        let data = b"\xef\xbb\xbf{\"a\":1}\r\n\n  \n\xff\xfe\n{\"b\":2}";
        let got: Vec<_> = lines(&data[..]).map(|r| r.unwrap()).collect();
        assert_eq!(got.len(), 3);
        assert_eq!(got[0], (1, Ok("{\"a\":1}".to_string())));
        assert_eq!(got[1].0, 4);
        assert!(got[1].1.is_err());
        assert_eq!(got[2], (5, Ok("{\"b\":2}".to_string())));
    }

    /// Hands out at most `step` bytes per read, as a pipe may.
    struct Trickle<'a> {
        data: &'a [u8],
        step: usize,
    }

    impl std::io::Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.step.min(buf.len()).min(self.data.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    #[test]
    fn chunks_give_the_lines_one_at_a_time_gives() {
        let long = "x".repeat(3 * CHUNK_READ + 17);
        let mut data = b"\xef\xbb\xbf{\"a\":1}\r\n\n  \n\xff\xfe\n".to_vec();
        for i in 0..2000 {
            data.extend_from_slice(format!("{{\"id\":\"{i}\",\"text\":\"{}\"}}\n", "é ".repeat(i % 37)).as_bytes());
            if i % 500 == 7 {
                data.extend_from_slice(long.as_bytes());
                data.extend_from_slice(b"\r\n\t\n");
            }
        }
        data.extend_from_slice(b"{\"last\":\"no newline\"}");
        let mut expected = Vec::new();
        let mut one = lines(&data[..]);
        let mut buf = Vec::new();
        while let Some(item) = one.next_into(&mut buf) {
            let (n, range) = item.unwrap();
            expected.push((n, buf[range.unwrap()].to_vec()));
            buf.clear();
        }
        assert_eq!(expected.len(), 2000 + 4 + 3);
        // with a line limit below the long lines' length, those four are errors instead
        for max_line in [usize::MAX, 2 * CHUNK_READ] {
            let expected: Vec<(usize, Result<Vec<u8>, String>)> = expected
                .iter()
                .map(|(n, line)| match line.len() > max_line {
                    true => (*n, Err(too_long(max_line))),
                    false => (*n, Ok(line.clone())),
                })
                .collect();
            // the line-at-a-time reader, with the same limit, agrees
            let mut capped = lines(std::io::BufReader::new(Trickle {
                data: &data,
                step: 4096,
            }))
            .max_line(max_line);
            let mut one_by_one = Vec::new();
            while let Some(item) = capped.next_into(&mut buf) {
                let (n, line) = item.unwrap();
                one_by_one.push((n, line.map(|r| buf[r].to_vec())));
                buf.clear();
            }
            assert!(one_by_one == expected, "line limit {max_line}");
            for step in [1, 7, 4096, CHUNK_READ, usize::MAX] {
                for (max_rows, max_bytes) in [(1, usize::MAX), (3, 10), (4096, 8 << 20)] {
                    for every in [1, 3] {
                        let keep = |n: usize| n % every == 0;
                        let mut chunks = lines(std::io::BufReader::new(Trickle { data: &data, step }));
                        let mut rows = Vec::new();
                        let mut got = Vec::new();
                        loop {
                            let text = chunks
                                .next_chunk(&mut rows, max_rows, max_bytes, max_line, keep)
                                .unwrap();
                            if rows.is_empty() {
                                break;
                            }
                            got.extend(rows.iter().map(|(n, r)| (*n, r.clone().map(|r| text[r].to_vec()))));
                            if max_bytes == 10 && max_line < usize::MAX {
                                // a long line is dropped as it comes, not held
                                assert!(chunks.chunk.bytes.len() <= max_line + 2 * CHUNK_READ);
                            }
                        }
                        let want: Vec<_> = expected.iter().filter(|(n, _)| keep(*n)).cloned().collect();
                        let case = format!("line limit {max_line}, step {step}, rows {max_rows}, every {every}");
                        assert_eq!(got.len(), want.len(), "{case}");
                        assert!(got == want, "{case}");
                    }
                }
            }
        }
    }

    #[test]
    fn a_file_without_newlines_is_one_line_too_long_not_a_full_memory() {
        let data = vec![b'{'; 5 * CHUNK_READ + 3];
        let mut chunks = lines(std::io::BufReader::new(Trickle {
            data: &data,
            step: CHUNK_READ / 2,
        }));
        let mut rows = Vec::new();
        chunks.next_chunk(&mut rows, 10, 1 << 20, CHUNK_READ, |_| true).unwrap();
        assert_eq!(rows, [(1, Err(too_long(CHUNK_READ)))]);
        chunks.next_chunk(&mut rows, 10, 1 << 20, CHUNK_READ, |_| true).unwrap();
        assert!(rows.is_empty());
        assert!(
            chunks.chunk.bytes.len() <= 3 * CHUNK_READ,
            "{}",
            chunks.chunk.bytes.len()
        );
    }

    #[test]
    fn read_labelled_reports_the_bad_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("d.jsonl");
        std::fs::write(&p, "{\"text\":\"a\",\"label\":\"x\"}\n\n{\"text\":\"b\"}\nnope\n").unwrap();
        let e = read_labelled(&p).unwrap_err().to_string();
        assert!(
            e.ends_with("d.jsonl:3: missing field \"label\" (or \"labels\") (and 1 more bad lines)"),
            "{e}"
        );
        std::fs::write(&p, "\n").unwrap();
        assert!(read_labelled(&p).unwrap_err().to_string().contains("no rows"));
    }

    #[test]
    fn embedded_corpus_is_complete_and_well_formed() {
        let rows = default_rows(false);
        let mut per_label: BTreeMap<&str, usize> = BTreeMap::new();
        let mut ids = std::collections::HashSet::new();
        for r in &rows {
            assert_eq!(r.labels.len(), 1);
            assert!(ids.insert(r.id.clone()), "duplicate id {}", r.id);
            let words = r.text.split_whitespace().count();
            assert!((80..=300).contains(&words), "{} has {words} words", r.id);
            *per_label.entry(r.labels[0].as_str()).or_default() += 1;
        }
        assert_eq!(per_label.len(), 8, "{per_label:?}");
        assert!(per_label.values().all(|&n| n >= 40), "{per_label:?}");
        for (file, content) in DEFAULT_CORPUS {
            let n = content.lines().filter(|l| !l.trim().is_empty()).count();
            assert_eq!(n, per_label[file], "every line of {file} parses with its label");
        }
        assert_eq!(default_rows(true).len(), rows.len() + SEEDS.len());
    }
}
