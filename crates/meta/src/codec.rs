//! The framing shared by every binary record: magic, version, MessagePack body.

use crate::MetaError;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Magic of an object metadata file (`xl.meta`).
pub const OBJECT_MAGIC: [u8; 4] = *b"CXL1";
/// Magic of a multipart upload record.
pub const UPLOAD_MAGIC: [u8; 4] = *b"CUP1";
/// Magic of an uploaded part record.
pub const PART_MAGIC: [u8; 4] = *b"CPT1";
/// Magic of a bucket record.
pub const BUCKET_MAGIC: [u8; 4] = *b"CBK1";
/// Newest record format version this build writes and reads.
pub const RECORD_FORMAT_VERSION: u16 = 1;
/// Bytes of magic plus version.
const HEADER_BYTES: usize = 6;

/// Encodes `value` behind `magic` and the current format version.
pub fn encode_record<T: Serialize>(magic: [u8; 4], value: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(&magic);
    out.extend_from_slice(&RECORD_FORMAT_VERSION.to_le_bytes());
    rmp_serde::encode::write_named(&mut out, value).expect("serialising plain data into a Vec cannot fail");
    out
}

/// Decodes a record written by [`encode_record`] with the same `magic`.
pub fn decode_record<T: DeserializeOwned>(magic: [u8; 4], bytes: &[u8]) -> Result<T, MetaError> {
    if bytes.len() < HEADER_BYTES {
        return Err(MetaError::Truncated);
    }
    if bytes[..4] != magic {
        return Err(MetaError::WrongMagic { expected: magic });
    }
    let version = u16::from_le_bytes([bytes[4], bytes[5]]);
    if version > RECORD_FORMAT_VERSION {
        return Err(MetaError::UnsupportedVersion { found: version, supported: RECORD_FORMAT_VERSION });
    }
    rmp_serde::from_slice(&bytes[HEADER_BYTES..]).map_err(|e| MetaError::Body(e.to_string()))
}
