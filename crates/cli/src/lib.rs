//! `cairn-cli`: the client commands of the `cairn` binary, in the spirit of MinIO's
//! `mc` — aliases, object commands (`ls`, `cp`, `mirror`, ...) that work against any
//! S3 endpoint and local folders, and `admin` commands over MinIO's admin API.
//!
//! Every command prints a text line per result, or one JSON object per line with
//! `--json`, and ends with an exit code from [`error`] that scripts can rely on.

pub mod admin;
mod commands;
pub mod config;
pub mod error;
pub mod output;
mod progress;
mod s3;
pub mod target;
mod tls;
mod transfer;
mod walk;

use crate::config::Config;
use crate::error::{CliError, Result};
use crate::output::Output;
use crate::target::{Remote, Target};
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Mutex;

/// Options shared by every client command.
#[derive(Debug, Clone, clap::Args)]
pub struct Globals {
    /// Print one JSON object per line (for scripts) instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    /// No progress bars or informational messages.
    #[arg(long, short = 'q', global = true)]
    pub quiet: bool,
    /// Folder of the alias configuration (default: $CAIRN_CONFIG_DIR or ~/.cairn).
    #[arg(long, global = true, value_name = "DIR")]
    pub config_dir: Option<PathBuf>,
    /// Whom https aliases are trusted by (`--ca`, `--insecure`).
    #[command(flatten)]
    pub tls: tls::TlsOptions,
}

pub use commands::ClientCommand;
pub use tls::TlsOptions;

/// Bucket notification rules (`cairn event`), for the console.
pub mod event {
    pub use crate::commands::event::{filters_of, queue_rule};
}

/// Anonymous access levels of bucket policies (`cairn anonymous`), for the console.
pub mod anonymous {
    pub use crate::commands::anonymous::{level_of, read_policy, with_level};
}

/// The S3 SDK's HTTP client trusting as `trust` says: build it once and share it, so
/// clients made with [`s3_client`] reuse its connections.
pub fn sdk_http_client(trust: &cairn_tls::ClientTrust) -> Result<aws_sdk_s3::config::SharedHttpClient> {
    tls::sdk_client(trust)
}

/// An S3 client for `alias` over `http` (path-style, the CLI's retries and timeouts),
/// for programs that embed the CLI's clients (the web console).
pub fn s3_client(alias: &config::Alias, http: aws_sdk_s3::config::SharedHttpClient) -> aws_sdk_s3::Client {
    s3::client(alias, Some(http))
}

/// Maps an S3 SDK error on `what` to the CLI's typed error, with its message.
pub fn s3_error<E>(
    what: &str,
    error: aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
) -> CliError
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    s3::error(what, error)
}

/// What every command gets: the aliases, the output mode, and S3 clients by alias.
pub struct Context {
    /// The alias configuration.
    pub config: Config,
    /// How results are printed.
    pub out: Output,
    clients: Mutex<HashMap<String, aws_sdk_s3::Client>>,
    /// Whom https servers are trusted by, when not the system's roots alone.
    trust: Option<cairn_tls::ClientTrust>,
    /// The S3 SDK's HTTP client for `trust` (None: the SDK's own over the system's roots).
    sdk_http: Option<aws_sdk_s3::config::SharedHttpClient>,
}

impl Context {
    /// Parses a target against the aliases.
    pub fn target(&self, text: &str) -> Result<Target> {
        Target::parse(&self.config, text)
    }

    /// The S3 client of `remote`'s alias (one per alias, shared by the command).
    pub fn client(&self, remote: &Remote) -> aws_sdk_s3::Client {
        let mut clients = self.clients.lock().expect("the client cache is never poisoned");
        clients
            .entry(remote.alias_name.clone())
            .or_insert_with(|| s3::client(&remote.alias, self.sdk_http.clone()))
            .clone()
    }
}

/// Runs one client command and returns the process exit code.
pub async fn run(globals: Globals, command: ClientCommand) -> ExitCode {
    let out = Output { json: globals.json, quiet: globals.quiet };
    let result = async {
        let dir = match globals.config_dir {
            Some(dir) => dir,
            None => config::default_dir()?,
        };
        let trust = globals.tls.trust()?;
        let sdk_http = trust.as_ref().map(tls::sdk_client).transpose()?;
        let context = Context { config: Config::load(&dir)?, out, clients: Mutex::default(), trust, sdk_http };
        commands::run(context, command).await
    }
    .await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            if !matches!(error, CliError::Partial { .. }) || !out.json {
                out.fatal(&error);
            }
            error.exit_code()
        }
    }
}
