//! Lifecycle rules applied to one key: which of its versions expire now
//! ([`plan`]), and when its current version will ([`expiry`], for `x-amz-expiration`).
//! Pure functions of the key's versions and the time; the scanner (`ilm.rs`) acts.
//!
//! As S3 has it:
//! - a current version expires `Days` after it was written, the time rounded up to the
//!   next day boundary (midnight UTC), or from `Date` on; expiring it removes the key
//!   in a bucket never versioned, and adds a delete marker in a versioned one;
//! - a noncurrent version expires `NoncurrentDays` after it became noncurrent (when
//!   the version after it was written), except the `NewerNoncurrentVersions` newest
//!   noncurrent versions, which are kept whatever their age;
//! - a delete marker that is its key's only version is removed when a rule says
//!   `ExpiredObjectDeleteMarker`, or (as MinIO does) when a `Days` expiration would have
//!   expired it;
//! - filters: key prefix, every tag of the filter on the version, size strictly between
//!   the bounds. Delete markers have no tags (a tag filter never matches them) and no
//!   size (size bounds do not apply to them).

pub use cairn_meta::{Expiry, Lifecycle, LifecycleRule, NoncurrentExpiry, RuleFilter};

use cairn_meta::ObjectVersion;
use std::collections::BTreeMap;
use uuid::Uuid;

/// Seconds in a lifecycle day, unless a test shortens it.
pub const DAY_SECS: i64 = 86_400;

/// The stored header holding an object's tags, URL-encoded (`k1=v1&k2=v2`), as the S3
/// front stores `x-amz-tagging`.
pub const TAGGING_HEADER: &str = "x-amz-tagging";

/// What the rules do to one version of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    /// The current version (written at this time) expires.
    ExpireCurrent { mod_time_unix_nanos: i64 },
    /// A noncurrent version (delete markers included) is removed for good.
    RemoveVersion { version_id: Option<Uuid> },
    /// The delete marker that is the key's only version is removed.
    RemoveMarker { version_id: Option<Uuid> },
}

/// The time `days` lifecycle days after `start_unix_nanos`, rounded up to a day boundary.
fn due_after(start_unix_nanos: i64, days: u32, day_secs: i64) -> i64 {
    assert!(day_secs > 0, "a lifecycle day lasts");
    let start = start_unix_nanos.div_euclid(1_000_000_000);
    let due = start.saturating_add(i64::from(days).saturating_mul(day_secs));
    due.div_euclid(day_secs).saturating_add(i64::from(due.rem_euclid(day_secs) != 0)).saturating_mul(day_secs)
}

/// When `expiry` expires a current version written at `mod_time_unix_nanos`.
fn due(expiry: Expiry, mod_time_unix_nanos: i64, day_secs: i64) -> i64 {
    match expiry {
        Expiry::Days(days) => due_after(mod_time_unix_nanos, days, day_secs),
        Expiry::Date(date) => date,
    }
}

/// The tags stored with a version.
pub(crate) fn tags_of(headers: &BTreeMap<String, String>) -> Vec<(String, String)> {
    headers
        .get(TAGGING_HEADER)
        .map(|value| form_urlencoded::parse(value.as_bytes()).into_owned().collect())
        .unwrap_or_default()
}

/// What a filter looks at in a version.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    pub size: u64,
    pub delete_marker: bool,
    /// Stored headers (the tags are among them).
    pub headers: &'a BTreeMap<String, String>,
    pub mod_time_unix_nanos: i64,
}

impl<'a> From<&'a ObjectVersion> for Subject<'a> {
    fn from(version: &'a ObjectVersion) -> Self {
        Self {
            size: version.size,
            delete_marker: version.delete_marker,
            headers: &version.headers,
            mod_time_unix_nanos: version.mod_time_unix_nanos,
        }
    }
}

/// Whether `filter` selects `version` of `key`.
fn selects(filter: &RuleFilter, key: &str, version: Subject<'_>) -> bool {
    if !key.starts_with(&filter.prefix) {
        return false;
    }
    if version.delete_marker {
        return filter.tags.is_empty();
    }
    let size = version.size;
    if filter.size_greater_than.is_some_and(|bound| size <= bound)
        || filter.size_less_than.is_some_and(|bound| size >= bound)
    {
        return false;
    }
    if filter.tags.is_empty() {
        return true;
    }
    let tags = tags_of(version.headers);
    filter.tags.iter().all(|wanted| tags.contains(wanted))
}

/// The enabled rules whose prefix covers `key`.
fn rules_for<'a, 'k>(lifecycle: &'a Lifecycle, key: &'k str) -> impl Iterator<Item = &'a LifecycleRule> + use<'a, 'k> {
    lifecycle.rules.iter().filter(move |rule| rule.enabled && key.starts_with(&rule.filter.prefix))
}

/// True when some enabled rule may act on keys under `key` (cheap test before a key's
/// versions are read).
pub(crate) fn covers(lifecycle: &Lifecycle, key: &str) -> bool {
    rules_for(lifecycle, key)
        .any(|rule| rule.expiration.is_some() || rule.expired_object_delete_marker || rule.noncurrent.is_some())
}

/// What the rules do now to the versions of `key` (`versions` newest first, as a read
/// quorum agrees on them).
pub(crate) fn plan(
    lifecycle: &Lifecycle,
    key: &str,
    versions: &[ObjectVersion],
    now_unix_secs: i64,
    day_secs: i64,
) -> Vec<Action> {
    let Some(current) = versions.first() else { return Vec::new() };
    let mut actions = Vec::new();
    let rules: Vec<&LifecycleRule> = rules_for(lifecycle, key).collect();
    if current.delete_marker {
        let lone = versions.len() == 1;
        let removes_marker = |rule: &&LifecycleRule| {
            let by_days = match rule.expiration {
                Some(expiry @ Expiry::Days(_)) => due(expiry, current.mod_time_unix_nanos, day_secs) <= now_unix_secs,
                _ => false,
            };
            selects(&rule.filter, key, current.into()) && (rule.expired_object_delete_marker || by_days)
        };
        if lone && rules.iter().any(removes_marker) {
            actions.push(Action::RemoveMarker { version_id: current.version_id });
        }
    } else {
        let expires = |rule: &&LifecycleRule| {
            rule.expiration.is_some_and(|expiry| due(expiry, current.mod_time_unix_nanos, day_secs) <= now_unix_secs)
                && selects(&rule.filter, key, current.into())
        };
        if rules.iter().any(expires) {
            actions.push(Action::ExpireCurrent { mod_time_unix_nanos: current.mod_time_unix_nanos });
        }
    }
    for rule in &rules {
        let Some(noncurrent) = rule.noncurrent else { continue };
        let mut kept = 0;
        for pair in versions.windows(2) {
            let (successor, version) = (&pair[0], &pair[1]);
            if !selects(&rule.filter, key, version.into()) {
                continue;
            }
            if noncurrent.newer_versions_kept.is_some_and(|keep| kept < keep) {
                kept += 1;
                continue;
            }
            let removal = Action::RemoveVersion { version_id: version.version_id };
            let old = due_after(successor.mod_time_unix_nanos, noncurrent.days, day_secs) <= now_unix_secs;
            if old && !actions.contains(&removal) {
                actions.push(removal);
            }
        }
    }
    actions
}

/// When the current version `version` of `key` expires (seconds since the Unix epoch),
/// and by which rule: the earliest of the rules that select it (None when none does).
pub fn expiry<'a>(lifecycle: &'a Lifecycle, key: &str, version: Subject<'_>, day_secs: i64) -> Option<(i64, &'a str)> {
    if version.delete_marker {
        return None;
    }
    rules_for(lifecycle, key)
        .filter(|rule| selects(&rule.filter, key, version))
        .filter_map(|rule| Some((due(rule.expiration?, version.mod_time_unix_nanos, day_secs), rule.id.as_str())))
        .min_by_key(|(due, _)| *due)
}

/// Whether an upload of `key` started at `initiated_unix_nanos` is aborted now, by
/// some rule's `AbortIncompleteMultipartUpload` (tags and sizes do not apply to uploads).
pub(crate) fn aborts_upload(
    lifecycle: &Lifecycle,
    key: &str,
    initiated_unix_nanos: i64,
    now_unix_secs: i64,
    day_secs: i64,
) -> bool {
    rules_for(lifecycle, key).any(|rule| {
        rule.abort_incomplete_upload_days
            .is_some_and(|days| due_after(initiated_unix_nanos, days, day_secs) <= now_unix_secs)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = DAY_SECS;
    const NANOS: i64 = 1_000_000_000;

    fn version(id: u128, written_secs: i64, size: u64) -> ObjectVersion {
        ObjectVersion {
            version_id: Some(Uuid::from_u128(id)),
            size,
            ..crate::list::tests::version(written_secs * NANOS)
        }
    }

    fn marker(id: u128, written_secs: i64) -> ObjectVersion {
        ObjectVersion { delete_marker: true, ..version(id, written_secs, 0) }
    }

    fn rule(prefix: &str) -> LifecycleRule {
        LifecycleRule {
            id: "r".into(),
            enabled: true,
            filter: RuleFilter { prefix: prefix.into(), ..RuleFilter::default() },
            ..LifecycleRule::default()
        }
    }

    fn lifecycle(rules: Vec<LifecycleRule>) -> Lifecycle {
        Lifecycle { rules }
    }

    #[test]
    fn days_round_up_to_the_next_midnight() {
        // Written 10:30 on day 100: one day later is 10:30 on day 101, rounded to day 102.
        let written = (100 * DAY + 37_800) * NANOS;
        assert_eq!(due_after(written, 1, DAY), 102 * DAY);
        assert_eq!(due_after(100 * DAY * NANOS, 1, DAY), 101 * DAY, "midnight stays midnight");
        assert_eq!(due_after(written, 0, DAY), 101 * DAY);
        assert_eq!(due_after(7 * NANOS, 2, 3), 15, "a test's short day rounds the same way");
    }

    #[test]
    fn a_current_version_expires_by_days_or_date_under_its_prefix() {
        let rules = lifecycle(vec![LifecycleRule { expiration: Some(Expiry::Days(7)), ..rule("temp/") }]);
        let versions = [version(1, 10 * DAY, 5)];
        assert!(plan(&rules, "temp/a", &versions, 16 * DAY, DAY).is_empty(), "six days old");
        let expired = plan(&rules, "temp/a", &versions, 17 * DAY, DAY);
        assert_eq!(expired, vec![Action::ExpireCurrent { mod_time_unix_nanos: 10 * DAY * NANOS }]);
        assert!(plan(&rules, "keep/a", &versions, 30 * DAY, DAY).is_empty(), "another prefix");
        let dated = lifecycle(vec![LifecycleRule { expiration: Some(Expiry::Date(20 * DAY)), ..rule("") }]);
        assert!(plan(&dated, "a", &versions, 20 * DAY - 1, DAY).is_empty());
        assert_eq!(plan(&dated, "a", &versions, 20 * DAY, DAY).len(), 1);
        let disabled = lifecycle(vec![LifecycleRule { enabled: false, ..rules.rules[0].clone() }]);
        assert!(plan(&disabled, "temp/a", &versions, 30 * DAY, DAY).is_empty(), "a disabled rule does nothing");
    }

    #[test]
    fn tags_and_sizes_select_versions() {
        let filter = RuleFilter {
            prefix: String::new(),
            tags: vec![("state".into(), "done".into())],
            size_greater_than: Some(10),
            size_less_than: Some(100),
        };
        let rules = lifecycle(vec![LifecycleRule { filter, expiration: Some(Expiry::Days(1)), ..rule("") }]);
        let mut tagged = version(1, 0, 50);
        tagged.headers.insert(TAGGING_HEADER.into(), "state=done&team=crm".into());
        assert_eq!(plan(&rules, "k", std::slice::from_ref(&tagged), 5 * DAY, DAY).len(), 1);
        let mut other_tag = tagged.clone();
        other_tag.headers.insert(TAGGING_HEADER.into(), "state=open".into());
        assert!(plan(&rules, "k", &[other_tag], 5 * DAY, DAY).is_empty());
        for size in [10, 100, 5] {
            let sized = ObjectVersion { size, ..tagged.clone() };
            assert!(plan(&rules, "k", &[sized], 5 * DAY, DAY).is_empty(), "size {size} is outside (10, 100)");
        }
    }

    #[test]
    fn noncurrent_versions_expire_after_they_were_replaced_keeping_the_newest() {
        let noncurrent = NoncurrentExpiry { days: 2, newer_versions_kept: Some(1) };
        let rules = lifecycle(vec![LifecycleRule { noncurrent: Some(noncurrent), ..rule("") }]);
        // Newest first: v4 current, v3 replaced on day 9, v2 on day 5, v1 on day 3.
        let versions = [version(4, 9 * DAY, 1), version(3, 5 * DAY, 1), version(2, 3 * DAY, 1), version(1, 0, 1)];
        let now = 8 * DAY;
        let removed = plan(&rules, "k", &versions, now, DAY);
        // v3 is the newest noncurrent one: kept. v2 (noncurrent since day 5) is due on day 7, v1 on day 5.
        let ids = |id: u128| Action::RemoveVersion { version_id: Some(Uuid::from_u128(id)) };
        assert_eq!(removed, vec![ids(2), ids(1)]);
        let unkept = lifecycle(vec![LifecycleRule {
            noncurrent: Some(NoncurrentExpiry { days: 2, newer_versions_kept: None }),
            ..rule("")
        }]);
        assert_eq!(plan(&unkept, "k", &versions, now, DAY), vec![ids(2), ids(1)], "v3 is due on day 11");
        assert_eq!(plan(&unkept, "k", &versions, 11 * DAY, DAY), vec![ids(3), ids(2), ids(1)]);
    }

    #[test]
    fn a_lone_delete_marker_is_removed_when_asked_for() {
        let asked = lifecycle(vec![LifecycleRule { expired_object_delete_marker: true, ..rule("") }]);
        let lone = [marker(2, DAY)];
        let removal = vec![Action::RemoveMarker { version_id: Some(Uuid::from_u128(2)) }];
        assert_eq!(plan(&asked, "k", &lone, DAY, DAY), removal);
        assert!(plan(&asked, "k", &[marker(2, DAY), version(1, 0, 1)], DAY, DAY).is_empty(), "not alone");
        let by_days = lifecycle(vec![LifecycleRule { expiration: Some(Expiry::Days(3)), ..rule("") }]);
        assert!(plan(&by_days, "k", &lone, 3 * DAY, DAY).is_empty());
        assert_eq!(plan(&by_days, "k", &lone, 4 * DAY, DAY), removal);
        let tagged = lifecycle(vec![LifecycleRule {
            expired_object_delete_marker: true,
            filter: RuleFilter { tags: vec![("a".into(), "b".into())], ..RuleFilter::default() },
            ..rule("")
        }]);
        assert!(plan(&tagged, "k", &lone, DAY, DAY).is_empty(), "markers have no tags");
    }

    #[test]
    fn the_earliest_expiry_is_announced() {
        let rules = lifecycle(vec![
            LifecycleRule { id: "late".into(), expiration: Some(Expiry::Days(30)), ..rule("") },
            LifecycleRule { id: "soon".into(), expiration: Some(Expiry::Days(2)), ..rule("a") },
            LifecycleRule { id: "none".into(), ..rule("") },
        ]);
        let written = version(1, 0, 1);
        assert_eq!(expiry(&rules, "a/x", (&written).into(), DAY), Some((2 * DAY, "soon")));
        assert_eq!(expiry(&rules, "b/x", (&written).into(), DAY), Some((30 * DAY, "late")));
        assert_eq!(expiry(&rules, "a/x", (&marker(2, 0)).into(), DAY), None);
    }

    #[test]
    fn uploads_are_aborted_days_after_they_started() {
        let rules = lifecycle(vec![LifecycleRule { abort_incomplete_upload_days: Some(1), ..rule("up/") }]);
        assert!(!aborts_upload(&rules, "up/a", 0, DAY - 1, DAY));
        assert!(aborts_upload(&rules, "up/a", 0, DAY, DAY));
        assert!(!aborts_upload(&rules, "other", 0, 9 * DAY, DAY));
    }
}
