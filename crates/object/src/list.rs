//! Listing: per set, a k-way merge of sorted walks from every drive, keeping keys
//! a read quorum of drives agrees on; across sets, another merge. Walks stream chunks
//! of entries, so memory stays bounded by one page and a few chunks per drive.

use crate::config::Layout;
use crate::quorum::{agreed_versions, newest_with_quorum};
use crate::set::ErasureSet;
use crate::types::{ListedObject, ListedVersion, ObjectInfo, VersionRef};
use crate::{ObjectError, Result};
use bytes::Bytes;
use cairn_drive::{DriveError, WalkChunk, WalkEntry, WalkOptions};
use cairn_meta::{ObjectMeta, VersionIdentity};
use std::collections::HashSet;
use std::sync::Arc;
use tokio::sync::mpsc;

/// Largest page a listing returns, as S3.
pub const LIST_KEYS_MAX: usize = 1000;
/// Most keys held by too few drives to exist that one page collects for the scanner; the
/// rest wait for the next scan, so a bucket full of leftovers keeps memory bounded.
const DANGLING_PER_PAGE_MAX: usize = 1000;
/// Entries each drive's walk reads at a time when a listing only asks whether a key
/// exists (an empty bucket, a prefix): the first key usually settles it.
const PROBE_ENTRIES: usize = 16;

/// A key that some drives of a set hold but too few for it to exist (a copy of a
/// deleted or failed write that a drive kept because it missed the delete or the undo),
/// as a listing saw it. Only a candidate: the scanner decides under the key's lock.
#[derive(Debug)]
pub(crate) struct Dangling {
    /// The set whose drives hold it.
    pub(crate) set: Arc<ErasureSet>,
    /// The key.
    pub(crate) key: String,
}

/// Which keys a listing lists.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ListMode {
    /// ListObjects: keys whose newest version is an object (not a delete marker).
    #[default]
    Current,
    /// Every key with a version, delete markers included (passes over every key: the
    /// scanner, healing, whether a bucket is empty).
    AnyVersion,
    /// ListObjectVersions: every version of every key.
    Versions,
}

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
    /// Which keys to list.
    pub mode: ListMode,
}

/// One page of a listing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListPage {
    /// Objects, in key order.
    pub objects: Vec<ListedObject>,
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
    Object(ListedObject),
    /// Every version of a key a read quorum holds, newest first ([`ListMode::Versions`]).
    Versions(String, Vec<ListedVersion>),
    Prefix(String),
}

impl Listed {
    pub(crate) fn key(&self) -> &str {
        match self {
            Listed::Object(info) => &info.key,
            Listed::Versions(key, _) => key,
            Listed::Prefix(prefix) => prefix,
        }
    }

    /// The newest version's time, which decides between two pools holding a key.
    fn newest_time(&self) -> Option<i64> {
        match self {
            Listed::Object(info) => Some(info.mod_time_unix_nanos),
            Listed::Versions(_, versions) => versions.first().map(|v| v.mod_time_unix_nanos),
            Listed::Prefix(_) => None,
        }
    }
}

fn entry_key(entry: &WalkEntry) -> &str {
    match entry {
        WalkEntry::Object { key, .. } => key,
        WalkEntry::Prefix(prefix) => prefix,
    }
}

/// What a set's merge does with a key or common prefix that some drives' walks report.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Verdict<T> {
    /// A read quorum of walks agrees on it: list it as they describe it.
    List(T),
    /// Too few drives report it for it to exist even if every drive whose walk failed
    /// held it: a leftover of an incomplete write or delete.
    Skip,
    /// Too few answering drives report it (or they disagree), but with the drives whose
    /// walk failed a read quorum could hold it: ask every drive of the set, as a read does.
    Resolve,
}

/// The verdict on an object key from the `xl.meta` of the `copies.len()` drives whose
/// walk reported it, when `unanswered` drives' walks failed before reaching it. Only
/// the newest version's identity is read from each copy (a listing's cost is in
/// decoding), and it is all a listing shows. A listed version comes with the number of
/// drives that hold it.
fn judge_object(copies: &[Bytes], unanswered: usize, layout: &Layout) -> Verdict<(VersionIdentity, usize)> {
    let mut identities: Vec<Option<VersionIdentity>> =
        copies.iter().map(|copy| ObjectMeta::decode_latest_identity(copy).ok().flatten()).collect();
    let latest: Vec<Option<&VersionIdentity>> = identities.iter().map(Option::as_ref).collect();
    let newest = newest_with_quorum(
        &latest,
        layout.read_quorum(),
        |a, b| a == b,
        |v| (v.mod_time_unix_nanos, v.meta_updated_unix_nanos),
    )
    .map(|(holder, holders)| (holder, holders.iter().filter(|h| **h).count()));
    // The partial and the full decoder agree (a property test and a fuzz target say so).
    let listed = newest.and_then(|(holder, holders)| Some((identities[holder].take()?, holders)));
    match listed {
        Some(version) => Verdict::List(version),
        None if copies.len() + unanswered >= layout.read_quorum() => Verdict::Resolve,
        None => Verdict::Skip,
    }
}

fn listed_object(key: String, version: VersionIdentity) -> ListedObject {
    let VersionIdentity { size, etag, mod_time_unix_nanos, delete_marker, noncurrent_bytes, compressed_size, .. } =
        version;
    ListedObject { key, size, etag, mod_time_unix_nanos, delete_marker, noncurrent_bytes, compressed_size }
}

/// The versions a read quorum of `metas` agrees on, as ListObjectVersions shows them.
pub(crate) fn listed_versions(
    key: &str,
    metas: &[std::result::Result<ObjectMeta, DriveError>],
    layout: &Layout,
) -> Vec<ListedVersion> {
    agreed_versions(metas, layout)
        .into_iter()
        .enumerate()
        .map(|(index, (version, _))| ListedVersion {
            key: key.to_owned(),
            version_id: version.version_id,
            is_latest: index == 0,
            delete_marker: version.delete_marker,
            size: version.size,
            etag: version.etag,
            mod_time_unix_nanos: version.mod_time_unix_nanos,
        })
        .collect()
}

/// The verdict on a common prefix that `holders` drives' walks reported (each has some
/// object below it), when `unanswered` drives' walks failed before reaching it.
fn judge_prefix(holders: usize, unanswered: usize, layout: &Layout) -> Verdict<()> {
    if holders >= layout.read_quorum() {
        Verdict::List(())
    } else if holders + unanswered >= layout.read_quorum() {
        Verdict::Resolve
    } else {
        Verdict::Skip
    }
}

/// What a quorum read of a key's metadata means for a listing: the object (a delete
/// marker included), or None when it is definitely absent. Any other answer (no quorum
/// either way, a lock not granted) fails the listing: ending it or leaving the key out
/// would present a partial listing as complete.
fn resolved(answer: Result<ObjectInfo>) -> Result<Option<ListedObject>> {
    match answer {
        Ok(info) => Ok(Some(info.into())),
        Err(ObjectError::ObjectNotFound) => Ok(None),
        Err(error) => Err(error),
    }
}

/// Merged walk of one set.
struct SetWalk {
    set: Arc<ErasureSet>,
    bucket: String,
    /// What every drive's walk was asked; a walk that stopped at its limit goes on
    /// with a new walk after the last key it sent.
    options: WalkOptions,
    /// Which keys it lists.
    mode: ListMode,
    /// Per drive, entries its current walk sent.
    received: Vec<usize>,
    /// Per drive, the last key or prefix its walk sent.
    last_keys: Vec<Option<String>>,
    receivers: Vec<mpsc::Receiver<cairn_drive::Result<WalkChunk>>>,
    /// Per drive, the rest of the chunk its walk sent last.
    chunks: Vec<std::vec::IntoIter<WalkEntry>>,
    heads: Vec<Option<WalkEntry>>,
    exhausted: Vec<bool>,
    /// Drives whose walk failed (or lack the bucket): keys after the failure may be missing from them.
    failed: usize,
    /// Keys left out because too few drives hold them, when the caller collects them
    /// (the scanner); at most `DANGLING_PER_PAGE_MAX` between two takes.
    dangling: Option<Vec<String>>,
    /// Keys listed that some drive's walk did not report in the listed version, when the
    /// caller collects them (the scanner checks only these); listed keys, so at most a
    /// page and the entry after it between two takes.
    partial: Option<Vec<String>>,
}

impl SetWalk {
    fn start(set: &Arc<ErasureSet>, bucket: &str, options: &WalkOptions, mode: ListMode) -> Self {
        let receivers: Vec<_> = set.drives.iter().map(|drive| drive.walk(bucket, options.clone())).collect();
        let drives = receivers.len();
        Self {
            set: Arc::clone(set),
            bucket: bucket.to_owned(),
            options: options.clone(),
            mode,
            received: vec![0; drives],
            last_keys: vec![None; drives],
            receivers,
            chunks: (0..drives).map(|_| Vec::new().into_iter()).collect(),
            heads: vec![None; drives],
            exhausted: vec![false; drives],
            failed: 0,
            dangling: None,
            partial: None,
        }
    }

    /// Notes a key left out of the listing although some drive holds it.
    fn left_out(&mut self, key: String) {
        if let Some(dangling) = self.dangling.as_mut()
            && dangling.len() < DANGLING_PER_PAGE_MAX
        {
            dangling.push(key);
        }
    }

    /// Notes a listed key that some drive of the set may lack.
    fn listed_partially(&mut self, key: &str) {
        if let Some(partial) = self.partial.as_mut() {
            partial.push(key.to_owned());
        }
    }

    /// Gives every drive whose walk is neither ended nor failed its next entry.
    async fn fill(&mut self) {
        for d in 0..self.receivers.len() {
            while self.heads[d].is_none() && !self.exhausted[d] {
                if let Some(entry) = self.chunks[d].next() {
                    self.heads[d] = Some(entry);
                    break;
                }
                match self.receivers[d].recv().await {
                    Some(Ok(chunk)) => {
                        self.received[d] += chunk.len();
                        if let Some(last) = chunk.last() {
                            self.last_keys[d] = Some(entry_key(last).to_owned());
                        }
                        self.chunks[d] = chunk.into_iter();
                    }
                    Some(Err(error)) => {
                        if !matches!(error, DriveError::VolumeNotFound) {
                            tracing::warn!(drive = d, %error, "walk failed on a drive; listing from the others");
                        }
                        self.exhausted[d] = true;
                        self.failed += 1;
                    }
                    None if self.options.limit.is_some_and(|limit| self.received[d] >= limit) => {
                        // The walk stopped at its limit, not at the end: go on after its last key.
                        let options = WalkOptions { start_after: self.last_keys[d].clone(), ..self.options.clone() };
                        self.receivers[d] = self.set.drives[d].walk(&self.bucket, options);
                        self.received[d] = 0;
                    }
                    None => self.exhausted[d] = true,
                }
            }
        }
    }

    async fn next(&mut self) -> Option<Result<Listed>> {
        let layout = self.set.layout;
        loop {
            self.fill().await;
            if self.receivers.len() - self.failed < layout.read_quorum() {
                // Too few walks left to tell which keys exist: fail rather than end the listing early.
                return Some(Err(ObjectError::ReadQuorum));
            }
            // Every drive now either reported its next entry, ended its walk, or failed; the
            // walks are sorted, so a drive whose next entry sorts after `smallest` lacks it.
            let smallest = self.heads.iter().flatten().map(entry_key).min()?.to_owned();
            let mut copies = Vec::new();
            let mut holders = 0;
            let mut prefix = false;
            for head in &mut self.heads {
                if head.as_ref().is_some_and(|e| entry_key(e) == smallest) {
                    holders += 1;
                    match head.take() {
                        Some(WalkEntry::Object { meta, .. }) => copies.push(meta),
                        Some(WalkEntry::Prefix(_)) => prefix = true,
                        None => {}
                    }
                }
            }
            if prefix {
                let exists = match judge_prefix(holders, self.failed, &layout) {
                    Verdict::List(()) => true,
                    Verdict::Skip => false,
                    Verdict::Resolve => match self.prefix_exists(&smallest).await {
                        Ok(exists) => exists,
                        Err(error) => return Some(Err(error)),
                    },
                };
                if exists {
                    return Some(Ok(Listed::Prefix(smallest)));
                }
                continue;
            }
            if self.mode == ListMode::Versions {
                match self.versions_of(smallest, &copies).await {
                    Ok(Some(listed)) => return Some(Ok(listed)),
                    Ok(None) => continue,
                    Err(error) => return Some(Err(error)),
                }
            }
            let info = match judge_object(&copies, self.failed, &layout) {
                Verdict::List((version, holders)) => {
                    if holders < self.receivers.len() {
                        self.listed_partially(&smallest);
                    }
                    Some(listed_object(smallest.clone(), version))
                }
                Verdict::Skip => None,
                Verdict::Resolve => {
                    let latest = self.set.version_info(&self.bucket, &smallest, VersionRef::Latest).await;
                    match resolved(latest) {
                        Ok(info) => {
                            self.listed_partially(&smallest);
                            info
                        }
                        Err(error) => return Some(Err(error)),
                    }
                }
            };
            match info {
                // A key whose newest version is a delete marker exists, but ListObjects does not show it.
                Some(info) if info.delete_marker && self.mode == ListMode::Current => {}
                Some(info) => return Some(Ok(Listed::Object(info))),
                None => self.left_out(smallest),
            }
        }
    }

    /// Every version of `key` a read quorum holds, from the `copies` the walks reported
    /// (decoded in full: ListObjectVersions shows every version), or from a quorum read
    /// of the key when too few copies agree; None when the key is a leftover.
    async fn versions_of(&mut self, key: String, copies: &[Bytes]) -> Result<Option<Listed>> {
        let layout = self.set.layout;
        let metas: Vec<std::result::Result<ObjectMeta, DriveError>> = copies
            .iter()
            .map(|copy| ObjectMeta::decode(copy).map_err(|e| DriveError::Corrupt(format!("xl.meta: {e}"))))
            .collect();
        let identities: Vec<Option<VersionIdentity>> =
            metas.iter().map(|m| m.as_ref().ok().and_then(ObjectMeta::latest_identity)).collect();
        let same_everywhere = copies.len() == self.receivers.len() && identities.windows(2).all(|w| w[0] == w[1]);
        let mut versions = listed_versions(&key, &metas, &layout);
        if versions.is_empty() {
            if copies.len() + self.failed < layout.read_quorum() {
                self.left_out(key);
                return Ok(None);
            }
            let _guard = self.set.lock_read(&self.bucket, &key).await?;
            let all = self.set.read_metas(&self.bucket, &key).await;
            versions = listed_versions(&key, &all, &layout);
            if versions.is_empty() {
                return match crate::quorum::pick_version(&all, &layout) {
                    Err(ObjectError::ObjectNotFound) => {
                        self.left_out(key);
                        Ok(None)
                    }
                    Err(error) => Err(error),
                    Ok(_) => Err(ObjectError::ReadQuorum),
                };
            }
        }
        if !same_everywhere {
            self.listed_partially(&key);
        }
        Ok(Some(Listed::Versions(key, versions)))
    }

    /// Whether some object below `prefix` exists, by a recursive walk of the set below it
    /// that resolves keys as the listing does. It stops at the first object, and only runs
    /// for a prefix too few answering drives report, which is rare.
    async fn prefix_exists(&self, prefix: &str) -> Result<bool> {
        let options =
            WalkOptions { prefix: prefix.to_owned(), start_after: None, recursive: true, limit: Some(PROBE_ENTRIES) };
        let mut below = SetWalk::start(&self.set, &self.bucket, &options, self.mode);
        // A recursive walk reports no prefixes, so this recursion is one level deep.
        Box::pin(below.next()).await.transpose().map(|first| first.is_some())
    }
}

/// Merged walk of every set of the store.
pub(crate) struct StoreWalk {
    sets: Vec<SetWalk>,
    heads: Vec<Option<Listed>>,
    exhausted: Vec<bool>,
}

impl StoreWalk {
    pub(crate) fn start(sets: &[Arc<ErasureSet>], bucket: &str, options: &WalkOptions, mode: ListMode) -> Self {
        let sets: Vec<SetWalk> = sets.iter().map(|set| SetWalk::start(set, bucket, options, mode)).collect();
        let count = sets.len();
        Self { sets, heads: vec![None; count], exhausted: vec![false; count] }
    }

    /// Makes every set's walk collect the keys it leaves out for lack of drives, and the
    /// keys it lists that some drive lacks.
    fn collect_findings(&mut self) {
        for set in &mut self.sets {
            set.dangling = Some(Vec::new());
            set.partial = Some(Vec::new());
        }
    }

    /// The keys listed since the last call that some drive may lack.
    fn take_partial(&mut self) -> impl Iterator<Item = String> + '_ {
        self.sets.iter_mut().flat_map(|walk| walk.partial.iter_mut().flat_map(std::mem::take))
    }

    /// The keys left out since the last call, with their sets.
    fn take_dangling(&mut self) -> impl Iterator<Item = Dangling> + '_ {
        self.sets.iter_mut().flat_map(|walk| {
            let set = Arc::clone(&walk.set);
            walk.dangling.iter_mut().flat_map(std::mem::take).map(move |key| Dangling { set: Arc::clone(&set), key })
        })
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
                let newer = match (
                    chosen.as_ref().and_then(Listed::newest_time),
                    candidate.as_ref().and_then(Listed::newest_time),
                ) {
                    (Some(old), Some(new)) => new > old,
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
    list_page_with(sets, request, None).await
}

/// What a pass over a bucket (the scanner, a heal) learns from its listing besides the
/// listing itself.
#[derive(Debug, Default)]
pub(crate) struct Findings {
    /// Keys left out because too few drives hold them.
    pub(crate) dangling: Vec<Dangling>,
    /// Keys listed that some drive of their set did not report in the listed version
    /// (it lacks it, holds another, or its walk failed): the ones worth a closer look.
    pub(crate) partial: HashSet<String>,
}

/// Lists one page of `request` from `sets`; with `findings`, also notes what the page's
/// range showed about keys that not every drive holds.
pub(crate) async fn list_page_with(
    sets: &[Arc<ErasureSet>],
    request: &ListRequest,
    findings: Option<&mut Findings>,
) -> Result<ListPage> {
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
        // The page and the entry after it, which tells whether the page is the last.
        limit: Some(max_keys + 1),
    };
    let mut walk = StoreWalk::start(sets, &request.bucket, &options, request.mode);
    if findings.is_some() {
        walk.collect_findings();
    }
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
            Listed::Versions(..) => unreachable!("a page of objects is never listed in versions mode"),
        }
    }
    if !page.truncated {
        page.next_marker = None;
    }
    if let Some(findings) = findings {
        findings.dangling.extend(walk.take_dangling());
        findings.partial.extend(walk.take_partial());
    }
    Ok(page)
}

/// The common prefix `key` rolls up into, if the delimiter occurs after `prefix`.
pub(crate) fn common_prefix(prefix: &str, key: &str, delimiter: &str) -> Option<String> {
    let rest = key.strip_prefix(prefix)?;
    let index = rest.find(delimiter)?;
    Some(format!("{prefix}{}", &rest[..index + delimiter.len()]))
}

/// True when the bucket holds at least one version of some key, a delete marker
/// included (any set): as on S3, such a bucket is not empty.
pub(crate) async fn bucket_has_objects(sets: &[Arc<ErasureSet>], bucket: &str) -> Result<bool> {
    let options = WalkOptions { prefix: String::new(), start_after: None, recursive: true, limit: Some(PROBE_ENTRIES) };
    let mut walk = StoreWalk::start(sets, bucket, &options, ListMode::AnyVersion);
    walk.next().await.transpose().map(|first| first.is_some())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::quorum::pick_version;
    use crate::set::object_info;
    use cairn_meta::{ErasureInfo, ObjectVersion};

    /// 3 nodes x 2 drives at EC:3, as in the chaos suite: read quorum 3, write quorum 4.
    pub(crate) fn six_drives() -> Layout {
        Layout::for_drives(6, Some(3)).expect("valid layout")
    }

    pub(crate) fn version(mod_time_unix_nanos: i64) -> ObjectVersion {
        ObjectVersion {
            version_id: None,
            mod_time_unix_nanos,
            size: 4 << 20,
            etag: format!("etag-{mod_time_unix_nanos}"),
            data_dir: None,
            erasure: ErasureInfo {
                data_shards: 3,
                parity_shards: 3,
                block_size_bytes: 1 << 20,
                shard_index: 0,
                distribution: (0..6).collect(),
            },
            parts: Vec::new(),
            checksums: Default::default(),
            headers: Default::default(),
            inline_data: None,
            upload_id: None,
            meta_updated_unix_nanos: 0,
            delete_marker: false,
            compressed_size: None,
        }
    }

    /// What the walks of `holders` drives reported: the same version on each.
    fn reported(holders: usize, mod_time: i64) -> Vec<Bytes> {
        (0..holders).map(|_| Bytes::from(ObjectMeta::single(version(mod_time)).encode())).collect()
    }

    #[test]
    fn a_key_on_too_few_answering_drives_is_resolved_when_failed_walks_could_hold_it() {
        let layout = six_drives();
        // The chaos finding: node 1's two drives failed to walk, node 3's two missed the
        // write, node 2's two hold it. It may exist: ask every drive, never skip it.
        assert_eq!(judge_object(&reported(2, 1), 2, &layout), Verdict::Resolve);
        // The symmetric case: a delete that two drives missed, with one walk failed.
        assert_eq!(judge_object(&reported(2, 1), 1, &layout), Verdict::Resolve);
        assert_eq!(judge_object(&reported(1, 1), 2, &layout), Verdict::Resolve);
    }

    #[test]
    fn leftovers_are_skipped_without_a_read_when_every_walk_answered() {
        let layout = six_drives();
        // The common case stays as cheap as a merge: no metadata read.
        assert_eq!(judge_object(&reported(2, 1), 0, &layout), Verdict::Skip);
        assert_eq!(judge_object(&reported(1, 1), 1, &layout), Verdict::Skip);
        assert_eq!(judge_object(&[], 2, &layout), Verdict::Skip);
    }

    #[test]
    fn a_version_a_read_quorum_of_walks_agrees_on_is_listed_as_reported() {
        let layout = six_drives();
        let mut metas = reported(3, 7);
        metas.extend(reported(1, 5));
        let identity = ObjectMeta::single(version(7)).latest_identity().expect("a version");
        let listed = |holders| Verdict::List((identity.clone(), holders));
        assert_eq!(judge_object(&metas, 0, &layout), listed(3));
        assert_eq!(judge_object(&reported(3, 7), 3, &layout), listed(3));
        assert_eq!(judge_object(&reported(6, 7), 0, &layout), listed(6));
    }

    #[test]
    fn drives_that_disagree_are_resolved_by_a_read() {
        let layout = six_drives();
        // An overwrite in progress: two drives have the new version, two the old one.
        let mut metas = reported(2, 1);
        metas.extend(reported(2, 2));
        assert_eq!(judge_object(&metas, 0, &layout), Verdict::Resolve);
        let mut corrupt = reported(2, 1);
        corrupt.push(Bytes::from_static(b"CXL1 damaged"));
        assert_eq!(judge_object(&corrupt, 0, &layout), Verdict::Resolve);
    }

    #[test]
    fn a_quorum_read_tells_present_absent_and_undecidable_apart() {
        let layout = six_drives();
        let held = || Ok(ObjectMeta::single(version(1)));
        let missing = || Err(DriveError::FileNotFound);
        let down = || Err(DriveError::Offline("node 1".into()));
        let decide = |metas: Vec<std::result::Result<ObjectMeta, DriveError>>| {
            resolved(pick_version(&metas, &layout).map(|(v, _)| object_info("b", "k", &v)))
        };
        // The acknowledged write that the walks hid: the failed walks' drives still read.
        assert!(decide(vec![held(), held(), held(), held(), missing(), missing()]).expect("decided").is_some());
        // A delete that node 3's drives missed: every other drive says it is gone.
        assert!(decide(vec![missing(), missing(), missing(), missing(), held(), held()]).expect("decided").is_none());
        // The same with node 1 down: the write could have been acknowledged by nodes 1 and 3.
        let undecided = decide(vec![down(), down(), missing(), missing(), held(), held()]).expect_err("undecidable");
        assert!(matches!(undecided, ObjectError::ReadQuorum));
    }

    #[test]
    fn prefixes_follow_the_same_rule() {
        let layout = six_drives();
        assert_eq!(judge_prefix(3, 0, &layout), Verdict::List(()));
        assert_eq!(judge_prefix(2, 0, &layout), Verdict::Skip);
        assert_eq!(judge_prefix(2, 2, &layout), Verdict::Resolve);
        assert_eq!(judge_prefix(0, 2, &layout), Verdict::Skip);
    }

    #[test]
    fn a_resolved_key_is_listed_skipped_or_fails_the_listing() {
        let info = object_info("b", "k/03", &version(1));
        let listed = ListedObject {
            key: "k/03".into(),
            size: 4 << 20,
            etag: "etag-1".into(),
            mod_time_unix_nanos: 1,
            delete_marker: false,
            noncurrent_bytes: 0,
            compressed_size: None,
        };
        assert_eq!(resolved(Ok(info)).expect("listed"), Some(listed));
        assert_eq!(resolved(Err(ObjectError::ObjectNotFound)).expect("absent"), None);
        let undecided = resolved(Err(ObjectError::ReadQuorum)).expect_err("no quorum either way");
        assert!(matches!(undecided, ObjectError::ReadQuorum) && undecided.is_retryable());
        assert!(resolved(Err(ObjectError::LockTimeout)).expect_err("lock").is_retryable());
    }

    #[test]
    fn common_prefixes() {
        assert_eq!(common_prefix("", "a/b/c", "/").as_deref(), Some("a/"));
        assert_eq!(common_prefix("a/", "a/b/c", "/").as_deref(), Some("a/b/"));
        assert_eq!(common_prefix("a/", "a/b", "/"), None);
        assert_eq!(common_prefix("", "x--y--z", "--").as_deref(), Some("x--"));
    }
}
