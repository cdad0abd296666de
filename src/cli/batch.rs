//! `warta classify` and `warta extract`: JSONL in, JSONL out, one line per row, in order,
//! in constant memory. A bad row gets an error line (with its line number) and the rest go on.

use super::{load_or_default, BatchArgs, ClassifyArgs, ExtractArgs, Progress, TagArgs};
use crate::corpus::{lines, parse_row_ref, read_text_file, RowRef};
use crate::error::Error;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rayon::prelude::*;
use serde_json::json;
use std::collections::HashSet;
use std::io::{BufRead, BufReader, BufWriter, IsTerminal, Read, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Counts and the first failure, reported on stderr at the end in one summary line.
pub(super) struct Tally {
    pub(super) rows: u64,
    failed: u64,
    pub(super) skipped: u64,
    first: Option<String>,
    started: std::time::Instant,
}

impl Tally {
    pub(super) fn new() -> Self {
        Tally {
            rows: 0,
            failed: 0,
            skipped: 0,
            first: None,
            started: std::time::Instant::now(),
        }
    }

    pub(super) fn fail(&mut self, line: usize, message: &str) {
        self.failed += 1;
        self.first.get_or_insert_with(|| format!("line {line}: {message}"));
    }

    /// The summary line: rows, errors, rate (and what was skipped by --resume).
    fn summary(&self, command: &str) -> String {
        let secs = self.started.elapsed().as_secs_f64();
        let mut s = format!(
            "warta {command}: {} rows in {secs:.2} s ({:.0} rows/s), {} failed",
            self.rows,
            self.rows as f64 / secs.max(1e-9),
            self.failed
        );
        if self.skipped > 0 {
            s.push_str(&format!(", {} skipped (already in the output)", self.skipped));
        }
        if let Some(first) = &self.first {
            s.push_str(&format!(" (first: {first})"));
        }
        s
    }

    pub(super) fn finish(self, command: &str, strict: bool) -> Result<(), Error> {
        eprintln!("{}", self.summary(command));
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

/// A row's output line, and its error message if it failed.
type Answer = (Vec<u8>, Option<String>);

/// Answer one input line: the row's JSON line, or an error row naming the line.
fn answer(n: usize, line: Result<String, String>, f: &(impl Fn(&str) -> Result<Vec<u8>, RowError> + Sync)) -> Answer {
    match line.map_err(|e| (None, e)).and_then(|l| f(&l)) {
        Ok(v) => (v, None),
        Err((id, message)) => (error_row(n, id.as_deref(), &message), Some(message)),
    }
}

/// The output line of a row that failed: its id when known, its line number, the reason.
pub(super) fn error_row(n: usize, id: Option<&str>, message: &str) -> Vec<u8> {
    let mut v = json!({"id": id, "line": n, "error": message}).to_string().into_bytes();
    v.push(b'\n');
    v
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

/// What an earlier run already wrote (`--resume`): the ids answered, and the line numbers of
/// rows that had no id.
#[derive(Default)]
pub(super) struct Done {
    ids: HashSet<String>,
    lines: HashSet<usize>,
}

impl Done {
    /// Read `path`; a last line cut short by a crash is removed so the file stays valid JSONL.
    pub(super) fn read(path: &Path) -> Result<Done, Error> {
        let mut done = Done::default();
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(done),
            Err(e) => return Err(io_error(path, "read", e)),
        };
        let complete = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        if complete < bytes.len() {
            let f = std::fs::OpenOptions::new()
                .write(true)
                .open(path)
                .map_err(|e| io_error(path, "open", e))?;
            f.set_len(complete as u64).map_err(|e| io_error(path, "truncate", e))?;
            eprintln!(
                "warta: removed an incomplete last line ({} bytes) from {}",
                bytes.len() - complete,
                path.display()
            );
        }
        for line in bytes[..complete].split(|&b| b == b'\n') {
            let Ok(v) = serde_json::from_slice::<serde_json::Value>(line) else {
                continue;
            };
            match v.get("id") {
                Some(serde_json::Value::String(s)) => {
                    done.ids.insert(s.clone());
                }
                Some(serde_json::Value::Number(n)) => {
                    done.ids.insert(n.to_string());
                }
                _ => {
                    if let Some(n) = v.get("line").and_then(|l| l.as_u64()) {
                        done.lines.insert(n as usize);
                    }
                }
            }
        }
        Ok(done)
    }

    fn is_empty(&self) -> bool {
        self.ids.is_empty() && self.lines.is_empty()
    }

    /// Whether input line `n` was answered before. A row whose id cannot be read counts by
    /// its line number.
    pub(super) fn contains(&self, n: usize, line: &Result<String, String>) -> bool {
        if self.is_empty() {
            return false;
        }
        match line.as_ref().ok().and_then(|l| parse_row_ref(l).ok()) {
            Some(row) if !row.id.is_empty() => self.ids.contains(row.id.as_ref()),
            _ => self.lines.contains(&n),
        }
    }
}

fn io_error(path: &Path, what: &str, e: std::io::Error) -> Error {
    Error::Io(std::io::Error::new(
        e.kind(),
        format!("cannot {what} {}: {e}", path.display()),
    ))
}

/// Write one output line; `true` when the reader has gone: a closed pipe (`| head`) is a
/// normal way for a reader to stop, and ends us quietly.
pub(super) fn write_row(out: &mut Box<dyn Write>, line: &[u8]) -> Result<bool, Error> {
    match out.write_all(line) {
        Ok(()) => Ok(false),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(true),
        Err(e) => Err(e.into()),
    }
}

/// Where output rows go: standard output or `--output` (appended to when resuming).
pub(super) fn open_output(batch: &BatchArgs) -> Result<Box<dyn Write>, Error> {
    match &batch.output {
        None => Ok(Box::new(BufWriter::new(std::io::stdout().lock()))),
        Some(path) => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| io_error(dir, "create", e))?;
            }
            let mut o = std::fs::OpenOptions::new();
            if batch.resume {
                o.append(true).create(true);
            } else {
                o.write(true).create(true).truncate(true);
            }
            let f = o.open(path).map_err(|e| io_error(path, "write", e))?;
            Ok(Box::new(BufWriter::with_capacity(1 << 16, f)))
        }
    }
}

/// A reader that counts the bytes it hands out, for the progress bar.
struct Counting<R> {
    inner: R,
    read: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// An opened input: the rows' reader, the bytes read so far and the progress bar over them.
pub(super) struct Input {
    pub(super) reader: Box<dyn BufRead + Send>,
    pub(super) read: Arc<AtomicU64>,
    pub(super) bar: ProgressBar,
}

/// The input and a progress bar over it: bytes of a file (with a rate and an ETA), or a
/// spinner of rows for a pipe. Hidden unless standard error is a terminal (or `--progress always`).
pub(super) fn open_input(path: &Path, progress: Progress) -> Result<Input, Error> {
    let read = Arc::new(AtomicU64::new(0));
    let (reader, size): (Box<dyn Read + Send>, Option<u64>) = if path.as_os_str() == "-" {
        (Box::new(std::io::stdin()), None)
    } else {
        let f = std::fs::File::open(path).map_err(|e| io_error(path, "read", e))?;
        let size = f.metadata().ok().filter(|m| m.is_file()).map(|m| m.len());
        (Box::new(f), size)
    };
    let reader = BufReader::with_capacity(
        1 << 16,
        Counting {
            inner: reader,
            read: Arc::clone(&read),
        },
    );
    let show = match progress {
        Progress::Never => false,
        Progress::Always => true,
        Progress::Auto => std::io::stderr().is_terminal(),
    };
    let bar = if !show {
        ProgressBar::hidden()
    } else if let Some(size) = size {
        let bar = ProgressBar::with_draw_target(Some(size), ProgressDrawTarget::stderr());
        if let Ok(style) =
            ProgressStyle::with_template("{bar:40} {percent:>3}% {binary_bytes}/{binary_total_bytes} {msg} eta {eta}")
        {
            bar.set_style(style);
        }
        bar
    } else {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} {elapsed}") {
            bar.set_style(style);
        }
        bar
    };
    Ok(Input {
        reader: Box::new(reader),
        read,
        bar,
    })
}

/// Run `f` on each row, chunk by chunk on all cores; write the answers in input order.
fn each_row(
    input: &Path,
    command: &str,
    strict: bool,
    batch: &BatchArgs,
    f: impl Fn(&str) -> Result<Vec<u8>, RowError> + Sync,
) -> Result<(), Error> {
    let done = match (&batch.output, batch.resume) {
        (Some(path), true) => Done::read(path)?,
        _ => Done::default(),
    };
    let Input { reader, read, bar } = open_input(input, batch.progress)?;
    let mut out = open_output(batch)?;
    let mut tally = Tally::new();
    let mut chunk: Vec<(usize, Result<String, String>)> = Vec::with_capacity(CHUNK);
    let mut lines = lines(reader).peekable();
    let in_shard = |n: usize| batch.shard.is_none_or(|(i, k)| (n - 1) % k == i);
    while lines.peek().is_some() {
        chunk.clear();
        while chunk.len() < CHUNK {
            match lines.next() {
                Some(item) => {
                    let (n, line) = item?;
                    if in_shard(n) {
                        chunk.push((n, line));
                    }
                }
                None => break,
            }
        }
        let answers: Vec<(usize, Option<Answer>)> = chunk
            .par_drain(..)
            .map(|(n, line)| {
                if done.contains(n, &line) {
                    (n, None)
                } else {
                    (n, Some(answer(n, line, &f)))
                }
            })
            .collect();
        for (n, answer) in answers {
            let Some((value, error)) = answer else {
                tally.skipped += 1;
                continue;
            };
            tally.rows += 1;
            if let Some(e) = error {
                tally.fail(n, &e);
            }
            if write_row(&mut out, &value)? {
                bar.finish_and_clear();
                return Ok(());
            }
        }
        bar.set_position(read.load(Ordering::Relaxed));
        bar.set_message(format!("{} rows, {} failed", tally.rows, tally.failed));
    }
    out.flush()?;
    bar.finish_and_clear();
    tally.finish(command, strict)
}

/// One `warta classify` output row.
#[derive(serde::Serialize)]
struct ClassifiedRow<'a> {
    id: &'a str,
    labels: Vec<crate::model::LabelScore>,
}

pub fn classify(args: ClassifyArgs) -> Result<(), Error> {
    if let Some(addr) = &args.remote {
        return super::remote::classify(addr, &args);
    }
    let model = load_or_default(args.model.as_ref())?;
    let classify = |row: &RowRef<'_>| {
        let text = row.full_text();
        if text.trim().is_empty() {
            return Err(Error::invalid("text", "must not be empty"));
        }
        let labels = model.classify_explained(&text, args.top_k, if args.explain { 10 } else { 0 });
        json_line(&ClassifiedRow { id: &row.id, labels })
    };
    each_row(&args.input, "classify", args.strict, &args.batch, |line| {
        text_row(line, &classify)
    })
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
    each_row(&args.input, "extract", args.strict, &args.batch, |line| {
        text_row(line, &extract)
    })
}

/// `warta tag`: rows `{"id","tokens"}` in, the same rows with `"tags"` added out.
pub fn tag(args: TagArgs) -> Result<(), Error> {
    let tagger = crate::ner::Tagger::load(&args.ner_model)?;
    each_row(&args.input, "tag", args.strict, &BatchArgs::default(), |line| {
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
