//! A bucket's lifecycle rules (PutBucketLifecycleConfiguration), as its record stores
//! them: already checked by the S3 front, so every rule here is one Cairn can apply.

use serde::{Deserialize, Serialize};

/// The rules of one bucket, in the order they were given.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lifecycle {
    pub rules: Vec<LifecycleRule>,
}

/// One rule: which versions it applies to and what happens to them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LifecycleRule {
    /// The rule's id (unique in the bucket; made up when the client gave none).
    pub id: String,
    /// False when the rule is kept but not applied (`Status: Disabled`).
    pub enabled: bool,
    /// Which keys and versions the rule applies to.
    pub filter: RuleFilter,
    /// When the current version expires.
    pub expiration: Option<Expiry>,
    /// Whether a delete marker that is a key's only version is removed.
    pub expired_object_delete_marker: bool,
    /// When noncurrent versions are removed.
    pub noncurrent: Option<NoncurrentExpiry>,
    /// Days after which a multipart upload not completed is aborted.
    pub abort_incomplete_upload_days: Option<u32>,
}

/// What a rule applies to: keys under `prefix`, versions carrying all of `tags`, of a
/// size strictly between the bounds given.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleFilter {
    pub prefix: String,
    pub tags: Vec<(String, String)>,
    pub size_greater_than: Option<u64>,
    pub size_less_than: Option<u64>,
}

/// When a current version expires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Expiry {
    /// This many days after it was written.
    Days(u32),
    /// From this time on (seconds since the Unix epoch; midnight UTC, as S3 requires).
    Date(i64),
}

/// When noncurrent versions are removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoncurrentExpiry {
    /// Days after a version became noncurrent (a newer version was written).
    pub days: u32,
    /// How many of the newest noncurrent versions are kept whatever their age.
    pub newer_versions_kept: Option<u32>,
}
