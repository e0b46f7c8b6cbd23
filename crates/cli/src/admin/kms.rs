//! `cairn admin kms status|rotate ALIAS`: the master keys of SSE-S3 (names only) and
//! their rotation (re-sealing object keys under the current master key).

use crate::Context;
use crate::error::Result;
use http::Method;
use serde::Deserialize;
use serde_json::json;

/// Subcommands of `cairn admin kms`.
#[derive(Debug, clap::Subcommand)]
pub enum KmsCommand {
    /// Show the master key new objects are sealed with, and every key the server holds.
    Status {
        /// The alias of the deployment.
        alias: String,
    },
    /// Re-seal every SSE-S3 object key under the current master key (no data is
    /// rewritten); afterwards the previous keys can be removed from the servers.
    Rotate {
        /// The alias of the deployment.
        alias: String,
    },
}

#[derive(Debug, Deserialize)]
struct Status {
    #[serde(rename = "defaultKeyID")]
    default_key_id: String,
    keys: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct Rotation {
    versions: u64,
    resealed: u64,
    failed: u64,
}

pub(crate) async fn run(context: &Context, command: KmsCommand) -> Result<()> {
    let out = &context.out;
    match command {
        KmsCommand::Status { alias } => {
            let client = super::connect(context, &alias)?;
            let status: Status = client.call_json(Method::GET, "kms/status", &[], Vec::new()).await?;
            out.result(json!({ "defaultKeyID": status.default_key_id, "keys": status.keys }), || {
                format!("Current master key: {}\nKeys held: {}", status.default_key_id, status.keys.join(", "))
            });
        }
        KmsCommand::Rotate { alias } => {
            let client = super::connect(context, &alias)?;
            let rotation: Rotation = client.call_json(Method::POST, "cairn-kms-rotate", &[], Vec::new()).await?;
            let value =
                json!({ "versions": rotation.versions, "resealed": rotation.resealed, "failed": rotation.failed });
            out.result(value, || {
                format!(
                    "Re-sealed {} object keys ({} versions looked at, {} failed).",
                    rotation.resealed, rotation.versions, rotation.failed
                )
            });
        }
    }
    Ok(())
}
