//! The stored layout of an encrypted part: packages of [`PACKAGE_BYTES`] of the part's
//! data, each `ciphertext || tag`, sealed with the part's key and the package's number
//! as the nonce. A part is the only stream a part key ever seals (its salt is fresh at
//! every write), so (key, nonce) pairs never repeat.

use super::keys::{KEY_BYTES, ObjectKey};
use crate::body::{BlockReader, Body, BodyCheck};
use crate::config::OBJECT_SIZE_BYTES_MAX;
use crate::{ObjectError, Result};
use bytes::{Bytes, BytesMut};
use cairn_meta::{Cipher, PACKAGE_TAG_BYTES, PartEncryption};
use hmac::{Hmac, Mac};
use md5_many::{Digest, Md5};
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use sha2::Sha256;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// Plain bytes per package: small enough that a ranged read decrypts little it does not
/// send, large enough that tags cost 0.02 % (MinIO's DARE packages are 64 KiB too).
pub(crate) const PACKAGE_BYTES: usize = 64 << 10;
/// Plain bytes sealed per job on the CPU pool: 16 packages, so that handing work to the
/// pool costs little next to the work.
const SEAL_JOB_BYTES: usize = 16 * PACKAGE_BYTES;
/// What the part key derivation mixes in besides the salt (versioned, so that a future
/// layout derives other keys).
const PART_KEY_CONTEXT: &[u8] = b"cairn-sse part key v1";

/// The AEAD of one part (AES-256-GCM), keyed with the part's key.
#[derive(Clone)]
pub(crate) struct PartCipher(Arc<LessSafeKey>);

impl PartCipher {
    /// A new part's cipher and how to find it again: a fresh salt.
    pub(crate) fn new_part(object_key: &ObjectKey) -> (Self, PartEncryption) {
        let encryption =
            PartEncryption { cipher: Cipher::Aes256Gcm, package_bytes: PACKAGE_BYTES as u32, salt: rand::random() };
        (Self::of_part(object_key, &encryption), encryption)
    }

    /// The cipher of a stored part.
    pub(crate) fn of_part(object_key: &ObjectKey, encryption: &PartEncryption) -> Self {
        let mut mac =
            <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(&object_key.0).expect("HMAC takes any key length");
        mac.update(PART_KEY_CONTEXT);
        mac.update(&encryption.salt);
        let part_key: [u8; KEY_BYTES] = mac.finalize().into_bytes().into();
        let key = UnboundKey::new(&AES_256_GCM, &part_key).expect("AES-256-GCM takes a 32-byte key");
        Self(Arc::new(LessSafeKey::new(key)))
    }

    /// The nonce of package number `package`: the number, big-endian, then zeros.
    fn nonce(package: u64) -> Nonce {
        let mut nonce = [0u8; 12];
        nonce[..8].copy_from_slice(&package.to_be_bytes());
        Nonce::assume_unique_for_key(nonce)
    }

    /// Appends package number `package`, sealed, to `out`.
    fn seal_into(&self, package: u64, plain: &[u8], out: &mut BytesMut) {
        let start = out.len();
        out.extend_from_slice(plain);
        let tag = self
            .0
            .seal_in_place_separate_tag(Self::nonce(package), Aad::empty(), &mut out[start..])
            .expect("a package is far below the AEAD's length limits");
        out.extend_from_slice(tag.as_ref());
    }

    /// Opens package number `package` (its ciphertext and tag).
    fn open(&self, package: u64, sealed: &[u8]) -> Result<Bytes> {
        let plain_len = sealed.len().checked_sub(PACKAGE_TAG_BYTES as usize).ok_or_else(not_authentic)?;
        let mut plain = BytesMut::from(sealed);
        self.0.open_in_place(Self::nonce(package), Aad::empty(), &mut plain[..]).map_err(|_| not_authentic())?;
        plain.truncate(plain_len);
        Ok(plain.freeze())
    }
}

fn not_authentic() -> ObjectError {
    // Bitrot hashes passed, so these bytes are what was written: a wrong key or tampering.
    ObjectError::Unrecoverable("an encrypted package is not authentic".into())
}

/// The plain body's size and digests, as an encrypting stream that hashed it found them.
pub(crate) struct Plain {
    pub(crate) size: u64,
    pub(crate) md5: [u8; 16],
    pub(crate) checksums: BTreeMap<String, String>,
}

/// The outcome of an encrypting body, filled when its stream ends (or fails): the plain
/// body's digests when it was asked to hash, else None.
pub(crate) type SealedSlot = Arc<Mutex<Option<Result<Option<Plain>>>>>;

struct SealState {
    reader: BlockReader,
    cipher: PartCipher,
    /// The digests of the plain body, when this stream computes them.
    hashing: Option<(Md5, Box<dyn BodyCheck>)>,
    next_package: u64,
    slot: SealedSlot,
}

/// Wraps `body` into the stream of its sealed packages, hashing the plain bytes first
/// when `check` is given (a body that was not compressed: no layer hashed it yet). When
/// the stream ends, `slot` holds the digests; when it fails, the typed error.
pub(crate) fn encrypting(body: Body, cipher: PartCipher, check: Option<Box<dyn BodyCheck>>) -> (Body, SealedSlot) {
    let slot: SealedSlot = Arc::default();
    let state = SealState {
        reader: BlockReader::new(body),
        cipher,
        hashing: check.map(|check| (Md5::new(), check)),
        next_package: 0,
        slot: Arc::clone(&slot),
    };
    let sealed = futures::stream::unfold(Some(state), |state| async move {
        let mut state = state?;
        let put = |state: &SealState, outcome| {
            *state.slot.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(outcome);
        };
        match seal_next(&mut state).await {
            Ok(Some(sealed)) => Some((Ok(sealed), Some(state))),
            Ok(None) => {
                let outcome = finish(&mut state);
                let failed = outcome.as_ref().err().map(ToString::to_string);
                put(&state, outcome);
                failed.map(|message| (Err(message), None))
            }
            Err(error) => {
                let message = error.to_string();
                put(&state, Err(error));
                Some((Err(message), None))
            }
        }
    });
    (Box::pin(sealed), slot)
}

/// Reads, hashes (when asked) and seals the next packages.
async fn seal_next(state: &mut SealState) -> Result<Option<Bytes>> {
    let Some(block) = state.reader.next_block(SEAL_JOB_BYTES).await? else { return Ok(None) };
    if state.reader.total_bytes > OBJECT_SIZE_BYTES_MAX {
        return Err(ObjectError::EntityTooLarge);
    }
    let (cipher, first, mut hashing) = (state.cipher.clone(), state.next_package, state.hashing.take());
    state.next_package += block.len.div_ceil(PACKAGE_BYTES) as u64;
    let (hashing, sealed) = crate::cpu::run_sized(block.len, move || {
        if let Some((md5, check)) = &mut hashing {
            for piece in &block.pieces {
                md5.update(piece);
                check.update(piece);
            }
        }
        let plain = if block.pieces.len() == 1 { block.pieces[0].clone() } else { Bytes::from(block.pieces.concat()) };
        let packages = plain.len().div_ceil(PACKAGE_BYTES);
        let mut sealed = BytesMut::with_capacity(plain.len() + packages * PACKAGE_TAG_BYTES as usize);
        for (i, package) in plain.chunks(PACKAGE_BYTES).enumerate() {
            cipher.seal_into(first + i as u64, package, &mut sealed);
        }
        (hashing, sealed.freeze())
    })
    .await?;
    state.hashing = hashing;
    Ok(Some(sealed))
}

fn finish(state: &mut SealState) -> Result<Option<Plain>> {
    let Some((md5, check)) = state.hashing.take() else { return Ok(None) };
    let md5: [u8; 16] = md5.finalize().into();
    let checksums = check.finish(&md5)?;
    Ok(Some(Plain { size: state.reader.total_bytes, md5, checksums }))
}

/// Where a ranged read of an encrypted part starts and ends on the drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SealPlan {
    /// Stored offset of the first package to read.
    pub(crate) sealed_from: u64,
    /// Stored offset just past the last package to read.
    pub(crate) sealed_to: u64,
    /// Number of the package at `sealed_from`.
    pub(crate) first_package: u64,
}

/// Plans the read of bytes `from..to` of a part's data (`data_size` bytes in all).
pub(crate) fn plan(encryption: &PartEncryption, data_size: u64, from: u64, to: u64) -> SealPlan {
    assert!(from < to && to <= data_size, "range {from}..{to} outside a part of {data_size} bytes");
    let package = u64::from(encryption.package_bytes);
    let sealed_package = package + PACKAGE_TAG_BYTES;
    let first_package = from / package;
    let end_package = to.div_ceil(package);
    SealPlan {
        sealed_from: first_package * sealed_package,
        sealed_to: (end_package * sealed_package).min(encryption.sealed_size(data_size)),
        first_package,
    }
}

/// Turns a part's stored packages, from a package boundary on, back into bytes
/// `from..to` of the part's data.
pub(crate) struct PackageOpener {
    cipher: PartCipher,
    pending: BytesMut,
    next_package: u64,
    package_bytes: u64,
    data_size: u64,
    from: u64,
    to: u64,
}

impl PackageOpener {
    pub(crate) fn new(
        cipher: PartCipher,
        encryption: &PartEncryption,
        plan: SealPlan,
        data_size: u64,
        from: u64,
        to: u64,
    ) -> Self {
        Self {
            cipher,
            pending: BytesMut::new(),
            next_package: plan.first_package,
            package_bytes: u64::from(encryption.package_bytes),
            data_size,
            from,
            to,
        }
    }

    /// Whether every wanted byte has been produced.
    pub(crate) fn done(&self) -> bool {
        self.next_package * self.package_bytes >= self.to
    }

    /// Feeds stored bytes; returns the wanted slices of the packages they complete.
    pub(crate) async fn push(&mut self, stored: &[u8]) -> Result<Vec<Bytes>> {
        self.pending.extend_from_slice(stored);
        // Every package complete in `pending`, opened in one job on the CPU pool.
        let mut packages = Vec::new();
        let mut package = self.next_package;
        while package * self.package_bytes < self.to {
            let plain_len = (self.data_size - package * self.package_bytes).min(self.package_bytes);
            let sealed_len = (plain_len + PACKAGE_TAG_BYTES) as usize;
            if self.pending.len() < sealed_len {
                break;
            }
            packages.push((package, self.pending.split_to(sealed_len).freeze()));
            package += 1;
        }
        self.next_package = package;
        if packages.is_empty() {
            return Ok(Vec::new());
        }
        let bytes = packages.iter().map(|(_, sealed)| sealed.len()).sum();
        let (cipher, package_bytes, from, to) = (self.cipher.clone(), self.package_bytes, self.from, self.to);
        crate::cpu::run_sized(bytes, move || {
            packages
                .into_iter()
                .map(|(number, sealed)| {
                    let plain = cipher.open(number, &sealed)?;
                    let start = number * package_bytes;
                    let slice_from = from.saturating_sub(start) as usize;
                    let slice_to = (to - start).min(plain.len() as u64) as usize;
                    Ok(plain.slice(slice_from.min(slice_to)..slice_to))
                })
                .filter(|sliced| sliced.as_ref().map_or(true, |bytes| !bytes.is_empty()))
                .collect()
        })
        .await?
    }

    /// Checks that the stored bytes ended where the wanted bytes did.
    pub(crate) fn finish(&self) -> Result<()> {
        if self.done() {
            Ok(())
        } else {
            Err(ObjectError::Unrecoverable(format!("encrypted part ended before byte {}", self.to)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::NoCheck;
    use futures::StreamExt;

    fn data(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i.wrapping_mul(2_654_435_761) >> 7) as u8).collect()
    }

    async fn seal_all(plain: &[u8], cipher: &PartCipher) -> (Vec<u8>, Plain) {
        let chunks: Vec<std::result::Result<Bytes, String>> =
            plain.chunks(100_003).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
        let (mut sealed, slot) =
            encrypting(Box::pin(futures::stream::iter(chunks)), cipher.clone(), Some(Box::new(NoCheck)));
        let mut stored = Vec::new();
        while let Some(bytes) = sealed.next().await {
            stored.extend_from_slice(&bytes.expect("sealed"));
        }
        let digests = slot.lock().expect("lock").take().expect("filled").expect("ok").expect("hashed");
        (stored, digests)
    }

    async fn read_range(
        stored: &[u8],
        cipher: &PartCipher,
        enc: &PartEncryption,
        size: u64,
        from: u64,
        to: u64,
    ) -> Result<Vec<u8>> {
        let plan = plan(enc, size, from, to);
        let mut opener = PackageOpener::new(cipher.clone(), enc, plan, size, from, to);
        let mut out = Vec::new();
        for piece in stored[plan.sealed_from as usize..plan.sealed_to as usize].chunks(300_007) {
            for bytes in opener.push(piece).await? {
                out.extend_from_slice(&bytes);
            }
        }
        opener.finish()?;
        Ok(out)
    }

    #[tokio::test]
    async fn every_range_decrypts_and_tampering_is_caught() {
        let object_key = ObjectKey(rand::random());
        let (cipher, enc) = PartCipher::new_part(&object_key);
        let plain = data(3 * SEAL_JOB_BYTES + 12_345);
        let (stored, digests) = seal_all(&plain, &cipher).await;
        assert_eq!(stored.len() as u64, enc.sealed_size(plain.len() as u64));
        assert_eq!((digests.size, digests.md5), (plain.len() as u64, <[u8; 16]>::from(Md5::digest(&plain))));
        assert!(stored[..4096] != plain[..4096], "the data is not stored as sent");
        let size = plain.len() as u64;
        let package = PACKAGE_BYTES as u64;
        for (from, to) in
            [(0, size), (0, 1), (size - 1, size), (package - 1, package + 1), (package, 2 * package), (7, size - 3)]
        {
            let read = read_range(&stored, &cipher, &enc, size, from, to).await.expect("opens");
            assert!(read == plain[from as usize..to as usize], "{from}..{to}");
        }
        // The same part key finds the data again; another salt does not.
        let again = PartCipher::of_part(&object_key, &enc);
        assert!(read_range(&stored, &again, &enc, size, 0, 10).await.is_ok());
        let (_, other) = PartCipher::new_part(&object_key);
        let wrong = PartCipher::of_part(&object_key, &other);
        assert!(read_range(&stored, &wrong, &enc, size, 0, 10).await.is_err());
        let mut tampered = stored.clone();
        tampered[PACKAGE_BYTES + 20] ^= 1;
        assert!(read_range(&stored, &cipher, &enc, size, 0, package).await.is_ok());
        assert!(read_range(&tampered, &cipher, &enc, size, package, package + 1).await.is_err());
        // Packages swapped: each is authentic, but not at that number.
        let sealed_package = PACKAGE_BYTES + PACKAGE_TAG_BYTES as usize;
        let mut swapped = stored.clone();
        swapped[..2 * sealed_package].rotate_left(sealed_package);
        assert!(read_range(&swapped, &cipher, &enc, size, 0, 1).await.is_err());
    }
}
