//! DARE 2.0 against sio-go's own test vectors (`test_vectors.json`), which exercise package
//! boundaries with tiny packages, plus structural attacks on multi-package streams.
//!
//! sio-go publishes vectors for AES-128-GCM only among the 12-byte-nonce AEADs; the stream logic
//! is the same for every AEAD, so they check the layout that AES-256-GCM and ChaCha20-Poly1305
//! use too.

use aes_gcm::Aes128Gcm;
use aes_gcm::aead::KeyInit;

use super::*;

/// One entry of sio-go's `test_vectors.json`, all fields hex.
struct SioVector {
    package_size_bytes: usize,
    key: &'static str,
    nonce: &'static str,
    associated_data: &'static str,
    plaintext: &'static str,
    ciphertext: &'static str,
}

const SIO_AES_128_GCM_VECTORS: &[SioVector] = &[
    SioVector {
        package_size_bytes: 16,
        key: "00000000000000000000000000000000",
        nonce: "0000000000000000",
        associated_data: "",
        plaintext: "",
        ciphertext: "e0247a864e783cecb1f7996c13cd3f64",
    },
    SioVector {
        package_size_bytes: 16,
        key: "10000000000000000000000000000000",
        nonce: "0000000000000000",
        associated_data: "",
        plaintext: "",
        ciphertext: "0ea5336db7013554c07aa43b369e5655",
    },
    SioVector {
        package_size_bytes: 16,
        key: "10000000000000000000000000000000",
        nonce: "1000000000000000",
        associated_data: "",
        plaintext: "",
        ciphertext: "a52763497d2e64ee49bf4c72dc6881e7",
    },
    SioVector {
        package_size_bytes: 16,
        key: "10000000000000000000000000000000",
        nonce: "1000000000000000",
        associated_data: "00",
        plaintext: "",
        ciphertext: "2d9ede532b1f5f034e22375d816f76c2",
    },
    SioVector {
        package_size_bytes: 16,
        key: "10000000000000000000000000000000",
        nonce: "1000000000000000",
        associated_data: "00",
        plaintext: "00",
        ciphertext: "61ed193d12a2adf6f1c41f31de4ead6c5c",
    },
    SioVector {
        package_size_bytes: 16,
        key: "20000000000000000000000000000000",
        nonce: "1000000000000000",
        associated_data: "00",
        plaintext: "00",
        ciphertext: "4b6e93acd3e4602b9c1ad49da985d1f872",
    },
    SioVector {
        package_size_bytes: 16,
        key: "00000000000000000000000000000000",
        nonce: "0000000000000000",
        associated_data: "0000000000000000",
        plaintext: "0000000000000000",
        ciphertext: "4661d681f92680d7a307c7a036700edde4697a1f3ba7e01b",
    },
    SioVector {
        package_size_bytes: 16,
        key: "00000000000000000000000000000001",
        nonce: "2000000000000000",
        associated_data: "1000000000000000",
        plaintext: "00000000000000000000000000000000",
        ciphertext: "8501dcfa461a0860ef9933655b1e59a9e7db1ed363b6ff80f219ca986dca9ce2",
    },
    SioVector {
        package_size_bytes: 16,
        key: "0a7a6d49e4ad042f1e1ffa168849d651",
        nonce: "4a9ba500be169ab3",
        associated_data: "d40703848d887a01664c30734fa370581c5f8f6d0ea7bfdd",
        plaintext: "424d6d60d7e08b3b41e968fc4557b93c",
        ciphertext: "aa4b4ca42d587b98d0d5f009c0efbc4fcaaefdc1c79a3cfe07801ed8c708d259",
    },
    SioVector {
        package_size_bytes: 16,
        key: "10000000000000000000000000000000",
        nonce: "0000000000000002",
        associated_data: "",
        plaintext: "0000000000000000000000000000000000",
        ciphertext: "691deb7b9ccbee91f48d12c7ad5fe3cd4e1e5e7d394f06b91228ec9a5dd2456ac7de9502a0b4010fb1ee1db94e940458fb",
    },
    SioVector {
        package_size_bytes: 16,
        key: "20000000000000000000000000000000",
        nonce: "2000000000000000",
        associated_data: "00",
        plaintext: "0000000000000000000000000000000000000000000000000000000000000000",
        ciphertext: "f58d8fef7ac7782a4361a79c07f5e6c4672d8a45e6cb9ef67cb7177897358deb8d338d313d44f78e0b68a3723d7ca0fe5f62aa8af0a72e508f5d5f8491ecedb2",
    },
    SioVector {
        package_size_bytes: 16,
        key: "000102030405060708090a0b0c0d0e0f",
        nonce: "0001020304050607",
        associated_data: "0102030405060708090a0b0c0d0e0f10",
        plaintext: "0000000000000000000000000000000000000000000000000000000000000000",
        ciphertext: "beffe57efbdadb693b5545d58454ba746c5362c6f37b65da457d85bfe6af8972cfea267b03f14aedf25e7501e88c0d79f5440d0ac49e5c4fdaab4dfac9aec4d3",
    },
    SioVector {
        package_size_bytes: 17,
        key: "67fc3ffd5353a432a6cbc982007606c8",
        nonce: "6958a70a975e32c6",
        associated_data: "",
        plaintext: "",
        ciphertext: "076243570112d32362c1d9e4ab4096ca",
    },
    SioVector {
        package_size_bytes: 17,
        key: "31dd758d120fd5d30063921a21f723be",
        nonce: "d3794fe387018e32",
        associated_data: "1d838b6e861ea7576de110e08818de82a27337a99db7b95aa95c3347971ad4cfa0ef0960d6645f5a64f88c7d",
        plaintext: "d0ae0d85e93ed6be853ded2031643116a03215b4fda224d2986d7233039aa47e91b686f4",
        ciphertext: "a6fe911b94e0b25a25bf6da71f28ad6a6b6920be01589e9194226f77c164606545d5cbdb76c99415b468c54517f5a8bc8dc8ac13b1b4285fe36f37f7884d5e4bfb32ecef56b4026bf02bfb1d4fce222e01ef9db9",
    },
];

fn decode(hex_text: &str) -> Vec<u8> {
    hex::decode(hex_text).expect("test vectors are valid hex")
}

fn cipher(key_hex: &str) -> Aes128Gcm {
    Aes128Gcm::new_from_slice(&decode(key_hex)).expect("test vector keys are 16 bytes")
}

fn stream_nonce(nonce_hex: &str) -> [u8; STREAM_NONCE_SIZE_BYTES] {
    decode(nonce_hex).try_into().expect("test vector nonces are 8 bytes")
}

#[test]
fn seal_matches_sio_vectors() {
    for vector in SIO_AES_128_GCM_VECTORS {
        let cipher = cipher(vector.key);
        let stream = Stream::new(
            &cipher,
            stream_nonce(vector.nonce),
            vector.package_size_bytes,
            &decode(vector.associated_data),
        );
        let mut sealed = Vec::new();
        stream.seal(&decode(vector.plaintext), &mut sealed);
        assert_eq!(hex::encode(&sealed), vector.ciphertext, "sealing {}", vector.plaintext);
        assert_eq!(sealed.len(), sealed_size_bytes(vector.plaintext.len() / 2, vector.package_size_bytes));
    }
}

#[test]
fn open_matches_sio_vectors() {
    for vector in SIO_AES_128_GCM_VECTORS {
        let cipher = cipher(vector.key);
        let stream = Stream::new(
            &cipher,
            stream_nonce(vector.nonce),
            vector.package_size_bytes,
            &decode(vector.associated_data),
        );
        let plaintext = stream.open(&decode(vector.ciphertext)).expect("sio-go's vectors are authentic");
        assert_eq!(hex::encode(plaintext), vector.plaintext, "opening {}", vector.ciphertext);
    }
}

/// Small packages so that a short plaintext spans several of them.
const TEST_PACKAGE_SIZE_BYTES: usize = 16;

fn test_stream(cipher: &Aes128Gcm) -> Stream<'_, Aes128Gcm> {
    Stream::new(cipher, [7; STREAM_NONCE_SIZE_BYTES], TEST_PACKAGE_SIZE_BYTES, &[])
}

fn test_cipher() -> Aes128Gcm {
    Aes128Gcm::new(&[9; 16].into())
}

fn sealed_packages(plaintext_size_bytes: usize) -> Vec<u8> {
    let cipher = test_cipher();
    let plaintext: Vec<u8> = (0..plaintext_size_bytes).map(|index| index as u8).collect();
    let mut sealed = Vec::new();
    test_stream(&cipher).seal(&plaintext, &mut sealed);
    sealed
}

#[test]
fn round_trips_around_package_boundaries() {
    let cipher = test_cipher();
    for size_bytes in [0, 1, 15, 16, 17, 31, 32, 33, 48, 100] {
        let plaintext: Vec<u8> = (0..size_bytes).map(|index| index as u8).collect();
        let mut sealed = Vec::new();
        test_stream(&cipher).seal(&plaintext, &mut sealed);
        assert_eq!(sealed.len(), sealed_size_bytes(size_bytes, TEST_PACKAGE_SIZE_BYTES));
        assert_eq!(test_stream(&cipher).open(&sealed).expect("authentic stream"), plaintext);
    }
}

#[test]
fn dropping_the_final_package_fails() {
    // 40 bytes: two full packages and a final one of 8 bytes; cutting after the second full
    // package leaves a stream whose last package is not marked final.
    let sealed = sealed_packages(40);
    let sealed_package_size_bytes = TEST_PACKAGE_SIZE_BYTES + TAG_SIZE_BYTES;
    let cipher = test_cipher();
    for cut in [sealed_package_size_bytes, 2 * sealed_package_size_bytes] {
        assert!(matches!(test_stream(&cipher).open(&sealed[..cut]), Err(MadminError::NotAuthentic)));
    }
}

#[test]
fn reordering_packages_fails() {
    let mut sealed = sealed_packages(40);
    let sealed_package_size_bytes = TEST_PACKAGE_SIZE_BYTES + TAG_SIZE_BYTES;
    let (first, rest) = sealed.split_at_mut(sealed_package_size_bytes);
    first.swap_with_slice(&mut rest[..sealed_package_size_bytes]);
    assert!(matches!(test_stream(&test_cipher()).open(&sealed), Err(MadminError::NotAuthentic)));
}

#[test]
fn appending_data_fails() {
    let cipher = test_cipher();
    for extra in [&[0_u8][..], &[0; TAG_SIZE_BYTES], &[0; TEST_PACKAGE_SIZE_BYTES + TAG_SIZE_BYTES]] {
        let mut sealed = sealed_packages(32);
        sealed.extend_from_slice(extra);
        assert!(matches!(test_stream(&cipher).open(&sealed), Err(MadminError::NotAuthentic)));
    }
}

#[test]
fn every_truncation_fails() {
    let sealed = sealed_packages(40);
    let cipher = test_cipher();
    for cut in 0..sealed.len() {
        assert!(matches!(test_stream(&cipher).open(&sealed[..cut]), Err(MadminError::NotAuthentic)), "cut at {cut}");
    }
}

#[test]
fn every_bit_flip_fails() {
    let sealed = sealed_packages(40);
    let cipher = test_cipher();
    for index in 0..sealed.len() {
        let mut tampered = sealed.clone();
        tampered[index] ^= 0x01;
        assert!(matches!(test_stream(&cipher).open(&tampered), Err(MadminError::NotAuthentic)), "byte {index}");
    }
}
