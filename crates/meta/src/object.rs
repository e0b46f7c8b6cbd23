//! Object metadata (`xl.meta`): every stored version of one key on one drive.

use crate::MetaError;
use crate::codec::{BUCKET_MAGIC, OBJECT_MAGIC, decode_record, decode_record_borrowed, encode_record};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use uuid::Uuid;

/// How an object version was erasure coded, and which shard this drive holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErasureInfo {
    /// Data shards (k), >= 1.
    pub data_shards: u8,
    /// Parity shards (m).
    pub parity_shards: u8,
    /// Bytes per erasure block before splitting into shards.
    pub block_size_bytes: u32,
    /// Shard index (0-based, < k + m) stored on this drive.
    pub shard_index: u8,
    /// `distribution[d]` = shard index stored on drive d of the set; a permutation of 0..k+m.
    pub distribution: Vec<u8>,
}

/// One part of an object version (single PUTs have exactly one, number 1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartInfo {
    /// Part number as the client gave it (1..=10000).
    pub number: u32,
    /// Bytes of object data in this part.
    pub size: u64,
    /// The part's ETag (hex MD5), without quotes.
    pub etag: String,
    /// How the part's data is compressed on the drives; None (and in records written
    /// before format 5) when it is stored as sent.
    #[serde(default)]
    pub compression: Option<PartCompression>,
    /// How the part's data (after compression) is encrypted on the drives; None (and in
    /// records written before format 6) when it is not.
    #[serde(default)]
    pub encryption: Option<PartEncryption>,
}

/// Ciphers of encrypted parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Cipher {
    /// AES-256-GCM packages (see `cairn_object::seal` for the stored layout).
    Aes256Gcm,
}

/// An encrypted part: its data on the drives is a sequence of packages, one per
/// `package_bytes` of the part's data (the last one shorter), each sealed alone with a
/// 16-byte tag, so that a ranged read opens only the packages it needs. The part's key
/// is derived from the object's key and `salt`, fresh for every write of the part, so
/// that no key ever seals two different streams.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartEncryption {
    /// How each package is sealed.
    pub cipher: Cipher,
    /// Plain bytes per package (all but the last package of the part).
    pub package_bytes: u32,
    /// Makes the part's key unique (random at each write of the part).
    pub salt: [u8; 16],
}

/// Bytes each sealed package adds: the AEAD tag.
pub const PACKAGE_TAG_BYTES: u64 = 16;

impl PartEncryption {
    /// Bytes on the drives of `plain` bytes sealed in packages.
    pub fn sealed_size(&self, plain: u64) -> u64 {
        plain + plain.div_ceil(u64::from(self.package_bytes)) * PACKAGE_TAG_BYTES
    }
}

/// Codecs of compressed parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Codec {
    /// Zstandard frames (see `cairn_object::compress` for the stored layout).
    Zstd,
}

/// A compressed part: its data on the drives is a sequence of frames, one per block of
/// `block_bytes` uncompressed bytes (the last one shorter), each decodable alone, and an
/// index of where spans of frames start, so that a ranged read decompresses only the
/// frames it needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartCompression {
    /// How each frame is compressed.
    pub codec: Codec,
    /// Uncompressed bytes per frame (all but the last frame of the part).
    pub block_bytes: u32,
    /// Bytes of frames on the drives: what erasure coding covers for this part.
    pub stored_size: u64,
    /// Frames per index entry (1 unless the part has more frames than the index keeps
    /// entries; a read then skips up to `stride - 1` frames without decompressing them).
    pub stride: u32,
    /// Stored bytes of each span of `stride` frames, in order: the span holding frame f
    /// starts at the sum of the spans before `f / stride`.
    pub spans: Vec<u32>,
}

impl PartInfo {
    /// Bytes of this part on the drives (what erasure coding covers).
    pub fn stored_size(&self) -> u64 {
        let data = self.data_size();
        self.encryption.as_ref().map_or(data, |e| e.sealed_size(data))
    }

    /// Bytes of this part's data as encryption takes them: compressed if it is, else as sent.
    pub fn data_size(&self) -> u64 {
        self.compression.as_ref().map_or(self.size, |c| c.stored_size)
    }
}

/// One version of an object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectVersion {
    /// None for the "null" version of an unversioned bucket.
    pub version_id: Option<Uuid>,
    /// Last-modified time, nanoseconds since the Unix epoch; also orders versions.
    pub mod_time_unix_nanos: i64,
    /// Object size in bytes (sum of part sizes).
    pub size: u64,
    /// ETag without quotes: hex MD5, or `md5-of-md5s-N` for multipart objects.
    pub etag: String,
    /// Directory holding the part files; None when the data is inline.
    pub data_dir: Option<Uuid>,
    /// Erasure layout and this drive's shard.
    pub erasure: ErasureInfo,
    /// Parts in object order (ascending part number).
    pub parts: Vec<PartInfo>,
    /// Whole-object checksums the client asked for: algorithm name (`CRC32`, `CRC32C`,
    /// `SHA1`, `SHA256`, `CRC64NVME`) to base64 value.
    pub checksums: BTreeMap<String, String>,
    /// System headers (content-type, cache-control, ...) and user metadata (`x-amz-meta-*`), lowercase names.
    pub headers: BTreeMap<String, String>,
    /// This drive's framed shard of an inline object's data.
    pub inline_data: Option<Bytes>,
    /// The multipart upload that made this version (None for PUTs and copies), so that
    /// a retried CompleteMultipartUpload is answered like the first one. Absent from
    /// records written before it existed, which read as None. Always written (as nil
    /// when None): a field skipped in a positional record would shift the ones after it.
    #[serde(default)]
    pub upload_id: Option<Uuid>,
    /// When this version's metadata (its tags) was last changed in place, nanoseconds
    /// since the Unix epoch; 0 if never (and in records written before format 3). Drives
    /// that hold the same version with an older stamp missed a change: reads take the
    /// newest, and healing rewrites the others.
    #[serde(default)]
    pub meta_updated_unix_nanos: i64,
    /// A delete marker (a versioned DELETE): no data, no parts; the key reads as absent
    /// while it is the newest version. False in records written before format 3.
    #[serde(default)]
    pub delete_marker: bool,
    /// Bytes of the version's data on the drives when some part is compressed (what
    /// `size` bytes take up); None when nothing is (and before format 5). Kept besides
    /// the parts' own sizes so that usage counts read it without decoding the parts.
    #[serde(default)]
    pub compressed_size: Option<u64>,
}

/// Everything one drive stores about one key.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectMeta {
    /// Versions, newest first. Unversioned buckets keep exactly one.
    pub versions: Vec<ObjectVersion>,
}

impl ObjectMeta {
    /// Metadata holding a single version.
    pub fn single(version: ObjectVersion) -> Self {
        Self { versions: vec![version] }
    }

    /// The newest version, if any.
    pub fn latest(&self) -> Option<&ObjectVersion> {
        self.versions.first()
    }

    /// The identity of the newest version, with the digest of the older ones: what a
    /// listing compares between drives (see [`ObjectMeta::decode_latest_identity`]).
    pub fn latest_identity(&self) -> Option<VersionIdentity> {
        let mut identity = self.latest()?.identity();
        let older = &self.versions[1..];
        identity.history = history_digest(
            older.iter().map(|v| (v.version_id, v.mod_time_unix_nanos, v.meta_updated_unix_nanos, v.delete_marker)),
        );
        identity.noncurrent_bytes = older.iter().fold(0u64, |total, v| total.saturating_add(v.size));
        Some(identity)
    }

    /// The version with `version_id` (None: the null version), if this drive holds it.
    pub fn find(&self, version_id: Option<Uuid>) -> Option<&ObjectVersion> {
        self.versions.iter().find(|v| v.version_id == version_id)
    }

    /// Encodes for storage.
    pub fn encode(&self) -> Vec<u8> {
        encode_record(OBJECT_MAGIC, self)
    }

    /// Decodes a stored `xl.meta`.
    pub fn decode(bytes: &[u8]) -> Result<Self, MetaError> {
        decode_record(OBJECT_MAGIC, bytes)
    }

    /// The identity of the newest version in a stored `xl.meta`, without decoding the
    /// rest (parts, headers, inline data, older versions are skipped, not built): a
    /// listing compares every drive's copy of a key this way and decodes one in full.
    /// The record's checksum is verified as by [`ObjectMeta::decode`].
    pub fn decode_latest_identity(bytes: &[u8]) -> Result<Option<VersionIdentity>, MetaError> {
        let latest: LatestOnly<'_> = decode_record_borrowed(OBJECT_MAGIC, bytes)?;
        let (history, noncurrent_bytes) = (latest.versions.history, latest.versions.noncurrent_bytes);
        Ok(latest.versions.first.map(|v| VersionIdentity {
            version_id: v.version_id,
            mod_time_unix_nanos: v.mod_time_unix_nanos,
            size: v.size,
            etag: v.etag.to_owned(),
            data_dir: v.data_dir,
            meta_updated_unix_nanos: v.meta_updated_unix_nanos,
            delete_marker: v.delete_marker,
            history,
            noncurrent_bytes,
            compressed_size: v.compressed_size,
        }))
    }
}

/// The digest of a key's older versions (id, time, metadata stamp, delete marker), in
/// order: two drives with the same newest version and the same digest hold the same
/// versions, so a listing that compares identities notices a drive that missed the
/// removal of an old version (or holds one the others removed).
fn history_digest(versions: impl Iterator<Item = (Option<Uuid>, i64, i64, bool)>) -> u64 {
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    for (id, mod_time, stamp, delete_marker) in versions {
        hasher.update(id.unwrap_or_default().as_bytes());
        hasher.update(&mod_time.to_le_bytes());
        hasher.update(&stamp.to_le_bytes());
        hasher.update(&[u8::from(delete_marker)]);
    }
    hasher.digest()
}

/// What tells two versions of an object apart: two drives hold the same version when
/// these agree (the erasure shard and inline data differ from drive to drive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionIdentity {
    /// See [`ObjectVersion::version_id`].
    pub version_id: Option<Uuid>,
    /// See [`ObjectVersion::mod_time_unix_nanos`].
    pub mod_time_unix_nanos: i64,
    /// See [`ObjectVersion::size`].
    pub size: u64,
    /// See [`ObjectVersion::etag`].
    pub etag: String,
    /// See [`ObjectVersion::data_dir`].
    pub data_dir: Option<Uuid>,
    /// See [`ObjectVersion::meta_updated_unix_nanos`].
    pub meta_updated_unix_nanos: i64,
    /// See [`ObjectVersion::delete_marker`].
    pub delete_marker: bool,
    /// The digest of the older versions the drive holds (see `history_digest`); only
    /// [`ObjectMeta::latest_identity`] and [`ObjectMeta::decode_latest_identity`] fill it
    /// (0 from [`ObjectVersion::identity`]).
    pub history: u64,
    /// Bytes of the older versions (what a bucket's usage counts besides the newest);
    /// filled like `history`.
    pub noncurrent_bytes: u64,
    /// See [`ObjectVersion::compressed_size`].
    pub compressed_size: Option<u64>,
}

impl ObjectVersion {
    /// Bytes of the version's data on the drives (what erasure coding covers).
    pub fn stored_size(&self) -> u64 {
        self.compressed_size.unwrap_or(self.size)
    }

    /// The `compressed_size` of a version made of `parts`: None unless some is compressed.
    pub fn compressed_size_of(parts: &[PartInfo]) -> Option<u64> {
        parts.iter().any(|p| p.compression.is_some()).then(|| parts.iter().map(PartInfo::stored_size).sum())
    }

    /// The fields that tell this version from another.
    pub fn identity(&self) -> VersionIdentity {
        VersionIdentity {
            version_id: self.version_id,
            mod_time_unix_nanos: self.mod_time_unix_nanos,
            size: self.size,
            etag: self.etag.clone(),
            data_dir: self.data_dir,
            meta_updated_unix_nanos: self.meta_updated_unix_nanos,
            delete_marker: self.delete_marker,
            history: 0,
            noncurrent_bytes: 0,
            compressed_size: self.compressed_size,
        }
    }
}

/// `ObjectMeta` as [`ObjectMeta::decode_latest_identity`] reads it; unknown fields
/// (everything else) are skipped.
#[derive(Deserialize)]
struct LatestOnly<'a> {
    #[serde(borrow)]
    versions: FirstAndHistory<'a>,
}

/// The identity fields of an `ObjectVersion`, borrowing its ETag from the record. A
/// version is stored as an array in field order, identity first (or, in records written
/// before 2026-12-02, as a map of named fields); the fields between the identity and
/// the metadata stamp are skipped without being built.
struct IdentityFields<'a> {
    version_id: Option<Uuid>,
    mod_time_unix_nanos: i64,
    size: u64,
    etag: &'a str,
    data_dir: Option<Uuid>,
    meta_updated_unix_nanos: i64,
    delete_marker: bool,
    compressed_size: Option<u64>,
}

/// Every field of a stored `ObjectVersion`, in order: [`IdentityFields`] reads the first
/// five and the last three, and skips the rest.
const VERSION_FIELDS: [&str; 14] = [
    "version_id",
    "mod_time_unix_nanos",
    "size",
    "etag",
    "data_dir",
    "erasure",
    "parts",
    "checksums",
    "headers",
    "inline_data",
    "upload_id",
    "meta_updated_unix_nanos",
    "delete_marker",
    "compressed_size",
];

/// Position of `meta_updated_unix_nanos` in a stored version (records written before
/// format 3 end earlier and read it as 0).
const META_UPDATED_POSITION: usize = 11;

impl<'de: 'a, 'a> Deserialize<'de> for IdentityFields<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::{Error, IgnoredAny, MapAccess, SeqAccess};
        struct Visitor<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for Visitor<'a> {
            type Value = IdentityFields<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object version")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let missing = |n: usize| A::Error::invalid_length(n, &"an object version");
                let mut fields = IdentityFields {
                    version_id: seq.next_element()?.ok_or_else(|| missing(0))?,
                    mod_time_unix_nanos: seq.next_element()?.ok_or_else(|| missing(1))?,
                    size: seq.next_element()?.ok_or_else(|| missing(2))?,
                    etag: seq.next_element()?.ok_or_else(|| missing(3))?,
                    data_dir: seq.next_element()?.ok_or_else(|| missing(4))?,
                    meta_updated_unix_nanos: 0,
                    delete_marker: false,
                    compressed_size: None,
                };
                // Skipping a field walks its bytes without building it (inline data
                // is a length-prefixed blob, skipped in one step).
                for _ in 5..META_UPDATED_POSITION {
                    if seq.next_element::<IgnoredAny>()?.is_none() {
                        return Ok(fields);
                    }
                }
                if let Some(stamp) = seq.next_element()? {
                    fields.meta_updated_unix_nanos = stamp;
                }
                if let Some(delete_marker) = seq.next_element()? {
                    fields.delete_marker = delete_marker;
                }
                if let Some(compressed_size) = seq.next_element()? {
                    fields.compressed_size = compressed_size;
                }
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(fields)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let (mut version_id, mut mod_time, mut size, mut etag, mut data_dir) = (None, None, None, None, None);
                let (mut meta_updated, mut delete_marker, mut compressed_size) = (0, false, None);
                while let Some(name) = map.next_key::<&'de str>()? {
                    match name {
                        "version_id" => version_id = Some(map.next_value()?),
                        "mod_time_unix_nanos" => mod_time = Some(map.next_value()?),
                        "size" => size = Some(map.next_value()?),
                        "etag" => etag = Some(map.next_value()?),
                        "data_dir" => data_dir = Some(map.next_value()?),
                        "meta_updated_unix_nanos" => meta_updated = map.next_value()?,
                        "delete_marker" => delete_marker = map.next_value()?,
                        "compressed_size" => compressed_size = map.next_value()?,
                        _ => drop(map.next_value::<IgnoredAny>()?),
                    }
                }
                Ok(IdentityFields {
                    // As the derived decoder does, a missing optional field is None.
                    version_id: version_id.unwrap_or(None),
                    mod_time_unix_nanos: mod_time.ok_or_else(|| A::Error::missing_field("mod_time_unix_nanos"))?,
                    size: size.ok_or_else(|| A::Error::missing_field("size"))?,
                    etag: etag.ok_or_else(|| A::Error::missing_field("etag"))?,
                    data_dir: data_dir.unwrap_or(None),
                    meta_updated_unix_nanos: meta_updated,
                    delete_marker,
                    compressed_size,
                })
            }
        }
        deserializer.deserialize_struct("ObjectVersion", &VERSION_FIELDS, Visitor(std::marker::PhantomData))
    }
}

/// The first element of the versions array in full, and the digest of the others'
/// identities (see `history_digest`).
struct FirstAndHistory<'a> {
    first: Option<IdentityFields<'a>>,
    history: u64,
    noncurrent_bytes: u64,
}

impl<'de: 'a, 'a> Deserialize<'de> for FirstAndHistory<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for Visitor<'a> {
            type Value = FirstAndHistory<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a sequence of object versions")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let first = seq.next_element()?;
                let mut older = Vec::new();
                let mut noncurrent_bytes = 0u64;
                while let Some(version) = seq.next_element::<IdentityFields<'de>>()? {
                    noncurrent_bytes = noncurrent_bytes.saturating_add(version.size);
                    older.push((
                        version.version_id,
                        version.mod_time_unix_nanos,
                        version.meta_updated_unix_nanos,
                        version.delete_marker,
                    ));
                }
                Ok(FirstAndHistory { first, history: history_digest(older.into_iter()), noncurrent_bytes })
            }
        }
        deserializer.deserialize_seq(Visitor(std::marker::PhantomData))
    }
}

/// What is stored about a bucket beyond its directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketRecord {
    /// Bucket name.
    pub name: String,
    /// Creation time, nanoseconds since the Unix epoch.
    pub created_unix_nanos: i64,
    /// When the configuration below last changed, nanoseconds since the Unix epoch (0:
    /// never). Every drive holds a copy; the newest copy a drive answers with wins.
    #[serde(default)]
    pub config_updated_unix_nanos: i64,
    /// The bucket's tags (PutBucketTagging), in the order given; empty when none.
    #[serde(default)]
    pub tags: Vec<(String, String)>,
    /// Whether writes keep older versions (PutBucketVersioning).
    #[serde(default)]
    pub versioning: Versioning,
    /// Object lock (WORM), when the bucket was created with it; it cannot be turned off.
    #[serde(default)]
    pub object_lock: Option<ObjectLock>,
    /// Lifecycle rules (PutBucketLifecycleConfiguration), when the bucket has some.
    #[serde(default)]
    pub lifecycle: Option<crate::Lifecycle>,
    /// CORS rules (PutBucketCors), when the bucket has some.
    #[serde(default)]
    pub cors: Option<crate::Cors>,
    /// Hard quota in bytes (MinIO's set-bucket-quota), when the bucket has one.
    #[serde(default)]
    pub quota: Option<u64>,
    /// New objects are encrypted with SSE-S3 when their write asks for no encryption
    /// (PutBucketEncryption with AES256). False before format 6.
    #[serde(default)]
    pub default_encryption: bool,
    /// Event notification rules (PutBucketNotificationConfiguration), when the bucket
    /// has some. None before format 7.
    #[serde(default)]
    pub notification: Option<crate::Notification>,
}

/// A bucket's object lock: versions can be protected from deletion, and new versions
/// that name no retention get the default one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectLock {
    /// The retention new versions get when their write names none.
    pub default_retention: Option<DefaultRetention>,
}

/// A bucket's default retention (PutObjectLockConfiguration).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DefaultRetention {
    /// How strongly the versions are protected.
    pub mode: RetentionMode,
    /// For how long, from each version's write.
    pub period: RetentionPeriod,
}

/// S3's retention modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RetentionMode {
    /// Deletable before its time only by a caller allowed to bypass governance, who asks to.
    Governance,
    /// Deletable by nobody before its time, and never shortened.
    Compliance,
}

/// A default retention's length, as it was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RetentionPeriod {
    Days(u32),
    Years(u32),
}

/// A bucket's versioning state, as S3 has it: a bucket starts unversioned, and once
/// enabled can only be suspended, never unversioned again.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Versioning {
    /// Never enabled: a write replaces the key's only version.
    #[default]
    Unversioned,
    /// Writes add versions with ids; deletes add delete markers.
    Enabled,
    /// Writes and deletes replace the `null` version; older versions stay.
    Suspended,
}

impl Versioning {
    /// True when the key may hold versions other than the null one (versioning was
    /// enabled at some time).
    pub fn keeps_versions(self) -> bool {
        self != Versioning::Unversioned
    }
}

impl BucketRecord {
    /// A new bucket's record, without configuration.
    pub fn new(name: &str, created_unix_nanos: i64) -> Self {
        Self {
            name: name.to_owned(),
            created_unix_nanos,
            config_updated_unix_nanos: 0,
            tags: Vec::new(),
            versioning: Versioning::Unversioned,
            object_lock: None,
            lifecycle: None,
            cors: None,
            quota: None,
            default_encryption: false,
            notification: None,
        }
    }

    /// Encodes for storage.
    pub fn encode(&self) -> Vec<u8> {
        encode_record(BUCKET_MAGIC, self)
    }

    /// Decodes a stored bucket record.
    pub fn decode(bytes: &[u8]) -> Result<Self, MetaError> {
        decode_record(BUCKET_MAGIC, bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn arb_version() -> impl Strategy<Value = ObjectVersion> {
        (
            any::<Option<u128>>(),
            any::<i64>(),
            any::<u64>(),
            "[0-9a-f]{32}(-[0-9]{1,4})?",
            any::<Option<u128>>(),
            (1u8..=8, 0u8..=8, 1u32..=(4 << 20)),
            proptest::collection::vec((1u32..=10000, any::<u64>(), "[0-9a-f]{32}"), 0..5),
            proptest::collection::btree_map("[a-z0-9-]{1,20}", "\\PC{0,40}", 0..6),
            proptest::option::of(proptest::collection::vec(any::<u8>(), 0..300)),
        )
            .prop_map(|(version, mod_time, size, etag, data_dir, (k, m, block), parts, headers, inline)| {
                ObjectVersion {
                    version_id: version.map(Uuid::from_u128),
                    mod_time_unix_nanos: mod_time,
                    size,
                    etag,
                    data_dir: data_dir.map(Uuid::from_u128),
                    erasure: ErasureInfo {
                        data_shards: k,
                        parity_shards: m,
                        block_size_bytes: block,
                        shard_index: 0,
                        distribution: (0..k + m).collect(),
                    },
                    parts: parts
                        .into_iter()
                        .map(|(number, size, etag)| PartInfo {
                            number,
                            size,
                            etag,
                            compression: None,
                            encryption: None,
                        })
                        .collect(),
                    checksums: headers.iter().take(2).map(|(k, v)| (k.to_uppercase(), v.clone())).collect(),
                    headers,
                    inline_data: inline.map(Bytes::from),
                    upload_id: data_dir.map(Uuid::from_u128),
                    meta_updated_unix_nanos: mod_time / 3,
                    delete_marker: size % 5 == 0,
                    compressed_size: None,
                }
            })
    }

    proptest! {
        #[test]
        fn object_meta_round_trips(versions in proptest::collection::vec(arb_version(), 0..3)) {
            let meta = ObjectMeta { versions };
            let encoded = meta.encode();
            prop_assert_eq!(ObjectMeta::decode(&encoded).expect("decodes"), meta);
        }

        #[test]
        fn the_latest_identity_is_the_first_versions(versions in proptest::collection::vec(arb_version(), 0..3)) {
            let meta = ObjectMeta { versions };
            let identity = ObjectMeta::decode_latest_identity(&meta.encode()).expect("decodes");
            prop_assert_eq!(identity, meta.latest_identity());
        }

        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = ObjectMeta::decode(&bytes);
            let _ = ObjectMeta::decode_latest_identity(&bytes);
            let mut framed = OBJECT_MAGIC.to_vec();
            framed.extend_from_slice(&1u16.to_le_bytes());
            framed.extend_from_slice(&bytes);
            let _ = ObjectMeta::decode(&framed);
        }
    }

    /// A record written before `upload_id` existed (the same fields, without it) still reads.
    #[test]
    fn records_without_an_upload_id_read_as_none() {
        #[derive(Serialize)]
        struct OldVersion {
            version_id: Option<Uuid>,
            mod_time_unix_nanos: i64,
            size: u64,
            etag: String,
            data_dir: Option<Uuid>,
            erasure: ErasureInfo,
            parts: Vec<PartInfo>,
            checksums: BTreeMap<String, String>,
            headers: BTreeMap<String, String>,
            inline_data: Option<Bytes>,
        }
        #[derive(Serialize)]
        struct OldMeta {
            versions: Vec<OldVersion>,
        }
        let erasure = ErasureInfo {
            data_shards: 2,
            parity_shards: 2,
            block_size_bytes: 1 << 20,
            shard_index: 1,
            distribution: vec![0, 1, 2, 3],
        };
        let old = OldVersion {
            version_id: None,
            mod_time_unix_nanos: 7,
            size: 3,
            etag: "abc".into(),
            data_dir: None,
            erasure: erasure.clone(),
            parts: vec![PartInfo { number: 1, size: 3, etag: "abc".into(), compression: None, encryption: None }],
            checksums: BTreeMap::new(),
            headers: BTreeMap::new(),
            inline_data: Some(Bytes::from_static(b"xyz")),
        };
        let bytes = encode_record(OBJECT_MAGIC, &OldMeta { versions: vec![old] });
        let meta = ObjectMeta::decode(&bytes).expect("an old record decodes");
        let version = meta.latest().expect("one version");
        assert_eq!(version.upload_id, None);
        assert_eq!(version.meta_updated_unix_nanos, 0);
        let identity = ObjectMeta::decode_latest_identity(&bytes).expect("decodes").expect("a version");
        assert_eq!((identity.mod_time_unix_nanos, identity.meta_updated_unix_nanos), (7, 0));
        assert_eq!(version.erasure, erasure);
        assert_eq!(version.inline_data.as_deref(), Some(&b"xyz"[..]));
    }

    /// Version 1 records (no checksum) are still read; every flipped byte of a version 2
    /// record is caught (a flip in the MessagePack body used to decode to another value).
    #[test]
    fn records_carry_a_checksum_and_old_ones_are_still_read() {
        let meta = ObjectMeta {
            versions: vec![ObjectVersion {
                version_id: None,
                mod_time_unix_nanos: 42,
                size: 5,
                etag: "0123456789abcdef0123456789abcdef".into(),
                data_dir: Some(Uuid::from_u128(7)),
                erasure: ErasureInfo {
                    data_shards: 2,
                    parity_shards: 2,
                    block_size_bytes: 1 << 20,
                    shard_index: 1,
                    distribution: vec![1, 2, 3, 0],
                },
                parts: vec![PartInfo {
                    number: 1,
                    size: 5,
                    etag: "0123456789abcdef0123456789abcdef".into(),
                    compression: None,
                    encryption: None,
                }],
                checksums: BTreeMap::new(),
                headers: BTreeMap::from([("content-type".into(), "text/plain".into())]),
                inline_data: Some(Bytes::from_static(b"frame")),
                upload_id: None,
                meta_updated_unix_nanos: 0,
                delete_marker: false,
                compressed_size: None,
            }],
        };
        let old = crate::codec::encode_record_unchecked(OBJECT_MAGIC, &meta);
        assert_eq!(ObjectMeta::decode(&old).expect("version 1 decodes"), meta);
        let identity = ObjectMeta::decode_latest_identity(&old).expect("the listing reads version 1 too");
        assert_eq!(identity, meta.latest_identity());
        let encoded = meta.encode();
        assert_eq!(u16::from_le_bytes([encoded[4], encoded[5]]), crate::RECORD_FORMAT_VERSION);
        for at in 6..encoded.len() {
            let mut flipped = encoded.clone();
            flipped[at] ^= 0x10;
            assert!(ObjectMeta::decode(&flipped).is_err(), "a flip at byte {at} went unnoticed");
            assert!(ObjectMeta::decode_latest_identity(&flipped).is_err(), "a flip at byte {at} went unnoticed");
        }
    }

    /// Records are written as arrays (no field names: half the bytes); records with
    /// named fields, as written before, still decode in full and for listings.
    #[test]
    fn records_are_positional_and_named_ones_are_still_read() {
        let meta = ObjectMeta {
            versions: vec![ObjectVersion {
                version_id: Some(Uuid::from_u128(3)),
                mod_time_unix_nanos: 1_764_000_000_000_000_000,
                size: 1,
                etag: "0cc175b9c0f1b6a831c399e269772661".into(),
                data_dir: None,
                erasure: ErasureInfo {
                    data_shards: 2,
                    parity_shards: 2,
                    block_size_bytes: 1 << 20,
                    shard_index: 3,
                    distribution: vec![3, 0, 1, 2],
                },
                parts: vec![PartInfo {
                    number: 1,
                    size: 1,
                    etag: "0cc175b9c0f1b6a831c399e269772661".into(),
                    compression: None,
                    encryption: None,
                }],
                checksums: BTreeMap::from([("CRC32".into(), "AAAAAA==".into())]),
                headers: BTreeMap::from([("content-type".into(), "application/octet-stream".into())]),
                inline_data: Some(Bytes::from_static(&[7; 34])),
                upload_id: Some(Uuid::from_u128(9)),
                meta_updated_unix_nanos: 1_764_000_000_000_000_001,
                delete_marker: true,
                compressed_size: None,
            }],
        };
        let positional = meta.encode();
        let named = crate::codec::encode_record_named(OBJECT_MAGIC, &meta);
        let contains = |bytes: &[u8], name: &[u8]| bytes.windows(name.len()).any(|w| w == name);
        assert!(!contains(&positional, b"mod_time_unix_nanos") && contains(&named, b"mod_time_unix_nanos"));
        assert!(positional.len() * 3 < named.len() * 2, "{} bytes against {}", positional.len(), named.len());
        for bytes in [&positional, &named] {
            assert_eq!(ObjectMeta::decode(bytes).expect("decodes"), meta);
            let identity = ObjectMeta::decode_latest_identity(bytes).expect("the listing reads it");
            assert_eq!(identity, meta.latest_identity());
        }
    }

    /// What the previous release wrote (format 2: versions as arrays of 11 fields, the
    /// upload id given; bucket records of two fields) still reads, with no metadata
    /// stamp, no delete marker and no configuration.
    #[test]
    fn format_2_records_still_read() {
        #[derive(Serialize)]
        struct Format2Version {
            version_id: Option<Uuid>,
            mod_time_unix_nanos: i64,
            size: u64,
            etag: String,
            data_dir: Option<Uuid>,
            erasure: ErasureInfo,
            parts: Vec<PartInfo>,
            checksums: BTreeMap<String, String>,
            headers: BTreeMap<String, String>,
            inline_data: Option<Bytes>,
            upload_id: Option<Uuid>,
        }
        #[derive(Serialize)]
        struct Format2Meta {
            versions: Vec<Format2Version>,
        }
        #[derive(Serialize)]
        struct Format2Bucket {
            name: String,
            created_unix_nanos: i64,
        }
        let as_format_2 = |mut record: Vec<u8>| {
            // The checksum covers the body only, so the header's version can be set back.
            record[4..6].copy_from_slice(&2u16.to_le_bytes());
            record
        };
        let old = Format2Version {
            version_id: Some(Uuid::from_u128(5)),
            mod_time_unix_nanos: 11,
            size: 3,
            etag: "abc".into(),
            data_dir: Some(Uuid::from_u128(6)),
            erasure: ErasureInfo {
                data_shards: 2,
                parity_shards: 2,
                block_size_bytes: 1 << 20,
                shard_index: 0,
                distribution: vec![0, 1, 2, 3],
            },
            parts: vec![PartInfo { number: 1, size: 3, etag: "abc".into(), compression: None, encryption: None }],
            checksums: BTreeMap::new(),
            headers: BTreeMap::from([("x-amz-tagging".into(), "a=b".into())]),
            inline_data: None,
            upload_id: Some(Uuid::from_u128(7)),
        };
        let bytes = as_format_2(encode_record(OBJECT_MAGIC, &Format2Meta { versions: vec![old] }));
        let meta = ObjectMeta::decode(&bytes).expect("a format 2 record decodes");
        let version = meta.latest().expect("one version");
        assert_eq!(
            (version.upload_id, version.meta_updated_unix_nanos, version.delete_marker),
            (Some(Uuid::from_u128(7)), 0, false)
        );
        assert_eq!(ObjectMeta::decode_latest_identity(&bytes).expect("the listing reads it"), meta.latest_identity());
        let bucket =
            as_format_2(encode_record(BUCKET_MAGIC, &Format2Bucket { name: "b".into(), created_unix_nanos: 9 }));
        assert_eq!(BucketRecord::decode(&bucket).expect("a format 2 bucket record decodes"), BucketRecord::new("b", 9));
    }

    #[test]
    fn compression_round_trips_and_format_4_objects_still_read() {
        // A format 4 version: every field up to the delete marker, parts without compression.
        #[derive(Serialize)]
        struct Format4Part {
            number: u32,
            size: u64,
            etag: String,
        }
        #[derive(Serialize)]
        struct Format4Version {
            version_id: Option<Uuid>,
            mod_time_unix_nanos: i64,
            size: u64,
            etag: String,
            data_dir: Option<Uuid>,
            erasure: ErasureInfo,
            parts: Vec<Format4Part>,
            checksums: BTreeMap<String, String>,
            headers: BTreeMap<String, String>,
            inline_data: Option<Bytes>,
            upload_id: Option<Uuid>,
            meta_updated_unix_nanos: i64,
            delete_marker: bool,
        }
        #[derive(Serialize)]
        struct Format4Meta {
            versions: Vec<Format4Version>,
        }
        let erasure = ErasureInfo {
            data_shards: 2,
            parity_shards: 2,
            block_size_bytes: 1 << 20,
            shard_index: 1,
            distribution: vec![0, 1, 2, 3],
        };
        let old = Format4Meta {
            versions: vec![Format4Version {
                version_id: None,
                mod_time_unix_nanos: 5,
                size: 3,
                etag: "abc".into(),
                data_dir: Some(Uuid::from_u128(1)),
                erasure: erasure.clone(),
                parts: vec![Format4Part { number: 1, size: 3, etag: "abc".into() }],
                checksums: BTreeMap::new(),
                headers: BTreeMap::new(),
                inline_data: None,
                upload_id: None,
                meta_updated_unix_nanos: 0,
                delete_marker: false,
            }],
        };
        let mut bytes = encode_record(OBJECT_MAGIC, &old);
        bytes[4..6].copy_from_slice(&4u16.to_le_bytes());
        let meta = ObjectMeta::decode(&bytes).expect("a format 4 object record decodes");
        let version = &meta.versions[0];
        assert_eq!(
            (version.compressed_size, version.parts[0].compression.clone(), version.stored_size()),
            (None, None, 3)
        );
        assert_eq!(ObjectMeta::decode_latest_identity(&bytes).expect("identity"), meta.latest_identity());

        let mut compressed = version.clone();
        compressed.size = 3 << 20;
        compressed.parts[0].size = 3 << 20;
        compressed.parts[0].compression = Some(PartCompression {
            codec: Codec::Zstd,
            block_bytes: 1 << 20,
            stored_size: 700_000,
            stride: 1,
            spans: vec![300_000, 250_000, 150_000],
        });
        compressed.compressed_size = ObjectVersion::compressed_size_of(&compressed.parts);
        assert_eq!((compressed.compressed_size, compressed.stored_size()), (Some(700_000), 700_000));
        let meta = ObjectMeta::single(compressed);
        let bytes = meta.encode();
        assert_eq!(ObjectMeta::decode(&bytes).expect("round trip"), meta);
        let identity = ObjectMeta::decode_latest_identity(&bytes).expect("identity").expect("a version");
        assert_eq!(identity.compressed_size, Some(700_000), "listings and usage read the stored size");
        assert_eq!(Some(identity), meta.latest_identity());
    }

    #[test]
    fn format_3_bucket_records_still_read() {
        // A format 3 bucket record: every field but the quota.
        #[derive(Serialize)]
        struct Format3Bucket {
            name: String,
            created_unix_nanos: i64,
            config_updated_unix_nanos: i64,
            tags: Vec<(String, String)>,
            versioning: Versioning,
            object_lock: Option<ObjectLock>,
            lifecycle: Option<crate::Lifecycle>,
            cors: Option<crate::Cors>,
        }
        let old = Format3Bucket {
            name: "b".into(),
            created_unix_nanos: 9,
            config_updated_unix_nanos: 10,
            tags: vec![("k".into(), "v".into())],
            versioning: Versioning::Enabled,
            object_lock: None,
            lifecycle: None,
            cors: None,
        };
        let mut bytes = encode_record(BUCKET_MAGIC, &old);
        // The checksum covers the body only, so the header's version can be set back.
        bytes[4..6].copy_from_slice(&3u16.to_le_bytes());
        let record = BucketRecord::decode(&bytes).expect("a format 3 bucket record decodes");
        assert_eq!((record.quota, record.versioning, record.tags.len()), (None, Versioning::Enabled, 1));
        let mut with_quota = record.clone();
        with_quota.quota = Some(1 << 20);
        assert_eq!(BucketRecord::decode(&with_quota.encode()).expect("round trip"), with_quota);
    }

    #[test]
    fn encrypted_parts_round_trip_and_count_their_tags() {
        let encryption = PartEncryption { cipher: Cipher::Aes256Gcm, package_bytes: 1 << 16, salt: [9; 16] };
        // 2 full packages and one of 10 bytes: three tags.
        assert_eq!(encryption.sealed_size((2 << 16) + 10), (2 << 16) + 10 + 3 * PACKAGE_TAG_BYTES);
        assert_eq!(encryption.sealed_size(0), 0);
        let mut part = PartInfo { number: 1, size: 1 << 20, etag: "e".into(), compression: None, encryption: None };
        part.encryption = Some(encryption.clone());
        assert_eq!((part.data_size(), part.stored_size()), (1 << 20, (1 << 20) + 16 * PACKAGE_TAG_BYTES));
        part.compression = Some(PartCompression {
            codec: Codec::Zstd,
            block_bytes: 1 << 20,
            stored_size: 1000,
            stride: 1,
            spans: vec![1000],
        });
        assert_eq!((part.data_size(), part.stored_size()), (1000, 1000 + PACKAGE_TAG_BYTES), "compressed, then sealed");
        let record = crate::PartRecord {
            number: 1,
            size: 1 << 20,
            etag: "e".into(),
            data_file: Uuid::from_u128(3),
            mod_time_unix_nanos: 1,
            checksums: BTreeMap::new(),
            compression: None,
            encryption: Some(encryption),
        };
        assert_eq!(crate::PartRecord::decode(&record.encode()).expect("decodes"), record);
        let mut bucket = BucketRecord::new("b", 1);
        bucket.default_encryption = true;
        assert_eq!(BucketRecord::decode(&bucket.encode()).expect("decodes"), bucket);
    }

    #[test]
    fn notification_rules_round_trip_and_format_6_buckets_still_read() {
        let mut bucket = BucketRecord::new("b", 1);
        bucket.default_encryption = true;
        // A format 6 record: the same array without the notification field.
        #[derive(Serialize)]
        struct Format6<'a>(
            &'a str,
            i64,
            i64,
            Vec<(String, String)>,
            Versioning,
            Option<ObjectLock>,
            Option<()>,
            Option<()>,
            Option<u64>,
            bool,
        );
        let old = Format6("b", 1, 0, Vec::new(), Versioning::Unversioned, None, None, None, None, true);
        let mut bytes = crate::encode_record(crate::BUCKET_MAGIC, &old);
        bytes[4..6].copy_from_slice(&6u16.to_le_bytes());
        let checksum = xxhash_rust::xxh3::xxh3_64(&bytes[14..]);
        bytes[6..14].copy_from_slice(&checksum.to_le_bytes());
        assert_eq!(BucketRecord::decode(&bytes).expect("a format 6 bucket record decodes"), bucket);
        bucket.notification = Some(crate::Notification {
            rules: vec![crate::NotificationRule {
                id: "quotes".into(),
                arn: "arn:minio:sqs::1:webhook".into(),
                events: vec!["s3:ObjectCreated:*".into()],
                prefix: "quotes/".into(),
                suffix: ".pdf".into(),
            }],
        });
        assert_eq!(BucketRecord::decode(&bucket.encode()).expect("decodes"), bucket);
    }

    #[test]
    fn wrong_kind_and_newer_version_are_refused() {
        let bucket = BucketRecord::new("b", 1).encode();
        assert!(matches!(ObjectMeta::decode(&bucket), Err(MetaError::WrongMagic { .. })));
        let mut newer = ObjectMeta::default().encode();
        newer[4] = 9;
        assert!(matches!(ObjectMeta::decode(&newer), Err(MetaError::UnsupportedVersion { found: 9, .. })));
        assert!(matches!(ObjectMeta::decode(b"CX"), Err(MetaError::Truncated)));
    }
}
