//! Changing the root credentials without downtime: every node is restarted in turn
//! with the new credentials and the old ones as `..._PREVIOUS` (so restarted and not yet
//! restarted nodes keep accepting each other), then once more without the old ones. An
//! application with its own access key keeps reading and writing throughout.

use crate::harness::{ACCESS_KEY, SECRET_KEY, client_for, get, new_bucket, put};
use crate::identities::{USER, USER_SECRET, create_user};
use crate::nodes::Cluster;
use crate::util::eventually;
use std::time::Duration;

const NEW_USER: &str = "cairn-new-admin";
const NEW_SECRET: &str = "cairn-new-admin-secret";
/// How long a new user may take to reach every node.
const PROPAGATION_TIMEOUT: Duration = Duration::from_secs(5);
/// Round trips the application makes while each node restarts.
const ROUND_TRIPS: usize = 5;

/// The application writes and reads back through a node other than `restarting`.
async fn application_works(cluster: &Cluster, restarting: usize, bucket: &str, round: &str) {
    let other = restarting % 3 + 1;
    let client = client_for(&cluster.endpoint(other), USER, USER_SECRET);
    for i in 0..ROUND_TRIPS {
        let key = format!("{round}/{i}");
        let body = format!("{round} {i}").into_bytes();
        put(&client, bucket, &key, &body).await;
        assert_eq!(get(&client, bucket, &key).await, body, "through node {other} while node {restarting} restarts");
    }
}

async fn restart_all(cluster: &mut Cluster, bucket: &str, phase: &str) {
    for n in 1..=3 {
        cluster.stop(n);
        application_works(cluster, n, bucket, &format!("{phase}-{n}-down")).await;
        cluster.start_node(n);
        cluster.wait_healthy(n).await;
        application_works(cluster, n, bucket, &format!("{phase}-{n}-up")).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn root_credentials_change_with_a_rolling_restart() {
    let mut cluster = Cluster::start(3).await;
    let bucket = new_bucket(&cluster.client(1), "rotation").await;
    create_user(&cluster.endpoint(1));
    let everywhere = eventually(PROPAGATION_TIMEOUT, || async {
        let mut all = true;
        for n in 1..=3 {
            all &= client_for(&cluster.endpoint(n), USER, USER_SECRET).list_buckets().send().await.is_ok();
        }
        all
    })
    .await;
    assert!(everywhere, "the application's user did not reach every node");
    application_works(&cluster, 3, &bucket, "before").await;

    cluster.set_env("CAIRN_ROOT_USER", NEW_USER);
    cluster.set_env("CAIRN_ROOT_PASSWORD", NEW_SECRET);
    cluster.set_env("CAIRN_ROOT_USER_PREVIOUS", ACCESS_KEY);
    cluster.set_env("CAIRN_ROOT_PASSWORD_PREVIOUS", SECRET_KEY);
    restart_all(&mut cluster, &bucket, "change").await;
    cluster.set_env("CAIRN_ROOT_USER_PREVIOUS", "");
    cluster.set_env("CAIRN_ROOT_PASSWORD_PREVIOUS", "");
    restart_all(&mut cluster, &bucket, "settle").await;

    for n in 1..=3 {
        let new_root = client_for(&cluster.endpoint(n), NEW_USER, NEW_SECRET);
        new_root.list_buckets().send().await.expect("the new root credentials work");
        let old_root = client_for(&cluster.endpoint(n), ACCESS_KEY, SECRET_KEY);
        assert!(old_root.list_buckets().send().await.is_err(), "node {n} still takes the old root credentials");
    }
    let client = client_for(&cluster.endpoint(1), USER, USER_SECRET);
    assert_eq!(get(&client, &bucket, "before/0").await, b"before 0");
}
