//! Distributed namespace locks. Every node keeps a [`LockTable`] of leases; a lock is
//! held when a quorum of nodes (n/2 + 1) granted it, so two holders of one write lock
//! would need two overlapping quorums. Holders refresh their leases; a crashed holder's
//! leases expire, so a key is never blocked for longer than one lease. A holder that
//! stalled past its leases may have lost the lock without knowing: the calls that
//! change data are fenced (see `fence.rs`) by the lease each node still grants.

use crate::fence::{self, Fence, LockLost};
use crate::peer::Peer;
use crate::wire::{LockCall, PATH_LOCK, encode};
use cairn_drive::DriveError;
use futures::future::join_all;
use rand::Rng;
use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// How long a grant lasts without a refresh.
pub const LOCK_LEASE_MS: u64 = 15_000;
/// Holders refresh their grants this many times per lease.
const REFRESHES_PER_LEASE: u32 = 3;
/// Longest pause between attempts to take a contended lock.
const RETRY_PAUSE_MS_MAX: u64 = 100;

/// A write lease granted by one table.
#[derive(Debug)]
struct Writer {
    owner: Uuid,
    /// When the lease ends unless refreshed.
    until: Instant,
    /// Fenced calls running under the lease: while any runs, the lease does not end,
    /// so that no other writer's call can run on this node at the same time.
    pins: usize,
}

#[derive(Debug, Default)]
struct Entry {
    writer: Option<Writer>,
    readers: HashMap<Uuid, Instant>,
}

impl Entry {
    fn expire(&mut self, now: Instant) {
        if self.writer.as_ref().is_some_and(|w| w.until <= now && w.pins == 0) {
            self.writer = None;
        }
        self.readers.retain(|_, until| *until > now);
    }

    fn is_empty(&self) -> bool {
        self.writer.is_none() && self.readers.is_empty()
    }
}

/// Owners whose release a table remembers (one lease each), so that a grant request
/// arriving after its release is refused. About 50 bytes each: a few MiB at most.
const RELEASED_OWNERS_MAX: usize = 65_536;

/// This node's lock leases, granted to holders on any node.
#[derive(Debug)]
pub struct LockTable {
    entries: Mutex<HashMap<String, Entry>>,
    /// Owners released within the last lease, and when. Every acquisition has a fresh
    /// owner, so a `Lock` for one of them is late: sent before its release (a grant
    /// call that overtook nothing but was applied after the `Unlock`, or a refresher's
    /// regrant cut off when its holder let go) and never to be granted, or the node
    /// would hold a lease nobody refreshes or releases for a whole lease, and its
    /// drives would refuse every other writer of the key meanwhile.
    released: Mutex<HashMap<Uuid, Instant>>,
    /// How long a grant lasts without a refresh.
    lease: Duration,
}

impl Default for LockTable {
    fn default() -> Self {
        Self::new(Duration::from_millis(LOCK_LEASE_MS))
    }
}

impl LockTable {
    /// A table whose grants last `lease` without a refresh (every node must use the same).
    pub fn new(lease: Duration) -> Self {
        Self { entries: Mutex::default(), released: Mutex::default(), lease }
    }

    /// True when `owner` was released within the last lease.
    fn was_released(&self, owner: &Uuid, now: Instant) -> bool {
        let released = self.released.lock().unwrap_or_else(PoisonError::into_inner);
        released.get(owner).is_some_and(|at| now.duration_since(*at) < self.lease)
    }

    /// Remembers `owner`'s release for one lease; when [`RELEASED_OWNERS_MAX`] are
    /// remembered the expired ones go, and if none has expired this one is not kept
    /// (the protection is then lost for it, never the table's memory bound).
    fn remember_release(&self, owner: Uuid, now: Instant) {
        let mut released = self.released.lock().unwrap_or_else(PoisonError::into_inner);
        if released.len() >= RELEASED_OWNERS_MAX {
            released.retain(|_, at| now.duration_since(*at) < self.lease);
        }
        if released.len() < RELEASED_OWNERS_MAX {
            released.insert(owner, now);
        }
    }

    /// The entries; a panic elsewhere while holding the mutex leaves them consistent
    /// (every change is one assignment), so a poisoned mutex is used as is.
    fn entries(&self) -> MutexGuard<'_, HashMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Applies one call; true when granted (or refreshed).
    pub fn apply(&self, call: LockCall) -> bool {
        let mut entries = self.entries();
        let now = Instant::now();
        let until = now + self.lease;
        match call {
            LockCall::Lock { name, owner, write } => {
                if self.was_released(&owner, now) {
                    tracing::warn!(lock = name, "refused a grant that arrived after its release");
                    return false;
                }
                let entry = entries.entry(name).or_default();
                entry.expire(now);
                let free_of_writers = entry.writer.as_ref().is_none_or(|w| w.owner == owner);
                if write && free_of_writers && entry.readers.is_empty() {
                    let pins = entry.writer.as_ref().map_or(0, |w| w.pins);
                    entry.writer = Some(Writer { owner, until, pins });
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
                if let Some(writer) = &mut entry.writer
                    && writer.owner == owner
                {
                    writer.until = until;
                    return true;
                }
                entry.readers.get_mut(&owner).map(|lease| *lease = until).is_some()
            }
            LockCall::Unlock { name, owner } => {
                self.remember_release(owner, now);
                if let Some(entry) = entries.get_mut(&name) {
                    if let Some(writer) = &mut entry.writer
                        && writer.owner == owner
                    {
                        // Ends now, or when its last fenced call ends.
                        writer.until = now;
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

    /// Keeps `fence`'s write lease from ending until the pin is dropped; None when this
    /// table does not grant it (any more).
    pub fn pin(self: &Arc<Self>, fence: &Fence) -> Option<LeasePin> {
        let mut entries = self.entries();
        let entry = entries.get_mut(&fence.name)?;
        entry.expire(Instant::now());
        let writer = entry.writer.as_mut().filter(|w| w.owner == fence.owner)?;
        writer.pins += 1;
        Some(LeasePin { table: Arc::clone(self), fence: fence.clone() })
    }

    /// Runs `call` under `fence`'s write lease, or refuses it when the lease is gone.
    pub async fn fenced<T>(
        self: &Arc<Self>,
        fence: &Fence,
        call: impl Future<Output = Result<T, DriveError>>,
    ) -> Result<T, DriveError> {
        let Some(_pin) = self.pin(fence) else {
            tracing::warn!(lock = fence.name, "refused a drive call of a writer whose lock lease is gone");
            return Err(LockLost { name: fence.name.clone() }.into());
        };
        call.await
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries().len()
    }

    /// Forgets everything, as the node's restart does.
    #[cfg(test)]
    fn restart(&self) {
        self.entries().clear();
        self.released.lock().unwrap_or_else(PoisonError::into_inner).clear();
    }
}

/// A write lease kept from ending while a fenced call runs.
#[derive(Debug)]
pub struct LeasePin {
    table: Arc<LockTable>,
    fence: Fence,
}

impl Drop for LeasePin {
    fn drop(&mut self) {
        let mut entries = self.table.entries();
        let Some(entry) = entries.get_mut(&self.fence.name) else { return };
        if let Some(writer) = &mut entry.writer
            && writer.owner == self.fence.owner
        {
            writer.pins -= 1;
        }
        entry.expire(Instant::now());
        if entry.is_empty() {
            entries.remove(&self.fence.name);
        }
    }
}

/// A node that grants locks: this one, or a peer.
#[derive(Debug, Clone)]
pub enum Granter {
    Local(Arc<LockTable>),
    Remote(Arc<Peer>),
}

impl Granter {
    /// The node's answer to `call`; None when it did not answer.
    async fn answer(&self, call: LockCall) -> Option<bool> {
        match self {
            Granter::Local(table) => Some(table.apply(call)),
            Granter::Remote(peer) => peer.call::<bool>(PATH_LOCK, |request| request, encode(&call), 0).await.ok(),
        }
    }

    /// Whether a call to the node is sent at all (an offline peer's calls fail at once).
    fn reachable(&self) -> bool {
        match self {
            Granter::Local(_) => true,
            Granter::Remote(peer) => peer.is_online(),
        }
    }

    /// True when the node granted (or refreshed) `call`.
    async fn apply(&self, call: LockCall) -> bool {
        self.answer(call).await.unwrap_or(false)
    }
}

/// Attempts to get a grant from the nodes that refused a lock held by a quorum. With
/// the pause doubling from [`FILL_IN_PAUSE_MS`] they span 255 ms: a contender that
/// failed gives its grants back at once but retries, taking the node it asks first (its
/// own, without a round trip) again on every attempt, and its first retries come 1-4 ms
/// apart. Three attempts within 7 ms (as before) often all fell inside such attempts:
/// the writer then went without that node's two drives, and one more failed drive (a
/// read-only one in the chaos suite) cost it the write quorum (503 through healthy
/// nodes). Later attempts fall in the contender's longer pauses.
const FILL_IN_ATTEMPTS: u32 = 8;
/// Pause before the first of them, doubled after each.
const FILL_IN_PAUSE_MS: u64 = 1;

/// How a cluster's locks behave.
#[derive(Debug, Clone, Copy)]
pub struct LockOptions {
    /// How long a grant lasts without a refresh; every node must use the same.
    pub lease: Duration,
    /// Tests only: how long a writer waits after taking a write lock before it uses it,
    /// so that a test can pause the node while it holds a lock.
    pub test_hold: Option<Duration>,
}

impl Default for LockOptions {
    fn default() -> Self {
        Self { lease: Duration::from_millis(LOCK_LEASE_MS), test_hold: None }
    }
}

/// Takes locks on a quorum of the cluster's nodes.
#[derive(Debug, Clone)]
pub struct DistLocks {
    /// This node's table, which fences calls on this node's drives.
    local: Arc<LockTable>,
    /// Every node's table, this one's included.
    granters: Arc<Vec<Granter>>,
    options: LockOptions,
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
    fence: Fence,
    local: Arc<LockTable>,
    granters: Arc<Vec<Granter>>,
    refresher: tokio::task::JoinHandle<()>,
    held: Arc<Held>,
    /// The lease, how long a release to an unreachable node is retried.
    lease: Duration,
    /// By granter: asked for the lock without answering (it may hold a grant).
    unanswered: Vec<bool>,
}

impl DistLocks {
    /// Locks over this node (`local`) and `peers`.
    pub fn new(local: Arc<LockTable>, peers: Vec<Granter>, options: LockOptions) -> Self {
        let mut granters = vec![Granter::Local(Arc::clone(&local))];
        granters.extend(peers);
        Self { local, granters: Arc::new(granters), options, held: Arc::default() }
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
            let sent: Vec<bool> = self.granters.iter().map(Granter::reachable).collect();
            let answers = join_all(self.granters.iter().map(|g| g.answer(call.clone()))).await;
            // Nodes asked that did not answer: the call may have landed and been granted.
            let unanswered: Vec<bool> = sent.iter().zip(&answers).map(|(sent, a)| *sent && a.is_none()).collect();
            if answers.iter().filter(|a| **a == Some(true)).count() >= self.quorum() {
                // Only writes are fenced: a reader gains nothing from more grants than a quorum.
                if write {
                    self.fill_in(name, &call, answers).await;
                }
                let fence = Fence { name: name.to_owned(), owner };
                let refresher =
                    tokio::spawn(refresh(fence.clone(), Arc::clone(&self.granters), write, self.options.lease));
                if let Some(hold) = self.options.test_hold.filter(|_| write) {
                    tracing::warn!(name, hold_ms = hold.as_millis() as u64, "test hold: holding a write lock unused");
                    tokio::time::sleep(hold).await;
                }
                self.held.count.fetch_add(1, Ordering::AcqRel);
                return Some(DistGuard {
                    fence,
                    local: Arc::clone(&self.local),
                    granters: Arc::clone(&self.granters),
                    refresher,
                    held: Arc::clone(&self.held),
                    lease: self.options.lease,
                    unanswered,
                });
            }
            // Not a quorum: give back what was granted, so that two contenders cannot
            // each hold half and block one another.
            release(&self.granters, name, owner, self.options.lease, &unanswered).await;
            if Instant::now() >= deadline {
                return None;
            }
            let jitter = rand::rng().random_range(0..=pause_ms);
            tokio::time::sleep(Duration::from_millis(pause_ms + jitter)).await;
            pause_ms = (pause_ms * 2).min(RETRY_PAUSE_MS_MAX);
        }
    }
}

impl DistLocks {
    /// After a quorum granted `call`, asks the nodes that refused it (they held a
    /// contender's lease, which a contender without a quorum gives back at once) again,
    /// briefly: the drives of a node that does not grant the lock refuse its fenced
    /// calls, so each grant missing costs a write that drive's copy. Nodes that did not
    /// answer are not asked again.
    async fn fill_in(&self, name: &str, call: &LockCall, mut answers: Vec<Option<bool>>) {
        let mut pause_ms = FILL_IN_PAUSE_MS;
        for attempt in 0..=FILL_IN_ATTEMPTS {
            if !answers.contains(&Some(false)) {
                return;
            }
            if attempt == FILL_IN_ATTEMPTS {
                let refused = answers.iter().filter(|a| **a == Some(false)).count();
                tracing::warn!(
                    lock = name,
                    refused,
                    "lock held by a quorum, but some nodes still grant another holder: their drives refuse this writer"
                );
                return;
            }
            tokio::time::sleep(Duration::from_millis(pause_ms)).await;
            pause_ms *= 2;
            let asked = self.granters.iter().zip(&answers).map(|(granter, answer)| async move {
                if *answer == Some(false) { granter.answer(call.clone()).await } else { *answer }
            });
            answers = join_all(asked).await;
        }
    }
}

impl DistGuard {
    /// Runs a drive call that changes data under this (write) lock's fence: on a drive
    /// of this node (`local`) only while this node's table still grants the lock, on a
    /// drive of another node only while that node's table does (it checks).
    pub async fn fenced<T>(
        &self,
        local: bool,
        call: impl Future<Output = Result<T, DriveError>>,
    ) -> Result<T, DriveError> {
        if local { self.local.fenced(&self.fence, call).await } else { fence::scope(self.fence.clone(), call).await }
    }
}

/// Releases `name` held by `owner` on every node. A node that was asked for the lock and
/// did not answer (`unanswered`) may still have granted it (the `Lock` landed, its answer
/// was lost: a one-way partition) and would then refuse every other writer of the key
/// for the rest of the lease. If it does not answer the release either, the release is
/// sent to it again in the background, also while it counts as offline, until it
/// answers or the lease ran out. Nodes never asked (offline when the lock was taken)
/// cannot hold a grant and get no retries, so a dead peer costs nothing per lock.
async fn release(granters: &[Granter], name: &str, owner: Uuid, lease: Duration, unanswered: &[bool]) {
    let call = LockCall::Unlock { name: name.to_owned(), owner };
    let answers = join_all(granters.iter().map(|g| g.answer(call.clone()))).await;
    for ((granter, answer), asked) in granters.iter().zip(answers).zip(unanswered) {
        if let (Granter::Remote(peer), None, true) = (granter, answer, asked) {
            tokio::spawn(release_until_answered(Arc::clone(peer), encode(&call), lease));
        }
    }
}

/// Pause between the background attempts of a release, and the longest wait for one.
const RELEASE_RETRY_MS: u64 = 500;

async fn release_until_answered(peer: Arc<Peer>, call: bytes::Bytes, lease: Duration) {
    let every = Duration::from_millis(RELEASE_RETRY_MS);
    let deadline = Instant::now() + lease;
    while Instant::now() < deadline {
        if peer.call_regardless::<bool>(PATH_LOCK, call.clone(), every).await.is_ok() {
            return;
        }
        tokio::time::sleep(every).await;
    }
}

/// Longest wait for one node's answer to a refresh: well inside what is left of the
/// lease, so that a hung node cannot hold up the refreshes of the others.
const REFRESH_CALL_MS_MAX: u64 = 2_000;

/// Keeps a lock's leases alive until the task is aborted or the lock is lost. Each node
/// is refreshed on its own, with a short timeout. While a quorum of nodes kept granting
/// the lock without a break, nobody else can have held it, so a node that lost the
/// grant meanwhile (it restarted) is asked to grant it again. Once fewer than a quorum
/// kept it (this holder stalled past its leases, or was cut off), another writer may
/// have held it: the lock is lost for good, nothing is granted again, and the fenced
/// calls of this holder are refused wherever its leases are gone.
async fn refresh(fence: Fence, granters: Arc<Vec<Granter>>, write: bool, lease: Duration) {
    let quorum = granters.len() / 2 + 1;
    let every = lease / REFRESHES_PER_LEASE;
    let call_timeout = Duration::from_millis(REFRESH_CALL_MS_MAX).min(every);
    let Fence { name, owner } = fence;
    loop {
        tokio::time::sleep(every).await;
        let kept = join_all(granters.iter().map(|granter| {
            let refresh = granter.apply(LockCall::Refresh { name: name.clone(), owner });
            async move { tokio::time::timeout(call_timeout, refresh).await.unwrap_or(false) }
        }))
        .await;
        if kept.iter().filter(|k| **k).count() < quorum {
            tracing::warn!(name, "lost the lock quorum while holding a lock (stalled, or nodes unreachable)");
            return;
        }
        let regrants = granters.iter().zip(&kept).filter(|(_, kept)| !**kept).map(|(granter, _)| {
            let lock = granter.apply(LockCall::Lock { name: name.clone(), owner, write });
            tokio::time::timeout(call_timeout, lock)
        });
        join_all(regrants).await;
    }
}

impl Drop for DistGuard {
    fn drop(&mut self) {
        self.refresher.abort();
        let (granters, name, owner) =
            (Arc::clone(&self.granters), std::mem::take(&mut self.fence.name), self.fence.owner);
        let (held, lease, unanswered) = (Arc::clone(&self.held), self.lease, std::mem::take(&mut self.unanswered));
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    release(&granters, &name, owner, lease, &unanswered).await;
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

    /// A grant applied after its release (a late `Lock`, or a regrant of a refresher cut
    /// off when the holder let go) must not hold the key for a lease with nobody to
    /// release it: the node's drives would refuse every other writer meanwhile.
    #[test]
    fn a_grant_that_arrives_after_its_release_is_refused() {
        let table = LockTable::default();
        let (late, next) = (Uuid::new_v4(), Uuid::new_v4());
        table.apply(LockCall::Unlock { name: "k".into(), owner: late });
        assert!(!table.apply(LockCall::Lock { name: "k".into(), owner: late, write: true }));
        assert!(table.apply(LockCall::Lock { name: "k".into(), owner: next, write: true }), "the key is free");
    }

    fn three_tables(lease: Duration) -> (Vec<Arc<LockTable>>, DistLocks) {
        let tables: Vec<_> = (0..3).map(|_| Arc::new(LockTable::new(lease))).collect();
        let peers = tables[1..].iter().map(|t| Granter::Local(Arc::clone(t))).collect();
        let options = LockOptions { lease, test_hold: None };
        (tables.clone(), DistLocks::new(Arc::clone(&tables[0]), peers, options))
    }

    #[tokio::test]
    async fn close_waits_for_held_locks_to_be_released_everywhere() {
        let (tables, locks) = three_tables(Duration::from_millis(LOCK_LEASE_MS));
        let held = locks.acquire("k", true, Duration::from_millis(50)).await.expect("granted");
        assert!(!locks.close(Duration::from_millis(20)).await, "a lock is still held");
        assert!(locks.acquire("other", true, Duration::from_millis(50)).await.is_none(), "closed: no new locks");
        drop(held);
        assert!(locks.close(Duration::from_secs(5)).await, "released");
        assert!(tables.iter().all(|t| t.len() == 0), "every node's grant was given back");
    }

    #[tokio::test]
    async fn a_quorum_of_local_tables_serialises_writers() {
        let (_, locks) = three_tables(Duration::from_millis(LOCK_LEASE_MS));
        let first = locks.acquire("k", true, Duration::from_millis(50)).await.expect("granted");
        assert!(locks.acquire("k", true, Duration::from_millis(50)).await.is_none(), "held");
        drop(first);
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert!(locks.acquire("k", false, Duration::from_millis(500)).await.is_some(), "released");
    }

    #[tokio::test]
    async fn a_node_held_by_a_failing_contender_grants_the_lock_once_it_is_given_back() {
        let (tables, locks) = three_tables(Duration::from_millis(LOCK_LEASE_MS));
        let reader = Uuid::new_v4();
        assert!(tables[2].apply(LockCall::Lock { name: "k".into(), owner: reader, write: false }));
        // The contender gives its lease back while the writer already holds a quorum.
        let table = Arc::clone(&tables[2]);
        tokio::spawn(async move { table.apply(LockCall::Unlock { name: "k".into(), owner: reader }) });
        let guard = locks.acquire("k", true, Duration::from_millis(50)).await.expect("granted");
        assert!(tables.iter().all(|t| t.pin(&guard.fence).is_some()), "every node grants the writer");
    }

    /// Regression (chaos seed 259089016751724, DriveReadOnly): a contender that lost gives
    /// its grant back but retries, and took its own node again at each of the writer's
    /// three fill-in attempts within 7 ms; the writer went without that node's drives
    /// and, with one read-only drive elsewhere, without its write quorum.
    #[tokio::test(start_paused = true)]
    async fn a_node_held_by_a_contender_for_a_while_still_grants_the_writer_its_lock() {
        let (tables, locks) = three_tables(Duration::from_millis(LOCK_LEASE_MS));
        let contender = Uuid::new_v4();
        assert!(tables[2].apply(LockCall::Lock { name: "k".into(), owner: contender, write: true }));
        // The node is free again after 20 ms, as in the longer pauses of a retrying contender.
        let table = Arc::clone(&tables[2]);
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            table.apply(LockCall::Unlock { name: "k".into(), owner: contender })
        });
        let guard = locks.acquire("k", true, Duration::from_millis(50)).await.expect("granted");
        assert!(tables.iter().all(|t| t.pin(&guard.fence).is_some()), "every node grants the writer");
    }

    #[tokio::test]
    async fn a_pinned_lease_outlives_its_expiry_and_its_unlock_until_the_call_ends() {
        let table = Arc::new(LockTable::new(Duration::from_millis(20)));
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let fence = Fence { name: "k".into(), owner: a };
        assert!(table.pin(&fence).is_none(), "nothing granted, nothing to pin");
        assert!(table.apply(LockCall::Lock { name: "k".into(), owner: a, write: true }));
        let pin = table.pin(&fence).expect("granted to a");
        std::thread::sleep(Duration::from_millis(40));
        table.apply(LockCall::Unlock { name: "k".into(), owner: a });
        assert!(!table.apply(LockCall::Lock { name: "k".into(), owner: b, write: true }), "a call of a still runs");
        drop(pin);
        assert!(table.pin(&fence).is_none(), "released once the call ended");
        assert!(table.apply(LockCall::Lock { name: "k".into(), owner: b, write: true }));
        assert!(table.pin(&fence).is_none(), "a's fence does not pass for b's lease");
    }

    #[tokio::test]
    async fn fenced_calls_are_refused_once_the_lease_expired() {
        let table = Arc::new(LockTable::new(Duration::from_millis(20)));
        let fence = Fence { name: "k".into(), owner: Uuid::new_v4() };
        assert!(table.apply(LockCall::Lock { name: "k".into(), owner: fence.owner, write: true }));
        assert!(table.fenced(&fence, async { Ok(()) }).await.is_ok());
        tokio::time::sleep(Duration::from_millis(40)).await;
        let refused = table.fenced(&fence, async { Ok(()) }).await.expect_err("expired");
        assert!(refused.to_string().contains("no longer held"), "{refused}");
    }

    #[tokio::test]
    async fn a_holder_that_lost_its_quorum_is_not_granted_the_lock_again() {
        let lease = Duration::from_millis(300);
        let (tables, locks) = three_tables(lease);
        let guard = locks.acquire("k", true, Duration::from_millis(50)).await.expect("granted");
        let fence = guard.fence.clone();
        // As if the holder stalled past its leases and another writer took and released the lock.
        let other = Uuid::new_v4();
        for table in &tables {
            table.apply(LockCall::Unlock { name: "k".into(), owner: fence.owner });
            assert!(table.apply(LockCall::Lock { name: "k".into(), owner: other, write: true }));
            table.apply(LockCall::Unlock { name: "k".into(), owner: other });
        }
        tokio::time::sleep(lease).await;
        assert!(tables.iter().all(|table| table.pin(&fence).is_none()), "the lost lock was granted again");
        assert!(guard.fenced(true, async { Ok(()) }).await.is_err(), "its calls on this node are refused");
    }

    #[tokio::test]
    async fn a_node_that_restarted_is_granted_the_lock_again_while_a_quorum_kept_it() {
        let lease = Duration::from_millis(300);
        let (tables, locks) = three_tables(lease);
        let guard = locks.acquire("k", true, Duration::from_millis(50)).await.expect("granted");
        tables[2].restart();
        tokio::time::sleep(lease).await;
        assert!(tables[2].pin(&guard.fence).is_some(), "the restarted node grants it again");
    }
}

/// Releases sent to a peer that counts as offline (a one-way partition: it hears this
/// node, this node does not hear it), against a stand-in node that records lock calls.
#[cfg(test)]
mod release_tests {
    use super::*;
    use crate::token::TokenKey;
    use crate::wire::{WireError, decode};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// How long a test waits for a release that must arrive, or that must not.
    const WAIT: Duration = Duration::from_millis(2_500);

    /// A node on loopback that applies every lock call to `table` and answers it.
    async fn stand_in(table: Arc<LockTable>) -> std::net::SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
        let address = listener.local_addr().expect("address");
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let table = Arc::clone(&table);
                tokio::spawn(async move {
                    let mut request = Vec::new();
                    let mut buffer = [0_u8; 4096];
                    while let Ok(n) = stream.read(&mut buffer).await {
                        if n == 0 {
                            return;
                        }
                        request.extend_from_slice(&buffer[..n]);
                        let Some(end) = request.windows(4).position(|w| w == b"\r\n\r\n") else { continue };
                        let head = String::from_utf8_lossy(&request[..end]).to_ascii_lowercase();
                        let length: usize = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse().ok())
                            .unwrap_or(0);
                        if request.len() < end + 4 + length {
                            continue;
                        }
                        let call: LockCall = decode(&request[end + 4..end + 4 + length]).expect("a lock call");
                        let reply = encode(&Ok::<bool, WireError>(table.apply(call)));
                        let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n", reply.len());
                        let _ = stream.write_all(head.as_bytes()).await;
                        let _ = stream.write_all(&reply).await;
                        request.drain(..end + 4 + length);
                    }
                });
            }
        });
        address
    }

    /// A peer at `address` that this node counts as offline.
    fn offline_peer(address: std::net::SocketAddr) -> Arc<Peer> {
        let peer = Peer::new(&address.to_string(), TokenKey::new("access", "secret-key"), None);
        peer.mark_offline("test: its answers are lost");
        peer
    }

    /// Regression (chaos seed 259089016751724, PartitionOneWay): a node whose `Lock`
    /// reached a peer but whose answer was lost never sent that peer the release (calls
    /// to an offline peer fail at once), so the peer refused every writer of the key for
    /// a whole lease.
    #[tokio::test]
    async fn a_grant_whose_answer_was_lost_is_released_while_the_peer_counts_offline() {
        let table = Arc::new(LockTable::default());
        let peer = offline_peer(stand_in(Arc::clone(&table)).await);
        let (holder, writer) = (Uuid::new_v4(), Uuid::new_v4());
        assert!(table.apply(LockCall::Lock { name: "k".into(), owner: holder, write: false }), "granted there");
        let granters = [Granter::Local(Arc::new(LockTable::default())), Granter::Remote(peer)];
        release(&granters, "k", holder, Duration::from_secs(15), &[false, true]).await;
        let started = Instant::now();
        while !table.apply(LockCall::Lock { name: "k".into(), owner: writer, write: true }) {
            assert!(started.elapsed() < WAIT, "the peer still grants the released lock");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A peer that was offline when the lock was taken was never asked, so it gets no
    /// release retries (a dead peer costs nothing per lock).
    #[tokio::test]
    async fn a_peer_never_asked_gets_no_release() {
        let table = Arc::new(LockTable::default());
        let peer = offline_peer(stand_in(Arc::clone(&table)).await);
        let holder = Uuid::new_v4();
        assert!(table.apply(LockCall::Lock { name: "k".into(), owner: holder, write: true }));
        let granters = [Granter::Local(Arc::new(LockTable::default())), Granter::Remote(peer)];
        release(&granters, "k", holder, Duration::from_secs(15), &[false, false]).await;
        tokio::time::sleep(WAIT).await;
        let other = Uuid::new_v4();
        assert!(!table.apply(LockCall::Lock { name: "k".into(), owner: other, write: true }), "nothing was sent");
    }
}
