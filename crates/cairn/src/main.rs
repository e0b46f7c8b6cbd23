//! `cairn`: the Cairn binary. `cairn server` runs the object store; other
//! subcommands are tools around it: `bench`, and the mc-style client commands of
//! `cairn-cli` (`alias`, `ls`, `cp`, `mirror`, `admin`, ...). This file only parses arguments and wires
//! the crates together.

mod bench;
mod console;
mod credentials;
mod node;
mod server;

use clap::{Parser, Subcommand};
use std::process::ExitCode;
use std::time::Duration;

/// Cairn: an S3-compatible, erasure-coded object store.
#[derive(Debug, Parser)]
#[command(name = "cairn", version, about, args_override_self = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    globals: cairn_cli::Globals,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the object store over one or more drives.
    Server(server::ServerArgs),
    /// Measure raw drive and S3 throughput and latency on this machine.
    Bench(Box<bench::BenchArgs>),
    #[command(flatten)]
    Client(cairn_cli::ClientCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("cairn: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(async {
        let result = match cli.command {
            Command::Server(args) => server::run(args).await,
            Command::Bench(args) => bench::run(*args).await,
            Command::Client(command) => return cairn_cli::run(cli.globals, command).await,
        };
        match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(message) => {
                eprintln!("cairn: {message}");
                ExitCode::FAILURE
            }
        }
    });
    // Blocking work still running (a drive call stuck on a hung disk) must not keep
    // the process from exiting once the server has finished its requests.
    runtime.shutdown_timeout(Duration::from_millis(RUNTIME_SHUTDOWN_MS));
    code
}

/// Longest wait at exit for blocking tasks still running.
const RUNTIME_SHUTDOWN_MS: u64 = 2_000;
