//! The algorithm id byte of the payload header: which key derivation and which AEAD sealed it.

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::KeyInit;
use chacha20poly1305::ChaCha20Poly1305;

use crate::dare::{PACKAGE_SIZE_BYTES, STREAM_NONCE_SIZE_BYTES, Stream};
use crate::error::MadminError;
use crate::kdf::{self, KEY_SIZE_BYTES};

/// A key derivation and AEAD pair that madmin-go's `EncryptData` can choose, with the id byte
/// it writes into the payload header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// Argon2id key, AES-256-GCM packages (id `0x00`): madmin-go's choice on CPUs with AES
    /// instructions, and the only id the Python `minio` package writes.
    Argon2idAes256Gcm,
    /// Argon2id key, ChaCha20-Poly1305 packages (id `0x01`): madmin-go's choice on CPUs without
    /// AES instructions.
    Argon2idChaCha20Poly1305,
    /// PBKDF2-HMAC-SHA256 key, AES-256-GCM packages (id `0x02`): madmin-go's choice in FIPS mode.
    Pbkdf2Sha256Aes256Gcm,
}

impl Algorithm {
    /// The id byte written after the salt (madmin-go's `argon2idAESGCM`,
    /// `argon2idChaCHa20Poly1305` and `pbkdf2AESGCM`).
    pub const fn id(self) -> u8 {
        match self {
            Self::Argon2idAes256Gcm => 0x00,
            Self::Argon2idChaCha20Poly1305 => 0x01,
            Self::Pbkdf2Sha256Aes256Gcm => 0x02,
        }
    }

    /// The algorithm named by a header's id byte.
    pub const fn from_id(id: u8) -> Result<Self, MadminError> {
        match id {
            0x00 => Ok(Self::Argon2idAes256Gcm),
            0x01 => Ok(Self::Argon2idChaCha20Poly1305),
            0x02 => Ok(Self::Pbkdf2Sha256Aes256Gcm),
            unknown => Err(MadminError::UnknownAlgorithm(unknown)),
        }
    }

    /// Derives the AEAD key from the caller's password (their secret key) and the payload's salt.
    pub(crate) fn derive_key(self, password: &str, salt: &[u8]) -> Result<[u8; KEY_SIZE_BYTES], MadminError> {
        match self {
            Self::Argon2idAes256Gcm | Self::Argon2idChaCha20Poly1305 => kdf::argon2id(password.as_bytes(), salt),
            Self::Pbkdf2Sha256Aes256Gcm => Ok(kdf::pbkdf2_sha256(password.as_bytes(), salt)),
        }
    }

    /// Appends the DARE stream sealing `plaintext` under `key` and `nonce` to `out`.
    pub(crate) fn seal(
        self,
        key: &[u8; KEY_SIZE_BYTES],
        nonce: [u8; STREAM_NONCE_SIZE_BYTES],
        plaintext: &[u8],
        out: &mut Vec<u8>,
    ) {
        match self {
            Self::Argon2idAes256Gcm | Self::Pbkdf2Sha256Aes256Gcm => {
                let cipher = Aes256Gcm::new(&(*key).into());
                Stream::new(&cipher, nonce, PACKAGE_SIZE_BYTES, &[]).seal(plaintext, out);
            }
            Self::Argon2idChaCha20Poly1305 => {
                let cipher = ChaCha20Poly1305::new(&(*key).into());
                Stream::new(&cipher, nonce, PACKAGE_SIZE_BYTES, &[]).seal(plaintext, out);
            }
        }
    }

    /// Opens the DARE stream `sealed` under `key` and `nonce`.
    pub(crate) fn open(
        self,
        key: &[u8; KEY_SIZE_BYTES],
        nonce: [u8; STREAM_NONCE_SIZE_BYTES],
        sealed: &[u8],
    ) -> Result<Vec<u8>, MadminError> {
        match self {
            Self::Argon2idAes256Gcm | Self::Pbkdf2Sha256Aes256Gcm => {
                let cipher = Aes256Gcm::new(&(*key).into());
                Stream::new(&cipher, nonce, PACKAGE_SIZE_BYTES, &[]).open(sealed)
            }
            Self::Argon2idChaCha20Poly1305 => {
                let cipher = ChaCha20Poly1305::new(&(*key).into());
                Stream::new(&cipher, nonce, PACKAGE_SIZE_BYTES, &[]).open(sealed)
            }
        }
    }
}
