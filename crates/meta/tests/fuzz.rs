//! Fuzz targets for the record codecs: whatever bytes a drive (or a peer, through a
//! metadata write) hands back, decoding never panics, never reserves memory that the
//! input does not justify, and a record that decodes encodes back to one that decodes
//! to the same value. Case counts: `CAIRN_FUZZ_CASES` (see `cairn-fuzz`).

use bytes::Bytes;
use cairn_fuzz::memory::within;
use cairn_fuzz::mutate::hostile;
use cairn_meta::{
    BucketRecord, ErasureInfo, FormatFile, ObjectMeta, ObjectVersion, PartInfo, PartRecord, UploadRecord,
};
use proptest::prelude::*;
use std::collections::BTreeMap;
use uuid::Uuid;

/// Cases per target in a normal test run.
const CASES: u32 = 512;
/// Longest arbitrary input: records are a few KiB, inline objects up to 128 KiB.
const INPUT_BYTES_MAX: usize = 4096;

fn version(inline: Option<Vec<u8>>) -> ObjectVersion {
    ObjectVersion {
        version_id: Some(Uuid::from_u128(7)),
        mod_time_unix_nanos: 1_700_000_000_000_000_000,
        size: 3 << 20,
        etag: "9e107d9d372bb6826bd81d3542a419d6-2".into(),
        data_dir: inline.is_none().then(|| Uuid::from_u128(9)),
        erasure: ErasureInfo {
            data_shards: 2,
            parity_shards: 2,
            block_size_bytes: 1 << 20,
            shard_index: 1,
            distribution: vec![2, 3, 0, 1],
        },
        parts: vec![
            PartInfo { number: 1, size: 5 << 20, etag: "0".repeat(32), compression: None, encryption: None },
            PartInfo { number: 2, size: 1, etag: "f".repeat(32), compression: None, encryption: None },
        ],
        checksums: BTreeMap::from([("CRC32".into(), "AAAAAA==".into())]),
        headers: BTreeMap::from([
            ("content-type".into(), "text/plain".into()),
            ("x-amz-meta-ü".into(), "value with spaces".into()),
        ]),
        inline_data: inline.map(Bytes::from),
        upload_id: Some(Uuid::from_u128(11)),
        meta_updated_unix_nanos: 1_700_000_000_000_000_005,
        delete_marker: false,
        compressed_size: None,
    }
}

/// Valid records of every kind: the seeds the structure-aware inputs start from.
fn seeds() -> Vec<Vec<u8>> {
    let upload = UploadRecord {
        bucket: "photos".into(),
        key: "2024/01/ü.jpg".into(),
        upload_id: Uuid::from_u128(3),
        initiated_unix_nanos: 5,
        headers: BTreeMap::from([("content-type".into(), "image/jpeg".into())]),
        checksum_algorithm: Some("CRC32C".into()),
        compress: false,
    };
    let part = PartRecord {
        number: 10_000,
        size: 5 << 20,
        etag: "a".repeat(32),
        data_file: Uuid::from_u128(4),
        mod_time_unix_nanos: -1,
        checksums: BTreeMap::from([("SHA256".into(), "x".repeat(44))]),
        compression: None,
        encryption: None,
    };
    vec![
        ObjectMeta::single(version(None)).encode(),
        ObjectMeta { versions: vec![version(Some(vec![7; 300])), version(None)] }.encode(),
        ObjectMeta::default().encode(),
        upload.encode(),
        part.encode(),
        BucketRecord::new("photos", 1).encode(),
    ]
}

fn format_seeds() -> Vec<Vec<u8>> {
    let ids: Vec<Uuid> = (1..=8).map(Uuid::from_u128).collect();
    let format = FormatFile {
        version: 1,
        deployment_id: Uuid::from_u128(100),
        this: ids[5],
        sets: vec![ids[..4].to_vec(), ids[4..].to_vec()],
    };
    vec![format.encode(), b"{}".to_vec()]
}

/// Decodes `bytes` with `decode` within the memory bound; a value that decodes must
/// survive an encode/decode round trip unchanged.
fn check_record<T: PartialEq + std::fmt::Debug>(
    bytes: &[u8],
    decode: impl Fn(&[u8]) -> Result<T, cairn_meta::MetaError>,
    encode: impl Fn(&T) -> Vec<u8>,
) -> Result<(), TestCaseError> {
    let decoded = within(bytes.len(), 0, || decode(bytes))?;
    if let Ok(value) = decoded {
        let again = decode(&encode(&value));
        prop_assert!(again.as_ref().is_ok_and(|again| *again == value), "round trip changed {value:?}: {again:?}");
    }
    Ok(())
}

/// [`check_record`] with the decoder of every kind of record.
fn check_every_kind(bytes: &[u8]) -> Result<(), TestCaseError> {
    check_record(bytes, ObjectMeta::decode, ObjectMeta::encode)?;
    // The listing's partial decoder reads what the full one reads, within the same bound.
    let identity = within(bytes.len(), 0, || ObjectMeta::decode_latest_identity(bytes))?;
    if let Ok(meta) = ObjectMeta::decode(bytes) {
        prop_assert_eq!(identity.ok().flatten(), meta.latest_identity());
    }
    check_record(bytes, UploadRecord::decode, UploadRecord::encode)?;
    check_record(bytes, PartRecord::decode, PartRecord::encode)?;
    check_record(bytes, BucketRecord::decode, BucketRecord::encode)
}

#[test]
fn fuzz_meta_records() {
    cairn_fuzz::run("meta_records", CASES, hostile(seeds(), INPUT_BYTES_MAX), |bytes| check_every_kind(&bytes));
}

#[test]
fn fuzz_meta_record_bodies() {
    // Arbitrary MessagePack behind each kind's magic and version, so every input
    // reaches the body decoder.
    let bodies = seeds().into_iter().map(|seed| seed[6..].to_vec()).collect();
    let strategy = (0usize..4, hostile(bodies, INPUT_BYTES_MAX));
    cairn_fuzz::run("meta_record_bodies", CASES, strategy, |(kind, body)| {
        let magics =
            [cairn_meta::OBJECT_MAGIC, cairn_meta::UPLOAD_MAGIC, cairn_meta::PART_MAGIC, cairn_meta::BUCKET_MAGIC];
        let mut bytes = magics[kind].to_vec();
        bytes.extend_from_slice(&cairn_meta::RECORD_FORMAT_VERSION.to_le_bytes());
        bytes.extend_from_slice(&body);
        check_every_kind(&bytes)
    });
}

#[test]
fn fuzz_format_file() {
    cairn_fuzz::run("format_json", CASES, hostile(format_seeds(), INPUT_BYTES_MAX), |bytes| {
        check_record(&bytes, FormatFile::decode, FormatFile::encode)?;
        if let Ok(format) = FormatFile::decode(&bytes) {
            let _ = format.position();
        }
        Ok(())
    });
}
