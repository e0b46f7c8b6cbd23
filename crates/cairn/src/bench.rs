//! `cairn bench`: measurements (see docs/benchmarks.md).

/// Arguments of `cairn bench`.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {}

/// Runs the benchmark.
pub async fn run(_args: BenchArgs) -> Result<(), String> {
    Err("not built yet".into())
}
