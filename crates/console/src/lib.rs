//! `cairn-console`: the web console, served by every node on its console address
//! (`:9001` by default).
//!
//! Pages are rendered on the server from compiled templates; one small script adds
//! uploads with progress, confirmations and live charts. The console holds no
//! privileges of its own: it calls the node's own S3 and admin APIs over loopback,
//! signed with the keys of the identity that logged in, so the API enforces that
//! identity's policies exactly as for any other client. The interface only mirrors
//! them (it hides what the identity may not do).
//!
//! Sessions are signed cookies valid on every node (see [`session`]); state-changing
//! requests carry a CSRF token; logins are rate limited per source address.

mod assets;
mod caller;
pub mod error;
mod folder_zip;
mod gzip;
mod heal;
pub mod limit;
mod pages;
mod router;
pub mod session;
mod templates;
mod upload;
pub mod web;

use crate::limit::LoginLimiter;
use crate::session::SessionKeys;
use cairn_s3::StoreSlot;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// Console connections served at once; more wait in the kernel's accept queue.
const CONNECTIONS_MAX: usize = 512;
/// Time a browser may take to send a request's headers.
const HEADER_TIMEOUT: Duration = Duration::from_secs(30);
/// Pause after a failed accept (e.g. out of file descriptors).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);
/// Time in-flight console requests get to finish at shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// How the console is served.
#[derive(Debug, Clone)]
pub struct ConsoleConfig {
    /// Where the console reaches this node's S3 API (a loopback URL).
    pub api_url: String,
    /// The S3 API's address as users reach it (`CAIRN_SERVER_URL`), for share links;
    /// when None, the host the browser used with the API's port.
    pub public_api_url: Option<String>,
    /// The API's port, for share links when `public_api_url` is None.
    pub api_port: u16,
    /// Path prefix the console is served under behind a reverse proxy (`/console`), or "".
    pub base_path: String,
    /// `host[:port]` of the console's public URL (`CAIRN_BROWSER_REDIRECT_URL`): browsers
    /// on it are the console's own even when a proxy rewrites the Host header.
    pub public_host: Option<String>,
    /// How long a session lasts.
    pub session_ttl: Duration,
    /// Serve TLS with this configuration (the node's certificate), or plain HTTP.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Mark cookies `Secure` (TLS here, or at a proxy in front).
    pub secure_cookies: bool,
    /// The keys of session cookies (derived from the root credentials).
    pub keys: SessionKeys,
}

/// What every console request shares.
pub(crate) struct Console {
    pub(crate) config: ConsoleConfig,
    pub(crate) store: StoreSlot,
    pub(crate) limiter: LoginLimiter,
    /// The HTTP client of calls to this node's S3 API (connections are reused).
    pub(crate) sdk_http: aws_sdk_s3::config::SharedHttpClient,
    /// Heals started from this node's console.
    pub(crate) heals: heal::Heals,
}

/// Serves the console on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    store: StoreSlot,
    config: ConsoleConfig,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    // The console calls its own node over loopback: the node's certificate names the
    // node's public host names, not 127.0.0.1, and the connection never leaves the host.
    let sdk_http = cairn_cli::sdk_http_client(&cairn_tls::ClientTrust::Insecure)
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    let console =
        Arc::new(Console { config, store, limiter: LoginLimiter::default(), sdk_http, heals: heal::Heals::default() });
    let mut builder = Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(HEADER_TIMEOUT);
    let graceful = GracefulShutdown::new();
    let slots = Arc::new(Semaphore::new(CONNECTIONS_MAX));
    let acceptor = console.config.tls.clone().map(tokio_rustls::TlsAcceptor::from);
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
                    tracing::warn!(%error, "console: accept failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let console = Arc::clone(&console);
        let builder = builder.clone();
        let watcher = graceful.watcher();
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            match acceptor {
                None => serve_connection(console, builder, stream, peer, watcher).await,
                Some(acceptor) => match tokio::time::timeout(HEADER_TIMEOUT, acceptor.accept(stream)).await {
                    Ok(Ok(tls)) => serve_connection(console, builder, tls, peer, watcher).await,
                    Ok(Err(error)) => tracing::debug!(%peer, %error, "console: TLS handshake failed"),
                    Err(_) => tracing::debug!(%peer, "console: TLS handshake timed out"),
                },
            }
            drop(slot);
        });
    }
    drop(listener);
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown()).await.is_err() {
        tracing::warn!("console requests did not finish within the shutdown grace period");
    }
    Ok(())
}

async fn serve_connection<IO>(
    console: Arc<Console>,
    builder: Builder<TokioExecutor>,
    io: IO,
    peer: SocketAddr,
    watcher: hyper_util::server::graceful::Watcher,
) where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let console = Arc::clone(&console);
        async move { Ok::<_, std::convert::Infallible>(router::handle(console, peer, request).await) }
    });
    if let Err(error) = watcher.watch(builder.serve_connection(TokioIo::new(io), service).into_owned()).await {
        tracing::debug!(%error, "console connection ended with an error");
    }
}
