//! Turning volumes and object keys into paths under a drive root, safely.
//!
//! Every key is validated before it touches a path: no `.`/`..` or empty
//! segment, no NUL, no segment that collides with Cairn's own files, and nothing
//! longer than S3 or the filesystem allows. A key ending in `/` (a "folder"
//! object) is stored in a directory whose last segment carries
//! [`DIR_OBJECT_SUFFIX`], so that `a/` and `a` can both exist.

use crate::error::DriveError;
use std::path::{Component, Path, PathBuf};

/// Name of the system volume that holds format, staging, multipart and bucket metadata.
pub const SYSTEM_VOLUME: &str = ".cairn.sys";
/// Name of the per-object metadata file inside an object's directory.
pub const META_FILE_NAME: &str = "xl.meta";
/// Suffix marking the directory of a key that ends in `/`.
pub const DIR_OBJECT_SUFFIX: &str = "__XLDIR__";
/// Suffix of a data directory's name (`<uuid>__XLDATA__`): no key segment may end
/// in it, so a data directory can never be mistaken for a key and vice versa.
pub const DATA_DIR_SUFFIX: &str = "__XLDATA__";
/// Longest key S3 accepts, in bytes.
pub const KEY_BYTES_MAX: usize = 1024;
/// Longest file name the filesystems we support accept, in bytes.
pub const SEGMENT_BYTES_MAX: usize = 255;

/// Checks that `key` can be stored and returns its path segments (relative to the bucket directory).
pub fn validate_key(key: &str) -> Result<Vec<String>, DriveError> {
    if key.is_empty() {
        return Err(DriveError::InvalidKey("empty key"));
    }
    if key.len() > KEY_BYTES_MAX {
        return Err(DriveError::KeyTooLong);
    }
    if key.contains('\0') {
        return Err(DriveError::InvalidKey("key contains NUL"));
    }
    let (body, is_dir_object) = match key.strip_suffix('/') {
        Some(body) => (body, true),
        None => (key, false),
    };
    let mut segments: Vec<String> = Vec::new();
    for segment in body.split('/') {
        if segment.is_empty() {
            return Err(DriveError::InvalidKey("key has an empty path segment (leading '/' or '//')"));
        }
        if segment == "." || segment == ".." {
            return Err(DriveError::InvalidKey("key has a '.' or '..' path segment"));
        }
        if segment == META_FILE_NAME || segment.ends_with(DIR_OBJECT_SUFFIX) || segment.ends_with(DATA_DIR_SUFFIX) {
            return Err(DriveError::InvalidKey("key has a path segment reserved by the server"));
        }
        segments.push(segment.to_owned());
    }
    if is_dir_object {
        let last = segments.last_mut().expect("split yields at least one segment");
        last.push_str(DIR_OBJECT_SUFFIX);
    }
    if segments.iter().any(|s| s.len() > SEGMENT_BYTES_MAX) {
        return Err(DriveError::KeyTooLong);
    }
    Ok(segments)
}

/// The directory name of data directory `id` inside an object's directory.
pub(crate) fn data_dir_name(id: uuid::Uuid) -> String {
    format!("{id}{DATA_DIR_SUFFIX}")
}

/// Turns one directory name found on disk back into the key segment it stores,
/// with a trailing `/` for folder objects.
pub(crate) fn decode_segment(name: &str) -> String {
    match name.strip_suffix(DIR_OBJECT_SUFFIX) {
        Some(base) => format!("{base}/"),
        None => name.to_owned(),
    }
}

/// Checks a volume name: bucket names (already validated by the S3 front) or the system volume.
pub(crate) fn validate_volume(volume: &str) -> Result<(), DriveError> {
    if volume == SYSTEM_VOLUME {
        return Ok(());
    }
    let allowed = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.';
    let ok = !volume.is_empty()
        && volume.len() <= SEGMENT_BYTES_MAX
        && !volume.starts_with('.')
        && volume.bytes().all(allowed);
    if ok { Ok(()) } else { Err(DriveError::InvalidKey("invalid volume name")) }
}

/// Checks a path inside the system volume built by Cairn itself (upload ids, uuids):
/// relative, only normal components.
pub fn validate_sys_path(path: &str) -> Result<(), DriveError> {
    let relative = Path::new(path);
    let normal =
        !path.is_empty() && !path.contains('\0') && relative.components().all(|c| matches!(c, Component::Normal(_)));
    if normal { Ok(()) } else { Err(DriveError::InvalidKey("invalid system path")) }
}

/// The directory that holds `key`'s metadata and data in `volume` under `root`.
pub(crate) fn object_dir(root: &Path, volume: &str, key: &str) -> Result<PathBuf, DriveError> {
    validate_volume(volume)?;
    let mut path = root.join(volume);
    for segment in validate_key(key)? {
        path.push(segment);
    }
    assert!(path.starts_with(root.join(volume)), "validated key escaped its volume");
    Ok(path)
}

/// The key whose folder is `dir` below `volume_dir` (the inverse of [`object_dir`]),
/// if `dir` is a folder a key can have.
pub(crate) fn key_of_folder(volume_dir: &Path, dir: &Path) -> Option<String> {
    let relative = dir.strip_prefix(volume_dir).ok()?;
    let mut segments = relative.iter().map(|s| s.to_str().map(str::to_owned)).collect::<Option<Vec<_>>>()?;
    let last = segments.pop()?;
    segments.push(decode_segment(&last));
    Some(segments.join("/"))
}

/// A path inside the system volume under `root`.
pub(crate) fn sys_path(root: &Path, relative: &str) -> Result<PathBuf, DriveError> {
    validate_sys_path(relative)?;
    Ok(root.join(SYSTEM_VOLUME).join(relative))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn hostile_keys_are_refused() {
        for key in ["", "../etc/passwd", "a/../../b", "a//b", "/abs", "a/./b", "a\0b", "a/xl.meta", "x__XLDIR__/y"] {
            assert!(validate_key(key).is_err(), "{key:?} should be refused");
        }
        assert!(matches!(validate_key(&"k".repeat(1025)), Err(DriveError::KeyTooLong)));
        assert!(matches!(validate_key(&"k".repeat(256)), Err(DriveError::KeyTooLong)));
    }

    #[test]
    fn ordinary_keys_are_accepted() {
        assert_eq!(validate_key("a/b/c.txt").expect("valid"), vec!["a", "b", "c.txt"]);
        assert_eq!(validate_key("folder/").expect("valid"), vec!["folder__XLDIR__"]);
        assert_eq!(validate_key("日本/ü ñ.txt").expect("valid").len(), 2);
        assert_eq!(validate_key("back\\slash").expect("valid"), vec!["back\\slash"]);
        assert_eq!(decode_segment("folder__XLDIR__"), "folder/");
    }

    #[test]
    fn volumes_are_checked() {
        assert!(validate_volume("crm-documents").is_ok());
        assert!(validate_volume(SYSTEM_VOLUME).is_ok());
        for bad in ["", "..", ".hidden", "a/b", "UPPER"] {
            assert!(validate_volume(bad).is_err(), "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn object_dir_never_escapes_the_volume(key in "\\PC{0,40}", parts in proptest::collection::vec("(\\.\\.|\\.|[a-z]{0,3}|/|\\\\)", 0..8)) {
            let root = Path::new("/drive");
            let candidate = format!("{key}{}", parts.concat());
            if let Ok(path) = object_dir(root, "bucket", &candidate) {
                prop_assert!(path.starts_with("/drive/bucket/"));
                prop_assert!(path.components().all(|c| matches!(c, Component::RootDir | Component::Normal(_))));
                prop_assert!(path.components().count() >= 4);
            }
        }
    }
}
