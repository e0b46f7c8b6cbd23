//! A bucket's record and configuration (its tags): one copy on every drive of every
//! pool (`buckets/<bucket>.meta` in the system volume), like the bucket folder itself.
//!
//! Changes are read-modify-write under a cluster-wide exclusive lock named after the
//! bucket, stamped with `config_updated_unix_nanos` (strictly newer than the copy they
//! change), and written to every drive; they succeed on a write quorum of every set.
//! Reads take the newest copy any drive answers with: an acknowledged change reached a
//! write quorum, which every read quorum meets. The scanner's bucket pass rewrites
//! copies that are missing or older.
//!
//! What every write needs (the versioning state) is kept in memory per bucket for
//! [`BUCKET_CONFIG_TTL`]: a change through this node replaces its copy at once, and the
//! other nodes are told to forget theirs before the change is acknowledged (the
//! notifier the server sets); the time limit bounds how long a node that missed the
//! notice (it was unreachable) writes with the old state.

use crate::set::now_unix_nanos;
use crate::store::{ObjectStore, bucket_record_path};
use crate::{ObjectError, Result};
use bytes::Bytes;
use cairn_drive::DriveError;
use cairn_meta::BucketRecord;
use cairn_meta::Versioning;
use futures::future::join_all;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// How long a node uses its copy of a bucket's configuration without reading it again.
pub const BUCKET_CONFIG_TTL: Duration = Duration::from_secs(5);
/// Most buckets whose configuration is kept in memory; past it the copies are dropped
/// (and read again when needed).
const CACHED_BUCKETS_MAX: usize = 10_000;

/// Tells the other nodes that a bucket's configuration changed (set once by the server).
pub type BucketChangeNotifier =
    Box<dyn Fn(String) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> + Send + Sync>;

/// Bucket configurations recently read, and who hears of changes.
#[derive(Default)]
pub(crate) struct BucketConfigs {
    /// Shared, so that a write's lookup (several per request) clones no record.
    cached: Mutex<HashMap<String, (Arc<BucketRecord>, Instant)>>,
    notifier: OnceLock<BucketChangeNotifier>,
}

impl std::fmt::Debug for BucketConfigs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BucketConfigs").finish_non_exhaustive()
    }
}

impl BucketConfigs {
    fn get(&self, bucket: &str) -> Option<Arc<BucketRecord>> {
        let cached = self.cached.lock().ok()?;
        let (record, read_at) = cached.get(bucket)?;
        (read_at.elapsed() < BUCKET_CONFIG_TTL).then(|| Arc::clone(record))
    }

    fn put(&self, record: Arc<BucketRecord>) {
        if let Ok(mut cached) = self.cached.lock() {
            if cached.len() >= CACHED_BUCKETS_MAX {
                cached.clear();
            }
            cached.insert(record.name.clone(), (record, Instant::now()));
        }
    }

    pub(crate) fn forget(&self, bucket: &str) {
        if let Ok(mut cached) = self.cached.lock() {
            cached.remove(bucket);
        }
    }
}

/// The newest of the records drives answered with; None when no drive has a readable one.
fn newest(answers: &[std::result::Result<Bytes, DriveError>]) -> Option<BucketRecord> {
    answers
        .iter()
        .flatten()
        .filter_map(|bytes| BucketRecord::decode(bytes).ok())
        .max_by_key(|record| record.config_updated_unix_nanos)
}

impl ObjectStore {
    /// The bucket's record and configuration; `BucketNotFound` unless a quorum of drives
    /// has the bucket.
    pub async fn bucket_record(&self, bucket: &str) -> Result<BucketRecord> {
        self.require_bucket(bucket).await?;
        let path = bucket_record_path(bucket);
        let answers = join_all(self.all_drives().map(|drive| drive.read_sys_file(&path))).await;
        if let Some(record) = newest(&answers) {
            return Ok(record);
        }
        // A bucket made before records existed: its folder's creation time.
        let info = self.first_drive().stat_volume(bucket).await?;
        Ok(BucketRecord::new(&info.name, i64::try_from(info.created_unix_nanos).unwrap_or(0)))
    }

    /// Changes a bucket's configuration: `change` edits the current record (or refuses
    /// the change), which is then stamped and written to every drive, and the other
    /// nodes are told. Returns the record as written.
    pub async fn update_bucket_record(
        &self,
        bucket: &str,
        change: impl FnOnce(&mut BucketRecord) -> Result<()> + Send,
    ) -> Result<BucketRecord> {
        let _guard = self.lock_exclusive(&format!("bucket/{bucket}")).await?;
        let mut record = self.bucket_record(bucket).await?;
        change(&mut record)?;
        record.config_updated_unix_nanos = now_unix_nanos().max(record.config_updated_unix_nanos + 1);
        let bytes = Bytes::from(record.encode());
        let path = bucket_record_path(bucket);
        let written = join_all(self.all_drives().map(|drive| drive.write_sys_file(&path, bytes.clone()))).await;
        // Whatever the outcome, no node may go on with its old copy.
        self.bucket_configs.forget(bucket);
        self.notify_bucket_change(bucket).await;
        self.per_set_quorum(&written)?;
        self.bucket_configs.put(Arc::new(record.clone()));
        Ok(record)
    }

    /// The bucket's configuration as writes (and `x-amz-expiration`) use it: kept in
    /// memory for a few seconds.
    pub async fn bucket_config(&self, bucket: &str) -> Result<Arc<BucketRecord>> {
        if let Some(record) = self.bucket_configs.get(bucket) {
            return Ok(record);
        }
        let record = Arc::new(self.bucket_record(bucket).await?);
        self.bucket_configs.put(Arc::clone(&record));
        Ok(record)
    }

    /// The bucket's versioning state. Cairn's own configuration (the system volume) is
    /// never versioned.
    pub async fn bucket_versioning(&self, bucket: &str) -> Result<Versioning> {
        if bucket == cairn_drive::SYSTEM_VOLUME {
            return Ok(Versioning::Unversioned);
        }
        Ok(self.bucket_config(bucket).await?.versioning)
    }

    /// Sets the bucket's versioning state: Enabled or Suspended (a bucket cannot go back
    /// to never having been versioned, as on S3, and a bucket with object lock stays
    /// Enabled).
    pub async fn set_bucket_versioning(&self, bucket: &str, versioning: Versioning) -> Result<()> {
        if versioning == Versioning::Unversioned {
            return Err(ObjectError::InvalidArgument("versioning can only be enabled or suspended".into()));
        }
        self.update_bucket_record(bucket, |record| {
            if record.object_lock.is_some() && versioning == Versioning::Suspended {
                return Err(ObjectError::InvalidBucketState(
                    "versioning cannot be suspended on a bucket with object lock",
                ));
            }
            record.versioning = versioning;
            Ok(())
        })
        .await
        .map(drop)
    }

    /// The bucket's object lock, if it was created with it.
    pub async fn bucket_object_lock(&self, bucket: &str) -> Result<Option<cairn_meta::ObjectLock>> {
        if bucket == cairn_drive::SYSTEM_VOLUME {
            return Ok(None);
        }
        Ok(self.bucket_config(bucket).await?.object_lock.clone())
    }

    /// Sets the default retention of a bucket created with object lock (None: none).
    pub async fn set_default_retention(
        &self,
        bucket: &str,
        retention: Option<cairn_meta::DefaultRetention>,
    ) -> Result<()> {
        self.update_bucket_record(bucket, |record| match record.object_lock.as_mut() {
            Some(lock) => {
                lock.default_retention = retention;
                Ok(())
            }
            None => {
                Err(ObjectError::InvalidBucketState("object lock can only be configured on a bucket created with it"))
            }
        })
        .await
        .map(drop)
    }

    /// Tells the other nodes that a bucket's configuration changed or the bucket went.
    pub(crate) async fn notify_bucket_change(&self, bucket: &str) {
        if let Some(notify) = self.bucket_configs.notifier.get() {
            notify(bucket.to_owned()).await;
        }
    }

    /// Forgets this node's copy of a bucket's configuration (another node changed it).
    pub fn forget_bucket_config(&self, bucket: &str) {
        self.bucket_configs.forget(bucket);
    }

    /// Sets who tells the other nodes of a change of a bucket's configuration (once).
    pub fn set_bucket_change_notifier(&self, notify: BucketChangeNotifier) {
        let _ = self.bucket_configs.notifier.set(notify);
    }

    /// Gives every answering drive the bucket's folder and its newest record, where it
    /// lacks them or holds an older record.
    pub(crate) async fn heal_bucket(&self, bucket: &str) {
        // Only a bucket a quorum still holds: one being deleted must not be brought back.
        if self.bucket_info(bucket).await.is_err() {
            return;
        }
        let path = bucket_record_path(bucket);
        let answers = join_all(self.all_drives().map(|drive| drive.read_sys_file(&path))).await;
        let Some(record) = newest(&answers) else { return };
        let bytes = Bytes::from(record.encode());
        join_all(self.all_drives().zip(&answers).map(|(drive, answer)| {
            let (path, bytes, record) = (&path, bytes.clone(), &record);
            async move {
                if matches!(drive.stat_volume(bucket).await, Err(DriveError::VolumeNotFound))
                    && drive.make_volume(bucket).await.is_ok()
                {
                    tracing::info!(bucket, drive = drive.endpoint(), "healed bucket");
                }
                let held = answer.as_ref().ok().and_then(|b| BucketRecord::decode(b).ok());
                let behind = match (answer, held) {
                    (_, Some(held)) => held.config_updated_unix_nanos < record.config_updated_unix_nanos,
                    (Err(DriveError::FileNotFound), None) => true,
                    // Unreadable for another reason (offline): nothing to write to now.
                    (Err(_), None) => false,
                    // Damaged: rewrite it.
                    (Ok(_), None) => true,
                };
                if behind && drive.write_sys_file(path, bytes).await.is_ok() {
                    tracing::info!(bucket, drive = drive.endpoint(), "healed bucket record");
                }
            }
        }))
        .await;
    }

    /// Fails with `BucketNotFound` unless a read quorum of the first set's drives has the bucket.
    async fn require_bucket(&self, bucket: &str) -> Result<()> {
        self.sets[0].require_bucket(bucket).await
    }

    fn first_drive(&self) -> &Arc<dyn cairn_drive::Drive> {
        self.all_drives().next().expect("a store has drives")
    }
}

impl From<BucketRecord> for crate::types::BucketInfo {
    fn from(record: BucketRecord) -> Self {
        Self { name: record.name, created_unix_nanos: record.created_unix_nanos }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_readable_record_wins() {
        let mut old = BucketRecord::new("b", 1);
        old.config_updated_unix_nanos = 5;
        let mut new = old.clone();
        new.config_updated_unix_nanos = 9;
        new.tags = vec![("team".into(), "crm".into())];
        let answers = vec![
            Ok(Bytes::from(old.encode())),
            Err(DriveError::FileNotFound),
            Ok(Bytes::from(new.encode())),
            Ok(Bytes::from_static(b"damaged")),
        ];
        assert_eq!(newest(&answers), Some(new));
        assert_eq!(newest(&[Err(DriveError::FileNotFound)]), None);
    }
}
