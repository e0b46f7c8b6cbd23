//! Request bodies: cutting a byte stream into erasure blocks, and the hook through
//! which the S3 front verifies client-declared digests before anything commits.

use crate::{ObjectError, Result};
use bytes::{Bytes, BytesMut};
use futures::{Stream, StreamExt};
use std::collections::BTreeMap;
use std::pin::Pin;

/// A request body as the object layer consumes it.
pub type Body = Pin<Box<dyn Stream<Item = std::result::Result<Bytes, String>> + Send>>;

/// Verifies a body against what the client declared (Content-MD5, x-amz-checksum-*,
/// trailers). Fed every byte in order; asked once, after the last byte and before
/// the commit, whether the body is acceptable.
pub trait BodyCheck: Send {
    /// Feeds the next bytes of the body.
    fn update(&mut self, bytes: &[u8]);
    /// Verifies the complete body whose MD5 is `md5`; returns the checksums to store
    /// (algorithm name to base64 value), or `ObjectError::BadDigest`.
    fn finish(self: Box<Self>, md5: &[u8; 16]) -> Result<BTreeMap<String, String>>;
}

/// A check that accepts every body and stores no checksum (internal copies).
pub struct NoCheck;

impl BodyCheck for NoCheck {
    fn update(&mut self, _bytes: &[u8]) {}
    fn finish(self: Box<Self>, _md5: &[u8; 16]) -> Result<BTreeMap<String, String>> {
        Ok(BTreeMap::new())
    }
}

/// Cuts a body stream into blocks of a fixed size.
pub(crate) struct BlockReader {
    body: Body,
    /// Bytes received but not yet handed out.
    pending: Bytes,
    /// The stream has ended.
    finished: bool,
    /// Bytes handed out so far.
    pub(crate) total_bytes: u64,
}

impl BlockReader {
    pub(crate) fn new(body: Body) -> Self {
        Self { body, pending: Bytes::new(), finished: false, total_bytes: 0 }
    }

    /// The next block of exactly `size` bytes, or a shorter last block, or None at the end.
    pub(crate) async fn next_block(&mut self, size: usize) -> Result<Option<Bytes>> {
        assert!(size > 0, "block size must be positive");
        let mut block = BytesMut::new();
        loop {
            if !self.pending.is_empty() {
                let wanted = size - block.len();
                if block.is_empty() && self.pending.len() >= wanted {
                    // Whole block inside one chunk: hand out a slice without copying.
                    let out = self.pending.split_to(wanted);
                    self.total_bytes += out.len() as u64;
                    return Ok(Some(out));
                }
                let take = wanted.min(self.pending.len());
                if block.capacity() == 0 {
                    block.reserve(size);
                }
                block.extend_from_slice(&self.pending.split_to(take));
                if block.len() == size {
                    break;
                }
            }
            if self.finished {
                break;
            }
            match self.body.next().await {
                Some(Ok(chunk)) => self.pending = chunk,
                Some(Err(message)) => return Err(ObjectError::Body(message)),
                None => self.finished = true,
            }
        }
        if block.is_empty() {
            return Ok(None);
        }
        self.total_bytes += block.len() as u64;
        Ok(Some(block.freeze()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body_of(chunks: Vec<&'static [u8]>) -> Body {
        Box::pin(futures::stream::iter(chunks.into_iter().map(|c| Ok(Bytes::from_static(c)))))
    }

    #[tokio::test]
    async fn blocks_are_cut_across_chunk_boundaries() {
        let mut reader = BlockReader::new(body_of(vec![b"abc", b"", b"defgh", b"i"]));
        let mut blocks = Vec::new();
        while let Some(block) = reader.next_block(4).await.expect("no error") {
            blocks.push(block);
        }
        assert_eq!(blocks, vec![Bytes::from_static(b"abcd"), Bytes::from_static(b"efgh"), Bytes::from_static(b"i")]);
        assert_eq!(reader.total_bytes, 9);
    }

    #[tokio::test]
    async fn body_errors_surface() {
        let body: Body = Box::pin(futures::stream::iter(vec![Ok(Bytes::from_static(b"ab")), Err("reset".to_owned())]));
        let mut reader = BlockReader::new(body);
        assert!(matches!(reader.next_block(4).await, Err(ObjectError::Body(_))));
    }
}
