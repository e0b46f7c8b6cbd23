//! Fuzz target for madmin payload decryption (admin request bodies from any client
//! that can reach the admin API): whatever the bytes, decryption never panics, holds
//! memory in proportion to the payload (plus the key derivation's fixed working area),
//! and only the untouched payload decrypts, to the original plaintext.
//! Case counts: `CAIRN_FUZZ_CASES`.

use cairn_fuzz::memory::within;
use cairn_fuzz::mutate::mutated;
use cairn_madmin::{Algorithm, MadminError, decrypt_data, encrypt_data_with};
use proptest::prelude::*;

/// Cases per target in a normal test run: each derives a key (PBKDF2, 8192 rounds).
const CASES: u32 = 256;
/// A key derivation costs about this many cases of a pure parser.
const CASE_COST: u32 = 50;
/// Argon2id's working memory, which a header naming it makes decryption allocate.
const ARGON2ID_MEMORY_BYTES: usize = 64 << 20;
const PASSWORD: &str = "fuzz-secret-key";

/// Plaintexts around the 16 KiB package boundary.
fn plaintexts() -> Vec<Vec<u8>> {
    [0usize, 1, 300, 16 * 1024 - 1, 16 * 1024, 16 * 1024 + 1, 40 * 1024]
        .iter()
        .map(|&len| (0..len).map(|i| (i % 251) as u8).collect())
        .collect()
}

#[test]
fn fuzz_madmin_decryption() {
    // PBKDF2 payloads keep each case cheap; an edit of the algorithm byte also reaches
    // argon2id now and then, and a random header the unknown-algorithm path.
    let plaintexts = plaintexts();
    let sealed: Vec<Vec<u8>> = plaintexts
        .iter()
        .map(|plain| encrypt_data_with(Algorithm::Pbkdf2Sha256Aes256Gcm, PASSWORD, plain).expect("seal"))
        .collect();
    let inputs = prop_oneof![
        9 => mutated(sealed.clone()),
        1 => proptest::collection::vec(any::<u8>(), 0..100),
    ];
    cairn_fuzz::run_costing("madmin_decrypt", CASES, CASE_COST, inputs, |bytes| {
        let opened = within(bytes.len(), ARGON2ID_MEMORY_BYTES, || decrypt_data(PASSWORD, &bytes))?;
        match (sealed.iter().position(|s| *s == bytes), opened) {
            (Some(index), Ok(plain)) => prop_assert_eq!(&plain, &plaintexts[index]),
            (Some(_), Err(error)) => return Err(TestCaseError::fail(format!("a genuine payload failed: {error}"))),
            (None, Ok(plain)) => {
                return Err(TestCaseError::fail(format!("an edited payload decrypted to {} bytes", plain.len())));
            }
            (None, Err(MadminError::KeyDerivation(error))) => {
                return Err(TestCaseError::fail(format!("key derivation failed: {error}")));
            }
            (None, Err(_)) => {}
        }
        Ok(())
    });
}
