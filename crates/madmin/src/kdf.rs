//! Password-based key derivation with madmin-go's fixed parameters.
//!
//! The parameters are not carried in the payload (only the salt is), so they must match
//! madmin-go's constants (`argon2idTime`, `argon2idMemory`, `argon2idThreads`, `pbkdf2Cost`)
//! exactly, or no key derived here would open a payload sealed there.

use std::sync::{Mutex, PoisonError};

use argon2::{Argon2, Params, Version};
use sha2::Sha256;

use crate::error::MadminError;

/// Length of the derived AEAD key: AES-256 and ChaCha20 both take 32 bytes.
pub(crate) const KEY_SIZE_BYTES: usize = 32;

/// Argon2id passes over memory (madmin-go's `argon2idTime`).
const ARGON2ID_TIME_COST: u32 = 1;

/// Argon2id working memory in KiB, 64 MiB (madmin-go's `argon2idMemory`).
const ARGON2ID_MEMORY_KIB: u32 = 64 * 1024;

/// Argon2id lanes (madmin-go's `argon2idThreads`); part of the hash's definition, so it must match
/// even though the lanes are computed one after another here.
const ARGON2ID_LANES: u32 = 4;

/// PBKDF2-HMAC-SHA256 iterations of madmin-go's FIPS mode (`pbkdf2Cost`).
const PBKDF2_ITERATIONS: u32 = 8192;

/// Serialises argon2id derivations so that concurrent admin requests hold at most one
/// 64 MiB working area at a time, as madmin-go's `argon2Mu` does; more would only compete for
/// the same cores.
static ARGON2ID_LOCK: Mutex<()> = Mutex::new(());

/// The AEAD key for `password` and `salt` under argon2id (version 0x13).
pub(crate) fn argon2id(password: &[u8], salt: &[u8]) -> Result<[u8; KEY_SIZE_BYTES], MadminError> {
    let params = Params::new(ARGON2ID_MEMORY_KIB, ARGON2ID_TIME_COST, ARGON2ID_LANES, Some(KEY_SIZE_BYTES))
        .map_err(MadminError::KeyDerivation)?;
    let argon2 = Argon2::new(argon2::Algorithm::Argon2id, Version::V0x13, params);
    let mut key = [0; KEY_SIZE_BYTES];
    // The lock guards no data, so a panic in another derivation leaves nothing inconsistent.
    let _guard = ARGON2ID_LOCK.lock().unwrap_or_else(PoisonError::into_inner);
    argon2.hash_password_into(password, salt, &mut key).map_err(MadminError::KeyDerivation)?;
    Ok(key)
}

/// The AEAD key for `password` and `salt` under PBKDF2-HMAC-SHA256 (madmin-go's FIPS mode).
pub(crate) fn pbkdf2_sha256(password: &[u8], salt: &[u8]) -> [u8; KEY_SIZE_BYTES] {
    let mut key = [0; KEY_SIZE_BYTES];
    pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, PBKDF2_ITERATIONS, &mut key);
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Computed with Python's `hashlib.pbkdf2_hmac("sha256", b"password", b"salt" * 8, 8192, 32)`.
    #[test]
    fn pbkdf2_matches_reference() {
        let key = pbkdf2_sha256(b"password", &b"salt".repeat(8));
        assert_eq!(hex::encode(key), PBKDF2_REFERENCE_KEY_HEX);
    }

    const PBKDF2_REFERENCE_KEY_HEX: &str = "30a442c8225d124e7e45901d35f4e9cbda7cebf7a09b819805083dc3d0eb61b2";

    /// Computed with Python's `argon2.low_level.hash_secret_raw` (argon2-cffi) with madmin-go's
    /// parameters: time 1, memory 65536 KiB, parallelism 4, 32 bytes, type ID, version 19.
    #[test]
    fn argon2id_matches_reference() {
        let key = argon2id(b"password", &b"salt".repeat(8)).expect("valid argon2id inputs");
        assert_eq!(hex::encode(key), ARGON2ID_REFERENCE_KEY_HEX);
    }

    const ARGON2ID_REFERENCE_KEY_HEX: &str = "c47ed90e9be47ea38888101915c72646882bf9f051c90f7ea652b8d331daed28";
}
