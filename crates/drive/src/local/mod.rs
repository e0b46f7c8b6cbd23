//! `LocalDrive`: a drive that is a folder on this machine.

mod io;
mod shard;
mod walk;

use crate::api::{CommitRequest, DiskInfo, Drive, ShardReader, ShardWriter, VolumeInfo, WalkEntry, WalkOptions};
use crate::path::{
    DATA_DIR_SUFFIX, META_FILE_NAME, SYSTEM_VOLUME, data_dir_name, object_dir, sys_path, validate_volume,
};
use crate::{DriveError, Result};
use bytes::Bytes;
use io::{blocking, create_dir_all_durable, fsync_dir, remove_empty_parents, remove_tree, write_file_atomic};
use shard::{LocalShardReader, LocalShardWriter};
use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::UNIX_EPOCH;
use tokio::sync::mpsc;
use uuid::Uuid;

/// Entries a walk may run ahead of its reader. Each carries a whole `xl.meta`
/// (up to 128 KiB / k of inline data), so this bounds a listing's memory per drive.
const WALK_CHANNEL_CAPACITY: usize = 16;
/// Staging directory inside the system volume.
const TMP_DIR: &str = "tmp";

/// A drive stored in a local folder.
#[derive(Debug, Clone)]
pub struct LocalDrive {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// Absolute root of the drive; every path this drive touches is below it.
    root: PathBuf,
    /// The root as given, for logs.
    endpoint: String,
}

impl LocalDrive {
    /// Opens (creating if needed) the drive folder at `root` and clears staging
    /// left by a previous run: nothing in staging was ever acknowledged.
    pub fn open(root: impl AsRef<Path>) -> Result<Self> {
        let given = root.as_ref();
        fs::create_dir_all(given).map_err(|e| DriveError::io("create drive root", e))?;
        let root = fs::canonicalize(given).map_err(|e| DriveError::io("resolve drive root", e))?;
        remove_tree(&root.join(SYSTEM_VOLUME).join(TMP_DIR))?;
        create_system_dirs(&root)?;
        Ok(Self { inner: Arc::new(Inner { root, endpoint: given.display().to_string() }) })
    }

    fn root(&self) -> &Path {
        &self.inner.root
    }

    fn volume_dir(&self, volume: &str) -> Result<PathBuf> {
        validate_volume(volume)?;
        Ok(self.root().join(volume))
    }

    /// Where a commit keeps the metadata it replaced until it is finished or undone.
    fn undo_path(&self, commit_id: Uuid) -> PathBuf {
        self.root().join(SYSTEM_VOLUME).join(TMP_DIR).join(format!("undo-{commit_id}"))
    }

    fn staging_path(&self) -> PathBuf {
        self.root().join(SYSTEM_VOLUME).join(TMP_DIR).join(Uuid::new_v4().to_string())
    }

    /// Fails with `DriveNotFound` when the drive's system folder is gone (disk
    /// unmounted, folder deleted): the drive is offline, which is not the same as
    /// "this drive has no such object".
    fn ensure_online(&self) -> Result<()> {
        if self.root().join(SYSTEM_VOLUME).is_dir() { Ok(()) } else { Err(DriveError::DriveNotFound) }
    }

    fn require_volume(&self, volume: &str) -> Result<PathBuf> {
        let dir = self.volume_dir(volume)?;
        if dir.is_dir() { Ok(dir) } else { Err(DriveError::VolumeNotFound) }
    }
}

/// Creates the drive root, the system volume and its staging directory where missing.
fn create_system_dirs(root: &Path) -> Result<()> {
    fs::create_dir_all(root.join(SYSTEM_VOLUME).join(TMP_DIR)).map_err(|e| DriveError::io("create staging dir", e))
}

/// Removes the data directories in an object's directory, except `keep`. Their
/// names carry a suffix no key segment may have, so nested keys are never touched.
fn remove_data_dirs(object_dir: &Path, keep: Option<Uuid>) -> Result<()> {
    let keep = keep.map(data_dir_name);
    let entries = match fs::read_dir(object_dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(DriveError::io("list object dir", e)),
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.ends_with(DATA_DIR_SUFFIX) && Some(name) != keep.as_deref() {
            remove_tree(&entry.path())?;
        }
    }
    Ok(())
}

fn volume_info(name: String, path: &Path) -> Result<VolumeInfo> {
    let meta = fs::metadata(path).map_err(|e| DriveError::io("stat volume", e))?;
    if !meta.is_dir() {
        return Err(DriveError::VolumeNotFound);
    }
    let created = meta.created().or_else(|_| meta.modified()).unwrap_or(UNIX_EPOCH);
    let created_unix_nanos = created.duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as i128).unwrap_or(0);
    Ok(VolumeInfo { name, created_unix_nanos })
}

#[async_trait::async_trait]
impl Drive for LocalDrive {
    fn endpoint(&self) -> &str {
        &self.inner.endpoint
    }

    async fn disk_info(&self) -> Result<DiskInfo> {
        self.ensure_online()?;
        let root = self.root().to_path_buf();
        blocking(move || {
            let stat = rustix::fs::statvfs(&root).map_err(|e| DriveError::io("statvfs", e.into()))?;
            let total_bytes = stat.f_blocks * stat.f_frsize;
            let free_bytes = stat.f_bavail * stat.f_frsize;
            let used_bytes = total_bytes.saturating_sub(stat.f_bfree * stat.f_frsize);
            Ok(DiskInfo { total_bytes, free_bytes, used_bytes })
        })
        .await
    }

    async fn make_system_volume(&self) -> Result<()> {
        let root = self.root().to_path_buf();
        blocking(move || {
            create_system_dirs(&root)?;
            // The format written next is fsynced in its own directory; the root's entry
            // for the system volume must survive a crash as well.
            fsync_dir(&root)
        })
        .await
    }

    async fn make_volume(&self, volume: &str) -> Result<()> {
        self.ensure_online()?;
        let dir = self.volume_dir(volume)?;
        let root = self.root().to_path_buf();
        blocking(move || match fs::create_dir(&dir) {
            Ok(()) => fsync_dir(&root),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(DriveError::VolumeExists),
            Err(e) => Err(DriveError::io("create volume", e)),
        })
        .await
    }

    async fn list_volumes(&self) -> Result<Vec<VolumeInfo>> {
        self.ensure_online()?;
        let root = self.root().to_path_buf();
        blocking(move || {
            let mut volumes = Vec::new();
            for entry in fs::read_dir(&root).map_err(|e| DriveError::io("list volumes", e))? {
                let entry = entry.map_err(|e| DriveError::io("list volumes", e))?;
                let Ok(name) = entry.file_name().into_string() else {
                    continue;
                };
                if name == SYSTEM_VOLUME || validate_volume(&name).is_err() {
                    continue;
                }
                if let Ok(info) = volume_info(name, &entry.path()) {
                    volumes.push(info);
                }
            }
            volumes.sort_by(|a, b| a.name.cmp(&b.name));
            Ok(volumes)
        })
        .await
    }

    async fn stat_volume(&self, volume: &str) -> Result<VolumeInfo> {
        self.ensure_online()?;
        let dir = self.volume_dir(volume)?;
        let name = volume.to_owned();
        blocking(move || {
            volume_info(name, &dir).map_err(|e| if e.is_not_found() { DriveError::VolumeNotFound } else { e })
        })
        .await
    }

    async fn delete_volume(&self, volume: &str) -> Result<()> {
        self.ensure_online()?;
        let dir = self.require_volume(volume)?;
        let root = self.root().to_path_buf();
        let aside = self.staging_path();
        blocking(move || {
            // Move the bucket out of reach first, so no write can land between the check and the removal.
            fs::rename(&dir, &aside).map_err(|e| DriveError::io("move volume aside", e))?;
            if walk::subtree_has_object(&aside, 0) {
                fs::rename(&aside, &dir).map_err(|e| DriveError::io("restore volume", e))?;
                return Err(DriveError::VolumeNotEmpty);
            }
            remove_tree(&aside)?;
            fsync_dir(&root)
        })
        .await
    }

    async fn read_meta(&self, volume: &str, key: &str) -> Result<Bytes> {
        self.ensure_online()?;
        let path = object_dir(self.root(), volume, key)?.join(META_FILE_NAME);
        let volume_dir = self.volume_dir(volume)?;
        blocking(move || match fs::read(&path) {
            Ok(data) => Ok(Bytes::from(data)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !volume_dir.is_dir() => {
                Err(DriveError::VolumeNotFound)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => Err(DriveError::FileNotFound),
            Err(e) => Err(DriveError::io("read metadata", e)),
        })
        .await
    }

    async fn write_meta(&self, volume: &str, key: &str, meta: Bytes) -> Result<()> {
        self.ensure_online()?;
        let dir = object_dir(self.root(), volume, key)?;
        let volume_dir = self.require_volume(volume)?;
        let staging = self.staging_path();
        blocking(move || {
            create_dir_all_durable(&volume_dir, &dir)?;
            write_file_atomic(&staging, &dir.join(META_FILE_NAME), &meta)
        })
        .await
    }

    async fn commit(&self, request: CommitRequest) -> Result<()> {
        self.ensure_online()?;
        let dir = object_dir(self.root(), &request.volume, &request.key)?;
        let volume_dir = self.require_volume(&request.volume)?;
        if request.data_dir.is_none() && !request.parts.is_empty() {
            // A peer's call can say anything: parts need a data directory to land in.
            return Err(DriveError::Corrupt("a commit names parts but no data directory".into()));
        }
        let mut sources = Vec::with_capacity(request.parts.len());
        for part in &request.parts {
            sources.push((sys_path(self.root(), &part.sys_path)?, part.part_number));
        }
        let staging_dir = self.staging_path();
        let staging_meta = self.staging_path();
        let undo = self.undo_path(request.commit_id);
        blocking(move || {
            create_dir_all_durable(&volume_dir, &dir)?;
            if let Some(data_dir) = request.data_dir {
                // Assemble the data directory in staging, then move it into place in one rename.
                // Parts are linked, not moved: their sources stay valid if this commit is undone.
                fs::create_dir(&staging_dir).map_err(|e| DriveError::io("create staging data dir", e))?;
                for (source, part_number) in &sources {
                    fs::hard_link(source, staging_dir.join(format!("part.{part_number}")))
                        .map_err(|e| DriveError::io("link part into data dir", e))?;
                }
                fsync_dir(&staging_dir)?;
                let target = dir.join(data_dir_name(data_dir));
                // Only a heal rewrites an existing data directory (its copy was corrupt).
                remove_tree(&target)?;
                fs::rename(&staging_dir, &target).map_err(|e| DriveError::io("move data dir into place", e))?;
            } else {
                assert!(sources.is_empty(), "parts without a data directory");
            }
            // Keep the replaced metadata reachable (a second link) until the commit is finished or undone.
            let meta_path = dir.join(META_FILE_NAME);
            match fs::hard_link(&meta_path, &undo) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(DriveError::io("keep replaced metadata", e)),
            }
            // The metadata rename is the commit point; its fsync covers the data dir rename too.
            write_file_atomic(&staging_meta, &meta_path, &request.meta)
        })
        .await
    }

    async fn finish_commit(&self, volume: &str, key: &str, commit_id: Uuid, keep: Option<Uuid>) -> Result<()> {
        self.ensure_online()?;
        let dir = object_dir(self.root(), volume, key)?;
        let undo = self.undo_path(commit_id);
        blocking(move || {
            let replaced = undo.exists();
            remove_tree(&undo)?;
            // A key written for the first time has no older data to drop.
            if replaced || keep.is_none() {
                remove_data_dirs(&dir, keep)?;
            }
            Ok(())
        })
        .await
    }

    async fn undo_commit(&self, volume: &str, key: &str, commit_id: Uuid, data_dir: Option<Uuid>) -> Result<()> {
        self.ensure_online()?;
        let dir = object_dir(self.root(), volume, key)?;
        let volume_dir = self.require_volume(volume)?;
        let undo = self.undo_path(commit_id);
        blocking(move || {
            let meta_path = dir.join(META_FILE_NAME);
            let restored = match fs::rename(&undo, &meta_path) {
                Ok(()) => true,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
                Err(e) => return Err(DriveError::io("restore replaced metadata", e)),
            };
            if !restored {
                // There was no earlier version: the object did not exist before this commit.
                match fs::remove_file(&meta_path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(DriveError::io("remove uncommitted metadata", e)),
                }
            }
            if let Some(data_dir) = data_dir {
                remove_tree(&dir.join(data_dir_name(data_dir)))?;
            }
            fsync_dir(&dir)?;
            if !restored {
                remove_empty_parents(&dir, &volume_dir);
            }
            Ok(())
        })
        .await
    }

    async fn delete_object(&self, volume: &str, key: &str) -> Result<()> {
        self.ensure_online()?;
        let dir = object_dir(self.root(), volume, key)?;
        let volume_dir = self.require_volume(volume)?;
        blocking(move || {
            match fs::remove_file(dir.join(META_FILE_NAME)) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(DriveError::FileNotFound);
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => {
                    return Err(DriveError::FileNotFound);
                }
                Err(e) => return Err(DriveError::io("delete metadata", e)),
            }
            fsync_dir(&dir)?;
            remove_data_dirs(&dir, None)?;
            remove_empty_parents(&dir, &volume_dir);
            Ok(())
        })
        .await
    }

    async fn open_shard(
        &self,
        volume: &str,
        key: &str,
        data_dir: Uuid,
        part_number: u32,
    ) -> Result<Box<dyn ShardReader>> {
        self.ensure_online()?;
        let path =
            object_dir(self.root(), volume, key)?.join(data_dir_name(data_dir)).join(format!("part.{part_number}"));
        blocking(move || {
            let file = File::open(&path).map_err(|e| DriveError::io("open shard", e))?;
            Ok(Box::new(LocalShardReader::new(file)) as Box<dyn ShardReader>)
        })
        .await
    }

    async fn create_sys_file(&self, sys_relative: &str) -> Result<Box<dyn ShardWriter>> {
        self.ensure_online()?;
        let path = sys_path(self.root(), sys_relative)?;
        let system = self.root().join(SYSTEM_VOLUME);
        blocking(move || {
            let parent = path.parent().expect("system paths have a parent");
            create_dir_all_durable(&system, parent)?;
            let file = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .open(&path)
                .map_err(|e| DriveError::io("create shard", e))?;
            Ok(Box::new(LocalShardWriter::new(file, path)) as Box<dyn ShardWriter>)
        })
        .await
    }

    async fn open_sys_file(&self, sys_relative: &str) -> Result<Box<dyn ShardReader>> {
        self.ensure_online()?;
        let path = sys_path(self.root(), sys_relative)?;
        blocking(move || {
            let file = File::open(&path).map_err(|e| DriveError::io("open system file", e))?;
            Ok(Box::new(LocalShardReader::new(file)) as Box<dyn ShardReader>)
        })
        .await
    }

    async fn write_sys_file(&self, sys_relative: &str, data: Bytes) -> Result<()> {
        self.ensure_online()?;
        let path = sys_path(self.root(), sys_relative)?;
        let system = self.root().join(SYSTEM_VOLUME);
        let staging = self.staging_path();
        blocking(move || {
            create_dir_all_durable(&system, path.parent().expect("system paths have a parent"))?;
            write_file_atomic(&staging, &path, &data)
        })
        .await
    }

    async fn read_sys_file(&self, sys_relative: &str) -> Result<Bytes> {
        self.ensure_online()?;
        let path = sys_path(self.root(), sys_relative)?;
        blocking(move || fs::read(&path).map(Bytes::from).map_err(|e| DriveError::io("read system file", e))).await
    }

    async fn list_sys_dir(&self, sys_relative: &str) -> Result<Vec<String>> {
        self.ensure_online()?;
        let path = sys_path(self.root(), sys_relative)?;
        blocking(move || {
            let mut names = Vec::new();
            for entry in fs::read_dir(&path).map_err(|e| DriveError::io("list system dir", e))? {
                let entry = entry.map_err(|e| DriveError::io("list system dir", e))?;
                if let Ok(name) = entry.file_name().into_string() {
                    names.push(name);
                }
            }
            names.sort();
            Ok(names)
        })
        .await
    }

    async fn rename_sys(&self, from: &str, to: &str) -> Result<()> {
        self.ensure_online()?;
        let source = sys_path(self.root(), from)?;
        let target = sys_path(self.root(), to)?;
        let system = self.root().join(SYSTEM_VOLUME);
        blocking(move || {
            let parent = target.parent().expect("system paths have a parent");
            create_dir_all_durable(&system, parent)?;
            if target.is_dir() {
                remove_tree(&target)?;
            }
            fs::rename(&source, &target).map_err(|e| DriveError::io("rename system file", e))?;
            fsync_dir(parent)
        })
        .await
    }

    async fn delete_sys(&self, sys_relative: &str) -> Result<()> {
        self.ensure_online()?;
        let path = sys_path(self.root(), sys_relative)?;
        blocking(move || remove_tree(&path)).await
    }

    fn walk(&self, volume: &str, options: WalkOptions) -> mpsc::Receiver<Result<WalkEntry>> {
        let (sender, receiver) = mpsc::channel(WALK_CHANNEL_CAPACITY);
        match self.ensure_online().and_then(|()| self.volume_dir(volume)) {
            Ok(dir) => {
                tokio::task::spawn_blocking(move || walk::walk_blocking(dir, options, sender));
            }
            Err(error) => {
                let _ = sender.try_send(Err(error));
            }
        }
        receiver
    }
}

#[cfg(test)]
mod tests {
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
        drive.finish_commit("bucket", "k", first, Some(old_dir)).await.expect("finish");
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
        drive.finish_commit("bucket", "k", third, Some(newer_dir)).await.expect("finish");
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
}
