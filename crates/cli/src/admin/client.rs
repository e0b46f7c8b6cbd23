//! Calls to MinIO's admin API (`/minio/admin/v3/...`), signed with SigV4 like S3
//! requests; bodies that carry secrets are sealed with madmin's EncryptData under the
//! caller's secret key, as mc does. Works against Cairn and MinIO.

use crate::config::Alias;
use crate::error::{CliError, Result};
use aws_sigv4::http_request::{PayloadChecksumKind, SignableBody, SignableRequest, SigningSettings, sign};
use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use serde::de::DeserializeOwned;
use std::time::Duration;

/// Every admin path starts with this.
const ADMIN_PREFIX: &str = "/minio/admin/v3/";
/// Largest admin answer read into memory (server info of a large cluster is ~1 MiB).
const ADMIN_RESPONSE_BYTES_MAX: usize = 16 << 20;
/// Time an admin call may take before the answer starts (heal streams are not bounded).
const ADMIN_CALL_TIMEOUT: Duration = Duration::from_secs(60);

type HttpsClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// A signed admin API client for one alias.
pub struct AdminClient {
    alias: Alias,
    alias_name: String,
    http: HttpsClient,
}

impl AdminClient {
    /// A client for `alias` (named `alias_name` in messages), trusting https servers
    /// as `trust` says (the system's roots when None).
    pub fn new(alias_name: &str, alias: Alias, trust: Option<&cairn_tls::ClientTrust>) -> Result<Self> {
        let connector = match trust {
            Some(trust) => crate::tls::connector(trust)?,
            None => hyper_rustls::HttpsConnectorBuilder::new()
                .with_native_roots()
                .map_err(|e| CliError::Remote(format!("cannot load the system's TLS roots: {e}")))?
                .https_or_http()
                .enable_http1()
                .build(),
        };
        let http = Client::builder(hyper_util::rt::TokioExecutor::new()).build(connector);
        Ok(Self { alias, alias_name: alias_name.to_owned(), http })
    }

    /// The alias's secret key (the key of sealed payloads).
    pub fn secret_key(&self) -> &str {
        &self.alias.secret_key
    }

    /// The alias's credentials and endpoint.
    pub fn alias(&self) -> &Alias {
        &self.alias
    }

    /// Calls `command` with `query` pairs and `body`; returns the answer's body, or the
    /// server's error as a typed error.
    pub async fn call(&self, method: Method, command: &str, query: &[(&str, &str)], body: Vec<u8>) -> Result<Bytes> {
        let body = self.stream(method, command, query, body).await?;
        read_limited(body).await.map_err(|e| CliError::Remote(format!("{}: {e}", self.alias_name)))
    }

    /// Like [`call`](Self::call), with the answer parsed as JSON.
    pub async fn call_json<T: DeserializeOwned>(
        &self,
        method: Method,
        command: &str,
        query: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<T> {
        let bytes = self.call(method, command, query, body).await?;
        self.parse(command, &bytes)
    }

    /// Like [`call_json`](Self::call_json), for answers sealed with the secret key.
    pub async fn call_sealed_json<T: DeserializeOwned>(
        &self,
        method: Method,
        command: &str,
        query: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<T> {
        let plain = self.call_sealed(method, command, query, body).await?;
        self.parse(command, &plain)
    }

    /// Sends a call and returns the body of a successful answer unread (for streams such
    /// as a heal's progress), or the server's error as a typed error. Waits at most
    /// [`ADMIN_CALL_TIMEOUT`] for the answer to start; the body itself is not bounded in time.
    pub async fn stream(
        &self,
        method: Method,
        command: &str,
        query: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<Incoming> {
        let response = tokio::time::timeout(ADMIN_CALL_TIMEOUT, self.send(method, command, query, body))
            .await
            .map_err(|_| CliError::Remote(format!("{}: no answer within {ADMIN_CALL_TIMEOUT:?}", self.alias_name)))??;
        let status = response.status();
        if status.is_success() {
            return Ok(response.into_body());
        }
        let bytes = read_limited(response.into_body())
            .await
            .map_err(|e| CliError::Remote(format!("{}: {e}", self.alias_name)))?;
        Err(self.failure(command, status, &bytes))
    }

    /// Like [`call`](Self::call), with the answer decrypted with the secret key.
    pub async fn call_sealed(
        &self,
        method: Method,
        command: &str,
        query: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<Vec<u8>> {
        let sealed = self.call(method, command, query, body).await?;
        cairn_madmin::decrypt_data(&self.alias.secret_key, &sealed)
            .map_err(|e| CliError::Remote(format!("{}: cannot decrypt the answer: {e}", self.alias_name)))
    }

    /// `plain` sealed with the secret key, as a request body.
    pub fn seal(&self, plain: &[u8]) -> Result<Vec<u8>> {
        cairn_madmin::encrypt_data(&self.alias.secret_key, plain)
            .map_err(|e| CliError::Remote(format!("cannot encrypt the request: {e}")))
    }

    /// `value` as JSON, sealed with the secret key, as a request body.
    pub fn seal_json(&self, value: &serde_json::Value) -> Result<Vec<u8>> {
        self.seal(value.to_string().as_bytes())
    }

    /// The alias's name, for messages.
    pub fn alias_name(&self) -> &str {
        &self.alias_name
    }

    fn parse<T: DeserializeOwned>(&self, command: &str, bytes: &[u8]) -> Result<T> {
        serde_json::from_slice(bytes).map_err(|e| {
            CliError::Remote(format!("{} {command}: the answer is not what was expected: {e}", self.alias_name))
        })
    }

    /// Sends a signed request and returns the response with its body unread (for streams).
    pub async fn send(
        &self,
        method: Method,
        command: &str,
        query: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<Response<Incoming>> {
        let request = self.signed(method, command, query, body)?;
        self.http.request(request).await.map_err(|e| {
            CliError::Remote(format!(
                "{}: cannot reach {}: {e} (is the server running?)",
                self.alias_name, self.alias.url
            ))
        })
    }

    /// GETs `path` on the alias's endpoint with a bearer `token` (the metrics
    /// endpoints take one) and returns the answer as text.
    pub async fn get_with_bearer(&self, path: &str, token: &str) -> Result<String> {
        let uri = format!("{}{path}", self.alias.url);
        let request = Request::get(&uri)
            .header(http::header::AUTHORIZATION, format!("Bearer {token}"))
            .body(Full::new(Bytes::new()))
            .map_err(|e| CliError::Usage(format!("{uri}: {e}")))?;
        let response = tokio::time::timeout(ADMIN_CALL_TIMEOUT, self.http.request(request))
            .await
            .map_err(|_| CliError::Remote(format!("{}: no answer within {ADMIN_CALL_TIMEOUT:?}", self.alias_name)))?
            .map_err(|e| CliError::Remote(format!("{}: cannot reach {}: {e}", self.alias_name, self.alias.url)))?;
        let status = response.status();
        let body = read_limited(response.into_body()).await.map_err(|e| CliError::Remote(format!("{uri}: {e}")))?;
        if !status.is_success() {
            return Err(self.failure(path, status, &body));
        }
        Ok(String::from_utf8_lossy(&body).into_owned())
    }

    /// The typed error for a failed answer (MinIO's JSON error `{"Code","Message"}`).
    pub fn failure(&self, command: &str, status: StatusCode, body: &[u8]) -> CliError {
        let parsed: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
        let code = parsed["Code"].as_str().unwrap_or_default();
        let message =
            parsed["Message"].as_str().map_or_else(|| String::from_utf8_lossy(body).into_owned(), str::to_owned);
        let text = format!("{} {command}: {}", self.alias_name, if message.is_empty() { code } else { &message });
        match status {
            StatusCode::NOT_FOUND => CliError::NotFound(text),
            StatusCode::FORBIDDEN | StatusCode::UNAUTHORIZED => {
                CliError::AccessDenied(format!("{text} (the alias's keys lack the admin permission)"))
            }
            StatusCode::BAD_REQUEST => CliError::Usage(text),
            _ => CliError::Remote(format!("{text} (HTTP {})", status.as_u16())),
        }
    }

    fn signed(
        &self,
        method: Method,
        command: &str,
        query: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<Request<Full<Bytes>>> {
        let encode = |s: &str| percent_encoding::utf8_percent_encode(s, QUERY_VALUE).to_string();
        let query: Vec<String> =
            query.iter().map(|(name, value)| format!("{}={}", encode(name), encode(value))).collect();
        let mut uri = format!("{}{ADMIN_PREFIX}{command}", self.alias.url);
        if !query.is_empty() {
            uri.push('?');
            uri.push_str(&query.join("&"));
        }
        let host = self.alias.url.split_once("://").map_or(self.alias.url.as_str(), |(_, host)| host).to_owned();
        let mut settings = SigningSettings::default();
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        let identity = aws_credential_types::Credentials::new(
            self.alias.access_key.clone(),
            self.alias.secret_key.clone(),
            None,
            None,
            "cairn-alias",
        )
        .into();
        let params = aws_sigv4::sign::v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.alias.region)
            .name("s3")
            .time(std::time::SystemTime::now())
            .settings(settings)
            .build()
            .map_err(|e| CliError::Usage(format!("cannot sign: {e}")))?
            .into();
        let headers = [("host", host.as_str())];
        let signable = SignableRequest::new(method.as_str(), &uri, headers.into_iter(), SignableBody::Bytes(&body))
            .map_err(|e| CliError::Usage(format!("cannot sign {uri}: {e}")))?;
        let (instructions, _) =
            sign(signable, &params).map_err(|e| CliError::Usage(format!("cannot sign: {e}")))?.into_parts();
        let mut request = Request::builder()
            .method(method)
            .uri(&uri)
            .header(http::header::HOST, &host)
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| CliError::Usage(format!("{uri}: {e}")))?;
        instructions.apply_to_request_http1x(&mut request);
        Ok(request)
    }
}

/// Characters escaped in query names and values (everything but unreserved ones, as SigV4 wants).
const QUERY_VALUE: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

async fn read_limited(body: Incoming) -> std::result::Result<Bytes, String> {
    let limited = Limited::new(body, ADMIN_RESPONSE_BYTES_MAX);
    limited.collect().await.map(|c| c.to_bytes()).map_err(|e| format!("cannot read the answer: {e}"))
}
