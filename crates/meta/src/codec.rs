//! The framing shared by every binary record: magic, version, checksum, MessagePack body.
//!
//! Versions 2 and 3 (3 written now): `magic(4) || version u16 LE || xxh3-64(body) u64 LE || body`.
//! Version 1 (read only): `magic(4) || version u16 LE || body`, no checksum.
//! A record whose checksum does not match is refused (`MetaError::Checksum`): a flipped
//! bit in a record must read as "this drive's copy is damaged", never as a different
//! value.
//!
//! The body is MessagePack. Since 2026-12-02 structs are written as arrays in field
//! order; before, as maps of named fields. The same (derived) decoders read both, so no
//! version bump was needed: the previous release decodes the new records in full (its
//! listing's identity reader expected a map, so a node of that release resolves each
//! key it lists with a quorum read instead: correct, slower; nodes upgrade together). A
//! field is therefore only ever added at the end of its struct, with `#[serde(default)]`
//! (older records, shorter arrays, still decode), and with a format version bump: a build
//! that met a longer array than it knows would refuse the record as malformed, and must
//! be told instead that it is newer.

use crate::MetaError;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Magic of an object metadata file (`xl.meta`).
pub const OBJECT_MAGIC: [u8; 4] = *b"CXL1";
/// Magic of a multipart upload record.
pub const UPLOAD_MAGIC: [u8; 4] = *b"CUP1";
/// Magic of an uploaded part record.
pub const PART_MAGIC: [u8; 4] = *b"CPT1";
/// Magic of a bucket record.
pub const BUCKET_MAGIC: [u8; 4] = *b"CBK1";
/// Newest record format version this build writes and reads. 7 added
/// `BucketRecord::notification`; its framing is version 2's.
pub const RECORD_FORMAT_VERSION: u16 = 7;
/// Added encryption (`PartInfo::encryption`, `PartRecord::encryption`,
/// `BucketRecord::default_encryption`); still read.
const RECORD_FORMAT_VERSION_ENCRYPTION: u16 = 6;
/// Added compression (`PartInfo::compression`, `ObjectVersion::compressed_size`,
/// `UploadRecord::compress`, `PartRecord::compression`); still read.
const RECORD_FORMAT_VERSION_COMPRESSION: u16 = 5;
/// Added `BucketRecord::quota`; still read.
const RECORD_FORMAT_VERSION_QUOTA: u16 = 4;
/// Added `ObjectVersion::meta_updated_unix_nanos` and `BucketRecord`'s configuration
/// (tags, versioning, object lock, lifecycle, CORS); still read.
const RECORD_FORMAT_VERSION_CONFIG: u16 = 3;
/// The first version with a checksum, framed as the current one; still read.
const RECORD_FORMAT_VERSION_CHECKED: u16 = 2;
/// The first version, without a checksum; still read.
const RECORD_FORMAT_VERSION_UNCHECKED: u16 = 1;
/// Bytes of magic plus version.
const HEADER_BYTES: usize = 6;
/// Bytes of the body checksum that follows the header from version 2 on.
const CHECKSUM_BYTES: usize = 8;

/// Encodes `value` behind `magic` and the current format version.
pub fn encode_record<T: Serialize>(magic: [u8; 4], value: &T) -> Vec<u8> {
    // Structs as arrays in field order: half the bytes of named fields, so twice the
    // keys per index page for a listing to read, and nothing to match by name.
    checked_record(magic, |out| rmp_serde::encode::write(out, value))
}

/// `magic`, the current format version, then the checksum of the body `write` appends.
fn checked_record(magic: [u8; 4], write: impl FnOnce(&mut Vec<u8>) -> Result<(), rmp_serde::encode::Error>) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(&magic);
    out.extend_from_slice(&RECORD_FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&[0; CHECKSUM_BYTES]);
    let body_start = out.len();
    write(&mut out).expect("serialising plain data into a Vec cannot fail");
    let checksum = xxhash_rust::xxh3::xxh3_64(&out[body_start..]);
    out[HEADER_BYTES..body_start].copy_from_slice(&checksum.to_le_bytes());
    out
}

/// Decodes a record written by [`encode_record`] with the same `magic`.
pub fn decode_record<T: DeserializeOwned>(magic: [u8; 4], bytes: &[u8]) -> Result<T, MetaError> {
    decode_record_borrowed(magic, bytes)
}

/// Decodes a record whose value may borrow strings from `bytes` (a partial view that
/// need not copy what it reads).
pub(crate) fn decode_record_borrowed<'a, T: Deserialize<'a>>(magic: [u8; 4], bytes: &'a [u8]) -> Result<T, MetaError> {
    if bytes.len() < HEADER_BYTES {
        return Err(MetaError::Truncated);
    }
    if bytes[..4] != magic {
        return Err(MetaError::WrongMagic { expected: magic });
    }
    let version = u16::from_le_bytes([bytes[4], bytes[5]]);
    let body = match version {
        RECORD_FORMAT_VERSION_UNCHECKED => &bytes[HEADER_BYTES..],
        RECORD_FORMAT_VERSION_CHECKED
        | RECORD_FORMAT_VERSION_CONFIG
        | RECORD_FORMAT_VERSION_QUOTA
        | RECORD_FORMAT_VERSION_COMPRESSION
        | RECORD_FORMAT_VERSION_ENCRYPTION
        | RECORD_FORMAT_VERSION => {
            let Some((stored, body)) = bytes[HEADER_BYTES..].split_first_chunk::<CHECKSUM_BYTES>() else {
                return Err(MetaError::Truncated);
            };
            if u64::from_le_bytes(*stored) != xxhash_rust::xxh3::xxh3_64(body) {
                return Err(MetaError::Checksum);
            }
            body
        }
        _ => return Err(MetaError::UnsupportedVersion { found: version, supported: RECORD_FORMAT_VERSION }),
    };
    rmp_serde::from_slice(body).map_err(|e| MetaError::Body(e.to_string()))
}

/// Encodes `value` in the current format version with named fields, as Cairn wrote
/// records before 2026-12-02, so that tests can prove such records are still read.
#[cfg(test)]
pub(crate) fn encode_record_named<T: Serialize>(magic: [u8; 4], value: &T) -> Vec<u8> {
    checked_record(magic, |out| rmp_serde::encode::write_named(out, value))
}

/// Encodes `value` in the first record format (no checksum), as older Cairn wrote it,
/// so that tests can prove such records are still read.
#[cfg(test)]
pub(crate) fn encode_record_unchecked<T: Serialize>(magic: [u8; 4], value: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(&magic);
    out.extend_from_slice(&RECORD_FORMAT_VERSION_UNCHECKED.to_le_bytes());
    rmp_serde::encode::write_named(&mut out, value).expect("serialising plain data into a Vec cannot fail");
    out
}
