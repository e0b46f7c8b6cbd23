//! Fuzz targets for key and system-path validation: every key a client can send and
//! every system path a peer can send either is refused or names a place inside its
//! volume; accepted keys round trip through the directory names that store them, and
//! on a real drive a write under any accepted key lands inside the volume and comes
//! back from a walk under the same key. Case counts: `CAIRN_FUZZ_CASES`.

use bytes::Bytes;
use cairn_drive::{
    CommitRequest, Drive, LocalDrive, PartSource, SYSTEM_VOLUME, WalkEntry, WalkOptions, validate_key,
    validate_sys_path,
};
use cairn_fuzz::mutate::mutated_text;
use proptest::prelude::*;
use std::path::{Component, Path, PathBuf};

/// Cases of the pure targets in a normal test run.
const CASES: u32 = 4096;
/// Cases of the on-disk target (each writes, walks and deletes one object).
const DISK_CASES: u32 = 256;
/// A disk case (write, read, walk, delete) costs about this many pure cases.
const DISK_CASE_COST: u32 = 10;
/// Suffix of a folder object's directory (`a/` is stored as `a__XLDIR__`).
const DIR_OBJECT_SUFFIX: &str = "__XLDIR__";

/// Segments that stress the rules: traversal, reserved names, separators, escapes.
const TRICKY_SEGMENTS: &[&str] = &[
    "",
    ".",
    "..",
    "...",
    "a",
    "xl.meta",
    "XL.META",
    "x__XLDIR__",
    "y__XLDATA__",
    "__XLDIR__x",
    "\\",
    "..\\..",
    "%2e%2e",
    "\0",
    "ü",
    "\u{202e}",
    "~",
    ".cairn.sys",
    "\n",
];

/// Keys built from tricky and random segments, with or without a trailing `/`.
fn structured_key() -> impl Strategy<Value = String> {
    let segment = prop_oneof![
        3 => proptest::sample::select(TRICKY_SEGMENTS).prop_map(str::to_owned),
        2 => "[a-z.]{0,4}",
        1 => "\\PC{0,8}",
        1 => (250usize..260).prop_map(|n| "s".repeat(n)),
    ];
    (proptest::collection::vec(segment, 1..8), any::<bool>(), any::<bool>()).prop_map(|(segments, lead, trail)| {
        let mut key = segments.join("/");
        if lead {
            key.insert(0, '/');
        }
        if trail {
            key.push('/');
        }
        key
    })
}

fn any_key() -> impl Strategy<Value = String> {
    prop_oneof![
        structured_key(),
        any::<String>(),
        mutated_text(vec!["photos/2024/ü.jpg".into(), "dir/".into(), "a/b/c".into(), "k".repeat(1024)]),
    ]
}

/// The key a list of stored segments (directory names) stands for.
fn key_of(segments: &[String]) -> String {
    let mut names: Vec<&str> = segments.iter().map(String::as_str).collect();
    let mut folder = false;
    if let Some(last) = names.last_mut()
        && let Some(base) = last.strip_suffix(DIR_OBJECT_SUFFIX)
    {
        *last = base;
        folder = true;
    }
    let mut key = names.join("/");
    if folder {
        key.push('/');
    }
    key
}

/// True when `relative` names a place strictly below its base: only normal components.
fn stays_below(relative: &Path) -> bool {
    relative.components().count() > 0 && relative.components().all(|c| matches!(c, Component::Normal(_)))
}

#[test]
fn fuzz_key_validation() {
    cairn_fuzz::run("drive_keys", CASES, any_key(), |key| {
        let Ok(segments) = validate_key(&key) else { return Ok(()) };
        prop_assert!(!key.is_empty() && key.len() <= 1024, "accepted {key:?}");
        let relative: PathBuf = segments.iter().collect();
        prop_assert!(stays_below(&relative), "{key:?} -> {relative:?}");
        prop_assert_eq!(relative.components().count(), segments.len(), "a segment hides a separator: {:?}", segments);
        for segment in &segments {
            prop_assert!(segment.len() <= 255 && !segment.contains(['/', '\0']), "{key:?}: segment {segment:?}");
            prop_assert!(segment != "xl.meta" && !segment.ends_with("__XLDATA__"), "{key:?}: segment {segment:?}");
        }
        prop_assert_eq!(key_of(&segments), key, "stored segments {:?} read back as another key", segments);
        Ok(())
    });
}

#[test]
fn fuzz_system_paths() {
    let paths = prop_oneof![
        any_key(),
        mutated_text(vec!["tmp/4b6f0b5e".into(), "multipart/b/1f/part.1.meta".into(), "buckets/b.meta".into()]),
    ];
    cairn_fuzz::run("drive_system_paths", CASES, paths, |path| {
        if validate_sys_path(&path).is_ok() {
            prop_assert!(stays_below(Path::new(&path)), "{path:?}");
        }
        Ok(())
    });
}

/// Every file below `dir`, relative to `base`.
fn files_below(dir: &Path, base: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("readable test folder").flatten() {
        let path = entry.path();
        if entry.file_type().expect("file type").is_dir() {
            files_below(&path, base, out);
        } else {
            out.push(path.strip_prefix(base).expect("below base").to_owned());
        }
    }
}

#[test]
fn fuzz_keys_on_a_drive() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let folder = tempfile::tempdir().expect("temp dir");
    let root = folder.path().join("drive");
    let drive = LocalDrive::open(&root).expect("drive");
    runtime.block_on(drive.make_volume("bucket")).expect("volume");
    let volume = Path::new("drive/bucket");
    let system_volume = Path::new("drive").join(SYSTEM_VOLUME);
    let keys = prop_oneof![structured_key(), "[a-z/.]{1,12}"];
    cairn_fuzz::run_costing(
        "drive_keys_on_disk",
        DISK_CASES,
        DISK_CASE_COST,
        (keys, any::<bool>()),
        |(key, system)| {
            let meta = Bytes::from(key.clone().into_bytes());
            if system {
                // A peer names system files by path: whatever it sends stays in the system volume.
                if runtime.block_on(drive.write_sys_file(&key, meta.clone())).is_ok() {
                    prop_assert!(root.join(SYSTEM_VOLUME).join(&key).is_file(), "{key:?} written elsewhere");
                    runtime.block_on(drive.delete_sys(&key)).expect("delete what was written");
                }
            } else if runtime.block_on(drive.write_meta("bucket", &key, meta.clone())).is_ok() {
                prop_assert_eq!(runtime.block_on(drive.read_meta("bucket", &key)).expect("read back"), meta.clone());
                let options = WalkOptions { prefix: key.clone(), start_after: None, recursive: true, limit: None };
                let mut walk = {
                    let _context = runtime.enter();
                    drive.walk("bucket", options)
                };
                let mut found = false;
                while let Some(Ok(chunk)) = runtime.block_on(walk.recv()) {
                    for entry in chunk {
                        if let WalkEntry::Object { key: listed, meta: listed_meta } = entry {
                            found |= listed == key && listed_meta == meta;
                        }
                    }
                }
                prop_assert!(found, "{key:?} did not come back from a walk");
                runtime.block_on(drive.delete_object("bucket", &key)).expect("delete");
            }
            let mut files = Vec::new();
            files_below(folder.path(), folder.path(), &mut files);
            let outside: Vec<&PathBuf> =
                files.iter().filter(|f| !f.starts_with(volume) && !f.starts_with(&system_volume)).collect();
            prop_assert!(outside.is_empty(), "{key:?} left files outside the volume: {outside:?}");
            Ok(())
        },
    );
}

/// Found by `fuzz_keys_on_a_drive`: a walk whose prefix ends at a folder named with
/// 247 to 255 bytes found nothing, because the prefix was validated as a folder
/// object, whose directory name (the folder's plus `__XLDIR__`) is too long to store.
/// So `ListObjects prefix=<long folder>/` came back empty although keys lived there.
#[test]
fn a_prefix_ending_at_a_folder_of_255_bytes_lists_its_keys() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let folder = tempfile::tempdir().expect("temp dir");
    let drive = LocalDrive::open(folder.path()).expect("drive");
    runtime.block_on(drive.make_volume("bucket")).expect("volume");
    let long = "f".repeat(255);
    let key = format!("{long}/object");
    runtime.block_on(drive.write_meta("bucket", &key, Bytes::from_static(b"meta"))).expect("a valid key");
    for (prefix, recursive) in [(format!("{long}/"), true), (format!("{long}/"), false), (format!("{long}/ob"), true)] {
        let options = WalkOptions { prefix: prefix.clone(), start_after: None, recursive, limit: None };
        let mut walk = {
            let _context = runtime.enter();
            drive.walk("bucket", options)
        };
        let mut keys = Vec::new();
        while let Some(chunk) = runtime.block_on(walk.recv()) {
            for entry in chunk.expect("walk") {
                if let WalkEntry::Object { key, .. } = entry {
                    keys.push(key);
                }
            }
        }
        assert_eq!(keys, std::slice::from_ref(&key), "prefix {prefix:?} (recursive {recursive})");
    }
}

/// Found by `fuzz_rpc_calls` (`crates/cairn/tests/fuzz`): a Commit call naming parts
/// but no data directory hit an assertion in the drive, panicking a server task on
/// input any peer (or a replayed token) can send.
#[test]
fn a_commit_with_parts_but_no_data_directory_is_refused() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let folder = tempfile::tempdir().expect("temp dir");
    let drive = LocalDrive::open(folder.path()).expect("drive");
    runtime.block_on(drive.make_volume("bucket")).expect("volume");
    runtime.block_on(drive.write_sys_file("tmp/part", Bytes::from_static(b"shard"))).expect("a staged part");
    let request = CommitRequest {
        volume: "bucket".into(),
        key: "k".into(),
        data_dir: None,
        parts: vec![PartSource { sys_path: "tmp/part".into(), part_number: 1 }],
        meta: Bytes::from_static(b"meta"),
        commit_id: uuid::Uuid::from_u128(1),
    };
    let result = runtime.block_on(drive.commit(request));
    assert!(matches!(result, Err(cairn_drive::DriveError::Corrupt(_))), "{result:?}");
    assert!(runtime.block_on(drive.read_meta("bucket", "k")).is_err(), "nothing was committed");
}
