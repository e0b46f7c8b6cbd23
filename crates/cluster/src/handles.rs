//! Read handles the RPC service keeps open for its peers: a peer that opened a shard
//! file reads it through a number, so that a read keeps its version even after an
//! overwrite removed the data directory. Each handle holds an open file, so the map is
//! bounded: when it is full, new handles are refused (the reading node reads other
//! shards or reports the drive as failed for that read) until readers close theirs or
//! idle ones expire. Idle handles are swept at least every [`HANDLE_SWEEP_MS`] of map
//! activity, not only when the map is full: a handle whose reader died (a killed node,
//! a lost `CloseHandle`) holds a file that an overwrite or delete already unlinked, and
//! its space comes back only when the handle closes.

use cairn_drive::{DriveError, ShardReader};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Most read handles open at once on one node, for all its peers together. Each one is
/// an open file: a read of an object opens one per part and drive, so this allows
/// thousands of concurrent reads of small objects and tens of the largest ones.
pub const READ_HANDLES_OPEN_MAX: usize = 16_384;
/// Read handles unused this long are closed (their reader went away without saying so).
/// A live reader touches its handle for every window it reads; one stalled for a minute
/// has a client that stalled longer than the S3 port lets a body stall.
const HANDLE_IDLE_MS: u64 = 60_000;
/// How often the map closes idle handles while it is in use.
const HANDLE_SWEEP_MS: u64 = 5_000;

/// Why a handle could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("{open} read handles are open on this node (at most {max}); retry when reads have finished")]
pub struct TooManyHandles {
    /// Handles open when this one was refused.
    pub open: usize,
    /// The bound, [`READ_HANDLES_OPEN_MAX`] in service.
    pub max: usize,
}

impl From<TooManyHandles> for DriveError {
    fn from(error: TooManyHandles) -> Self {
        DriveError::Io { op: "open read handle", source: std::io::Error::other(error) }
    }
}

/// Open read handles, by number.
pub(crate) struct Handles {
    /// The bound on `open.len()`.
    max: usize,
    state: Mutex<State>,
}

struct State {
    /// The last number handed out; numbers are never reused.
    next: u64,
    /// When idle handles were last closed.
    swept: Instant,
    /// Each open handle's reader and when it was last used.
    open: HashMap<u64, (Arc<dyn ShardReader>, Instant)>,
}

impl Handles {
    /// A map of at most `max` handles.
    pub(crate) fn new(max: usize) -> Self {
        Self { max, state: Mutex::new(State { next: 0, swept: Instant::now(), open: HashMap::new() }) }
    }

    /// Keeps `reader` open under a new handle. Closes handles left idle too long first;
    /// refuses when `max` are still open.
    pub(crate) fn register(&self, reader: Box<dyn ShardReader>) -> Result<u64, TooManyHandles> {
        self.register_at(reader, Instant::now())
    }

    /// [`Self::register`] at `now` (tests move the clock).
    fn register_at(&self, reader: Box<dyn ShardReader>, now: Instant) -> Result<u64, TooManyHandles> {
        let mut state = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let full = state.open.len() >= self.max;
        state.sweep(now, full);
        if state.open.len() >= self.max {
            return Err(TooManyHandles { open: state.open.len(), max: self.max });
        }
        state.next += 1;
        let handle = state.next;
        state.open.insert(handle, (Arc::from(reader), now));
        Ok(handle)
    }

    /// The reader behind `handle`, marked as used now.
    pub(crate) fn reader(&self, handle: u64) -> Option<Arc<dyn ShardReader>> {
        let now = Instant::now();
        let mut state = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        state.sweep(now, false);
        let (reader, used) = state.open.get_mut(&handle)?;
        *used = now;
        Some(Arc::clone(reader))
    }

    /// Closes `handle` (a no-op when it is not open).
    pub(crate) fn close(&self, handle: u64) {
        let mut state = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        state.open.remove(&handle);
        state.sweep(Instant::now(), false);
    }

    /// How many handles are open.
    #[cfg(test)]
    fn open_count(&self) -> usize {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner).open.len()
    }
}

impl State {
    /// Closes the handles idle for [`HANDLE_IDLE_MS`] when `force`d or when the last sweep
    /// is [`HANDLE_SWEEP_MS`] old (so a busy map pays for one pass per interval).
    fn sweep(&mut self, now: Instant, force: bool) {
        if !force && now.saturating_duration_since(self.swept) < Duration::from_millis(HANDLE_SWEEP_MS) {
            return;
        }
        self.swept = now;
        let idle = Duration::from_millis(HANDLE_IDLE_MS);
        self.open.retain(|_, (_, used)| now.saturating_duration_since(*used) < idle);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    struct Empty;

    #[async_trait::async_trait]
    impl ShardReader for Empty {
        async fn read_at(&self, _offset: u64, _len: usize) -> cairn_drive::Result<Bytes> {
            Ok(Bytes::new())
        }
    }

    #[test]
    fn a_full_map_refuses_new_handles_until_one_is_closed() {
        let handles = Handles::new(3);
        let opened: Vec<u64> = (0..3).map(|_| handles.register(Box::new(Empty)).expect("room")).collect();
        let refused = handles.register(Box::new(Empty)).expect_err("the map is full");
        assert_eq!((refused.open, refused.max), (3, 3));
        assert!(DriveError::from(refused).to_string().contains("read handles are open"), "a clear error");
        assert!(opened.iter().all(|h| handles.reader(*h).is_some()), "the open handles still work");
        handles.close(opened[1]);
        let reopened = handles.register(Box::new(Empty)).expect("room again");
        assert!(!opened.contains(&reopened), "numbers are not reused");
    }

    /// Regression: idle handles were closed only when the map was full, so a handle whose
    /// reader died kept an unlinked file (and its space) open until 16,384 piled up.
    #[test]
    fn idle_handles_close_while_the_map_is_far_from_full() {
        let handles = Handles::new(READ_HANDLES_OPEN_MAX);
        let start = Instant::now();
        let leaked = handles.register_at(Box::new(Empty), start).expect("room");
        let idle = Duration::from_millis(HANDLE_IDLE_MS + HANDLE_SWEEP_MS);
        let later = handles.register_at(Box::new(Empty), start + idle).expect("room");
        assert!(handles.reader(leaked).is_none(), "the idle handle was closed");
        assert!(handles.reader(later).is_some(), "the fresh one stays open");
        assert_eq!(handles.open_count(), 1);
    }

    #[test]
    fn the_service_bound_is_what_the_service_uses() {
        let handles = Handles::new(READ_HANDLES_OPEN_MAX);
        for _ in 0..READ_HANDLES_OPEN_MAX {
            handles.register(Box::new(Empty)).expect("room");
        }
        assert!(handles.register(Box::new(Empty)).is_err(), "one more than the bound is refused");
    }
}
