//! The fault-injection run: rounds of load with one fault each, then healing back to full
//! redundancy and a check of everything the clients saw.
//!
//! A round: clients start; after a warm-up the round's fault is injected, held, and
//! repaired; the clients go on a little, then stop. The deployment must then report
//! write quorum on every node and get back to full redundancy through an on-demand heal
//! sent to a node other than the faulted one (timed). The round is settled (no request is
//! in flight any more), every key is read and listed once more, and the history checker
//! judges every read and listing of the round.

use crate::deployment::{Deployment, HealScan};
use crate::faults::{self, Fault, FaultKind};
use crate::history::Verdicts;
use crate::netns::Network;
use crate::redundancy;
use crate::report::Report;
use crate::workload::{self, Shared, Workload};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Time between a check of redundancy and the next heal, while not yet full.
const HEAL_RETRY_INTERVAL: Duration = Duration::from_secs(2);
/// A round whose deployment is not fully redundant this long after its load ended failed.
pub const HEAL_DEADLINE: Duration = Duration::from_secs(180);
/// How many failed requests per fault kind the report quotes.
const FAILURE_EXAMPLES: usize = 4;

/// What a run does; see `main.rs` for the defaults and the environment that sets them.
#[derive(Debug, Clone)]
pub struct Profile {
    pub seed: u64,
    pub rounds: usize,
    pub node_count: usize,
    pub drives_per_node: usize,
    pub clients: usize,
    pub kinds: Vec<FaultKind>,
    /// Load before the fault.
    pub warm_up: Duration,
    /// Load after the repair.
    pub cool_down: Duration,
    pub namespaces: bool,
    pub log_dir: PathBuf,
}

/// Runs the rounds of `profile` (in `network`'s namespaces, if any; the caller runs in
/// its clients' namespace); panics only on harness errors.
pub async fn run(profile: &Profile, network: Option<Network>) -> Report {
    let started = Instant::now();
    let mut report =
        Report { seed: profile.seed, rounds: profile.rounds, namespaces: profile.namespaces, ..Default::default() };
    let (nodes, per_node, logs) = (profile.node_count, profile.drives_per_node, profile.log_dir.clone());
    let mut deployment = Deployment::start(nodes, per_node, network, logs).await;
    let bucket = "chaos";
    deployment.client(1).create_bucket().bucket(bucket).send().await.expect("create the bucket");
    let shared = Shared::new(bucket);
    workload::write_cold_keys(&deployment.client(1), &shared).await;
    let schedule =
        faults::schedule(profile.seed, profile.rounds, &profile.kinds, profile.node_count, profile.drives_per_node);
    for (round, fault) in schedule.iter().enumerate() {
        eprintln!("chaos: round {}/{}: {}", round + 1, profile.rounds, fault.describe());
        *report.faults.entry(fault.kind).or_default() += 1;
        if let Err(failure) = run_round(profile, &mut deployment, &shared, round, fault, &mut report).await {
            let message = format!("seed {} round {round} ({}): {failure}", profile.seed, fault.describe());
            eprintln!("chaos: ROUND FAILED: {message}{}", deployment.logs());
            report.round_failures.push(message);
            recover(&mut deployment, fault).await;
        }
    }
    let (acked_writes, acked_deletes) = shared.history().acked();
    report.acked_writes = acked_writes;
    report.acked_deletes = acked_deletes;
    report.elapsed = started.elapsed();
    report
}

async fn run_round(
    profile: &Profile,
    deployment: &mut Deployment,
    shared: &Shared,
    round: usize,
    fault: &Fault,
    report: &mut Report,
) -> Result<(), String> {
    let clients: Vec<_> = (1..=deployment.node_count()).map(|n| deployment.client(n)).collect();
    deployment.mark_logs(&format!("round {round}: load starts"));
    let load = Workload::start(clients, shared, profile.seed, round, profile.clients);
    tokio::time::sleep(profile.warm_up).await;
    deployment.mark_logs(&format!("round {round}: inject {}", fault.describe()));
    let quiet_needed = fault.kind == FaultKind::DriveReadOnly;
    load.hold(quiet_needed);
    let injected = faults::inject(deployment, fault);
    load.hold(false);
    match &injected {
        Ok(what) => eprintln!("chaos:   {what}"),
        Err(error) => eprintln!("chaos:   could not inject: {error}"),
    }
    tokio::time::sleep(fault.hold).await;
    deployment.mark_logs(&format!("round {round}: repair {:?}", fault.kind));
    let repaired = faults::repair(deployment, fault).await;
    tokio::time::sleep(profile.cool_down).await;
    let stats = load.stop().await;
    count_failures(report, fault, &stats.failures);
    for (op, count) in stats.ops {
        *report.ops.entry(op).or_default() += count;
    }
    injected?;
    repaired?;

    deployment.wait_healthy().await?;
    let heal_started = Instant::now();
    let dangling = heal(deployment, fault, shared).await?;
    let took = heal_started.elapsed();
    if !dangling.is_empty() {
        eprintln!("chaos:   dangling copies left: {dangling:?}");
    }
    report.dangling.extend(dangling.into_iter().map(|item| format!("round {round} ({:?}): {item}", fault.kind)));
    eprintln!("chaos:   full redundancy after {:.1} s", took.as_secs_f64());
    report.heal_times.entry(fault.kind).or_default().push(took);

    shared.history().settle(round, Instant::now());
    let reader = deployment.client(1 + round % deployment.node_count());
    let read_failures =
        workload::read_all(&reader, shared, &workload::all_keys(), &format!("after round {round}")).await;
    let verdicts = shared.history().check();
    absorb(report, verdicts, profile.seed, round);
    if read_failures.is_empty() { Ok(()) } else { Err(format!("reads after healing failed: {read_failures:?}")) }
}

/// Heals through `fault.heal_node` until every drive holds every object whole; returns
/// the dangling copies left (see [`redundancy::Redundancy::dangling`]).
async fn heal(deployment: &Deployment, fault: &Fault, shared: &Shared) -> Result<Vec<String>, String> {
    let deadline = Instant::now() + HEAL_DEADLINE;
    let drives = deployment.drives.all();
    let check = || {
        let (drives, bucket) = (drives.clone(), shared.bucket.clone());
        tokio::task::spawn_blocking(move || redundancy::check(&drives, &bucket, true))
    };
    let mut last_heal = Ok(String::new());
    let mut healed = false;
    loop {
        let state = check().await.map_err(|e| format!("redundancy check: {e}"))?;
        // Dangling copies are removed by a heal's (or the scanner's) listing: when the
        // read path already restored everything, one heal still runs for them.
        if state.full() && (healed || state.dangling.is_empty()) {
            return Ok(state.dangling);
        }
        if state.full() {
            last_heal = deployment.heal(fault.heal_node, heal_scan(fault.kind)).await;
            healed = true;
            continue;
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "not back to full redundancy {HEAL_DEADLINE:?} after the load ended (heals via node {}, last: \
                 {last_heal:?}): {}",
                fault.heal_node,
                state.summary()
            ));
        }
        last_heal = deployment.heal(fault.heal_node, heal_scan(fault.kind)).await;
        healed = true;
        tokio::time::sleep(HEAL_RETRY_INTERVAL).await;
    }
}

/// The heal an operator runs after `kind`: flipped bytes in objects nobody reads are
/// found only by a deep scan (a normal heal trusts the metadata, which is intact).
fn heal_scan(kind: FaultKind) -> HealScan {
    if kind == FaultKind::BitFlip { HealScan::Deep } else { HealScan::Normal }
}

/// After a failed round: undo whatever is left of the fault, restart what is down, heal
/// through every node, so that the next round starts from a whole deployment.
async fn recover(deployment: &mut Deployment, fault: &Fault) {
    let repair_again = match fault.kind {
        FaultKind::Kill | FaultKind::DriveWipe | FaultKind::DriveReplace | FaultKind::BitFlip => false,
        FaultKind::Pause => deployment.is_paused(fault.node),
        _ => true,
    };
    if repair_again {
        let _ = faults::repair(deployment, fault).await;
    }
    for n in 1..=deployment.node_count() {
        if !deployment.is_running(n) || deployment.health(n, "live").await.is_none() {
            deployment.kill(n);
            deployment.start_node(n);
        }
    }
    if let Err(error) = deployment.wait_healthy().await {
        panic!("chaos: the deployment did not recover after a failed round: {error}{}", deployment.logs());
    }
    for n in 1..=deployment.node_count() {
        let _ = deployment.heal(n, HealScan::Deep).await;
    }
}

fn count_failures(report: &mut Report, fault: &Fault, failures: &[crate::workload::Failure]) {
    let failed = report.failed.entry(fault.kind).or_default();
    for failure in failures {
        if failure.node == fault.node {
            failed.faulted_node += 1;
        } else {
            failed.other_nodes += 1;
            if failure.is_server_error() {
                failed.other_nodes_5xx += 1;
            }
        }
    }
    // Failures through healthy nodes are the interesting ones: quote those first.
    let (others, faulted): (Vec<_>, Vec<_>) = failures.iter().partition(|f| f.node != fault.node);
    let examples = report.failure_examples.entry(fault.kind).or_default();
    for failure in others.into_iter().chain(faulted) {
        if examples.len() >= FAILURE_EXAMPLES {
            break;
        }
        examples.push(format!("{:?} via node {}: {}", failure.op, failure.node, failure.error));
    }
}

fn absorb(report: &mut Report, verdicts: Verdicts, seed: u64, round: usize) {
    let tag = |items: Vec<String>| items.into_iter().map(move |item| format!("seed {seed} round {round}: {item}"));
    for item in verdicts.lost.iter().chain(&verdicts.wrong) {
        eprintln!("chaos: VIOLATION: seed {seed} round {round}: {item}");
    }
    report.reads_checked += verdicts.reads_checked;
    report.listings_checked += verdicts.listings_checked;
    report.lost.extend(tag(verdicts.lost));
    report.wrong.extend(tag(verdicts.wrong));
    report.omissions.extend(tag(verdicts.omissions));
}
