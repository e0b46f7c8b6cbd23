//! Block encoding: split, compute parity, frame. This is the PUT hot path, so
//! all frames of a block share one allocation that is written exactly once
//! (block bytes and parity copied in, hashes filled in afterwards) and handed
//! out as cheap `Bytes` slices of it.

use bytes::Bytes;

use crate::bitrot::{BITROT_HASH_BYTES, seal_frames};
use crate::codec;
use crate::error::ErasureError;
use crate::layout::Erasure;

/// Placeholder for a frame's hash, overwritten by `seal_frames` once the
/// shard bytes behind it are final.
const HASH_PLACEHOLDER: [u8; BITROT_HASH_BYTES] = [0; BITROT_HASH_BYTES];

impl Erasure {
    /// Splits `block` into data shards (the last ones zero-padded), computes
    /// the parity shards and returns `total_shards()` frames (`hash || shard`,
    /// each [`Erasure::frame_len`]`(block.len())` bytes). Index `i` is shard
    /// `i`: `0..data_shards` are data shards, then the parity shards.
    ///
    /// The frames share one buffer; it is freed when the last frame is dropped.
    ///
    /// # Panics
    /// If `block` is empty or longer than `block_size()` (a caller bug: empty
    /// parts have no blocks at all).
    pub fn encode_block(&self, block: &[u8]) -> Result<Vec<Bytes>, ErasureError> {
        self.encode_pieces(&[block])
    }

    /// [`Erasure::encode_block`] of the block that is the concatenation of
    /// `pieces` (a body as it arrived from the network, in chunks): each byte
    /// is copied once, straight into its frame, instead of first being
    /// gathered into a contiguous block.
    ///
    /// # Panics
    /// If the pieces add up to zero bytes or to more than `block_size()`.
    pub fn encode_pieces<P: AsRef<[u8]>>(&self, pieces: &[P]) -> Result<Vec<Bytes>, ErasureError> {
        let block_len: usize = pieces.iter().map(|piece| piece.as_ref().len()).sum();
        assert!(
            block_len > 0 && block_len <= self.block_size(),
            "block must be 1..={} bytes, got {}",
            self.block_size(),
            block_len
        );
        let data = self.data_shards();
        let parity = self.parity_shards();
        let shard_len = self.shard_len(block_len);
        let frame_len = BITROT_HASH_BYTES + shard_len;

        let mut buf = Vec::with_capacity(self.total_shards() * frame_len);
        // Data frames: shard i is bytes i * shard_len.. of the block, zero-padded
        // to shard_len (trailing shards of a short block may be all padding).
        let mut pieces = pieces.iter().map(AsRef::as_ref);
        let mut current: &[u8] = &[];
        for _ in 0..data {
            buf.extend_from_slice(&HASH_PLACEHOLDER);
            let mut wanted = shard_len;
            while wanted > 0 {
                if current.is_empty() {
                    match pieces.next() {
                        Some(piece) => current = piece,
                        None => break,
                    }
                    continue;
                }
                let (taken, rest) = current.split_at(wanted.min(current.len()));
                buf.extend_from_slice(taken);
                current = rest;
                wanted -= taken.len();
            }
            buf.resize(buf.len() + wanted, 0);
        }

        if parity > 0 {
            codec::with_encoder(data, parity, shard_len, |encoder| {
                for index in 0..data {
                    let shard_start = index * frame_len + BITROT_HASH_BYTES;
                    encoder
                        .add_original_shard(&buf[shard_start..shard_start + shard_len])
                        .map_err(ErasureError::codec)?;
                }
                let result = encoder.encode().map_err(ErasureError::codec)?;
                for recovery in result.recovery_iter() {
                    buf.extend_from_slice(&HASH_PLACEHOLDER);
                    buf.extend_from_slice(recovery);
                }
                Ok(())
            })?;
        }
        assert_eq!(buf.len(), self.total_shards() * frame_len, "every shard produced exactly one frame");

        seal_frames(&mut buf, frame_len);
        let buf = Bytes::from(buf);
        Ok((0..self.total_shards()).map(|index| buf.slice(index * frame_len..(index + 1) * frame_len)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bitrot::verify_frame;

    #[test]
    fn frames_have_expected_shape() {
        let e = Erasure::new(3, 2, 64).expect("valid layout");
        let block: Vec<u8> = (1..=10).collect();
        let frames = e.encode_block(&block).expect("encode");
        assert_eq!(frames.len(), 5);
        let shard_len = e.shard_len(block.len());
        assert_eq!(shard_len, 4);
        for frame in &frames {
            assert_eq!(frame.len(), e.frame_len(block.len()));
            verify_frame(frame, shard_len).expect("fresh frame verifies");
        }
        assert_eq!(&frames[0][BITROT_HASH_BYTES..], &[1, 2, 3, 4]);
        assert_eq!(&frames[1][BITROT_HASH_BYTES..], &[5, 6, 7, 8]);
        assert_eq!(&frames[2][BITROT_HASH_BYTES..], &[9, 10, 0, 0]);
    }

    #[test]
    fn single_shard_without_parity_is_the_padded_block() {
        let e = Erasure::new(1, 0, 8).expect("valid layout");
        let frames = e.encode_block(b"abc").expect("encode");
        assert_eq!(frames.len(), 1);
        assert_eq!(&frames[0][BITROT_HASH_BYTES..], b"abc\0");
    }

    #[test]
    fn short_block_leaves_trailing_shards_all_padding() {
        let e = Erasure::new(4, 1, 64).expect("valid layout");
        let frames = e.encode_block(&[7]).expect("encode");
        assert_eq!(&frames[0][BITROT_HASH_BYTES..], &[7, 0]);
        for frame in &frames[1..4] {
            assert_eq!(&frame[BITROT_HASH_BYTES..], &[0, 0]);
        }
    }

    #[test]
    fn pieces_encode_like_the_whole_block() {
        let e = Erasure::new(3, 2, 64).expect("valid layout");
        let block: Vec<u8> = (0..50).collect();
        let whole = e.encode_block(&block).expect("encode");
        for cuts in [vec![0, 50], vec![1, 17, 17, 18, 34, 49], vec![0, 0, 25]] {
            let mut pieces = Vec::new();
            let mut start = 0;
            for cut in cuts.into_iter().chain([block.len()]) {
                pieces.push(&block[start..cut]);
                start = cut;
            }
            assert_eq!(e.encode_pieces(&pieces).expect("encode"), whole);
        }
    }

    #[test]
    #[should_panic(expected = "block must be")]
    fn empty_block_is_a_caller_bug() {
        let e = Erasure::new(2, 1, 8).expect("valid layout");
        let _ = e.encode_block(&[]);
    }

    #[test]
    #[should_panic(expected = "block must be")]
    fn oversized_block_is_a_caller_bug() {
        let e = Erasure::new(2, 1, 8).expect("valid layout");
        let _ = e.encode_block(&[0; 9]);
    }
}
