//! `cairn-erasure`: Reed-Solomon erasure coding and bitrot-hashed shard framing.
//!
//! Pure: Reed-Solomon + bitrot-hashed shard framing; no I/O. The object layer
//! cuts each part of an object into blocks of [`Erasure::block_size`] bytes and
//! hands every block to [`Erasure::encode_block`], which returns one *frame* per
//! drive of the erasure set. The drive layer appends frame `i` of every block to
//! drive `i`'s shard file; on GET the object layer reads the frames back and
//! [`Erasure::decode_block`] verifies them and rebuilds the block from any
//! `data_shards` good ones. Healing uses [`Erasure::reconstruct_all`] to
//! regenerate the frames of lost or rotten drives.
//!
//! Frame layout (one per shard per block):
//! ```text
//! +--------------------------------------+-------------------------------+
//! | xxh3-128(shard), 16 bytes big-endian | shard, shard_len(block_len) B |
//! +--------------------------------------+-------------------------------+
//! ```
//! A shard file is the frames of all blocks of a part back to back; every block
//! but the last is full, so frame offsets are a simple multiplication
//! ([`Erasure::frame_offset`], [`Erasure::shard_file_size`]).

#![deny(missing_docs)]

mod bitrot;
mod codec;
mod decode;
mod encode;
mod error;
mod layout;

pub use bitrot::{BITROT_HASH_BYTES, verify_frame};
pub use decode::DecodedBlock;
pub use error::ErasureError;
pub use layout::{Erasure, MAX_TOTAL_SHARDS};
