//! Full redundancy, checked on the drives themselves: every drive is formatted and holds
//! the bucket; every key that any drive holds is held by every drive, with the same
//! newest version (mod time, ETag, data folder, size); and, when frames are verified,
//! every shard of that version (inline in `xl.meta`, or `part.N` files) has the size its
//! erasure layout gives and every frame's bitrot hash matches.
//!
//! All drives form one erasure set in the deployments this suite makes, so "every drive"
//! is the set.

use cairn_erasure::{Erasure, verify_frame};
use cairn_meta::{ObjectMeta, ObjectVersion};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Name suffix of a version's data folder.
const DATA_DIR_SUFFIX: &str = "__XLDATA__";
/// How many problems one check reports in full.
const PROBLEMS_SHOWN: usize = 12;

/// The outcome of one check.
#[derive(Debug, Default)]
pub struct Redundancy {
    /// Keys found on any drive.
    pub objects: usize,
    /// Everything short of full redundancy; empty when fully redundant.
    pub problems: Vec<String>,
    /// Keys that fewer drives hold than a read needs: no object (reads and listings
    /// skip them), but copies of a deleted or failed write that a drive kept because it
    /// missed the delete or the undo. Reported, not a redundancy problem.
    pub dangling: Vec<String>,
}

impl Redundancy {
    pub fn full(&self) -> bool {
        self.problems.is_empty()
    }

    /// The first problems, for messages.
    pub fn summary(&self) -> String {
        let shown: Vec<&String> = self.problems.iter().take(PROBLEMS_SHOWN).collect();
        format!("{} problems over {} objects: {shown:#?}", self.problems.len(), self.objects)
    }
}

/// What identifies a version across drives, and the data shards a read of it needs.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Signature {
    mod_time_unix_nanos: i64,
    etag: String,
    data_dir: Option<uuid::Uuid>,
    size: u64,
    data_shards: u8,
}

fn signature(version: &ObjectVersion) -> Signature {
    Signature {
        mod_time_unix_nanos: version.mod_time_unix_nanos,
        etag: version.etag.clone(),
        data_dir: version.data_dir,
        size: version.size,
        data_shards: version.erasure.data_shards,
    }
}

/// Checks `drives` for `bucket`; with `verify_frames`, reads every shard too.
pub fn check(drives: &[PathBuf], bucket: &str, verify_frames: bool) -> Redundancy {
    let mut problems = Vec::new();
    // key -> drive index -> that drive's view of the key.
    let mut views: BTreeMap<String, BTreeMap<usize, Result<Signature, String>>> = BTreeMap::new();
    for (index, drive) in drives.iter().enumerate() {
        if !drive.join(".cairn.sys/format.json").is_file() {
            problems.push(format!("drive {index} ({}) is not formatted", drive.display()));
        }
        let bucket_dir = drive.join(bucket);
        if !bucket_dir.is_dir() {
            problems.push(format!("drive {index} lacks bucket {bucket}"));
            continue;
        }
        let keys = match cairn_drive::inspect::object_keys(drive, bucket) {
            Ok(keys) => keys,
            Err(error) => {
                problems.push(format!("drive {index}: its index cannot be read: {error}"));
                continue;
            }
        };
        for key in keys {
            let view = drive_view(drive, bucket, &key, verify_frames);
            views.entry(key).or_default().insert(index, view);
        }
    }
    let objects = views.len();
    let mut dangling = Vec::new();
    for (key, by_drive) in &views {
        let read_quorum = by_drive.values().filter_map(|view| view.as_ref().ok()).map(|s| s.data_shards).max();
        if by_drive.len() < usize::from(read_quorum.unwrap_or(u8::MAX)) {
            dangling.push(format!("{key}: on drives {:?} only", by_drive.keys().collect::<Vec<_>>()));
            continue;
        }
        let missing: Vec<usize> = (0..drives.len()).filter(|d| !by_drive.contains_key(d)).collect();
        if !missing.is_empty() {
            problems.push(format!("{key}: missing on drives {missing:?}"));
        }
        let bad: Vec<String> =
            by_drive.iter().filter_map(|(d, view)| view.as_ref().err().map(|e| format!("drive {d}: {e}"))).collect();
        if !bad.is_empty() {
            problems.push(format!("{key}: {}", bad.join("; ")));
        }
        let versions: BTreeSet<&Signature> = by_drive.values().filter_map(|view| view.as_ref().ok()).collect();
        if versions.len() > 1 {
            problems.push(format!("{key}: drives disagree on the newest version: {versions:?}"));
        }
    }
    Redundancy { objects, problems, dangling }
}

/// One drive's newest version of `key`, or why it is not whole.
fn drive_view(drive: &Path, bucket: &str, key: &str, verify_frames: bool) -> Result<Signature, String> {
    let bytes = cairn_drive::inspect::object_meta(drive, bucket, key)
        .map_err(|e| format!("metadata unreadable: {e}"))?
        .ok_or("metadata gone")?;
    // Folder objects (`a/`) keep their data in a folder with a suffix.
    let dir = match key.strip_suffix('/') {
        Some(folder) => drive.join(bucket).join(format!("{folder}__XLDIR__")),
        None => drive.join(bucket).join(key),
    };
    let meta = ObjectMeta::decode(&bytes).map_err(|e| format!("xl.meta undecodable: {e}"))?;
    let version = meta.latest().ok_or("xl.meta holds no version")?;
    if verify_frames {
        verify_version(&dir, version)?;
    }
    Ok(signature(version))
}

fn verify_version(dir: &Path, version: &ObjectVersion) -> Result<(), String> {
    let layout = &version.erasure;
    let erasure = Erasure::new(
        usize::from(layout.data_shards),
        usize::from(layout.parity_shards),
        usize::try_from(layout.block_size_bytes).expect("u32 fits usize"),
    )
    .map_err(|e| format!("bad erasure layout: {e}"))?;
    match (&version.inline_data, version.data_dir) {
        (Some(inline), _) => verify_shard(inline, &erasure, version.size).map_err(|e| format!("inline data: {e}")),
        (None, Some(data_dir)) => {
            let folder = dir.join(format!("{data_dir}{DATA_DIR_SUFFIX}"));
            for part in &version.parts {
                let path = folder.join(format!("part.{}", part.number));
                let shard = std::fs::read(&path).map_err(|e| format!("part.{} unreadable: {e}", part.number))?;
                verify_shard(&shard, &erasure, part.size).map_err(|e| format!("part.{}: {e}", part.number))?;
            }
            Ok(())
        }
        (None, None) => {
            if version.size == 0 {
                Ok(())
            } else {
                Err("neither inline data nor a data folder".to_owned())
            }
        }
    }
}

/// Checks one shard of a part of `part_size` bytes: its size and every frame's hash.
fn verify_shard(shard: &[u8], erasure: &Erasure, part_size: u64) -> Result<(), String> {
    let expected = erasure.shard_file_size(part_size);
    if shard.len() as u64 != expected {
        return Err(format!("{} bytes, its layout gives {expected}", shard.len()));
    }
    let block = erasure.block_size() as u64;
    let (mut offset, mut remaining, mut index) = (0usize, part_size, 0u64);
    while remaining > 0 {
        let block_len = usize::try_from(remaining.min(block)).expect("at most a block");
        let frame_len = erasure.frame_len(block_len);
        let frame = &shard[offset..offset + frame_len];
        verify_frame(frame, erasure.shard_len(block_len)).map_err(|e| format!("frame {index}: {e}"))?;
        offset += frame_len;
        remaining -= block_len as u64;
        index += 1;
    }
    Ok(())
}
