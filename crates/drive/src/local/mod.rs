//! `LocalDrive`: a drive that is a folder on this machine.

mod io;
mod shard;
mod walk;

use crate::api::{CommitRequest, DiskInfo, Drive, ShardReader, ShardWriter, VolumeInfo, WalkEntry, WalkOptions};
use crate::path::{META_FILE_NAME, SYSTEM_VOLUME, object_dir, sys_path, validate_volume};
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

/// Entries a walk may run ahead of its reader.
const WALK_CHANNEL_CAPACITY: usize = 256;
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
        let tmp = root.join(SYSTEM_VOLUME).join(TMP_DIR);
        remove_tree(&tmp)?;
        fs::create_dir_all(&tmp).map_err(|e| DriveError::io("create staging dir", e))?;
        Ok(Self { inner: Arc::new(Inner { root, endpoint: given.display().to_string() }) })
    }

    fn root(&self) -> &Path {
        &self.inner.root
    }

    fn volume_dir(&self, volume: &str) -> Result<PathBuf> {
        validate_volume(volume)?;
        Ok(self.root().join(volume))
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

/// Removes the data directories in an object's directory, except `keep`. Data
/// directories are named by a UUID and hold only part files; a UUID-named directory
/// with an object somewhere below it is a nested key and stays.
fn remove_data_dirs(object_dir: &Path, keep: Option<Uuid>) -> Result<()> {
    for entry in fs::read_dir(object_dir).map_err(|e| DriveError::io("list object dir", e))?.flatten() {
        let Some(id) = entry.file_name().to_str().and_then(|n| Uuid::parse_str(n).ok()) else { continue };
        let path = entry.path();
        if Some(id) != keep && path.is_dir() && !walk::subtree_has_object(&path, 0) {
            remove_tree(&path)?;
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
        blocking(move || {
            if walk::subtree_has_object(&dir, 0) {
                return Err(DriveError::VolumeNotEmpty);
            }
            remove_tree(&dir)?;
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
        let mut sources = Vec::with_capacity(request.parts.len());
        for part in &request.parts {
            sources.push((sys_path(self.root(), &part.sys_path)?, part.part_number));
        }
        let staging_dir = self.staging_path();
        let staging_meta = self.staging_path();
        blocking(move || {
            create_dir_all_durable(&volume_dir, &dir)?;
            if let Some(data_dir) = request.data_dir {
                // Assemble the data directory in staging, then move it into place in one rename.
                fs::create_dir(&staging_dir).map_err(|e| DriveError::io("create staging data dir", e))?;
                for (source, part_number) in &sources {
                    fs::rename(source, staging_dir.join(format!("part.{part_number}")))
                        .map_err(|e| DriveError::io("move part into data dir", e))?;
                }
                fsync_dir(&staging_dir)?;
                let target = dir.join(data_dir.to_string());
                fs::rename(&staging_dir, &target).map_err(|e| DriveError::io("move data dir into place", e))?;
            } else {
                assert!(sources.is_empty(), "parts without a data directory");
            }
            // The metadata rename is the commit point; its fsync covers the data dir rename too.
            write_file_atomic(&staging_meta, &dir.join(META_FILE_NAME), &request.meta)?;
            // Whatever version this one replaced, its data is unreachable now.
            remove_data_dirs(&dir, request.data_dir)?;
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
        let path = object_dir(self.root(), volume, key)?.join(data_dir.to_string()).join(format!("part.{part_number}"));
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
