//! Object bodies that name the write they came from in every 16 bytes, so that any read
//! (whole or ranged) can be attributed to exactly one write, and a torn or mixed object,
//! or bytes nobody wrote, are told apart from a legitimate version.
//!
//! Chunk `i` of the body of write `id` is `id` (u64 little-endian) followed by
//! `mix(id, i)` (u64 little-endian). A body of any length is the prefix of that endless
//! sequence, so the bytes at an offset do not depend on the body's length.

/// Bytes per self-describing chunk.
pub const CHUNK_BYTES: usize = 16;
/// The shortest body the workload writes: long enough that any read of a whole object
/// holds at least one complete chunk.
pub const BODY_BYTES_MIN: usize = 2 * CHUNK_BYTES;

/// What a run of bytes read back at `offset` of an object says about its origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attribution {
    /// Every byte is what write `id` wrote at that offset.
    Write(u64),
    /// Too few bytes to hold a whole chunk: they are kept for a comparison with the
    /// candidate writes instead.
    Short(Vec<u8>),
    /// Bytes no single write produced at this offset: garbage, a torn or a mixed object.
    Foreign(String),
}

/// SplitMix64's finaliser: a bijective scramble, so that distinct inputs never collide.
fn scramble(mut value: u64) -> u64 {
    value = (value ^ (value >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    value = (value ^ (value >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    value ^ (value >> 31)
}

/// Mixed into every chunk so that no chunk is all zeros (a zeroed range never attributes).
const CHUNK_SALT: u64 = 0x9e37_79b9_7f4a_7c15;

fn chunk(id: u64, index: u64) -> [u8; CHUNK_BYTES] {
    let mut out = [0u8; CHUNK_BYTES];
    out[..8].copy_from_slice(&id.to_le_bytes());
    out[8..].copy_from_slice(&scramble(scramble(id ^ CHUNK_SALT) ^ index).to_le_bytes());
    out
}

/// The `len` bytes write `id` uploads starting at `offset` of its body.
pub fn slice(id: u64, offset: u64, len: usize) -> Vec<u8> {
    let width = CHUNK_BYTES as u64;
    let first = offset / width;
    let skip = usize::try_from(offset % width).expect("below the chunk width");
    let mut out = Vec::with_capacity(len + CHUNK_BYTES);
    let mut index = first;
    while out.len() < len + skip {
        out.extend_from_slice(&chunk(id, index));
        index += 1;
    }
    out.drain(..skip);
    out.truncate(len);
    out
}

/// The whole body of write `id`.
pub fn body(id: u64, len: usize) -> Vec<u8> {
    slice(id, 0, len)
}

/// Whether `bytes`, read at `offset`, are exactly what write `id` wrote there.
pub fn matches(id: u64, offset: u64, bytes: &[u8]) -> bool {
    slice(id, offset, bytes.len()) == bytes
}

/// Attributes `bytes`, read at `offset` of some object, to the one write they came from.
pub fn attribute(bytes: &[u8], offset: u64) -> Attribution {
    let width = CHUNK_BYTES as u64;
    let skip = usize::try_from((width - offset % width) % width).expect("below the chunk width");
    let Some(first_chunk) = bytes.get(skip..skip + CHUNK_BYTES) else {
        return Attribution::Short(bytes.to_vec());
    };
    let id = u64::from_le_bytes(first_chunk[..8].try_into().expect("eight bytes"));
    let expected = slice(id, offset, bytes.len());
    match bytes.iter().zip(&expected).position(|(got, want)| got != want) {
        None => Attribution::Write(id),
        Some(i) => {
            let at = offset + i as u64;
            let within = usize::try_from(at % width).expect("below the chunk width");
            let chunk_id = i
                .checked_sub(within)
                .and_then(|start| bytes.get(start..start + 8))
                .map(|b| u64::from_le_bytes(b.try_into().expect("eight bytes")));
            Attribution::Foreign(format!(
                "{} bytes at offset {offset}: first chunk names write {id}, byte {at} differs (its chunk names {chunk_id:?})",
                bytes.len()
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_and_ranged_reads_attribute_to_their_write() {
        let full = body(7, 1000);
        assert_eq!(attribute(&full, 0), Attribution::Write(7));
        for (start, end) in [(0, 16), (3, 40), (15, 999), (500, 1000), (17, 49)] {
            assert_eq!(attribute(&full[start..end], start as u64), Attribution::Write(7), "range {start}..{end}");
        }
        assert_eq!(slice(7, 123, 50), full[123..173].to_vec());
        assert!(matches(7, 10, &full[10..20]));
    }

    #[test]
    fn short_ranges_are_kept_for_comparison() {
        let full = body(3, 100);
        assert_eq!(attribute(&full[1..20], 1), Attribution::Short(full[1..20].to_vec()));
    }

    #[test]
    fn mixed_torn_and_foreign_bytes_are_refused() {
        let mut mixed = body(1, 64);
        mixed[32..].copy_from_slice(&body(2, 64)[32..]);
        assert!(matches!(attribute(&mixed, 0), Attribution::Foreign(_)));
        let mut flipped = body(1, 64);
        flipped[40] ^= 1;
        assert!(matches!(attribute(&flipped, 0), Attribution::Foreign(_)));
        assert!(matches!(attribute(&[0u8; 64], 0), Attribution::Foreign(_)));
        // Bytes of the right write at the wrong offset (a shifted, torn read).
        assert!(matches!(attribute(&body(1, 64)[..48], 16), Attribution::Foreign(_)));
    }
}
