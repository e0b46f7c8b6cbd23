//! Transparent compression of objects that match the compression rule (`admin config
//! set compression ...`): a part's bytes are cut into blocks of [`FRAME_BLOCK_BYTES`],
//! each compressed alone with zstd (level 1: the fastest level that still halves text,
//! measured in `docs/benchmarks.md`) into a frame:
//!
//! ```text
//! frame = header u32 LE || payload
//! header: bit 31 set = payload stored raw (the block did not shrink), bits 0-30 = payload bytes
//! ```
//!
//! The frames, concatenated, are what erasure coding stores for the part. The part's
//! record keeps its uncompressed size and an index (`PartCompression::spans`: stored
//! bytes per span of frames), so a ranged read finds the frame holding its first byte
//! and decompresses only the frames it returns. ETag, checksums, sizes and ranges are
//! those of the uncompressed bytes: clients never see the frames.

use crate::body::{BlockReader, Body, BodyCheck};
use crate::config::OBJECT_SIZE_BYTES_MAX;
use crate::{ObjectError, Result};
use bytes::{Buf, Bytes, BytesMut};
use cairn_meta::{Codec, PartCompression};
use md5_many::{Digest, Md5};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// Uncompressed bytes per frame: large enough for zstd to find the repetition in text,
/// small enough that a ranged read decompresses little beyond what it returns.
pub const FRAME_BLOCK_BYTES: usize = 1 << 20;
/// zstd level: 1 compresses text about 4x at ~190 MB/s per core here; higher levels
/// gain a few percent of ratio for half the speed (`docs/benchmarks.md`).
const ZSTD_LEVEL: i32 = 1;
/// Bytes of a frame's header.
const FRAME_HEADER_BYTES: usize = 4;
/// Header bit of a frame whose payload is the block as sent.
const RAW_FRAME: u32 = 1 << 31;
/// Most index entries per part: a part of more frames indexes every `stride`-th one,
/// so the index of a 5 GiB part stays at 256 numbers (a ranged read then skips up to
/// `stride - 1` frames by their headers, without decompressing them).
pub(crate) const INDEX_SPANS_MAX: usize = 256;

/// Extensions MinIO compresses by default (`compression extensions=`).
pub const COMPRESSION_EXTENSIONS_DEFAULT: &str = ".txt,.log,.csv,.json,.tar,.xml,.bin";
/// Content types MinIO compresses by default (`compression mime_types=`).
pub const COMPRESSION_MIME_TYPES_DEFAULT: &str = "text/*,application/json,application/xml,binary/octet-stream";
/// Names of content that is compressed already: never compressed again, whatever the rule.
const EXCLUDED_EXTENSIONS: [&str; 22] = [
    ".gz", ".tgz", ".bz2", ".xz", ".zst", ".lz4", ".br", ".zip", ".7z", ".rar", ".jpg", ".jpeg", ".png", ".gif",
    ".webp", ".mp3", ".mp4", ".mkv", ".mov", ".pdf", ".docx", ".xlsx",
];
/// Content types of content that is compressed already (`*` ends a prefix).
const EXCLUDED_TYPES: [&str; 15] = [
    "image/*",
    "video/*",
    "audio/*",
    "application/zip",
    "application/gzip",
    "application/x-gzip",
    "application/x-zip-compressed",
    "application/x-compress",
    "application/x-bzip2",
    "application/x-xz",
    "application/zstd",
    "application/x-7z-compressed",
    "application/x-rar-compressed",
    "application/pdf",
    "application/vnd.openxmlformats-*",
];

/// Which objects are compressed (MinIO's `compression` settings).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompressionRule {
    /// `enable=on`.
    pub enabled: bool,
    /// Key suffixes (`.txt`), compared without case.
    pub extensions: Vec<String>,
    /// Content types, `text/*` matching every subtype.
    pub mime_types: Vec<String>,
    /// `allow_encryption=on`: encrypted objects are compressed too (before they are
    /// encrypted). Off by default, as in MinIO: the size of compressed data says
    /// something about its content, which encryption is there to hide.
    pub allow_encryption: bool,
}

impl CompressionRule {
    /// Whether an object with this key and these headers (lowercase names) is compressed:
    /// the rule is on, the content is not compressed already (by its name, its type or a
    /// Content-Encoding), and its key or type is listed. With neither list set, every
    /// other object is.
    pub fn applies(&self, key: &str, headers: &BTreeMap<String, String>) -> bool {
        if !self.enabled {
            return false;
        }
        let key = key.to_ascii_lowercase();
        let content_type = headers.get("content-type").map(|t| media_type(t)).unwrap_or_default();
        let encoded = headers.get("content-encoding").is_some_and(|e| {
            e.split(',').map(str::trim).any(|e| !e.is_empty() && e != "identity" && e != "aws-chunked")
        });
        if encoded
            || EXCLUDED_EXTENSIONS.iter().any(|ext| key.ends_with(ext))
            || EXCLUDED_TYPES.iter().any(|pattern| type_matches(pattern, &content_type))
        {
            return false;
        }
        if self.extensions.is_empty() && self.mime_types.is_empty() {
            return true;
        }
        self.extensions.iter().any(|ext| key.ends_with(&ext.to_ascii_lowercase()))
            || (!content_type.is_empty() && self.mime_types.iter().any(|p| type_matches(p, &content_type)))
    }
}

/// The media type of a Content-Type value, lowercase, without parameters.
fn media_type(content_type: &str) -> String {
    content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase()
}

/// Whether `content_type` matches `pattern` (`text/*` matches every `text/` type).
fn type_matches(pattern: &str, content_type: &str) -> bool {
    let pattern = pattern.trim().to_ascii_lowercase();
    match pattern.strip_suffix('*') {
        Some(prefix) => content_type.starts_with(prefix),
        None => pattern == content_type,
    }
}

thread_local! {
    /// One zstd context per thread of the CPU pool: a context costs allocations that a
    /// frame of 1 MiB should not pay each time.
    static COMPRESSOR: RefCell<Option<zstd::bulk::Compressor<'static>>> = const { RefCell::new(None) };
    static DECOMPRESSOR: RefCell<Option<zstd::bulk::Decompressor<'static>>> = const { RefCell::new(None) };
}

/// Compresses one block into a frame; a block that does not shrink is stored raw.
pub(crate) fn encode_frame(pieces: &[Bytes]) -> Bytes {
    let len: usize = pieces.iter().map(Bytes::len).sum();
    assert!(len > 0 && len <= FRAME_BLOCK_BYTES, "a frame holds 1..={FRAME_BLOCK_BYTES} bytes, not {len}");
    let block: std::borrow::Cow<'_, [u8]> =
        if pieces.len() == 1 { (&pieces[0][..]).into() } else { pieces.concat().into() };
    // Room for one byte less than the block: zstd fails when the result would not shrink.
    let mut payload = Vec::with_capacity(len - 1);
    let compressed = COMPRESSOR.with(|cell| {
        let mut cell = cell.borrow_mut();
        if cell.is_none() {
            *cell = zstd::bulk::Compressor::new(ZSTD_LEVEL).ok();
        }
        cell.as_mut().is_some_and(|c| c.compress_to_buffer(&block, &mut payload).is_ok())
    });
    let mut frame = BytesMut::with_capacity(FRAME_HEADER_BYTES + if compressed { payload.len() } else { len });
    if compressed {
        frame.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        frame.extend_from_slice(&payload);
    } else {
        frame.extend_from_slice(&(len as u32 | RAW_FRAME).to_le_bytes());
        frame.extend_from_slice(&block);
    }
    frame.freeze()
}

/// Decodes one frame's payload into the `len` bytes of its block.
fn decode_payload(raw: bool, payload: &[u8], len: usize) -> Result<Bytes> {
    let damaged = |why: String| ObjectError::Unrecoverable(format!("compressed frame: {why}"));
    if raw {
        return if payload.len() == len {
            Ok(Bytes::copy_from_slice(payload))
        } else {
            Err(damaged("raw size".into()))
        };
    }
    let mut out = Vec::with_capacity(len);
    DECOMPRESSOR.with(|cell| {
        let mut cell = cell.borrow_mut();
        if cell.is_none() {
            *cell = Some(zstd::bulk::Decompressor::new().map_err(|e| damaged(e.to_string()))?);
        }
        let decompressor = cell.as_mut().expect("set above");
        decompressor.decompress_to_buffer(payload, &mut out).map_err(|e| damaged(e.to_string()))
    })?;
    if out.len() != len {
        return Err(damaged(format!("{} bytes where the block has {len}", out.len())));
    }
    Ok(Bytes::from(out))
}

/// The index of a part from its frames' stored lengths.
pub(crate) fn part_index(frame_lengths: &[u32]) -> PartCompression {
    let stride = frame_lengths.len().div_ceil(INDEX_SPANS_MAX).max(1);
    let spans = frame_lengths.chunks(stride).map(|span| span.iter().sum::<u32>()).collect();
    PartCompression {
        codec: Codec::Zstd,
        block_bytes: FRAME_BLOCK_BYTES as u32,
        stored_size: frame_lengths.iter().map(|l| u64::from(*l)).sum(),
        stride: stride as u32,
        spans,
    }
}

/// What a compressing body found once it ended: the uncompressed body's digests and size,
/// and the part's index.
pub(crate) struct Compressed {
    pub(crate) size: u64,
    pub(crate) md5: [u8; 16],
    pub(crate) checksums: BTreeMap<String, String>,
    pub(crate) index: PartCompression,
}

/// The outcome of a compressing body, filled when its stream ends (or fails).
pub(crate) type CompressedSlot = Arc<Mutex<Option<Result<Compressed>>>>;

struct CompressState {
    reader: BlockReader,
    md5: Md5,
    check: Option<Box<dyn BodyCheck>>,
    frame_lengths: Vec<u32>,
    slot: CompressedSlot,
}

/// Wraps `body` into the stream of its frames: each block is hashed (MD5 for the ETag and
/// the client's `check`, over the uncompressed bytes) and compressed on the CPU pool.
/// When the stream ends, `slot` holds the digests and the index; when it fails, the
/// typed error (the stream itself can only carry a message).
pub(crate) fn compressing(body: Body, check: Box<dyn BodyCheck>) -> (Body, CompressedSlot) {
    let slot: CompressedSlot = Arc::default();
    let state = CompressState {
        reader: BlockReader::new(body),
        md5: Md5::new(),
        check: Some(check),
        frame_lengths: Vec::new(),
        slot: Arc::clone(&slot),
    };
    let frames = futures::stream::unfold(Some(state), |state| async move {
        let mut state = state?;
        match next_frame(&mut state).await {
            Ok(Some(frame)) => Some((Ok(frame), Some(state))),
            Ok(None) => {
                let outcome = finish(&mut state);
                let failed = outcome.as_ref().err().map(ToString::to_string);
                *state.slot.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(outcome);
                failed.map(|message| (Err(message), None))
            }
            Err(error) => {
                let message = error.to_string();
                *state.slot.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Err(error));
                Some((Err(message), None))
            }
        }
    });
    (Box::pin(frames), slot)
}

/// Reads, hashes and compresses the next block.
async fn next_frame(state: &mut CompressState) -> Result<Option<Bytes>> {
    let Some(block) = state.reader.next_block(FRAME_BLOCK_BYTES).await? else { return Ok(None) };
    if state.reader.total_bytes > OBJECT_SIZE_BYTES_MAX {
        return Err(ObjectError::EntityTooLarge);
    }
    let mut md5 = std::mem::replace(&mut state.md5, Md5::new());
    let mut check = state.check.take().expect("the check is handed back after every block");
    let (md5, check, frame) = crate::cpu::run_sized(block.len, move || {
        for piece in &block.pieces {
            md5.update(piece);
            check.update(piece);
        }
        let frame = encode_frame(&block.pieces);
        (md5, check, frame)
    })
    .await?;
    state.md5 = md5;
    state.check = Some(check);
    state.frame_lengths.push(u32::try_from(frame.len()).expect("a frame is at most a block and a header"));
    Ok(Some(frame))
}

fn finish(state: &mut CompressState) -> Result<Compressed> {
    let md5: [u8; 16] = std::mem::replace(&mut state.md5, Md5::new()).finalize().into();
    let check = state.check.take().expect("the check is handed back after every block");
    let checksums = check.finish(&md5)?;
    Ok(Compressed { size: state.reader.total_bytes, md5, checksums, index: part_index(&state.frame_lengths) })
}

/// Where a ranged read of a compressed part starts and ends on the drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FramePlan {
    /// Stored offset (within the part) of the first frame to read.
    pub(crate) stored_from: u64,
    /// Stored offset just past the last frame that may be needed (the end of its span).
    pub(crate) stored_to: u64,
    /// Index of the frame at `stored_from`.
    pub(crate) first_frame: u64,
}

/// Plans the read of uncompressed bytes `from..to` of a part of `size` bytes.
pub(crate) fn plan(index: &PartCompression, from: u64, to: u64) -> FramePlan {
    assert!(from < to, "an empty range reads nothing");
    let block = u64::from(index.block_bytes);
    let stride = u64::from(index.stride.max(1));
    let first_span = (from / block / stride) as usize;
    let last_span = ((to - 1) / block / stride) as usize;
    let span_start =
        |span: usize| index.spans[..span.min(index.spans.len())].iter().map(|l| u64::from(*l)).sum::<u64>();
    FramePlan {
        stored_from: span_start(first_span),
        stored_to: span_start(last_span + 1).min(index.stored_size),
        first_frame: first_span as u64 * stride,
    }
}

/// Turns a part's stored bytes, from a frame boundary on, back into the uncompressed
/// bytes `from..to` of the part (`size` bytes in all).
pub(crate) struct FrameDecoder {
    pending: BytesMut,
    /// Index of the next frame to complete.
    frame: u64,
    block_bytes: u64,
    size: u64,
    from: u64,
    to: u64,
}

impl FrameDecoder {
    pub(crate) fn new(index: &PartCompression, plan: FramePlan, size: u64, from: u64, to: u64) -> Self {
        assert!(from < to && to <= size, "range {from}..{to} outside a part of {size} bytes");
        Self {
            pending: BytesMut::new(),
            frame: plan.first_frame,
            block_bytes: u64::from(index.block_bytes),
            size,
            from,
            to,
        }
    }

    /// Whether every wanted byte has been produced.
    pub(crate) fn done(&self) -> bool {
        self.frame * self.block_bytes >= self.to
    }

    /// Feeds stored bytes; returns the wanted slices of the blocks they complete, in order.
    /// Frames before the range are skipped by their headers, never decompressed.
    pub(crate) async fn push(&mut self, stored: &[u8]) -> Result<Vec<Bytes>> {
        self.pending.extend_from_slice(stored);
        let mut out = Vec::new();
        while !self.done() && self.pending.len() >= FRAME_HEADER_BYTES {
            let header = u32::from_le_bytes(self.pending[..FRAME_HEADER_BYTES].try_into().expect("4 bytes"));
            let payload_len = (header & !RAW_FRAME) as usize;
            if payload_len > FRAME_BLOCK_BYTES + FRAME_HEADER_BYTES {
                return Err(ObjectError::Unrecoverable(format!("compressed frame of {payload_len} bytes")));
            }
            if self.pending.len() < FRAME_HEADER_BYTES + payload_len {
                break;
            }
            self.pending.advance(FRAME_HEADER_BYTES);
            let payload = self.pending.split_to(payload_len).freeze();
            let block_start = self.frame * self.block_bytes;
            let block_len = (self.size - block_start).min(self.block_bytes);
            self.frame += 1;
            if block_start + block_len <= self.from {
                continue;
            }
            let raw = header & RAW_FRAME != 0;
            let len = block_len as usize;
            let block = crate::cpu::run_sized(len, move || decode_payload(raw, &payload, len)).await??;
            let slice_from = self.from.saturating_sub(block_start) as usize;
            let slice_to = (self.to - block_start).min(block_len) as usize;
            out.push(block.slice(slice_from..slice_to));
        }
        Ok(out)
    }

    /// Checks that the stored bytes ended where the wanted bytes did.
    pub(crate) fn finish(&self) -> Result<()> {
        if self.done() {
            Ok(())
        } else {
            Err(ObjectError::Unrecoverable(format!("compressed part ended before byte {}", self.to)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::NoCheck;
    use futures::StreamExt;

    fn text(len: usize) -> Vec<u8> {
        (0..len).map(|i| b"id,name,email\n42,Ada,ada@example.com\n"[i % 37] ^ ((i / 4093) as u8 & 1)).collect()
    }

    fn noise(len: usize) -> Vec<u8> {
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect()
    }

    async fn compress_all(data: &[u8], chunk: usize) -> (Vec<u8>, Compressed) {
        let chunks: Vec<std::result::Result<Bytes, String>> =
            data.chunks(chunk).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
        let (mut frames, slot) = compressing(Box::pin(futures::stream::iter(chunks)), Box::new(NoCheck));
        let mut stored = Vec::new();
        while let Some(frame) = frames.next().await {
            stored.extend_from_slice(&frame.expect("frame"));
        }
        let outcome = slot.lock().expect("lock").take().expect("filled").expect("ok");
        (stored, outcome)
    }

    async fn read_range(stored: &[u8], index: &PartCompression, size: u64, from: u64, to: u64) -> Vec<u8> {
        let plan = plan(index, from, to);
        let mut decoder = FrameDecoder::new(index, plan, size, from, to);
        let mut out = Vec::new();
        // Fed in uneven pieces, as erasure blocks arrive.
        for piece in stored[plan.stored_from as usize..plan.stored_to as usize].chunks(333_333) {
            for bytes in decoder.push(piece).await.expect("decodes") {
                out.extend_from_slice(&bytes);
            }
            if decoder.done() {
                break;
            }
        }
        decoder.finish().expect("complete");
        out
    }

    #[tokio::test]
    async fn text_shrinks_and_every_range_reads_back() {
        let data = text(3 * FRAME_BLOCK_BYTES + 12_345);
        let (stored, outcome) = compress_all(&data, 65_536).await;
        assert_eq!(outcome.size, data.len() as u64);
        assert_eq!(outcome.md5, <[u8; 16]>::from(Md5::digest(&data)));
        assert_eq!(outcome.index.stored_size, stored.len() as u64);
        assert!(stored.len() * 4 < data.len(), "text shrinks: {} of {}", stored.len(), data.len());
        assert_eq!(outcome.index.spans.len(), 4);
        let size = data.len() as u64;
        let block = FRAME_BLOCK_BYTES as u64;
        for (from, to) in
            [(0, size), (0, 1), (size - 1, size), (block - 1, block + 1), (block, 2 * block), (12, 3 * block + 7)]
        {
            assert!(
                read_range(&stored, &outcome.index, size, from, to).await == data[from as usize..to as usize],
                "{from}..{to}"
            );
        }
    }

    #[tokio::test]
    async fn blocks_that_do_not_shrink_are_stored_raw() {
        let data = noise(FRAME_BLOCK_BYTES + 10);
        let (stored, outcome) = compress_all(&data, 1 << 20).await;
        assert_eq!(stored.len(), data.len() + 2 * FRAME_HEADER_BYTES, "raw frames: the data and two headers");
        let size = data.len() as u64;
        assert!(read_range(&stored, &outcome.index, size, 5, size).await == data[5..]);
    }

    #[test]
    fn large_parts_index_every_stride_th_frame_and_reads_skip_to_their_span() {
        let lengths = vec![100u32; INDEX_SPANS_MAX * 3 + 1];
        let index = part_index(&lengths);
        assert_eq!((index.stride, index.spans.len()), (4, lengths.len().div_ceil(4)));
        assert!(index.spans.len() <= INDEX_SPANS_MAX);
        assert_eq!(index.stored_size, 100 * lengths.len() as u64);
        let block = FRAME_BLOCK_BYTES as u64;
        // Frame 9 is in span 2 (frames 8-11): the read starts at frame 8.
        let plan = plan(&index, 9 * block + 5, 9 * block + 6);
        assert_eq!(plan, FramePlan { stored_from: 800, stored_to: 1200, first_frame: 8 });
    }

    #[test]
    fn the_rule_follows_minio_and_never_recompresses() {
        let rule = CompressionRule {
            enabled: true,
            extensions: COMPRESSION_EXTENSIONS_DEFAULT.split(',').map(str::to_owned).collect(),
            mime_types: COMPRESSION_MIME_TYPES_DEFAULT.split(',').map(str::to_owned).collect(),
            allow_encryption: false,
        };
        let headers = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
        };
        assert!(rule.applies("logs/app.LOG", &headers(&[])));
        assert!(rule.applies("export", &headers(&[("content-type", "text/csv; charset=utf-8")])));
        assert!(rule.applies("export", &headers(&[("content-type", "application/json")])));
        assert!(!rule.applies("photo.png", &headers(&[("content-type", "text/plain")])), "compressed by name");
        assert!(!rule.applies("quote.pdf", &headers(&[])));
        assert!(!rule.applies("a.txt", &headers(&[("content-type", "application/pdf")])), "compressed by type");
        assert!(!rule.applies("a.txt", &headers(&[("content-encoding", "gzip")])), "compressed by the client");
        assert!(rule.applies("a.txt", &headers(&[("content-encoding", "aws-chunked")])));
        assert!(!rule.applies("video", &headers(&[("content-type", "application/octet-stream")])));
        let all = CompressionRule { enabled: true, ..CompressionRule::default() };
        assert!(all.applies("anything", &headers(&[])));
        assert!(!all.applies("a.zip", &headers(&[])));
        assert!(!CompressionRule::default().applies("a.txt", &headers(&[])), "off by default");
    }
}
