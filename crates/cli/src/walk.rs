//! Listing a target as a stream of entries in key order, with bounded memory: S3
//! prefixes page by page, local folders depth first with one sorted folder listing per
//! level. Both produce keys relative to the target's root in the same byte order (a
//! folder sorts as its name plus '/'), so two listings can be merged by `mirror`.

use crate::error::{CliError, Result};
use crate::s3;
use crate::target::Remote;
use std::collections::VecDeque;
use std::path::PathBuf;
use std::time::SystemTime;

/// Keys asked for per listing page.
const PAGE_KEYS: i32 = 1_000;
/// Deepest local folder nesting walked (a bound against absurd trees; symlink loops are
/// caught before by [`FolderId`]).
const LOCAL_DEPTH_MAX: usize = 256;

/// One object or file found.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Key relative to the listed root, '/'-separated; a common prefix ends with '/'.
    pub key: String,
    /// Size in bytes (0 for a common prefix).
    pub size: u64,
    /// Last modification time, when known.
    pub modified: Option<SystemTime>,
    /// The object's ETag without quotes (remote objects only).
    pub etag: Option<String>,
    /// A common prefix (a "folder" in a non-recursive listing), not an object.
    pub is_prefix: bool,
}

/// The folder part of a prefix: what listed keys are shown relative to
/// (`dir/sub/fi` -> `dir/sub/`).
pub fn folder_of(prefix: &str) -> String {
    prefix.rfind('/').map_or(String::new(), |at| prefix[..=at].to_owned())
}

/// A listing in progress.
pub enum Lister {
    /// Objects under a prefix.
    Remote(RemoteLister),
    /// Files under a local folder.
    Local(LocalLister),
}

impl Lister {
    /// Objects of `remote`'s bucket under `prefix`; keys are returned relative to `root`
    /// (a prefix of `prefix`). Not recursive: common prefixes at the first '/' too.
    pub fn remote(
        client: aws_sdk_s3::Client,
        remote: &Remote,
        prefix: String,
        root: String,
        recursive: bool,
    ) -> Result<Self> {
        assert!(prefix.starts_with(&root), "the root is a prefix of the listed prefix");
        Ok(Lister::Remote(RemoteLister {
            client,
            what: remote.display(),
            bucket: remote.bucket()?.to_owned(),
            prefix,
            root,
            recursive,
            page: VecDeque::new(),
            token: None,
            done: false,
            failed: false,
        }))
    }

    /// Files under the local folder `root`, recursively or its top level only.
    pub fn local(root: PathBuf, recursive: bool) -> Self {
        Lister::Local(LocalLister { root, recursive, stack: Vec::new(), started: false, failed: false })
    }

    /// Whether every entry so far came without an error (a listing that failed part
    /// way may have skipped entries, so it proves nothing absent).
    pub fn complete_so_far(&self) -> bool {
        match self {
            Lister::Remote(lister) => !lister.failed,
            Lister::Local(lister) => !lister.failed,
        }
    }

    /// The next entry, or None at the end.
    pub async fn next(&mut self) -> Option<Result<Entry>> {
        match self {
            Lister::Remote(lister) => lister.next().await,
            Lister::Local(lister) => lister.next(),
        }
    }
}

/// Pages of ListObjectsV2.
pub struct RemoteLister {
    client: aws_sdk_s3::Client,
    what: String,
    bucket: String,
    prefix: String,
    root: String,
    recursive: bool,
    page: VecDeque<Entry>,
    token: Option<String>,
    done: bool,
    /// A page could not be fetched; the listing ended early.
    failed: bool,
}

impl RemoteLister {
    async fn next(&mut self) -> Option<Result<Entry>> {
        while self.page.is_empty() {
            if self.done {
                return None;
            }
            if let Err(error) = self.fetch().await {
                self.done = true;
                self.failed = true;
                return Some(Err(error));
            }
        }
        self.page.pop_front().map(Ok)
    }

    async fn fetch(&mut self) -> Result<()> {
        let mut request = self.client.list_objects_v2().bucket(&self.bucket).prefix(&self.prefix).max_keys(PAGE_KEYS);
        if !self.recursive {
            request = request.delimiter("/");
        }
        if let Some(token) = self.token.take() {
            request = request.continuation_token(token);
        }
        let page = request.send().await.map_err(|e| s3::error(&self.what, e))?;
        let relative = |key: &str| key.strip_prefix(self.root.as_str()).unwrap_or(key).to_owned();
        let mut entries: Vec<Entry> = page
            .contents()
            .iter()
            .filter_map(|object| {
                let key = object.key()?;
                Some(Entry {
                    key: relative(key),
                    size: object.size().unwrap_or_default().max(0) as u64,
                    modified: object.last_modified().and_then(|t| SystemTime::try_from(*t).ok()),
                    etag: object.e_tag().map(|e| e.trim_matches('"').to_owned()),
                    is_prefix: false,
                })
            })
            .collect();
        entries.extend(page.common_prefixes().iter().filter_map(|p| {
            Some(Entry { key: relative(p.prefix()?), size: 0, modified: None, etag: None, is_prefix: true })
        }));
        // Objects and prefixes come in two lists; one key order for the caller.
        entries.sort_by(|a, b| a.key.cmp(&b.key));
        self.page.extend(entries);
        self.token = page.next_continuation_token().map(str::to_owned);
        self.done = !page.is_truncated().unwrap_or(false) || self.token.is_none();
        Ok(())
    }
}

/// The identity of a folder (device and inode), to recognise one reached again
/// through a symlink: a loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FolderId(u64, u64);

impl FolderId {
    #[cfg(unix)]
    fn of(meta: &std::fs::Metadata) -> Option<Self> {
        use std::os::unix::fs::MetadataExt;
        Some(FolderId(meta.dev(), meta.ino()))
    }

    /// Without inodes only the depth bound stops a loop.
    #[cfg(not(unix))]
    fn of(_meta: &std::fs::Metadata) -> Option<Self> {
        None
    }
}

/// One folder being walked.
struct Level {
    /// Its key relative to the root, ending with '/' (empty for the root).
    prefix: String,
    /// Its identity, compared with the folders below it to find symlink loops.
    id: Option<FolderId>,
    /// Its remaining entries, in key order.
    entries: VecDeque<(String, std::fs::Metadata)>,
}

/// A depth-first walk of a local folder. Symlinks are followed, except one that leads
/// back to a folder on the current path (a loop), which is reported as an error.
pub struct LocalLister {
    root: PathBuf,
    recursive: bool,
    /// The folders from the root down to the one being listed.
    stack: Vec<Level>,
    started: bool,
    /// Some folder could not be read; its entries are missing from the listing.
    failed: bool,
}

impl LocalLister {
    fn next(&mut self) -> Option<Result<Entry>> {
        let next = self.step();
        if matches!(next, Some(Err(_))) {
            self.failed = true;
        }
        next
    }

    fn step(&mut self) -> Option<Result<Entry>> {
        if !self.started {
            self.started = true;
            let id = match std::fs::metadata(&self.root) {
                Ok(meta) if meta.is_dir() => FolderId::of(&meta),
                Ok(_) => return Some(Err(CliError::Usage(format!("{}: not a folder", self.root.display())))),
                Err(error) => return Some(Err(CliError::io(&self.root, error))),
            };
            match read_sorted(&self.root) {
                Ok(entries) => self.stack.push(Level { prefix: String::new(), id, entries }),
                Err(error) => return Some(Err(error)),
            }
        }
        loop {
            let level = self.stack.last_mut()?;
            let Some((name, meta)) = level.entries.pop_front() else {
                self.stack.pop();
                continue;
            };
            let key = format!("{}{name}", level.prefix);
            if meta.is_dir() {
                let folder = format!("{key}/");
                if !self.recursive {
                    return Some(Ok(Entry { key: folder, size: 0, modified: None, etag: None, is_prefix: true }));
                }
                let id = FolderId::of(&meta);
                if id.is_some() && self.stack.iter().any(|level| level.id == id) {
                    let path = self.root.join(&key);
                    return Some(Err(CliError::Usage(format!(
                        "{}: a symlink loop (leads back to a folder above it); not followed",
                        path.display()
                    ))));
                }
                if self.stack.len() >= LOCAL_DEPTH_MAX {
                    return Some(Err(CliError::Usage(format!("{}: deeper than {LOCAL_DEPTH_MAX} folders", key))));
                }
                match read_sorted(&self.root.join(&key)) {
                    Ok(entries) => self.stack.push(Level { prefix: folder, id, entries }),
                    Err(error) => return Some(Err(error)),
                }
                continue;
            }
            return Some(Ok(Entry {
                key,
                size: meta.len(),
                modified: meta.modified().ok(),
                etag: None,
                is_prefix: false,
            }));
        }
    }
}

/// A folder's regular files and subfolders (symlinks followed), sorted as S3 sorts
/// keys: a folder as its name plus '/'.
fn read_sorted(dir: &std::path::Path) -> Result<VecDeque<(String, std::fs::Metadata)>> {
    let mut entries = Vec::new();
    for item in std::fs::read_dir(dir).map_err(|e| CliError::io(dir, e))? {
        let item = item.map_err(|e| CliError::io(dir, e))?;
        let path = item.path();
        let Ok(meta) = std::fs::metadata(&path) else { continue }; // A dangling link.
        if !meta.is_file() && !meta.is_dir() {
            continue; // Sockets, devices: nothing to copy.
        }
        let name = item
            .file_name()
            .into_string()
            .map_err(|_| CliError::Usage(format!("{}: the name is not UTF-8 and cannot be a key", path.display())))?;
        if meta.is_file() && crate::transfer::is_partial_name(&name) {
            continue; // A copy in progress (or interrupted): not the user's file.
        }
        let order = if meta.is_dir() { format!("{name}/") } else { name.clone() };
        entries.push((order, name, meta));
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(entries.into_iter().map(|(_, name, meta)| (name, meta)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn local_walk_is_in_s3_key_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        for path in ["a-b", "a/x", "a/y/z", "b", "a.txt"] {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(&path, b"1").expect("write");
        }
        let mut lister = Lister::local(dir.path().to_owned(), true);
        let mut keys = Vec::new();
        while let Some(entry) = lister.next().await {
            keys.push(entry.expect("entry").key);
        }
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
        assert_eq!(keys, ["a-b", "a.txt", "a/x", "a/y/z", "b"]);
    }
}
