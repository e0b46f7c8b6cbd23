//! `ObjectStore`: the whole namespace over one or more erasure sets. Routes each
//! key to its set, and fans bucket operations out to every drive.

use crate::config::Layout;
use crate::format::load_or_create;
use crate::list::{ListPage, ListRequest, bucket_has_objects, list_page};
use crate::lock::NamespaceLocks;
use crate::pools::{PoolRange, PoolSpace};
use crate::set::heal::{HEAL_QUEUE_MAX, HealRequest};
use crate::set::multipart::parse_upload_id;
use crate::set::read::ObjectReader;
use crate::set::write::BodyMode;
use crate::set::{ErasureSet, now_unix_nanos};
use crate::types::{
    BucketInfo, CompleteRequest, CompositeChecksums, Deleted, HeaderChange, ObjectInfo, PartSummary, PutRequest,
    VersionRef,
};
use crate::{BLOCK_SIZE_BYTES, ObjectError, Result};
use bytes::Bytes;
use cairn_cluster::DistLocks;
use cairn_drive::{Drive, DriveError};
use cairn_erasure::Erasure;
use cairn_meta::BucketRecord;
use futures::future::join_all;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use uuid::Uuid;

/// Counters of what the store has seen, shared by all sets.
#[derive(Debug, Default)]
pub struct Stats {
    /// Shards whose bitrot hash or length did not match.
    pub(crate) corrupt_shards: AtomicU64,
    /// Shards that could not be opened or read.
    pub(crate) missing_shards: AtomicU64,
    /// Object reads that needed parity or skipped a failed drive.
    pub(crate) degraded_reads: AtomicU64,
    /// Shard files that object reads opened.
    pub(crate) shard_files_opened: AtomicU64,
    /// Objects rewritten on at least one drive by healing.
    pub(crate) objects_healed: AtomicU64,
    /// Drives a heal could not rewrite.
    pub(crate) heal_failures: AtomicU64,
    /// Objects the scanner checked.
    pub(crate) objects_scanned: AtomicU64,
    /// Scans that went through every bucket.
    pub(crate) scans_completed: AtomicU64,
    /// Copies of keys that a quorum of drives no longer holds, removed by the scanner.
    pub(crate) dangling_removed: AtomicU64,
    /// Data directories that no metadata named, removed by the scanner.
    pub(crate) orphans_removed: AtomicU64,
    /// When the last full scan ended (seconds since the Unix epoch; 0: none yet).
    pub(crate) last_scan_unix_secs: AtomicU64,
}

/// A snapshot of [`Stats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Shards whose bitrot hash or length did not match.
    pub corrupt_shards: u64,
    /// Shards that could not be opened or read.
    pub missing_shards: u64,
    /// Object reads that needed parity or skipped a failed drive.
    pub degraded_reads: u64,
    /// Shard files that object reads opened.
    pub shard_files_opened: u64,
    /// Objects rewritten on at least one drive by healing.
    pub objects_healed: u64,
    /// Drives a heal could not rewrite.
    pub heal_failures: u64,
    /// Objects the scanner checked.
    pub objects_scanned: u64,
    /// Scans that went through every bucket.
    pub scans_completed: u64,
    /// Copies of keys that a quorum of drives no longer holds, removed by the scanner.
    pub dangling_removed: u64,
    /// Data directories that no metadata named, removed by the scanner.
    pub orphans_removed: u64,
    /// When the last full scan ended (seconds since the Unix epoch; 0: none yet).
    pub last_scan_unix_secs: u64,
}

/// How to open a store beyond its drives.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// The `EC:n` storage class, if set.
    pub parity: Option<usize>,
    /// The cluster's lock service; None on a single node.
    pub cluster_locks: Option<DistLocks>,
    /// Per pool: this node creates the pool's format when none of its drives has one
    /// (it holds the pool's first drive). Pools not listed: true.
    pub creates_format: Vec<bool>,
    /// Time between background scans.
    pub scan_interval: Duration,
    /// Age below which the scanner leaves a data directory that no metadata names (it
    /// may belong to a commit or heal in progress).
    pub orphan_grace: Duration,
    /// Seconds in a lifecycle day: [`crate::lifecycle::DAY_SECS`] unless a test
    /// shortens it (the server refuses that in production mode).
    pub lifecycle_day_secs: i64,
}

/// Default time between background scans.
pub const SCAN_INTERVAL_DEFAULT: Duration = Duration::from_secs(3600);

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            parity: None,
            cluster_locks: None,
            creates_format: Vec::new(),
            scan_interval: SCAN_INTERVAL_DEFAULT,
            orphan_grace: crate::scanner::ORPHAN_GRACE_DEFAULT,
            lifecycle_day_secs: crate::lifecycle::DAY_SECS,
        }
    }
}

/// One drive as admin info and metrics report it.
#[derive(Debug)]
pub struct DriveState {
    /// Path or URL of the drive.
    pub endpoint: String,
    /// `host:port` of the node holding it; None for this node's own drives.
    pub node: Option<String>,
    /// Its capacity, or why it does not answer.
    pub info: std::result::Result<cairn_drive::DiskInfo, DriveError>,
}

/// Whether the store can serve writes and reads right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuorumStatus {
    /// Every set has a write quorum of answering drives.
    pub write: bool,
    /// Every set has a read quorum of answering drives.
    pub read: bool,
}

/// The object store.
#[derive(Debug, Clone)]
pub struct ObjectStore {
    /// Every pool's sets, pool after pool.
    pub(crate) sets: Arc<Vec<Arc<ErasureSet>>>,
    /// Where each pool's sets are in `sets`.
    pub(crate) pools: Arc<Vec<PoolRange>>,
    pub(crate) space: Arc<PoolSpace>,
    deployment_id: Uuid,
    pub(crate) stats: Arc<Stats>,
    /// Wakes the scanner early.
    pub(crate) scan_wake: Arc<tokio::sync::Notify>,
    /// The scanner's interval and rate.
    pub(crate) scan: Arc<crate::scanner::ScanSettings>,
    /// Objects and bytes per bucket, from the last scan (for metrics).
    pub(crate) usage: Arc<std::sync::Mutex<BTreeMap<String, (u64, u64)>>>,
    /// What compression saves per bucket, from the last scan.
    pub(crate) compressed_usage: Arc<std::sync::Mutex<BTreeMap<String, crate::scanner::CompressedUsage>>>,
    /// Bytes written since each bucket's last scan, for quotas.
    pub(crate) quotas: Arc<crate::quota::Quotas>,
    /// When abandoned multipart uploads expire.
    pub(crate) upload_expiry: Arc<crate::uploads::UploadExpiry>,
    /// Bucket configurations recently read, and who hears of changes.
    pub(crate) bucket_configs: Arc<crate::bucket_config::BucketConfigs>,
    /// The lifecycle day and what lifecycle rules did here.
    pub(crate) ilm: Arc<crate::ilm::Ilm>,
    /// Which new objects are compressed (`admin config set compression ...`).
    compression: Arc<std::sync::RwLock<crate::compress::CompressionRule>>,
    /// The master keys of SSE-S3, when the server has them.
    pub(crate) keyring: Arc<std::sync::RwLock<Option<Arc<crate::sse::Keyring>>>>,
}

/// Heals the objects that reads queue, one at a time, for as long as the store lives.
async fn heal_worker(store: ObjectStore, mut requests: tokio::sync::mpsc::Receiver<HealRequest>) {
    while let Some((bucket, key)) = requests.recv().await {
        match store.heal_object(&bucket, &key).await {
            Ok(_) | Err(ObjectError::ObjectNotFound) => {}
            Err(error) => {
                store.stats.heal_failures.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(bucket, key, %error, "heal failed");
            }
        }
    }
}

pub(crate) fn bucket_record_path(bucket: &str) -> String {
    format!("buckets/{bucket}.meta")
}

impl ObjectStore {
    /// Opens the store over `drives` (in command-line order), formatting them on first use.
    pub async fn open(drives: Vec<Arc<dyn Drive>>, parity_override: Option<usize>) -> Result<Self> {
        Self::open_with(drives, StoreOptions { parity: parity_override, ..StoreOptions::default() }).await
    }

    /// Opens the store with `options`; in a cluster, waits for enough of the other
    /// nodes' drives to agree on the deployment.
    pub async fn open_with(drives: Vec<Arc<dyn Drive>>, options: StoreOptions) -> Result<Self> {
        Self::open_pools(vec![drives], options).await
    }

    /// Opens a store of several server pools (each a list of drives in set order).
    pub async fn open_pools(pools: Vec<Vec<Arc<dyn Drive>>>, options: StoreOptions) -> Result<Self> {
        assert!(!pools.is_empty(), "a store has at least one pool");
        let locks = Arc::new(match options.cluster_locks {
            Some(cluster) => NamespaceLocks::clustered(cluster),
            None => NamespaceLocks::default(),
        });
        let stats = Arc::new(Stats::default());
        let (heal_queue, heal_requests) = tokio::sync::mpsc::channel(HEAL_QUEUE_MAX);
        let mut sets: Vec<Arc<ErasureSet>> = Vec::new();
        let mut ranges = Vec::with_capacity(pools.len());
        let mut deployment: Option<Uuid> = None;
        for (index, drives) in pools.iter().enumerate() {
            let layout = Layout::for_drives(drives.len(), options.parity)?;
            let creates = options.creates_format.get(index).copied().unwrap_or(true);
            let deployment_id = load_or_create(drives, &layout, creates, deployment).await?;
            deployment = Some(deployment_id);
            let erasure = Erasure::new(layout.data(), layout.parity, BLOCK_SIZE_BYTES)
                .map_err(|e| ObjectError::InvalidArgument(e.to_string()))?;
            ranges.push(PoolRange { first: sets.len(), count: layout.sets });
            sets.extend(drives.chunks(layout.drives_per_set).map(|chunk| {
                Arc::new(ErasureSet {
                    drives: chunk.to_vec(),
                    layout,
                    erasure,
                    deployment_id,
                    locks: Arc::clone(&locks),
                    stats: Arc::clone(&stats),
                    heal_queue: heal_queue.clone(),
                })
            }));
        }
        let deployment_id = deployment.expect("at least one pool was opened");
        let scan_wake = Arc::new(tokio::sync::Notify::new());
        let store = Self {
            sets: Arc::new(sets),
            pools: Arc::new(ranges),
            space: Arc::default(),
            deployment_id,
            stats,
            scan_wake,
            scan: Arc::new(crate::scanner::ScanSettings::new(options.scan_interval, options.orphan_grace)),
            usage: Arc::default(),
            compressed_usage: Arc::default(),
            quotas: Arc::default(),
            upload_expiry: Arc::default(),
            bucket_configs: Arc::default(),
            ilm: Arc::new(crate::ilm::Ilm::new(options.lifecycle_day_secs)),
            compression: Arc::default(),
            keyring: Arc::default(),
        };
        if store.pools.len() > 1 {
            store.heal_all_buckets().await;
        }
        // Before anything reads: a version a crash left on too few drives must not appear.
        store.resolve_pending_commits().await;
        tokio::spawn(heal_worker(store.clone(), heal_requests));
        tokio::spawn(crate::scanner::run(store.clone()));
        tokio::spawn(crate::uploads::expire_stale_uploads(store.clone()));
        // Whatever changed while this node was down is found by a first scan.
        store.request_scan();
        Ok(store)
    }

    /// The erasure layout (of the first pool).
    pub fn layout(&self) -> Layout {
        self.sets[0].layout
    }

    /// Number of server pools.
    pub fn pool_count(&self) -> usize {
        self.pools.len()
    }

    /// The deployment id shared by every drive.
    pub fn deployment_id(&self) -> Uuid {
        self.deployment_id
    }

    /// Counters of corrupt and missing shards seen so far.
    pub fn stats(&self) -> StoreStats {
        StoreStats {
            corrupt_shards: self.stats.corrupt_shards.load(Ordering::Relaxed),
            missing_shards: self.stats.missing_shards.load(Ordering::Relaxed),
            degraded_reads: self.stats.degraded_reads.load(Ordering::Relaxed),
            shard_files_opened: self.stats.shard_files_opened.load(Ordering::Relaxed),
            objects_healed: self.stats.objects_healed.load(Ordering::Relaxed),
            heal_failures: self.stats.heal_failures.load(Ordering::Relaxed),
            objects_scanned: self.stats.objects_scanned.load(Ordering::Relaxed),
            scans_completed: self.stats.scans_completed.load(Ordering::Relaxed),
            dangling_removed: self.stats.dangling_removed.load(Ordering::Relaxed),
            orphans_removed: self.stats.orphans_removed.load(Ordering::Relaxed),
            last_scan_unix_secs: self.stats.last_scan_unix_secs.load(Ordering::Relaxed),
        }
    }

    /// Objects queued for healing (by reads that met a missing or damaged shard) and not
    /// yet healed: the healing backlog.
    pub fn heal_backlog(&self) -> usize {
        self.sets.first().map_or(0, |set| set.heal_queue.max_capacity() - set.heal_queue.capacity())
    }

    fn drives(&self) -> impl Iterator<Item = (&Arc<ErasureSet>, &Arc<dyn Drive>)> {
        self.sets.iter().flat_map(|set| set.drives.iter().map(move |drive| (set, drive)))
    }

    /// Every drive of every set.
    pub(crate) fn all_drives(&self) -> impl Iterator<Item = &Arc<dyn Drive>> {
        self.drives().map(|(_, drive)| drive)
    }

    /// Takes a cluster-wide exclusive lock named `name`, for read-modify-write changes of
    /// configuration objects (identities): released when the guard is dropped.
    pub async fn lock_exclusive(&self, name: &str) -> Result<crate::lock::LockGuard> {
        self.sets[0].locks.write(format!("{}/exclusive/{name}", cairn_drive::SYSTEM_VOLUME)).await
    }

    /// Every drive: where it is, on which node, and its capacity (or why not).
    pub async fn drive_states(&self) -> Vec<DriveState> {
        let infos = join_all(self.all_drives().map(|drive| drive.disk_info())).await;
        self.all_drives()
            .zip(infos)
            .map(|(drive, info)| {
                let endpoint = drive.endpoint().to_owned();
                // A remote drive's endpoint is `http://host:port/path`: its node is `host:port`.
                let node = (!drive.is_local())
                    .then(|| endpoint.trim_start_matches("http://").split('/').next().unwrap_or(&endpoint).to_owned());
                DriveState { endpoint, node, info }
            })
            .collect()
    }

    /// Objects and bytes per bucket, as counted by the last scan of each bucket.
    pub fn bucket_usage(&self) -> BTreeMap<String, (u64, u64)> {
        self.usage.lock().map(|usage| usage.clone()).unwrap_or_default()
    }

    /// What compression saves, per bucket, as of the last scan.
    pub fn compressed_usage(&self) -> BTreeMap<String, crate::scanner::CompressedUsage> {
        self.compressed_usage.lock().map(|usage| usage.clone()).unwrap_or_default()
    }

    /// What compression saves in all buckets, as of the last scan.
    pub fn compressed_total(&self) -> crate::scanner::CompressedUsage {
        self.compressed_usage().values().fold(Default::default(), |total, bucket| crate::scanner::CompressedUsage {
            objects: total.objects + bucket.objects,
            logical_bytes: total.logical_bytes + bucket.logical_bytes,
            stored_bytes: total.stored_bytes + bucket.stored_bytes,
        })
    }

    /// How many drives do not answer right now.
    pub async fn drives_offline(&self) -> usize {
        join_all(self.all_drives().map(|drive| drive.disk_info())).await.iter().filter(|a| a.is_err()).count()
    }

    /// Ok when every set reached its write quorum in `results` (one per drive, in drive order).
    pub(crate) fn per_set_quorum<T>(&self, results: &[std::result::Result<T, DriveError>]) -> Result<()> {
        let mut rest = results;
        for set in self.sets.iter() {
            let (chunk, tail) = rest.split_at(set.drives.len());
            crate::quorum::reduce_write(chunk, set.layout.write_quorum())?;
            rest = tail;
        }
        Ok(())
    }

    /// Whether every set has a write (and a read) quorum of drives that answer.
    pub async fn quorum_status(&self) -> QuorumStatus {
        let mut status = QuorumStatus { write: true, read: true };
        for set in self.sets.iter() {
            let answers = join_all(set.drives.iter().map(|drive| drive.disk_info())).await;
            let online = answers.iter().filter(|a| a.is_ok()).count();
            status.write &= online >= set.layout.write_quorum();
            status.read &= online >= set.layout.read_quorum();
        }
        status
    }

    /// Creates a bucket on every drive.
    pub async fn make_bucket(&self, bucket: &str) -> Result<()> {
        self.make_bucket_with(bucket, false).await
    }

    /// Creates a bucket on every drive; with `object_lock`, versioned and with object
    /// lock on from the start (it cannot be turned on later, nor off).
    pub async fn make_bucket_with(&self, bucket: &str, object_lock: bool) -> Result<()> {
        self.bucket_configs.forget(bucket);
        let results = join_all(self.drives().map(|(_, drive)| drive.make_volume(bucket))).await;
        let existing = results.iter().filter(|r| matches!(r, Err(DriveError::VolumeExists))).count();
        if existing > results.len() / 2 {
            return Err(ObjectError::BucketExists);
        }
        let results: Vec<_> =
            results.into_iter().map(|r| if matches!(r, Err(DriveError::VolumeExists)) { Ok(()) } else { r }).collect();
        self.per_set_quorum(&results)?;
        let mut record = BucketRecord::new(bucket, now_unix_nanos());
        if object_lock {
            record.versioning = cairn_meta::Versioning::Enabled;
            record.object_lock = Some(cairn_meta::ObjectLock::default());
        }
        let bytes = Bytes::from(record.encode());
        let path = bucket_record_path(bucket);
        let written = join_all(self.drives().map(|(_, drive)| drive.write_sys_file(&path, bytes.clone()))).await;
        self.per_set_quorum(&written)
    }

    /// Describes a bucket; `BucketNotFound` unless a quorum of drives has it.
    pub async fn bucket_info(&self, bucket: &str) -> Result<BucketInfo> {
        Ok(self.bucket_record(bucket).await?.into())
    }

    /// Lists buckets that a read quorum of the first set's drives holds.
    pub async fn list_buckets(&self) -> Result<Vec<BucketInfo>> {
        let set = &self.sets[0];
        let listings = join_all(set.drives.iter().map(|drive| drive.list_volumes())).await;
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for volume in listings.iter().flatten().flatten() {
            *counts.entry(volume.name.clone()).or_default() += 1;
        }
        let mut buckets = Vec::new();
        for (name, count) in counts {
            if count >= set.layout.read_quorum() {
                buckets.push(self.bucket_info(&name).await?);
            }
        }
        Ok(buckets)
    }

    /// Deletes an empty bucket, with its in-progress uploads.
    pub async fn delete_bucket(&self, bucket: &str) -> Result<()> {
        // A bucket made again under this name must not get the old one's configuration.
        self.bucket_configs.forget(bucket);
        self.notify_bucket_change(bucket).await;
        self.sets[0].require_bucket(bucket).await?;
        if bucket_has_objects(&self.sets, bucket).await? {
            return Err(ObjectError::BucketNotEmpty);
        }
        let results = join_all(self.drives().map(|(_, drive)| drive.delete_volume(bucket))).await;
        let results: Vec<_> = results
            .into_iter()
            .map(|r| if matches!(r, Err(DriveError::VolumeNotFound)) { Ok(()) } else { r })
            .collect();
        self.per_set_quorum(&results)?;
        let record = bucket_record_path(bucket);
        let uploads = format!("multipart/{bucket}");
        join_all(self.drives().map(|(_, drive)| {
            let (record, uploads) = (&record, &uploads);
            async move {
                let _ = drive.delete_sys(record).await;
                let _ = drive.delete_sys(uploads).await;
            }
        }))
        .await;
        Ok(())
    }

    /// Heals one object: rewrites every drive whose copy is missing, stale or corrupt.
    /// Returns how many drives were rewritten.
    pub async fn heal_object(&self, bucket: &str, key: &str) -> Result<usize> {
        self.locate(bucket, key).await?.heal_object(bucket, key).await
    }

    /// Stores an object: a new version in a versioned bucket, the key's only version
    /// otherwise.
    pub async fn put_object(&self, mut request: PutRequest) -> Result<ObjectInfo> {
        let versioning = self.bucket_versioning(&request.bucket).await?;
        let (bucket, key) = (request.bucket.clone(), request.key.clone());
        let encrypt = self.new_object_key(&bucket, &key, &mut request).await?;
        let (check, quota) = self.with_quota_check(&request.bucket, request.check).await?;
        request.check = check;
        let compress = self.compresses(&request.bucket, &request.key, &request.headers);
        let set = self.placement(&request.bucket, &request.key).await?;
        let outcome = set.put_object(request, versioning, BodyMode { allow_inline: true, compress, encrypt }).await;
        quota.settle(&outcome);
        outcome
    }

    /// Sets which new objects are compressed; applies to writes that start from now on.
    pub fn set_compression(&self, rule: crate::compress::CompressionRule) {
        *self.compression.write().unwrap_or_else(std::sync::PoisonError::into_inner) = rule;
    }

    /// Whether a new object with this key and these headers is compressed. Internal
    /// configuration objects never are (they are small, and read at start-up).
    /// An encrypted object (its headers name an encryption) is compressed only when the
    /// rule allows it.
    fn compresses(&self, bucket: &str, key: &str, headers: &BTreeMap<String, String>) -> bool {
        let rule = self.compression.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        let encrypted = crate::sse::encryption_of(headers).is_some();
        bucket != cairn_drive::SYSTEM_VOLUME && rule.applies(key, headers) && (!encrypted || rule.allow_encryption)
    }

    /// Opens the newest version of an object for reading.
    pub async fn open_object(&self, bucket: &str, key: &str) -> Result<ObjectReader> {
        self.open_version(bucket, key, VersionRef::Latest).await
    }

    /// Opens the version `at` names for reading; a delete marker is an error
    /// (`DeleteMarker`).
    pub async fn open_version(&self, bucket: &str, key: &str, at: VersionRef) -> Result<ObjectReader> {
        self.open_version_with(bucket, key, at, None).await
    }

    /// Opens the version `at` names for reading, with the customer's key when it is
    /// encrypted with one (SSE-C); an SSE-S3 object opens with the server's keys.
    pub async fn open_version_with(
        &self,
        bucket: &str,
        key: &str,
        at: VersionRef,
        customer: Option<&crate::sse::CustomerKey>,
    ) -> Result<ObjectReader> {
        let mut reader = self.locate(bucket, key).await?.open_object(bucket, key, at).await?;
        reader.key = self.object_key_of(&reader.info.headers, customer, (bucket, key))?;
        Ok(reader)
    }

    /// Describes the newest version of an object.
    pub async fn object_info(&self, bucket: &str, key: &str) -> Result<ObjectInfo> {
        self.version_info(bucket, key, VersionRef::Latest).await
    }

    /// Describes the version `at` names; a delete marker is an error (`DeleteMarker`).
    pub async fn version_info(&self, bucket: &str, key: &str, at: VersionRef) -> Result<ObjectInfo> {
        self.locate(bucket, key).await?.object_info(bucket, key, at).await
    }

    /// Changes the stored headers (the tags) of the version `at` names in place;
    /// returns the version as changed.
    pub async fn update_object_headers(
        &self,
        bucket: &str,
        key: &str,
        at: VersionRef,
        change: HeaderChange,
    ) -> Result<ObjectInfo> {
        self.locate(bucket, key).await?.update_headers(bucket, key, at, change).await
    }

    /// Deletes the newest version of a key as S3 does: removes the key in a bucket never
    /// versioned, adds a delete marker in a versioned one.
    pub async fn delete_object(&self, bucket: &str, key: &str) -> Result<Deleted> {
        self.delete_version(bucket, key, VersionRef::Latest, false).await
    }

    /// Deletes `at`: the newest version as [`ObjectStore::delete_object`] does, or the
    /// version with a given id for good, unless object lock protects it
    /// (`bypass_governance`: the request asked to bypass GOVERNANCE retention and may).
    pub async fn delete_version(
        &self,
        bucket: &str,
        key: &str,
        at: VersionRef,
        bypass_governance: bool,
    ) -> Result<Deleted> {
        let versioning = self.bucket_versioning(bucket).await?;
        let bypass = bypass_governance;
        let sets = self.sets_for(key);
        if sets.len() == 1 {
            return sets[0].delete_object(bucket, key, at, versioning, bypass).await;
        }
        // In several pools, a key may have been written to two pools by racing first
        // writes. A delete marker goes where the key lives; a removal goes to every pool,
        // or an older copy in a pool that failed would reappear.
        if at == VersionRef::Latest && versioning.keeps_versions() {
            return self.placement(bucket, key).await?.delete_object(bucket, key, at, versioning, bypass).await;
        }
        let results = join_all(sets.iter().map(|set| set.delete_object(bucket, key, at, versioning, bypass))).await;
        let deleted = results.iter().find_map(|r| r.as_ref().ok().copied());
        let mut failures = results.into_iter().filter_map(Result::err);
        match failures.find(|e| !matches!(e, ObjectError::ObjectNotFound | ObjectError::VersionNotFound)) {
            Some(error) => Err(error),
            None => deleted.ok_or(match at {
                VersionRef::Latest => ObjectError::ObjectNotFound,
                VersionRef::Exact(_) => ObjectError::VersionNotFound,
            }),
        }
    }

    /// Lists a page of objects.
    pub async fn list_objects(&self, request: &ListRequest) -> Result<ListPage> {
        self.sets[0].require_bucket(&request.bucket).await?;
        list_page(&self.sets, request).await
    }

    /// Starts a multipart upload; returns its id and how its parts are encrypted (see
    /// [`PartSummary::encryption`]).
    pub async fn create_multipart_upload(
        &self,
        bucket: &str,
        key: &str,
        mut headers: BTreeMap<String, String>,
        checksum_algorithm: Option<String>,
        encryption: Option<crate::sse::Encryption>,
    ) -> Result<(String, Option<String>)> {
        // The upload's object key, sealed in its headers: every part opens it.
        self.seal_object_key(bucket, key, encryption, &mut headers).await?;
        let compress = self.compresses(bucket, key, &headers);
        let set = self.placement(bucket, key).await?;
        let encryption = crate::sse::encryption_of(&headers).map(str::to_owned);
        let id = set.create_upload(bucket, key, headers, checksum_algorithm, compress).await?;
        Ok((id.to_string(), encryption))
    }

    /// Stores one part of an upload.
    pub async fn upload_part(&self, request: PutRequest, upload_id: &str, part_number: u32) -> Result<PartSummary> {
        let id = parse_upload_id(upload_id)?;
        let PutRequest { bucket, key, body, check, encryption, .. } = request;
        let set = self.upload_set(&bucket, &key, id).await?;
        let upload = set.read_upload(&bucket, &key, id).await?;
        let customer = match encryption {
            Some(crate::sse::Encryption::SseC(customer)) => Some(customer),
            _ => None,
        };
        let encrypt = self.object_key_of(&upload.headers, customer.as_ref(), (&bucket, &key))?;
        // A part must fit too; it counts against the quota once its upload completes.
        let (check, while_written) = self.with_quota_check(&bucket, check).await?;
        let mode = BodyMode { allow_inline: false, compress: upload.compress, encrypt };
        let outcome = set.upload_part(&upload, part_number, body, check, mode).await.map(|mut part| {
            part.encryption = crate::sse::encryption_of(&upload.headers).map(str::to_owned);
            part
        });
        while_written.release();
        outcome
    }

    /// The checksum algorithm an upload was created with, if any.
    pub async fn upload_checksum_algorithm(&self, bucket: &str, key: &str, upload_id: &str) -> Result<Option<String>> {
        let id = parse_upload_id(upload_id)?;
        Ok(self.upload_set(bucket, key, id).await?.read_upload(bucket, key, id).await?.checksum_algorithm)
    }

    /// Lists parts of an upload after `marker`.
    pub async fn list_parts(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        marker: u32,
        max_parts: usize,
    ) -> Result<(Vec<PartSummary>, bool)> {
        let id = parse_upload_id(upload_id)?;
        self.upload_set(bucket, key, id).await?.list_parts(bucket, key, id, marker, max_parts).await
    }

    /// Completes an upload.
    pub async fn complete_multipart_upload(
        &self,
        request: CompleteRequest,
        composite: CompositeChecksums,
    ) -> Result<ObjectInfo> {
        let id = parse_upload_id(&request.upload_id)?;
        let (bucket, key) = (&request.bucket, &request.key);
        let versioning = self.bucket_versioning(bucket).await?;
        match self.upload_set(bucket, key, id).await {
            Ok(set) => {
                let quota = match self.bucket_quota(bucket).await? {
                    Some(_) => {
                        let size = self.named_parts_size(&request).await?;
                        self.reserve_quota(bucket, size).await?
                    }
                    None => None,
                };
                let outcome = set.complete_upload(request, id, composite, versioning).await;
                if let (Some(reservation), Err(_)) = (quota, &outcome) {
                    reservation.release();
                }
                outcome
            }
            // A retry of a Complete that succeeded (its answer was lost) succeeds again.
            Err(ObjectError::UploadNotFound) => self.locate(bucket, key).await?.completed_upload(&request, id).await,
            Err(error) => Err(error),
        }
    }

    /// The bytes of the parts a Complete names (those the upload has). Read before the
    /// upload's lock: a part uploaded again meanwhile is counted at its earlier size.
    /// Parts are read a page at a time.
    async fn named_parts_size(&self, request: &CompleteRequest) -> Result<u64> {
        let (bucket, key, id) = (&request.bucket, &request.key, &request.upload_id);
        let mut sizes = BTreeMap::new();
        let mut marker = 0;
        loop {
            const PARTS_PAGE: usize = 1000;
            let (parts, truncated) = self.list_parts(bucket, key, id, marker, PARTS_PAGE).await?;
            for part in &parts {
                sizes.insert(part.number, part.size);
            }
            match (truncated, parts.last()) {
                (true, Some(last)) => marker = last.number,
                _ => break,
            }
        }
        Ok(request.parts.iter().filter_map(|part| sizes.get(&part.number)).sum())
    }

    /// Aborts an upload.
    pub async fn abort_multipart_upload(&self, bucket: &str, key: &str, upload_id: &str) -> Result<()> {
        let id = parse_upload_id(upload_id)?;
        self.upload_set(bucket, key, id).await?.abort_upload(bucket, key, id).await
    }
}
