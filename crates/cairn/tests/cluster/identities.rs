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

/// Adds user `name` through `endpoint`.
fn add_user(endpoint: &str, name: &str) {
    let body = serde_json::json!({ "secretKey": format!("{name}-secret"), "status": "enabled" }).to_string();
    let sealed = cairn_madmin::encrypt_data(SECRET_KEY, body.as_bytes()).expect("encrypt");
    let (status, reply) =
        signed_request(endpoint, "PUT", &format!("/minio/admin/v3/add-user?accessKey={name}"), &sealed);
    assert_eq!(status, 200, "add-user {name}: {}", String::from_utf8_lossy(&reply));
}

/// Changes to one group made through two nodes at once are all kept: each change starts
/// from the stored state under a cluster-wide lock.
#[tokio::test(flavor = "multi_thread")]
async fn concurrent_group_changes_through_two_nodes_are_all_kept() {
    const MEMBERS_PER_NODE: usize = 8;
    let cluster = Cluster::start(3).await;
    let names: Vec<Vec<String>> =
        (1..=2).map(|n| (0..MEMBERS_PER_NODE).map(|i| format!("member-{n}-{i}")).collect()).collect();
    for (n, members) in names.iter().enumerate() {
        for member in members {
            add_user(&cluster.endpoint(n + 1), member);
        }
    }
    let writers: Vec<_> = names
        .iter()
        .enumerate()
        .map(|(n, members)| {
            let (endpoint, members) = (cluster.endpoint(n + 1), members.clone());
            std::thread::spawn(move || {
                for member in members {
                    let body = serde_json::json!({ "group": "crm-team", "members": [member], "isRemove": false });
                    let path = "/minio/admin/v3/update-group-members";
                    let (status, reply) = signed_request(&endpoint, "PUT", path, body.to_string().as_bytes());
                    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&reply));
                }
            })
        })
        .collect();
    for writer in writers {
        writer.join().expect("writer");
    }
    let members = || {
        let (status, reply) = signed_request(&cluster.endpoint(3), "GET", "/minio/admin/v3/group?group=crm-team", b"");
        let info: serde_json::Value = serde_json::from_slice(&reply).unwrap_or_default();
        (status, info["members"].as_array().map_or(0, Vec::len), info)
    };
    let complete = eventually(PROPAGATION_TIMEOUT, || std::future::ready(members().1 == 2 * MEMBERS_PER_NODE)).await;
    assert!(complete, "group changes were lost: {:?}", members());
}

/// The anonymous status of GET `path` on node `n`.
fn anonymous_get(cluster: &Cluster, n: usize, path: &str) -> u16 {
    crate::harness::raw_request(&cluster.endpoint(n), "GET", path, b"").0
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bucket_policy_holds_on_every_node_when_its_put_returns() {
    let cluster = Cluster::start(3).await;
    let public_read = |bucket: &str| {
        serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": ["*"]},
            "Action": ["s3:GetObject"], "Resource": [format!("arn:aws:s3:::{bucket}/*")]}]})
        .to_string()
    };
    // As an init job does: buckets and their policies one after another, through
    // whichever node answers; each policy is checked on every node at once, with no
    // wait: the node that took the change told the others before it answered.
    for round in 0..6 {
        let client = cluster.client(round % 3 + 1);
        let bucket = new_bucket(&client, "public").await;
        put(&client, &bucket, "doc", b"public").await;
        client.put_bucket_policy().bucket(&bucket).policy(public_read(&bucket)).send().await.expect("policy");
        let path = format!("/{bucket}/doc");
        let statuses: Vec<u16> = (1..=3).map(|n| anonymous_get(&cluster, n, &path)).collect();
        assert_eq!(statuses, [200, 200, 200], "{bucket}: anonymous GET on nodes 1-3 right after the policy was set");
    }
}
