//! Bounds on the S3 listener, so that idle, slow or hostile clients cannot use up the
//! node: a most number of connections served at once, and three timeouts that free a
//! connection whose client stopped sending.
//!
//! - Idle keep-alive: a connection with no request in flight whose client sends nothing.
//! - Request head: from the first byte of a request head to the end of its headers
//!   (slowloris clients trickle headers byte by byte). On a TLS connection the
//!   handshake counts as part of the first request head.
//! - Body stall: a pause in a request body once it started. Only pauses count, so a
//!   slow but steady upload of any size and length is never cut off.
//!
//! The first two are enforced on the connection's reads ([`Watched`]): a connection
//! knows whether a request is in flight from its [`Activity`], which the server marks
//! when a request starts and when its response has been sent. The body stall is
//! enforced on the request body ([`StallTimer`]).

use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// Default most connections served at once; more wait in the kernel's accept queue.
pub const CONNECTIONS_MAX_DEFAULT: usize = 4096;
/// Default longest time a connection may sit idle between requests.
pub const IDLE_TIMEOUT_SECS_DEFAULT: u64 = 60;
/// Default longest time from the first byte of a request head to its last.
pub const HEADER_TIMEOUT_SECS_DEFAULT: u64 = 10;
/// Default longest pause in a request body.
pub const BODY_STALL_TIMEOUT_SECS_DEFAULT: u64 = 60;

/// Limits of the S3 listener.
#[derive(Debug, Clone, Copy)]
pub struct ListenerLimits {
    /// Most connections served at once (>= 1).
    pub connections_max: usize,
    /// Longest time a connection with no request in flight may send nothing.
    pub idle_timeout: Duration,
    /// Longest time from the first byte of a request head to the end of its headers.
    pub header_timeout: Duration,
    /// Longest time a request body may send nothing once it started.
    pub body_stall_timeout: Duration,
}

impl Default for ListenerLimits {
    fn default() -> Self {
        Self {
            connections_max: CONNECTIONS_MAX_DEFAULT,
            idle_timeout: Duration::from_secs(IDLE_TIMEOUT_SECS_DEFAULT),
            header_timeout: Duration::from_secs(HEADER_TIMEOUT_SECS_DEFAULT),
            body_stall_timeout: Duration::from_secs(BODY_STALL_TIMEOUT_SECS_DEFAULT),
        }
    }
}

/// What one connection is doing: requests in flight, and when the last one ended.
#[derive(Debug)]
pub(crate) struct Activity {
    /// Requests whose response has not been sent yet.
    in_flight: AtomicUsize,
    /// Requests started so far (and TLS handshakes completed); a change tells the
    /// reader a request head (or handshake) was complete.
    started: AtomicU64,
    /// When the connection last became idle (accepted, or its last response sent).
    idle_since: Mutex<Instant>,
}

impl Activity {
    pub(crate) fn new() -> Self {
        Self { in_flight: AtomicUsize::new(0), started: AtomicU64::new(0), idle_since: Mutex::new(Instant::now()) }
    }

    /// Marks a request as started; the returned guard marks it ended when dropped
    /// (with the response body, once it has been sent).
    pub(crate) fn start(self: &std::sync::Arc<Self>) -> InFlight {
        self.started.fetch_add(1, Ordering::AcqRel);
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight(std::sync::Arc::clone(self))
    }

    /// Marks the connection as between requests from now on: its TLS handshake ended,
    /// and the idle timeout (not the request head timeout) runs until a request starts.
    pub(crate) fn rest(&self) {
        self.started.fetch_add(1, Ordering::AcqRel);
        if let Ok(mut since) = self.idle_since.lock() {
            *since = Instant::now();
        }
    }
}

/// A request in flight on a connection.
#[derive(Debug)]
pub(crate) struct InFlight(std::sync::Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        if self.0.in_flight.fetch_sub(1, Ordering::AcqRel) == 1
            && let Ok(mut since) = self.0.idle_since.lock()
        {
            *since = Instant::now();
        }
    }
}

/// A connection whose reads fail once it was idle, or took to send a request head,
/// for longer than the limits allow.
pub(crate) struct Watched<IO> {
    io: IO,
    activity: std::sync::Arc<Activity>,
    limits: ListenerLimits,
    /// When the first byte of the current request head arrived, if one did.
    head_started: Option<Instant>,
    /// `Activity::started` when `head_started` was last cleared.
    seen_started: u64,
    timer: Pin<Box<Sleep>>,
}

impl<IO> Watched<IO> {
    pub(crate) fn new(io: IO, activity: std::sync::Arc<Activity>, limits: ListenerLimits) -> Self {
        let timer = Box::pin(tokio::time::sleep(limits.idle_timeout));
        Self { io, activity, limits, head_started: None, seen_started: 0, timer }
    }

    /// The moment this connection's reads time out, or None while a request is in flight.
    fn deadline(&mut self) -> Option<Instant> {
        let started = self.activity.started.load(Ordering::Acquire);
        if started != self.seen_started {
            // A request head was complete since: the next head has not started yet.
            self.seen_started = started;
            self.head_started = None;
        }
        if self.activity.in_flight.load(Ordering::Acquire) > 0 {
            return None;
        }
        Some(match self.head_started {
            Some(first_byte) => first_byte + self.limits.header_timeout,
            None => *self.activity.idle_since.lock().ok()? + self.limits.idle_timeout,
        })
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for Watched<IO> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let deadline = self.deadline();
        let before = buf.filled().len();
        match Pin::new(&mut self.io).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if deadline.is_some() && self.head_started.is_none() && buf.filled().len() > before {
                    self.head_started = Some(Instant::now());
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
            Poll::Pending => {
                let Some(deadline) = deadline else { return Poll::Pending };
                self.timer.as_mut().reset(deadline);
                match self.timer.as_mut().poll(cx) {
                    Poll::Ready(()) => {
                        let what = if self.head_started.is_some() { "request head" } else { "idle connection" };
                        Poll::Ready(Err(std::io::Error::new(std::io::ErrorKind::TimedOut, format!("{what} timed out"))))
                    }
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Watched<IO> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, data)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

/// Fails a request body that sends nothing for longer than its limit.
#[derive(Debug)]
pub(crate) struct StallTimer {
    limit: Duration,
    timer: Pin<Box<Sleep>>,
}

impl StallTimer {
    pub(crate) fn new(limit: Duration) -> Self {
        Self { limit, timer: Box::pin(tokio::time::sleep(limit)) }
    }

    /// Data arrived: the body is moving again.
    pub(crate) fn moved(&mut self) {
        self.timer.as_mut().reset(Instant::now() + self.limit);
    }

    /// True once the body has been stalled for longer than the limit (registers a
    /// wake-up for that moment otherwise).
    pub(crate) fn expired(&mut self, cx: &mut Context<'_>) -> bool {
        self.timer.as_mut().poll(cx).is_ready()
    }

    pub(crate) fn limit(&self) -> Duration {
        self.limit
    }
}
