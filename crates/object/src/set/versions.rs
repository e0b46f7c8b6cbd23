//! Deleting, as S3 does it in each versioning state:
//!
//! - a DELETE of the key in a bucket never versioned removes it (every copy);
//! - in a versioned bucket it adds a delete marker (with an id when versioning is
//!   enabled; the `null` one, replacing the null version, when it is suspended);
//! - a DELETE of a version by id (`null` included) removes that version for good, in
//!   any state: each drive installs its list without it (a metadata-only commit, whose
//!   finish drops the version's data directory), or loses the key when it was the last.
//!
//! A version that object lock protects (`retention.rs`) is not removed: the DELETE is
//! `ObjectLocked` and changes nothing. Adding a delete marker is always allowed.
//!
//! All of it under the key's write lock, fenced by it, and acknowledged on a write
//! quorum of the set.

use super::write::{Commit, Settle, Stored, check_condition, metadata_commit};
use super::{ErasureSet, data_dirs, detached, now_unix_nanos};
use crate::quorum::{pick_version_at, reduce_write};
use crate::types::{Deleted, VersionRef, WriteCondition};
use crate::{ObjectError, Result};
use cairn_drive::DriveError;
use cairn_meta::{ObjectMeta, ObjectVersion, Versioning};
use futures::future::join_all;
use std::collections::BTreeMap;
use std::sync::Arc;
use uuid::Uuid;

/// What one drive does to remove a version.
enum Removal {
    /// It does not hold the version: nothing.
    Nothing,
    /// It held only that version: the key goes.
    Key,
    /// It keeps these versions.
    Keep(ObjectMeta),
    /// Its metadata could not be read.
    Fail(DriveError),
}

impl ErasureSet {
    /// Deletes `at` of `key` as S3 does in a bucket in state `versioning`.
    pub(crate) async fn delete_object(
        self: &Arc<Self>,
        bucket: &str,
        key: &str,
        at: VersionRef,
        versioning: Versioning,
        bypass_governance: bool,
    ) -> Result<Deleted> {
        cairn_drive::validate_key(key)?;
        match (at, versioning) {
            (VersionRef::Latest, Versioning::Unversioned) => {
                let set = Arc::clone(self);
                let (bucket, key) = (bucket.to_owned(), key.to_owned());
                detached(async move { set.remove_key_locked(&bucket, &key, None).await }).await?;
                Ok(Deleted::default())
            }
            (VersionRef::Latest, versioning) => self.add_delete_marker(bucket, key, versioning, None).await,
            (VersionRef::Exact(id), _) => {
                let set = Arc::clone(self);
                let (bucket, key) = (bucket.to_owned(), key.to_owned());
                detached(async move { set.remove_version_locked(&bucket, &key, id, bypass_governance).await }).await
            }
        }
    }

    /// Expires the current version of `key`, written at `written_at` (a lifecycle
    /// rule's decision): removes the key in a bucket never versioned, adds a delete
    /// marker in a versioned one; `PreconditionFailed` when the key's current version is
    /// another one by the time its lock is held (another node expired it, or a client
    /// wrote or deleted it).
    pub(crate) async fn expire_current(
        self: &Arc<Self>,
        bucket: &str,
        key: &str,
        written_at: i64,
        versioning: Versioning,
    ) -> Result<()> {
        let condition = WriteCondition::IfCurrentWrittenAt(written_at);
        if versioning.keeps_versions() {
            return self.add_delete_marker(bucket, key, versioning, Some(condition)).await.map(|_| ());
        }
        let set = Arc::clone(self);
        let (bucket, key) = (bucket.to_owned(), key.to_owned());
        detached(async move { set.remove_key_locked(&bucket, &key, Some(condition)).await }).await
    }

    /// Removes every copy of the key (an unversioned bucket's DELETE), if `condition`
    /// (checked under the key's lock) holds.
    async fn remove_key_locked(&self, bucket: &str, key: &str, condition: Option<WriteCondition>) -> Result<()> {
        let guard = self.lock_write(bucket, key).await?;
        if let Some(condition) = &condition {
            check_condition(condition, &self.read_metas(bucket, key).await, &self.layout)?;
        }
        let deletes = self.drives.iter().map(|drive| guard.fenced(drive.as_ref(), drive.delete_object(bucket, key)));
        let results = join_all(deletes).await;
        if results.iter().all(|r| matches!(r, Err(DriveError::FileNotFound))) {
            return Err(ObjectError::ObjectNotFound);
        }
        let gone: Vec<std::result::Result<(), DriveError>> = results
            .into_iter()
            .map(|r| match r {
                Err(DriveError::FileNotFound) => Ok(()),
                other => other,
            })
            .collect();
        let reduced = reduce_write(&gone, self.layout.write_quorum());
        if reduced.is_err() {
            let errors: Vec<String> = gone.iter().filter_map(|r| r.as_ref().err()).map(ToString::to_string).collect();
            tracing::warn!(bucket, key, errors = %errors.join(" | "), "delete did not reach its write quorum");
        }
        reduced
    }

    /// Adds a delete marker as the key's newest version, if `condition` holds.
    async fn add_delete_marker(
        self: &Arc<Self>,
        bucket: &str,
        key: &str,
        versioning: Versioning,
        condition: Option<WriteCondition>,
    ) -> Result<Deleted> {
        let distribution = self.distribution(key);
        let version = ObjectVersion {
            version_id: None,
            mod_time_unix_nanos: now_unix_nanos(),
            size: 0,
            etag: String::new(),
            data_dir: None,
            erasure: self.erasure_info(&distribution, 0),
            parts: Vec::new(),
            checksums: BTreeMap::new(),
            headers: BTreeMap::new(),
            inline_data: None,
            upload_id: None,
            meta_updated_unix_nanos: 0,
            delete_marker: true,
            compressed_size: None,
        };
        let commit = Commit {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            version,
            distribution,
            stored: Stored::Marker,
            parts: Vec::new(),
            condition,
            versioning,
        };
        let marker = self.commit_version(commit).await?;
        Ok(Deleted { version_id: marker.version_id, delete_marker: true })
    }

    /// Removes the version `id` (None: the null version) for good.
    async fn remove_version_locked(
        &self,
        bucket: &str,
        key: &str,
        id: Option<Uuid>,
        bypass_governance: bool,
    ) -> Result<Deleted> {
        let guard = self.lock_write(bucket, key).await?;
        let metas = self.read_metas(bucket, key).await;
        let (version, _) = pick_version_at(&metas, &self.layout, VersionRef::Exact(id))?;
        let now_unix_secs = now_unix_nanos() / 1_000_000_000;
        crate::retention::check_removable(&version.headers, now_unix_secs, bypass_governance)?;
        let removals: Vec<Removal> = metas
            .into_iter()
            .map(|meta| match meta {
                Ok(meta) => {
                    let versions: Vec<ObjectVersion> =
                        meta.versions.iter().filter(|v| v.version_id != id).cloned().collect();
                    if versions.len() == meta.versions.len() {
                        Removal::Nothing
                    } else if versions.is_empty() {
                        Removal::Key
                    } else {
                        Removal::Keep(ObjectMeta { versions })
                    }
                }
                Err(error) if error.is_not_found() => Removal::Nothing,
                Err(error) => Removal::Fail(error),
            })
            .collect();
        let commit_id = Uuid::new_v4();
        let keep: Vec<Vec<Uuid>> = removals
            .iter()
            .map(|removal| match removal {
                Removal::Keep(meta) => data_dirs(meta),
                _ => Vec::new(),
            })
            .collect();
        let committed: Vec<bool> = removals.iter().map(|r| matches!(r, Removal::Keep(_))).collect();
        let actions = self.drives.iter().zip(removals).map(|(drive, removal)| {
            let guard = &guard;
            async move {
                match removal {
                    Removal::Nothing => Ok(()),
                    Removal::Fail(error) => Err(error),
                    Removal::Key => match guard.fenced(drive.as_ref(), drive.delete_object(bucket, key)).await {
                        Err(DriveError::FileNotFound) => Ok(()),
                        other => other,
                    },
                    Removal::Keep(meta) => {
                        guard.fenced(drive.as_ref(), drive.commit(metadata_commit(bucket, key, &meta, commit_id))).await
                    }
                }
            }
        });
        let results = join_all(actions).await;
        let committed: Vec<bool> = committed.iter().zip(&results).map(|(c, r)| *c && r.is_ok()).collect();
        let settle = Settle { placed: None, keep };
        self.settle_commit(&guard, (bucket, key), commit_id, &results, &committed, settle).await?;
        Ok(Deleted { version_id: version.version_id, delete_marker: version.delete_marker })
    }
}
