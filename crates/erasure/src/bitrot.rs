//! Bitrot framing: every shard is stored behind the xxh3-128 hash of its bytes,
//! so a silently flipped bit on disk is detected when the block is read back
//! and the shard is treated as missing instead of poisoning the decode.

use xxhash_rust::xxh3::xxh3_128;

use crate::error::ErasureError;

/// Bytes of the bitrot hash that precedes every shard in a frame: the xxh3-128
/// of the shard bytes, stored big-endian (xxHash's canonical byte order).
pub const BITROT_HASH_BYTES: usize = 16;

/// The bitrot hash of `shard`, in its on-disk (big-endian) byte order.
pub(crate) fn shard_hash(shard: &[u8]) -> [u8; BITROT_HASH_BYTES] {
    xxh3_128(shard).to_be_bytes()
}

/// Checks one frame's hash and returns the shard bytes after the hash.
///
/// `shard_len` is the unframed shard length of the block the frame belongs to
/// (see [`crate::Erasure::shard_len`]); a frame of any other length than
/// `BITROT_HASH_BYTES + shard_len` is rejected with
/// [`ErasureError::FrameLength`], a hash mismatch with
/// [`ErasureError::HashMismatch`].
pub fn verify_frame(frame: &[u8], shard_len: usize) -> Result<&[u8], ErasureError> {
    let expected = BITROT_HASH_BYTES.saturating_add(shard_len);
    if frame.len() != expected {
        return Err(ErasureError::FrameLength { expected, actual: frame.len() });
    }
    let (hash, shard) = frame.split_at(BITROT_HASH_BYTES);
    if hash != shard_hash(shard) {
        return Err(ErasureError::HashMismatch);
    }
    Ok(shard)
}

/// Fills in the hash of every frame in `frames`, a run of frames of
/// `frame_len` bytes each whose hash slots were left as placeholders.
pub(crate) fn seal_frames(frames: &mut [u8], frame_len: usize) {
    assert!(frame_len >= BITROT_HASH_BYTES, "a frame holds at least its hash");
    assert_eq!(frames.len() % frame_len, 0, "frames must be whole");
    for frame in frames.chunks_exact_mut(frame_len) {
        let (hash, shard) = frame.split_at_mut(BITROT_HASH_BYTES);
        hash.copy_from_slice(&shard_hash(shard));
    }
}

/// Builds a standalone frame (hash || shard) for one shard.
pub(crate) fn frame_shard(shard: &[u8]) -> bytes::Bytes {
    let mut frame = Vec::with_capacity(BITROT_HASH_BYTES + shard.len());
    frame.extend_from_slice(&shard_hash(shard));
    frame.extend_from_slice(shard);
    frame.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_round_trips_and_hash_is_big_endian() {
        let frame = frame_shard(b"shard bytes!");
        assert_eq!(&frame[..BITROT_HASH_BYTES], &xxh3_128(b"shard bytes!").to_be_bytes());
        assert_eq!(verify_frame(&frame, 12), Ok(&b"shard bytes!"[..]));
    }

    #[test]
    fn wrong_length_is_rejected() {
        let frame = frame_shard(b"abcd");
        assert_eq!(verify_frame(&frame, 6), Err(ErasureError::FrameLength { expected: 22, actual: 20 }));
        assert_eq!(verify_frame(&frame[..19], 4), Err(ErasureError::FrameLength { expected: 20, actual: 19 }));
    }

    #[test]
    fn any_flipped_bit_is_detected() {
        let frame = frame_shard(b"0123456789");
        for byte in 0..frame.len() {
            for bit in 0..8 {
                let mut bad = frame.to_vec();
                bad[byte] ^= 1 << bit;
                assert_eq!(verify_frame(&bad, 10), Err(ErasureError::HashMismatch));
            }
        }
    }

    #[test]
    fn seal_frames_hashes_each_frame() {
        let mut frames = vec![0u8; 2 * (BITROT_HASH_BYTES + 2)];
        frames[BITROT_HASH_BYTES..BITROT_HASH_BYTES + 2].copy_from_slice(b"ab");
        frames[2 * BITROT_HASH_BYTES + 2..].copy_from_slice(b"cd");
        seal_frames(&mut frames, BITROT_HASH_BYTES + 2);
        let (first, second) = frames.split_at(BITROT_HASH_BYTES + 2);
        assert_eq!(verify_frame(first, 2), Ok(&b"ab"[..]));
        assert_eq!(verify_frame(second, 2), Ok(&b"cd"[..]));
    }
}
