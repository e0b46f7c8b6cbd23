//! Bucket quotas: `cairn quota set|info|clear` against a real server, and the limit
//! enforced on PUT, on multipart uploads (parts, and Complete with the parts it names)
//! and on concurrent writes racing for the last room; the room comes back once the
//! scanner has seen objects deleted.

use super::Cli;
use crate::harness::Server;
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use std::time::{Duration, Instant};

const QUOTA_ERROR: &str = "XMinioAdminBucketQuotaExceeded";
const KIB: usize = 1024;
/// A scanner interval long enough that no scan runs during a test.
const NO_SCAN: (&str, &str) = ("CAIRN_SCANNER_INTERVAL_SECS", "3600");
/// Bound on the scanner counting a deletion.
const SCAN_TIMEOUT: Duration = Duration::from_secs(60);

async fn put(client: &aws_sdk_s3::Client, bucket: &str, key: &str, size: usize) -> Result<(), String> {
    let body = ByteStream::from(vec![7u8; size]);
    match client.put_object().bucket(bucket).key(key).body(body).send().await {
        Ok(_) => Ok(()),
        Err(error) => Err(error.code().unwrap_or("no code").to_owned()),
    }
}

#[tokio::test]
async fn cli_quota_is_set_shown_enforced_and_cleared() {
    let server = Server::start_in(tempfile::tempdir().expect("temp dir"), 4, &[NO_SCAN]);
    let cli = Cli::with_alias("local", &server);
    cli.run(&["mb", "local/crm-quotes"]).ok();
    assert_eq!(cli.run(&["quota", "info", "local/crm-quotes"]).ok()[0]["quota"], serde_json::Value::Null);
    cli.run(&["quota", "set", "local/crm-quotes", "--size", "1MiB"]).ok();
    assert_eq!(cli.run(&["quota", "info", "local/crm-quotes"]).ok()[0]["quota"].as_u64(), Some(1 << 20));
    assert_eq!(cli.run(&["quota", "set", "local/nosuch", "--size", "1MiB"]).code, 3, "no such bucket");
    assert_eq!(cli.run(&["quota", "set", "local/crm-quotes", "--size", "lots"]).code, 2, "a bad size");

    let client = server.client();
    put(&client, "crm-quotes", "a.pdf", 600 * KIB).await.expect("within the quota");
    assert_eq!(put(&client, "crm-quotes", "b.pdf", 600 * KIB).await, Err(QUOTA_ERROR.into()));
    client.head_object().bucket("crm-quotes").key("b.pdf").send().await.expect_err("nothing stored");
    put(&client, "crm-quotes", "c.pdf", 400 * KIB).await.expect("what is left fits");

    cli.run(&["quota", "clear", "local/crm-quotes"]).ok();
    assert_eq!(cli.run(&["quota", "info", "local/crm-quotes"]).ok()[0]["quota"], serde_json::Value::Null);
    put(&client, "crm-quotes", "b.pdf", 600 * KIB).await.expect("no quota any more");
}

/// Uploads one part of `size` bytes; returns the upload id and the part, or the error code.
async fn one_part_upload(
    client: &aws_sdk_s3::Client,
    key: &str,
    size: usize,
) -> Result<(String, CompletedPart), String> {
    let upload = client.create_multipart_upload().bucket("crm-backups").key(key).send().await.expect("create");
    let id = upload.upload_id().expect("upload id").to_owned();
    let body = ByteStream::from(vec![1u8; size]);
    let sent = client.upload_part().bucket("crm-backups").key(key).upload_id(&id).part_number(1).body(body).send();
    let part = sent.await.map_err(|error| error.code().unwrap_or("no code").to_owned())?;
    Ok((id, CompletedPart::builder().part_number(1).set_e_tag(part.e_tag().map(str::to_owned)).build()))
}

async fn complete(client: &aws_sdk_s3::Client, key: &str, (id, part): (String, CompletedPart)) -> Result<(), String> {
    let parts = CompletedMultipartUpload::builder().parts(part).build();
    let sent = client.complete_multipart_upload().bucket("crm-backups").key(key).upload_id(id).multipart_upload(parts);
    sent.send().await.map(drop).map_err(|error| error.code().unwrap_or("no code").to_owned())
}

#[tokio::test]
async fn multipart_uploads_and_racing_writes_stay_within_the_quota() {
    let server = Server::start_in(tempfile::tempdir().expect("temp dir"), 4, &[NO_SCAN]);
    let cli = Cli::with_alias("local", &server);
    cli.run(&["mb", "local/crm-backups"]).ok();
    cli.run(&["quota", "set", "local/crm-backups", "--size", "2MiB"]).ok();
    let client = server.client();
    // Each part fits alone; the second Complete would take the bucket past its quota.
    let first = one_part_upload(&client, "first.tar", 1200 * KIB).await.expect("a part that fits");
    let second = one_part_upload(&client, "second.tar", 1200 * KIB).await.expect("a part that fits");
    complete(&client, "first.tar", first).await.expect("within the quota");
    assert_eq!(complete(&client, "second.tar", second).await, Err(QUOTA_ERROR.into()));
    client.head_object().bucket("crm-backups").key("second.tar").send().await.expect_err("not completed");
    assert_eq!(one_part_upload(&client, "third.tar", 1200 * KIB).await.err(), Some(QUOTA_ERROR.into()));

    // 848 KiB are left: of six writes of 300 KiB racing for them, exactly two fit.
    let racing = (0..6).map(|i| {
        let client = client.clone();
        tokio::spawn(async move { put(&client, "crm-backups", &format!("race-{i}"), 300 * KIB).await })
    });
    let results = futures::future::join_all(racing).await;
    let stored = results.iter().filter(|r| matches!(r, Ok(Ok(())))).count();
    let refused = results.iter().filter(|r| matches!(r, Ok(Err(code)) if code == QUOTA_ERROR)).count();
    assert_eq!((stored, refused), (2, 4), "{results:?}");
}

#[tokio::test]
async fn room_comes_back_once_the_scanner_sees_objects_deleted() {
    let env = [("CAIRN_SCANNER_INTERVAL_SECS", "1")];
    let server = Server::start_in(tempfile::tempdir().expect("temp dir"), 4, &env);
    let cli = Cli::with_alias("local", &server);
    cli.run(&["mb", "local/crm-temp"]).ok();
    cli.run(&["quota", "set", "local/crm-temp", "--size", "1MiB"]).ok();
    let client = server.client();
    put(&client, "crm-temp", "old.log", 900 * KIB).await.expect("within the quota");
    assert_eq!(put(&client, "crm-temp", "new.log", 900 * KIB).await, Err(QUOTA_ERROR.into()));
    client.delete_object().bucket("crm-temp").key("old.log").send().await.expect("delete");
    let deadline = Instant::now() + SCAN_TIMEOUT;
    loop {
        match put(&client, "crm-temp", "new.log", 900 * KIB).await {
            Ok(()) => break,
            Err(code) if code == QUOTA_ERROR && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(code) => panic!("the freed room never came back ({code}); log:\n{}", server.log()),
        }
    }
}
