//! `LocalDrive`: a drive that is a folder on this machine.

mod gate;
mod io;
mod orphans;
mod shard;
mod walk;

use crate::api::{
    CommitRequest, DiskInfo, Drive, OrphanSweep, ShardReader, ShardWriter, VolumeInfo, WalkEntry, WalkOptions,
};
use crate::path::{
    DATA_DIR_SUFFIX, META_FILE_NAME, SYSTEM_VOLUME, data_dir_name, object_dir, sys_path, validate_volume,
};
use crate::{DriveError, PendingCommit, Result, UNDO_DIR};
use bytes::Bytes;
pub use gate::DRIVE_CALL_TIMEOUT_DEFAULT;
use gate::Gate;
use io::{
    create_dir_all_durable, create_dirs_durable, fsync_dir, remove_empty_parents, remove_tree, write_file_atomic,
};
use shard::{LocalShardReader, LocalShardWriter};
use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, UNIX_EPOCH};
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
    /// Every filesystem call goes through it: off the async workers, within a deadline.
    gate: Arc<Gate>,
    /// Test hook (see [`LocalDriveOptions::crash_after_commits`]).
    crash_after_commits: Option<Arc<AtomicU64>>,
}

/// How a local drive behaves, beyond where it is.
#[derive(Debug, Clone)]
pub struct LocalDriveOptions {
    /// Deadline of one filesystem call; a drive that misses it is offline until it
    /// answers a probe again.
    pub call_timeout: Duration,
    /// Test hook, for crash tests only: the process aborts right after this many commits
    /// (over all drives sharing the counter) have made their version visible, as a
    /// `kill -9` between two drives' commits would. Set by `CAIRN_TEST_CRASH_AFTER_COMMITS`;
    /// None (never) otherwise.
    pub crash_after_commits: Option<Arc<AtomicU64>>,
}

impl Default for LocalDriveOptions {
    fn default() -> Self {
        Self { call_timeout: DRIVE_CALL_TIMEOUT_DEFAULT, crash_after_commits: None }
    }
}

impl LocalDriveOptions {
    /// The defaults, with the deadline from `CAIRN_DRIVE_TIMEOUT_SECS` (or MinIO's
    /// `MINIO_DRIVE_MAX_TIMEOUT`, in seconds) when set.
    pub fn from_env() -> std::result::Result<Self, String> {
        let mut options = Self::default();
        let given = ["CAIRN_DRIVE_TIMEOUT_SECS", "MINIO_DRIVE_MAX_TIMEOUT"]
            .iter()
            .find_map(|name| std::env::var(name).ok().filter(|v| !v.is_empty()).map(|v| (*name, v)));
        if let Some((name, value)) = given {
            let secs = value.trim_end_matches('s').parse::<u64>().ok().filter(|secs| *secs > 0);
            let secs = secs.ok_or_else(|| format!("{name}={value:?}: give a whole number of seconds above 0"))?;
            options.call_timeout = Duration::from_secs(secs);
        }
        if let Ok(value) = std::env::var("CAIRN_TEST_CRASH_AFTER_COMMITS") {
            let commits = value.parse::<u64>().ok().filter(|n| *n > 0);
            let commits = commits
                .ok_or_else(|| format!("CAIRN_TEST_CRASH_AFTER_COMMITS={value:?}: give a number of commits above 0"))?;
            tracing::warn!(commits, "TEST HOOK: this process aborts after {commits} drive commits (crash tests only)");
            options.crash_after_commits = Some(Arc::new(AtomicU64::new(commits)));
        }
        Ok(options)
    }
}

impl LocalDrive {
    /// Opens (creating if needed) the drive folder at `root` and clears staging
    /// left by a previous run: nothing in staging was ever acknowledged.
    pub fn open(root: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(root, &LocalDriveOptions::default())
    }

    /// Opens the drive folder at `root` with `options`.
    pub fn open_with(root: impl AsRef<Path>, options: &LocalDriveOptions) -> Result<Self> {
        let given = root.as_ref();
        let absolute = std::path::absolute(given).map_err(|e| DriveError::io("resolve drive root", e))?;
        create_dirs_durable(&absolute, Path::new("/"))?;
        let root = fs::canonicalize(given).map_err(|e| DriveError::io("resolve drive root", e))?;
        remove_tree(&root.join(SYSTEM_VOLUME).join(TMP_DIR))?;
        create_system_dirs(&root)?;
        let endpoint = given.display().to_string();
        let gate = Gate::new(root.clone(), endpoint.clone(), options.call_timeout);
        let crash_after_commits = options.crash_after_commits.clone();
        Ok(Self { inner: Arc::new(Inner { root, endpoint, gate, crash_after_commits }) })
    }

    /// Opens the drive folder at `root` off the async workers, within the drive's call
    /// deadline: a disk that hangs at start-up fails the open (`Offline`, naming it)
    /// instead of freezing the runtime, and with it every other drive and the health
    /// checks. The stuck thread is left behind; the caller stops.
    pub async fn open_async(root: PathBuf, options: LocalDriveOptions) -> Result<Self> {
        let deadline = options.call_timeout;
        let endpoint = root.display().to_string();
        let opening = tokio::task::spawn_blocking(move || Self::open_with(&root, &options));
        match tokio::time::timeout(deadline, opening).await {
            Ok(Ok(opened)) => opened,
            Ok(Err(failed)) => Err(DriveError::io("open drive", std::io::Error::other(failed))),
            Err(_) => Err(DriveError::Offline(format!("{endpoint} did not answer within {deadline:?} while opening"))),
        }
    }

    fn root(&self) -> &Path {
        &self.inner.root
    }

    fn volume_dir(&self, volume: &str) -> Result<PathBuf> {
        validate_volume(volume)?;
        Ok(self.root().join(volume))
    }

    /// Where a commit keeps its record and the metadata it replaced until it is
    /// finished or undone.
    fn undo_paths(&self, commit_id: Uuid) -> Result<(PathBuf, PathBuf)> {
        let record = sys_path(self.root(), &PendingCommit::record_path(commit_id))?;
        let replaced = sys_path(self.root(), &PendingCommit::replaced_meta_path(commit_id))?;
        Ok((record, replaced))
    }

    fn staging_path(&self) -> PathBuf {
        self.root().join(SYSTEM_VOLUME).join(TMP_DIR).join(Uuid::new_v4().to_string())
    }

    /// Runs `work` through the drive's gate (off the async workers, within the
    /// deadline), after checking that the drive's system folder is there.
    async fn call<T, F>(&self, op: &'static str, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce() -> Result<T> + Send + 'static,
    {
        let system = self.root().join(SYSTEM_VOLUME);
        self.inner.gate.run(op, move || require_system(&system).and_then(|()| work())).await
    }
}

/// Fails with `DriveNotFound` when the drive's system folder is gone (disk unmounted,
/// folder deleted): the drive is offline, which is not the same as "this drive has no
/// such object".
fn require_system(system: &Path) -> Result<()> {
    if system.is_dir() { Ok(()) } else { Err(DriveError::DriveNotFound) }
}

/// Fails with `VolumeNotFound` unless the bucket's directory exists.
fn require_volume(dir: &Path) -> Result<()> {
    if dir.is_dir() { Ok(()) } else { Err(DriveError::VolumeNotFound) }
}

/// Creates the drive root, the system volume and its staging directory where missing,
/// each new entry fsynced in its parent (the root's entry for `.cairn.sys` too): the
/// format written next must not survive a crash that loses its folder.
fn create_system_dirs(root: &Path) -> Result<()> {
    create_dirs_durable(&root.join(SYSTEM_VOLUME).join(TMP_DIR), Path::new("/"))?;
    create_dirs_durable(&root.join(SYSTEM_VOLUME).join(UNDO_DIR), Path::new("/"))
}

/// Assembles a commit's data directory in staging from links to its part files, then
/// moves it into the object's directory in one rename. Parts are linked, not moved:
/// their sources stay valid if the commit is undone.
fn place_data_dir(dir: &Path, data_dir: Option<Uuid>, staging_dir: &Path, sources: &[(PathBuf, u32)]) -> Result<()> {
    let Some(data_dir) = data_dir else {
        assert!(sources.is_empty(), "parts without a data directory");
        return Ok(());
    };
    fs::create_dir(staging_dir).map_err(|e| DriveError::io("create staging data dir", e))?;
    for (source, part_number) in sources {
        fs::hard_link(source, staging_dir.join(format!("part.{part_number}")))
            .map_err(|e| DriveError::io("link part into data dir", e))?;
    }
    fsync_dir(staging_dir)?;
    let target = dir.join(data_dir_name(data_dir));
    // Only a heal rewrites an existing data directory (its copy was corrupt).
    remove_tree(&target)?;
    fs::rename(staging_dir, &target).map_err(|e| DriveError::io("move data dir into place", e))
}

/// Current time as nanoseconds since the Unix epoch.
fn now_unix_nanos() -> i64 {
    let elapsed = std::time::SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    i64::try_from(elapsed.as_nanos()).unwrap_or(i64::MAX)
}

/// Passes a walk's entries on to its reader. The walk's thread must read a directory or
/// a metadata file within each of the drive's deadlines while the relay waits for it
/// (the time the reader takes does not count): a walk stuck on a hung disk ends with
/// `Offline` and takes the drive offline.
async fn relay_walk(
    gate: Arc<Gate>,
    mut entries: mpsc::Receiver<Result<WalkEntry>>,
    progress: Arc<AtomicU64>,
    reader: mpsc::Sender<Result<WalkEntry>>,
) {
    let mut seen = progress.load(Ordering::Relaxed);
    loop {
        let entry = match tokio::time::timeout(gate.timeout(), entries.recv()).await {
            Ok(Some(entry)) => entry,
            Ok(None) => return,
            Err(_) => {
                let now = progress.load(Ordering::Relaxed);
                if now != seen {
                    seen = now;
                    continue;
                }
                Err(gate.missed("walk"))
            }
        };
        let failed = entry.is_err();
        if reader.send(entry).await.is_err() || failed {
            return;
        }
    }
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
        let root = self.root().to_path_buf();
        self.call("disk_info", move || {
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
        self.inner.gate.run("make_system_volume", move || create_system_dirs(&root)).await
    }

    async fn make_volume(&self, volume: &str) -> Result<()> {
        let dir = self.volume_dir(volume)?;
        let root = self.root().to_path_buf();
        self.call("make_volume", move || match fs::create_dir(&dir) {
            Ok(()) => fsync_dir(&root),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(DriveError::VolumeExists),
            Err(e) => Err(DriveError::io("create volume", e)),
        })
        .await
    }

    async fn list_volumes(&self) -> Result<Vec<VolumeInfo>> {
        let root = self.root().to_path_buf();
        self.call("list_volumes", move || {
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
        let dir = self.volume_dir(volume)?;
        let name = volume.to_owned();
        self.call("stat_volume", move || {
            volume_info(name, &dir).map_err(|e| if e.is_not_found() { DriveError::VolumeNotFound } else { e })
        })
        .await
    }

    async fn delete_volume(&self, volume: &str) -> Result<()> {
        let dir = self.volume_dir(volume)?;
        let root = self.root().to_path_buf();
        let aside = self.staging_path();
        self.call("delete_volume", move || {
            require_volume(&dir)?;
            // Move the bucket out of reach first, so no write can land between the check and the removal.
            fs::rename(&dir, &aside).map_err(|e| DriveError::io("move volume aside", e))?;
            // Anything but a sure "empty" puts the bucket back: an unreadable directory
            // may hold objects.
            let verdict = walk::subtree_has_object(&aside, 0);
            if !matches!(verdict, Ok(false)) {
                fs::rename(&aside, &dir).map_err(|e| DriveError::io("restore volume", e))?;
                return Err(verdict.err().unwrap_or(DriveError::VolumeNotEmpty));
            }
            remove_tree(&aside)?;
            fsync_dir(&root)
        })
        .await
    }

    async fn read_meta(&self, volume: &str, key: &str) -> Result<Bytes> {
        let path = object_dir(self.root(), volume, key)?.join(META_FILE_NAME);
        let volume_dir = self.volume_dir(volume)?;
        self.call("read_meta", move || match fs::read(&path) {
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
        let dir = object_dir(self.root(), volume, key)?;
        let volume_dir = self.volume_dir(volume)?;
        let staging = self.staging_path();
        self.call("write_meta", move || {
            require_volume(&volume_dir)?;
            create_dir_all_durable(&volume_dir, &dir)?;
            write_file_atomic(&staging, &dir.join(META_FILE_NAME), &meta)
        })
        .await
    }

    async fn commit(&self, request: CommitRequest) -> Result<()> {
        let dir = object_dir(self.root(), &request.volume, &request.key)?;
        let volume_dir = self.volume_dir(&request.volume)?;
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
        let staging_record = self.staging_path();
        let (record_path, replaced_path) = self.undo_paths(request.commit_id)?;
        // Only object commits count: Cairn's own configuration writes vary from run to run.
        let crash_hook = self.inner.crash_after_commits.clone().filter(|_| request.volume != SYSTEM_VOLUME);
        self.call("commit", move || {
            require_volume(&volume_dir)?;
            create_dir_all_durable(&volume_dir, &dir)?;
            // Keep the replaced metadata reachable (a second link) and record the commit
            // before anything changes: until it is finished or undone, the commit can be
            // resolved even after a crash (staging is cleared at start-up; this is not).
            let meta_path = dir.join(META_FILE_NAME);
            let replaced = match fs::hard_link(&meta_path, &replaced_path) {
                Ok(()) => true,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
                Err(e) => return Err(DriveError::io("keep replaced metadata", e)),
            };
            let record = PendingCommit {
                commit_id: request.commit_id,
                volume: request.volume,
                key: request.key,
                data_dir: request.data_dir,
                replaced,
                meta_hash: PendingCommit::hash_meta(&request.meta),
                created_unix_nanos: now_unix_nanos(),
            };
            // Its directory fsync also makes the link above durable.
            let placed = write_file_atomic(&staging_record, &record_path, &record.encode())
                .and_then(|()| place_data_dir(&dir, request.data_dir, &staging_dir, &sources));
            if let Err(error) = placed {
                // Nothing is visible yet: the record has nothing to resolve.
                let _ = remove_tree(&replaced_path);
                let _ = remove_tree(&record_path);
                return Err(error);
            }
            // The metadata rename is the commit point; its fsync covers the data dir rename too.
            write_file_atomic(&staging_meta, &meta_path, &request.meta)?;
            if let Some(left) = crash_hook
                && left.fetch_sub(1, Ordering::SeqCst) == 1
            {
                tracing::error!("CAIRN_TEST_CRASH_AFTER_COMMITS reached: aborting the process, as a crash would");
                std::process::abort();
            }
            Ok(())
        })
        .await
    }

    async fn finish_commit(&self, volume: &str, key: &str, commit_id: Uuid, keep: Option<Uuid>) -> Result<()> {
        let dir = object_dir(self.root(), volume, key)?;
        let (record, replaced) = self.undo_paths(commit_id)?;
        self.call("finish_commit", move || {
            let pending = record.exists() || replaced.exists();
            remove_tree(&replaced)?;
            // Without a record of this commit there is nothing older to drop.
            if pending || keep.is_none() {
                remove_data_dirs(&dir, keep)?;
            }
            // Last: until the record goes, finishing again after a crash is harmless.
            remove_tree(&record)
        })
        .await
    }

    async fn undo_commit(&self, volume: &str, key: &str, commit_id: Uuid, data_dir: Option<Uuid>) -> Result<()> {
        let dir = object_dir(self.root(), volume, key)?;
        let volume_dir = self.volume_dir(volume)?;
        let (record, replaced) = self.undo_paths(commit_id)?;
        self.call("undo_commit", move || {
            require_volume(&volume_dir)?;
            let meta_path = dir.join(META_FILE_NAME);
            let restored = match fs::rename(&replaced, &meta_path) {
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
            remove_tree(&record)
        })
        .await
    }

    async fn delete_object(&self, volume: &str, key: &str) -> Result<()> {
        let dir = object_dir(self.root(), volume, key)?;
        let volume_dir = self.volume_dir(volume)?;
        self.call("delete_object", move || {
            require_volume(&volume_dir)?;
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
        let path =
            object_dir(self.root(), volume, key)?.join(data_dir_name(data_dir)).join(format!("part.{part_number}"));
        let gate = Arc::clone(&self.inner.gate);
        self.call("open_shard", move || {
            let file = File::open(&path).map_err(|e| DriveError::io("open shard", e))?;
            Ok(Box::new(LocalShardReader::new(file, gate)) as Box<dyn ShardReader>)
        })
        .await
    }

    async fn create_sys_file(&self, sys_relative: &str) -> Result<Box<dyn ShardWriter>> {
        let path = sys_path(self.root(), sys_relative)?;
        let system = self.root().join(SYSTEM_VOLUME);
        let gate = Arc::clone(&self.inner.gate);
        self.call("create_sys_file", move || {
            let parent = path.parent().expect("system paths have a parent");
            create_dir_all_durable(&system, parent)?;
            let file = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .open(&path)
                .map_err(|e| DriveError::io("create shard", e))?;
            Ok(Box::new(LocalShardWriter::new(file, path, gate)) as Box<dyn ShardWriter>)
        })
        .await
    }

    async fn open_sys_file(&self, sys_relative: &str) -> Result<Box<dyn ShardReader>> {
        let path = sys_path(self.root(), sys_relative)?;
        let gate = Arc::clone(&self.inner.gate);
        self.call("open_sys_file", move || {
            let file = File::open(&path).map_err(|e| DriveError::io("open system file", e))?;
            Ok(Box::new(LocalShardReader::new(file, gate)) as Box<dyn ShardReader>)
        })
        .await
    }

    async fn write_sys_file(&self, sys_relative: &str, data: Bytes) -> Result<()> {
        let path = sys_path(self.root(), sys_relative)?;
        let system = self.root().join(SYSTEM_VOLUME);
        let staging = self.staging_path();
        self.call("write_sys_file", move || {
            create_dir_all_durable(&system, path.parent().expect("system paths have a parent"))?;
            write_file_atomic(&staging, &path, &data)
        })
        .await
    }

    async fn read_sys_file(&self, sys_relative: &str) -> Result<Bytes> {
        let path = sys_path(self.root(), sys_relative)?;
        self.call("read_sys_file", move || {
            fs::read(&path).map(Bytes::from).map_err(|e| DriveError::io("read system file", e))
        })
        .await
    }

    async fn list_sys_dir(&self, sys_relative: &str) -> Result<Vec<String>> {
        let path = sys_path(self.root(), sys_relative)?;
        self.call("list_sys_dir", move || {
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

    async fn sys_modified_unix_nanos(&self, sys_relative: &str) -> Result<i64> {
        let path = sys_path(self.root(), sys_relative)?;
        self.call("sys_modified", move || {
            let modified =
                fs::metadata(&path).and_then(|m| m.modified()).map_err(|e| DriveError::io("stat system file", e))?;
            let since_epoch = modified.duration_since(UNIX_EPOCH).unwrap_or_default();
            Ok(i64::try_from(since_epoch.as_nanos()).unwrap_or(i64::MAX))
        })
        .await
    }

    async fn rename_sys(&self, from: &str, to: &str) -> Result<()> {
        let source = sys_path(self.root(), from)?;
        let target = sys_path(self.root(), to)?;
        let system = self.root().join(SYSTEM_VOLUME);
        self.call("rename_sys", move || {
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
        let path = sys_path(self.root(), sys_relative)?;
        self.call("delete_sys", move || remove_tree(&path)).await
    }

    async fn sweep_orphan_data_dirs(&self, volume: &str, sweep: OrphanSweep) -> Result<u64> {
        self.sweep_orphans(volume, sweep).await
    }

    fn walk(&self, volume: &str, options: WalkOptions) -> mpsc::Receiver<Result<WalkEntry>> {
        let (sender, receiver) = mpsc::channel(WALK_CHANNEL_CAPACITY);
        match self.inner.gate.check_online().and_then(|()| self.volume_dir(volume)) {
            Ok(dir) => {
                let system = self.root().join(SYSTEM_VOLUME);
                let (walked, entries) = mpsc::channel(WALK_CHANNEL_CAPACITY);
                let progress = Arc::new(AtomicU64::new(0));
                let walking = Arc::clone(&progress);
                tokio::task::spawn_blocking(move || match require_system(&system) {
                    Ok(()) => walk::walk_blocking(dir, options, walked, walking),
                    Err(error) => {
                        let _ = walked.blocking_send(Err(error));
                    }
                });
                tokio::spawn(relay_walk(Arc::clone(&self.inner.gate), entries, progress, sender));
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
            assert!(
                synced.contains(holder),
                "{} not fsynced after a folder was made in it: {synced:?}",
                holder.display()
            );
        }
    }

    /// Regression: `subtree_has_object` answered "empty" on any `read_dir` error, so an
    /// EIO or EMFILE while deleting a bucket removed the bucket's objects on that drive.
    #[tokio::test]
    async fn a_bucket_with_an_unreadable_directory_is_not_deleted() {
        use rustix::fs::{AtFlags, CWD, Mode, OFlags, mkdirat, openat, statat};
        let root = tempfile::tempdir().expect("temp dir");
        let drive = LocalDrive::open(root.path()).expect("open");
        drive.make_volume("bucket").await.expect("volume");
        // Directories nested deeper than PATH_MAX (4096 bytes) cannot be read by path:
        // read_dir fails with ENAMETOOLONG, for root too (unlike chmod 000). It stands in
        // for EIO or EMFILE. Created relative to open directories, which has no such limit.
        let mut dir = openat(CWD, root.path().join("bucket"), OFlags::DIRECTORY | OFlags::RDONLY, Mode::empty())
            .expect("open bucket");
        let name = "d".repeat(250);
        for _ in 0..20 {
            mkdirat(&dir, name.as_str(), Mode::from_raw_mode(0o755)).expect("mkdir");
            dir = openat(&dir, name.as_str(), OFlags::DIRECTORY | OFlags::RDONLY, Mode::empty()).expect("open dir");
        }
        openat(&dir, META_FILE_NAME, OFlags::CREATE | OFlags::WRONLY, Mode::from_raw_mode(0o644)).expect("object");

        let refused = drive.delete_volume("bucket").await;
        assert!(matches!(refused, Err(DriveError::Io { .. })), "an unreadable directory is not empty: {refused:?}");
        assert!(statat(&dir, META_FILE_NAME, AtFlags::empty()).is_ok(), "the object survives");
        assert!(root.path().join("bucket").is_dir(), "the bucket is put back");
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
