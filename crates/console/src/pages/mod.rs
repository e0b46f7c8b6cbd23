//! The console's pages, one module per section.

pub(crate) mod auth;
pub(crate) mod buckets;
pub(crate) mod dashboard;
pub(crate) mod events;
pub(crate) mod identity;
pub(crate) mod object_versions;
pub(crate) mod objects;
pub(crate) mod operations;

use askama::Template;

/// A failure shown outside the page frame (no session to draw it for).
#[derive(Template)]
#[template(path = "bare.html")]
pub(crate) struct Bare<'a> {
    pub(crate) title: &'a str,
    pub(crate) message: String,
    pub(crate) base: &'a str,
}

/// `path` with a notice (`kind` "notice") or error (`kind` "error") for the next page.
pub(crate) fn with_message(path: &str, kind: &str, text: &str) -> String {
    let joiner = if path.contains('?') { '&' } else { '?' };
    format!("{path}{joiner}{kind}={}", crate::web::encode(text))
}
