//! One erasure set: k + m drives that every object of the set is spread over.

pub(crate) mod dangling;
pub(crate) mod heal;
pub(crate) mod multipart;
pub(crate) mod pending;
pub mod read;
mod update;
pub(crate) mod verify;
mod versions;
pub(crate) mod write;

use crate::config::Layout;
use crate::lock::{LockGuard, NamespaceLocks};
use crate::quorum::{describe_answers, pick_version_at, stale_meta};
use crate::store::Stats;
use crate::types::{ObjectInfo, VersionRef};
use crate::{ObjectError, Result};
use cairn_drive::{Drive, DriveError};
use cairn_erasure::Erasure;
use cairn_meta::{ErasureInfo, ObjectMeta, ObjectVersion};
use futures::future::join_all;
use siphasher::sip::SipHasher13;
use std::hash::Hasher;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};
use uuid::Uuid;

/// An erasure set and what it needs to serve objects.
#[derive(Debug)]
pub(crate) struct ErasureSet {
    /// The set's drives, in format order; drive d holds shard `distribution[d]` of each object.
    pub(crate) drives: Vec<Arc<dyn Drive>>,
    /// Data and parity counts and quorums.
    pub(crate) layout: Layout,
    /// The codec for this set's layout and block size.
    pub(crate) erasure: Erasure,
    /// Keys the shard rotation, so that it differs between deployments.
    pub(crate) deployment_id: Uuid,
    /// Namespace locks shared by the whole store.
    pub(crate) locks: Arc<NamespaceLocks>,
    /// Counters shared by the whole store.
    pub(crate) stats: Arc<Stats>,
    /// Where reads send objects they had to repair on the fly.
    pub(crate) heal_queue: tokio::sync::mpsc::Sender<heal::HealRequest>,
}

/// Runs `work` to completion in its own task, even if the caller is dropped (the
/// client went away): work that holds a namespace lock must not be cut off while
/// its disk operations, which run on other threads, carry on.
pub(crate) async fn detached<T, F>(work: F) -> Result<T>
where
    T: Send + 'static,
    F: std::future::Future<Output = Result<T>> + Send + 'static,
{
    tokio::spawn(work).await.map_err(|e| ObjectError::Internal(format!("task failed: {e}")))?
}

/// Current time as nanoseconds since the Unix epoch.
pub(crate) fn now_unix_nanos() -> i64 {
    let elapsed = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    i64::try_from(elapsed.as_nanos()).unwrap_or(i64::MAX)
}

/// A keyed hash of `key`, used to pick an object's set and rotate its shards.
pub(crate) fn key_hash(deployment_id: Uuid, key: &str) -> u64 {
    let (k0, k1) = deployment_id.as_u64_pair();
    let mut hasher = SipHasher13::new_with_keys(k0, k1);
    hasher.write(key.as_bytes());
    hasher.finish()
}

impl ErasureSet {
    /// Which shard each drive holds for `key`: a rotation, so that parity is spread over drives.
    pub(crate) fn distribution(&self, key: &str) -> Vec<u8> {
        let drives = self.drives.len();
        let rotation = (key_hash(self.deployment_id, key) % drives as u64) as usize;
        (0..drives).map(|d| ((d + rotation) % drives) as u8).collect()
    }

    /// Erasure info as stored on drive `drive` for an object with `distribution`.
    pub(crate) fn erasure_info(&self, distribution: &[u8], drive: usize) -> ErasureInfo {
        ErasureInfo {
            data_shards: self.layout.data() as u8,
            parity_shards: self.layout.parity as u8,
            block_size_bytes: self.erasure.block_size() as u32,
            shard_index: distribution[drive],
            distribution: distribution.to_vec(),
        }
    }

    pub(crate) fn lock_name(bucket: &str, key: &str) -> String {
        format!("{bucket}/{key}")
    }

    pub(crate) async fn lock_read(&self, bucket: &str, key: &str) -> Result<LockGuard> {
        self.locks.read(Self::lock_name(bucket, key)).await
    }

    pub(crate) async fn lock_write(&self, bucket: &str, key: &str) -> Result<LockGuard> {
        self.locks.write(Self::lock_name(bucket, key)).await
    }

    /// Reads and decodes `xl.meta` from every drive in parallel.
    pub(crate) async fn read_metas(&self, bucket: &str, key: &str) -> Vec<std::result::Result<ObjectMeta, DriveError>> {
        join_all(self.drives.iter().map(|drive| async move {
            let bytes = drive.read_meta(bucket, key).await?;
            ObjectMeta::decode(&bytes).map_err(|error| {
                // The copy counts as missing on this drive; the read that skips it queues a heal.
                tracing::warn!(drive = drive.endpoint(), bucket, key, %error, "damaged xl.meta ignored");
                DriveError::Corrupt(format!("xl.meta: {error}"))
            })
        }))
        .await
    }

    /// Every drive's metadata and the version `at` names, as a read quorum agrees
    /// ([`pick_version_at`]); a delete marker is returned like any other version.
    ///
    /// When no version has a read quorum and some drives answered `Offline`, those drives
    /// are rechecked at once and, if one is back, the metadata is read again: after a
    /// partition heals each node counts the other side's drives as offline until its own
    /// next probe, and a key written meanwhile through the other side (on its drives and
    /// some of ours) is undecidable without them, so the read would fail with 503
    /// although its quorum is reachable. A quorum still lost is logged with every
    /// drive's answer.
    pub(crate) async fn read_for_client(&self, bucket: &str, key: &str, at: VersionRef) -> Result<ClientRead> {
        let mut metas = self.read_metas(bucket, key).await;
        let mut picked = pick_version_at(&metas, &self.layout, at);
        if matches!(picked, Err(ObjectError::ReadQuorum)) && self.recheck_offline(&metas).await {
            metas = self.read_metas(bucket, key).await;
            picked = pick_version_at(&metas, &self.layout, at);
        }
        match picked {
            Ok((version, holders)) => {
                if stale_meta(&metas, &version).contains(&true) {
                    self.queue_heal(bucket, key);
                }
                Ok(ClientRead { metas, version, holders })
            }
            Err(error) => {
                if matches!(error, ObjectError::ReadQuorum) {
                    tracing::warn!(bucket, key, answers = %describe_answers(&metas), "read quorum not reached");
                }
                Err(error)
            }
        }
    }

    /// Rechecks the drives whose answer was `Offline`; true when one of them is back.
    async fn recheck_offline(&self, metas: &[std::result::Result<ObjectMeta, DriveError>]) -> bool {
        let offline = self.drives.iter().zip(metas).filter(|(_, meta)| matches!(meta, Err(DriveError::Offline(_))));
        join_all(offline.map(|(drive, _)| drive.recheck())).await.into_iter().any(|back| back)
    }

    /// Rechecks the drives known offline when too few others are left for `quorum`:
    /// each node counts a peer that just came back as offline until its own next probe
    /// (up to a second), and an operation through a node that has not seen it return
    /// would fail for want of a quorum that is in fact reachable. Costs nothing while
    /// enough drives answer; a drive still gone is rechecked at most once a second.
    pub(crate) async fn recheck_if_short(&self, quorum: usize) {
        if self.drives.iter().filter(|drive| drive.is_online()).count() < quorum {
            join_all(self.drives.iter().filter(|drive| !drive.is_online()).map(|drive| drive.recheck())).await;
        }
    }

    /// Fails with `BucketNotFound` unless a read quorum of drives has the bucket.
    pub(crate) async fn require_bucket(&self, bucket: &str) -> Result<()> {
        self.recheck_if_short(self.layout.read_quorum()).await;
        let results = join_all(self.drives.iter().map(|drive| drive.stat_volume(bucket))).await;
        let present = results.iter().filter(|r| r.is_ok()).count();
        if present >= self.layout.read_quorum() {
            return Ok(());
        }
        let missing = results.iter().filter(|r| matches!(r, Err(DriveError::VolumeNotFound))).count();
        if missing > self.drives.len() - self.layout.read_quorum() {
            Err(ObjectError::BucketNotFound)
        } else {
            Err(ObjectError::ReadQuorum)
        }
    }

    /// The version `at` names, as a read quorum agrees, delete markers included.
    pub(crate) async fn version_info(&self, bucket: &str, key: &str, at: VersionRef) -> Result<ObjectInfo> {
        cairn_drive::validate_key(key)?;
        let _guard = self.lock_read(bucket, key).await?;
        let read = self.read_for_client(bucket, key, at).await?;
        Ok(object_info(bucket, key, &read.version))
    }

    /// The version `at` names as a client reads it: a delete marker is an error.
    pub(crate) async fn object_info(&self, bucket: &str, key: &str, at: VersionRef) -> Result<ObjectInfo> {
        let info = self.version_info(bucket, key, at).await?;
        refuse_marker(&info, at)?;
        Ok(info)
    }
}

/// A read of a delete marker: the key reads as absent when the marker is its newest
/// version, and a marker named by id has nothing to read.
pub(crate) fn refuse_marker(info: &ObjectInfo, at: VersionRef) -> Result<()> {
    if info.delete_marker {
        return Err(ObjectError::DeleteMarker { version_id: info.version_id, current: at == VersionRef::Latest });
    }
    Ok(())
}

/// Every data directory `meta` names (one per version that has part files).
pub(crate) fn data_dirs(meta: &ObjectMeta) -> Vec<Uuid> {
    meta.versions.iter().filter_map(|v| v.data_dir).collect()
}

/// What a client read found: every drive's metadata, the version a read quorum agrees
/// on, and per drive whether it holds that version.
pub(crate) struct ClientRead {
    pub(crate) metas: Vec<std::result::Result<ObjectMeta, DriveError>>,
    pub(crate) version: ObjectVersion,
    pub(crate) holders: Vec<bool>,
}

/// Converts a stored version into what callers see.
pub(crate) fn object_info(bucket: &str, key: &str, version: &ObjectVersion) -> ObjectInfo {
    ObjectInfo {
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        version_id: version.version_id,
        delete_marker: version.delete_marker,
        size: version.size,
        etag: version.etag.clone(),
        mod_time_unix_nanos: version.mod_time_unix_nanos,
        headers: version.headers.clone(),
        checksums: version.checksums.clone(),
        part_sizes: version.parts.iter().map(|p| p.size).collect(),
        compressed_size: version.compressed_size,
    }
}
