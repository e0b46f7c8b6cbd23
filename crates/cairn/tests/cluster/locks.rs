//! Writers of one key through different nodes are serialized by the cluster's locks:
//! a reader through a third node sees one whole write at a time, never a mix, and
//! every node ends up agreeing on the last write.

use crate::harness::new_bucket;
use crate::nodes::Cluster;
use crate::util::{KIB, MIB, REQUEST_TIMEOUT, read_body, try_put};
use aws_sdk_s3::Client;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;

const KEY: &str = "contested/object.bin";
/// Writes per writer; writer A makes writes `1..=WRITES`, writer B the next `WRITES`.
const WRITES: u8 = 40;
/// A body's size: a base of several erasure blocks plus a step per write id, so that
/// the length names the write as well as the content does.
const BODY_BASE_BYTES: usize = 2 * MIB;
const BODY_STEP_BYTES: usize = 8 * KIB;
/// At least this many reads must return a body, or the reader raced nothing.
const READS_MIN: usize = 5;
/// Bound on the whole exchange.
const RUN_TIMEOUT: Duration = Duration::from_secs(300);
/// Pause between two reads, so that the reader does not starve the writers of CPU.
const READ_PAUSE: Duration = Duration::from_millis(20);

fn body_len(id: u8) -> usize {
    BODY_BASE_BYTES + usize::from(id) * BODY_STEP_BYTES
}

/// The body of write `id`: `body_len(id)` bytes, each equal to `id`.
fn body_of(id: u8) -> Vec<u8> {
    vec![id; body_len(id)]
}

/// The id of the write `body` is, or what is wrong with it.
fn write_id(body: &[u8]) -> Result<u8, String> {
    let id = *body.first().ok_or("an empty body")?;
    if !(1..=2 * WRITES).contains(&id) {
        return Err(format!("a body starting with byte {id}, which no write used"));
    }
    if body.len() != body_len(id) {
        return Err(format!("write {id} has {} bytes, not {}", body.len(), body_len(id)));
    }
    if let Some(offset) = body.iter().position(|byte| *byte != id) {
        return Err(format!("write {id} holds byte {} at offset {offset}: a mix of writes", body[offset]));
    }
    Ok(id)
}

/// Makes writes `ids` in turn; sets `first_done` once one succeeded.
async fn write_all(client: Client, bucket: String, ids: std::ops::RangeInclusive<u8>, first_done: Arc<AtomicBool>) {
    for id in ids {
        try_put(&client, &bucket, KEY, &body_of(id)).await.unwrap_or_else(|e| panic!("write {id}: {e}"));
        first_done.store(true, Ordering::SeqCst);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_writers_of_one_key_through_different_nodes_never_mix() {
    let cluster = Cluster::start(3).await;
    let bucket = new_bucket(&cluster.client(1), "contested").await;
    let first_done = Arc::new(AtomicBool::new(false));
    let deadline = Instant::now() + RUN_TIMEOUT;

    let mut writers = Vec::new();
    for (node, ids) in [(1, 1..=WRITES), (2, WRITES + 1..=2 * WRITES)] {
        let (client, bucket, first_done) = (cluster.client(node), bucket.clone(), Arc::clone(&first_done));
        writers.push(tokio::spawn(write_all(client, bucket, ids, first_done)));
    }

    let reader = cluster.client(3);
    let mut seen = Vec::new();
    // A writer that panics ends early; the reads go on until the other one is done too,
    // and joining the writers below reports the panic.
    while !writers.iter().all(JoinHandle::is_finished) {
        assert!(Instant::now() < deadline, "the writers did not finish within {RUN_TIMEOUT:?}");
        let written_before = first_done.load(Ordering::SeqCst);
        match read_body(&reader, &bucket, KEY).await {
            Ok(Some(body)) => seen.push(write_id(&body).unwrap_or_else(|e| panic!("a read through node 3 got {e}"))),
            Ok(None) => assert!(!written_before, "the key vanished after a write of it succeeded"),
            Err(error) => panic!("a read through node 3 during the writes failed: {error}"),
        }
        tokio::time::sleep(READ_PAUSE).await;
    }
    for writer in writers {
        let left = deadline.saturating_duration_since(Instant::now()).max(REQUEST_TIMEOUT);
        tokio::time::timeout(left, writer)
            .await
            .unwrap_or_else(|_| panic!("the writers did not finish within {RUN_TIMEOUT:?}"))
            .expect("a writer failed");
    }
    eprintln!("write ids seen by the reader: {seen:?}");
    assert!(seen.len() >= READS_MIN, "only {} reads returned a body while the writers ran", seen.len());

    // Each writer's writes are sequential, so the last to commit is one of the two last writes.
    let mut finals = Vec::new();
    for node in 1..=3 {
        let body = read_body(&cluster.client(node), &bucket, KEY)
            .await
            .unwrap_or_else(|e| panic!("final read through node {node}: {e}"))
            .unwrap_or_else(|| panic!("final read through node {node}: the key is missing"));
        finals.push(write_id(&body).unwrap_or_else(|e| panic!("final read through node {node} got {e}")));
    }
    assert!(finals.iter().all(|id| *id == finals[0]), "the nodes disagree on the last write: {finals:?}");
    assert!([WRITES, 2 * WRITES].contains(&finals[0]), "write {} outlived a later write of its writer", finals[0]);
}
