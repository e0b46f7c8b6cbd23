//! Reducing per-drive answers to one answer: which version a quorum of drives
//! agrees on, and which error to report when none does.

use crate::config::Layout;
use crate::{ObjectError, Result};
use cairn_drive::DriveError;
use cairn_meta::{ObjectMeta, ObjectVersion};

/// Two drives hold the same version when these fields agree.
pub(crate) fn same_version(a: &ObjectVersion, b: &ObjectVersion) -> bool {
    a.mod_time_unix_nanos == b.mod_time_unix_nanos
        && a.etag == b.etag
        && a.data_dir == b.data_dir
        && a.size == b.size
        && a.version_id == b.version_id
}

/// Picks the newest latest-version that at least `quorum` drives hold.
/// `metas[d]` is drive d's answer. Returns the chosen version (as drive-neutral
/// metadata from one holder) and, per drive, whether it holds that version.
pub(crate) fn pick_version(
    metas: &[std::result::Result<ObjectMeta, DriveError>],
    layout: &Layout,
) -> Result<(ObjectVersion, Vec<bool>)> {
    let latest: Vec<Option<&ObjectVersion>> =
        metas.iter().map(|m| m.as_ref().ok().and_then(ObjectMeta::latest)).collect();
    let newest = newest_with_quorum(&latest, layout.read_quorum(), same_version, |v| v.mod_time_unix_nanos);
    match newest {
        Some((chosen, holders)) => Ok((latest[chosen].expect("a holder has a version").clone(), holders)),
        None => Err(no_quorum_error(metas, layout.write_quorum())),
    }
}

/// Of the versions drives hold (`latest[d]`, None for a drive with none), the newest
/// that at least `quorum` drives hold: the index of one drive holding it and, per
/// drive, whether it does.
pub(crate) fn newest_with_quorum<V>(
    latest: &[Option<&V>],
    quorum: usize,
    same: impl Fn(&V, &V) -> bool,
    mod_time: impl Fn(&V) -> i64,
) -> Option<(usize, Vec<bool>)> {
    let mut best: Option<(usize, Vec<bool>)> = None;
    for (d, candidate) in latest.iter().enumerate() {
        let Some(candidate) = candidate else { continue };
        let holders: Vec<bool> = latest.iter().map(|v| v.is_some_and(|v| same(v, candidate))).collect();
        if holders.iter().filter(|h| **h).count() < quorum {
            continue;
        }
        let newer = best
            .as_ref()
            .is_none_or(|(b, _)| mod_time(candidate) > mod_time(latest[*b].expect("the best has a version")));
        if newer {
            best = Some((d, holders));
        }
    }
    best
}

/// What each drive answered, compactly (`v<mod time>` for its latest version, or the
/// error), for the log line of a read that found no quorum: which drives disagreed or
/// were unreachable is what an operator needs to tell a lost quorum from a bug.
pub(crate) fn describe_answers(metas: &[std::result::Result<ObjectMeta, DriveError>]) -> String {
    let answers: Vec<String> = metas
        .iter()
        .map(|meta| match meta {
            Ok(meta) => {
                meta.latest().map_or_else(|| "no version".to_owned(), |v| format!("v{}", v.mod_time_unix_nanos))
            }
            Err(error) => error.to_string(),
        })
        .collect();
    answers.join(" | ")
}

/// The error to report when no version reaches quorum.
fn no_quorum_error(metas: &[std::result::Result<ObjectMeta, DriveError>], quorum: usize) -> ObjectError {
    let not_found = metas.iter().filter(|m| matches!(m, Err(e) if e.is_not_found())).count();
    let bucket_missing = metas.iter().filter(|m| matches!(m, Err(DriveError::VolumeNotFound))).count();
    // If too many drives positively lack the object for any quorum to exist, it does not
    // exist. (Callers may pass fewer answers than a quorum, e.g. a listing's walks.)
    let spare = metas.len().saturating_sub(quorum);
    if bucket_missing > spare {
        return ObjectError::BucketNotFound;
    }
    if not_found > spare || metas.iter().all(|m| m.is_ok() || matches!(m, Err(e) if e.is_not_found())) {
        return ObjectError::ObjectNotFound;
    }
    ObjectError::ReadQuorum
}

/// Reduces per-drive results of a write-like operation: Ok when at least `quorum`
/// succeeded, else the most telling error.
pub(crate) fn reduce_write<T>(results: &[std::result::Result<T, DriveError>], quorum: usize) -> Result<()> {
    let succeeded = results.iter().filter(|r| r.is_ok()).count();
    if succeeded >= quorum {
        return Ok(());
    }
    Err(reduce_errors(results.iter().filter_map(|r| r.as_ref().err()), succeeded, quorum))
}

/// Picks the error to report from drive errors of a write: a missing bucket, a full
/// drive or an invalid key wins over a generic quorum failure. A missing file never
/// becomes "no such key" here: on a write it means a drive failed, not that the
/// object is absent.
pub(crate) fn reduce_errors<'a>(
    errors: impl Iterator<Item = &'a DriveError>,
    succeeded: usize,
    quorum: usize,
) -> ObjectError {
    let errors: Vec<&DriveError> = errors.collect();
    let count = |f: fn(&DriveError) -> bool| errors.iter().filter(|e| f(e)).count();
    let threshold = quorum.saturating_sub(succeeded).max(1);
    if count(|e| matches!(e, DriveError::VolumeNotFound)) >= threshold {
        return ObjectError::BucketNotFound;
    }
    if count(|e| matches!(e, DriveError::DiskFull)) >= 1 {
        return ObjectError::StorageFull;
    }
    if let Some(DriveError::InvalidKey(why)) = errors.iter().find(|e| matches!(e, DriveError::InvalidKey(_))) {
        return ObjectError::InvalidKey(why);
    }
    if errors.iter().any(|e| matches!(e, DriveError::KeyTooLong)) {
        return ObjectError::KeyTooLong;
    }
    ObjectError::WriteQuorum { succeeded, needed: quorum }
}
