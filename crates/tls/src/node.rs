//! A node's TLS: the certificate it serves, and whom it trusts when it calls its peers.
//!
//! One [`NodeTls`] per node. Every listener of the node builds its acceptor from
//! [`NodeTls::server_config`] (the S3 port, which also carries node RPC; the console
//! port will take the same), and the peer client connects with
//! [`NodeTls::client_config`]. Both read the files' current version through the
//! `NodeTls`, so a reload ([`NodeTls::reload`]) takes effect on the next handshake of
//! every listener and client without rebuilding anything.
//!
//! Peers are trusted when their chain leads to the system's roots, a certificate of
//! `CAs/`, or a certificate of this node's own `public.crt` (so nodes that share one
//! self-signed certificate, or the CA in their chain, need nothing more), and names
//! the host (or IP address) of the peer's drive URL.

use crate::files::{self, Stamp};
use crate::trust::{client_config, root_store, system_roots};
use crate::{ALPN_HTTP1, TlsError, provider};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{ClientConfig, DigitallySignedStruct, ServerConfig, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

/// One version of the folder's files, ready to use.
struct Loaded {
    /// The chain and key served.
    key: Arc<CertifiedKey>,
    /// Verifies peers against the roots of this version.
    verifier: Arc<WebPkiServerVerifier>,
    /// The files this version was read from.
    stamp: Stamp,
}

/// A node's certificate and trust, from its certs folder.
pub struct NodeTls {
    /// The certs folder.
    dir: PathBuf,
    /// The version in use; replaced whole by a reload.
    current: RwLock<Arc<Loaded>>,
    provider: Arc<CryptoProvider>,
    /// The system's roots, read once at start-up.
    system: Vec<CertificateDer<'static>>,
}

impl std::fmt::Debug for NodeTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeTls").field("dir", &self.dir).finish_non_exhaustive()
    }
}

impl NodeTls {
    /// Reads the certs folder `dir`: None when it holds no certificate and key (serve
    /// plain HTTP). `required` makes a missing folder an error (it was named by the
    /// operator, not a default).
    pub fn load(dir: &Path, required: bool) -> Result<Option<Arc<Self>>, TlsError> {
        if !dir.is_dir() {
            return if required { Err(TlsError::NoFolder { dir: dir.to_owned() }) } else { Ok(None) };
        }
        let provider = provider();
        let system = system_roots();
        let Some(loaded) = read(dir, &provider, &system)? else { return Ok(None) };
        Ok(Some(Arc::new(Self { dir: dir.to_owned(), current: RwLock::new(Arc::new(loaded)), provider, system })))
    }

    /// The certs folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn current(&self) -> Arc<Loaded> {
        Arc::clone(&self.current.read().unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    /// The configuration every TLS listener of this node serves: the current
    /// certificate, HTTP/1.1 only, no client certificates (callers authenticate with
    /// S3 signatures or node RPC tokens).
    pub fn server_config(self: &Arc<Self>) -> Arc<ServerConfig> {
        let mut config = ServerConfig::builder_with_provider(Arc::clone(&self.provider))
            .with_safe_default_protocol_versions()
            .expect("ring's default provider supports the default protocol versions")
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(Resolver(Arc::clone(self))));
        config.alpn_protocols = vec![ALPN_HTTP1.to_vec()];
        Arc::new(config)
    }

    /// The configuration this node calls its peers with.
    pub fn client_config(self: &Arc<Self>) -> Arc<ClientConfig> {
        Arc::new(client_config(Arc::clone(&self.provider), Arc::new(Verifier(Arc::clone(self)))))
    }

    /// Reads the files again when they changed since the version in use (or always
    /// with `force`), and uses them from the next handshake on. Ok(true) when a new
    /// version is in use; on an error the version in use stays.
    pub fn reload(&self, force: bool) -> Result<bool, TlsError> {
        if !force && files::stamp(&self.dir) == self.current().stamp {
            return Ok(false);
        }
        let loaded = read(&self.dir, &self.provider, &self.system)?
            .ok_or_else(|| TlsError::Removed { dir: self.dir.clone() })?;
        *self.current.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(loaded);
        Ok(true)
    }

    /// Whether the files changed since the version in use was read.
    pub fn changed(&self) -> bool {
        files::stamp(&self.dir) != self.current().stamp
    }
}

/// Reads one version of the folder.
fn read(dir: &Path, provider: &CryptoProvider, system: &[CertificateDer<'static>]) -> Result<Option<Loaded>, TlsError> {
    // The stamp is taken first: a file replaced while it is read is read again next time.
    let stamp = files::stamp(dir);
    let Some(identity) = files::read_identity(dir)? else { return Ok(None) };
    let cert_path = dir.join(files::PUBLIC_CERT_FILE);
    let mut trusted = files::read_ca_folder(dir)?;
    trusted.extend(identity.chain.iter().cloned());
    let key = CertifiedKey::from_der(identity.chain, identity.key, provider).map_err(|source| TlsError::Rustls {
        what: format!("{} with {}", cert_path.display(), dir.join(files::PRIVATE_KEY_FILE).display()),
        source,
    })?;
    let roots = root_store(system, &trusted)?;
    let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), Arc::new(provider.clone()))
        .build()
        .map_err(|e| TlsError::Rustls {
            what: "cannot build the peer certificate verifier".into(),
            source: rustls::Error::General(e.to_string()),
        })?;
    Ok(Some(Loaded { key: Arc::new(key), verifier, stamp }))
}

/// Serves the certificate in use, whatever name the client asked for.
#[derive(Debug)]
struct Resolver(Arc<NodeTls>);

impl ResolvesServerCert for Resolver {
    fn resolve(&self, _client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(Arc::clone(&self.0.current().key))
    }
}

/// Verifies a peer with the roots in use.
#[derive(Debug)]
struct Verifier(Arc<NodeTls>);

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.0.current().verifier.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.current().verifier.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.current().verifier.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.current().verifier.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};

    /// A CA, and a leaf for `127.0.0.1` signed by it: (CA PEM, leaf PEM, leaf key PEM).
    fn pair() -> (String, String, String) {
        let ca_key = KeyPair::generate().expect("CA key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = ca_params.self_signed(&ca_key).expect("CA certificate");
        let issuer = Issuer::new(ca_params, ca_key);
        let key = KeyPair::generate().expect("leaf key");
        let leaf = CertificateParams::new(vec!["127.0.0.1".to_owned()])
            .expect("leaf params")
            .signed_by(&key, &issuer)
            .expect("leaf certificate");
        (ca.pem(), leaf.pem(), key.serialize_pem())
    }

    fn write(dir: &Path, cert: &str, key: &str) {
        std::fs::write(dir.join(files::PUBLIC_CERT_FILE), cert).expect("write certificate");
        std::fs::write(dir.join(files::PRIVATE_KEY_FILE), key).expect("write key");
    }

    #[test]
    fn folders_load_or_say_why_not() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(NodeTls::load(dir.path(), true).expect("empty folder").is_none());
        assert!(NodeTls::load(&dir.path().join("missing"), false).expect("default folder").is_none());
        assert!(matches!(NodeTls::load(&dir.path().join("missing"), true), Err(TlsError::NoFolder { .. })));
        let (_, cert, _) = pair();
        let (_, _, other_key) = pair();
        write(dir.path(), &cert, &other_key);
        let error = NodeTls::load(dir.path(), true).expect_err("a key of another certificate");
        assert!(error.to_string().contains("private.key"), "{error}");
    }

    #[test]
    fn reloads_take_new_files_and_keep_the_old_ones_on_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (_, cert, key) = pair();
        write(dir.path(), &cert, &key);
        let tls = NodeTls::load(dir.path(), true).expect("load").expect("a certificate");
        let served = || tls.current().key.cert[0].clone();
        let first = served();
        assert!(!tls.reload(false).expect("unchanged"), "nothing changed");
        let (_, new_cert, new_key) = pair();
        write(dir.path(), &new_cert, &new_key);
        assert!(tls.reload(false).expect("changed"));
        let second = served();
        assert_ne!(first, second);
        std::fs::write(dir.path().join(files::PRIVATE_KEY_FILE), key).expect("a key that does not match");
        assert!(tls.reload(true).is_err());
        assert_eq!(served(), second, "a failed reload keeps the certificate in use");
    }
}
