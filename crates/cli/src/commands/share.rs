//! `cairn share download|upload`: presigned URLs that let someone without keys get
//! or put one object until they expire.

use crate::Context;
use crate::commands::find::parse_age;
use crate::error::{CliError, Result};
use crate::s3;
use aws_sdk_s3::presigning::PresigningConfig;
use serde_json::json;
use std::time::Duration;

/// Longest validity SigV4 presigning allows: 7 days.
const EXPIRY_MAX: Duration = Duration::from_secs(7 * 86_400);

/// Share subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum ShareCommand {
    /// A URL to download an object.
    Download(ShareArgs),
    /// A URL to upload an object (use it with `curl -T FILE URL`).
    Upload(ShareArgs),
}

/// Arguments of `cairn share`.
#[derive(Debug, clap::Args)]
pub struct ShareArgs {
    /// ALIAS/BUCKET/KEY.
    target: String,
    /// How long the URL works (e.g. 1h, 7d; at most 7d).
    #[arg(long, default_value = "7d", value_parser = parse_age)]
    expire: Duration,
}

pub(crate) async fn run(context: &Context, command: ShareCommand) -> Result<()> {
    let (args, upload) = match command {
        ShareCommand::Download(args) => (args, false),
        ShareCommand::Upload(args) => (args, true),
    };
    if args.expire > EXPIRY_MAX {
        return Err(CliError::Usage("--expire: at most 7d (the limit of SigV4 presigned URLs)".into()));
    }
    let remote = context.target(&args.target)?.remote("share")?;
    let bucket = remote.bucket()?;
    if remote.key.is_empty() || remote.key.ends_with('/') {
        return Err(CliError::Usage(format!("share {}: name one object", args.target)));
    }
    let client = context.client(&remote);
    let config = PresigningConfig::expires_in(args.expire).map_err(|e| CliError::Usage(format!("--expire: {e}")))?;
    let failed = |e: &dyn std::fmt::Display| CliError::Usage(format!("cannot presign {}: {e}", args.target));
    let presigned = if upload {
        client.put_object().bucket(bucket).key(&remote.key).presigned(config).await.map_err(|e| failed(&e))?
    } else {
        client.head_object().bucket(bucket).key(&remote.key).send().await.map_err(|e| s3::error(&args.target, e))?;
        client.get_object().bucket(bucket).key(&remote.key).presigned(config).await.map_err(|e| failed(&e))?
    };
    let url = presigned.uri().to_owned();
    let seconds = args.expire.as_secs();
    context.out.result(
        json!({"url": url, "method": if upload { "PUT" } else { "GET" }, "expirySeconds": seconds, "target": args.target}),
        || {
            if upload {
                format!("URL: {url}\nExpire: {seconds}s\nShare: curl -T <FILE> '{url}'")
            } else {
                format!("URL: {url}\nExpire: {seconds}s\nShare: {url}")
            }
        },
    );
    Ok(())
}
