//! Reading the rest of a request body after an early error.
//!
//! When a PUT fails part-way (a full drive, a lost quorum) the client is still sending
//! its body. Closing the connection at once makes the kernel answer the client's next
//! segment with a reset, and the client reports "broken pipe" instead of the S3 error.
//! So the unread body is handed back when the S3 layer drops it, and the server reads
//! and discards it (bounded in bytes and time) before it answers. The same wrapper
//! fails a body whose client stops sending (the listener's body stall limit).

use crate::chunk_limit::{CHUNK_BYTES_MAX, ChunkFraming};
use crate::error::{BODY_STALLED_ERROR, CHUNK_TOO_LARGE_ERROR};
use crate::listener::StallTimer;
use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

/// Most bytes discarded after an error; a larger remainder closes the connection.
const MAX_DRAIN_BYTES: u64 = 256 << 20;
/// Longest time spent discarding a body after an error.
const MAX_DRAIN_MS: u64 = 15_000;

/// Where an unfinished body is left when the S3 layer drops it, and whether the body
/// failed (ended before its Content-Length, its connection broke, or it sent an
/// aws-chunked chunk over the limit).
#[derive(Debug, Clone, Default)]
pub struct Leftover {
    body: Arc<Mutex<Option<Incoming>>>,
    failed: Arc<AtomicBool>,
}

impl Leftover {
    /// Wraps `body` so that, if dropped unfinished, it comes back here; it fails once
    /// its client pauses for longer than `stall_limit`, and, when `aws_chunked`, at a
    /// chunk header that declares more than `CHUNK_BYTES_MAX`.
    pub fn wrap(&self, body: Incoming, stall_limit: Duration, aws_chunked: bool) -> Returning {
        Returning {
            inner: Some(body),
            leftover: self.clone(),
            stall: StallTimer::new(stall_limit),
            polled: false,
            framing: aws_chunked.then(ChunkFraming::new),
        }
    }

    /// True when the body failed as it was read: the client sent less than it declared,
    /// its connection broke or it sent a chunk over the limit, so an error the request
    /// got is the client's.
    pub fn failed(&self) -> bool {
        self.failed.load(Ordering::Acquire)
    }

    /// Reads and discards what remains of the body, within the bounds. True when the
    /// body was read to its end (or never left unfinished): the connection is reusable.
    pub async fn drain(&self) -> bool {
        let body = self.body.lock().map(|mut slot| slot.take()).unwrap_or(None);
        let Some(mut body) = body else { return true };
        if body.size_hint().lower() > MAX_DRAIN_BYTES {
            return false;
        }
        let discard = async {
            let mut read = 0u64;
            while let Some(frame) = body.frame().await {
                let Ok(frame) = frame else { return false };
                read += frame.data_ref().map_or(0, |data| data.len() as u64);
                if read > MAX_DRAIN_BYTES {
                    return false;
                }
            }
            true
        };
        tokio::time::timeout(Duration::from_millis(MAX_DRAIN_MS), discard).await.unwrap_or(false)
    }
}

/// Why a request body ended early.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// The connection failed.
    #[error(transparent)]
    Http(#[from] hyper::Error),
    /// The client sent nothing for longer than the body stall limit.
    #[error("{BODY_STALLED_ERROR}: nothing received for {seconds} s")]
    Stalled {
        /// The limit that was exceeded, in seconds.
        seconds: u64,
    },
    /// An aws-chunked chunk header declared more than [`CHUNK_BYTES_MAX`].
    #[error(
        "{CHUNK_TOO_LARGE_ERROR}: a chunk declares at least {declared_bytes} bytes, more than {CHUNK_BYTES_MAX} bytes"
    )]
    ChunkTooLarge {
        /// The size the chunk header declared, as far as it was read.
        declared_bytes: u64,
    },
}

/// A request body that returns itself to its [`Leftover`] when dropped unfinished,
/// and fails when its client stops sending for longer than the stall limit or sends an
/// aws-chunked chunk larger than s3s may hold.
#[derive(Debug)]
pub struct Returning {
    inner: Option<Incoming>,
    leftover: Leftover,
    stall: StallTimer,
    /// The body has been polled: the stall timer runs from then on.
    polled: bool,
    /// The aws-chunked framing followed so far; None for other bodies.
    framing: Option<ChunkFraming>,
}

impl Body for Returning {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = &mut *self;
        if !this.polled {
            // Time spent before the first read (auth, checks) is not the client's pause.
            this.polled = true;
            this.stall.moved();
        }
        let Some(inner) = this.inner.as_mut() else { return Poll::Ready(None) };
        match Pin::new(inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                this.stall.moved();
                if let (Some(framing), Some(data)) = (this.framing.as_mut(), frame.data_ref())
                    && let Err(declared_bytes) = framing.feed(data)
                {
                    this.leftover.failed.store(true, Ordering::Release);
                    return Poll::Ready(Some(Err(BodyError::ChunkTooLarge { declared_bytes })));
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(error))) => {
                this.leftover.failed.store(true, Ordering::Release);
                Poll::Ready(Some(Err(error.into())))
            }
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending if this.stall.expired(cx) => {
                // Dropped rather than handed back: draining a stalled body would wait again.
                this.inner = None;
                Poll::Ready(Some(Err(BodyError::Stalled { seconds: this.stall.limit().as_secs() })))
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(Body::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.as_ref().map_or_else(|| SizeHint::with_exact(0), Body::size_hint)
    }
}

impl Drop for Returning {
    fn drop(&mut self) {
        let Some(inner) = self.inner.take() else { return };
        if inner.is_end_stream() {
            return;
        }
        if let Ok(mut slot) = self.leftover.body.lock() {
            *slot = Some(inner);
        }
    }
}
