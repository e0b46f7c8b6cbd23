//! Versions written, deleted and marked while a node is down reach its drive when it
//! returns (the scanner's pass at a peer's return), and every version reads back by id
//! through the others when another node is lost.

use crate::harness::{meta_on, new_bucket};
use crate::nodes::{Cluster, SCANNER_INTERVAL_ENV};
use crate::util::{KIB, eventually};
use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
use cairn_meta::ObjectMeta;
use std::time::Duration;

/// Bound on the returned node's drive holding the same versions as the others.
const HEAL_TIMEOUT: Duration = Duration::from_secs(60);
/// The scanner's period, pushed past the test: the return of a node starts a scan.
const SCANNER_INTERVAL_SECS: &str = "3600";
const KEY: &str = "contract.pdf";

fn body(size: usize, seed: usize) -> Vec<u8> {
    (0..size).map(|i| (i * 31 + seed * 7) as u8).collect()
}

async fn put(client: &Client, bucket: &str, data: &[u8]) -> String {
    let out = client.put_object().bucket(bucket).key(KEY).body(ByteStream::from(data.to_vec())).send().await;
    out.expect("put").version_id().expect("a version id").to_owned()
}

/// The versions drive `node` holds for the key: (id, time, delete marker), newest first.
fn held(cluster: &Cluster, node: usize, bucket: &str) -> Vec<(Option<uuid::Uuid>, i64, bool)> {
    let Some(bytes) = meta_on(&cluster.drive(node), bucket, KEY) else { return Vec::new() };
    let meta = ObjectMeta::decode(&bytes).expect("decodes");
    meta.versions.iter().map(|v| (v.version_id, v.mod_time_unix_nanos, v.delete_marker)).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn versions_changed_while_a_node_is_down_are_healed_onto_it() {
    let mut cluster = Cluster::start_with(3, &[(SCANNER_INTERVAL_ENV, SCANNER_INTERVAL_SECS)]).await;
    let client1 = cluster.client(1);
    let bucket = new_bucket(&client1, "versions").await;
    let enabled = VersioningConfiguration::builder().status(BucketVersioningStatus::Enabled).build();
    client1.put_bucket_versioning().bucket(&bucket).versioning_configuration(enabled).send().await.expect("enable");
    let v1 = put(&client1, &bucket, &body(KIB, 1)).await;
    let v2 = put(&client1, &bucket, &body(300 * KIB, 2)).await;

    cluster.stop(3);
    let v3 = put(&client1, &bucket, &body(600 * KIB, 3)).await;
    client1.delete_object().bucket(&bucket).key(KEY).version_id(&v1).send().await.expect("delete v1");
    let marker = client1.delete_object().bucket(&bucket).key(KEY).send().await.expect("marker");
    assert_eq!(marker.delete_marker(), Some(true));
    cluster.start_node(3);
    cluster.wait_healthy(3).await;

    let expected = held(&cluster, 1, &bucket);
    assert_eq!(expected.len(), 3, "v2, v3 and the marker: {expected:?}");
    let healed = eventually(HEAL_TIMEOUT, || std::future::ready(held(&cluster, 3, &bucket) == expected)).await;
    assert!(
        healed,
        "node 3's drive holds {:?}, the others {expected:?}:{}",
        held(&cluster, 3, &bucket),
        cluster.logs()
    );

    cluster.stop(1);
    let client2 = cluster.client(2);
    for (id, data) in [(&v2, body(300 * KIB, 2)), (&v3, body(600 * KIB, 3))] {
        let got = client2.get_object().bucket(&bucket).key(KEY).version_id(id).send().await.expect("get version");
        assert_eq!(got.body.collect().await.expect("body").into_bytes().as_ref(), data.as_slice(), "{id}");
    }
    let missing = client2.get_object().bucket(&bucket).key(KEY).version_id(&v1).send().await;
    assert!(missing.is_err(), "v1 was deleted for good");
    let latest = client2.get_object().bucket(&bucket).key(KEY).send().await;
    assert!(latest.is_err(), "the key reads as deleted");
    let listed = client2.list_object_versions().bucket(&bucket).send().await.expect("list versions");
    assert_eq!((listed.versions().len(), listed.delete_markers().len()), (2, 1));
}

/// Versioning enabled through one node applies at once to writes through another, which
/// had the bucket's (unversioned) state in memory: the change tells every peer to forget
/// its copy before it is acknowledged.
#[tokio::test(flavor = "multi_thread")]
async fn versioning_changed_through_one_node_applies_at_once_on_the_others() {
    let cluster = Cluster::start_with(3, &[(SCANNER_INTERVAL_ENV, SCANNER_INTERVAL_SECS)]).await;
    let (client1, client2) = (cluster.client(1), cluster.client(2));
    let bucket = new_bucket(&client1, "notice").await;
    // Node 2 reads (and keeps) the bucket's state: unversioned, so this is the null version.
    let first = client2.put_object().bucket(&bucket).key(KEY).body(ByteStream::from_static(b"one")).send().await;
    assert_eq!(first.expect("put").version_id(), None, "an unversioned bucket names no version");

    let enabled = VersioningConfiguration::builder().status(BucketVersioningStatus::Enabled).build();
    client1.put_bucket_versioning().bucket(&bucket).versioning_configuration(enabled).send().await.expect("enable");
    let second = put(&client2, &bucket, b"two").await;
    let third = put(&client2, &bucket, b"three").await;
    assert_ne!(second, third);
    let listed = client2.list_object_versions().bucket(&bucket).send().await.expect("list versions");
    let ids: Vec<&str> = listed.versions().iter().filter_map(|v| v.version_id()).collect();
    assert_eq!(ids, [third.as_str(), second.as_str(), "null"], "node 2 kept every version at once");

    let suspended = VersioningConfiguration::builder().status(BucketVersioningStatus::Suspended).build();
    client2.put_bucket_versioning().bucket(&bucket).versioning_configuration(suspended).send().await.expect("suspend");
    assert_eq!(put(&client1, &bucket, b"four").await, "null", "node 1 heard of the suspension");
}
