//! Shard files on a local drive: a streaming writer into staging and a positional
//! reader. Their calls go through the drive's gate, as every other call does.

use super::gate::{DRIVE_FLUSH_BYTES_PER_SEC_MIN, Gate};
use crate::{DriveError, Result, ShardReader, ShardWriter};
use bytes::Bytes;
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Writes one shard file; the file is removed if the writer is dropped unfinished.
pub(crate) struct LocalShardWriter {
    /// The open file; None only while a write is in flight on the blocking pool.
    file: Option<File>,
    /// Where the file is, to clean it up when abandoned.
    path: PathBuf,
    /// Set once `finish` succeeded: the file is then the caller's to commit or delete.
    finished: bool,
    /// Bytes written since the file was created, none of them synced yet.
    unsynced_bytes: u64,
    /// The drive's gate.
    gate: Arc<Gate>,
}

impl LocalShardWriter {
    pub(crate) fn new(file: File, path: PathBuf, gate: Arc<Gate>) -> Self {
        Self { file: Some(file), path, finished: false, unsynced_bytes: 0, gate }
    }
}

#[async_trait::async_trait]
impl ShardWriter for LocalShardWriter {
    async fn write(&mut self, data: Bytes) -> Result<()> {
        let mut file = self.file.take().expect("a failed write is never retried");
        let len = data.len() as u64;
        let file = self
            .gate
            .run("write shard", move || {
                file.write_all(&data).map_err(|e| DriveError::io("write shard", e))?;
                Ok(file)
            })
            .await?;
        self.file = Some(file);
        self.unsynced_bytes += len;
        Ok(())
    }

    async fn finish(mut self: Box<Self>) -> Result<()> {
        let file = self.file.take().expect("finish is called once, after successful writes");
        // Flushing a large file takes time on a slow disk; that is not a hang.
        let flush = Duration::from_secs(self.unsynced_bytes / DRIVE_FLUSH_BYTES_PER_SEC_MIN);
        let deadline = self.gate.timeout() + flush;
        self.gate
            .run_within("fsync shard", deadline, move || file.sync_data().map_err(|e| DriveError::io("fsync shard", e)))
            .await?;
        self.finished = true;
        Ok(())
    }
}

impl Drop for LocalShardWriter {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        // An abandoned upload must not leave staging data behind. The removal runs
        // through the gate (a hung disk must not block the task dropping the writer).
        let path = std::mem::take(&mut self.path);
        let remove = move || match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(DriveError::io("remove abandoned shard", e)),
            _ => Ok(()),
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                let gate = Arc::clone(&self.gate);
                runtime.spawn(async move {
                    if let Err(error) = gate.run("remove abandoned shard", remove).await {
                        tracing::debug!(%error, "cannot remove an abandoned shard file; staging is cleared at start-up");
                    }
                });
            }
            Err(_) => {
                let _ = remove();
            }
        }
    }
}

/// Reads ranges of one shard file through a shared handle.
pub(crate) struct LocalShardReader {
    file: Arc<File>,
    /// The drive's gate.
    gate: Arc<Gate>,
}

impl LocalShardReader {
    pub(crate) fn new(file: File, gate: Arc<Gate>) -> Self {
        Self { file: Arc::new(file), gate }
    }
}

#[async_trait::async_trait]
impl ShardReader for LocalShardReader {
    async fn read_at(&self, offset: u64, len: usize) -> Result<Bytes> {
        let file = Arc::clone(&self.file);
        self.gate
            .run("read shard", move || {
                let mut buffer = vec![0u8; len];
                match file.read_exact_at(&mut buffer, offset) {
                    Ok(()) => Ok(Bytes::from(buffer)),
                    Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                        Err(DriveError::Corrupt(format!("shard shorter than {} bytes", offset + len as u64)))
                    }
                    Err(e) => Err(DriveError::io("read shard", e)),
                }
            })
            .await
    }
}
