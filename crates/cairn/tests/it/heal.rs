//! On-demand healing (`POST /minio/admin/v3/cairn-heal`, `cairn admin heal`): a drive
//! wiped while the server runs is formatted into its slot and refilled at once, with
//! the progress streamed as JSON lines; without `recursive` only one level is healed;
//! only admins may heal, and a missing bucket is refused before anything streams.

use crate::harness::*;
use cairn_meta::FormatFile;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

const MIB: usize = 1 << 20;
/// Objects up to this size live inside `xl.meta`; larger ones have part files.
const INLINE_BYTES_MAX: usize = 128 << 10;
const OBJECTS_PER_BUCKET: usize = 15;
const HEAL_PATH: &str = "/minio/admin/v3/cairn-heal";

/// Some objects inline, some a single block with a part file, some several blocks.
fn size_of(index: usize) -> usize {
    match index % 5 {
        0 => 2 * MIB + index,
        1 => 300 << 10,
        _ => 1000 + index * 10,
    }
}

/// Keys at three levels, so that one-level heals have something to leave out.
fn key_of(index: usize) -> String {
    match index % 3 {
        0 => format!("top-{index:02}"),
        1 => format!("dir/{index:02}"),
        _ => format!("dir/sub/{index:02}"),
    }
}

/// The body of a chunked HTTP/1.1 response, without the chunk framing.
fn unchunk(mut raw: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    while let Some(end) = raw.windows(2).position(|w| w == b"\r\n") {
        let size_text = std::str::from_utf8(&raw[..end]).expect("chunk size is ascii");
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16).expect("chunk size");
        if size == 0 {
            break;
        }
        body.extend_from_slice(&raw[end + 2..end + 2 + size]);
        raw = &raw[end + 2 + size + 2..];
    }
    body
}

/// Runs a heal with `query`; returns its JSON lines, after checking the stream's shape:
/// a progress line first, a summary last, nothing else but progress and failures between.
pub(crate) fn heal(endpoint: &str, query: &str) -> Vec<Value> {
    let (status, body) = signed_request(endpoint, "POST", &format!("{HEAL_PATH}?{query}"), b"");
    let text = String::from_utf8(unchunk(&body)).expect("utf-8");
    assert_eq!(status, 200, "heal {query}: {}", String::from_utf8_lossy(&body));
    let lines: Vec<Value> = text.lines().map(|line| serde_json::from_str(line).expect("a JSON line")).collect();
    assert!(lines.len() >= 2, "heal {query}: {text}");
    assert_eq!(lines[0]["type"], "progress", "{text}");
    assert_eq!(lines[lines.len() - 1]["type"], "summary", "{text}");
    assert!(lines[..lines.len() - 1].iter().all(|l| l["type"] == "progress" || l["type"] == "failure"), "{text}");
    lines
}

pub(crate) fn summary(lines: &[Value]) -> &Value {
    lines.last().expect("at least a summary")
}

/// Keys of `objects` that `drive` lacks: no metadata, or no part file where one belongs.
fn missing_on(drive: &Path, bucket: &str, objects: &BTreeMap<String, Vec<u8>>) -> Vec<String> {
    let complete = |key: &str, size: usize| {
        let dir = drive.join(bucket).join(key);
        crate::harness::has_key_on(drive, bucket, key)
            && (size <= INLINE_BYTES_MAX
                || std::fs::read_dir(&dir).into_iter().flatten().flatten().any(|entry| {
                    entry.file_name().to_string_lossy().ends_with("__XLDATA__") && entry.path().join("part.1").is_file()
                }))
    };
    objects.iter().filter(|(key, body)| !complete(key, body.len())).map(|(key, _)| key.clone()).collect()
}

/// A server of 4 drives whose start-up scan is over and whose next scan is an hour
/// away: whatever heals a drive during a test is the heal call.
async fn start_without_scanner() -> Server {
    Server::start_quiet(tempfile::tempdir().expect("temp dir"), 4, &[]).await
}

#[tokio::test(flavor = "multi_thread")]
async fn heal_formats_and_refills_a_drive_wiped_while_running() {
    let server = start_without_scanner().await;
    let client = server.client();
    let mut buckets: BTreeMap<String, BTreeMap<String, Vec<u8>>> = BTreeMap::new();
    for stem in ["heal-a", "heal-b"] {
        let bucket = new_bucket(&client, stem).await;
        let mut objects = BTreeMap::new();
        for index in 0..OBJECTS_PER_BUCKET {
            let body = random_bytes(size_of(index));
            put(&client, &bucket, &key_of(index), &body).await;
            objects.insert(key_of(index), body);
        }
        buckets.insert(bucket, objects);
    }
    let format_path = server.drive(2).join(".cairn.sys/format.json");
    let format = FormatFile::decode(&std::fs::read(&format_path).expect("format")).expect("decode");
    server.delete_drive(2);

    let lines = heal(&server.endpoint, "recursive=true");
    let total = buckets.values().map(BTreeMap::len).sum::<usize>() as u64;
    let bytes = buckets.values().flat_map(BTreeMap::values).map(|body| body.len() as u64).sum::<u64>();
    let done = summary(&lines);
    assert_eq!(done["scanned"], total, "{lines:?}");
    assert_eq!(done["bytes"], bytes, "{lines:?}");
    assert_eq!(done["failed"], 0, "{lines:?}");
    assert_eq!(done["drives_formatted"], 1, "{lines:?}");
    assert_eq!(done["buckets"], 2, "{lines:?}");
    // EC 2+2 over 4 drives: every object has a shard on the wiped drive.
    assert_eq!(done["healed"], total, "{lines:?}");
    assert!(done.get("error").is_none() && done["elapsed_ms"].is_u64(), "{lines:?}");

    let healed = FormatFile::decode(&std::fs::read(&format_path).expect("format.json is back")).expect("decode");
    assert_eq!(healed, format, "the wiped drive is formatted into its own slot");
    for (bucket, objects) in &buckets {
        let missing = missing_on(&server.drive(2), bucket, objects);
        assert!(missing.is_empty(), "not refilled in {bucket}: {missing:?}\n{}", server.log());
    }

    // A second heal finds nothing to do.
    let again = heal(&server.endpoint, "recursive=true");
    assert_eq!((summary(&again)["healed"].as_u64(), summary(&again)["drives_formatted"].as_u64()), (Some(0), Some(0)));

    // The refilled drive's shards are right: with two other drives gone, reads need them.
    server.delete_drive(1);
    server.delete_drive(3);
    for (bucket, objects) in &buckets {
        for (key, body) in objects {
            assert!(get(&client, bucket, key).await == *body, "{bucket}/{key} differs");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn heal_without_recursive_covers_one_level() {
    let server = start_without_scanner().await;
    let client = server.client();
    let bucket = new_bucket(&client, "heal-level").await;
    for index in 0..9 {
        put(&client, &bucket, &key_of(index), b"data").await;
    }
    // Wipe only the bucket's objects on one drive: the format stays, the objects must come back.
    std::fs::remove_dir_all(server.drive(3).join(&bucket)).expect("wipe the bucket on drive 3");

    // `dir/` one level: dir/01, dir/04, dir/07 (not dir/sub/...).
    let lines = heal(&server.endpoint, &format!("bucket={bucket}&prefix=dir/"));
    let done = summary(&lines);
    assert_eq!((done["scanned"].as_u64(), done["healed"].as_u64()), (Some(3), Some(3)), "{lines:?}");
    assert_eq!((done["buckets"].as_u64(), done["drives_formatted"].as_u64()), (Some(1), Some(0)), "{lines:?}");
    assert!(crate::harness::has_key_on(&server.drive(3), &bucket, "dir/01"));
    assert!(!crate::harness::has_key_on(&server.drive(3), &bucket, "dir/sub/02"), "below one level");

    // The bucket one level: top-00, top-03, top-06.
    let done = summary(&heal(&server.endpoint, &format!("bucket={bucket}"))).clone();
    assert_eq!((done["scanned"].as_u64(), done["healed"].as_u64()), (Some(3), Some(3)), "{done}");

    // Everything one level: the buckets, no object.
    let done = summary(&heal(&server.endpoint, "")).clone();
    assert_eq!((done["scanned"].as_u64(), done["buckets"].as_u64()), (Some(0), Some(1)), "{done}");

    // With recursive, what is left: dir/sub/02, dir/sub/05, dir/sub/08.
    let done = summary(&heal(&server.endpoint, &format!("bucket={bucket}&prefix=dir/&recursive=true"))).clone();
    assert_eq!((done["scanned"].as_u64(), done["healed"].as_u64()), (Some(6), Some(3)), "{done}");
}

#[tokio::test(flavor = "multi_thread")]
async fn heal_refuses_missing_buckets_bad_parameters_and_non_admins() {
    let server = Server::start(4);
    let endpoint = &server.endpoint;
    let (status, body) = signed_request(endpoint, "POST", &format!("{HEAL_PATH}?bucket=no-such-bucket"), b"");
    assert_eq!(status, 404, "{}", String::from_utf8_lossy(&body));
    let error: Value = serde_json::from_slice(&body).expect("a MinIO-style JSON error");
    assert_eq!(error["Code"], "NoSuchBucket");
    for query in ["prefix=orphan/", "recursive=yes"] {
        let (status, body) = signed_request(endpoint, "POST", &format!("{HEAL_PATH}?{query}"), b"");
        assert_eq!(status, 400, "{query}: {}", String::from_utf8_lossy(&body));
    }

    let (user, secret) = ("heal-user", "heal-user-secret-key");
    let record = serde_json::json!({ "secretKey": secret, "status": "enabled" }).to_string();
    let sealed = cairn_madmin::encrypt_data(SECRET_KEY, record.as_bytes()).expect("encrypt");
    let (status, _) = signed_request(endpoint, "PUT", &format!("/minio/admin/v3/add-user?accessKey={user}"), &sealed);
    assert_eq!(status, 200);
    let attach =
        format!("/minio/admin/v3/set-user-or-group-policy?isGroup=false&policyName=readwrite&userOrGroup={user}");
    assert_eq!(signed_request(endpoint, "PUT", &attach, b"").0, 200);
    let (status, body) =
        signed_request_as(endpoint, (user, secret), "POST", &format!("{HEAL_PATH}?recursive=true"), b"");
    assert_eq!(status, 403, "{}", String::from_utf8_lossy(&body));
}
