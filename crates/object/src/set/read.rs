//! The read path: pick the version a read quorum agrees on, read data shards
//! (no decoding when all are healthy), verify every frame's bitrot hash, and
//! reconstruct from parity when a shard is missing or corrupt.

use super::{ErasureSet, object_info};
use crate::compress::FrameDecoder;
use crate::error::drive_unavailable;
use crate::lock::LockGuard;
use crate::quorum::{copy_of, pick_version_at, same_version};
use crate::sse::{ObjectKey, PackageOpener, PartCipher};
use crate::types::ObjectInfo;
use crate::types::VersionRef;
use crate::{ObjectError, Result};
use bytes::Bytes;
use cairn_drive::{DriveError, ShardReader};
use cairn_meta::{ObjectVersion, PartCompression, PartInfo};
use futures::Stream;
use futures::future::join_all;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use tokio::sync::mpsc;

/// Blocks a reader may run ahead of the client.
const READ_AHEAD_BLOCKS: usize = 2;
/// Most shard files (parts x shards) a read holds open at once: one window of parts.
/// A window is opened under the key's read lock after checking that the version read
/// so far is still the current one; open handles outlive the replacement of the
/// version's data directory, so the lock is released before any byte is streamed.
/// The first window starts at the part holding the first byte asked for, so a ranged
/// read far into a many-part object opens only the files it reads.
const WINDOW_SHARDS_MAX: usize = 256;

/// Shard readers of one part, by shard index.
type PartReaders = Vec<Option<Box<dyn ShardReader>>>;

/// An object's bytes, streamed in order.
pub type ObjectStream = Pin<Box<dyn Stream<Item = Result<Bytes>> + Send + Sync>>;

/// An open object: its metadata, the drives that hold it, and the key's read lock until
/// [`ObjectReader::stream`] has opened the shard files of the first parts it reads. No
/// lock is held while the object streams, so a slow client never holds up a writer of
/// the key: the next window of parts is opened under a short read lock after checking
/// that the version is still current, and a read whose version was replaced meanwhile
/// fails with `ObjectError::Replaced` rather than continue with another version's bytes.
/// Callers stream (or drop) the reader right after looking at `info`.
pub struct ObjectReader {
    /// What the object is.
    pub info: ObjectInfo,
    version: ObjectVersion,
    /// `drive_of_shard[i]` is the drive holding shard i of this version, if any holds it.
    drive_of_shard: Vec<Option<usize>>,
    /// Inline frames by shard index (inline objects only).
    inline_frames: Vec<Option<Bytes>>,
    set: Arc<ErasureSet>,
    /// The key's read lock, taken to pick `version` and held until `stream`, which knows
    /// where the range starts, has opened the first window of shard files from there.
    /// None for inline objects, which have no files to open.
    first_window_lock: Option<LockGuard>,
    /// The object key of an encrypted version (set by the store, which holds the keys).
    pub(crate) key: Option<ObjectKey>,
}

impl ErasureSet {
    /// Opens an object for reading: picks the version under a shared lock, which the
    /// reader keeps until it has opened the shard files its stream starts with.
    pub(crate) async fn open_object(self: &Arc<Self>, bucket: &str, key: &str, at: VersionRef) -> Result<ObjectReader> {
        cairn_drive::validate_key(key)?;
        let guard = self.lock_read(bucket, key).await?;
        let super::ClientRead { metas, version, holders } = self.read_for_client(bucket, key, at).await?;
        let info = object_info(bucket, key, &version);
        super::refuse_marker(&info, at)?;
        let shards = self.erasure.total_shards();
        let mut drive_of_shard = vec![None; shards];
        let mut inline_frames = vec![None; shards];
        for (d, meta) in metas.iter().enumerate() {
            if !holders[d] {
                continue;
            }
            let Some(stored) = copy_of(meta, &version) else {
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
        // Inline objects release the lock at once: their bytes came with the metadata.
        let first_window_lock = version.data_dir.is_some().then_some(guard);
        Ok(ObjectReader {
            info,
            version,
            drive_of_shard,
            inline_frames,
            set: Arc::clone(self),
            first_window_lock,
            key: None,
        })
    }
}

impl ObjectReader {
    /// Opens the shard files of the parts from `parts[first]` on, as many parts as fit
    /// in [`WINDOW_SHARDS_MAX`] files (at least one). The caller holds the key's lock
    /// and knows the version is current. A shard that cannot be opened is left out and
    /// read from parity instead.
    async fn open_window(&self, first: usize) -> Vec<(u32, PartReaders)> {
        let Some(data_dir) = self.version.data_dir else { return Vec::new() };
        let parts_max = (WINDOW_SHARDS_MAX / self.drive_of_shard.len()).max(1);
        let (bucket, key) = (&self.info.bucket, &self.info.key);
        let window: Vec<(u32, PartReaders)> =
            join_all(self.version.parts.iter().skip(first).take(parts_max).map(|part| async move {
                let readers = join_all(self.drive_of_shard.iter().map(|drive| async move {
                    let drive = &self.set.drives[(*drive)?];
                    drive.open_shard(bucket, key, data_dir, part.number).await.ok()
                }))
                .await;
                (part.number, readers)
            }))
            .await;
        let opened = window.iter().flat_map(|(_, readers)| readers).flatten().count();
        self.set.stats.shard_files_opened.fetch_add(opened as u64, Ordering::Relaxed);
        window
    }

    /// Index in `version.parts` of the part holding byte `offset` (the number of parts
    /// when no part does, e.g. at the end of the object).
    fn part_at(&self, offset: u64) -> usize {
        let mut part_end = 0u64;
        self.version
            .parts
            .iter()
            .position(|part| {
                part_end += part.size;
                part_end > offset
            })
            .unwrap_or(self.version.parts.len())
    }

    /// Opens the next window of parts, from `parts[first]` on, under a short read lock,
    /// if the version being read still exists: under its id, the same version (a write
    /// to an unversioned key replaces its `null` version; in a versioned bucket the
    /// version stays until it is deleted by id).
    async fn reopen_window(&self, first: usize) -> Result<Vec<(u32, PartReaders)>> {
        let (bucket, key) = (&self.info.bucket, &self.info.key);
        let _guard = self.set.lock_read(bucket, key).await?;
        let metas = self.set.read_metas(bucket, key).await;
        match pick_version_at(&metas, &self.set.layout, VersionRef::Exact(self.version.version_id)) {
            Ok((current, _)) if same_version(&current, &self.version) => Ok(self.open_window(first).await),
            Ok(_) | Err(ObjectError::ObjectNotFound | ObjectError::VersionNotFound) => Err(ObjectError::Replaced),
            Err(error) => Err(error),
        }
    }

    /// Streams `length` bytes from `offset` (the whole object for `(0, size)`).
    pub fn stream(mut self, offset: u64, length: u64) -> ObjectStream {
        assert!(offset.checked_add(length).is_some_and(|end| end <= self.info.size), "range outside the object");
        let (sender, mut receiver) = mpsc::channel(READ_AHEAD_BLOCKS);
        tokio::spawn(async move {
            let window = match self.first_window_lock.take() {
                Some(lock) => {
                    let window = self.open_window(self.part_at(offset)).await;
                    drop(lock);
                    window
                }
                None => Vec::new(),
            };
            let mut state = ReadState::new(&self, window);
            if let Err(error) = state.send_range(&self, offset, length, &sender).await {
                if matches!(error, ObjectError::Replaced) {
                    tracing::info!(bucket = %self.info.bucket, key = %self.info.key, "object replaced during a read; read ended");
                } else {
                    tracing::error!(bucket = %self.info.bucket, key = %self.info.key, %error, "object read failed");
                }
                let _ = sender.send(Err(error)).await;
            }
            state.report(&self);
        });
        Box::pin(futures::stream::poll_fn(move |cx| receiver.poll_recv(cx)))
    }
}

/// Whether a [`DataSink`] wants more bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    More,
    /// It has every byte it wanted.
    Enough,
    /// The client went away.
    Gone,
}

/// Where a part's data goes as it is read.
trait DataSink {
    async fn take(&mut self, bytes: Bytes) -> Result<Flow>;
}

/// Data sent to the client as it is.
struct Direct<'a>(&'a mpsc::Sender<Result<Bytes>>);

impl DataSink for Direct<'_> {
    async fn take(&mut self, bytes: Bytes) -> Result<Flow> {
        Ok(if self.0.send(Ok(bytes)).await.is_err() { Flow::Gone } else { Flow::More })
    }
}

/// Compressed frames, decompressed and sent to the client.
struct Decompress<'a> {
    decoder: FrameDecoder,
    sender: &'a mpsc::Sender<Result<Bytes>>,
}

impl DataSink for Decompress<'_> {
    async fn take(&mut self, bytes: Bytes) -> Result<Flow> {
        for block in self.decoder.push(&bytes).await? {
            if self.sender.send(Ok(block)).await.is_err() {
                return Ok(Flow::Gone);
            }
        }
        Ok(if self.decoder.done() { Flow::Enough } else { Flow::More })
    }
}

/// Per-read state: open shard files and which shards have failed.
struct ReadState {
    /// Shard readers for the current part, by shard index.
    readers: PartReaders,
    /// Open shard files of the current window of parts, by part number, handed over
    /// part by part.
    window: Vec<(u32, PartReaders)>,
    /// Shards that failed (missing, unreadable or corrupt) during this read.
    failed: Vec<bool>,
    /// Some shard failed because its drive was offline or did not answer in time.
    unavailable: bool,
    /// Some block needed reconstruction.
    reconstructed: bool,
}

impl ReadState {
    fn new(reader: &ObjectReader, window: Vec<(u32, PartReaders)>) -> Self {
        let failed = reader.drive_of_shard.iter().map(Option::is_none).collect();
        Self { readers: Vec::new(), window, failed, unavailable: false, reconstructed: false }
    }

    /// Makes `parts[index]`'s shard files the current readers, opening the next window
    /// of parts when the current one does not hold it.
    async fn enter_part(&mut self, reader: &ObjectReader, index: usize) -> Result<()> {
        if reader.version.data_dir.is_none() {
            return Ok(());
        }
        let number = reader.version.parts[index].number;
        if !self.window.iter().any(|(n, _)| *n == number) {
            self.window = reader.reopen_window(index).await?;
        }
        self.readers = match self.window.iter_mut().find(|(n, _)| *n == number) {
            Some((_, readers)) => std::mem::take(readers),
            None => (0..reader.drive_of_shard.len()).map(|_| None).collect(),
        };
        Ok(())
    }

    async fn send_range(
        &mut self,
        reader: &ObjectReader,
        offset: u64,
        length: u64,
        sender: &mpsc::Sender<Result<Bytes>>,
    ) -> Result<()> {
        let end = offset + length;
        let mut part_start = 0u64;
        for (index, part) in reader.version.parts.iter().enumerate() {
            let part_end = part_start + part.size;
            if part_end <= offset || part.size == 0 {
                part_start = part_end;
                continue;
            }
            if part_start >= end {
                break;
            }
            self.enter_part(reader, index).await?;
            let from = offset.max(part_start) - part_start;
            let to = end.min(part_end) - part_start;
            let sent = match &part.compression {
                None => self.send_stored(reader, part, from, to, sender).await?,
                Some(index) => self.send_compressed(reader, part, index, from, to, sender).await?,
            };
            if !sent {
                return Ok(()); // The client went away.
            }
            part_start = part_end;
        }
        Ok(())
    }

    /// Sends bytes `from..to` of an uncompressed part; false when the client went away.
    async fn send_stored(
        &mut self,
        reader: &ObjectReader,
        part: &PartInfo,
        from: u64,
        to: u64,
        sender: &mpsc::Sender<Result<Bytes>>,
    ) -> Result<bool> {
        let mut sink = Direct(sender);
        Ok(self.read_data(reader, part, from, to, &mut sink).await? != Flow::Gone)
    }

    /// Sends the uncompressed bytes `from..to` of a compressed part: reads the stored
    /// frames from the index entry before `from` and decompresses those that hold wanted
    /// bytes (see `crate::compress`); false when the client went away.
    async fn send_compressed(
        &mut self,
        reader: &ObjectReader,
        part: &PartInfo,
        index: &PartCompression,
        from: u64,
        to: u64,
        sender: &mpsc::Sender<Result<Bytes>>,
    ) -> Result<bool> {
        let plan = crate::compress::plan(index, from, to);
        let mut sink = Decompress { decoder: FrameDecoder::new(index, plan, part.size, from, to), sender };
        if self.read_data(reader, part, plan.stored_from, plan.stored_to, &mut sink).await? == Flow::Gone {
            return Ok(false);
        }
        sink.decoder.finish()?;
        Ok(true)
    }

    /// Hands bytes `from..to` of a part's data (compressed or not, before encryption) to
    /// `sink`, reading the blocks that hold them and, for an encrypted part, opening
    /// the packages that hold them (see `crate::sse`).
    async fn read_data(
        &mut self,
        reader: &ObjectReader,
        part: &PartInfo,
        from: u64,
        to: u64,
        sink: &mut impl DataSink,
    ) -> Result<Flow> {
        let (stored_from, stored_to, mut opener) = match (&part.encryption, &reader.key) {
            (None, _) => (from, to, None),
            (Some(encryption), Some(key)) => {
                let plan = crate::sse::plan(encryption, part.data_size(), from, to);
                let cipher = PartCipher::of_part(key, encryption);
                let opener = PackageOpener::new(cipher, encryption, plan, part.data_size(), from, to);
                (plan.sealed_from, plan.sealed_to, Some(opener))
            }
            (Some(_), None) => return Err(ObjectError::Internal("an encrypted part read without its key".into())),
        };
        let block_size = reader.set.erasure.block_size() as u64;
        let mut block_index = stored_from / block_size;
        while block_index * block_size < stored_to {
            let block_start = block_index * block_size;
            let block_len = (part.stored_size() - block_start).min(block_size) as usize;
            let block = self.read_block(reader, part.number, block_index, block_len).await?;
            let slice_from = stored_from.saturating_sub(block_start) as usize;
            let slice_to = (stored_to - block_start).min(block_len as u64) as usize;
            let data = block.slice(slice_from..slice_to);
            let pieces = match &mut opener {
                Some(opener) => opener.push(&data).await?,
                None => vec![data],
            };
            for piece in pieces {
                let flow = sink.take(piece).await?;
                if flow != Flow::More {
                    return Ok(flow);
                }
            }
            block_index += 1;
        }
        if let Some(opener) = &opener {
            opener.finish()?;
        }
        Ok(Flow::More)
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
                    let mut dropped = Vec::new();
                    for (index, frame) in frames.iter_mut().enumerate() {
                        if let Some(bytes) = frame
                            && erasure.verify_shard(index, bytes, block_len).is_err()
                        {
                            *frame = None;
                            self.failed[index] = true;
                            dropped.push(index);
                        }
                    }
                    if !dropped.is_empty() {
                        reader.set.stats.corrupt_shards.fetch_add(dropped.len() as u64, Ordering::Relaxed);
                        // Too many corrupt frames to decode around: the next pass reads other shards.
                        tracing::warn!(bucket = %reader.info.bucket, key = %reader.info.key, part_number, block_index, shards = ?dropped, "corrupt shard detected (bitrot hash mismatch); reading other shards to reconstruct");
                    }
                    let untried = (0..shards).any(|i| frames[i].is_none() && !self.failed[i]);
                    if dropped.is_empty() || !untried || reader.version.data_dir.is_none() {
                        // Shards on drives that do not answer are not lost: the read may succeed later.
                        if self.unavailable {
                            return Err(ObjectError::ReadQuorum);
                        }
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
                        None => {
                            let shard = drive.open_shard(&info.bucket, &info.key, data_dir, part_number).await?;
                            reader.set.stats.shard_files_opened.fetch_add(1, Ordering::Relaxed);
                            shard
                        }
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
                        self.unavailable |= drive_unavailable(&error);
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

#[cfg(test)]
mod tests {
    use crate::store::ObjectStore;
    use crate::types::{CompletePart, CompleteRequest, PutRequest};
    use crate::{NoCheck, PART_SIZE_BYTES_MIN};
    use bytes::Bytes;
    use cairn_drive::{Drive, LocalDrive};
    use futures::StreamExt;
    use std::sync::Arc;

    /// 16 drives: 16 shard files per part, so a window holds 16 parts.
    const DRIVES: usize = 16;
    /// 20 parts x 16 shards = 320 shard files: more than one window (256).
    const PARTS: u64 = 20;

    /// Byte `offset` of the test object: every position distinct enough to catch a
    /// misplaced block.
    fn byte_at(offset: u64) -> u8 {
        (offset.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as u8
    }

    fn bytes_at(from: u64, len: u64) -> Vec<u8> {
        (from..from + len).map(byte_at).collect()
    }

    /// Regression (issue 9): a ranged read of a many-part object opened the first window
    /// of shard files from part 1, whatever the range, then a second one where the range
    /// starts. It must open only the files of the parts from the range's start on.
    #[tokio::test(flavor = "multi_thread")]
    async fn a_ranged_read_opens_shard_files_from_the_part_where_it_starts() {
        let dir = tempfile::tempdir().expect("temp dir");
        let drives: Vec<Arc<dyn Drive>> = (0..DRIVES)
            .map(|d| Arc::new(LocalDrive::open(dir.path().join(format!("d{d}"))).expect("drive")) as Arc<dyn Drive>)
            .collect();
        let store = ObjectStore::open(drives, None).await.expect("store");
        store.make_bucket("b").await.expect("bucket");
        let (id, _) = store.create_multipart_upload("b", "many", Default::default(), None, None).await.expect("create");
        let mut parts = Vec::new();
        for number in 1..=PARTS {
            let data = Bytes::from(bytes_at((number - 1) * PART_SIZE_BYTES_MIN, PART_SIZE_BYTES_MIN));
            let request = PutRequest {
                bucket: "b".into(),
                key: "many".into(),
                body: Box::pin(futures::stream::iter([Ok(data)])),
                check: Box::new(NoCheck),
                headers: Default::default(),
                condition: None,
                encryption: None,
            };
            let part = store.upload_part(request, &id, number as u32).await.expect("part");
            parts.push(CompletePart { number: part.number, etag: part.etag });
        }
        let composite = Box::new(|_: Option<&str>, _: &[_]| Default::default());
        let complete =
            CompleteRequest { bucket: "b".into(), key: "many".into(), upload_id: id.clone(), parts, condition: None };
        store.complete_multipart_upload(complete, composite).await.expect("complete");

        // From the middle of part 19 into part 20.
        let offset = 18 * PART_SIZE_BYTES_MIN + 12_345;
        let length = PART_SIZE_BYTES_MIN;
        let before = store.stats().shard_files_opened;
        let reader = store.open_object("b", "many").await.expect("open");
        let mut stream = reader.stream(offset, length);
        let mut read = Vec::new();
        while let Some(chunk) = stream.next().await {
            read.extend_from_slice(&chunk.expect("chunk"));
        }
        assert!(read == bytes_at(offset, length), "wrong bytes for the range");
        let opened = store.stats().shard_files_opened - before;
        assert_eq!(opened, 2 * DRIVES as u64, "opened {opened} shard files for a range within parts 19 and 20");
    }
}
