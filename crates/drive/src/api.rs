//! The `Drive` trait: the seam between the object layer and one drive, local now
//! and remote (over node RPC) later. Every method is a whole, small operation so
//! that a remote implementation needs one round trip per call.

use crate::{PendingCommit, Result};
use bytes::Bytes;
use std::sync::Arc;
use tokio::sync::mpsc;
use uuid::Uuid;

/// The data directories an `xl.meta` names (every version's); None when it cannot tell
/// (an undecodable file), in which case nothing next to it is removed. The object layer
/// supplies it: the drive does not know the metadata format.
pub type DataDirRefs = Arc<dyn Fn(&[u8]) -> Option<Vec<Uuid>> + Send + Sync>;

/// What a sweep of orphan data directories ([`Drive::sweep_orphan_data_dirs`]) may remove.
#[derive(Clone)]
pub struct OrphanSweep {
    /// Only data directories last modified before this (nanoseconds since the Unix epoch):
    /// younger ones may belong to a commit or heal in progress.
    pub older_than_unix_nanos: i64,
    /// Keys with a pending commit on the drive: their data is the pending-commit
    /// resolution's to keep or drop, never the sweep's.
    pub pending_keys: Vec<String>,
    /// Which data directories a key's `xl.meta` names.
    pub referenced: DataDirRefs,
}

impl std::fmt::Debug for OrphanSweep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrphanSweep")
            .field("older_than_unix_nanos", &self.older_than_unix_nanos)
            .field("pending_keys", &self.pending_keys)
            .finish_non_exhaustive()
    }
}

/// Capacity of one drive, in bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DiskInfo {
    /// Size of the filesystem holding the drive.
    pub total_bytes: u64,
    /// Bytes available to Cairn.
    pub free_bytes: u64,
    /// Bytes in use (total minus free, as the filesystem reports).
    pub used_bytes: u64,
}

/// A volume (bucket directory) on a drive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeInfo {
    /// The bucket name.
    pub name: String,
    /// When the directory was created, in nanoseconds since the Unix epoch.
    pub created_unix_nanos: i128,
}

/// Where a committed part's shard file comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartSource {
    /// Path of the shard file inside the system volume (e.g. `tmp/<uuid>/part.1`).
    pub sys_path: String,
    /// Part number it becomes inside the object's data directory (`part.N`).
    pub part_number: u32,
}

/// Everything one drive needs to make a new object version visible atomically.
#[derive(Debug, Clone)]
pub struct CommitRequest {
    /// Bucket.
    pub volume: String,
    /// Object key (validated by the drive).
    pub key: String,
    /// The new version's data directory, or None for inline objects (no part files).
    pub data_dir: Option<Uuid>,
    /// Shard files to move into `data_dir`. Empty when `data_dir` is None.
    pub parts: Vec<PartSource>,
    /// The encoded metadata file to install.
    pub meta: Bytes,
    /// Names this commit for [`Drive::finish_commit`] / [`Drive::undo_commit`], which
    /// keep or restore the metadata it replaced.
    pub commit_id: Uuid,
}

/// Options of a namespace walk.
#[derive(Debug, Clone, Default)]
pub struct WalkOptions {
    /// Only keys that start with this prefix.
    pub prefix: String,
    /// Only keys strictly greater than this one.
    pub start_after: Option<String>,
    /// When false, keys below the next `/` after the prefix are reported once as a
    /// [`WalkEntry::Prefix`] instead of one by one.
    pub recursive: bool,
    /// Stop after this many entries: what the reader expects to need (a listing page
    /// and one more). A walk that sent this many may have more; the reader goes on with
    /// a new walk after the last key it got. Without it a page's walks read ahead
    /// chunks the page then throws away.
    pub limit: Option<usize>,
}

/// One item of a walk, in ascending key order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WalkEntry {
    /// An object with its raw metadata file.
    Object {
        /// Object key.
        key: String,
        /// Contents of its metadata file.
        meta: Bytes,
    },
    /// A common prefix ending in `/` with at least one object below it (non-recursive walks only).
    Prefix(String),
}

/// Consecutive entries of a walk, in ascending key order.
pub type WalkChunk = Vec<WalkEntry>;

/// Streams one shard file into staging.
#[async_trait::async_trait]
pub trait ShardWriter: Send {
    /// Appends bytes to the file.
    async fn write(&mut self, data: Bytes) -> Result<()>;
    /// Flushes and fsyncs the file. Nothing is durable before this returns.
    async fn finish(self: Box<Self>) -> Result<()>;
}

/// Reads ranges of one committed shard file.
#[async_trait::async_trait]
pub trait ShardReader: Send + Sync {
    /// Reads exactly `len` bytes at `offset`; a short file is `DriveError::Corrupt`.
    async fn read_at(&self, offset: u64, len: usize) -> Result<Bytes>;
}

/// One drive. Implementations must be safe to call concurrently.
#[async_trait::async_trait]
pub trait Drive: Send + Sync + std::fmt::Debug {
    /// Human-readable location (path or URL) for logs and admin output.
    fn endpoint(&self) -> &str;
    /// True for a drive of this node; false for a drive reached over node RPC.
    fn is_local(&self) -> bool {
        true
    }
    /// False while the drive is known not to answer (a drive of another node whose node
    /// failed its liveness probe): calls then fail at once with `Offline`.
    fn is_online(&self) -> bool {
        true
    }
    /// Asked after a call failed with `Offline`: whether the drive answers now, checked
    /// at once instead of at its next periodic probe. A drive of another node rechecks
    /// its node; a local drive has nothing faster to offer than its own probe.
    async fn recheck(&self) -> bool {
        false
    }
    /// Capacity of the filesystem holding the drive.
    async fn disk_info(&self) -> Result<DiskInfo>;
    /// Recreates the drive's folder, system volume and staging folder where they are
    /// missing. A drive wiped (or swapped for an empty one) while the server runs is
    /// otherwise offline until a restart; an on-demand heal calls this, then formats it.
    /// Only the node holding a drive can do this, so a drive of another node refuses
    /// with `DriveNotFound` (its own node heals it).
    async fn make_system_volume(&self) -> Result<()> {
        Err(crate::DriveError::DriveNotFound)
    }

    /// Creates a bucket directory.
    async fn make_volume(&self, volume: &str) -> Result<()>;
    /// Lists bucket directories.
    async fn list_volumes(&self) -> Result<Vec<VolumeInfo>>;
    /// Describes one bucket directory.
    async fn stat_volume(&self, volume: &str) -> Result<VolumeInfo>;
    /// Removes a bucket directory; fails with `VolumeNotEmpty` if it holds any object.
    async fn delete_volume(&self, volume: &str) -> Result<()>;

    /// Reads an object's metadata file.
    async fn read_meta(&self, volume: &str, key: &str) -> Result<Bytes>;
    /// Replaces an object's metadata file atomically (staging, fsync, rename).
    async fn write_meta(&self, volume: &str, key: &str, meta: Bytes) -> Result<()>;
    /// Makes a new object version visible: links its parts into a new data directory
    /// (the sources stay until the caller removes them), then atomically replaces the
    /// metadata. The replaced metadata is kept aside and its data left in place, so
    /// the commit can be undone until [`Drive::finish_commit`].
    async fn commit(&self, request: CommitRequest) -> Result<()>;
    /// After a write quorum committed: drops the replaced metadata and every data
    /// directory of the object other than those in `keep` (the ones the installed
    /// metadata names: every version's).
    async fn finish_commit(&self, volume: &str, key: &str, commit_id: Uuid, keep: Vec<Uuid>) -> Result<()>;
    /// After the write quorum failed: puts the replaced metadata back (or removes the
    /// object if there was none) and removes the new data directory.
    async fn undo_commit(&self, volume: &str, key: &str, commit_id: Uuid, data_dir: Option<Uuid>) -> Result<()>;
    /// Commits made visible on this drive that were neither finished nor undone: their
    /// writer crashed (or lost the drive) in between, or is committing right now (a
    /// caller must hold the key's write lock before acting on one). Damaged records are
    /// logged and left out.
    async fn pending_commits(&self) -> Result<Vec<PendingCommit>>;
    /// Removes an object (metadata and data directories) and any parent directories left empty.
    async fn delete_object(&self, volume: &str, key: &str) -> Result<()>;
    /// Opens part `part_number` of an object's data directory for reading.
    async fn open_shard(
        &self,
        volume: &str,
        key: &str,
        data_dir: Uuid,
        part_number: u32,
    ) -> Result<Box<dyn ShardReader>>;

    /// Creates a shard file at `sys_path` inside the system volume (parents created).
    async fn create_sys_file(&self, sys_path: &str) -> Result<Box<dyn ShardWriter>>;
    /// Opens a file inside the system volume for reading.
    async fn open_sys_file(&self, sys_path: &str) -> Result<Box<dyn ShardReader>>;
    /// Writes a small file inside the system volume atomically.
    async fn write_sys_file(&self, sys_path: &str, data: Bytes) -> Result<()>;
    /// Reads a small file inside the system volume.
    async fn read_sys_file(&self, sys_path: &str) -> Result<Bytes>;
    /// Lists the names inside a directory of the system volume, sorted.
    async fn list_sys_dir(&self, sys_path: &str) -> Result<Vec<String>>;
    /// When a file or directory inside the system volume was last modified (a directory:
    /// an entry added or removed), in nanoseconds since the Unix epoch: the age of
    /// leftovers that carry no record of their own. Only the node holding a drive needs
    /// it (each node cleans its own drives), so a drive of another node refuses with
    /// `DriveNotFound`.
    async fn sys_modified_unix_nanos(&self, _sys_path: &str) -> Result<i64> {
        Err(crate::DriveError::DriveNotFound)
    }
    /// Moves a file or directory inside the system volume, replacing the destination.
    async fn rename_sys(&self, from: &str, to: &str) -> Result<()>;
    /// Removes a file or directory tree inside the system volume; missing is fine.
    async fn delete_sys(&self, sys_path: &str) -> Result<()>;

    /// Removes the data directories in `volume` that no `xl.meta` next to them names
    /// (what a crash between placing a version's data and installing or dropping its
    /// metadata leaves), within the limits of `sweep`; returns how many it removed. Only
    /// the node holding a drive sweeps it, so a drive of another node refuses with
    /// `DriveNotFound`.
    async fn sweep_orphan_data_dirs(&self, _volume: &str, _sweep: OrphanSweep) -> Result<u64> {
        Err(crate::DriveError::DriveNotFound)
    }

    /// Walks a bucket in ascending key order, in chunks of entries (never empty): one
    /// channel message per chunk keeps a listing's cost in reading, not in waking
    /// tasks. The walk runs until the receiver is dropped or the walk ends; an error is
    /// sent as the last item.
    fn walk(&self, volume: &str, options: WalkOptions) -> mpsc::Receiver<Result<WalkChunk>>;
}
