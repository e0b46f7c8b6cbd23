//! Bitrot in data nobody reads: bytes flipped in a shard file are found and healed by a
//! deep scan (the scanner's `deep` mode, and `cairn admin heal --scan deep`), and a
//! flipped byte in an `xl.meta` is caught by its checksum: that drive's copy counts as
//! missing (never served) and is healed.

use crate::admin_config::import;
use crate::cli::Cli;
use crate::harness::{Server, meta_on, new_bucket, put, random_bytes, set_meta_on, signed_request};
use aws_sdk_s3::primitives::ByteStream;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Bound on waiting for the background scanner.
const SCAN_WAIT: Duration = Duration::from_secs(60);

fn report(endpoint: &str) -> Value {
    let (status, body) = signed_request(endpoint, "GET", "/cairn/admin/v1/heal", b"");
    assert_eq!(status, 200);
    serde_json::from_slice(&body).expect("JSON report")
}

/// The shard file of part 1 of `key` on `drive`.
pub(crate) fn shard_file(drive: &Path, bucket: &str, key: &str) -> PathBuf {
    let dir = drive.join(bucket).join(key);
    let data_dir = std::fs::read_dir(&dir)
        .expect("object folder")
        .flatten()
        .find(|entry| entry.file_name().to_string_lossy().ends_with("__XLDATA__"))
        .expect("a data directory");
    data_dir.path().join("part.1")
}

/// Flips bytes inside the first frame's data (after its 16-byte hash); returns the
/// original content.
fn flip_shard_bytes(file: &Path) -> Vec<u8> {
    let original = std::fs::read(file).expect("shard file");
    let mut damaged = original.clone();
    for byte in &mut damaged[100..108] {
        *byte ^= 0xff;
    }
    std::fs::write(file, &damaged).expect("damage shard");
    original
}

/// A server of 4 drives whose start-up scan is over (the next one is an hour away), so
/// that only the heals the test runs repair anything.
async fn start_quiet() -> Server {
    let server = Server::start(4);
    let deadline = Instant::now() + SCAN_WAIT;
    while report(&server.endpoint)["scans_completed"].as_u64() < Some(1) {
        assert!(Instant::now() < deadline, "the start-up scan did not finish");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    server
}

fn heal_summary(cli: &Cli, args: &[&str]) -> Value {
    let lines = cli.run(args).ok();
    let summary = lines.last().cloned().expect("a summary line");
    assert_eq!(summary["type"], "summary", "{lines:?}");
    summary
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deep_scan_finds_and_heals_bitrot_in_data_nobody_reads() {
    let server = Server::start_in(tempfile::tempdir().expect("temp dir"), 4, &[("CAIRN_SCANNER_INTERVAL_SECS", "1")]);
    let client = server.client();
    let bucket = new_bucket(&client, "bitrot").await;
    put(&client, &bucket, "cold", &random_bytes(3 << 20)).await;
    let shard = shard_file(&server.drive(2), &bucket, "cold");
    let original = flip_shard_bytes(&shard);

    // Metadata-only scans (every second here) do not see it.
    let scans = report(&server.endpoint)["scans_completed"].as_u64().expect("count");
    let deadline = Instant::now() + SCAN_WAIT;
    while report(&server.endpoint)["scans_completed"].as_u64().expect("count") < scans + 2 {
        assert!(Instant::now() < deadline, "the scanner did not run");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_ne!(std::fs::read(&shard).expect("shard"), original, "a normal scan is not expected to read shards");

    assert_eq!(import(&server.endpoint, "scanner deep=1s deep_speed=64MiB\n"), 200);
    let deadline = Instant::now() + SCAN_WAIT;
    loop {
        let report = report(&server.endpoint);
        if report["deep_objects_healed"].as_u64() >= Some(1) {
            assert!(report["deep_bytes_verified"].as_u64() >= Some(3 << 20), "{report}");
            assert!(report["deep_objects_damaged"].as_u64() >= Some(1), "{report}");
            break;
        }
        assert!(Instant::now() < deadline, "no deep scan healed the damaged shard: {report}\n{}", server.log());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(std::fs::read(&shard).expect("shard"), original, "the shard was not rebuilt");
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_heal_scan_deep_heals_bitrot() {
    let server = start_quiet().await;
    let client = server.client();
    let bucket = new_bucket(&client, "bitrot").await;
    put(&client, &bucket, "cold", &random_bytes(3 << 20)).await;
    let shard = shard_file(&server.drive(3), &bucket, "cold");
    let original = flip_shard_bytes(&shard);
    let cli = Cli::with_alias("local", &server);
    let target = format!("local/{bucket}");

    let normal = heal_summary(&cli, &["admin", "heal", "-r", &target]);
    assert_eq!((normal["scanned"].as_u64(), normal["healed"].as_u64()), (Some(1), Some(0)), "{normal}");
    let deep = heal_summary(&cli, &["admin", "heal", "-r", "--scan", "deep", &target]);
    assert_eq!((deep["scanned"].as_u64(), deep["healed"].as_u64()), (Some(1), Some(1)), "{deep}");
    assert_eq!(std::fs::read(&shard).expect("shard"), original, "the shard was not rebuilt");
    let again = heal_summary(&cli, &["admin", "heal", "-r", "--scan", "deep", &target]);
    assert_eq!(again["healed"].as_u64(), Some(0), "{again}");
    assert_eq!(cli.run(&["admin", "heal", "--scan", "thorough", &target]).code, 2, "a bad scan mode is refused");
}

/// Regression: `xl.meta` had no checksum, so a flipped byte in a header value decoded
/// to another value, and the drive's damaged copy could be served.
#[tokio::test(flavor = "multi_thread")]
async fn a_flipped_byte_in_xl_meta_is_detected_and_healed() {
    let server = start_quiet().await;
    let client = server.client();
    let bucket = new_bucket(&client, "bitrot").await;
    let note = "a".repeat(32);
    client
        .put_object()
        .bucket(&bucket)
        .key("noted")
        .metadata("note", &note)
        .body(ByteStream::from_static(b"small and inline"))
        .send()
        .await
        .expect("put");
    // Drive 1 holds the first copy a read would otherwise take its headers from.
    let drive = server.drive(1);
    let original = meta_on(&drive, &bucket, "noted").expect("drive 1 holds it");
    let at = original.windows(note.len()).position(|w| w == note.as_bytes()).expect("the note is stored");
    let mut damaged = original.clone();
    damaged[at + 5] = b'b';
    set_meta_on(&drive, &bucket, "noted", damaged);

    let head = client.head_object().bucket(&bucket).key("noted").send().await.expect("head");
    let served = head.metadata().and_then(|m| m.get("note")).cloned();
    assert_eq!(served.as_deref(), Some(note.as_str()), "a damaged metadata copy was served");

    let cli = Cli::with_alias("local", &server);
    let healed = heal_summary(&cli, &["admin", "heal", "-r", &format!("local/{bucket}")]);
    assert_eq!(healed["healed"].as_u64(), Some(1), "{healed}");
    assert_eq!(meta_on(&drive, &bucket, "noted"), Some(original), "the damaged copy was not rewritten");
}
