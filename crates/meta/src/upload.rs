//! Records of multipart uploads in progress and of their parts.

use crate::MetaError;
use crate::codec::{PART_MAGIC, UPLOAD_MAGIC, decode_record, encode_record};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use uuid::Uuid;

/// A multipart upload between Create and Complete/Abort.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadRecord {
    /// Bucket of the final object.
    pub bucket: String,
    /// Key of the final object.
    pub key: String,
    /// The upload id handed to the client.
    pub upload_id: Uuid,
    /// When Create ran, nanoseconds since the Unix epoch.
    pub initiated_unix_nanos: i64,
    /// Headers and user metadata given at Create, applied to the final object.
    pub headers: BTreeMap<String, String>,
    /// Checksum algorithm requested at Create, if any.
    pub checksum_algorithm: Option<String>,
    /// Parts are compressed as they arrive (the object matched the compression rule at
    /// Create). False in records written before format 5.
    #[serde(default)]
    pub compress: bool,
}

impl UploadRecord {
    /// Encodes for storage.
    pub fn encode(&self) -> Vec<u8> {
        encode_record(UPLOAD_MAGIC, self)
    }

    /// Decodes a stored upload record.
    pub fn decode(bytes: &[u8]) -> Result<Self, MetaError> {
        decode_record(UPLOAD_MAGIC, bytes)
    }
}

/// One uploaded part of a multipart upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartRecord {
    /// Part number (1..=10000).
    pub number: u32,
    /// Bytes of data in the part.
    pub size: u64,
    /// Hex MD5 of the part, without quotes.
    pub etag: String,
    /// Name of the shard file holding this drive's shard of the part (unique per upload attempt,
    /// so a re-uploaded part never mixes with the one it replaces).
    pub data_file: Uuid,
    /// When the part was uploaded, nanoseconds since the Unix epoch.
    pub mod_time_unix_nanos: i64,
    /// Checksums of the part: algorithm name to base64 value.
    pub checksums: BTreeMap<String, String>,
    /// How the part is compressed on the drives (None: as sent, and before format 5).
    #[serde(default)]
    pub compression: Option<crate::PartCompression>,
    /// How the part is encrypted on the drives (None: not, and before format 6).
    #[serde(default)]
    pub encryption: Option<crate::PartEncryption>,
}

impl PartRecord {
    /// Encodes for storage.
    pub fn encode(&self) -> Vec<u8> {
        encode_record(PART_MAGIC, self)
    }

    /// Decodes a stored part record.
    pub fn decode(bytes: &[u8]) -> Result<Self, MetaError> {
        decode_record(PART_MAGIC, bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip() {
        let upload = UploadRecord {
            bucket: "b".into(),
            key: "k/é".into(),
            upload_id: Uuid::new_v4(),
            initiated_unix_nanos: 42,
            headers: BTreeMap::from([("content-type".into(), "text/plain".into())]),
            checksum_algorithm: Some("CRC32".into()),
            compress: false,
        };
        assert_eq!(UploadRecord::decode(&upload.encode()).expect("decodes"), upload);
        let part = PartRecord {
            number: 3,
            size: 5 << 20,
            etag: "0".repeat(32),
            data_file: Uuid::new_v4(),
            mod_time_unix_nanos: 7,
            checksums: BTreeMap::new(),
            compression: None,
            encryption: None,
        };
        assert_eq!(PartRecord::decode(&part.encode()).expect("decodes"), part);
        assert!(PartRecord::decode(&upload.encode()).is_err());
    }

    /// Upload and part records written before 2026-12-02 (named fields) still decode.
    #[test]
    fn named_records_still_decode() {
        let upload = UploadRecord {
            bucket: "b".into(),
            key: "k".into(),
            upload_id: Uuid::from_u128(5),
            initiated_unix_nanos: 42,
            headers: BTreeMap::new(),
            checksum_algorithm: None,
            compress: false,
        };
        let named = crate::codec::encode_record_named(UPLOAD_MAGIC, &upload);
        assert_eq!(UploadRecord::decode(&named).expect("decodes"), upload);
        let part = PartRecord {
            number: 1,
            size: 5,
            etag: "0".repeat(32),
            data_file: Uuid::from_u128(6),
            mod_time_unix_nanos: 7,
            checksums: BTreeMap::from([("CRC32".into(), "AAAAAA==".into())]),
            compression: None,
            encryption: None,
        };
        let named = crate::codec::encode_record_named(PART_MAGIC, &part);
        assert_eq!(PartRecord::decode(&named).expect("decodes"), part);
    }
}
