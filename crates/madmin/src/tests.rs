//! Tests of the public API: round trips, madmin-go's own ciphertexts, tampering, truncation,
//! wrong passwords and the size limits.

use super::*;
use crate::dare::{PACKAGE_SIZE_BYTES, TAG_SIZE_BYTES};

const PASSWORD: &str = "minio-secret-key-ü";

const ALL_ALGORITHMS: [Algorithm; 3] =
    [Algorithm::Argon2idAes256Gcm, Algorithm::Argon2idChaCha20Poly1305, Algorithm::Pbkdf2Sha256Aes256Gcm];

fn pattern(size_bytes: usize) -> Vec<u8> {
    (0..size_bytes).map(|index| (index % 251) as u8).collect()
}

fn assert_not_authentic(result: Result<Vec<u8>, MadminError>, what: &str) {
    assert!(matches!(result, Err(MadminError::NotAuthentic)), "{what}: {result:?}");
}

/// `TestDecryptData` of madmin-go's `encrypt_test.go`: ciphertexts produced by Go's `EncryptData`
/// (argon2id, AES-256-GCM), with the plaintexts of its `encryptDataTests`.
const MADMIN_GO_CIPHERTEXTS: [(&str, usize, &str); 4] = [
    (
        "",
        0,
        "828aa81599df0651c0461adb82283e8b89956baee9f6e719947ef9cddc849028001dc9d3ac0938f66b07bacc9751437e1985f8a9763c240e81",
    ),
    (
        "",
        256,
        concat!(
            "1793c71df6647860437134073c15688cbb15961dc0758c7ee1225e66e79c724c00d790dba9c671eae89da2c736d858286ac9bd027abacc6443",
            "0375cd41b63b67c070c7fba475a8dd66ae65ba905176c48cbe6f734fc74df87343d8ccff54bada4aeb0a04bd021633ebe6c4768e23f5dea142",
            "561d4fe3f90ed59d13dc5fb3a585dadec1742325291b9c81692bdd3420b2428127f8195e0ecd9a1c9237712ed67af7339fbbf7ff3ee1c516e1",
            "f81e69d933e057b30997e7274a2c9698e07c39f0e8d6818858f34c8191871b5a52bea9061806bd029024bfc1d9c1f230904968d6c9e10fddcb",
            "c006ba97356ff243570fd96df07dd6894e215a6b24c4ed730369519289ebd877aff6ccbd2265985e4ab1a2b7930bab9cfb767b97348a639ddf",
            "8db81bf5151da7e8f3d9638a1b86eb1dd78cc6a526f10a414c78638f",
        ),
    ),
    (
        r#"xPl.8/rhR"Q_1xLt"#,
        32,
        concat!(
            "b5c016e93b84b473fc8a37af94936563630c36d6df1841d23a86ee51ca161f9e00ac19116b32f643ff6a56a212b265d8c56",
            "195bb0d12ce199e13dfdc5272f80c1564da2c6fc2fa18da91d8062de02af5cdafea491c6f3cae1f",
        ),
    ),
    (
        "7h5oU4$te{;K}fgqlI^]",
        256,
        concat!(
            "c58edf7cfd557b6b655de6f48b1a3049d8d049dadb3a7bfa9ac9ccbb5baf37ec00f83086a26f43b7d6bc9075ad0",
            "38bf5741f118d502ebe94165e4072ba7f98535d6b1e3b6ae67a98115d146d9b4d90e4df4ae82df9cfa17ed7cd42",
            "465181559f7ddf09c98beec521bb4478e0cb73c4e0827af8688ff4e7a07327a10d5a180035e6ddb16d974a85257",
            "981cd9e0360a20f7b4d653190267dfb241148f018ae180568042e864b9e1b5bc05425a3abc2b0324f50c72d5679",
            "8f924405dfc0f8523f4bb564ed65af8e1b1c82a7a0640552ecf81985d95d0993d99172592ddc1393dfa63e8f0b3",
            "d744b2cc4b73384ca4693f0c1aec0e9b00e85f2937e891105d67da8f59c14ca96608e0425c42f9c1e7c2a8b3413",
            "e1381784f9cfe01de7c47cea1f8d7a7d88f5d4aca783cf55332b47f957a6b9a65269d7eb606b877b",
        ),
    ),
];

#[test]
fn decrypts_madmin_go_ciphertexts() {
    for (password, zeros_size_bytes, ciphertext_hex) in MADMIN_GO_CIPHERTEXTS {
        let ciphertext = hex::decode(ciphertext_hex).expect("valid hex");
        let plaintext = decrypt_data(password, &ciphertext).expect("madmin-go's ciphertext decrypts");
        assert_eq!(plaintext, vec![0; zeros_size_bytes], "password {password:?}");
    }
}

#[test]
fn round_trips_with_every_algorithm() {
    for algorithm in ALL_ALGORITHMS {
        let data = pattern(1000);
        let ciphertext = encrypt_data_with(algorithm, PASSWORD, &data).expect("encrypts");
        assert_eq!(ciphertext[format::SALT_SIZE_BYTES], algorithm.id());
        assert_eq!(decrypt_data(PASSWORD, &ciphertext).expect("decrypts"), data, "{algorithm:?}");
    }
}

#[test]
fn default_algorithm_is_argon2id_aes_gcm() {
    let ciphertext = encrypt_data(PASSWORD, b"{\"status\":\"enabled\"}").expect("encrypts");
    assert_eq!(ciphertext[format::SALT_SIZE_BYTES], 0x00);
    assert_eq!(decrypt_data(PASSWORD, &ciphertext).expect("decrypts"), b"{\"status\":\"enabled\"}");
}

#[test]
fn empty_data_round_trips_as_one_final_package() {
    let ciphertext = encrypt_data(PASSWORD, &[]).expect("encrypts");
    assert_eq!(ciphertext.len(), HEADER_SIZE_BYTES + TAG_SIZE_BYTES);
    assert_eq!(decrypt_data(PASSWORD, &ciphertext).expect("decrypts"), Vec::<u8>::new());
}

#[test]
fn data_spanning_several_packages_round_trips() {
    for size_bytes in [PACKAGE_SIZE_BYTES, PACKAGE_SIZE_BYTES + 1, 2 * PACKAGE_SIZE_BYTES, 100 * 1024] {
        let data = pattern(size_bytes);
        let ciphertext = encrypt_data(PASSWORD, &data).expect("encrypts");
        let package_count = size_bytes.div_ceil(PACKAGE_SIZE_BYTES);
        assert_eq!(ciphertext.len(), HEADER_SIZE_BYTES + size_bytes + package_count * TAG_SIZE_BYTES);
        assert_eq!(decrypt_data(PASSWORD, &ciphertext).expect("decrypts"), data, "{size_bytes} bytes");
    }
}

#[test]
fn salt_and_nonce_are_fresh_for_every_payload() {
    let first = encrypt_data(PASSWORD, b"same").expect("encrypts");
    let second = encrypt_data(PASSWORD, b"same").expect("encrypts");
    assert_ne!(first[..HEADER_SIZE_BYTES], second[..HEADER_SIZE_BYTES]);
    assert_ne!(first, second);
}

#[test]
fn wrong_password_fails() {
    for algorithm in ALL_ALGORITHMS {
        let ciphertext = encrypt_data_with(algorithm, PASSWORD, b"secret").expect("encrypts");
        assert_not_authentic(decrypt_data("another-secret-key", &ciphertext), "wrong password");
        assert_not_authentic(decrypt_data("", &ciphertext), "empty password");
    }
}

#[test]
fn tampering_with_any_region_fails() {
    // Two full packages and a short final one.
    let ciphertext = encrypt_data(PASSWORD, &pattern(2 * PACKAGE_SIZE_BYTES + 100)).expect("encrypts");
    let first_package = HEADER_SIZE_BYTES;
    let second_package = first_package + PACKAGE_SIZE_BYTES + TAG_SIZE_BYTES;
    let final_package = second_package + PACKAGE_SIZE_BYTES + TAG_SIZE_BYTES;
    let regions = [
        ("salt", 0),
        ("salt end", format::SALT_SIZE_BYTES - 1),
        ("nonce", format::SALT_SIZE_BYTES + 1),
        ("nonce end", HEADER_SIZE_BYTES - 1),
        ("first package", first_package),
        ("first package tag", second_package - 1),
        ("second package", second_package + 500),
        ("final package", final_package),
        ("final tag", ciphertext.len() - 1),
    ];
    for (region, index) in regions {
        let mut tampered = ciphertext.clone();
        tampered[index] ^= 0x01;
        assert_not_authentic(decrypt_data(PASSWORD, &tampered), region);
    }
}

#[test]
fn tampering_with_the_algorithm_id_fails() {
    let ciphertext = encrypt_data(PASSWORD, b"payload").expect("encrypts");
    let mut tampered = ciphertext.clone();
    // Another valid id derives the key or seals the packages differently.
    for id in [0x01, 0x02] {
        tampered[format::SALT_SIZE_BYTES] = id;
        assert_not_authentic(decrypt_data(PASSWORD, &tampered), "other algorithm id");
    }
    tampered[format::SALT_SIZE_BYTES] = 0x80;
    assert!(matches!(decrypt_data(PASSWORD, &tampered), Err(MadminError::UnknownAlgorithm(0x80))));
}

#[test]
fn truncation_fails() {
    let ciphertext = encrypt_data(PASSWORD, &pattern(PACKAGE_SIZE_BYTES + 10)).expect("encrypts");
    for cut in [0, 1, format::SALT_SIZE_BYTES, HEADER_SIZE_BYTES - 1] {
        assert!(
            matches!(decrypt_data(PASSWORD, &ciphertext[..cut]), Err(MadminError::TruncatedHeader { .. })),
            "cut at {cut}"
        );
    }
    // A header alone, a stream shorter than one tag, a cut at the package boundary and a cut
    // inside the final package.
    let package_boundary = HEADER_SIZE_BYTES + PACKAGE_SIZE_BYTES + TAG_SIZE_BYTES;
    for cut in [HEADER_SIZE_BYTES, HEADER_SIZE_BYTES + 15, package_boundary, ciphertext.len() - 1] {
        assert_not_authentic(decrypt_data(PASSWORD, &ciphertext[..cut]), "truncated stream");
    }
}

#[test]
fn oversized_inputs_are_rejected_before_any_work() {
    let too_large = vec![0; PAYLOAD_SIZE_MAX_BYTES + 1];
    assert!(matches!(
        encrypt_data(PASSWORD, &too_large),
        Err(MadminError::PayloadTooLarge { limit_bytes: PAYLOAD_SIZE_MAX_BYTES, .. })
    ));
    let too_large = vec![0; ENCRYPTED_SIZE_MAX_BYTES + 1];
    assert!(matches!(
        decrypt_data(PASSWORD, &too_large),
        Err(MadminError::PayloadTooLarge { limit_bytes: ENCRYPTED_SIZE_MAX_BYTES, .. })
    ));
}

#[test]
fn largest_payload_round_trips() {
    let data = pattern(PAYLOAD_SIZE_MAX_BYTES);
    let ciphertext = encrypt_data_with(Algorithm::Pbkdf2Sha256Aes256Gcm, PASSWORD, &data).expect("encrypts");
    assert_eq!(ciphertext.len(), ENCRYPTED_SIZE_MAX_BYTES);
    assert_eq!(decrypt_data(PASSWORD, &ciphertext).expect("decrypts"), data);
}
