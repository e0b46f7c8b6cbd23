//! Authentication: signatures, presigned URLs, anonymous requests, health endpoints.

use crate::harness::*;
use aws_sdk_s3::presigning::PresigningConfig;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread")]
async fn signatures_are_checked() {
    let server = Server::start(4);
    let client = server.client();
    let bucket = new_bucket(&client, "auth").await;
    put(&client, &bucket, "secret.txt", b"classified").await;

    let wrong_secret = client_for(&server.endpoint, ACCESS_KEY, "not-the-secret");
    let error = wrong_secret.get_object().bucket(&bucket).key("secret.txt").send().await.expect_err("bad signature");
    assert_eq!(error_code(&error), "SignatureDoesNotMatch");
    let unknown = client_for(&server.endpoint, "nobody", "whatever-secret");
    let error = unknown.list_buckets().send().await.expect_err("unknown key");
    assert_eq!(error_code(&error), "InvalidAccessKeyId");

    let (status, body) = raw_request(&server.endpoint, "GET", &format!("/{bucket}/secret.txt"), b"");
    assert_eq!(status, 403);
    assert!(String::from_utf8_lossy(&body).contains("AccessDenied"));
    let (status, _) = raw_request(&server.endpoint, "PUT", &format!("/{bucket}/anonymous"), b"data");
    assert_eq!(status, 403);
    assert!(client.head_object().bucket(&bucket).key("anonymous").send().await.is_err());
}

#[tokio::test(flavor = "multi_thread")]
async fn presigned_urls_work_until_they_expire() {
    let server = Server::start(4);
    let client = server.client();
    let bucket = new_bucket(&client, "presign").await;
    put(&client, &bucket, "shared.txt", b"shared bytes").await;
    let url = client
        .get_object()
        .bucket(&bucket)
        .key("shared.txt")
        .presigned(PresigningConfig::expires_in(Duration::from_secs(60)).expect("config"))
        .await
        .expect("presign");
    let path = url.uri().trim_start_matches(&server.endpoint).to_owned();
    let (status, body) = raw_request(&server.endpoint, "GET", &path, b"");
    assert_eq!((status, body.as_slice()), (200, &b"shared bytes"[..]));

    let put_url = client
        .put_object()
        .bucket(&bucket)
        .key("uploaded.txt")
        .presigned(PresigningConfig::expires_in(Duration::from_secs(60)).expect("config"))
        .await
        .expect("presign");
    let path = put_url.uri().trim_start_matches(&server.endpoint).to_owned();
    let (status, _) = raw_request(&server.endpoint, "PUT", &path, b"via presigned put");
    assert_eq!(status, 200);
    assert_eq!(get(&client, &bucket, "uploaded.txt").await, b"via presigned put");

    let short = client
        .get_object()
        .bucket(&bucket)
        .key("shared.txt")
        .presigned(PresigningConfig::expires_in(Duration::from_secs(1)).expect("config"))
        .await
        .expect("presign");
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let path = short.uri().trim_start_matches(&server.endpoint).to_owned();
    let (status, body) = raw_request(&server.endpoint, "GET", &path, b"");
    assert_eq!(status, 403, "{}", String::from_utf8_lossy(&body));
}

#[tokio::test(flavor = "multi_thread")]
async fn health_endpoints_and_request_ids() {
    let server = Server::start(4);
    for path in ["/minio/health/live", "/minio/health/ready", "/minio/health/cluster", "/minio/health/cluster/read"] {
        let (status, _) = raw_request(&server.endpoint, "GET", path, b"");
        assert_eq!(status, 200, "{path}");
    }
    let (status, _) = raw_request(&server.endpoint, "GET", "/minio/health/unknown", b"");
    assert_eq!(status, 404);
    let client = server.client();
    let output = client.list_buckets().send().await.expect("list");
    assert!(aws_sdk_s3::operation::RequestId::request_id(&output).is_some_and(|id| !id.is_empty()));
    let log = server.log();
    assert!(
        log.contains("request_id=")
            && log.contains("method=GET")
            && log.contains("status=200")
            && log.contains("duration_us="),
        "{log}"
    );
}
