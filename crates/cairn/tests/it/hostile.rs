//! Hostile input: keys that try to escape, oversized names, malformed XML,
//! truncated bodies. Each gets a clear error and nothing is lost or escapes.

use crate::harness::*;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use std::io::{Read, Write};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread")]
async fn escaping_and_reserved_keys_are_refused() {
    let server = Server::start(4);
    let client = server.client();
    let bucket = new_bucket(&client, "hostile").await;
    put(&client, &bucket, "keep", b"precious").await;
    for key in ["../escape", "a/../../escape", "a//b", "a/./b", "nul\0byte", "x/xl.meta", "trick__XLDIR__/y"] {
        let result = client.put_object().bucket(&bucket).key(key).body(ByteStream::from_static(b"evil")).send().await;
        let error = result.expect_err(&format!("{key:?} must be refused"));
        assert_eq!(error_status(&error), 400, "{key:?}: {error:?}");
    }
    let long = "k".repeat(1025);
    let error = client
        .put_object()
        .bucket(&bucket)
        .key(&long)
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .expect_err("too long");
    assert_eq!(error_code(&error), "KeyTooLongError");
    let long_segment = format!("dir/{}", "s".repeat(300));
    let error = client
        .put_object()
        .bucket(&bucket)
        .key(&long_segment)
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .expect_err("segment too long");
    assert_eq!(error_code(&error), "KeyTooLongError");

    for ok in ["back\\slash", "日本語/キー", "trailing/", "spaces in key", "a/b/c/d/e/f/g"] {
        put(&client, &bucket, ok, ok.as_bytes()).await;
        assert_eq!(get(&client, &bucket, ok).await, ok.as_bytes());
    }
    assert_eq!(get(&client, &bucket, "keep").await, b"precious");
    for entry in std::fs::read_dir(server.dir.path()).expect("read dir").flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        assert!(name.starts_with('d') || name == "server.log", "something escaped the drives: {name}");
    }
    for drive in 1..=4 {
        let root = server.drive(drive);
        let names: Vec<String> = std::fs::read_dir(&root)
            .expect("drive")
            .flatten()
            .map(|e| e.file_name().to_string_lossy().to_string())
            .collect();
        assert!(names.iter().all(|n| n == ".cairn.sys" || n == &bucket), "drive {drive} has {names:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_xml_is_refused() {
    let server = Server::start(4);
    let client = server.client();
    let bucket = new_bucket(&client, "xml").await;
    put(&client, &bucket, "survivor", b"x").await;
    let path = format!("/{bucket}?delete");
    for body in [&b"<Delete><Object><Key>survivor"[..], b"not xml at all", b"<Delete></Wrong>"] {
        let (status, response) = signed_request(&server.endpoint, "POST", &path, body);
        assert_eq!(status, 400, "body {:?} gave {}", String::from_utf8_lossy(body), String::from_utf8_lossy(&response));
        assert!(String::from_utf8_lossy(&response).contains("MalformedXML"), "{}", String::from_utf8_lossy(&response));
    }
    assert_eq!(get(&client, &bucket, "survivor").await, b"x");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_abandoned_upload_commits_nothing_and_leaves_no_staging() {
    let server = Server::start(4);
    let client = server.client();
    let bucket = new_bucket(&client, "abandon").await;
    let presigned = client
        .put_object()
        .bucket(&bucket)
        .key("half")
        .presigned(PresigningConfig::expires_in(Duration::from_secs(60)).expect("config"))
        .await
        .expect("presign");
    let address = server.endpoint.trim_start_matches("http://").to_owned();
    let path = presigned.uri().trim_start_matches(&server.endpoint).to_owned();
    let declared = 8 << 20;
    {
        let mut stream = std::net::TcpStream::connect(&address).expect("connect");
        let head = format!("PUT {path} HTTP/1.1\r\nHost: {address}\r\nContent-Length: {declared}\r\n\r\n");
        stream.write_all(head.as_bytes()).expect("head");
        stream.write_all(&random_bytes(3 << 20)).expect("partial body");
        stream.flush().expect("flush");
        std::thread::sleep(Duration::from_millis(300));
        // The client goes away with 5 MiB still owed.
    }
    let mut clean = false;
    for _ in 0..100 {
        let staged: usize = (1..=4).map(|d| files_below(&server.drive(d).join(".cairn.sys/tmp")).len()).sum();
        if staged == 0 {
            clean = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(clean, "staging files were left behind");
    let error = client.head_object().bucket(&bucket).key("half").send().await.expect_err("nothing committed");
    assert_eq!(error_status(&error), 404);

    // The same for a body that is simply shorter than declared, with the connection kept open.
    let mut stream = std::net::TcpStream::connect(&address).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
    let head = format!("PUT {path} HTTP/1.1\r\nHost: {address}\r\nContent-Length: 100\r\n\r\n");
    stream.write_all(head.as_bytes()).expect("head");
    stream.write_all(&[7u8; 40]).expect("short body");
    stream.shutdown(std::net::Shutdown::Write).expect("half close");
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let error = client.head_object().bucket(&bucket).key("half").send().await.expect_err("nothing committed");
    assert_eq!(error_status(&error), 404);
}

/// Regression: an error sent before the body was read left the connection open, and a
/// client's next request on it (boto3's pool) found it closed.
#[tokio::test(flavor = "multi_thread")]
async fn early_errors_close_the_connection() {
    let server = Server::start(4);
    let address = server.endpoint.trim_start_matches("http://").to_owned();
    let mut stream = std::net::TcpStream::connect(&address).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let body = random_bytes(1 << 20);
    let head = format!("PUT /no-such-bucket/key HTTP/1.1\r\nHost: {address}\r\nContent-Length: {}\r\n\r\n", body.len());
    stream.write_all(head.as_bytes()).expect("head");
    let _ = stream.write_all(&body);
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let text = String::from_utf8_lossy(&response).to_ascii_lowercase();
    assert!(text.starts_with("http/1.1 403"), "{text}");
    assert!(text.contains("connection: close"), "{text}");
}

/// Regression (found by `fuzz_s3_requests`): a date with a byte below `'0'` where a
/// digit belongs overflowed s3s's digit parser and panicked the connection's task. It
/// is a clear 400 now, as header and as presigned parameter, and the server logs no panic.
#[tokio::test(flavor = "multi_thread")]
async fn malformed_amz_dates_are_refused_without_a_panic() {
    let server = Server::start(4);
    let client = server.client();
    let bucket = new_bucket(&client, "dates").await;
    let requests = [
        format!(
            "GET /{bucket}/k HTTP/1.1\r\nHost: x\r\nx-amz-date: 2026120/T185453Z\r\nauthorization: AWS4-HMAC-SHA256 Credential=a/20261201/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00\r\nConnection: close\r\n\r\n"
        ),
        presigned_with_date(&client, &bucket, "2026120%2FT185453Z").await,
    ];
    for request in &requests {
        let mut stream = crate::raw_client::connect(&server.endpoint);
        stream.write_all(request.as_bytes()).expect("send");
        let (status, text) = crate::raw_client::read_response(&mut stream);
        assert_eq!(status, 400, "{request}\n->\n{text}");
        assert!(text.contains("<Code>InvalidRequest</Code>"), "{request}\n->\n{text}");
    }
    put(&client, &bucket, "still", b"served").await;
    assert!(!server.log().contains("panicked"), "{}", server.log());
}

/// A GET request line and head for a presigned URL of `bucket/k` whose `X-Amz-Date` is
/// replaced by `date` (already percent-encoded).
async fn presigned_with_date(client: &aws_sdk_s3::Client, bucket: &str, date: &str) -> String {
    let presigning = PresigningConfig::expires_in(Duration::from_secs(60)).expect("presigning");
    let url = client.get_object().bucket(bucket).key("k").presigned(presigning).await.expect("presign");
    let uri: http::Uri = url.uri().parse().expect("uri");
    let query: Vec<String> = uri
        .query()
        .unwrap_or_default()
        .split('&')
        .map(|pair| if pair.starts_with("X-Amz-Date=") { format!("X-Amz-Date={date}") } else { pair.to_owned() })
        .collect();
    format!("GET {}?{} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", uri.path(), query.join("&"))
}
