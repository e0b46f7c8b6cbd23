//! `cairn mb` and `cairn rb`.

use crate::Context;
use crate::error::{CliError, Result};
use crate::s3;
use aws_sdk_s3::error::ProvideErrorMetadata;
use serde_json::json;

/// Arguments of `cairn mb`.
#[derive(Debug, clap::Args)]
pub struct MbArgs {
    /// ALIAS/BUCKET to make (several may be given).
    #[arg(required = true)]
    targets: Vec<String>,
    /// Succeed if the bucket already exists (and is yours).
    #[arg(long, short = 'p')]
    ignore_existing: bool,
    /// Create it with object lock (and versioning) on; it cannot be turned off.
    #[arg(long = "with-lock", short = 'l')]
    with_lock: bool,
}

/// Arguments of `cairn rb`.
#[derive(Debug, clap::Args)]
pub struct RbArgs {
    /// ALIAS/BUCKET to remove (several may be given).
    #[arg(required = true)]
    targets: Vec<String>,
    /// Remove every object first (the bucket need not be empty).
    #[arg(long)]
    force: bool,
}

pub(crate) async fn make(context: &Context, args: MbArgs) -> Result<()> {
    super::each(context, &args.targets, |text| make_one(context, text, args.ignore_existing, args.with_lock)).await
}

pub(crate) async fn remove(context: &Context, args: RbArgs) -> Result<()> {
    super::each(context, &args.targets, |text| remove_one(context, text, args.force)).await
}

async fn make_one(context: &Context, text: &str, ignore_existing: bool, with_lock: bool) -> Result<()> {
    let remote = context.target(text)?.remote("mb")?;
    let bucket = remote.bucket()?;
    if !remote.key.is_empty() {
        return Err(CliError::Usage(format!("mb {text}: give ALIAS/BUCKET, without a key")));
    }
    let client = context.client(&remote);
    let request = client.create_bucket().bucket(bucket).set_object_lock_enabled_for_bucket(with_lock.then_some(true));
    match request.send().await {
        Ok(_) => {}
        Err(error)
            if ignore_existing && matches!(error.code(), Some("BucketAlreadyOwnedByYou" | "BucketAlreadyExists")) => {}
        Err(error)
            if error.code() == Some("BucketAlreadyOwnedByYou") || error.code() == Some("BucketAlreadyExists") =>
        {
            return Err(CliError::Usage(format!("mb {text}: the bucket exists (pass -p to accept that)")));
        }
        Err(error) => return Err(s3::error(text, error)),
    }
    context.out.result(json!({"bucket": bucket}), || format!("Bucket created successfully `{text}`."));
    Ok(())
}

async fn remove_one(context: &Context, text: &str, force: bool) -> Result<()> {
    let remote = context.target(text)?.remote("rb")?;
    let bucket = remote.bucket()?.to_owned();
    if !remote.key.is_empty() {
        return Err(CliError::Usage(format!("rb {text}: give ALIAS/BUCKET, without a key")));
    }
    if force {
        let (removed, failed) = super::rm::remove_prefix(context, &remote.with_key(String::new()), None).await?;
        if failed > 0 {
            // Each failed object was reported; the bucket stays.
            return Err(CliError::Partial { failed, total: removed + failed });
        }
    }
    let client = context.client(&remote);
    client.delete_bucket().bucket(&bucket).send().await.map_err(|error| match error.code() {
        Some("BucketNotEmpty") => {
            let hint = if force { "objects were added meanwhile" } else { "pass --force to remove its objects too" };
            CliError::Usage(format!("rb {text}: the bucket is not empty ({hint})"))
        }
        _ => s3::error(text, error),
    })?;
    context.out.result(json!({"bucket": bucket}), || format!("Removed `{text}` successfully."));
    Ok(())
}
