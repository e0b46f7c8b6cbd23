//! Resolving commits whose writer crashed between the drives.
//!
//! A commit makes its version visible drive by drive, then finishes (drops what it
//! replaced) once a write quorum committed, or undoes itself below that. A writer that
//! crashes in between leaves a pending record on the drives it reached (see
//! `cairn_drive::PendingCommit`). Left alone, a version on fewer drives than a write
//! quorum was never acknowledged, yet with data = parity it can be on a read quorum and
//! appear; and the drives' previous version could not be brought back.
//!
//! Under the key's write lock (so no live writer is mid-commit), each pending commit is
//! decided over the whole set, never by one drive alone (a node that restarts alone must
//! not undo a version the others acknowledged):
//! - on a write quorum of drives: it may have been acknowledged; finish it;
//! - on fewer, even counting every drive that does not answer as holding it: it was
//!   never acknowledged; roll it back where it is (the previous version returns);
//! - otherwise: undecided until more drives answer; left for the next pass.
//!
//! Drives whose record names a commit they no longer show (a later write replaced it, or
//! it never got past its record) just drop the record and the commit's unused data.
//! Passes run when the store opens (before it serves) and at the start of every scan
//! (so also when a peer comes back).

use super::ErasureSet;
use super::data_dirs;
use crate::Result;
use cairn_drive::{DriveError, PendingCommit};
use cairn_meta::ObjectMeta;
use futures::future::join_all;
use std::collections::BTreeMap;
use std::time::Duration;
use uuid::Uuid;

/// Longest wait for a pending commit's key lock: a key busy for longer is resolved by a
/// later pass, so a pass never stalls start-up.
const RESOLVE_LOCK_WAIT_MS: u64 = 5_000;

/// What a pending commit turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Decision {
    /// On a write quorum: finish it.
    Finish,
    /// On too few drives to have been acknowledged: put the previous version back.
    RollBack,
    /// Not enough drives answer to tell.
    Undecided,
    /// No drive shows it any more (replaced since, or never got past its record).
    Forget,
}

/// What happened to the pending commits of one pass.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Resolved {
    pub(crate) finished: u64,
    pub(crate) rolled_back: u64,
    pub(crate) undecided: u64,
    pub(crate) forgotten: u64,
}

impl ErasureSet {
    /// Resolves every commit left pending on this set's answering drives.
    pub(crate) async fn resolve_pending_commits(&self) -> Resolved {
        let listed = join_all(self.drives.iter().map(|drive| drive.pending_commits())).await;
        let mut commits: BTreeMap<Uuid, PendingCommit> = BTreeMap::new();
        for (drive, records) in self.drives.iter().zip(listed) {
            match records {
                Ok(records) => commits.extend(records.into_iter().map(|r| (r.commit_id, r))),
                Err(error) if error.is_drive_down() => {}
                Err(error) => tracing::warn!(drive = drive.endpoint(), %error, "cannot list pending commits"),
            }
        }
        let mut resolved = Resolved::default();
        for record in commits.into_values() {
            match self.resolve_commit(&record).await {
                Ok(Decision::Finish) => resolved.finished += 1,
                Ok(Decision::RollBack) => resolved.rolled_back += 1,
                Ok(Decision::Undecided) => resolved.undecided += 1,
                Ok(Decision::Forget) => resolved.forgotten += 1,
                Err(error) => {
                    resolved.undecided += 1;
                    tracing::warn!(bucket = record.volume, key = record.key, %error, "cannot resolve a pending commit yet");
                }
            }
        }
        if resolved != Resolved::default() {
            tracing::info!(?resolved, "resolved commits left pending by a crash");
        }
        resolved
    }

    async fn resolve_commit(&self, pending: &PendingCommit) -> Result<Decision> {
        let (bucket, key) = (pending.volume.as_str(), pending.key.as_str());
        let locked = tokio::time::timeout(Duration::from_millis(RESOLVE_LOCK_WAIT_MS), self.lock_write(bucket, key));
        let Ok(guard) = locked.await else { return Ok(Decision::Undecided) };
        let _guard = guard?;
        // Under the lock, every record still there belongs to a writer that is gone.
        let listed = join_all(self.drives.iter().map(|drive| drive.pending_commits())).await;
        // Each drive's own record: what it installed differs per drive (shard index, inline frame).
        let records: Vec<Option<PendingCommit>> = listed
            .into_iter()
            .map(|r| r.ok().and_then(|records| records.into_iter().find(|r| r.commit_id == pending.commit_id)))
            .collect();
        let has_record: Vec<bool> = records.iter().map(Option::is_some).collect();
        if !has_record.iter().any(|h| *h) {
            return Ok(Decision::Forget); // Finished or undone since it was listed.
        }
        let raw = join_all(self.drives.iter().map(|drive| drive.read_meta(bucket, key))).await;
        let metas: Vec<std::result::Result<ObjectMeta, DriveError>> = raw
            .iter()
            .map(|r| match r {
                Ok(bytes) => ObjectMeta::decode(bytes).map_err(|e| DriveError::Corrupt(format!("xl.meta: {e}"))),
                Err(error) => Err(clone_kind(error)),
            })
            .collect();
        // Drives that still show exactly what the commit installed.
        let installed: Vec<bool> = raw
            .iter()
            .zip(&records)
            .map(|(bytes, record)| {
                record.as_ref().is_some_and(|record| bytes.as_ref().is_ok_and(|b| record.installed(b)))
            })
            .collect();
        let version = installed.iter().position(|i| *i).and_then(|d| metas[d].as_ref().ok().cloned());
        let decision = match &version {
            Some(version) => self.decide(version, &metas),
            None => Decision::Forget,
        };
        if decision == Decision::Undecided {
            return Ok(decision);
        }
        let actions = self.drives.iter().enumerate().filter(|(d, _)| has_record[*d]).map(|(d, drive)| {
            let (metas, installed, version, records) = (&metas, &installed, &version, &records);
            async move {
                if installed[d] && decision == Decision::RollBack {
                    // Only the data directory the commit placed goes: a commit that
                    // changed metadata only (tags) placed none, and its version's data
                    // is the replaced version's too.
                    let placed = records[d].as_ref().and_then(|record| record.data_dir);
                    return drive.undo_commit(bucket, key, pending.commit_id, placed).await;
                }
                // Keep the data of what the drive shows now; drop the rest of the commit.
                let keep = match &metas[d] {
                    _ if installed[d] => version.as_ref().map(data_dirs).unwrap_or_default(),
                    Ok(meta) => data_dirs(meta),
                    Err(error) if error.is_not_found() => Vec::new(),
                    Err(error) => return Err(clone_kind(error)),
                };
                drive.finish_commit(bucket, key, pending.commit_id, keep).await
            }
        });
        for (drive, result) in self.drives.iter().zip(join_all(actions).await) {
            if let Err(error) = result {
                tracing::warn!(drive = drive.endpoint(), bucket, key, %error, "pending commit left for a later pass");
            }
        }
        if decision == Decision::RollBack {
            tracing::warn!(bucket, key, commit = %pending.commit_id, "rolled back a version a crash left on too few drives");
        }
        Ok(decision)
    }

    /// Finish when a write quorum holds what the commit `installed` (the same versions,
    /// with the same metadata, in the same order); roll back when it could not, even if
    /// every drive that does not answer held it.
    fn decide(&self, installed: &ObjectMeta, metas: &[std::result::Result<ObjectMeta, DriveError>]) -> Decision {
        let installed = installed.latest_identity();
        let holders =
            metas.iter().filter(|m| m.as_ref().ok().is_some_and(|m| m.latest_identity() == installed)).count();
        let unknown = metas.iter().filter(|m| matches!(m, Err(error) if !error.is_not_found())).count();
        let quorum = self.layout.write_quorum();
        if holders >= quorum {
            Decision::Finish
        } else if holders + unknown < quorum {
            Decision::RollBack
        } else {
            Decision::Undecided
        }
    }
}

/// A copy of a drive error's meaning (drive errors hold `io::Error`s, which do not clone).
fn clone_kind(error: &DriveError) -> DriveError {
    match error {
        DriveError::FileNotFound => DriveError::FileNotFound,
        DriveError::VolumeNotFound => DriveError::VolumeNotFound,
        DriveError::DriveNotFound => DriveError::DriveNotFound,
        DriveError::Offline(why) => DriveError::Offline(why.clone()),
        other => DriveError::Corrupt(other.to_string()),
    }
}
