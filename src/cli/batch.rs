//! `warta classify` and `warta extract`: JSONL in, JSONL out, one line per row, in order,
//! in constant memory. A bad row gets an error line (with its line number) and the rest go on.

use super::{load_or_default, BatchArgs, ClassifyArgs, ExtractArgs, Progress, TagArgs};
use crate::corpus::{lines, parse_row_ref, read_text_file, LineAt, RowRef};
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

/// Rows read and answered together: parallel across cores, bounded memory (at most this
/// many rows, or about `CHUNK_BYTES` of input).
const CHUNK: usize = 4096;
const CHUNK_BYTES: usize = 8 << 20;

/// Why a row failed: the row's id when it could be read, and a message.
type RowError = (Option<String>, String);

/// What one slice of a chunk gave: its output lines in order, its failures, and counts.
#[derive(Default)]
struct Answers {
    out: Vec<u8>,
    failures: Vec<(usize, String)>,
    rows: u64,
    skipped: u64,
}

impl Answers {
    /// Empty for the next chunk, keeping the output buffer's room.
    fn clear(&mut self) {
        self.out.clear();
        self.failures.clear();
        self.rows = 0;
        self.skipped = 0;
    }

    /// Input line `n` could not be read (`message` says why): its error row, unless an earlier
    /// run already answered that line.
    fn fail(&mut self, n: usize, message: &str, done: &Done) {
        if done.contains(n, None) {
            self.skipped += 1;
            return;
        }
        self.rows += 1;
        self.failed(n, None, message.to_string());
    }

    /// Line `n`'s error row, and the failure counted.
    fn failed(&mut self, n: usize, id: Option<&str>, message: String) {
        self.out.extend_from_slice(&error_row(n, id, &message));
        self.failures.push((n, message));
    }

    /// Answer input line `n`: append the row's JSON line, or an error row naming the line.
    fn answer(&mut self, n: usize, raw: &[u8], done: &Done, f: &impl Fn(&str, &mut Vec<u8>) -> Result<(), RowError>) {
        let line = crate::corpus::utf8_line(raw);
        if done.contains(n, line.as_deref().ok()) {
            self.skipped += 1;
            return;
        }
        self.rows += 1;
        let start = self.out.len();
        if let Err((id, message)) = line.map_err(|e| (None, e)).and_then(|l| f(l, &mut self.out)) {
            self.out.truncate(start);
            self.failed(n, id.as_deref(), message);
        }
    }
}

/// The output line of a row that failed: its id when known, its line number, the reason.
pub(super) fn error_row(n: usize, id: Option<&str>, message: &str) -> Vec<u8> {
    let mut v = json!({"id": id, "line": n, "error": message}).to_string().into_bytes();
    v.push(b'\n');
    v
}

/// A text row's answer: parse `{"id","text"[,"title"]}`, then `f` appends it to `out`.
fn text_row(
    line: &str,
    out: &mut Vec<u8>,
    f: &impl Fn(&RowRef<'_>, &mut Vec<u8>) -> Result<(), Error>,
) -> Result<(), RowError> {
    let row = parse_row_ref(line).map_err(|e| (None, e))?;
    f(&row, out).map_err(|e| (Some(row.id.to_string()), e.to_string()))
}

/// Append one output row as a JSON line.
fn json_line<T: serde::Serialize>(out: &mut Vec<u8>, value: &T) -> Result<(), Error> {
    serde_json::to_writer(&mut *out, value).map_err(|e| Error::Internal(e.to_string()))?;
    out.push(b'\n');
    Ok(())
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
    pub(super) fn contains(&self, n: usize, line: Option<&str>) -> bool {
        if self.is_empty() {
            return false;
        }
        match line.and_then(|l| parse_row_ref(l).ok()) {
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

/// Run `f` on each row, chunk by chunk on all cores; write the answers in input order. `f`
/// appends a row's output line to the buffer it is given.
fn each_row(
    input: &Path,
    command: &str,
    strict: bool,
    batch: &BatchArgs,
    f: impl Fn(&str, &mut Vec<u8>) -> Result<(), RowError> + Sync,
) -> Result<(), Error> {
    let done = match (&batch.output, batch.resume) {
        (Some(path), true) => Done::read(path)?,
        _ => Done::default(),
    };
    let Input { reader, read, bar } = open_input(input, batch.progress)?;
    let mut out = open_output(batch)?;
    let mut tally = Tally::new();
    let mut lines = lines(reader);
    let in_shard = |n: usize| batch.shard.is_none_or(|(i, k)| (n - 1) % k == i);
    let max_line = usize::try_from(batch.max_line_bytes).unwrap_or(usize::MAX);
    // each row's line number and place in the chunk's bytes
    let mut rows: Vec<LineAt> = Vec::with_capacity(CHUNK);
    let threads = rayon::current_num_threads().max(1);
    // the slices' answers, kept from chunk to chunk: output buffers allocated anew took
    // fresh pages every time
    let mut parts: Vec<Answers> = Vec::new();
    loop {
        let text = lines.next_chunk(&mut rows, CHUNK, CHUNK_BYTES, max_line, in_shard)?;
        if rows.is_empty() {
            break;
        }
        // one slice per thread (a few more for balance), each answered into one buffer
        let slice = rows.len().div_ceil(threads * 4).max(64);
        let slices = rows.len().div_ceil(slice);
        if parts.len() < slices {
            parts.resize_with(slices, Answers::default);
        }
        let answer = |(part, answers): (&[LineAt], &mut Answers)| {
            answers.clear();
            for (n, line) in part {
                match line {
                    Ok(range) => answers.answer(*n, &text[range.clone()], &done, &f),
                    Err(message) => answers.fail(*n, message, &done),
                }
            }
        };
        if threads == 1 {
            // on this thread: handing each chunk to a one-thread pool and sleeping until it
            // is done left the core idle ~5% of the time
            rows.chunks(slice).zip(parts.iter_mut()).for_each(answer);
        } else {
            rows.par_chunks(slice).zip(parts.par_iter_mut()).for_each(answer);
        }
        for part in &parts[..slices] {
            tally.rows += part.rows;
            tally.skipped += part.skipped;
            for (n, e) in &part.failures {
                tally.fail(*n, e);
            }
            if write_row(&mut out, &part.out)? {
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

/// One JSON value, written as serde_json writes it inside a row.
fn json_value<T: serde::Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) -> Result<(), Error> {
    serde_json::to_writer(&mut *out, value).map_err(|e| Error::Internal(e.to_string()))
}

pub fn classify(args: ClassifyArgs) -> Result<(), Error> {
    if let Some(addr) = &args.remote {
        return super::remote::classify(addr, &args);
    }
    // Not dropped: the command ends the process, which returns the memory at once; freeing
    // the model's many small allocations first would only add time (~3 ms for AG News).
    let model = std::mem::ManuallyDrop::new(load_or_default(args.model.as_ref())?);
    // each label as a JSON string, escaped once rather than on every row
    let label_json = model
        .labels()
        .iter()
        .map(|l| serde_json::to_vec(l).map_err(|e| Error::Internal(e.to_string())))
        .collect::<Result<Vec<_>, _>>()?;
    let classify = |row: &RowRef<'_>, out: &mut Vec<u8>| {
        let text = row.full_text();
        if text.trim().is_empty() {
            return Err(Error::invalid("text", "must not be empty"));
        }
        if args.explain {
            let labels = model.classify_explained(&text, args.top_k, 10);
            return json_line(out, &ClassifiedRow { id: &row.id, labels });
        }
        // the common row, written as serde would write `ClassifiedRow` but from reused
        // buffers: no label names copied, no vectors allocated per row
        model.ranked(&text, args.top_k, |p, order| {
            out.extend_from_slice(b"{\"id\":");
            json_value(out, row.id.as_ref())?;
            out.extend_from_slice(b",\"labels\":[");
            for (i, &c) in order.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(b"{\"label\":");
                out.extend_from_slice(&label_json[c]);
                out.extend_from_slice(b",\"score\":");
                json_value(out, &p[c])?;
                out.push(b'}');
            }
            out.extend_from_slice(b"]}\n");
            Ok(())
        })
    };
    each_row(&args.input, "classify", args.strict, &args.batch, |line, out| {
        text_row(line, out, &classify)
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
    let extract = |row: &RowRef<'_>, out: &mut Vec<u8>| {
        if row.text.trim().is_empty() {
            return Err(Error::invalid("text", "must not be empty"));
        }
        let x = extractor.extract(&row.id, &row.title, &row.text, Some(model.vectorizer()));
        json_line(out, &x)
    };
    each_row(&args.input, "extract", args.strict, &args.batch, |line, out| {
        text_row(line, out, &extract)
    })
}

/// `warta tag`: rows `{"id","tokens"}` in, the same rows with `"tags"` added out.
pub fn tag(args: TagArgs) -> Result<(), Error> {
    let tagger = crate::ner::Tagger::load(&args.ner_model)?;
    each_row(&args.input, "tag", args.strict, &BatchArgs::default(), |line, out| {
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
        json_line(out, &row).map_err(|e| (id, e.to_string()))
    })
}
