//! Sorted namespace walks over a bucket directory.
//!
//! Directory entries are read one directory at a time, turned into sort tokens
//! (an object's own key, and `name/` for descending into it) and visited in
//! byte order, which is S3's key order. Whole subtrees that sort before
//! `start_after` are skipped without being read.

use crate::path::{DATA_DIR_SUFFIX, DIR_OBJECT_SUFFIX, META_FILE_NAME, decode_segment};
use crate::{DriveError, Result, WalkEntry, WalkOptions};
use bytes::Bytes;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::mpsc;

/// Deepest directory nesting a walk follows; keys are at most 1024 bytes, so at most 512 segments.
const WALK_DEPTH_MAX: usize = 512;

/// Why a walk stopped early.
enum Stop {
    /// The receiver went away: nobody wants more entries.
    Closed,
    /// A drive error, already sent to the receiver.
    Failed,
}

struct Walker {
    options: WalkOptions,
    sender: mpsc::Sender<Result<WalkEntry>>,
    /// Counts the directories and metadata files read, so that a walk that reads much and
    /// emits little (a prefix matching few keys) is seen working, not hung.
    progress: Arc<AtomicU64>,
}

/// Runs a walk of `volume_dir` on the current (blocking) thread.
pub(crate) fn walk_blocking(
    volume_dir: PathBuf,
    options: WalkOptions,
    sender: mpsc::Sender<Result<WalkEntry>>,
    progress: Arc<AtomicU64>,
) {
    if !volume_dir.is_dir() {
        let _ = sender.blocking_send(Err(DriveError::VolumeNotFound));
        return;
    }
    let (dir_prefix, name_filter) = match options.prefix.rfind('/') {
        Some(index) => (options.prefix[..=index].to_owned(), options.prefix[index + 1..].to_owned()),
        None => (String::new(), options.prefix.clone()),
    };
    let walker = Walker { options, sender, progress };
    let mut start_dir = volume_dir;
    if !dir_prefix.is_empty() {
        // The folder object named exactly like the prefix sorts first (when the prefix
        // ends at the '/'). Its directory name carries a suffix, so it can be too long to
        // store while the folder itself (a segment of 247 to 255 bytes) holds keys.
        if name_filter.is_empty()
            && let Ok(folder_object) = crate::path::validate_key(&dir_prefix)
            && walker
                .emit_object(&folder_object.iter().fold(start_dir.clone(), |dir, s| dir.join(s)), &dir_prefix)
                .is_err()
        {
            return;
        }
        // A prefix with an unstorable segment matches no stored key.
        let folder = &dir_prefix[..dir_prefix.len() - 1];
        let Ok(segments) = crate::path::validate_key(folder) else { return };
        if folder.ends_with('/') {
            return;
        }
        start_dir.extend(segments);
    }
    let _ = walker.walk_dir(&start_dir, &dir_prefix, &name_filter, 0);
}

impl Walker {
    fn send(&self, entry: Result<WalkEntry>) -> std::result::Result<(), Stop> {
        self.sender.blocking_send(entry).map_err(|_| Stop::Closed)
    }

    fn after_start(&self, key: &str) -> bool {
        self.options.start_after.as_deref().is_none_or(|start| key > start)
    }

    /// Sends the object stored in `dir` if it exists and sorts after `start_after`.
    fn emit_object(&self, dir: &Path, key: &str) -> std::result::Result<(), Stop> {
        if !self.after_start(key) {
            return Ok(());
        }
        self.progress.fetch_add(1, Ordering::Relaxed);
        match fs::read(dir.join(META_FILE_NAME)) {
            Ok(meta) => self.send(Ok(WalkEntry::Object { key: key.to_owned(), meta: Bytes::from(meta) })),
            // Deleted between listing and reading: not an object any more.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound || e.kind() == std::io::ErrorKind::NotADirectory => {
                Ok(())
            }
            Err(e) => {
                let _ = self.send(Err(DriveError::io("read metadata during walk", e)));
                Err(Stop::Failed)
            }
        }
    }

    fn walk_dir(&self, dir: &Path, key_prefix: &str, name_filter: &str, depth: usize) -> std::result::Result<(), Stop> {
        if depth > WALK_DEPTH_MAX {
            // Only a tampered drive nests deeper than any valid key; report it instead of looping.
            let _ = self.send(Err(DriveError::Corrupt(format!("{} nests deeper than any key", dir.display()))));
            return Err(Stop::Failed);
        }
        let mut tokens = match self.read_tokens(dir, key_prefix, name_filter) {
            Ok(tokens) => tokens,
            Err(DriveError::FileNotFound) => return Ok(()),
            Err(error) => {
                let _ = self.send(Err(error));
                return Err(Stop::Failed);
            }
        };
        tokens.sort_unstable_by(|a, b| (a.key.as_str(), a.descend).cmp(&(b.key.as_str(), b.descend)));
        // In a delimited walk a folder object `x/` and the subtree `x/` fold into one prefix.
        let mut last_prefix: Option<String> = None;
        for token in tokens {
            let child = dir.join(&token.name);
            // A folder object `x/` in a delimited walk is reported as the prefix `x/`.
            let folds_into_prefix = token.key.ends_with('/') && !self.options.recursive;
            if !token.descend && !folds_into_prefix {
                self.emit_object(&child, &token.key)?;
                continue;
            }
            if last_prefix.as_deref() == Some(token.key.as_str()) {
                continue;
            }
            if !token.descend {
                if self.after_start(&token.key) && child.join(META_FILE_NAME).is_file() {
                    self.send(Ok(WalkEntry::Prefix(token.key.clone())))?;
                    last_prefix = Some(token.key);
                }
                continue;
            }
            if let Some(start) = self.options.start_after.as_deref()
                && token.key.as_str() <= start
                && !start.starts_with(token.key.as_str())
            {
                continue; // Every key below sorts before `start`.
            }
            if self.options.recursive {
                self.walk_dir(&child, &token.key, "", depth + 1)?;
            } else if self.after_start(&token.key) {
                match has_object_below(&child) {
                    Ok(true) => self.send(Ok(WalkEntry::Prefix(token.key)))?,
                    Ok(false) => {}
                    Err(error) => {
                        let _ = self.send(Err(error));
                        return Err(Stop::Failed);
                    }
                }
            }
        }
        Ok(())
    }

    /// Reads one directory into sort tokens: objects it holds and subtrees to descend into.
    fn read_tokens(&self, dir: &Path, key_prefix: &str, name_filter: &str) -> Result<Vec<Token>> {
        self.progress.fetch_add(1, Ordering::Relaxed);
        let entries = fs::read_dir(dir).map_err(|e| DriveError::io("read dir during walk", e))?;
        let mut tokens = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| DriveError::io("read dir entry during walk", e))?;
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            let is_dir = entry.file_type().map(|t| t.is_dir()).unwrap_or(false);
            if !is_dir {
                continue;
            }
            // Data directories hold part files, never keys.
            if name.ends_with(DATA_DIR_SUFFIX) {
                continue;
            }
            let segment = decode_segment(&name);
            if !segment.starts_with(name_filter) {
                continue;
            }
            let key = format!("{key_prefix}{segment}");
            if name.ends_with(DIR_OBJECT_SUFFIX) {
                tokens.push(Token { key, name, descend: false });
                continue;
            }
            tokens.push(Token { key: format!("{key}/"), name: name.clone(), descend: true });
            tokens.push(Token { key, name, descend: false });
        }
        Ok(tokens)
    }
}

/// One thing to visit in a directory, ordered by `key` (then objects before subtrees).
struct Token {
    /// The object key, or the prefix (ending in `/`) of the subtree.
    key: String,
    /// The directory name on disk.
    name: String,
    /// True for a subtree to walk, false for the object stored in this directory.
    descend: bool,
}

/// True when an object is stored in a subdirectory of `dir` (the object stored in `dir` itself does not count).
fn has_object_below(dir: &Path) -> Result<bool> {
    for entry in read_dir_or_empty(dir)? {
        let entry = entry.map_err(|e| unreadable("read dir entry", e))?;
        let file_type = entry.file_type().map_err(|e| unreadable("stat dir entry", e))?;
        if file_type.is_dir() && subtree_has_object(&entry.path(), 1)? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// True when any object is stored at or below `dir`.
///
/// Fails closed: a directory that cannot be read (EIO, EMFILE, a path too long) is an
/// error, never "empty", because deleting a bucket trusts this answer to remove the
/// bucket's directory with everything in it.
pub(crate) fn subtree_has_object(dir: &Path, depth: usize) -> Result<bool> {
    if depth > WALK_DEPTH_MAX {
        return Err(DriveError::Corrupt(format!("{} nests deeper than any key", dir.display())));
    }
    let mut subdirs = Vec::new();
    for entry in read_dir_or_empty(dir)? {
        let entry = entry.map_err(|e| unreadable("read dir entry", e))?;
        let name = entry.file_name();
        if name == META_FILE_NAME {
            return Ok(true);
        }
        let is_data_dir = name.to_str().is_some_and(|n| n.ends_with(DATA_DIR_SUFFIX));
        let file_type = entry.file_type().map_err(|e| unreadable("stat dir entry", e))?;
        if !is_data_dir && file_type.is_dir() {
            subdirs.push(entry.path());
        }
    }
    for sub in &subdirs {
        if subtree_has_object(sub, depth + 1)? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The entries of `dir`; a directory removed meanwhile (a concurrent delete) has none.
fn read_dir_or_empty(dir: &Path) -> Result<impl Iterator<Item = std::io::Result<fs::DirEntry>>> {
    match fs::read_dir(dir) {
        Ok(entries) => Ok(Some(entries).into_iter().flatten()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None.into_iter().flatten()),
        Err(e) => Err(unreadable("read dir", e)),
    }
}

/// An I/O error while checking for objects, kept as I/O: a path too long here is a
/// damaged drive, not a client's key that is too long.
fn unreadable(op: &'static str, source: std::io::Error) -> DriveError {
    DriveError::Io { op, source }
}
