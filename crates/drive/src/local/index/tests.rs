use super::walk::IndexWalk;
use super::*;
use crate::local::LocalDrive;
use crate::{Drive, WalkEntry, WalkOptions};
use proptest::prelude::*;
use std::collections::BTreeSet;
use std::fs;

fn open_index() -> (tempfile::TempDir, Arc<Index>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let index = Index::open(&dir.path().join(INDEX_FILE), false).expect("open");
    (dir, Arc::new(index))
}

fn put(index: &Arc<Index>, volume: &str, key: &str) {
    let op = Op::Put { volume: volume.into(), key: key.into(), meta: Bytes::from(key.to_owned()) };
    index.apply(op).expect("put");
}

fn walk_all(index: &Index, volume: &str, options: WalkOptions) -> Vec<WalkEntry> {
    let mut walk = IndexWalk::new(volume, options);
    let mut entries = Vec::new();
    while !walk.is_done() {
        entries.extend(walk.next_chunk(index).expect("chunk"));
    }
    entries
}

/// What a walk must return, computed from the sorted keys.
fn model(keys: &BTreeSet<String>, options: &WalkOptions) -> Vec<WalkEntry> {
    let after = |k: &str| options.start_after.as_deref().is_none_or(|s| k > s);
    let mut out = Vec::new();
    let mut last_prefix: Option<String> = None;
    for key in keys.iter().filter(|k| k.starts_with(&options.prefix)) {
        let rest = &key[options.prefix.len()..];
        match rest.find('/').filter(|_| !options.recursive) {
            Some(slash) => {
                let common = key[..options.prefix.len() + slash + 1].to_owned();
                if after(&common) && last_prefix.as_ref() != Some(&common) {
                    out.push(WalkEntry::Prefix(common.clone()));
                }
                last_prefix = Some(common);
            }
            None if after(key) => out.push(WalkEntry::Object { key: key.clone(), meta: Bytes::from(key.clone()) }),
            None => {}
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    /// Prefixes, start keys, folder objects and '/' beside '-' and '0' (the bytes around
    /// it): the range scan and its prefix jumps return exactly what S3's order says.
    #[test]
    fn walks_return_what_the_sorted_keys_say(
        keys in proptest::collection::btree_set("[ab/0-]{1,6}", 1..60),
        prefix in "[ab/]{0,3}",
        start_after in proptest::option::of("[ab/0-]{0,5}"),
        recursive in any::<bool>(),
        limit in proptest::option::of(0usize..8),
    ) {
        let keys: BTreeSet<String> = keys.into_iter().filter(|k| crate::validate_key(k).is_ok()).collect();
        let (_dir, index) = open_index();
        for key in &keys {
            put(&index, "bucket", key);
        }
        // Neighbouring buckets never leak into the walk.
        put(&index, "bucke", "zzz");
        put(&index, "bucket0", "a");
        let options = WalkOptions { prefix, start_after, recursive, limit };
        let mut expected = model(&keys, &options);
        expected.truncate(limit.unwrap_or(usize::MAX));
        prop_assert_eq!(walk_all(&index, "bucket", options.clone()), expected);
    }
}

#[test]
fn a_walk_longer_than_a_chunk_resumes_after_its_last_key() {
    let (_dir, index) = open_index();
    let keys: BTreeSet<String> = (0..1_000).map(|n| format!("k/{n:05}")).collect();
    for key in &keys {
        put(&index, "bucket", key);
    }
    let options = WalkOptions { prefix: "k/".into(), start_after: None, recursive: true, limit: None };
    let walked = walk_all(&index, "bucket", options.clone());
    assert_eq!(walked.len(), 1_000);
    assert_eq!(walked, model(&keys, &options));
}

/// Keys written and deleted between the chunks of a walk: every key present for the
/// whole walk comes once, in order, and nothing comes twice.
#[test]
fn a_walk_beside_writes_and_deletes_returns_every_stable_key_once() {
    let (_dir, index) = open_index();
    for n in 0..2_000 {
        put(&index, "bucket", &format!("{n:05}/stable"));
    }
    let options = WalkOptions { prefix: String::new(), start_after: None, recursive: true, limit: None };
    let mut walk = IndexWalk::new("bucket", options);
    let mut seen = Vec::new();
    let mut round = 0;
    while !walk.is_done() {
        seen.extend(walk.next_chunk(&index).expect("chunk"));
        round += 1;
        for n in (0..2_000).step_by(7) {
            let key = format!("{n:05}/churn");
            if round % 2 == 0 {
                put(&index, "bucket", &key);
            } else {
                index.apply(Op::Delete { volume: "bucket".into(), key }).expect("delete");
            }
        }
    }
    let keys: Vec<&str> = seen
        .iter()
        .map(|e| match e {
            WalkEntry::Object { key, .. } => key.as_str(),
            WalkEntry::Prefix(p) => p.as_str(),
        })
        .collect();
    assert!(keys.windows(2).all(|w| w[0] < w[1]), "strictly ascending, so no duplicates");
    let stable = keys.iter().filter(|k| k.ends_with("/stable")).count();
    assert_eq!(stable, 2_000);
}

#[test]
fn commit_undo_and_finish_keep_the_replaced_metadata_until_resolved() {
    let (_dir, index) = open_index();
    let record = |commit_id: Uuid| PendingCommit {
        commit_id,
        volume: "b".into(),
        key: "k".into(),
        data_dir: None,
        replaced: false,
        meta_hash: 7,
        created_unix_nanos: 1,
    };
    let (first, second) = (Uuid::new_v4(), Uuid::new_v4());
    index.apply(Op::Commit { meta: Bytes::from_static(b"v1"), record: record(first) }).expect("commit");
    let pending = index.pending_commits().expect("pending");
    assert_eq!(pending.len(), 1);
    assert!(!pending[0].replaced, "a new key replaces nothing");
    assert_eq!(index.apply(Op::Finish { commit_id: first }).expect("finish"), Outcome::Found(true));
    assert!(index.pending_commits().expect("pending").is_empty());

    index.apply(Op::Commit { meta: Bytes::from_static(b"v2"), record: record(second) }).expect("commit");
    assert!(index.pending_commits().expect("pending")[0].replaced);
    assert_eq!(index.get("b", "k").expect("get"), Some(Bytes::from_static(b"v2")));
    let undone = index.apply(Op::Undo { volume: "b".into(), key: "k".into(), commit_id: second }).expect("undo");
    assert_eq!(undone, Outcome::Found(true));
    assert_eq!(index.get("b", "k").expect("get"), Some(Bytes::from_static(b"v1")));
    assert!(index.pending_commits().expect("pending").is_empty());
    assert_eq!(index.apply(Op::Finish { commit_id: second }).expect("finish"), Outcome::Found(false));

    // Undoing the first version of a key removes the key.
    let third = Uuid::new_v4();
    let mut fresh = record(third);
    fresh.key = "fresh".into();
    index.apply(Op::Commit { meta: Bytes::from_static(b"f"), record: fresh }).expect("commit");
    let undone = index.apply(Op::Undo { volume: "b".into(), key: "fresh".into(), commit_id: third }).expect("undo");
    assert_eq!(undone, Outcome::Found(false));
    assert_eq!(index.get("b", "fresh").expect("get"), None);
}

/// A drive of layout 1 (an `xl.meta` per key folder, pending commits as files) is
/// imported on open: every object, folder object, system object and pending commit is
/// in the index, the old files are gone, data folders stay.
#[tokio::test]
async fn a_layout_1_drive_is_upgraded_in_place() {
    let root = tempfile::tempdir().expect("temp dir");
    let root = root.path();
    let write = |path: &str, bytes: &[u8]| {
        let path = root.join(path);
        fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        fs::write(path, bytes).expect("write");
    };
    let data_dir = Uuid::new_v4();
    write("bucket/a/xl.meta", b"meta a");
    write("bucket/a/b/xl.meta", b"meta a/b");
    write("bucket/folder__XLDIR__/xl.meta", b"meta folder/");
    write(&format!("bucket/big/{data_dir}__XLDATA__/part.1"), b"shard");
    write("bucket/big/xl.meta", b"meta big");
    write(".cairn.sys/config/iam/x.json/xl.meta", b"meta config");
    write(".cairn.sys/format.json", b"{}");
    fs::create_dir_all(root.join("empty")).expect("empty bucket");
    let commit_id = Uuid::new_v4();
    let record = PendingCommit {
        commit_id,
        volume: "bucket".into(),
        key: "a".into(),
        data_dir: None,
        replaced: true,
        meta_hash: PendingCommit::hash_meta(b"meta a"),
        created_unix_nanos: 1,
    };
    write(&format!(".cairn.sys/undo/{commit_id}"), &record.encode());
    write(&format!(".cairn.sys/undo/{commit_id}.meta"), b"meta a before");
    // A build an earlier start left unfinished is started over.
    write(".cairn.sys/index.redb.building", b"not a database");

    let drive = LocalDrive::open(root).expect("open upgrades");
    for (volume, key, meta) in [
        ("bucket", "a", "meta a"),
        ("bucket", "a/b", "meta a/b"),
        ("bucket", "folder/", "meta folder/"),
        ("bucket", "big", "meta big"),
        (crate::SYSTEM_VOLUME, "config/iam/x.json", "meta config"),
    ] {
        assert_eq!(drive.read_meta(volume, key).await.expect(key), Bytes::from(meta), "{key}");
    }
    assert_eq!(drive.pending_commits().await.expect("pending"), vec![record]);
    drive.undo_commit("bucket", "a", commit_id, None).await.expect("undo");
    assert_eq!(drive.read_meta("bucket", "a").await.expect("a"), Bytes::from_static(b"meta a before"));
    assert!(drive.open_shard("bucket", "big", data_dir, 1).await.is_ok(), "data folders stay");
    let legacy: Vec<_> =
        walk_files(root).into_iter().filter(|p| p.ends_with("xl.meta") || p.contains("/undo")).collect();
    assert!(legacy.is_empty(), "layout-1 files left: {legacy:?}");
    assert!(!root.join("bucket/folder__XLDIR__").exists(), "empty key folders go");
    let names: Vec<_> = drive.list_volumes().await.expect("volumes").into_iter().map(|v| v.name).collect();
    assert_eq!(names, ["bucket", "empty"]);
    drop(drive);
    // Opening again changes nothing.
    let drive = LocalDrive::open(root).expect("reopen");
    assert_eq!(drive.read_meta("bucket", "a/b").await.expect("a/b"), Bytes::from_static(b"meta a/b"));
}

fn walk_files(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).expect("read dir").flatten() {
        let path = entry.path();
        out.push(path.display().to_string());
        if path.is_dir() {
            out.extend(walk_files(&path));
        }
    }
    out
}
