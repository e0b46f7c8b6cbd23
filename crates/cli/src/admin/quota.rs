//! `cairn quota set|info|clear ALIAS/BUCKET`: a bucket's hard quota, as `mc quota`
//! manages it (MinIO's `set-bucket-quota` and `get-bucket-quota` admin calls).

use crate::Context;
use crate::error::{CliError, Result};
use crate::output::human_bytes;
use http::Method;
use serde::Deserialize;
use serde_json::json;

/// Subcommands of `cairn quota`.
#[derive(Debug, clap::Subcommand)]
pub enum QuotaCommand {
    /// Set a bucket's hard quota: writes that would take it past the size are refused.
    Set {
        /// ALIAS/BUCKET.
        target: String,
        /// The size: bytes, or a number with a unit (KB, MB, GB, TB in powers of 1000;
        /// KiB, MiB, GiB, TiB in powers of 1024).
        #[arg(long)]
        size: String,
    },
    /// Show a bucket's quota.
    Info {
        /// ALIAS/BUCKET.
        target: String,
    },
    /// Remove a bucket's quota.
    Clear {
        /// ALIAS/BUCKET.
        target: String,
    },
}

/// madmin's `BucketQuota`, as the server answers.
#[derive(Debug, Deserialize)]
struct BucketQuota {
    size: u64,
}

/// Bytes of a size such as `1073741824`, `10GiB`, `1.5 GB`.
fn parse_size(text: &str) -> Result<u64> {
    let text = text.trim();
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(text.len());
    let (number, unit) = (text[..split].trim(), text[split..].trim());
    let scale: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" | "k" => 1_000,
        "mb" | "m" => 1_000_000,
        "gb" | "g" => 1_000_000_000,
        "tb" | "t" => 1_000_000_000_000,
        "kib" | "ki" => 1 << 10,
        "mib" | "mi" => 1 << 20,
        "gib" | "gi" => 1 << 30,
        "tib" | "ti" => 1 << 40,
        _ => return Err(CliError::Usage(format!("--size {text:?}: unknown unit {unit:?}"))),
    };
    let value: f64 = number.parse().map_err(|_| CliError::Usage(format!("--size {text:?}: not a size")))?;
    let bytes = value * scale as f64;
    if !(bytes >= 1.0 && bytes < u64::MAX as f64) {
        return Err(CliError::Usage(format!("--size {text:?}: give at least one byte")));
    }
    Ok(bytes as u64)
}

/// The alias and bucket of `ALIAS/BUCKET`.
fn bucket_target(context: &Context, text: &str) -> Result<(String, String)> {
    let remote = context.target(text)?.remote("quota")?;
    let bucket = remote.bucket()?.to_owned();
    if !remote.key.is_empty() {
        return Err(CliError::Usage(format!("quota {text}: give ALIAS/BUCKET, without a key")));
    }
    Ok((remote.alias_name, bucket))
}

pub(crate) async fn run(context: &Context, command: QuotaCommand) -> Result<()> {
    let out = &context.out;
    match command {
        QuotaCommand::Set { target, size } => {
            let size = parse_size(&size)?;
            let (alias, bucket) = bucket_target(context, &target)?;
            let body = json!({ "size": size, "quota": size, "quotatype": "hard" }).to_string().into_bytes();
            super::connect(context, &alias)?
                .call(Method::PUT, "set-bucket-quota", &[("bucket", &bucket)], body)
                .await?;
            out.result(json!({ "bucket": bucket, "quota": size, "type": "hard" }), || {
                format!("Set a hard quota of {} on {target}.", human_bytes(size))
            });
        }
        QuotaCommand::Info { target } => {
            let (alias, bucket) = bucket_target(context, &target)?;
            let client = super::connect(context, &alias)?;
            let query = [("bucket", bucket.as_str())];
            match client.call_json::<BucketQuota>(Method::GET, "get-bucket-quota", &query, Vec::new()).await {
                Ok(quota) => out.result(json!({ "bucket": bucket, "quota": quota.size, "type": "hard" }), || {
                    format!("{target} has a hard quota of {}.", human_bytes(quota.size))
                }),
                Err(CliError::NotFound(_)) => {
                    out.result(json!({ "bucket": bucket, "quota": null }), || format!("{target} has no quota."))
                }
                Err(error) => return Err(error),
            }
        }
        QuotaCommand::Clear { target } => {
            let (alias, bucket) = bucket_target(context, &target)?;
            let body = json!({ "size": 0, "quota": 0, "quotatype": "hard" }).to_string().into_bytes();
            super::connect(context, &alias)?
                .call(Method::PUT, "set-bucket-quota", &[("bucket", &bucket)], body)
                .await?;
            out.result(json!({ "bucket": bucket, "quota": null }), || format!("Removed the quota of {target}."));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_take_decimal_and_binary_units() {
        assert_eq!(parse_size("1048576").ok(), Some(1 << 20));
        assert_eq!(parse_size("10GiB").ok(), Some(10 << 30));
        assert_eq!(parse_size("1.5 GB").ok(), Some(1_500_000_000));
        assert_eq!(parse_size("64kib").ok(), Some(64 << 10));
        assert!(parse_size("0").is_err());
        assert!(parse_size("10 parsecs").is_err());
        assert!(parse_size("GiB").is_err());
    }
}
