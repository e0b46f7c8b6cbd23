//! The erasure layout of a set (data shards, parity shards, block size) and the
//! size arithmetic every other layer relies on to place frames in shard files.

use crate::bitrot::BITROT_HASH_BYTES;
use crate::error::ErasureError;

/// Most shards (data + parity, i.e. drives) one erasure set may have. Small
/// enough that per-block bookkeeping lives in fixed arrays on the stack.
pub const MAX_TOTAL_SHARDS: usize = 16;

/// An erasure layout: how a block is split into data shards, how many parity
/// shards protect it, and how large a (full) block is.
///
/// Invariants (enforced by [`Erasure::new`]): `data_shards >= 1`,
/// `data_shards + parity_shards <= MAX_TOTAL_SHARDS`, `block_size_bytes >= 1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Erasure {
    /// Shards holding the block's bytes; any `data_shards` valid shards rebuild
    /// a block. Always `>= 1`.
    data_shards: usize,
    /// Reed-Solomon parity shards; up to this many shards may be lost. May be 0
    /// (plain striping, no redundancy).
    parity_shards: usize,
    /// Bytes in every block of a part but the last (which may be shorter).
    /// Always `>= 1`.
    block_size_bytes: usize,
}

impl Erasure {
    /// Creates a layout of `data_shards` + `parity_shards` shards over blocks of
    /// `block_size_bytes` bytes.
    ///
    /// Requires `data_shards >= 1`, `data_shards + parity_shards <=
    /// MAX_TOTAL_SHARDS` and `block_size_bytes >= 1`; otherwise returns
    /// [`ErasureError::InvalidLayout`].
    pub fn new(data_shards: usize, parity_shards: usize, block_size_bytes: usize) -> Result<Self, ErasureError> {
        let total = data_shards.saturating_add(parity_shards);
        if data_shards == 0 || total > MAX_TOTAL_SHARDS || block_size_bytes == 0 {
            return Err(ErasureError::InvalidLayout {
                data: data_shards,
                parity: parity_shards,
                block_size: block_size_bytes,
            });
        }
        Ok(Self { data_shards, parity_shards, block_size_bytes })
    }

    /// Number of data shards (`>= 1`).
    pub fn data_shards(&self) -> usize {
        self.data_shards
    }

    /// Number of parity shards (`>= 0`).
    pub fn parity_shards(&self) -> usize {
        self.parity_shards
    }

    /// Data plus parity shards: the number of frames per block (`<= MAX_TOTAL_SHARDS`).
    pub fn total_shards(&self) -> usize {
        self.data_shards + self.parity_shards
    }

    /// Bytes in a full block (`>= 1`).
    pub fn block_size(&self) -> usize {
        self.block_size_bytes
    }

    /// Bytes of one (unframed) shard for a block of `block_len` bytes:
    /// `ceil(block_len / data_shards)` rounded up to an even number, because
    /// reed-solomon-simd works on 16-bit symbols. 0 for `block_len == 0`.
    ///
    /// # Panics
    /// If `block_len > block_size()` (a caller bug).
    pub fn shard_len(&self, block_len: usize) -> usize {
        assert!(
            block_len <= self.block_size_bytes,
            "block_len {block_len} exceeds block size {}",
            self.block_size_bytes
        );
        block_len.div_ceil(self.data_shards).next_multiple_of(2)
    }

    /// Bytes of one framed shard for a block of `block_len` bytes:
    /// `BITROT_HASH_BYTES + shard_len(block_len)`.
    ///
    /// # Panics
    /// If `block_len > block_size()`.
    pub fn frame_len(&self, block_len: usize) -> usize {
        BITROT_HASH_BYTES + self.shard_len(block_len)
    }

    /// Byte length of one drive's shard file for a part of `part_size` bytes
    /// cut into `block_size()` blocks (the last one shorter if the size is not
    /// a multiple). 0 for an empty part, which has no blocks at all.
    pub fn shard_file_size(&self, part_size: u64) -> u64 {
        // usize -> u64 is lossless on every target Cairn supports (<= 64-bit).
        let block = self.block_size_bytes as u64;
        let full_blocks = part_size / block;
        let tail = usize::try_from(part_size % block).expect("remainder is below block_size, which is a usize");
        let mut size = full_blocks * self.frame_len(self.block_size_bytes) as u64;
        if tail > 0 {
            size += self.frame_len(tail) as u64;
        }
        size
    }

    /// Offset in bytes of block `block_index`'s frame inside a shard file: all
    /// earlier blocks are full blocks, so this is `block_index` full frames.
    pub fn frame_offset(&self, block_index: u64) -> u64 {
        block_index * self.frame_len(self.block_size_bytes) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_validates_layout() {
        assert!(Erasure::new(1, 0, 1).is_ok());
        assert!(Erasure::new(8, 8, 1 << 20).is_ok());
        assert!(Erasure::new(16, 0, 1).is_ok());
        for (data, parity, block_size) in [(0, 2, 1024), (9, 8, 1024), (2, 2, 0), (1, usize::MAX, 1)] {
            assert_eq!(
                Erasure::new(data, parity, block_size),
                Err(ErasureError::InvalidLayout { data, parity, block_size })
            );
        }
    }

    #[test]
    fn accessors() {
        let e = Erasure::new(4, 2, 1 << 20).expect("valid layout");
        assert_eq!(e.data_shards(), 4);
        assert_eq!(e.parity_shards(), 2);
        assert_eq!(e.total_shards(), 6);
        assert_eq!(e.block_size(), 1 << 20);
    }

    #[test]
    fn shard_len_is_even_ceiling() {
        let e = Erasure::new(3, 1, 100).expect("valid layout");
        assert_eq!(e.shard_len(0), 0);
        assert_eq!(e.shard_len(1), 2);
        assert_eq!(e.shard_len(6), 2);
        assert_eq!(e.shard_len(7), 4);
        assert_eq!(e.shard_len(100), 34);
        let single = Erasure::new(1, 0, 9).expect("valid layout");
        assert_eq!(single.shard_len(9), 10);
        assert_eq!(single.shard_len(8), 8);
        assert_eq!(single.frame_len(9), BITROT_HASH_BYTES + 10);
    }

    #[test]
    #[should_panic(expected = "exceeds block size")]
    fn shard_len_rejects_oversized_block() {
        let e = Erasure::new(2, 1, 10).expect("valid layout");
        let _ = e.shard_len(11);
    }

    #[test]
    fn one_mib_block_sizes() {
        let e = Erasure::new(2, 2, 1 << 20).expect("valid layout");
        assert_eq!(e.shard_len(1 << 20), 1 << 19);
        assert_eq!(e.frame_len(1 << 20), (1 << 19) + 16);
        assert_eq!(e.frame_offset(3), 3 * ((1 << 19) + 16));
        assert_eq!(e.shard_file_size(0), 0);
        assert_eq!(e.shard_file_size(1), 16 + 2);
        assert_eq!(e.shard_file_size(5 << 20), 5 * ((1 << 19) + 16));
    }

    #[test]
    fn shard_file_size_is_sum_of_frames_and_offsets_line_up() {
        for (data, parity, block_size) in [(1, 0, 1), (1, 0, 7), (2, 1, 10), (3, 2, 64), (5, 3, 1000)] {
            let e = Erasure::new(data, parity, block_size).expect("valid layout");
            for part_size in 0..(4 * block_size as u64 + 3) {
                let mut remaining = part_size;
                let mut offset = 0u64;
                let mut index = 0u64;
                while remaining > 0 {
                    assert_eq!(e.frame_offset(index), offset);
                    let block_len = remaining.min(block_size as u64);
                    offset += e.frame_len(block_len as usize) as u64;
                    remaining -= block_len;
                    index += 1;
                }
                assert_eq!(e.shard_file_size(part_size), offset, "{e:?} part {part_size}");
            }
        }
    }
}
