//! Copies whose source cannot be read: the error is the server's (5xx), never the
//! client's 400, and nothing is written.

use crate::bitrot::shard_file;
use crate::harness::*;
use aws_sdk_s3::primitives::ByteStream;

/// Regression: a CopyObject (or UploadPartCopy) whose source failed while it was read
/// was answered 400 IncompleteBody, as if the client had cut its own body short, so
/// clients did not retry and operators saw no server error.
#[tokio::test(flavor = "multi_thread")]
async fn a_copy_whose_source_cannot_be_read_is_a_server_error() {
    let server = Server::start(4);
    let client = server.client();
    let bucket = new_bucket(&client, "copysource").await;
    put(&client, &bucket, "source", &random_bytes(3 << 20)).await;
    put(&client, &bucket, "target", b"before").await;
    // Three of four shards gone: more than the parity can make up for.
    for drive in 1..=3 {
        std::fs::remove_file(shard_file(&server.drive(drive), &bucket, "source")).expect("remove shard");
    }
    let copied =
        client.copy_object().bucket(&bucket).key("target").copy_source(format!("{bucket}/source")).send().await;
    let error = copied.expect_err("the source cannot be read");
    let status = error_status(&error);
    // Unrecoverable data is not retryable: 500 (a source on unavailable drives gets 503).
    assert_eq!((status, error_code(&error).as_str()), (500, "InternalError"), "CopyObject");
    assert_eq!(get(&client, &bucket, "target").await, b"before");

    let upload = client.create_multipart_upload().bucket(&bucket).key("multi").send().await.expect("create upload");
    let upload_id = upload.upload_id().expect("upload id");
    let copied = client
        .upload_part_copy()
        .bucket(&bucket)
        .key("multi")
        .upload_id(upload_id)
        .part_number(1)
        .copy_source(format!("{bucket}/source"))
        .send()
        .await;
    let error = copied.expect_err("the source cannot be read");
    let status = error_status(&error);
    assert_eq!((status, error_code(&error).as_str()), (500, "InternalError"), "UploadPartCopy");
    let parts = client.list_parts().bucket(&bucket).key("multi").upload_id(upload_id).send().await.expect("parts");
    assert!(parts.parts().is_empty(), "{parts:?}");
    // A readable source still copies.
    client.put_object().bucket(&bucket).key("good").body(ByteStream::from_static(b"good")).send().await.expect("put");
    client
        .copy_object()
        .bucket(&bucket)
        .key("target")
        .copy_source(format!("{bucket}/good"))
        .send()
        .await
        .expect("copy");
    assert_eq!(get(&client, &bucket, "target").await, b"good");
}
