//! The drive format file (`.cairn.sys/format.json`): which deployment a drive
//! belongs to and where it sits in the erasure layout. JSON, so operators can read it.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Newest format file version this build writes and reads. 2: the drive keeps its
/// metadata in an index (`.cairn.sys/index.redb`) instead of `xl.meta` files; a build
/// that reads only version 1 would see such a drive as empty, so it refuses it.
pub const FORMAT_VERSION: u32 = 2;

/// Contents of `format.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormatFile {
    /// Format file version.
    pub version: u32,
    /// The deployment every drive of the cluster shares.
    pub deployment_id: Uuid,
    /// This drive's id.
    pub this: Uuid,
    /// Drive ids of every erasure set, in set order and drive order.
    pub sets: Vec<Vec<Uuid>>,
}

impl FormatFile {
    /// Encodes as pretty JSON.
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).expect("serialising plain data cannot fail")
    }

    /// Decodes, refusing versions newer than this build.
    pub fn decode(bytes: &[u8]) -> Result<Self, crate::MetaError> {
        let format: FormatFile = serde_json::from_slice(bytes).map_err(|e| crate::MetaError::Body(e.to_string()))?;
        if format.version > FORMAT_VERSION {
            return Err(crate::MetaError::UnsupportedVersion {
                found: u16::try_from(format.version).unwrap_or(u16::MAX),
                supported: FORMAT_VERSION as u16,
            });
        }
        Ok(format)
    }

    /// Where this drive sits: (set index, drive index in the set).
    pub fn position(&self) -> Option<(usize, usize)> {
        self.sets
            .iter()
            .enumerate()
            .find_map(|(set, drives)| drives.iter().position(|d| *d == self.this).map(|d| (set, d)))
    }
}
