//! Prometheus metrics with MinIO's names: refused without a token, served with the
//! bearer JWT `mc admin prometheus generate` makes, or to anyone when configured public.

use crate::harness::*;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use std::io::{Read, Write};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long the scanner may take to count a bucket's objects.
const USAGE_TIMEOUT: Duration = Duration::from_secs(20);

/// A JWT as `mc admin prometheus generate` makes it: HS512 with the secret key.
fn prometheus_token(access_key: &str, secret_key: &str, lifetime_secs: i64) -> String {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_secs() as i64;
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS512","typ":"JWT"}"#);
    let claims = serde_json::json!({ "exp": now + lifetime_secs, "sub": access_key, "iss": "prometheus" });
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let mut mac = <Hmac<sha2::Sha512> as KeyInit>::new_from_slice(secret_key.as_bytes()).expect("key");
    mac.update(format!("{header}.{payload}").as_bytes());
    format!("{header}.{payload}.{}", URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
}

/// GET `path` with an optional bearer token; (status, body).
pub(crate) fn scrape(endpoint: &str, path: &str, token: Option<&str>) -> (u16, String) {
    let address = endpoint.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(address).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {address}\r\n{auth}Connection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    let status = response.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    (status, body)
}

/// The value of the sample whose line starts with `prefix` (name and labels).
pub(crate) fn sample(text: &str, prefix: &str) -> Option<f64> {
    text.lines().find(|l| l.starts_with(prefix)).and_then(|l| l.rsplit(' ').next()).and_then(|v| v.parse().ok())
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_need_a_token_and_use_minio_names() {
    let server = Server::start(4);
    let client = server.client();
    let bucket = new_bucket(&client, "metrics").await;
    for i in 0..3 {
        put(&client, &bucket, &format!("k{i}"), b"data").await;
    }
    // Two requests with a wrong secret: refused before any API, counted as rejected.
    let intruder = client_for(&server.endpoint, ACCESS_KEY, "not-the-secret");
    for _ in 0..2 {
        assert!(intruder.list_buckets().send().await.is_err());
    }
    assert_eq!(scrape(&server.endpoint, "/minio/v2/metrics/cluster", None).0, 403);
    let expired = prometheus_token(ACCESS_KEY, SECRET_KEY, -10);
    assert_eq!(scrape(&server.endpoint, "/minio/v2/metrics/cluster", Some(&expired)).0, 403);
    let forged = prometheus_token(ACCESS_KEY, "not-the-secret", 3600);
    assert_eq!(scrape(&server.endpoint, "/minio/v2/metrics/cluster", Some(&forged)).0, 403);

    let token = prometheus_token(ACCESS_KEY, SECRET_KEY, 3600);
    let (status, cluster) = scrape(&server.endpoint, "/minio/v2/metrics/cluster", Some(&token));
    assert_eq!(status, 200, "{cluster}");
    assert!(cluster.contains("# TYPE minio_cluster_drive_online_total gauge"), "{cluster}");
    assert_eq!(sample(&cluster, "minio_cluster_drive_online_total "), Some(4.0));
    assert_eq!(sample(&cluster, "minio_cluster_nodes_online_total "), Some(1.0));
    assert!(sample(&cluster, "minio_cluster_capacity_raw_total_bytes ").is_some_and(|v| v > 0.0));
    assert!(sample(&cluster, "minio_s3_requests_total{api=\"PutObject\"").is_some_and(|v| v >= 3.0), "{cluster}");
    assert!(cluster.contains("minio_s3_requests_ttfb_seconds_distribution{api=\"PutObject\",le=\"+Inf\",server=\""));
    assert!(sample(&cluster, "minio_s3_requests_rejected_auth_total{").is_some_and(|v| v >= 2.0), "{cluster}");
    let (status, node) = scrape(&server.endpoint, "/minio/v2/metrics/node", Some(&token));
    assert_eq!(status, 200);
    assert_eq!(node.lines().filter(|l| l.starts_with("minio_node_drive_total_bytes{")).count(), 4, "{node}");
    assert!(sample(&node, "minio_node_process_resident_memory_bytes ").is_some_and(|v| v > 0.0));
}

#[tokio::test(flavor = "multi_thread")]
async fn public_metrics_report_bucket_usage_from_the_scanner() {
    let dir = tempfile::tempdir().expect("temp dir");
    let env = [("CAIRN_PROMETHEUS_AUTH_TYPE", "public"), ("CAIRN_SCANNER_INTERVAL_SECS", "1")];
    let server = Server::start_in(dir, 4, &env);
    let client = server.client();
    let bucket = new_bucket(&client, "usage").await;
    for i in 0..3 {
        put(&client, &bucket, &format!("k{i}"), &[7u8; 1000]).await;
    }
    let objects = format!("minio_bucket_usage_object_total{{bucket=\"{bucket}\"}}");
    let bytes = format!("minio_bucket_usage_total_bytes{{bucket=\"{bucket}\"}}");
    let deadline = Instant::now() + USAGE_TIMEOUT;
    loop {
        let (status, text) = scrape(&server.endpoint, "/minio/v2/metrics/cluster", None);
        assert_eq!(status, 200);
        if sample(&text, &objects) == Some(3.0) {
            assert_eq!(sample(&text, &bytes), Some(3000.0));
            break;
        }
        assert!(Instant::now() < deadline, "the scanner did not count the bucket:\n{text}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Regression: the object layer counted shard files opened and deep scans (frames
/// verified, damage found and healed) but the metrics endpoint did not export them.
#[tokio::test(flavor = "multi_thread")]
async fn read_and_deep_scan_counters_are_exported() {
    let env = [("CAIRN_SCANNER_INTERVAL_SECS", "1")];
    let server = Server::start_in(tempfile::tempdir().expect("temp dir"), 4, &env);
    let client = server.client();
    let bucket = new_bucket(&client, "deepmetrics").await;
    let size = 3 << 20;
    let body = random_bytes(size);
    put(&client, &bucket, "cold", &body).await;
    assert_eq!(get(&client, &bucket, "cold").await, body);
    assert_eq!(crate::admin_config::import(&server.endpoint, "scanner deep=1s deep_speed=64MiB\n"), 200);
    let token = prometheus_token(ACCESS_KEY, SECRET_KEY, 600);
    let deadline = Instant::now() + USAGE_TIMEOUT;
    loop {
        let (status, text) = scrape(&server.endpoint, "/minio/v2/metrics/cluster", Some(&token));
        assert_eq!(status, 200);
        let value =
            |name: &str| sample(&text, &format!("{name} ")).unwrap_or_else(|| panic!("{name} missing:\n{text}"));
        assert!(value("cairn_read_shard_files_opened_total") >= 1.0, "{text}");
        assert_eq!(value("cairn_read_shards_corrupt_total"), 0.0);
        assert_eq!(value("cairn_scanner_deep_objects_damaged_total"), 0.0);
        if value("cairn_scanner_deep_scans_total") >= 1.0 {
            assert!(value("cairn_scanner_deep_objects_verified_total") >= 1.0, "{text}");
            assert!(value("cairn_scanner_deep_bytes_verified_total") >= size as f64, "{text}");
            assert!(value("cairn_scanner_scans_total") >= 1.0, "{text}");
            break;
        }
        assert!(Instant::now() < deadline, "no deep scan was counted:\n{text}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
