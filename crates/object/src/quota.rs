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
//! this node's next scan of the bucket.

use crate::body::BodyCheck;
use crate::store::ObjectStore;
use crate::{ObjectError, Result};
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
}

/// Bytes a write reserved; released when dropped, and counted as committed when the
/// write committed.
#[derive(Debug)]
pub(crate) struct Reservation {
    quotas: Arc<Quotas>,
    bucket: String,
    bytes: u64,
    committed: bool,
}

impl Reservation {
    /// The write committed: its bytes now count until the next scan.
    pub(crate) fn commit(mut self) {
        self.committed = true;
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
    /// The bucket's hard quota in bytes, if it has one.
    pub async fn bucket_quota(&self, bucket: &str) -> Result<Option<u64>> {
        Ok(self.bucket_config(bucket).await?.quota)
    }

    /// Sets (Some) or removes (None) the bucket's hard quota; every node hears of it
    /// before this returns.
    pub async fn set_bucket_quota(&self, bucket: &str, quota: Option<u64>) -> Result<()> {
        self.update_bucket_record(bucket, |record| {
            record.quota = quota;
            Ok(())
        })
        .await
        .map(drop)
    }

    /// What `bucket` is counted to hold against its quota.
    fn quota_used(&self, bucket: &str) -> u64 {
        let scanned = self.usage.lock().ok().and_then(|usage| usage.get(bucket).map(|u| u.1)).unwrap_or(0);
        let tally = self.quotas.with(bucket, |tally| *tally);
        scanned.saturating_add(tally.committed).saturating_add(tally.in_flight)
    }

    /// Refuses a write of `size` bytes (as declared by the request) that would take
    /// `bucket` past its quota; reserves nothing (the exact check does, before the commit).
    pub async fn check_quota(&self, bucket: &str, size: u64) -> Result<()> {
        let Some(limit) = self.bucket_quota(bucket).await? else { return Ok(()) };
        if self.quota_used(bucket).saturating_add(size) > limit {
            return Err(exceeded(bucket, limit));
        }
        Ok(())
    }

    /// Reserves `size` bytes of `bucket`'s room under `limit`, or refuses.
    fn reserve(&self, bucket: &str, size: u64, limit: u64) -> Result<Reservation> {
        let scanned = self.usage.lock().ok().and_then(|usage| usage.get(bucket).map(|u| u.1)).unwrap_or(0);
        // Checked and reserved under one lock: racing writes see each other's bytes.
        self.quotas.with(bucket, |tally| {
            let used = scanned.saturating_add(tally.committed).saturating_add(tally.in_flight);
            if used.saturating_add(size) > limit {
                return Err(exceeded(bucket, limit));
            }
            tally.in_flight += size;
            Ok(())
        })?;
        Ok(Reservation { quotas: Arc::clone(&self.quotas), bucket: bucket.to_owned(), bytes: size, committed: false })
    }

    /// Reserves room for a write of `size` bytes whose size is known before its commit
    /// (a completed multipart upload): None when the bucket has no quota.
    pub(crate) async fn reserve_quota(&self, bucket: &str, size: u64) -> Result<Option<Reservation>> {
        match self.bucket_quota(bucket).await? {
            Some(limit) => self.reserve(bucket, size, limit).map(Some),
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
    /// The write committed: its reserved bytes count as committed.
    pub(crate) fn commit(&self) {
        if let Some(reservation) = self.0.lock().ok().and_then(|mut slot| slot.take()) {
            reservation.commit();
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
        if let Ok(mut slot) = self.slot.0.lock() {
            *slot = Some(reservation);
        }
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
            Reservation { quotas: Arc::clone(&quotas), bucket: "b".into(), bytes, committed: false }
        };
        let kept = reserve(10);
        let dropped = reserve(5);
        assert_eq!(quotas.with("b", |t| (t.committed, t.in_flight)), (0, 15));
        drop(dropped);
        kept.commit();
        assert_eq!(quotas.with("b", |t| (t.committed, t.in_flight)), (10, 0));
        let at_start = quotas.scan_started("b");
        reserve(7).commit();
        quotas.scan_ended("b", at_start);
        assert_eq!(quotas.with("b", |t| (t.committed, t.in_flight)), (7, 0), "what the scan may have missed stays");
    }
}
