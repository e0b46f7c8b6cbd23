//! Typed errors of drive operations. The object layer reduces these across the
//! drives of a set (quorum) and the S3 front maps the result to S3 codes.

use std::io;

/// Why a drive operation failed.
#[derive(Debug, thiserror::Error)]
pub enum DriveError {
    /// The volume (bucket) does not exist on this drive.
    #[error("volume not found")]
    VolumeNotFound,
    /// The volume already exists on this drive.
    #[error("volume already exists")]
    VolumeExists,
    /// The volume still holds objects.
    #[error("volume not empty")]
    VolumeNotEmpty,
    /// The object or file does not exist on this drive.
    #[error("file not found")]
    FileNotFound,
    /// The key cannot be stored: it would escape the drive or collide with
    /// Cairn's own files. The message says which rule it broke.
    #[error("invalid object name: {0}")]
    InvalidKey(&'static str),
    /// The key is longer than S3 allows, or one segment is longer than a file name may be.
    #[error("object name too long")]
    KeyTooLong,
    /// The drive has no space left.
    #[error("drive full")]
    DiskFull,
    /// The drive is not formatted, missing, or its root is not a directory.
    #[error("drive not found or unformatted")]
    DriveNotFound,
    /// The drive is on another node that does not answer; calls fail fast until a
    /// background probe sees it again.
    #[error("drive offline: {0}")]
    Offline(String),
    /// Stored data does not match its checksum or length.
    #[error("data corrupt: {0}")]
    Corrupt(String),
    /// Any other I/O failure, with the operation that failed.
    #[error("{op}: {source}")]
    Io {
        /// What the drive was doing.
        op: &'static str,
        /// The underlying error.
        source: io::Error,
    },
}

impl DriveError {
    /// Classifies an I/O error raised while doing `op`.
    pub fn io(op: &'static str, source: io::Error) -> Self {
        match source.kind() {
            io::ErrorKind::NotFound => DriveError::FileNotFound,
            io::ErrorKind::StorageFull => DriveError::DiskFull,
            io::ErrorKind::InvalidFilename => DriveError::KeyTooLong,
            _ if source.raw_os_error() == Some(libc::ENOSPC) || source.raw_os_error() == Some(libc::EDQUOT) => {
                DriveError::DiskFull
            }
            _ if source.raw_os_error() == Some(libc::ENAMETOOLONG) => DriveError::KeyTooLong,
            _ => DriveError::Io { op, source },
        }
    }

    /// True when the drive is unusable as a whole (missing, unformatted or unreachable),
    /// rather than failing one operation.
    pub fn is_drive_down(&self) -> bool {
        matches!(self, DriveError::DriveNotFound | DriveError::Offline(_))
    }

    /// True when the error means "this drive does not have it" rather than "this drive is broken".
    pub fn is_not_found(&self) -> bool {
        matches!(self, DriveError::FileNotFound | DriveError::VolumeNotFound)
    }
}
