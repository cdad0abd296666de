use clap::Parser;
use warta::cli::{self, Cli, Command};

fn init_logging(filter: &str, format: cli::LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(filter))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // logs go to stderr: stdout carries the JSONL results of classify/extract
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // colours only for a person at a terminal, never escape codes in a log file
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    match format {
        // one JSON object per line, with the current span's fields (method, request id)
        cli::LogFormat::Json => builder.json().with_current_span(true).with_span_list(false).init(),
        cli::LogFormat::Pretty => builder.init(),
    }
}

/// Batch commands write to stdout and are often piped (`| head`): a closed pipe should end
/// them quietly, as it ends any Unix filter, instead of failing a print. The server keeps
/// Rust's default (SIGPIPE ignored) so a vanished client never kills it.
fn exit_quietly_on_closed_pipe() {
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of SIGPIPE before any thread is started.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn main() {
    let cli = Cli::parse();
    // a server and a gRPC client keep SIGPIPE ignored: a vanished peer must not kill them
    let networked = match &cli.command {
        Command::Serve(_) => true,
        Command::Classify(a) => a.remote.is_some(),
        _ => false,
    };
    if !networked {
        exit_quietly_on_closed_pipe();
    }
    init_logging(&cli.log, cli.log_format);
    if cli.threads > 0 {
        if let Err(e) = rayon::ThreadPoolBuilder::new().num_threads(cli.threads).build_global() {
            eprintln!("warta: cannot start {} worker threads: {e}", cli.threads);
            std::process::exit(1);
        }
    }
    let result = match cli.command {
        Command::Serve(args) => match tokio::runtime::Runtime::new() {
            Ok(rt) => rt.block_on(cli::serve(args)),
            Err(e) => Err(e.into()),
        },
        Command::Train(args) => cli::train(args),
        Command::Eval(args) => cli::eval(args),
        Command::Classify(args) => cli::classify(args),
        Command::Extract(args) => cli::extract(args),
        Command::TrainNer(args) => cli::train_ner(args),
        Command::Tag(args) => cli::tag(args),
    };
    if let Err(e) = result {
        eprintln!("warta: {}", e.to_string().replace('\n', " "));
        std::process::exit(1);
    }
}
