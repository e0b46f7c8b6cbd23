//! Crash consistency on one node: `kill -9` at a random moment during a PUT, a multipart
//! complete, an overwrite or a delete, then a restart over the same drives, many times.
//! After each restart: every acknowledged write reads back exactly, nothing torn or mixed
//! is visible (bodies name their write in every 16 bytes), the listing shows only
//! readable objects, and no staged file is left in any drive's `.cairn.sys/tmp`.
//!
//! Each crash targets one kind of operation (in a seeded order) and kills at a random
//! moment within that operation's measured duration, while the other kinds run at
//! random offsets around it; the report counts how many kills found each kind in flight.

use crate::deployment::{http_status, s3_client};
use crate::harness::Server;
use crate::report::CrashReport;
use crate::workload::{Shared, Upload, Worker};
use cairn_meta::ObjectMeta;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;

/// Drives of the node: EC 2+2, so a version needs 2 drives to be read back.
const DRIVES: usize = 4;
/// Keys that are overwritten again and again.
const SHARED_KEYS: usize = 4;
/// Keys that multipart uploads complete onto.
const MULTIPART_KEYS: usize = 2;
const KIB: usize = 1 << 10;
const MIB: usize = 1 << 20;
/// Body sizes of the PUTs: inline and multi-block.
const PUT_BYTES: [std::ops::RangeInclusive<usize>; 2] = [32..=100 * KIB, MIB..=4 * MIB];
/// How long a restarted node may take to answer `health/ready`.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// Bound on the operations of one crash finishing after the kill (they fail at once).
const JOIN_LIMIT: Duration = Duration::from_secs(60);
/// Calibration runs per operation kind (their median is the kill window).
const CALIBRATION_RUNS: usize = 3;
/// The kill window is this many times the operation's measured duration, so that some
/// kills land just after it finished too.
const WINDOW_FACTOR: f64 = 1.3;

/// The operations a crash can target.
const KINDS: [&str; 4] = ["put", "overwrite", "complete", "delete"];

fn shared_key(index: usize) -> String {
    format!("shared/{index}")
}

fn multipart_key(index: usize) -> String {
    format!("mp/{index}")
}

fn new_key(crash: usize) -> String {
    format!("new/{crash:04}")
}

/// Starts the node over `dir` and waits until it is ready.
async fn start(dir: tempfile::TempDir) -> Server {
    let server = Server::start_in(dir, DRIVES, &[("CAIRN_SCANNER_INTERVAL_SECS", "3600")]);
    let address = server.endpoint.trim_start_matches("http://").to_owned();
    let deadline = Instant::now() + READY_TIMEOUT;
    while http_status(&address, "/minio/health/ready").await != Some(200) {
        assert!(Instant::now() < deadline, "the node was not ready within {READY_TIMEOUT:?}; log:\n{}", server.log());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server
}

/// One operation in flight: its kind, when it started, when it ended.
type Running = JoinHandle<(&'static str, Instant, Instant, Result<(), String>)>;

/// Starts operation `kind` after `delay`; `upload` is the prepared upload for a complete.
fn launch(
    worker: &std::sync::Arc<Worker>,
    client: &aws_sdk_s3::Client,
    kind: &'static str,
    crash: usize,
    delay: Duration,
    random: &mut StdRng,
    upload: Option<Upload>,
) -> Running {
    let (worker, client) = (std::sync::Arc::clone(worker), client.clone());
    let size = PUT_BYTES[random.random_range(0..PUT_BYTES.len())].clone();
    let len = random.random_range(size);
    let shared = shared_key(random.random_range(0..SHARED_KEYS));
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        let start = Instant::now();
        let label = format!("crash {crash}: {kind}");
        let result = match kind {
            "put" => worker.put(&client, &new_key(crash), len, label).await,
            "overwrite" => worker.put(&client, &shared, len, label).await,
            "complete" => match upload {
                Some(upload) => worker.complete_upload(&client, upload, label).await,
                None => Err("no upload was prepared".to_owned()),
            },
            _ => {
                // The previous crash's new key, which exists unless that PUT failed.
                let key = if crash > 0 { new_key(crash - 1) } else { shared };
                worker.delete(&client, &key, label).await
            }
        };
        (kind, start, Instant::now(), result)
    })
}

/// Runs `crashes` kill-and-restart cycles from `seed`.
pub async fn run(seed: u64, crashes: usize, log_dir: &Path) -> CrashReport {
    let started = Instant::now();
    let mut report = CrashReport { seed, crashes, ..Default::default() };
    let dir = tempfile::Builder::new().prefix("cairn-crash-").tempdir_in("/var/tmp").expect("temp dir");
    let mut server = start(dir).await;
    let shared = Shared::new("crash");
    s3_client(&server.endpoint).create_bucket().bucket("crash").send().await.expect("create the bucket");
    let windows = calibrate(&server, &shared).await;
    eprintln!("chaos: crash windows (ms): {windows:?}");
    let mut random = StdRng::seed_from_u64(seed);
    for crash in 0..crashes {
        let client = s3_client(&server.endpoint);
        let worker = std::sync::Arc::new(Worker::single(&client, &shared, crash));
        let target = KINDS[random.random_range(0..KINDS.len())];
        let upload = prepare(&worker, &client, &mut random).await;
        // The target starts after a short random delay; the others anywhere around it.
        let target_delay = Duration::from_millis(random.random_range(0..=20));
        let kill_after = target_delay + windows[target].mul_f64(random.random_range(0.0..=WINDOW_FACTOR));
        let mut running = Vec::new();
        let mut upload = upload;
        for kind in KINDS {
            let delay = if kind == target { target_delay } else { kill_after.mul_f64(random.random_range(0.0..=1.2)) };
            let prepared = if kind == "complete" { upload.take() } else { None };
            running.push(launch(&worker, &client, kind, crash, delay, &mut random, prepared));
        }
        tokio::time::sleep(kill_after).await;
        let killed_at = Instant::now();
        let dir = server.stop();
        for task in running {
            let Ok(joined) = tokio::time::timeout(JOIN_LIMIT, task).await else {
                panic!("crash {crash}: an operation did not return within {JOIN_LIMIT:?} of the kill");
            };
            let (kind, start, end, _) = joined.expect("an operation panicked");
            if start <= killed_at && end >= killed_at {
                *report.in_flight.entry(kind).or_default() += 1;
            }
        }
        // A dead process commits nothing more: unanswered operations ended by the kill.
        shared.history().settle(crash, killed_at);
        server = start(dir).await;
        check_after_restart(&server, &shared, crash, &mut report).await;
        if (crash + 1) % 10 == 0 {
            eprintln!("chaos: {} crashes done", crash + 1);
        }
    }
    let (writes, deletes) = shared.history().acked();
    (report.acked_writes, report.acked_deletes) = (writes, deletes);
    report.elapsed = started.elapsed();
    if !report.passed() {
        let _ = std::fs::create_dir_all(log_dir);
        let _ = std::fs::write(log_dir.join("crash-node.log"), server.log());
    }
    report
}

/// A multipart upload with its parts uploaded, ready for a complete; `None` if it failed.
async fn prepare(worker: &Worker, client: &aws_sdk_s3::Client, random: &mut StdRng) -> Option<Upload> {
    let key = multipart_key(random.random_range(0..MULTIPART_KEYS));
    let last = random.random_range(KIB..=MIB);
    worker.prepare_upload(client, &key, last).await.ok()
}

/// The median duration of each kind of operation on a quiet node.
async fn calibrate(server: &Server, shared: &Shared) -> BTreeMap<&'static str, Duration> {
    let client = s3_client(&server.endpoint);
    let worker = std::sync::Arc::new(Worker::single(&client, shared, usize::MAX - 1));
    let mut random = StdRng::seed_from_u64(0);
    let mut samples: BTreeMap<&'static str, Vec<Duration>> = BTreeMap::new();
    for run in 0..CALIBRATION_RUNS {
        for kind in KINDS {
            let upload = if kind == "complete" { prepare(&worker, &client, &mut random).await } else { None };
            let task = launch(&worker, &client, kind, usize::MAX - 1 - run, Duration::ZERO, &mut random, upload);
            let (_, start, end, result) = task.await.expect("a calibration operation panicked");
            result.unwrap_or_else(|e| panic!("calibration {kind} failed on a quiet node: {e}"));
            samples.entry(kind).or_default().push(end - start);
        }
    }
    // Calibration writes are real writes: the history must know them (they are settled).
    shared.history().settle(usize::MAX - 1, Instant::now());
    samples
        .into_iter()
        .map(|(kind, mut times)| {
            times.sort();
            (kind, times[times.len() / 2].max(Duration::from_millis(2)))
        })
        .collect()
}

async fn check_after_restart(server: &Server, shared: &Shared, crash: usize, report: &mut CrashReport) {
    let mut orphans = 0;
    for d in 1..=DRIVES {
        let tmp = server.drive(d).join(".cairn.sys/tmp");
        let entries = std::fs::read_dir(&tmp).unwrap_or_else(|e| panic!("read {}: {e}", tmp.display()));
        for entry in entries.flatten() {
            report.staging_leftovers.push(format!("crash {crash}: {}", entry.path().display()));
        }
        orphans += orphan_data_dirs(&server.drive(d), "crash", "");
    }
    report.orphan_data_dirs = orphans;
    let client = s3_client(&server.endpoint);
    let keys = shared.history().keys();
    let failures = crate::workload::read_all(&client, shared, &keys, &format!("after crash {crash}")).await;
    assert!(failures.is_empty(), "crash {crash}: reads on the restarted node failed: {failures:?}\n{}", server.log());
    let verdicts = shared.history().check();
    for item in verdicts.lost.iter().chain(&verdicts.wrong) {
        eprintln!("chaos: VIOLATION after crash {crash}: {item}");
    }
    report.reads_checked += verdicts.reads_checked;
    report.lost.extend(verdicts.lost.into_iter().map(|v| format!("seed {} crash {crash}: {v}", report.seed)));
    report.wrong.extend(verdicts.wrong.into_iter().map(|v| format!("seed {} crash {crash}: {v}", report.seed)));
}

/// Data folders below the folder of `key` (or of the bucket, for "") on `drive` that no
/// version in their key's metadata names.
fn orphan_data_dirs(drive: &Path, bucket: &str, key: &str) -> usize {
    let dir = drive.join(bucket).join(key);
    let Ok(entries) = std::fs::read_dir(&dir) else { return 0 };
    let stored =
        if key.is_empty() { None } else { cairn_drive::inspect::object_meta(drive, bucket, key).ok().flatten() };
    let meta = stored.and_then(|bytes| ObjectMeta::decode(&bytes).ok());
    let named: Vec<String> = meta
        .map(|m| m.versions.iter().filter_map(|v| v.data_dir).map(|id| format!("{id}__XLDATA__")).collect())
        .unwrap_or_default();
    let mut orphans = 0;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let path: PathBuf = entry.path();
        if name.ends_with("__XLDATA__") {
            orphans += usize::from(!named.contains(&name));
        } else if path.is_dir() {
            let below = if key.is_empty() { name } else { format!("{key}/{name}") };
            orphans += orphan_data_dirs(drive, bucket, &below);
        }
    }
    orphans
}
