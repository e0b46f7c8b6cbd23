//! The HTTP server: accepts connections (TCP_NODELAY on every socket, TLS when the node
//! has a certificate), answers the MinIO-compatible health endpoints, hands node RPC to the cluster's RPC service and
//! everything else to the s3s service, stamps `x-amz-request-id` on every response
//! and logs one line per request.
//!
//! The server listens before the store is open: in a cluster, nodes form the
//! deployment by reading each other's drives over RPC. Until the store is ready, S3
//! requests get 503 and `/minio/health/live` answers 200.

use crate::CairnS3;
use crate::access::{IamAccess, IamAuth, PeerAddr};
use crate::admin::HealStatusRoute;
use crate::auth::DomainHost;
use crate::chunk_limit::is_aws_chunked;
use crate::drain::Leftover;
use crate::listener::{Activity, InFlight, ListenerLimits, Watched};
use crate::metrics::{ApiSlot, RequestMetrics};
use crate::metrics::{Refusal, Sources, scrape};
use crate::routes::Routes;
use cairn_admin::{AdminRoute, ServerSettings};
use cairn_cluster::{Peer, RPC_PREFIX, RpcService};
use cairn_iam::Iam;
use cairn_object::ObjectStore;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use s3s::Body;
use s3s::service::{S3Service, S3ServiceBuilder};
use std::convert::Infallible;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// Every metrics path starts with this.
const METRICS_PREFIX: &str = "/minio/v2/metrics/";
/// Default time in-flight requests may take to finish after shutdown is requested: with
/// the release of distributed locks after it (at most 5 s), within the 30 s Kubernetes
/// waits after SIGTERM before it sends SIGKILL.
pub const SHUTDOWN_GRACE_SECS_DEFAULT: u64 = 25;
/// Pause after a failed accept (e.g. out of file descriptors) before trying again.
const ACCEPT_BACKOFF_MS: u64 = 50;

/// What the S3 server needs besides the store.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Base domains (comma-separated) for virtual-host-style requests (`bucket.domain`), if any.
    pub domain: Option<String>,
    /// Serves this node's drives and locks to its peers; None on a single node.
    pub rpc: Option<Arc<RpcService>>,
    /// Metrics may be scraped without a token (`CAIRN_PROMETHEUS_AUTH_TYPE=public`).
    pub metrics_public: bool,
    /// This node's name in metrics labels (`host:port`).
    pub node_name: String,
    /// The other nodes of the cluster (empty on a single node).
    pub peers: Vec<Arc<Peer>>,
    /// Connection limit and timeouts of the listener.
    pub limits: ListenerLimits,
    /// How long in-flight requests may take to finish once shutdown is requested.
    pub shutdown_grace: Duration,
    /// Serve TLS with this configuration (S3 and node RPC alike), or plain HTTP when
    /// None. Built by `cairn_tls::NodeTls::server_config`, which follows certificate
    /// reloads; any other listener of the node (the console) takes the same.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// The node's console: its pages may call the API without a CORS rule.
    pub console: crate::cors::ConsoleOrigins,
}

/// What S3 requests need, once the store is open.
#[derive(Debug, Clone)]
pub struct Ready {
    /// The object store.
    pub store: ObjectStore,
    /// Identities and policies.
    pub iam: Arc<Iam>,
    /// Run-time configuration (admin config).
    pub settings: Arc<ServerSettings>,
}

/// The store and identities, once they are open.
pub type StoreSlot = Arc<OnceLock<Ready>>;

struct State {
    config: ServerConfig,
    /// Request counters for the metrics endpoint.
    requests: RequestMetrics,
    /// The S3 service, built when the store is ready.
    s3: OnceLock<S3Service>,
    store: StoreSlot,
    /// Prefix of request ids: the server's start time, so ids differ across restarts.
    id_prefix: u64,
    next_id: AtomicU64,
    /// Shutting down: readiness checks answer 503 from the moment shutdown is requested.
    draining: AtomicBool,
}

/// Builds the s3s service over the open store.
fn s3_service(ready: &Ready, config: &ServerConfig) -> S3Service {
    let cairn = CairnS3::new(ready.store.clone(), Arc::clone(&ready.iam), Arc::clone(&ready.settings));
    let mut builder = S3ServiceBuilder::new(cairn);
    builder.set_route(Routes(vec![
        Box::new(HealStatusRoute { store: ready.store.clone() }),
        Box::new(AdminRoute::new(Arc::clone(&ready.iam), ready.store.clone(), Arc::clone(&ready.settings))),
    ]));
    builder.set_auth(IamAuth { iam: Arc::clone(&ready.iam) });
    builder.set_access(IamAccess {
        iam: Arc::clone(&ready.iam),
        store: ready.store.clone(),
        settings: Arc::clone(&ready.settings),
    });
    if let Some(domains) = &config.domain {
        builder.set_host(DomainHost::new(domains));
    }
    builder.build()
}

/// Serves S3 on `listener` until `shutdown` resolves, then drains in-flight requests.
/// S3 requests wait for `store` to be filled.
pub async fn serve(
    listener: TcpListener,
    store: StoreSlot,
    config: ServerConfig,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    crate::metrics::mark_start();
    let state = Arc::new(State {
        config,
        requests: RequestMetrics::default(),
        s3: OnceLock::new(),
        store,
        id_prefix: SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs(),
        next_id: AtomicU64::new(1),
        draining: AtomicBool::new(false),
    });
    if let Some(rpc) = &state.config.rpc {
        // A weak reference: the RPC service lives in the state it would otherwise keep alive.
        let weak = Arc::downgrade(&state);
        rpc.set_metrics_source(Box::new(move || weak.upgrade().map(|s| s.requests.encoded()).unwrap_or_default()));
    }
    let builder = Builder::new(TokioExecutor::new());
    let graceful = GracefulShutdown::new();
    let limits = state.config.limits;
    // A connection takes a slot before it is accepted: beyond the limit, clients wait
    // in the kernel's accept queue instead of costing this process memory and files.
    let slots = Arc::new(Semaphore::new(limits.connections_max.max(1)));
    let acceptor = state.config.tls.clone().map(tokio_rustls::TlsAcceptor::from);
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = Arc::clone(&slots).acquire_owned() => slot.expect("the connection semaphore is never closed"),
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(ACCEPT_BACKOFF_MS)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Small responses otherwise wait ~40 ms on delayed ACKs.
        if let Err(error) = stream.set_nodelay(true) {
            tracing::warn!(%error, "cannot set TCP_NODELAY");
        }
        let activity = Arc::new(Activity::new());
        let io = Watched::new(stream, Arc::clone(&activity), limits);
        let connection = Connection { state: Arc::clone(&state), builder: builder.clone(), activity, peer };
        // Watched from before the handshake: shutdown waits for a connection still in it.
        let watcher = graceful.watcher();
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            match acceptor {
                None => connection.serve(io, watcher).await,
                // The handshake runs under the socket's read and write limits: it
                // counts as the first request head.
                Some(acceptor) => match acceptor.accept(io).await {
                    Ok(tls) => {
                        connection.activity.rest();
                        connection.serve(tls, watcher).await;
                    }
                    Err(error) => tracing::info!(%peer, %error, "TLS handshake failed"),
                },
            }
            drop(slot);
        });
    }
    // Load balancers stop sending here; new connections are refused from now on.
    state.draining.store(true, Ordering::Release);
    drop(listener);
    tracing::info!(
        grace_secs = state.config.shutdown_grace.as_secs(),
        "no longer accepting; finishing requests in flight"
    );
    if tokio::time::timeout(state.config.shutdown_grace, graceful.shutdown()).await.is_err() {
        tracing::warn!("in-flight requests did not finish within the shutdown grace period");
    }
    Ok(())
}

/// One accepted connection, before its HTTP is served.
struct Connection {
    state: Arc<State>,
    builder: Builder<TokioExecutor>,
    activity: Arc<Activity>,
    peer: std::net::SocketAddr,
}

impl Connection {
    /// Serves HTTP over `io` (plain or TLS) until the connection ends.
    async fn serve<IO>(self, io: IO, watcher: hyper_util::server::graceful::Watcher)
    where
        IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let Connection { state, builder, activity, peer } = self;
        let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
            request.extensions_mut().insert(PeerAddr(peer));
            let in_flight = activity.start();
            let response = handle(Arc::clone(&state), request);
            async move { response.await.map(|response| response.map(|body| Sent { body, _in_flight: in_flight })) }
        });
        if let Err(error) = watcher.watch(builder.serve_connection(TokioIo::new(io), service).into_owned()).await {
            tracing::debug!(%error, "connection ended with an error");
        }
    }
}

/// A response body that marks its request ended on its connection once it has been
/// sent (or abandoned), so the connection's idle timer starts then.
struct Sent {
    body: Body,
    _in_flight: InFlight,
}

impl http_body::Body for Sent {
    type Data = bytes::Bytes;
    type Error = <Body as http_body::Body>::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        std::pin::Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

async fn handle(state: Arc<State>, mut request: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    let started = Instant::now();
    let request_id = format!("{:X}{:08X}", state.id_prefix, state.next_id.fetch_add(1, Ordering::Relaxed));
    request.extensions_mut().insert(crate::notification::RequestId(request_id.clone()));
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let bytes_in = content_length(request.headers());
    let has_body = bytes_in > 0 || request.headers().contains_key(http::header::TRANSFER_ENCODING);
    let http1 = request.version() < http::Version::HTTP_2;
    let expects_continue =
        request.headers().get(http::header::EXPECT).is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    let leftover = Leftover::default();
    if let Some(rpc) = &state.config.rpc
        && path.starts_with(RPC_PREFIX)
    {
        return Ok(rpc.handle(request).await.map(Body::http_body_unsync));
    }
    // Browser form uploads (POST object) are read here, as a stream (s3s would buffer
    // the file); a multipart form posted anywhere but a bucket's URL is refused.
    let form_upload = method == Method::POST
        && request
            .headers()
            .get(http::header::CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes().to_ascii_lowercase().starts_with(b"multipart/form-data"));
    let host = request.headers().get(http::header::HOST).and_then(|v| v.to_str().ok());
    let form_bucket =
        form_upload.then(|| crate::form_upload::form_target(&path, host, state.config.domain.as_deref())).flatten();
    if form_upload && form_bucket.is_none() {
        let error = s3s::S3Error::with_message(
            s3s::S3ErrorCode::MethodNotAllowed,
            "Form uploads (POST object) are posted to a bucket's URL, not an object's.",
        );
        let mut refused = error.to_http_response().unwrap_or_else(|_| status_only(StatusCode::METHOD_NOT_ALLOWED));
        *refused.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
        refused.headers_mut().insert(http::header::CONNECTION, HeaderValue::from_static("close"));
        return Ok(refused);
    }
    let ready = state.store.get().cloned();
    // CORS: a browser's request names its origin; only then is its bucket looked for.
    let origin = request.headers().get(http::header::ORIGIN).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let cors_bucket = origin.as_ref().and_then(|_| crate::cors::bucket_of(&path, host, state.config.domain.as_deref()));
    let console_origin = origin.as_deref().is_some_and(|origin| state.config.console.admits(origin, host));
    let api = ApiSlot::default();
    let counted = !path.starts_with("/minio/health/") && !path.starts_with(METRICS_PREFIX);
    if counted {
        state.requests.inflight.fetch_add(1, Ordering::Relaxed);
    }
    let mut response = if let Some(check) = path.strip_prefix("/minio/health/") {
        health(ready.as_ref().map(|r| &r.store), &method, check, state.draining.load(Ordering::Acquire)).await
    } else if let (Some(ready), true) = (&ready, path.starts_with(METRICS_PREFIX)) {
        let authorization = request.headers().get(http::header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        let config = &state.config;
        let sources = Sources {
            store: &ready.store,
            iam: &ready.iam,
            notifier: ready.settings.notifier(),
            requests: &state.requests,
            peers: &config.peers,
            public: config.metrics_public,
            this_node: &config.node_name,
        };
        let scraped = scrape(&path, &sources, authorization).await;
        match scraped {
            Ok(text) => {
                let mut response = Response::new(Body::from(text));
                response.headers_mut().insert(
                    http::header::CONTENT_TYPE,
                    HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
                );
                response
            }
            Err(Refusal::Unauthorized) => status_only(StatusCode::FORBIDDEN),
            Err(Refusal::NotFound) => status_only(StatusCode::NOT_FOUND),
        }
    } else if let (Some(ready), true) = (&ready, method == Method::OPTIONS) {
        // A preflight carries no credentials: it is answered from the bucket's rules.
        let cors = match (&origin, &cors_bucket) {
            (Some(origin), _) if console_origin => Some(crate::cors::ConsoleOrigins::rules(origin)),
            (_, Some(bucket)) => ready.store.bucket_config(bucket).await.ok().and_then(|record| record.cors.clone()),
            _ => None,
        };
        crate::cors::preflight(cors_bucket.is_some() || console_origin, cors.as_ref(), request.headers())
    } else if let Some(ready) = ready {
        let s3 = state.s3.get_or_init(|| s3_service(&ready, &state.config));
        let mut request = request;
        request.extensions_mut().insert(api.clone());
        let mut uri = request.uri().clone();
        crate::amz_date::defuse(&mut uri, request.headers_mut());
        *request.uri_mut() = uri;
        let (method, uri) = (request.method().clone(), request.uri().clone());
        crate::region::resign_legacy(&method, &uri, request.headers_mut(), &ready.iam);
        let stall_limit = state.config.limits.body_stall_timeout;
        let chunked = is_aws_chunked(request.headers());
        let request = request.map(|body| Body::http_body(leftover.wrap(body, stall_limit, chunked)));
        let mut response = if let Some(bucket) = form_bucket {
            api.set("PostObject");
            let cairn = CairnS3::new(ready.store.clone(), Arc::clone(&ready.iam), Arc::clone(&ready.settings));
            let scheme = if state.config.tls.is_some() { "https" } else { "http" };
            cairn.post_object(crate::form_upload::Posted { bucket, scheme }, request).await
        } else {
            match s3.call(request).await {
                // s3s answers a body it reads itself (XML) that ends before its Content-Length
                // (or has a chunk over the limit) with InternalError; the client's fault: 400.
                Ok(response) if response.status() == StatusCode::INTERNAL_SERVER_ERROR && leftover.failed() => {
                    crate::error::incomplete_body_response()
                }
                Ok(response) => response,
                Err(error) => {
                    tracing::error!(%request_id, ?error, "request failed outside the S3 layer");
                    status_only(StatusCode::INTERNAL_SERVER_ERROR)
                }
            }
        };
        // The CORS headers of an actual response (errors included) to a browser's request.
        if let Some(origin) = &origin {
            let cors = match &cors_bucket {
                _ if console_origin => Some(crate::cors::ConsoleOrigins::rules(origin)),
                Some(bucket) => ready.store.bucket_config(bucket).await.ok().and_then(|record| record.cors.clone()),
                None => None,
            };
            if let Some(cors) = &cors {
                crate::cors::decorate(cors, origin, &method, response.headers_mut());
            }
        }
        response
    } else {
        // Still forming the cluster: a retryable error, as MinIO's XMinioServerNotInitialized.
        status_only(StatusCode::SERVICE_UNAVAILABLE)
    };
    // s3s answers a ranged HEAD with 200; S3 says 206, as for the GET it describes.
    if method == Method::HEAD
        && response.status() == StatusCode::OK
        && response.headers().contains_key(http::header::CONTENT_RANGE)
    {
        *response.status_mut() = StatusCode::PARTIAL_CONTENT;
    }
    // An error may be sent before the request body was read (a refused key, a missing
    // bucket, a full drive): the rest of the body is still on the wire. Read it (within
    // bounds) so the client gets to read the answer, and close the connection, as what
    // was left unread cannot be told apart from a next request.
    if has_body && http1 && (response.status().is_client_error() || response.status().is_server_error()) {
        if !leftover.drain().await {
            tracing::debug!(%request_id, "the rest of a refused request body was not read");
        }
        response.headers_mut().insert(http::header::CONNECTION, HeaderValue::from_static("close"));
    }
    // An empty body sent with `Expect: 100-continue` gets its final answer without a
    // 100 first (there is nothing to continue). botocore then keeps that answer's
    // status for the connection's next Expect request and misreads it (a 60 s hang);
    // closing the connection resets it.
    if expects_continue && !has_body && http1 {
        response.headers_mut().insert(http::header::CONNECTION, HeaderValue::from_static("close"));
    }
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-amz-request-id", value);
    }
    response.headers_mut().insert(http::header::SERVER, HeaderValue::from_static("Cairn"));
    let status = response.status().as_u16();
    let bytes_out = content_length(response.headers());
    if counted {
        state.requests.inflight.fetch_sub(1, Ordering::Relaxed);
        match api.get() {
            Some(name) => state.requests.record(&name, status, started.elapsed(), bytes_in, bytes_out),
            // Refused before the access check named the API (bad signature, malformed).
            None => {
                state.requests.record_rejected(status);
                state.requests.record("Unknown", status, started.elapsed(), bytes_in, bytes_out);
            }
        }
    }
    tracing::info!(
        target: "cairn::request",
        request_id = %request_id,
        method = %method,
        path = %path,
        status,
        bytes_in,
        bytes_out,
        duration_us = started.elapsed().as_micros() as u64,
        "request"
    );
    Ok(response)
}

fn content_length(headers: &http::HeaderMap) -> u64 {
    headers.get(http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok()).unwrap_or(0)
}

fn status_only(status: StatusCode) -> Response<Body> {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = status;
    response
}

/// MinIO's health endpoints: `live` (the process answers), `ready` and `cluster`
/// (a write quorum of drives answers in every set, and the node is not shutting down),
/// `cluster/read` (a read quorum does).
async fn health(store: Option<&ObjectStore>, method: &Method, check: &str, draining: bool) -> Response<Body> {
    if method != Method::GET && method != Method::HEAD {
        return status_only(StatusCode::METHOD_NOT_ALLOWED);
    }
    let healthy = match (check, store) {
        ("live", _) => true,
        ("ready" | "cluster", _) if draining => false,
        ("ready" | "cluster" | "cluster/read", None) => false,
        ("ready" | "cluster", Some(store)) => store.quorum_status().await.write,
        ("cluster/read", Some(store)) => store.quorum_status().await.read,
        _ => return status_only(StatusCode::NOT_FOUND),
    };
    status_only(if healthy { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE })
}
