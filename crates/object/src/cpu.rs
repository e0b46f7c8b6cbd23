//! A small pool for CPU-bound work (MD5, checksums, Reed-Solomon), one thread per
//! core. Keeping this work off tokio's blocking pool bounds the per-thread state
//! it builds (Reed-Solomon keeps a few MiB of working memory per thread): with a
//! thread per concurrent upload, 16 uploads of 256 MiB peaked at ~500 MiB RSS.

use crate::{ObjectError, Result};
use std::sync::OnceLock;

fn pool() -> &'static rayon::ThreadPool {
    static POOL: OnceLock<rayon::ThreadPool> = OnceLock::new();
    POOL.get_or_init(|| {
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("cairn-cpu-{i}"))
            .build()
            .expect("creating a thread pool of a few threads only fails when the OS refuses threads")
    })
}

/// Work on at most this many bytes runs on the calling async worker: hashing and
/// encoding 16 KiB takes some tens of microseconds, less than handing it to the pool
/// and back costs (two thread wake-ups, and the pool's threads spin in `sched_yield`
/// before they sleep: 6 % of a small-PUT load's CPU went there).
pub(crate) const CPU_INLINE_BYTES_MAX: usize = 16 << 10;

/// Runs `work`, which processes `bytes` bytes: in place when that is little (see
/// [`CPU_INLINE_BYTES_MAX`]), otherwise on the CPU pool.
pub(crate) async fn run_sized<T, F>(bytes: usize, work: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    if bytes <= CPU_INLINE_BYTES_MAX { Ok(work()) } else { run(work).await }
}

/// Runs `work` on the CPU pool and waits for it without blocking the async runtime.
async fn run<T, F>(work: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let (sender, receiver) = tokio::sync::oneshot::channel();
    pool().spawn(move || {
        let _ = sender.send(work());
    });
    receiver.await.map_err(|_| ObjectError::Internal("CPU task panicked".into()))
}
