//! The one error type of this crate. Layout and frame problems are typed so the
//! object layer can tell "bad configuration" from "not enough healthy drives".

use crate::layout::MAX_TOTAL_SHARDS;

/// Why an erasure operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ErasureError {
    /// The requested layout is unusable: it needs at least one data shard, at
    /// most [`MAX_TOTAL_SHARDS`] shards in total and a block size of at least
    /// one byte.
    #[error(
        "invalid erasure layout: {data} data + {parity} parity shards, block size {block_size} bytes \
         (need data >= 1, data + parity <= {MAX_TOTAL_SHARDS}, block size >= 1)"
    )]
    InvalidLayout {
        /// Requested number of data shards.
        data: usize,
        /// Requested number of parity shards.
        parity: usize,
        /// Requested block size in bytes.
        block_size: usize,
    },
    /// Fewer than `data_shards` frames survived their bitrot check, so the
    /// block cannot be rebuilt (read or write quorum lost).
    #[error("too few valid shards: need {needed}, have {available}")]
    TooFewShards {
        /// Valid shards required (the layout's data shard count).
        needed: usize,
        /// Valid shards that were supplied (`< needed`).
        available: usize,
    },
    /// Shard `index` failed its length or hash check (see [`crate::Erasure::verify_shard`]).
    #[error("shard {index} is corrupt")]
    Corrupt {
        /// Index of the shard in the erasure set, `< total_shards`.
        index: usize,
    },
    /// A frame has the wrong length for its block (truncated or overlong read).
    #[error("frame is {actual} bytes, expected {expected}")]
    FrameLength {
        /// `BITROT_HASH_BYTES + shard_len` for the block.
        expected: usize,
        /// Length of the frame that was supplied.
        actual: usize,
    },
    /// A frame's stored hash does not match the hash of its shard bytes (bitrot).
    #[error("bitrot hash mismatch")]
    HashMismatch,
    /// The Reed-Solomon codec refused its input; carries the codec's message.
    /// Not expected for layouts accepted by [`crate::Erasure::new`].
    #[error("reed-solomon codec error: {0}")]
    Codec(String),
}

impl ErasureError {
    /// Wraps a `reed-solomon-simd` error. Kept crate-private (rather than a
    /// public `From`) so the codec crate does not leak into our public API.
    pub(crate) fn codec(err: reed_solomon_simd::Error) -> Self {
        ErasureError::Codec(err.to_string())
    }
}
