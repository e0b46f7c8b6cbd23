//! Listings stay complete while one node is down and right after it comes back,
//! before it has been refilled.

use crate::harness::new_bucket;
use crate::nodes::Cluster;
use crate::util::{KIB, assert_same_keys, list_keys, write_objects};

/// Objects written before the node goes down.
const OBJECTS: usize = 250;
/// Objects written while it is down: the returning node's drive lacks them.
const OBJECTS_WHILE_DOWN: usize = 20;
/// ListObjectsV2 page size: several pages, so that continuation is exercised.
const PAGE_SIZE: i32 = 100;

fn plan(prefix: &str, count: usize) -> Vec<(String, usize)> {
    (0..count).map(|i| (format!("{prefix}/{i:05}"), (i * 37) % (2 * KIB))).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_user_restarting_one_node_keeps_listing() {
    let mut cluster = Cluster::start(3).await;
    let client1 = cluster.client(1);
    let bucket = new_bucket(&client1, "listing").await;
    let mut expected: Vec<String> = write_objects(&client1, &bucket, plan("list", OBJECTS)).await.into_keys().collect();

    cluster.stop(3);
    for n in 1..=2 {
        let listed = list_keys(&cluster.client(n), &bucket, PAGE_SIZE).await;
        assert_same_keys(&listed, &expected, &format!("listing through node {n} with node 3 down"));
    }
    expected.extend(write_objects(&client1, &bucket, plan("while-down", OBJECTS_WHILE_DOWN)).await.into_keys());
    expected.sort();

    cluster.start_node(3);
    cluster.wait_healthy(3).await;
    for n in 1..=3 {
        let listed = list_keys(&cluster.client(n), &bucket, PAGE_SIZE).await;
        assert_same_keys(&listed, &expected, &format!("listing through node {n} after node 3 came back"));
    }
}
