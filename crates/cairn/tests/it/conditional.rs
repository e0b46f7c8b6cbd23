//! Conditional writes: `If-None-Match: *`, `If-Match: <etag>` and `If-Match: *` on
//! PutObject and CompleteMultipartUpload, evaluated under the key's write lock so that
//! of several concurrent conditional writers exactly one wins.

use crate::harness::*;
use crate::multipart::{complete_request, create_upload, upload_part};
use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;

/// Writers racing in each round.
const WRITERS: usize = 8;
/// Rounds of each race.
const ROUNDS: usize = 6;

/// A conditional PUT's outcome: Ok(etag) or the error code.
async fn put_if(
    client: &Client,
    bucket: &str,
    key: &str,
    body: Vec<u8>,
    if_match: Option<&str>,
    if_none_match: Option<&str>,
) -> Result<String, String> {
    let mut request = client.put_object().bucket(bucket).key(key).body(ByteStream::from(body));
    if let Some(etag) = if_match {
        request = request.if_match(etag);
    }
    if let Some(etag) = if_none_match {
        request = request.if_none_match(etag);
    }
    match request.send().await {
        Ok(output) => Ok(output.e_tag().expect("etag").to_owned()),
        Err(error) => Err(error_code(&error)),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn if_match_any_writes_only_over_an_existing_key() {
    let server = Server::start(4);
    let client = server.client();
    let bucket = new_bucket(&client, "cond").await;
    let missing = put_if(&client, &bucket, "k", b"new".to_vec(), Some("*"), None).await;
    assert_eq!(missing, Err("PreconditionFailed".to_owned()));
    let listed = client.list_objects_v2().bucket(&bucket).send().await.expect("list");
    assert!(listed.contents().is_empty(), "a refused If-Match: * stored something");
    put(&client, &bucket, "k", b"first").await;
    put_if(&client, &bucket, "k", b"second".to_vec(), Some("*"), None).await.expect("If-Match: * over an existing key");
    assert_eq!(get(&client, &bucket, "k").await, b"second");
    let created = put_if(&client, &bucket, "k", b"third".to_vec(), None, Some("*")).await;
    assert_eq!(created, Err("PreconditionFailed".to_owned()));
    assert_eq!(get(&client, &bucket, "k").await, b"second");
}

#[tokio::test(flavor = "multi_thread")]
async fn complete_multipart_upload_honours_conditions() {
    let server = Server::start(4);
    let client = server.client();
    let bucket = new_bucket(&client, "cond").await;
    let key = "assembled";
    let upload_id = create_upload(&client, &bucket, key).await;
    let parts = vec![(1, upload_part(&client, &bucket, key, &upload_id, 1, b"part one").await)];
    let complete = || complete_request(&client, (&bucket, key), &upload_id, &parts);
    // Nothing under the key yet: If-Match (any or an ETag) fails, and the upload stays.
    let error = complete().if_match("*").send().await.expect_err("no object to match");
    assert_eq!(error_code(&error), "PreconditionFailed");
    let error = complete().if_match("\"0123\"").send().await.expect_err("no object to match");
    assert_eq!(error_code(&error), "NoSuchKey");
    put(&client, &bucket, key, b"exists").await;
    let error = complete().if_none_match("*").send().await.expect_err("the key exists");
    assert_eq!(error_code(&error), "PreconditionFailed");
    assert_eq!(get(&client, &bucket, key).await, b"exists");
    let done = complete().if_match("*").send().await.expect("the key exists now");
    assert!(done.e_tag().expect("etag").ends_with("-1\""));
    assert_eq!(get(&client, &bucket, key).await, b"part one");
}

/// Compare-and-swap: every round, WRITERS clients PUT with `If-Match: <current ETag>`;
/// exactly one wins, the others get 412, and the object holds the winner's bytes.
#[tokio::test(flavor = "multi_thread")]
async fn concurrent_compare_and_swap_has_one_winner_per_round() {
    let server = Server::start(4);
    let client = server.client();
    let bucket = new_bucket(&client, "cas").await;
    let mut etag = format!("\"{}\"", put(&client, &bucket, "counter", b"round 0").await);
    for round in 1..=ROUNDS {
        let attempts = (0..WRITERS).map(|writer| {
            let (client, bucket, etag) = (client.clone(), bucket.clone(), etag.clone());
            let body = format!("round {round} writer {writer}").into_bytes();
            tokio::spawn(async move { (writer, put_if(&client, &bucket, "counter", body, Some(&etag), None).await) })
        });
        let outcomes = futures::future::join_all(attempts).await;
        let mut winners = Vec::new();
        for outcome in outcomes {
            match outcome.expect("task") {
                (writer, Ok(new_etag)) => winners.push((writer, new_etag)),
                (_, Err(code)) => assert_eq!(code, "PreconditionFailed", "round {round}"),
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: {winners:?}");
        let (writer, new_etag) = winners.remove(0);
        assert_eq!(get(&client, &bucket, "counter").await, format!("round {round} writer {writer}").into_bytes());
        etag = new_etag;
    }
}

/// Create-once: every round, WRITERS clients PUT a fresh key with `If-None-Match: *`;
/// exactly one wins.
#[tokio::test(flavor = "multi_thread")]
async fn concurrent_create_if_absent_has_one_winner_per_round() {
    let server = Server::start(4);
    let client = server.client();
    let bucket = new_bucket(&client, "once").await;
    for round in 0..ROUNDS {
        let key = format!("lock-{round}");
        let attempts = (0..WRITERS).map(|writer| {
            let (client, bucket, key) = (client.clone(), bucket.clone(), key.clone());
            let body = format!("writer {writer}").into_bytes();
            tokio::spawn(async move { (writer, put_if(&client, &bucket, &key, body, None, Some("*")).await) })
        });
        let outcomes = futures::future::join_all(attempts).await;
        let mut winners = Vec::new();
        for outcome in outcomes {
            match outcome.expect("task") {
                (writer, Ok(_)) => winners.push(writer),
                (_, Err(code)) => assert_eq!(code, "PreconditionFailed", "round {round}"),
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: {winners:?}");
        assert_eq!(get(&client, &bucket, &key).await, format!("writer {}", winners[0]).into_bytes());
    }
}
