//! Master keys, object keys and customer keys, and how object keys are sealed.

use super::{SSE_C, SSE_HEADER, SSE_KEY_ID_HEADER, SSE_S3, SSE_SEALED_KEY_HEADER};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use md5_many::{Digest, Md5};
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use std::collections::BTreeMap;

/// Bytes of every key: master, object and customer keys are AES-256 keys.
pub(crate) const KEY_BYTES: usize = 32;
/// Bytes of the random nonce a sealed object key starts with.
const NONCE_BYTES: usize = 12;
/// Bytes of the AEAD tag a sealed object key ends with.
const TAG_BYTES: usize = 16;
/// Longest master key name (MinIO's key names are short identifiers).
const KEY_NAME_BYTES_MAX: usize = 128;

/// Why a master key setting was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyringError {
    /// Not `name:base64` with a 32-byte key; the message says which part is wrong.
    #[error("master key {position}: {why} (expected name:base64 of 32 bytes, as MINIO_KMS_SECRET_KEY)")]
    Malformed {
        /// Which key of the setting (1 is the current one).
        position: usize,
        /// What is wrong with it.
        why: &'static str,
    },
    /// Two keys share a name: an object's key id would be ambiguous.
    #[error("master key name {0:?} is given twice")]
    Duplicate(String),
}

/// Why an encrypted write or read was refused.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum EncryptionError {
    /// SSE-S3 was asked for (or is needed to read) but the server has no master key.
    #[error("server-side encryption needs a master key, and none is configured (CAIRN_KMS_SECRET_KEY)")]
    KmsNotConfigured,
    /// The object key was sealed by a master key this server does not have.
    #[error("the object's key is sealed by master key {0:?}, which this server does not have")]
    MasterKeyUnknown(String),
    /// The object is encrypted with a customer key and the request gives none.
    #[error("the object is stored with a customer key (SSE-C); the request must provide it")]
    CustomerKeyMissing,
    /// The customer key given does not open the object's key.
    #[error("the customer key provided does not match the object's key")]
    CustomerKeyWrong,
    /// A customer key was given for an object not encrypted with one.
    #[error("the object is not encrypted with a customer key; SSE-C parameters do not apply")]
    CustomerKeyNotExpected,
    /// SSE-C headers that S3 refuses: the message says which.
    #[error("{0}")]
    CustomerKeyInvalid(&'static str),
    /// A stored sealed key cannot be read: the record is damaged.
    #[error("the object's sealed key is damaged")]
    Damaged,
}

/// A named master key.
struct MasterKey {
    name: String,
    key: [u8; KEY_BYTES],
}

/// The master keys of SSE-S3: the current one seals new object keys; previous ones
/// still open the object keys they sealed until a rotation re-seals those.
pub struct Keyring {
    current: MasterKey,
    previous: Vec<MasterKey>,
}

impl std::fmt::Debug for Keyring {
    /// Names only: key bytes never reach a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("current", &self.current.name)
            .field("previous", &self.previous.iter().map(|k| &k.name).collect::<Vec<_>>())
            .finish()
    }
}

impl Keyring {
    /// Reads the current key (`name:base64`, MinIO's `MINIO_KMS_SECRET_KEY` format) and
    /// previous keys (the same, comma-separated; may be empty).
    pub fn parse(current: &str, previous: &str) -> Result<Self, KeyringError> {
        let current = parse_master_key(current, 1)?;
        let mut names = vec![current.name.clone()];
        let mut older = Vec::new();
        for (i, text) in previous.split(',').map(str::trim).filter(|t| !t.is_empty()).enumerate() {
            let key = parse_master_key(text, i + 2)?;
            if names.contains(&key.name) {
                return Err(KeyringError::Duplicate(key.name));
            }
            names.push(key.name.clone());
            older.push(key);
        }
        Ok(Self { current, previous: older })
    }

    /// The name of the key new object keys are sealed with.
    pub fn current_name(&self) -> &str {
        &self.current.name
    }

    /// Names of the keys that still open object keys, the current one first.
    pub fn names(&self) -> Vec<&str> {
        std::iter::once(&self.current).chain(&self.previous).map(|k| k.name.as_str()).collect()
    }

    fn find(&self, name: &str) -> Option<&[u8; KEY_BYTES]> {
        std::iter::once(&self.current).chain(&self.previous).find(|k| k.name == name).map(|k| &k.key)
    }
}

fn parse_master_key(text: &str, position: usize) -> Result<MasterKey, KeyringError> {
    let malformed = |why| KeyringError::Malformed { position, why };
    let (name, encoded) = text.trim().split_once(':').ok_or_else(|| malformed("no ':' between name and key"))?;
    let name_ok = |c: char| c.is_ascii_alphanumeric() || "-_.".contains(c);
    if name.is_empty() || name.len() > KEY_NAME_BYTES_MAX || !name.chars().all(name_ok) {
        return Err(malformed("the name must be 1-128 letters, digits, '-', '_' or '.'"));
    }
    let bytes = BASE64.decode(encoded.trim()).map_err(|_| malformed("the key is not base64"))?;
    let key: [u8; KEY_BYTES] = bytes.try_into().map_err(|_| malformed("the key is not 32 bytes"))?;
    Ok(MasterKey { name: name.to_owned(), key })
}

/// The random key of one object version; never stored unsealed, never logged.
#[derive(Clone)]
pub(crate) struct ObjectKey(pub(crate) [u8; KEY_BYTES]);

impl std::fmt::Debug for ObjectKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ObjectKey(..)")
    }
}

/// A client's SSE-C key, checked against the MD5 the client sent with it.
#[derive(Clone)]
pub struct CustomerKey {
    key: [u8; KEY_BYTES],
    md5: String,
}

impl std::fmt::Debug for CustomerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CustomerKey(md5 {})", self.md5)
    }
}

impl CustomerKey {
    /// Reads SSE-C's three headers: the algorithm (only `AES256`), the key (base64 of
    /// 32 bytes) and the key's MD5 (base64), which must match.
    pub fn parse(algorithm: &str, key: &str, md5: &str) -> Result<Self, EncryptionError> {
        if algorithm != "AES256" {
            return Err(EncryptionError::CustomerKeyInvalid(
                "The encryption algorithm specified is not supported: SSE-C takes AES256",
            ));
        }
        let bytes = BASE64.decode(key.trim()).map_err(|_| {
            EncryptionError::CustomerKeyInvalid("The secret key was invalid for the specified algorithm.")
        })?;
        let key: [u8; KEY_BYTES] = bytes.try_into().map_err(|_| {
            EncryptionError::CustomerKeyInvalid("The secret key was invalid for the specified algorithm.")
        })?;
        let digest = BASE64.encode(Md5::digest(key));
        if digest != md5.trim() {
            return Err(EncryptionError::CustomerKeyInvalid(
                "The calculated MD5 hash of the key did not match the hash that was provided.",
            ));
        }
        Ok(Self { key, md5: digest })
    }

    /// The key's MD5 (base64), as responses echo it.
    pub fn key_md5(&self) -> &str {
        &self.md5
    }
}

/// The encryption a write asks for.
#[derive(Debug, Clone)]
pub enum Encryption {
    /// With a fresh object key sealed by the server's current master key.
    SseS3,
    /// With a fresh object key sealed by the client's key.
    SseC(CustomerKey),
}

/// What a sealed object key is bound to: its kind, bucket and key, so that a sealed key
/// copied to another object does not open.
fn associated_data(kind: &str, bucket: &str, key: &str) -> Vec<u8> {
    format!("cairn-sse/{kind}\0{bucket}\0{key}").into_bytes()
}

/// AES-256-GCM keyed with `key`.
fn aead(key: &[u8; KEY_BYTES]) -> LessSafeKey {
    LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key).expect("AES-256-GCM takes a 32-byte key"))
}

fn seal_key(kek: &[u8; KEY_BYTES], object_key: &ObjectKey, associated: &[u8]) -> String {
    let nonce: [u8; NONCE_BYTES] = rand::random();
    let mut sealed = Vec::with_capacity(NONCE_BYTES + KEY_BYTES + TAG_BYTES);
    sealed.extend_from_slice(&nonce);
    sealed.extend_from_slice(&object_key.0);
    let tag = aead(kek)
        .seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(associated),
            &mut sealed[NONCE_BYTES..],
        )
        .expect("32 bytes are far below the AEAD's length limits");
    sealed.extend_from_slice(tag.as_ref());
    BASE64.encode(sealed)
}

/// Opens a sealed object key; None when it is not authentic under `kek`, Err when it is
/// not a sealed key at all.
fn open_key(kek: &[u8; KEY_BYTES], sealed: &str, associated: &[u8]) -> Result<Option<ObjectKey>, EncryptionError> {
    let sealed = BASE64.decode(sealed).map_err(|_| EncryptionError::Damaged)?;
    if sealed.len() != NONCE_BYTES + KEY_BYTES + TAG_BYTES {
        return Err(EncryptionError::Damaged);
    }
    let (nonce, rest) = sealed.split_at(NONCE_BYTES);
    let nonce: [u8; NONCE_BYTES] = nonce.try_into().expect("split at NONCE_BYTES");
    let mut in_out = rest.to_vec();
    let Ok(opened) = aead(kek).open_in_place(Nonce::assume_unique_for_key(nonce), Aad::from(associated), &mut in_out)
    else {
        return Ok(None);
    };
    Ok(Some(ObjectKey(opened.try_into().expect("the sealed key holds exactly one key"))))
}

/// Makes a new object key for a write of `bucket/key` as `request` asks, and records it
/// sealed in `headers` (replacing any encryption headers they carried).
pub(crate) fn seal_new_object_key(
    request: &Encryption,
    keyring: Option<&Keyring>,
    (bucket, key): (&str, &str),
    headers: &mut BTreeMap<String, String>,
) -> Result<ObjectKey, EncryptionError> {
    super::strip_headers(headers);
    let object_key = ObjectKey(rand::random());
    match request {
        Encryption::SseS3 => {
            let keyring = keyring.ok_or(EncryptionError::KmsNotConfigured)?;
            let sealed = seal_key(&keyring.current.key, &object_key, &associated_data(SSE_S3, bucket, key));
            headers.insert(SSE_HEADER.into(), SSE_S3.into());
            headers.insert(SSE_KEY_ID_HEADER.into(), keyring.current.name.clone());
            headers.insert(SSE_SEALED_KEY_HEADER.into(), sealed);
        }
        Encryption::SseC(customer) => {
            let sealed = seal_key(&customer.key, &object_key, &associated_data(SSE_C, bucket, key));
            headers.insert(SSE_HEADER.into(), SSE_C.into());
            headers.insert(SSE_SEALED_KEY_HEADER.into(), sealed);
        }
    }
    Ok(object_key)
}

/// The object key of a stored version of `bucket/key` (None: not encrypted), opened
/// with the master key its headers name or with the customer's key.
pub(crate) fn open_object_key(
    headers: &BTreeMap<String, String>,
    keyring: Option<&Keyring>,
    customer: Option<&CustomerKey>,
    (bucket, key): (&str, &str),
) -> Result<Option<ObjectKey>, EncryptionError> {
    let sealed = || headers.get(SSE_SEALED_KEY_HEADER).ok_or(EncryptionError::Damaged);
    match super::encryption_of(headers) {
        None if customer.is_some() => Err(EncryptionError::CustomerKeyNotExpected),
        None => Ok(None),
        Some(SSE_S3) => {
            if customer.is_some() {
                return Err(EncryptionError::CustomerKeyNotExpected);
            }
            let keyring = keyring.ok_or(EncryptionError::KmsNotConfigured)?;
            let name = headers.get(SSE_KEY_ID_HEADER).ok_or(EncryptionError::Damaged)?;
            let master = keyring.find(name).ok_or_else(|| EncryptionError::MasterKeyUnknown(name.clone()))?;
            let opened = open_key(master, sealed()?, &associated_data(SSE_S3, bucket, key))?;
            // The right master key that does not open it: the record was altered.
            opened.map(Some).ok_or(EncryptionError::Damaged)
        }
        Some(SSE_C) => {
            let customer = customer.ok_or(EncryptionError::CustomerKeyMissing)?;
            let opened = open_key(&customer.key, sealed()?, &associated_data(SSE_C, bucket, key))?;
            opened.map(Some).ok_or(EncryptionError::CustomerKeyWrong)
        }
        Some(_) => Err(EncryptionError::Damaged),
    }
}

/// The headers of an SSE-S3 version re-sealed under the current master key, or None
/// when there is nothing to do (not SSE-S3, or sealed by the current key already).
pub(crate) fn reseal_headers(
    headers: &BTreeMap<String, String>,
    keyring: &Keyring,
    (bucket, key): (&str, &str),
) -> Result<Option<BTreeMap<String, String>>, EncryptionError> {
    if super::encryption_of(headers) != Some(SSE_S3) || headers.get(SSE_KEY_ID_HEADER) == Some(&keyring.current.name) {
        return Ok(None);
    }
    let object_key = open_object_key(headers, Some(keyring), None, (bucket, key))?.ok_or(EncryptionError::Damaged)?;
    let mut resealed = headers.clone();
    let sealed = seal_key(&keyring.current.key, &object_key, &associated_data(SSE_S3, bucket, key));
    resealed.insert(SSE_KEY_ID_HEADER.into(), keyring.current.name.clone());
    resealed.insert(SSE_SEALED_KEY_HEADER.into(), sealed);
    Ok(Some(resealed))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_text(name: &str, byte: u8) -> String {
        format!("{name}:{}", BASE64.encode([byte; KEY_BYTES]))
    }

    #[test]
    fn keyrings_take_minio_key_settings_and_refuse_bad_ones() {
        let ring = Keyring::parse(&key_text("cairn-2", 2), &key_text("cairn-1", 1)).expect("valid");
        assert_eq!(ring.names(), ["cairn-2", "cairn-1"]);
        assert!(!format!("{ring:?}").contains(&BASE64.encode([2u8; KEY_BYTES])), "no key bytes in Debug");
        let malformed = |text: &str| Keyring::parse(text, "").expect_err(text);
        assert!(matches!(malformed("no-colon"), KeyringError::Malformed { position: 1, .. }));
        assert!(matches!(malformed("a:not base64!"), KeyringError::Malformed { .. }));
        assert!(matches!(malformed(&format!("a:{}", BASE64.encode([0u8; 16]))), KeyringError::Malformed { .. }));
        assert!(matches!(malformed(&key_text("bad name", 1)), KeyringError::Malformed { .. }));
        assert_eq!(
            Keyring::parse(&key_text("a", 1), &key_text("a", 2)).expect_err("duplicate"),
            KeyringError::Duplicate("a".into())
        );
    }

    #[test]
    fn sse_s3_keys_open_only_for_their_object_and_survive_rotation() {
        let old = Keyring::parse(&key_text("k1", 1), "").expect("valid");
        let mut headers = BTreeMap::new();
        let key = seal_new_object_key(&Encryption::SseS3, Some(&old), ("b", "k"), &mut headers).expect("sealed");
        assert_eq!(headers[SSE_KEY_ID_HEADER], "k1");
        let opened = open_object_key(&headers, Some(&old), None, ("b", "k")).expect("opens").expect("encrypted");
        assert_eq!(opened.0, key.0);
        assert_eq!(
            open_object_key(&headers, Some(&old), None, ("b", "other")).expect_err("refused"),
            EncryptionError::Damaged
        );
        assert_eq!(
            open_object_key(&headers, None, None, ("b", "k")).expect_err("refused"),
            EncryptionError::KmsNotConfigured
        );

        let rotated = Keyring::parse(&key_text("k2", 2), &key_text("k1", 1)).expect("valid");
        let resealed = reseal_headers(&headers, &rotated, ("b", "k")).expect("reseals").expect("changed");
        assert_eq!(resealed[SSE_KEY_ID_HEADER], "k2");
        assert!(reseal_headers(&resealed, &rotated, ("b", "k")).expect("ok").is_none(), "already current");
        let only_new = Keyring::parse(&key_text("k2", 2), "").expect("valid");
        let opened = open_object_key(&resealed, Some(&only_new), None, ("b", "k")).expect("opens").expect("some");
        assert_eq!(opened.0, key.0, "the same object key, sealed anew");
        assert_eq!(
            open_object_key(&headers, Some(&only_new), None, ("b", "k")).expect_err("refused"),
            EncryptionError::MasterKeyUnknown("k1".into())
        );
    }

    #[test]
    fn sse_c_needs_the_same_customer_key() {
        let customer = |byte: u8| {
            let md5 = BASE64.encode(Md5::digest([byte; KEY_BYTES]));
            CustomerKey::parse("AES256", &BASE64.encode([byte; KEY_BYTES]), &md5).expect("valid")
        };
        let mut headers = BTreeMap::new();
        let key = seal_new_object_key(&Encryption::SseC(customer(7)), None, ("b", "k"), &mut headers).expect("ok");
        assert!(!headers.values().any(|v| v.contains(&BASE64.encode([7u8; KEY_BYTES]))), "the key is not stored");
        let opened = open_object_key(&headers, None, Some(&customer(7)), ("b", "k")).expect("ok").expect("some");
        assert_eq!(opened.0, key.0);
        let wrong = open_object_key(&headers, None, Some(&customer(8)), ("b", "k"));
        assert_eq!(wrong.expect_err("refused"), EncryptionError::CustomerKeyWrong);
        assert_eq!(
            open_object_key(&headers, None, None, ("b", "k")).expect_err("refused"),
            EncryptionError::CustomerKeyMissing
        );
        let plain = BTreeMap::new();
        let given = open_object_key(&plain, None, Some(&customer(7)), ("b", "k"));
        assert_eq!(given.expect_err("refused"), EncryptionError::CustomerKeyNotExpected);
        let key_b64 = BASE64.encode([7u8; KEY_BYTES]);
        assert!(CustomerKey::parse("AES256", &key_b64, "bm90IHRoZSBtZDU=").is_err(), "wrong MD5");
        assert!(CustomerKey::parse("aws:kms", &key_b64, customer(7).key_md5()).is_err(), "wrong algorithm");
        assert!(CustomerKey::parse("AES256", "c2hvcnQ=", "x").is_err(), "short key");
    }
}
