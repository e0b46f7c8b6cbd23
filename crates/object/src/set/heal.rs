//! Healing one object: find the drives whose copy of the current version is missing,
//! stale, or corrupt, rebuild their shards from the healthy ones, and commit the rebuilt
//! copy on those drives only. Reads queue objects they had to repair on the fly; a
//! background task heals them.
//!
//! A deep heal verifies every frame of every drive; a normal one trusts the metadata and
//! reads only each part's last frame (the file is there and long enough). Either way,
//! every frame a rebuild reads is verified, so a corrupt source never spreads.

use super::write::Settle;
use super::{ErasureSet, detached};
use crate::lock::LockGuard;
use crate::quorum::{pick_version, stale_meta};
use crate::{ObjectError, Result};
use bytes::Bytes;
use cairn_drive::{CommitRequest, DriveError, PartSource, ShardReader, ShardWriter};
use cairn_meta::{ObjectMeta, ObjectVersion};
use futures::future::join_all;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use uuid::Uuid;

/// Objects a read may queue for healing before further requests are dropped (the
/// next degraded read of a dropped object queues it again).
pub(crate) const HEAL_QUEUE_MAX: usize = 1024;

/// One object to heal.
pub(crate) type HealRequest = (String, String);

impl ErasureSet {
    /// Heals `key` deeply (every frame verified) under its write lock; returns how many
    /// drives were rewritten.
    pub(crate) async fn heal_object(self: &Arc<Self>, bucket: &str, key: &str) -> Result<usize> {
        self.heal_object_mode(bucket, key, true).await
    }

    /// Heals `key` under its write lock, verifying every frame when `deep`.
    pub(crate) async fn heal_object_mode(self: &Arc<Self>, bucket: &str, key: &str, deep: bool) -> Result<usize> {
        let set = Arc::clone(self);
        let (bucket, key) = (bucket.to_owned(), key.to_owned());
        detached(async move { set.heal_locked(&bucket, &key, deep).await }).await
    }

    /// Asks the background healer to heal `key` (dropped when the queue is full).
    pub(crate) fn queue_heal(&self, bucket: &str, key: &str) {
        if self.heal_queue.try_send((bucket.to_owned(), key.to_owned())).is_err() {
            tracing::debug!(bucket, key, "heal queue full; the next degraded read queues it again");
        }
    }

    async fn heal_locked(&self, bucket: &str, key: &str, deep: bool) -> Result<usize> {
        let guard = self.lock_write(bucket, key).await?;
        let metas = self.read_metas(bucket, key).await;
        let (version, holders) = pick_version(&metas, &self.layout)?;
        let distribution = version.erasure.distribution.clone();
        if distribution.len() != self.drives.len() {
            return Err(ObjectError::Internal("stored shard distribution does not match the set".into()));
        }
        let mut bad: Vec<bool> = holders.iter().map(|holds| !holds).collect();
        let refreshed = self.refresh_meta(&guard, (bucket, key), &version, &metas).await;
        let rebuilt = match version.data_dir {
            None => self.heal_inline(&guard, (bucket, key), &version, &distribution, &metas, &mut bad).await?,
            Some(data_dir) => {
                let scope = PartsHeal {
                    guard: &guard,
                    bucket,
                    key,
                    version: &version,
                    data_dir,
                    distribution: &distribution,
                    deep,
                };
                self.heal_parts(&scope, &mut bad).await?
            }
        };
        let healed = refreshed + rebuilt;
        if healed > 0 {
            self.stats.objects_healed.fetch_add(1, Ordering::Relaxed);
            tracing::info!(bucket, key, drives = healed, "healed object");
        }
        Ok(healed)
    }

    /// Rewrites the metadata of the drives that hold `version`'s data but missed a
    /// change of its metadata (tags): their data stays, their copy gets the headers and
    /// stamp of `version`. Returns how many were rewritten.
    async fn refresh_meta(
        &self,
        guard: &LockGuard,
        (bucket, key): (&str, &str),
        version: &ObjectVersion,
        metas: &[std::result::Result<ObjectMeta, DriveError>],
    ) -> usize {
        let stale = stale_meta(metas, version);
        let requests =
            metas.iter().zip(stale).enumerate().filter(|(_, (_, stale))| *stale).filter_map(|(d, (meta, _))| {
                let mut meta = meta.as_ref().ok()?.clone();
                let latest = &mut meta.versions[0];
                latest.headers = version.headers.clone();
                latest.meta_updated_unix_nanos = version.meta_updated_unix_nanos;
                Some((d, Vec::new(), meta))
            });
        let settle = Settle { placed: None, keep: version.data_dir };
        self.commit_healed(guard, (bucket, key), settle, requests.collect()).await
    }

    async fn heal_inline(
        &self,
        guard: &LockGuard,
        (bucket, key): (&str, &str),
        version: &ObjectVersion,
        distribution: &[u8],
        metas: &[std::result::Result<ObjectMeta, DriveError>],
        bad: &mut [bool],
    ) -> Result<usize> {
        let shards = self.erasure.total_shards();
        let mut frames: Vec<Option<Bytes>> = vec![None; shards];
        for (d, meta) in metas.iter().enumerate() {
            if bad[d] {
                continue;
            }
            let frame = meta.as_ref().ok().and_then(ObjectMeta::latest).and_then(|v| v.inline_data.clone());
            let index = distribution[d] as usize;
            let valid = frame.as_ref().is_some_and(|f| {
                version.size == 0 || self.erasure.verify_shard(index, f, version.size as usize).is_ok()
            });
            if valid {
                frames[index] = frame;
            } else {
                bad[d] = true;
            }
        }
        if !bad.iter().any(|b| *b) {
            return Ok(0);
        }
        let rebuilt = if version.size == 0 {
            vec![Bytes::new(); shards]
        } else {
            self.erasure
                .reconstruct_all(&frames, version.size as usize)
                .map_err(|e| ObjectError::Unrecoverable(format!("heal: {e}")))?
        };
        let requests = (0..self.drives.len()).filter(|d| bad[*d]).map(|d| {
            let mut meta = version.clone();
            meta.erasure = self.erasure_info(distribution, d);
            meta.inline_data = Some(rebuilt[distribution[d] as usize].clone());
            (d, Vec::new(), ObjectMeta::single(meta))
        });
        let settle = Settle { placed: None, keep: None };
        Ok(self.commit_healed(guard, (bucket, key), settle, requests.collect()).await)
    }

    async fn heal_parts(&self, scope: &PartsHeal<'_>, bad: &mut [bool]) -> Result<usize> {
        let PartsHeal { guard, bucket, key, version, data_dir, distribution, deep } = *scope;
        let erasure = self.erasure;
        let block_size = erasure.block_size() as u64;
        // Pass 1: verify every frame (deep), or each part's last one, of every drive that
        // claims the version.
        for part in &version.parts {
            let mut readers = self.open_part(bucket, key, data_dir, part.number, bad).await;
            let blocks = part.size.div_ceil(block_size);
            let first = if deep { 0 } else { blocks.saturating_sub(1) };
            for block in first..blocks {
                let block_len = (part.size - block * block_size).min(block_size) as usize;
                let frames = read_frames(&mut readers, &erasure, block, block_len).await;
                for (d, frame) in frames.iter().enumerate() {
                    if bad[d] {
                        continue;
                    }
                    let index = distribution[d] as usize;
                    if frame.as_ref().is_none_or(|f| erasure.verify_shard(index, f, block_len).is_err()) {
                        bad[d] = true;
                        readers[d] = None;
                    }
                }
            }
        }
        let targets: Vec<usize> = (0..self.drives.len()).filter(|d| bad[*d]).collect();
        if targets.is_empty() {
            return Ok(0);
        }
        // Pass 2: rebuild the bad drives' shards from the good ones, part by part, into staging.
        let heal_id = Uuid::new_v4();
        let staged = |number: u32| format!("tmp/heal-{heal_id}-part-{number}");
        let mut written: Vec<bool> = bad.to_vec();
        for part in &version.parts {
            let mut readers = self.open_part(bucket, key, data_dir, part.number, bad).await;
            let mut writers: Vec<Option<Box<dyn ShardWriter>>> = Vec::with_capacity(self.drives.len());
            for (d, drive) in self.drives.iter().enumerate() {
                writers.push(if written[d] { drive.create_sys_file(&staged(part.number)).await.ok() } else { None });
            }
            for block in 0..part.size.div_ceil(block_size) {
                let block_len = (part.size - block * block_size).min(block_size) as usize;
                let read = read_frames(&mut readers, &erasure, block, block_len).await;
                let mut frames: Vec<Option<Bytes>> = vec![None; erasure.total_shards()];
                for (d, frame) in read.into_iter().enumerate() {
                    let index = distribution[d] as usize;
                    if !bad[d] {
                        // A source that fails its hash is left out of this block's rebuild.
                        frames[index] = frame.filter(|f| erasure.verify_shard(index, f, block_len).is_ok());
                    }
                }
                let rebuilt = erasure
                    .reconstruct_all(&frames, block_len)
                    .map_err(|e| ObjectError::Unrecoverable(format!("heal part {}: {e}", part.number)))?;
                for (d, slot) in writers.iter_mut().enumerate() {
                    if let Some(writer) = slot
                        && writer.write(rebuilt[distribution[d] as usize].clone()).await.is_err()
                    {
                        *slot = None;
                    }
                }
            }
            for (d, slot) in writers.into_iter().enumerate() {
                let finished = match slot {
                    Some(writer) => writer.finish().await.is_ok(),
                    None => false,
                };
                written[d] &= finished;
            }
        }
        let requests = targets
            .iter()
            .filter(|d| written[**d])
            .map(|&d| {
                let mut meta = version.clone();
                meta.erasure = self.erasure_info(distribution, d);
                let parts = version
                    .parts
                    .iter()
                    .map(|p| PartSource { sys_path: staged(p.number), part_number: p.number })
                    .collect();
                (d, parts, ObjectMeta::single(meta))
            })
            .collect();
        let settle = Settle { placed: Some(data_dir), keep: Some(data_dir) };
        let healed = self.commit_healed(guard, (bucket, key), settle, requests).await;
        for part in &version.parts {
            self.discard_staged(&staged(part.number)).await;
        }
        Ok(healed)
    }

    /// Opens part `number` on every drive not marked bad.
    async fn open_part(
        &self,
        bucket: &str,
        key: &str,
        data_dir: Uuid,
        number: u32,
        bad: &[bool],
    ) -> Vec<Option<Box<dyn ShardReader>>> {
        join_all(self.drives.iter().enumerate().map(|(d, drive)| async move {
            if bad[d] { None } else { drive.open_shard(bucket, key, data_dir, number).await.ok() }
        }))
        .await
    }

    /// Commits rebuilt copies on the drives given; returns how many succeeded. The commits
    /// are fenced by the heal's write lock: a heal that stalled past its lease (and may
    /// have read a version another writer has replaced since) must not install it, nor
    /// drop that writer's data directory when it finishes.
    async fn commit_healed(
        &self,
        guard: &LockGuard,
        (bucket, key): (&str, &str),
        settle: Settle,
        requests: Vec<(usize, Vec<PartSource>, ObjectMeta)>,
    ) -> usize {
        let results = join_all(requests.into_iter().map(|(d, parts, meta)| async move {
            let drive = &self.drives[d];
            let commit_id = Uuid::new_v4();
            let request = CommitRequest {
                volume: bucket.to_owned(),
                key: key.to_owned(),
                data_dir: settle.placed,
                parts,
                meta: Bytes::from(meta.encode()),
                commit_id,
            };
            match guard.fenced(drive.as_ref(), drive.commit(request.clone())).await {
                // A replaced drive lacks the bucket that a quorum of the others has: restore it.
                Err(DriveError::VolumeNotFound) => {
                    match drive.make_volume(bucket).await {
                        Ok(()) | Err(DriveError::VolumeExists) => {}
                        Err(error) => return Err(error),
                    }
                    guard.fenced(drive.as_ref(), drive.commit(request)).await?;
                }
                other => other?,
            }
            guard.fenced(drive.as_ref(), drive.finish_commit(bucket, key, commit_id, settle.keep)).await
        }))
        .await;
        for error in results.iter().filter_map(|r| r.as_ref().err()) {
            self.stats.heal_failures.fetch_add(1, Ordering::Relaxed);
            // An offline drive fails every heal until it returns: not worth a warning per object.
            if error.is_drive_down() {
                tracing::debug!(bucket, key, %error, "could not heal a drive");
            } else {
                tracing::warn!(bucket, key, %error, "could not heal a drive");
            }
        }
        results.iter().filter(|r| r.is_ok()).count()
    }
}

/// One object version whose part files a heal checks and rebuilds.
#[derive(Clone, Copy)]
struct PartsHeal<'a> {
    /// The heal's write lock, which fences its commits.
    guard: &'a LockGuard,
    bucket: &'a str,
    key: &'a str,
    version: &'a ObjectVersion,
    data_dir: Uuid,
    /// Shard index per drive.
    distribution: &'a [u8],
    /// Verify every frame, not only each part's last.
    deep: bool,
}

/// Reads block `block` from every open reader; a failed read closes that reader.
pub(super) async fn read_frames(
    readers: &mut [Option<Box<dyn ShardReader>>],
    erasure: &cairn_erasure::Erasure,
    block: u64,
    block_len: usize,
) -> Vec<Option<Bytes>> {
    let offset = erasure.frame_offset(block);
    let len = erasure.frame_len(block_len);
    let frames = join_all(readers.iter().map(|reader| async move {
        match reader {
            Some(reader) => reader.read_at(offset, len).await.ok(),
            None => None,
        }
    }))
    .await;
    for (reader, frame) in readers.iter_mut().zip(&frames) {
        if frame.is_none() {
            *reader = None;
        }
    }
    frames
}
