//! Expansion by server pools: a pool added to an existing deployment takes new objects
//! (it has the most free space) while every object of the first pool stays readable,
//! listable, overwritable in place and deletable.

use crate::harness::*;

const MIB: usize = 1 << 20;

/// Drive arguments: pool "a" of 2 drives, and optionally pool "b" of 4 (more drives on
/// the same filesystem, so more free bytes: new keys go there).
fn pool_args(dir: &std::path::Path, with_b: bool) -> Vec<String> {
    let mut args = vec![format!("{}/a{{1...2}}", dir.display())];
    if with_b {
        args.push(format!("{}/b{{1...4}}", dir.display()));
    }
    args
}

fn has_object(dir: &std::path::Path, drive: &str, bucket: &str, key: &str) -> bool {
    crate::harness::has_key_on(&dir.join(drive), bucket, key)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_pool_takes_new_objects_and_old_ones_stay_readable() {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().to_path_buf();
    let server = Server::start_with_args(dir, &pool_args(&root, false), 2, &[]);
    let client = server.client();
    let bucket = new_bucket(&client, "pools").await;
    let small = random_bytes(1000);
    let large = random_bytes(3 * MIB);
    put(&client, &bucket, "old/small", &small).await;
    put(&client, &bucket, "old/large", &large).await;
    put(&client, &bucket, "old/overwritten", b"first").await;
    put(&client, &bucket, "old/deleted", b"doomed").await;

    let server = Server::start_with_args(server.stop(), &pool_args(&root, true), 6, &[]);
    let client = server.client();
    assert!(server.log().contains("pools=2"), "the server did not open two pools:\n{}", server.log());
    assert_eq!(get(&client, &bucket, "old/small").await, small);
    assert_eq!(get(&client, &bucket, "old/large").await, large);
    let new = random_bytes(2 * MIB);
    put(&client, &bucket, "new/object", &new).await;
    assert!(has_object(&root, "b1", &bucket, "new/object"), "a new key did not go to the roomier new pool");
    assert!(!has_object(&root, "a1", &bucket, "new/object"));
    // An overwrite stays in the pool that holds the key; a delete removes it there.
    put(&client, &bucket, "old/overwritten", b"second").await;
    assert!(has_object(&root, "a1", &bucket, "old/overwritten"));
    assert!(!has_object(&root, "b1", &bucket, "old/overwritten"));
    assert_eq!(get(&client, &bucket, "old/overwritten").await, b"second");
    client.delete_object().bucket(&bucket).key("old/deleted").send().await.expect("delete");
    let gone = client.head_object().bucket(&bucket).key("old/deleted").send().await.expect_err("deleted");
    assert_eq!(error_status(&gone), 404);
    // One listing over both pools, in key order, each key once.
    let listed = client.list_objects_v2().bucket(&bucket).send().await.expect("list");
    let keys: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, ["new/object", "old/large", "old/overwritten", "old/small"]);
    assert_eq!(get(&client, &bucket, "new/object").await, new);
}

/// Regression (issue 9): a pool whose drives cannot answer was taken for a pool that
/// does not hold the key, so a read answered 404 and an overwrite went to another pool
/// (where the old version, once its pool came back, would have shadowed or been
/// shadowed by it). Now the lookup fails with a retryable 503.
#[tokio::test(flavor = "multi_thread")]
async fn a_pool_that_cannot_answer_fails_lookups_with_503() {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().to_path_buf();
    let server = Server::start_with_args(dir, &pool_args(&root, true), 6, &[]);
    let client = server.client();
    let bucket = new_bucket(&client, "pooldown").await;
    let old = random_bytes(3 * MIB);
    put(&client, &bucket, "in-b", &old).await;
    assert!(has_object(&root, "b1", &bucket, "in-b"), "a new key did not go to the roomier pool b");

    // Every drive of pool "b" stops answering (moved away, restored below).
    let drives = ["b1", "b2", "b3", "b4"];
    for drive in drives {
        std::fs::rename(root.join(drive), root.join(format!("{drive}.away"))).expect("move drive away");
    }
    let head = client.head_object().bucket(&bucket).key("in-b").send().await.expect_err("pool b is down");
    assert_eq!(error_status(&head), 503, "{head:?}");
    let read = client.get_object().bucket(&bucket).key("in-b").send().await.expect_err("pool b is down");
    assert_eq!(error_status(&read), 503, "{read:?}");
    let overwrite = client
        .put_object()
        .bucket(&bucket)
        .key("in-b")
        .body(aws_sdk_s3::primitives::ByteStream::from_static(b"new"))
        .send()
        .await
        .expect_err("the pool holding the key is down");
    assert_eq!(error_status(&overwrite), 503, "{overwrite:?}");
    assert!(!has_object(&root, "a1", &bucket, "in-b"), "the overwrite went to the other pool");

    for drive in drives {
        std::fs::rename(root.join(format!("{drive}.away")), root.join(drive)).expect("restore drive");
    }
    let mut back = None;
    for _ in 0..100 {
        if let Ok(output) = client.get_object().bucket(&bucket).key("in-b").send().await {
            back = Some(output.body.collect().await.expect("body").into_bytes().to_vec());
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(back == Some(old), "the object did not read back intact once its pool answered again");
}
