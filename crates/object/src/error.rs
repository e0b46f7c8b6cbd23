//! Errors of the object layer, typed so the S3 front can map each to one S3 code.

use cairn_drive::DriveError;

/// Why an object operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    /// The bucket does not exist.
    #[error("bucket not found")]
    BucketNotFound,
    /// The bucket exists already.
    #[error("bucket already exists")]
    BucketExists,
    /// The bucket still holds objects.
    #[error("bucket not empty")]
    BucketNotEmpty,
    /// No such object.
    #[error("object not found")]
    ObjectNotFound,
    /// The key cannot be stored; the message says why.
    #[error("invalid object name: {0}")]
    InvalidKey(&'static str),
    /// The key is longer than 1024 bytes or has a segment longer than 255 bytes.
    #[error("object name too long")]
    KeyTooLong,
    /// Fewer drives than the write quorum could take the write.
    #[error("write quorum not reached ({succeeded} of {needed} drives)")]
    WriteQuorum {
        /// Drives that succeeded.
        succeeded: usize,
        /// Drives needed.
        needed: usize,
    },
    /// Fewer drives than the read quorum agree on the object.
    #[error("read quorum not reached")]
    ReadQuorum,
    /// The drives are full.
    #[error("storage full")]
    StorageFull,
    /// The object's data could not be reconstructed: too many shards are missing or corrupt.
    #[error("object data unrecoverable: {0}")]
    Unrecoverable(String),
    /// The object was replaced or deleted while it was being read, before the read reached its
    /// end: the read stops rather than continue with another version's bytes.
    #[error("the object was replaced or deleted while it was being read")]
    Replaced,
    /// The namespace lock on the key was not granted in time.
    #[error("timed out waiting for a lock on the key")]
    LockTimeout,
    /// Reading the request body failed (client went away, bad framing, bad chunk signature).
    #[error("request body: {0}")]
    Body(String),
    /// The body did not match a digest the client declared.
    #[error("{0}")]
    BadDigest(String),
    /// The object would exceed the largest size S3 allows.
    #[error("object too large")]
    EntityTooLarge,
    /// The write would take the bucket past its hard quota.
    #[error("bucket {bucket} would exceed its quota of {limit} bytes")]
    QuotaExceeded {
        /// The bucket.
        bucket: String,
        /// Its quota in bytes.
        limit: u64,
    },
    /// No such multipart upload.
    #[error("upload not found")]
    UploadNotFound,
    /// Object lock forbids it (a retention or legal hold protects the version).
    #[error("object lock: {0}")]
    ObjectLocked(&'static str),
    /// The bucket's state forbids it (suspending versioning with object lock on, setting
    /// object lock on a bucket created without it).
    #[error("invalid bucket state: {0}")]
    InvalidBucketState(&'static str),
    /// The key exists, but not the version named.
    #[error("no such version")]
    VersionNotFound,
    /// The version read is a delete marker: the newest one (`current`, the key reads as
    /// absent) or one named by its id (which has no data to read).
    #[error("the version is a delete marker")]
    DeleteMarker {
        /// The marker's version id (None: the null version).
        version_id: Option<uuid::Uuid>,
        /// True when it is the key's newest version (a read of the key, not of a version).
        current: bool,
    },
    /// A part named in Complete was not uploaded, or its ETag differs.
    #[error("invalid part: {0}")]
    InvalidPart(String),
    /// Parts named in Complete are not in ascending order.
    #[error("parts not in ascending order")]
    InvalidPartOrder,
    /// A part other than the last is smaller than 5 MiB.
    #[error("part {part_number} is smaller than the minimum part size")]
    EntityTooSmall {
        /// The offending part.
        part_number: u32,
    },
    /// A conditional write's condition does not hold.
    #[error("precondition failed: {0}")]
    PreconditionFailed(&'static str),
    /// An argument is out of range (part number, layout, ...).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A drive failed in a way no quorum reduction absorbed. Kept typed: a drive that
    /// is offline, missing or timed out is a temporary condition (the S3 front answers
    /// 503, which clients retry), any other drive failure is a server error (500).
    #[error("drive: {0}")]
    Drive(DriveError),
    /// Encryption at rest refused the request (no master key, a missing or wrong
    /// customer key, ...).
    #[error("{0}")]
    Encryption(#[from] crate::sse::EncryptionError),
    /// A bug or an inconsistency in stored records (a task panicked, a stored record
    /// contradicts the layout): retrying does not help.
    #[error("internal: {0}")]
    Internal(String),
}

impl ObjectError {
    /// True when the same request may succeed later, so the client should retry:
    /// storage is temporarily unreachable (lost quorum, a drive offline or not
    /// answering in time), a lock was not granted in time, or the object changed
    /// during a read.
    pub fn is_retryable(&self) -> bool {
        match self {
            ObjectError::WriteQuorum { .. }
            | ObjectError::ReadQuorum
            | ObjectError::LockTimeout
            | ObjectError::Replaced => true,
            ObjectError::Drive(error) => drive_unavailable(error),
            _ => false,
        }
    }
}

/// Whether a drive error means "not reachable now" rather than "broken".
pub(crate) fn drive_unavailable(error: &DriveError) -> bool {
    if error.is_drive_down() {
        return true;
    }
    let DriveError::Io { source, .. } = error else { return false };
    matches!(
        source.kind(),
        std::io::ErrorKind::TimedOut
            | std::io::ErrorKind::Interrupted
            | std::io::ErrorKind::WouldBlock
            | std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::ConnectionReset
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::NotConnected
            | std::io::ErrorKind::BrokenPipe
            | std::io::ErrorKind::ResourceBusy
    ) || matches!(source.raw_os_error(), Some(libc::EMFILE | libc::ENFILE))
}

impl From<DriveError> for ObjectError {
    fn from(error: DriveError) -> Self {
        match error {
            DriveError::VolumeNotFound => ObjectError::BucketNotFound,
            DriveError::VolumeExists => ObjectError::BucketExists,
            DriveError::VolumeNotEmpty => ObjectError::BucketNotEmpty,
            DriveError::FileNotFound => ObjectError::ObjectNotFound,
            DriveError::InvalidKey(why) => ObjectError::InvalidKey(why),
            DriveError::KeyTooLong => ObjectError::KeyTooLong,
            DriveError::DiskFull => ObjectError::StorageFull,
            other => ObjectError::Drive(other),
        }
    }
}
