//! Sorted walks of a bucket over the index: a range scan from the prefix (or the key
//! after `start_after`), read in chunks of short read transactions.
//!
//! Each chunk resumes strictly after the last key the previous one returned, so a walk
//! running beside writes and deletes returns every key that existed for its whole
//! duration exactly once, in ascending order, and no key twice. A delimited walk reports
//! each common prefix once and jumps over its keys with one seek.

use super::{Index, OBJECTS, db_error, object_key};
use crate::{DriveError, Result, WalkEntry, WalkOptions};
use bytes::Bytes;
use std::ops::Bound;

/// Most entries one read transaction returns: short transactions let the index reuse
/// the pages writers free, and bound what a walk holds while its reader is slow. A
/// listing page (1,000 keys and one more) is one chunk per drive, so a page costs one
/// hand-over between threads per drive rather than one per few hundred keys.
const CHUNK_ENTRIES_MAX: usize = 1024;
/// Most metadata bytes one chunk holds (inline data makes entries up to ~64 KiB).
const CHUNK_BYTES_MAX: usize = 1 << 20;

/// Where a walk stands between chunks.
pub(crate) struct IndexWalk {
    volume: String,
    options: WalkOptions,
    /// Index key the next chunk starts at.
    cursor: Bound<Vec<u8>>,
    /// Every key of the walk starts with this (`volume \0 prefix`).
    base: Vec<u8>,
    /// Entries the walk may still return (its limit).
    remaining: usize,
    done: bool,
}

impl IndexWalk {
    pub(crate) fn new(volume: &str, options: WalkOptions) -> Self {
        let base = object_key(volume, &options.prefix);
        let cursor = match options.start_after.as_deref() {
            Some(start) if start >= options.prefix.as_str() => Bound::Excluded(object_key(volume, start)),
            _ => Bound::Included(base.clone()),
        };
        let remaining = options.limit.unwrap_or(usize::MAX);
        Self { volume: volume.to_owned(), options, cursor, base, remaining, done: remaining == 0 }
    }

    pub(crate) fn is_done(&self) -> bool {
        self.done
    }

    fn after_start(&self, key: &str) -> bool {
        self.options.start_after.as_deref().is_none_or(|start| key > start)
    }

    /// The next entries of the walk (empty once it is done).
    pub(crate) fn next_chunk(&mut self, index: &Index) -> Result<Vec<WalkEntry>> {
        if self.done {
            return Ok(Vec::new());
        }
        let entries_max = CHUNK_ENTRIES_MAX.min(self.remaining);
        let entries = index.read("walk", |txn| {
            let table = txn.open_table(OBJECTS).map_err(|e| db_error("walk", e))?;
            let mut entries = Vec::new();
            let mut bytes = 0;
            'seek: while entries.len() < entries_max && bytes < CHUNK_BYTES_MAX {
                let range = (self.cursor.as_ref().map(Vec::as_slice), Bound::Unbounded);
                for item in table.range::<&[u8]>(range).map_err(|e| db_error("walk", e))? {
                    let (index_key, meta) = item.map_err(|e| db_error("walk", e))?;
                    let index_key = index_key.value();
                    if !index_key.starts_with(&self.base) {
                        self.done = true;
                        return Ok(entries);
                    }
                    let key = key_of(index_key, self.volume.len())?;
                    if !self.options.recursive
                        && let Some(slash) = key[self.options.prefix.len()..].find('/')
                    {
                        let common = &key[..self.options.prefix.len() + slash + 1];
                        if self.after_start(common) {
                            entries.push(WalkEntry::Prefix(common.to_owned()));
                        }
                        // Every key below `common` folds into it: go on at the first key
                        // after them ('0' follows '/').
                        let mut next = object_key(&self.volume, &common[..common.len() - 1]);
                        next.push(b'0');
                        self.cursor = Bound::Included(next);
                        continue 'seek;
                    }
                    bytes += meta.value().len();
                    entries.push(WalkEntry::Object { key: key.to_owned(), meta: Bytes::copy_from_slice(meta.value()) });
                    self.cursor = Bound::Excluded(index_key.to_vec());
                    if entries.len() >= entries_max || bytes >= CHUNK_BYTES_MAX {
                        return Ok(entries);
                    }
                }
                self.done = true;
                break;
            }
            Ok(entries)
        })?;
        self.remaining -= entries.len();
        self.done |= self.remaining == 0;
        Ok(entries)
    }
}

/// The object key of an index key of a volume whose name is `volume_len` bytes long.
fn key_of(index_key: &[u8], volume_len: usize) -> Result<&str> {
    // Keys are stored from `&str`s; a key that is not UTF-8 is a damaged index.
    std::str::from_utf8(&index_key[volume_len + 1..])
        .map_err(|_| DriveError::Corrupt("index holds a key that is not UTF-8".into()))
}
