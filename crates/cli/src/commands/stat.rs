//! `cairn stat`: an object's metadata, a bucket's, or a local file's.

use crate::Context;
use crate::error::{CliError, Result};
use crate::output::{human_bytes, rfc3339};
use crate::s3;
use crate::target::Target;
use serde_json::json;

/// Arguments of `cairn stat`.
#[derive(Debug, clap::Args)]
pub struct StatArgs {
    /// ALIAS/BUCKET[/KEY] or local paths.
    #[arg(required = true)]
    targets: Vec<String>,
    /// Describe this version of the object (`null` for the null version).
    #[arg(long = "version-id", visible_alias = "vid")]
    version_id: Option<String>,
}

pub(crate) async fn run(context: &Context, args: StatArgs) -> Result<()> {
    let version = args.version_id.as_deref();
    super::each(context, &args.targets, |text| stat_one(context, text, version)).await
}

async fn stat_one(context: &Context, text: &str, version: Option<&str>) -> Result<()> {
    match context.target(text)? {
        Target::Local(path) => {
            let meta = std::fs::metadata(&path).map_err(|e| CliError::io(&path, e))?;
            let modified = meta.modified().ok().map(rfc3339);
            let kind = if meta.is_dir() { "folder" } else { "file" };
            context.out.result(
                json!({"name": text, "type": kind, "size": meta.len(), "lastModified": modified}),
                || {
                    format!(
                        "Name      : {text}\nType      : {kind}\nSize      : {}\nDate      : {}",
                        human_bytes(meta.len()),
                        modified.as_deref().unwrap_or("-")
                    )
                },
            );
        }
        Target::Remote(remote) if remote.key.is_empty() => {
            let bucket = remote.bucket()?;
            let client = context.client(&remote);
            client.head_bucket().bucket(bucket).send().await.map_err(|e| s3::error(text, e))?;
            let location = client.get_bucket_location().bucket(bucket).send().await.ok();
            let region = location
                .and_then(|l| l.location_constraint().map(|c| c.as_str().to_owned()))
                .filter(|r| !r.is_empty())
                .unwrap_or_else(|| remote.alias.region.clone());
            context.out.result(json!({"name": bucket, "type": "bucket", "region": region}), || {
                format!("Name      : {bucket}\nType      : bucket\nRegion    : {region}")
            });
        }
        Target::Remote(remote) => {
            let head = context
                .client(&remote)
                .head_object()
                .bucket(remote.bucket()?)
                .key(&remote.key)
                .set_version_id(version.map(str::to_owned))
                .send()
                .await
                .map_err(|e| s3::error(text, e))?;
            let size = head.content_length().unwrap_or_default().max(0) as u64;
            let modified = head.last_modified().and_then(|t| std::time::SystemTime::try_from(*t).ok()).map(rfc3339);
            let etag = head.e_tag().unwrap_or_default().trim_matches('"').to_owned();
            let content_type = head.content_type().unwrap_or_default().to_owned();
            let metadata = head.metadata().cloned().unwrap_or_default();
            let version_id = head.version_id().map(str::to_owned);
            let encryption = match (head.server_side_encryption(), head.sse_customer_algorithm()) {
                (Some(_), _) => Some("SSE-S3"),
                (None, Some(_)) => Some("SSE-C"),
                (None, None) => None,
            };
            context.out.result(
                json!({"name": remote.key, "type": "file", "size": size, "lastModified": modified, "etag": etag,
                       "contentType": content_type, "metadata": metadata, "versionId": version_id,
                       "encryption": encryption}),
                || {
                    let mut text = format!(
                        "Name      : {}\nDate      : {}\nSize      : {} ({size} bytes)\nETag      : {etag}\nType      : file\nContent-Type: {content_type}",
                        remote.key,
                        modified.as_deref().unwrap_or("-"),
                        human_bytes(size)
                    );
                    if let Some(version_id) = &version_id {
                        text.push_str(&format!("\nVersionID : {version_id}"));
                    }
                    if let Some(encryption) = encryption {
                        text.push_str(&format!("\nEncryption: {encryption}"));
                    }
                    for (name, value) in &metadata {
                        text.push_str(&format!("\nMetadata  : {name}: {value}"));
                    }
                    text
                },
            );
        }
    }
    Ok(())
}
