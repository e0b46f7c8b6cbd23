//! Removing dangling minority copies: a key that some drives of a set still hold although
//! a quorum of the set's drives says it is gone. A delete that reached a write quorum but
//! not a drive that was down (or a failed write whose undo missed a drive) leaves such a
//! copy; reads and listings ignore it (too few drives hold it), but it would stay on that
//! drive forever, using space and confusing every later comparison of drives.
//!
//! The scanner finds candidates (keys a listing left out for lack of drives) and decides
//! each under the key's write lock, over every drive of the set, never on one drive's word:
//! the copies go only when a write quorum of drives answered that they lack the key, and
//! even every drive that did not answer (offline, unreadable or damaged metadata) holding
//! it would leave it short of a read quorum. A key whose commit is still pending on some
//! drive is left to the pending-commit resolution (`set/pending.rs`).

use super::{ErasureSet, detached};
use crate::config::Layout;
use crate::quorum::agreed_versions;
use crate::{ObjectError, Result};
use cairn_drive::DriveError;
use cairn_meta::ObjectMeta;
use futures::future::join_all;
use std::sync::Arc;
use std::time::Duration;

/// Longest wait for a candidate's key lock: a busy key is being written, and the next scan
/// looks at it again.
const DANGLING_LOCK_WAIT_MS: u64 = 5_000;

/// Which drives hold a copy to remove, from every drive's answer for the key: None unless
/// a write quorum positively lacks the key and the rest, even all holding it, could not
/// make a read quorum.
pub(crate) fn dangling_copies(
    metas: &[std::result::Result<ObjectMeta, DriveError>],
    layout: &Layout,
) -> Option<Vec<bool>> {
    // A quorum holds some version: it is an object, whatever the other drives say.
    if !agreed_versions(metas, layout).is_empty() {
        return None;
    }
    // Only "the bucket is here, the key is not" counts as absent: a drive without the
    // bucket (wiped), offline or with unreadable metadata tells nothing.
    let absent = metas.iter().filter(|m| matches!(m, Err(DriveError::FileNotFound))).count();
    let holding: Vec<bool> = metas.iter().map(std::result::Result::is_ok).collect();
    let could_hold = metas.len() - absent;
    if absent < layout.write_quorum() || could_hold >= layout.read_quorum() || !holding.contains(&true) {
        return None;
    }
    Some(holding)
}

impl ErasureSet {
    /// Removes the copies of `key` that drives kept after a quorum of the set lost it (see
    /// the module comment). Returns how many drives' copies were removed.
    pub(crate) async fn remove_dangling(self: &Arc<Self>, bucket: &str, key: &str) -> Result<usize> {
        let set = Arc::clone(self);
        let (bucket, key) = (bucket.to_owned(), key.to_owned());
        detached(async move { set.remove_dangling_locked(&bucket, &key).await }).await
    }

    async fn remove_dangling_locked(&self, bucket: &str, key: &str) -> Result<usize> {
        let locked = tokio::time::timeout(Duration::from_millis(DANGLING_LOCK_WAIT_MS), self.lock_write(bucket, key));
        let Ok(guard) = locked.await else { return Ok(0) };
        let guard = guard?;
        if self.has_pending_commit(bucket, key).await? {
            return Ok(0);
        }
        let metas = self.read_metas(bucket, key).await;
        let Some(holding) = dangling_copies(&metas, &self.layout) else { return Ok(0) };
        let removals = self.drives.iter().zip(&holding).filter(|(_, holds)| **holds).map(|(drive, _)| async {
            let result = guard.fenced(drive.as_ref(), drive.delete_object(bucket, key)).await;
            match &result {
                Ok(()) => tracing::warn!(
                    drive = drive.endpoint(),
                    bucket,
                    key,
                    "removed a dangling copy that a quorum of drives no longer holds (a missed delete or undo)"
                ),
                Err(error) => {
                    tracing::warn!(drive = drive.endpoint(), bucket, key, %error, "cannot remove a dangling copy")
                }
            }
            result
        });
        let removed = join_all(removals).await.iter().filter(|r| r.is_ok()).count();
        Ok(removed)
    }

    /// Whether a drive of the set records a pending commit of `key`; a drive that cannot
    /// list its records might, so it answers an error.
    async fn has_pending_commit(&self, bucket: &str, key: &str) -> Result<bool> {
        let listed = join_all(self.drives.iter().map(|drive| drive.pending_commits())).await;
        let mut pending = false;
        for records in listed {
            match records {
                Ok(records) => pending |= records.iter().any(|r| r.volume == bucket && r.key == key),
                // An offline drive's records are resolved when it returns; its copies too.
                Err(error) if error.is_drive_down() => {}
                Err(error) => return Err(ObjectError::from(error)),
            }
        }
        Ok(pending)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::list::tests::{six_drives, version};

    fn held() -> std::result::Result<ObjectMeta, DriveError> {
        Ok(ObjectMeta::single(version(1)))
    }
    fn absent() -> std::result::Result<ObjectMeta, DriveError> {
        Err(DriveError::FileNotFound)
    }
    fn down() -> std::result::Result<ObjectMeta, DriveError> {
        Err(DriveError::Offline("node 1".into()))
    }

    #[test]
    fn a_delete_one_node_missed_leaves_copies_that_are_removed() {
        let metas = [absent(), absent(), absent(), absent(), held(), held()];
        assert_eq!(dangling_copies(&metas, &six_drives()), Some(vec![false, false, false, false, true, true]));
    }

    #[test]
    fn nothing_is_removed_while_drives_that_could_hold_the_key_do_not_answer() {
        let layout = six_drives();
        // Node 1 down: the write could have been acknowledged by nodes 1 and 3.
        assert_eq!(dangling_copies(&[down(), down(), absent(), absent(), held(), held()], &layout), None);
        // A wiped drive (no bucket) or damaged metadata tells nothing either.
        let wiped = Err(DriveError::VolumeNotFound);
        assert_eq!(dangling_copies(&[wiped, absent(), absent(), absent(), held(), held()], &layout), None);
        let damaged = Err(DriveError::Corrupt("xl.meta".into()));
        assert_eq!(dangling_copies(&[damaged, absent(), absent(), absent(), held(), held()], &layout), None);
    }

    #[test]
    fn what_a_quorum_holds_is_never_removed() {
        let layout = six_drives();
        assert_eq!(dangling_copies(&[absent(), absent(), absent(), held(), held(), held()], &layout), None);
        assert_eq!(dangling_copies(&[held(), held(), held(), held(), held(), held()], &layout), None);
    }

    #[test]
    fn a_key_no_drive_holds_needs_nothing() {
        assert_eq!(dangling_copies(&[absent(), absent(), absent(), absent(), absent(), absent()], &six_drives()), None);
    }
}
