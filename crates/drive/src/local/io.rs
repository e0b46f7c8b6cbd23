//! Durable filesystem primitives (run on blocking threads, through the drive's gate): every commit is staging, fsync, rename, and an
//! fsync of the directory that received the new name.

use crate::{DriveError, Result};
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::Path;

/// Fsyncs a directory so that names created or removed in it survive a crash.
pub(crate) fn fsync_dir(dir: &Path) -> Result<()> {
    #[cfg(test)]
    tests::FSYNCED_DIRS.with(|synced| synced.borrow_mut().push(dir.to_path_buf()));
    let handle = File::open(dir).map_err(|e| DriveError::io("open dir for fsync", e))?;
    handle.sync_all().map_err(|e| DriveError::io("fsync dir", e))
}

/// Creates `dir` and any missing parents below `base` (which must exist), durably.
pub(crate) fn create_dir_all_durable(base: &Path, dir: &Path) -> Result<()> {
    assert!(dir.starts_with(base), "directory outside its base");
    create_dirs_durable(dir, base)
}

/// Creates `dir` and its missing parents, stopping at `stop` or at the first directory
/// that exists, and fsyncs the parent of every directory it created.
///
/// A new directory entry is durable only once its parent is fsynced. Relying on the
/// journal of ext4 or XFS to carry earlier `mkdir`s along with a later fsync holds for
/// those filesystems only, and nothing checks which filesystem a drive is on; so each
/// created level is fsynced. The directory that receives a committed file is fsynced by
/// that commit, so a PUT to an existing key's directory costs no extra fsync.
pub(crate) fn create_dirs_durable(dir: &Path, stop: &Path) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut missing = Vec::new();
    let mut cursor = dir;
    while cursor != stop && !cursor.is_dir() {
        missing.push(cursor);
        match cursor.parent() {
            Some(parent) => cursor = parent,
            None => break,
        }
    }
    for created in missing.iter().rev() {
        match fs::create_dir(created) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && created.is_dir() => continue,
            Err(e) => return Err(DriveError::io("create dir", e)),
        }
        fsync_dir(created.parent().expect("a created directory has a parent"))?;
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::path::PathBuf;

    thread_local! {
        /// Directories `fsync_dir` synced on this thread, in order.
        pub(crate) static FSYNCED_DIRS: RefCell<Vec<PathBuf>> = const { RefCell::new(Vec::new()) };
    }

    /// The directories synced on this thread while `work` ran.
    pub(crate) fn fsynced_during(work: impl FnOnce()) -> Vec<PathBuf> {
        FSYNCED_DIRS.with(|synced| synced.borrow_mut().clear());
        work();
        FSYNCED_DIRS.with(|synced| synced.take())
    }

    #[test]
    fn every_created_directory_is_fsynced_in_its_parent() {
        let base = tempfile::tempdir().expect("temp dir");
        let base = base.path();
        fs::create_dir(base.join("a")).expect("existing level");
        let deep = base.join("a/b/c/d");
        let synced = fsynced_during(|| create_dir_all_durable(base, &deep).expect("create"));
        // b, c and d are new: their parents a, a/b and a/b/c hold the new entries.
        assert_eq!(synced, vec![base.join("a"), base.join("a/b"), base.join("a/b/c")]);
        assert!(deep.is_dir());
        let again = fsynced_during(|| create_dir_all_durable(base, &deep).expect("exists"));
        assert!(again.is_empty(), "an existing directory costs no fsync");
    }
}
