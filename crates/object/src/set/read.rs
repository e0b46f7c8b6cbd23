//! The read path: pick the version a read quorum agrees on, read data shards
//! (no decoding when all are healthy), verify every frame's bitrot hash, and
//! reconstruct from parity when a shard is missing or corrupt.

use super::{ErasureSet, object_info};
use crate::lock::LockGuard;
use crate::quorum::pick_version;
use crate::types::ObjectInfo;
use crate::{ObjectError, Result};
use bytes::Bytes;
use cairn_drive::{DriveError, ShardReader};
use cairn_meta::{ObjectMeta, ObjectVersion};
use futures::Stream;
use futures::future::join_all;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use tokio::sync::mpsc;

/// Blocks a reader may run ahead of the client.
const READ_AHEAD_BLOCKS: usize = 2;
/// Most shard files a read opens up front (parts x shards). Open handles outlive the
/// replacement of the version's data directory, so a read that holds them all can
/// release the key's lock before streaming; a larger object keeps the lock instead.
const EAGER_OPEN_SHARDS_MAX: usize = 256;

/// Shard readers of one part, by shard index.
type PartReaders = Vec<Option<Box<dyn ShardReader>>>;

/// An object's bytes, streamed in order.
pub type ObjectStream = Pin<Box<dyn Stream<Item = Result<Bytes>> + Send + Sync>>;

/// An open object: its metadata, the drives that hold it, and either every shard file
/// it needs, already open, or a shared lock that keeps writers out until its stream
/// has been read to the end or dropped.
pub struct ObjectReader {
    /// What the object is.
    pub info: ObjectInfo,
    version: ObjectVersion,
    /// `drive_of_shard[i]` is the drive holding shard i of this version, if any holds it.
    drive_of_shard: Vec<Option<usize>>,
    /// Inline frames by shard index (inline objects only).
    inline_frames: Vec<Option<Bytes>>,
    set: Arc<ErasureSet>,
    /// Shard files opened under the lock, by part number.
    preopened: Vec<(u32, PartReaders)>,
    /// Held for the reader's lifetime (moved into the streaming task) when the shard
    /// files could not all be opened up front.
    _guard: Option<LockGuard>,
}

impl ErasureSet {
    /// Opens an object for reading under a shared lock.
    pub(crate) async fn open_object(self: &Arc<Self>, bucket: &str, key: &str) -> Result<ObjectReader> {
        cairn_drive::validate_key(key)?;
        let guard = self.lock_read(bucket, key).await?;
        let metas = self.read_metas(bucket, key).await;
        let (version, holders) = pick_version(&metas, &self.layout)?;
        let shards = self.erasure.total_shards();
        let mut drive_of_shard = vec![None; shards];
        let mut inline_frames = vec![None; shards];
        for (d, meta) in metas.iter().enumerate() {
            if !holders[d] {
                continue;
            }
            let Some(stored) = meta.as_ref().ok().and_then(ObjectMeta::latest) else {
                continue;
            };
            let index = stored.erasure.shard_index as usize;
            if index >= shards {
                tracing::warn!(drive = self.drives[d].endpoint(), index, "xl.meta names a shard outside the layout");
                continue;
            }
            drive_of_shard[index] = Some(d);
            inline_frames[index] = stored.inline_data.clone();
        }
        let info = object_info(bucket, key, &version);
        let mut preopened = Vec::new();
        let guard = match version.data_dir {
            // Inline data is already in memory.
            None => None,
            Some(data_dir) if version.parts.len() * shards <= EAGER_OPEN_SHARDS_MAX => {
                for part in &version.parts {
                    let readers = join_all(drive_of_shard.iter().map(|drive| async move {
                        let drive = &self.drives[(*drive)?];
                        drive.open_shard(bucket, key, data_dir, part.number).await.ok()
                    }))
                    .await;
                    preopened.push((part.number, readers));
                }
                None
            }
            Some(_) => Some(guard),
        };
        Ok(ObjectReader {
            info,
            version,
            drive_of_shard,
            inline_frames,
            set: Arc::clone(self),
            preopened,
            _guard: guard,
        })
    }
}

impl ObjectReader {
    /// Streams `length` bytes from `offset` (the whole object for `(0, size)`).
    pub fn stream(mut self, offset: u64, length: u64) -> ObjectStream {
        assert!(offset.checked_add(length).is_some_and(|end| end <= self.info.size), "range outside the object");
        let (sender, mut receiver) = mpsc::channel(READ_AHEAD_BLOCKS);
        tokio::spawn(async move {
            let preopened = std::mem::take(&mut self.preopened);
            let mut state = ReadState::new(&self, preopened);
            if let Err(error) = state.send_range(&self, offset, length, &sender).await {
                tracing::error!(bucket = %self.info.bucket, key = %self.info.key, %error, "object read failed");
                let _ = sender.send(Err(error)).await;
            }
            state.report(&self);
            // The lock guard inside `self` is released here, once the last block was handed over.
        });
        Box::pin(futures::stream::poll_fn(move |cx| receiver.poll_recv(cx)))
    }
}

/// Per-read state: open shard files and which shards have failed.
struct ReadState {
    /// Shard readers for the current part, by shard index.
    readers: PartReaders,
    /// Part number the readers belong to.
    readers_part: Option<u32>,
    /// Readers opened before streaming, by part number, handed over part by part.
    preopened: Vec<(u32, PartReaders)>,
    /// Shards that failed (missing, unreadable or corrupt) during this read.
    failed: Vec<bool>,
    /// Some block needed reconstruction.
    reconstructed: bool,
}

impl ReadState {
    fn new(reader: &ObjectReader, preopened: Vec<(u32, PartReaders)>) -> Self {
        let failed = reader.drive_of_shard.iter().map(Option::is_none).collect();
        Self { readers: Vec::new(), readers_part: None, preopened, failed, reconstructed: false }
    }

    async fn send_range(
        &mut self,
        reader: &ObjectReader,
        offset: u64,
        length: u64,
        sender: &mpsc::Sender<Result<Bytes>>,
    ) -> Result<()> {
        let block_size = reader.set.erasure.block_size() as u64;
        let end = offset + length;
        let mut part_start = 0u64;
        for part in &reader.version.parts {
            let part_end = part_start + part.size;
            if part_end <= offset || part.size == 0 {
                part_start = part_end;
                continue;
            }
            if part_start >= end {
                break;
            }
            let from = offset.max(part_start) - part_start;
            let to = end.min(part_end) - part_start;
            let mut block_index = from / block_size;
            while block_index * block_size < to {
                let block_start = block_index * block_size;
                let block_len = (part.size - block_start).min(block_size) as usize;
                let block = self.read_block(reader, part.number, block_index, block_len).await?;
                let slice_from = from.saturating_sub(block_start) as usize;
                let slice_to = (to - block_start).min(block_len as u64) as usize;
                if sender.send(Ok(block.slice(slice_from..slice_to))).await.is_err() {
                    return Ok(()); // The client went away.
                }
                block_index += 1;
            }
            part_start = part_end;
        }
        Ok(())
    }

    /// Reads one block: frames from the first k healthy shards (data shards first),
    /// more on failure, then decode (which verifies every frame).
    async fn read_block(
        &mut self,
        reader: &ObjectReader,
        part_number: u32,
        block_index: u64,
        block_len: usize,
    ) -> Result<Bytes> {
        let erasure = reader.set.erasure;
        let shards = erasure.total_shards();
        let mut frames: Vec<Option<Bytes>> = vec![None; shards];
        if reader.version.data_dir.is_none() {
            frames.clone_from(&reader.inline_frames);
        }
        loop {
            if reader.version.data_dir.is_some() {
                self.fetch_frames(reader, part_number, block_index, block_len, &mut frames).await;
            }
            match erasure.decode_block(&frames, block_len) {
                Ok(decoded) => {
                    // Only corrupt frames mark a shard failed: "missing" also lists shards that were simply not read.
                    for index in &decoded.corrupt {
                        self.failed[*index] = true;
                    }
                    if !decoded.corrupt.is_empty() {
                        reader.set.stats.corrupt_shards.fetch_add(decoded.corrupt.len() as u64, Ordering::Relaxed);
                        tracing::warn!(bucket = %reader.info.bucket, key = %reader.info.key, part_number, block_index, shards = ?decoded.corrupt, "corrupt shard detected (bitrot hash mismatch); reconstructed from parity");
                    }
                    self.reconstructed |= decoded.reconstructed;
                    return Ok(decoded.data);
                }
                Err(error) => {
                    // Drop frames that fail verification, then try the shards not yet read.
                    let mut dropped = 0;
                    for (index, frame) in frames.iter_mut().enumerate() {
                        if let Some(bytes) = frame
                            && erasure.verify_shard(index, bytes, block_len).is_err()
                        {
                            *frame = None;
                            self.failed[index] = true;
                            dropped += 1;
                        }
                    }
                    reader.set.stats.corrupt_shards.fetch_add(dropped, Ordering::Relaxed);
                    let untried = (0..shards).any(|i| frames[i].is_none() && !self.failed[i]);
                    if dropped == 0 || !untried || reader.version.data_dir.is_none() {
                        return Err(ObjectError::Unrecoverable(format!(
                            "part {part_number} block {block_index}: {error}"
                        )));
                    }
                }
            }
        }
    }

    /// Fills `frames` until k frames are present or no healthy shard is left.
    async fn fetch_frames(
        &mut self,
        reader: &ObjectReader,
        part_number: u32,
        block_index: u64,
        block_len: usize,
        frames: &mut [Option<Bytes>],
    ) {
        let erasure = reader.set.erasure;
        let data = erasure.data_shards();
        if self.readers_part != Some(part_number) {
            self.readers = match self.preopened.iter_mut().find(|(number, _)| *number == part_number) {
                Some((_, readers)) => std::mem::take(readers),
                None => (0..erasure.total_shards()).map(|_| None).collect(),
            };
            self.readers_part = Some(part_number);
        }
        let offset = erasure.frame_offset(block_index);
        let frame_len = erasure.frame_len(block_len);
        loop {
            let present = frames.iter().filter(|f| f.is_some()).count();
            let wanted: Vec<usize> = (0..frames.len())
                .filter(|i| frames[*i].is_none() && !self.failed[*i])
                .take(data.saturating_sub(present))
                .collect();
            if wanted.is_empty() {
                return;
            }
            let results = join_all(wanted.iter().map(|index| {
                let drive_index = reader.drive_of_shard[*index].expect("healthy shards have a drive");
                let drive = Arc::clone(&reader.set.drives[drive_index]);
                let info = &reader.info;
                let data_dir = reader.version.data_dir.expect("file-backed object");
                let existing = self.readers[*index].take();
                async move {
                    let shard = match existing {
                        Some(shard) => shard,
                        None => drive.open_shard(&info.bucket, &info.key, data_dir, part_number).await?,
                    };
                    let frame = shard.read_at(offset, frame_len).await;
                    Ok::<_, DriveError>((shard, frame?))
                }
            }))
            .await;
            for (index, result) in wanted.into_iter().zip(results) {
                match result {
                    Ok((shard, frame)) => {
                        self.readers[index] = Some(shard);
                        frames[index] = Some(frame);
                    }
                    Err(error) => {
                        tracing::warn!(bucket = %reader.info.bucket, key = %reader.info.key, shard = index, %error, "shard unavailable; reading parity instead");
                        reader.set.stats.missing_shards.fetch_add(1, Ordering::Relaxed);
                        self.failed[index] = true;
                    }
                }
            }
        }
    }

    /// Counts a degraded read once per object read.
    fn report(&self, reader: &ObjectReader) {
        if self.reconstructed || self.failed.iter().any(|f| *f) {
            reader.set.stats.degraded_reads.fetch_add(1, Ordering::Relaxed);
            reader.set.queue_heal(&reader.info.bucket, &reader.info.key);
        }
    }
}

impl std::fmt::Debug for ObjectReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectReader").field("info", &self.info).finish_non_exhaustive()
    }
}
