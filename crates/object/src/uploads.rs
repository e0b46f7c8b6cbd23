//! Multipart uploads across the whole store: ListMultipartUploads in pages whose
//! memory is bounded by the page size, and the background expiry of uploads that
//! nobody completed or aborted (MinIO's `api stale_uploads_expiry` and
//! `stale_uploads_cleanup_interval`).
//!
//! Upload directories are named by their random id, so an ordering by key needs every
//! upload record of the bucket read; a listing reads them one set at a time (a bounded
//! number at once) and keeps only the first page's worth of entries.

use crate::set::ErasureSet;
use crate::set::multipart::upload_dir;
use crate::set::now_unix_nanos;
use crate::store::ObjectStore;
use crate::types::{MultipartUpload, UploadPage};
use crate::{ObjectError, Result};
use cairn_drive::Drive;
use cairn_meta::UploadRecord;
use futures::StreamExt;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use uuid::Uuid;

/// Largest page of ListMultipartUploads, as S3.
pub const LIST_UPLOADS_MAX: usize = 1000;
/// Upload records read at once while listing uploads.
const UPLOAD_READS_IN_FLIGHT: usize = 16;
/// Age after which an upload nobody completed or aborted is removed, by default: 7 days.
pub const STALE_UPLOADS_EXPIRY_DEFAULT: Duration = Duration::from_secs(7 * 24 * 3600);
/// Time between two passes of the stale-upload cleanup, by default: 6 hours (MinIO's).
pub const STALE_UPLOADS_CLEANUP_INTERVAL_DEFAULT: Duration = Duration::from_secs(6 * 3600);
/// Stale uploads one node removes per second at most, so that a cleanup after a long
/// time never competes with client traffic for the drives.
const STALE_UPLOADS_REMOVED_PER_SEC_MAX: u64 = 100;
/// Name of the system-volume folder holding every bucket's uploads.
const MULTIPART_DIR: &str = "multipart";

/// When abandoned uploads expire and how often they are looked for; changed at run
/// time by the admin configuration.
#[derive(Debug)]
pub(crate) struct UploadExpiry {
    expiry_ms: AtomicU64,
    interval_ms: AtomicU64,
    /// Wakes the cleanup when the settings change, so a shorter interval applies at once.
    changed: tokio::sync::Notify,
}

impl Default for UploadExpiry {
    fn default() -> Self {
        Self {
            expiry_ms: AtomicU64::new(STALE_UPLOADS_EXPIRY_DEFAULT.as_millis() as u64),
            interval_ms: AtomicU64::new(STALE_UPLOADS_CLEANUP_INTERVAL_DEFAULT.as_millis() as u64),
            changed: tokio::sync::Notify::new(),
        }
    }
}

/// Sort position of one entry of an upload listing: (key or common prefix, initiation
/// time, upload id). A common prefix sorts as `(prefix, i64::MIN, nil)`, so all the
/// uploads it stands for collapse into one entry.
type EntryKey = (String, i64, Uuid);

/// The first `limit + 1` entries, in listing order, of entries fed in any order: one
/// page and the knowledge whether more follow, whatever the number of uploads.
struct PageSelection {
    entries: BTreeMap<EntryKey, Option<MultipartUpload>>,
    limit: usize,
    /// Entries at or before this position were returned by earlier pages.
    after: EntryKey,
}

impl PageSelection {
    fn offer(&mut self, key: EntryKey, upload: Option<MultipartUpload>) {
        if key <= self.after {
            return;
        }
        self.entries.insert(key, upload);
        if self.entries.len() > self.limit + 1 {
            self.entries.pop_last();
        }
    }

    fn into_page(self) -> UploadPage {
        let mut page = UploadPage { truncated: self.entries.len() > self.limit, ..UploadPage::default() };
        for ((name, _, _), upload) in self.entries.into_iter().take(self.limit) {
            page.next_key_marker = Some(name.clone());
            match upload {
                Some(upload) => {
                    page.next_upload_id_marker = Some(upload.upload_id.clone());
                    page.uploads.push(upload);
                }
                None => {
                    page.next_upload_id_marker = None;
                    page.prefixes.push(name);
                }
            }
        }
        page
    }
}

/// Which page of uploads a listing asks for.
struct UploadQuery<'a> {
    prefix: &'a str,
    delimiter: Option<&'a str>,
}

impl UploadQuery<'_> {
    /// Where `record` sorts in the listing, and the upload to show (None when it rolls
    /// up into a common prefix); None when the prefix excludes it.
    fn entry(&self, record: &UploadRecord) -> Option<(EntryKey, Option<MultipartUpload>)> {
        let rest = record.key.strip_prefix(self.prefix)?;
        if let Some(delimiter) = self.delimiter
            && let Some(index) = rest.find(delimiter)
        {
            let common = format!("{}{}", self.prefix, &rest[..index + delimiter.len()]);
            return Some(((common, i64::MIN, Uuid::nil()), None));
        }
        let upload = MultipartUpload {
            key: record.key.clone(),
            upload_id: record.upload_id.to_string(),
            initiated_unix_nanos: record.initiated_unix_nanos,
        };
        Some(((record.key.clone(), record.initiated_unix_nanos, record.upload_id), Some(upload)))
    }
}

impl ErasureSet {
    /// Ids of the uploads of `bucket` that a read quorum of this set's drives lists (a
    /// directory on fewer is a leftover of an abort or expiry while a drive was down).
    async fn upload_ids(&self, bucket: &str) -> Vec<Uuid> {
        let dir = format!("{MULTIPART_DIR}/{bucket}");
        let listings = futures::future::join_all(self.drives.iter().map(|drive| drive.list_sys_dir(&dir))).await;
        let mut counts: BTreeMap<Uuid, usize> = BTreeMap::new();
        for id in listings.into_iter().flatten().flatten().filter_map(|name| Uuid::parse_str(&name).ok()) {
            *counts.entry(id).or_default() += 1;
        }
        counts.into_iter().filter(|(_, count)| *count >= self.layout.read_quorum()).map(|(id, _)| id).collect()
    }

    /// The record of upload `id` from the first drive that has a readable one.
    async fn any_upload_record(&self, bucket: &str, id: Uuid) -> Option<UploadRecord> {
        let path = format!("{}/upload.meta", upload_dir(bucket, id));
        for drive in &self.drives {
            if let Some(record) = drive.read_sys_file(&path).await.ok().and_then(|b| UploadRecord::decode(&b).ok()) {
                return Some(record);
            }
        }
        None
    }

    /// Uploads of `bucket` on `drive` (one of this set's) initiated before `cutoff`
    /// (nanoseconds since the epoch). A folder without a readable record of its own (a
    /// create that failed on this drive, or parts that reached a drive which missed the
    /// create) is as old as the record another drive of the set holds, or, when no drive
    /// holds one, as its last change: otherwise nothing would ever remove it.
    async fn stale_on(&self, drive: &dyn Drive, bucket: &str, cutoff: i64) -> Vec<Uuid> {
        let Ok(names) = drive.list_sys_dir(&format!("{MULTIPART_DIR}/{bucket}")).await else { return Vec::new() };
        let mut stale = Vec::new();
        for id in names.iter().filter_map(|name| Uuid::parse_str(name).ok()) {
            let path = format!("{}/upload.meta", upload_dir(bucket, id));
            let own = drive.read_sys_file(&path).await.ok().and_then(|b| UploadRecord::decode(&b).ok());
            let record = match own {
                Some(record) => Some(record),
                None => self.any_upload_record(bucket, id).await,
            };
            let age_from = match record {
                Some(record) => record.initiated_unix_nanos,
                None => match drive.sys_modified_unix_nanos(&upload_dir(bucket, id)).await {
                    Ok(modified) => modified,
                    Err(error) => {
                        tracing::warn!(drive = drive.endpoint(), %bucket, %id, %error, "cannot tell the age of an upload folder");
                        continue;
                    }
                },
            };
            if age_from < cutoff {
                stale.push(id);
            }
        }
        stale
    }
}

impl ObjectStore {
    /// Lists in-progress uploads of a bucket, ordered by key, then initiation time, then
    /// id, after the markers; at most `max_uploads` (clamped to 1000) entries.
    pub async fn list_multipart_uploads(
        &self,
        bucket: &str,
        prefix: &str,
        delimiter: Option<&str>,
        markers: (Option<&str>, Option<&str>),
        max_uploads: usize,
    ) -> Result<UploadPage> {
        self.sets[0].require_bucket(bucket).await?;
        let query = UploadQuery { prefix, delimiter: delimiter.filter(|d| !d.is_empty()) };
        let after = self.listing_start(bucket, markers).await?;
        let mut selection = PageSelection { entries: BTreeMap::new(), limit: max_uploads.min(LIST_UPLOADS_MAX), after };
        if selection.limit == 0 {
            return Ok(UploadPage::default());
        }
        for set in self.sets.iter() {
            let ids = set.upload_ids(bucket).await;
            let mut records = futures::stream::iter(ids)
                .map(|id| set.any_upload_record(bucket, id))
                .buffer_unordered(UPLOAD_READS_IN_FLIGHT);
            while let Some(record) = records.next().await {
                if let Some((key, upload)) = record.as_ref().and_then(|r| query.entry(r)) {
                    selection.offer(key, upload);
                }
            }
        }
        Ok(selection.into_page())
    }

    /// The position the markers name: after the marker upload (same key, later in the
    /// order) when it still exists, else after every upload of the marker key.
    async fn listing_start(&self, bucket: &str, markers: (Option<&str>, Option<&str>)) -> Result<EntryKey> {
        let past_key = |key: &str| (key.to_owned(), i64::MAX, Uuid::max());
        match markers {
            (None, _) => Ok((String::new(), i64::MIN, Uuid::nil())),
            (Some(key), None) => Ok(past_key(key)),
            (Some(key), Some(id)) => {
                let Ok(id) = Uuid::parse_str(id) else { return Ok(past_key(key)) };
                match self.upload_set(bucket, key, id).await {
                    Ok(set) => match set.read_upload(bucket, key, id).await {
                        Ok(record) => Ok((key.to_owned(), record.initiated_unix_nanos, id)),
                        Err(ObjectError::UploadNotFound) => Ok(past_key(key)),
                        Err(error) => Err(error),
                    },
                    Err(ObjectError::UploadNotFound) => Ok(past_key(key)),
                    Err(error) => Err(error),
                }
            }
        }
    }

    /// Changes when abandoned uploads expire and how often they are looked for.
    pub fn set_stale_uploads(&self, expiry: Duration, interval: Duration) {
        self.upload_expiry.expiry_ms.store(expiry.as_millis() as u64, Ordering::Relaxed);
        let interval_ms = interval.as_millis() as u64;
        if self.upload_expiry.interval_ms.swap(interval_ms, Ordering::Relaxed) != interval_ms {
            self.upload_expiry.changed.notify_one();
        }
    }

    /// Removes, from this node's own drives, every upload initiated longer ago than the
    /// expiry. Each node cleans its own drives (a drive that was down meanwhile is
    /// cleaned by its node's next pass), under the upload's lock so that a Complete or
    /// a part being recorded is never cut off. Returns how many upload folders went.
    async fn remove_stale_uploads(&self) -> usize {
        let expiry_ms = self.upload_expiry.expiry_ms.load(Ordering::Relaxed);
        let cutoff =
            now_unix_nanos().saturating_sub(i64::try_from(expiry_ms.saturating_mul(1_000_000)).unwrap_or(i64::MAX));
        let pause = Duration::from_millis(1000 / STALE_UPLOADS_REMOVED_PER_SEC_MAX);
        let mut removed = 0;
        for set in self.sets.iter() {
            for drive in set.drives.iter().filter(|drive| drive.is_local()) {
                let Ok(buckets) = drive.list_sys_dir(MULTIPART_DIR).await else { continue };
                for bucket in buckets {
                    for id in set.stale_on(drive.as_ref(), &bucket, cutoff).await {
                        let Ok(_guard) = set.locks.write(ErasureSet::upload_lock_name(id)).await else { continue };
                        match drive.delete_sys(&upload_dir(&bucket, id)).await {
                            Ok(()) => removed += 1,
                            Err(error) => {
                                tracing::warn!(drive = drive.endpoint(), %bucket, %id, %error, "cannot remove a stale upload")
                            }
                        }
                        tokio::time::sleep(pause).await;
                    }
                }
            }
        }
        removed
    }
}

/// Removes stale uploads every interval (as currently set), for as long as the store lives.
pub(crate) async fn expire_stale_uploads(store: ObjectStore) {
    let expiry: Arc<UploadExpiry> = Arc::clone(&store.upload_expiry);
    loop {
        let interval = Duration::from_millis(expiry.interval_ms.load(Ordering::Relaxed));
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            () = expiry.changed.notified() => continue,
        }
        let removed = store.remove_stale_uploads().await;
        tracing::info!(removed, "stale multipart upload cleanup pass done");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::seq::SliceRandom;

    fn record(key: &str, initiated: i64) -> UploadRecord {
        UploadRecord {
            bucket: "b".into(),
            key: key.into(),
            upload_id: Uuid::new_v4(),
            initiated_unix_nanos: initiated,
            headers: BTreeMap::new(),
            checksum_algorithm: None,
            compress: false,
        }
    }

    /// Pages over `records` fed in random order, as a listing over many sets would.
    fn pages(records: &[UploadRecord], query: &UploadQuery<'_>, limit: usize) -> Vec<UploadPage> {
        let mut after = (String::new(), i64::MIN, Uuid::nil());
        let mut pages = Vec::new();
        loop {
            let mut selection = PageSelection { entries: BTreeMap::new(), limit, after: after.clone() };
            let mut shuffled: Vec<&UploadRecord> = records.iter().collect();
            shuffled.shuffle(&mut rand::rng());
            for record in shuffled {
                if let Some((key, upload)) = query.entry(record) {
                    selection.offer(key, upload);
                    assert!(selection.entries.len() <= limit + 1, "a page holds at most its limit plus one");
                }
            }
            let page = selection.into_page();
            let marker = page.next_key_marker.clone().unwrap_or_default();
            after = match page.uploads.last().filter(|_| page.next_upload_id_marker.is_some()) {
                Some(last) => (marker, last.initiated_unix_nanos, Uuid::parse_str(&last.upload_id).expect("uuid")),
                None => (marker, i64::MAX, Uuid::max()),
            };
            let truncated = page.truncated;
            pages.push(page);
            if !truncated {
                return pages;
            }
        }
    }

    #[test]
    fn pages_hold_every_upload_once_in_order_with_bounded_memory() {
        let mut records = Vec::new();
        for i in 0..2_000i64 {
            records.push(record(&format!("dir{}/key{:04}", i % 7, i % 500), i % 13));
        }
        let query = UploadQuery { prefix: "", delimiter: None };
        let listed: Vec<(String, i64, String)> = pages(&records, &query, 97)
            .into_iter()
            .flat_map(|page| page.uploads)
            .map(|u| (u.key, u.initiated_unix_nanos, u.upload_id))
            .collect();
        let mut expected: Vec<(String, i64, Uuid)> =
            records.iter().map(|r| (r.key.clone(), r.initiated_unix_nanos, r.upload_id)).collect();
        expected.sort();
        let expected: Vec<(String, i64, String)> =
            expected.into_iter().map(|(k, t, id)| (k, t, id.to_string())).collect();
        assert_eq!(listed, expected);
    }

    #[test]
    fn uploads_below_a_delimiter_roll_up_into_one_prefix() {
        let records = vec![record("a/1", 1), record("a/2", 2), record("b", 3), record("c/x/1", 4), record("c/x/2", 5)];
        let query = UploadQuery { prefix: "", delimiter: Some("/") };
        let pages = pages(&records, &query, 1);
        let entries: Vec<String> = pages
            .iter()
            .flat_map(|page| page.prefixes.iter().cloned().chain(page.uploads.iter().map(|u| u.key.clone())))
            .collect();
        assert_eq!(entries, ["a/", "b", "c/"]);
    }
}
