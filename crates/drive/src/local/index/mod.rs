//! The drive's metadata index: every object's metadata (`xl.meta` bytes, with inline
//! data), keyed by bucket and key, in one embedded redb database per drive at
//! `.cairn.sys/index.redb`. It replaces the `xl.meta` file in each key's folder (format
//! 1): a listing is a range scan instead of a directory walk that reads one file per
//! key, and many concurrent small writes share one durable commit (see `batch.rs`).
//!
//! Tables (keys are bytes; `volume \0 key` sorts exactly as S3 orders keys within a
//! bucket, since neither a volume nor a key may hold NUL):
//! ```text
//! objects   volume \0 key  -> metadata
//! pending   commit id      -> PendingCommit record (a commit neither finished nor undone)
//! replaced  commit id      -> the metadata that commit replaced (absent for a new key)
//! info      name           -> u64 (layout version, migration state)
//! ```
//!
//! Data directories (`part.N` files of non-inline versions) stay in the key's folder.
//! A commit places and fsyncs them before the index commit that names them, so a
//! crash between the two leaves an orphan folder (swept later), never metadata naming
//! missing data.

mod batch;
pub(crate) mod migrate;
pub(crate) mod walk;

use crate::{DriveError, PendingCommit, Result};
pub(crate) use batch::{Check, Cleanup, Op, Outcome};
use bytes::Bytes;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard};
use uuid::Uuid;

/// File name of the index inside the system volume.
pub(crate) const INDEX_FILE: &str = "index.redb";
/// Page cache of one drive's index. Listings read pages once in key order and small
/// writes touch the few pages on a path, so a small cache is enough; with many drives
/// per node it is what bounds the server's memory (16 drives: 256 MiB).
const CACHE_BYTES: usize = 16 << 20;
/// Layout version the index records (format 1 had `xl.meta` files, no index).
pub(crate) const LAYOUT_VERSION: u64 = 2;

pub(crate) const OBJECTS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("objects");
const PENDING: TableDefinition<&[u8], &[u8]> = TableDefinition::new("pending");
const REPLACED: TableDefinition<&[u8], &[u8]> = TableDefinition::new("replaced");
const INFO: TableDefinition<&str, u64> = TableDefinition::new("info");

/// `info` entry: the layout version.
const INFO_LAYOUT: &str = "layout";
/// `info` entry: 1 once the format-1 files an import copied have been removed.
pub(crate) const INFO_LEGACY_REMOVED: &str = "legacy_removed";

/// The index key of `key` in `volume`.
pub(crate) fn object_key(volume: &str, key: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(volume.len() + 1 + key.len());
    out.extend_from_slice(volume.as_bytes());
    out.push(0);
    out.extend_from_slice(key.as_bytes());
    out
}

/// One drive's index: an open redb database, reopened after an I/O error (redb refuses
/// every call after one until it is reopened, and a full disk must not fail a drive for
/// good).
pub(crate) struct Index {
    path: PathBuf,
    /// Device and inode of the file opened: a drive wiped or swapped while the server
    /// runs has a different file (or none) at `path`, and this one must not be used.
    identity: (u64, u64),
    /// Opened for sharing with other processes (tests only, see [`concurrency`]).
    shared: bool,
    db: RwLock<Option<Database>>,
    /// Set after an I/O error; the next call reopens the database first.
    reopen: AtomicBool,
    batch: batch::Batcher,
}

impl std::fmt::Debug for Index {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Index").field("path", &self.path).finish_non_exhaustive()
    }
}

/// Maps a redb error to a drive error: I/O errors keep their kind (a full disk is
/// `DiskFull`), anything else is an I/O error of `op` (a damaged index).
pub(crate) fn db_error(op: &'static str, error: impl Into<redb::Error>) -> DriveError {
    match error.into() {
        redb::Error::Io(source) => DriveError::io(op, source),
        other => DriveError::Io { op, source: std::io::Error::other(other) },
    }
}

/// How a drive's index may be shared with other processes.
pub(crate) fn concurrency(shared: bool) -> redb::ConcurrencyMode {
    // Exclusive: a second server started on the same drives is refused. Shared (tests
    // only) lets a test read and damage a running server's metadata through
    // [`crate::inspect`], as it damages its data files.
    if shared { redb::ConcurrencyMode::MultiWriter } else { redb::ConcurrencyMode::ExclusiveWriter }
}

fn open_database(path: &Path, shared: bool) -> Result<Database> {
    let db = Database::builder()
        .set_cache_size(CACHE_BYTES)
        .set_concurrency_mode(concurrency(shared))
        .create(path)
        .map_err(|e| db_error("open index", e))?;
    let txn = db.begin_write().map_err(|e| db_error("open index", e))?;
    {
        // Creates the tables of a new index, so that readers never meet a missing table.
        txn.open_table(OBJECTS).map_err(|e| db_error("open index", e))?;
        txn.open_table(PENDING).map_err(|e| db_error("open index", e))?;
        txn.open_table(REPLACED).map_err(|e| db_error("open index", e))?;
        let mut info = txn.open_table(INFO).map_err(|e| db_error("open index", e))?;
        let layout = info.get(INFO_LAYOUT).map_err(|e| db_error("open index", e))?.map(|v| v.value());
        match layout {
            Some(LAYOUT_VERSION) => {}
            None => {
                info.insert(INFO_LAYOUT, LAYOUT_VERSION).map_err(|e| db_error("open index", e))?;
            }
            Some(newer) => {
                return Err(DriveError::Corrupt(format!(
                    "{}: layout {newer} is newer than this build's {LAYOUT_VERSION}; upgrade Cairn",
                    path.display()
                )));
            }
        }
    }
    txn.commit().map_err(|e| db_error("open index", e))?;
    Ok(db)
}

fn file_identity(path: &Path) -> std::io::Result<(u64, u64)> {
    let meta = std::fs::metadata(path)?;
    Ok((meta.dev(), meta.ino()))
}

impl Index {
    /// Opens (creating if missing) the index at `path`.
    pub(crate) fn open(path: &Path, shared: bool) -> Result<Self> {
        let db = open_database(path, shared)?;
        let identity = file_identity(path).map_err(|e| DriveError::io("stat index", e))?;
        Ok(Self {
            path: path.to_path_buf(),
            identity,
            shared,
            db: RwLock::new(Some(db)),
            reopen: AtomicBool::new(false),
            batch: batch::Batcher::default(),
        })
    }

    /// True while the file at the index's path is the one this index opened.
    pub(crate) fn is_current(&self) -> bool {
        file_identity(&self.path).is_ok_and(|identity| identity == self.identity)
    }

    /// The database, reopened first if an earlier call hit an I/O error.
    fn db(&self) -> Result<RwLockReadGuard<'_, Option<Database>>> {
        if self.reopen.load(Ordering::Acquire) {
            let mut slot = self.db.write().unwrap_or_else(|poisoned| poisoned.into_inner());
            if self.reopen.load(Ordering::Acquire) {
                // The old handle must be closed before the file can be opened again.
                *slot = None;
                *slot = Some(open_database(&self.path, self.shared)?);
                self.reopen.store(false, Ordering::Release);
                tracing::info!(index = %self.path.display(), "index reopened after an I/O error");
            }
        }
        Ok(self.db.read().unwrap_or_else(|poisoned| poisoned.into_inner()))
    }

    /// Notes an error from the database: after an I/O error it must be reopened.
    fn failed(&self, error: DriveError) -> DriveError {
        if matches!(error, DriveError::Io { .. } | DriveError::DiskFull) {
            self.reopen.store(true, Ordering::Release);
        }
        error
    }

    /// Runs `read` in a read transaction.
    pub(crate) fn read<T>(
        &self,
        op: &'static str,
        read: impl FnOnce(&redb::ReadTransaction) -> Result<T>,
    ) -> Result<T> {
        let guard = self.db()?;
        let db = guard.as_ref().ok_or_else(|| DriveError::Io { op, source: std::io::Error::other("index closed") })?;
        let txn = db.begin_read().map_err(|e| self.failed(db_error(op, e)))?;
        read(&txn).map_err(|e| self.failed(e))
    }

    /// Runs `write` in a write transaction and commits it, durably unless `durable` is false.
    pub(crate) fn write<T>(
        &self,
        op: &'static str,
        durable: bool,
        write: impl FnOnce(&redb::WriteTransaction) -> Result<T>,
    ) -> Result<T> {
        let guard = self.db()?;
        let db = guard.as_ref().ok_or_else(|| DriveError::Io { op, source: std::io::Error::other("index closed") })?;
        let mut txn = db.begin_write().map_err(|e| self.failed(db_error(op, e)))?;
        // A database shared with other processes takes durable commits only.
        if !durable && !self.shared {
            txn.set_durability(redb::Durability::None).map_err(|e| db_error(op, e))?;
        }
        let value = write(&txn).map_err(|e| self.failed(e))?;
        txn.commit().map_err(|e| self.failed(db_error(op, e)))?;
        Ok(value)
    }

    /// The metadata of `key` in `volume`, if any.
    pub(crate) fn get(&self, volume: &str, key: &str) -> Result<Option<Bytes>> {
        let index_key = object_key(volume, key);
        self.read("read metadata", |txn| {
            let table = txn.open_table(OBJECTS).map_err(|e| db_error("read metadata", e))?;
            let value = table.get(index_key.as_slice()).map_err(|e| db_error("read metadata", e))?;
            Ok(value.map(|v| Bytes::copy_from_slice(v.value())))
        })
    }

    /// True when `volume` holds at least one object.
    pub(crate) fn has_objects(&self, volume: &str) -> Result<bool> {
        let start = object_key(volume, "");
        self.read("check volume", |txn| {
            let table = txn.open_table(OBJECTS).map_err(|e| db_error("check volume", e))?;
            let mut range = table.range(start.as_slice()..).map_err(|e| db_error("check volume", e))?;
            match range.next() {
                Some(entry) => {
                    let (key, _) = entry.map_err(|e| db_error("check volume", e))?;
                    Ok(key.value().starts_with(&start))
                }
                None => Ok(false),
            }
        })
    }

    /// Every commit on this drive neither finished nor undone. A damaged record is
    /// logged and left out.
    pub(crate) fn pending_commits(&self) -> Result<Vec<PendingCommit>> {
        self.read("list pending commits", |txn| {
            let table = txn.open_table(PENDING).map_err(|e| db_error("list pending commits", e))?;
            let mut records = Vec::new();
            for entry in table.iter().map_err(|e| db_error("list pending commits", e))? {
                let (id, record) = entry.map_err(|e| db_error("list pending commits", e))?;
                match PendingCommit::decode(record.value()) {
                    Ok(record) => records.push(record),
                    Err(error) => {
                        let id = Uuid::from_slice(id.value()).unwrap_or_default();
                        tracing::warn!(index = %self.path.display(), commit_id = %id, %error, "unreadable pending commit");
                    }
                }
            }
            Ok(records)
        })
    }

    /// Applies `op` in a commit shared with the operations other callers submit at the
    /// same time (group commit), from a blocking thread.
    pub(crate) fn apply(self: &Arc<Self>, op: Op) -> Result<Outcome> {
        self.batch.submit(self, op)
    }

    /// Applies `op` as [`Index::apply`] does, awaiting the commit instead of blocking a
    /// thread; `check` is made right before the batch is applied and `cleanup` runs
    /// after a finish (see `batch.rs`).
    pub(crate) async fn apply_async(
        self: &Arc<Self>,
        op: Op,
        check: Option<Check>,
        cleanup: Option<Cleanup>,
    ) -> Result<Outcome> {
        self.batch.submit_async(self, op, check, cleanup).await
    }

    /// Holds off group commits while the guard lives (a bucket's deletion checks that
    /// it is empty and moves it away between two batches).
    pub(crate) fn pause_commits(&self) -> std::sync::MutexGuard<'_, ()> {
        self.batch.pause()
    }

    /// Reads the `info` entry `name`.
    pub(crate) fn info(&self, name: &str) -> Result<Option<u64>> {
        self.read("read index info", |txn| {
            let table = txn.open_table(INFO).map_err(|e| db_error("read index info", e))?;
            Ok(table.get(name).map_err(|e| db_error("read index info", e))?.map(|v| v.value()))
        })
    }

    /// Sets the `info` entry `name`, durably.
    pub(crate) fn set_info(&self, name: &str, value: u64) -> Result<()> {
        self.write("write index info", true, |txn| {
            let mut table = txn.open_table(INFO).map_err(|e| db_error("write index info", e))?;
            table.insert(name, value).map_err(|e| db_error("write index info", e))?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests;
