//! `cairn admin ...`: MinIO's admin API from the command line, with mc's argument
//! shapes (`cairn admin user add ALIAS ACCESS SECRET`, ...). One file per group of
//! commands; [`client`] signs the calls and seals the bodies that carry secrets.

mod apply;
pub mod client;
mod config;
mod groups;
mod heal;
mod info;
mod kms;
mod policies;
mod prometheus;
pub(crate) mod quota;
pub use prometheus::token as metrics_token;
mod svcacct;
mod users;

use crate::Context;
use crate::error::{CliError, Result};
use client::AdminClient;
use http::Method;

/// Largest policy document read from a file (the server takes request bodies up to 1 MiB).
const POLICY_FILE_BYTES_MAX: u64 = 1 << 20;

/// Admin subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum AdminCommand {
    /// Deployment summary: nodes, drives, erasure layout, capacity, usage, healing.
    Info(info::InfoArgs),
    /// Manage users: add, rm, ls, info, enable, disable.
    #[command(subcommand)]
    User(users::UserCommand),
    /// Manage groups: add members, rm members or the group, ls, info, enable, disable.
    #[command(subcommand)]
    Group(groups::GroupCommand),
    /// Manage named policies and attach them to users and groups.
    #[command(subcommand)]
    Policy(policies::PolicyCommand),
    /// Manage service accounts: extra access keys of a user, maybe narrowed by a policy.
    #[command(subcommand)]
    Svcacct(svcacct::SvcacctCommand),
    /// Show, change, export and import the server configuration.
    #[command(subcommand)]
    Config(config::ConfigCommand),
    /// Make a Prometheus scrape configuration with a bearer token.
    #[command(subcommand)]
    Prometheus(prometheus::PrometheusCommand),
    /// Heal drives, buckets and objects now, with live progress.
    Heal(heal::HealArgs),
    /// The master keys of SSE-S3: status, rotation.
    #[command(subcommand)]
    Kms(kms::KmsCommand),
    /// Make the deployment hold what a bootstrap file declares (policies, users,
    /// groups, service accounts, buckets): prints the plan, then applies it.
    Apply(apply::ApplyArgs),
}

/// Runs an admin command.
pub async fn run(context: &Context, command: AdminCommand) -> Result<()> {
    match command {
        AdminCommand::Info(args) => info::run(context, args).await,
        AdminCommand::User(command) => users::run(context, command).await,
        AdminCommand::Group(command) => groups::run(context, command).await,
        AdminCommand::Policy(command) => policies::run(context, command).await,
        AdminCommand::Svcacct(command) => svcacct::run(context, command).await,
        AdminCommand::Config(command) => config::run(context, command).await,
        AdminCommand::Prometheus(command) => prometheus::run(context, command),
        AdminCommand::Heal(args) => heal::run(context, args).await,
        AdminCommand::Kms(command) => kms::run(context, command).await,
        AdminCommand::Apply(args) => apply::run(context, args).await,
    }
}

/// The admin client of the alias named `alias` (an unknown alias is not-found).
pub(crate) fn connect(context: &Context, alias: &str) -> Result<AdminClient> {
    AdminClient::new(alias, context.config.alias(alias)?, context.trust.as_ref())
}

/// How `enable` and `disable` address a user or a group.
struct StatusCall {
    /// The admin call.
    command: &'static str,
    /// Its query parameter naming the user or group.
    param: &'static str,
    /// The JSON field of the name.
    name_field: &'static str,
    /// The JSON field of the new state.
    status_field: &'static str,
    /// "User" or "Group", for the text line.
    noun: &'static str,
}

/// Enables or disables a user or group and reports it.
async fn set_status(context: &Context, alias: &str, call: &StatusCall, name: &str, enabled: bool) -> Result<()> {
    let client = connect(context, alias)?;
    let status = status_word(enabled);
    client.call(Method::PUT, call.command, &[(call.param, name), ("status", status)], Vec::new()).await?;
    let mut value = serde_json::Map::new();
    value.insert(call.name_field.into(), name.into());
    value.insert(call.status_field.into(), status.into());
    context.out.result(value.into(), || format!("{} `{name}` is {status}.", call.noun));
    Ok(())
}

/// MinIO's word for a user's or group's state.
fn status_word(enabled: bool) -> &'static str {
    if enabled { "enabled" } else { "disabled" }
}

/// A JSON policy document from a local file (checked to be JSON, so that a wrong file
/// is caught before it reaches the server).
fn read_policy_file(path: &std::path::Path) -> Result<serde_json::Value> {
    let meta = std::fs::metadata(path).map_err(|e| CliError::io(path, e))?;
    if meta.len() > POLICY_FILE_BYTES_MAX {
        return Err(CliError::Usage(format!(
            "{}: larger than {POLICY_FILE_BYTES_MAX} bytes; a policy is a small JSON document",
            path.display()
        )));
    }
    let bytes = std::fs::read(path).map_err(|e| CliError::io(path, e))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| CliError::Usage(format!("{}: not a JSON policy document ({e})", path.display())))
}

/// Names for a text line: comma-separated, or `-` for none.
fn names_text(names: &[impl AsRef<str>]) -> String {
    if names.is_empty() {
        return "-".to_owned();
    }
    names.iter().map(AsRef::as_ref).collect::<Vec<_>>().join(", ")
}

/// Comma-separated names as a list (MinIO joins a user's policies with commas).
fn split_names(text: &str) -> Vec<&str> {
    text.split(',').map(str::trim).filter(|name| !name.is_empty()).collect()
}
