//! A CompleteMultipartUpload retried after it succeeded (an SDK whose answer was lost
//! retries it) answers success with the same ETag, as S3 does; only for the upload
//! that made the key's current version, with the same parts.

use crate::harness::*;
use crate::multipart::{MIB, complete_request, create_upload, upload_part};

#[tokio::test(flavor = "multi_thread")]
async fn a_retried_complete_answers_the_first_answer() {
    let server = Server::start(4);
    let client = server.client();
    let bucket = new_bucket(&client, "retry").await;
    let key = "retried.bin";
    let upload_id = create_upload(&client, &bucket, key).await;
    let bodies = [random_bytes(5 * MIB), random_bytes(1234)];
    let mut parts = Vec::new();
    for (number, body) in (1..).zip(&bodies) {
        parts.push((number, upload_part(&client, &bucket, key, &upload_id, number, body).await));
    }
    let complete = || complete_request(&client, (&bucket, key), &upload_id, &parts);
    let first = complete().send().await.expect("complete");
    let etag = first.e_tag().expect("etag").to_owned();

    // The response was "lost": the SDK sends the same request again.
    for _ in 0..2 {
        let again = complete().send().await.expect("a retried complete succeeds");
        assert_eq!(again.e_tag(), Some(etag.as_str()));
    }
    let data = get(&client, &bucket, key).await;
    assert_eq!(data.len(), bodies.iter().map(Vec::len).sum::<usize>());
    assert_eq!(md5_hex(&data), md5_hex(&bodies.concat()));

    // The same upload id with other parts is not that upload's Complete.
    let fewer =
        complete_request(&client, (&bucket, key), &upload_id, &parts[..1]).send().await.expect_err("other parts");
    assert_eq!(error_code(&fewer), "NoSuchUpload");

    // A retry after the key was replaced refers to a version that is gone.
    put(&client, &bucket, key, b"replaced").await;
    let stale = complete().send().await.expect_err("the upload's version was replaced");
    assert_eq!(error_code(&stale), "NoSuchUpload");
    assert_eq!(get(&client, &bucket, key).await, b"replaced");

    // An upload id that never completed stays unknown, even for an existing key.
    let aborted = create_upload(&client, &bucket, key).await;
    client.abort_multipart_upload().bucket(&bucket).key(key).upload_id(&aborted).send().await.expect("abort");
    let error = complete_request(&client, (&bucket, key), &aborted, &parts).send().await.expect_err("aborted upload");
    assert_eq!(error_code(&error), "NoSuchUpload");
}

/// The upload id survives a restart (it is in the object's metadata).
#[tokio::test(flavor = "multi_thread")]
async fn a_complete_retried_after_a_restart_still_succeeds() {
    let server = Server::start(4);
    let client = server.client();
    let bucket = new_bucket(&client, "retry").await;
    let key = "restart.bin";
    let upload_id = create_upload(&client, &bucket, key).await;
    let parts = vec![(1, upload_part(&client, &bucket, key, &upload_id, 1, &random_bytes(300_000)).await)];
    let first = complete_request(&client, (&bucket, key), &upload_id, &parts).send().await.expect("complete");
    let server = Server::start_in(server.stop(), 4, &[]);
    let client = server.client();
    let again = complete_request(&client, (&bucket, key), &upload_id, &parts)
        .send()
        .await
        .expect("a retried complete succeeds after a restart");
    assert_eq!(again.e_tag(), first.e_tag());
}
