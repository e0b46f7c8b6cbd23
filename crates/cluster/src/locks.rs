//! Distributed namespace locks. Every node keeps a [`LockTable`] of leases; a lock is
//! held when a quorum of nodes (n/2 + 1) granted it, so two holders of one write lock
//! would need two overlapping quorums. Holders refresh their leases; a crashed holder's
//! leases expire, so a key is never blocked for longer than one lease.

use crate::peer::Peer;
use crate::wire::{LockCall, PATH_LOCK, encode};
use futures::future::join_all;
use rand::Rng;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// How long a grant lasts without a refresh.
pub const LOCK_LEASE_MS: u64 = 15_000;
/// How often a holder refreshes its grants.
const LOCK_REFRESH_MS: u64 = 5_000;
/// Longest pause between attempts to take a contended lock.
const RETRY_PAUSE_MS_MAX: u64 = 100;

#[derive(Debug, Default)]
struct Entry {
    writer: Option<(Uuid, Instant)>,
    readers: HashMap<Uuid, Instant>,
}

impl Entry {
    fn expire(&mut self, now: Instant) {
        if self.writer.is_some_and(|(_, until)| until <= now) {
            self.writer = None;
        }
        self.readers.retain(|_, until| *until > now);
    }

    fn is_empty(&self) -> bool {
        self.writer.is_none() && self.readers.is_empty()
    }
}

/// This node's lock leases, granted to holders on any node.
#[derive(Debug, Default)]
pub struct LockTable {
    entries: Mutex<HashMap<String, Entry>>,
}

impl LockTable {
    /// Applies one call; true when granted (or refreshed).
    pub fn apply(&self, call: LockCall) -> bool {
        let Ok(mut entries) = self.entries.lock() else { return false };
        let now = Instant::now();
        let until = now + Duration::from_millis(LOCK_LEASE_MS);
        match call {
            LockCall::Lock { name, owner, write } => {
                let entry = entries.entry(name).or_default();
                entry.expire(now);
                let free_of_writers = entry.writer.is_none_or(|(holder, _)| holder == owner);
                if write && free_of_writers && entry.readers.is_empty() {
                    entry.writer = Some((owner, until));
                    true
                } else if !write && free_of_writers {
                    entry.readers.insert(owner, until);
                    true
                } else {
                    false
                }
            }
            LockCall::Refresh { name, owner } => {
                let Some(entry) = entries.get_mut(&name) else { return false };
                entry.expire(now);
                if let Some((holder, lease)) = &mut entry.writer
                    && *holder == owner
                {
                    *lease = until;
                    return true;
                }
                entry.readers.get_mut(&owner).map(|lease| *lease = until).is_some()
            }
            LockCall::Unlock { name, owner } => {
                if let Some(entry) = entries.get_mut(&name) {
                    if entry.writer.is_some_and(|(holder, _)| holder == owner) {
                        entry.writer = None;
                    }
                    entry.readers.remove(&owner);
                    entry.expire(now);
                    if entry.is_empty() {
                        entries.remove(&name);
                    }
                }
                true
            }
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.lock().map(|e| e.len()).unwrap_or(0)
    }
}

/// A node that grants locks: this one, or a peer.
#[derive(Debug, Clone)]
pub enum Granter {
    Local(Arc<LockTable>),
    Remote(Arc<Peer>),
}

impl Granter {
    async fn apply(&self, call: LockCall) -> bool {
        match self {
            Granter::Local(table) => table.apply(call),
            Granter::Remote(peer) => {
                peer.call::<bool>(PATH_LOCK, |request| request, encode(&call)).await.unwrap_or(false)
            }
        }
    }
}

/// Takes locks on a quorum of the cluster's nodes.
#[derive(Debug, Clone)]
pub struct DistLocks {
    granters: Arc<Vec<Granter>>,
    held: Arc<Held>,
}

/// Locks this node holds or is still releasing, so that shutdown can wait for them.
#[derive(Debug, Default)]
struct Held {
    /// Guards alive plus releases not yet acknowledged.
    count: AtomicUsize,
    /// Set by [`DistLocks::close`]: no lock is taken any more.
    closed: AtomicBool,
    /// Woken when `count` drops to zero.
    none: tokio::sync::Notify,
}

impl Held {
    fn done(&self) {
        if self.count.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.none.notify_waiters();
        }
    }
}

/// A held distributed lock: refreshed in the background, released on drop.
#[derive(Debug)]
pub struct DistGuard {
    name: String,
    owner: Uuid,
    granters: Arc<Vec<Granter>>,
    refresher: tokio::task::JoinHandle<()>,
    held: Arc<Held>,
}

impl DistLocks {
    /// Locks over every node of the cluster (this one included).
    pub fn new(granters: Vec<Granter>) -> Self {
        assert!(!granters.is_empty(), "a lock needs at least one granting node");
        Self { granters: Arc::new(granters), held: Arc::default() }
    }

    /// Stops taking locks and waits, at most `wait`, until every lock this node holds
    /// has been released on the other nodes (shutdown: peers must not wait for the
    /// leases of a stopped node to expire). True when none is left.
    pub async fn close(&self, wait: Duration) -> bool {
        self.held.closed.store(true, Ordering::Release);
        let released = async {
            loop {
                let none = self.held.none.notified();
                tokio::pin!(none);
                none.as_mut().enable();
                if self.held.count.load(Ordering::Acquire) == 0 {
                    return;
                }
                none.await;
            }
        };
        tokio::time::timeout(wait, released).await.is_ok()
    }

    fn quorum(&self) -> usize {
        self.granters.len() / 2 + 1
    }

    /// Takes `name` (exclusively when `write`), retrying while it is contended, for at most `wait`.
    pub async fn acquire(&self, name: &str, write: bool, wait: Duration) -> Option<DistGuard> {
        let deadline = Instant::now() + wait;
        let mut pause_ms = 1;
        loop {
            if self.held.closed.load(Ordering::Acquire) {
                return None;
            }
            let owner = Uuid::new_v4();
            let call = LockCall::Lock { name: name.to_owned(), owner, write };
            let granted = join_all(self.granters.iter().map(|g| g.apply(call.clone()))).await;
            if granted.iter().filter(|g| **g).count() >= self.quorum() {
                let refresher = tokio::spawn(refresh(name.to_owned(), owner, Arc::clone(&self.granters), write));
                self.held.count.fetch_add(1, Ordering::AcqRel);
                return Some(DistGuard {
                    name: name.to_owned(),
                    owner,
                    granters: Arc::clone(&self.granters),
                    refresher,
                    held: Arc::clone(&self.held),
                });
            }
            // Not a quorum: give back what was granted, so that two contenders cannot
            // each hold half and block one another.
            release(&self.granters, name, owner).await;
            if Instant::now() >= deadline {
                return None;
            }
            let jitter = rand::rng().random_range(0..=pause_ms);
            tokio::time::sleep(Duration::from_millis(pause_ms + jitter)).await;
            pause_ms = (pause_ms * 2).min(RETRY_PAUSE_MS_MAX);
        }
    }
}

async fn release(granters: &[Granter], name: &str, owner: Uuid) {
    let call = LockCall::Unlock { name: name.to_owned(), owner };
    join_all(granters.iter().map(|g| g.apply(call.clone()))).await;
}

/// Longest wait for one node's answer to a refresh: well inside what is left of the
/// lease, so that a hung node cannot hold up the refreshes of the others.
const REFRESH_CALL_MS: u64 = 2_000;

/// Keeps a lock's leases alive until the task is aborted. Each node is refreshed on its
/// own, with a short timeout; a node that lost the grant (it restarted) is asked to
/// grant it again.
async fn refresh(name: String, owner: Uuid, granters: Arc<Vec<Granter>>, write: bool) {
    let quorum = granters.len() / 2 + 1;
    loop {
        tokio::time::sleep(Duration::from_millis(LOCK_REFRESH_MS)).await;
        let kept = join_all(granters.iter().map(|granter| {
            let name = name.clone();
            async move {
                let renew = async {
                    granter.apply(LockCall::Refresh { name: name.clone(), owner }).await
                        || granter.apply(LockCall::Lock { name, owner, write }).await
                };
                tokio::time::timeout(Duration::from_millis(REFRESH_CALL_MS), renew).await.unwrap_or(false)
            }
        }))
        .await;
        if kept.iter().filter(|k| **k).count() < quorum {
            tracing::warn!(name, "lost the lock quorum while holding a lock (nodes restarted or unreachable)");
        }
    }
}

impl Drop for DistGuard {
    fn drop(&mut self) {
        self.refresher.abort();
        let (granters, name, owner) = (Arc::clone(&self.granters), std::mem::take(&mut self.name), self.owner);
        let held = Arc::clone(&self.held);
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    release(&granters, &name, owner).await;
                    held.done();
                });
            }
            Err(_) => held.done(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writers_exclude_everyone_and_readers_share() {
        let table = LockTable::default();
        let (a, b, c) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        let lock = |owner, write| LockCall::Lock { name: "k".into(), owner, write };
        assert!(table.apply(lock(a, false)));
        assert!(table.apply(lock(b, false)), "readers share");
        assert!(!table.apply(lock(c, true)), "a writer waits for readers");
        table.apply(LockCall::Unlock { name: "k".into(), owner: a });
        table.apply(LockCall::Unlock { name: "k".into(), owner: b });
        assert!(table.apply(lock(c, true)));
        assert!(!table.apply(lock(a, false)), "a reader waits for the writer");
        assert!(table.apply(LockCall::Refresh { name: "k".into(), owner: c }));
        assert!(!table.apply(LockCall::Refresh { name: "k".into(), owner: a }));
        table.apply(LockCall::Unlock { name: "k".into(), owner: c });
        assert_eq!(table.len(), 0, "released entries are dropped");
    }

    #[tokio::test]
    async fn a_quorum_of_local_tables_serialises_writers() {
        let tables: Vec<_> = (0..3).map(|_| Arc::new(LockTable::default())).collect();
        let locks = DistLocks::new(tables.iter().map(|t| Granter::Local(Arc::clone(t))).collect());
        let first = locks.acquire("k", true, Duration::from_millis(50)).await.expect("granted");
        assert!(locks.acquire("k", true, Duration::from_millis(50)).await.is_none(), "held");
        drop(first);
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert!(locks.acquire("k", false, Duration::from_millis(500)).await.is_some(), "released");
    }

    #[tokio::test]
    async fn close_waits_for_held_locks_to_be_released_everywhere() {
        let tables: Vec<_> = (0..3).map(|_| Arc::new(LockTable::default())).collect();
        let locks = DistLocks::new(tables.iter().map(|t| Granter::Local(Arc::clone(t))).collect());
        let held = locks.acquire("k", true, Duration::from_millis(50)).await.expect("granted");
        assert!(!locks.close(Duration::from_millis(20)).await, "a lock is still held");
        assert!(locks.acquire("other", true, Duration::from_millis(50)).await.is_none(), "closed: no new locks");
        drop(held);
        assert!(locks.close(Duration::from_secs(5)).await, "released");
        assert!(tables.iter().all(|t| t.len() == 0), "every node's grant was given back");
    }
}
