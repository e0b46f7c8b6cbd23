//! Every filesystem call of a local drive passes through its gate: it runs on tokio's
//! blocking pool (never on an async worker), at most [`DRIVE_CALLS_IN_FLIGHT_MAX`] at a
//! time, and within a deadline. A call that misses its deadline marks the drive offline,
//! as a peer that stops answering marks its drives offline: from then on calls fail at
//! once with `Offline`, so a hung disk (a dead controller, a frozen filesystem) costs
//! one deadline and a bounded number of stuck threads, not every request of the node.
//! A probe each second (a stat of the root and a small synced write in staging) brings
//! the drive back once it answers again.

use crate::{DriveError, Result};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::time::Instant;

/// Calls of one drive running at once; further calls wait for a slot (within their
/// deadline). Bounds the blocking threads a hung drive can hold.
pub(crate) const DRIVE_CALLS_IN_FLIGHT_MAX: usize = 64;
/// Default deadline of one drive call (MinIO's drive timeout is also 30 s).
pub const DRIVE_CALL_TIMEOUT_DEFAULT: Duration = Duration::from_secs(30);
/// Slowest write-back rate a healthy drive is expected to sustain: an fsync of `n`
/// unsynced bytes gets `n / rate` on top of the call deadline, so a large flush on a slow
/// disk is not taken for a hang.
pub(crate) const DRIVE_FLUSH_BYTES_PER_SEC_MIN: u64 = 8 << 20;
/// Time between probes of a drive marked offline.
const PROBE_INTERVAL_MS: u64 = 1_000;
/// Name of the probe file in the staging folder.
const PROBE_FILE: &str = ".cairn.sys/tmp/probe";

/// The gate of one drive.
#[derive(Debug)]
pub(crate) struct Gate {
    /// The drive root (probes stat it and write below it).
    root: PathBuf,
    /// The drive as given, for logs and errors.
    endpoint: String,
    /// False from a missed deadline until a probe answers.
    online: AtomicBool,
    /// Slots for calls in flight; a call holds one until its thread returns, even after
    /// its caller gave up on it.
    slots: Arc<Semaphore>,
    /// Deadline of one call.
    timeout: Duration,
}

impl Gate {
    pub(crate) fn new(root: PathBuf, endpoint: String, timeout: Duration) -> Arc<Self> {
        assert!(!timeout.is_zero(), "a drive call deadline is positive");
        Arc::new(Self {
            root,
            endpoint,
            online: AtomicBool::new(true),
            slots: Arc::new(Semaphore::new(DRIVE_CALLS_IN_FLIGHT_MAX)),
            timeout,
        })
    }

    fn offline_error(&self) -> DriveError {
        DriveError::Offline(format!("{}: not answering", self.endpoint))
    }

    /// Fails at once while the drive is marked offline.
    pub(crate) fn check_online(&self) -> Result<()> {
        if self.online.load(Ordering::Acquire) { Ok(()) } else { Err(self.offline_error()) }
    }

    /// The deadline of one call.
    pub(crate) fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Runs `work` on the blocking pool within the drive's deadline.
    pub(crate) async fn run<T, F>(self: &Arc<Self>, op: &'static str, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce() -> Result<T> + Send + 'static,
    {
        self.run_within(op, self.timeout, work).await
    }

    /// Runs `work` on the blocking pool within `deadline` (a call that moves more data
    /// than usual gets more time).
    pub(crate) async fn run_within<T, F>(self: &Arc<Self>, op: &'static str, deadline: Duration, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce() -> Result<T> + Send + 'static,
    {
        self.check_online()?;
        let until = Instant::now() + deadline;
        let slot = match tokio::time::timeout_at(until, Arc::clone(&self.slots).acquire_owned()).await {
            Ok(Ok(slot)) => slot,
            Ok(Err(_)) => unreachable!("a drive's semaphore is never closed"),
            Err(_) => return Err(self.missed(op)),
        };
        let task = tokio::task::spawn_blocking(move || {
            let _slot = slot;
            work()
        });
        match tokio::time::timeout_at(until, task).await {
            Ok(Ok(result)) => result,
            Ok(Err(join_error)) => {
                Err(DriveError::Io { op: "blocking task", source: std::io::Error::other(join_error) })
            }
            Err(_) => Err(self.missed(op)),
        }
    }

    /// Awaits `work`, which does its blocking part on a thread of its own (the index's
    /// group commit), within the drive's deadline.
    pub(crate) async fn run_async<T>(
        self: &Arc<Self>,
        op: &'static str,
        work: impl Future<Output = Result<T>>,
    ) -> Result<T> {
        self.check_online()?;
        match tokio::time::timeout(self.timeout, work).await {
            Ok(result) => result,
            Err(_) => Err(self.missed(op)),
        }
    }

    /// A call missed its deadline: the drive is offline until a probe answers.
    pub(crate) fn missed(self: &Arc<Self>, op: &'static str) -> DriveError {
        if self.online.swap(false, Ordering::AcqRel) {
            tracing::error!(
                drive = self.endpoint,
                op,
                timeout_ms = self.timeout.as_millis() as u64,
                "drive did not answer in time; offline until it answers again"
            );
            tokio::spawn(probe(Arc::clone(self)));
        }
        self.offline_error()
    }
}

/// Probes an offline drive each second until it answers, then marks it online. One
/// probe at a time: a probe that hangs is waited for, never stacked.
async fn probe(gate: Arc<Gate>) {
    loop {
        tokio::time::sleep(Duration::from_millis(PROBE_INTERVAL_MS)).await;
        let root = gate.root.clone();
        let answered = tokio::task::spawn_blocking(move || probe_blocking(&root)).await;
        match answered {
            Ok(Ok(())) => {
                gate.online.store(true, Ordering::Release);
                tracing::info!(drive = gate.endpoint, "drive answers again; back online");
                return;
            }
            Ok(Err(error)) => tracing::debug!(drive = gate.endpoint, %error, "drive still not answering"),
            Err(error) => tracing::debug!(drive = gate.endpoint, %error, "drive probe failed"),
        }
    }
}

/// A stat of the root and, when the drive has its staging folder, a small write synced
/// to disk: a frozen or read-only-remounted filesystem answers stats but not writes.
fn probe_blocking(root: &std::path::Path) -> std::io::Result<()> {
    std::fs::metadata(root)?;
    let probe = root.join(PROBE_FILE);
    if !probe.parent().is_some_and(std::path::Path::is_dir) {
        // A wiped drive answers; its calls then report it unformatted.
        return Ok(());
    }
    let mut file = std::fs::File::create(&probe)?;
    file.write_all(b"probe")?;
    file.sync_data()?;
    std::fs::remove_file(&probe)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_call_that_misses_its_deadline_takes_the_drive_offline_until_a_probe_answers() {
        let root = tempfile::tempdir().expect("temp dir");
        let gate = Gate::new(root.path().to_path_buf(), "test".into(), Duration::from_millis(100));
        let (release, hold) = std::sync::mpsc::channel::<()>();
        // A call stuck in the kernel: it returns only when released.
        let stuck = gate.run("stuck", move || {
            let _ = hold.recv();
            Ok(())
        });
        assert!(matches!(stuck.await, Err(DriveError::Offline(_))));
        assert!(matches!(gate.run("next", || Ok(())).await, Err(DriveError::Offline(_))), "fails fast");
        release.send(()).expect("release");
        for _ in 0..50 {
            if gate.check_online().is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(gate.run("after", || Ok(7)).await.is_ok_and(|v| v == 7), "the probe brought it back");
    }
}
