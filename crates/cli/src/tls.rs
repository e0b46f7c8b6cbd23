//! Whom the CLI trusts over https: `--ca FILE` adds CA certificates to the system's
//! roots (a server whose certificate a private CA signed), `--insecure` accepts any
//! certificate. Without either, the S3 and admin clients use the system's roots.
//!
//! With either flag, both clients connect through one hyper connector over the rustls
//! configuration built by `cairn-tls`, so S3 and admin calls trust the same servers.

use crate::error::{CliError, Result};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use cairn_tls::ClientTrust;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector as TcpConnector;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Time to connect to an endpoint before giving up on it (the TLS handshake then runs
/// under the request's own bounds).
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The `--ca` and `--insecure` options.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct TlsOptions {
    /// Trust this CA certificate (PEM) for https aliases, besides the system's roots;
    /// repeat for more than one.
    #[arg(long = "ca", global = true, value_name = "FILE", env = "CAIRN_CA_FILE")]
    pub ca_files: Vec<PathBuf>,
    /// Accept any server certificate on https aliases: the connection is encrypted but
    /// the server is not authenticated. For tests and first setups only.
    #[arg(long, global = true)]
    pub insecure: bool,
}

impl TlsOptions {
    /// The trust these options ask for, or None for the system's roots alone (when the
    /// system has some).
    pub(crate) fn trust(&self) -> Result<Option<ClientTrust>> {
        if self.insecure {
            if !self.ca_files.is_empty() {
                return Err(CliError::Usage("--ca and --insecure exclude each other".into()));
            }
            return Ok(Some(ClientTrust::Insecure));
        }
        if self.ca_files.is_empty() {
            // A minimal container image has no CA certificates: plain HTTP aliases (a
            // pod talking to itself) must still work, and https ones fail naming --ca.
            if cairn_tls::system_roots().is_empty() {
                return Ok(Some(ClientTrust::Nobody));
            }
            return Ok(None);
        }
        let mut certificates = Vec::new();
        for path in &self.ca_files {
            let found = cairn_tls::files::read_certificates(path).map_err(|e| CliError::Usage(format!("--ca: {e}")))?;
            certificates.extend(found);
        }
        Ok(Some(ClientTrust::Verify(certificates)))
    }
}

/// A connector over TLS with `trust` (plain HTTP for `http://` URLs).
pub(crate) fn connector(trust: &ClientTrust) -> Result<hyper_rustls::HttpsConnector<TcpConnector>> {
    let config = trust.client_config().map_err(|e| CliError::Usage(format!("TLS: {e}")))?;
    let mut tcp = TcpConnector::new();
    tcp.set_nodelay(true);
    tcp.set_connect_timeout(Some(CONNECT_TIMEOUT));
    tcp.enforce_http(false);
    Ok(hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(Arc::unwrap_or_clone(config))
        .https_or_http()
        .enable_http1()
        .wrap_connector(tcp))
}

/// An HTTP client for the S3 SDK that trusts as `trust` says.
pub(crate) fn sdk_client(trust: &ClientTrust) -> Result<SharedHttpClient> {
    let http = Client::builder(hyper_util::rt::TokioExecutor::new()).build(connector(trust)?);
    Ok(SharedHttpClient::new(Trusting { http }))
}

/// The S3 SDK's HTTP client over [`connector`].
#[derive(Debug, Clone)]
struct Trusting {
    http: Client<hyper_rustls::HttpsConnector<TcpConnector>, SdkBody>,
}

impl HttpClient for Trusting {
    fn http_connector(
        &self,
        _settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(self.clone())
    }
}

impl HttpConnector for Trusting {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let request = match request.try_into_http1x() {
            Ok(request) => request,
            Err(error) => return HttpConnectorFuture::ready(Err(ConnectorError::user(error.into()))),
        };
        let response = self.http.request(request);
        HttpConnectorFuture::new(async move {
            match response.await {
                Ok(response) => HttpResponse::try_from(response.map(SdkBody::from_body_1_x))
                    .map_err(|error| ConnectorError::other(error.into(), None)),
                // Connection, TLS and transfer failures are I/O: the SDK retries them
                // as transient, as it does with its own client.
                Err(error) => Err(ConnectorError::io(error.into())),
            }
        })
    }
}
