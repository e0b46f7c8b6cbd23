//! Values the object layer hands to and receives from the S3 front.

use crate::body::{Body, BodyCheck};
use std::collections::BTreeMap;
use uuid::Uuid;

/// A bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketInfo {
    /// Bucket name.
    pub name: String,
    /// Creation time, nanoseconds since the Unix epoch.
    pub created_unix_nanos: i64,
}

/// Which version of a key a request names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionRef {
    /// The newest version (no `versionId`).
    Latest,
    /// The version with this id; None is the `null` version.
    Exact(Option<Uuid>),
}

/// What a DELETE did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Deleted {
    /// The version removed, or the delete marker added (None: the null version).
    pub version_id: Option<Uuid>,
    /// True when the version removed or added is a delete marker.
    pub delete_marker: bool,
}

/// What is known about one object version without reading its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    /// Bucket.
    pub bucket: String,
    /// Key.
    pub key: String,
    /// The version's id; None for the `null` version.
    pub version_id: Option<Uuid>,
    /// True for a delete marker (no data).
    pub delete_marker: bool,
    /// Size in bytes.
    pub size: u64,
    /// ETag without quotes.
    pub etag: String,
    /// Last-modified, nanoseconds since the Unix epoch.
    pub mod_time_unix_nanos: i64,
    /// System headers and user metadata, lowercase names.
    pub headers: BTreeMap<String, String>,
    /// Whole-object checksums: algorithm name to base64 value.
    pub checksums: BTreeMap<String, String>,
    /// Size in bytes of each part, in object order (one part for single PUTs).
    pub part_sizes: Vec<u64>,
    /// Bytes the version takes up on the drives when it is compressed (None: stored as sent).
    pub compressed_size: Option<u64>,
}

/// An object as a listing shows it: what ListObjects returns of each key. Only the
/// newest version's identity is read from each drive's metadata to list it (decoding
/// all of it was most of a listing's cost), so headers, checksums and parts are not
/// here: a HEAD reads them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedObject {
    /// Key.
    pub key: String,
    /// Size in bytes.
    pub size: u64,
    /// ETag without quotes.
    pub etag: String,
    /// Last-modified, nanoseconds since the Unix epoch.
    pub mod_time_unix_nanos: i64,
    /// The newest version is a delete marker (listed only by passes over every key).
    pub delete_marker: bool,
    /// Bytes of the key's older versions, when the listing read them (0 otherwise).
    pub noncurrent_bytes: u64,
    /// Bytes the newest version takes up on the drives when it is compressed.
    pub compressed_size: Option<u64>,
}

impl From<ObjectInfo> for ListedObject {
    fn from(info: ObjectInfo) -> Self {
        Self {
            key: info.key,
            size: info.size,
            etag: info.etag,
            mod_time_unix_nanos: info.mod_time_unix_nanos,
            delete_marker: info.delete_marker,
            noncurrent_bytes: 0,
            compressed_size: info.compressed_size,
        }
    }
}

/// One version as ListObjectVersions shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedVersion {
    /// Key.
    pub key: String,
    /// Version id; None for the `null` version.
    pub version_id: Option<Uuid>,
    /// True for the key's newest version.
    pub is_latest: bool,
    /// True for a delete marker.
    pub delete_marker: bool,
    /// Size in bytes (0 for a delete marker).
    pub size: u64,
    /// ETag without quotes (empty for a delete marker).
    pub etag: String,
    /// Last-modified, nanoseconds since the Unix epoch.
    pub mod_time_unix_nanos: i64,
}

/// A new object (or part) to store.
pub struct PutRequest {
    /// Bucket.
    pub bucket: String,
    /// Key.
    pub key: String,
    /// The body, streamed.
    pub body: Body,
    /// Verifies client-declared digests before the commit.
    pub check: Box<dyn BodyCheck>,
    /// System headers and user metadata to store.
    pub headers: BTreeMap<String, String>,
    /// Only commit if the key's current state allows it (checked under the key's lock).
    pub condition: Option<WriteCondition>,
    /// The encryption the request asks for (None: the bucket's default). For a part,
    /// the customer's key of an SSE-C upload.
    pub encryption: Option<crate::sse::Encryption>,
}

/// Computes a completed multipart object's checksums from the upload's checksum
/// algorithm and each part's checksums, in part order (S3's composite checksums).
pub type CompositeChecksums =
    Box<dyn FnOnce(Option<&str>, &[BTreeMap<String, String>]) -> BTreeMap<String, String> + Send>;

/// A change to an object's stored headers (its tags, retention, legal hold), applied in
/// place under the key's lock; it may refuse, and then nothing changes.
pub type HeaderChange = Box<dyn FnOnce(&mut BTreeMap<String, String>) -> crate::Result<()> + Send>;

/// A conditional write (If-None-Match / If-Match on PUT).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteCondition {
    /// Only if no object exists under the key.
    IfNoneMatchAny,
    /// Only if the current object's ETag (without quotes) is this one.
    IfMatch(String),
    /// Only if an object exists under the key (`If-Match: *`).
    IfMatchAny,
    /// Only if the key's current version is still the one written at this time (and
    /// not a delete marker): a lifecycle expiry decided on a version, not on the key.
    IfCurrentWrittenAt(i64),
}

/// A CompleteMultipartUpload request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompleteRequest {
    /// Bucket.
    pub bucket: String,
    /// Key.
    pub key: String,
    /// Upload id as the client sent it.
    pub upload_id: String,
    /// The parts to assemble, in the order named.
    pub parts: Vec<CompletePart>,
    /// Only commit if the key's current state allows it (checked under the key's lock).
    pub condition: Option<WriteCondition>,
}

/// A multipart upload in progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MultipartUpload {
    /// Key of the final object.
    pub key: String,
    /// Upload id.
    pub upload_id: String,
    /// When it was created, nanoseconds since the Unix epoch.
    pub initiated_unix_nanos: i64,
}

/// One page of in-progress uploads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UploadPage {
    /// Uploads, ordered by key then initiation time.
    pub uploads: Vec<MultipartUpload>,
    /// Common prefixes when a delimiter was given.
    pub prefixes: Vec<String>,
    /// More uploads follow.
    pub truncated: bool,
    /// Key (or common prefix) of the last entry returned: where the next page starts.
    pub next_key_marker: Option<String>,
    /// Upload id of the last upload returned, when the last entry is an upload.
    pub next_upload_id_marker: Option<String>,
}

/// An uploaded part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartSummary {
    /// Part number.
    pub number: u32,
    /// Bytes.
    pub size: u64,
    /// ETag without quotes.
    pub etag: String,
    /// Upload time, nanoseconds since the Unix epoch.
    pub mod_time_unix_nanos: i64,
    /// Checksums of the part.
    pub checksums: BTreeMap<String, String>,
    /// How the upload encrypts its parts (`crate::sse::SSE_S3` or `SSE_C`), as an
    /// UploadPart tells it; None when it does not, and in listings.
    pub encryption: Option<String>,
}

/// A part named in CompleteMultipartUpload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompletePart {
    /// Part number.
    pub number: u32,
    /// ETag as the client sent it (quotes allowed).
    pub etag: String,
}
