//! The client subcommands and their dispatch. One file per command or group.

mod alias;
pub(crate) mod anonymous;
mod batch;
mod bucket;
mod cat;
mod cors;
mod cp;
mod du;
mod encrypt;
pub(crate) mod event;
mod find;
pub(crate) mod ilm;
mod ls;
mod mirror;
mod place;
mod retention;
mod rm;
mod share;
mod stat;
mod tag;
pub(crate) mod version;

use crate::Context;
use crate::error::{CliError, Result};

/// Client subcommands of `cairn`.
#[derive(Debug, clap::Subcommand)]
pub enum ClientCommand {
    /// Manage aliases: named endpoints with their keys.
    #[command(subcommand)]
    Alias(alias::AliasCommand),
    /// List buckets, or objects under a prefix, or local files.
    Ls(ls::LsArgs),
    /// Make a bucket.
    Mb(bucket::MbArgs),
    /// Remove a bucket (with --force, everything in it first).
    Rb(bucket::RbArgs),
    /// Copy files and objects: file<->object, object<->object (server-side when possible).
    Cp(cp::CpArgs),
    /// Move files and objects: copy, then remove the source.
    Mv(cp::CpArgs),
    /// Remove objects (or local files).
    Rm(rm::RmArgs),
    /// Print an object's or file's contents to stdout.
    Cat(cat::CatArgs),
    /// Show an object's metadata, or a bucket's.
    Stat(stat::StatArgs),
    /// Total size and count of objects under a prefix.
    Du(du::DuArgs),
    /// Find objects by name, size and age.
    Find(find::FindArgs),
    /// Make presigned URLs to download or upload without keys.
    #[command(subcommand)]
    Share(share::ShareCommand),
    /// Set or show a bucket's anonymous access (none, download, upload, public).
    #[command(subcommand)]
    Anonymous(anonymous::AnonymousCommand),
    /// Set, clear or show object lock retention (of a version, or a bucket's default).
    #[command(subcommand)]
    Retention(retention::RetentionCommand),
    /// Set, clear or show a version's legal hold.
    #[command(subcommand)]
    Legalhold(retention::LegalHoldCommand),
    /// Enable, suspend or show a bucket's versioning.
    #[command(subcommand)]
    Version(version::VersionCommand),
    /// Set, show or remove the tags of an object or a bucket.
    #[command(subcommand)]
    Tag(tag::TagCommand),
    /// Set, show or remove a bucket's CORS rules (which web pages may call it).
    #[command(subcommand)]
    Cors(cors::CorsCommand),
    /// Set, show or clear a bucket's default encryption (SSE-S3).
    #[command(subcommand)]
    Encrypt(encrypt::EncryptCommand),
    /// Send a bucket's events to webhook targets (add, ls, rm).
    #[command(subcommand)]
    Event(event::EventCommand),
    /// Add, show or remove a bucket's lifecycle rules (expiry, noncurrent versions, uploads).
    #[command(subcommand)]
    Ilm(ilm::IlmCommand),
    /// Set, show or clear a bucket's hard quota (the bytes it may hold).
    #[command(subcommand)]
    Quota(crate::admin::quota::QuotaCommand),
    /// Make a target a copy of a source: only what changed is copied.
    Mirror(mirror::MirrorArgs),
    /// Administer a deployment (MinIO's admin API).
    #[command(subcommand)]
    Admin(crate::admin::AdminCommand),
}

/// Runs `command`.
pub(crate) async fn run(mut context: Context, command: ClientCommand) -> Result<()> {
    match command {
        ClientCommand::Alias(command) => alias::run(&mut context, command),
        ClientCommand::Ls(args) => ls::run(&context, args).await,
        ClientCommand::Mb(args) => bucket::make(&context, args).await,
        ClientCommand::Rb(args) => bucket::remove(&context, args).await,
        ClientCommand::Cp(args) => cp::run(&context, args, false).await,
        ClientCommand::Mv(args) => cp::run(&context, args, true).await,
        ClientCommand::Rm(args) => rm::run(&context, args).await,
        ClientCommand::Cat(args) => cat::run(&context, args).await,
        ClientCommand::Stat(args) => stat::run(&context, args).await,
        ClientCommand::Du(args) => du::run(&context, args).await,
        ClientCommand::Find(args) => find::run(&context, args).await,
        ClientCommand::Share(command) => share::run(&context, command).await,
        ClientCommand::Anonymous(command) => anonymous::run(&context, command).await,
        ClientCommand::Tag(command) => tag::run(&context, command).await,
        ClientCommand::Version(command) => version::run(&context, command).await,
        ClientCommand::Retention(command) => retention::run(&context, command).await,
        ClientCommand::Legalhold(command) => retention::run_legal_hold(&context, command).await,
        ClientCommand::Ilm(command) => ilm::run(&context, command).await,
        ClientCommand::Cors(command) => cors::run(&context, command).await,
        ClientCommand::Encrypt(command) => encrypt::run(&context, command).await,
        ClientCommand::Event(command) => event::run(&context, command).await,
        ClientCommand::Quota(command) => crate::admin::quota::run(&context, command).await,
        ClientCommand::Mirror(args) => mirror::run(&context, args).await,
        ClientCommand::Admin(command) => crate::admin::run(&context, command).await,
    }
}

/// Runs `one` for every target: with one target its error is the command's; with
/// several, failures are reported and the rest still done (exit 5 if any failed).
pub(crate) async fn each<'a, F: Future<Output = Result<()>>>(
    context: &Context,
    targets: &'a [String],
    one: impl Fn(&'a str) -> F,
) -> Result<()> {
    let mut failed = 0;
    for text in targets {
        match one(text).await {
            Ok(()) => {}
            Err(error) if targets.len() == 1 => return Err(error),
            Err(error) => {
                context.out.item_error(text, &error);
                failed += 1;
            }
        }
    }
    if failed > 0 { Err(CliError::Partial { failed, total: targets.len() as u64 }) } else { Ok(()) }
}

/// The bucket a command about a whole bucket names (ALIAS/BUCKET, no key).
pub(crate) fn bucket_target(context: &Context, text: &str, command: &str) -> Result<crate::target::Remote> {
    let remote = context.target(text)?.remote(command)?;
    remote.bucket()?;
    if !remote.key.is_empty() {
        return Err(CliError::Usage(format!("{command} {text}: give ALIAS/BUCKET, without a key")));
    }
    Ok(remote)
}
