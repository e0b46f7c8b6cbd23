//! `cairn-admin`: MinIO's admin API (`/minio/admin/v3/...`) over Cairn's identity
//! store, with MinIO's paths, JSON shapes and payload encryption, so that MinIO's own
//! clients (`mc admin`, the Python `minio` package's `MinioAdmin`) work unchanged.
//! Requests are SigV4-signed like S3 requests (s3s checks the signature); every call
//! then needs the `admin:*` action MinIO names for it.

mod config;
mod groups;
mod heal;
mod info;
mod kms;
mod policies;
mod quota;
mod reply;
mod route;
mod service_accounts;
mod settings;
mod users;

pub use info::mark_start;
pub use route::AdminRoute;
pub use settings::{EnvSettings, ServerSettings};
