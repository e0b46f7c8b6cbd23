//! Group commit: the index changes of concurrent callers share one write transaction
//! and one fsync. A caller queues its operation and then either finds it applied by
//! another caller's commit, or becomes the leader that applies everything queued so
//! far. Under load a batch holds every operation that arrived while the previous commit
//! was being flushed, so the fsyncs per second stay constant while the operations per
//! fsync grow with the concurrency; a lone caller pays one commit, as before.

use super::{Index, OBJECTS, PENDING, REPLACED, db_error, object_key};
use crate::{DriveError, PendingCommit, Result};
use bytes::Bytes;
use redb::{ReadableTable, WriteTransaction};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, sync_channel};
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

type Reply = SyncSender<Result<Outcome>>;

/// Queue and leader election of one index's group commit.
#[derive(Default)]
pub(super) struct Batcher {
    queue: Mutex<Vec<(Op, Reply)>>,
    /// Held by the caller whose transaction is in flight.
    leader: Mutex<()>,
    /// Transactions run (batches), for tests and statistics.
    commits: AtomicU64,
}

impl Batcher {
    pub(super) fn submit(&self, index: &Index, op: Op) -> Result<Outcome> {
        let (reply, answer) = sync_channel(1);
        self.queue.lock().unwrap_or_else(|p| p.into_inner()).push((op, reply));
        loop {
            if let Some(result) = ready(&answer) {
                return result;
            }
            let _leader = self.leader.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(result) = ready(&answer) {
                return result;
            }
            let batch = std::mem::take(&mut *self.queue.lock().unwrap_or_else(|p| p.into_inner()));
            // Our operation was queued before we led, and each leader takes the whole
            // queue: after this batch it has been applied.
            if !batch.is_empty() {
                self.commits.fetch_add(1, Ordering::Relaxed);
                run(index, batch);
            }
        }
    }
}

fn ready(answer: &Receiver<Result<Outcome>>) -> Option<Result<Outcome>> {
    match answer.try_recv() {
        Ok(result) => Some(result),
        Err(TryRecvError::Empty) => None,
        Err(TryRecvError::Disconnected) => {
            Some(Err(DriveError::Io { op: "index commit", source: std::io::Error::other("commit abandoned") }))
        }
    }
}

/// Applies a batch in one transaction and answers every caller.
fn run(index: &Index, batch: Vec<(Op, Reply)>) {
    let durable = batch.iter().any(|(op, _)| op.needs_durability());
    let (ops, replies): (Vec<Op>, Vec<Reply>) = batch.into_iter().unzip();
    let applied = index.write("index commit", durable, |txn| {
        let mut outcomes = Vec::with_capacity(ops.len());
        for op in ops {
            outcomes.push(apply(txn, op));
        }
        Ok(outcomes)
    });
    match applied {
        Ok(outcomes) => {
            for (reply, outcome) in replies.into_iter().zip(outcomes) {
                let _ = reply.send(outcome);
            }
        }
        Err(error) => {
            // Nothing of the batch was committed.
            for reply in replies {
                let _ = reply.send(Err(same_error(&error)));
            }
        }
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

/// Applies one operation. An error here ends the whole transaction (redb poisons a
/// transaction whose change failed part way), so operations check before they change.
fn apply(txn: &WriteTransaction, op: Op) -> Result<Outcome> {
    let err = |e: redb::StorageError| db_error("index commit", e);
    let mut objects = txn.open_table(OBJECTS).map_err(|e| db_error("index commit", e))?;
    match op {
        Op::Put { volume, key, meta } => {
            objects.insert(object_key(&volume, &key).as_slice(), meta.as_ref()).map_err(err)?;
            Ok(Outcome::Done)
        }
        Op::Commit { meta, mut record } => {
            let index_key = object_key(&record.volume, &record.key);
            let id = *record.commit_id.as_bytes();
            let replaced = objects.get(index_key.as_slice()).map_err(err)?.map(|v| v.value().to_vec());
            record.replaced = replaced.is_some();
            if let Some(replaced) = replaced {
                let mut table = txn.open_table(REPLACED).map_err(|e| db_error("index commit", e))?;
                table.insert(id.as_slice(), replaced.as_slice()).map_err(err)?;
            }
            let mut pending = txn.open_table(PENDING).map_err(|e| db_error("index commit", e))?;
            pending.insert(id.as_slice(), record.encode().as_slice()).map_err(err)?;
            objects.insert(index_key.as_slice(), meta.as_ref()).map_err(err)?;
            Ok(Outcome::Done)
        }
        Op::Finish { commit_id } => {
            let id = *commit_id.as_bytes();
            let mut pending = txn.open_table(PENDING).map_err(|e| db_error("index commit", e))?;
            let mut replaced = txn.open_table(REPLACED).map_err(|e| db_error("index commit", e))?;
            let had_record = pending.remove(id.as_slice()).map_err(err)?.is_some();
            let had_replaced = replaced.remove(id.as_slice()).map_err(err)?.is_some();
            Ok(Outcome::Found(had_record || had_replaced))
        }
        Op::Undo { volume, key, commit_id } => {
            let id = *commit_id.as_bytes();
            let index_key = object_key(&volume, &key);
            let mut pending = txn.open_table(PENDING).map_err(|e| db_error("index commit", e))?;
            let mut replaced = txn.open_table(REPLACED).map_err(|e| db_error("index commit", e))?;
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

    /// Operations queued while a commit is in flight share the next one.
    #[test]
    fn callers_waiting_for_a_commit_share_the_next_one() {
        let dir = tempfile::tempdir().expect("temp dir");
        let index = std::sync::Arc::new(Index::open(&dir.path().join("index.redb"), false).expect("open"));
        const CALLERS: usize = 16;
        let in_flight = index.batch.leader.lock().expect("leader");
        let threads: Vec<_> = (0..CALLERS)
            .map(|n| {
                let index = std::sync::Arc::clone(&index);
                std::thread::spawn(move || {
                    let op = Op::Put { volume: "b".into(), key: format!("k{n}"), meta: Bytes::from(vec![n as u8]) };
                    index.apply(op).expect("apply")
                })
            })
            .collect();
        for _ in 0..10_000 {
            if index.batch.queue.lock().expect("queue").len() == CALLERS {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        assert_eq!(index.batch.queue.lock().expect("queue").len(), CALLERS, "every caller queued");
        drop(in_flight);
        for thread in threads {
            assert_eq!(thread.join().expect("join"), Outcome::Done);
        }
        assert_eq!(index.batch.commits.load(Ordering::Relaxed), 1, "one transaction for all of them");
        for n in 0..CALLERS {
            assert_eq!(index.get("b", &format!("k{n}")).expect("get"), Some(Bytes::from(vec![n as u8])));
        }
    }
}
