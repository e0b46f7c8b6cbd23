//! Changing an object's metadata in place (PutObjectTagging, DeleteObjectTagging):
//! the current version keeps its data, ETag and Last-Modified, and gets new headers and
//! a newer metadata stamp (`ObjectVersion::meta_updated_unix_nanos`).
//!
//! It is a commit like a PUT's, under the key's write lock and fenced by it, that
//! places no data directory: each drive holding the version installs its own copy of
//! the metadata (its shard index and inline frame) with the new headers, and the
//! commit succeeds on a write quorum, is undone below one, and is resolved after a
//! crash as any other (a rollback removes no data: the commit placed none). A drive
//! that missed the change holds the version with an older stamp: reads take the
//! newest stamp among the drives that hold the version, and healing rewrites the
//! metadata of the others.

use super::write::{Settle, metadata_commit};
use super::{ErasureSet, data_dirs, detached, now_unix_nanos, object_info, refuse_marker};
use crate::Result;
use crate::quorum::{pick_version_at, same_version};
use crate::types::{HeaderChange, ObjectInfo, VersionRef};
use cairn_drive::DriveError;
use cairn_meta::ObjectMeta;
use futures::future::join_all;
use std::sync::Arc;
use uuid::Uuid;

impl ErasureSet {
    /// Applies `change` to the headers of the version `at` names on every drive that
    /// holds it; returns the version as changed. A delete marker has no headers to change.
    pub(crate) async fn update_headers(
        self: &Arc<Self>,
        bucket: &str,
        key: &str,
        at: VersionRef,
        change: HeaderChange,
    ) -> Result<ObjectInfo> {
        cairn_drive::validate_key(key)?;
        let set = Arc::clone(self);
        let (bucket, key) = (bucket.to_owned(), key.to_owned());
        detached(async move { set.update_locked(&bucket, &key, at, change).await }).await
    }

    async fn update_locked(&self, bucket: &str, key: &str, at: VersionRef, change: HeaderChange) -> Result<ObjectInfo> {
        let guard = self.lock_write(bucket, key).await?;
        let metas = self.read_metas(bucket, key).await;
        let (mut version, holders) = pick_version_at(&metas, &self.layout, at)?;
        refuse_marker(&object_info(bucket, key, &version), at)?;
        change(&mut version.headers)?;
        // Strictly newer than every stamp a drive may hold, even with a clock set back.
        version.meta_updated_unix_nanos = now_unix_nanos().max(version.meta_updated_unix_nanos + 1);
        let commit_id = Uuid::new_v4();
        // Each holder's own copy, so that its shard index and inline frame stay its own.
        let changed: Vec<Option<ObjectMeta>> = metas
            .iter()
            .zip(&holders)
            .map(|(meta, holds)| {
                let mut meta = meta.as_ref().ok().filter(|_| *holds)?.clone();
                for copy in meta.versions.iter_mut().filter(|v| same_version(v, &version)) {
                    copy.headers.clone_from(&version.headers);
                    copy.meta_updated_unix_nanos = version.meta_updated_unix_nanos;
                }
                Some(meta)
            })
            .collect();
        // The change keeps every version, so every data directory stays.
        let keep: Vec<Vec<Uuid>> =
            changed.iter().map(|meta| meta.as_ref().map(data_dirs).unwrap_or_default()).collect();
        let commits = self.drives.iter().zip(&changed).map(|(drive, meta)| {
            let guard = &guard;
            async move {
                match meta {
                    Some(meta) => {
                        guard.fenced(drive.as_ref(), drive.commit(metadata_commit(bucket, key, meta, commit_id))).await
                    }
                    // It lacks the version: healing gives it the version, with these headers.
                    None => Err(DriveError::DriveNotFound),
                }
            }
        });
        let results = join_all(commits).await;
        let committed: Vec<bool> = results.iter().map(|r| r.is_ok()).collect();
        let settle = Settle { placed: None, keep };
        self.settle_commit(&guard, (bucket, key), commit_id, &results, &committed, settle).await?;
        Ok(object_info(bucket, key, &version))
    }
}
