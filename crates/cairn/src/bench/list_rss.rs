//! Samples the resident memory of server processes while a listing runs, so the
//! report shows what listing costs in memory rather than the high-water mark of
//! earlier phases (which is what `VmHWM` would give), next to the RSS the server had
//! when the listing began.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Pause between two samples.
const SAMPLE_INTERVAL_MS: u64 = 20;

pub struct RssSampler {
    stop: Arc<AtomicBool>,
    /// Answers (RSS when sampling started, peak RSS), MiB.
    task: Option<tokio::task::JoinHandle<Option<(f64, f64)>>>,
}

impl RssSampler {
    /// Starts sampling the summed RSS of `pids` (none: nothing is sampled).
    pub fn start(pids: Vec<u32>) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        if pids.is_empty() {
            return Self { stop, task: None };
        }
        let stopped = stop.clone();
        // The first sample is taken before the caller's first request.
        let first: Option<f64> = pids.iter().map(|&pid| rss_mib(pid)).sum();
        let task = tokio::spawn(async move {
            let mut peak = first;
            loop {
                let sample: Option<f64> = pids.iter().map(|&pid| rss_mib(pid)).sum();
                peak = match (peak, sample) {
                    (Some(a), Some(b)) => Some(a.max(b)),
                    (a, b) => a.or(b),
                };
                if stopped.load(Ordering::Relaxed) {
                    return first.zip(peak);
                }
                tokio::time::sleep(Duration::from_millis(SAMPLE_INTERVAL_MS)).await;
            }
        });
        Self { stop, task: Some(task) }
    }

    /// Stops sampling (after one last sample); the RSS when sampling started and the
    /// peak, in MiB, if they could be read.
    pub async fn stop(mut self) -> Option<(f64, f64)> {
        self.stop.store(true, Ordering::Relaxed);
        self.task.take()?.await.ok().flatten()
    }
}

impl Drop for RssSampler {
    fn drop(&mut self) {
        // A listing that failed drops the sampler without stopping it.
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Current resident memory of `pid` (VmRSS), in MiB; None when it cannot be read.
fn rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib: f64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib / 1024.0)
}
