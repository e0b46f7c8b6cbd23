//! The two ends of a copy, and the checks that keep a copy from destroying its own
//! source: a source and destination that are one file or object (`mv a ./a`), a
//! destination inside the folder or prefix being copied (which would never end), and
//! keys that cannot be a local path without colliding with another (`a//b`).

use crate::error::{CliError, Result};
use crate::target::Remote;
use std::path::{Component, Path, PathBuf};

/// One end of a single copy.
#[derive(Debug, Clone)]
pub(crate) enum Place {
    Local(PathBuf),
    Remote(Remote),
}

/// What is known of a source item before it is copied: its size and, for objects, the
/// ETag the copy must still find (so that an object replaced meanwhile is not copied
/// half old, half new).
#[derive(Debug, Clone, Default)]
pub(crate) struct Item {
    /// Size in bytes as listed.
    pub size: u64,
    /// The object's ETag without quotes, when known.
    pub etag: Option<String>,
}

impl Item {
    pub(crate) fn of(entry: &crate::walk::Entry) -> Item {
        Item { size: entry.size, etag: entry.etag.clone() }
    }
}

impl Place {
    pub(crate) fn display(&self) -> String {
        match self {
            Place::Local(path) => path.display().to_string(),
            Place::Remote(remote) => remote.display(),
        }
    }

    /// The place of `relative` below this folder or prefix.
    pub(crate) fn join(&self, relative: &str) -> Place {
        match self {
            Place::Local(path) => Place::Local(path.join(relative)),
            Place::Remote(remote) => Place::Remote(remote.with_key(format!("{}{relative}", folder_key(&remote.key)))),
        }
    }
}

/// A key as a folder: empty, or ending with '/'.
pub(crate) fn folder_key(key: &str) -> String {
    if key.is_empty() || key.ends_with('/') { key.to_owned() } else { format!("{key}/") }
}

/// An empty "folder" object (`key/`, as consoles make, or the listed prefix itself)
/// bound for a local folder: the folder appears with its files, and a file cannot be
/// named `key/`. A folder object that holds bytes is not a marker: it is reported.
pub(crate) fn is_folder_marker(key: &str, size: u64, destination: &Place) -> bool {
    (key.is_empty() || key.ends_with('/')) && size == 0 && matches!(destination, Place::Local(_))
}

/// Refuses a key that cannot become a path below a local folder without leaving it or
/// landing on the file of another key: `.` and `..` components, an absolute key, and
/// empty components (`a//b` would be the file of `a/b`; `a/` with bytes has no file name).
pub(crate) fn check_local_key(key: &str) -> Result<()> {
    if key.starts_with('/') || key.split('/').any(|part| part == ".." || part == ".") {
        return Err(CliError::Usage(format!("{key:?}: has '.' or '..' components; not copied to a local folder")));
    }
    if key.split('/').any(str::is_empty) {
        return Err(CliError::Usage(format!(
            "{key:?}: has an empty path component ('//' or a trailing '/'), so it has no file of its own \
             (it would overwrite the file of another key); not copied to a local folder"
        )));
    }
    Ok(())
}

/// `path` absolute, with symlinks resolved as far as it exists and the rest (`.`, `..`)
/// applied by name, so that two spellings of one place compare equal.
pub(crate) fn resolved(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    let mut existing = absolute.as_path();
    let mut rest = Vec::new();
    loop {
        if let Ok(real) = existing.canonicalize() {
            let mut out = real;
            for component in rest.iter().rev() {
                match component {
                    Component::ParentDir => {
                        out.pop();
                    }
                    Component::CurDir => {}
                    other => out.push(other.as_os_str()),
                }
            }
            return out;
        }
        match (existing.parent(), existing.components().next_back()) {
            (Some(parent), Some(last)) => {
                rest.push(last);
                existing = parent;
            }
            _ => return absolute,
        }
    }
}

/// Whether two remotes are on one endpoint with one key space.
fn same_endpoint(a: &Remote, b: &Remote) -> bool {
    a.alias.url.trim_end_matches('/') == b.alias.url.trim_end_matches('/') && a.bucket == b.bucket
}

/// Refuses a copy whose destination is its source: a move would delete what it just
/// "copied", and even a copy gains nothing.
pub(crate) fn check_not_same(source: &Place, destination: &Place) -> Result<()> {
    let same = match (source, destination) {
        (Place::Local(from), Place::Local(to)) => resolved(from) == resolved(to) || same_file(from, to),
        (Place::Remote(from), Place::Remote(to)) => same_endpoint(from, to) && from.key == to.key,
        _ => false,
    };
    if same {
        return Err(CliError::Usage(format!(
            "{} and {} are the same {}; nothing copied or removed",
            source.display(),
            destination.display(),
            if matches!(source, Place::Local(_)) { "file" } else { "object" }
        )));
    }
    Ok(())
}

/// Two paths to one existing file (a hard link, or a symlink to it).
#[cfg(unix)]
fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_file(_a: &Path, _b: &Path) -> bool {
    false
}

/// Whether folder or prefix `inner` is `outer` or below it.
fn within(inner: &Place, outer: &Place) -> bool {
    match (inner, outer) {
        (Place::Local(inner), Place::Local(outer)) => resolved(inner).starts_with(resolved(outer)),
        (Place::Remote(inner), Place::Remote(outer)) => {
            same_endpoint(inner, outer) && folder_key(&inner.key).starts_with(&folder_key(&outer.key))
        }
        _ => false,
    }
}

/// Refuses a recursive copy into the folder or prefix being copied: the listing would
/// meet the copies and never end. With `either_way` (mirror) a source inside the
/// target is refused too, since `--remove` would delete the source as a target extra.
pub(crate) fn check_not_nested(source: &Place, destination: &Place, either_way: bool) -> Result<()> {
    if within(destination, source) || (either_way && within(source, destination)) {
        return Err(CliError::Usage(format!(
            "{} and {} overlap (one is inside the other); copy to a place outside the source",
            source.display(),
            destination.display()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_that_are_not_a_file_of_their_own_are_refused() {
        for bad in ["a//b", "a/", "/a", "a/../b", "./a", "a/./b", ""] {
            assert!(check_local_key(bad).is_err(), "{bad:?}");
        }
        for good in ["a/b", "a", "a b/c.d", "...", "a/.hidden"] {
            assert!(check_local_key(good).is_ok(), "{good:?}");
        }
    }

    #[test]
    fn spellings_of_one_path_resolve_alike() {
        let dir = tempfile::tempdir().expect("dir");
        std::fs::write(dir.path().join("a"), b"1").expect("write");
        let plain = resolved(&dir.path().join("a"));
        assert_eq!(resolved(&dir.path().join("./a")), plain);
        assert_eq!(resolved(&dir.path().join("x/../a")), plain);
        assert_eq!(resolved(&dir.path().join("new/./b")), resolved(&dir.path().join("new/b")));
        let (source, inside) = (Place::Local(dir.path().into()), Place::Local(dir.path().join("new/sub")));
        assert!(check_not_nested(&source, &inside, false).is_err());
        assert!(check_not_nested(&inside, &source, false).is_ok());
        assert!(check_not_nested(&inside, &source, true).is_err());
    }
}
