//! Opening a drive's index, and upgrading a drive of layout 1 (one `xl.meta` file per
//! key folder, pending commits as files in `.cairn.sys/undo/`) in place.
//!
//! The upgrade is crash-safe in two steps. (1) The index is built beside the files, in
//! `index.redb.building`, and renamed to `index.redb` once complete: a crash before the
//! rename leaves layout 1 untouched, and the next start builds it again. (2) Only then
//! are the copied files removed, and the index notes when that is done: a crash in
//! between leaves files nothing reads, which the next start removes.

use super::{INDEX_FILE, INFO_LEGACY_REMOVED, Index, OBJECTS, PENDING, REPLACED, db_error, object_key};
use crate::local::io::{fsync_dir, remove_empty_parents, remove_tree};
use crate::path::{DATA_DIR_SUFFIX, META_FILE_NAME, SYSTEM_VOLUME, key_of_folder, validate_key, validate_volume};
use crate::{DriveError, PendingCommit, Result, UNDO_DIR};
use std::fs;
use std::path::{Path, PathBuf};

/// Objects copied per transaction while importing layout 1.
const IMPORT_BATCH_ENTRIES: usize = 1_000;
/// Name of the index while an import builds it.
const BUILDING_FILE: &str = "index.redb.building";
/// Deepest folder nesting followed; keys are at most 1024 bytes, so at most 512 segments.
const DEPTH_MAX: usize = 512;

/// Opens the index of the drive at `root`, importing a layout-1 drive first.
pub(crate) fn open_or_migrate(root: &Path, shared: bool) -> Result<Index> {
    let system = root.join(SYSTEM_VOLUME);
    let path = system.join(INDEX_FILE);
    if !path.exists() {
        let building = system.join(BUILDING_FILE);
        remove_tree(&building)?;
        let index = Index::open(&building, shared)?;
        let imported = import(root, &index)?;
        drop(index);
        fs::rename(&building, &path).map_err(|e| DriveError::io("install index", e))?;
        fsync_dir(&system)?;
        if imported > 0 {
            tracing::info!(drive = %root.display(), objects = imported, "drive upgraded to the indexed layout");
        }
    }
    let index = Index::open(&path, shared)?;
    if index.info(INFO_LEGACY_REMOVED)?.is_none() {
        remove_legacy(root)?;
        index.set_info(INFO_LEGACY_REMOVED, 1)?;
    }
    Ok(index)
}

/// The folders that hold keys: each bucket's, and the system volume (Cairn's own
/// configuration objects live there).
fn volumes(root: &Path) -> Result<Vec<(String, PathBuf)>> {
    let mut volumes = Vec::new();
    for entry in fs::read_dir(root).map_err(|e| DriveError::io("list volumes", e))? {
        let entry = entry.map_err(|e| DriveError::io("list volumes", e))?;
        let Ok(name) = entry.file_name().into_string() else { continue };
        if entry.file_type().is_ok_and(|t| t.is_dir()) && validate_volume(&name).is_ok() {
            volumes.push((name, entry.path()));
        }
    }
    Ok(volumes)
}

/// Calls `found(key, folder)` for every key folder holding an `xl.meta` below `volume_dir`.
fn each_legacy_key(volume_dir: &Path, found: &mut dyn FnMut(String, &Path) -> Result<()>) -> Result<()> {
    let mut stack = vec![(volume_dir.to_path_buf(), 0)];
    while let Some((dir, depth)) = stack.pop() {
        if depth > DEPTH_MAX {
            return Err(DriveError::Corrupt(format!("{} nests deeper than any key", dir.display())));
        }
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(DriveError::io("read folder during upgrade", e)),
        };
        for entry in entries {
            let entry = entry.map_err(|e| DriveError::io("read folder during upgrade", e))?;
            let Ok(name) = entry.file_name().into_string() else { continue };
            if name == META_FILE_NAME && depth > 0 {
                match key_of_folder(volume_dir, &dir).filter(|key| validate_key(key).is_ok()) {
                    Some(key) => found(key, &dir)?,
                    None => tracing::warn!(folder = %dir.display(), "upgrade skips a folder that is no key"),
                }
            } else if entry.file_type().is_ok_and(|t| t.is_dir()) && !name.ends_with(DATA_DIR_SUFFIX) {
                stack.push((entry.path(), depth + 1));
            }
        }
    }
    Ok(())
}

/// Copies every layout-1 `xl.meta` and pending commit into `index`; returns the objects copied.
fn import(root: &Path, index: &Index) -> Result<u64> {
    let mut batch: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    let mut imported = 0;
    let flush = |batch: &mut Vec<(Vec<u8>, Vec<u8>)>| {
        index.write("import metadata", false, |txn| {
            let mut table = txn.open_table(OBJECTS).map_err(|e| db_error("import metadata", e))?;
            for (key, meta) in batch.drain(..) {
                table.insert(key.as_slice(), meta.as_slice()).map_err(|e| db_error("import metadata", e))?;
            }
            Ok(())
        })
    };
    for (volume, dir) in volumes(root)? {
        each_legacy_key(&dir, &mut |key, folder| {
            let meta = fs::read(folder.join(META_FILE_NAME)).map_err(|e| DriveError::io("read metadata", e))?;
            batch.push((object_key(&volume, &key), meta));
            imported += 1;
            if batch.len() >= IMPORT_BATCH_ENTRIES { flush(&mut batch) } else { Ok(()) }
        })?;
    }
    flush(&mut batch)?;
    import_pending(root, index)?;
    Ok(imported)
}

/// Copies the pending-commit records of `.cairn.sys/undo/` and the metadata they
/// replaced, in one durable commit (which also makes the batches before it durable).
fn import_pending(root: &Path, index: &Index) -> Result<()> {
    let undo = root.join(SYSTEM_VOLUME).join(UNDO_DIR);
    let mut records = Vec::new();
    if let Ok(entries) = fs::read_dir(&undo) {
        for entry in entries.flatten() {
            let Some(commit_id) = entry.file_name().to_str().and_then(PendingCommit::record_name) else { continue };
            let bytes = fs::read(entry.path()).map_err(|e| DriveError::io("read pending commit", e))?;
            if let Err(error) = PendingCommit::decode(&bytes) {
                tracing::warn!(%commit_id, %error, "upgrade skips an unreadable pending commit");
                continue;
            }
            let replaced = match fs::read(undo.join(format!("{commit_id}.meta"))) {
                Ok(meta) => Some(meta),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(e) => return Err(DriveError::io("read replaced metadata", e)),
            };
            records.push((commit_id, bytes, replaced));
        }
    }
    index.write("import pending commits", true, |txn| {
        let mut pending = txn.open_table(PENDING).map_err(|e| db_error("import pending commits", e))?;
        let mut replaced_table = txn.open_table(REPLACED).map_err(|e| db_error("import pending commits", e))?;
        for (commit_id, record, replaced) in &records {
            let id = commit_id.as_bytes().as_slice();
            pending.insert(id, record.as_slice()).map_err(|e| db_error("import pending commits", e))?;
            if let Some(replaced) = replaced {
                replaced_table.insert(id, replaced.as_slice()).map_err(|e| db_error("import pending commits", e))?;
            }
        }
        Ok(())
    })
}

/// Removes the layout-1 files the index replaced: every `xl.meta`, the key folders left
/// empty, and the pending-commit files.
fn remove_legacy(root: &Path) -> Result<()> {
    for (_, volume_dir) in volumes(root)? {
        let mut folders = Vec::new();
        each_legacy_key(&volume_dir, &mut |_, folder| {
            folders.push(folder.to_path_buf());
            Ok(())
        })?;
        for folder in folders {
            match fs::remove_file(folder.join(META_FILE_NAME)) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(DriveError::io("remove upgraded metadata file", e)),
            }
            remove_empty_parents(&folder, &volume_dir);
        }
    }
    remove_tree(&root.join(SYSTEM_VOLUME).join(UNDO_DIR))?;
    fsync_dir(&root.join(SYSTEM_VOLUME))
}
