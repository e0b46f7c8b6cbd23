//! ListObjectVersions: every version of every key, newest first within a key, in key
//! order, with common prefixes. Pages count versions and prefixes (at most 1000). A page
//! may end inside a key: the next one starts after the key marker's version id marker,
//! read for that key alone, then walks on after the key.
//!
//! The walks and merges are the listing's (`list.rs`, in [`ListMode::Versions`]): each
//! key's copies are decoded in full and a version is listed when a read quorum of drives
//! holds it, so memory stays bounded by a page and the versions of the keys in it.

use crate::list::{LIST_KEYS_MAX, ListMode, Listed, StoreWalk, listed_versions};
use crate::store::ObjectStore;
use crate::types::ListedVersion;
use crate::{ObjectError, Result};
use cairn_drive::WalkOptions;
use uuid::Uuid;

/// A ListObjectVersions request.
#[derive(Debug, Clone, Default)]
pub struct VersionsRequest {
    /// Bucket.
    pub bucket: String,
    /// Only keys with this prefix.
    pub prefix: String,
    /// Group keys by the first occurrence of this string after the prefix.
    pub delimiter: Option<String>,
    /// Start after this key (or, with `version_id_marker`, inside it).
    pub key_marker: Option<String>,
    /// Start after this version of `key_marker` (`Some(None)`: the null version).
    pub version_id_marker: Option<Option<Uuid>>,
    /// At most this many entries (versions plus prefixes); clamped to 1000.
    pub max_keys: usize,
}

/// One page of ListObjectVersions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VersionsPage {
    /// Versions and delete markers, by key, newest first within a key.
    pub versions: Vec<ListedVersion>,
    /// Common prefixes, in order.
    pub prefixes: Vec<String>,
    /// More entries follow.
    pub truncated: bool,
    /// Where the next page starts: a key (or prefix) ...
    pub next_key_marker: Option<String>,
    /// ... and, when the page ended inside a key, the last version listed.
    pub next_version_id_marker: Option<Option<Uuid>>,
}

impl VersionsPage {
    /// Adds a version, unless the page is full (then it is marked truncated).
    fn push(&mut self, version: ListedVersion, max: usize) -> bool {
        if self.versions.len() + self.prefixes.len() == max {
            self.truncated = true;
            return false;
        }
        self.next_key_marker = Some(version.key.clone());
        self.next_version_id_marker = Some(version.version_id);
        self.versions.push(version);
        true
    }

    /// Adds a common prefix, unless the page is full (then it is marked truncated).
    fn push_prefix(&mut self, prefix: String, max: usize) -> bool {
        if self.versions.len() + self.prefixes.len() == max {
            self.truncated = true;
            return false;
        }
        self.next_key_marker = Some(prefix.clone());
        self.next_version_id_marker = None;
        self.prefixes.push(prefix);
        true
    }
}

impl ObjectStore {
    /// Lists a page of versions.
    pub async fn list_object_versions(&self, request: &VersionsRequest) -> Result<VersionsPage> {
        self.sets[0].require_bucket(&request.bucket).await?;
        let max = request.max_keys.min(LIST_KEYS_MAX);
        let mut page = VersionsPage::default();
        if max == 0 {
            return Ok(page);
        }
        if request.version_id_marker.is_some() && request.key_marker.is_none() {
            return Err(ObjectError::InvalidArgument("a version-id-marker needs a key-marker".into()));
        }
        if let (Some(key), Some(marker)) = (&request.key_marker, request.version_id_marker)
            && key.starts_with(&request.prefix)
        {
            // The rest of the key the previous page ended in.
            let rest = self.key_versions(&request.bucket, key).await?;
            for version in rest.into_iter().skip_while(|v| v.version_id != marker).skip(1) {
                if !page.push(version, max) {
                    return Ok(page);
                }
            }
        }
        let slash_delimited = request.delimiter.as_deref() == Some("/");
        let options = WalkOptions {
            prefix: request.prefix.clone(),
            start_after: request.key_marker.clone(),
            recursive: !slash_delimited,
            limit: Some(max + 1),
        };
        let mut walk = StoreWalk::start(&self.sets, &request.bucket, &options, ListMode::Versions);
        let delimiter = request.delimiter.as_deref().filter(|d| !d.is_empty() && !slash_delimited);
        let mut last_prefix: Option<String> = None;
        while let Some(entry) = walk.next().await {
            let entry = match (entry?, delimiter) {
                (Listed::Versions(key, versions), Some(delimiter)) => {
                    match crate::list::common_prefix(&request.prefix, &key, delimiter) {
                        Some(prefix) => {
                            let seen = last_prefix.as_deref() == Some(prefix.as_str())
                                || request.key_marker.as_deref().is_some_and(|start| prefix.as_str() <= start);
                            if seen {
                                continue;
                            }
                            last_prefix = Some(prefix.clone());
                            Listed::Prefix(prefix)
                        }
                        None => Listed::Versions(key, versions),
                    }
                }
                (entry, _) => entry,
            };
            let fits = match entry {
                Listed::Prefix(prefix) => page.push_prefix(prefix, max),
                Listed::Versions(_, versions) => versions.into_iter().all(|version| page.push(version, max)),
                Listed::Object(_) => unreachable!("a versions listing lists versions"),
            };
            if !fits {
                return Ok(page);
            }
        }
        page.next_key_marker = None;
        page.next_version_id_marker = None;
        Ok(page)
    }

    /// Every version of one key a read quorum holds, newest first.
    async fn key_versions(&self, bucket: &str, key: &str) -> Result<Vec<ListedVersion>> {
        let set = match self.locate(bucket, key).await {
            Ok(set) => set,
            Err(ObjectError::ObjectNotFound) => return Ok(Vec::new()),
            Err(error) => return Err(error),
        };
        let _guard = set.lock_read(bucket, key).await?;
        let metas = set.read_metas(bucket, key).await;
        Ok(listed_versions(key, &metas, &set.layout))
    }
}
