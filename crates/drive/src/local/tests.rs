use super::*;
use crate::PartSource;

async fn stage_part(drive: &LocalDrive, name: &str, content: &[u8]) -> String {
    let path = format!("tmp/{name}");
    let mut writer = drive.create_sys_file(&path).await.expect("create");
    writer.write(Bytes::copy_from_slice(content)).await.expect("write");
    writer.finish().await.expect("finish");
    path
}

fn request(data_dir: Uuid, part: &str, meta: &'static [u8], commit_id: Uuid) -> CommitRequest {
    CommitRequest {
        volume: "bucket".into(),
        key: "k".into(),
        data_dir: Some(data_dir),
        parts: vec![PartSource { sys_path: part.into(), part_number: 1 }],
        meta: Bytes::from_static(meta),
        commit_id,
    }
}

async fn read_part(drive: &LocalDrive, data_dir: Uuid) -> Option<Bytes> {
    let shard = drive.open_shard("bucket", "k", data_dir, 1).await.ok()?;
    shard.read_at(0, 3).await.ok()
}

/// Regression: `open()` did not fsync the drive root after creating `.cairn.sys`, so
/// a crash could lose the system volume (and the format written into it).
#[test]
fn opening_a_fresh_drive_fsyncs_every_new_folder_in_its_parent() {
    let parent = tempfile::tempdir().expect("temp dir");
    let parent = fs::canonicalize(parent.path()).expect("canonical");
    let root = parent.join("drive");
    let synced = io::tests::fsynced_during(|| {
        LocalDrive::open(&root).expect("open");
    });
    for holder in [&parent, &root, &root.join(SYSTEM_VOLUME)] {
        assert!(synced.contains(holder), "{} not fsynced after a folder was made in it: {synced:?}", holder.display());
    }
}

/// A bucket is empty when its index range is: an object keeps it, leftover data
/// folders (a crash's orphans) do not.
#[tokio::test]
async fn a_bucket_is_deleted_only_when_the_index_holds_none_of_its_objects() {
    let root = tempfile::tempdir().expect("temp dir");
    let drive = LocalDrive::open(root.path()).expect("open");
    drive.make_volume("bucket").await.expect("volume");
    drive.make_volume("bucket2").await.expect("volume");
    drive.write_meta("bucket", "a/b", Bytes::from_static(b"meta")).await.expect("object");
    // An object in the bucket whose name extends this one's does not count.
    drive.write_meta("bucket2x", "k", Bytes::from_static(b"meta")).await.expect_err("no such bucket");
    drive.write_meta("bucket2", "k", Bytes::from_static(b"meta")).await.expect("object");
    let refused = drive.delete_volume("bucket").await;
    assert!(matches!(refused, Err(DriveError::VolumeNotEmpty)), "{refused:?}");
    drive.delete_object("bucket", "a/b").await.expect("delete");
    let orphan = root.path().join("bucket/x").join(data_dir_name(Uuid::new_v4()));
    fs::create_dir_all(&orphan).expect("orphan data folder");
    drive.delete_volume("bucket").await.expect("an empty bucket goes, orphans with it");
    assert!(!root.path().join("bucket").exists());
    assert_eq!(drive.read_meta("bucket2", "k").await.expect("other bucket untouched"), Bytes::from_static(b"meta"));
}

#[tokio::test]
async fn a_drive_wiped_while_open_comes_back_with_its_system_volume() {
    let parent = tempfile::tempdir().expect("temp dir");
    let root = parent.path().join("drive");
    let drive = LocalDrive::open(&root).expect("open");
    for wipe in [&root, &root.join(SYSTEM_VOLUME)] {
        std::fs::remove_dir_all(wipe).expect("wipe");
        assert!(matches!(drive.read_sys_file("format.json").await, Err(DriveError::DriveNotFound)));
        drive.make_system_volume().await.expect("recreate");
        drive.make_system_volume().await.expect("recreating an existing drive changes nothing");
        assert!(matches!(drive.read_sys_file("format.json").await, Err(DriveError::FileNotFound)));
        // Staging works again: atomic writes go through the staging folder.
        drive.write_sys_file("format.json", Bytes::from_static(b"{}")).await.expect("write");
    }
}

#[tokio::test]
async fn undo_restores_the_replaced_version_and_finish_drops_it() {
    let root = tempfile::tempdir().expect("temp dir");
    let drive = LocalDrive::open(root.path()).expect("open");
    drive.make_volume("bucket").await.expect("volume");
    let (old_dir, new_dir, newer_dir) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());

    let part = stage_part(&drive, "a", b"old").await;
    let first = Uuid::new_v4();
    drive.commit(request(old_dir, &part, b"meta-old", first)).await.expect("commit");
    drive.finish_commit("bucket", "k", first, vec![old_dir]).await.expect("finish");
    assert!(
        std::path::Path::new(&root.path().join(".cairn.sys").join(&part)).exists(),
        "sources are linked, not moved"
    );

    // A commit that loses its quorum is undone: the old metadata and data are back.
    let part = stage_part(&drive, "b", b"new").await;
    let second = Uuid::new_v4();
    drive.commit(request(new_dir, &part, b"meta-new", second)).await.expect("commit");
    assert_eq!(drive.read_meta("bucket", "k").await.expect("meta"), Bytes::from_static(b"meta-new"));
    drive.undo_commit("bucket", "k", second, Some(new_dir)).await.expect("undo");
    assert_eq!(drive.read_meta("bucket", "k").await.expect("meta"), Bytes::from_static(b"meta-old"));
    assert_eq!(read_part(&drive, old_dir).await.as_deref(), Some(&b"old"[..]));
    assert!(read_part(&drive, new_dir).await.is_none());

    // A commit that reaches its quorum is finished: only the new data remains.
    let part = stage_part(&drive, "c", b"nwr").await;
    let third = Uuid::new_v4();
    drive.commit(request(newer_dir, &part, b"meta-newer", third)).await.expect("commit");
    drive.finish_commit("bucket", "k", third, vec![newer_dir]).await.expect("finish");
    assert!(read_part(&drive, old_dir).await.is_none());
    assert_eq!(read_part(&drive, newer_dir).await.as_deref(), Some(&b"nwr"[..]));

    // Undoing the first version of a key removes the key.
    let part = stage_part(&drive, "d", b"xyz").await;
    let fresh = Uuid::new_v4();
    let mut first_version = request(Uuid::new_v4(), &part, b"meta", fresh);
    first_version.key = "fresh/key".into();
    let data_dir = first_version.data_dir;
    drive.commit(first_version).await.expect("commit");
    drive.undo_commit("bucket", "fresh/key", fresh, data_dir).await.expect("undo");
    assert!(matches!(drive.read_meta("bucket", "fresh/key").await, Err(DriveError::FileNotFound)));
    assert!(!root.path().join("bucket/fresh").exists(), "empty parents are removed");
}

/// The group commit's own path (inline commits and finishes await it): an inline
/// version that replaces one with files drops the old data and the key's folders once
/// finished, and an inline commit to a bucket whose folder is gone is refused.
#[tokio::test]
async fn an_inline_version_replaces_files_and_its_finish_removes_them() {
    let root = tempfile::tempdir().expect("temp dir");
    let drive = LocalDrive::open(root.path()).expect("open");
    drive.make_volume("bucket").await.expect("volume");
    let old_dir = Uuid::new_v4();
    let part = stage_part(&drive, "a", b"old").await;
    let first = Uuid::new_v4();
    let mut with_files = request(old_dir, &part, b"meta-files", first);
    with_files.key = "a/b/k".into();
    drive.commit(with_files).await.expect("commit");
    drive.finish_commit("bucket", "a/b/k", first, vec![old_dir]).await.expect("finish");
    assert!(root.path().join("bucket/a/b").is_dir());

    let second = Uuid::new_v4();
    let inline = CommitRequest {
        volume: "bucket".into(),
        key: "a/b/k".into(),
        data_dir: None,
        parts: Vec::new(),
        meta: Bytes::from_static(b"meta-inline"),
        commit_id: second,
    };
    drive.commit(inline.clone()).await.expect("inline commit");
    assert_eq!(drive.read_meta("bucket", "a/b/k").await.expect("meta"), Bytes::from_static(b"meta-inline"));
    assert_eq!(drive.pending_commits().await.expect("pending").len(), 1, "recorded until finished");
    drive.finish_commit("bucket", "a/b/k", second, Vec::new()).await.expect("finish");
    assert!(drive.pending_commits().await.expect("pending").is_empty());
    assert!(!root.path().join("bucket/a").exists(), "the old data and the key's empty folders are gone");

    std::fs::remove_dir_all(root.path().join("bucket")).expect("wipe the bucket's folder");
    let refused = drive.commit(CommitRequest { commit_id: Uuid::new_v4(), ..inline }).await;
    assert!(matches!(refused, Err(DriveError::VolumeNotFound)), "{refused:?}");
}
