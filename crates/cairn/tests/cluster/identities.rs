//! Identities are cluster-wide: a user created through node 1 can sign requests on
//! node 3 about a second later, and users and policies survive a full restart.

use crate::harness::{SECRET_KEY, client_for, new_bucket, put, signed_request};
use crate::nodes::Cluster;
use crate::util::eventually;
use std::time::Duration;

/// How long a change may take to reach every node (nodes poll each second).
const PROPAGATION_TIMEOUT: Duration = Duration::from_secs(3);
pub(crate) const USER: &str = "crm-app";
pub(crate) const USER_SECRET: &str = "crm-app-secret-key";

/// Creates `USER` with the readwrite policy through `endpoint`, with MinIO's admin API.
pub(crate) fn create_user(endpoint: &str) {
    let body = serde_json::json!({ "secretKey": USER_SECRET, "status": "enabled" }).to_string();
    let sealed = cairn_madmin::encrypt_data(SECRET_KEY, body.as_bytes()).expect("encrypt");
    let (status, reply) =
        signed_request(endpoint, "PUT", &format!("/minio/admin/v3/add-user?accessKey={USER}"), &sealed);
    assert_eq!(status, 200, "add-user: {}", String::from_utf8_lossy(&reply));
    let path =
        format!("/minio/admin/v3/set-user-or-group-policy?isGroup=false&policyName=readwrite&userOrGroup={USER}");
    let (status, reply) = signed_request(endpoint, "PUT", &path, b"");
    assert_eq!(status, 200, "attach: {}", String::from_utf8_lossy(&reply));
}

async fn user_can_list(cluster: &Cluster, n: usize, bucket: &str) -> bool {
    let client = client_for(&cluster.endpoint(n), USER, USER_SECRET);
    client.list_objects_v2().bucket(bucket).send().await.is_ok()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_user_made_on_one_node_works_on_every_node_and_survives_a_restart() {
    let mut cluster = Cluster::start(3).await;
    let root = cluster.client(1);
    let bucket = new_bucket(&root, "identities").await;
    put(&root, &bucket, "object", b"data").await;
    assert!(!user_can_list(&cluster, 3, &bucket).await, "the user exists before it was made");

    create_user(&cluster.endpoint(1));
    let everywhere = eventually(PROPAGATION_TIMEOUT, || async {
        user_can_list(&cluster, 2, &bucket).await && user_can_list(&cluster, 3, &bucket).await
    })
    .await;
    assert!(everywhere, "the user does not work on nodes 2 and 3 within {PROPAGATION_TIMEOUT:?}");

    for n in 1..=3 {
        cluster.stop(n);
    }
    for n in 1..=3 {
        cluster.start_node(n);
    }
    cluster.wait_all_healthy().await;
    for n in 1..=3 {
        assert!(user_can_list(&cluster, n, &bucket).await, "node {n} lost the user after a full restart");
    }
}
