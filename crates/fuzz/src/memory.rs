//! Counting how much memory a call holds at once, per thread.
//!
//! Linking this crate makes [`CountingAllocator`] the global allocator of the test
//! binary. It forwards to the system allocator and keeps, per thread, the bytes
//! currently allocated and their peak, so [`measure`] can tell how much a parser held
//! at its worst, and [`within`] can fail a case whose parser trusted a length prefix
//! (a header claiming 4 GiB must not make the decoder reserve 4 GiB, even though
//! Linux would hand out that much virtual memory without complaint).

use proptest::test_runner::TestCaseError;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// Room every target gets beyond its linear allowance: serde pre-allocates up to
/// 1 MiB per nested sequence (its "cautious" size hint), and a record nests a few.
pub const SLACK_BYTES: usize = 8 << 20;
/// Bytes a parser may hold per input byte: decoded copies, maps, error messages.
pub const BYTES_PER_INPUT_BYTE_MAX: usize = 64;

thread_local! {
    /// Bytes allocated minus bytes freed on this thread (negative when this thread
    /// frees what another allocated).
    static LIVE_BYTES: Cell<isize> = const { Cell::new(0) };
    /// Highest `LIVE_BYTES` since the last [`measure`] started.
    static PEAK_BYTES: Cell<isize> = const { Cell::new(0) };
    /// Largest single request since the last [`measure`] started.
    static LARGEST_BYTES: Cell<usize> = const { Cell::new(0) };
}

/// The system allocator, with per-thread counters.
pub struct CountingAllocator;

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

fn note_allocation(size: usize) {
    // `try_with`: allocations can happen while a thread's locals are torn down.
    let _ = LARGEST_BYTES.try_with(|largest| largest.set(largest.get().max(size)));
    let _ = LIVE_BYTES.try_with(|live| {
        let now = live.get().saturating_add_unsigned(size);
        live.set(now);
        let _ = PEAK_BYTES.try_with(|peak| peak.set(peak.get().max(now)));
    });
}

fn note_free(size: usize) {
    let _ = LIVE_BYTES.try_with(|live| live.set(live.get().saturating_sub_unsigned(size)));
}

// The one unsafe block of the fuzz support, allowed because a global allocator can
// only be written as an `unsafe impl`: every method forwards to `System` with the
// caller's arguments unchanged, so `System`'s guarantees are the caller's, and the
// counting itself touches only thread-local cells (no allocation, no pointers).
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_allocation(layout.size());
        // SAFETY: forwarded unchanged; the caller upholds `GlobalAlloc::alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note_allocation(layout.size());
        // SAFETY: as in `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        note_free(layout.size());
        // SAFETY: `pointer` came from this allocator, i.e. from `System`, with `layout`.
        unsafe { System.dealloc(pointer, layout) }
    }

    unsafe fn realloc(&self, pointer: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_allocation(new_size);
        // SAFETY: as in `dealloc`; `new_size` is the caller's, checked by its contract.
        let moved = unsafe { System.realloc(pointer, layout, new_size) };
        if moved.is_null() {
            note_free(new_size);
        } else {
            note_free(layout.size());
        }
        moved
    }
}

/// What a call held, measured by [`measure`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    /// Most bytes the calling thread held at once during the call, beyond what it held before.
    pub peak_bytes: usize,
    /// Largest single allocation the call asked for.
    pub largest_bytes: usize,
}

/// Runs `call` on this thread and reports the memory it held at its worst. Memory
/// allocated by other threads (a runtime's workers) is not counted: measure
/// synchronous parsers.
pub fn measure<R>(call: impl FnOnce() -> R) -> (R, Usage) {
    let baseline = LIVE_BYTES.with(Cell::get);
    PEAK_BYTES.with(|peak| peak.set(baseline));
    LARGEST_BYTES.with(|largest| largest.set(0));
    let result = call();
    let peak = PEAK_BYTES.with(Cell::get);
    let usage = Usage {
        peak_bytes: usize::try_from(peak.saturating_sub(baseline)).unwrap_or(0),
        largest_bytes: LARGEST_BYTES.with(Cell::get),
    };
    (result, usage)
}

/// The memory a parser of `input_len` bytes may hold: [`SLACK_BYTES`] plus
/// [`BYTES_PER_INPUT_BYTE_MAX`] per input byte.
pub fn allowance_bytes(input_len: usize) -> usize {
    SLACK_BYTES.saturating_add(input_len.saturating_mul(BYTES_PER_INPUT_BYTE_MAX))
}

/// Runs `call` and fails the case when it held more than [`allowance_bytes`] of
/// `input_len` (plus `extra_bytes`, for work a target is known to do, like a key
/// derivation's working memory).
pub fn within<R>(input_len: usize, extra_bytes: usize, call: impl FnOnce() -> R) -> Result<R, TestCaseError> {
    let (result, usage) = measure(call);
    let limit = allowance_bytes(input_len).saturating_add(extra_bytes);
    if usage.peak_bytes > limit || usage.largest_bytes > limit {
        return Err(TestCaseError::fail(format!(
            "held {} bytes at once (largest allocation {}) for {input_len} input bytes; limit {limit}",
            usage.peak_bytes, usage.largest_bytes
        )));
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_what_a_call_holds() {
        let (_, usage) = measure(|| {
            let big = vec![1u8; 3 << 20];
            drop(big);
            let small = vec![2u8; 1 << 20];
            small.len()
        });
        assert!(usage.peak_bytes >= 3 << 20, "{usage:?}");
        assert!(usage.peak_bytes < 4 << 20, "{usage:?}");
        assert_eq!(usage.largest_bytes, 3 << 20);
    }

    #[test]
    fn a_trusted_length_prefix_fails_the_case() {
        let claimed = 4usize << 30;
        let result = within(8, 0, || Vec::<u8>::with_capacity(claimed).capacity());
        assert!(result.is_err(), "a 4 GiB reservation must fail the case");
        assert!(within(8, 0, || vec![0u8; 64].len()).is_ok());
    }
}
