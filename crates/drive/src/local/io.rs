//! Durable filesystem primitives: every commit is staging, fsync, rename, and an
//! fsync of the directory that received the new name.

use crate::{DriveError, Result};
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::Path;

/// Runs blocking filesystem work on tokio's blocking pool.
pub(crate) async fn blocking<T, F>(work: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T> + Send + 'static,
{
    match tokio::task::spawn_blocking(work).await {
        Ok(result) => result,
        Err(join_error) => Err(DriveError::Io { op: "blocking task", source: std::io::Error::other(join_error) }),
    }
}

/// Fsyncs a directory so that names created or removed in it survive a crash.
pub(crate) fn fsync_dir(dir: &Path) -> Result<()> {
    let handle = File::open(dir).map_err(|e| DriveError::io("open dir for fsync", e))?;
    handle.sync_all().map_err(|e| DriveError::io("fsync dir", e))
}

/// Creates `dir` and any missing parents below `base` (which must exist).
///
/// New directory entries are not fsynced one by one: every caller ends with an fsync
/// of the directory that receives the committed file, and on the journaling
/// filesystems Cairn supports (ext4, XFS) that journal commit also carries the
/// earlier `mkdir`s, which were journaled before it. This halves the fsyncs of a
/// small PUT to a new key.
pub(crate) fn create_dir_all_durable(base: &Path, dir: &Path) -> Result<()> {
    assert!(dir.starts_with(base), "directory outside its base");
    if dir.is_dir() {
        return Ok(());
    }
    let mut missing = Vec::new();
    let mut cursor = dir;
    while cursor != base && !cursor.is_dir() {
        missing.push(cursor);
        cursor = cursor.parent().expect("a path below base has a parent");
    }
    for created in missing.iter().rev() {
        match fs::create_dir(created) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && created.is_dir() => continue,
            Err(e) => return Err(DriveError::io("create dir", e)),
        }
    }
    Ok(())
}

/// Writes `data` to `staging`, fsyncs it, renames it to `target` and fsyncs the
/// target's directory. `target`'s directory must exist.
pub(crate) fn write_file_atomic(staging: &Path, target: &Path, data: &[u8]) -> Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(staging)
        .map_err(|e| DriveError::io("create staging file", e))?;
    let written =
        file.write_all(data).and_then(|()| file.sync_data()).map_err(|e| DriveError::io("write staging file", e));
    if let Err(error) = written {
        let _ = fs::remove_file(staging);
        return Err(error);
    }
    if let Err(e) = fs::rename(staging, target) {
        let _ = fs::remove_file(staging);
        return Err(DriveError::io("rename into place", e));
    }
    fsync_dir(target.parent().expect("target has a parent"))
}

/// Removes a directory tree; a missing one is fine.
pub(crate) fn remove_tree(path: &Path) -> Result<()> {
    let result = match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(DriveError::io("remove", e)),
    }
}

/// Removes `dir` and then each parent up to (not including) `stop` while they are empty.
pub(crate) fn remove_empty_parents(dir: &Path, stop: &Path) {
    let mut cursor = Some(dir);
    while let Some(current) = cursor {
        if current == stop || !current.starts_with(stop) {
            break;
        }
        // remove_dir fails on a non-empty directory, which is exactly where we stop.
        if fs::remove_dir(current).is_err() {
            break;
        }
        cursor = current.parent();
    }
}
