//! Encryption of MinIO admin-API payloads, byte for byte as madmin-go's `EncryptData` and
//! `DecryptData` do it.
//!
//! MinIO's admin clients (`mc admin` through madmin-go, the Python `minio` package's
//! `MinioAdmin`) seal some request and response bodies, such as new users, service accounts and
//! server configuration, with a key derived from the caller's secret key. Cairn's admin API uses
//! this crate to read and write those bodies; the crate itself knows nothing of HTTP.
//!
//! Wire format: `salt (32) || algorithm id (1) || stream nonce (8) || DARE 2.0 stream`, where the
//! key comes from argon2id or PBKDF2 over the password and salt (see [`Algorithm`]) and the DARE
//! stream is sio-go's sequence of 16 KiB AEAD packages (see the `dare` module).
//!
//! Argon2id deliberately costs 64 MiB of memory and noticeable CPU time per call, and derivations
//! are serialised process-wide: async callers should run these functions on a blocking thread.

mod algorithm;
mod dare;
mod error;
mod format;
mod kdf;

pub use algorithm::Algorithm;
pub use error::MadminError;

use format::{HEADER_SIZE_BYTES, Header};

/// Largest plaintext accepted, 16 MiB: admin payloads are a few KiB to a few MiB, and everything
/// is held in memory at once.
pub const PAYLOAD_SIZE_MAX_BYTES: usize = 16 * 1024 * 1024;

/// Largest encrypted payload accepted: the header plus the DARE stream of the largest plaintext.
pub const ENCRYPTED_SIZE_MAX_BYTES: usize =
    HEADER_SIZE_BYTES + dare::sealed_size_bytes(PAYLOAD_SIZE_MAX_BYTES, dare::PACKAGE_SIZE_BYTES);

/// Encrypts `data` for a MinIO admin client with argon2id and AES-256-GCM, madmin-go's default
/// (non-FIPS) choice and the one every madmin-go and Python `minio` client can decrypt.
pub fn encrypt_data(password: &str, data: &[u8]) -> Result<Vec<u8>, MadminError> {
    encrypt_data_with(Algorithm::Argon2idAes256Gcm, password, data)
}

/// Encrypts `data` with the given algorithm, for instance [`Algorithm::Pbkdf2Sha256Aes256Gcm`]
/// where argon2id is not allowed (madmin-go's FIPS mode).
pub fn encrypt_data_with(algorithm: Algorithm, password: &str, data: &[u8]) -> Result<Vec<u8>, MadminError> {
    if data.len() > PAYLOAD_SIZE_MAX_BYTES {
        return Err(MadminError::PayloadTooLarge { size_bytes: data.len(), limit_bytes: PAYLOAD_SIZE_MAX_BYTES });
    }
    let header = Header::random(algorithm);
    let key = algorithm.derive_key(password, &header.salt)?;
    let mut ciphertext =
        Vec::with_capacity(HEADER_SIZE_BYTES + dare::sealed_size_bytes(data.len(), dare::PACKAGE_SIZE_BYTES));
    header.write_to(&mut ciphertext);
    algorithm.seal(&key, header.nonce, data, &mut ciphertext);
    Ok(ciphertext)
}

/// Decrypts a payload sealed by madmin-go's `EncryptData` (any of its algorithm ids), by the
/// Python `minio` package, or by [`encrypt_data`].
///
/// Every check that costs nothing (size, header, algorithm id, minimal stream length) runs before
/// the expensive key derivation, so malformed input is turned away cheaply.
pub fn decrypt_data(password: &str, data: &[u8]) -> Result<Vec<u8>, MadminError> {
    if data.len() > ENCRYPTED_SIZE_MAX_BYTES {
        return Err(MadminError::PayloadTooLarge { size_bytes: data.len(), limit_bytes: ENCRYPTED_SIZE_MAX_BYTES });
    }
    let (header, stream) = Header::parse(data)?;
    if stream.len() < dare::TAG_SIZE_BYTES {
        return Err(MadminError::NotAuthentic);
    }
    let key = header.algorithm.derive_key(password, &header.salt)?;
    header.algorithm.open(&key, header.nonce, stream)
}

#[cfg(test)]
mod tests;
