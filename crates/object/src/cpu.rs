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

/// Runs `work` on the CPU pool and waits for it without blocking the async runtime.
pub(crate) async fn run<T, F>(work: F) -> Result<T>
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
