//! ListObjects v1/v2: pagination, prefixes, delimiters, start-after, URL encoding.

use crate::harness::*;
use aws_sdk_s3::Client;
use aws_sdk_s3::types::EncodingType;

async fn list_all_v2(
    client: &Client,
    bucket: &str,
    prefix: Option<&str>,
    delimiter: Option<&str>,
    page: i32,
) -> (Vec<String>, Vec<String>, usize) {
    let mut keys = Vec::new();
    let mut prefixes = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        pages += 1;
        assert!(pages < 1000, "pagination does not terminate");
        let output = client
            .list_objects_v2()
            .bucket(bucket)
            .set_prefix(prefix.map(str::to_owned))
            .set_delimiter(delimiter.map(str::to_owned))
            .max_keys(page)
            .set_continuation_token(token.clone())
            .send()
            .await
            .expect("list");
        keys.extend(output.contents().iter().filter_map(|o| o.key().map(str::to_owned)));
        prefixes.extend(output.common_prefixes().iter().filter_map(|p| p.prefix().map(str::to_owned)));
        if output.is_truncated() != Some(true) {
            return (keys, prefixes, pages);
        }
        token = output.next_continuation_token().map(str::to_owned);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn pagination_prefixes_and_delimiters() {
    let server = Server::start(4);
    let client = server.client();
    let bucket = new_bucket(&client, "list").await;
    let mut expected: Vec<String> = Vec::new();
    for i in 0..25 {
        expected.push(format!("flat-{i:02}"));
    }
    for key in [
        "photos/2024/a.jpg",
        "photos/2024/b.jpg",
        "photos/2025/c.jpg",
        "photos/d.jpg",
        "photos/",
        "photos-x",
        "z/deep/er/key",
    ] {
        expected.push(key.to_owned());
    }
    for key in &expected {
        put(&client, &bucket, key, key.as_bytes()).await;
    }
    expected.sort();

    let (keys, prefixes, pages) = list_all_v2(&client, &bucket, None, None, 7).await;
    assert_eq!(keys, expected);
    assert!(prefixes.is_empty());
    assert_eq!(pages, expected.len().div_ceil(7));

    let (keys, prefixes, _) = list_all_v2(&client, &bucket, None, Some("/"), 4).await;
    let flat: Vec<String> = expected.iter().filter(|k| !k.contains('/')).cloned().collect();
    assert_eq!(keys, flat);
    assert_eq!(prefixes, vec!["photos/", "z/"]);

    let (keys, prefixes, _) = list_all_v2(&client, &bucket, Some("photos/"), Some("/"), 1000).await;
    assert_eq!(keys, vec!["photos/", "photos/d.jpg"]);
    assert_eq!(prefixes, vec!["photos/2024/", "photos/2025/"]);

    let (keys, _, _) = list_all_v2(&client, &bucket, Some("photos/20"), None, 2).await;
    assert_eq!(keys, vec!["photos/2024/a.jpg", "photos/2024/b.jpg", "photos/2025/c.jpg"]);

    // A delimiter other than '/'.
    let (keys, prefixes, _) = list_all_v2(&client, &bucket, None, Some("-"), 3).await;
    assert_eq!(prefixes, vec!["flat-", "photos-"]);
    assert!(keys.iter().all(|k| !k.contains('-')));

    let after = client.list_objects_v2().bucket(&bucket).start_after("photos/2025/c.jpg").send().await.expect("list");
    let keys: Vec<&str> = after.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, vec!["photos/d.jpg", "z/deep/er/key"]);

    // ListObjects v1 with a marker.
    let v1 = client.list_objects().bucket(&bucket).marker("flat-23").max_keys(3).send().await.expect("v1");
    let keys: Vec<&str> = v1.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, vec!["flat-24", "photos-x", "photos/"]);
    assert_eq!(v1.is_truncated(), Some(true));
}

#[tokio::test(flavor = "multi_thread")]
async fn url_encoded_listing_of_unusual_keys() {
    let server = Server::start(4);
    let client = server.client();
    let bucket = new_bucket(&client, "enc").await;
    let keys = ["a b.txt", "日本/ü ñ.txt", "plus+sign", "percent%41"];
    for key in keys {
        put(&client, &bucket, key, b"x").await;
    }
    let output = client.list_objects_v2().bucket(&bucket).encoding_type(EncodingType::Url).send().await.expect("list");
    // aws-sdk-rust hands back url-encoded keys as sent (botocore decodes them; the compat suite checks that).
    let listed: Vec<&str> = output.contents().iter().filter_map(|o| o.key()).collect();
    // Listed in the order of the original keys, encoded.
    assert_eq!(listed, vec!["a%20b.txt", "percent%2541", "plus%2Bsign", "%E6%97%A5%E6%9C%AC/%C3%BC%20%C3%B1.txt"]);
    for key in keys {
        assert_eq!(get(&client, &bucket, key).await, b"x");
    }
}

/// Regression: a 512-segment key (1023 bytes) with a non-inline body once made the walk
/// panic at its data directory, ending every full listing at that key.
#[tokio::test(flavor = "multi_thread")]
async fn deepest_keys_do_not_end_listings() {
    let server = Server::start(4);
    let client = server.client();
    let bucket = new_bucket(&client, "deep").await;
    let deep = vec!["a"; 512].join("/");
    assert_eq!(deep.len(), 1023);
    put(&client, &bucket, &deep, &random_bytes(200 << 10)).await;
    put(&client, &bucket, "b-after", b"x").await;
    put(&client, &bucket, "0-before", b"x").await;
    let output = client.list_objects_v2().bucket(&bucket).send().await.expect("list");
    let keys: Vec<&str> = output.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, vec!["0-before", deep.as_str(), "b-after"]);
    assert_eq!(output.is_truncated(), Some(false));
}

/// Folder of `key` of `bucket` on drive `n`.
fn key_dir(server: &Server, n: usize, bucket: &str, key: &str) -> std::path::PathBuf {
    server.drive(n).join(bucket).join(key)
}

/// Makes drive `n`'s walks fail right after `key`: a damaged index entry (a key that is
/// not UTF-8) sorts there. No object is stored under it, so nothing heals or reads it.
fn break_walk_at(server: &Server, n: usize, bucket: &str, key: &str) {
    let mut damaged = key.as_bytes().to_vec();
    damaged.push(0xff);
    cairn_drive::inspect::put_damaged_key(&server.drive(n), bucket, &damaged, b"damaged").expect("damage index");
}

/// Removes `key` and every key below `key/` from drive `n`, as if the drive had missed
/// their writes.
fn miss_write(server: &Server, n: usize, bucket: &str, key: &str) {
    let drive = server.drive(n);
    let below = format!("{key}/");
    for stored in keys_on(&drive, bucket).into_iter().filter(|k| k == key || k.starts_with(&below)) {
        remove_meta_on(&drive, bucket, &stored);
    }
    let _ = std::fs::remove_dir_all(key_dir(server, n, bucket, key));
}

/// Regression (chaos suite, seed 9001 round 22): during a partition a listing left out an
/// acknowledged key that only 2 of the answering drives reported (read quorum 3) while
/// the drives whose walk failed held it too. 6 drives at EC:3 as 3 nodes x 2 drives:
/// drives 1-2 fail their walks, drives 5-6 missed writes or deletes.
#[tokio::test(flavor = "multi_thread")]
async fn keys_that_failed_walks_could_hold_are_resolved_not_skipped() {
    let dir = tempfile::tempdir().expect("temp dir");
    // The scanner would remove u/06's stale copies (dangling) before drives 1-2 are damaged.
    let server = Server::start_quiet(dir, 6, &[("CAIRN_STORAGE_CLASS_STANDARD", "EC:3")]).await;
    let client = server.client();
    let bucket = new_bucket(&client, "partial").await;
    let large = random_bytes(4 << 20);
    for key in ["k/00", "k/01", "k/02", "k/04", "k/05", "p/b/x", "p/c", "p/d/y", "u/06"] {
        put(&client, &bucket, key, key.as_bytes()).await;
    }
    put(&client, &bucket, "k/03", &large).await;
    // Deletes that drives 5-6 missed: their copies stay behind.
    let missed_deletes = ["k/04", "u/06"];
    let kept: Vec<Vec<u8>> =
        missed_deletes.iter().map(|key| meta_on(&server.drive(5), &bucket, key).expect("held")).collect();
    for key in missed_deletes {
        client.delete_object().bucket(&bucket).key(key).send().await.expect("delete");
    }
    for n in [5, 6] {
        for (key, meta) in missed_deletes.iter().zip(&kept) {
            set_meta_on(&server.drive(n), &bucket, key, meta.clone());
        }
        // Writes that drives 5-6 missed.
        miss_write(&server, n, &bucket, "k/03");
        miss_write(&server, n, &bucket, "p/b");
    }
    // A leftover subtree only drives 5-6 hold.
    for n in 1..=4 {
        miss_write(&server, n, &bucket, "p/d");
    }
    // Drives 1-2 fail their walks before k/03, before p/b/, and at u/06 (whose metadata
    // they cannot read either, so nobody can tell whether it exists).
    for n in [1, 2] {
        for key in ["k/02x", "p/a", "u/06"] {
            break_walk_at(&server, n, &bucket, key);
        }
        set_meta_on(&server.drive(n), &bucket, "u/06", b"damaged".to_vec());
    }

    let (keys, prefixes, _) = list_all_v2(&client, &bucket, Some("k/"), None, 2).await;
    assert_eq!(keys, ["k/00", "k/01", "k/02", "k/03", "k/05"], "k/03 is acknowledged; k/04 was deleted");
    assert!(prefixes.is_empty());
    let (keys, prefixes, _) = list_all_v2(&client, &bucket, Some("p/"), Some("/"), 10).await;
    assert_eq!(keys, ["p/c"]);
    assert_eq!(prefixes, ["p/b/"], "p/b/x is acknowledged; nothing below p/d/ is");
    let (keys, _, _) = list_all_v2(&client, &bucket, Some("p/"), None, 10).await;
    assert_eq!(keys, ["p/b/x", "p/c"]);
    // Undecidable: the listing fails with a retryable error instead of leaving u/06 out.
    let error = client.list_objects_v2().bucket(&bucket).prefix("u/").send().await.expect_err("no read quorum");
    assert_eq!(error_status(&error), 503, "{error:?}");

    assert_eq!(get(&client, &bucket, "k/03").await, large);
    let gone = client.get_object().bucket(&bucket).key("k/04").send().await.expect_err("deleted");
    assert_eq!(error_code(&gone), "NoSuchKey");
}

/// A page asks each drive's walk for as many entries as the page needs (and one more).
/// When the merge skips keys that too few drives hold, a drive's walk can stop at that
/// limit before the page is full: the listing must go on with a new walk on that drive,
/// or a key that needs that drive's copy to reach a read quorum vanishes from the page.
#[tokio::test(flavor = "multi_thread")]
async fn a_walk_that_stops_at_its_limit_goes_on_when_skipped_keys_fill_it() {
    // The scanner would remove the leftovers (dangling) before the listing meets them.
    let server = Server::start_quiet(tempfile::tempdir().expect("temp dir"), 4, &[]).await;
    let client = server.client();
    let bucket = new_bucket(&client, "limits").await;
    let leftovers: Vec<String> = (1..=5).map(|n| format!("a{n}")).collect();
    for key in leftovers.iter().map(String::as_str).chain(["b"]) {
        put(&client, &bucket, key, b"small").await;
    }
    // Drive 1 alone holds the leftovers: a merge skips them without a read.
    for key in &leftovers {
        for drive in 2..=4 {
            assert!(remove_meta_on(&server.drive(drive), &bucket, key), "{key} on drive {drive}");
        }
    }
    // `b` is on drives 1 and 2 only: a read quorum (2 of EC 2+2) only with drive 1.
    for drive in 3..=4 {
        assert!(remove_meta_on(&server.drive(drive), &bucket, "b"), "b on drive {drive}");
    }
    let (keys, prefixes, _) = list_all_v2(&client, &bucket, None, None, 2).await;
    assert_eq!(keys, ["b"], "a page of 2 asks drive 1 for 3 entries, all leftovers: it must read on");
    assert!(prefixes.is_empty());
    let got = get(&client, &bucket, "b").await;
    assert_eq!(got, b"small");
}
