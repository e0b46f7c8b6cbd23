//! `cairn alias set|ls|rm`.

use crate::Context;
use crate::config::{Alias, REGION_DEFAULT, check_url};
use crate::error::Result;
use serde_json::json;

/// Alias subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum AliasCommand {
    /// Add or replace an alias: `cairn alias set NAME URL ACCESS_KEY SECRET_KEY`.
    Set {
        /// Alias name, used as the first component of targets (NAME/bucket/key).
        name: String,
        /// Endpoint URL, http(s)://host[:port].
        url: String,
        /// Access key id.
        access_key: String,
        /// Secret access key.
        secret_key: String,
        /// Signing region.
        #[arg(long, default_value = REGION_DEFAULT)]
        region: String,
    },
    /// List the aliases (secret keys are not shown).
    Ls,
    /// Remove an alias.
    Rm {
        /// Alias name.
        name: String,
    },
}

pub(crate) fn run(context: &mut Context, command: AliasCommand) -> Result<()> {
    let out = context.out;
    match command {
        AliasCommand::Set { name, url, access_key, secret_key, region } => {
            let url = check_url(&url)?;
            context.config.set(&name, Alias { url: url.clone(), access_key, secret_key, region })?;
            out.result(json!({"alias": name, "url": url}), || format!("Added `{name}` for {url}."));
        }
        AliasCommand::Ls => {
            for (name, alias) in context.config.aliases() {
                out.result(
                    json!({"alias": name, "url": alias.url, "accessKey": alias.access_key, "region": alias.region}),
                    || {
                        format!(
                            "{name}\n  URL       : {}\n  AccessKey : {}\n  Region    : {}",
                            alias.url, alias.access_key, alias.region
                        )
                    },
                );
            }
        }
        AliasCommand::Rm { name } => {
            context.config.remove(&name)?;
            out.result(json!({"alias": name}), || format!("Removed `{name}`."));
        }
    }
    Ok(())
}
