//! `cairn admin policy create|ls|info|rm|attach|detach`, as `mc admin policy`.

use super::{connect, read_policy_file};
use crate::Context;
use crate::error::{CliError, Result};
use http::Method;
use serde_json::json;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Policy subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum PolicyCommand {
    /// Add a named policy from a JSON file, or replace it.
    #[command(visible_alias = "add")]
    Create {
        /// ALIAS of the deployment.
        alias: String,
        /// The policy's name.
        name: String,
        /// The policy document (IAM JSON).
        file: PathBuf,
    },
    /// List the named policies.
    #[command(visible_alias = "list")]
    Ls {
        /// ALIAS of the deployment.
        alias: String,
    },
    /// Show a policy's document.
    Info {
        /// ALIAS of the deployment.
        alias: String,
        /// The policy's name.
        name: String,
    },
    /// Remove a named policy.
    #[command(visible_alias = "remove")]
    Rm {
        /// ALIAS of the deployment.
        alias: String,
        /// The policy's name.
        name: String,
    },
    /// Attach policies to a user or a group.
    Attach(AttachArgs),
    /// Detach policies from a user or a group.
    Detach(AttachArgs),
}

/// Arguments of `attach` and `detach`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("principal").required(true).args(["user", "group"])))]
pub struct AttachArgs {
    /// ALIAS of the deployment.
    alias: String,
    /// The policies' names.
    #[arg(required = true)]
    policies: Vec<String>,
    /// The user (access key) to attach to or detach from.
    #[arg(long)]
    user: Option<String>,
    /// The group to attach to or detach from.
    #[arg(long)]
    group: Option<String>,
}

pub(crate) async fn run(context: &Context, command: PolicyCommand) -> Result<()> {
    let out = context.out;
    match command {
        PolicyCommand::Create { alias, name, file } => {
            let document = read_policy_file(&file)?;
            let client = connect(context, &alias)?;
            client
                .call(Method::PUT, "add-canned-policy", &[("name", &name)], document.to_string().into_bytes())
                .await?;
            out.result(json!({"policy": name}), || format!("Created policy `{name}` successfully."));
        }
        PolicyCommand::Ls { alias } => {
            let client = connect(context, &alias)?;
            let policies: BTreeMap<String, serde_json::Value> =
                client.call_json(Method::GET, "list-canned-policies", &[], Vec::new()).await?;
            for name in policies.keys() {
                out.result(json!({"policy": name}), || name.clone());
            }
        }
        PolicyCommand::Info { alias, name } => {
            let client = connect(context, &alias)?;
            let document: serde_json::Value =
                client.call_json(Method::GET, "info-canned-policy", &[("name", &name)], Vec::new()).await?;
            out.result(json!({"policy": name, "policyJSON": document}), || {
                serde_json::to_string_pretty(&document).unwrap_or_else(|_| document.to_string())
            });
        }
        PolicyCommand::Rm { alias, name } => {
            let client = connect(context, &alias)?;
            client.call(Method::DELETE, "remove-canned-policy", &[("name", &name)], Vec::new()).await?;
            out.result(json!({"policy": name}), || format!("Removed policy `{name}` successfully."));
        }
        PolicyCommand::Attach(args) => attach(context, args, true).await?,
        PolicyCommand::Detach(args) => attach(context, args, false).await?,
    }
    Ok(())
}

/// Attaches (or detaches) policies with MinIO's `idp/builtin/policy/attach|detach`.
async fn attach(context: &Context, args: AttachArgs, attach: bool) -> Result<()> {
    let (principal, name) = match (&args.user, &args.group) {
        (Some(user), None) => ("user", user.as_str()),
        (None, Some(group)) => ("group", group.as_str()),
        _ => return Err(CliError::Usage("name either --user or --group".into())),
    };
    let client = connect(context, &args.alias)?;
    let body = client.seal_json(&json!({ "policies": args.policies, principal: name }))?;
    let verb = if attach { "attach" } else { "detach" };
    let answer: serde_json::Value =
        client.call_sealed_json(Method::POST, &format!("idp/builtin/policy/{verb}"), &[], body).await?;
    let done = if attach { "Attached" } else { "Detached" };
    let preposition = if attach { "to" } else { "from" };
    context.out.result(answer, || format!("{done} {} {preposition} {principal} `{name}`.", args.policies.join(", ")));
    Ok(())
}
