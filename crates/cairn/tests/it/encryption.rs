//! Encryption at rest with aws-sdk-s3: SSE-S3 (the server's master key from
//! `CAIRN_KMS_SECRET_KEY`), bucket default encryption, SSE-C, copies and multipart, and
//! master key rotation. Every test also looks at the drives: what a client sent must
//! not be found there in the clear.

use crate::admin_config::import;
use crate::harness::*;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    CompletedMultipartUpload, CompletedPart, ServerSideEncryption, ServerSideEncryptionByDefault,
    ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use md5::Digest;

const MIB: usize = 1 << 20;

/// A master key setting (`name:base64` of 32 bytes).
fn master_key(name: &str, byte: u8) -> String {
    format!("{name}:{}", BASE64.encode([byte; 32]))
}

/// Text in which `marker` recurs, so that a drive holding it in the clear is caught.
fn marked(len: usize, marker: &str) -> Vec<u8> {
    text_of(len, |row| format!("{marker} row {row:08}\n"))
}

/// Whether any file under the server's drives holds `needle`.
fn on_drives(server: &Server, needle: &str) -> bool {
    (1..=server.drive_count).flat_map(|n| files_below(&server.drive(n))).any(|path| {
        let bytes = std::fs::read(&path).unwrap_or_default();
        bytes.windows(needle.len()).any(|window| window == needle.as_bytes())
    })
}

/// A bucket encryption configuration: SSE-S3 for writes that ask for nothing.
fn sse_s3_by_default() -> ServerSideEncryptionConfiguration {
    let rule = ServerSideEncryptionRule::builder()
        .apply_server_side_encryption_by_default(
            ServerSideEncryptionByDefault::builder().sse_algorithm(ServerSideEncryption::Aes256).build().expect("rule"),
        )
        .build();
    ServerSideEncryptionConfiguration::builder().rules(rule).build().expect("configuration")
}

/// A customer key's three SSE-C values: algorithm, key and key MD5 (base64).
struct CustomerKey {
    key: String,
    md5: String,
}

/// `$builder` with SSE-C's three values of `$key`.
macro_rules! with_key {
    ($builder:expr, $key:expr) => {
        $builder.sse_customer_algorithm("AES256").sse_customer_key(&$key.key).sse_customer_key_md5(&$key.md5)
    };
}

/// The object `key` read whole with a customer key.
async fn get_with(client: &aws_sdk_s3::Client, bucket: &str, key: &str, customer: &CustomerKey) -> Vec<u8> {
    let output =
        with_key!(client.get_object().bucket(bucket).key(key), customer).send().await.expect("get with the key");
    output.body.collect().await.expect("body").into_bytes().to_vec()
}

fn customer_key(byte: u8) -> CustomerKey {
    let key = [byte; 32];
    CustomerKey { key: BASE64.encode(key), md5: BASE64.encode(md5::Md5::digest(key)) }
}

#[tokio::test(flavor = "multi_thread")]
async fn sse_s3_objects_are_sealed_on_the_drives_and_read_as_sent() {
    let key = master_key("cairn-1", 1);
    let server = Server::start_in(tempfile::tempdir().expect("dir"), 4, &[("CAIRN_KMS_SECRET_KEY", &key)]);
    let client = server.client();
    let bucket = new_bucket(&client, "sse").await;
    let secret = marked(3 * MIB + 777, "SECRET-SSE-S3");
    let small = marked(900, "SECRET-INLINE");
    let plain = marked(64 << 10, "PLAIN-CONTROL");

    let sent = client
        .put_object()
        .bucket(&bucket)
        .key("big.bin")
        .server_side_encryption(ServerSideEncryption::Aes256)
        .body(ByteStream::from(secret.clone()))
        .send()
        .await
        .expect("put");
    assert_eq!(sent.server_side_encryption(), Some(&ServerSideEncryption::Aes256));
    assert_eq!(sent.e_tag().map(|e| e.trim_matches('"').to_owned()), Some(md5_hex(&secret)), "ETag of the plaintext");
    client
        .put_object()
        .bucket(&bucket)
        .key("small.txt")
        .server_side_encryption(ServerSideEncryption::Aes256)
        .body(ByteStream::from(small.clone()))
        .send()
        .await
        .expect("put inline");
    put(&client, &bucket, "plain.txt", &plain).await;

    assert!(get(&client, &bucket, "big.bin").await == secret);
    assert!(get(&client, &bucket, "small.txt").await == small);
    let package = 64 << 10;
    for (from, to) in [(0, 1), (package - 3, package + 3), (MIB - 1, MIB + 1), (secret.len() - 5, secret.len())] {
        assert!(get_range(&client, &bucket, "big.bin", from, to).await == secret[from..to], "{from}..{to}");
    }
    let head = client.head_object().bucket(&bucket).key("big.bin").send().await.expect("head");
    assert_eq!(head.server_side_encryption(), Some(&ServerSideEncryption::Aes256));
    assert_eq!(head.content_length(), Some(secret.len() as i64));
    let listed = client.list_objects_v2().bucket(&bucket).send().await.expect("list");
    let sizes: Vec<i64> = listed.contents().iter().filter_map(|o| o.size()).collect();
    assert!(sizes.contains(&(secret.len() as i64)), "listings show the plaintext size: {sizes:?}");
    let plain_head = client.head_object().bucket(&bucket).key("plain.txt").send().await.expect("head");
    assert_eq!(plain_head.server_side_encryption(), None, "a plain object says nothing");

    // At rest: the plain object is found in the clear, the encrypted ones are not.
    assert!(on_drives(&server, "PLAIN-CONTROL"), "the control object is stored as sent");
    assert!(!on_drives(&server, "SECRET-SSE-S3"), "SSE-S3 data is on a drive in the clear");
    assert!(!on_drives(&server, "SECRET-INLINE"), "inline SSE-S3 data is in xl.meta in the clear");
    // The key itself is never stored.
    assert!(!on_drives(&server, &BASE64.encode([1u8; 32])), "the master key is on a drive");

    // SSE-KMS is not built: refused, nothing stored.
    let kms = client
        .put_object()
        .bucket(&bucket)
        .key("kms")
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .expect_err("aws:kms is refused");
    assert_eq!((error_status(&kms), error_code(&kms).as_str()), (501, "NotImplemented"));
    assert!(client.head_object().bucket(&bucket).key("kms").send().await.is_err());
}

#[tokio::test(flavor = "multi_thread")]
async fn compressed_multipart_and_copied_objects_are_encrypted_too() {
    let key = master_key("cairn-1", 1);
    let server = Server::start_in(tempfile::tempdir().expect("dir"), 4, &[("CAIRN_KMS_SECRET_KEY", &key)]);
    let client = server.client();
    let bucket = new_bucket(&client, "sse-mix").await;
    let csv = marked(2 * MIB + 99, "SECRET-CSV");
    let put_sealed = |key: &'static str| {
        let body = ByteStream::from(csv.clone());
        client.put_object().bucket(&bucket).key(key).server_side_encryption(ServerSideEncryption::Aes256).body(body)
    };
    let stored_part = |key: &str| {
        let meta = meta_on(&server.drive(1), &bucket, key).expect("meta");
        cairn_meta::ObjectMeta::decode(&meta).expect("decodes").versions.remove(0).parts.remove(0)
    };
    // As in MinIO, encrypted objects are not compressed unless allow_encryption says so.
    assert_eq!(import(&server.endpoint, "compression enable=on extensions=.csv mime_types=text/csv\n"), 200);
    put_sealed("first.csv").send().await.expect("put csv");
    let part = stored_part("first.csv");
    assert!(part.compression.is_none() && part.encryption.is_some(), "{part:?}");
    let rule = "compression enable=on extensions=.csv mime_types=text/csv allow_encryption=on\n";
    assert_eq!(import(&server.endpoint, rule), 200);

    // Compressed, then encrypted: the stored part says both.
    put_sealed("export.csv").send().await.expect("put csv");
    let part = &stored_part("export.csv");
    assert!(part.compression.is_some() && part.encryption.is_some(), "{part:?}");
    assert!(part.stored_size() < csv.len() as u64 / 2, "compressed before it was sealed: {}", part.stored_size());
    assert!(get(&client, &bucket, "export.csv").await == csv);
    assert!(get_range(&client, &bucket, "export.csv", MIB - 10, MIB + 10).await == csv[MIB - 10..MIB + 10]);

    // Multipart: every part sealed with the upload's key; a part sent twice is fine.
    let parts = [marked(5 * MIB, "SECRET-PART-1"), marked(MIB + 3, "SECRET-PART-2")];
    let upload = client
        .create_multipart_upload()
        .bucket(&bucket)
        .key("multi.bin")
        .server_side_encryption(ServerSideEncryption::Aes256)
        .send()
        .await
        .expect("create");
    assert_eq!(upload.server_side_encryption(), Some(&ServerSideEncryption::Aes256));
    let id = upload.upload_id().expect("id");
    let mut completed = Vec::new();
    for (number, body) in [(1, &parts[0]), (2, &parts[1]), (2, &parts[1])] {
        let part = client
            .upload_part()
            .bucket(&bucket)
            .key("multi.bin")
            .upload_id(id)
            .part_number(number)
            .body(ByteStream::from(body.clone()))
            .send()
            .await
            .expect("part");
        assert_eq!(part.server_side_encryption(), Some(&ServerSideEncryption::Aes256));
        completed.retain(|p: &CompletedPart| p.part_number() != Some(number));
        completed.push(CompletedPart::builder().part_number(number).e_tag(part.e_tag().expect("etag")).build());
    }
    let done = client
        .complete_multipart_upload()
        .bucket(&bucket)
        .key("multi.bin")
        .upload_id(id)
        .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(completed)).build())
        .send()
        .await
        .expect("complete");
    assert_eq!(done.server_side_encryption(), Some(&ServerSideEncryption::Aes256));
    let whole = [parts[0].clone(), parts[1].clone()].concat();
    assert!(get(&client, &bucket, "multi.bin").await == whole);
    assert!(
        get_range(&client, &bucket, "multi.bin", 5 * MIB - 7, 5 * MIB + 7).await == whole[5 * MIB - 7..5 * MIB + 7]
    );

    // Copies: a plain source into an encrypted target, and back out in the clear.
    let plain = marked(300 << 10, "COPY-SOURCE");
    put(&client, &bucket, "plain.bin", &plain).await;
    let copied = client
        .copy_object()
        .bucket(&bucket)
        .key("sealed-copy.bin")
        .copy_source(format!("{bucket}/plain.bin"))
        .server_side_encryption(ServerSideEncryption::Aes256)
        .send()
        .await
        .expect("copy into SSE-S3");
    assert_eq!(copied.server_side_encryption(), Some(&ServerSideEncryption::Aes256));
    let back = client
        .copy_object()
        .bucket(&bucket)
        .key("clear-copy.bin")
        .copy_source(format!("{bucket}/multi.bin"))
        .send()
        .await
        .expect("copy out of SSE-S3");
    assert_eq!(back.server_side_encryption(), None, "a copy without SSE is stored as the bucket's default says");
    assert!(get(&client, &bucket, "sealed-copy.bin").await == plain);
    assert!(get(&client, &bucket, "clear-copy.bin").await == whole);
    for marker in ["SECRET-CSV", "SECRET-PART-1", "SECRET-PART-2"] {
        // The clear copy holds the parts' text; only its own files may.
        let sealed_only = marker == "SECRET-CSV";
        assert_eq!(on_drives(&server, marker), !sealed_only, "{marker}");
    }

    // Heal and bitrot checks see encrypted parts as any other: a lost drive is rebuilt.
    server.delete_drive(2);
    crate::heal::heal(&server.endpoint, "recursive=true");
    assert!(meta_on(&server.drive(2), &bucket, "multi.bin").is_some(), "healed back onto drive 2");
    server.delete_drive(1);
    assert!(get(&client, &bucket, "multi.bin").await == whole, "read from the healed drive and parity");
}

#[tokio::test(flavor = "multi_thread")]
async fn bucket_default_encryption_applies_to_writes_that_ask_for_none() {
    let key = master_key("cairn-1", 1);
    let server = Server::start_in(tempfile::tempdir().expect("dir"), 4, &[("CAIRN_KMS_SECRET_KEY", &key)]);
    let client = server.client();
    let bucket = new_bucket(&client, "sse-default").await;
    let missing = client.get_bucket_encryption().bucket(&bucket).send().await.expect_err("none yet");
    assert_eq!(error_code(&missing), "ServerSideEncryptionConfigurationNotFoundError");

    let configuration = sse_s3_by_default();
    client
        .put_bucket_encryption()
        .bucket(&bucket)
        .server_side_encryption_configuration(configuration)
        .send()
        .await
        .expect("put bucket encryption");
    let got = client.get_bucket_encryption().bucket(&bucket).send().await.expect("get");
    let algorithm = got
        .server_side_encryption_configuration()
        .and_then(|c| c.rules().first())
        .and_then(|r| r.apply_server_side_encryption_by_default())
        .map(|d| d.sse_algorithm().clone());
    assert_eq!(algorithm, Some(ServerSideEncryption::Aes256));

    let body = marked(200 << 10, "DEFAULT-SEALED");
    let sent = client.put_object().bucket(&bucket).key("k").body(ByteStream::from(body.clone())).send().await;
    assert_eq!(sent.expect("put").server_side_encryption(), Some(&ServerSideEncryption::Aes256));
    assert!(get(&client, &bucket, "k").await == body);
    assert!(!on_drives(&server, "DEFAULT-SEALED"));

    client.delete_bucket_encryption().bucket(&bucket).send().await.expect("delete");
    assert!(client.get_bucket_encryption().bucket(&bucket).send().await.is_err());
    let after = client.put_object().bucket(&bucket).key("later").body(ByteStream::from_static(b"x")).send().await;
    assert_eq!(after.expect("put").server_side_encryption(), None);
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_master_key_sse_s3_is_refused_and_nothing_is_stored() {
    let server = Server::start(4);
    let client = server.client();
    let bucket = new_bucket(&client, "no-kms").await;
    let refused = client
        .put_object()
        .bucket(&bucket)
        .key("k")
        .server_side_encryption(ServerSideEncryption::Aes256)
        .body(ByteStream::from_static(b"secret"))
        .send()
        .await
        .expect_err("no master key");
    assert_eq!((error_status(&refused), error_code(&refused).as_str()), (501, "NotImplemented"));
    assert!(client.head_object().bucket(&bucket).key("k").send().await.is_err(), "nothing stored");
    let configuration = sse_s3_by_default();
    let default = client
        .put_bucket_encryption()
        .bucket(&bucket)
        .server_side_encryption_configuration(configuration)
        .send()
        .await
        .expect_err("no master key for a default either");
    assert_eq!(error_status(&default), 501);
}

#[tokio::test(flavor = "multi_thread")]
async fn sse_c_objects_need_their_key_which_is_never_stored() {
    let server = Server::start(4);
    let client = server.client();
    let bucket = new_bucket(&client, "sse-c").await;
    let (mine, other) = (customer_key(7), customer_key(8));
    let body = marked(MIB + 5, "SECRET-SSE-C");
    let put_c = client.put_object().bucket(&bucket).key("c.bin").body(ByteStream::from(body.clone()));
    let sent = with_key!(put_c, mine).send().await.expect("put");
    assert_eq!(sent.sse_customer_key_md5(), Some(mine.md5.as_str()));

    let ranged = with_key!(client.get_object().bucket(&bucket).key("c.bin").range("bytes=1000-70000"), mine);
    let got = ranged.send().await.expect("get with the key");
    assert_eq!(got.sse_customer_algorithm(), Some("AES256"));
    assert!(got.body.collect().await.expect("body").into_bytes()[..] == body[1000..=70000]);
    let without = client.get_object().bucket(&bucket).key("c.bin").send().await.expect_err("no key");
    assert_eq!((error_status(&without), error_code(&without).as_str()), (400, "InvalidRequest"));
    let wrong = with_key!(client.get_object().bucket(&bucket).key("c.bin"), other).send().await.expect_err("wrong key");
    assert_eq!(error_status(&wrong), 403);
    let head = client.head_object().bucket(&bucket).key("c.bin").send().await.expect_err("HEAD needs the key too");
    assert_eq!(error_status(&head), 400);
    let head = with_key!(client.head_object().bucket(&bucket).key("c.bin"), mine).send().await.expect("HEAD");
    assert_eq!(head.content_length(), Some(body.len() as i64));
    let bad_md5 = client
        .put_object()
        .bucket(&bucket)
        .key("bad")
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&mine.key)
        .sse_customer_key_md5(&other.md5)
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .expect_err("MD5 of another key");
    assert_eq!(error_status(&bad_md5), 400);

    // A copy opens the source with its key and seals the target with another.
    let copy = client
        .copy_object()
        .bucket(&bucket)
        .key("copy.bin")
        .copy_source(format!("{bucket}/c.bin"))
        .copy_source_sse_customer_algorithm("AES256")
        .copy_source_sse_customer_key(&mine.key)
        .copy_source_sse_customer_key_md5(&mine.md5);
    with_key!(copy, other).send().await.expect("copy");
    assert!(get_with(&client, &bucket, "copy.bin", &other).await == body);

    // Multipart: every part carries the key; a part without it is refused.
    let create = with_key!(client.create_multipart_upload().bucket(&bucket).key("mp.bin"), mine);
    let upload = create.send().await.expect("create");
    let id = upload.upload_id().expect("id");
    let part = |body: Vec<u8>| {
        client.upload_part().bucket(&bucket).key("mp.bin").upload_id(id).part_number(1).body(ByteStream::from(body))
    };
    let keyless = part(b"x".to_vec()).send().await.expect_err("a part without the key");
    assert_eq!(error_status(&keyless), 400);
    let uploaded = with_key!(part(body.clone()), mine).send().await.expect("part");
    let parts = CompletedPart::builder().part_number(1).e_tag(uploaded.e_tag().expect("etag")).build();
    client
        .complete_multipart_upload()
        .bucket(&bucket)
        .key("mp.bin")
        .upload_id(id)
        .multipart_upload(CompletedMultipartUpload::builder().parts(parts).build())
        .send()
        .await
        .expect("complete");
    assert!(get_with(&client, &bucket, "mp.bin", &mine).await == body);

    // UploadPartCopy: the source opened with its key, the part sealed with the upload's.
    let create = with_key!(client.create_multipart_upload().bucket(&bucket).key("pc.bin"), other);
    let upload = create.send().await.expect("create");
    let id = upload.upload_id().expect("id");
    let copy = client
        .upload_part_copy()
        .bucket(&bucket)
        .key("pc.bin")
        .upload_id(id)
        .part_number(1)
        .copy_source(format!("{bucket}/c.bin"))
        .copy_source_range("bytes=0-99999")
        .copy_source_sse_customer_algorithm("AES256")
        .copy_source_sse_customer_key(&mine.key)
        .copy_source_sse_customer_key_md5(&mine.md5);
    let copied = with_key!(copy, other).send().await.expect("upload part copy");
    let etag = copied.copy_part_result().and_then(|r| r.e_tag()).expect("etag").to_owned();
    let parts = CompletedPart::builder().part_number(1).e_tag(etag).build();
    client
        .complete_multipart_upload()
        .bucket(&bucket)
        .key("pc.bin")
        .upload_id(id)
        .multipart_upload(CompletedMultipartUpload::builder().parts(parts).build())
        .send()
        .await
        .expect("complete");
    assert!(get_with(&client, &bucket, "pc.bin", &other).await == body[..100_000]);

    assert!(!on_drives(&server, "SECRET-SSE-C"));
    assert!(!on_drives(&server, &mine.key) && !on_drives(&server, &other.key), "a customer key is on a drive");
}

/// The shard files of every object, by path, with their bytes.
fn data_files(server: &Server) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut files: Vec<_> = (1..=server.drive_count)
        .flat_map(|n| files_below(&server.drive(n)))
        .filter(|path| path.file_name().is_some_and(|name| name.to_string_lossy().starts_with("part.")))
        .map(|path| {
            let bytes = std::fs::read(&path).expect("read");
            (path, bytes)
        })
        .collect();
    files.sort();
    files
}

#[tokio::test(flavor = "multi_thread")]
async fn rotation_reseals_object_keys_without_rewriting_data() {
    let (k1, k2) = (master_key("k1", 1), master_key("k2", 2));
    let server = Server::start_in(tempfile::tempdir().expect("dir"), 4, &[("CAIRN_KMS_SECRET_KEY", &k1)]);
    let client = server.client();
    let bucket = new_bucket(&client, "rotate").await;
    client
        .put_bucket_versioning()
        .bucket(&bucket)
        .versioning_configuration(
            aws_sdk_s3::types::VersioningConfiguration::builder()
                .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .expect("versioning");
    let (old, new) = (random_bytes(2 * MIB), random_bytes(300 << 10));
    for body in [&old, &new] {
        client
            .put_object()
            .bucket(&bucket)
            .key("doc")
            .server_side_encryption(ServerSideEncryption::Aes256)
            .body(ByteStream::from(body.clone()))
            .send()
            .await
            .expect("put");
    }
    put(&client, &bucket, "plain", b"not encrypted").await;
    let dir = server.stop();

    // Only the new key: objects sealed by the old one cannot be read, and say so.
    let server = Server::start_in(dir, 4, &[("CAIRN_KMS_SECRET_KEY", &k2)]);
    let client = server.client();
    let refused = client.get_object().bucket(&bucket).key("doc").send().await.expect_err("k1 is gone");
    assert_eq!(error_status(&refused), 500);
    let dir = server.stop();

    // The new key and the old one: reads work; a rotation re-seals both versions.
    let server = Server::start_in(dir, 4, &[("CAIRN_KMS_SECRET_KEY", &k2), ("CAIRN_KMS_SECRET_KEY_PREVIOUS", &k1)]);
    let client = server.client();
    assert!(get(&client, &bucket, "doc").await == new);
    let before = data_files(&server);
    let (status, body) = signed_request(&server.endpoint, "POST", "/minio/admin/v3/cairn-kms-rotate", b"");
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let report: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
    assert_eq!((report["resealed"].as_u64(), report["failed"].as_u64()), (Some(2), Some(0)), "{report}");
    assert!(data_files(&server) == before, "a rotation rewrote object data");
    let (status, body) = signed_request(&server.endpoint, "POST", "/minio/admin/v3/cairn-kms-rotate", b"");
    assert_eq!(status, 200);
    let again: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
    assert_eq!(again["resealed"].as_u64(), Some(0), "nothing left to re-seal: {again}");
    let dir = server.stop();

    // The old key retired: every version still reads.
    let server = Server::start_in(dir, 4, &[("CAIRN_KMS_SECRET_KEY", &k2)]);
    let client = server.client();
    assert!(get(&client, &bucket, "doc").await == new);
    let versions = client.list_object_versions().bucket(&bucket).prefix("doc").send().await.expect("versions");
    let oldest = versions.versions().last().and_then(|v| v.version_id()).expect("the older version");
    let read = client.get_object().bucket(&bucket).key("doc").version_id(oldest).send().await.expect("old version");
    assert!(read.body.collect().await.expect("body").into_bytes()[..] == old[..]);
    let (status, body) = signed_request(&server.endpoint, "GET", "/minio/admin/v3/kms/status", b"");
    assert_eq!(status, 200);
    let status: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
    assert_eq!(status["defaultKeyID"], "k2");
    assert!(!String::from_utf8_lossy(&body).contains(&BASE64.encode([2u8; 32])), "key bytes in the status");
}
