//! Encryption at rest: SSE-S3 (object keys sealed by the server's master key) and SSE-C
//! (object keys sealed by the client's key, which is never stored).
//!
//! Every encrypted object version has its own random 256-bit object key. The key is
//! sealed (AES-256-GCM, random nonce, bound to the bucket and key by the associated
//! data) and kept with the version's headers under internal names that are never sent
//! to clients ([`SSE_HEADER`] and friends). Each part's data, after compression, is cut
//! into packages of [`PACKAGE_BYTES`], each sealed alone with a key derived from the
//! object key and a salt fresh at every write of the part (`PartEncryption`), and the
//! package's number as the nonce: a ranged read opens only the packages it needs, and
//! a package moved, dropped or altered fails to open.
//!
//! Rotating the master key re-seals object keys (a metadata change); the data stays.

mod keys;
mod packages;

pub use keys::{CustomerKey, Encryption, EncryptionError, Keyring, KeyringError};
pub(crate) use keys::{ObjectKey, open_object_key, reseal_headers, seal_new_object_key};
pub(crate) use packages::{PackageOpener, PartCipher, encrypting, plan};

/// Internal header naming how a version is encrypted: [`SSE_S3`] or [`SSE_C`].
pub const SSE_HEADER: &str = "x-cairn-sse";
/// Internal header naming the master key that sealed an SSE-S3 object key.
pub const SSE_KEY_ID_HEADER: &str = "x-cairn-sse-key-id";
/// Internal header holding the sealed object key (base64 of nonce, ciphertext and tag).
pub const SSE_SEALED_KEY_HEADER: &str = "x-cairn-sse-sealed-key";
/// [`SSE_HEADER`] of an object encrypted with a master key.
pub const SSE_S3: &str = "S3";
/// [`SSE_HEADER`] of an object encrypted with a customer's key.
pub const SSE_C: &str = "C";

/// Removes every internal encryption header (a copy's target gets its own).
pub fn strip_headers(headers: &mut std::collections::BTreeMap<String, String>) {
    for name in [SSE_HEADER, SSE_KEY_ID_HEADER, SSE_SEALED_KEY_HEADER] {
        headers.remove(name);
    }
}

/// How a stored version is encrypted, from its headers.
pub fn encryption_of(headers: &std::collections::BTreeMap<String, String>) -> Option<&str> {
    headers.get(SSE_HEADER).map(String::as_str)
}
