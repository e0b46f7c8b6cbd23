//! Node RPC is authenticated with the root credentials: a node started with other
//! credentials cannot read its peers' drives or take their locks, so it never joins,
//! and the others keep serving without it.

use crate::harness::{get, new_bucket, put};
use crate::nodes::Cluster;
use crate::util::eventually;
use std::time::Duration;

/// Bound on both sides logging the refusal.
const REFUSAL_TIMEOUT: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread")]
async fn a_node_with_other_credentials_is_refused() {
    let mut cluster = Cluster::start(3).await;
    let client = cluster.client(1);
    let bucket = new_bucket(&client, "creds").await;
    put(&client, &bucket, "before", b"kept").await;

    cluster.stop(3);
    cluster.set_env("CAIRN_ROOT_PASSWORD", "a-different-secret");
    cluster.start_node(3);
    let refused = eventually(REFUSAL_TIMEOUT, || {
        std::future::ready(cluster.log(1).contains("bad token") && cluster.log(3).contains("refused this node's token"))
    })
    .await;
    assert!(refused, "the impostor was not refused on both sides:{}", cluster.logs());
    assert_ne!(cluster.health(3, "cluster").await, Some(200), "the impostor joined");
    // The two genuine nodes hold a write quorum on their own.
    assert_eq!(cluster.health(1, "cluster").await, Some(200));
    put(&client, &bucket, "during", b"written without node 3").await;

    cluster.stop(3);
    cluster.set_env("CAIRN_ROOT_PASSWORD", crate::harness::SECRET_KEY);
    cluster.start_node(3);
    cluster.wait_healthy(3).await;
    let client3 = cluster.client(3);
    assert_eq!(get(&client3, &bucket, "before").await, b"kept");
    assert_eq!(get(&client3, &bucket, "during").await, b"written without node 3");
}
