//! Group commit: the index changes of concurrent callers share one write transaction
//! and one fsync. Callers queue their operation; one drainer at a time (a blocking
//! thread) takes everything queued, applies it in one transaction, answers every caller
//! and goes on while more is queued. Under load a batch holds every operation that
//! arrived while the previous commit was being flushed, so the fsyncs per second stay
//! constant while the operations per fsync grow with the concurrency; a lone caller
//! pays one commit, as before.
//!
//! Async callers ([`Batcher::submit_async`]) wait on a oneshot, not on a thread of their
//! own: a small PUT's commit and cleanup on four drives cost no thread hand-over each,
//! only the drainer's one per batch (the scheduler's switches were about half of a
//! small PUT's CPU when every caller blocked a thread of its own).

use super::{Index, OBJECTS, PENDING, REPLACED, db_error, object_key};
use crate::local::io::remove_empty_parents;
use crate::local::remove_data_dirs;
use crate::{DriveError, PendingCommit, Result};
use bytes::Bytes;
use redb::{ReadableTable, Table, WriteTransaction};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{SyncSender, TryRecvError, sync_channel};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::oneshot;
use uuid::Uuid;

/// One change to the index.
#[derive(Debug)]
pub(crate) enum Op {
    /// Installs `meta` for `volume`/`key` (replacing any).
    Put { volume: String, key: String, meta: Bytes },
    /// Makes a commit visible: installs `meta`, keeps the replaced metadata under the
    /// commit id and records the commit (its `replaced` flag is set here).
    Commit { meta: Bytes, record: PendingCommit },
    /// Forgets a commit's record and the metadata it replaced. `Found(true)` when there
    /// was a record or replaced metadata.
    Finish { commit_id: Uuid },
    /// Puts back the metadata `commit_id` replaced (or removes the key if it replaced
    /// none) and forgets the commit. `Found(true)` when metadata was restored.
    Undo { volume: String, key: String, commit_id: Uuid },
    /// Removes `volume`/`key`; `Found(false)` when it was not there.
    Delete { volume: String, key: String },
    /// Removes every object of `volume` (its folder was created anew: whatever the index
    /// still held for it belongs to a folder that was wiped).
    PurgeVolume { volume: String },
}

impl Op {
    /// False for operations that may be lost in a crash: finishing a commit again after
    /// a crash only repeats a cleanup, so it need not wait for an fsync of its own.
    fn needs_durability(&self) -> bool {
        !matches!(self, Op::Finish { .. })
    }
}

/// What an operation found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Done,
    Found(bool),
}

/// What must hold when an async caller's operation is applied; checked by the drainer
/// right before the batch, as the blocking calls check before they apply.
#[derive(Debug)]
pub(crate) struct Check {
    /// The drive's system folder (gone: the drive is not there).
    pub(crate) system: PathBuf,
    /// The bucket's folder, for changes that need it (gone: the bucket was deleted).
    pub(crate) volume_dir: Option<PathBuf>,
}

/// The folder work after a [`Op::Finish`]: the data directories other than those in
/// `keep` go, and the key's empty folders with them.
#[derive(Debug)]
pub(crate) struct Cleanup {
    pub(crate) dir: PathBuf,
    pub(crate) volume_dir: PathBuf,
    pub(crate) keep: Vec<Uuid>,
}

impl Cleanup {
    /// Runs after the finish found `outcome`. Without a record of the commit there is
    /// nothing older to drop, unless nothing is kept (an inline version needs no folder).
    fn needed(&self, outcome: Outcome) -> bool {
        (outcome == Outcome::Found(true) || self.keep.is_empty()) && self.dir.symlink_metadata().is_ok()
    }

    fn run(self) -> Result<()> {
        remove_data_dirs(&self.dir, &self.keep)?;
        if self.keep.is_empty() {
            remove_empty_parents(&self.dir, &self.volume_dir);
        }
        Ok(())
    }
}

/// Where an operation's caller waits.
enum Reply {
    Blocking(SyncSender<Result<Outcome>>),
    Async(oneshot::Sender<Result<Outcome>>),
}

impl Reply {
    fn send(self, result: Result<Outcome>) {
        // A caller that gave up (its deadline passed) no longer listens.
        match self {
            Reply::Blocking(sender) => drop(sender.send(result)),
            Reply::Async(sender) => drop(sender.send(result)),
        }
    }
}

struct Queued {
    op: Op,
    check: Option<Check>,
    cleanup: Option<Cleanup>,
    reply: Reply,
}

#[derive(Default)]
struct State {
    queue: Vec<Queued>,
    /// True while a drainer runs (it clears this when it finds the queue empty).
    draining: bool,
}

/// Queue and drainer of one index's group commit.
#[derive(Default)]
pub(super) struct Batcher {
    state: Mutex<State>,
    /// Held by the drainer from a batch's checks to its commit; bucket deletion holds it
    /// while it checks that the bucket is empty and moves its folder away.
    applying: Mutex<()>,
    /// Batches applied (each one or two transactions: finishes, then the rest), for tests.
    commits: AtomicU64,
}

impl Batcher {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues `queued`; true when the caller must start a drainer.
    fn enqueue(&self, queued: Queued) -> bool {
        let mut state = self.state();
        state.queue.push(queued);
        !std::mem::replace(&mut state.draining, true)
    }

    /// Stops batches from being applied while the guard lives.
    pub(super) fn pause(&self) -> MutexGuard<'_, ()> {
        self.applying.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Applies `op` from a blocking thread, which drains the queue itself when no
    /// drainer runs.
    pub(super) fn submit(&self, index: &Arc<Index>, op: Op) -> Result<Outcome> {
        let (reply, answer) = sync_channel(1);
        let queued = Queued { op, check: None, cleanup: None, reply: Reply::Blocking(reply) };
        if !self.enqueue(queued) {
            return answer.recv().unwrap_or_else(|_| Err(abandoned()));
        }
        let guard = DrainerGuard(index);
        let result = loop {
            match answer.try_recv() {
                Ok(result) => break result,
                Err(TryRecvError::Disconnected) => break Err(abandoned()),
                Err(TryRecvError::Empty) => {
                    // Our operation was queued before this turn began: a batch answers it.
                    assert!(self.drain_once(index), "a queued operation was left unanswered");
                }
            }
        };
        // Hand whatever was queued meanwhile to a drainer of its own rather than serve
        // other callers for as long as they come.
        if !self.end_turn_if_idle() && !spawn_drainer(index) {
            while self.drain_once(index) {}
        }
        std::mem::forget(guard);
        result
    }

    /// Applies `op` once `check` holds, then runs `cleanup` (finishes only), without
    /// holding a thread while the batch is flushed.
    pub(super) async fn submit_async(
        &self,
        index: &Arc<Index>,
        op: Op,
        check: Option<Check>,
        cleanup: Option<Cleanup>,
    ) -> Result<Outcome> {
        let (reply, answer) = oneshot::channel();
        if self.enqueue(Queued { op, check, cleanup, reply: Reply::Async(reply) }) && !spawn_drainer(index) {
            // No runtime to run a drainer on: the runtime is shutting down.
            let mut state = self.state();
            state.draining = false;
            for queued in std::mem::take(&mut state.queue) {
                queued.reply.send(Err(abandoned()));
            }
        }
        answer.await.unwrap_or_else(|_| Err(abandoned()))
    }

    /// Ends the drainer's turn if nothing is queued.
    fn end_turn_if_idle(&self) -> bool {
        let mut state = self.state();
        if state.queue.is_empty() {
            state.draining = false;
        }
        !state.draining
    }

    /// Applies one batch of what is queued; false (and the drainer's turn ends) when the
    /// queue was empty.
    fn drain_once(&self, index: &Index) -> bool {
        let batch = {
            let mut state = self.state();
            if state.queue.is_empty() {
                state.draining = false;
                return false;
            }
            std::mem::take(&mut state.queue)
        };
        self.commits.fetch_add(1, Ordering::Relaxed);
        let _applying = self.pause();
        run(index, batch);
        true
    }
}

/// Starts a drainer on the runtime's blocking pool; false without a runtime.
fn spawn_drainer(index: &Arc<Index>) -> bool {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else { return false };
    let index = Arc::clone(index);
    runtime.spawn_blocking(move || {
        let guard = DrainerGuard(&index);
        while index.batch.drain_once(&index) {}
        std::mem::forget(guard);
    });
    true
}

/// Ends the drainer's turn if the batch code panics (its callers are answered with an
/// error as their replies drop), so that later callers start a new drainer.
struct DrainerGuard<'a>(&'a Index);

impl Drop for DrainerGuard<'_> {
    fn drop(&mut self) {
        self.0.batch.state().draining = false;
    }
}

fn abandoned() -> DriveError {
    DriveError::Io { op: "index commit", source: std::io::Error::other("commit abandoned") }
}

/// Applies a batch in one transaction and answers every caller. Operations whose check
/// fails are answered with its error and left out.
fn run(index: &Index, batch: Vec<Queued>) {
    let mut accepted = Vec::with_capacity(batch.len());
    let mut seen = Vec::new();
    let current = batch.iter().any(|q| q.check.is_some()).then(|| index.is_current());
    for queued in batch {
        match queued.check.as_ref().map(|check| check_once(check, current, &mut seen)) {
            Some(Err(error)) => queued.reply.send(Err(error)),
            _ => accepted.push(queued),
        }
    }
    if accepted.is_empty() {
        return;
    }
    // Finishes first, in a transaction of their own that is not flushed: a PUT's
    // cleanup need not wait for the fsync of other PUTs' commits (it would double a
    // small PUT's latency). They touch only their own commit's records, so applying them
    // ahead of the batch's other changes changes nothing else.
    let (light, heavy): (Vec<Queued>, Vec<Queued>) = accepted.into_iter().partition(|q| !q.op.needs_durability());
    for (part, durable) in [(light, false), (heavy, true)] {
        if !part.is_empty() {
            commit(index, part, durable);
        }
    }
}

/// Applies `batch` in one transaction, flushed when `durable`, and answers its callers.
fn commit(index: &Index, batch: Vec<Queued>, durable: bool) {
    let mut ops = Vec::with_capacity(batch.len());
    let mut waiting = Vec::with_capacity(batch.len());
    for Queued { op, cleanup, reply, .. } in batch {
        ops.push(op);
        waiting.push((cleanup, reply));
    }
    let applied = index.write("index commit", durable, |txn| {
        let mut tables = Tables::open(txn)?;
        Ok(ops.into_iter().map(|op| apply(&mut tables, op)).collect::<Vec<_>>())
    });
    match applied {
        Ok(outcomes) => {
            for ((cleanup, reply), outcome) in waiting.into_iter().zip(outcomes) {
                match (cleanup, outcome) {
                    (Some(cleanup), Ok(found)) if cleanup.needed(found) => run_cleanup(cleanup, found, reply),
                    (_, outcome) => reply.send(outcome),
                }
            }
        }
        Err(error) => {
            // Nothing of the batch was committed.
            for (_, reply) in waiting {
                reply.send(Err(same_error(&error)));
            }
        }
    }
}

/// The result of `check`; each folder is looked at once per batch.
fn check_once(check: &Check, current: Option<bool>, seen: &mut Vec<(PathBuf, bool)>) -> Result<()> {
    if current == Some(false) || !is_dir_once(&check.system, seen) {
        // Wiped or swapped since this index was opened, or not mounted.
        return Err(DriveError::DriveNotFound);
    }
    if check.volume_dir.as_ref().is_some_and(|dir| !is_dir_once(dir, seen)) {
        return Err(DriveError::VolumeNotFound);
    }
    Ok(())
}

fn is_dir_once(dir: &Path, seen: &mut Vec<(PathBuf, bool)>) -> bool {
    if let Some((_, is_dir)) = seen.iter().find(|(d, _)| d == dir) {
        return *is_dir;
    }
    let is_dir = dir.is_dir();
    seen.push((dir.to_path_buf(), is_dir));
    is_dir
}

/// Removes a finished commit's old data off the drainer (a large object's files take
/// a while to unlink), then answers.
fn run_cleanup(cleanup: Cleanup, found: Outcome, reply: Reply) {
    let work = move || reply.send(cleanup.run().map(|()| found));
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => drop(runtime.spawn_blocking(work)),
        Err(_) => work(),
    }
}

/// A copy of a batch's error for each of its callers.
fn same_error(error: &DriveError) -> DriveError {
    match error {
        DriveError::DiskFull => DriveError::DiskFull,
        DriveError::Io { op, source } => {
            DriveError::Io { op, source: std::io::Error::new(source.kind(), source.to_string()) }
        }
        other => DriveError::Io { op: "index commit", source: std::io::Error::other(other.to_string()) },
    }
}

/// The tables a batch changes, opened once per transaction (not once per operation).
struct Tables<'t> {
    objects: Table<'t, &'static [u8], &'static [u8]>,
    pending: Table<'t, &'static [u8], &'static [u8]>,
    replaced: Table<'t, &'static [u8], &'static [u8]>,
}

impl<'t> Tables<'t> {
    fn open(txn: &'t WriteTransaction) -> Result<Self> {
        let open = |table| txn.open_table(table).map_err(|e| db_error("index commit", e));
        Ok(Self { objects: open(OBJECTS)?, pending: open(PENDING)?, replaced: open(REPLACED)? })
    }
}

/// Applies one operation. An error here ends the whole transaction (redb poisons a
/// transaction whose change failed part way), so operations check before they change.
fn apply(tables: &mut Tables<'_>, op: Op) -> Result<Outcome> {
    let err = |e: redb::StorageError| db_error("index commit", e);
    let Tables { objects, pending, replaced } = tables;
    match op {
        Op::Put { volume, key, meta } => {
            objects.insert(object_key(&volume, &key).as_slice(), meta.as_ref()).map_err(err)?;
            Ok(Outcome::Done)
        }
        Op::Commit { meta, mut record } => {
            let index_key = object_key(&record.volume, &record.key);
            let id = *record.commit_id.as_bytes();
            let previous = objects.get(index_key.as_slice()).map_err(err)?.map(|v| v.value().to_vec());
            record.replaced = previous.is_some();
            if let Some(previous) = previous {
                replaced.insert(id.as_slice(), previous.as_slice()).map_err(err)?;
            }
            pending.insert(id.as_slice(), record.encode().as_slice()).map_err(err)?;
            objects.insert(index_key.as_slice(), meta.as_ref()).map_err(err)?;
            Ok(Outcome::Done)
        }
        Op::Finish { commit_id } => {
            let id = *commit_id.as_bytes();
            let had_record = pending.remove(id.as_slice()).map_err(err)?.is_some();
            let had_replaced = replaced.remove(id.as_slice()).map_err(err)?.is_some();
            Ok(Outcome::Found(had_record || had_replaced))
        }
        Op::Undo { volume, key, commit_id } => {
            let id = *commit_id.as_bytes();
            let index_key = object_key(&volume, &key);
            let previous = replaced.remove(id.as_slice()).map_err(err)?.map(|v| v.value().to_vec());
            match &previous {
                Some(previous) => objects.insert(index_key.as_slice(), previous.as_slice()).map(drop),
                // There was no earlier version: the object did not exist before this commit.
                None => objects.remove(index_key.as_slice()).map(drop),
            }
            .map_err(err)?;
            pending.remove(id.as_slice()).map_err(err)?;
            Ok(Outcome::Found(previous.is_some()))
        }
        Op::Delete { volume, key } => {
            let existed = objects.remove(object_key(&volume, &key).as_slice()).map_err(err)?.is_some();
            Ok(Outcome::Found(existed))
        }
        Op::PurgeVolume { volume } => {
            let start = object_key(&volume, "");
            let mut end = start.clone();
            *end.last_mut().expect("a volume key ends in NUL") = 1;
            objects.retain_in(start.as_slice()..end.as_slice(), |_, _| false).map_err(err)?;
            Ok(Outcome::Done)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open() -> (tempfile::TempDir, Arc<Index>) {
        let dir = tempfile::tempdir().expect("temp dir");
        let index = Arc::new(Index::open(&dir.path().join("index.redb"), false).expect("open"));
        (dir, index)
    }

    fn wait_for_queue(index: &Index, len: usize) {
        for _ in 0..10_000 {
            if index.batch.state().queue.len() == len {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        panic!("{len} callers never queued");
    }

    /// Operations queued while a commit is in flight share the next one, whether their
    /// callers block a thread or await.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn callers_waiting_for_a_commit_share_the_next_one() {
        let (_dir, index) = open();
        const CALLERS: usize = 16;
        // A batch in flight: the drainer holds the turn and is applying.
        index.batch.state().draining = true;
        let put = |n: usize| Op::Put { volume: "b".into(), key: format!("k{n}"), meta: Bytes::from(vec![n as u8]) };
        let blocking: Vec<_> = (0..CALLERS / 2)
            .map(|n| {
                let (index, op) = (Arc::clone(&index), put(n));
                tokio::task::spawn_blocking(move || index.apply(op))
            })
            .collect();
        let awaiting: Vec<_> = (CALLERS / 2..CALLERS)
            .map(|n| {
                let (index, op) = (Arc::clone(&index), put(n));
                tokio::spawn(async move { index.apply_async(op, None, None).await })
            })
            .collect();
        let waiter = Arc::clone(&index);
        tokio::task::spawn_blocking(move || wait_for_queue(&waiter, CALLERS)).await.expect("queued");
        // The batch in flight ends; its drainer goes on with everything queued.
        let drainer = Arc::clone(&index);
        tokio::task::spawn_blocking(move || while drainer.batch.drain_once(&drainer) {}).await.expect("drain");
        for caller in blocking {
            assert_eq!(caller.await.expect("join").expect("apply"), Outcome::Done);
        }
        for caller in awaiting {
            assert_eq!(caller.await.expect("join").expect("apply"), Outcome::Done);
        }
        assert_eq!(index.batch.commits.load(Ordering::Relaxed), 1, "one transaction for all of them");
        assert!(!index.batch.state().draining, "the turn ended with the queue empty");
        for n in 0..CALLERS {
            assert_eq!(index.get("b", &format!("k{n}")).expect("get"), Some(Bytes::from(vec![n as u8])));
        }
    }

    /// A lone caller of either kind starts the drainer and gets its answer; the turn ends.
    #[tokio::test]
    async fn a_lone_caller_drains_its_own_operation() {
        let (_dir, index) = open();
        let op = Op::Put { volume: "b".into(), key: "async".into(), meta: Bytes::from_static(b"a") };
        assert_eq!(index.apply_async(op, None, None).await.expect("apply"), Outcome::Done);
        let blocking = Arc::clone(&index);
        let op = Op::Put { volume: "b".into(), key: "blocking".into(), meta: Bytes::from_static(b"b") };
        let outcome = tokio::task::spawn_blocking(move || blocking.apply(op)).await.expect("join");
        assert_eq!(outcome.expect("apply"), Outcome::Done);
        for _ in 0..1_000 {
            if !index.batch.state().draining {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        assert!(!index.batch.state().draining, "no drainer is left holding the turn");
        assert_eq!(index.get("b", "async").expect("get"), Some(Bytes::from_static(b"a")));
        assert_eq!(index.get("b", "blocking").expect("get"), Some(Bytes::from_static(b"b")));
    }

    /// An operation whose bucket folder is gone when its batch runs is refused and not
    /// applied; the others of the batch are.
    #[tokio::test]
    async fn a_failed_check_refuses_only_its_own_operation() {
        let (dir, index) = open();
        let system = dir.path().to_path_buf();
        let present = dir.path().join("present");
        std::fs::create_dir(&present).expect("bucket");
        let check =
            |volume_dir: &Path| Some(Check { system: system.clone(), volume_dir: Some(volume_dir.to_path_buf()) });
        let put = |key: &str| Op::Put { volume: "b".into(), key: key.into(), meta: Bytes::from_static(b"m") };
        index.batch.state().draining = true;
        let (ok, gone, ()) = tokio::join!(
            index.apply_async(put("kept"), check(&present), None),
            index.apply_async(put("refused"), check(&dir.path().join("gone")), None),
            async {
                let drainer = Arc::clone(&index);
                let waiter = Arc::clone(&index);
                tokio::task::spawn_blocking(move || {
                    wait_for_queue(&waiter, 2);
                    while drainer.batch.drain_once(&drainer) {}
                })
                .await
                .expect("drain")
            }
        );
        assert_eq!(ok.expect("apply"), Outcome::Done);
        assert!(matches!(gone, Err(DriveError::VolumeNotFound)), "{gone:?}");
        assert!(index.get("b", "kept").expect("get").is_some());
        assert!(index.get("b", "refused").expect("get").is_none());
    }
}
