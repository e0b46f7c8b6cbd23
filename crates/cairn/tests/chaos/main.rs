//! Fault injection on real processes (issue 9, sections 2 and 3).
//!
//! - `fault_injection_rounds`: three `cairn server` nodes (two tmpfs drives each, one
//!   erasure set EC 3+3), each in its own network namespace on 192.0.2.0/24, under a
//!   load of concurrent aws-sdk-s3 clients; each round injects one fault (kill -9,
//!   SIGSTOP past a lock lease, symmetric or one-way partition, full drive, read-only
//!   drive, flipped bytes in shard files, wiped drive), heals back to full redundancy
//!   (timed, checked on every drive) and checks every read and listing against the
//!   history of acknowledged operations.
//! - `crash_consistency_loop`: one node, kill -9 at random moments during PUT, multipart
//!   complete, overwrite and delete, restart, check.
//!
//! Both print their seed; the same seed replays the same faults and requests. The
//! environment sets the profile (`scripts/chaos.sh` sets it for the long one):
//! `CHAOS_SEED`, `CHAOS_ROUNDS` (default 8: every scheduled fault kind once), `CHAOS_CRASHES`
//! (default 24), `CHAOS_FAULTS` (comma-separated kinds, default all),
//! `CHAOS_INCLUDE_KNOWN_FAILING=1` (also the kinds in `faults::KNOWN_FAILING`),
//! `CHAOS_REQUIRE_NAMESPACES=1` (fail instead of falling back to loopback),
//! `CHAOS_REPORT` (a file the Markdown report is appended to), `CHAOS_KEEP_LOGS=1`
//! (keep the node logs of a passing run too).

// The single-node harness is shared with `tests/it`; this target uses only part of it.
#[allow(dead_code)]
#[path = "../it/harness.rs"]
mod harness;

mod body;
mod crash;
mod deployment;
mod drives;
mod faults;
mod history;
mod netns;
mod redundancy;
mod report;
mod rounds;
mod workload;

use faults::{FaultKind, KNOWN_FAILING};
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// Rounds of the CI profile: one of each fault kind not known to fail.
const ROUNDS_DEFAULT: usize = 8;
/// Crashes of the CI profile.
const CRASHES_DEFAULT: usize = 24;
const NODES: usize = 3;
const DRIVES_PER_NODE: usize = 2;
const CLIENTS_DEFAULT: usize = 4;
/// Load before each fault and after its repair.
const WARM_UP: Duration = Duration::from_secs(3);
const COOL_DOWN: Duration = Duration::from_secs(3);
/// Held while a test runs, across test binaries: two runs would share 192.0.2.0/24.
const LOCK_FILE: &str = "/var/tmp/cairn-chaos.lock";
/// Where node logs go; a passing run removes its folder.
const LOG_PARENT: &str = "/var/tmp/cairn-chaos-logs";

/// The tests of this binary take turns.
static TURN: Mutex<()> = Mutex::new(());

/// Holds this binary's turn and the machine-wide lock file.
struct Turn {
    _local: MutexGuard<'static, ()>,
    _file: std::fs::File,
}

/// Waits for this test's turn, then removes what killed runs left behind.
fn take_turn() -> Turn {
    // A test that panicked released its turn as well: the poison carries no state.
    let local = TURN.lock().unwrap_or_else(PoisonError::into_inner);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(LOCK_FILE)
        .expect("open the chaos lock file");
    rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive).expect("lock the chaos lock file");
    netns::remove_leftovers();
    drives::remove_leftovers();
    Turn { _local: local, _file: file }
}

/// Runs `work` in a thread of its own, inside the network namespace at `namespace` if
/// there is one (a runtime it builds has its threads there too).
fn run_in<T: Send + 'static>(namespace: Option<String>, work: impl FnOnce() -> T + Send + 'static) -> T {
    let thread = std::thread::spawn(move || {
        if let Some(path) = namespace {
            netns::enter(&path).unwrap_or_else(|e| panic!("entering the clients' namespace: {e}"));
        }
        work()
    });
    thread.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("build a tokio runtime")
}

fn env_number<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(text) => text.trim().parse().unwrap_or_else(|_| panic!("{name}={text:?} is not a number")),
        Err(_) => default,
    }
}

fn env_flag(name: &str) -> bool {
    std::env::var(name).is_ok_and(|value| value == "1")
}

/// `CHAOS_SEED`, or a fresh one.
fn seed() -> u64 {
    env_number("CHAOS_SEED", rand::random::<u64>() >> 16)
}

fn log_dir(what: &str, seed: u64) -> PathBuf {
    PathBuf::from(LOG_PARENT).join(format!("{what}-seed-{seed}-{}", std::process::id()))
}

/// The fault kinds to schedule, after the environment's choice, the known-failing list
/// and what this machine can do.
fn fault_kinds(namespaces: bool, own_filesystems: bool) -> Vec<FaultKind> {
    let chosen: Vec<FaultKind> = match std::env::var("CHAOS_FAULTS") {
        Ok(list) => list
            .split(',')
            .map(|name| FaultKind::parse(name.trim()).unwrap_or_else(|| panic!("unknown fault kind {name:?}")))
            .collect(),
        Err(_) => FaultKind::ALL.to_vec(),
    };
    let include_known = env_flag("CHAOS_INCLUDE_KNOWN_FAILING");
    chosen
        .into_iter()
        .filter(|kind| {
            let known = KNOWN_FAILING.contains(kind) && !include_known;
            if known {
                eprintln!("chaos: SKIPPING {kind:?}: listed in faults::KNOWN_FAILING (a known server bug)");
            }
            let unavailable =
                (kind.needs_namespaces() && !namespaces) || (kind.needs_own_filesystem() && !own_filesystems);
            if unavailable {
                eprintln!("chaos: LOUD WARNING: SKIPPING {kind:?}: this machine cannot inject it");
            }
            !known && !unavailable
        })
        .collect()
}

#[test]
fn fault_injection_rounds() {
    let _turn = take_turn();
    let network = match netns::available().and_then(|()| netns::Network::create(NODES)) {
        Ok(network) => Some(network),
        Err(why) if env_flag("CHAOS_REQUIRE_NAMESPACES") => panic!("network namespaces are required: {why}"),
        Err(why) => {
            eprintln!(
                "chaos: LOUD WARNING: network namespaces are unavailable ({why}); falling back to 127.0.0.x \
                 WITHOUT the partition faults"
            );
            None
        }
    };
    let namespaces = network.is_some();
    let seed = seed();
    let rounds = env_number("CHAOS_ROUNDS", ROUNDS_DEFAULT);
    // Whether drives can be tmpfs mounts is known once they are made; mounting needs
    // the same privilege as namespaces, so the namespace probe stands for both.
    let kinds = fault_kinds(namespaces, namespaces);
    let profile = rounds::Profile {
        seed,
        rounds,
        node_count: NODES,
        drives_per_node: DRIVES_PER_NODE,
        clients: env_number("CHAOS_CLIENTS", CLIENTS_DEFAULT),
        kinds,
        warm_up: WARM_UP,
        cool_down: COOL_DOWN,
        namespaces,
        log_dir: log_dir("rounds", seed),
    };
    eprintln!(
        "chaos: fault injection, seed {seed}, {rounds} rounds (replay: scripts/chaos.sh --seed {seed} --rounds \
         {rounds}); faults {:?}",
        profile.kinds
    );
    let client_namespace = network.as_ref().map(netns::Network::client_namespace_path);
    let report = {
        let profile = profile.clone();
        run_in(client_namespace, move || runtime().block_on(rounds::run(&profile, network)))
    };
    let text = report.markdown();
    eprintln!("chaos: fault injection report\n{text}");
    report::write_out(&format!("Fault injection, seed {seed}, {rounds} rounds"), &text);
    if report.passed() && !env_flag("CHAOS_KEEP_LOGS") {
        let _ = std::fs::remove_dir_all(&profile.log_dir);
    }
    assert!(
        report.passed(),
        "fault injection with seed {seed} failed: {} lost, {} wrong reads, {} failed rounds; node logs in {}",
        report.lost.len(),
        report.wrong.len(),
        report.round_failures.len(),
        profile.log_dir.display()
    );
}

#[test]
fn crash_consistency_loop() {
    let _turn = take_turn();
    let seed = seed();
    let crashes = env_number("CHAOS_CRASHES", CRASHES_DEFAULT);
    eprintln!("chaos: crash loop, seed {seed}, {crashes} crashes (replay: CHAOS_SEED={seed} CHAOS_CRASHES={crashes})");
    let logs = log_dir("crash", seed);
    let report = runtime().block_on(crash::run(seed, crashes, &logs));
    let text = report.markdown();
    eprintln!("chaos: crash consistency report\n{text}");
    report::write_out(&format!("Crash consistency, seed {seed}, {crashes} crashes"), &text);
    assert!(
        report.passed(),
        "crash loop with seed {seed} failed: {} lost, {} wrong, {} staging leftovers; log in {}",
        report.lost.len(),
        report.wrong.len(),
        report.staging_leftovers.len(),
        logs.display()
    );
}
