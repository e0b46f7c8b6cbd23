//! A writer that holds a key's lock and then stalls longer than a lease (its node
//! paused with SIGSTOP) loses the lock to another writer; when it resumes, its commit
//! is refused everywhere (fenced), so it can neither replace nor delete the other
//! writer's data, and it is not acknowledged. The same holds for a heal's commits.

use crate::harness::new_bucket;
use crate::heal_everywhere::heal_at;
use crate::nodes::{Cluster, SCANNER_INTERVAL_ENV};
use crate::util::{MIB, ObjectSpec, REQUEST_TIMEOUT, bounded, eventually, incomplete_on_drive, read_body, try_put};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use std::collections::BTreeMap;
use std::time::Duration;

/// Tests only: the lock lease of every node, shortened so that the test is quick.
const LEASE_ENV: &str = "CAIRN_TEST_LOCK_LEASE_MS";
const LEASE_MS: u64 = 3_000;
/// Tests only: how long node 1 holds a write lock before it commits; the test pauses it meanwhile.
const HOLD_ENV: &str = "CAIRN_TEST_LOCK_HOLD_MS";
const HOLD_MS: &str = "5000";
/// What node 1 logs when it starts holding a lock.
const HOLD_LOG: &str = "test hold: holding a write lock unused";
/// Bound on node 1 taking the lock after its PUT was sent.
const HOLD_SEEN_TIMEOUT: Duration = Duration::from_secs(30);
/// How long node 1 stays paused: several leases.
const PAUSE: Duration = Duration::from_millis(3 * LEASE_MS);
const KEY: &str = "fenced/object.bin";

/// Three nodes with short leases and no background scans during the test.
async fn start_with_short_leases() -> Cluster {
    let lease_ms = LEASE_MS.to_string();
    Cluster::start_with(3, &[(LEASE_ENV, lease_ms.as_str()), (SCANNER_INTERVAL_ENV, "3600")]).await
}

/// Restarts node 1 so that it holds every write lock it takes for `HOLD_MS` first.
async fn hold_locks_on_node1(cluster: &mut Cluster) {
    cluster.stop(1);
    cluster.set_env(HOLD_ENV, HOLD_MS);
    cluster.start_node(1);
    cluster.wait_healthy(1).await;
    cluster.set_env(HOLD_ENV, "");
}

/// Pauses node 1 (holding a lock) for [`PAUSE`], several leases, while writer B puts
/// `key` through node 2, which must be acknowledged; returns B's body.
async fn write_b_while_node1_is_paused(cluster: &mut Cluster, bucket: &str, key: &str) -> Vec<u8> {
    cluster.sigstop(1);
    let body_b = vec![b'B'; 2 * MIB + 7];
    let second = try_put(&cluster.client(2), bucket, key, &body_b).await;
    tokio::time::sleep(PAUSE.saturating_sub(Duration::from_millis(LEASE_MS))).await;
    cluster.sigcont(1);
    second.unwrap_or_else(|e| panic!("writer B failed while node 1 was paused: {e}{}", cluster.logs()));
    body_b
}

#[tokio::test(flavor = "multi_thread")]
async fn a_writer_paused_past_its_lease_cannot_commit_over_a_later_write() {
    let mut cluster = start_with_short_leases().await;
    let bucket = new_bucket(&cluster.client(2), "fenced").await;
    hold_locks_on_node1(&mut cluster).await;

    // Writer A, through node 1: its body is stored, it takes the lock, then node 1 pauses.
    let body_a = vec![b'A'; 3 * MIB];
    let first = {
        let (client, bucket, body) = (cluster.client(1), bucket.clone(), body_a.clone());
        tokio::spawn(async move { try_put(&client, &bucket, KEY, &body).await })
    };
    let holding = eventually(HOLD_SEEN_TIMEOUT, || std::future::ready(cluster.log(1).contains(HOLD_LOG))).await;
    assert!(holding, "node 1 never took the write lock:{}", cluster.logs());
    // Writer B, through node 2, gets the lock once A's leases expired, and is acknowledged.
    let body_b = write_b_while_node1_is_paused(&mut cluster, &bucket, KEY).await;

    let first = bounded(REQUEST_TIMEOUT * 2, "writer A", first).await.expect("writer A's task");
    assert!(first.is_err(), "writer A was acknowledged after it lost its lock to writer B{}", cluster.logs());

    // B's data is whole on the drives that took it, and every node reads B.
    let expected = BTreeMap::from([(KEY.to_owned(), ObjectSpec::of(&body_b))]);
    for n in [2, 3] {
        let missing = incomplete_on_drive(&cluster.drive(n), &bucket, &expected);
        assert!(missing.is_empty(), "writer B's data is gone from node {n}'s drive{}", cluster.logs());
    }
    for n in 1..=3 {
        let body = read_body(&cluster.client(n), &bucket, KEY).await.unwrap_or_else(|e| panic!("read via {n}: {e}"));
        let body = body.unwrap_or_else(|| panic!("the key is missing through node {n}"));
        assert!(body == body_b, "node {n} reads {} bytes starting {:?}, not writer B's", body.len(), body.first());
    }
    assert!(
        (1..=3).any(|n| cluster.log(n).contains("refused a drive call of a writer whose lock lease is gone")),
        "no node refused writer A's commit{}",
        cluster.logs()
    );
}

/// Regression: a heal's commits were not fenced. A heal through node 1 that takes the
/// key's lock and then stalls past its lease (node 1 paused) while writer B replaces the
/// object must not commit anything when it resumes: its lock is gone.
#[tokio::test(flavor = "multi_thread")]
async fn a_heal_paused_past_its_lease_does_not_commit() {
    const HEALED_KEY: &str = "fenced/healed.bin";
    let mut cluster = start_with_short_leases().await;
    let bucket = new_bucket(&cluster.client(2), "fenced-heal").await;
    let body_a = vec![b'A'; 3 * MIB];
    try_put(&cluster.client(2), &bucket, HEALED_KEY, &body_a).await.expect("first version");
    // Node 3's copy is lost: there is something to heal.
    std::fs::remove_dir_all(cluster.drive(3).join(&bucket).join(HEALED_KEY)).expect("remove node 3's copy");
    hold_locks_on_node1(&mut cluster).await;

    // The heal through node 1 takes the key's lock, then node 1 pauses past its lease.
    let heal = {
        let address = cluster.address(1);
        tokio::task::spawn_blocking(move || heal_at(&address))
    };
    let holding = eventually(HOLD_SEEN_TIMEOUT, || {
        std::future::ready(cluster.log(1).lines().any(|line| line.contains(HOLD_LOG) && line.contains(HEALED_KEY)))
    })
    .await;
    assert!(holding, "node 1's heal never took the key's lock:{}", cluster.logs());
    let body_b = write_b_while_node1_is_paused(&mut cluster, &bucket, HEALED_KEY).await;

    let summary = bounded(REQUEST_TIMEOUT * 2, "heal through node 1", heal).await.expect("heal task");
    let summary = summary.unwrap_or_else(|e| panic!("{e}{}", cluster.logs()));
    assert_eq!(summary["healed"].as_u64(), Some(0), "a heal that lost its lock committed: {summary}{}", cluster.logs());
    for n in 1..=3 {
        let body =
            read_body(&cluster.client(n), &bucket, HEALED_KEY).await.unwrap_or_else(|e| panic!("read via {n}: {e}"));
        assert!(body.as_deref() == Some(&body_b[..]), "node {n} does not read writer B's version");
    }
}

/// Regression: multipart part records were not fenced. An upload of part 1 through node
/// 1 that takes the part's lock and then stalls past its lease while another upload of
/// part 1 (through node 2) is recorded must not replace that record (and delete its
/// data) when it resumes.
#[tokio::test(flavor = "multi_thread")]
async fn a_part_upload_paused_past_its_lease_does_not_replace_a_later_one() {
    const PART_KEY: &str = "fenced/multipart.bin";
    let mut cluster = start_with_short_leases().await;
    let bucket = new_bucket(&cluster.client(2), "fenced-part").await;
    let created = cluster.client(2).create_multipart_upload().bucket(&bucket).key(PART_KEY).send().await;
    let upload_id = created.expect("create upload").upload_id().expect("an upload id").to_owned();
    hold_locks_on_node1(&mut cluster).await;

    let upload = |client: aws_sdk_s3::Client, body: Vec<u8>| {
        let (bucket, upload_id) = (bucket.clone(), upload_id.clone());
        async move {
            let request = client.upload_part().bucket(&bucket).key(PART_KEY).upload_id(&upload_id).part_number(1);
            let sent = request.body(ByteStream::from(body)).send().await;
            sent.map(|out| out.e_tag().unwrap_or_default().to_owned()).map_err(|e| format!("{e:?}"))
        }
    };
    let first = tokio::spawn(upload(cluster.client(1), vec![b'A'; 5 * MIB]));
    let holding = eventually(HOLD_SEEN_TIMEOUT, || {
        std::future::ready(cluster.log(1).lines().any(|line| line.contains(HOLD_LOG) && line.contains(&upload_id)))
    })
    .await;
    assert!(holding, "node 1 never took the part's lock:{}", cluster.logs());
    cluster.sigstop(1);
    let body_b = vec![b'B'; 5 * MIB + 3];
    let second =
        bounded(REQUEST_TIMEOUT, "part upload through node 2", upload(cluster.client(2), body_b.clone())).await;
    tokio::time::sleep(PAUSE.saturating_sub(Duration::from_millis(LEASE_MS))).await;
    cluster.sigcont(1);
    let etag_b =
        second.unwrap_or_else(|e| panic!("part upload B failed while node 1 was paused: {e}{}", cluster.logs()));

    let first = bounded(REQUEST_TIMEOUT * 2, "part upload A", first).await.expect("part upload A's task");
    assert!(first.is_err(), "part upload A was acknowledged after it lost its lock{}", cluster.logs());
    let part = CompletedPart::builder().part_number(1).e_tag(etag_b).build();
    let parts = CompletedMultipartUpload::builder().parts(part).build();
    let complete = cluster.client(2).complete_multipart_upload().bucket(&bucket).key(PART_KEY).upload_id(&upload_id);
    let completed = complete.multipart_upload(parts).send().await;
    completed.unwrap_or_else(|e| panic!("completing with part upload B's ETag: {e:?}{}", cluster.logs()));
    // A lock node 1 granted before its pause may stand until its lease runs out, and a
    // read that waits for it answers 503 SlowDown (seen in CI): clients retry those.
    let deadline = std::time::Instant::now() + Duration::from_millis(4 * LEASE_MS);
    let body = loop {
        match read_body(&cluster.client(2), &bucket, PART_KEY).await {
            Ok(body) => break body,
            Err(error) if error.contains("SlowDown") && std::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(error) => panic!("read: {error}{}", cluster.logs()),
        }
    };
    assert!(body.as_deref() == Some(&body_b[..]), "the object is not part upload B's body");
}
