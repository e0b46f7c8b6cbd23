//! Killing a node under load loses no acknowledged write; the node, once back, is
//! refilled with what it missed; and then any other node can be lost instead.

use crate::harness::new_bucket;
use crate::nodes::{Cluster, SCANNER_INTERVAL_ENV};
use crate::util::{ObjectSpec, eventually, first, incomplete_on_drive, read_md5, verify_objects};
use crate::workload::{Load, Outcome};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Writes in the whole run: about 130 MiB of mixed objects.
const WRITES: usize = 600;
/// Node 3 is killed once this many writes finished, while the writers keep going.
const KILL_AFTER_WRITES: usize = 480;
/// At least this many writes must start after the kill, or the run did not test writes
/// to a degraded cluster.
const WRITES_WHILE_DOWN_MIN: usize = 80;
/// Bound on all the writes.
const WRITES_TIMEOUT: Duration = Duration::from_secs(300);
/// Bound on the restarted node getting every object it missed.
const HEAL_TIMEOUT: Duration = Duration::from_secs(120);
/// Bound on a node noticing that a peer's drive went or came back.
const NOTICE_TIMEOUT: Duration = Duration::from_secs(30);
/// The scanner's period, pushed past the test: a returning node is refilled without waiting for a scan.
const SCANNER_INTERVAL_SECS: &str = "3600";

/// The writes the store acknowledged. A write may fail only if it was in flight while
/// node 3 was being killed; such a write must then be absent or whole, never partial.
struct Acknowledged {
    objects: BTreeMap<String, ObjectSpec>,
    excused: Vec<Outcome>,
    written_while_down: usize,
}

fn sort_outcomes(outcomes: Vec<Outcome>, kill_started: Instant, kill_finished: Instant) -> Acknowledged {
    let mut acknowledged = Acknowledged { objects: BTreeMap::new(), excused: Vec::new(), written_while_down: 0 };
    for outcome in outcomes {
        let in_flight_at_kill = outcome.started <= kill_finished && outcome.finished >= kill_started;
        match &outcome.error {
            None => {
                if outcome.started > kill_finished {
                    acknowledged.written_while_down += 1;
                }
                acknowledged.objects.insert(outcome.key, outcome.spec);
            }
            Some(error) if in_flight_at_kill => {
                eprintln!("excused: {} was in flight when node 3 was killed: {error}", outcome.key);
                acknowledged.excused.push(outcome);
            }
            Some(error) => {
                let when = if outcome.started > kill_finished { "after" } else { "before" };
                panic!("{} failed, started {when} node 3 was killed: {error}", outcome.key);
            }
        }
    }
    acknowledged
}

#[tokio::test(flavor = "multi_thread")]
async fn failover_and_heal() {
    let mut cluster = Cluster::start_with(3, &[(SCANNER_INTERVAL_ENV, SCANNER_INTERVAL_SECS)]).await;
    let client1 = cluster.client(1);
    let bucket = new_bucket(&client1, "failover").await;

    let load = Load::start(&client1, &bucket, "load", WRITES);
    load.wait_finished(KILL_AFTER_WRITES, WRITES_TIMEOUT).await;
    let kill_started = Instant::now();
    cluster.stop(3);
    let kill_finished = Instant::now();
    let acknowledged = sort_outcomes(load.finish(WRITES_TIMEOUT).await, kill_started, kill_finished);
    assert!(
        acknowledged.written_while_down >= WRITES_WHILE_DOWN_MIN,
        "only {} writes started after the kill",
        acknowledged.written_while_down
    );
    let objects = acknowledged.objects;

    verify_objects(&client1, &bucket, &objects, "node 1 with node 3 down").await;
    verify_objects(&cluster.client(2), &bucket, &objects, "node 2 with node 3 down").await;
    for outcome in &acknowledged.excused {
        match read_md5(&client1, &bucket, &outcome.key).await {
            Ok(None) => {}
            Ok(Some(md5)) => assert_eq!(md5, outcome.spec.md5, "{} failed and reads back altered", outcome.key),
            Err(error) => panic!("{} failed and cannot be read or ruled out: {error}", outcome.key),
        }
    }
    let offline_seen = eventually(NOTICE_TIMEOUT, || async {
        cluster.heal_status(1).await.is_some_and(|status| status.drives_offline >= 1)
    })
    .await;
    assert!(offline_seen, "node 1 does not report node 3's drive offline:{}", cluster.heal_report().await);

    cluster.start_node(3);
    cluster.wait_healthy(3).await;
    let drive3 = cluster.drive(3);
    let refilled =
        eventually(HEAL_TIMEOUT, || std::future::ready(incomplete_on_drive(&drive3, &bucket, &objects).is_empty()))
            .await;
    if !refilled {
        let missing = incomplete_on_drive(&drive3, &bucket, &objects);
        panic!(
            "{} of {} objects are still missing or incomplete on node 3's drive {HEAL_TIMEOUT:?} after it came back \
             (first: {:?}); healing:{}{}",
            missing.len(),
            objects.len(),
            first(&missing),
            cluster.heal_report().await,
            cluster.logs()
        );
    }
    let healed_enough = eventually(NOTICE_TIMEOUT, || async {
        let mut healed = 0;
        for n in 1..=3 {
            let Some(status) = cluster.heal_status(n).await else { return false };
            if status.drives_offline != 0 {
                return false;
            }
            healed += status.objects_healed;
        }
        healed >= u64::try_from(acknowledged.written_while_down).expect("fits u64")
    })
    .await;
    assert!(
        healed_enough,
        "the nodes should report no drive offline and at least the {} objects written while node 3 was down as \
         healed:{}",
        acknowledged.written_while_down,
        cluster.heal_report().await
    );

    cluster.stop(1);
    verify_objects(&cluster.client(2), &bucket, &objects, "node 2 with node 1 down").await;
    verify_objects(&cluster.client(3), &bucket, &objects, "node 3 (healed) with node 1 down").await;
}
