//! One other node, as seen from this one: an HTTP client with a connection pool (over
//! TLS when the drive URLs are `https://`, verifying the peer's certificate and host
//! name), the calls that carry drive and lock operations to it, and its online state.
//!
//! A slow peer is not a dead one. Each call has a deadline that grows with the bytes it
//! moves ([`deadline_for`]); a call that misses it, or fails to connect, fails alone and
//! asks for a probe. Only the liveness probe (a small health call every second, see
//! [`liveness`]) marks the peer offline: when the node refuses connections, or has not
//! answered for [`OFFLINE_AFTER_MS`]. From then on calls fail at once (so one hung node
//! cannot stall every request), calls in flight give up, and the probe brings the peer
//! back when it answers again.

use crate::stream::{SignedStream, StreamItem};
use crate::token::{STREAM_BODY, TokenKey, body_digest};
use crate::wire::{
    HEADER_BODY, HEADER_DRIVE, HEADER_FENCE, HEADER_NONCE, HEADER_PATH, HEADER_TIME, HEADER_TOKEN, PATH_BUCKET_CHANGED,
    PATH_HEALTH, PATH_METRICS, PATH_RELOAD_IDENTITIES, WireError, decode, encode,
};
use bytes::Bytes;
use cairn_drive::DriveError;
use http::{Method, Request, Response, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, mpsc, watch};

/// Longest wait for a TCP connection to a peer (the TLS handshake, if any, then runs
/// under the call's deadline).
const CONNECT_TIMEOUT_MS: u64 = 2_000;
/// The fixed part of every call's deadline: a round trip and the peer's disk work for
/// one call (a commit's fsyncs on a busy disk).
pub const CALL_TIMEOUT_BASE_MS: u64 = 10_000;
/// The slowest transfer a deadline allows for: a call moving n bytes waits
/// [`CALL_TIMEOUT_BASE_MS`] + n / this. A peer slower than this fails calls that move
/// data (each alone) but stays online while it answers its probes.
pub const TRANSFER_RATE_BYTES_PER_SEC_MIN: u64 = 1 << 20;
/// How often each peer is probed.
const PROBE_INTERVAL_MS: u64 = 1_000;
/// Longest wait for a probe's answer.
const PROBE_TIMEOUT_MS: u64 = 3_000;
/// A peer that answered no probe for this long is offline.
pub const OFFLINE_AFTER_MS: u64 = 4_000;
/// Longest wait for the answer to a recheck ([`Peer::recheck`]): a node that is back
/// answers a health call within milliseconds, and the request that asks is waiting.
const RECHECK_TIMEOUT_MS: u64 = 1_000;
/// A recheck that found the peer still gone is not repeated for this long, so that the
/// requests of a dead peer's window fail at once instead of each waiting for a probe.
const RECHECK_INTERVAL_MS: u64 = 1_000;
/// Idle pooled connections per peer; enough for the parallel shard streams of a busy node.
const POOL_IDLE_PER_HOST: usize = 64;

/// The deadline of a call that moves `bytes` (sent and received together).
pub fn deadline_for(bytes: u64) -> Duration {
    let transfer_ms = bytes.saturating_mul(1_000) / TRANSFER_RATE_BYTES_PER_SEC_MIN;
    Duration::from_millis(CALL_TIMEOUT_BASE_MS.saturating_add(transfer_ms))
}

/// Request bodies sent to peers: whole messages or streamed shard files.
pub type RequestBody = UnsyncBoxBody<Bytes, std::io::Error>;

/// What a call sends.
pub enum Outgoing {
    /// A whole message; its SHA-256 is part of the call's token.
    Whole(Bytes),
    /// A shard file, chunk by chunk; it ends with a MAC bound to the call's token.
    Stream(mpsc::Receiver<StreamItem>),
}

/// Another node of the cluster.
pub struct Peer {
    /// `host:port` of the node.
    authority: String,
    /// `https` when calls go over TLS, else `http`.
    scheme: &'static str,
    client: Client<HttpsConnector<HttpConnector>, RequestBody>,
    token: TokenKey,
    online: AtomicBool,
    /// Bumped each time the peer comes back online; subscribers heal what it missed.
    returns: watch::Sender<u64>,
    /// Bumped each time the peer goes offline; calls in flight stop waiting for it.
    departures: watch::Sender<u64>,
    /// Wakes the liveness task for a probe now (a call failed).
    suspect: Arc<Notify>,
    /// Taken by one recheck at a time; holds when a recheck last found the peer gone.
    recheck: tokio::sync::Mutex<Option<Instant>>,
}

impl std::fmt::Debug for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Peer").field("authority", &self.authority).field("online", &self.is_online()).finish()
    }
}

impl Peer {
    /// A peer at `authority` (`host:port`), called over TLS with `tls` (which verifies
    /// the peer's certificate and that it names the host of `authority`) or over plain
    /// HTTP when None; starts its liveness probe.
    pub fn new(authority: &str, token: TokenKey, tls: Option<Arc<rustls::ClientConfig>>) -> Arc<Self> {
        let mut tcp = HttpConnector::new();
        tcp.set_nodelay(true);
        tcp.set_connect_timeout(Some(Duration::from_millis(CONNECT_TIMEOUT_MS)));
        tcp.enforce_http(false);
        let scheme = if tls.is_some() { "https" } else { "http" };
        let connector = match tls {
            Some(config) => hyper_rustls::HttpsConnectorBuilder::new()
                .with_tls_config(Arc::unwrap_or_clone(config))
                .https_only()
                .enable_http1()
                .wrap_connector(tcp),
            // Plain calls never use the (empty) TLS configuration: the scheme is `http`.
            None => hyper_rustls::HttpsConnectorBuilder::new()
                .with_tls_config(plain_only())
                .https_or_http()
                .enable_http1()
                .wrap_connector(tcp),
        };
        let client = Client::builder(TokioExecutor::new()).pool_max_idle_per_host(POOL_IDLE_PER_HOST).build(connector);
        let suspect = Arc::new(Notify::new());
        let peer = Arc::new(Self {
            authority: authority.to_owned(),
            scheme,
            client,
            token,
            online: AtomicBool::new(true),
            returns: watch::Sender::new(0),
            departures: watch::Sender::new(0),
            suspect: Arc::clone(&suspect),
            recheck: tokio::sync::Mutex::new(None),
        });
        tokio::spawn(liveness(Arc::downgrade(&peer), suspect));
        peer
    }

    /// `host:port` of the node.
    pub fn authority(&self) -> &str {
        &self.authority
    }

    /// `https` when calls to the node go over TLS, else `http`.
    pub fn scheme(&self) -> &'static str {
        self.scheme
    }

    /// False after the liveness probe found the node gone, until it answers again.
    pub fn is_online(&self) -> bool {
        self.online.load(Ordering::Acquire)
    }

    /// Whether the peer answers now, asked at once rather than at the next periodic
    /// probe: true when it is online or answers a health probe within
    /// [`RECHECK_TIMEOUT_MS`] (then it is marked online). A read that found no quorum
    /// because this peer's drives were offline asks: after a partition heals, each node
    /// counts the peer as lost until its own next probe, and reads whose answer depends
    /// on that peer's drives would fail with 503 although the quorum is there.
    pub async fn recheck(&self) -> bool {
        if self.is_online() {
            return true;
        }
        let mut last_failed = self.recheck.lock().await;
        if self.is_online() {
            return true;
        }
        if last_failed.is_some_and(|at| at.elapsed() < Duration::from_millis(RECHECK_INTERVAL_MS)) {
            return false;
        }
        if self.probe_once(Duration::from_millis(RECHECK_TIMEOUT_MS)).await == Ok(true) {
            self.mark_online();
            return true;
        }
        *last_failed = Some(Instant::now());
        false
    }

    /// Changes each time the peer comes back online.
    pub fn returns(&self) -> watch::Receiver<u64> {
        self.returns.subscribe()
    }

    pub(crate) fn offline_error(&self) -> DriveError {
        DriveError::Offline(self.authority.clone())
    }

    pub(crate) fn mark_offline(&self, why: &str) {
        if self.online.swap(false, Ordering::AcqRel) {
            tracing::warn!(peer = %self.authority, why, "peer offline");
            self.departures.send_modify(|count| *count += 1);
        }
    }

    fn mark_online(&self) {
        if !self.online.swap(true, Ordering::AcqRel) {
            self.returns.send_modify(|count| *count += 1);
            tracing::info!(peer = %self.authority, "peer back online");
        }
    }

    /// A call to the peer failed in a way a dead peer would cause: probe it now, so
    /// that the peer is marked offline within a probe if it is gone. The call itself
    /// fails alone.
    pub(crate) fn suspect(&self, why: &str) {
        tracing::debug!(peer = %self.authority, why, "call failed; probing the peer");
        self.suspect.notify_one();
    }

    /// Runs `work` until it ends, `deadline` passes or the peer goes offline.
    pub(crate) async fn bounded<T>(
        &self,
        what: &'static str,
        deadline: Duration,
        work: impl Future<Output = Result<T, DriveError>>,
    ) -> Result<T, DriveError> {
        let mut departures = self.departures.subscribe();
        if !self.is_online() {
            return Err(self.offline_error());
        }
        tokio::select! {
            result = tokio::time::timeout(deadline, work) => result.unwrap_or_else(|_| {
                self.suspect(what);
                Err(DriveError::Io {
                    op: "rpc",
                    source: std::io::Error::other(format!(
                        "{}: {what} took longer than {} ms", self.authority, deadline.as_millis()
                    )),
                })
            }),
            _ = departures.changed() => Err(self.offline_error()),
        }
    }

    fn request(&self, method: Method, path: &str) -> http::request::Builder {
        Request::builder().method(method).uri(format!("{}://{}{path}", self.scheme, self.authority))
    }

    /// Signs `request`, whose body is described by `body_field` (its SHA-256, or
    /// [`STREAM_BODY`]): sets the body, nonce, time and token headers.
    fn sign<B>(&self, request: &mut Request<B>, body_field: &str) -> Result<crate::token::Issued, DriveError> {
        let malformed = |e: http::header::InvalidHeaderValue| DriveError::Io {
            op: "rpc request",
            source: std::io::Error::other(e),
        };
        request.headers_mut().insert(HEADER_BODY, http::HeaderValue::from_str(body_field).map_err(malformed)?);
        let issued = self.token.issue(&scope_of(request));
        let headers = request.headers_mut();
        for (name, value) in
            [(HEADER_TIME, &issued.time), (HEADER_NONCE, &issued.nonce), (HEADER_TOKEN, &issued.tokens)]
        {
            headers.insert(name, http::HeaderValue::from_str(value).map_err(malformed)?);
        }
        Ok(issued)
    }

    /// Sends a request built by `build` (which gets a builder with the method and URI
    /// set) with `body`, and waits at most `deadline` for the response head.
    pub async fn send(
        &self,
        path: &str,
        build: impl FnOnce(http::request::Builder) -> http::request::Builder,
        body: Outgoing,
        deadline: Duration,
    ) -> Result<Response<Incoming>, DriveError> {
        if !self.is_online() {
            return Err(self.offline_error());
        }
        let request = self.signed(path, build, body)?;
        self.bounded("waiting for an answer", deadline, async {
            self.client.request(request).await.map_err(|error| {
                let why = self.describe(&error);
                self.suspect(&why);
                DriveError::Offline(why)
            })
        })
        .await
    }

    /// The request built by `build` with `body`, signed.
    fn signed(
        &self,
        path: &str,
        build: impl FnOnce(http::request::Builder) -> http::request::Builder,
        body: Outgoing,
    ) -> Result<Request<RequestBody>, DriveError> {
        let builder = build(self.request(Method::POST, path));
        let invalid = |e: http::Error| DriveError::Io { op: "rpc request", source: std::io::Error::other(e) };
        Ok(match body {
            Outgoing::Whole(bytes) => {
                let digest = body_digest(&bytes);
                let mut request = builder.body(full_body(bytes)).map_err(invalid)?;
                self.sign(&mut request, &digest)?;
                request
            }
            Outgoing::Stream(chunks) => {
                let mut request = builder.body(full_body(Bytes::new())).map_err(invalid)?;
                let issued = self.sign(&mut request, STREAM_BODY)?;
                let stream = SignedStream::new(chunks, self.token.clone(), issued);
                request.map(|_| UnsyncBoxBody::new(stream))
            }
        })
    }

    /// A small unary call sent even while the peer counts as offline, answered within
    /// `deadline`. For messages that must land whenever the peer can hear this node
    /// (the release of a lock whose grant's answer was lost: under a one-way partition
    /// the requests still arrive though no answer comes back), where failing at once
    /// would leave the peer refusing every other writer for a whole lease.
    pub async fn call_regardless<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        body: Bytes,
        deadline: Duration,
    ) -> Result<T, DriveError> {
        let request = self.signed(path, |request| request, Outgoing::Whole(body))?;
        let exchange = async {
            let response = self.client.request(request).await.map_err(|e| DriveError::Offline(self.describe(&e)))?;
            let status = response.status();
            let bytes = response
                .into_body()
                .collect()
                .await
                .map_err(|e| DriveError::Offline(format!("{}: {e}", self.authority)))?
                .to_bytes();
            if !status.is_success() {
                return Err(DriveError::Offline(format!("{}: status {status}", self.authority)));
            }
            decode::<Result<T, WireError>>(&bytes)?.map_err(DriveError::from)
        };
        tokio::time::timeout(deadline, exchange)
            .await
            .unwrap_or_else(|_| Err(DriveError::Offline(format!("{}: no answer", self.authority))))
    }

    /// A unary call: `body` out, a MessagePack `Result<T, WireError>` back; `reply_bytes`
    /// is how much data the answer carries (0 when it is small), for its deadline.
    pub async fn call<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        build: impl FnOnce(http::request::Builder) -> http::request::Builder,
        body: Bytes,
        reply_bytes: u64,
    ) -> Result<T, DriveError> {
        let deadline = deadline_for(body.len() as u64 + reply_bytes);
        let started = Instant::now();
        let response = self.send(path, build, Outgoing::Whole(body), deadline).await?;
        let bytes = self.read_reply(response, deadline.saturating_sub(started.elapsed())).await?;
        decode::<Result<T, WireError>>(&bytes)?.map_err(DriveError::from)
    }

    /// The peer's request counters, as its [`MetricsSource`](crate::service::MetricsSource) encoded them.
    pub async fn node_metrics(&self) -> Result<Vec<u8>, DriveError> {
        self.call::<Vec<u8>>(PATH_METRICS, |request| request, Bytes::new(), 0).await
    }

    /// Tells the peer that `bucket`'s configuration changed, so that it reads it again.
    pub async fn bucket_changed(&self, bucket: &str) -> Result<bool, DriveError> {
        self.call::<bool>(PATH_BUCKET_CHANGED, |request| request, encode(&bucket.to_owned()), 0).await
    }

    /// Asks the peer to reload its identities now (another node changed them); true when
    /// it did.
    pub async fn reload_identities(&self) -> Result<bool, DriveError> {
        self.call::<bool>(PATH_RELOAD_IDENTITIES, |request| request, Bytes::new(), 0).await
    }

    /// Reads a whole reply body within `deadline`; a refused call (bad token, unknown
    /// drive) is an error.
    pub async fn read_reply(&self, response: Response<Incoming>, deadline: Duration) -> Result<Bytes, DriveError> {
        let status = response.status();
        let bytes = self
            .bounded("reading an answer", deadline, async {
                response.into_body().collect().await.map(|c| c.to_bytes()).map_err(|error| {
                    self.suspect(&error.to_string());
                    DriveError::Offline(format!("{}: {error}", self.authority))
                })
            })
            .await?;
        if status != StatusCode::OK {
            return Err(refused(&self.authority, status, &bytes));
        }
        Ok(bytes)
    }

    /// A failed request to this peer in words.
    fn describe(&self, error: &(dyn std::error::Error + 'static)) -> String {
        describe_error(&self.authority, error)
    }

    /// One health probe: true when the node answered at all (even refusing our token:
    /// it is alive), false when it did not answer in time, an error when it refused
    /// the connection (it is not running).
    async fn probe_once(&self, timeout: Duration) -> Result<bool, String> {
        let Ok(mut request) = self.request(Method::GET, PATH_HEALTH).body(full_body(Bytes::new())) else {
            return Ok(false);
        };
        if self.sign(&mut request, &body_digest(b"")).is_err() {
            return Ok(false);
        }
        match tokio::time::timeout(timeout, self.client.request(request)).await {
            Ok(Ok(_)) => Ok(true),
            Ok(Err(error)) if error.is_connect() => Err(self.describe(&error)),
            Ok(Err(_)) | Err(_) => Ok(false),
        }
    }
}

/// A failed request in words: the whole chain of causes, and what to check when the
/// TLS handshake failed (the peer's certificate is not trusted here, or does not name
/// the host this node calls it by).
fn describe_error(authority: &str, error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = format!("{authority}: {error}");
    let mut tls_failure = false;
    let mut next = cause_of(error);
    while let Some(cause) = next {
        tls_failure |= cause.is::<rustls::Error>();
        // Wrappers often repeat their cause's text: say each thing once.
        let said = cause.to_string();
        if !text.contains(&said) {
            text.push_str(&format!(": {said}"));
        }
        next = cause_of(cause);
    }
    if tls_failure {
        text.push_str(
            " (TLS: the peer's certificate must chain to a CA this node trusts (the system's, its certs \
             folder's CAs/, or its own public.crt chain) and name the host of the drive URLs)",
        );
    }
    text
}

/// The next error of a chain. An `io::Error`'s payload comes next (its `source()` skips it).
fn cause_of<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a (dyn std::error::Error + 'static)> {
    match error.downcast_ref::<std::io::Error>() {
        Some(io) => io.get_ref().map(|inner| inner as &(dyn std::error::Error + 'static)),
        None => error.source(),
    }
}

/// A TLS configuration for a plain-HTTP peer client; it trusts nobody and is never used.
fn plain_only() -> rustls::ClientConfig {
    rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("ring's default provider supports the default protocol versions")
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth()
}

/// A whole message as a request body.
pub fn full_body(bytes: Bytes) -> RequestBody {
    UnsyncBoxBody::new(Full::new(bytes).map_err(|never| match never {}))
}

/// What a token covers besides time and nonce: method, path, and the drive, file,
/// fence and body headers, so that a captured token cannot serve another call or body.
pub fn scope_of<B>(request: &Request<B>) -> String {
    let header = |name: &str| request.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default();
    format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        request.method(),
        request.uri().path(),
        header(HEADER_DRIVE),
        header(HEADER_PATH),
        header(HEADER_FENCE),
        header(HEADER_BODY)
    )
}

/// The error for a call the peer answered with something other than 200.
fn refused(authority: &str, status: StatusCode, body: &[u8]) -> DriveError {
    let why = String::from_utf8_lossy(body);
    match status {
        StatusCode::NOT_FOUND => DriveError::DriveNotFound,
        StatusCode::SERVICE_UNAVAILABLE => DriveError::Offline(format!("{authority}: {why}")),
        StatusCode::UNAUTHORIZED => DriveError::Io {
            op: "rpc",
            source: std::io::Error::other(format!(
                "{authority} refused this node's token ({why}): the nodes must share the same root credentials"
            )),
        },
        _ => {
            DriveError::Io { op: "rpc", source: std::io::Error::other(format!("{authority} answered {status}: {why}")) }
        }
    }
}

/// Probes the peer every [`PROBE_INTERVAL_MS`], or at once when a call failed; alone
/// decides whether the peer is online. Stops when the peer is dropped.
async fn liveness(peer: Weak<Peer>, suspect: Arc<Notify>) {
    let mut last_answer = Instant::now();
    // Why the last probe was refused: a peer that stays offline for a new reason (it
    // came up, but its certificate is not trusted here) is logged again.
    let mut last_refusal: Option<String> = None;
    loop {
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(PROBE_INTERVAL_MS)) => {}
            () = suspect.notified() => {}
        }
        let Some(peer) = peer.upgrade() else { return };
        match peer.probe_once(Duration::from_millis(PROBE_TIMEOUT_MS)).await {
            Ok(true) => {
                last_answer = Instant::now();
                last_refusal = None;
                peer.mark_online();
            }
            Ok(false) if last_answer.elapsed() >= Duration::from_millis(OFFLINE_AFTER_MS) => {
                peer.mark_offline(&format!("no answer to health probes for {} ms", last_answer.elapsed().as_millis()));
            }
            Ok(false) => {}
            Err(refused) => {
                if !peer.is_online() && last_refusal.as_ref().is_some_and(|last| *last != refused) {
                    tracing::warn!(peer = %peer.authority, why = refused, "peer still offline");
                }
                peer.mark_offline(&refused);
                last_refusal = Some(refused);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Longest a test waits for the liveness probe to find a refused port.
    const OFFLINE_WAIT_MS_MAX: u64 = 10_000;

    /// A free loopback port: bound, then released (connections to it are refused).
    fn free_port() -> std::net::SocketAddr {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        listener.local_addr().expect("local address")
    }

    /// Answers every request on `address` with an empty 200, as a node's health check does.
    async fn serve_health(address: std::net::SocketAddr) {
        let listener = tokio::net::TcpListener::bind(address).await.expect("bind the freed port again");
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut request = [0_u8; 4096];
                    while stream.read(&mut request).await.is_ok_and(|n| n > 0) {
                        let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
                        if stream.write_all(answer).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
    }

    /// Regression (chaos seed 259089016751724, PartitionOneWay): once a partition healed,
    /// a node kept counting the peer offline until its next probe, and reads that needed
    /// the peer's drives failed with 503. A recheck asks the peer at once.
    #[tokio::test]
    async fn a_recheck_of_a_peer_still_gone_fails() {
        let peer = Peer::new(&free_port().to_string(), TokenKey::new("access", "secret-key"), None);
        peer.mark_offline("test");
        assert!(!peer.recheck().await);
        assert!(!peer.recheck().await, "asked again within the interval: still gone, without a probe");
        assert!(!peer.is_online());
    }

    #[tokio::test]
    async fn a_recheck_finds_a_peer_that_is_back_before_the_next_probe() {
        let address = free_port();
        let peer = Peer::new(&address.to_string(), TokenKey::new("access", "secret-key"), None);
        peer.suspect("test: nothing listens");
        let started = Instant::now();
        while peer.is_online() {
            assert!(started.elapsed() < Duration::from_millis(OFFLINE_WAIT_MS_MAX), "the probe never ran");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // The periodic probe that found it gone sleeps a second before the next one.
        serve_health(address).await;
        assert!(peer.recheck().await, "the peer answers again");
        assert!(peer.is_online());
    }
}
