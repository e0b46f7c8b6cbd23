//! The versions of one object, as its details page lists them.

use crate::templates::bytes;

/// Most versions of one object the details page shows.
const VERSIONS_SHOWN_MAX: i32 = 100;

/// One version or delete marker in the details page's table.
pub(crate) struct VersionRow {
    pub(crate) id: String,
    pub(crate) modified: String,
    /// Empty for a delete marker.
    pub(crate) size: String,
    /// `current`, `older` or `delete marker`.
    pub(crate) kind: &'static str,
    /// For the order, newest first.
    when: Option<aws_smithy_types::DateTime>,
}

/// The object's versions and delete markers, newest first; empty when they cannot be
/// listed.
pub(crate) async fn versions_of(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Vec<VersionRow> {
    let listed = s3.list_object_versions().bucket(bucket).prefix(key).max_keys(VERSIONS_SHOWN_MAX).send().await;
    let Ok(page) = listed else { return Vec::new() };
    let date = |when: Option<&aws_smithy_types::DateTime>| when.map(|d| d.to_string()).unwrap_or_default();
    let mut rows: Vec<VersionRow> = page
        .versions()
        .iter()
        .filter(|v| v.key() == Some(key))
        .map(|v| VersionRow {
            id: v.version_id().unwrap_or("null").to_owned(),
            modified: date(v.last_modified()),
            size: bytes(v.size().unwrap_or_default().max(0) as u64),
            kind: if v.is_latest() == Some(true) { "current" } else { "older" },
            when: v.last_modified().copied(),
        })
        .collect();
    rows.extend(page.delete_markers().iter().filter(|m| m.key() == Some(key)).map(|m| VersionRow {
        id: m.version_id().unwrap_or("null").to_owned(),
        modified: date(m.last_modified()),
        size: String::new(),
        kind: "delete marker",
        when: m.last_modified().copied(),
    }));
    rows.sort_by_key(|row| std::cmp::Reverse(row.when));
    rows
}
