//! Shard files on a local drive: a streaming writer into staging and a positional reader.

use super::io::blocking;
use crate::{DriveError, Result, ShardReader, ShardWriter};
use bytes::Bytes;
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::Arc;

/// Writes one shard file; the file is removed if the writer is dropped unfinished.
pub(crate) struct LocalShardWriter {
    /// The open file; None only while a write is in flight on the blocking pool.
    file: Option<File>,
    /// Where the file is, to clean it up when abandoned.
    path: PathBuf,
    /// Set once `finish` succeeded: the file is then the caller's to commit or delete.
    finished: bool,
}

impl LocalShardWriter {
    pub(crate) fn new(file: File, path: PathBuf) -> Self {
        Self { file: Some(file), path, finished: false }
    }
}

#[async_trait::async_trait]
impl ShardWriter for LocalShardWriter {
    async fn write(&mut self, data: Bytes) -> Result<()> {
        let mut file = self.file.take().expect("a failed write is never retried");
        let file = blocking(move || {
            file.write_all(&data).map_err(|e| DriveError::io("write shard", e))?;
            Ok(file)
        })
        .await?;
        self.file = Some(file);
        Ok(())
    }

    async fn finish(mut self: Box<Self>) -> Result<()> {
        let file = self.file.take().expect("finish is called once, after successful writes");
        blocking(move || file.sync_data().map_err(|e| DriveError::io("fsync shard", e))).await?;
        self.finished = true;
        Ok(())
    }
}

impl Drop for LocalShardWriter {
    fn drop(&mut self) {
        if !self.finished {
            // An abandoned upload must not leave staging data behind.
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Reads ranges of one shard file through a shared handle.
pub(crate) struct LocalShardReader {
    file: Arc<File>,
}

impl LocalShardReader {
    pub(crate) fn new(file: File) -> Self {
        Self { file: Arc::new(file) }
    }
}

#[async_trait::async_trait]
impl ShardReader for LocalShardReader {
    async fn read_at(&self, offset: u64, len: usize) -> Result<Bytes> {
        let file = Arc::clone(&self.file);
        blocking(move || {
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
