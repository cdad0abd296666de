//! `warta classify` and `warta extract`: JSONL in, JSONL out, one line per row, in order,
//! in constant memory. A bad row gets an error line (with its line number) and the rest go on.

use super::{load_or_default, ClassifyArgs, ExtractArgs, TagArgs};
use crate::corpus::{lines, parse_row_ref, read_text_file, RowRef};
use crate::error::Error;
use rayon::prelude::*;
use serde_json::json;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;

fn open_input(path: &Path) -> Result<Box<dyn BufRead>, Error> {
    if path.as_os_str() == "-" {
        Ok(Box::new(BufReader::new(std::io::stdin().lock())))
    } else {
        let f = std::fs::File::open(path).map_err(|e| {
            Error::Io(std::io::Error::new(
                e.kind(),
                format!("cannot read {}: {e}", path.display()),
            ))
        })?;
        Ok(Box::new(BufReader::with_capacity(1 << 16, f)))
    }
}

/// Counts and the first failure, reported on stderr at the end.
#[derive(Default)]
struct Tally {
    rows: u64,
    failed: u64,
    first: Option<String>,
}

impl Tally {
    fn fail(&mut self, line: usize, message: &str) {
        self.failed += 1;
        self.first.get_or_insert_with(|| format!("line {line}: {message}"));
    }

    fn finish(self, command: &str, strict: bool) -> Result<(), Error> {
        if let Some(first) = &self.first {
            eprintln!(
                "warta {command}: {} of {} rows failed (first: {first})",
                self.failed, self.rows
            );
        }
        if strict && self.failed > 0 {
            std::process::exit(2);
        }
        Ok(())
    }
}

/// Rows read and answered together: parallel across cores, bounded memory.
const CHUNK: usize = 1024;

/// Why a row failed: the row's id when it could be read, and a message.
type RowError = (Option<String>, String);

/// Answer one input line: the row's JSON line, or an error row naming the line.
fn answer(
    n: usize,
    line: Result<String, String>,
    f: &(impl Fn(&str) -> Result<Vec<u8>, RowError> + Sync),
) -> (Vec<u8>, Option<String>) {
    let error_row = |id: Option<&str>, message: &str| {
        let mut v = json!({"id": id, "line": n, "error": message}).to_string().into_bytes();
        v.push(b'\n');
        v
    };
    match line.map_err(|e| (None, e)).and_then(|l| f(&l)) {
        Ok(v) => (v, None),
        Err((id, message)) => (error_row(id.as_deref(), &message), Some(message)),
    }
}

/// A text row's answer: parse `{"id","text"[,"title"]}`, then `f`.
fn text_row(line: &str, f: &impl Fn(&RowRef<'_>) -> Result<Vec<u8>, Error>) -> Result<Vec<u8>, RowError> {
    let row = parse_row_ref(line).map_err(|e| (None, e))?;
    f(&row).map_err(|e| (Some(row.id.to_string()), e.to_string()))
}

/// Serialise one output row as a JSON line.
fn json_line<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, Error> {
    let mut v = serde_json::to_vec(value).map_err(|e| Error::Internal(e.to_string()))?;
    v.push(b'\n');
    Ok(v)
}

/// Run `f` on each row, chunk by chunk on all cores; write the answers in input order.
fn each_row(
    input: &Path,
    command: &str,
    strict: bool,
    f: impl Fn(&str) -> Result<Vec<u8>, RowError> + Sync,
) -> Result<(), Error> {
    let reader = open_input(input)?;
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut tally = Tally::default();
    let mut chunk: Vec<(usize, Result<String, String>)> = Vec::with_capacity(CHUNK);
    let mut lines = lines(reader).peekable();
    while lines.peek().is_some() {
        chunk.clear();
        while chunk.len() < CHUNK {
            match lines.next() {
                Some(item) => chunk.push(item?),
                None => break,
            }
        }
        let answers: Vec<(usize, Vec<u8>, Option<String>)> = chunk
            .par_drain(..)
            .map(|(n, line)| {
                let (v, e) = answer(n, line, &f);
                (n, v, e)
            })
            .collect();
        for (n, value, error) in answers {
            tally.rows += 1;
            if let Some(e) = error {
                tally.fail(n, &e);
            }
            if let Err(e) = out.write_all(&value) {
                // a closed pipe (`| head`) is a normal way for a reader to stop
                if e.kind() == std::io::ErrorKind::BrokenPipe {
                    return Ok(());
                }
                return Err(e.into());
            }
        }
    }
    out.flush()?;
    tally.finish(command, strict)
}

/// One `warta classify` output row.
#[derive(serde::Serialize)]
struct ClassifiedRow<'a> {
    id: &'a str,
    labels: Vec<crate::model::LabelScore>,
}

pub fn classify(args: ClassifyArgs) -> Result<(), Error> {
    let model = load_or_default(args.model.as_ref())?;
    let classify = |row: &RowRef<'_>| {
        let text = row.full_text();
        if text.trim().is_empty() {
            return Err(Error::invalid("text", "must not be empty"));
        }
        let labels = model.classify_explained(&text, args.top_k, if args.explain { 10 } else { 0 });
        json_line(&ClassifiedRow { id: &row.id, labels })
    };
    each_row(&args.input, "classify", args.strict, |line| text_row(line, &classify))
}

pub fn extract(args: ExtractArgs) -> Result<(), Error> {
    let model = load_or_default(args.model.as_ref())?;
    let extractor = super::extractor_for(args.ner_model.as_ref())?;
    let plain = args.text || args.input.extension().is_some_and(|e| e.eq_ignore_ascii_case("txt"));
    if plain {
        let text = if args.input.as_os_str() == "-" {
            let mut s = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)?;
            s
        } else {
            read_text_file(&args.input)?
        };
        let id = args
            .input
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let x = extractor.extract(&id, "", &text, Some(model.vectorizer()));
        println!(
            "{}",
            serde_json::to_string(&x).map_err(|e| Error::Internal(e.to_string()))?
        );
        return Ok(());
    }
    let extract = |row: &RowRef<'_>| {
        if row.text.trim().is_empty() {
            return Err(Error::invalid("text", "must not be empty"));
        }
        let x = extractor.extract(&row.id, &row.title, &row.text, Some(model.vectorizer()));
        json_line(&x)
    };
    each_row(&args.input, "extract", args.strict, |line| text_row(line, &extract))
}

/// `warta tag`: rows `{"id","tokens"}` in, the same rows with `"tags"` added out.
pub fn tag(args: TagArgs) -> Result<(), Error> {
    let tagger = crate::ner::Tagger::load(&args.ner_model)?;
    each_row(&args.input, "tag", args.strict, |line| {
        let mut row: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(line).map_err(|e| (None, format!("invalid JSON row: {e}")))?;
        let id = row
            .get("id")
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string));
        let tokens: Vec<&str> = match row.get("tokens").and_then(|t| t.as_array()) {
            Some(a) => a
                .iter()
                .map(|t| {
                    t.as_str()
                        .ok_or_else(|| (id.clone(), "tokens must all be strings".to_string()))
                })
                .collect::<Result<_, _>>()?,
            None => return Err((id, "the row needs a \"tokens\" array".into())),
        };
        let tags: Vec<String> = tagger.tag(&tokens).into_iter().map(str::to_string).collect();
        row.insert("tags".into(), tags.into());
        json_line(&row).map_err(|e| (id, e.to_string()))
    })
}
