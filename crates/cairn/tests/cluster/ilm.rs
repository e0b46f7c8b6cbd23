//! Lifecycle rules applied by three scanning nodes: each object is expired exactly
//! once (one delete marker per key, and the nodes' counters add up to the number of
//! keys, with the work shared), and object lock wins over an expiring rule.
//! A lifecycle day is shortened to a few seconds (`CAIRN_TEST_LIFECYCLE_DAY_SECS`).

use crate::harness::{new_bucket, signed_request};
use crate::nodes::{Cluster, HEAL_STATUS_PATH, SCANNER_INTERVAL_ENV};
use crate::util::eventually;
use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketLifecycleConfiguration, BucketVersioningStatus, ExpirationStatus, LifecycleExpiration, LifecycleRule,
    LifecycleRuleFilter, NoncurrentVersionExpiration, ObjectLockMode, VersioningConfiguration,
};
use std::time::Duration;

/// The test's lifecycle day, in seconds.
const DAY_SECS: &str = "2";
const DAY_ENV: &str = "CAIRN_TEST_LIFECYCLE_DAY_SECS";
/// Bound on every key being expired.
const EXPIRY_TIMEOUT: Duration = Duration::from_secs(90);
/// Scan passes waited after the expiry, in which nothing more may happen.
const SETTLE: Duration = Duration::from_secs(6);
const EXPIRING_KEYS: usize = 30;
const KEPT_KEYS: usize = 5;

async fn start() -> Cluster {
    Cluster::start_with(3, &[(SCANNER_INTERVAL_ENV, "1"), (DAY_ENV, DAY_SECS)]).await
}

async fn enable_versioning(client: &Client, bucket: &str) {
    let enabled = VersioningConfiguration::builder().status(BucketVersioningStatus::Enabled).build();
    client.put_bucket_versioning().bucket(bucket).versioning_configuration(enabled).send().await.expect("enable");
}

async fn put_rule(client: &Client, bucket: &str, rule: LifecycleRule) {
    let configuration = BucketLifecycleConfiguration::builder().rules(rule).build().expect("configuration");
    let request = client.put_bucket_lifecycle_configuration().bucket(bucket).lifecycle_configuration(configuration);
    request.send().await.expect("put lifecycle");
}

fn expire_after_a_day(prefix: &str) -> LifecycleRule {
    LifecycleRule::builder()
        .id("expire")
        .status(ExpirationStatus::Enabled)
        .filter(LifecycleRuleFilter::builder().prefix(prefix).build())
        .expiration(LifecycleExpiration::builder().days(1).build())
        .build()
        .expect("rule")
}

/// (versions, delete markers) per key under `prefix`, keys in order.
async fn versions_of(client: &Client, bucket: &str, prefix: &str) -> Vec<(String, usize, usize)> {
    let listed = client.list_object_versions().bucket(bucket).prefix(prefix).send().await.expect("list versions");
    assert!(!listed.is_truncated().unwrap_or(false), "one page holds the test's versions");
    let mut keys: std::collections::BTreeMap<String, (usize, usize)> = Default::default();
    for version in listed.versions() {
        keys.entry(version.key().unwrap_or_default().to_owned()).or_default().0 += 1;
    }
    for marker in listed.delete_markers() {
        keys.entry(marker.key().unwrap_or_default().to_owned()).or_default().1 += 1;
    }
    keys.into_iter().map(|(key, (versions, markers))| (key, versions, markers)).collect()
}

/// Node `n`'s lifecycle counter `field` (from its scanner report).
async fn ilm_counter(cluster: &Cluster, n: usize, field: &str) -> u64 {
    let endpoint = cluster.endpoint(n);
    let (status, body) = tokio::task::spawn_blocking(move || signed_request(&endpoint, "GET", HEAL_STATUS_PATH, b""))
        .await
        .expect("request");
    assert_eq!(status, 200, "node {n}'s scanner report");
    let report: serde_json::Value = serde_json::from_slice(&body).expect("json");
    report["ilm"][field].as_u64().unwrap_or_else(|| panic!("no ilm.{field} in {report}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rule_expires_each_object_exactly_once_with_three_nodes_scanning() {
    let cluster = start().await;
    let client = cluster.client(1);
    let bucket = new_bucket(&client, "ilm").await;
    enable_versioning(&client, &bucket).await;
    let keys = (0..EXPIRING_KEYS).map(|n| format!("tmp/{n:02}")).chain((0..KEPT_KEYS).map(|n| format!("keep/{n}")));
    for key in keys {
        client.put_object().bucket(&bucket).key(key).body(ByteStream::from_static(b"data")).send().await.expect("put");
    }
    put_rule(&client, &bucket, expire_after_a_day("tmp/")).await;

    let all_expired = eventually(EXPIRY_TIMEOUT, || async {
        let keys = versions_of(&client, &bucket, "tmp/").await;
        keys.len() == EXPIRING_KEYS && keys.iter().all(|(_, _, markers)| *markers > 0)
    })
    .await;
    assert!(all_expired, "not every key expired: {:?}{}", versions_of(&client, &bucket, "tmp/").await, cluster.logs());
    tokio::time::sleep(SETTLE).await;

    for (key, versions, markers) in versions_of(&client, &bucket, "tmp/").await {
        assert_eq!((versions, markers), (1, 1), "{key}: its data version kept, one delete marker added");
    }
    for (key, versions, markers) in versions_of(&client, &bucket, "keep/").await {
        assert_eq!((versions, markers), (1, 0), "{key} is outside the rule's prefix");
    }
    let mut per_node = Vec::new();
    for n in 1..=3 {
        per_node.push(ilm_counter(&cluster, n, "objects_expired").await);
    }
    assert_eq!(per_node.iter().sum::<u64>(), EXPIRING_KEYS as u64, "expiries counted per node: {per_node:?}");
    assert!(per_node.iter().filter(|&&n| n > 0).count() >= 2, "the nodes share the keys: {per_node:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_locked_version_survives_an_expiring_rule() {
    let cluster = start().await;
    let client = cluster.client(1);
    let bucket = format!("ilm-locked-{}", uuid::Uuid::new_v4().simple());
    let create = client.create_bucket().bucket(&bucket).object_lock_enabled_for_bucket(true);
    create.send().await.expect("create a bucket with object lock");
    let until = aws_smithy_types::DateTime::from_secs(
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs() as i64 + 3600,
    );
    let put = client
        .put_object()
        .bucket(&bucket)
        .key("contract.pdf")
        .body(ByteStream::from_static(b"signed contract"))
        .object_lock_mode(ObjectLockMode::Compliance)
        .object_lock_retain_until_date(until)
        .send()
        .await
        .expect("put a locked version");
    let version = put.version_id().expect("a version id").to_owned();
    let rule = LifecycleRule::builder()
        .id("expire-everything")
        .status(ExpirationStatus::Enabled)
        .filter(LifecycleRuleFilter::builder().prefix("").build())
        .expiration(LifecycleExpiration::builder().days(1).build())
        .noncurrent_version_expiration(NoncurrentVersionExpiration::builder().noncurrent_days(1).build())
        .build()
        .expect("rule");
    put_rule(&client, &bucket, rule).await;

    // Expiry hides the locked version behind a delete marker, then the noncurrent rule
    // tries to remove it and is refused, pass after pass.
    let refused = eventually(EXPIRY_TIMEOUT, || async {
        let mut kept = 0;
        for n in 1..=3 {
            kept += ilm_counter(&cluster, n, "kept_by_lock").await;
        }
        kept >= 2
    })
    .await;
    assert!(refused, "the rule never tried to remove the locked version{}", cluster.logs());
    assert_eq!(versions_of(&client, &bucket, "").await, vec![("contract.pdf".to_owned(), 1, 1)]);
    let got = client.get_object().bucket(&bucket).key("contract.pdf").version_id(&version).send().await;
    let body = got.expect("the locked version reads by id").body.collect().await.expect("body").into_bytes();
    assert_eq!(body.as_ref(), b"signed contract");
}
