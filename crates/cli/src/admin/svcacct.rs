//! `cairn admin svcacct add|ls|info|rm|edit`, as `mc admin user svcacct`: extra access
//! keys of a user, optionally narrowed by a policy and given an expiry. Every request
//! and answer here carries secrets, so all of them are sealed with the alias's secret key.

use super::{connect, read_policy_file};
use crate::Context;
use crate::error::{CliError, Result};
use http::Method;
use serde::Deserialize;
use serde_json::{Value, json};
use std::path::PathBuf;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Service account subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum SvcacctCommand {
    /// Add a service account to a user; prints its keys (the secret key only this once).
    Add(AddArgs),
    /// List a user's service accounts.
    #[command(visible_alias = "list")]
    Ls {
        /// ALIAS of the deployment.
        alias: String,
        /// The user whose accounts to list.
        user: String,
    },
    /// Show a service account: parent user, state, policy, expiry.
    Info {
        /// ALIAS of the deployment.
        alias: String,
        /// The service account's access key.
        access_key: String,
    },
    /// Remove a service account.
    #[command(visible_alias = "remove")]
    Rm {
        /// ALIAS of the deployment.
        alias: String,
        /// The service account's access key.
        access_key: String,
    },
    /// Change a service account's secret key, policy, state or expiry.
    Edit(EditArgs),
}

/// Arguments of `svcacct add`.
#[derive(Debug, clap::Args)]
pub struct AddArgs {
    /// ALIAS of the deployment.
    alias: String,
    /// The user the account acts for.
    user: String,
    /// The account's access key (generated when not given).
    #[arg(long)]
    access_key: Option<String>,
    #[command(flatten)]
    details: Details,
}

/// Arguments of `svcacct edit`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("change").required(true).multiple(true)
    .args(["secret_key", "policy", "status", "expiry", "name", "description"])))]
pub struct EditArgs {
    /// ALIAS of the deployment.
    alias: String,
    /// The service account's access key.
    access_key: String,
    /// Turn the account on or off.
    #[arg(long, value_parser = ["on", "off"])]
    status: Option<String>,
    #[command(flatten)]
    details: Details,
}

/// What `add` sets and `edit` changes.
#[derive(Debug, clap::Args)]
struct Details {
    /// The account's secret key (`add` generates one when not given).
    #[arg(long)]
    secret_key: Option<String>,
    /// A policy (IAM JSON file) narrowing what the account may do; without it, the user's.
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// When the account stops working, RFC 3339 (e.g. 2030-01-31T12:00:00Z).
    #[arg(long, value_name = "TIME")]
    expiry: Option<String>,
    /// A name for the account.
    #[arg(long)]
    name: Option<String>,
    /// A description of the account.
    #[arg(long)]
    description: Option<String>,
}

impl Details {
    /// The request fields, named with `prefix` (`""` for add, `"new"` for edit, which
    /// capitalises the rest as MinIO's update call does).
    fn fields(&self, prefix: &str) -> Result<serde_json::Map<String, Value>> {
        let name = |field: &str| {
            if prefix.is_empty() {
                return field.to_owned();
            }
            let mut chars = field.chars();
            let first = chars.next().map(|c| c.to_ascii_uppercase()).into_iter();
            format!("{prefix}{}", first.chain(chars).collect::<String>())
        };
        let mut fields = serde_json::Map::new();
        if let Some(secret_key) = &self.secret_key {
            fields.insert(name("secretKey"), json!(secret_key));
        }
        if let Some(file) = &self.policy {
            fields.insert(name("policy"), read_policy_file(file)?);
        }
        if let Some(expiry) = &self.expiry {
            fields.insert(name("expiration"), json!(check_expiry(expiry)?));
        }
        if let Some(text) = &self.name {
            fields.insert(name("name"), json!(text));
        }
        if let Some(description) = &self.description {
            fields.insert(name("description"), json!(description));
        }
        Ok(fields)
    }
}

/// The keys `add-service-account` answers with.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Credentials {
    access_key: String,
    secret_key: String,
    #[serde(default)]
    expiration: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Added {
    credentials: Credentials,
}

#[derive(Debug, Deserialize)]
struct Listed {
    #[serde(default)]
    accounts: Option<Vec<Value>>,
}

pub(crate) async fn run(context: &Context, command: SvcacctCommand) -> Result<()> {
    let out = context.out;
    match command {
        SvcacctCommand::Add(args) => add(context, args).await?,
        SvcacctCommand::Ls { alias, user } => {
            let client = connect(context, &alias)?;
            let listed: Listed =
                client.call_sealed_json(Method::GET, "list-service-accounts", &[("user", &user)], Vec::new()).await?;
            for account in listed.accounts.unwrap_or_default() {
                let text = |field: &str| account[field].as_str().unwrap_or("-").to_owned();
                let line = format!("{:<24} {:<4} {}", text("accessKey"), text("accountStatus"), text("expiration"));
                out.result(account, || line);
            }
        }
        SvcacctCommand::Info { alias, access_key } => {
            let client = connect(context, &alias)?;
            let query = [("accessKey", access_key.as_str())];
            let mut info: Value =
                client.call_sealed_json(Method::GET, "info-service-account", &query, Vec::new()).await?;
            // The policy travels as a string holding JSON: show it as JSON.
            if let Some(policy) = info["policy"].as_str().filter(|p| !p.is_empty()) {
                info["policy"] = serde_json::from_str(policy).unwrap_or_else(|_| Value::String(policy.to_owned()));
            }
            info["accessKey"] = json!(access_key);
            let text = info_text(&info);
            out.result(info, || text);
        }
        SvcacctCommand::Rm { alias, access_key } => {
            let client = connect(context, &alias)?;
            client.call(Method::DELETE, "delete-service-account", &[("accessKey", &access_key)], Vec::new()).await?;
            out.result(json!({"accessKey": access_key}), || {
                format!("Removed service account `{access_key}` successfully.")
            });
        }
        SvcacctCommand::Edit(args) => edit(context, args).await?,
    }
    Ok(())
}

async fn add(context: &Context, args: AddArgs) -> Result<()> {
    let client = connect(context, &args.alias)?;
    let mut body = args.details.fields("")?;
    body.insert("targetUser".into(), json!(args.user));
    body.insert("status".into(), json!("on"));
    if let Some(access_key) = &args.access_key {
        body.insert("accessKey".into(), json!(access_key));
    }
    let sealed = client.seal_json(&body.into())?;
    let added: Added = client.call_sealed_json(Method::PUT, "add-service-account", &[], sealed).await?;
    let credentials = added.credentials;
    let expiration = credentials.expiration.clone();
    context.out.result(
        json!({"accessKey": credentials.access_key, "secretKey": credentials.secret_key, "expiration": expiration,
               "parentUser": args.user}),
        || {
            format!(
                "Access Key: {}\nSecret Key: {}\nExpiration: {}",
                credentials.access_key,
                credentials.secret_key,
                expiration.as_deref().unwrap_or("no expiry")
            )
        },
    );
    Ok(())
}

async fn edit(context: &Context, args: EditArgs) -> Result<()> {
    let client = connect(context, &args.alias)?;
    let mut body = args.details.fields("new")?;
    if let Some(status) = &args.status {
        body.insert("newStatus".into(), json!(status));
    }
    let query = [("accessKey", args.access_key.as_str())];
    client.call(Method::POST, "update-service-account", &query, client.seal_json(&body.into())?).await?;
    let key = &args.access_key;
    context.out.result(json!({"accessKey": key}), || format!("Edited service account `{key}` successfully."));
    Ok(())
}

/// Checks an expiry given on the command line: RFC 3339 and in the future.
fn check_expiry(text: &str) -> Result<String> {
    let at = OffsetDateTime::parse(text, &Rfc3339)
        .map_err(|e| CliError::Usage(format!("--expiry {text:?}: {e}; give RFC 3339, e.g. 2030-01-31T12:00:00Z")))?;
    if at <= OffsetDateTime::now_utc() {
        return Err(CliError::Usage(format!("--expiry {text:?}: that time has passed")));
    }
    Ok(text.to_owned())
}

fn info_text(info: &Value) -> String {
    let field = |name: &str| info[name].as_str().filter(|s| !s.is_empty()).unwrap_or("-").to_owned();
    let policy = if info["impliedPolicy"].as_bool().unwrap_or(false) {
        "implied (the parent user's)".to_owned()
    } else {
        serde_json::to_string_pretty(&info["policy"]).unwrap_or_default()
    };
    format!(
        "AccessKey  : {}\nParentUser : {}\nStatus     : {}\nName       : {}\nDescription: {}\nExpiration : {}\nPolicy     : {policy}",
        field("accessKey"),
        field("parentUser"),
        field("accountStatus"),
        field("name"),
        field("description"),
        field("expiration"),
    )
}
