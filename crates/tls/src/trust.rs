//! Whom a client trusts: the system's roots plus given CA certificates, or nobody's
//! word at all (`--insecure`).

use crate::{TlsError, provider};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use std::sync::Arc;

/// The system's trusted CA certificates (none on a minimal container; unreadable ones
/// are skipped).
pub fn system_roots() -> Vec<CertificateDer<'static>> {
    let found = rustls_native_certs::load_native_certs();
    for error in &found.errors {
        tracing::debug!(%error, "skipping a system CA certificate");
    }
    found.certs
}

/// A root store of `system` (unparsable ones skipped) and `extra` (each must parse).
pub(crate) fn root_store(
    system: &[CertificateDer<'static>],
    extra: &[CertificateDer<'static>],
) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    roots.add_parsable_certificates(system.iter().cloned());
    for certificate in extra {
        roots.add(certificate.clone()).map_err(|source| TlsError::Rustls {
            what: "a trusted CA certificate cannot be used as a trust anchor".into(),
            source,
        })?;
    }
    if roots.is_empty() {
        return Err(TlsError::NoRoots);
    }
    Ok(roots)
}

/// A client configuration (no client certificate) verifying servers with `verifier`.
/// It names no ALPN protocol: the HTTP connector that uses it sets the ones it speaks
/// (hyper-rustls refuses a configuration that has some already).
pub(crate) fn client_config(provider: Arc<CryptoProvider>, verifier: Arc<dyn ServerCertVerifier>) -> ClientConfig {
    ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring's default provider supports the default protocol versions")
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth()
}

/// What a client (the CLI) trusts.
#[derive(Debug, Clone)]
pub enum ClientTrust {
    /// The system's roots and these extra CA certificates; host names are verified.
    Verify(Vec<CertificateDer<'static>>),
    /// Any certificate for any name (`--insecure`): the connection is encrypted but
    /// the server is not authenticated.
    Insecure,
    /// No certificate at all: for a system without CA certificates (a minimal container
    /// image) talking plain HTTP. An https handshake fails with a message naming `--ca`.
    Nobody,
}

impl ClientTrust {
    /// The rustls configuration of a client with this trust.
    pub fn client_config(&self) -> Result<Arc<ClientConfig>, TlsError> {
        let provider = provider();
        let verifier: Arc<dyn ServerCertVerifier> = match self {
            ClientTrust::Verify(extra) => {
                let roots = root_store(&system_roots(), extra)?;
                rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots), Arc::clone(&provider))
                    .build()
                    .map_err(|e| TlsError::Rustls {
                        what: "cannot build the certificate verifier".into(),
                        source: rustls::Error::General(e.to_string()),
                    })?
            }
            ClientTrust::Insecure => Arc::new(FixedAnswer { provider: Arc::clone(&provider), refusal: None }),
            ClientTrust::Nobody => {
                Arc::new(FixedAnswer { provider: Arc::clone(&provider), refusal: Some(NO_ROOTS_MESSAGE) })
            }
        };
        Ok(Arc::new(client_config(provider, verifier)))
    }
}

/// A verifier with one fixed answer about certificates: accept any (`--insecure`), or
/// refuse every one with `refusal` (a system with no CA to check one against). The
/// handshake's signatures are still checked, so an accepted session is at least bound
/// to the key the server presented.
#[derive(Debug)]
struct FixedAnswer {
    provider: Arc<CryptoProvider>,
    refusal: Option<&'static str>,
}

impl ServerCertVerifier for FixedAnswer {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self.refusal {
            None => Ok(ServerCertVerified::assertion()),
            Some(refusal) => Err(rustls::Error::General(refusal.into())),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

/// Why an https server is refused when the system has no CA certificates.
const NO_ROOTS_MESSAGE: &str = "this system has no trusted CA certificates; pass --ca FILE to trust a server";
