//! `cairn`: the Cairn binary. `cairn server` runs the object store; other
//! subcommands are tools around it. This file only parses arguments and wires
//! the crates together.

mod bench;
mod credentials;
mod node;
mod server;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Cairn: an S3-compatible, erasure-coded object store.
#[derive(Debug, Parser)]
#[command(name = "cairn", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the object store over one or more drives.
    Server(server::ServerArgs),
    /// Measure raw drive and S3 throughput and latency on this machine.
    Bench(bench::BenchArgs),
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
    let result = runtime.block_on(async {
        match cli.command {
            Command::Server(args) => server::run(args).await,
            Command::Bench(args) => bench::run(args).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("cairn: {message}");
            ExitCode::FAILURE
        }
    }
}
