//! One other node, as seen from this one: an HTTP client with a connection pool,
//! the calls that carry drive and lock operations to it, and its online state.
//!
//! A call that fails to connect or times out marks the peer offline; from then on
//! calls fail at once (so one hung node cannot stall every request) until a
//! background probe sees the node answer again and marks it back online.

use crate::token::TokenKey;
use crate::wire::{HEADER_DRIVE, HEADER_PATH, HEADER_TIME, HEADER_TOKEN, PATH_HEALTH, PATH_METRICS, WireError, decode};
use bytes::Bytes;
use cairn_drive::DriveError;
use http::{Method, Request, Response, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::sync::watch;

/// Longest wait for a TCP connection to a peer.
const CONNECT_TIMEOUT_MS: u64 = 2_000;
/// Longest wait for the answer to a small call (metadata, commit, a shard frame).
pub const CALL_TIMEOUT_MS: u64 = 10_000;
/// How often an offline peer is probed.
const PROBE_INTERVAL_MS: u64 = 1_000;
/// Longest wait for a probe's answer.
const PROBE_TIMEOUT_MS: u64 = 2_000;
/// Idle pooled connections per peer; enough for the parallel shard streams of a busy node.
const POOL_IDLE_PER_HOST: usize = 64;

/// Request bodies sent to peers: whole messages or streamed shard files.
pub type RequestBody = UnsyncBoxBody<Bytes, std::io::Error>;

/// A whole message as a request body.
pub fn full_body(bytes: Bytes) -> RequestBody {
    UnsyncBoxBody::new(Full::new(bytes).map_err(|never| match never {}))
}

/// Another node of the cluster.
pub struct Peer {
    /// `host:port` of the node.
    authority: String,
    client: Client<HttpConnector, RequestBody>,
    token: TokenKey,
    online: AtomicBool,
    /// Bumped each time the peer comes back online; subscribers heal what it missed.
    returns: watch::Sender<u64>,
}

impl std::fmt::Debug for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Peer").field("authority", &self.authority).field("online", &self.is_online()).finish()
    }
}

impl Peer {
    /// A peer at `authority` (`host:port`); starts its background probe.
    pub fn new(authority: &str, token: TokenKey) -> Arc<Self> {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(Duration::from_millis(CONNECT_TIMEOUT_MS)));
        let client = Client::builder(TokioExecutor::new()).pool_max_idle_per_host(POOL_IDLE_PER_HOST).build(connector);
        let peer = Arc::new(Self {
            authority: authority.to_owned(),
            client,
            token,
            online: AtomicBool::new(true),
            returns: watch::Sender::new(0),
        });
        tokio::spawn(probe(Arc::downgrade(&peer)));
        peer
    }

    /// `host:port` of the node.
    pub fn authority(&self) -> &str {
        &self.authority
    }

    /// False after a call failed to reach the node, until a probe reaches it again.
    pub fn is_online(&self) -> bool {
        self.online.load(Ordering::Acquire)
    }

    /// Changes each time the peer comes back online.
    pub fn returns(&self) -> watch::Receiver<u64> {
        self.returns.subscribe()
    }

    fn offline_error(&self) -> DriveError {
        DriveError::Offline(self.authority.clone())
    }

    /// Marks the peer offline after a failed call.
    pub fn mark_offline(&self, why: &str) {
        if self.online.swap(false, Ordering::AcqRel) {
            tracing::warn!(peer = %self.authority, why, "peer offline");
        }
    }

    fn request(&self, method: Method, path: &str) -> http::request::Builder {
        Request::builder().method(method).uri(format!("http://{}{path}", self.authority))
    }

    /// Adds the time and token headers, over the finished request's scope.
    fn sign<B>(&self, request: &mut Request<B>) -> Result<(), DriveError> {
        let (time, token) = self.token.issue(&scope_of(request));
        let headers = request.headers_mut();
        for (name, value) in [(HEADER_TIME, time), (HEADER_TOKEN, token)] {
            let value = http::HeaderValue::from_str(&value)
                .map_err(|e| DriveError::Io { op: "rpc request", source: std::io::Error::other(e) })?;
            headers.insert(name, value);
        }
        Ok(())
    }

    /// Sends a request built by `build` (which gets a builder with auth headers set),
    /// waiting at most `timeout` for the response head. Transport failures mark the
    /// peer offline.
    pub async fn send(
        &self,
        path: &str,
        build: impl FnOnce(http::request::Builder) -> http::request::Builder,
        body: RequestBody,
        timeout: Duration,
    ) -> Result<Response<Incoming>, DriveError> {
        if !self.is_online() {
            return Err(self.offline_error());
        }
        let mut request = build(self.request(Method::POST, path))
            .body(body)
            .map_err(|e| DriveError::Io { op: "rpc request", source: std::io::Error::other(e) })?;
        self.sign(&mut request)?;
        match tokio::time::timeout(timeout, self.client.request(request)).await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(error)) => {
                self.mark_offline(&error.to_string());
                Err(self.offline_error())
            }
            Err(_) => {
                self.mark_offline("timed out");
                Err(self.offline_error())
            }
        }
    }

    /// A unary call: `body` out, a MessagePack `Result<T, WireError>` back.
    pub async fn call<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        build: impl FnOnce(http::request::Builder) -> http::request::Builder,
        body: Bytes,
    ) -> Result<T, DriveError> {
        let timeout = Duration::from_millis(CALL_TIMEOUT_MS);
        let response = self.send(path, build, full_body(body), timeout).await?;
        let bytes = self.read_reply(response, timeout).await?;
        decode::<Result<T, WireError>>(&bytes)?.map_err(DriveError::from)
    }

    /// The peer's request counters, as its [`MetricsSource`](crate::service::MetricsSource) encoded them.
    pub async fn node_metrics(&self) -> Result<Vec<u8>, DriveError> {
        self.call::<Vec<u8>>(PATH_METRICS, |request| request, Bytes::new()).await
    }

    /// Reads a whole reply body; a refused call (bad token, unknown drive) is an error.
    pub async fn read_reply(&self, response: Response<Incoming>, timeout: Duration) -> Result<Bytes, DriveError> {
        let status = response.status();
        let collected = tokio::time::timeout(timeout, response.into_body().collect()).await;
        let bytes = match collected {
            Ok(Ok(collected)) => collected.to_bytes(),
            Ok(Err(error)) => {
                self.mark_offline(&error.to_string());
                return Err(self.offline_error());
            }
            Err(_) => {
                self.mark_offline("timed out reading a reply");
                return Err(self.offline_error());
            }
        };
        if status != StatusCode::OK {
            return Err(refused(&self.authority, status, &bytes));
        }
        Ok(bytes)
    }

    async fn probe_once(&self) -> bool {
        let Ok(mut request) = self.request(Method::GET, PATH_HEALTH).body(full_body(Bytes::new())) else {
            return false;
        };
        if self.sign(&mut request).is_err() {
            return false;
        }
        let answer = tokio::time::timeout(Duration::from_millis(PROBE_TIMEOUT_MS), self.client.request(request)).await;
        matches!(answer, Ok(Ok(response)) if response.status() == StatusCode::OK)
    }
}

/// What a token covers: method, path, and the drive and file headers, so a captured
/// token cannot be replayed for another call.
pub fn scope_of<B>(request: &Request<B>) -> String {
    let header = |name: &str| request.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default();
    format!("{}\n{}\n{}\n{}", request.method(), request.uri().path(), header(HEADER_DRIVE), header(HEADER_PATH))
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
                "{authority} refused this node's token: the nodes must share the same root credentials"
            )),
        },
        _ => {
            DriveError::Io { op: "rpc", source: std::io::Error::other(format!("{authority} answered {status}: {why}")) }
        }
    }
}

/// Probes the peer while it is offline; stops when the peer is dropped.
async fn probe(peer: Weak<Peer>) {
    loop {
        tokio::time::sleep(Duration::from_millis(PROBE_INTERVAL_MS)).await;
        let Some(peer) = peer.upgrade() else { return };
        if peer.is_online() {
            continue;
        }
        if peer.probe_once().await {
            peer.online.store(true, Ordering::Release);
            peer.returns.send_modify(|count| *count += 1);
            tracing::info!(peer = %peer.authority, "peer back online");
        }
    }
}
