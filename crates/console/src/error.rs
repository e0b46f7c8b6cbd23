//! What can go wrong serving a console request, and the HTTP status each gets.

use cairn_cli::error::CliError;
use http::StatusCode;

/// A console request's failure. Its text is shown to the person using the console.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// No session, or one that ended (pages redirect to the login page).
    #[error("{0}")]
    LoggedOut(String),
    /// A state-changing request without this session's CSRF token.
    #[error("the request did not carry this session's security token; reload the page and try again")]
    Csrf,
    /// The identity may not do this (the server said so).
    #[error("{0}")]
    Forbidden(String),
    /// No such bucket, object, user or policy.
    #[error("{0}")]
    NotFound(String),
    /// The request is malformed or names something invalid.
    #[error("{0}")]
    BadRequest(String),
    /// Too many login attempts from this source.
    #[error("too many login attempts from this address; wait a minute and try again")]
    RateLimited,
    /// The store or the node's API failed.
    #[error("{0}")]
    Backend(String),
}

impl ConsoleError {
    /// The HTTP status of this failure.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::LoggedOut(_) => StatusCode::UNAUTHORIZED,
            Self::Csrf | Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            Self::Backend(_) => StatusCode::BAD_GATEWAY,
        }
    }
}

impl From<CliError> for ConsoleError {
    fn from(error: CliError) -> Self {
        let text = error.to_string();
        match error {
            // The client's text speaks of aliases; the console's reader logged in.
            CliError::AccessDenied(_) => Self::Forbidden(format!(
                "Access denied: your policies do not allow this ({}).",
                text.split(" (").next().unwrap_or(&text)
            )),
            CliError::NotFound(_) => Self::NotFound(text),
            CliError::Usage(_) => Self::BadRequest(text),
            _ => Self::Backend(text),
        }
    }
}

/// Result of console handlers.
pub type Result<T> = std::result::Result<T, ConsoleError>;
