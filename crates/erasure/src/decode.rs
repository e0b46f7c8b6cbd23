//! Block decoding and healing: verify every frame's bitrot hash, then rebuild
//! the block (GET) or every frame (heal) from any `data_shards` valid shards.
//!
//! Corrupt frames are treated exactly like missing ones; the caller learns
//! which were which from [`DecodedBlock`] so it can schedule a heal.

use bytes::Bytes;

use crate::bitrot::{BITROT_HASH_BYTES, frame_shard, verify_frame};
use crate::codec;
use crate::error::ErasureError;
use crate::layout::{Erasure, MAX_TOTAL_SHARDS};

/// A decoded block plus what was wrong with its frames.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedBlock {
    /// The block's bytes; exactly the `block_len` requested.
    pub data: Bytes,
    /// Indices whose frame failed its hash or length check, ascending.
    pub corrupt: Vec<usize>,
    /// Indices that were `None` (not read or unavailable), ascending.
    pub missing: Vec<usize>,
    /// True when Reed-Solomon reconstruction ran, i.e. some data shard was
    /// missing or corrupt; false on the fast path.
    pub reconstructed: bool,
}

/// The bitrot-checked state of one block's frames.
struct Survey<'a> {
    /// Shard bytes (after the hash) of each frame that passed its check, by
    /// shard index; `None` if missing or corrupt. Entries at
    /// `total_shards..` are always `None`.
    shards: [Option<&'a [u8]>; MAX_TOTAL_SHARDS],
    /// Number of `Some` entries in `shards`.
    valid: usize,
    /// Indices whose frame failed its check, ascending.
    corrupt: Vec<usize>,
    /// Indices whose frame was `None`, ascending.
    missing: Vec<usize>,
}

impl Erasure {
    /// Verifies shard `index`'s frame for a block of `block_len` bytes and
    /// returns the shard bytes after the hash; any length or hash failure is
    /// reported as [`ErasureError::Corrupt`] with the shard's index (for
    /// callers such as a deep scan that check one drive at a time).
    ///
    /// # Panics
    /// If `index >= total_shards()` or `block_len > block_size()`.
    pub fn verify_shard<'a>(&self, index: usize, frame: &'a [u8], block_len: usize) -> Result<&'a [u8], ErasureError> {
        assert!(index < self.total_shards(), "shard index {index} out of range for {} shards", self.total_shards());
        verify_frame(frame, self.shard_len(block_len)).map_err(|_| ErasureError::Corrupt { index })
    }

    /// Decodes one block of `block_len` bytes from its frames.
    ///
    /// `framed[i]` is shard `i`'s frame as read from disk, or `None` if it was
    /// not read or is unavailable. Every present frame is verified; a frame of
    /// the wrong length or with a bad hash is reported in `corrupt` and treated
    /// as missing. When all data shards are valid their bytes are concatenated
    /// without running Reed-Solomon (zero-copy when the block fits in shard 0);
    /// otherwise the block is rebuilt from any `data_shards()` valid shards.
    ///
    /// Returns [`ErasureError::TooFewShards`] when fewer than `data_shards()`
    /// frames are valid.
    ///
    /// # Panics
    /// If `framed.len() != total_shards()` or `block_len` is not in
    /// `1..=block_size()`.
    pub fn decode_block(&self, framed: &[Option<Bytes>], block_len: usize) -> Result<DecodedBlock, ErasureError> {
        let survey = self.survey(framed, block_len);
        let shard_len = self.shard_len(block_len);
        let data = self.data_shards();
        let reconstructed = survey.shards[..data].iter().any(Option::is_none);

        let bytes = match (&framed[0], survey.shards[0]) {
            // Fast path with every data shard valid and the whole block inside
            // shard 0 (always the case with one data shard): hand out a slice
            // of the frame, no copy. Requiring all data shards (not just shard
            // 0) keeps readability and `reconstructed` independent of how
            // short the block happens to be.
            (Some(frame), Some(_)) if block_len <= shard_len && !reconstructed => {
                frame.slice(BITROT_HASH_BYTES..BITROT_HASH_BYTES + block_len)
            }
            _ => self.with_data_shards(&survey, shard_len, |shards| Ok(concat(shards, block_len)))?,
        };
        Ok(DecodedBlock { data: bytes, corrupt: survey.corrupt, missing: survey.missing, reconstructed })
    }

    /// For healing: rebuilds every shard's frame (data and parity) of a block of
    /// `block_len` bytes from any `data_shards()` valid frames.
    ///
    /// Returns `total_shards()` frames, byte-identical to what
    /// [`Erasure::encode_block`] produced for the block. Frames that were
    /// already valid are returned as (cheap) clones of the input.
    ///
    /// Returns [`ErasureError::TooFewShards`] when fewer than `data_shards()`
    /// frames are valid.
    ///
    /// # Panics
    /// If `framed.len() != total_shards()` or `block_len` is not in
    /// `1..=block_size()`.
    pub fn reconstruct_all(&self, framed: &[Option<Bytes>], block_len: usize) -> Result<Vec<Bytes>, ErasureError> {
        let survey = self.survey(framed, block_len);
        let shard_len = self.shard_len(block_len);
        let data = self.data_shards();
        let total = self.total_shards();

        self.with_data_shards(&survey, shard_len, |data_shards| {
            let mut frames = Vec::with_capacity(total);
            for (index, shard) in data_shards.iter().enumerate() {
                frames.push(reuse_or_frame(&framed[index], survey.shards[index], shard));
            }
            if survey.shards[data..total].iter().all(Option::is_some) {
                // All parity frames are intact (or there is no parity): no
                // need to re-encode. Every entry is `Some`, so `flatten`
                // yields exactly the parity frames in order.
                frames.extend(framed[data..].iter().flatten().cloned());
            } else {
                codec::compute_parity(data_shards, self.parity_shards(), shard_len, |parity_index, shard| {
                    let index = data + parity_index;
                    frames.push(reuse_or_frame(&framed[index], survey.shards[index], shard));
                })?;
            }
            assert_eq!(frames.len(), total, "one frame per shard");
            Ok(frames)
        })
    }

    /// Checks the arguments of a decode and verifies every present frame.
    fn survey<'a>(&self, framed: &'a [Option<Bytes>], block_len: usize) -> Survey<'a> {
        assert_eq!(framed.len(), self.total_shards(), "framed must hold one slot per shard");
        assert!(
            block_len >= 1 && block_len <= self.block_size(),
            "block_len must be 1..={}, got {block_len}",
            self.block_size()
        );
        let shard_len = self.shard_len(block_len);
        let mut survey =
            Survey { shards: [None; MAX_TOTAL_SHARDS], valid: 0, corrupt: Vec::new(), missing: Vec::new() };
        for (index, frame) in framed.iter().enumerate() {
            match frame {
                None => survey.missing.push(index),
                Some(frame) => match verify_frame(frame, shard_len) {
                    Ok(shard) => {
                        survey.shards[index] = Some(shard);
                        survey.valid += 1;
                    }
                    Err(_) => survey.corrupt.push(index),
                },
            }
        }
        survey
    }

    /// Runs `f` with all `data_shards()` data shards of the block, each
    /// `shard_len` bytes: the valid ones straight from the frames, the others
    /// restored by Reed-Solomon from any `data_shards()` valid shards.
    fn with_data_shards<R>(
        &self,
        survey: &Survey<'_>,
        shard_len: usize,
        f: impl FnOnce(&[&[u8]]) -> Result<R, ErasureError>,
    ) -> Result<R, ErasureError> {
        let data = self.data_shards();
        if survey.valid < data {
            return Err(ErasureError::TooFewShards { needed: data, available: survey.valid });
        }
        if survey.shards[..data].iter().all(Option::is_some) {
            let mut shards: [&[u8]; MAX_TOTAL_SHARDS] = [&[]; MAX_TOTAL_SHARDS];
            for (slot, shard) in shards.iter_mut().zip(survey.shards[..data].iter().flatten()) {
                *slot = shard;
            }
            return f(&shards[..data]);
        }

        // Some data shard is gone, so (since valid >= data) some parity shard
        // is valid and the layout has parity: Reed-Solomon can run.
        codec::with_decoder(data, self.parity_shards(), shard_len, |decoder| {
            // Exactly `data` shards suffice; prefer data shards, whose bytes
            // we use directly anyway.
            for (index, shard) in survey
                .shards
                .iter()
                .enumerate()
                .filter_map(|(index, shard)| shard.map(|shard| (index, shard)))
                .take(data)
            {
                if index < data {
                    decoder.add_original_shard(index, shard)
                } else {
                    decoder.add_recovery_shard(index - data, shard)
                }
                .map_err(ErasureError::codec)?;
            }
            let result = decoder.decode().map_err(ErasureError::codec)?;

            let mut restored: [Option<&[u8]>; MAX_TOTAL_SHARDS] = [None; MAX_TOTAL_SHARDS];
            restored[..data].copy_from_slice(&survey.shards[..data]);
            for (index, shard) in result.restored_original_iter() {
                restored[index] = Some(shard);
            }
            let mut shards: [&[u8]; MAX_TOTAL_SHARDS] = [&[]; MAX_TOTAL_SHARDS];
            for (index, (slot, shard)) in shards.iter_mut().zip(&restored[..data]).enumerate() {
                *slot =
                    shard.ok_or_else(|| ErasureError::Codec(format!("decoder did not restore data shard {index}")))?;
            }
            f(&shards[..data])
        })
    }
}

/// Returns the input frame if it was valid, else a fresh frame of `shard`.
fn reuse_or_frame(frame: &Option<Bytes>, valid: Option<&[u8]>, shard: &[u8]) -> Bytes {
    match (frame, valid) {
        (Some(frame), Some(_)) => frame.clone(),
        _ => frame_shard(shard),
    }
}

/// The first `block_len` bytes of the data shards laid end to end (dropping
/// the zero padding of the last shard).
fn concat(shards: &[&[u8]], block_len: usize) -> Bytes {
    let mut out = Vec::with_capacity(block_len);
    for shard in shards {
        let take = shard.len().min(block_len - out.len());
        out.extend_from_slice(&shard[..take]);
    }
    assert_eq!(out.len(), block_len, "data shards cover the block");
    out.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn some(frames: &[Bytes]) -> Vec<Option<Bytes>> {
        frames.iter().cloned().map(Some).collect()
    }

    #[test]
    fn fast_path_does_not_reconstruct() {
        let e = Erasure::new(2, 1, 16).expect("valid layout");
        let frames = e.encode_block(b"hello, world").expect("encode");
        let decoded = e.decode_block(&some(&frames), 12).expect("decode");
        assert_eq!(&decoded.data[..], b"hello, world");
        assert!(!decoded.reconstructed);
        assert!(decoded.corrupt.is_empty() && decoded.missing.is_empty());
    }

    #[test]
    fn corrupt_parity_is_reported_on_fast_path() {
        let e = Erasure::new(2, 2, 16).expect("valid layout");
        let frames = e.encode_block(b"hello, world").expect("encode");
        let mut framed = some(&frames);
        framed[3] = Some(Bytes::from_static(b"short"));
        framed[2] = None;
        let decoded = e.decode_block(&framed, 12).expect("decode");
        assert_eq!(&decoded.data[..], b"hello, world");
        assert_eq!(decoded.corrupt, vec![3]);
        assert_eq!(decoded.missing, vec![2]);
        assert!(!decoded.reconstructed);
    }

    #[test]
    fn missing_data_shard_is_rebuilt() {
        let e = Erasure::new(3, 2, 32).expect("valid layout");
        let block: Vec<u8> = (0..29).collect();
        let frames = e.encode_block(&block).expect("encode");
        let mut framed = some(&frames);
        framed[0] = None;
        framed[2] = None;
        let decoded = e.decode_block(&framed, block.len()).expect("decode");
        assert_eq!(&decoded.data[..], &block[..]);
        assert_eq!(decoded.missing, vec![0, 2]);
        assert!(decoded.reconstructed);
    }

    #[test]
    fn too_few_shards() {
        let e = Erasure::new(2, 1, 8).expect("valid layout");
        let frames = e.encode_block(b"x").expect("encode");
        // Shard 0 alone holds the whole 1-byte block, but quorum still applies.
        let framed = vec![Some(frames[0].clone()), None, None];
        assert_eq!(e.decode_block(&framed, 1), Err(ErasureError::TooFewShards { needed: 2, available: 1 }));
        assert_eq!(e.reconstruct_all(&framed, 1), Err(ErasureError::TooFewShards { needed: 2, available: 1 }));
    }

    #[test]
    fn no_parity_layout_decodes_and_detects_loss() {
        let e = Erasure::new(3, 0, 10).expect("valid layout");
        let frames = e.encode_block(b"0123456789").expect("encode");
        let decoded = e.decode_block(&some(&frames), 10).expect("decode");
        assert_eq!(&decoded.data[..], b"0123456789");
        let mut framed = some(&frames);
        framed[1] = None;
        assert_eq!(e.decode_block(&framed, 10), Err(ErasureError::TooFewShards { needed: 3, available: 2 }));
        assert_eq!(e.reconstruct_all(&some(&frames), 10), Ok(frames));
    }

    #[test]
    fn verify_shard_reports_index() {
        let e = Erasure::new(2, 1, 8).expect("valid layout");
        let frames = e.encode_block(b"abcdef").expect("encode");
        assert_eq!(e.verify_shard(1, &frames[1], 6), Ok(&b"ef\0\0"[..]));
        let mut rotten = frames[2].to_vec();
        rotten[BITROT_HASH_BYTES] ^= 0x40;
        assert_eq!(e.verify_shard(2, &rotten, 6), Err(ErasureError::Corrupt { index: 2 }));
        // A 2-byte block has 2-byte shards, so a 4-byte shard's frame is too long.
        assert_eq!(e.verify_shard(0, &frames[0], 2), Err(ErasureError::Corrupt { index: 0 }));
    }

    #[test]
    fn single_data_shard_decode_is_zero_copy() {
        let e = Erasure::new(1, 1, 8).expect("valid layout");
        let frames = e.encode_block(b"abc").expect("encode");
        let decoded = e.decode_block(&some(&frames), 3).expect("decode");
        assert_eq!(&decoded.data[..], b"abc");
        assert_eq!(decoded.data.as_ptr(), frames[0][BITROT_HASH_BYTES..].as_ptr());
    }

    #[test]
    fn one_mib_block_round_trip() {
        let e = Erasure::new(2, 2, 1 << 20).expect("valid layout");
        let block: Vec<u8> = (0..1u32 << 20).map(|i| i.wrapping_mul(2_654_435_761).to_le_bytes()[3]).collect();
        let frames = e.encode_block(&block).expect("encode");
        let mut framed = some(&frames);
        framed[0] = None;
        framed[1] = None;
        let decoded = e.decode_block(&framed, block.len()).expect("decode");
        assert_eq!(&decoded.data[..], &block[..]);
        assert_eq!(e.reconstruct_all(&framed, block.len()), Ok(frames));
    }

    #[test]
    #[should_panic(expected = "one slot per shard")]
    fn wrong_slot_count_is_a_caller_bug() {
        let e = Erasure::new(2, 1, 8).expect("valid layout");
        let _ = e.decode_block(&[None, None], 4);
    }
}
