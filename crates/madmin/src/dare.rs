//! DARE 2.0, the streaming AEAD format of `github.com/secure-io/sio-go`, for whole buffers.
//!
//! madmin-go seals admin payloads with `sio.Stream`, so this module reproduces its byte layout:
//! the plaintext is cut into packages of `package_size_bytes` (sio's `BufSize`, 16 KiB), and
//! each package is sealed on its own with the AEAD, its 16-byte tag appended. A package's nonce
//! is the stream's 8-byte nonce followed by the package's sequence number as little-endian
//! `u32`, counting from 1. Sequence number 0 is used once, to seal an empty message whose tag
//! binds the caller's associated data; each package's associated data is a flag byte followed by
//! that tag. The flag is `0x80` on the last package and `0x00` on all others, so dropping or
//! appending whole packages is detected, and the sequence number in the nonce detects reordering.
//!
//! Every package but the last carries exactly `package_size_bytes` of plaintext; the last carries
//! between one byte and `package_size_bytes` (zero only when the whole plaintext is empty), which
//! is how sio-go's writers cut the stream and how its readers find the last package.

use aes_gcm::aead::AeadInOut;
use aes_gcm::aead::array::Array;
use aes_gcm::aead::consts::{U12, U16};

use crate::error::MadminError;

/// Plaintext bytes per package: sio-go's `BufSize` (`1 << 14`), which madmin-go uses through
/// `Algorithm.Stream`.
pub(crate) const PACKAGE_SIZE_BYTES: usize = 16 * 1024;

/// Length of the stream nonce carried in the payload header: the AEAD's 12-byte nonce minus the
/// 4 bytes of sequence number (sio-go's `Stream.NonceSize`).
pub(crate) const STREAM_NONCE_SIZE_BYTES: usize = 8;

/// Authentication tag appended to every package by AES-GCM and ChaCha20-Poly1305 alike.
pub(crate) const TAG_SIZE_BYTES: usize = 16;

/// Associated-data flag of every package except the last.
const FLAG_NOT_FINAL: u8 = 0x00;

/// Associated-data flag of the last package, which makes truncation at a package boundary fail.
const FLAG_FINAL: u8 = 0x80;

/// The associated data of one package: the flag byte and the tag that binds the caller's data.
type PackageAssociatedData = [u8; 1 + TAG_SIZE_BYTES];

/// Size of the DARE stream that seals `plaintext_size_bytes`, as sio-go's `Stream.Overhead`
/// computes it: one tag per started package, and one tag for an empty plaintext.
pub(crate) const fn sealed_size_bytes(plaintext_size_bytes: usize, package_size_bytes: usize) -> usize {
    let package_count = if plaintext_size_bytes == 0 { 1 } else { plaintext_size_bytes.div_ceil(package_size_bytes) };
    plaintext_size_bytes + package_count * TAG_SIZE_BYTES
}

/// One DARE stream: a keyed AEAD with the stream nonce and associated data it is bound to.
pub(crate) struct Stream<'cipher, A> {
    /// The keyed AEAD; its nonce is 12 bytes and its tag 16, as DARE 2.0 requires.
    cipher: &'cipher A,
    /// The per-stream nonce; the package sequence number completes it to the AEAD's nonce.
    nonce: [u8; STREAM_NONCE_SIZE_BYTES],
    /// Plaintext bytes per package; never zero.
    package_size_bytes: usize,
    /// Associated data of a non-final package: [`FLAG_NOT_FINAL`] and the binding tag.
    associated_data: PackageAssociatedData,
}

impl<'cipher, A> Stream<'cipher, A>
where
    A: AeadInOut<NonceSize = U12, TagSize = U16>,
{
    /// Binds `cipher` to a stream nonce and the caller's associated data (madmin-go passes none).
    pub(crate) fn new(
        cipher: &'cipher A,
        nonce: [u8; STREAM_NONCE_SIZE_BYTES],
        package_size_bytes: usize,
        associated_data: &[u8],
    ) -> Self {
        assert!(package_size_bytes > 0, "a DARE package must hold at least one byte");
        let binding_tag = cipher
            .encrypt_inout_detached(&package_nonce(&nonce, 0), associated_data, (&mut [][..]).into())
            .expect("sealing an empty message cannot exceed the AEAD's length limits");
        let mut package_associated_data = [FLAG_NOT_FINAL; 1 + TAG_SIZE_BYTES];
        package_associated_data[1..].copy_from_slice(&binding_tag);
        Self { cipher, nonce, package_size_bytes, associated_data: package_associated_data }
    }

    /// Appends the DARE stream sealing `plaintext` to `out`.
    pub(crate) fn seal(&self, plaintext: &[u8], out: &mut Vec<u8>) {
        out.reserve(sealed_size_bytes(plaintext.len(), self.package_size_bytes));
        let final_start = plaintext.len().saturating_sub(1) / self.package_size_bytes * self.package_size_bytes;
        let (full_packages, final_package) = plaintext.split_at(final_start);
        let mut sequence_number = 0;
        for package in full_packages.chunks_exact(self.package_size_bytes) {
            sequence_number += 1;
            self.seal_package(package, sequence_number, false, out);
        }
        self.seal_package(final_package, sequence_number + 1, true, out);
    }

    /// Opens a whole DARE stream, failing unless every package, the last one marked final,
    /// is authentic and in order.
    pub(crate) fn open(&self, sealed: &[u8]) -> Result<Vec<u8>, MadminError> {
        if sealed.len() < TAG_SIZE_BYTES {
            return Err(MadminError::NotAuthentic);
        }
        let sealed_package_size_bytes = self.package_size_bytes + TAG_SIZE_BYTES;
        // A package is the last one exactly when nothing follows it, so a full-size package at
        // the very end is final, as sio-go's readers decide by reading one byte ahead.
        let final_start = (sealed.len() - 1) / sealed_package_size_bytes * sealed_package_size_bytes;
        let (full_packages, final_package) = sealed.split_at(final_start);
        if final_package.len() < TAG_SIZE_BYTES {
            return Err(MadminError::NotAuthentic);
        }
        let mut plaintext = Vec::with_capacity(sealed.len());
        let mut sequence_number = 0;
        for package in full_packages.chunks_exact(sealed_package_size_bytes) {
            sequence_number += 1;
            self.open_package(package, sequence_number, false, &mut plaintext)?;
        }
        self.open_package(final_package, sequence_number + 1, true, &mut plaintext)?;
        Ok(plaintext)
    }

    fn seal_package(&self, package: &[u8], sequence_number: usize, is_final: bool, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(package);
        let tag = self
            .cipher
            .encrypt_inout_detached(
                &package_nonce(&self.nonce, sequence_number),
                &self.package_associated_data(is_final),
                (&mut out[start..]).into(),
            )
            .expect("a package of at most 16 MiB is far below the AEAD's length limits");
        out.extend_from_slice(&tag);
    }

    fn open_package(
        &self,
        package: &[u8],
        sequence_number: usize,
        is_final: bool,
        plaintext: &mut Vec<u8>,
    ) -> Result<(), MadminError> {
        let (ciphertext, tag) = package.split_at(package.len() - TAG_SIZE_BYTES);
        let tag = Array::try_from(tag).expect("split_at left exactly one tag");
        let start = plaintext.len();
        plaintext.extend_from_slice(ciphertext);
        self.cipher
            .decrypt_inout_detached(
                &package_nonce(&self.nonce, sequence_number),
                &self.package_associated_data(is_final),
                (&mut plaintext[start..]).into(),
                &tag,
            )
            .map_err(|_| MadminError::NotAuthentic)
    }

    fn package_associated_data(&self, is_final: bool) -> PackageAssociatedData {
        let mut associated_data = self.associated_data;
        associated_data[0] = if is_final { FLAG_FINAL } else { FLAG_NOT_FINAL };
        associated_data
    }
}

/// The AEAD nonce of a package: the stream nonce, then the sequence number as little-endian u32.
fn package_nonce(nonce: &[u8; STREAM_NONCE_SIZE_BYTES], sequence_number: usize) -> Array<u8, U12> {
    let sequence_number =
        u32::try_from(sequence_number).expect("the payload size limit keeps the package count far below u32::MAX");
    let mut package_nonce = [0; 12];
    package_nonce[..STREAM_NONCE_SIZE_BYTES].copy_from_slice(nonce);
    package_nonce[STREAM_NONCE_SIZE_BYTES..].copy_from_slice(&sequence_number.to_le_bytes());
    Array::from(package_nonce)
}

#[cfg(test)]
#[path = "dare_tests.rs"]
mod tests;
