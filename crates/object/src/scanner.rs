//! The background scanner: walks every bucket and object at a bounded rate and heals
//! what is missing or stale on some drive — objects written while a node was down,
//! buckets and objects on a wiped or replaced drive — and applies the buckets'
//! lifecycle rules to this node's share of the keys (`ilm.rs`). It runs every
//! interval, and at once when asked (a node came back, a fresh drive was formatted).
//!
//! A normal scan compares metadata only (cheap). Every `deep` interval (30 days by
//! default) a scan is deep: it also reads every shard frame of every object and checks
//! it against its hash, at most `deep_speed` bytes per second (32 MiB/s by default), and
//! heals what fails, so bitrot in data nobody reads is found too. The last deep scan's
//! time is kept in memory: a restart starts the deep interval over.

use crate::list::Dangling;
use crate::pages::Pages;
use crate::quorum::agreed_versions;
use crate::set::verify::Throttle;
use crate::store::ObjectStore;
use crate::system::CONFIG_PREFIX;
use crate::{ObjectError, Result};
use cairn_drive::SYSTEM_VOLUME;
use cairn_drive::{DataDirRefs, DriveError, OrphanSweep};
use cairn_meta::ObjectMeta;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Objects checked per second at most by default, so that a scan never starves client
/// traffic (MinIO's `scanner speed=default`).
pub const SCAN_OBJECTS_PER_SEC_DEFAULT: u64 = 2_000;

/// Bytes per second a deep scan reads at most by default (shards of every drive counted).
pub const DEEP_SCAN_BYTES_PER_SEC_DEFAULT: u64 = 32 << 20;
/// Default time between deep scans: 30 days.
pub const DEEP_SCAN_INTERVAL_DEFAULT: Duration = Duration::from_secs(30 * 24 * 3600);

/// Default age below which a data directory that no metadata names is left alone: a
/// commit or heal in progress places its data directory before its metadata.
pub const ORPHAN_GRACE_DEFAULT: Duration = Duration::from_secs(3600);

/// How often and how fast the scanner runs; changed at run time by the admin config.
#[derive(Debug)]
pub(crate) struct ScanSettings {
    pub(crate) interval_ms: AtomicU64,
    /// Age below which orphan data directories are left alone.
    pub(crate) orphan_grace: Duration,
    pub(crate) objects_per_sec: AtomicU64,
    /// Time between deep scans; 0 turns them off.
    pub(crate) deep_interval_ms: AtomicU64,
    /// Bytes per second a deep scan reads at most.
    pub(crate) deep_bytes_per_sec: AtomicU64,
    /// What deep scans found, since start-up.
    pub(crate) deep: DeepCounters,
}

impl ScanSettings {
    pub(crate) fn new(interval: Duration, orphan_grace: Duration) -> Self {
        Self {
            interval_ms: AtomicU64::new(interval.as_millis() as u64),
            orphan_grace,
            objects_per_sec: AtomicU64::new(SCAN_OBJECTS_PER_SEC_DEFAULT),
            deep_interval_ms: AtomicU64::new(DEEP_SCAN_INTERVAL_DEFAULT.as_millis() as u64),
            deep_bytes_per_sec: AtomicU64::new(DEEP_SCAN_BYTES_PER_SEC_DEFAULT),
            deep: DeepCounters::default(),
        }
    }
}

/// Counters of deep scans.
#[derive(Debug, Default)]
pub(crate) struct DeepCounters {
    scans_completed: AtomicU64,
    objects_verified: AtomicU64,
    bytes_verified: AtomicU64,
    objects_damaged: AtomicU64,
    objects_healed: AtomicU64,
}

/// What deep scans did since this node started (for the healing report).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeepScanStats {
    /// Deep scans that went through every bucket.
    pub scans_completed: u64,
    /// Objects whose every frame was read and checked.
    pub objects_verified: u64,
    /// Shard bytes read and checked.
    pub bytes_verified: u64,
    /// Objects with a frame that failed its hash (or a shard file that was missing).
    pub objects_damaged: u64,
    /// Damaged objects healed.
    pub objects_healed: u64,
}
/// Objects listed per page of the scan.
const SCAN_PAGE_KEYS: usize = 1_000;
/// Pause before a scan that was asked for, so that a burst of requests becomes one scan.
const SCAN_SETTLE_MS: u64 = 500;

/// Runs scans forever: every interval (as currently set), and whenever one is requested;
/// a scan is deep once the deep interval passed since the last deep one.
pub(crate) async fn run(store: ObjectStore) {
    let mut last_deep = tokio::time::Instant::now();
    loop {
        let interval = Duration::from_millis(store.scan.interval_ms.load(Ordering::Relaxed));
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            () = store.scan_wake.notified() => {
                tokio::time::sleep(Duration::from_millis(SCAN_SETTLE_MS)).await;
            }
        }
        let deep_interval = store.scan.deep_interval_ms.load(Ordering::Relaxed);
        let deep = deep_interval > 0 && last_deep.elapsed() >= Duration::from_millis(deep_interval);
        if deep {
            tracing::info!("deep scan: every shard of every object is read and checked");
        }
        match store.scan_once(deep).await {
            Ok(()) => {
                store.stats.scans_completed.fetch_add(1, Ordering::Relaxed);
                let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
                store.stats.last_scan_unix_secs.store(now.as_secs(), Ordering::Relaxed);
                if deep {
                    last_deep = tokio::time::Instant::now();
                    store.scan.deep.scans_completed.fetch_add(1, Ordering::Relaxed);
                }
            }
            Err(error) => tracing::warn!(%error, "scan stopped early; the next one starts over"),
        }
    }
}

fn store_rate(store: &ObjectStore) -> u64 {
    store.scan.objects_per_sec.load(Ordering::Relaxed).max(1)
}

/// What compression saves in a bucket, from the current versions the last scan listed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CompressedUsage {
    /// Current versions stored compressed.
    pub objects: u64,
    /// Their bytes as sent.
    pub logical_bytes: u64,
    /// Their bytes on the drives (before erasure coding's parity).
    pub stored_bytes: u64,
}

impl CompressedUsage {
    fn add(&mut self, logical: u64, stored: u64) {
        self.objects += 1;
        self.logical_bytes += logical;
        self.stored_bytes += stored;
    }

    /// Bytes compression saves (never negative: raw frames may add a few header bytes).
    pub fn saved_bytes(&self) -> u64 {
        self.logical_bytes.saturating_sub(self.stored_bytes)
    }

    /// Stored bytes per byte sent, 1.0 when nothing is compressed.
    pub fn ratio(&self) -> f64 {
        if self.logical_bytes == 0 { 1.0 } else { self.stored_bytes as f64 / self.logical_bytes as f64 }
    }
}

impl ObjectStore {
    /// Sets the time between scans (from the next cycle on).
    pub fn set_scan_interval(&self, interval: Duration) {
        assert!(!interval.is_zero(), "a scan interval is positive");
        self.scan.interval_ms.store(interval.as_millis() as u64, Ordering::Relaxed);
    }

    /// Sets how many objects per second a scan checks at most.
    pub fn set_scan_rate(&self, objects_per_sec: u64) {
        assert!(objects_per_sec > 0, "a scan rate is positive");
        self.scan.objects_per_sec.store(objects_per_sec, Ordering::Relaxed);
    }

    /// Sets the time between deep scans (None: no deep scans) and how many bytes per
    /// second they read at most.
    pub fn set_deep_scan(&self, interval: Option<Duration>, bytes_per_sec: u64) {
        assert!(bytes_per_sec > 0, "a deep scan rate is positive");
        let interval_ms = interval.map_or(0, |i| i.as_millis().max(1) as u64);
        self.scan.deep_interval_ms.store(interval_ms, Ordering::Relaxed);
        self.scan.deep_bytes_per_sec.store(bytes_per_sec, Ordering::Relaxed);
    }

    /// What deep scans did since this node started.
    pub fn deep_scan_stats(&self) -> DeepScanStats {
        let deep = &self.scan.deep;
        DeepScanStats {
            scans_completed: deep.scans_completed.load(Ordering::Relaxed),
            objects_verified: deep.objects_verified.load(Ordering::Relaxed),
            bytes_verified: deep.bytes_verified.load(Ordering::Relaxed),
            objects_damaged: deep.objects_damaged.load(Ordering::Relaxed),
            objects_healed: deep.objects_healed.load(Ordering::Relaxed),
        }
    }

    /// Asks the scanner to run as soon as possible.
    pub fn request_scan(&self) {
        self.scan_wake.notify_one();
    }

    /// Resolves the commits that writers which crashed left pending, on every set.
    pub(crate) async fn resolve_pending_commits(&self) {
        for set in self.sets.iter() {
            set.resolve_pending_commits().await;
        }
    }

    /// One pass over every bucket and object; `deep` also checks every shard frame.
    pub(crate) async fn scan_once(&self, deep: bool) -> Result<()> {
        // First what crashed writers left half done (a node that came back brings its drives).
        self.resolve_pending_commits().await;
        let started = tokio::time::Instant::now();
        let mut checked = 0u64;
        let mut throttle = deep.then(Throttle::new);
        let namespaces = self.namespaces().await?;
        if let Ok(mut compressed) = self.compressed_usage.lock() {
            compressed.retain(|bucket, _| namespaces.iter().any(|(name, _)| name == bucket));
        }
        if let Ok(mut usage) = self.usage.lock() {
            usage.retain(|bucket, _| namespaces.iter().any(|(name, _)| name == bucket));
        }
        self.quotas.retain(|bucket| namespaces.iter().any(|(name, _)| name == bucket));
        // Which node applies lifecycle rules to which key, as the drives answer now.
        let owners = self.lifecycle_owners().await;
        for (bucket, prefix) in namespaces {
            let mut lifecycle = None;
            if bucket != SYSTEM_VOLUME {
                self.heal_bucket(&bucket).await;
                lifecycle = self.bucket_lifecycle(&bucket).await;
            }
            let committed_at_start = self.quotas.scan_started(&bucket);
            let mut pages = Pages::new(&bucket, prefix, None, SCAN_PAGE_KEYS).collecting_findings();
            let (mut objects, mut bytes) = (0u64, 0u64);
            let mut compressed = CompressedUsage::default();
            while let Some(page) = pages.next_while_exists(self).await? {
                for dangling in pages.take_dangling() {
                    self.remove_dangling(&bucket, &dangling).await;
                }
                // A key every drive reported in the listed version lacks nothing: only the
                // others are read again (a quorum read per key was most of a scan's cost).
                let partial = pages.take_partial();
                for object in &page.objects {
                    // Usage counts every version's bytes; the count is of keys that exist.
                    objects += u64::from(!object.delete_marker);
                    bytes += object.size + object.noncurrent_bytes;
                    if let Some(stored) = object.compressed_size {
                        compressed.add(object.size, stored);
                    }
                    self.stats.objects_scanned.fetch_add(1, Ordering::Relaxed);
                    if partial.contains(&object.key) {
                        self.scan_object(&bucket, &object.key).await;
                    }
                    if let Some(throttle) = throttle.as_mut() {
                        self.deep_scan_object(&bucket, &object.key, throttle).await;
                    }
                    if let Some((rules, versioning)) = &lifecycle
                        && owners.mine(self.deployment_id(), &bucket, &object.key)
                    {
                        self.apply_lifecycle(&bucket, &object.key, rules, *versioning).await;
                    }
                    checked += 1;
                    // Keep to the rate: sleep off any time ahead of it.
                    let rate = store_rate(self);
                    let due = Duration::from_micros(checked * 1_000_000 / rate);
                    if let Some(ahead) = due.checked_sub(started.elapsed()) {
                        tokio::time::sleep(ahead).await;
                    }
                }
            }
            if let Some((rules, _)) = &lifecycle
                && let Err(error) = self.abort_due_uploads(&bucket, rules, &owners).await
            {
                tracing::warn!(bucket, %error, "cannot look for incomplete uploads to abort; the next scan retries");
            }
            if bucket != SYSTEM_VOLUME {
                self.sweep_orphans(&bucket).await;
                if let Ok(mut usage) = self.usage.lock() {
                    usage.insert(bucket.clone(), (objects, bytes));
                }
                if let Ok(mut usage) = self.compressed_usage.lock() {
                    usage.insert(bucket.clone(), compressed);
                }
                self.quotas.scan_ended(&bucket, committed_at_start);
            }
        }
        Ok(())
    }

    /// What a pass over everything covers, as (volume, key prefix): every bucket, then
    /// Cairn's own configuration (identities, policies), which is healed like user objects.
    pub(crate) async fn namespaces(&self) -> Result<Vec<(String, &'static str)>> {
        let mut namespaces: Vec<(String, &str)> =
            self.list_buckets().await?.into_iter().map(|bucket| (bucket.name, "")).collect();
        namespaces.push((SYSTEM_VOLUME.to_owned(), CONFIG_PREFIX));
        Ok(namespaces)
    }

    /// Heals one object if some drive lacks its current version.
    async fn scan_object(&self, bucket: &str, key: &str) {
        // A pool that cannot answer now is scanned again on the next pass.
        let Ok(set) = self.locate(bucket, key).await else { return };
        let metas = set.read_metas(bucket, key).await;
        let agreed = agreed_versions(&metas, &set.layout);
        if agreed.is_empty() {
            return;
        }
        // Every drive should hold exactly the agreed versions, with their newest metadata.
        let target =
            ObjectMeta { versions: agreed.into_iter().map(|(version, _)| version).collect() }.latest_identity();
        let lacking = metas.iter().any(|meta| match meta {
            Ok(meta) => meta.latest_identity() != target,
            // A drive that is down cannot be healed now; the scan after its return will.
            Err(error) => !error.is_drive_down(),
        });
        if !lacking {
            return;
        }
        match self.heal_object(bucket, key).await {
            Ok(_) | Err(ObjectError::ObjectNotFound) => {}
            Err(error) => {
                self.stats.heal_failures.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(bucket, key, %error, "scanner could not heal an object");
            }
        }
    }

    /// Removes the copies of a key that a listing left out because too few drives hold it,
    /// when a quorum of drives says it is gone (see `set/dangling.rs`).
    pub(crate) async fn remove_dangling(&self, bucket: &str, dangling: &Dangling) {
        match dangling.set.remove_dangling(bucket, &dangling.key).await {
            Ok(0) => {}
            Ok(removed) => {
                self.stats.dangling_removed.fetch_add(removed as u64, Ordering::Relaxed);
            }
            Err(error) => tracing::warn!(bucket, key = dangling.key, %error, "cannot check a dangling copy"),
        }
    }

    /// Removes the data directories of `bucket` on this node's drives that no metadata
    /// names and no pending commit may still need (see `cairn_drive`'s `local/orphans.rs`).
    async fn sweep_orphans(&self, bucket: &str) {
        let grace_nanos = i64::try_from(self.scan.orphan_grace.as_nanos()).unwrap_or(i64::MAX);
        let older_than_unix_nanos = crate::set::now_unix_nanos().saturating_sub(grace_nanos);
        let referenced: DataDirRefs = Arc::new(|bytes: &[u8]| {
            ObjectMeta::decode(bytes).ok().map(|meta| meta.versions.iter().filter_map(|v| v.data_dir).collect())
        });
        for drive in self.all_drives().filter(|drive| drive.is_local()) {
            // Keys of commits a crash left pending: the pending resolution decides their data.
            let pending_keys = match drive.pending_commits().await {
                Ok(records) => records.into_iter().filter(|r| r.volume == bucket).map(|r| r.key).collect(),
                Err(_) => continue,
            };
            let sweep = OrphanSweep { older_than_unix_nanos, pending_keys, referenced: Arc::clone(&referenced) };
            match drive.sweep_orphan_data_dirs(bucket, sweep).await {
                Ok(removed) => {
                    self.stats.orphans_removed.fetch_add(removed, Ordering::Relaxed);
                }
                Err(DriveError::VolumeNotFound) => {}
                Err(error) => {
                    tracing::warn!(bucket, drive = drive.endpoint(), %error, "orphan sweep stopped; the next scan retries")
                }
            }
        }
    }

    /// Reads and checks every frame of an object at the deep scan's rate; heals it (deeply,
    /// under its write lock) when anything fails.
    async fn deep_scan_object(&self, bucket: &str, key: &str, throttle: &mut Throttle) {
        // A pool that cannot answer now is scanned again on the next pass.
        let Ok(set) = self.locate(bucket, key).await else { return };
        let rate = || self.scan.deep_bytes_per_sec.load(Ordering::Relaxed);
        let counters = &self.scan.deep;
        let verified = match set.verify_object(bucket, key, throttle, rate).await {
            Ok(verified) => verified,
            // Deleted or overwritten meanwhile; or no quorum now, which the next scan retries.
            Err(_) => return,
        };
        counters.objects_verified.fetch_add(1, Ordering::Relaxed);
        counters.bytes_verified.fetch_add(verified.bytes, Ordering::Relaxed);
        if !verified.damaged {
            return;
        }
        counters.objects_damaged.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(bucket, key, "deep scan found a damaged shard; healing");
        match set.heal_object(bucket, key).await {
            Ok(healed) if healed > 0 => {
                counters.objects_healed.fetch_add(1, Ordering::Relaxed);
            }
            Ok(_) | Err(ObjectError::ObjectNotFound) => {}
            Err(error) => {
                self.stats.heal_failures.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(bucket, key, %error, "deep scan could not heal an object");
            }
        }
    }

    /// Creates every bucket on the drives that lack it: a pool added to a deployment
    /// must hold the existing buckets before it takes its first object.
    pub(crate) async fn heal_all_buckets(&self) {
        match self.list_buckets().await {
            Ok(buckets) => {
                for bucket in buckets {
                    self.heal_bucket(&bucket.name).await;
                }
            }
            Err(error) => tracing::warn!(%error, "cannot list buckets to bring every pool up to date"),
        }
    }
}
