//! Namespace locks: writers of one key serialise; readers share. A lock is first
//! taken on this node (so contention between local requests costs no RPC), then, in
//! a cluster, on a quorum of nodes through the distributed lock service.

use crate::{ObjectError, Result};
use cairn_cluster::{DistGuard, DistLocks};
use cairn_drive::{Drive, DriveError};
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{OwnedRwLockReadGuard, OwnedRwLockWriteGuard, RwLock};

/// How long an operation waits for a lock before giving up with a retryable error.
pub const LOCK_WAIT_MS_MAX: u64 = 30_000;

/// Read/write locks keyed by `bucket/key`, created on demand and dropped when unused.
#[derive(Debug, Default)]
pub struct NamespaceLocks {
    entries: Mutex<HashMap<String, Arc<RwLock<()>>>>,
    /// The cluster's lock service; None on a single node.
    cluster: Option<DistLocks>,
}

enum Held {
    Read(#[allow(dead_code)] OwnedRwLockReadGuard<()>),
    Write(#[allow(dead_code)] OwnedRwLockWriteGuard<()>),
}

/// A held lock; released on drop.
pub struct LockGuard {
    /// Dropped first: the cluster lock is released before the local one.
    cluster: Option<DistGuard>,
    held: Option<Held>,
    locks: Arc<NamespaceLocks>,
    name: String,
}

impl NamespaceLocks {
    /// Locks that also take a quorum of `cluster`'s nodes.
    pub fn clustered(cluster: DistLocks) -> Self {
        Self { entries: Mutex::default(), cluster: Some(cluster) }
    }

    /// Takes the cluster-wide lock after the local one, within what is left of the wait.
    async fn cluster_lock(&self, name: &str, write: bool, started: tokio::time::Instant) -> Result<Option<DistGuard>> {
        let Some(cluster) = &self.cluster else { return Ok(None) };
        let left = Duration::from_millis(LOCK_WAIT_MS_MAX).saturating_sub(started.elapsed());
        let granted = cluster.acquire(name, write, left).await;
        if granted.is_none() {
            tracing::warn!(lock = name, write, "no quorum of nodes granted the lock in time");
        }
        granted.map(Some).ok_or(ObjectError::LockTimeout)
    }

    fn entry(&self, name: &str) -> Arc<RwLock<()>> {
        let mut entries = self.entries.lock().expect("lock map poisoned");
        Arc::clone(entries.entry(name.to_owned()).or_default())
    }

    /// Takes a shared lock on `name`.
    pub async fn read(self: &Arc<Self>, name: String) -> Result<LockGuard> {
        let started = tokio::time::Instant::now();
        let lock = self.entry(&name);
        let guard = tokio::time::timeout(Duration::from_millis(LOCK_WAIT_MS_MAX), lock.read_owned())
            .await
            .map_err(|_| ObjectError::LockTimeout)?;
        let mut held = LockGuard { cluster: None, held: Some(Held::Read(guard)), locks: Arc::clone(self), name };
        held.cluster = self.cluster_lock(&held.name, false, started).await?;
        Ok(held)
    }

    /// Takes an exclusive lock on `name`.
    pub async fn write(self: &Arc<Self>, name: String) -> Result<LockGuard> {
        let started = tokio::time::Instant::now();
        let lock = self.entry(&name);
        let guard = tokio::time::timeout(Duration::from_millis(LOCK_WAIT_MS_MAX), lock.write_owned())
            .await
            .map_err(|_| ObjectError::LockTimeout)?;
        let mut held = LockGuard { cluster: None, held: Some(Held::Write(guard)), locks: Arc::clone(self), name };
        held.cluster = self.cluster_lock(&held.name, true, started).await?;
        Ok(held)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.lock().expect("lock map poisoned").len()
    }
}

impl LockGuard {
    /// Runs a drive call that changes data (commit, finish, undo, delete) of `drive`
    /// under this write lock's fence: in a cluster it is refused (an error, counted as a
    /// failed drive) where the lock's lease is gone, so that a holder that stalled past
    /// its leases cannot replace or delete what a later writer wrote. On a single node
    /// the local lock cannot be lost, and the call just runs.
    pub(crate) async fn fenced<T>(
        &self,
        drive: &dyn Drive,
        call: impl Future<Output = std::result::Result<T, DriveError>>,
    ) -> std::result::Result<T, DriveError> {
        match &self.cluster {
            Some(cluster) => cluster.fenced(drive.is_local(), call).await,
            None => call.await,
        }
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        self.cluster = None;
        self.held = None;
        let mut entries = self.locks.entries.lock().expect("lock map poisoned");
        // Only the map still refers to the lock: nobody holds or waits for it.
        if entries.get(&self.name).is_some_and(|lock| Arc::strong_count(lock) == 1) {
            entries.remove(&self.name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn writers_exclude_and_entries_are_dropped() {
        let locks = Arc::new(NamespaceLocks::default());
        let first = locks.write("b/k".into()).await.expect("granted");
        let waiting = {
            let locks = Arc::clone(&locks);
            tokio::spawn(async move { locks.read("b/k".into()).await.map(|_| ()) })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiting.is_finished(), "a reader must wait for the writer");
        drop(first);
        waiting.await.expect("joined").expect("granted");
        assert_eq!(locks.len(), 0);
    }
}
