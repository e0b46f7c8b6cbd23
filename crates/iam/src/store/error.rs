//! Why an identity operation failed; the admin API maps these to MinIO's error codes.

use cairn_object::ObjectError;

/// Errors of the identity store.
#[derive(Debug, thiserror::Error)]
pub enum IamError {
    /// No user, group, policy or service account of that name.
    #[error("{kind} {name:?} does not exist")]
    NotFound { kind: &'static str, name: String },
    /// The name is taken (or reserved, like root's access key).
    #[error("{0}")]
    Conflict(String),
    /// A malformed policy document; the old one stays in place.
    #[error("malformed policy: {0}")]
    MalformedPolicy(String),
    /// An invalid argument (short secret, bad access key characters...).
    #[error("{0}")]
    Invalid(String),
    /// The store could not read or write the records.
    #[error("storage: {0}")]
    Storage(#[from] ObjectError),
    /// A record could not be encoded or decoded.
    #[error("record: {0}")]
    Record(#[from] serde_json::Error),
}

impl IamError {
    pub(crate) fn not_found(kind: &'static str, name: &str) -> Self {
        IamError::NotFound { kind, name: name.to_owned() }
    }
}
