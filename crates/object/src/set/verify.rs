//! Verifying an object's shards without healing it (the scanner's deep mode): every
//! frame of the current version is read from every drive that holds it and checked
//! against its hash, at a bounded rate. Only the opening of each part's files happens
//! under the key's read lock: open files outlive an overwrite of the version, so a slow
//! verification never holds up writers. Whatever fails is healed afterwards, deeply,
//! under the write lock (which checks everything again).

use super::ErasureSet;
use super::heal::read_frames;
use crate::Result;
use crate::quorum::{copy_of, pick_version};
use cairn_drive::ShardReader;
use futures::future::join_all;
use std::time::Duration;
use tokio::time::Instant;

/// Keeps a deep scan to a number of bytes read per second.
#[derive(Debug)]
pub(crate) struct Throttle {
    started: Instant,
    bytes: u64,
}

impl Throttle {
    pub(crate) fn new() -> Self {
        Self { started: Instant::now(), bytes: 0 }
    }

    /// Counts `bytes` read and sleeps off any time ahead of `bytes_per_sec`.
    pub(crate) async fn spend(&mut self, bytes: u64, bytes_per_sec: u64) {
        self.bytes += bytes;
        let due = Duration::from_secs_f64(self.bytes as f64 / bytes_per_sec.max(1) as f64);
        if let Some(ahead) = due.checked_sub(self.started.elapsed()) {
            tokio::time::sleep(ahead).await;
        }
    }
}

/// What verifying one object found.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Verified {
    /// Bytes read from the drives (every shard, so about size x (k + m) / k).
    pub(crate) bytes: u64,
    /// A frame failed its hash or length, or a holder's file could not be read.
    pub(crate) damaged: bool,
}

impl ErasureSet {
    /// Reads and checks every frame of `key`'s current version on every drive that holds
    /// it; `rate` gives the bytes per second allowed at each moment.
    pub(crate) async fn verify_object(
        &self,
        bucket: &str,
        key: &str,
        throttle: &mut Throttle,
        rate: impl Fn() -> u64,
    ) -> Result<Verified> {
        let guard = self.lock_read(bucket, key).await?;
        let metas = self.read_metas(bucket, key).await;
        let (version, holders) = pick_version(&metas, &self.layout)?;
        let distribution = &version.erasure.distribution;
        if distribution.len() != self.drives.len() {
            return Err(crate::ObjectError::Internal("stored shard distribution does not match the set".into()));
        }
        let mut found = Verified::default();
        let Some(data_dir) = version.data_dir else {
            drop(guard);
            // Inline: each holder's frame is in its own metadata.
            for (d, meta) in metas.iter().enumerate().filter(|(d, _)| holders[*d]) {
                let frame = copy_of(meta, &version).and_then(|v| v.inline_data.clone());
                let index = distribution[d] as usize;
                found.bytes += frame.as_ref().map_or(0, |f| f.len() as u64);
                found.damaged |= version.stored_size() > 0
                    && frame
                        .is_none_or(|f| self.erasure.verify_shard(index, &f, version.stored_size() as usize).is_err());
            }
            throttle.spend(found.bytes, rate()).await;
            return Ok(found);
        };
        drop(guard);
        let block_size = self.erasure.block_size() as u64;
        for part in &version.parts {
            let opened = {
                let _guard = self.lock_read(bucket, key).await?;
                let holders = &holders;
                join_all(self.drives.iter().enumerate().map(|(d, drive)| async move {
                    if holders[d] { Some(drive.open_shard(bucket, key, data_dir, part.number).await) } else { None }
                }))
                .await
            };
            let mut readers: Vec<Option<Box<dyn ShardReader>>> = Vec::with_capacity(opened.len());
            for result in opened {
                match result {
                    Some(Ok(reader)) => readers.push(Some(reader)),
                    Some(Err(_)) => {
                        found.damaged = true;
                        readers.push(None);
                    }
                    None => readers.push(None),
                }
            }
            for block in 0..part.stored_size().div_ceil(block_size) {
                let block_len = (part.stored_size() - block * block_size).min(block_size) as usize;
                let open: Vec<bool> = readers.iter().map(Option::is_some).collect();
                let frames = read_frames(&mut readers, &self.erasure, block, block_len).await;
                for (d, frame) in frames.iter().enumerate().filter(|(d, _)| open[*d]) {
                    let index = distribution[d] as usize;
                    found.bytes += frame.as_ref().map_or(0, |f| f.len() as u64);
                    if frame.as_ref().is_none_or(|f| self.erasure.verify_shard(index, f, block_len).is_err()) {
                        found.damaged = true;
                        readers[d] = None;
                    }
                }
                throttle.spend(frames.iter().flatten().map(|f| f.len() as u64).sum(), rate()).await;
            }
        }
        Ok(found)
    }
}
