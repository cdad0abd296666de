//! `warta classify` and `warta extract`: JSONL in, JSONL out, one line per row, in order,
//! in constant memory. A bad row gets an error line (with its line number) and the rest go on.

use super::{load_or_default, ClassifyArgs, ExtractArgs};
use crate::corpus::{lines, parse_row, read_text_file, Row};
use crate::error::Error;
use crate::extract::Extractor;
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

/// Run `f` on each row; write its JSON, or an error line naming the input line.
fn each_row(
    input: &Path,
    command: &str,
    strict: bool,
    mut f: impl FnMut(&Row) -> Result<serde_json::Value, Error>,
) -> Result<(), Error> {
    let reader = open_input(input)?;
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut tally = Tally::default();
    for item in lines(reader) {
        let (n, line) = item?;
        tally.rows += 1;
        let row = line.and_then(|l| parse_row(&l));
        let value = match row {
            Err(e) => {
                tally.fail(n, &e);
                json!({"id": null, "line": n, "error": e})
            }
            Ok(r) => match f(&r) {
                Ok(v) => v,
                Err(e) => {
                    tally.fail(n, &e.to_string());
                    json!({"id": r.id, "line": n, "error": e.to_string()})
                }
            },
        };
        if let Err(e) = writeln!(out, "{value}") {
            // a closed pipe (`| head`) is a normal way for a reader to stop
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                return Ok(());
            }
            return Err(e.into());
        }
    }
    out.flush()?;
    tally.finish(command, strict)
}

pub fn classify(args: ClassifyArgs) -> Result<(), Error> {
    let model = load_or_default(args.model.as_ref())?;
    each_row(&args.input, "classify", args.strict, |row| {
        let text = row.full_text();
        if text.trim().is_empty() {
            return Err(Error::invalid("text", "must not be empty"));
        }
        let labels = model.classify_explained(&text, args.top_k, if args.explain { 10 } else { 0 });
        Ok(json!({"id": row.id, "labels": labels}))
    })
}

pub fn extract(args: ExtractArgs) -> Result<(), Error> {
    let model = load_or_default(args.model.as_ref())?;
    let extractor = Extractor::default();
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
    each_row(&args.input, "extract", args.strict, |row| {
        if row.text.trim().is_empty() {
            return Err(Error::invalid("text", "must not be empty"));
        }
        let x = extractor.extract(&row.id, &row.title, &row.text, Some(model.vectorizer()));
        serde_json::to_value(&x).map_err(|e| Error::Internal(e.to_string()))
    })
}
