//! `cairn bench list`: the metadata-at-scale benchmark. It populates a bucket with
//! many small keys under one prefix through real PUTs, lists the prefix in full at
//! each checkpoint (pages of 1,000 keys, every key checked), lists a tree of keys
//! under 1,000 common prefixes with a delimiter, and runs a mixed GET/PUT/list
//! workload; with `--compare ENDPOINT` it runs the same phases against another S3
//! endpoint in the same run and prints both side by side. Nothing is asserted.

use super::list_phases::{self, Plan, Target};
use super::list_report;
use super::server::{self, BenchServer};
use std::path::PathBuf;

/// Default checkpoints, kept up to `--keys` (which is always one).
const DEFAULT_CHECKPOINTS: [usize; 3] = [10_000, 100_000, 1_000_000];
/// Most keys a run may write per phase: key names hold 9 digits.
const KEYS_MAX: usize = 999_999_999;
/// Most common prefixes of the tree phase: prefix names hold 4 digits.
const TREE_PREFIXES_MAX: usize = 10_000;
/// Largest body of a populated key, in bytes (the phase is about metadata).
const BODY_BYTES_MAX: usize = 1 << 20;
/// Most requests in flight while populating, and most mixed-phase clients.
const CONCURRENCY_MAX: usize = 1024;

/// Arguments of `cairn bench list`.
#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Folder for the local server's drives.
    #[arg(long, default_value = "./bench-data")]
    dir: PathBuf,
    /// Drives of the local server (one erasure set).
    #[arg(long, default_value_t = 4)]
    drives: usize,
    /// Nodes sharing the drives (1: a single server; more: a cluster on 127.0.0.1..N
    /// talking node RPC over loopback, benchmarked through node 1).
    #[arg(long, default_value_t = 1)]
    nodes: usize,
    /// Keys written under one prefix in the flat phase.
    #[arg(long, default_value_t = 10_000)]
    keys: usize,
    /// Key counts at which the flat prefix is listed in full, comma-separated
    /// [default: 10000,100000,1000000 up to --keys, and --keys].
    #[arg(long, value_delimiter = ',')]
    checkpoints: Vec<usize>,
    /// Keys of the tree phase, spread round-robin over --tree-prefixes common
    /// prefixes `dir0000/`.. (0 skips the phase) [default: --keys].
    #[arg(long)]
    tree_keys: Option<usize>,
    /// Common prefixes of the tree phase.
    #[arg(long, default_value_t = 1000)]
    tree_prefixes: usize,
    /// Body size of each populated key, in bytes.
    #[arg(long, default_value_t = 1)]
    body_bytes: usize,
    /// PUTs in flight while populating.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Seconds of the mixed phase (70 % GET, 20 % PUT, 10 % list page of 4 KiB
    /// objects; 0 skips it).
    #[arg(long, default_value_t = 10)]
    mixed_seconds: u64,
    /// Clients of the mixed phase.
    #[arg(long, default_value_t = 32)]
    mixed_clients: usize,
    /// Another endpoint to run the same phases against (its buckets are left there;
    /// `--compare-pid` has its RSS sampled during listings as the local server's is).
    #[command(flatten)]
    compare: super::CompareArgs,
    /// Enable versioning on every bucket, and list the flat and tree phases with
    /// ListObjectVersions (the same keys, one version each) instead of ListObjectsV2.
    #[arg(long)]
    versioned: bool,
    /// Keep the data folder afterwards.
    #[arg(long)]
    keep: bool,
}

impl ListArgs {
    /// Checks the limits and turns the arguments into the phases every target runs.
    fn plan(&self) -> Result<Plan, String> {
        let bounded = |name: &str, value: usize, max: usize| {
            if value == 0 || value > max {
                Err(format!("--{name} must be between 1 and {max}, not {value}"))
            } else {
                Ok(())
            }
        };
        bounded("keys", self.keys, KEYS_MAX)?;
        bounded("tree-prefixes", self.tree_prefixes, TREE_PREFIXES_MAX)?;
        bounded("body-bytes", self.body_bytes, BODY_BYTES_MAX)?;
        bounded("concurrency", self.concurrency, CONCURRENCY_MAX)?;
        bounded("mixed-clients", self.mixed_clients, CONCURRENCY_MAX)?;
        let tree_keys = self.tree_keys.unwrap_or(self.keys);
        if tree_keys > KEYS_MAX {
            return Err(format!("--tree-keys must be at most {KEYS_MAX}, not {tree_keys}"));
        }
        let mut checkpoints = if self.checkpoints.is_empty() {
            DEFAULT_CHECKPOINTS.iter().copied().filter(|&c| c < self.keys).collect()
        } else {
            self.checkpoints.clone()
        };
        if checkpoints.windows(2).any(|pair| pair[0] >= pair[1]) || checkpoints.first() == Some(&0) {
            return Err(format!("--checkpoints must be positive and ascending, not {checkpoints:?}"));
        }
        match checkpoints.last() {
            Some(&last) if last > self.keys => {
                return Err(format!("checkpoint {last} is beyond --keys {}", self.keys));
            }
            Some(&last) if last == self.keys => {}
            _ => checkpoints.push(self.keys),
        }
        Ok(Plan {
            checkpoints,
            tree_keys,
            tree_prefixes: self.tree_prefixes,
            body_bytes: self.body_bytes,
            concurrency: self.concurrency,
            mixed_seconds: self.mixed_seconds,
            mixed_clients: self.mixed_clients,
            versioned: self.versioned,
        })
    }

    fn compare_target(&self) -> Result<Option<Target>, String> {
        let Some((endpoint, access_key, secret_key)) = self.compare.endpoint()? else { return Ok(None) };
        let pids = self.compare.compare_pid.clone();
        let name = format!("compare: {endpoint}");
        Ok(Some(Target::new(name, endpoint, access_key, secret_key, &self.compare.compare_region, pids)))
    }
}

/// Runs every phase against the local server, then against `--compare`, and prints
/// the report.
pub async fn run(args: ListArgs) -> Result<(), String> {
    let plan = args.plan()?;
    let compare = args.compare_target()?;
    std::fs::create_dir_all(&args.dir).map_err(|e| format!("{}: {e}", args.dir.display()))?;
    let dir = std::fs::canonicalize(&args.dir).map_err(|e| e.to_string())?;
    let drives_dir = dir.join("drives");
    let _ = std::fs::remove_dir_all(&drives_dir);
    let local = BenchServer::start(&drives_dir, args.drives, args.nodes)?;
    let layout = local.layout;
    let nodes = if layout.nodes > 1 { format!("{} nodes, ", layout.nodes) } else { String::new() };
    let name = format!("cairn ({nodes}{} drives, EC {}+{})", layout.drives, layout.data, layout.parity);
    let target = Target::new(name, &local.endpoint, server::ACCESS_KEY, server::SECRET_KEY, "us-east-1", local.pids());
    let mut results = vec![list_phases::run(&target, &plan).await];
    drop(local);
    if let Some(compare) = compare {
        results.push(list_phases::run(&compare, &plan).await);
    }
    // Printed before the clean-up: removing millions of key directories takes minutes.
    println!("{}", list_report::render(&plan, &results));
    if !args.keep {
        eprintln!("bench list: removing {}", dir.display());
        let _ = std::fs::remove_dir_all(&dir);
    }
    // A failed phase (an error, or a listing that returned other keys than written)
    // is in the report and makes the run fail.
    let failures: Vec<String> = results.iter().filter_map(|r| r.error.clone()).collect();
    if failures.is_empty() { Ok(()) } else { Err(failures.join("; ")) }
}
