//! Streamed request bodies (shard files sent to a peer), bound to their call: the body
//! is a sequence of frames `u32 length (big-endian, 1..=STREAM_FRAME_BYTES_MAX) ||
//! bytes`, then an end mark `u32 0` and one 32-byte MAC per token of the call (see
//! `TokenKey::stream_macs`) over the call's token, the SHA-256 of every byte sent and
//! their count. The call's token covers its headers; the trailing MAC covers the body,
//! so a body altered, cut short, extended or moved to another call is refused. The
//! receiver writes the bytes to a staged file as they come, and makes the file durable
//! (and answers success) only after the MAC checked out; a refused body's file is
//! removed.

use crate::token::{Issued, TokenKey, Verified};
use bytes::{Buf, Bytes, BytesMut};
use cairn_drive::DriveError;
use http_body::{Body, Frame};
use sha2::{Digest, Sha256};
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::sync::mpsc;

/// Largest frame of a streamed body: a shard frame of a 1 MiB block, with room to spare.
pub const STREAM_FRAME_BYTES_MAX: usize = 16 << 20;
/// Bytes of one trailing MAC.
const MAC_BYTES: usize = 32;
/// Most MACs after the end mark: one per credential set (two during a change of credentials).
const MACS_MAX: usize = 2;

/// What a shard writer hands to its stream.
#[derive(Debug)]
pub enum StreamItem {
    /// The next bytes of the file.
    Data(Bytes),
    /// The file is complete: send the end mark. A stream whose channel closes without
    /// it fails, so an abandoned file can never pass for a complete one.
    End,
}

/// The sending side: frames the chunks of a channel and ends with the MACs.
pub struct SignedStream {
    receiver: mpsc::Receiver<StreamItem>,
    key: TokenKey,
    issued: Issued,
    digest: Sha256,
    length: u64,
    /// A data chunk whose header was sent, to send next.
    pending: Option<Bytes>,
    done: bool,
}

impl SignedStream {
    /// A body for the call authenticated by `issued`, fed by `receiver`.
    pub fn new(receiver: mpsc::Receiver<StreamItem>, key: TokenKey, issued: Issued) -> Self {
        Self { receiver, key, issued, digest: Sha256::new(), length: 0, pending: None, done: false }
    }
}

fn broken(why: &str) -> std::io::Error {
    std::io::Error::other(why.to_owned())
}

impl Body for SignedStream {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        if let Some(chunk) = self.pending.take() {
            return Poll::Ready(Some(Ok(Frame::data(chunk))));
        }
        if self.done {
            return Poll::Ready(None);
        }
        loop {
            return match self.receiver.poll_recv(cx) {
                Poll::Pending => Poll::Pending,
                // An empty frame would read as the end mark.
                Poll::Ready(Some(StreamItem::Data(chunk))) if chunk.is_empty() => continue,
                Poll::Ready(Some(StreamItem::Data(chunk))) => {
                    let Some(length) =
                        u32::try_from(chunk.len()).ok().filter(|l| *l as usize <= STREAM_FRAME_BYTES_MAX)
                    else {
                        return Poll::Ready(Some(Err(broken("stream chunk too large"))));
                    };
                    self.digest.update(&chunk);
                    self.length += chunk.len() as u64;
                    self.pending = Some(chunk);
                    Poll::Ready(Some(Ok(Frame::data(Bytes::copy_from_slice(&length.to_be_bytes())))))
                }
                Poll::Ready(Some(StreamItem::End)) => {
                    self.done = true;
                    let digest: [u8; 32] = std::mem::take(&mut self.digest).finalize().into();
                    let macs = self.key.stream_macs(&self.issued, &digest, self.length);
                    let mut end = Vec::with_capacity(4 + macs.len() * MAC_BYTES);
                    end.extend_from_slice(&0u32.to_be_bytes());
                    macs.iter().for_each(|mac| end.extend_from_slice(mac));
                    Poll::Ready(Some(Ok(Frame::data(Bytes::from(end)))))
                }
                Poll::Ready(None) => Poll::Ready(Some(Err(broken("shard stream abandoned before its end")))),
            };
        }
    }
}

/// The receiving side: splits a body into data chunks and checks its end.
pub struct StreamReader {
    buffer: BytesMut,
    digest: Sha256,
    length: u64,
    /// How many MACs follow the end mark (the number of tokens the call carried).
    macs: usize,
}

/// What the next part of a received stream is.
pub enum Received {
    /// Bytes of the file.
    Data(Bytes),
    /// More input is needed.
    NeedMore,
    /// The end mark with valid MACs: the file is complete and genuine.
    End,
}

fn refused(why: String) -> DriveError {
    DriveError::Io { op: "receive shard", source: std::io::Error::other(why) }
}

impl StreamReader {
    /// A reader for a call that carried `tokens` (comma-separated).
    pub fn new(tokens: &str) -> Self {
        let macs = tokens.split(',').count().min(MACS_MAX);
        Self { buffer: BytesMut::new(), digest: Sha256::new(), length: 0, macs }
    }

    /// Adds received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
    }

    /// The next complete part; `finished` when the body ended (no more input will come).
    pub fn next(&mut self, key: &TokenKey, verified: &Verified, finished: bool) -> Result<Received, DriveError> {
        if self.buffer.len() < 4 {
            return if finished { Err(refused("shard stream cut short".into())) } else { Ok(Received::NeedMore) };
        }
        let length = u32::from_be_bytes([self.buffer[0], self.buffer[1], self.buffer[2], self.buffer[3]]) as usize;
        if length > STREAM_FRAME_BYTES_MAX {
            return Err(refused(format!("shard stream frame of {length} bytes")));
        }
        let needed = if length == 0 { 4 + self.macs * MAC_BYTES } else { 4 + length };
        if self.buffer.len() < needed {
            return if finished { Err(refused("shard stream cut short".into())) } else { Ok(Received::NeedMore) };
        }
        if length > 0 {
            self.buffer.advance(4);
            let data = self.buffer.split_to(length).freeze();
            self.digest.update(&data);
            self.length += data.len() as u64;
            return Ok(Received::Data(data));
        }
        if self.buffer.len() > needed {
            // Bytes after the end mark: a body extended in flight.
            return Err(refused("bytes after the end of a shard stream".into()));
        }
        if !finished {
            // Nothing may follow the end mark: wait for the body to end.
            return Ok(Received::NeedMore);
        }
        let digest: [u8; 32] = std::mem::take(&mut self.digest).finalize().into();
        let mac = self.buffer.get(4 + verified.position * MAC_BYTES..needed).unwrap_or_default();
        let mac = &mac[..mac.len().min(MAC_BYTES)];
        if key.verify_stream(verified, &digest, self.length, mac) {
            Ok(Received::End)
        } else {
            Err(refused("shard stream does not match its MAC (altered in flight?)".into()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::STREAM_BODY;
    use http_body_util::BodyExt;

    /// The bytes a [`SignedStream`] sends for `chunks`, and the token it was issued.
    async fn sent(key: &TokenKey, chunks: &[&[u8]]) -> (Vec<u8>, Issued) {
        let (sender, receiver) = mpsc::channel(chunks.len() + 1);
        for chunk in chunks {
            sender.send(StreamItem::Data(Bytes::copy_from_slice(chunk))).await.expect("room");
        }
        sender.send(StreamItem::End).await.expect("room");
        let issued = key.issue(STREAM_BODY);
        let body = SignedStream::new(receiver, key.clone(), issued.clone());
        (body.collect().await.expect("a complete stream").to_bytes().to_vec(), issued)
    }

    /// What a receiver makes of `bytes`, fed in pieces of `piece` bytes.
    fn received(key: &TokenKey, issued: &Issued, bytes: &[u8], piece: usize) -> Result<Vec<u8>, DriveError> {
        let verified = key.verify(&issued.time, &issued.nonce, &issued.tokens, STREAM_BODY).expect("genuine token");
        let mut reader = StreamReader::new(&issued.tokens);
        let mut file = Vec::new();
        for piece in bytes.chunks(piece) {
            reader.push(piece);
            while let Received::Data(data) = reader.next(key, &verified, false)? {
                file.extend_from_slice(&data);
            }
        }
        loop {
            match reader.next(key, &verified, true)? {
                Received::Data(data) => file.extend_from_slice(&data),
                Received::End => return Ok(file),
                Received::NeedMore => unreachable!("a finished stream never needs more"),
            }
        }
    }

    #[tokio::test]
    async fn a_stream_arrives_whole_or_is_refused() {
        let key = TokenKey::new("admin", "secret").with_previous("old", "old-secret");
        let (bytes, issued) = sent(&key, &[b"hello ", b"", b"shard world"]).await;
        for piece in [1, 3, 1000] {
            assert_eq!(received(&key, &issued, &bytes, piece).expect("genuine"), b"hello shard world");
        }
        let mut altered = bytes.clone();
        altered[6] ^= 1;
        assert!(received(&key, &issued, &altered, 7).is_err(), "an altered byte is refused");
        assert!(received(&key, &issued, &bytes[..bytes.len() - 1], 7).is_err(), "a cut stream is refused");
        assert!(received(&key, &issued, &bytes[..10], 7).is_err(), "a stream without its end is refused");
        let mut extended = bytes.clone();
        extended.push(0);
        assert!(received(&key, &issued, &extended, 7).is_err(), "an extended stream is refused");
        let (other, _) = sent(&key, &[b"hello ", b"shard world"]).await;
        assert!(received(&key, &issued, &other, 7).is_err(), "a body of another call is refused");
    }

    #[tokio::test]
    async fn an_abandoned_stream_never_ends_cleanly() {
        let (sender, receiver) = mpsc::channel(2);
        sender.send(StreamItem::Data(Bytes::from_static(b"part"))).await.expect("room");
        drop(sender);
        let key = TokenKey::new("admin", "secret");
        let body = SignedStream::new(receiver, key.clone(), key.issue(STREAM_BODY));
        assert!(body.collect().await.is_err());
    }
}
