//! The `warta` binary as batch jobs and operators use it.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn warta(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_warta"))
        .args(args)
        .env("WARTA_LOG", "error")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run warta");
    // a command that fails before reading its input (a corrupt model) closes the pipe first
    if let Err(e) = child.stdin.take().expect("stdin").write_all(stdin.as_bytes()) {
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "write stdin: {e}");
    }
    child.wait_with_output().expect("wait")
}

fn stdout_lines(o: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("each output line is JSON"))
        .collect()
}

/// `warta train --data <data> --out <out>` with `flags`.
fn train(data: &std::path::Path, out: &std::path::Path, flags: &[&str]) -> Output {
    let mut args = vec![
        "train",
        "--data",
        data.to_str().expect("path"),
        "--out",
        out.to_str().expect("path"),
    ];
    args.extend_from_slice(flags);
    warta(&args, "")
}

/// A small model file trained through the CLI (shared by the tests below).
fn model_file(dir: &std::path::Path) -> String {
    let data = dir.join("train.jsonl");
    let mut rows = String::new();
    for (label, text) in [
        ("health", "vaksin campak rumah sakit pasien dokter wabah"),
        ("drugs_crime", "narkoba kokain kartel sabu penyelundupan polisi"),
        ("migration", "migran perbatasan suaka pengungsi deportasi visa"),
    ] {
        for i in 0..6 {
            let words: Vec<&str> = text.split(' ').collect();
            let t = format!("{} {} {}", words[i % 6], words[(i + 2) % 6], words[(i + 4) % 6]);
            rows.push_str(&serde_json::json!({"id": format!("{label}{i}"), "text": t, "label": label}).to_string());
            rows.push('\n');
        }
    }
    std::fs::write(&data, rows).expect("write data");
    let out = dir.join("m.warta");
    let o = train(&data, &out, &["--folds", "3", "--min-df", "1"]);
    assert!(o.status.success(), "train: {}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("3-fold cross-validation: accuracy"), "{text}");
    assert!(text.contains("macro-F1"), "{text}");
    // the default leaves the character n-grams to the corpus, and says what it decided
    assert!(
        text.contains("character n-grams ") && text.contains("5-fold complement naive Bayes won"),
        "{text}"
    );
    out.to_str().expect("path").to_string()
}

#[test]
fn classify_answers_every_row_in_order_and_names_bad_lines() {
    let dir = tempfile::tempdir().expect("tmp");
    let model = model_file(dir.path());
    let input = "{\"id\":\"a\",\"text\":\"kartel kokain\"}\nnot json\n\n{\"id\":\"c\",\"text\":\"\"}\n{\"id\":7,\"title\":\"Wabah\",\"text\":\"vaksin\"}\n";
    let o = warta(&["classify", "--model", &model, "--top-k", "2"], input);
    assert!(o.status.success());
    let rows = stdout_lines(&o);
    assert_eq!(rows.len(), 4, "one line per row (blank lines are not rows)");
    assert_eq!(rows[0]["id"], "a");
    assert_eq!(rows[0]["labels"][0]["label"], "drugs_crime");
    assert_eq!(rows[0]["labels"].as_array().expect("labels").len(), 2);
    assert_eq!(rows[1]["line"], 2);
    assert!(rows[1]["error"].as_str().expect("error").contains("invalid JSON"));
    assert_eq!(rows[2]["id"], "c");
    assert_eq!(rows[2]["line"], 4);
    assert_eq!(rows[3]["id"], "7");
    assert_eq!(rows[3]["labels"][0]["label"], "health");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("4 rows in") && err.contains("2 failed (first: line 2"),
        "{err}"
    );
    let strict = warta(&["classify", "--model", &model, "--strict"], input);
    assert_eq!(strict.status.code(), Some(2));
}

#[test]
fn a_line_over_the_limit_is_an_error_row_and_the_rows_after_it_are_answered() {
    let dir = tempfile::tempdir().expect("tmp");
    let model = model_file(dir.path());
    let long = format!("{{\"id\":\"b\",\"text\":\"{}\"}}", "kokain ".repeat(100));
    let input = format!("{{\"id\":\"a\",\"text\":\"kartel kokain\"}}\n{long}\n{{\"id\":\"c\",\"text\":\"vaksin\"}}\n");
    let o = warta(&["classify", "--model", &model, "--max-line-bytes", "200"], &input);
    assert!(o.status.success());
    let rows = stdout_lines(&o);
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0]["id"], "a");
    assert_eq!(rows[1]["line"], 2);
    assert!(
        rows[1]["error"]
            .as_str()
            .expect("error")
            .contains("longer than 200 bytes"),
        "{}",
        rows[1]
    );
    assert_eq!(rows[2]["id"], "c");
    assert!(rows[2]["labels"][0]["label"].is_string());
    // within the limit, the same line is an ordinary row
    let o = warta(&["classify", "--model", &model, "--max-line-bytes", "1000"], &input);
    assert_eq!(stdout_lines(&o)[1]["id"], "b");
}

#[test]
fn eval_json_has_the_spec_fields() {
    let dir = tempfile::tempdir().expect("tmp");
    let model = model_file(dir.path());
    let data = dir.path().join("train.jsonl");
    let o = warta(
        &[
            "eval",
            "--model",
            &model,
            "--data",
            data.to_str().expect("path"),
            "--json",
        ],
        "",
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v = &stdout_lines(&o)[0];
    assert_eq!(v["n"], 18);
    assert!(v["accuracy"].as_f64().expect("accuracy") > 0.9);
    assert!(v["macro_f1"].as_f64().is_some());
    assert!(v["per_label"]["health"]["f1"].as_f64().is_some());
    assert!(v["model_version"].as_str().is_some());
}

#[test]
fn a_bad_model_file_is_a_one_line_error_and_a_failure_exit() {
    let dir = tempfile::tempdir().expect("tmp");
    let model = model_file(dir.path());
    let bytes = std::fs::read(&model).expect("model");
    let truncated = dir.path().join("truncated.warta");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).expect("write");
    let garbage = dir.path().join("garbage.warta");
    std::fs::write(&garbage, b"{\"not\": \"a model\"}").expect("write");
    for (path, expect) in [
        (truncated.to_str().expect("p").to_string(), "truncated or corrupt"),
        (garbage.to_str().expect("p").to_string(), "not a warta topic model"),
        ("/nonexistent/model.warta".to_string(), "cannot read model file"),
    ] {
        for args in [
            vec!["classify", "--model", &path],
            vec!["serve", "--addr", "127.0.0.1:0", "--model", &path],
        ] {
            let o = warta(&args, "");
            assert_eq!(o.status.code(), Some(1), "{args:?}");
            let err = String::from_utf8_lossy(&o.stderr);
            let last = err.lines().last().unwrap_or("");
            assert!(last.starts_with("warta: ") && last.contains(expect), "{args:?}: {err}");
        }
    }
}

#[test]
fn bad_training_data_names_file_and_line() {
    let dir = tempfile::tempdir().expect("tmp");
    let data = dir.path().join("bad.jsonl");
    std::fs::write(&data, "{\"text\":\"a\",\"label\":\"x\"}\n{\"text\":\"b\"}\n").expect("write");
    let o = warta(
        &[
            "train",
            "--data",
            data.to_str().expect("p"),
            "--out",
            "/tmp/never.warta",
        ],
        "",
    );
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("bad.jsonl:2: missing field \"label\""), "{err}");
}

#[test]
fn max_df_drops_the_words_most_articles_share() {
    let dir = tempfile::tempdir().expect("tmp");
    let data = dir.path().join("news.jsonl");
    let mut rows = String::new();
    for (label, words) in [
        ("drugs_crime", ["narkoba", "kokain", "kartel", "sabu"]),
        ("migration", ["migran", "perbatasan", "suaka", "visa"]),
    ] {
        for (i, w) in words.iter().enumerate() {
            // "laporan" (report) is in every article, "polisi" in three of eight
            let extra = if i < 2 && label == "drugs_crime" || i == 0 && label == "migration" {
                "polisi"
            } else {
                ""
            };
            let text = format!("laporan {w} {} {extra}", words[(i + 1) % 4]);
            rows.push_str(&serde_json::json!({"id": format!("{label}{i}"), "text": text, "label": label}).to_string());
            rows.push('\n');
        }
    }
    std::fs::write(&data, rows).expect("write");
    let with_max_df = |max_df: &str| {
        let out = dir.path().join(format!("m{max_df}.warta"));
        let o = train(&data, &out, &["--folds", "0", "--char-ngrams", "0", "--max-df", max_df]);
        (o, out)
    };
    let has = |path: &std::path::Path, term: &str| {
        let m = warta::model::TopicModel::load(path).expect("load");
        (0..m.vectorizer().len()).any(|f| m.vectorizer().feature_name(f).as_deref() == Some(term))
    };
    let (o, all) = with_max_df("1");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(has(&all, "laporan") && has(&all, "polisi"));
    let (o, pruned) = with_max_df("0.5");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(!has(&pruned, "laporan"), "in 8 of 8 articles: dropped");
    assert!(
        has(&pruned, "polisi") && has(&pruned, "kartel"),
        "in 3 and 2 of 8: kept"
    );
    let m = warta::model::TopicModel::load(&pruned).expect("load");
    assert_eq!(m.vectorizer().config().max_df, 0.5, "saved with the model");
    for bad in ["0", "1.5", "half"] {
        let (o, _) = with_max_df(bad);
        assert_eq!(o.status.code(), Some(2), "--max-df {bad}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("--max-df") && err.contains("(0, 1]"), "{err}");
    }
}

#[test]
fn extract_reads_a_plain_text_article() {
    let dir = tempfile::tempdir().expect("tmp");
    let model = model_file(dir.path());
    let article = dir.path().join("berita.txt");
    std::fs::write(
        &article,
        "Menteri Bertemu Mitra\nJAKARTA, KOMPAS.com – Presiden Meksiko Claudia Sheinbaum tiba pada Selasa (8/6) bersama 250.000 migran.",
    )
    .expect("write");
    let o = warta(&["extract", "--model", &model, article.to_str().expect("p")], "");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v = &stdout_lines(&o)[0];
    assert_eq!(v["id"], "berita");
    assert_eq!(v["title"], "Menteri Bertemu Mitra");
    assert_eq!(v["dateline"], "JAKARTA, KOMPAS.com");
    assert!(v["entities"]
        .as_array()
        .expect("entities")
        .iter()
        .any(|e| e["text"] == "Claudia Sheinbaum" && e["kind"] == "PERSON"));
    assert_eq!(v["quantities"][0]["value"], 250000.0);
    assert_eq!(v["quantities"][0]["unit"], "migran");
    assert_eq!(v["dates"][0]["normalized"], "--06-08");
}

#[test]
fn parallel_classify_keeps_input_order_across_chunks() {
    let dir = tempfile::tempdir().expect("tmp");
    let model = model_file(dir.path());
    let texts = ["kartel kokain", "vaksin campak", "migran perbatasan"];
    let input: String = (0..2500)
        .map(|i| format!("{}\n", serde_json::json!({"id": i.to_string(), "text": texts[i % 3]})))
        .collect();
    for threads in ["1", "2"] {
        let o = warta(
            &["--threads", threads, "classify", "--model", &model, "--top-k", "1"],
            &input,
        );
        assert!(o.status.success());
        let rows = stdout_lines(&o);
        assert_eq!(rows.len(), 2500);
        for (i, r) in rows.iter().enumerate() {
            assert_eq!(r["id"], i.to_string());
            let want = ["drugs_crime", "health", "migration"][i % 3];
            assert_eq!(r["labels"][0]["label"], want, "row {i} with {threads} threads");
        }
    }
}

#[test]
fn train_ner_then_tag_keeps_rows_and_reports_bad_lines() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("ner.jsonl");
    let mut rows = String::new();
    for i in 0..4 {
        for (tokens, tags) in [
            (
                vec!["Presiden", "Joko", "Widodo", "tiba", "di", "Jakarta", "."],
                vec!["O", "B-PER", "I-PER", "O", "O", "B-LOC", "O"],
            ),
            (
                vec!["Kamala", "Harris", "bertemu", "pejabat", "Pentagon", "."],
                vec!["B-PER", "I-PER", "O", "O", "B-ORG", "O"],
            ),
        ] {
            rows.push_str(&serde_json::json!({"id": format!("s{i}"), "tokens": tokens, "tags": tags}).to_string());
            rows.push('\n');
        }
    }
    std::fs::write(&data, &rows).expect("write");
    let model = dir.path().join("m.ner");
    let o = warta(
        &[
            "train-ner",
            "--data",
            data.to_str().expect("path"),
            "--dev",
            data.to_str().expect("path"),
            "--out",
            model.to_str().expect("path"),
            "--hash-bits",
            "14",
        ],
        "",
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("micro-F1"));

    let input = concat!(
        r#"{"id":"a","tokens":["Joko","Widodo","tiba","di","Jakarta"],"extra":1}"#,
        "\n",
        "not json\n",
        r#"{"id":"c","tokens":[]}"#,
        "\n",
        r#"{"id":"d","text":"no tokens"}"#,
        "\n"
    );
    let o = warta(&["tag", "--ner-model", model.to_str().expect("path")], input);
    assert!(o.status.success());
    let out = stdout_lines(&o);
    assert_eq!(out.len(), 4, "one line out per line in");
    assert_eq!(out[0]["extra"], 1, "other fields are kept");
    let tags: Vec<&str> = out[0]["tags"]
        .as_array()
        .expect("tags")
        .iter()
        .map(|t| t.as_str().expect("tag"))
        .collect();
    assert_eq!(tags.len(), 5);
    assert_eq!((tags[0], tags[1], tags[4]), ("B-PER", "I-PER", "B-LOC"), "{tags:?}");
    assert_eq!(out[1]["line"], 2);
    assert!(out[1]["error"].as_str().is_some());
    assert_eq!(out[2]["tags"], serde_json::json!([]));
    assert_eq!(out[3]["id"], "d");
    assert!(out[3]["error"].as_str().expect("error").contains("tokens"));

    // a corrupt entity model is a one-line error, not a panic
    std::fs::write(&model, b"WARTA\x00NE\x01\x00garbage").expect("write");
    let o = warta(&["tag", "--ner-model", model.to_str().expect("path")], input);
    assert!(!o.status.success());
    assert_eq!(String::from_utf8_lossy(&o.stderr).trim().lines().count(), 1);
}

/// `n` labelled-looking rows (ids r0…), each short, from three topics.
fn rows(n: usize) -> String {
    let topics = [
        "kartel kokain sabu penyelundupan",
        "vaksin rumah sakit pasien dokter",
        "migran perbatasan suaka deportasi",
    ];
    let mut s = String::new();
    for i in 0..n {
        let t = topics[i % 3];
        s.push_str(&serde_json::json!({"id": format!("r{i}"), "text": format!("{t} nomor {i}")}).to_string());
        s.push('\n');
    }
    s
}

/// `dir/in.jsonl`: `n` good rows, then one with empty text and one that is not JSON.
fn batch_input(dir: &std::path::Path, n: usize) -> String {
    let input = dir.join("in.jsonl");
    let mut text = rows(n);
    text.push_str("{\"id\":\"empty\",\"text\":\"\"}\nnot json\n");
    std::fs::write(&input, &text).expect("write input");
    input.to_str().expect("path").to_string()
}

fn read_lines(path: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .expect("output file")
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn batch_jobs_shard_resume_and_end_with_a_summary() {
    let dir = tempfile::tempdir().expect("tmp");
    let model = model_file(dir.path());
    let input = batch_input(dir.path(), 200);
    let input = input.as_str();
    let p = |name: &str| dir.path().join(name).to_str().expect("path").to_string();

    // the whole file, into --output, with a summary line on stderr
    let full = p("out/full.jsonl");
    let o = warta(&["classify", "--model", &model, "-o", &full, input], "");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(o.stdout.is_empty(), "rows go to --output, not stdout");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("202 rows in") && err.contains("rows/s") && err.contains("2 failed"),
        "{err}"
    );
    assert!(err.contains("line 201"), "the first failure names its line: {err}");
    assert!(!err.contains('\r'), "no progress bar when stderr is not a terminal");
    let full = read_lines(std::path::Path::new(&full));
    assert_eq!(full.len(), 202);

    // three shards cover every row exactly once, each in input order
    let mut union: Vec<String> = Vec::new();
    for i in 0..3 {
        let part = p(&format!("part-{i}.jsonl"));
        let o = warta(
            &[
                "classify",
                "--model",
                &model,
                "--shard",
                &format!("{i}/3"),
                "-o",
                &part,
                input,
            ],
            "",
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let lines = read_lines(std::path::Path::new(&part));
        let positions: Vec<usize> = lines
            .iter()
            .map(|l| {
                full.iter()
                    .position(|f| f == l)
                    .expect("a shard row is a row of the whole")
            })
            .collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "shard {i} keeps input order");
        assert!(positions.iter().all(|&k| k % 3 == i), "shard {i} holds lines i, i+3, …");
        union.extend(lines);
    }
    union.sort();
    let mut sorted = full.clone();
    sorted.sort();
    assert_eq!(union, sorted);

    // an interrupted job: 50 rows written, the 51st cut off mid-line; --resume finishes it
    let partial = p("partial.jsonl");
    let mut cut = full[..50].join("\n");
    cut.push('\n');
    cut.push_str(&full[50][..10]);
    std::fs::write(&partial, cut).expect("write partial");
    let o = warta(&["classify", "--model", &model, "--resume", "-o", &partial, input], "");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("50 skipped"), "{err}");
    assert!(err.contains("incomplete last line"), "{err}");
    assert_eq!(
        read_lines(std::path::Path::new(&partial)),
        full,
        "resumed output equals one whole run"
    );
    // resuming a finished job does nothing more
    let o = warta(&["classify", "--model", &model, "--resume", "-o", &partial, input], "");
    assert!(String::from_utf8_lossy(&o.stderr).contains("0 rows in"));
    assert_eq!(read_lines(std::path::Path::new(&partial)).len(), 202);

    // bad flags are one-line errors
    for bad in [vec!["--shard", "3/3"], vec!["--shard", "x"], vec!["--resume"]] {
        let mut args = vec!["classify", "--model", &model];
        args.extend(bad.iter().copied());
        args.push(input);
        let o = warta(&args, "");
        assert!(!o.status.success(), "{bad:?} must fail");
    }

    // extract shares the batch options
    let ents = p("entities.jsonl");
    let o = warta(&["extract", "--shard", "1/2", "-o", &ents, input], "");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(read_lines(std::path::Path::new(&ents)).len(), 101);
}

#[test]
fn eval_report_writes_pictures_and_a_page() {
    let dir = tempfile::tempdir().expect("tmp");
    let model = model_file(dir.path());
    let data = dir.path().join("train.jsonl");
    let report = dir.path().join("report");
    let o = warta(
        &[
            "eval",
            "--model",
            &model,
            "--data",
            data.to_str().expect("path"),
            "--json",
            "--report",
            report.to_str().expect("path"),
        ],
        "",
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let m: serde_json::Value = serde_json::from_slice(&o.stdout).expect("--json still prints the metrics");
    for f in ["confusion.png", "per_label.png"] {
        let png = std::fs::read(report.join(f)).expect(f);
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "{f} is a PNG");
        assert!(png.len() > 5_000, "{f} has a picture in it");
    }
    for f in ["confusion.svg", "per_label.svg"] {
        let svg = std::fs::read_to_string(report.join(f)).expect(f);
        assert!(
            svg.contains("<svg") && svg.contains("drugs_crime"),
            "{f} names the labels"
        );
    }
    let html = std::fs::read_to_string(report.join("index.html")).expect("index.html");
    let accuracy = m["accuracy"].as_f64().expect("accuracy");
    assert!(html.contains(&format!("{accuracy:.4}")), "the page shows the numbers");
    assert!(html.contains("<img src=\"confusion.png\"") && html.contains("migration"));
}

/// Kill `child` and wait for it.
fn stop(child: &mut std::process::Child) {
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn classify_remote_streams_a_file_through_a_server_and_survives_a_restart() {
    let dir = tempfile::tempdir().expect("tmp");
    let model = model_file(dir.path());
    let input = batch_input(dir.path(), 20_000);
    let input = input.as_str();
    let local = dir.path().join("local.jsonl");
    let o = warta(
        &[
            "classify",
            "--model",
            &model,
            "-o",
            local.to_str().expect("path"),
            input,
        ],
        "",
    );
    assert!(o.status.success());

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let addr = format!("127.0.0.1:{port}");
    let server = || {
        Command::new(env!("CARGO_BIN_EXE_warta"))
            .args(["serve", "--addr", &addr, "--model", &model])
            .env("WARTA_LOG", "error")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start warta serve")
    };
    let mut first = server();
    let remote = dir.path().join("remote.jsonl");
    // a small window and a client that starts before the server is up: it retries
    let client = Command::new(env!("CARGO_BIN_EXE_warta"))
        .args(["classify", "--remote", &addr, "--remote-window", "16", "-o"])
        .arg(&remote)
        .arg(input)
        .env("WARTA_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the client");
    // once answers are arriving (the first 64 KiB flushed), kill the server and start another
    let started = std::time::Instant::now();
    while std::fs::metadata(&remote).map_or(0, |m| m.len()) == 0 && started.elapsed().as_secs() < 60 {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    stop(&mut first);
    std::thread::sleep(std::time::Duration::from_millis(300));
    let mut second = server();
    let out = client.wait_with_output().expect("client");
    stop(&mut second);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    // the stream broke under the client (not only a first connect before the server was up)
    assert!(
        err.contains("code=") || err.contains("stream ended early"),
        "the client saw the restart and retried: {err}"
    );
    assert!(err.contains("20002 rows in") && err.contains("2 failed"), "{err}");
    let (remote, local) = (read_lines(&remote), read_lines(&local));
    assert_eq!(remote.len(), local.len(), "every row answered once");
    for (r, l) in remote.iter().zip(&local) {
        let (r, l): (serde_json::Value, serde_json::Value) = (
            serde_json::from_str(r).expect("json"),
            serde_json::from_str(l).expect("json"),
        );
        assert_eq!(r["id"], l["id"]);
        assert_eq!(r["labels"], l["labels"], "the server's answer equals the local one");
        assert_eq!(r["error"].is_null(), l["error"].is_null());
    }

    // a refusal that retrying cannot fix ends the run with a one-line reason
    let mut guarded = Command::new(env!("CARGO_BIN_EXE_warta"))
        .args([
            "serve",
            "--addr",
            &addr,
            "--model",
            &model,
            "--api-token",
            "s3cret-token",
        ])
        .env("WARTA_LOG", "error")
        .spawn()
        .expect("start warta serve");
    let o = warta(
        &["classify", "--remote", &addr, "--api-token", "wrong"],
        "{\"id\":\"a\",\"text\":\"vaksin\"}\n",
    );
    stop(&mut guarded);
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("Unauthenticated"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[cfg(not(feature = "otlp"))]
#[test]
fn otlp_export_without_the_feature_is_a_clear_error() {
    let o = warta(&["--otlp-endpoint", "http://127.0.0.1:4317", "classify"], "");
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("--features otlp"), "{err}");
}

/// Rows with several labels train one-vs-rest logistic regression whatever `--algorithm`
/// says; a named algorithm that does not apply is said to, not silently dropped.
#[test]
fn multi_label_training_says_when_the_named_algorithm_does_not_apply() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("multi.jsonl");
    let mut rows = String::new();
    for (labels, text) in [
        (vec!["drugs"], "narkoba kokain kartel sabu"),
        (vec!["migration"], "migran perbatasan suaka pengungsi"),
        (vec!["drugs", "migration"], "kartel menyelundupkan migran di perbatasan"),
    ] {
        for i in 0..6 {
            rows.push_str(
                &serde_json::json!({"id": format!("r{}{i}", rows.len()), "text": text, "labels": labels}).to_string(),
            );
            rows.push('\n');
        }
    }
    std::fs::write(&data, rows).expect("write data");
    let out = dir.path().join("m.warta");
    let train = |algorithm: Option<&str>| {
        let mut args = vec!["--log", "warn", "train", "--data", data.to_str().expect("path")];
        args.extend(["--out", out.to_str().expect("path"), "--folds", "0"]);
        if let Some(a) = algorithm {
            args.extend(["--algorithm", a]);
        }
        let o = warta(&args, "");
        assert!(o.status.success(), "train: {}", String::from_utf8_lossy(&o.stderr));
        let stdout = String::from_utf8_lossy(&o.stdout);
        assert!(stdout.contains("multi-label (one-vs-rest logistic regression)"));
        // the character n-grams are judged per label, as single-label training judges them
        assert!(
            stdout.contains("character n-grams dropped") || stdout.contains("character n-grams kept"),
            "{stdout}"
        );
        String::from_utf8_lossy(&o.stderr).to_string()
    };
    let named = train(Some("nb-svm"));
    assert!(
        named.contains("multi-label model") && named.contains("nb-svm"),
        "{named}"
    );
    let default = train(None);
    assert!(!default.contains("multi-label model"), "{default}");
}
