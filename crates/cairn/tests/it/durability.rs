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

/// Mounts a small tmpfs at `path`; false where mounting is not permitted.
fn mount_tmpfs(path: &std::path::Path, size: &str) -> bool {
    std::fs::create_dir_all(path).expect("mount point");
    Command::new("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
        .arg(path)
        .status()
        .is_ok_and(|s| s.success())
}

fn unmount(path: &std::path::Path) {
    let _ = Command::new("umount").arg(path).status();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_drive_gives_a_clear_error_and_no_partial_object() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mounts: Vec<_> = (1..=4).map(|d| dir.path().join(format!("d{d}"))).collect();
    let mounted: Vec<bool> = mounts.iter().map(|m| mount_tmpfs(m, "6m")).collect();
    if !mounted.iter().all(|m| *m) {
        mounts.iter().for_each(|m| unmount(m));
        eprintln!("SKIPPED: mounting tmpfs is not permitted here, so a full drive cannot be simulated");
        return;
    }
    let dir_path = dir.path().to_path_buf();
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
    drop(server);
    for mount in (1..=4).map(|d| dir_path.join(format!("d{d}"))) {
        unmount(&mount);
    }
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
