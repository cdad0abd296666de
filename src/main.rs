use clap::Parser;
use warta::cli::{self, Cli, Command};

fn init_logging(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(filter))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // logs go to stderr: stdout carries the JSONL results of classify/extract
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
}

fn main() {
    let cli = Cli::parse();
    init_logging(&cli.log);
    let result = match cli.command {
        Command::Serve(args) => match tokio::runtime::Runtime::new() {
            Ok(rt) => rt.block_on(cli::serve(args)),
            Err(e) => Err(e.into()),
        },
        Command::Train(args) => cli::train(args),
        Command::Eval(args) => cli::eval(args),
        Command::Classify(args) => cli::classify(args),
        Command::Extract(args) => cli::extract(args),
    };
    if let Err(e) = result {
        eprintln!("warta: {}", e.to_string().replace('\n', " "));
        std::process::exit(1);
    }
}
