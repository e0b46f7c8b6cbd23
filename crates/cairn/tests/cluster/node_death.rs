//! Writes in flight when a node dies: node 3 is killed (SIGKILL) under a load of writes
//! through nodes 1 and 2. Two of three drives remain, a write quorum, so no write may
//! fail for a client with the AWS SDKs' standard retry policy; writes from a client
//! that never retries are counted and reported. Every acknowledged write reads back.

use crate::harness::{new_bucket, random_bytes};
use crate::nodes::Cluster;
use crate::util::{KIB, MIB, ObjectSpec, first, node_client, try_put, verify_objects};
use aws_sdk_s3::Client;
use aws_sdk_s3::config::retry::RetryConfig;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Writers per node and per client kind.
const WRITERS: usize = 2;
/// Load before node 3 is killed, and after.
const BEFORE_KILL: Duration = Duration::from_secs(3);
const AFTER_KILL: Duration = Duration::from_secs(8);
/// Sizes cycled through: inline, one block, several blocks.
const SIZES: [usize; 3] = [4 * KIB, 300 * KIB, 2 * MIB + 3];

/// What one writer did.
#[derive(Default)]
struct Tally {
    written: BTreeMap<String, ObjectSpec>,
    failures: Vec<String>,
}

/// Writes distinct keys through `client` until `stop`.
async fn write_until(client: Client, bucket: String, prefix: String, stop: Arc<AtomicBool>) -> Tally {
    let mut tally = Tally::default();
    for index in 0.. {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let key = format!("{prefix}/{index:05}");
        let body = random_bytes(SIZES[index % SIZES.len()]);
        match try_put(&client, &bucket, &key, &body).await {
            Ok(()) => {
                tally.written.insert(key, ObjectSpec::of(&body));
            }
            Err(error) => tally.failures.push(error),
        }
    }
    tally
}

/// A client of node `n` with the SDK's standard retry policy (3 attempts, backoff).
fn retrying_client(cluster: &Cluster, n: usize) -> Client {
    let base = node_client(&cluster.endpoint(n));
    Client::from_conf(base.config().to_builder().retry_config(RetryConfig::standard()).build())
}

#[tokio::test(flavor = "multi_thread")]
async fn writes_in_flight_when_a_node_dies_complete() {
    let mut cluster = Cluster::start(3).await;
    let bucket = new_bucket(&cluster.client(1), "death").await;
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for n in [1, 2] {
        for writer in 0..WRITERS {
            for (kind, client) in [("retrying", retrying_client(&cluster, n)), ("single", cluster.client(n))] {
                let prefix = format!("{kind}/node{n}-{writer}");
                let task = tokio::spawn(write_until(client, bucket.clone(), prefix, Arc::clone(&stop)));
                writers.push((kind, task));
            }
        }
    }
    tokio::time::sleep(BEFORE_KILL).await;
    cluster.stop(3);
    tokio::time::sleep(AFTER_KILL).await;
    stop.store(true, Ordering::SeqCst);

    let mut written = BTreeMap::new();
    let mut failures: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    let mut attempts: BTreeMap<&str, usize> = BTreeMap::new();
    for (kind, task) in writers {
        let tally = task.await.expect("writer task");
        *attempts.entry(kind).or_default() += tally.written.len() + tally.failures.len();
        failures.entry(kind).or_default().extend(tally.failures);
        written.extend(tally.written);
    }
    let failed = |kind: &str| failures.get(kind).map_or(0, Vec::len);
    eprintln!(
        "writes while node 3 was killed: retrying client {} failed of {}, non-retrying client {} failed of {}: {:#?}",
        failed("retrying"),
        attempts.get("retrying").copied().unwrap_or(0),
        failed("single"),
        attempts.get("single").copied().unwrap_or(0),
        first(failures.get("single").map_or(&[][..], Vec::as_slice))
    );
    assert_eq!(
        failed("retrying"),
        0,
        "writes with a write quorum failed for a retrying client: {:#?}{}",
        first(&failures["retrying"]),
        cluster.logs()
    );
    verify_objects(&cluster.client(1), &bucket, &written, "node 1 with node 3 dead").await;
}
