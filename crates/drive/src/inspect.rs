//! Reading and changing a drive's metadata from outside the server that serves it: for
//! tests that check where copies are and damage them (as they flip bytes in data
//! files), and for offline inspection. A running server's drives can be opened only if
//! it was started with `CAIRN_TEST_INDEX_SHARED=1`; otherwise its exclusive lock
//! refuses this (a stopped server's drives always open).

use crate::local::index::{self, INDEX_FILE, Index};
use crate::path::{SYSTEM_VOLUME, validate_key};
use crate::{DriveError, Result};
use bytes::Bytes;
use std::path::Path;

fn open(root: &Path) -> Result<Index> {
    let path = root.join(SYSTEM_VOLUME).join(INDEX_FILE);
    if !path.is_file() {
        return Err(DriveError::DriveNotFound);
    }
    Index::open(&path, true)
}

/// The metadata of `key` in `volume` on the drive at `root`, if it holds the key.
pub fn object_meta(root: &Path, volume: &str, key: &str) -> Result<Option<Bytes>> {
    validate_key(key)?;
    open(root)?.get(volume, key)
}

/// Every key of `volume` on the drive at `root`, in order.
pub fn object_keys(root: &Path, volume: &str) -> Result<Vec<String>> {
    let index = open(root)?;
    let mut walk = index::walk::IndexWalk::new(volume, crate::WalkOptions { recursive: true, ..Default::default() });
    let mut keys = Vec::new();
    while !walk.is_done() {
        for entry in walk.next_chunk(&index)? {
            if let crate::WalkEntry::Object { key, .. } = entry {
                keys.push(key);
            }
        }
    }
    Ok(keys)
}

/// Replaces the metadata of `key` in `volume` on the drive at `root`.
pub fn put_object_meta(root: &Path, volume: &str, key: &str, meta: Bytes) -> Result<()> {
    validate_key(key)?;
    let op = index::Op::Put { volume: volume.to_owned(), key: key.to_owned(), meta };
    std::sync::Arc::new(open(root)?).apply(op).map(drop)
}

/// Removes the metadata of `key` in `volume` on the drive at `root` (its data folders
/// stay); false when the drive did not hold it.
pub fn remove_object_meta(root: &Path, volume: &str, key: &str) -> Result<bool> {
    validate_key(key)?;
    let op = index::Op::Delete { volume: volume.to_owned(), key: key.to_owned() };
    Ok(std::sync::Arc::new(open(root)?).apply(op)? == index::Outcome::Found(true))
}

/// The commits on the drive at `root` that were neither finished nor undone.
pub fn pending_commits(root: &Path) -> Result<Vec<crate::PendingCommit>> {
    open(root)?.pending_commits()
}

/// An index write transaction kept open: until it is dropped, the server's commits on
/// that drive wait, as on a drive that stopped answering.
pub struct WriteHold {
    _txn: redb::WriteTransaction,
    _db: redb::Database,
}

/// Holds the index of the drive at `root` busy (see [`WriteHold`]).
pub fn hold_writes(root: &Path) -> Result<WriteHold> {
    let path = root.join(SYSTEM_VOLUME).join(INDEX_FILE);
    let db = redb::Database::builder()
        .set_concurrency_mode(index::concurrency(true))
        .open(&path)
        .map_err(|e| index::db_error("open index", e))?;
    let txn = db.begin_write().map_err(|e| index::db_error("hold index", e))?;
    Ok(WriteHold { _txn: txn, _db: db })
}

/// Stores an entry under raw key bytes that no valid key has (not UTF-8): the damage a
/// failing disk can do to the index. A walk that reaches it fails there.
pub fn put_damaged_key(root: &Path, volume: &str, key: &[u8], meta: &[u8]) -> Result<()> {
    let mut index_key = volume.as_bytes().to_vec();
    index_key.push(0);
    index_key.extend_from_slice(key);
    open(root)?.write("damage index", true, |txn| {
        let mut table = txn.open_table(index::OBJECTS).map_err(|e| index::db_error("damage index", e))?;
        table.insert(index_key.as_slice(), meta).map_err(|e| index::db_error("damage index", e))?;
        Ok(())
    })
}
