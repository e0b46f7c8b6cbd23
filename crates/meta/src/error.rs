//! Errors of decoding stored records.

/// Why a stored record could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum MetaError {
    /// Shorter than the fixed header.
    #[error("record truncated")]
    Truncated,
    /// The magic bytes name another kind of record (or garbage).
    #[error("wrong record kind: expected {expected:?}")]
    WrongMagic {
        /// The magic the caller asked for.
        expected: [u8; 4],
    },
    /// Written by a newer Cairn.
    #[error("record format version {found} is newer than supported {supported}")]
    UnsupportedVersion {
        /// Version in the file.
        found: u16,
        /// Newest version this build reads.
        supported: u16,
    },
    /// The body does not match its checksum: the stored copy is damaged.
    #[error("record checksum mismatch (damaged copy)")]
    Checksum,
    /// The MessagePack body does not decode.
    #[error("record body: {0}")]
    Body(String),
}
