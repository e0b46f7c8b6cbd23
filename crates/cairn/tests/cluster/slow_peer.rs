//! A slow peer is not a dead peer: a call that takes long because it moves a large body
//! (or because the peer's disk is slow) must not mark the peer offline; only its
//! liveness probe decides that. Every node here acknowledges each shard file it
//! receives 12 s late (longer than the 10 s a call used to get, whatever it moved), and
//! node 3 is then paused for less than the probe's threshold during an upload: large
//! uploads still succeed, every node's drive gets its shard, and no node is marked
//! offline.

use crate::harness::{new_bucket, random_bytes};
use crate::nodes::{Cluster, SCANNER_INTERVAL_ENV};
use crate::util::{MIB, ObjectSpec, first, incomplete_on_drive, try_put};
use std::collections::BTreeMap;
use std::time::Duration;

/// Tests only: how long a node waits before acknowledging a shard file (a slow disk).
const ACK_DELAY_ENV: &str = "CAIRN_TEST_RPC_ACK_DELAY_MS";
const ACK_DELAY_MS: &str = "12000";
/// Each object's shard is 12 MiB, which a peer may take 10 s + 12 s to acknowledge.
const OBJECT_BYTES: usize = 24 * MIB;
const OBJECTS: usize = 2;
/// Shorter than the liveness probe's threshold (no answer for 4 s).
const PAUSE: Duration = Duration::from_millis(1_500);
/// When, after an upload starts, node 3 is paused.
const PAUSE_AFTER: Duration = Duration::from_millis(500);
/// What a node logs when it marks a peer offline.
const OFFLINE_LOG: &str = "peer offline";

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_peer_keeps_its_drives_and_large_uploads_succeed() {
    let mut cluster = Cluster::start_with(3, &[(ACK_DELAY_ENV, ACK_DELAY_MS), (SCANNER_INTERVAL_ENV, "3600")]).await;
    let client = cluster.client(1);
    let bucket = new_bucket(&client, "slow").await;
    // Nodes may have seen each other offline while the cluster formed; only later lines count.
    let log_start: Vec<usize> = (1..=3).map(|n| cluster.log(n).len()).collect();

    let mut objects = BTreeMap::new();
    for index in 0..OBJECTS {
        let key = format!("slow/{index}");
        let body = random_bytes(OBJECT_BYTES);
        try_put(&client, &bucket, &key, &body).await.unwrap_or_else(|e| panic!("{e}{}", cluster.logs()));
        objects.insert(key, ObjectSpec::of(&body));
    }

    let key = "paused/0".to_owned();
    let body = random_bytes(OBJECT_BYTES);
    let upload = {
        let (client, bucket, key, body) = (client.clone(), bucket.clone(), key.clone(), body.clone());
        tokio::spawn(async move { try_put(&client, &bucket, &key, &body).await })
    };
    tokio::time::sleep(PAUSE_AFTER).await;
    cluster.sigstop(3);
    tokio::time::sleep(PAUSE).await;
    cluster.sigcont(3);
    let uploaded = upload.await.expect("upload task");
    uploaded.unwrap_or_else(|e| panic!("upload while node 3 paused briefly: {e}{}", cluster.logs()));
    objects.insert(key, ObjectSpec::of(&body));

    for n in 1..=3 {
        let missing = incomplete_on_drive(&cluster.drive(n), &bucket, &objects);
        assert!(missing.is_empty(), "node {n}'s drive lacks {:?}{}", first(&missing), cluster.logs());
        let later = &cluster.log(n)[log_start[n - 1]..];
        assert!(!later.contains(OFFLINE_LOG), "node {n} marked a slow peer offline:{}", cluster.logs());
    }
}
