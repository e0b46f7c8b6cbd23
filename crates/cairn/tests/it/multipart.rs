//! Multipart uploads.

use crate::harness::*;
use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use md5::{Digest, Md5};

pub const MIB: usize = 1 << 20;

pub async fn upload_part(
    client: &Client,
    bucket: &str,
    key: &str,
    upload_id: &str,
    number: i32,
    body: &[u8],
) -> String {
    client
        .upload_part()
        .bucket(bucket)
        .key(key)
        .upload_id(upload_id)
        .part_number(number)
        .body(ByteStream::from(body.to_vec()))
        .send()
        .await
        .expect("upload part")
        .e_tag()
        .expect("etag")
        .to_owned()
}

pub async fn create_upload(client: &Client, bucket: &str, key: &str) -> String {
    let created = client.create_multipart_upload().bucket(bucket).key(key).send().await.expect("create");
    created.upload_id().expect("upload id").to_owned()
}

/// A CompleteMultipartUpload request naming `parts`, ready for conditions and `send()`.
pub fn complete_request(
    client: &Client,
    (bucket, key): (&str, &str),
    upload_id: &str,
    parts: &[(i32, String)],
) -> aws_sdk_s3::operation::complete_multipart_upload::builders::CompleteMultipartUploadFluentBuilder {
    client.complete_multipart_upload().bucket(bucket).key(key).upload_id(upload_id).multipart_upload(completed(parts))
}

pub fn completed(parts: &[(i32, String)]) -> CompletedMultipartUpload {
    CompletedMultipartUpload::builder()
        .set_parts(Some(parts.iter().map(|(n, e)| CompletedPart::builder().part_number(*n).e_tag(e).build()).collect()))
        .build()
}

#[tokio::test(flavor = "multi_thread")]
async fn multipart_upload_complete_list_abort() {
    let server = Server::start(4);
    let client = server.client();
    let bucket = new_bucket(&client, "mpu").await;
    let key = "big/object.bin";
    let created = client
        .create_multipart_upload()
        .bucket(&bucket)
        .key(key)
        .content_type("application/x-test")
        .send()
        .await
        .expect("create");
    let upload_id = created.upload_id().expect("upload id").to_owned();
    let bodies: Vec<Vec<u8>> =
        vec![random_bytes(5 * MIB), random_bytes(5 * MIB + 3), random_bytes(5 * MIB), random_bytes(1234)];
    let mut parts = Vec::new();
    // Uploaded out of order, with part 2 uploaded twice (the second one wins).
    for number in [3, 1, 2, 4, 2] {
        let etag = upload_part(&client, &bucket, key, &upload_id, number, &bodies[(number - 1) as usize]).await;
        parts.retain(|(n, _)| *n != number);
        parts.push((number, etag));
    }
    parts.sort();
    let listed = client.list_parts().bucket(&bucket).key(key).upload_id(&upload_id).send().await.expect("list parts");
    let numbers: Vec<i32> = listed.parts().iter().filter_map(|p| p.part_number()).collect();
    assert_eq!(numbers, vec![1, 2, 3, 4]);
    let uploads = client.list_multipart_uploads().bucket(&bucket).send().await.expect("list uploads");
    assert_eq!(uploads.uploads().len(), 1);
    assert_eq!(uploads.uploads()[0].upload_id(), Some(upload_id.as_str()));

    let done = client
        .complete_multipart_upload()
        .bucket(&bucket)
        .key(key)
        .upload_id(&upload_id)
        .multipart_upload(completed(&parts))
        .send()
        .await
        .expect("complete");
    let mut md5s = Md5::new();
    for body in &bodies {
        md5s.update(Md5::digest(body));
    }
    let expected_etag = format!("\"{}-4\"", hex::encode(md5s.finalize()));
    assert_eq!(done.e_tag(), Some(expected_etag.as_str()));
    let whole: Vec<u8> = bodies.concat();
    assert_eq!(get(&client, &bucket, key).await, whole);
    let head = client.head_object().bucket(&bucket).key(key).send().await.expect("head");
    assert_eq!(head.content_type(), Some("application/x-test"));
    assert_eq!(head.e_tag(), Some(expected_etag.as_str()));
    // A range across a part boundary.
    let range = client
        .get_object()
        .bucket(&bucket)
        .key(key)
        .range(format!("bytes={}-{}", 5 * MIB - 10, 5 * MIB + 10))
        .send()
        .await
        .expect("range");
    let bytes = range.body.collect().await.expect("body").into_bytes();
    assert_eq!(&bytes[..], &whole[5 * MIB - 10..=5 * MIB + 10]);
    // GET by part number, as multipart-aware downloaders do.
    let part = client.get_object().bucket(&bucket).key(key).part_number(2).send().await.expect("part 2");
    assert_eq!(part.parts_count(), Some(4));
    assert_eq!(part.content_range(), Some(format!("bytes {}-{}/{}", 5 * MIB, 10 * MIB + 2, whole.len()).as_str()));
    assert_eq!(&part.body.collect().await.expect("body").into_bytes()[..], &bodies[1][..]);
    let error = client.head_object().bucket(&bucket).key(key).part_number(5).send().await.expect_err("no part 5");
    assert_eq!(error_status(&error), 416);
    let uploads = client.list_multipart_uploads().bucket(&bucket).send().await.expect("list uploads");
    assert!(uploads.uploads().is_empty(), "completed uploads are gone");

    // Abort frees the upload.
    let upload_id = create_upload(&client, &bucket, "aborted").await;
    upload_part(&client, &bucket, "aborted", &upload_id, 1, &random_bytes(MIB)).await;
    client.abort_multipart_upload().bucket(&bucket).key("aborted").upload_id(&upload_id).send().await.expect("abort");
    let error =
        client.list_parts().bucket(&bucket).key("aborted").upload_id(&upload_id).send().await.expect_err("gone");
    assert_eq!(error_code(&error), "NoSuchUpload");
    for drive in 1..=4 {
        let leftovers = files_below(&server.drive(drive).join(".cairn.sys/multipart"));
        assert!(leftovers.is_empty(), "drive {drive} kept {leftovers:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn multipart_rules_are_enforced() {
    let server = Server::start(4);
    let client = server.client();
    let bucket = new_bucket(&client, "rules").await;
    let upload_id = create_upload(&client, &bucket, "k").await;
    let small = upload_part(&client, &bucket, "k", &upload_id, 1, &random_bytes(1000)).await;
    let last = upload_part(&client, &bucket, "k", &upload_id, 2, &random_bytes(1000)).await;
    let complete = |parts: Vec<(i32, String)>| {
        let client = client.clone();
        let bucket = bucket.clone();
        let upload_id = upload_id.clone();
        async move {
            client
                .complete_multipart_upload()
                .bucket(&bucket)
                .key("k")
                .upload_id(&upload_id)
                .multipart_upload(completed(&parts))
                .send()
                .await
        }
    };
    let error = complete(vec![(1, small.clone()), (2, last.clone())]).await.expect_err("too small");
    assert_eq!(error_code(&error), "EntityTooSmall");
    let error = complete(vec![(1, "\"ffffffffffffffffffffffffffffffff\"".into())]).await.expect_err("wrong etag");
    assert_eq!(error_code(&error), "InvalidPart");
    let error = complete(vec![(2, last.clone()), (1, small.clone())]).await.expect_err("order");
    assert_eq!(error_code(&error), "InvalidPartOrder");
    let error = complete(vec![(7, small.clone())]).await.expect_err("missing part");
    assert_eq!(error_code(&error), "InvalidPart");
    // A single small part is a valid upload.
    complete(vec![(1, small)]).await.expect("single part");
    let error = client
        .upload_part()
        .bucket(&bucket)
        .key("k")
        .upload_id("not-an-upload")
        .part_number(1)
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .expect_err("unknown upload");
    assert_eq!(error_code(&error), "NoSuchUpload");
}

#[tokio::test(flavor = "multi_thread")]
async fn upload_part_copy_with_ranges() {
    let server = Server::start(4);
    let client = server.client();
    let bucket = new_bucket(&client, "partcopy").await;
    let source = random_bytes(7 * MIB);
    put(&client, &bucket, "source", &source).await;
    let upload_id = create_upload(&client, &bucket, "dest").await;
    let mut parts = Vec::new();
    for (number, range) in [(1, (0, 5 * MIB - 1)), (2, (5 * MIB, 7 * MIB - 1))] {
        let output = client
            .upload_part_copy()
            .bucket(&bucket)
            .key("dest")
            .upload_id(&upload_id)
            .part_number(number)
            .copy_source(format!("{bucket}/source"))
            .copy_source_range(format!("bytes={}-{}", range.0, range.1))
            .send()
            .await
            .expect("upload part copy");
        parts.push((number, output.copy_part_result().and_then(|r| r.e_tag()).expect("etag").to_owned()));
    }
    client
        .complete_multipart_upload()
        .bucket(&bucket)
        .key("dest")
        .upload_id(&upload_id)
        .multipart_upload(completed(&parts))
        .send()
        .await
        .expect("complete");
    assert_eq!(get(&client, &bucket, "dest").await, source);
}

/// Regression: pagination once ignored upload-id-marker and lost pages that ended on a prefix.
#[tokio::test(flavor = "multi_thread")]
async fn list_multipart_uploads_pages_through_everything() {
    let server = Server::start(4);
    let client = server.client();
    let bucket = new_bucket(&client, "uploads").await;
    let mut expected = Vec::new();
    for key in ["same", "same", "same", "a/1", "b/2", "c/3"] {
        let id = client.create_multipart_upload().bucket(&bucket).key(key).send().await.expect("create");
        expected.push((key.to_owned(), id.upload_id().expect("id").to_owned()));
    }
    let mut seen = Vec::new();
    let (mut key_marker, mut id_marker): (Option<String>, Option<String>) = (None, None);
    for _ in 0..10 {
        let page = client
            .list_multipart_uploads()
            .bucket(&bucket)
            .max_uploads(2)
            .set_key_marker(key_marker.clone())
            .set_upload_id_marker(id_marker.clone())
            .send()
            .await
            .expect("page");
        seen.extend(
            page.uploads().iter().map(|u| (u.key().expect("key").to_owned(), u.upload_id().expect("id").to_owned())),
        );
        if page.is_truncated() != Some(true) {
            break;
        }
        key_marker = page.next_key_marker().map(str::to_owned);
        id_marker = page.next_upload_id_marker().map(str::to_owned);
    }
    let mut sorted_seen = seen.clone();
    sorted_seen.sort();
    let mut sorted_expected = expected.clone();
    sorted_expected.sort();
    assert_eq!(sorted_seen, sorted_expected, "every upload exactly once");

    let mut prefixes = Vec::new();
    let mut key_marker: Option<String> = None;
    for _ in 0..10 {
        let page = client
            .list_multipart_uploads()
            .bucket(&bucket)
            .delimiter("/")
            .max_uploads(2)
            .set_key_marker(key_marker.clone())
            .send()
            .await
            .expect("page");
        prefixes.extend(page.common_prefixes().iter().filter_map(|p| p.prefix().map(str::to_owned)));
        if page.is_truncated() != Some(true) {
            break;
        }
        key_marker = page.next_key_marker().map(str::to_owned);
    }
    assert_eq!(prefixes, vec!["a/", "b/", "c/"]);
}
