//! Reading the rest of a request body after an early error.
//!
//! When a PUT fails part-way (a full drive, a lost quorum) the client is still sending
//! its body. Closing the connection at once makes the kernel answer the client's next
//! segment with a reset, and the client reports "broken pipe" instead of the S3 error.
//! So the unread body is handed back when the S3 layer drops it, and the server reads
//! and discards it (bounded in bytes and time) before it answers.

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

/// Most bytes discarded after an error; a larger remainder closes the connection.
const MAX_DRAIN_BYTES: u64 = 256 << 20;
/// Longest time spent discarding a body after an error.
const MAX_DRAIN_MS: u64 = 15_000;

/// Where an unfinished body is left when the S3 layer drops it.
#[derive(Debug, Clone, Default)]
pub struct Leftover(Arc<Mutex<Option<Incoming>>>);

impl Leftover {
    /// Wraps `body` so that, if dropped unfinished, it comes back here.
    pub fn wrap(&self, body: Incoming) -> Returning {
        Returning { inner: Some(body), leftover: self.clone() }
    }

    /// Reads and discards what remains of the body, within the bounds. True when the
    /// body was read to its end (or never left unfinished): the connection is reusable.
    pub async fn drain(&self) -> bool {
        let body = self.0.lock().map(|mut slot| slot.take()).unwrap_or(None);
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

/// A request body that returns itself to its [`Leftover`] when dropped unfinished.
#[derive(Debug)]
pub struct Returning {
    inner: Option<Incoming>,
    leftover: Leftover,
}

impl Body for Returning {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        match self.inner.as_mut() {
            Some(inner) => Pin::new(inner).poll_frame(cx),
            None => Poll::Ready(None),
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
        if let Ok(mut slot) = self.leftover.0.lock() {
            *slot = Some(inner);
        }
    }
}
