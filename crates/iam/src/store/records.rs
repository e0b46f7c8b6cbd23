//! What the identity store persists, one JSON object per identity, group, policy or
//! bucket policy, under `config/iam/` in the system volume.

use serde::{Deserialize, Serialize};

/// Folder of users: `users/<access key>.json`.
pub(crate) const USERS: &str = "config/iam/users/";
/// Folder of service accounts (extra access keys of a user).
pub(crate) const SERVICE_ACCOUNTS: &str = "config/iam/service-accounts/";
/// Folder of groups.
pub(crate) const GROUPS: &str = "config/iam/groups/";
/// Folder of named policies.
pub(crate) const POLICIES: &str = "config/iam/policies/";
/// Folder of bucket policies: `bucket-policies/<bucket>.json`.
pub(crate) const BUCKET_POLICIES: &str = "config/iam/bucket-policies/";
/// Changed (to a new random value) after every change, so every node reloads.
pub(crate) const VERSION: &str = "config/iam/version";

/// The path of record `name` in `folder`.
pub(crate) fn path(folder: &str, name: &str) -> String {
    format!("{folder}{name}.json")
}

/// A user: an access key with its secret and the policies attached to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRecord {
    pub access_key: String,
    pub secret_key: String,
    pub enabled: bool,
    /// Names of attached policies.
    #[serde(default)]
    pub policies: Vec<String>,
}

/// An extra access key of a user (or of root), optionally narrowed by an inline
/// policy and limited in time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceAccountRecord {
    pub access_key: String,
    pub secret_key: String,
    /// The user it acts for (root's access key for root's own service accounts).
    pub parent: String,
    pub enabled: bool,
    /// Inline policy JSON; the key can do at most what both it and the parent may.
    #[serde(default)]
    pub policy: Option<String>,
    /// Unix seconds after which the key is refused.
    #[serde(default)]
    pub expiration_unix: Option<i64>,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: String,
}

/// A group of users sharing policies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupRecord {
    pub name: String,
    pub enabled: bool,
    #[serde(default)]
    pub members: Vec<String>,
    #[serde(default)]
    pub policies: Vec<String>,
}

/// A named policy document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyRecord {
    pub name: String,
    /// The policy JSON as given (validated when stored).
    pub document: String,
}
