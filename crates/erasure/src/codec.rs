//! Thin wrapper over reed-solomon-simd that keeps one encoder and one decoder
//! per thread.
//!
//! Building a codec allocates its work area (about `total_shards` x shard bytes,
//! i.e. a few MiB for 1 MiB blocks); `reset` reuses that allocation when the
//! layout and shard size repeat, which on the PUT/GET hot path they always do.
//! reed-solomon-simd needs `recovery_count >= 1`, so callers only come here
//! when the layout has parity; all layouts accepted by `Erasure::new`
//! (`<= MAX_TOTAL_SHARDS` shards) are within its supported counts.

use std::cell::RefCell;

use reed_solomon_simd::{ReedSolomonDecoder, ReedSolomonEncoder};

use crate::error::ErasureError;

thread_local! {
    /// This thread's encoder, created on first use and `reset` for each block.
    static ENCODER: RefCell<Option<ReedSolomonEncoder>> = const { RefCell::new(None) };
    /// This thread's decoder, created on first use and `reset` for each block.
    static DECODER: RefCell<Option<ReedSolomonDecoder>> = const { RefCell::new(None) };
}

/// Runs `f` with this thread's encoder, freshly reset to `data` originals,
/// `parity` recovery shards of `shard_len` bytes.
///
/// `f` must not call `with_encoder` itself (the encoder is exclusively
/// borrowed); it may call [`with_decoder`].
pub(crate) fn with_encoder<R>(
    data: usize,
    parity: usize,
    shard_len: usize,
    f: impl FnOnce(&mut ReedSolomonEncoder) -> Result<R, ErasureError>,
) -> Result<R, ErasureError> {
    assert!(parity > 0, "reed-solomon-simd needs at least one recovery shard");
    ENCODER.with(|cell| {
        let mut slot = cell.borrow_mut();
        let encoder = match slot.as_mut() {
            Some(encoder) => {
                encoder.reset(data, parity, shard_len).map_err(ErasureError::codec)?;
                encoder
            }
            None => slot.insert(ReedSolomonEncoder::new(data, parity, shard_len).map_err(ErasureError::codec)?),
        };
        f(encoder)
    })
}

/// Runs `f` with this thread's decoder, freshly reset to `data` originals,
/// `parity` recovery shards of `shard_len` bytes.
///
/// `f` must not call `with_decoder` itself; it may call [`with_encoder`].
pub(crate) fn with_decoder<R>(
    data: usize,
    parity: usize,
    shard_len: usize,
    f: impl FnOnce(&mut ReedSolomonDecoder) -> Result<R, ErasureError>,
) -> Result<R, ErasureError> {
    assert!(parity > 0, "reed-solomon-simd needs at least one recovery shard");
    DECODER.with(|cell| {
        let mut slot = cell.borrow_mut();
        let decoder = match slot.as_mut() {
            Some(decoder) => {
                decoder.reset(data, parity, shard_len).map_err(ErasureError::codec)?;
                decoder
            }
            None => slot.insert(ReedSolomonDecoder::new(data, parity, shard_len).map_err(ErasureError::codec)?),
        };
        f(decoder)
    })
}

/// Computes the `parity` recovery shards of `data_shards` (all `shard_len`
/// bytes) and hands each to `sink` as `(parity_index, bytes)` in order.
pub(crate) fn compute_parity(
    data_shards: &[&[u8]],
    parity: usize,
    shard_len: usize,
    mut sink: impl FnMut(usize, &[u8]),
) -> Result<(), ErasureError> {
    with_encoder(data_shards.len(), parity, shard_len, |encoder| {
        for shard in data_shards {
            encoder.add_original_shard(shard).map_err(ErasureError::codec)?;
        }
        let result = encoder.encode().map_err(ErasureError::codec)?;
        for (index, recovery) in result.recovery_iter().enumerate() {
            sink(index, recovery);
        }
        Ok(())
    })
}
