//! `LocalDrive`: a drive that is a folder on this machine.

mod gate;
pub(crate) mod index;
mod io;
mod orphans;
mod shard;

use crate::api::{
    CommitRequest, DiskInfo, Drive, OrphanSweep, ShardReader, ShardWriter, VolumeInfo, WalkChunk, WalkOptions,
};
use crate::path::{DATA_DIR_SUFFIX, SYSTEM_VOLUME, data_dir_name, object_dir, sys_path, validate_key, validate_volume};
use crate::{DriveError, PendingCommit, Result};
use bytes::Bytes;
pub use gate::DRIVE_CALL_TIMEOUT_DEFAULT;
use gate::Gate;
use index::{Check, Cleanup, Index, Op, Outcome};
use io::{
    create_dir_all_durable, create_dirs_durable, fsync_dir, remove_empty_parents, remove_tree, write_file_atomic,
};
use shard::{LocalShardReader, LocalShardWriter};
use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, UNIX_EPOCH};
use tokio::sync::mpsc;
use uuid::Uuid;

/// Chunks a walk may run ahead of its reader in each of its two channels (walk thread
/// to relay, relay to reader). A chunk holds at most 256 entries or 1 MiB of `xl.meta`
/// (`index/walk.rs`), so a walk holds at most about four chunks per drive: enough for
/// the next chunk to be read while the reader merges the current one.
const WALK_CHANNEL_CAPACITY: usize = 1;
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
    /// Test hook (see [`LocalDriveOptions::index_shared`]).
    index_shared: bool,
    /// The metadata index; replaced when a wiped drive's system volume is made again.
    index: RwLock<Arc<Index>>,
    /// Held shared by writes that need their bucket folder to stay, and exclusively by
    /// bucket creation and deletion: a bucket is never deleted between a write's check
    /// that it exists and the write's index commit. (Inline commits, which wait without a
    /// thread, are checked by their group commit's batch, which deletion pauses.)
    volumes: RwLock<()>,
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
    /// Test hook: the metadata index is opened so that other processes may open it too
    /// (tests read and damage a running server's metadata through [`crate::inspect`]).
    /// Set by `CAIRN_TEST_INDEX_SHARED=1`; otherwise a second process is refused.
    pub index_shared: bool,
}

impl Default for LocalDriveOptions {
    fn default() -> Self {
        Self { call_timeout: DRIVE_CALL_TIMEOUT_DEFAULT, crash_after_commits: None, index_shared: false }
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
        if std::env::var("CAIRN_TEST_INDEX_SHARED").is_ok_and(|v| v == "1") {
            tracing::warn!("TEST HOOK: drive indexes are shared with other processes (tests only)");
            options.index_shared = true;
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
        create_system_dirs(&root)?;
        // The index first: its lock refuses a second server on drives in use before
        // anything of the running one's (its staging) is touched.
        let index = RwLock::new(Arc::new(index::migrate::open_or_migrate(&root, options.index_shared)?));
        remove_tree(&root.join(SYSTEM_VOLUME).join(TMP_DIR))?;
        create_system_dirs(&root)?;
        let endpoint = given.display().to_string();
        let gate = Gate::new(root.clone(), endpoint.clone(), options.call_timeout);
        let crash_after_commits = options.crash_after_commits.clone();
        let volumes = RwLock::new(());
        let index_shared = options.index_shared;
        let inner = Inner { root, endpoint, gate, crash_after_commits, index_shared, index, volumes };
        Ok(Self { inner: Arc::new(inner) })
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

    /// The drive's index, unless the drive was wiped or swapped since it was opened
    /// (then it is not found until its system volume is made again). Blocking: a stat.
    fn index(&self) -> Result<Arc<Index>> {
        let index = Arc::clone(&self.inner.index.read().unwrap_or_else(|p| p.into_inner()));
        if index.is_current() { Ok(index) } else { Err(DriveError::DriveNotFound) }
    }

    /// The drive's index as opened, without the check that it is still the drive's
    /// (the group commit makes it for each batch).
    fn current_index(&self) -> Arc<Index> {
        Arc::clone(&self.inner.index.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// Test hook: aborts the process once the configured number of object commits made
    /// their version visible (see [`LocalDriveOptions::crash_after_commits`]).
    fn crash_hook(&self, counted: bool) {
        if let Some(left) = self.inner.crash_after_commits.as_ref().filter(|_| counted)
            && left.fetch_sub(1, Ordering::SeqCst) == 1
        {
            tracing::error!("CAIRN_TEST_CRASH_AFTER_COMMITS reached: aborting the process, as a crash would");
            std::process::abort();
        }
    }

    /// Shared hold on the bucket folders (see `Inner::volumes`).
    fn volumes_shared(&self) -> std::sync::RwLockReadGuard<'_, ()> {
        self.inner.volumes.read().unwrap_or_else(|p| p.into_inner())
    }

    fn volumes_exclusive(&self) -> std::sync::RwLockWriteGuard<'_, ()> {
        self.inner.volumes.write().unwrap_or_else(|p| p.into_inner())
    }

    fn volume_dir(&self, volume: &str) -> Result<PathBuf> {
        validate_volume(volume)?;
        Ok(self.root().join(volume))
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
    create_dirs_durable(&root.join(SYSTEM_VOLUME).join(TMP_DIR), Path::new("/"))
}

/// Assembles a commit's data directory in staging from links to its part files, then
/// moves it into the object's directory in one rename. Parts are linked, not moved:
/// their sources stay valid if the commit is undone.
fn place_data_dir(dir: &Path, data_dir: Uuid, staging_dir: &Path, sources: &[(PathBuf, u32)]) -> Result<()> {
    fs::create_dir(staging_dir).map_err(|e| DriveError::io("create staging data dir", e))?;
    for (source, part_number) in sources {
        fs::hard_link(source, staging_dir.join(format!("part.{part_number}")))
            .map_err(|e| DriveError::io("link part into data dir", e))?;
    }
    fsync_dir(staging_dir)?;
    let target = dir.join(data_dir_name(data_dir));
    // Only a heal rewrites an existing data directory (its copy was corrupt).
    remove_tree(&target)?;
    fs::rename(staging_dir, &target).map_err(|e| DriveError::io("move data dir into place", e))?;
    // Durable before the index commit that names it.
    fsync_dir(dir)
}

/// Current time as nanoseconds since the Unix epoch.
fn now_unix_nanos() -> i64 {
    let elapsed = std::time::SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    i64::try_from(elapsed.as_nanos()).unwrap_or(i64::MAX)
}

/// Passes a walk's chunks on to its reader. The walk's thread must read a chunk within
/// each of the drive's deadlines while the relay waits for it (the time the reader
/// takes does not count): a walk stuck on a hung disk ends with `Offline` and takes the
/// drive offline.
async fn relay_walk(
    gate: Arc<Gate>,
    mut chunks: mpsc::Receiver<Result<WalkChunk>>,
    progress: Arc<AtomicU64>,
    reader: mpsc::Sender<Result<WalkChunk>>,
) {
    let mut seen = progress.load(Ordering::Relaxed);
    loop {
        let chunk = match tokio::time::timeout(gate.timeout(), chunks.recv()).await {
            Ok(Some(chunk)) => chunk,
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
        let failed = chunk.is_err();
        if reader.send(chunk).await.is_err() || failed {
            return;
        }
    }
}

/// Removes the data directories in an object's directory, except `keep`. Their
/// names carry a suffix no key segment may have, so nested keys are never touched.
fn remove_data_dirs(object_dir: &Path, keep: &[Uuid]) -> Result<()> {
    let keep: Vec<String> = keep.iter().copied().map(data_dir_name).collect();
    let entries = match fs::read_dir(object_dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(DriveError::io("list object dir", e)),
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.ends_with(DATA_DIR_SUFFIX) && !keep.iter().any(|kept| kept == name) {
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
        let drive = self.clone();
        self.inner
            .gate
            .run("make_system_volume", move || {
                create_system_dirs(drive.root())?;
                let mut slot = drive.inner.index.write().unwrap_or_else(|p| p.into_inner());
                if !slot.is_current() {
                    // A wiped or swapped drive: a new (empty) index for its new system volume.
                    *slot = Arc::new(index::migrate::open_or_migrate(drive.root(), drive.inner.index_shared)?);
                }
                Ok(())
            })
            .await
    }

    async fn make_volume(&self, volume: &str) -> Result<()> {
        let dir = self.volume_dir(volume)?;
        let drive = self.clone();
        let name = volume.to_owned();
        self.call("make_volume", move || {
            let _volumes = drive.volumes_exclusive();
            if dir.is_dir() {
                return Err(DriveError::VolumeExists);
            }
            // Anything the index still holds for a bucket whose folder is gone (wiped
            // by hand, or lost with the disk's folder) was lost with it.
            drive.index()?.apply(Op::PurgeVolume { volume: name })?;
            match fs::create_dir(&dir) {
                Ok(()) => fsync_dir(drive.root()),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(DriveError::VolumeExists),
                Err(e) => Err(DriveError::io("create volume", e)),
            }
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
        let aside = self.staging_path();
        let drive = self.clone();
        let name = volume.to_owned();
        self.call("delete_volume", move || {
            let _volumes = drive.volumes_exclusive();
            require_volume(&dir)?;
            let index = drive.index()?;
            {
                // No batch may apply between the check and the move: an inline commit
                // that found the folder would otherwise land in a bucket that is gone.
                let _paused = index.pause_commits();
                if index.has_objects(&name)? {
                    return Err(DriveError::VolumeNotEmpty);
                }
                // What is left are data folders no metadata names (a crash's leftovers).
                fs::rename(&dir, &aside).map_err(|e| DriveError::io("move volume aside", e))?;
            }
            fsync_dir(drive.root())?;
            if let Err(error) = remove_tree(&aside) {
                // Staging is cleared at the next start.
                tracing::warn!(drive = drive.endpoint(), %error, "a deleted bucket's leftovers stay in staging");
            }
            Ok(())
        })
        .await
    }

    async fn read_meta(&self, volume: &str, key: &str) -> Result<Bytes> {
        validate_key(key)?;
        let volume_dir = self.volume_dir(volume)?;
        let drive = self.clone();
        let (volume, key) = (volume.to_owned(), key.to_owned());
        self.call("read_meta", move || {
            let meta = drive.index()?.get(&volume, &key)?;
            // A bucket folder wiped by hand takes its objects with it.
            require_volume(&volume_dir)?;
            meta.ok_or(DriveError::FileNotFound)
        })
        .await
    }

    async fn write_meta(&self, volume: &str, key: &str, meta: Bytes) -> Result<()> {
        validate_key(key)?;
        let volume_dir = self.volume_dir(volume)?;
        let drive = self.clone();
        let (volume, key) = (volume.to_owned(), key.to_owned());
        self.call("write_meta", move || {
            let _volumes = drive.volumes_shared();
            require_volume(&volume_dir)?;
            drive.index()?.apply(Op::Put { volume, key, meta }).map(drop)
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
        let data_dir = request.data_dir;
        // Only object commits count: Cairn's own configuration writes vary from run to run.
        let counted = request.volume != SYSTEM_VOLUME;
        // The commit point: the new metadata, the replaced one and the commit's record
        // in one durable index commit. Until it is finished or undone, the commit can be
        // resolved even after a crash.
        let op = Op::Commit {
            record: PendingCommit {
                commit_id: request.commit_id,
                volume: request.volume,
                key: request.key,
                data_dir,
                replaced: false, // Set by the index, which sees what the commit replaces.
                meta_hash: PendingCommit::hash_meta(&request.meta),
                created_unix_nanos: now_unix_nanos(),
            },
            meta: request.meta,
        };
        let Some(data_dir) = data_dir else {
            // Inline data: no folder to place, only the index commit, awaited without a
            // thread of its own; the batch checks what `call` and `require_volume` would.
            let check = Check { system: self.root().join(SYSTEM_VOLUME), volume_dir: Some(volume_dir) };
            let index = self.current_index();
            self.inner.gate.run_async("commit", index.apply_async(op, Some(check), None)).await?;
            self.crash_hook(counted);
            return Ok(());
        };
        let staging_dir = self.staging_path();
        let drive = self.clone();
        self.call("commit", move || {
            let _volumes = drive.volumes_shared();
            require_volume(&volume_dir)?;
            let index = drive.index()?;
            create_dir_all_durable(&volume_dir, &dir)?;
            place_data_dir(&dir, data_dir, &staging_dir, &sources)?;
            if let Err(error) = index.apply(op) {
                // Nothing names it; a leftover would be swept as an orphan anyway.
                let _ = remove_tree(&dir.join(data_dir_name(data_dir)));
                return Err(error);
            }
            Ok(())
        })
        .await?;
        self.crash_hook(counted);
        Ok(())
    }

    async fn finish_commit(&self, volume: &str, key: &str, commit_id: Uuid, keep: Vec<Uuid>) -> Result<()> {
        let cleanup =
            Cleanup { dir: object_dir(self.root(), volume, key)?, volume_dir: self.volume_dir(volume)?, keep };
        let check = Check { system: self.root().join(SYSTEM_VOLUME), volume_dir: None };
        // Lost in a crash, the record is found again and the commit finished again: this
        // only repeats a cleanup. The index's cleanup drops the replaced data after it.
        let index = self.current_index();
        let finish = index.apply_async(Op::Finish { commit_id }, Some(check), Some(cleanup));
        self.inner.gate.run_async("finish_commit", finish).await.map(drop)
    }

    async fn undo_commit(&self, volume: &str, key: &str, commit_id: Uuid, data_dir: Option<Uuid>) -> Result<()> {
        let dir = object_dir(self.root(), volume, key)?;
        let volume_dir = self.volume_dir(volume)?;
        let drive = self.clone();
        let (volume, key) = (volume.to_owned(), key.to_owned());
        self.call("undo_commit", move || {
            require_volume(&volume_dir)?;
            // The metadata goes back first, durably: it must never name a removed folder.
            let restored = drive.index()?.apply(Op::Undo { volume, key, commit_id })? == Outcome::Found(true);
            if let Some(data_dir) = data_dir {
                remove_tree(&dir.join(data_dir_name(data_dir)))?;
            }
            if !restored {
                remove_empty_parents(&dir, &volume_dir);
            }
            Ok(())
        })
        .await
    }

    async fn pending_commits(&self) -> Result<Vec<PendingCommit>> {
        let drive = self.clone();
        self.call("pending_commits", move || drive.index()?.pending_commits()).await
    }

    async fn delete_object(&self, volume: &str, key: &str) -> Result<()> {
        let dir = object_dir(self.root(), volume, key)?;
        let volume_dir = self.volume_dir(volume)?;
        let drive = self.clone();
        let (volume, key) = (volume.to_owned(), key.to_owned());
        self.call("delete_object", move || {
            require_volume(&volume_dir)?;
            if drive.index()?.apply(Op::Delete { volume, key })? == Outcome::Found(false) {
                return Err(DriveError::FileNotFound);
            }
            remove_data_dirs(&dir, &[])?;
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

    fn walk(&self, volume: &str, options: WalkOptions) -> mpsc::Receiver<Result<WalkChunk>> {
        let (sender, receiver) = mpsc::channel(WALK_CHANNEL_CAPACITY);
        match self.inner.gate.check_online().and_then(|()| self.volume_dir(volume)) {
            Ok(dir) => {
                let system = self.root().join(SYSTEM_VOLUME);
                let (walked, entries) = mpsc::channel(WALK_CHANNEL_CAPACITY);
                let progress = Arc::new(AtomicU64::new(0));
                let walking = Arc::clone(&progress);
                let drive = self.clone();
                let volume = volume.to_owned();
                tokio::task::spawn_blocking(move || {
                    let walk = index::walk::IndexWalk::new(&volume, options);
                    if let Err(error) =
                        require_system(&system).and_then(|()| drive.walk_blocking(&dir, walk, &walked, &walking))
                    {
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

impl LocalDrive {
    /// Runs an index walk on the current (blocking) thread, chunk by chunk, until it
    /// ends or its reader goes away.
    fn walk_blocking(
        &self,
        volume_dir: &Path,
        mut walk: index::walk::IndexWalk,
        sender: &mpsc::Sender<Result<WalkChunk>>,
        progress: &AtomicU64,
    ) -> Result<()> {
        require_volume(volume_dir)?;
        while !walk.is_done() {
            let chunk = walk.next_chunk(&*self.index()?)?;
            progress.fetch_add(1, Ordering::Relaxed);
            if !chunk.is_empty() && sender.blocking_send(Ok(chunk)).is_err() {
                return Ok(());
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
