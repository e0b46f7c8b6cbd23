//! Object round trips, metadata, ranges, conditional requests, copies.

use crate::harness::*;
use aws_sdk_s3::primitives::{ByteStream, DateTime};
use aws_sdk_s3::types::MetadataDirective;

#[tokio::test(flavor = "multi_thread")]
async fn objects_of_every_size_round_trip_with_md5_etags() {
    let server = Server::start(4);
    let client = server.client();
    let bucket = new_bucket(&client, "sizes").await;
    // Around the inline limit, the block size and the shard padding.
    for size in [0usize, 1, 2, 3, 4095, 128 << 10, (128 << 10) + 1, 1 << 20, (1 << 20) + 1, (3 << 20) + 12345] {
        let body = random_bytes(size);
        let key = format!("obj-{size}");
        let etag = put(&client, &bucket, &key, &body).await;
        assert_eq!(etag, md5_hex(&body), "etag of {size} bytes");
        assert_eq!(get(&client, &bucket, &key).await, body, "content of {size} bytes");
        let head = client.head_object().bucket(&bucket).key(&key).send().await.expect("head");
        assert_eq!(head.content_length(), Some(size as i64));
    }
}

/// Concurrent uploads have their blocks' MD5s computed together (SIMD lanes shared
/// between uploads): each must still get the MD5 of its own body as its ETag.
#[tokio::test(flavor = "multi_thread")]
async fn concurrent_large_uploads_each_get_their_own_md5_etag() {
    let server = Server::start(4);
    let client = server.client();
    let bucket = new_bucket(&client, "lanes").await;
    let uploads: Vec<_> = (0..12usize)
        .map(|i| {
            let client = client.clone();
            let bucket = bucket.clone();
            tokio::spawn(async move {
                // Different lengths, so streams end at different blocks and offsets.
                let body = random_bytes((2 << 20) + i * 300_017);
                let key = format!("big-{i}");
                let etag = put(&client, &bucket, &key, &body).await;
                assert_eq!(etag, md5_hex(&body), "etag of upload {i}");
                assert_eq!(get(&client, &bucket, &key).await, body, "content of upload {i}");
            })
        })
        .collect();
    for upload in uploads {
        upload.await.expect("upload task");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn metadata_and_system_headers_round_trip() {
    let server = Server::start(4);
    let client = server.client();
    let bucket = new_bucket(&client, "meta").await;
    client
        .put_object()
        .bucket(&bucket)
        .key("doc.txt")
        .body(ByteStream::from_static(b"hello"))
        .content_type("text/plain; charset=utf-8")
        .content_encoding("identity")
        .content_disposition("attachment; filename=\"doc.txt\"")
        .content_language("en")
        .cache_control("max-age=60")
        .expires(DateTime::from_secs(4_102_444_800))
        .metadata("customer-id", "42")
        .metadata("Mixed-Case", "Value")
        .send()
        .await
        .expect("put");
    let head = client.head_object().bucket(&bucket).key("doc.txt").send().await.expect("head");
    assert_eq!(head.content_type(), Some("text/plain; charset=utf-8"));
    assert_eq!(head.content_encoding(), Some("identity"));
    assert_eq!(head.content_disposition(), Some("attachment; filename=\"doc.txt\""));
    assert_eq!(head.content_language(), Some("en"));
    assert_eq!(head.cache_control(), Some("max-age=60"));
    assert_eq!(head.metadata().and_then(|m| m.get("customer-id")).map(String::as_str), Some("42"));
    assert_eq!(head.metadata().and_then(|m| m.get("mixed-case")).map(String::as_str), Some("Value"));
    let get = client
        .get_object()
        .bucket(&bucket)
        .key("doc.txt")
        .response_content_type("application/octet-stream")
        .send()
        .await
        .expect("get");
    assert_eq!(get.content_type(), Some("application/octet-stream"));

    let too_much = "x".repeat(2100);
    let error = client
        .put_object()
        .bucket(&bucket)
        .key("big-meta")
        .metadata("blob", too_much)
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .expect_err("metadata over 2 KiB is refused");
    assert_eq!(error_code(&error), "MetadataTooLarge");
}

#[tokio::test(flavor = "multi_thread")]
async fn ranges_and_conditions() {
    let server = Server::start(4);
    let client = server.client();
    let bucket = new_bucket(&client, "ranges").await;
    let body = random_bytes((2 << 20) + 777);
    let etag = put(&client, &bucket, "r", &body).await;
    let ranged = |range: &'static str| {
        let client = client.clone();
        let bucket = bucket.clone();
        async move { client.get_object().bucket(&bucket).key("r").range(range).send().await }
    };
    let cases: [(&str, std::ops::Range<usize>); 4] = [
        ("bytes=0-9", 0..10),
        ("bytes=1048570-1048600", 1_048_570..1_048_601),
        ("bytes=2097000-", 2_097_000..body.len()),
        ("bytes=-100", body.len() - 100..body.len()),
    ];
    for (range, expected) in cases {
        let output = ranged(range).await.expect("ranged get");
        let total = body.len();
        assert_eq!(
            output.content_range(),
            Some(format!("bytes {}-{}/{total}", expected.start, expected.end - 1).as_str())
        );
        let bytes = output.body.collect().await.expect("body").into_bytes();
        assert_eq!(&bytes[..], &body[expected], "range {range}");
    }
    let error = ranged("bytes=99999999-").await.expect_err("unsatisfiable");
    assert_eq!(error_status(&error), 416);
    // Regression: a suffix range of an empty object once underflowed into a bogus Content-Range.
    put(&client, &bucket, "empty", b"").await;
    let error = client.get_object().bucket(&bucket).key("empty").range("bytes=-5").send().await.expect_err("416");
    assert_eq!(error_status(&error), 416);
    let error = client.head_object().bucket(&bucket).key("empty").range("bytes=-5").send().await.expect_err("416");
    assert_eq!(error_status(&error), 416);

    let wrong = client.get_object().bucket(&bucket).key("r").if_match("\"0000\"").send().await.expect_err("412");
    assert_eq!(error_status(&wrong), 412);
    let ok = client.get_object().bucket(&bucket).key("r").if_match(format!("\"{etag}\"")).send().await;
    assert!(ok.is_ok());
    let not_modified = client
        .get_object()
        .bucket(&bucket)
        .key("r")
        .if_none_match(format!("\"{etag}\""))
        .send()
        .await
        .expect_err("304");
    assert_eq!(error_status(&not_modified), 304);
    let future = DateTime::from_secs(4_102_444_800);
    let not_modified =
        client.get_object().bucket(&bucket).key("r").if_modified_since(future).send().await.expect_err("304");
    assert_eq!(error_status(&not_modified), 304);
    let past = DateTime::from_secs(1_000_000_000);
    let failed = client.get_object().bucket(&bucket).key("r").if_unmodified_since(past).send().await.expect_err("412");
    assert_eq!(error_status(&failed), 412);
}

#[tokio::test(flavor = "multi_thread")]
async fn copies_within_and_across_buckets() {
    let server = Server::start(4);
    let client = server.client();
    let source_bucket = new_bucket(&client, "src").await;
    let target_bucket = new_bucket(&client, "dst").await;
    let body = random_bytes((1 << 20) + 5);
    client
        .put_object()
        .bucket(&source_bucket)
        .key("a b/ü.bin")
        .content_type("image/png")
        .metadata("origin", "scanner")
        .body(ByteStream::from(body.clone()))
        .send()
        .await
        .expect("put");
    let source = format!("{source_bucket}/a%20b/%C3%BC.bin");
    client.copy_object().bucket(&target_bucket).key("copy").copy_source(&source).send().await.expect("copy");
    assert_eq!(get(&client, &target_bucket, "copy").await, body);
    let head = client.head_object().bucket(&target_bucket).key("copy").send().await.expect("head");
    assert_eq!(head.content_type(), Some("image/png"));
    assert_eq!(head.metadata().and_then(|m| m.get("origin")).map(String::as_str), Some("scanner"));

    client
        .copy_object()
        .bucket(&source_bucket)
        .key("a b/ü.bin")
        .copy_source(&source)
        .metadata_directive(MetadataDirective::Replace)
        .content_type("text/plain")
        .send()
        .await
        .expect("copy onto itself with new metadata");
    let head = client.head_object().bucket(&source_bucket).key("a b/ü.bin").send().await.expect("head");
    assert_eq!(head.content_type(), Some("text/plain"));
    assert!(head.metadata().is_none_or(|m| m.is_empty()));
    assert_eq!(get(&client, &source_bucket, "a b/ü.bin").await, body);

    let error = client
        .copy_object()
        .bucket(&source_bucket)
        .key("a b/ü.bin")
        .copy_source(&source)
        .send()
        .await
        .expect_err("self copy without changes");
    assert_eq!(error_code(&error), "InvalidRequest");
    let error = client
        .copy_object()
        .bucket(&target_bucket)
        .key("x")
        .copy_source(&source)
        .copy_source_if_match("\"nope\"")
        .send()
        .await
        .expect_err("precondition");
    assert_eq!(error_status(&error), 412);
}

#[tokio::test(flavor = "multi_thread")]
async fn buckets_lifecycle() {
    let server = Server::start(4);
    let client = server.client();
    let bucket = new_bucket(&client, "life").await;
    let again = client.create_bucket().bucket(&bucket).send().await.expect_err("exists");
    assert_eq!(error_code(&again), "BucketAlreadyOwnedByYou");
    let invalid = client.create_bucket().bucket("Not_Valid").send().await.expect_err("invalid name");
    assert_eq!(error_code(&invalid), "InvalidBucketName");
    put(&client, &bucket, "k", b"v").await;
    let listed = client.list_buckets().send().await.expect("list");
    assert!(listed.buckets().iter().any(|b| b.name() == Some(bucket.as_str())));
    client.get_bucket_location().bucket(&bucket).send().await.expect("location");
    let not_empty = client.delete_bucket().bucket(&bucket).send().await.expect_err("not empty");
    assert_eq!(error_code(&not_empty), "BucketNotEmpty");
    client.delete_object().bucket(&bucket).key("k").send().await.expect("delete");
    client.delete_bucket().bucket(&bucket).send().await.expect("delete bucket");
    let gone = client.head_bucket().bucket(&bucket).send().await.expect_err("gone");
    assert_eq!(error_status(&gone), 404);
    let missing = client.get_object().bucket(&bucket).key("k").send().await.expect_err("no bucket");
    assert_eq!(error_code(&missing), "NoSuchBucket");
}

#[tokio::test(flavor = "multi_thread")]
async fn delete_objects_quiet_and_verbose() {
    let server = Server::start(4);
    let client = server.client();
    let bucket = new_bucket(&client, "bulk").await;
    for i in 0..5 {
        put(&client, &bucket, &format!("k{i}"), b"x").await;
    }
    let ids = |keys: &[&str]| {
        keys.iter()
            .map(|k| aws_sdk_s3::types::ObjectIdentifier::builder().key(*k).build().expect("identifier"))
            .collect::<Vec<_>>()
    };
    let delete =
        aws_sdk_s3::types::Delete::builder().set_objects(Some(ids(&["k0", "k1", "missing"]))).build().expect("delete");
    let verbose = client.delete_objects().bucket(&bucket).delete(delete).send().await.expect("verbose");
    assert_eq!(verbose.deleted().len(), 3);
    let delete =
        aws_sdk_s3::types::Delete::builder().set_objects(Some(ids(&["k2", "k3"]))).quiet(true).build().expect("delete");
    let quiet = client.delete_objects().bucket(&bucket).delete(delete).send().await.expect("quiet");
    assert!(quiet.deleted().is_empty());
    let left = client.list_objects_v2().bucket(&bucket).send().await.expect("list");
    let keys: Vec<&str> = left.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, vec!["k4"]);
}
