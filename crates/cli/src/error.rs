//! The client's one error type. Every failure maps to an exit code that scripts can
//! rely on (documented in the README):
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | the operation failed (server or network error, I/O error) |
//! | 2 | bad usage: arguments, unknown alias, malformed target |
//! | 3 | not found: bucket, object, alias, local file |
//! | 4 | access denied |
//! | 5 | partly done: some items of a bulk command failed (each one reported) |

use std::process::ExitCode;

/// A failed client command, with a message that says what to do.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The command line or the configuration is wrong.
    #[error("{0}")]
    Usage(String),
    /// A bucket, object, alias or local file does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The credentials are refused or lack the permission.
    #[error("{0}")]
    AccessDenied(String),
    /// The server answered with an error, or could not be reached.
    #[error("{0}")]
    Remote(String),
    /// The source changed while it was being copied (a file grew, shrank or was
    /// rewritten; an object was replaced); nothing half old, half new was kept.
    #[error("{0}")]
    Changed(String),
    /// A local file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The local path involved.
        path: String,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// Some items of a bulk command failed; each was reported as it happened.
    #[error("{failed} of {total} items failed")]
    Partial {
        /// Items that failed.
        failed: u64,
        /// Items attempted.
        total: u64,
    },
}

impl CliError {
    /// The process exit code for this error (see the module documentation).
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(self.code())
    }

    /// The exit code as a number (for `--json` error objects).
    pub fn code(&self) -> u8 {
        match self {
            CliError::Remote(_) | CliError::Changed(_) | CliError::Io { .. } => 1,
            CliError::Usage(_) => 2,
            CliError::NotFound(_) => 3,
            CliError::AccessDenied(_) => 4,
            CliError::Partial { .. } => 5,
        }
    }

    /// A short machine-readable name of the error kind.
    pub fn kind(&self) -> &'static str {
        match self {
            CliError::Remote(_) => "remote",
            CliError::Changed(_) => "changed",
            CliError::Io { .. } => "io",
            CliError::Usage(_) => "usage",
            CliError::NotFound(_) => "not-found",
            CliError::AccessDenied(_) => "access-denied",
            CliError::Partial { .. } => "partial",
        }
    }

    /// An I/O error on `path`, typed as not-found when the file is missing.
    pub fn io(path: impl AsRef<std::path::Path>, source: std::io::Error) -> Self {
        let path = path.as_ref().display().to_string();
        if source.kind() == std::io::ErrorKind::NotFound {
            return CliError::NotFound(format!("{path}: no such file or folder"));
        }
        CliError::Io { path, source }
    }
}

/// Result of client commands.
pub type Result<T> = std::result::Result<T, CliError>;
