//! Read handles the RPC service keeps open for its peers: a peer that opened a shard
//! file reads it through a number, so that a read keeps its version even after an
//! overwrite removed the data directory. Each handle holds an open file, so the map is
//! bounded: when it is full, new handles are refused (the reading node reads other
//! shards or reports the drive as failed for that read) until readers close theirs or
//! idle ones expire.

use cairn_drive::{DriveError, ShardReader};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Most read handles open at once on one node, for all its peers together. Each one is
/// an open file: a read of an object opens one per part and drive, so this allows
/// thousands of concurrent reads of small objects and tens of the largest ones.
pub const READ_HANDLES_OPEN_MAX: usize = 16_384;
/// Read handles unused this long are closed (their reader went away without saying so).
const HANDLE_IDLE_MS: u64 = 300_000;

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

#[derive(Default)]
struct State {
    /// The last number handed out; numbers are never reused.
    next: u64,
    /// Each open handle's reader and when it was last used.
    open: HashMap<u64, (Arc<dyn ShardReader>, Instant)>,
}

impl Handles {
    /// A map of at most `max` handles.
    pub(crate) fn new(max: usize) -> Self {
        Self { max, state: Mutex::default() }
    }

    /// Keeps `reader` open under a new handle. Closes handles left idle too long first;
    /// refuses when `max` are still open.
    pub(crate) fn register(&self, reader: Box<dyn ShardReader>) -> Result<u64, TooManyHandles> {
        let mut state = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        if state.open.len() >= self.max {
            let idle = Duration::from_millis(HANDLE_IDLE_MS);
            state.open.retain(|_, (_, used)| now.duration_since(*used) < idle);
        }
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
        let mut state = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let (reader, used) = state.open.get_mut(&handle)?;
        *used = Instant::now();
        Some(Arc::clone(reader))
    }

    /// Closes `handle` (a no-op when it is not open).
    pub(crate) fn close(&self, handle: u64) {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner).open.remove(&handle);
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

    #[test]
    fn the_service_bound_is_what_the_service_uses() {
        let handles = Handles::new(READ_HANDLES_OPEN_MAX);
        for _ in 0..READ_HANDLES_OPEN_MAX {
            handles.register(Box::new(Empty)).expect("room");
        }
        assert!(handles.register(Box::new(Empty)).is_err(), "one more than the bound is refused");
    }
}
