//! Running fuzz cases against a real server: several at a time, each on its own
//! connection, with the server's health, process and drives checked as they go.

use crate::harness::Server;
use crate::raw::{Case, Outcome, RawRequest, body_of, case, exchange};
use proptest::strategy::{Strategy, ValueTree};
use std::collections::BTreeMap;
use std::path::Path;

/// Requests in flight at once.
const PARALLEL_REQUESTS: usize = 8;
/// Peak resident memory the server may reach over a fuzz run. The requests are at
/// most a few hundred KiB; a server near this holds what hostile input told it to.
const SERVER_RESIDENT_BYTES_MAX: u64 = 1 << 30;
/// How often a long run signs its seeds again (well within SigV4's and node
/// tokens' 15 minutes).
const SEEDS_REFRESH: std::time::Duration = std::time::Duration::from_secs(300);
/// How many hung or failing requests a failure message shows.
const SHOWN_MAX: usize = 5;

/// What a fuzz run saw.
#[derive(Debug, Default)]
pub struct Tally {
    pub cases: usize,
    /// Responses by status.
    pub statuses: BTreeMap<u16, usize>,
    pub closed: usize,
    /// Requests answered 500, with the start of the answer.
    pub internal_errors: Vec<String>,
    /// Requests that neither got an answer nor a close.
    pub hung: Vec<String>,
}

/// Runs `cases` fuzz cases built from `seeds` against `server`; fails on a hang, a
/// 500, a dead or unhealthy server, a panic in its log, or runaway memory.
pub fn fuzz_server(name: &str, server: &Server, make_seeds: &dyn Fn() -> Vec<RawRequest>, cases: u32) -> Tally {
    let address = server.endpoint.trim_start_matches("http://").to_owned();
    let (mut runner, seed) = cairn_fuzz::runner();
    let strategy = case();
    let started = std::time::Instant::now();
    let mut tally = Tally::default();
    let mut remaining = cases as usize;
    let mut seeds = make_seeds();
    let mut seeds_made = std::time::Instant::now();
    while remaining > 0 {
        // Signatures and tokens expire after 15 minutes: long runs sign afresh.
        if seeds_made.elapsed() > SEEDS_REFRESH {
            seeds = make_seeds();
            seeds_made = std::time::Instant::now();
        }
        let batch: Vec<Case> = (0..remaining.min(PARALLEL_REQUESTS))
            .map(|_| strategy.new_tree(&mut runner).expect("a case").current())
            .collect();
        remaining -= batch.len();
        let requests: Vec<Vec<u8>> = batch.iter().map(|case| case.apply(&seeds, &address)).collect();
        let outcomes: Vec<Outcome> = std::thread::scope(|scope| {
            let handles: Vec<_> = requests.iter().map(|bytes| scope.spawn(|| exchange(&address, bytes))).collect();
            handles.into_iter().map(|h| h.join().expect("exchange thread")).collect()
        });
        for (bytes, outcome) in requests.iter().zip(outcomes) {
            tally.cases += 1;
            let shown = || escaped(&bytes[..bytes.len().min(2048)]);
            match outcome {
                Outcome::Answered(status, response, _client_closed) => {
                    *tally.statuses.entry(status).or_default() += 1;
                    // Every 500 is the server's fault, a body the client cut short
                    // included (S3 answers that 400 IncompleteBody, and so does Cairn).
                    if status == 500 {
                        tally.internal_errors.push(format!("{}\n=> {}", shown(), body_of(&response)));
                    }
                }
                Outcome::Closed => tally.closed += 1,
                Outcome::Hung => tally.hung.push(shown()),
            }
        }
        assert_alive(server, &address, &requests);
    }
    let resident = peak_resident_bytes(server);
    eprintln!(
        "fuzz {name}: {} requests in {:.1} s, seed {seed}; statuses {:?}, closed without answer {}, server peak resident {} MiB",
        tally.cases,
        started.elapsed().as_secs_f64(),
        tally.statuses,
        tally.closed,
        resident >> 20
    );
    assert!(tally.hung.is_empty(), "{} requests hung the server, e.g.:\n{}", tally.hung.len(), shown(&tally.hung));
    assert!(
        tally.internal_errors.is_empty(),
        "{} requests got 500 Internal Error, e.g.:\n{}\nserver log (internal errors and warnings):\n{}",
        tally.internal_errors.len(),
        shown(&tally.internal_errors),
        server
            .log()
            .lines()
            .filter(|l| l.contains("Internal") || l.contains("status=500") || l.contains("WARN"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(resident < SERVER_RESIDENT_BYTES_MAX, "the server's resident memory peaked at {resident} bytes");
    tally
}

/// Bytes as text with anything but printable ASCII escaped, one header per line.
fn escaped(bytes: &[u8]) -> String {
    bytes.escape_ascii().to_string().replace("\\r\\n", "\r\n")
}

fn shown(items: &[String]) -> String {
    items.iter().take(SHOWN_MAX).cloned().collect::<Vec<_>>().join("\n---\n")
}

/// Fails unless the server process runs, answers its liveness probe, and logged no panic.
fn assert_alive(server: &Server, address: &str, last_batch: &[Vec<u8>]) {
    let batch = || last_batch.iter().map(|b| escaped(b)).collect::<Vec<_>>().join("\n---\n");
    let state = process_status(server, "State:").unwrap_or_else(|| "gone".into());
    assert!(
        !state.starts_with('Z') && state != "gone",
        "the server died ({state}) after:\n{}\nlog:\n{}",
        batch(),
        server.log()
    );
    let probe = RawRequest { method: "GET".into(), target: "/minio/health/live".into(), headers: vec![], body: vec![] };
    let answer = exchange(address, &probe.bytes(address));
    let status = match &answer {
        Outcome::Answered(status, _, _) => Some(*status),
        _ => None,
    };
    assert_eq!(status, Some(200), "the server stopped answering ({answer:?}) after:\n{}", batch());
    let log = server.log();
    assert!(!log.contains("panicked"), "the server panicked after:\n{}\nlog:\n{log}", batch());
}

/// A field of `/proc/<pid>/status`, without its name.
fn process_status(server: &Server, field: &str) -> Option<String> {
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.pid())).ok()?;
    status.lines().find_map(|line| line.strip_prefix(field)).map(|v| v.trim().to_owned())
}

/// The server's peak resident set (`VmHWM`), in bytes.
fn peak_resident_bytes(server: &Server) -> u64 {
    let text = process_status(server, "VmHWM:").expect("the server's /proc status");
    text.trim_end_matches("kB").trim().parse::<u64>().expect("VmHWM in kB") * 1024
}

/// Fails if anything but the drives and the log appeared in the server's folder.
pub fn assert_folder_contained(server: &Server) {
    for entry in std::fs::read_dir(server.dir.path()).expect("server folder").flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let is_drive = (1..=server.drive_count).any(|n| name == format!("d{n}"));
        assert!(is_drive || name == "server.log", "something escaped the drives: {name}");
    }
}

/// [`assert_folder_contained`], and each drive holds only its system volume (with
/// its format) and buckets.
pub fn assert_drives_contained(server: &Server) {
    assert_folder_contained(server);
    for drive in 1..=server.drive_count {
        let root = server.drive(drive);
        for entry in std::fs::read_dir(&root).expect("drive").flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let bucket_like =
                name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
            let is_bucket = entry.path().is_dir() && bucket_like && !name.starts_with('.');
            assert!(name == ".cairn.sys" || is_bucket, "drive {drive} holds {name:?}");
        }
        assert!(Path::new(&root).join(".cairn.sys/format.json").is_file(), "drive {drive} lost its format");
    }
}

/// The status of a request sent as is (for the checks around a run).
pub fn send(address: &str, request: &RawRequest) -> Option<u16> {
    match exchange(address, &request.bytes(address)) {
        Outcome::Answered(status, _, _) => Some(status),
        _ => None,
    }
}
