//! Records of pending commits: a commit that made a new version visible on a drive
//! keeps, until it is finished or undone, a record naming the key and the metadata it
//! installed, and the metadata it replaced. Both live in the drive's index (tables
//! `pending` and `replaced`, committed with the new metadata in one transaction); drives
//! of layout 1 kept them as files, which an upgrade imports:
//!
//! ```text
//! <drive>/.cairn.sys/undo/<commit-id>        the record (layout 1)
//! <drive>/.cairn.sys/undo/<commit-id>.meta   the replaced xl.meta (layout 1; absent for a new key)
//! ```
//!
//! They survive restarts, so a commit whose writer crashed between the drives can still
//! be resolved later: finished where it reached a write quorum, rolled back where it
//! did not (see the object layer's `set/pending.rs`).
//!
//! Format: `CUN1 || version u16 LE || xxh3-64(body) u64 LE || body`, body =
//! `commit_id 16 bytes || created_unix_nanos i64 || replaced u8 || data_dir flag u8 +
//! 16 bytes || meta_hash u64 || volume (u16 length + bytes) || key (u16 length + bytes)`,
//! integers little-endian.

use crate::{DriveError, Result};
use uuid::Uuid;

/// Folder of pending-commit records inside the system volume of a layout-1 drive.
pub const UNDO_DIR: &str = "undo";
/// Magic of a pending-commit record.
const MAGIC: [u8; 4] = *b"CUN1";
/// Newest record version this build writes and reads.
const VERSION: u16 = 1;
/// Magic, version and checksum.
const HEADER_BYTES: usize = 14;

/// What one drive recorded about a commit it made visible.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingCommit {
    /// The commit (shared by every drive of the write).
    pub commit_id: Uuid,
    /// Bucket.
    pub volume: String,
    /// Object key.
    pub key: String,
    /// The new version's data directory; None for inline data.
    pub data_dir: Option<Uuid>,
    /// True when the commit replaced existing metadata (kept until it is resolved).
    pub replaced: bool,
    /// xxh3-64 of the metadata the commit installed: the drive still holds this commit's
    /// version exactly when its `xl.meta` hashes to this.
    pub meta_hash: u64,
    /// When the commit was made, nanoseconds since the Unix epoch (for logs).
    pub created_unix_nanos: i64,
}

impl PendingCommit {
    /// The commit id a name in the undo folder is the record of, if it is one.
    pub fn record_name(name: &str) -> Option<Uuid> {
        Uuid::parse_str(name).ok()
    }

    /// The hash [`PendingCommit::meta_hash`] is compared with.
    pub fn hash_meta(meta: &[u8]) -> u64 {
        xxhash_rust::xxh3::xxh3_64(meta)
    }

    /// True when `meta` (an `xl.meta` read from the drive) is what this commit installed.
    pub fn installed(&self, meta: &[u8]) -> bool {
        Self::hash_meta(meta) == self.meta_hash
    }

    /// Encodes the record.
    pub fn encode(&self) -> Vec<u8> {
        let mut body = Vec::with_capacity(64 + self.volume.len() + self.key.len());
        body.extend_from_slice(self.commit_id.as_bytes());
        body.extend_from_slice(&self.created_unix_nanos.to_le_bytes());
        body.push(u8::from(self.replaced));
        match self.data_dir {
            Some(id) => {
                body.push(1);
                body.extend_from_slice(id.as_bytes());
            }
            None => body.extend_from_slice(&[0; 17]),
        }
        body.extend_from_slice(&self.meta_hash.to_le_bytes());
        for text in [&self.volume, &self.key] {
            let len = u16::try_from(text.len()).expect("volumes and keys are at most 1024 bytes");
            body.extend_from_slice(&len.to_le_bytes());
            body.extend_from_slice(text.as_bytes());
        }
        let mut out = Vec::with_capacity(HEADER_BYTES + body.len());
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&xxhash_rust::xxh3::xxh3_64(&body).to_le_bytes());
        out.extend_from_slice(&body);
        out
    }

    /// Decodes a record; anything damaged or unknown is `Corrupt`.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let corrupt = |why: &str| DriveError::Corrupt(format!("pending commit record: {why}"));
        if bytes.len() < HEADER_BYTES || bytes[..4] != MAGIC {
            return Err(corrupt("not a record"));
        }
        if u16::from_le_bytes([bytes[4], bytes[5]]) != VERSION {
            return Err(corrupt("unknown version"));
        }
        let body = &bytes[HEADER_BYTES..];
        let stored = u64::from_le_bytes(bytes[6..HEADER_BYTES].try_into().expect("8 bytes"));
        if stored != xxhash_rust::xxh3::xxh3_64(body) {
            return Err(corrupt("checksum mismatch"));
        }
        let mut reader = Reader { bytes: body };
        let commit_id = Uuid::from_bytes(reader.array().ok_or_else(|| corrupt("truncated"))?);
        let created_unix_nanos = i64::from_le_bytes(reader.array().ok_or_else(|| corrupt("truncated"))?);
        let [replaced] = reader.array().ok_or_else(|| corrupt("truncated"))?;
        let [has_data_dir] = reader.array().ok_or_else(|| corrupt("truncated"))?;
        let data_dir = Uuid::from_bytes(reader.array().ok_or_else(|| corrupt("truncated"))?);
        let meta_hash = u64::from_le_bytes(reader.array().ok_or_else(|| corrupt("truncated"))?);
        let volume = reader.text().ok_or_else(|| corrupt("bad volume"))?;
        let key = reader.text().ok_or_else(|| corrupt("bad key"))?;
        Ok(Self {
            commit_id,
            volume,
            key,
            data_dir: (has_data_dir == 1).then_some(data_dir),
            replaced: replaced == 1,
            meta_hash,
            created_unix_nanos,
        })
    }
}

/// Reads fixed fields off the front of a record body.
struct Reader<'a> {
    bytes: &'a [u8],
}

impl Reader<'_> {
    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, rest) = self.bytes.split_first_chunk::<N>()?;
        self.bytes = rest;
        Some(*head)
    }

    fn text(&mut self) -> Option<String> {
        let len = u16::from_le_bytes(self.array()?) as usize;
        let (text, rest) = self.bytes.split_at_checked(len)?;
        self.bytes = rest;
        String::from_utf8(text.to_vec()).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn records_round_trip_and_damage_is_caught(
            volume in "[a-z0-9-]{3,20}",
            key in "\\PC{1,60}",
            data_dir in any::<Option<u128>>(),
            replaced in any::<bool>(),
            flip in any::<(usize, u8)>(),
        ) {
            let record = PendingCommit {
                commit_id: Uuid::new_v4(),
                volume,
                key,
                data_dir: data_dir.map(Uuid::from_u128),
                replaced,
                meta_hash: 99,
                created_unix_nanos: 7,
            };
            let bytes = record.encode();
            prop_assert_eq!(PendingCommit::decode(&bytes).expect("decodes"), record);
            let mut damaged = bytes.clone();
            let at = flip.0 % damaged.len();
            damaged[at] ^= flip.1.max(1);
            prop_assert!(PendingCommit::decode(&damaged).is_err());
            prop_assert!(PendingCommit::decode(&bytes[..bytes.len() - 1]).is_err());
        }
    }
}
