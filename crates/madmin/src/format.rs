//! The payload header that precedes the DARE stream:
//! `salt (32 bytes) || algorithm id (1 byte) || stream nonce (8 bytes)`.

use rand::RngCore;

use crate::algorithm::Algorithm;
use crate::dare::STREAM_NONCE_SIZE_BYTES;
use crate::error::MadminError;

/// Length of the random key-derivation salt that starts every payload (madmin-go's
/// `sioutil.MustRandom(32)`).
pub(crate) const SALT_SIZE_BYTES: usize = 32;

/// Length of the whole header: salt, algorithm id byte and stream nonce.
pub(crate) const HEADER_SIZE_BYTES: usize = SALT_SIZE_BYTES + 1 + STREAM_NONCE_SIZE_BYTES;

/// The parsed header of an encrypted admin payload.
pub(crate) struct Header {
    /// Salt of the password-based key derivation; random for every payload.
    pub(crate) salt: [u8; SALT_SIZE_BYTES],
    /// Key derivation and AEAD that sealed the payload.
    pub(crate) algorithm: Algorithm,
    /// DARE stream nonce; random for every payload, and unique per key since the salt is too.
    pub(crate) nonce: [u8; STREAM_NONCE_SIZE_BYTES],
}

impl Header {
    /// A header with fresh salt and nonce from the thread-local CSPRNG, which reseeds from the
    /// operating system.
    pub(crate) fn random(algorithm: Algorithm) -> Self {
        let mut rng = rand::rng();
        let mut salt = [0; SALT_SIZE_BYTES];
        rng.fill_bytes(&mut salt);
        let mut nonce = [0; STREAM_NONCE_SIZE_BYTES];
        rng.fill_bytes(&mut nonce);
        Self { salt, algorithm, nonce }
    }

    /// Appends the header's wire form to `out`.
    pub(crate) fn write_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.salt);
        out.push(self.algorithm.id());
        out.extend_from_slice(&self.nonce);
    }

    /// Splits an encrypted payload into its header and the DARE stream that follows it.
    pub(crate) fn parse(data: &[u8]) -> Result<(Self, &[u8]), MadminError> {
        let Some((header, stream)) = data.split_first_chunk::<HEADER_SIZE_BYTES>() else {
            return Err(MadminError::TruncatedHeader { size_bytes: data.len() });
        };
        let (salt, rest) = header.split_first_chunk::<SALT_SIZE_BYTES>().expect("the header holds the salt");
        let (&id, nonce) = rest.split_first().expect("the header holds the algorithm id");
        let nonce = nonce.try_into().expect("the rest of the header is the nonce");
        Ok((Self { salt: *salt, algorithm: Algorithm::from_id(id)?, nonce }, stream))
    }
}
