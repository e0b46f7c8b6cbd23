//! Healing one object: every version a read quorum of drives holds (all of them in a
//! versioned bucket) is checked on every drive; drives whose copy is missing or corrupt
//! get it rebuilt from the healthy ones and joined to their list of versions; then each
//! drive whose list still differs from the agreed one (older metadata, a delete marker
//! it missed, a version removed while it was down) gets the agreed list, metadata only.
//! Reads queue objects they had to repair on the fly; a background task heals them.
//!
//! A deep heal verifies every frame of every drive; a normal one trusts the metadata and
//! reads only each part's last frame (the file is there and long enough). Either way,
//! every frame a rebuild reads is verified, so a corrupt source never spreads.

use super::{ErasureSet, data_dirs, detached};
use crate::lock::LockGuard;
use crate::quorum::{agreed_versions, copy_of, pick_version, same_version};
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
        let mut metas = self.read_metas(bucket, key).await;
        let agreed = agreed_versions(&metas, &self.layout);
        if agreed.is_empty() {
            // No version has a read quorum: the reason, as a read would give it.
            pick_version(&metas, &self.layout)?;
            return Err(ObjectError::ReadQuorum);
        }
        let mut rewritten = vec![false; self.drives.len()];
        // Rebuild every version some drive lacks (or holds damaged), oldest first; each
        // rebuilt copy joins the drive's list, which `metas` keeps up to date.
        for (version, holders) in agreed.iter().rev().filter(|(version, _)| !version.delete_marker) {
            let distribution = version.erasure.distribution.clone();
            if distribution.len() != self.drives.len() {
                return Err(ObjectError::Internal("stored shard distribution does not match the set".into()));
            }
            let mut bad: Vec<bool> = holders.iter().map(|holds| !holds).collect();
            let scope = VersionHeal { guard: &guard, bucket, key, version, distribution: &distribution, deep };
            let installed = match version.data_dir {
                None => self.heal_inline(&scope, &metas, &mut bad).await?,
                Some(data_dir) => self.heal_parts(&scope, data_dir, &metas, &mut bad).await?,
            };
            for (d, meta) in installed {
                rewritten[d] = true;
                metas[d] = Ok(meta);
            }
        }
        for d in self.reconcile(&guard, (bucket, key), &agreed, &metas).await {
            rewritten[d] = true;
        }
        let healed = rewritten.iter().filter(|r| **r).count();
        if healed > 0 {
            self.stats.objects_healed.fetch_add(1, Ordering::Relaxed);
            tracing::info!(bucket, key, drives = healed, "healed object");
        }
        Ok(healed)
    }

    /// Gives every drive exactly the `agreed` versions, newest first, with their newest
    /// metadata (tags), where its list differs: versions it holds with older metadata,
    /// delete markers it lacks (they have no data to rebuild), versions a quorum no longer
    /// holds (removed while the drive was down) and versions out of order. A version it
    /// lacks and could not be rebuilt stays left out. Only metadata is written; returns
    /// the drives rewritten.
    async fn reconcile(
        &self,
        guard: &LockGuard,
        (bucket, key): (&str, &str),
        agreed: &[(ObjectVersion, Vec<bool>)],
        metas: &[std::result::Result<ObjectMeta, DriveError>],
    ) -> Vec<usize> {
        let none = ObjectMeta::default();
        let requests = metas.iter().enumerate().filter_map(|(d, meta)| {
            let current = match meta {
                Ok(meta) => meta,
                Err(error) if error.is_not_found() || matches!(error, DriveError::VolumeNotFound) => &none,
                Err(_) => return None,
            };
            let versions: Vec<ObjectVersion> = agreed
                .iter()
                .filter_map(|(version, _)| {
                    let mut copy = match current.versions.iter().find(|v| same_version(v, version)) {
                        Some(own) => own.clone(),
                        None if version.delete_marker => {
                            let mut marker = version.clone();
                            marker.erasure = self.erasure_info(&version.erasure.distribution, d);
                            marker
                        }
                        None => return None,
                    };
                    copy.headers.clone_from(&version.headers);
                    copy.meta_updated_unix_nanos = version.meta_updated_unix_nanos;
                    Some(copy)
                })
                .collect();
            let target = ObjectMeta { versions };
            let differs = !target.versions.is_empty() && target.latest_identity() != current.latest_identity();
            differs.then_some((d, Vec::new(), target))
        });
        let requests: Vec<_> = requests.collect();
        if requests.is_empty() {
            return Vec::new();
        }
        self.commit_healed(guard, (bucket, key), None, requests).await.into_iter().map(|(d, _)| d).collect()
    }

    async fn heal_inline(
        &self,
        scope: &VersionHeal<'_>,
        metas: &[std::result::Result<ObjectMeta, DriveError>],
        bad: &mut [bool],
    ) -> Result<Vec<(usize, ObjectMeta)>> {
        let VersionHeal { guard, bucket, key, version, distribution, .. } = *scope;
        let shards = self.erasure.total_shards();
        let mut frames: Vec<Option<Bytes>> = vec![None; shards];
        for (d, meta) in metas.iter().enumerate() {
            if bad[d] {
                continue;
            }
            let frame = copy_of(meta, version).and_then(|v| v.inline_data.clone());
            let index = distribution[d] as usize;
            let valid = frame.as_ref().is_some_and(|f| {
                version.stored_size() == 0
                    || self.erasure.verify_shard(index, f, version.stored_size() as usize).is_ok()
            });
            if valid {
                frames[index] = frame;
            } else {
                bad[d] = true;
            }
        }
        if !bad.iter().any(|b| *b) {
            return Ok(Vec::new());
        }
        let rebuilt = if version.stored_size() == 0 {
            vec![Bytes::new(); shards]
        } else {
            self.erasure
                .reconstruct_all(&frames, version.stored_size() as usize)
                .map_err(|e| ObjectError::Unrecoverable(format!("heal: {e}")))?
        };
        let requests = (0..self.drives.len()).filter(|d| bad[*d]).map(|d| {
            let mut copy = version.clone();
            copy.erasure = self.erasure_info(distribution, d);
            copy.inline_data = Some(rebuilt[distribution[d] as usize].clone());
            (d, Vec::new(), joined(&metas[d], copy))
        });
        Ok(self.commit_healed(guard, (bucket, key), None, requests.collect()).await)
    }

    async fn heal_parts(
        &self,
        scope: &VersionHeal<'_>,
        data_dir: Uuid,
        metas: &[std::result::Result<ObjectMeta, DriveError>],
        bad: &mut [bool],
    ) -> Result<Vec<(usize, ObjectMeta)>> {
        let VersionHeal { guard, bucket, key, version, distribution, deep } = *scope;
        let erasure = self.erasure;
        let block_size = erasure.block_size() as u64;
        // Pass 1: verify every frame (deep), or each part's last one, of every drive that
        // claims the version.
        for part in &version.parts {
            let mut readers = self.open_part(bucket, key, data_dir, part.number, bad).await;
            let blocks = part.stored_size().div_ceil(block_size);
            let first = if deep { 0 } else { blocks.saturating_sub(1) };
            for block in first..blocks {
                let block_len = (part.stored_size() - block * block_size).min(block_size) as usize;
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
            return Ok(Vec::new());
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
            for block in 0..part.stored_size().div_ceil(block_size) {
                let block_len = (part.stored_size() - block * block_size).min(block_size) as usize;
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
                let mut copy = version.clone();
                copy.erasure = self.erasure_info(distribution, d);
                let parts = version
                    .parts
                    .iter()
                    .map(|p| PartSource { sys_path: staged(p.number), part_number: p.number })
                    .collect();
                (d, parts, joined(&metas[d], copy))
            })
            .collect();
        let healed = self.commit_healed(guard, (bucket, key), Some(data_dir), requests).await;
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

    /// Commits rebuilt copies (each drive's whole list of versions) on the drives given,
    /// placing the data directory `placed` (None: metadata only); returns the drives
    /// that took it, with what they now hold. The commits are fenced by the heal's write
    /// lock: a heal that stalled past its lease (and may have read a version another
    /// writer has replaced since) must not install it, nor drop that writer's data
    /// directories when it finishes.
    async fn commit_healed(
        &self,
        guard: &LockGuard,
        (bucket, key): (&str, &str),
        placed: Option<Uuid>,
        requests: Vec<(usize, Vec<PartSource>, ObjectMeta)>,
    ) -> Vec<(usize, ObjectMeta)> {
        let results = join_all(requests.into_iter().map(|(d, parts, meta)| async move {
            let drive = &self.drives[d];
            let commit_id = Uuid::new_v4();
            let request = CommitRequest {
                volume: bucket.to_owned(),
                key: key.to_owned(),
                data_dir: placed,
                parts,
                meta: Bytes::from(meta.encode()),
                commit_id,
            };
            let keep = data_dirs(&meta);
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
            guard.fenced(drive.as_ref(), drive.finish_commit(bucket, key, commit_id, keep)).await?;
            Ok((d, meta))
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
        results.into_iter().flatten().collect()
    }
}

/// A drive's list of versions with `copy` in it (in place of a copy of the same version,
/// or of the same id), ordered newest first.
fn joined(meta: &std::result::Result<ObjectMeta, DriveError>, copy: ObjectVersion) -> ObjectMeta {
    let mut versions: Vec<ObjectVersion> = match meta {
        Ok(meta) => meta
            .versions
            .iter()
            .filter(|v| !same_version(v, &copy) && v.version_id != copy.version_id)
            .cloned()
            .collect(),
        Err(_) => Vec::new(),
    };
    versions.push(copy);
    versions.sort_by_key(|v| std::cmp::Reverse(v.mod_time_unix_nanos));
    ObjectMeta { versions }
}

/// One object version a heal checks and rebuilds.
#[derive(Clone, Copy)]
struct VersionHeal<'a> {
    /// The heal's write lock, which fences its commits.
    guard: &'a LockGuard,
    bucket: &'a str,
    key: &'a str,
    version: &'a ObjectVersion,
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
