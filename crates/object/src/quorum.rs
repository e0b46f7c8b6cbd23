//! Reducing per-drive answers to one answer: which version a quorum of drives
//! agrees on, and which error to report when none does.

use crate::config::Layout;
use crate::types::VersionRef;
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
/// metadata from the holder with the newest metadata: a change of tags reached every
/// read quorum once acknowledged) and, per drive, whether it holds that version's data
/// (a holder with older metadata still serves the same bytes).
pub(crate) fn pick_version(
    metas: &[std::result::Result<ObjectMeta, DriveError>],
    layout: &Layout,
) -> Result<(ObjectVersion, Vec<bool>)> {
    pick_version_at(metas, layout, VersionRef::Latest)
}

/// [`pick_version`] for the version `at` names: the newest one, or the one with a given
/// id (each drive's copy of it, wherever it stands in the drive's list). A key that
/// exists without that id is `VersionNotFound`.
pub(crate) fn pick_version_at(
    metas: &[std::result::Result<ObjectMeta, DriveError>],
    layout: &Layout,
    at: VersionRef,
) -> Result<(ObjectVersion, Vec<bool>)> {
    let candidates: Vec<Option<&ObjectVersion>> = metas
        .iter()
        .map(|m| {
            let meta = m.as_ref().ok()?;
            match at {
                VersionRef::Latest => meta.latest(),
                VersionRef::Exact(id) => meta.find(id),
            }
        })
        .collect();
    let newest = newest_with_quorum(&candidates, layout.read_quorum(), same_version, |v| (v.mod_time_unix_nanos, 0));
    match newest {
        Some((_, holders)) => {
            let freshest = candidates
                .iter()
                .zip(&holders)
                .filter(|(_, holds)| **holds)
                .filter_map(|(version, _)| *version)
                .max_by_key(|version| version.meta_updated_unix_nanos)
                .expect("a chosen version has holders");
            Ok((freshest.clone(), holders))
        }
        None => match no_quorum_error(metas, layout.write_quorum()) {
            // A version asked for by id that no quorum holds, whether the key is there or not.
            ObjectError::ObjectNotFound if matches!(at, VersionRef::Exact(_)) => Err(ObjectError::VersionNotFound),
            error => Err(error),
        },
    }
}

/// Every version of the key that at least a read quorum of drives holds (the same
/// version: see [`same_version`]), newest first, each as the holder with the newest
/// metadata has it, with per drive whether it holds it. Empty when none does.
pub(crate) fn agreed_versions(
    metas: &[std::result::Result<ObjectMeta, DriveError>],
    layout: &Layout,
) -> Vec<(ObjectVersion, Vec<bool>)> {
    let mut agreed: Vec<(ObjectVersion, Vec<bool>)> = Vec::new();
    for meta in metas.iter().flatten() {
        for version in &meta.versions {
            if agreed.iter().any(|(known, _)| same_version(known, version)) {
                continue;
            }
            let copies: Vec<Option<&ObjectVersion>> = metas
                .iter()
                .map(|m| m.as_ref().ok().and_then(|m| m.versions.iter().find(|v| same_version(v, version))))
                .collect();
            let holders: Vec<bool> = copies.iter().map(Option::is_some).collect();
            if holders.iter().filter(|h| **h).count() < layout.read_quorum() {
                continue;
            }
            let freshest = copies.iter().flatten().max_by_key(|v| v.meta_updated_unix_nanos).expect("held");
            agreed.push(((*freshest).clone(), holders));
        }
    }
    agreed.sort_by_key(|(version, _)| std::cmp::Reverse(version.mod_time_unix_nanos));
    agreed
}

/// A drive's copy of `version` (its shard index and inline frame), wherever the version
/// stands in the drive's list.
pub(crate) fn copy_of<'a>(
    meta: &'a std::result::Result<ObjectMeta, DriveError>,
    version: &ObjectVersion,
) -> Option<&'a ObjectVersion> {
    meta.as_ref().ok()?.versions.iter().find(|v| same_version(v, version))
}

/// Per drive: whether it holds `version`'s data with older metadata (it missed a change
/// of tags), and needs only its metadata rewritten.
pub(crate) fn stale_meta(metas: &[std::result::Result<ObjectMeta, DriveError>], version: &ObjectVersion) -> Vec<bool> {
    metas
        .iter()
        .map(|meta| {
            copy_of(meta, version).is_some_and(|held| held.meta_updated_unix_nanos < version.meta_updated_unix_nanos)
        })
        .collect()
}

/// Of the versions drives hold (`latest[d]`, None for a drive with none), the newest
/// (by `age`: modification time, then metadata stamp) that at least `quorum` drives
/// hold: the index of one drive holding it and, per drive, whether it does.
pub(crate) fn newest_with_quorum<V>(
    latest: &[Option<&V>],
    quorum: usize,
    same: impl Fn(&V, &V) -> bool,
    age: impl Fn(&V) -> (i64, i64),
) -> Option<(usize, Vec<bool>)> {
    let mut best: Option<(usize, Vec<bool>)> = None;
    for (d, candidate) in latest.iter().enumerate() {
        let Some(candidate) = candidate else { continue };
        let holders: Vec<bool> = latest.iter().map(|v| v.is_some_and(|v| same(v, candidate))).collect();
        if holders.iter().filter(|h| **h).count() < quorum {
            continue;
        }
        let newer =
            best.as_ref().is_none_or(|(b, _)| age(candidate) > age(latest[*b].expect("the best has a version")));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::list::tests::{six_drives, version};

    /// A version with its metadata changed at `stamp`, and other tags.
    fn retagged(stamp: i64) -> ObjectVersion {
        let mut changed = version(10);
        changed.meta_updated_unix_nanos = stamp;
        changed.headers.insert("x-amz-tagging".into(), format!("stamp={stamp}"));
        changed
    }

    #[test]
    fn the_newest_metadata_among_the_holders_is_read_and_the_others_are_stale() {
        // Four drives took a change of tags, one missed it, one is down.
        let mut metas: Vec<std::result::Result<ObjectMeta, DriveError>> =
            (0..4).map(|_| Ok(ObjectMeta::single(retagged(7)))).collect();
        metas.insert(1, Ok(ObjectMeta::single(version(10))));
        metas.push(Err(DriveError::Offline("down".into())));
        let (picked, holders) = pick_version(&metas, &six_drives()).expect("a quorum");
        assert_eq!(picked.meta_updated_unix_nanos, 7);
        assert_eq!(picked.headers.get("x-amz-tagging").map(String::as_str), Some("stamp=7"));
        assert_eq!(holders, [true, true, true, true, true, false], "the stale drive still holds the data");
        assert_eq!(stale_meta(&metas, &picked), [false, true, false, false, false, false]);
    }

    #[test]
    fn metadata_changes_do_not_make_another_version() {
        assert!(same_version(&version(10), &retagged(7)));
        let (old, new) = (ObjectMeta::single(version(10)), ObjectMeta::single(retagged(7)));
        assert_ne!(old.latest_identity(), new.latest_identity(), "a listing tells them apart");
    }

    #[test]
    fn every_version_a_read_quorum_holds_is_agreed_newest_first() {
        // Six drives (read quorum 3): v20 on all, v10 on four, a marker v30 on three, v5 on two.
        let mut marker = version(30);
        marker.delete_marker = true;
        let lists: [Vec<ObjectVersion>; 6] = [
            vec![marker.clone(), version(20), version(10), version(5)],
            vec![marker.clone(), version(20), version(10), version(5)],
            vec![marker, version(20), version(10)],
            vec![version(20), version(10)],
            vec![version(20)],
            vec![version(20)],
        ];
        let metas: Vec<std::result::Result<ObjectMeta, DriveError>> =
            lists.into_iter().map(|versions| Ok(ObjectMeta { versions })).collect();
        let agreed = agreed_versions(&metas, &six_drives());
        let times: Vec<i64> = agreed.iter().map(|(v, _)| v.mod_time_unix_nanos).collect();
        assert_eq!(times, [30, 20, 10], "v5 is on too few drives");
        assert!(agreed[0].0.delete_marker);
        assert_eq!(agreed[2].1, [true, true, true, true, false, false]);
        let newest = pick_version(&metas, &six_drives()).expect("a quorum");
        assert!(newest.0.delete_marker, "the marker is the newest version a quorum holds");
        let at = |id| pick_version_at(&metas, &six_drives(), VersionRef::Exact(id));
        assert!(matches!(at(Some(uuid::Uuid::from_u128(1))), Err(ObjectError::VersionNotFound)));
    }
}
