//! `cairn-s3`: the S3 front. The only layer that knows HTTP: it builds the `s3s`
//! service (routing, SigV4 header/presigned/streaming auth, XML), implements each
//! S3 operation over the object layer, maps errors to S3 codes in one place
//! (`error.rs`), and runs the HTTP server with health endpoints and request logs.

#[macro_use]
mod fields;
#[macro_use]
mod sse;
mod access;
mod admin;
mod amz_date;
mod auth;
mod bucket;
mod bucket_encryption;
mod chunk_limit;
mod copy;
mod cors;
mod digest;
mod drain;
mod error;
mod form_upload;
#[cfg(test)]
mod fuzz_tests;
mod headers;
mod lifecycle;
mod list;
mod listener;
mod metrics;
mod multipart;
mod notification;
mod object;
mod object_lock;
mod policy;
mod post_policy;
mod query;
mod region;
mod routes;
mod s3;
mod server;
mod tagging;
mod tagging_api;
mod unsupported;
mod versioning;
mod versions;

pub use access::PeerAddr;
pub use admin::HEAL_STATUS_PATH;
pub use cors::ConsoleOrigins;
pub use listener::{
    BODY_STALL_TIMEOUT_SECS_DEFAULT, CONNECTIONS_MAX_DEFAULT, HEADER_TIMEOUT_SECS_DEFAULT, IDLE_TIMEOUT_SECS_DEFAULT,
    ListenerLimits,
};
pub use metrics::{CONSOLE_LOGINS, ConsoleLogins};
pub use server::{Ready, SHUTDOWN_GRACE_SECS_DEFAULT, ServerConfig, StoreSlot, serve};

use cairn_admin::ServerSettings;
use cairn_iam::Iam;
use cairn_object::ObjectStore;
use std::sync::Arc;

/// The S3 API over an object store.
#[derive(Debug, Clone)]
pub struct CairnS3 {
    store: ObjectStore,
    iam: Arc<Iam>,
    settings: Arc<ServerSettings>,
}

impl CairnS3 {
    /// Serves `store`, with identities and policies from `iam` and run-time `settings`.
    pub fn new(store: ObjectStore, iam: Arc<Iam>, settings: Arc<ServerSettings>) -> Self {
        Self { store, iam, settings }
    }
}

/// A request body as the object layer wants it.
pub(crate) fn body_of(blob: Option<s3s::dto::StreamingBlob>) -> cairn_object::Body {
    use futures::StreamExt;
    match blob {
        None => Box::pin(futures::stream::empty()),
        Some(blob) => Box::pin(blob.map(|chunk| {
            chunk.map_err(|error| {
                let text = error.to_string();
                if text.contains("SignatureMismatch") {
                    format!("{}: {text}", error::CHUNK_SIGNATURE_ERROR)
                } else {
                    text
                }
            })
        })),
    }
}
