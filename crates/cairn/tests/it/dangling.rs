//! Leftovers that nothing references are removed by the scanner: copies of a deleted
//! object that a drive kept because it missed the delete, and data directories that no
//! metadata names (a crash between placing data and installing or dropping metadata).

use crate::harness::*;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

/// Scans run every second in these tests.
const SCANNER_INTERVAL_SECS: &str = "1";
/// Bound on the wait for the scanner to act.
const SCANNER_TIMEOUT: Duration = Duration::from_secs(30);
/// Full scans to wait for after a leftover appears, so one starts after it for sure.
const SCANS_AFTER_LEFTOVER: u64 = 2;

/// Copies the folder tree `from` to `to`, as a drive that missed a delete still has it.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create folder");
    for entry in std::fs::read_dir(from).expect("read folder") {
        let entry = entry.expect("folder entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy file");
        }
    }
}

/// Waits until `SCANS_AFTER_LEFTOVER` more full scans completed.
async fn wait_for_scans(server: &Server) {
    let target = server.scans_completed() + SCANS_AFTER_LEFTOVER;
    let deadline = Instant::now() + SCANNER_TIMEOUT;
    while server.scans_completed() < target {
        assert!(
            Instant::now() < deadline,
            "the scanner did not complete {SCANS_AFTER_LEFTOVER} scans:\n{}",
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Regression: a delete that reached a write quorum but not every drive left the old
/// object's `xl.meta` and data on the drive that missed it, forever.
#[tokio::test(flavor = "multi_thread")]
async fn copies_of_a_delete_that_a_drive_missed_are_removed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start_in(dir, 4, &[("CAIRN_SCANNER_INTERVAL_SECS", SCANNER_INTERVAL_SECS)]);
    let client = server.client();
    let bucket = new_bucket(&client, "dangling").await;
    let kept_body = random_bytes(3 << 20);
    put(&client, &bucket, "kept.bin", &kept_body).await;
    let deleted = ["gone/big.bin", "gone/small.txt"];
    put(&client, &bucket, deleted[0], &random_bytes(3 << 20)).await;
    put(&client, &bucket, deleted[1], b"small").await;
    // Drive 1 keeps its copies of both: it "missed" the deletes below.
    let saved = tempfile::tempdir().expect("temp dir");
    let drive_root = server.drive(1);
    let drive = drive_root.join(&bucket);
    copy_tree(&drive.join("gone"), saved.path());
    let metas: Vec<Vec<u8>> = deleted.iter().map(|key| meta_on(&drive_root, &bucket, key).expect("held")).collect();
    for key in deleted {
        client.delete_object().bucket(&bucket).key(key).send().await.expect("delete");
    }
    copy_tree(saved.path(), &drive.join("gone"));
    for (key, meta) in deleted.iter().zip(metas) {
        set_meta_on(&drive_root, &bucket, key, meta);
    }
    assert!(deleted.iter().all(|key| has_key_on(&drive_root, &bucket, key)), "the test put the leftovers back");

    wait_for_scans(&server).await;
    // Removing the last key below `gone/` removes the folder too.
    let gone = drive.join("gone");
    let left: Vec<String> =
        if gone.exists() { files_below(&gone).iter().map(|p| p.display().to_string()).collect() } else { Vec::new() };
    assert!(left.is_empty(), "the copies a quorum deleted are still on drive 1: {left:#?}\n{}", server.log());
    let still: Vec<_> = deleted.iter().filter(|key| has_key_on(&drive_root, &bucket, key)).collect();
    assert!(still.is_empty(), "metadata a quorum deleted is still on drive 1: {still:?}");
    // What a quorum holds stays, on every drive.
    for d in 1..=4 {
        assert!(has_key_on(&server.drive(d), &bucket, "kept.bin"), "kept.bin lost on drive {d}");
    }
    assert_eq!(get(&client, &bucket, "kept.bin").await, kept_body);
    assert!(server.log().contains("removed a dangling copy"), "{}", server.log());
}

/// Suffix of a data directory's name.
const DATA_DIR_SUFFIX: &str = "__XLDATA__";
/// Older than the scanner's grace period for orphan data directories (an hour).
const OLD: Duration = Duration::from_secs(2 * 3600);

/// Sets a folder's modification time `age` in the past.
fn age_folder(dir: &Path, age: Duration) {
    let folder = std::fs::File::open(dir).expect("open folder");
    folder.set_modified(SystemTime::now() - age).expect("set modification time");
}

/// The data directories in a key's folder.
fn data_dirs(key_dir: &Path) -> Vec<PathBuf> {
    let entries = std::fs::read_dir(key_dir).expect("read key folder");
    let mut dirs: Vec<PathBuf> = entries
        .map(|e| e.expect("entry").path())
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.ends_with(DATA_DIR_SUFFIX)))
        .collect();
    dirs.sort();
    dirs
}

/// A copy of `data_dir` under a fresh id, as a crashed commit leaves it; returns its path.
fn orphan_copy(data_dir: &Path, into: &Path) -> PathBuf {
    let orphan = into.join(format!("{}{DATA_DIR_SUFFIX}", uuid::Uuid::new_v4()));
    copy_tree(data_dir, &orphan);
    orphan
}

/// Regression: data directories that no `xl.meta` named (a crash mid-commit or
/// mid-delete) stayed on the drive forever. Old ones go; young ones (a commit may be in
/// progress) and every one that metadata names stay.
#[tokio::test(flavor = "multi_thread")]
async fn data_directories_no_metadata_names_are_removed_once_old() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start_in(dir, 4, &[("CAIRN_SCANNER_INTERVAL_SECS", SCANNER_INTERVAL_SECS)]);
    let client = server.client();
    let bucket = new_bucket(&client, "orphans").await;
    let body = random_bytes(3 << 20);
    put(&client, &bucket, "kept.bin", &body).await;
    let volume = server.drive(1).join(&bucket);
    let key_dir = volume.join("kept.bin");
    let live = data_dirs(&key_dir);
    assert_eq!(live.len(), 1, "one data directory for a multi-block object: {live:?}");
    // The live data directory is old too: age alone never removes data.
    age_folder(&live[0], OLD);
    let old_orphan = orphan_copy(&live[0], &key_dir);
    age_folder(&old_orphan, OLD);
    let young_orphan = orphan_copy(&live[0], &key_dir);
    // A key folder with data but no metadata at all: a new key whose commit crashed.
    let crashed_key = volume.join("crashed").join("new.bin");
    std::fs::create_dir_all(&crashed_key).expect("key folder");
    let crashed_data = orphan_copy(&live[0], &crashed_key);
    age_folder(&crashed_data, OLD);

    wait_for_scans(&server).await;
    let log = server.log();
    assert!(!old_orphan.exists(), "an old data directory no metadata names is still there:\n{log}");
    assert!(!volume.join("crashed").exists(), "the crashed key's folder is still there:\n{log}");
    assert!(young_orphan.exists(), "a young data directory (maybe a commit in progress) was removed:\n{log}");
    assert!(live[0].exists(), "the live data directory was removed:\n{log}");
    assert_eq!(get(&client, &bucket, "kept.bin").await, body);
}
