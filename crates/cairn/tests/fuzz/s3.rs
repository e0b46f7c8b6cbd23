//! The S3 port under hostile requests: valid signed requests of every kind (header
//! and presigned SigV4, aws-chunked with signed chunks and with a trailer, XML and
//! JSON bodies, admin and metrics calls) with headers dropped, replaced or added and
//! bytes edited, sent raw over TCP. Every request gets an answer or a clean close,
//! nothing gets a 500, the server stays alive with bounded memory and keeps its
//! files inside its drives, and a normal client works afterwards.

use crate::harness::{ACCESS_KEY, SECRET_KEY, Server, get, put};
use crate::raw::RawRequest;
use crate::server::{assert_drives_contained, fuzz_server, send};
use crate::sign::{Payload, Signer};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, KeyInit, Mac};
use md5::{Digest, Md5};

/// Requests per run in a normal test run.
const CASES: u32 = 400;
/// A request to the server costs about this many cases of an in-process parser.
pub const REQUEST_COST: u32 = 100;
const BUCKET: &str = "fuzz";

const COMPLETE_XML: &str = r#"<CompleteMultipartUpload><Part><ETag>"a54357aff0632cce46d942af68356b38"</ETag><PartNumber>1</PartNumber></Part><Part><ETag>"0c78aef83f66abc1fa1e8477f296d394"</ETag><PartNumber>2</PartNumber></Part></CompleteMultipartUpload>"#;
const DELETE_XML: &str =
    r#"<Delete><Quiet>true</Quiet><Object><Key>gone-1</Key></Object><Object><Key>gone/2</Key></Object></Delete>"#;
const BUCKET_XML: &str =
    r#"<CreateBucketConfiguration><LocationConstraint>us-east-1</LocationConstraint></CreateBucketConfiguration>"#;
const POLICY_JSON: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":["*"]},"Action":["s3:GetObject"],"Resource":["arn:aws:s3:::fuzz/public/*"]}]}"#;

fn content_md5(body: &[u8]) -> String {
    STANDARD.encode(Md5::digest(body))
}

/// A token as `mc admin prometheus generate` makes it, for the metrics endpoint.
fn prometheus_token() -> String {
    let expiry = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs() + 3600;
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS512","typ":"JWT"}"#);
    let claims = URL_SAFE_NO_PAD.encode(format!(r#"{{"exp":{expiry},"sub":"{ACCESS_KEY}","iss":"prometheus"}}"#));
    let mut mac = <Hmac<sha2::Sha512> as KeyInit>::new_from_slice(SECRET_KEY.as_bytes()).expect("any key length");
    mac.update(format!("{header}.{claims}").as_bytes());
    format!("{header}.{claims}.{}", URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
}

/// Valid requests of every kind the S3 port serves.
fn seeds(signer: &Signer) -> Vec<RawRequest> {
    let body = b"hello fuzz".as_slice();
    let md5 = content_md5(body);
    let delete_md5 = content_md5(DELETE_XML.as_bytes());
    let upload = "0f5bd6a0-5a4b-4b8e-9e5b-3b3b2b7a1c11";
    let admin_body = cairn_madmin::encrypt_data_with(
        cairn_madmin::Algorithm::Pbkdf2Sha256Aes256Gcm,
        SECRET_KEY,
        br#"{"secretKey":"fuzz-user-secret","status":"enabled"}"#,
    )
    .expect("seal an admin body");
    let bearer = format!("Bearer {}", prometheus_token());
    let chunks: [&[u8]; 2] = [b"hello ", b"chunked world"];
    let put_headers = [
        ("content-type", "text/plain"),
        ("content-md5", md5.as_str()),
        ("x-amz-meta-color", "blue"),
        ("cache-control", "max-age=60"),
        ("x-amz-sdk-checksum-algorithm", "CRC32"),
    ];
    vec![
        signer.request("PUT", "/fuzz/put.txt", &put_headers, Payload::Signed(body)),
        signer.request("PUT", "/fuzz/unsigned.txt", &[("content-type", "a/b")], Payload::Unsigned(body)),
        signer.request("PUT", "/fuzz/chunked.txt", &[], Payload::SignedChunks(&chunks)),
        signer.request(
            "PUT",
            "/fuzz/trailer.txt",
            &[],
            Payload::UnsignedChunksWithTrailer(&[b"hello"], "x-amz-checksum-crc32:NhCmhg=="),
        ),
        signer.request(
            "GET",
            "/fuzz/seed.txt",
            &[("range", "bytes=0-3"), ("if-none-match", "\"x\"")],
            Payload::Signed(b""),
        ),
        signer.request(
            "HEAD",
            "/fuzz/seed.txt",
            &[("if-modified-since", "Wed, 21 Oct 2015 07:28:00 GMT")],
            Payload::Signed(b""),
        ),
        signer.request(
            "GET",
            "/fuzz?list-type=2&prefix=s&delimiter=%2F&max-keys=2&start-after=a",
            &[],
            Payload::Signed(b""),
        ),
        signer.request("GET", "/fuzz?uploads&prefix=m", &[], Payload::Signed(b"")),
        signer.request("GET", "/", &[], Payload::Signed(b"")),
        signer.request("POST", "/fuzz/mp.txt?uploads", &[("x-amz-checksum-algorithm", "SHA256")], Payload::Signed(b"")),
        signer.request("PUT", &format!("/fuzz/mp.txt?partNumber=1&uploadId={upload}"), &[], Payload::Unsigned(body)),
        signer.request(
            "POST",
            &format!("/fuzz/mp.txt?uploadId={upload}"),
            &[],
            Payload::Unsigned(COMPLETE_XML.as_bytes()),
        ),
        signer.request(
            "POST",
            "/fuzz?delete",
            &[("content-md5", delete_md5.as_str())],
            Payload::Unsigned(DELETE_XML.as_bytes()),
        ),
        signer.request("PUT", "/fuzz?policy", &[], Payload::Unsigned(POLICY_JSON.as_bytes())),
        signer.request("PUT", "/fuzz2", &[], Payload::Unsigned(BUCKET_XML.as_bytes())),
        signer.request(
            "PUT",
            "/fuzz/copy.txt",
            &[("x-amz-copy-source", "/fuzz/seed.txt"), ("x-amz-metadata-directive", "REPLACE")],
            Payload::Signed(b""),
        ),
        signer.request(
            "PUT",
            &format!("/fuzz/mp.txt?partNumber=2&uploadId={upload}"),
            &[("x-amz-copy-source", "fuzz/seed.txt"), ("x-amz-copy-source-range", "bytes=0-1")],
            Payload::Signed(b""),
        ),
        signer.request("DELETE", "/fuzz/put.txt", &[], Payload::Signed(b"")),
        signer.request("PUT", "/minio/admin/v3/add-user?accessKey=fuzz-user", &[], Payload::Unsigned(&admin_body)),
        signer.request("GET", "/minio/admin/v3/info", &[], Payload::Signed(b"")),
        signer.presigned("GET", "/fuzz/seed.txt"),
        signer.presigned("PUT", "/fuzz/presigned.txt?x-amz-checksum-crc32=NhCmhg%3D%3D"),
        RawRequest {
            method: "GET".into(),
            target: "/minio/v2/metrics/cluster".into(),
            headers: vec![("authorization".into(), bearer)],
            body: vec![],
        },
        RawRequest { method: "GET".into(), target: "/minio/health/cluster".into(), headers: vec![], body: vec![] },
        RawRequest { method: "GET".into(), target: "/fuzz/seed.txt".into(), headers: vec![], body: vec![] },
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn fuzz_s3_requests() {
    let server = Server::start(4);
    let address = server.endpoint.trim_start_matches("http://").to_owned();
    let client = server.client();
    client.create_bucket().bucket(BUCKET).send().await.expect("create the fuzz bucket");
    put(&client, BUCKET, "seed.txt", b"seed object").await;
    let signer = Signer::new(&address);
    let seeds = seeds(&signer);
    // Every seed must be a valid request, so that edits start from something that works.
    for (index, seed) in seeds.iter().enumerate() {
        let status = tokio::task::block_in_place(|| send(&address, seed));
        assert!(status.is_some_and(|s| s < 500), "seed {index} ({} {}) got {status:?}", seed.method, seed.target);
    }
    let cases = cairn_fuzz::cases_costing(CASES, REQUEST_COST);
    let make_seeds = || self::seeds(&Signer::new(&address));
    tokio::task::block_in_place(|| fuzz_server("s3_requests", &server, &make_seeds, cases));
    assert_drives_contained(&server);
    // A normal client still works.
    client.create_bucket().bucket("after-fuzz").send().await.expect("create a bucket after fuzzing");
    put(&client, "after-fuzz", "k", b"still fine").await;
    assert_eq!(get(&client, "after-fuzz", "k").await, b"still fine");
}
