//! `cairn admin ...`: MinIO's admin API from the command line.

pub mod client;

use crate::Context;
use crate::error::Result;

/// Admin subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum AdminCommand {
    /// Deployment summary: nodes, drives, capacity, usage, healing.
    Info {
        /// ALIAS.
        alias: String,
    },
}

/// Runs an admin command.
pub async fn run(context: &Context, command: AdminCommand) -> Result<()> {
    match command {
        AdminCommand::Info { alias } => {
            let client = client::AdminClient::new(&alias, context.config.alias(&alias)?)?;
            let body = client.call(http::Method::GET, "info", &[], Vec::new()).await?;
            let value: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            context.out.result(value.clone(), || value.to_string());
            Ok(())
        }
    }
}
