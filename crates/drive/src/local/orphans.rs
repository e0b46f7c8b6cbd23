//! Sweeping orphan data directories: a crash between placing a version's data directory
//! and committing its metadata to the index (or between removing the metadata and its
//! data) leaves a `<uuid>__XLDATA__` folder that no metadata names. Nothing reads it and nothing else
//! removes it, so the scanner asks each node to sweep its own drives.
//!
//! A data directory goes only when all of these hold, checked in one drive call right
//! before the removal: the key's metadata in the index (if any) decodes and names none of it, no
//! pending commit on this drive concerns the key, and it is older than the grace period
//! (a younger one may belong to a commit or heal in progress).

use super::index::Index;
use super::io::{remove_empty_parents, remove_tree};
use super::{LocalDrive, require_volume};
use crate::api::{Drive, OrphanSweep};
use crate::path::{DATA_DIR_SUFFIX, key_of_folder, object_dir};
use crate::{DriveError, Result};
use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::UNIX_EPOCH;
use uuid::Uuid;

/// Most folders a sweep keeps queued (the unvisited subfolders of the folders it read):
/// a bucket with more folders than this at once is swept in part, the rest on later scans.
const SWEEP_QUEUED_DIRS_MAX: usize = 100_000;

/// What one drive call found in a folder.
struct Visited {
    /// Subfolders that may hold keys (not data directories).
    subdirs: Vec<PathBuf>,
    /// Data directories removed.
    removed: u64,
}

impl LocalDrive {
    /// See [`crate::Drive::sweep_orphan_data_dirs`].
    pub(super) async fn sweep_orphans(&self, volume: &str, sweep: OrphanSweep) -> Result<u64> {
        let volume_dir = self.volume_dir(volume)?;
        let pending: HashSet<PathBuf> =
            sweep.pending_keys.iter().filter_map(|key| object_dir(self.root(), volume, key).ok()).collect();
        let context = Arc::new((sweep, pending, volume_dir.clone(), volume.to_owned()));
        let mut queue = vec![volume_dir];
        let mut removed = 0;
        let mut truncated = false;
        while let Some(dir) = queue.pop() {
            let context = Arc::clone(&context);
            let drive = self.clone();
            let visited = self
                .call("sweep orphan data dirs", move || {
                    let (sweep, pending, volume_dir, volume) = &*context;
                    require_volume(volume_dir)?;
                    let index = drive.index()?;
                    let place = Place { index: &index, volume, volume_dir };
                    visit(&dir, &place, sweep, pending.contains(&dir))
                })
                .await?;
            removed += visited.removed;
            let room = SWEEP_QUEUED_DIRS_MAX.saturating_sub(queue.len());
            truncated |= visited.subdirs.len() > room;
            queue.extend(visited.subdirs.into_iter().take(room));
        }
        if truncated {
            tracing::info!(
                drive = self.endpoint(),
                volume,
                "orphan sweep covered part of the bucket; later scans go on"
            );
        }
        Ok(removed)
    }
}

/// The bucket a sweep visits.
struct Place<'a> {
    index: &'a Index,
    volume: &'a str,
    volume_dir: &'a Path,
}

/// Lists `dir`, removes its orphan data directories (unless `pending`), and returns its
/// other subfolders.
fn visit(dir: &Path, place: &Place<'_>, sweep: &OrphanSweep, pending: bool) -> Result<Visited> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        // Removed since its parent was listed.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Visited { subdirs: Vec::new(), removed: 0 }),
        Err(e) => return Err(DriveError::io("list folder for orphan sweep", e)),
    };
    let mut subdirs = Vec::new();
    let mut data_dirs = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| DriveError::io("list folder for orphan sweep", e))?;
        if !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let name = entry.file_name();
        match name.to_str().and_then(|n| n.strip_suffix(DATA_DIR_SUFFIX)) {
            Some(id) => {
                if let Ok(id) = Uuid::parse_str(id) {
                    data_dirs.push((id, entry.path()));
                }
            }
            None => subdirs.push(entry.path()),
        }
    }
    if data_dirs.is_empty() || pending {
        return Ok(Visited { subdirs, removed: 0 });
    }
    let Some(key) = key_of_folder(place.volume_dir, dir) else {
        return Ok(Visited { subdirs, removed: 0 });
    };
    let referenced = match place.index.get(place.volume, &key)? {
        Some(meta) => match (sweep.referenced)(&meta) {
            Some(ids) => ids,
            None => return Ok(Visited { subdirs, removed: 0 }),
        },
        None => Vec::new(),
    };
    let mut removed = 0;
    for (id, path) in data_dirs {
        if referenced.contains(&id) || modified_unix_nanos(&path)? >= sweep.older_than_unix_nanos {
            continue;
        }
        remove_tree(&path)?;
        removed += 1;
        tracing::warn!(data_dir = %path.display(), "removed an orphan data directory no metadata names (left by a crash)");
    }
    if removed > 0 && referenced.is_empty() {
        // A key folder holding nothing else goes too, with its parents left empty.
        remove_empty_parents(dir, place.volume_dir);
    }
    Ok(Visited { subdirs, removed })
}

fn modified_unix_nanos(path: &Path) -> Result<i64> {
    let modified = fs::metadata(path).and_then(|m| m.modified()).map_err(|e| DriveError::io("stat data dir", e))?;
    let since_epoch = modified.duration_since(UNIX_EPOCH).unwrap_or_default();
    Ok(i64::try_from(since_epoch.as_nanos()).unwrap_or(i64::MAX))
}
