//! Reads survive lost drives and corrupt shards: every GET returns the exact
//! original bytes, and corruption is detected and reported.

use crate::harness::*;
use aws_sdk_s3::Client;
use cairn_meta::ObjectMeta;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const MIB: usize = 1 << 20;
/// Sizes that exercise inline objects, one block, several blocks and a short last block.
const SIZES: [usize; 7] = [0, 1, 100, (128 << 10) + 1, MIB, MIB + 7, 3 * MIB + 11];

async fn fill(client: &Client, bucket: &str) -> BTreeMap<String, Vec<u8>> {
    let mut objects = BTreeMap::new();
    for (i, size) in SIZES.iter().enumerate() {
        let key = format!("dir{}/object-{size}", i % 2);
        let body = random_bytes(*size);
        put(client, bucket, &key, &body).await;
        objects.insert(key, body);
    }
    objects
}

async fn verify_all(client: &Client, bucket: &str, objects: &BTreeMap<String, Vec<u8>>) {
    for (key, body) in objects {
        assert_eq!(&get(client, bucket, key).await, body, "{key} differs");
    }
    let listed = client.list_objects_v2().bucket(bucket).send().await.expect("list");
    let keys: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, objects.keys().map(String::as_str).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread")]
async fn reads_survive_deleted_drives() {
    let server = Server::start(4);
    let client = server.client();
    let bucket = new_bucket(&client, "lost").await;
    let objects = fill(&client, &bucket).await;

    server.delete_drive(2);
    verify_all(&client, &bucket, &objects).await;
    let (status, _) = raw_request(&server.endpoint, "GET", "/minio/health/ready", b"");
    assert_eq!(status, 200, "3 of 4 drives keep write quorum");
    let body = random_bytes(MIB + 3);
    put(&client, &bucket, "written-degraded", &body).await;
    assert_eq!(get(&client, &bucket, "written-degraded").await, body);

    // EC 2+2 loses up to two drives for reads.
    server.delete_drive(4);
    verify_all(&client, &bucket, &{
        let mut all = objects.clone();
        all.insert("written-degraded".into(), body);
        all
    })
    .await;
    let (status, _) = raw_request(&server.endpoint, "GET", "/minio/health/ready", b"");
    assert_eq!(status, 503, "2 of 4 drives are below write quorum");
    let refused = client
        .put_object()
        .bucket(&bucket)
        .key("refused")
        .body(aws_sdk_s3::primitives::ByteStream::from(random_bytes(MIB)))
        .send()
        .await
        .expect_err("below write quorum");
    assert_eq!(error_status(&refused), 503);
    let missing = client.head_object().bucket(&bucket).key("refused").send().await.expect_err("nothing half-written");
    assert_eq!(error_status(&missing), 404);
}

/// Drive number (1-based) holding shard `index` of `key`.
fn drive_of_shard(server: &Server, bucket: &str, key: &str, index: u8) -> usize {
    (1..=server.drive_count)
        .find(|d| {
            let bytes = meta_on(&server.drive(*d), bucket, key).expect("metadata");
            // A copy damaged earlier (inline data sits in xl.meta) fails its checksum.
            let meta = ObjectMeta::decode(&bytes).ok();
            meta.is_some_and(|meta| meta.latest().expect("version").erasure.shard_index == index)
        })
        .expect("some drive holds the shard")
}

fn flip_byte(path: &Path) {
    let mut bytes = std::fs::read(path).expect("read shard");
    flip(&mut bytes, false);
    std::fs::write(path, bytes).expect("write shard");
}

fn flip(bytes: &mut [u8], from_end: bool) {
    assert!(!bytes.is_empty(), "nothing to damage");
    let at = if from_end { bytes.len() - 3.min(bytes.len()) } else { bytes.len() / 2 };
    bytes[at] ^= 0x5a;
}

/// Flips a byte in every shard file (or, for inline objects, in the inline data) that
/// holds shard `indices` of each non-empty object.
fn damage_shards(server: &Server, bucket: &str, objects: &BTreeMap<String, Vec<u8>>, indices: &[u8]) {
    for key in objects.iter().filter(|(_, body)| !body.is_empty()).map(|(key, _)| key) {
        let relative = PathBuf::from(bucket).join(key);
        for index in indices {
            let drive = drive_of_shard(server, bucket, key, *index);
            let object_dir = server.drive(drive).join(&relative);
            let shards = shard_files(&object_dir);
            if shards.is_empty() {
                // Inline: the data sits at the end of the metadata.
                let mut meta = meta_on(&server.drive(drive), bucket, key).expect("metadata");
                flip(&mut meta, true);
                set_meta_on(&server.drive(drive), bucket, key, meta);
            } else {
                shards.iter().for_each(|shard| flip_byte(shard));
            }
        }
    }
}

fn shard_files(dir: &Path) -> Vec<PathBuf> {
    if !dir.exists() {
        return Vec::new(); // An inline object has no folder.
    }
    files_below(dir)
        .into_iter()
        .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("part.")))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn reads_survive_corrupt_shards_and_report_them() {
    let server = Server::start(4);
    let client = server.client();
    let bucket = new_bucket(&client, "rot").await;
    let objects = fill(&client, &bucket).await;
    // Corrupt both data shards: the read must notice and rebuild from the two parity shards.
    damage_shards(&server, &bucket, &objects, &[0, 1]);
    verify_all(&client, &bucket, &objects).await;
    let log = server.log();
    // Inline data sits in xl.meta, whose checksum now catches the damage first.
    let reported = log.contains("corrupt shard detected") || log.contains("damaged xl.meta ignored");
    assert!(reported, "corruption was not reported:\n{log}");

    // The reads queued the damaged objects for healing: once healed, the two parity
    // shards can be destroyed too and every object still reads back exactly.
    let mut healed = false;
    for _ in 0..100 {
        if server.log().matches("healed object").count() >= objects.len() - 1 {
            healed = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(healed, "damaged objects were not healed:\n{}", server.log());
    damage_shards(&server, &bucket, &objects, &[2, 3]);
    verify_all(&client, &bucket, &objects).await;

    // Shards 2 and 3 are still damaged (reads of healthy data shards never touch parity).
    // Damage shard 0 as well: three of four is one too many, so the read must fail
    // instead of returning wrong bytes.
    let key = objects.keys().find(|k| k.ends_with(&format!("object-{}", 3 * MIB + 11))).expect("large object");
    let relative = PathBuf::from(&bucket).join(key);
    let drive = drive_of_shard(&server, &bucket, key, 0);
    for shard in shard_files(&server.drive(drive).join(&relative)) {
        flip_byte(&shard);
    }
    // Any body that arrives complete is wrong here (the original bytes cannot be rebuilt):
    // the read must end in an error, before the headers (500) or during the body. The
    // SDK's own checksum check is off, so that it is the server that must refuse.
    let config = client
        .config()
        .to_builder()
        .response_checksum_validation(aws_sdk_s3::config::ResponseChecksumValidation::WhenRequired)
        .build();
    let unchecked = Client::from_conf(config);
    match unchecked.get_object().bucket(&bucket).key(key).send().await {
        Ok(output) => {
            if let Ok(body) = output.body.collect().await {
                panic!("three of four shards are corrupt, yet a read returned {} bytes", body.into_bytes().len());
            }
        }
        Err(error) => assert_eq!(error_status(&error), 500, "{error:?}"),
    }
}

/// Regression: a block whose first k frames were all corrupt (too many to decode around)
/// was rebuilt from the other shards with only the counter raised; it must be logged
/// like any other corrupt shard.
#[tokio::test(flavor = "multi_thread")]
async fn a_block_with_too_many_corrupt_frames_is_logged() {
    let server = Server::start(4);
    let client = server.client();
    let bucket = new_bucket(&client, "rot-logged").await;
    let key = "too-many/corrupt.bin";
    let body = random_bytes(2 * MIB + 5);
    put(&client, &bucket, key, &body).await;
    // Both data shards (the ones a read tries first) corrupt in every block.
    let relative = PathBuf::from(&bucket).join(key);
    for index in [0, 1] {
        let drive = drive_of_shard(&server, &bucket, key, index);
        for shard in shard_files(&server.drive(drive).join(&relative)) {
            flip_byte(&shard);
        }
    }
    assert_eq!(get(&client, &bucket, key).await, body, "rebuilt from the parity shards");
    let log = server.log();
    let logged = log.lines().any(|line| line.contains("corrupt shard detected") && line.contains(key));
    assert!(logged, "the corrupt shards of {key} were not logged:\n{log}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wiped_drive_is_reformatted_on_restart() {
    let server = Server::start(4);
    let client = server.client();
    let bucket = new_bucket(&client, "wiped").await;
    let objects = fill(&client, &bucket).await;
    let dir = server.stop();
    std::fs::remove_dir_all(dir.path().join("d3")).expect("wipe drive 3");
    let server = Server::start_in(dir, 4, &[]);
    assert!(server.drive(3).join(".cairn.sys/format.json").exists(), "the wiped drive is formatted into its slot");
    let client = server.client();
    verify_all(&client, &bucket, &objects).await;
    // Reading found the wiped drive's copies missing and queued them for healing.
    let refilled = |server: &Server| objects.keys().all(|k| has_key_on(&server.drive(3), &bucket, k));
    for _ in 0..100 {
        if refilled(&server) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(refilled(&server), "the wiped drive was not refilled by heal-on-read:\n{}", server.log());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_drive_from_another_deployment_is_refused() {
    let first = Server::start(4);
    let second = Server::start(4);
    let foreign = second.drive(2).join(".cairn.sys/format.json");
    let dir = first.stop();
    std::fs::copy(&foreign, dir.path().join("d2/.cairn.sys/format.json")).expect("plant foreign format");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args(["server", "--address", "127.0.0.1:0", &format!("{}/d{{1...4}}", dir.path().display())])
        .env("CAIRN_CONSOLE_ADDRESS", "127.0.0.1:0")
        .env("CAIRN_ROOT_USER", ACCESS_KEY)
        .env("CAIRN_ROOT_PASSWORD", SECRET_KEY)
        .output()
        .expect("run");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("belongs to deployment"), "unexpected message: {stderr}");
}
