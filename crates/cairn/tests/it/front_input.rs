//! Requests the S3 front must refuse before they do anything: query subresources
//! Cairn does not serve, bodies shorter than declared, aws-chunked chunks too large
//! to hold.

use crate::harness::*;
use crate::raw_client::{connect, read_response};
use aws_sdk_s3::presigning::PresigningConfig;
use std::io::Write;
use std::time::Duration;

/// Regression: s3s routed `PUT /bucket?unknownthing` to CreateBucket and
/// `PUT /bucket/key?unknownthing` to PutObject, so a request for a feature Cairn lacks
/// succeeded and did something else.
#[tokio::test(flavor = "multi_thread")]
async fn unknown_subresources_are_refused_and_do_nothing() {
    let server = Server::start(4);
    let client = server.client();
    let endpoint = &server.endpoint;

    let (status, body) = signed_request(endpoint, "PUT", "/never-made?unknownthing", b"");
    assert_eq!(status, 501, "{}", String::from_utf8_lossy(&body));
    assert!(String::from_utf8_lossy(&body).contains("NotImplemented"), "{}", String::from_utf8_lossy(&body));
    let error = client.head_bucket().bucket("never-made").send().await.expect_err("no bucket was created");
    assert_eq!(error_status(&error), 404);

    let bucket = new_bucket(&client, "subresource").await;
    for query in ["unknownthing", "retention2=x", "uploads2", "VersionId=null"] {
        let (status, body) = signed_request(endpoint, "PUT", &format!("/{bucket}/key?{query}"), b"payload");
        assert_eq!(status, 501, "?{query}: {}", String::from_utf8_lossy(&body));
        let error = client.head_object().bucket(&bucket).key("key").send().await.expect_err("nothing stored");
        assert_eq!(error_status(&error), 404, "?{query}");
    }
    let (status, _) = signed_request(endpoint, "DELETE", &format!("/{bucket}?unknownthing"), b"");
    assert_eq!(status, 501);
    client.head_bucket().bucket(&bucket).send().await.expect("the bucket was not deleted");

    // What clients legitimately put in the query keeps working.
    let (status, body) = signed_request(endpoint, "PUT", &format!("/{bucket}/key?x-id=PutObject"), b"payload");
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let presigned = client
        .get_object()
        .bucket(&bucket)
        .key("key")
        .response_content_type("text/x-cairn")
        .presigned(PresigningConfig::expires_in(Duration::from_secs(60)).expect("config"))
        .await
        .expect("presign");
    let path = presigned.uri().trim_start_matches(endpoint.as_str()).to_owned();
    let (status, body) = raw_request(endpoint, "GET", &path, b"");
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(body, b"payload");
    let listed = client.list_objects_v2().bucket(&bucket).prefix("k").delimiter("/").max_keys(5).send().await;
    assert_eq!(listed.expect("list").key_count(), Some(1));
    let upload = client.create_multipart_upload().bucket(&bucket).key("multi").send().await.expect("create upload");
    let parts = client
        .list_parts()
        .bucket(&bucket)
        .key("multi")
        .upload_id(upload.upload_id().expect("id"))
        .max_parts(10)
        .send()
        .await;
    parts.expect("list parts");
    client.list_multipart_uploads().bucket(&bucket).max_uploads(10).send().await.expect("list uploads");
}

/// The head of a request `(method, path)` with `headers` (host and content-length among
/// them), signed by the root credentials over `payload`.
fn signed_head(
    endpoint: &str,
    (method, path): (&str, &str),
    headers: &[(&str, &str)],
    payload: aws_sigv4::http_request::SignableBody<'_>,
) -> String {
    let signing = sigv4_headers(endpoint, (ACCESS_KEY, SECRET_KEY), "us-east-1", (method, path), headers, payload);
    let mut head = format!("{method} {path} HTTP/1.1\r\n");
    for (name, value) in headers.iter().map(|(n, v)| (n.to_string(), v.to_string())).chain(signing) {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    head
}

/// Regression: a PUT whose body ended before its Content-Length was answered 500.
#[tokio::test(flavor = "multi_thread")]
async fn a_short_body_is_incomplete_and_stores_nothing() {
    let server = Server::start(4);
    let client = server.client();
    let bucket = new_bucket(&client, "short").await;
    let address = server.endpoint.trim_start_matches("http://");
    let upload = client.create_multipart_upload().bucket(&bucket).key("part").send().await.expect("create upload");
    let upload_id = upload.upload_id().expect("upload id");
    for (declared, sent) in [(100, 40), (2 << 20, 1 << 20), (12 << 20, 9 << 20)] {
        let body = random_bytes(declared);
        let length = declared.to_string();
        let headers = [("host", address), ("content-length", length.as_str())];
        let cases = [
            (format!("/{bucket}/unsigned-{declared}"), aws_sigv4::http_request::SignableBody::UnsignedPayload),
            (format!("/{bucket}/signed-{declared}"), aws_sigv4::http_request::SignableBody::Bytes(&body)),
            (
                format!("/{bucket}/part?partNumber=1&uploadId={upload_id}"),
                aws_sigv4::http_request::SignableBody::Bytes(&body),
            ),
        ];
        for (path, payload) in cases {
            let mut stream = connect(&server.endpoint);
            let head = signed_head(&server.endpoint, ("PUT", &path), &headers, payload);
            stream.write_all(head.as_bytes()).expect("head");
            stream.write_all(&body[..sent]).expect("short body");
            stream.shutdown(std::net::Shutdown::Write).expect("half close");
            let (status, text) = read_response(&mut stream);
            assert_eq!(status, 400, "{path}: {declared} declared, {sent} sent: {text}");
            assert!(text.contains("IncompleteBody"), "{text}");
        }
        for key in [format!("unsigned-{declared}"), format!("signed-{declared}")] {
            let error = client.head_object().bucket(&bucket).key(&key).send().await.expect_err("nothing stored");
            assert_eq!(error_status(&error), 404);
        }
    }
    let parts = client.list_parts().bucket(&bucket).key("part").upload_id(upload_id).send().await.expect("parts");
    assert!(parts.parts().is_empty(), "a short part was stored: {parts:?}");

    // Bodies s3s reads itself (XML): a short DeleteObjects deletes nothing, a short
    // CompleteMultipartUpload completes nothing.
    put(&client, &bucket, "survivor", b"x").await;
    let delete = b"<Delete><Object><Key>survivor</Key></Object></Delete>".to_vec();
    let complete = b"<CompleteMultipartUpload></CompleteMultipartUpload>".to_vec();
    let requests = [
        ("POST", format!("/{bucket}?delete"), delete),
        ("POST", format!("/{bucket}/part?uploadId={upload_id}"), complete),
    ];
    for (method, path, body) in requests {
        let length = body.len().to_string();
        let headers = [("host", address), ("content-length", length.as_str())];
        let payload = aws_sigv4::http_request::SignableBody::Bytes(&body);
        let head = signed_head(&server.endpoint, (method, &path), &headers, payload);
        let mut stream = connect(&server.endpoint);
        stream.write_all(head.as_bytes()).expect("head");
        stream.write_all(&body[..body.len() / 2]).expect("short body");
        stream.shutdown(std::net::Shutdown::Write).expect("half close");
        let (status, text) = read_response(&mut stream);
        assert_eq!(status, 400, "{method} {path}: {text}");
        assert!(text.contains("IncompleteBody"), "{text}");
    }
    assert_eq!(get(&client, &bucket, "survivor").await, b"x");
    client
        .list_parts()
        .bucket(&bucket)
        .key("part")
        .upload_id(upload_id)
        .send()
        .await
        .expect("the upload is still there");
}

/// The signed head of an aws-chunked request `(method, path)` of `length` bytes whose
/// decoded content claims ~4 GiB.
fn huge_chunk_head(endpoint: &str, (method, path): (&str, &str), length: usize) -> String {
    let length = length.to_string();
    let headers = [
        ("host", endpoint.trim_start_matches("http://")),
        ("content-length", length.as_str()),
        ("content-encoding", "aws-chunked"),
        ("x-amz-decoded-content-length", "4294967280"),
    ];
    let streaming = aws_sigv4::http_request::SignableBody::Precomputed("STREAMING-AWS4-HMAC-SHA256-PAYLOAD".into());
    signed_head(endpoint, (method, path), &headers, streaming)
}

/// Regression: s3s held a whole aws-chunked chunk in memory before checking its
/// signature, of any size its header declared (up to 4 GiB), so one request could make
/// the server allocate gigabytes.
#[tokio::test(flavor = "multi_thread")]
async fn a_huge_aws_chunked_chunk_is_refused_before_it_is_held() {
    /// What the client sends of the chunk it declares: far more than the server may hold.
    const SENT_BYTES: usize = 128 << 20;
    /// Growth of the server's resident memory allowed while it receives that.
    const RSS_GROWTH_BYTES_MAX: u64 = 48 << 20;
    let server = Server::start(4);
    let client = server.client();
    let bucket = new_bucket(&client, "chunked").await;
    let endpoint = &server.endpoint;
    let path = format!("/{bucket}/huge");
    let chunk_header = format!("FFFFFFF0;chunk-signature={}\r\n", "0".repeat(64));
    let head = huge_chunk_head(endpoint, ("PUT", &path), chunk_header.len() + SENT_BYTES);

    let rss_before = crate::abuse::rss_bytes(&server);
    let mut stream = connect(endpoint);
    stream.write_all(head.as_bytes()).expect("head");
    stream.write_all(chunk_header.as_bytes()).expect("chunk header");
    let piece = vec![b'a'; 1 << 20];
    for _ in 0..SENT_BYTES / piece.len() {
        if stream.write_all(&piece).is_err() {
            break;
        }
    }
    let rss_after = crate::abuse::rss_bytes(&server);
    let growth = rss_after.saturating_sub(rss_before);
    eprintln!("server RSS {} MiB -> {} MiB while receiving the chunk", rss_before >> 20, rss_after >> 20);
    assert!(growth < RSS_GROWTH_BYTES_MAX, "the server's memory grew by {} MiB", growth >> 20);
    let (status, text) = read_response(&mut stream);
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("InvalidRequest") && text.contains("chunk"), "{text}");
    let error = client.head_object().bucket(&bucket).key("huge").send().await.expect_err("nothing stored");
    assert_eq!(error_status(&error), 404);

    // The same chunk in a body s3s reads itself (XML) is refused as the client's fault too.
    put(&client, &bucket, "survivor", b"x").await;
    let path = format!("/{bucket}?delete");
    let mut body = chunk_header.into_bytes();
    body.extend_from_slice(&[b'a'; 1024]);
    let mut stream = connect(endpoint);
    stream.write_all(huge_chunk_head(endpoint, ("POST", &path), body.len()).as_bytes()).expect("head");
    stream.write_all(&body).expect("body");
    let (status, text) = read_response(&mut stream);
    assert_eq!(status, 400, "{text}");
    assert_eq!(get(&client, &bucket, "survivor").await, b"x");
}
