//! Multipart uploads within one set. Parts are erasure coded as they arrive into
//! the upload's directory in the system volume; Complete moves them into a new
//! data directory and installs the object's metadata in one commit.
//!
//! ```text
//! .cairn.sys/multipart/<bucket>/<upload-id>/upload.meta
//! .cairn.sys/multipart/<bucket>/<upload-id>/part.<N>.meta   (names the data file below)
//! .cairn.sys/multipart/<bucket>/<upload-id>/<data-file-uuid> (this drive's shard file)
//! ```

use super::write::{BodyMode, Commit, Stored};
use super::{ErasureSet, detached, now_unix_nanos, object_info};
use crate::body::{Body, BodyCheck};
use crate::config::{PART_SIZE_BYTES_MIN, PARTS_MAX};
use crate::quorum::pick_version;
use crate::quorum::reduce_write;
use crate::types::{CompleteRequest, CompositeChecksums, ObjectInfo, PartSummary};
use crate::{ObjectError, Result};
use bytes::Bytes;
use cairn_drive::{DriveError, PartSource};
use cairn_meta::{ObjectVersion, PartInfo, PartRecord, UploadRecord, Versioning};
use futures::future::join_all;
use md5_many::{Digest, Md5};
use std::collections::BTreeMap;
use std::sync::Arc;
use uuid::Uuid;

/// The system-volume directory of an upload.
pub(crate) fn upload_dir(bucket: &str, upload_id: Uuid) -> String {
    format!("multipart/{bucket}/{upload_id}")
}

/// Parses a client-supplied upload id; anything else is an unknown upload.
pub(crate) fn parse_upload_id(upload_id: &str) -> Result<Uuid> {
    Uuid::parse_str(upload_id).map_err(|_| ObjectError::UploadNotFound)
}

fn part_record_path(bucket: &str, upload_id: Uuid, part_number: u32) -> String {
    format!("{}/part.{part_number}.meta", upload_dir(bucket, upload_id))
}

fn check_part_number(part_number: u32) -> Result<()> {
    if (1..=PARTS_MAX).contains(&part_number) {
        Ok(())
    } else {
        Err(ObjectError::InvalidArgument(format!("part number must be between 1 and {PARTS_MAX}")))
    }
}

/// Strips the quotes clients put around ETags.
fn bare_etag(etag: &str) -> &str {
    etag.trim().trim_matches('"')
}

impl ErasureSet {
    pub(crate) fn upload_lock_name(upload_id: Uuid) -> String {
        format!("{}/upload/{upload_id}", cairn_drive::SYSTEM_VOLUME)
    }

    /// Starts an upload: records it on every drive.
    pub(crate) async fn create_upload(
        &self,
        bucket: &str,
        key: &str,
        headers: BTreeMap<String, String>,
        checksum_algorithm: Option<String>,
        compress: bool,
    ) -> Result<Uuid> {
        cairn_drive::validate_key(key)?;
        self.require_bucket(bucket).await?;
        let upload_id = Uuid::new_v4();
        let record = UploadRecord {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            upload_id,
            initiated_unix_nanos: now_unix_nanos(),
            headers,
            checksum_algorithm,
            compress,
        };
        let path = format!("{}/upload.meta", upload_dir(bucket, upload_id));
        let bytes = Bytes::from(record.encode());
        let results = join_all(self.drives.iter().map(|drive| drive.write_sys_file(&path, bytes.clone()))).await;
        reduce_write(&results, self.layout.write_quorum())?;
        Ok(upload_id)
    }

    /// Reads an upload's record as a read quorum holds it.
    pub(crate) async fn read_upload(&self, bucket: &str, key: &str, upload_id: Uuid) -> Result<UploadRecord> {
        let path = format!("{}/upload.meta", upload_dir(bucket, upload_id));
        let results = join_all(self.drives.iter().map(|drive| drive.read_sys_file(&path))).await;
        let absent = results.iter().filter(|r| matches!(r, Err(e) if e.is_not_found())).count();
        let records: Vec<UploadRecord> =
            results.into_iter().filter_map(|r| r.ok()).filter_map(|b| UploadRecord::decode(&b).ok()).collect();
        let quorum = self.layout.read_quorum();
        let Some(record) = records.first().filter(|_| records.len() >= quorum) else {
            // Only drives that answered "not here" prove the upload is gone; drives that
            // did not answer might hold it.
            return Err(if absent > self.drives.len() - quorum {
                ObjectError::UploadNotFound
            } else {
                ObjectError::ReadQuorum
            });
        };
        if record.key != key || record.bucket != bucket {
            return Err(ObjectError::UploadNotFound);
        }
        Ok(record.clone())
    }

    /// Stores one part: streams it into staging without holding the upload's lock
    /// (a long part upload must not block Abort or Complete), then records it.
    pub(crate) async fn upload_part(
        self: &Arc<Self>,
        upload: &UploadRecord,
        part_number: u32,
        body: Body,
        check: Box<dyn BodyCheck>,
        mode: BodyMode,
    ) -> Result<PartSummary> {
        check_part_number(part_number)?;
        let (bucket, key, upload_id) = (upload.bucket.as_str(), upload.key.as_str(), upload.upload_id);
        let distribution = self.distribution(key);
        let data_file = Uuid::new_v4();
        let staged = format!("tmp/{data_file}");
        let written = match self.store_body(bucket, body, check, &distribution, &staged, mode).await {
            Ok(written) => written,
            Err(error) => {
                self.discard_staged(&staged).await;
                return Err(error);
            }
        };
        let Stored::Files(live) = written.stored else { unreachable!("parts are never inline") };
        let record = PartRecord {
            number: part_number,
            size: written.size,
            etag: hex::encode(written.md5),
            data_file,
            mod_time_unix_nanos: now_unix_nanos(),
            checksums: written.checksums,
            compression: written.compression,
            encryption: written.encryption,
        };
        let set = Arc::clone(self);
        let (bucket, key) = (bucket.to_owned(), key.to_owned());
        let recorded = detached(async move { set.record_part(&bucket, &key, upload_id, record, live).await }).await;
        if recorded.is_err() {
            self.discard_staged(&staged).await;
        }
        recorded
    }

    /// Moves a staged part into its upload and records it, under the upload's lock.
    async fn record_part(
        &self,
        bucket: &str,
        key: &str,
        upload_id: Uuid,
        record: PartRecord,
        live: Vec<bool>,
    ) -> Result<PartSummary> {
        let _upload_guard = self.locks.read(Self::upload_lock_name(upload_id)).await?;
        // Writers of the same part number take turns; the last one to record wins.
        let part_guard = self.locks.write(format!("{}/{}", Self::upload_lock_name(upload_id), record.number)).await?;
        // Aborted or completed while the part was streaming: there is nothing to add it to.
        self.read_upload(bucket, key, upload_id).await?;
        let dir = upload_dir(bucket, upload_id);
        let record_path = part_record_path(bucket, upload_id, record.number);
        let bytes = Bytes::from(record.encode());
        let previous = join_all(self.drives.iter().map(|drive| drive.read_sys_file(&record_path))).await;
        let results = join_all(self.drives.iter().enumerate().map(|(d, drive)| {
            let bytes = bytes.clone();
            let (record_path, staged, target) =
                (&record_path, format!("tmp/{}", record.data_file), format!("{dir}/{}", record.data_file));
            let (holds_data, part_guard) = (live[d], &part_guard);
            async move {
                if !holds_data {
                    return Err(DriveError::DriveNotFound);
                }
                // Fenced: a recorder that stalled past its lease must not replace the record
                // (and so drop the data) of a later upload of the same part.
                let record = async {
                    drive.rename_sys(&staged, &target).await?;
                    drive.write_sys_file(record_path, bytes).await
                };
                part_guard.fenced(drive.as_ref(), record).await
            }
        }))
        .await;
        reduce_write(&results, self.layout.write_quorum())?;
        // The replaced attempt's data is unreachable now.
        join_all(self.drives.iter().zip(previous).map(|(drive, old)| {
            let (dir, part_guard) = (&dir, &part_guard);
            async move {
                if let Some(old) = old.ok().and_then(|b| PartRecord::decode(&b).ok()) {
                    let old_data = format!("{dir}/{}", old.data_file);
                    let _ = part_guard.fenced(drive.as_ref(), drive.delete_sys(&old_data)).await;
                }
            }
        }))
        .await;
        Ok(PartSummary {
            number: record.number,
            size: record.size,
            etag: record.etag,
            mod_time_unix_nanos: record.mod_time_unix_nanos,
            checksums: record.checksums,
            encryption: None,
        })
    }

    /// Reads one part's record as a read quorum holds it.
    async fn read_part(&self, bucket: &str, upload_id: Uuid, part_number: u32) -> Result<Option<PartRecord>> {
        let path = part_record_path(bucket, upload_id, part_number);
        let results = join_all(self.drives.iter().map(|drive| drive.read_sys_file(&path))).await;
        let records: Vec<PartRecord> =
            results.into_iter().filter_map(|r| r.ok()).filter_map(|b| PartRecord::decode(&b).ok()).collect();
        let agreed = records.iter().find(|candidate| {
            records.iter().filter(|r| r.data_file == candidate.data_file).count() >= self.layout.read_quorum()
        });
        Ok(agreed.cloned())
    }

    /// Lists uploaded parts after `marker`, at most `max_parts`; returns whether more follow.
    pub(crate) async fn list_parts(
        &self,
        bucket: &str,
        key: &str,
        upload_id: Uuid,
        marker: u32,
        max_parts: usize,
    ) -> Result<(Vec<PartSummary>, bool)> {
        self.read_upload(bucket, key, upload_id).await?;
        let dir = upload_dir(bucket, upload_id);
        let listings = join_all(self.drives.iter().map(|drive| drive.list_sys_dir(&dir))).await;
        let mut numbers: Vec<u32> = listings
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|name| name.strip_prefix("part.")?.strip_suffix(".meta")?.parse::<u32>().ok())
            .filter(|n| *n > marker)
            .collect();
        numbers.sort_unstable();
        numbers.dedup();
        let mut parts = Vec::new();
        let mut truncated = false;
        for number in numbers {
            let Some(record) = self.read_part(bucket, upload_id, number).await? else {
                continue;
            };
            if parts.len() == max_parts {
                truncated = true;
                break;
            }
            parts.push(PartSummary {
                number,
                size: record.size,
                etag: record.etag,
                mod_time_unix_nanos: record.mod_time_unix_nanos,
                checksums: record.checksums,
                encryption: None,
            });
        }
        Ok((parts, truncated))
    }

    /// Completes an upload: validates the named parts and commits the object. Runs
    /// to the end even if the client goes away (it holds the upload's lock).
    pub(crate) async fn complete_upload(
        self: &Arc<Self>,
        request: CompleteRequest,
        upload_id: Uuid,
        composite: CompositeChecksums,
        versioning: Versioning,
    ) -> Result<ObjectInfo> {
        let set = Arc::clone(self);
        detached(async move { set.complete_locked(&request, upload_id, composite, versioning).await }).await
    }

    async fn complete_locked(
        self: &Arc<Self>,
        request: &CompleteRequest,
        upload_id: Uuid,
        composite: CompositeChecksums,
        versioning: Versioning,
    ) -> Result<ObjectInfo> {
        let (bucket, key, parts) = (request.bucket.as_str(), request.key.as_str(), request.parts.as_slice());
        let _upload_guard = self.locks.write(Self::upload_lock_name(upload_id)).await?;
        let upload = match self.read_upload(bucket, key, upload_id).await {
            Err(ObjectError::UploadNotFound) => return self.completed_upload(request, upload_id).await,
            other => other?,
        };
        if parts.is_empty() {
            return Err(ObjectError::InvalidArgument("at least one part must be specified".into()));
        }
        if parts.windows(2).any(|pair| pair[0].number >= pair[1].number) {
            return Err(ObjectError::InvalidPartOrder);
        }
        let mut records = Vec::with_capacity(parts.len());
        for (position, part) in parts.iter().enumerate() {
            check_part_number(part.number)?;
            let record = self
                .read_part(bucket, upload_id, part.number)
                .await?
                .ok_or_else(|| ObjectError::InvalidPart(format!("part {} was not uploaded", part.number)))?;
            if record.etag != bare_etag(&part.etag) {
                return Err(ObjectError::InvalidPart(format!(
                    "part {} has ETag {:?}, not {:?}",
                    part.number, record.etag, part.etag
                )));
            }
            let is_last = position + 1 == parts.len();
            if !is_last && record.size < PART_SIZE_BYTES_MIN {
                return Err(ObjectError::EntityTooSmall { part_number: part.number });
            }
            records.push(record);
        }
        let mut md5_of_md5s = Md5::new();
        for record in &records {
            let binary =
                hex::decode(&record.etag).map_err(|_| ObjectError::Internal("stored part ETag is not hex".into()))?;
            md5_of_md5s.update(&binary);
        }
        let etag = format!("{}-{}", hex::encode(md5_of_md5s.finalize()), records.len());
        let part_checksums: Vec<BTreeMap<String, String>> = records.iter().map(|r| r.checksums.clone()).collect();
        let checksums = composite(upload.checksum_algorithm.as_deref(), &part_checksums);
        let distribution = self.distribution(key);
        let mut version = ObjectVersion {
            version_id: None,
            mod_time_unix_nanos: now_unix_nanos(),
            size: records.iter().map(|r| r.size).sum(),
            etag,
            data_dir: Some(Uuid::new_v4()),
            erasure: self.erasure_info(&distribution, 0),
            parts: records
                .iter()
                .map(|r| PartInfo {
                    number: r.number,
                    size: r.size,
                    etag: r.etag.clone(),
                    compression: r.compression.clone(),
                    encryption: r.encryption.clone(),
                })
                .collect(),
            checksums,
            headers: upload.headers,
            inline_data: None,
            upload_id: Some(upload_id),
            meta_updated_unix_nanos: 0,
            delete_marker: false,
            compressed_size: None,
        };
        version.compressed_size = ObjectVersion::compressed_size_of(&version.parts);
        let dir = upload_dir(bucket, upload_id);
        let parts: Vec<PartSource> = records
            .iter()
            .map(|r| PartSource { sys_path: format!("{dir}/{}", r.data_file), part_number: r.number })
            .collect();
        let commit = Commit {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            version,
            distribution,
            stored: Stored::Files(vec![true; self.drives.len()]),
            parts,
            condition: request.condition.clone(),
            versioning,
        };
        let version = self.commit_version(commit).await?;
        let info = object_info(bucket, key, &version);
        // The object's data directory holds its own links to the part files.
        join_all(self.drives.iter().map(|drive| drive.delete_sys(&dir))).await;
        Ok(info)
    }

    /// The answer to a Complete of an upload that is gone: success with the same ETag
    /// when the key's current version was made by that upload from the same parts
    /// (a client retrying a Complete whose answer it lost, as S3 allows); otherwise
    /// the upload is unknown.
    pub(crate) async fn completed_upload(&self, request: &CompleteRequest, upload_id: Uuid) -> Result<ObjectInfo> {
        let (bucket, key) = (request.bucket.as_str(), request.key.as_str());
        let _guard = self.lock_read(bucket, key).await?;
        let metas = self.read_metas(bucket, key).await;
        let version = match pick_version(&metas, &self.layout) {
            Ok((version, _)) => version,
            Err(ObjectError::ObjectNotFound) => return Err(ObjectError::UploadNotFound),
            Err(error) => return Err(error),
        };
        let same_parts = version.parts.len() == request.parts.len()
            && version
                .parts
                .iter()
                .zip(&request.parts)
                .all(|(stored, named)| stored.number == named.number && stored.etag == bare_etag(&named.etag));
        if version.upload_id != Some(upload_id) || !same_parts {
            return Err(ObjectError::UploadNotFound);
        }
        Ok(object_info(bucket, key, &version))
    }

    /// Abandons an upload and frees its parts.
    pub(crate) async fn abort_upload(&self, bucket: &str, key: &str, upload_id: Uuid) -> Result<()> {
        let _upload_guard = self.locks.write(Self::upload_lock_name(upload_id)).await?;
        self.read_upload(bucket, key, upload_id).await?;
        let dir = upload_dir(bucket, upload_id);
        let results = join_all(self.drives.iter().map(|drive| drive.delete_sys(&dir))).await;
        reduce_write(&results, self.layout.write_quorum())
    }
}
