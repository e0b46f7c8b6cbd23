//! Server pools: groups of erasure sets added to grow capacity. Every pool shares the
//! deployment id; a key hashes to one set *within* each pool. An object lives in one
//! pool: an overwrite goes where the key already is, a new key goes to the pool with
//! the most free space, and reads look in every pool (the newest version wins, so a
//! race between two first writes to different pools still reads consistently).

use crate::set::{ErasureSet, key_hash};
use crate::store::ObjectStore;
use crate::types::VersionRef;
use crate::{ObjectError, Result};
use futures::future::join_all;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// How long a measurement of the pools' free space is reused for placing new objects.
const SPACE_REFRESH_MS: u64 = 5_000;

/// One pool's sets inside `ObjectStore::sets`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PoolRange {
    pub(crate) first: usize,
    pub(crate) count: usize,
}

/// The pool with the most free space, as last measured.
#[derive(Debug, Default)]
pub(crate) struct PoolSpace {
    measured: Mutex<Option<(Instant, usize)>>,
}

impl ObjectStore {
    /// `key`'s set in pool `pool`.
    pub(crate) fn set_in(&self, pool: usize, key: &str) -> &Arc<ErasureSet> {
        let range = self.pools[pool];
        assert!(range.count > 0, "a pool has at least one set");
        let index = (key_hash(self.deployment_id(), key) % range.count as u64) as usize;
        &self.sets[range.first + index]
    }

    /// The pool holding the newest version of `key`; None when every pool answered
    /// that it does not hold the key. A pool that cannot answer (no read quorum of its
    /// drives) may hold the key, so unless another pool holds it the lookup fails with
    /// that pool's error (503 for a lost quorum): a read must not answer 404 and an
    /// overwrite must not go to another pool because a pool is down. As in MinIO, a
    /// version found in an answering pool is served even while another pool is down.
    async fn pool_of(&self, bucket: &str, key: &str) -> Result<Option<usize>> {
        // A key whose newest version is a delete marker still lives in its pool.
        let latest = VersionRef::Latest;
        let found =
            join_all((0..self.pools.len()).map(|p| self.set_in(p, key).version_info(bucket, key, latest))).await;
        let mut newest: Option<(i64, usize)> = None;
        let mut absent_buckets = 0;
        let mut failure = None;
        for (pool, answer) in found.into_iter().enumerate() {
            match answer {
                Ok(info) => {
                    if newest.is_none_or(|(time, _)| info.mod_time_unix_nanos > time) {
                        newest = Some((info.mod_time_unix_nanos, pool));
                    }
                }
                Err(ObjectError::ObjectNotFound) => {}
                Err(ObjectError::BucketNotFound) => absent_buckets += 1,
                Err(error) => failure = failure.or(Some(error)),
            }
        }
        match (newest, failure) {
            (Some((_, pool)), _) => Ok(Some(pool)),
            (None, Some(error)) => Err(error),
            (None, None) if absent_buckets == self.pools.len() => Err(ObjectError::BucketNotFound),
            (None, None) => Ok(None),
        }
    }

    /// The set to read `key` from.
    pub(crate) async fn locate(&self, bucket: &str, key: &str) -> Result<&Arc<ErasureSet>> {
        if self.pools.len() == 1 {
            return Ok(self.set_in(0, key));
        }
        let pool = self.pool_of(bucket, key).await?.unwrap_or(0);
        Ok(self.set_in(pool, key))
    }

    /// The set to write `key` to: where it is, or the pool with the most free space.
    pub(crate) async fn placement(&self, bucket: &str, key: &str) -> Result<&Arc<ErasureSet>> {
        if self.pools.len() == 1 {
            return Ok(self.set_in(0, key));
        }
        let pool = match self.pool_of(bucket, key).await? {
            Some(pool) => pool,
            None => self.roomiest_pool().await,
        };
        Ok(self.set_in(pool, key))
    }

    /// The set holding upload `id` of `key`. A pool that cannot tell whether it holds
    /// the upload fails the lookup unless another pool holds it.
    pub(crate) async fn upload_set(&self, bucket: &str, key: &str, id: Uuid) -> Result<&Arc<ErasureSet>> {
        if self.pools.len() == 1 {
            return Ok(self.set_in(0, key));
        }
        let mut failure = None;
        for pool in 0..self.pools.len() {
            let set = self.set_in(pool, key);
            match set.read_upload(bucket, key, id).await {
                Ok(_) => return Ok(set),
                Err(ObjectError::UploadNotFound) => {}
                Err(error) => failure = failure.or(Some(error)),
            }
        }
        Err(failure.unwrap_or(ObjectError::UploadNotFound))
    }

    /// Every pool's set for `key`.
    pub(crate) fn sets_for(&self, key: &str) -> Vec<&Arc<ErasureSet>> {
        (0..self.pools.len()).map(|pool| self.set_in(pool, key)).collect()
    }

    async fn roomiest_pool(&self) -> usize {
        if let Ok(measured) = self.space.measured.lock()
            && let Some((at, pool)) = *measured
            && at.elapsed() < Duration::from_millis(SPACE_REFRESH_MS)
        {
            return pool;
        }
        let free = join_all(self.pools.iter().map(|range| async move {
            let sets = &self.sets[range.first..range.first + range.count];
            let infos = join_all(sets.iter().flat_map(|set| set.drives.iter().map(|d| d.disk_info()))).await;
            infos.iter().flatten().map(|info| info.free_bytes).sum::<u64>()
        }))
        .await;
        let pool = free.iter().enumerate().max_by_key(|(_, free)| **free).map_or(0, |(pool, _)| pool);
        if let Ok(mut measured) = self.space.measured.lock() {
            *measured = Some((Instant::now(), pool));
        }
        pool
    }
}
