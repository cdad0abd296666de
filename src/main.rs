// A build option for servers (see the `mimalloc` feature in Cargo.toml).
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
#[cfg(not(feature = "mimalloc"))]
#[global_allocator]
static GLOBAL: warta::huge_pages::HugePageAlloc = warta::huge_pages::HugePageAlloc;

use clap::Parser;
use warta::cli::{self, Cli, Command};

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
        // a batch command reads its model's tables at random for the whole run
        warta::huge_pages::enable();
        // and training frees and allocates large buffers fold after fold
        warta::huge_pages::keep_freed_memory();
    }
    let telemetry = match warta::telemetry::init(&cli.log, cli.log_format, cli.otlp_endpoint.as_deref()) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("warta: {e}");
            std::process::exit(1);
        }
    };
    if cli.threads > 0 {
        if let Err(e) = rayon::ThreadPoolBuilder::new().num_threads(cli.threads).build_global() {
            eprintln!("warta: cannot start {} worker threads: {e}", cli.threads);
            std::process::exit(1);
        }
    }
    let result = match cli.command {
        Command::Serve(args) => match warta::service::runtime() {
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
    telemetry.shutdown();
    if let Err(e) = result {
        eprintln!("warta: {}", e.to_string().replace('\n', " "));
        std::process::exit(1);
    }
}
