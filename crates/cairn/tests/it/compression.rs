//! Transparent compression (`admin config set compression ...`): objects that match the
//! rule are stored as zstd frames, and every client-visible property (bytes, ranges,
//! sizes, ETag, checksums) is that of the uncompressed object. Checked with aws-sdk-s3
//! against the drives' own metadata.

use crate::admin_config::import;
use crate::harness::*;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, ChecksumMode, CompletedMultipartUpload, CompletedPart};
use cairn_meta::ObjectMeta;

const MIB: usize = 1 << 20;
const RULE: &str = "compression enable=on extensions=.txt,.log,.csv,.json mime_types=text/*,application/json\n";

/// CSV-like text of `len` bytes: compresses about 4x, like real exports.
fn csv(len: usize) -> Vec<u8> {
    text_of(len, |row| {
        format!("{row},customer-{},{}@example.com,{}.{:02}\n", row % 977, row * 7 % 1013, row * 13 % 5000, row % 100)
    })
}

/// The newest version of `key` as drive `n` stores it.
fn stored(server: &Server, n: usize, bucket: &str, key: &str) -> cairn_meta::ObjectVersion {
    let bytes = meta_on(&server.drive(n), bucket, key).expect("metadata on the drive");
    ObjectMeta::decode(&bytes).expect("decodes").versions.remove(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn matching_objects_are_stored_compressed_and_read_as_sent() {
    let server = Server::start(4);
    let client = server.client();
    let bucket = new_bucket(&client, "zstd").await;
    assert_eq!(import(&server.endpoint, RULE), 200);
    let text = csv(3 * MIB + 4321);
    let noise = random_bytes(2 * MIB);

    let sent = client
        .put_object()
        .bucket(&bucket)
        .key("export.csv")
        .checksum_algorithm(ChecksumAlgorithm::Crc32)
        .body(ByteStream::from(text.clone()))
        .send()
        .await
        .expect("put");
    assert_eq!(sent.e_tag().map(|e| e.trim_matches('"').to_owned()), Some(md5_hex(&text)), "ETag of what was sent");
    put_typed(&client, &bucket, "report", "text/plain; charset=utf-8", &text).await;
    put_typed(&client, &bucket, "photo.png", "text/plain", &text).await;
    put_typed(&client, &bucket, "random.log", "text/plain", &noise).await;
    put(&client, &bucket, "small.json", b"{\"a\":1}").await;

    // On the drives: frames and an index, much smaller than the text.
    let version = stored(&server, 1, &bucket, "export.csv");
    let part = &version.parts[0];
    let index = part.compression.as_ref().expect("export.csv is compressed");
    assert_eq!((version.size, part.size), (text.len() as u64, text.len() as u64));
    assert!(index.stored_size * 3 < text.len() as u64, "stored {} of {}", index.stored_size, text.len());
    assert_eq!(version.compressed_size, Some(index.stored_size));
    assert_eq!(index.spans.len(), 4, "one frame per MiB");
    assert!(stored(&server, 1, &bucket, "report").compressed_size.is_some(), "matched by its Content-Type");
    assert_eq!(stored(&server, 1, &bucket, "photo.png").compressed_size, None, "images are never compressed");
    assert!(stored(&server, 1, &bucket, "small.json").compressed_size.is_some(), "small objects too (inline)");
    // Random bytes do not shrink: their frames are stored raw, a header each.
    let raw = stored(&server, 1, &bucket, "random.log");
    assert_eq!(raw.compressed_size, Some(noise.len() as u64 + 2 * 4));

    // Clients see the uncompressed object.
    assert!(get(&client, &bucket, "export.csv").await == text);
    assert!(get(&client, &bucket, "random.log").await == noise);
    assert_eq!(get(&client, &bucket, "small.json").await, b"{\"a\":1}");
    let head = client.head_object().bucket(&bucket).key("export.csv").send().await.expect("head");
    assert_eq!(head.content_length(), Some(text.len() as i64));
    let checked = client
        .get_object()
        .bucket(&bucket)
        .key("export.csv")
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .expect("get with checksum");
    assert_eq!(checked.checksum_crc32(), sent.checksum_crc32(), "the checksum of what was sent");
    for (from, to) in [(0, 1), (MIB - 3, MIB + 3), (2 * MIB + 17, text.len()), (5, text.len() - 5), (MIB, 2 * MIB)] {
        assert!(get_range(&client, &bucket, "export.csv", from, to).await == text[from..to], "{from}..{to}");
    }
    assert!(get_range(&client, &bucket, "random.log", MIB - 1, MIB + 1).await == noise[MIB - 1..MIB + 1]);
    let listed = client.list_objects_v2().bucket(&bucket).prefix("export").send().await.expect("list");
    assert_eq!(listed.contents()[0].size(), Some(text.len() as i64), "listings show the uncompressed size");

    // Turned off: new objects are stored as sent, compressed ones still read.
    assert_eq!(import(&server.endpoint, "compression enable=off\n"), 200);
    put(&client, &bucket, "later.csv", &text).await;
    assert_eq!(stored(&server, 1, &bucket, "later.csv").compressed_size, None);
    assert!(get(&client, &bucket, "export.csv").await == text);
}

async fn put_typed(client: &aws_sdk_s3::Client, bucket: &str, key: &str, content_type: &str, body: &[u8]) {
    client
        .put_object()
        .bucket(bucket)
        .key(key)
        .content_type(content_type)
        .body(ByteStream::from(body.to_vec()))
        .send()
        .await
        .unwrap_or_else(|e| panic!("put {key}: {e:?}"));
}

#[tokio::test(flavor = "multi_thread")]
async fn multipart_parts_are_compressed_each_and_ranges_cross_them() {
    let server = Server::start(4);
    let client = server.client();
    let bucket = new_bucket(&client, "zstd-mp").await;
    assert_eq!(import(&server.endpoint, RULE), 200);
    let text = csv(13 * MIB / 2);
    let cut = 5 * MIB + 77;
    let upload = client.create_multipart_upload().bucket(&bucket).key("big.log").send().await.expect("create");
    let id = upload.upload_id().expect("id");
    let mut completed = Vec::new();
    for (number, bytes) in [(1, &text[..cut]), (2, &text[cut..])] {
        let part = client
            .upload_part()
            .bucket(&bucket)
            .key("big.log")
            .upload_id(id)
            .part_number(number)
            .body(ByteStream::from(bytes.to_vec()))
            .send()
            .await
            .expect("part");
        assert_eq!(part.e_tag().map(|e| e.trim_matches('"').to_owned()), Some(md5_hex(bytes)));
        completed.push(CompletedPart::builder().part_number(number).e_tag(part.e_tag().expect("etag")).build());
    }
    let parts = client.list_parts().bucket(&bucket).key("big.log").upload_id(id).send().await.expect("list parts");
    assert_eq!(parts.parts()[0].size(), Some(cut as i64), "parts list their uncompressed size");
    client
        .complete_multipart_upload()
        .bucket(&bucket)
        .key("big.log")
        .upload_id(id)
        .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(completed)).build())
        .send()
        .await
        .expect("complete (the first part is 5 MiB uncompressed, far less stored)");
    let version = stored(&server, 2, &bucket, "big.log");
    assert!(version.parts.iter().all(|p| p.compression.is_some()), "every part is compressed");
    assert!(version.compressed_size.is_some_and(|s| s * 3 < text.len() as u64));
    assert!(get(&client, &bucket, "big.log").await == text);
    for (from, to) in [(cut - 10, cut + 10), (MIB + 1, 6 * MIB), (cut, cut + 1), (text.len() - 1, text.len())] {
        assert!(get_range(&client, &bucket, "big.log", from, to).await == text[from..to], "{from}..{to}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn compressed_objects_survive_a_lost_drive_bitrot_and_heal() {
    let server = Server::start_quiet(tempfile::tempdir().expect("temp dir"), 4, &[]).await;
    let client = server.client();
    let bucket = new_bucket(&client, "zstd-heal").await;
    assert_eq!(import(&server.endpoint, RULE), 200);
    let text = csv(4 * MIB + 99);
    put(&client, &bucket, "a.txt", &text).await;
    put(&client, &bucket, "b.txt", b"inline text, compressed").await;
    assert!(stored(&server, 1, &bucket, "a.txt").compressed_size.is_some());

    // Bitrot in one shard: the read reconstructs from parity.
    let shard = crate::bitrot::shard_file(&server.drive(2), &bucket, "a.txt");
    let mut damaged = std::fs::read(&shard).expect("shard");
    for byte in &mut damaged[100..108] {
        *byte ^= 0xff;
    }
    std::fs::write(&shard, &damaged).expect("damage");
    assert!(get(&client, &bucket, "a.txt").await == text);

    // A wiped drive: reads go on, then a heal rebuilds its shards of the frames.
    server.delete_drive(3);
    assert!(get(&client, &bucket, "a.txt").await == text);
    let lines = crate::heal::heal(&server.endpoint, "recursive=true");
    // The degraded GET above may have queued a.txt's heal already: only failures count.
    assert_eq!(crate::heal::summary(&lines)["failed"], 0, "{lines:?}");
    let healed = stored(&server, 3, &bucket, "a.txt");
    assert_eq!(healed.compressed_size, stored(&server, 1, &bucket, "a.txt").compressed_size);
    assert!(meta_on(&server.drive(3), &bucket, "b.txt").is_some(), "the inline object healed too");
    // With two drives' data gone, only healed shards can make the read.
    server.delete_drive(1);
    assert!(get(&client, &bucket, "a.txt").await == text);
    assert_eq!(get(&client, &bucket, "b.txt").await, b"inline text, compressed");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_scanner_reports_what_compression_saves_in_info_and_metrics() {
    let env = [("CAIRN_PROMETHEUS_AUTH_TYPE", "public"), ("CAIRN_SCANNER_INTERVAL_SECS", "1")];
    let server = Server::start_in(tempfile::tempdir().expect("temp dir"), 4, &env);
    let client = server.client();
    let bucket = new_bucket(&client, "zstd-usage").await;
    assert_eq!(import(&server.endpoint, RULE), 200);
    let text = csv(2 * MIB);
    put(&client, &bucket, "a.csv", &text).await;
    put(&client, &bucket, "b.csv", &text).await;
    put(&client, &bucket, "plain.bin", &text).await;
    let stored = stored(&server, 1, &bucket, "a.csv").compressed_size.expect("compressed");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let info = loop {
        let (status, body) = signed_request(&server.endpoint, "GET", "/minio/admin/v3/info", b"");
        assert_eq!(status, 200);
        let info: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
        if info["compression"]["objects"] == 2 {
            break info;
        }
        assert!(std::time::Instant::now() < deadline, "no scan counted the compressed objects: {info}");
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    };
    let compression = &info["compression"];
    assert_eq!(compression["logicalBytes"], 2 * text.len() as u64);
    assert_eq!(compression["storedBytes"], 2 * stored);
    assert_eq!(compression["savedBytes"], 2 * (text.len() as u64 - stored));
    let ratio = compression["ratio"].as_f64().expect("ratio");
    assert!((ratio - stored as f64 / text.len() as f64).abs() < 1e-9, "{ratio}");
    let (status, metrics) = crate::metrics::scrape(&server.endpoint, "/minio/v2/metrics/cluster", None);
    assert_eq!(status, 200);
    let saved = crate::metrics::sample(&metrics, "cairn_compression_saved_bytes");
    assert_eq!(saved, Some(2.0 * (text.len() as u64 - stored) as f64), "{metrics}");
}
