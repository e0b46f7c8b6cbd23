//! `cairn bench`: measures, in one run on one filesystem, what the disk and the
//! loopback network can do raw, and what Cairn does over them: 64 MiB PUT/GET
//! throughput, 4 KiB PUT/GET latency and rate at 4 and 32 clients, and the
//! server's peak memory during concurrent large uploads (64 x 256 MiB by default),
//! and `cairn cp` of a 512 MiB file up and back. Numbers are printed
//! as a Markdown report (see docs/benchmarks.md); nothing is asserted. `cairn bench
//! list` is the listing benchmark (see `list.rs`), `cairn bench compression` the
//! compression one (see `compression.rs`).

mod client;
mod compression;
mod list;
mod list_phases;
mod list_report;
mod list_rss;
mod load;
mod notify;
mod raw;
mod report;
mod s3;
mod server;

use report::Report;
use std::path::PathBuf;

/// Arguments of `cairn bench`.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct BenchArgs {
    /// Another benchmark instead of the default one.
    #[command(subcommand)]
    mode: Option<BenchMode>,
    /// Folder for the raw-disk test and the server's drives (on the filesystem to measure).
    #[arg(long, default_value = "./bench-data")]
    dir: PathBuf,
    /// Drives of the benchmarked server (one erasure set).
    #[arg(long, default_value_t = 4)]
    drives: usize,
    /// Nodes sharing the drives (1: a single server; more: a cluster on 127.0.0.1..N
    /// talking node RPC over loopback, benchmarked through node 1).
    #[arg(long, default_value_t = 1)]
    nodes: usize,
    /// Seconds each small-object phase runs.
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Number of 64 MiB objects written and read in the throughput phase.
    #[arg(long, default_value_t = 16)]
    large_objects: usize,
    /// Skip the memory phase (64 x 256 MiB by default: 16 GiB of objects, 32 GiB on
    /// disk with EC 2+2).
    #[arg(long)]
    skip_memory: bool,
    /// Concurrent uploads in the memory phase.
    #[arg(long, default_value_t = 64)]
    memory_uploads: usize,
    /// Size of each memory-phase upload, in MiB.
    #[arg(long, default_value_t = 256)]
    memory_object_mib: usize,
    /// Keep the data folder afterwards.
    #[arg(long)]
    keep: bool,
    /// Enable versioning on the benchmark's bucket: every PUT adds a version (the
    /// cost of versioning, against a run without).
    #[arg(long)]
    versioned: bool,
    /// Send every object created in the benchmark's bucket to a webhook served by the
    /// benchmark (the cost of durable event notifications, against a run without).
    #[arg(long)]
    notify: bool,
    /// Another endpoint to run the 64 MiB and 4 KiB phases against after the local
    /// server (its bucket, `bench-<ms since epoch>`, is left there; `--compare-pid` has
    /// its CPU per GB measured as the local server's is).
    #[command(flatten)]
    compare: CompareArgs,
}

/// Another S3 endpoint (path-style addressing) to run the same phases against, e.g.
/// a Garage or MinIO on this machine, measured by the same load generator in the same run.
#[derive(Debug, clap::Args)]
pub struct CompareArgs {
    /// The other endpoint, e.g. http://127.0.0.1:3900.
    #[arg(long)]
    compare: Option<String>,
    /// Access key for --compare.
    #[arg(long, requires = "compare", env = "CAIRN_BENCH_COMPARE_ACCESS_KEY")]
    compare_access_key: Option<String>,
    /// Secret key for --compare.
    #[arg(long, requires = "compare", env = "CAIRN_BENCH_COMPARE_SECRET_KEY", hide_env_values = true)]
    compare_secret_key: Option<String>,
    /// Region for --compare (signing region of SigV4).
    #[arg(long, default_value = "us-east-1")]
    compare_region: String,
    /// Process ids of the --compare server (comma-separated, one per node), when it
    /// runs on this machine, so that it is measured as the local server is (summed).
    #[arg(long, requires = "compare", value_delimiter = ',')]
    compare_pid: Vec<u32>,
}

impl CompareArgs {
    /// The endpoint and its credentials, if --compare was given.
    fn endpoint(&self) -> Result<Option<(&str, &str, &str)>, String> {
        let Some(endpoint) = &self.compare else { return Ok(None) };
        let (Some(access_key), Some(secret_key)) = (&self.compare_access_key, &self.compare_secret_key) else {
            return Err("--compare needs --compare-access-key and --compare-secret-key".into());
        };
        Ok(Some((endpoint, access_key, secret_key)))
    }
}

/// The benchmarks other than the default throughput and latency one.
#[derive(Debug, clap::Subcommand)]
enum BenchMode {
    /// Listing at scale: populate N keys, list them in full at checkpoints and as a
    /// tree with a delimiter, and a mixed GET/PUT/list workload (see docs/benchmarks.md).
    List(list::ListArgs),
    /// Transparent compression: PUT/GET MB/s and bytes on the drives of text, with
    /// compression off and on (see docs/benchmarks.md).
    Compression(compression::CompressionArgs),
}

/// Runs every phase and prints the report.
pub async fn run(args: BenchArgs) -> Result<(), String> {
    match args.mode {
        Some(BenchMode::List(list_args)) => return list::run(list_args).await,
        Some(BenchMode::Compression(compression_args)) => return compression::run(compression_args).await,
        None => {}
    }
    // Checked before the local phases run, not after them.
    let compare_to = args.compare.endpoint()?;
    std::fs::create_dir_all(&args.dir).map_err(|e| format!("{}: {e}", args.dir.display()))?;
    let dir = std::fs::canonicalize(&args.dir).map_err(|e| e.to_string())?;
    let memory = load::MemoryPhase { uploads: args.memory_uploads, object_mib: args.memory_object_mib };
    if !args.skip_memory {
        // Fail before the other phases run rather than filling the disk at the end.
        memory.check_disk_space(&dir, args.drives)?;
    }
    let mut report = Report::default();
    eprintln!("bench: raw disk");
    report.raw_disk = Some(raw::disk(&dir.join("raw"), args.drives).map_err(|e| format!("raw disk: {e}"))?);
    eprintln!("bench: raw loopback");
    report.loopback_mb_s = Some(raw::loopback().await.map_err(|e| format!("loopback: {e}"))?);
    let drives_dir = dir.join("drives");
    let _ = std::fs::remove_dir_all(&drives_dir);
    let server = server::BenchServer::start(&drives_dir, args.drives, args.nodes)?;
    report.layout = Some(server.layout);
    let client = load::Client::new(&server.endpoint, args.versioned).await?;
    let sink = match args.notify {
        true => {
            let sink = notify::sink().await?;
            notify::configure(&server.endpoint, client.s3(), client.bucket(), &sink).await?;
            Some(sink)
        }
        false => None,
    };
    eprintln!("bench: 64 MiB objects");
    report.large = Some(client.large_objects(args.large_objects, &server.pids()).await?);
    for clients in [4, 32] {
        eprintln!("bench: 4 KiB objects, {clients} clients");
        report.small.push(client.small_objects(clients, args.seconds).await?);
    }
    if let Some(sink) = &sink {
        // Delivery runs behind the writes: every created object is one event.
        let written =
            report.large.as_ref().map_or(0, |l| l.objects) + report.small.iter().map(|s| s.put.ops).sum::<usize>();
        notify::report_delivery(sink, written as u64).await;
    }
    eprintln!("bench: cairn cp of a 512 MiB file up and back");
    report.client = Some(client::copy_round_trip(&dir.join("client"), &server)?);
    if !args.skip_memory {
        eprintln!("bench: memory during {} x {} MiB uploads", memory.uploads, memory.object_mib);
        report.memory = Some(client.memory_phase(memory, &server).await?);
    }
    drop(server);
    let compared = match compare_to {
        Some(endpoint) => Some(compare(&args, endpoint).await?),
        None => None,
    };
    if !args.keep {
        let _ = std::fs::remove_dir_all(&dir);
    }
    println!("{}", report.render());
    if let Some(compared) = compared {
        println!("{}", compared.render());
    }
    Ok(())
}

/// The 64 MiB and 4 KiB phases against `--compare`, with the same load generator.
async fn compare(args: &BenchArgs, (endpoint, access_key, secret_key): (&str, &str, &str)) -> Result<Report, String> {
    let client = load::Client::compare(endpoint, access_key, secret_key, &args.compare.compare_region).await?;
    let mut report = Report { compare: Some(endpoint.to_owned()), ..Report::default() };
    eprintln!("bench: {endpoint}: 64 MiB objects");
    report.large = Some(client.large_objects(args.large_objects, &args.compare.compare_pid).await?);
    for clients in [4, 32] {
        eprintln!("bench: {endpoint}: 4 KiB objects, {clients} clients");
        report.small.push(client.small_objects(clients, args.seconds).await?);
    }
    Ok(report)
}
