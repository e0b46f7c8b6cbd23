//! Lifecycle management, applied by the scanner: on each pass, every key of a bucket
//! with lifecycle rules is looked at by exactly one node, and what the rules say is due
//! (`lifecycle.rs`) is done under the key's write lock.
//!
//! Exactly once across the cluster: every node lists every key (the scanner heals
//! them all), but a key belongs to one drive, the first one answering when the drives
//! of all pools are counted from a position the key's hash picks; the node holding that
//! drive acts. All nodes see the same drives in the same order, so they agree on the
//! owner, and a node that is down hands its share to the next drive's node. Views of
//! which drives answer can differ for a moment (a node just died or came back), so
//! every action is also conditional, checked under the key's lock: a current version
//! is expired only if it is still the version the rules judged, a version is removed
//! only if it still exists. A second node acting on the same decision changes nothing.
//!
//! Object lock wins: a version under retention or legal hold is never removed (the
//! action is refused and counted); expiring a locked current version adds a delete
//! marker, as on S3, which hides it without removing it.

use crate::lifecycle::{Action, aborts_upload, covers, plan};
use crate::quorum::agreed_versions;
use crate::set::{key_hash, now_unix_nanos};
use crate::store::ObjectStore;
use crate::types::VersionRef;
use crate::{ObjectError, Result};
use cairn_meta::{Lifecycle, ObjectVersion, Versioning};
use futures::future::join_all;
use std::sync::atomic::{AtomicU64, Ordering};

/// Uploads listed per page when looking for incomplete uploads to abort.
const UPLOADS_PAGE: usize = 1_000;

/// The lifecycle day and what lifecycle did on this node since it started.
#[derive(Debug)]
pub(crate) struct Ilm {
    /// Seconds in a lifecycle day (shortened only by tests).
    day_secs: i64,
    versions_scanned: AtomicU64,
    objects_expired: AtomicU64,
    versions_removed: AtomicU64,
    markers_removed: AtomicU64,
    uploads_aborted: AtomicU64,
    kept_by_lock: AtomicU64,
}

impl Ilm {
    /// Counters at zero, with lifecycle days of `day_secs` seconds.
    pub(crate) fn new(day_secs: i64) -> Self {
        assert!(day_secs > 0, "a lifecycle day lasts");
        Self {
            day_secs,
            versions_scanned: AtomicU64::new(0),
            objects_expired: AtomicU64::new(0),
            versions_removed: AtomicU64::new(0),
            markers_removed: AtomicU64::new(0),
            uploads_aborted: AtomicU64::new(0),
            kept_by_lock: AtomicU64::new(0),
        }
    }
}

/// What lifecycle rules did on this node since it started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IlmStats {
    /// Versions the rules were evaluated against.
    pub versions_scanned: u64,
    /// Current versions expired (keys removed, or delete markers added).
    pub objects_expired: u64,
    /// Noncurrent versions removed.
    pub versions_removed: u64,
    /// Delete markers removed that were their key's only version.
    pub markers_removed: u64,
    /// Incomplete multipart uploads aborted.
    pub uploads_aborted: u64,
    /// Removals refused because object lock protects the version.
    pub kept_by_lock: u64,
}

impl IlmStats {
    /// Every counter by name (snake case), for reports.
    pub fn fields(&self) -> [(&'static str, u64); 6] {
        [
            ("versions_scanned", self.versions_scanned),
            ("objects_expired", self.objects_expired),
            ("versions_removed", self.versions_removed),
            ("markers_removed", self.markers_removed),
            ("uploads_aborted", self.uploads_aborted),
            ("kept_by_lock", self.kept_by_lock),
        ]
    }
}

/// Which node acts on which key during one scan pass.
pub(crate) struct Owners {
    /// Per drive of all pools, in order: whether it answered.
    online: Vec<bool>,
    /// Per drive: whether it is this node's.
    local: Vec<bool>,
}

impl Owners {
    /// True when this node applies the rules to `key` of `bucket`.
    pub(crate) fn mine(&self, deployment: uuid::Uuid, bucket: &str, key: &str) -> bool {
        let drives = self.online.len();
        assert!(drives > 0 && drives == self.local.len(), "a store has drives");
        let start = (key_hash(deployment, &format!("{bucket}/{key}")) % drives as u64) as usize;
        (0..drives).map(|i| (start + i) % drives).find(|&d| self.online[d]).is_some_and(|d| self.local[d])
    }
}

impl ObjectStore {
    /// Seconds in a lifecycle day.
    pub fn lifecycle_day_secs(&self) -> i64 {
        self.ilm.day_secs
    }

    /// What lifecycle rules did on this node since it started.
    pub fn ilm_stats(&self) -> IlmStats {
        let ilm = &self.ilm;
        IlmStats {
            versions_scanned: ilm.versions_scanned.load(Ordering::Relaxed),
            objects_expired: ilm.objects_expired.load(Ordering::Relaxed),
            versions_removed: ilm.versions_removed.load(Ordering::Relaxed),
            markers_removed: ilm.markers_removed.load(Ordering::Relaxed),
            uploads_aborted: ilm.uploads_aborted.load(Ordering::Relaxed),
            kept_by_lock: ilm.kept_by_lock.load(Ordering::Relaxed),
        }
    }

    /// Which drives answer now, and which are this node's: the owners of this pass.
    pub(crate) async fn lifecycle_owners(&self) -> Owners {
        let drives: Vec<_> = self.all_drives().collect();
        let answers = join_all(drives.iter().map(|drive| drive.disk_info())).await;
        Owners {
            online: answers.iter().map(std::result::Result::is_ok).collect(),
            local: drives.iter().map(|drive| drive.is_local()).collect(),
        }
    }

    /// The bucket's lifecycle rules and versioning state, when it has rules.
    pub(crate) async fn bucket_lifecycle(&self, bucket: &str) -> Option<(Lifecycle, Versioning)> {
        let record = self.bucket_record(bucket).await.ok()?;
        let lifecycle = record.lifecycle.clone().filter(|l| !l.rules.is_empty())?;
        Some((lifecycle, record.versioning))
    }

    /// Applies the rules to `key` (one of this node's keys) as they stand now.
    pub(crate) async fn apply_lifecycle(&self, bucket: &str, key: &str, lifecycle: &Lifecycle, versioning: Versioning) {
        if !covers(lifecycle, key) {
            return;
        }
        // A pool that cannot answer now is looked at again on the next pass.
        let Ok(set) = self.locate(bucket, key).await else { return };
        let metas = set.read_metas(bucket, key).await;
        let versions: Vec<ObjectVersion> = agreed_versions(&metas, &set.layout).into_iter().map(|(v, _)| v).collect();
        self.ilm.versions_scanned.fetch_add(versions.len() as u64, Ordering::Relaxed);
        let now = now_unix_nanos() / 1_000_000_000;
        for action in plan(lifecycle, key, &versions, now, self.lifecycle_day_secs()) {
            let (done, counter) = match action {
                Action::ExpireCurrent { mod_time_unix_nanos } => {
                    (set.expire_current(bucket, key, mod_time_unix_nanos, versioning).await, &self.ilm.objects_expired)
                }
                Action::RemoveVersion { version_id } => {
                    (self.remove_for_lifecycle(bucket, key, version_id).await, &self.ilm.versions_removed)
                }
                Action::RemoveMarker { version_id } => {
                    (self.remove_for_lifecycle(bucket, key, version_id).await, &self.ilm.markers_removed)
                }
            };
            match done {
                Ok(()) => {
                    counter.fetch_add(1, Ordering::Relaxed);
                }
                // Another node (or a client) got there first, or the key changed: nothing is due.
                Err(
                    ObjectError::ObjectNotFound
                    | ObjectError::VersionNotFound
                    | ObjectError::PreconditionFailed(_)
                    | ObjectError::DeleteMarker { .. },
                ) => {}
                Err(ObjectError::ObjectLocked(_)) => {
                    self.ilm.kept_by_lock.fetch_add(1, Ordering::Relaxed);
                }
                Err(error) => {
                    tracing::warn!(bucket, key, %error, ?action, "lifecycle action failed; the next pass retries")
                }
            }
        }
    }

    /// Removes one version for good, unless object lock protects it.
    async fn remove_for_lifecycle(&self, bucket: &str, key: &str, version_id: Option<uuid::Uuid>) -> Result<()> {
        self.delete_version(bucket, key, VersionRef::Exact(version_id), false).await.map(|_| ())
    }

    /// Aborts the bucket's incomplete uploads (of this node's keys) that a rule says are due.
    pub(crate) async fn abort_due_uploads(&self, bucket: &str, lifecycle: &Lifecycle, owners: &Owners) -> Result<()> {
        if !lifecycle.rules.iter().any(|rule| rule.enabled && rule.abort_incomplete_upload_days.is_some()) {
            return Ok(());
        }
        let mut markers: (Option<String>, Option<String>) = (None, None);
        loop {
            let page = self
                .list_multipart_uploads(bucket, "", None, (markers.0.as_deref(), markers.1.as_deref()), UPLOADS_PAGE)
                .await?;
            let now = now_unix_nanos() / 1_000_000_000;
            for upload in &page.uploads {
                let due =
                    aborts_upload(lifecycle, &upload.key, upload.initiated_unix_nanos, now, self.lifecycle_day_secs());
                if !due || !owners.mine(self.deployment_id(), bucket, &upload.key) {
                    continue;
                }
                match self.abort_multipart_upload(bucket, &upload.key, &upload.upload_id).await {
                    Ok(()) => {
                        self.ilm.uploads_aborted.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(ObjectError::UploadNotFound) => {}
                    Err(error) => tracing::warn!(bucket, key = upload.key, %error, "cannot abort an incomplete upload"),
                }
            }
            if !page.truncated {
                return Ok(());
            }
            markers = (page.next_key_marker, page.next_upload_id_marker);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_has_one_owner_and_a_dead_nodes_share_moves_on() {
        let deployment = uuid::Uuid::from_u128(7);
        // Three nodes of two drives each; each node sees its own two as local.
        let view = |node: usize, online: [bool; 6]| Owners {
            online: online.to_vec(),
            local: (0..6).map(|d| d / 2 == node).collect(),
        };
        for online in [[true; 6], [true, true, false, false, true, true]] {
            let mut per_node = [0; 3];
            for k in 0..300 {
                let key = format!("k{k}");
                let owners: Vec<usize> = (0..3).filter(|&n| view(n, online).mine(deployment, "b", &key)).collect();
                assert_eq!(owners.len(), 1, "{key} has one owner with {online:?}");
                assert!(online[owners[0] * 2], "a node whose drives are down owns nothing");
                per_node[owners[0]] += 1;
            }
            let live = per_node.iter().filter(|&&n| n > 0).count();
            assert_eq!(live, online.iter().step_by(2).filter(|&&up| up).count(), "shares: {per_node:?}");
        }
    }
}
