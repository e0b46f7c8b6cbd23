//! The one error type of this crate.

use crate::format::HEADER_SIZE_BYTES;

/// Why a payload could not be encrypted or decrypted.
///
/// Decryption deliberately reports every authentication failure (wrong password, modified,
/// reordered, truncated or extended data) as the single variant [`MadminError::NotAuthentic`]:
/// telling them apart is impossible for an AEAD and would only help an attacker.
#[derive(Debug, thiserror::Error)]
pub enum MadminError {
    /// The plaintext (when encrypting) or the ciphertext (when decrypting) is larger than this
    /// crate accepts; see [`crate::PAYLOAD_SIZE_MAX_BYTES`] and [`crate::ENCRYPTED_SIZE_MAX_BYTES`].
    #[error("admin payload of {size_bytes} bytes exceeds the limit of {limit_bytes} bytes")]
    PayloadTooLarge {
        /// Length of the rejected input.
        size_bytes: usize,
        /// The limit it exceeded.
        limit_bytes: usize,
    },

    /// The ciphertext is too short to hold the salt, algorithm id and nonce
    /// (madmin-go's `ErrUnexpectedHeader`).
    #[error("encrypted admin payload of {size_bytes} bytes is shorter than its {HEADER_SIZE_BYTES}-byte header")]
    TruncatedHeader {
        /// Length of the rejected ciphertext.
        size_bytes: usize,
    },

    /// The algorithm id byte names no algorithm that madmin-go can produce.
    #[error("unknown admin payload encryption algorithm id {0:#04x}")]
    UnknownAlgorithm(u8),

    /// Authentication failed: wrong password, or the data was modified, reordered or truncated
    /// (madmin-go's `ErrMaliciousData`).
    #[error("encrypted admin payload is not authentic: wrong password, or the data was modified or truncated")]
    NotAuthentic,

    /// Argon2id refused its inputs or could not allocate its working memory.
    #[error("argon2id key derivation failed: {0}")]
    KeyDerivation(#[source] argon2::Error),
}
