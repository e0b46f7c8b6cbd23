//! Tags changed in place while a node is down: reads through any node see the change
//! at once (the newest metadata among the drives holding the version wins), and the
//! returned node's drive gets it (healing rewrites only its metadata, so its data
//! directory stays the same).

use crate::harness::{meta_on, new_bucket};
use crate::nodes::{Cluster, SCANNER_INTERVAL_ENV};
use crate::util::{KIB, eventually};
use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{Tag, Tagging};
use cairn_meta::ObjectMeta;
use std::time::Duration;

/// Bound on the returned node's drive getting the new tags.
const HEAL_TIMEOUT: Duration = Duration::from_secs(60);
/// The scanner's period, pushed past the test: the return of a node starts a scan.
const SCANNER_INTERVAL_SECS: &str = "3600";
/// One inline object and one with part files.
const OBJECTS: [(&str, usize); 2] = [("small", KIB), ("large", 300 * KIB)];

async fn tags(client: &Client, bucket: &str, key: &str) -> Vec<(String, String)> {
    let output = client.get_object_tagging().bucket(bucket).key(key).send().await.expect("get tags");
    output.tag_set().iter().map(|t| (t.key().to_owned(), t.value().to_owned())).collect()
}

fn tagging(value: &str) -> Tagging {
    let tag = Tag::builder().key("stage").value(value).build().expect("tag");
    Tagging::builder().tag_set(tag).build().expect("tagging")
}

/// The drive's copy of `key`: its tags header and data directory.
fn on_drive(cluster: &Cluster, node: usize, bucket: &str, key: &str) -> (Option<String>, Option<uuid::Uuid>) {
    let bytes = meta_on(&cluster.drive(node), bucket, key).expect("the drive holds the key");
    let meta = ObjectMeta::decode(&bytes).expect("decodes");
    let latest = meta.latest().expect("a version");
    (latest.headers.get("x-amz-tagging").cloned(), latest.data_dir)
}

#[tokio::test(flavor = "multi_thread")]
async fn tags_changed_while_a_node_is_down_reach_it_when_it_returns() {
    let mut cluster = Cluster::start_with(3, &[(SCANNER_INTERVAL_ENV, SCANNER_INTERVAL_SECS)]).await;
    let client1 = cluster.client(1);
    let bucket = new_bucket(&client1, "tags").await;
    let mut bodies = Vec::new();
    for (key, size) in OBJECTS {
        let body: Vec<u8> = (0..size).map(|i| (i * 7 % 251) as u8).collect();
        let put = client1.put_object().bucket(&bucket).key(key).tagging("stage=draft");
        put.body(ByteStream::from(body.clone())).send().await.expect("put");
        bodies.push(body);
    }
    let before: Vec<_> = OBJECTS.iter().map(|(key, _)| on_drive(&cluster, 3, &bucket, key)).collect();

    cluster.stop(3);
    for (key, _) in OBJECTS {
        let put = client1.put_object_tagging().bucket(&bucket).key(key).tagging(tagging("signed"));
        put.send().await.expect("tags change with a node down");
    }
    cluster.start_node(3);
    cluster.wait_healthy(3).await;

    let expected = vec![("stage".to_owned(), "signed".to_owned())];
    let client3 = cluster.client(3);
    for (key, _) in OBJECTS {
        assert_eq!(tags(&client3, &bucket, key).await, expected, "{key} through the returned node");
    }
    let healed = eventually(HEAL_TIMEOUT, || {
        let all =
            OBJECTS.iter().all(|(key, _)| on_drive(&cluster, 3, &bucket, key).0.as_deref() == Some("stage=signed"));
        std::future::ready(all)
    })
    .await;
    assert!(healed, "node 3's drive did not get the new tags within {HEAL_TIMEOUT:?}:{}", cluster.logs());
    for ((key, _), (_, data_dir)) in OBJECTS.iter().zip(&before) {
        assert_eq!(on_drive(&cluster, 3, &bucket, key).1, *data_dir, "{key}: only the metadata was rewritten");
    }

    cluster.stop(1);
    let client2 = cluster.client(2);
    for ((key, _), body) in OBJECTS.iter().zip(&bodies) {
        assert_eq!(tags(&client2, &bucket, key).await, expected, "{key} with node 1 down");
        let got = client2.get_object().bucket(&bucket).key(*key).send().await.expect("get");
        assert_eq!(got.body.collect().await.expect("body").into_bytes().as_ref(), body.as_slice());
    }
}
