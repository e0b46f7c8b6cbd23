//! The write path: stream the body in blocks, hash it, erasure-code each block,
//! write the shards to every drive in parallel, verify the client's digests, then
//! commit on a write quorum under the key's lock.

use super::{ErasureSet, now_unix_nanos, object_info};
use crate::body::{Block, BlockReader, Body, BodyCheck};
use crate::config::{INLINE_BYTES_MAX, OBJECT_SIZE_BYTES_MAX};
use crate::lock::LockGuard;
use crate::quorum::{pick_version, reduce_errors, reduce_write};
use crate::sse::{ObjectKey, PartCipher};
use crate::types::{ObjectInfo, PutRequest, WriteCondition};
use crate::{ObjectError, Result};
use bytes::Bytes;
use cairn_drive::{CommitRequest, DriveError, PartSource, ShardWriter};
use cairn_erasure::Erasure;
use cairn_meta::{ObjectMeta, ObjectVersion, PartCompression, PartEncryption, PartInfo, Versioning};
use futures::future::join_all;
use md5_many::{Digest, Md5};
use std::collections::BTreeMap;
use std::sync::Arc;
use uuid::Uuid;

/// Running digests of a body; None for a body of compressed frames, whose digests the
/// compressor computed over the uncompressed bytes.
type Hashing = Option<(Md5, Box<dyn BodyCheck>)>;

/// How a body is stored.
#[derive(Debug, Clone)]
pub(crate) struct BodyMode {
    /// A body of at most [`INLINE_BYTES_MAX`] bytes (as stored) may go into `xl.meta`.
    pub(crate) allow_inline: bool,
    /// Compressed into frames (see `crate::compress`).
    pub(crate) compress: bool,
    /// Encrypted (after compression) with a part key derived from this object key (see
    /// `crate::sse`).
    pub(crate) encrypt: Option<ObjectKey>,
}

/// Takes what a body transform left in its slot once its stream ended.
fn take_slot<T>(slot: &std::sync::Mutex<Option<T>>) -> Option<T> {
    slot.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take()
}

/// Where a body's shards ended up.
#[derive(Clone)]
pub(crate) enum Stored {
    /// Small enough to keep in `xl.meta`: the frames, by shard index.
    Inline(Vec<Bytes>),
    /// In a staged shard file per drive; `live[d]` is true where drive d holds a complete, fsynced file.
    Files(Vec<bool>),
    /// Nothing: a delete marker has no data.
    Marker,
}

/// A body written to the drives, verified and durable, but not yet visible.
pub(crate) struct Written {
    /// Bytes of the body as sent (uncompressed).
    pub(crate) size: u64,
    pub(crate) md5: [u8; 16],
    pub(crate) checksums: BTreeMap<String, String>,
    pub(crate) stored: Stored,
    /// The index of the frames, when the body was compressed.
    pub(crate) compression: Option<PartCompression>,
    /// How the body was encrypted, when it was.
    pub(crate) encryption: Option<PartEncryption>,
}

/// A new version ready to be made visible.
pub(crate) struct Commit {
    pub(crate) bucket: String,
    pub(crate) key: String,
    /// The version, drive-neutral (each drive gets its own shard index and inline frame).
    pub(crate) version: ObjectVersion,
    /// Which shard each drive holds.
    pub(crate) distribution: Vec<u8>,
    /// Where the data is: inline frames, or staged files on the live drives.
    pub(crate) stored: Stored,
    /// Staged files each drive links into the new data directory.
    pub(crate) parts: Vec<PartSource>,
    /// A conditional write's condition, checked under the lock.
    pub(crate) condition: Option<WriteCondition>,
    /// The bucket's versioning: whether the key's other versions stay.
    pub(crate) versioning: Versioning,
}

/// Open shard writers, one per drive.
struct ShardSink {
    writers: Vec<Option<Box<dyn ShardWriter>>>,
    errors: Vec<Option<DriveError>>,
    quorum: usize,
}

impl ShardSink {
    fn live(&self) -> usize {
        self.writers.iter().filter(|w| w.is_some()).count()
    }

    fn check_quorum(&self) -> Result<()> {
        if self.live() >= self.quorum {
            return Ok(());
        }
        Err(reduce_errors(self.errors.iter().flatten(), self.live(), self.quorum))
    }

    /// Writes shard `distribution[d]` to drive d; a drive that fails drops out.
    async fn write(&mut self, frames: &[Bytes], distribution: &[u8]) -> Result<()> {
        let results = join_all(self.writers.iter_mut().enumerate().map(|(d, slot)| async move {
            match slot {
                Some(writer) => Some(writer.write(frames[distribution[d] as usize].clone()).await),
                None => None,
            }
        }))
        .await;
        for (d, result) in results.into_iter().enumerate() {
            if let Some(Err(error)) = result {
                tracing::warn!(drive = d, %error, "shard write failed; drive dropped from this write");
                self.writers[d] = None;
                self.errors[d] = Some(error);
            }
        }
        self.check_quorum()
    }

    /// Fsyncs every file; returns which drives hold a complete one.
    async fn finish(mut self) -> Result<Vec<bool>> {
        let writers = std::mem::take(&mut self.writers);
        let results = join_all(writers.into_iter().map(|slot| async move {
            match slot {
                Some(writer) => Some(writer.finish().await),
                None => None,
            }
        }))
        .await;
        let mut live = vec![false; results.len()];
        for (d, result) in results.into_iter().enumerate() {
            match result {
                Some(Ok(())) => live[d] = true,
                Some(Err(error)) => self.errors[d] = Some(error),
                None => {}
            }
        }
        let succeeded = live.iter().filter(|l| **l).count();
        if succeeded < self.quorum {
            return Err(reduce_errors(self.errors.iter().flatten(), succeeded, self.quorum));
        }
        Ok(live)
    }
}

/// Hashes and encodes one block on the CPU pool (MD5 and Reed-Solomon, about 2 ms per MiB).
async fn hash_and_encode(mut hashing: Hashing, block: Block, erasure: Erasure) -> Result<(Hashing, Vec<Bytes>)> {
    let bytes = block.pieces.iter().map(|piece| piece.len()).sum();
    let (hashing, frames) = crate::cpu::run_sized(bytes, move || {
        if let Some((md5, check)) = &mut hashing {
            for piece in &block.pieces {
                md5.update(piece);
                check.update(piece);
            }
        }
        let frames = erasure.encode_pieces(&block.pieces);
        (hashing, frames)
    })
    .await?;
    let frames = frames.map_err(|e| ObjectError::Internal(format!("erasure encode: {e}")))?;
    Ok((hashing, frames))
}

/// Reads, hashes and encodes the next block, or returns None at the end of the body.
async fn next_frames(
    reader: &mut BlockReader,
    hashing: Hashing,
    erasure: Erasure,
) -> Result<(Hashing, Option<Vec<Bytes>>)> {
    match reader.next_block(erasure.block_size()).await? {
        None => Ok((hashing, None)),
        Some(block) => {
            if reader.total_bytes > OBJECT_SIZE_BYTES_MAX {
                return Err(ObjectError::EntityTooLarge);
            }
            let (hashing, frames) = hash_and_encode(hashing, block, erasure).await?;
            Ok((hashing, Some(frames)))
        }
    }
}

impl ErasureSet {
    /// Streams `body` to the set, compressed first and then encrypted when `mode` says
    /// so (see [`ErasureSet::write_body`] for where it goes).
    pub(crate) async fn store_body(
        &self,
        bucket: &str,
        body: Body,
        check: Box<dyn BodyCheck>,
        distribution: &[u8],
        sys_path: &str,
        mode: BodyMode,
    ) -> Result<Written> {
        // Each layer hashes the body as sent if no layer before it did.
        let (body, compressed, check) = if mode.compress {
            let (frames, slot) = crate::compress::compressing(body, check);
            (frames, Some(slot), None)
        } else {
            (body, None, Some(check))
        };
        let encryption = mode.encrypt.as_ref().map(PartCipher::new_part);
        let (body, sealed, hashing) = match &encryption {
            Some((cipher, _)) => {
                let (packages, slot) = crate::sse::encrypting(body, cipher.clone(), check);
                (packages, Some(slot), None)
            }
            None => (body, None, check.map(|check| (Md5::new(), check))),
        };
        let written = self.write_body(bucket, body, hashing, distribution, sys_path, mode).await;
        let compressed = compressed.map(|slot| take_slot(&slot));
        let sealed = sealed.map(|slot| take_slot(&slot));
        // A failed body: its typed error from the first layer that failed, not the
        // message the streams after it carried.
        if let Some(Some(Err(error))) = compressed {
            return Err(error);
        }
        if let Some(Some(Err(error))) = sealed {
            return Err(error);
        }
        let mut written = written?;
        let ended = || ObjectError::Internal("a transformed body ended without its digests".into());
        if let Some(outcome) = compressed {
            let compressed = outcome.ok_or_else(ended)??;
            written.size = compressed.size;
            written.md5 = compressed.md5;
            written.checksums = compressed.checksums;
            // An empty body has no frames: nothing to index.
            written.compression = (compressed.size > 0).then_some(compressed.index);
        } else if let Some(outcome) = sealed {
            let plain = outcome.ok_or_else(ended)??.ok_or_else(ended)?;
            written.size = plain.size;
            written.md5 = plain.md5;
            written.checksums = plain.checksums;
        }
        written.encryption = encryption.map(|(_, part)| part);
        Ok(written)
    }

    /// Streams `body` to the set. With `mode.allow_inline`, a body of at most
    /// [`INLINE_BYTES_MAX`] bytes comes back as frames for `xl.meta`; otherwise each
    /// drive gets a shard file at `sys_path` (inside the system volume).
    async fn write_body(
        &self,
        bucket: &str,
        body: Body,
        mut hashing: Hashing,
        distribution: &[u8],
        sys_path: &str,
        mode: BodyMode,
    ) -> Result<Written> {
        self.recheck_if_short(self.layout.write_quorum()).await;
        let erasure = self.erasure;
        let mut reader = BlockReader::new(body);
        let first = reader.next_block(erasure.block_size()).await?;
        let inline = mode.allow_inline && first.as_ref().is_none_or(|b| b.len <= INLINE_BYTES_MAX);
        if inline {
            let frames = match first {
                Some(block) => {
                    let (done, frames) = hash_and_encode(hashing, block, erasure).await?;
                    hashing = done;
                    frames
                }
                None => vec![Bytes::new(); erasure.total_shards()],
            };
            return finish_digests(hashing, reader.total_bytes, Stored::Inline(frames));
        }

        // A missing bucket must fail before a large body is streamed; small ones
        // find out at the commit, which needs the bucket directory on a quorum.
        self.require_bucket(bucket).await?;
        let mut sink = self.open_writers(sys_path).await?;
        let Some(first) = first else {
            let live = sink.finish().await?;
            return finish_digests(hashing, 0, Stored::Files(live));
        };
        let (done, mut frames) = hash_and_encode(hashing, first, erasure).await?;
        hashing = done;
        loop {
            // Write this block while the next one is read from the network and encoded.
            let (written, next) =
                tokio::join!(sink.write(&frames, distribution), next_frames(&mut reader, hashing, erasure));
            written?;
            let (done, next) = next?;
            hashing = done;
            match next {
                Some(next_frames) => frames = next_frames,
                None => break,
            }
        }
        let live = sink.finish().await?;
        finish_digests(hashing, reader.total_bytes, Stored::Files(live))
    }

    async fn open_writers(&self, sys_path: &str) -> Result<ShardSink> {
        let opened = join_all(self.drives.iter().map(|drive| drive.create_sys_file(sys_path))).await;
        let mut sink = ShardSink { writers: Vec::new(), errors: Vec::new(), quorum: self.layout.write_quorum() };
        for result in opened {
            match result {
                Ok(writer) => {
                    sink.writers.push(Some(writer));
                    sink.errors.push(None);
                }
                Err(error) => {
                    tracing::warn!(%error, "cannot create shard file; drive dropped from this write");
                    sink.writers.push(None);
                    sink.errors.push(Some(error));
                }
            }
        }
        sink.check_quorum()?;
        Ok(sink)
    }

    /// Removes a staged file from every drive (after a failed or abandoned write).
    pub(crate) async fn discard_staged(&self, sys_path: &str) {
        join_all(self.drives.iter().map(|drive| drive.delete_sys(sys_path))).await;
    }

    /// Stores a whole object (PutObject) in a bucket in state `versioning`.
    pub(crate) async fn put_object(
        self: &Arc<Self>,
        request: PutRequest,
        versioning: Versioning,
        mode: BodyMode,
    ) -> Result<ObjectInfo> {
        let PutRequest { bucket, key, body, check, headers, condition, .. } = request;
        cairn_drive::validate_key(&key)?;
        let distribution = self.distribution(&key);
        let staged = format!("tmp/{}", Uuid::new_v4());
        let written = match self.store_body(&bucket, body, check, &distribution, &staged, mode).await {
            Ok(written) => written,
            Err(error) => {
                self.discard_staged(&staged).await;
                return Err(error);
            }
        };
        let etag = hex::encode(written.md5);
        let data_dir = matches!(written.stored, Stored::Files(_)).then(Uuid::new_v4);
        let mut version = ObjectVersion {
            version_id: None,
            mod_time_unix_nanos: now_unix_nanos(),
            size: written.size,
            etag: etag.clone(),
            data_dir,
            erasure: self.erasure_info(&distribution, 0),
            parts: vec![PartInfo {
                number: 1,
                size: written.size,
                etag,
                compression: written.compression,
                encryption: written.encryption,
            }],
            checksums: written.checksums,
            headers,
            inline_data: None,
            upload_id: None,
            meta_updated_unix_nanos: 0,
            delete_marker: false,
            compressed_size: None,
        };
        version.compressed_size = ObjectVersion::compressed_size_of(&version.parts);
        // An inline version staged nothing: no staged file to remove on four drives.
        let version_has_files = matches!(written.stored, Stored::Files(_));
        let parts = match &written.stored {
            Stored::Inline(_) | Stored::Marker => Vec::new(),
            Stored::Files(_) => vec![PartSource { sys_path: staged.clone(), part_number: 1 }],
        };
        let (info_bucket, info_key) = (bucket.clone(), key.clone());
        let commit =
            Commit { bucket, key, version, distribution, stored: written.stored, parts, condition, versioning };
        let result = self.commit_version(commit).await;
        if version_has_files {
            // The committed data directory holds its own links to the staged files.
            self.discard_staged(&staged).await;
        }
        Ok(object_info(&info_bucket, &info_key, &result?))
    }

    /// Makes a new version the object's current version on every drive that holds
    /// its data, under the key's write lock; succeeds on a write quorum and returns the
    /// version as committed (its id and time are set under the lock). Runs in its own
    /// task, so that the lock covers all of its disk work even if the client goes away
    /// mid-commit.
    pub(crate) async fn commit_version(self: &Arc<Self>, commit: Commit) -> Result<ObjectVersion> {
        let set = Arc::clone(self);
        super::detached(async move { set.commit_locked(commit).await }).await
    }

    async fn commit_locked(&self, commit: Commit) -> Result<ObjectVersion> {
        let Commit { bucket, key, mut version, distribution, stored, parts, condition, versioning } = commit;
        self.recheck_if_short(self.layout.write_quorum()).await;
        let guard = self.lock_write(&bucket, &key).await?;
        // A versioned key keeps its other versions: each drive's list is read to add to it.
        let current = if condition.is_some() || versioning.keeps_versions() {
            Some(self.read_metas(&bucket, &key).await)
        } else {
            None
        };
        if let (Some(condition), Some(current)) = (&condition, &current) {
            check_condition(condition, current, &self.layout)?;
        }
        if versioning == Versioning::Enabled {
            version.version_id = Some(Uuid::new_v4());
        }
        if let Some(newest) =
            current.iter().flatten().flatten().filter_map(ObjectMeta::latest).map(|v| v.mod_time_unix_nanos).max()
        {
            // Versions are ordered by time: the new one is newer than any, even with a clock set back.
            version.mod_time_unix_nanos = version.mod_time_unix_nanos.max(newest + 1);
        }
        let commit_id = Uuid::new_v4();
        let metas: Vec<ObjectMeta> = (0..self.drives.len())
            .map(|d| {
                let mut meta = version.clone();
                meta.erasure = self.erasure_info(&distribution, d);
                if let Stored::Inline(frames) = &stored {
                    meta.inline_data = Some(frames[distribution[d] as usize].clone());
                }
                let held =
                    current.as_ref().and_then(|metas| metas[d].as_ref().ok()).filter(|_| versioning.keeps_versions());
                with_version(held, meta)
            })
            .collect();
        let keep: Vec<Vec<Uuid>> = metas.iter().map(super::data_dirs).collect();
        let commits = self.drives.iter().zip(metas).enumerate().map(|(d, (drive, meta))| {
            let holds_data = match &stored {
                Stored::Inline(_) | Stored::Marker => true,
                Stored::Files(live) => live[d],
            };
            let request = CommitRequest {
                volume: bucket.clone(),
                key: key.clone(),
                data_dir: version.data_dir,
                parts: parts.clone(),
                meta: Bytes::from(meta.encode()),
                commit_id,
            };
            let guard = &guard;
            async move {
                if !holds_data {
                    // Dropped out while the data was written: takes no part in the commit.
                    return Err(DriveError::DriveNotFound);
                }
                guard.fenced(drive.as_ref(), drive.commit(request)).await
            }
        });
        let results = join_all(commits).await;
        let committed: Vec<bool> = results.iter().map(|r| r.is_ok()).collect();
        let settle = Settle { placed: version.data_dir, keep };
        self.settle_commit(&guard, (&bucket, &key), commit_id, &results, &committed, settle).await?;
        Ok(version)
    }

    /// Ends a commit that ran on every drive (`results[d]`; `committed[d]` where drive d
    /// made the commit): with a write quorum, finishes it where it landed (the replaced
    /// metadata and every data directory but those in `keep[d]` go); below it, undoes it
    /// there (the replaced metadata returns, the data directory it `placed` goes) and
    /// fails.
    pub(super) async fn settle_commit(
        &self,
        guard: &LockGuard,
        (bucket, key): (&str, &str),
        commit_id: Uuid,
        results: &[std::result::Result<(), DriveError>],
        committed: &[bool],
        settle: Settle,
    ) -> Result<()> {
        for (d, result) in results.iter().enumerate() {
            if let Err(error) = result {
                tracing::warn!(drive = self.drives[d].endpoint(), %error, bucket, key, "commit failed on drive");
            }
        }
        let committed = committed.iter().copied().enumerate();
        match reduce_write(results, self.layout.write_quorum()) {
            Ok(()) => {
                // Only now may the replaced version's metadata and data go.
                let keep = &settle.keep;
                join_all(committed.filter(|(_, ok)| *ok).map(|(d, _)| async move {
                    let drive = &self.drives[d];
                    let finish = drive.finish_commit(bucket, key, commit_id, keep[d].clone());
                    if let Err(error) = guard.fenced(drive.as_ref(), finish).await {
                        tracing::warn!(drive = drive.endpoint(), %error, bucket, key, "cleanup after commit failed");
                    }
                }))
                .await;
                Ok(())
            }
            Err(error) => {
                // Below quorum: put every drive that did commit back the way it was.
                let placed = settle.placed;
                join_all(committed.filter(|(_, ok)| *ok).map(|(d, _)| async move {
                    let drive = &self.drives[d];
                    let undo = drive.undo_commit(bucket, key, commit_id, placed);
                    if let Err(undo_error) = guard.fenced(drive.as_ref(), undo).await {
                        tracing::error!(drive = drive.endpoint(), %undo_error, bucket, key, "cannot undo a failed commit");
                    }
                }))
                .await;
                Err(error)
            }
        }
    }
}

/// The data directories a commit's end concerns.
#[derive(Debug, Clone)]
pub(super) struct Settle {
    /// The one the commit placed (an undo removes it); None when it placed none.
    pub(super) placed: Option<Uuid>,
    /// Per drive, the ones its installed metadata names (a finish removes every other).
    pub(super) keep: Vec<Vec<Uuid>>,
}

/// The metadata a drive installs for a new version: the version alone, or, for a key
/// that keeps versions, in front of the versions the drive `held` (a new `null`
/// version replaces the old one).
fn with_version(held: Option<&ObjectMeta>, version: ObjectVersion) -> ObjectMeta {
    let Some(held) = held else { return ObjectMeta::single(version) };
    let null = version.version_id.is_none();
    let mut versions = vec![version];
    versions.extend(held.versions.iter().filter(|old| !(null && old.version_id.is_none())).cloned());
    ObjectMeta { versions }
}

/// A commit that installs `meta` on a drive and places no data (a change of tags or
/// lock, the removal of a version, a heal of metadata).
pub(super) fn metadata_commit(bucket: &str, key: &str, meta: &ObjectMeta, commit_id: Uuid) -> CommitRequest {
    CommitRequest {
        volume: bucket.to_owned(),
        key: key.to_owned(),
        data_dir: None,
        parts: Vec::new(),
        meta: Bytes::from(meta.encode()),
        commit_id,
    }
}

/// Evaluates a conditional write against the key's current version (read under the write lock).
pub(super) fn check_condition(
    condition: &WriteCondition,
    previous: &[std::result::Result<ObjectMeta, DriveError>],
    layout: &crate::config::Layout,
) -> Result<()> {
    let current = match pick_version(previous, layout) {
        // A delete marker is the key being absent.
        Ok((version, _)) if version.delete_marker => None,
        Ok((version, _)) => Some(version),
        Err(ObjectError::ObjectNotFound) => None,
        Err(error) => return Err(error),
    };
    match (condition, current) {
        (WriteCondition::IfNoneMatchAny, Some(_)) => Err(ObjectError::PreconditionFailed("the object already exists")),
        (WriteCondition::IfMatch(_), None) => Err(ObjectError::ObjectNotFound),
        (WriteCondition::IfMatchAny, None) => Err(ObjectError::PreconditionFailed("no object exists under the key")),
        (WriteCondition::IfMatch(etag), Some(version)) if *etag != version.etag => {
            Err(ObjectError::PreconditionFailed("the object's ETag does not match"))
        }
        (WriteCondition::IfCurrentWrittenAt(_), None) => Err(ObjectError::PreconditionFailed("the key has no object")),
        (WriteCondition::IfCurrentWrittenAt(time), Some(version)) if *time != version.mod_time_unix_nanos => {
            Err(ObjectError::PreconditionFailed("the key's current version changed"))
        }
        _ => Ok(()),
    }
}

fn finish_digests(hashing: Hashing, size: u64, stored: Stored) -> Result<Written> {
    let Some((md5, check)) = hashing else {
        // Compressed frames: `store_body` puts the body's own digests in.
        return Ok(Written {
            size,
            md5: [0; 16],
            checksums: BTreeMap::new(),
            stored,
            compression: None,
            encryption: None,
        });
    };
    let md5: [u8; 16] = md5.finalize().into();
    let checksums = check.finish(&md5)?;
    Ok(Written { size, md5, checksums, stored, compression: None, encryption: None })
}

#[cfg(test)]
mod tests {
    use super::Md5;
    use md5_many::Digest as _;
    use proptest::prelude::*;

    /// The reference MD5 (RustCrypto md-5) of `body`.
    fn reference(body: &[u8]) -> [u8; 16] {
        use md5::Digest as _;
        md5::Md5::digest(body).into()
    }

    /// The ETag hasher's MD5 of `body` fed in pieces cut at `cuts`.
    fn pieces(body: &[u8], cuts: &[usize]) -> [u8; 16] {
        let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (body.len() + 1)).collect();
        cuts.sort_unstable();
        let mut hasher = Md5::new();
        let mut start = 0;
        for cut in cuts.into_iter().chain([body.len()]) {
            hasher.update(&body[start..cut]);
            start = cut;
        }
        hasher.finalize().into()
    }

    proptest! {
        /// Any body cut into any pieces gets the reference digest (padding edges at 55, 56 and 64 bytes included).
        #[test]
        fn etag_md5_matches_the_reference(
            body in proptest::collection::vec(any::<u8>(), 0..1100),
            cuts in proptest::collection::vec(any::<usize>(), 0..6),
        ) {
            prop_assert_eq!(pieces(&body, &cuts), reference(&body));
        }
    }

    #[test]
    fn etag_md5_of_several_blocks_matches_the_reference() {
        let body: Vec<u8> = (0..(3usize << 20) + 12345).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        assert_eq!(pieces(&body, &[1 << 20, 2 << 20, (2 << 20) + 7, 3 << 20]), reference(&body));
    }
}
