//! Upgrading in place: four drives written by the release before the metadata index
//! (layout 1: an `xl.meta` per key folder, pending commits as files; made by that
//! release's binary and kept in `tests/fixtures/layout1-drives.tar.gz`) start under this
//! build. Every object reads back whole, listings and the upload in progress are there,
//! the commit a crash left pending is resolved, and no layout-1 file is left.
//!
//! The fixture: bucket `legacy` with `small.txt` (text/plain, metadata origin=v1),
//! `dir/big.bin` (3 MiB + 17 bytes, `(i * 7) % 251`), `tree/{0,1,2}/k000..k029` (`v<i>`),
//! `empty`, `over` (overwritten once), `multi` (two parts: 5 MiB of zeros and `tail`),
//! an upload of `inprogress` with one part; bucket `empty-bucket`; and an overwrite of
//! `tree/0/k000` (`crashed overwrite`) that every drive committed before the crash hook
//! aborted the server, so that each drive holds its pending-commit record and the
//! replaced `xl.meta` in `.cairn.sys/undo/`.

use crate::harness::*;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use std::path::Path;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/layout1-drives.tar.gz");

fn unpack_fixture() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let status = std::process::Command::new("tar")
        .args(["xzf", FIXTURE, "-C"])
        .arg(dir.path())
        .status()
        .expect("run tar (the fixture is a .tar.gz)");
    assert!(status.success(), "unpacking {FIXTURE} failed");
    let upload_id = std::fs::read_to_string(dir.path().join("upload_id")).expect("upload id").trim().to_owned();
    (dir, upload_id)
}

fn legacy_files(drive: &Path) -> Vec<String> {
    files_below(drive)
        .into_iter()
        .map(|p| p.display().to_string())
        .filter(|p| p.ends_with("/xl.meta") || p.contains("/.cairn.sys/undo"))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn drives_of_layout_1_are_upgraded_in_place() {
    let (dir, upload_id) = unpack_fixture();
    assert!(!legacy_files(&dir.path().join("d1")).is_empty(), "the fixture is layout 1");
    let server = Server::start_in(dir, 4, &[]);
    let client = server.client();

    let small = client.get_object().bucket("legacy").key("small.txt").send().await.expect("small.txt");
    assert_eq!(small.content_type(), Some("text/plain"));
    assert_eq!(small.metadata().and_then(|m| m.get("origin")).map(String::as_str), Some("v1"));
    assert_eq!(small.body.collect().await.expect("body").into_bytes().as_ref(), b"hello from format 1\n");
    let big: Vec<u8> = (0..(3 << 20) + 17).map(|i: usize| ((i * 7) % 251) as u8).collect();
    assert_eq!(get(&client, "legacy", "dir/big.bin").await, big);
    assert_eq!(get(&client, "legacy", "over").await, b"second version");
    assert_eq!(get(&client, "legacy", "empty").await, b"");
    let mut multi = vec![0u8; 5 << 20];
    multi.extend_from_slice(b"tail");
    assert_eq!(get(&client, "legacy", "multi").await, multi);
    // Committed on all four drives when the crash came, before it was finished: its
    // imported pending records are finished, and the new version stays.
    assert_eq!(get(&client, "legacy", "tree/0/k000").await, b"crashed overwrite");
    for i in 1..30 {
        assert_eq!(get(&client, "legacy", &format!("tree/{}/k{i:03}", i % 3)).await, format!("v{i}").as_bytes());
    }

    let mut keys = Vec::new();
    let mut token = None;
    loop {
        let page = client
            .list_objects_v2()
            .bucket("legacy")
            .max_keys(7)
            .set_continuation_token(token)
            .send()
            .await
            .expect("list");
        keys.extend(page.contents().iter().filter_map(|o| o.key().map(str::to_owned)));
        token = page.next_continuation_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(keys.len(), 35, "{keys:?}");
    assert!(keys.windows(2).all(|w| w[0] < w[1]), "{keys:?}");
    let buckets = client.list_buckets().send().await.expect("buckets");
    let names: Vec<&str> = buckets.buckets().iter().filter_map(|b| b.name()).collect();
    assert_eq!(names, ["empty-bucket", "legacy"]);

    // The upload in progress goes on.
    let uploads = client.list_multipart_uploads().bucket("legacy").send().await.expect("uploads");
    assert_eq!(uploads.uploads().iter().filter_map(|u| u.upload_id()).collect::<Vec<_>>(), [upload_id.as_str()]);
    let parts = client.list_parts().bucket("legacy").key("inprogress").upload_id(&upload_id).send().await;
    let part = parts.expect("parts").parts()[0].clone();
    let done = CompletedMultipartUpload::builder()
        .parts(CompletedPart::builder().part_number(1).e_tag(part.e_tag().expect("etag")).build())
        .build();
    client
        .complete_multipart_upload()
        .bucket("legacy")
        .key("inprogress")
        .upload_id(&upload_id)
        .multipart_upload(done)
        .send()
        .await
        .expect("complete");
    assert_eq!(get(&client, "legacy", "inprogress").await, vec![b'x'; 1000]);

    for n in 1..=4 {
        assert_eq!(legacy_files(&server.drive(n)), Vec::<String>::new(), "drive {n} keeps layout-1 files");
        assert!(server.drive(n).join(".cairn.sys/index.redb").is_file());
        let format = std::fs::read(server.drive(n).join(".cairn.sys/format.json")).expect("format");
        let format = cairn_meta::FormatFile::decode(&format).expect("decodes");
        assert_eq!(format.version, cairn_meta::FORMAT_VERSION, "older builds must refuse the upgraded drive");
    }
    // Written after the upgrade, kept over a restart.
    put(&client, "legacy", "after", b"written by the new layout").await;
    let server = Server::start_in(server.stop(), 4, &[]);
    let client = server.client();
    assert_eq!(get(&client, "legacy", "after").await, b"written by the new layout");
    assert_eq!(get(&client, "legacy", "dir/big.bin").await, big);
}

/// The index is the drive's alone: a second server started on drives a running one
/// serves is refused instead of writing beside it.
#[tokio::test(flavor = "multi_thread")]
async fn a_second_server_on_the_same_drives_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let drives = format!("{}/d{{1...4}}", dir.path().display());
    let mut first = std::process::Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args(["server", "--address", "127.0.0.1:0", &drives])
        .env("CAIRN_CONSOLE_ADDRESS", "127.0.0.1:0")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("first server");
    let index = dir.path().join("d1/.cairn.sys/index.redb");
    for _ in 0..300 {
        if index.is_file() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
    let log = dir.path().join("second.log");
    let mut second = std::process::Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args(["server", "--address", "127.0.0.1:0", &drives])
        .env("CAIRN_CONSOLE_ADDRESS", "127.0.0.1:0")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log"))
        .spawn()
        .expect("second server");
    // A second server that is not refused keeps running: wait a bounded time, then stop it.
    let mut exited = None;
    for _ in 0..300 {
        exited = second.try_wait().expect("wait");
        if exited.is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    for server in [&mut first, &mut second] {
        let _ = server.kill();
        let _ = server.wait();
    }
    let exited = exited.expect("a second server kept running on drives in use");
    assert!(!exited.success(), "a second server ran on drives in use");
    let said = std::fs::read_to_string(&log).expect("second log");
    assert!(said.contains("already open") || said.contains("Database already open"), "{said}");
}
