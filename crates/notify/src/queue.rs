//! A target's durable queue: one file per event in a folder, named so that names sort
//! in the order events were queued. An event is written to a temporary name, fsynced,
//! renamed, and the folder fsynced, before `put` returns: an event acknowledged to the
//! request that caused it survives a crash or restart. A file is removed only once its
//! delivery succeeded, so delivery is at least once.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The ending of a queued event's file.
const EVENT_SUFFIX: &str = ".event";
/// The ending of an event being written (removed at open: it was never acknowledged).
const PARTIAL_SUFFIX: &str = ".partial";

/// Why an event was not queued.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// The queue holds its limit already.
    #[error("the queue is full ({0} events)")]
    Full(u64),
    /// The folder cannot be written.
    #[error("cannot write the queue: {0}")]
    Io(#[from] std::io::Error),
}

/// One target's queue folder.
#[derive(Debug)]
pub struct Queue {
    dir: PathBuf,
    limit: u64,
    /// Events in the folder (approximate across a concurrent put and remove).
    len: AtomicU64,
    /// Orders events queued in the same nanosecond.
    next: AtomicU64,
}

impl Queue {
    /// Opens (creating it if needed) the queue in `dir`, dropping half-written events.
    pub fn open(dir: &Path, limit: u64) -> std::io::Result<Arc<Self>> {
        std::fs::create_dir_all(dir)?;
        let mut len = 0;
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            if name.ends_with(PARTIAL_SUFFIX) {
                std::fs::remove_file(&path)?;
            } else if name.ends_with(EVENT_SUFFIX) {
                len += 1;
            }
        }
        Ok(Arc::new(Self { dir: dir.to_owned(), limit, len: AtomicU64::new(len), next: AtomicU64::new(0) }))
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Events waiting.
    pub fn len(&self) -> u64 {
        self.len.load(Ordering::Acquire)
    }

    /// True when no event waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Queues `message` durably (blocking I/O: call from a blocking thread).
    pub fn put(&self, message: &[u8]) -> Result<(), QueueError> {
        // Counted before the file exists: delivery may send and remove it before this
        // returns, and its decrement must find the increment already there.
        let reserved =
            self.len.fetch_update(Ordering::AcqRel, Ordering::Acquire, |len| (len < self.limit).then_some(len + 1));
        if reserved.is_err() {
            return Err(QueueError::Full(self.limit));
        }
        let written = self.write(message);
        if written.is_err() {
            self.release();
        }
        written
    }

    /// Writes one event file durably.
    fn write(&self, message: &[u8]) -> Result<(), QueueError> {
        let nanos = time::OffsetDateTime::now_utc().unix_timestamp_nanos();
        let sequence = self.next.fetch_add(1, Ordering::Relaxed);
        let name = format!("{nanos:024}-{sequence:012}");
        let partial = self.dir.join(format!("{name}{PARTIAL_SUFFIX}"));
        let mut file = std::fs::File::create(&partial)?;
        file.write_all(message)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&partial, self.dir.join(format!("{name}{EVENT_SUFFIX}")))?;
        std::fs::File::open(&self.dir)?.sync_all()?;
        Ok(())
    }

    /// Takes one event off the count (never below zero: a file removed by hand, or by
    /// an earlier run's delivery task, was counted once at most).
    fn release(&self) {
        let _ = self.len.fetch_update(Ordering::AcqRel, Ordering::Acquire, |len| len.checked_sub(1));
    }

    /// Up to `max` of the oldest events, oldest first.
    pub fn oldest(&self, max: usize) -> std::io::Result<Vec<PathBuf>> {
        let mut names: Vec<String> = Vec::new();
        for entry in std::fs::read_dir(&self.dir)? {
            let name = entry?.file_name().to_string_lossy().into_owned();
            if name.ends_with(EVENT_SUFFIX) {
                names.push(name);
            }
        }
        names.sort_unstable();
        names.truncate(max);
        Ok(names.into_iter().map(|name| self.dir.join(name)).collect())
    }

    /// Removes a delivered event.
    pub fn remove(&self, path: &Path) -> std::io::Result<()> {
        std::fs::remove_file(path)?;
        self.release();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_survive_reopening_in_order_and_the_limit_holds() {
        let dir = tempfile::tempdir().expect("tempdir");
        let queue = Queue::open(dir.path(), 3).expect("open");
        for n in 0..3 {
            queue.put(format!("event {n}").as_bytes()).expect("queued");
        }
        assert!(matches!(queue.put(b"one too many"), Err(QueueError::Full(3))));
        std::fs::write(dir.path().join(format!("0{PARTIAL_SUFFIX}")), b"half").expect("a torn write");
        let reopened = Queue::open(dir.path(), 3).expect("reopen");
        assert_eq!(reopened.len(), 3);
        let oldest = reopened.oldest(10).expect("list");
        let texts: Vec<String> =
            oldest.iter().map(|p| String::from_utf8(std::fs::read(p).expect("read")).expect("utf8")).collect();
        assert_eq!(texts, ["event 0", "event 1", "event 2"]);
        reopened.remove(&oldest[0]).expect("remove");
        assert_eq!(reopened.len(), 2);
        reopened.put(b"event 3").expect("room again");
        assert!(!dir.path().join(format!("0{PARTIAL_SUFFIX}")).exists(), "half-written events are dropped");
    }

    /// Regression: the count was raised after the file was renamed into place, so a
    /// delivery that removed the file first took the count below zero (it wrapped), and
    /// every later event was dropped as if the queue were full. The state that race
    /// left, a file in the folder the count does not hold, is made here by hand.
    #[test]
    fn removing_an_uncounted_event_never_wraps_the_count() {
        let dir = tempfile::tempdir().expect("tempdir");
        let queue = Queue::open(dir.path(), 10).expect("open");
        std::fs::write(dir.path().join(format!("0{EVENT_SUFFIX}")), b"uncounted").expect("an event");
        for path in queue.oldest(10).expect("list") {
            queue.remove(&path).expect("remove");
        }
        assert_eq!(queue.len(), 0);
        queue.put(b"next").expect("the queue is not full");
        assert_eq!(queue.len(), 1);
    }
}
