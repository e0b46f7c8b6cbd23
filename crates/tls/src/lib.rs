//! `cairn-tls`: Cairn's TLS configuration, with rustls over ring.
//!
//! A node's certificates live in a MinIO-style certs folder ([`files`]): `public.crt`
//! (the certificate chain, leaf first), `private.key`, and `CAs/` (extra trusted CA
//! certificates). [`NodeTls`] turns it into the rustls configurations every listener
//! of the node serves (S3 and node RPC today, the console later) and the one its
//! peer client connects with; both follow the files when they change ([`reload`]).
//! [`ClientTrust`] builds what a client alone needs (the CLI's aliases).
//!
//! Sits below the binary and the CLI; the S3 front and the cluster take the rustls
//! configurations built here and never read certificate files themselves.

pub mod files;
mod node;
pub mod reload;
mod trust;

pub use files::{CAS_DIR, PRIVATE_KEY_FILE, PUBLIC_CERT_FILE};
pub use node::NodeTls;
pub use trust::{ClientTrust, system_roots};

use std::path::PathBuf;
use std::sync::Arc;

/// The only ALPN protocol offered: HTTP/1.1, as over plain TCP, so that a client sees
/// the same server behaviour with and without TLS.
pub const ALPN_HTTP1: &[u8] = b"http/1.1";

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file or folder could not be read.
    #[error("{}: {source}", path.display())]
    Read {
        /// What was being read.
        path: PathBuf,
        /// Why it failed.
        source: std::io::Error,
    },
    /// A certificate file holds no PEM certificate.
    #[error("{}: no PEM certificate (-----BEGIN CERTIFICATE-----) in it", path.display())]
    NoCertificate {
        /// The file.
        path: PathBuf,
    },
    /// A PEM file could not be parsed.
    #[error("{}: not valid PEM: {why}", path.display())]
    BadPem {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        why: String,
    },
    /// The private key file holds no usable key.
    #[error(
        "{}: no unencrypted private key in it (PEM PKCS#8, PKCS#1 or SEC1; encrypted keys are not supported): {why}",
        path.display()
    )]
    NoKey {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        why: String,
    },
    /// Only one of the certificate and the key is there.
    #[error("{}: found {present} but not {missing}; put both in the folder, or neither to serve plain HTTP", dir.display())]
    Incomplete {
        /// The certs folder.
        dir: PathBuf,
        /// The file found.
        present: &'static str,
        /// The file missing.
        missing: &'static str,
    },
    /// The certificate and key were removed while the node serves TLS.
    #[error("{}: public.crt and private.key are gone; the node keeps serving the certificate it has", dir.display())]
    Removed {
        /// The certs folder.
        dir: PathBuf,
    },
    /// The certs folder given explicitly does not exist.
    #[error("{}: the certs folder does not exist", dir.display())]
    NoFolder {
        /// The folder.
        dir: PathBuf,
    },
    /// rustls refused the key or the certificates (a key that does not match its
    /// certificate, an unsupported key type, a malformed certificate).
    #[error("{what}: {source}")]
    Rustls {
        /// What was being set up.
        what: String,
        /// rustls's reason.
        source: rustls::Error,
    },
    /// No trusted root at all: nothing could be verified.
    #[error("no trusted CA certificate: the system has none and none was given")]
    NoRoots,
}

/// The crypto provider of every configuration built here: ring, with its default
/// cipher suites and key exchange groups.
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}
