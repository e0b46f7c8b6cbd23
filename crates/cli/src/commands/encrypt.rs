//! `cairn encrypt set sse-s3|info|clear ALIAS/BUCKET`: a bucket's default encryption, as
//! `mc encrypt` manages it (S3's Put/Get/DeleteBucketEncryption). Only SSE-S3 exists
//! (the server's master key); `sse-kms` is refused by the server.

use crate::Context;
use crate::commands::bucket_target;
use crate::error::{CliError, Result};
use crate::s3;
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::types::{
    ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
};
use serde_json::json;

/// Subcommands of `cairn encrypt`.
#[derive(Debug, clap::Subcommand)]
pub enum EncryptCommand {
    /// Encrypt new objects of a bucket that ask for no encryption.
    Set {
        /// The kind: `sse-s3` (the server's master key).
        kind: String,
        /// ALIAS/BUCKET.
        target: String,
    },
    /// Show a bucket's default encryption.
    Info {
        /// ALIAS/BUCKET.
        target: String,
    },
    /// Stop encrypting new objects by default (stored objects stay encrypted).
    Clear {
        /// ALIAS/BUCKET.
        target: String,
    },
}

pub(crate) async fn run(context: &Context, command: EncryptCommand) -> Result<()> {
    let out = &context.out;
    match command {
        EncryptCommand::Set { kind, target } => {
            let algorithm = match kind.to_ascii_lowercase().as_str() {
                "sse-s3" => ServerSideEncryption::Aes256,
                "sse-kms" => ServerSideEncryption::AwsKms,
                _ => return Err(CliError::Usage(format!("encrypt set {kind}: give sse-s3"))),
            };
            let remote = bucket_target(context, &target, "encrypt")?;
            let by_default = ServerSideEncryptionByDefault::builder()
                .sse_algorithm(algorithm)
                .build()
                .map_err(|e| CliError::Usage(format!("encrypt set: {e}")))?;
            let rule = ServerSideEncryptionRule::builder().apply_server_side_encryption_by_default(by_default).build();
            let configuration = ServerSideEncryptionConfiguration::builder()
                .rules(rule)
                .build()
                .map_err(|e| CliError::Usage(format!("encrypt set: {e}")))?;
            let request = context
                .client(&remote)
                .put_bucket_encryption()
                .bucket(remote.bucket()?)
                .server_side_encryption_configuration(configuration);
            request.send().await.map_err(|e| s3::error(&target, e))?;
            out.result(json!({ "bucket": target, "encryption": "sse-s3" }), || {
                format!("New objects of {target} are encrypted with SSE-S3.")
            });
        }
        EncryptCommand::Info { target } => {
            let remote = bucket_target(context, &target, "encrypt")?;
            let kind = match context.client(&remote).get_bucket_encryption().bucket(remote.bucket()?).send().await {
                Ok(_) => Some("sse-s3"),
                Err(error) if error.code() == Some("ServerSideEncryptionConfigurationNotFoundError") => None,
                Err(error) => return Err(s3::error(&target, error)),
            };
            out.result(json!({ "bucket": target, "encryption": kind }), || match kind {
                Some(kind) => format!("{target} encrypts new objects with {}.", kind.to_uppercase()),
                None => format!("{target} has no default encryption."),
            });
        }
        EncryptCommand::Clear { target } => {
            let remote = bucket_target(context, &target, "encrypt")?;
            let request = context.client(&remote).delete_bucket_encryption().bucket(remote.bucket()?);
            request.send().await.map_err(|e| s3::error(&target, e))?;
            out.result(json!({ "bucket": target, "encryption": null }), || {
                format!("{target} no longer encrypts new objects by default.")
            });
        }
    }
    Ok(())
}
