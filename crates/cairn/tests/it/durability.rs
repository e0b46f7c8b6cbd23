//! Durability and consistency: concurrent writers never mix, data survives a
//! restart, a full drive gives a clear error and no half-written object.

use crate::harness::*;
use aws_sdk_s3::primitives::ByteStream;
use std::process::Command;

const MIB: usize = 1 << 20;

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_writers_of_one_key_never_mix() {
    let server = Server::start(4);
    let client = server.client();
    let bucket = new_bucket(&client, "race").await;
    let size = MIB + MIB / 2;
    put(&client, &bucket, "contended", &vec![0u8; size]).await;
    let mut writers = Vec::new();
    for writer in 1u8..=6 {
        let client = client.clone();
        let bucket = bucket.clone();
        writers.push(tokio::spawn(async move {
            for round in 0u8..4 {
                let fill = writer * 16 + round;
                put(&client, &bucket, "contended", &vec![fill; size]).await;
            }
        }));
    }
    let mut readers = Vec::new();
    for _ in 0..2 {
        let client = client.clone();
        let bucket = bucket.clone();
        readers.push(tokio::spawn(async move {
            for _ in 0..15 {
                let body = get(&client, &bucket, "contended").await;
                assert_eq!(body.len(), size);
                assert!(body.iter().all(|b| *b == body[0]), "a read mixed two versions");
            }
        }));
    }
    for task in writers.into_iter().chain(readers) {
        task.await.expect("task");
    }
    let last = get(&client, &bucket, "contended").await;
    assert!(last.iter().all(|b| *b == last[0]) && last[0] != 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn data_survives_a_restart() {
    let server = Server::start(4);
    let client = server.client();
    let bucket = new_bucket(&client, "restart").await;
    let small = random_bytes(1000);
    let large = random_bytes(2 * MIB + 1);
    put(&client, &bucket, "small", &small).await;
    put(&client, &bucket, "nested/large", &large).await;
    let dir = server.stop();
    let server = Server::start_in(dir, 4, &[]);
    let client = server.client();
    assert_eq!(get(&client, &bucket, "small").await, small);
    assert_eq!(get(&client, &bucket, "nested/large").await, large);
}

/// A small tmpfs mounted for a test; unmounted on drop, even when the test fails.
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    /// Mounts a tmpfs of `size` at `path`, or says why it cannot.
    fn mount(path: &std::path::Path, size: &str) -> Result<Tmpfs, String> {
        std::fs::create_dir_all(path).expect("mount point");
        let output = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(path)
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if output.status.success() {
            Ok(Tmpfs(path.to_owned()))
        } else {
            Err(format!("mount -t tmpfs failed: {}", String::from_utf8_lossy(&output.stderr).trim()))
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_drive_gives_a_clear_error_and_no_partial_object() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut mounts = Vec::new();
    for drive in 1..=4 {
        match Tmpfs::mount(&dir.path().join(format!("d{drive}")), "6m") {
            Ok(mount) => mounts.push(mount),
            Err(why) => return cannot_run(&format!("a full drive is simulated with a 6 MiB tmpfs: {why}")),
        }
    }
    let server = Server::start_in(dir, 4, &[]);
    let client = server.client();
    let bucket = new_bucket(&client, "full").await;
    put(&client, &bucket, "fits", &random_bytes(MIB)).await;
    // 20 MiB at EC 2+2 is 10 MiB per drive: more than a 6 MiB drive holds.
    let error = client
        .put_object()
        .bucket(&bucket)
        .key("too-big")
        .body(ByteStream::from(random_bytes(20 * MIB)))
        .send()
        .await
        .expect_err("drives are full");
    assert_eq!(error_status(&error), 507, "{error:?}");
    assert_eq!(error_code(&error), "XMinioStorageFull");
    let missing = client.head_object().bucket(&bucket).key("too-big").send().await.expect_err("no partial object");
    assert_eq!(error_status(&missing), 404);
    let staged: usize = (1..=4).map(|d| files_below(&server.drive(d).join(".cairn.sys/tmp")).len()).sum();
    assert_eq!(staged, 0, "the failed upload's staging was not cleaned up");
    // The space is free again: ordinary writes work.
    put(&client, &bucket, "after", &random_bytes(MIB)).await;
    // The server goes before its drives are unmounted.
    drop(server);
    drop(mounts);
}

/// A download in progress does not hold up an overwrite of the same key: the read
/// opened its shard files up front, and keeps reading the old version from them.
#[tokio::test(flavor = "multi_thread")]
async fn an_overwrite_does_not_wait_for_a_slow_download() {
    let server = Server::start(4);
    let client = server.client();
    let bucket = new_bucket(&client, "slow").await;
    let old = random_bytes(32 * MIB);
    put(&client, &bucket, "big", &old).await;
    // Headers received, body not read: the server's reader is stalled on back-pressure.
    let download = client.get_object().bucket(&bucket).key("big").send().await.expect("get");
    let new = random_bytes(MIB);
    let overwrite = tokio::time::timeout(std::time::Duration::from_secs(15), put(&client, &bucket, "big", &new)).await;
    assert!(overwrite.is_ok(), "the overwrite waited for the download's lock");
    let body = download.body.collect().await.expect("body").into_bytes();
    assert!(body[..] == old[..], "the download switched versions midway");
    assert_eq!(get(&client, &bucket, "big").await, new);
}

/// Parts of the many-part object below: 17 parts x 16 shards = 272 shard files, more
/// than a read holds open at once (256), so its read opens a second window of parts.
const MANY_PARTS: usize = 17;

/// Uploads `key` as `parts` random parts of 5 MiB and returns its bytes.
async fn put_many_parts(client: &aws_sdk_s3::Client, bucket: &str, key: &str, parts: usize) -> Vec<u8> {
    use crate::multipart::{completed, create_upload, upload_part};
    let upload_id = create_upload(client, bucket, key).await;
    let mut bytes = Vec::with_capacity(parts * 5 * MIB);
    let mut uploaded = Vec::new();
    for number in 1..=parts as i32 {
        let body = random_bytes(5 * MIB);
        uploaded.push((number, upload_part(client, bucket, key, &upload_id, number, &body).await));
        bytes.extend_from_slice(&body);
    }
    client
        .complete_multipart_upload()
        .bucket(bucket)
        .key(key)
        .upload_id(&upload_id)
        .multipart_upload(completed(&uploaded))
        .send()
        .await
        .expect("complete");
    bytes
}

/// Regression (issue 9): a download of an object with more shard files than a read
/// opens up front held the key's read lock until its last block, at the client's pace,
/// so an overwrite of the key waited 30 s and failed. The overwrite must go through at
/// once, and the download must return the complete old bytes or fail cleanly: never a
/// mix of the two versions.
#[tokio::test(flavor = "multi_thread")]
async fn an_overwrite_does_not_wait_for_a_slow_download_of_a_many_part_object() {
    let server = Server::start(16);
    let client = server.client();
    let bucket = new_bucket(&client, "slowparts").await;
    let old = put_many_parts(&client, &bucket, "many", MANY_PARTS).await;

    // The first chunk arrives, then the client stalls: the server's reader waits on back-pressure.
    let mut body = client.get_object().bucket(&bucket).key("many").send().await.expect("get").body;
    let mut received = body.next().await.expect("a first chunk").expect("first chunk").to_vec();
    let new = random_bytes(MIB);
    let overwrite = tokio::time::timeout(std::time::Duration::from_secs(15), put(&client, &bucket, "many", &new)).await;
    assert!(overwrite.is_ok(), "the overwrite waited for the slow download's lock");

    let mut failed = false;
    while let Some(chunk) = body.next().await {
        match chunk {
            Ok(chunk) => received.extend_from_slice(&chunk),
            Err(_) => {
                failed = true;
                break;
            }
        }
    }
    eprintln!(
        "many-part download during an overwrite: {} of {} bytes, then an error: {failed}",
        received.len(),
        old.len()
    );
    assert!(received.len() <= old.len() && received[..] == old[..received.len()], "the download mixed two versions");
    assert!(failed || received.len() == old.len(), "the download ended early without an error");
    assert_eq!(get(&client, &bucket, "many").await, new);
}

/// Regression (issue 9): a ranged read of a many-part object opened the shard files of
/// its first parts whatever the range (the object layer's unit test counts the files);
/// ranges far into an object of 20 parts x 16 shards (320 files) come back exact.
#[tokio::test(flavor = "multi_thread")]
async fn ranged_reads_far_into_a_many_part_object() {
    let server = Server::start(16);
    let client = server.client();
    let bucket = new_bucket(&client, "farrange").await;
    let bytes = put_many_parts(&client, &bucket, "many", 20).await;
    let part = 5 * MIB;
    // Inside part 19; across parts 19 and 20; the last bytes; one byte at a part's start.
    for (first, last) in [
        (18 * part + 7, 18 * part + 1000),
        (19 * part - 10, 19 * part + MIB),
        (bytes.len() - 3, bytes.len() - 1),
        (17 * part, 17 * part),
    ] {
        let range = format!("bytes={first}-{last}");
        let output = client.get_object().bucket(&bucket).key("many").range(&range).send().await.expect("ranged get");
        let body = output.body.collect().await.expect("body").into_bytes();
        assert!(body[..] == bytes[first..=last], "wrong bytes for {range}");
    }
}
