//! `cairn version enable|suspend|info`: a bucket's versioning; and the listing of an
//! object's versions that `ls --versions` and `rm --versions` share.

use crate::Context;
use crate::commands::bucket_target;
use crate::error::{CliError, Result};
use crate::output::{human_bytes, rfc3339};
use crate::s3;
use crate::target::Remote;
use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
use serde_json::json;

/// Subcommands of `cairn version`.
#[derive(Debug, clap::Subcommand)]
pub enum VersionCommand {
    /// Keep every version of every object written from now on.
    Enable {
        /// ALIAS/BUCKET.
        target: String,
    },
    /// Stop keeping new versions (writes replace the `null` version; older versions stay).
    Suspend {
        /// ALIAS/BUCKET.
        target: String,
    },
    /// Show a bucket's versioning state.
    Info {
        /// ALIAS/BUCKET.
        target: String,
    },
}

pub(crate) async fn run(context: &Context, command: VersionCommand) -> Result<()> {
    match command {
        VersionCommand::Enable { target } => set(context, &target, BucketVersioningStatus::Enabled).await,
        VersionCommand::Suspend { target } => set(context, &target, BucketVersioningStatus::Suspended).await,
        VersionCommand::Info { target } => info(context, &target).await,
    }
}

async fn set(context: &Context, text: &str, status: BucketVersioningStatus) -> Result<()> {
    let remote = bucket_target(context, text, "version")?;
    let configuration = VersioningConfiguration::builder().status(status.clone()).build();
    let request = context.client(&remote).put_bucket_versioning().bucket(remote.bucket()?);
    request.versioning_configuration(configuration).send().await.map_err(|e| s3::error(text, e))?;
    let state = status.as_str().to_lowercase();
    context.out.result(json!({"bucket": text, "versioning": state}), || format!("Versioning is {state} for {text}."));
    Ok(())
}

async fn info(context: &Context, text: &str) -> Result<()> {
    let remote = bucket_target(context, text, "version info")?;
    let output = context.client(&remote).get_bucket_versioning().bucket(remote.bucket()?).send().await;
    let output = output.map_err(|e| s3::error(text, e))?;
    let state = output.status().map_or_else(|| "unversioned".to_owned(), |s| s.as_str().to_lowercase());
    context.out.result(json!({"bucket": text, "versioning": state}), || format!("{text}: versioning is {state}."));
    Ok(())
}

/// One version as listed.
#[derive(Debug, Clone)]
pub(crate) struct ListedVersion {
    pub(crate) key: String,
    pub(crate) version_id: String,
    pub(crate) is_latest: bool,
    pub(crate) delete_marker: bool,
    pub(crate) size: u64,
    pub(crate) modified: Option<std::time::SystemTime>,
}

/// Every version of every key under `prefix` (grouped by `delimiter`, whose common
/// prefixes come back as the second list), page by page through `each`.
pub(crate) async fn each_version(
    context: &Context,
    remote: &Remote,
    prefix: &str,
    delimiter: Option<&str>,
    mut each: impl FnMut(Vec<ListedVersion>, Vec<String>) -> Result<()>,
) -> Result<()> {
    let client = context.client(remote);
    let (mut key_marker, mut version_marker): (Option<String>, Option<String>) = (None, None);
    loop {
        let request = client
            .list_object_versions()
            .bucket(remote.bucket()?)
            .prefix(prefix)
            .set_delimiter(delimiter.map(str::to_owned))
            .set_key_marker(key_marker.take())
            .set_version_id_marker(version_marker.take());
        let page = request.send().await.map_err(|e| s3::error(&remote.display(), e))?;
        let time = |t: Option<&aws_smithy_types::DateTime>| t.and_then(|t| std::time::SystemTime::try_from(*t).ok());
        let mut listed: Vec<ListedVersion> = page
            .versions()
            .iter()
            .map(|v| ListedVersion {
                key: v.key().unwrap_or_default().to_owned(),
                version_id: v.version_id().unwrap_or("null").to_owned(),
                is_latest: v.is_latest().unwrap_or(false),
                delete_marker: false,
                size: v.size().unwrap_or_default().max(0) as u64,
                modified: time(v.last_modified()),
            })
            .collect();
        listed.extend(page.delete_markers().iter().map(|m| ListedVersion {
            key: m.key().unwrap_or_default().to_owned(),
            version_id: m.version_id().unwrap_or("null").to_owned(),
            is_latest: m.is_latest().unwrap_or(false),
            delete_marker: true,
            size: 0,
            modified: time(m.last_modified()),
        }));
        // The two lists of a page, merged back into S3's order: by key, newest first.
        listed.sort_by(|a, b| a.key.cmp(&b.key).then(b.modified.cmp(&a.modified)));
        let prefixes = page.common_prefixes().iter().filter_map(|p| p.prefix().map(str::to_owned)).collect();
        each(listed, prefixes)?;
        if !page.is_truncated().unwrap_or(false) {
            return Ok(());
        }
        key_marker = page.next_key_marker().map(str::to_owned);
        version_marker = page.next_version_id_marker().map(str::to_owned);
        if key_marker.is_none() {
            return Err(CliError::Remote(format!(
                "{}: a truncated version listing without a marker",
                remote.display()
            )));
        }
    }
}

/// Prints one version as `ls --versions` shows it.
pub(crate) fn print_version(context: &Context, version: &ListedVersion) {
    let modified = version.modified.map(rfc3339);
    context.out.result(
        json!({"type": if version.delete_marker { "deleteMarker" } else { "version" }, "key": version.key,
               "versionId": version.version_id, "isLatest": version.is_latest, "size": version.size,
               "lastModified": modified}),
        || {
            let when = modified.as_deref().map_or(String::new(), |m| format!("[{m}]"));
            let kind = if version.delete_marker { "DEL" } else { "PUT" };
            let latest = if version.is_latest { " (latest)" } else { "" };
            format!(
                "{when:<22} {:>10} {} {kind} {}{latest}",
                human_bytes(version.size),
                version.version_id,
                version.key
            )
        },
    );
}
