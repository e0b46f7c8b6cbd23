//! Bucket quotas: a hard limit on the bytes a bucket holds (MinIO's "hard" quota).
//!
//! What a bucket holds is counted as the scanner's usage (every version's bytes at the
//! bucket's last scan) plus, on this node, what was committed since that scan began and
//! what is being committed now. A write is refused when that count plus its own size
//! would pass the limit:
//! - early, from the size a request declares (`check_quota`), before any byte is stored;
//! - exactly, once the body has been read and before the commit (`QuotaCheck`, run as
//!   part of the body's digest check): the write's bytes are then reserved until it
//!   commits, so two writes racing on this node cannot both pass on the same room.
//!
//! The count errs on the side of refusing: bytes an overwrite or a delete frees are
//! counted until the next scan sees them gone, and writes through other nodes until
//! this node's next scan of the bucket; a write whose client left while it committed
//! counts as committed. A bucket this node has not scanned since it started is counted
//! by a listing at its first quota check (`counted_usage`).

use crate::body::BodyCheck;
use crate::pages::Pages;
use crate::store::ObjectStore;
use crate::{ObjectError, Result};
use cairn_drive::SYSTEM_VOLUME;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

/// Bytes counted per bucket beyond the last scan's usage, on this node.
#[derive(Debug, Default, Clone, Copy)]
struct Tally {
    /// Committed since the bucket's last scan began.
    committed: u64,
    /// Reserved by writes that passed the check and have not committed yet.
    in_flight: u64,
}

/// Keys per page when a bucket's usage is counted for its first quota check.
const COUNT_PAGE_KEYS: usize = 1_000;

/// Every bucket's tally on this node.
#[derive(Debug, Default)]
pub(crate) struct Quotas(Mutex<HashMap<String, Tally>>);

impl Quotas {
    fn with<T>(&self, bucket: &str, f: impl FnOnce(&mut Tally) -> T) -> T {
        let mut tallies = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        f(tallies.entry(bucket.to_owned()).or_default())
    }

    /// The committed bytes at the start of a bucket's scan: forgotten once the scan,
    /// which counts them (or what replaced them), ends.
    pub(crate) fn scan_started(&self, bucket: &str) -> u64 {
        self.with(bucket, |tally| tally.committed)
    }

    pub(crate) fn scan_ended(&self, bucket: &str, committed_at_start: u64) {
        self.with(bucket, |tally| tally.committed = tally.committed.saturating_sub(committed_at_start));
    }

    /// Forgets the tallies of buckets that no longer exist (a bucket made again under
    /// the same name starts from nothing).
    pub(crate) fn retain(&self, exists: impl Fn(&str) -> bool) {
        let mut tallies = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        tallies.retain(|bucket, _| exists(bucket));
    }
}

/// Bytes a write reserved. When dropped they count as committed (until the next scan),
/// unless the write was known to fail (`release`): a write whose future was dropped
/// while its detached commit ran may well have committed.
#[derive(Debug)]
pub(crate) struct Reservation {
    quotas: Arc<Quotas>,
    bucket: String,
    bytes: u64,
    committed: bool,
}

impl Reservation {
    /// The write failed: its bytes no longer count.
    pub(crate) fn release(mut self) {
        self.committed = false;
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        let (bytes, committed) = (self.bytes, self.committed);
        self.quotas.with(&self.bucket, |tally| {
            tally.in_flight = tally.in_flight.saturating_sub(bytes);
            if committed {
                tally.committed = tally.committed.saturating_add(bytes);
            }
        });
    }
}

/// The refusal of a write that would take `bucket` past its `limit`.
fn exceeded(bucket: &str, limit: u64) -> ObjectError {
    ObjectError::QuotaExceeded { bucket: bucket.to_owned(), limit }
}

impl ObjectStore {
    /// The bucket's hard quota in bytes, if it has one (Cairn's own volume has none).
    pub async fn bucket_quota(&self, bucket: &str) -> Result<Option<u64>> {
        if bucket == SYSTEM_VOLUME {
            return Ok(None);
        }
        Ok(self.bucket_config(bucket).await?.quota)
    }

    /// Sets (Some) or removes (None) the bucket's hard quota; every node hears of it
    /// before this returns.
    pub async fn set_bucket_quota(&self, bucket: &str, quota: Option<u64>) -> Result<()> {
        if bucket == SYSTEM_VOLUME {
            return Err(ObjectError::BucketNotFound);
        }
        self.update_bucket_record(bucket, |record| {
            record.quota = quota;
            Ok(())
        })
        .await
        .map(drop)
    }

    /// The bytes the last scan counted in `bucket`, if this node has scanned it (or
    /// counted it for a quota) since it started.
    fn scanned_bytes(&self, bucket: &str) -> Option<u64> {
        let usage = self.usage.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        usage.get(bucket).map(|(_, bytes)| *bytes)
    }

    /// The scanner's count of `bucket`'s bytes; a bucket not scanned since this node
    /// started is counted now, as a scan would (every version's bytes), and the count
    /// kept until the scanner's own replaces it.
    async fn counted_usage(&self, bucket: &str) -> Result<u64> {
        if let Some(bytes) = self.scanned_bytes(bucket) {
            return Ok(bytes);
        }
        let committed_at_start = self.quotas.scan_started(bucket);
        let mut pages = Pages::new(bucket, "", None, COUNT_PAGE_KEYS);
        let (mut objects, mut bytes) = (0u64, 0u64);
        while let Some(page) = pages.next_while_exists(self).await? {
            for object in &page.objects {
                objects += u64::from(!object.delete_marker);
                bytes += object.size + object.noncurrent_bytes;
            }
        }
        let mut usage = self.usage.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        usage.entry(bucket.to_owned()).or_insert((objects, bytes));
        drop(usage);
        self.quotas.scan_ended(bucket, committed_at_start);
        Ok(bytes)
    }

    /// What `bucket` is counted to hold against its quota.
    async fn quota_used(&self, bucket: &str) -> Result<u64> {
        let scanned = self.counted_usage(bucket).await?;
        let tally = self.quotas.with(bucket, |tally| *tally);
        Ok(scanned.saturating_add(tally.committed).saturating_add(tally.in_flight))
    }

    /// Refuses a write of `size` bytes (as declared by the request) that would take
    /// `bucket` past its quota; reserves nothing (the exact check does, before the commit).
    pub async fn check_quota(&self, bucket: &str, size: u64) -> Result<()> {
        let Some(limit) = self.bucket_quota(bucket).await? else { return Ok(()) };
        if self.quota_used(bucket).await?.saturating_add(size) > limit {
            return Err(exceeded(bucket, limit));
        }
        Ok(())
    }

    /// Reserves `size` bytes of `bucket`'s room under `limit`, or refuses. The bucket's
    /// usage was counted when the quota check was set up (`with_quota_check`).
    fn reserve(&self, bucket: &str, size: u64, limit: u64) -> Result<Reservation> {
        let scanned = self.scanned_bytes(bucket).unwrap_or(0);
        // Checked and reserved under one lock: racing writes see each other's bytes.
        self.quotas.with(bucket, |tally| {
            let used = scanned.saturating_add(tally.committed).saturating_add(tally.in_flight);
            if used.saturating_add(size) > limit {
                return Err(exceeded(bucket, limit));
            }
            tally.in_flight += size;
            Ok(())
        })?;
        Ok(Reservation { quotas: Arc::clone(&self.quotas), bucket: bucket.to_owned(), bytes: size, committed: true })
    }

    /// Reserves room for a write of `size` bytes whose size is known before its commit
    /// (a completed multipart upload): None when the bucket has no quota.
    pub(crate) async fn reserve_quota(&self, bucket: &str, size: u64) -> Result<Option<Reservation>> {
        match self.bucket_quota(bucket).await? {
            Some(limit) => {
                self.counted_usage(bucket).await?;
                self.reserve(bucket, size, limit).map(Some)
            }
            None => Ok(None),
        }
    }

    /// `check` extended with the exact quota check of a body written to `bucket`, when
    /// it has a quota; the reservation lands in the returned slot.
    pub(crate) async fn with_quota_check(
        &self,
        bucket: &str,
        check: Box<dyn BodyCheck>,
    ) -> Result<(Box<dyn BodyCheck>, ReservationSlot)> {
        let slot = ReservationSlot::default();
        let Some(limit) = self.bucket_quota(bucket).await? else { return Ok((check, slot)) };
        self.counted_usage(bucket).await?;
        let quota = QuotaCheck {
            inner: check,
            size: 0,
            store: self.clone(),
            bucket: bucket.to_owned(),
            limit,
            slot: slot.clone(),
        };
        Ok((Box::new(quota), slot))
    }
}

/// Where a body's quota check leaves its reservation, for the commit to settle.
#[derive(Debug, Default, Clone)]
pub(crate) struct ReservationSlot(Arc<Mutex<Option<Reservation>>>);

impl ReservationSlot {
    fn take(&self) -> Option<Reservation> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take()
    }

    /// Settles the reservation once the write's outcome is known: its bytes count as
    /// committed when it committed, and no longer count when it failed.
    pub(crate) fn settle<T>(&self, outcome: &Result<T>) {
        if let Some(reservation) = self.take() {
            match outcome {
                Ok(_) => drop(reservation),
                Err(_) => reservation.release(),
            }
        }
    }

    /// The write's bytes no longer count (a part: it counts once its upload completes).
    pub(crate) fn release(&self) {
        if let Some(reservation) = self.take() {
            reservation.release();
        }
    }
}

/// A body check that also refuses, after the last byte and before the commit, a body
/// that would take its bucket past its quota.
struct QuotaCheck {
    inner: Box<dyn BodyCheck>,
    size: u64,
    store: ObjectStore,
    bucket: String,
    limit: u64,
    slot: ReservationSlot,
}

impl BodyCheck for QuotaCheck {
    fn update(&mut self, bytes: &[u8]) {
        self.size += bytes.len() as u64;
        self.inner.update(bytes);
    }

    fn finish(self: Box<Self>, md5: &[u8; 16]) -> Result<BTreeMap<String, String>> {
        let checksums = self.inner.finish(md5)?;
        let reservation = self.store.reserve(&self.bucket, self.size, self.limit)?;
        *self.slot.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(reservation);
        Ok(checksums)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_count_while_in_flight_and_after_commit_until_the_scan() {
        let quotas = Arc::new(Quotas::default());
        let reserve = |bytes| {
            quotas.with("b", |tally| tally.in_flight += bytes);
            Reservation { quotas: Arc::clone(&quotas), bucket: "b".into(), bytes, committed: true }
        };
        let kept = reserve(10);
        let failed = reserve(5);
        assert_eq!(quotas.with("b", |t| (t.committed, t.in_flight)), (0, 15));
        failed.release();
        drop(kept);
        assert_eq!(quotas.with("b", |t| (t.committed, t.in_flight)), (10, 0), "a dropped write may have committed");
        let at_start = quotas.scan_started("b");
        drop(reserve(7));
        quotas.scan_ended("b", at_start);
        assert_eq!(quotas.with("b", |t| (t.committed, t.in_flight)), (7, 0), "what the scan may have missed stays");
        quotas.retain(|bucket| bucket != "b");
        assert_eq!(quotas.with("b", |t| (t.committed, t.in_flight)), (0, 0), "a removed bucket's tally is forgotten");
    }
}
