//! Listing: per set, a k-way merge of sorted walks from every drive, keeping keys
//! a read quorum of drives agrees on; across sets, another merge. Streams entries,
//! so memory stays bounded by one directory and one page.

use crate::config::Layout;
use crate::quorum::pick_version;
use crate::set::{ErasureSet, object_info};
use crate::store::ObjectStore;
use crate::types::ObjectInfo;
use crate::{ObjectError, Result};
use cairn_drive::{DriveError, WalkEntry, WalkOptions};
use cairn_meta::ObjectMeta;
use std::sync::Arc;
use tokio::sync::mpsc;

/// Largest page a listing returns, as S3.
pub const LIST_KEYS_MAX: usize = 1000;

/// A listing request (ListObjects v1 and v2).
#[derive(Debug, Clone, Default)]
pub struct ListRequest {
    /// Bucket.
    pub bucket: String,
    /// Only keys with this prefix.
    pub prefix: String,
    /// Group keys by the first occurrence of this string after the prefix.
    pub delimiter: Option<String>,
    /// Only entries after this key (marker, start-after or continuation token).
    pub start_after: Option<String>,
    /// At most this many entries (objects plus prefixes); clamped to 1000.
    pub max_keys: usize,
}

/// One page of a listing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListPage {
    /// Objects, in key order.
    pub objects: Vec<ObjectInfo>,
    /// Common prefixes, in order.
    pub prefixes: Vec<String>,
    /// More entries follow.
    pub truncated: bool,
    /// The last key or prefix returned: where the next page starts.
    pub next_marker: Option<String>,
}

/// An entry after quorum reduction.
#[derive(Debug, Clone)]
pub(crate) enum Listed {
    Object(ObjectInfo),
    Prefix(String),
}

impl Listed {
    fn key(&self) -> &str {
        match self {
            Listed::Object(info) => &info.key,
            Listed::Prefix(prefix) => prefix,
        }
    }
}

fn entry_key(entry: &WalkEntry) -> &str {
    match entry {
        WalkEntry::Object { key, .. } => key,
        WalkEntry::Prefix(prefix) => prefix,
    }
}

/// Merged walk of one set.
struct SetWalk {
    bucket: String,
    receivers: Vec<mpsc::Receiver<cairn_drive::Result<WalkEntry>>>,
    heads: Vec<Option<WalkEntry>>,
    exhausted: Vec<bool>,
    /// Drives whose walk failed (or lack the bucket): keys after the failure may be missing from them.
    failed: usize,
    layout: Layout,
}

impl SetWalk {
    fn start(set: &ErasureSet, bucket: &str, options: &WalkOptions) -> Self {
        let receivers: Vec<_> = set.drives.iter().map(|drive| drive.walk(bucket, options.clone())).collect();
        let drives = receivers.len();
        Self {
            bucket: bucket.to_owned(),
            receivers,
            heads: vec![None; drives],
            exhausted: vec![false; drives],
            failed: 0,
            layout: set.layout,
        }
    }

    async fn fill(&mut self) {
        for d in 0..self.receivers.len() {
            if self.heads[d].is_some() || self.exhausted[d] {
                continue;
            }
            match self.receivers[d].recv().await {
                Some(Ok(entry)) => self.heads[d] = Some(entry),
                Some(Err(error)) => {
                    if !matches!(error, DriveError::VolumeNotFound) {
                        tracing::warn!(drive = d, %error, "walk failed on a drive; listing from the others");
                    }
                    self.exhausted[d] = true;
                    self.failed += 1;
                }
                None => self.exhausted[d] = true,
            }
        }
    }

    async fn next(&mut self) -> Option<Result<Listed>> {
        loop {
            self.fill().await;
            if self.receivers.len() - self.failed < self.layout.read_quorum() {
                // Too few walks left to tell which keys exist: fail rather than end the listing early.
                return Some(Err(ObjectError::ReadQuorum));
            }
            let smallest = self.heads.iter().flatten().map(entry_key).min()?.to_owned();
            let mut metas = Vec::new();
            let mut holders = 0;
            let mut prefix = false;
            for head in &mut self.heads {
                if head.as_ref().is_some_and(|e| entry_key(e) == smallest) {
                    holders += 1;
                    match head.take() {
                        Some(WalkEntry::Object { meta, .. }) => {
                            metas.push(ObjectMeta::decode(&meta).map_err(|e| DriveError::Corrupt(e.to_string())));
                        }
                        Some(WalkEntry::Prefix(_)) => prefix = true,
                        None => {}
                    }
                }
            }
            if holders < self.layout.read_quorum() {
                continue; // Seen on too few drives: a leftover of an incomplete write or delete.
            }
            if prefix {
                return Some(Ok(Listed::Prefix(smallest)));
            }
            if let Ok((version, _)) = pick_version(&metas, &self.layout) {
                return Some(Ok(Listed::Object(object_info(&self.bucket, &smallest, &version))));
            }
        }
    }
}

/// Merged walk of every set of the store.
pub(crate) struct StoreWalk {
    sets: Vec<SetWalk>,
    heads: Vec<Option<Listed>>,
    exhausted: Vec<bool>,
}

impl StoreWalk {
    pub(crate) fn start(sets: &[Arc<ErasureSet>], bucket: &str, options: &WalkOptions) -> Self {
        let sets: Vec<SetWalk> = sets.iter().map(|set| SetWalk::start(set, bucket, options)).collect();
        let count = sets.len();
        Self { sets, heads: vec![None; count], exhausted: vec![false; count] }
    }

    pub(crate) async fn next(&mut self) -> Option<Result<Listed>> {
        for s in 0..self.sets.len() {
            if self.heads[s].is_none() && !self.exhausted[s] {
                match self.sets[s].next().await {
                    Some(Ok(entry)) => self.heads[s] = Some(entry),
                    Some(Err(error)) => return Some(Err(error)),
                    None => self.exhausted[s] = true,
                }
            }
        }
        let smallest = self.heads.iter().flatten().map(Listed::key).min()?.to_owned();
        let mut chosen: Option<Listed> = None;
        for head in &mut self.heads {
            if head.as_ref().is_some_and(|e| e.key() == smallest) {
                // The same prefix may come from several sets. An object key lives in one
                // set per pool; if racing first writes put it in two pools, the newest wins
                // (as for reads).
                let candidate = head.take();
                let newer = match (&chosen, &candidate) {
                    (Some(Listed::Object(old)), Some(Listed::Object(new))) => {
                        new.mod_time_unix_nanos > old.mod_time_unix_nanos
                    }
                    _ => true,
                };
                if newer {
                    chosen = candidate;
                }
            }
        }
        chosen.map(Ok)
    }
}

/// Lists one page of `request` from `sets`.
pub(crate) async fn list_page(sets: &[Arc<ErasureSet>], request: &ListRequest) -> Result<ListPage> {
    let max_keys = request.max_keys.min(LIST_KEYS_MAX);
    let mut page = ListPage::default();
    if max_keys == 0 {
        return Ok(page);
    }
    let slash_delimited = request.delimiter.as_deref() == Some("/");
    let options = WalkOptions {
        prefix: request.prefix.clone(),
        start_after: request.start_after.clone(),
        recursive: !slash_delimited,
    };
    let mut walk = StoreWalk::start(sets, &request.bucket, &options);
    let delimiter = request.delimiter.as_deref().filter(|d| !d.is_empty() && !slash_delimited);
    let mut last_prefix: Option<String> = None;
    let mut count = 0;
    while let Some(entry) = walk.next().await {
        let entry = match (entry?, delimiter) {
            (Listed::Object(info), Some(delimiter)) => match common_prefix(&request.prefix, &info.key, delimiter) {
                Some(prefix) => {
                    let seen = last_prefix.as_deref() == Some(prefix.as_str())
                        || request.start_after.as_deref().is_some_and(|start| prefix.as_str() <= start);
                    if seen {
                        continue;
                    }
                    last_prefix = Some(prefix.clone());
                    Listed::Prefix(prefix)
                }
                None => Listed::Object(info),
            },
            (entry, _) => entry,
        };
        if count == max_keys {
            page.truncated = true;
            break;
        }
        count += 1;
        page.next_marker = Some(entry.key().to_owned());
        match entry {
            Listed::Object(info) => page.objects.push(info),
            Listed::Prefix(prefix) => page.prefixes.push(prefix),
        }
    }
    if !page.truncated {
        page.next_marker = None;
    }
    Ok(page)
}

/// The common prefix `key` rolls up into, if the delimiter occurs after `prefix`.
fn common_prefix(prefix: &str, key: &str, delimiter: &str) -> Option<String> {
    let rest = key.strip_prefix(prefix)?;
    let index = rest.find(delimiter)?;
    Some(format!("{prefix}{}", &rest[..index + delimiter.len()]))
}

/// A listing read page by page, so that a pass over a whole bucket (the scanner, a
/// heal, the configuration) holds one page at a time, never the whole listing.
pub(crate) struct Pages {
    /// The next page's request: `start_after` moves on with every page.
    request: ListRequest,
    /// The last page was read.
    done: bool,
}

impl Pages {
    /// Pages of at most `page_keys` entries of `bucket` under `prefix`, grouped by `delimiter`.
    pub(crate) fn new(bucket: &str, prefix: &str, delimiter: Option<&str>, page_keys: usize) -> Self {
        let request = ListRequest {
            bucket: bucket.to_owned(),
            prefix: prefix.to_owned(),
            delimiter: delimiter.map(str::to_owned),
            start_after: None,
            max_keys: page_keys,
        };
        Self { request, done: false }
    }

    /// The next page, or None after the last one.
    pub(crate) async fn next(&mut self, store: &ObjectStore) -> Result<Option<ListPage>> {
        if self.done {
            return Ok(None);
        }
        let page = store.list_objects(&self.request).await?;
        self.done = !page.truncated;
        self.request.start_after.clone_from(&page.next_marker);
        Ok(Some(page))
    }

    /// The next page, or None after the last one or once the bucket is gone: a pass
    /// over every bucket passes over one deleted meanwhile.
    pub(crate) async fn next_while_exists(&mut self, store: &ObjectStore) -> Result<Option<ListPage>> {
        match self.next(store).await {
            Err(ObjectError::BucketNotFound) => Ok(None),
            other => other,
        }
    }
}

/// True when the bucket holds at least one object (any set).
pub(crate) async fn bucket_has_objects(sets: &[Arc<ErasureSet>], bucket: &str) -> Result<bool> {
    let options = WalkOptions { prefix: String::new(), start_after: None, recursive: true };
    let mut walk = StoreWalk::start(sets, bucket, &options);
    walk.next().await.transpose().map(|first| first.is_some())
}

#[cfg(test)]
mod tests {
    use super::common_prefix;

    #[test]
    fn common_prefixes() {
        assert_eq!(common_prefix("", "a/b/c", "/").as_deref(), Some("a/"));
        assert_eq!(common_prefix("a/", "a/b/c", "/").as_deref(), Some("a/b/"));
        assert_eq!(common_prefix("a/", "a/b", "/"), None);
        assert_eq!(common_prefix("", "x--y--z", "--").as_deref(), Some("x--"));
    }
}
