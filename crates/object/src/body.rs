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

/// Chunks shorter than this are copied together into one piece of a [`Block`],
/// so that a body sent in tiny chunks cannot make a block a list of thousands
/// of pieces: a block of `size` bytes has at most `2 * size / PIECE_BYTES_MIN + 1`
/// pieces (at most 513 for a 1 MiB block).
const PIECE_BYTES_MIN: usize = 4 << 10;

/// One block of a body, as the pieces it arrived in (not copied together:
/// the erasure encoder copies each piece straight into its frames).
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Block {
    /// The block's bytes in order; none is empty.
    pub(crate) pieces: Vec<Bytes>,
    /// The sum of the pieces' lengths.
    pub(crate) len: usize,
}

impl Block {
    fn push(&mut self, piece: Bytes) {
        self.len += piece.len();
        self.pieces.push(piece);
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
    pub(crate) async fn next_block(&mut self, size: usize) -> Result<Option<Block>> {
        assert!(size > 0, "block size must be positive");
        let mut block = Block::default();
        // Short chunks, copied together until they make a piece.
        let mut small = BytesMut::new();
        loop {
            let wanted = size - block.len - small.len();
            if wanted == 0 {
                break;
            }
            if !self.pending.is_empty() {
                let piece = self.pending.split_to(wanted.min(self.pending.len()));
                if piece.len() >= PIECE_BYTES_MIN {
                    if !small.is_empty() {
                        block.push(small.split().freeze());
                    }
                    block.push(piece);
                } else {
                    small.extend_from_slice(&piece);
                    if small.len() >= PIECE_BYTES_MIN {
                        block.push(small.split().freeze());
                    }
                }
                continue;
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
        if !small.is_empty() {
            block.push(small.freeze());
        }
        if block.len == 0 {
            return Ok(None);
        }
        self.total_bytes += block.len as u64;
        Ok(Some(block))
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
            blocks.push(block.pieces.concat());
        }
        assert_eq!(blocks, vec![b"abcd".to_vec(), b"efgh".to_vec(), b"i".to_vec()]);
        assert_eq!(reader.total_bytes, 9);
    }

    #[tokio::test]
    async fn large_chunks_become_pieces_without_copies_and_small_ones_are_joined() {
        let large = Bytes::from(vec![7u8; 3 * PIECE_BYTES_MIN]);
        let body: Body = Box::pin(futures::stream::iter(
            [Bytes::from_static(b"ab"), Bytes::from_static(b"cd"), large.clone(), Bytes::from_static(b"e")]
                .into_iter()
                .map(Ok),
        ));
        let mut reader = BlockReader::new(body);
        let block = reader.next_block(8 * PIECE_BYTES_MIN).await.expect("no error").expect("a block");
        assert_eq!(block.len, 4 + large.len() + 1);
        let lens: Vec<usize> = block.pieces.iter().map(Bytes::len).collect();
        assert_eq!(lens, vec![4, large.len(), 1]);
        assert_eq!(block.pieces[1].as_ptr(), large.as_ptr(), "a large chunk is handed out, not copied");
        assert_eq!(reader.next_block(8).await.expect("no error"), None);
    }

    #[tokio::test]
    async fn a_body_of_one_byte_chunks_makes_few_pieces() {
        let body: Body =
            Box::pin(futures::stream::iter((0..3 * PIECE_BYTES_MIN).map(|i| Ok(Bytes::from(vec![i as u8])))));
        let mut reader = BlockReader::new(body);
        let block = reader.next_block(4 * PIECE_BYTES_MIN).await.expect("no error").expect("a block");
        assert_eq!(block.len, 3 * PIECE_BYTES_MIN);
        assert_eq!(block.pieces.len(), 3);
    }

    #[tokio::test]
    async fn body_errors_surface() {
        let body: Body = Box::pin(futures::stream::iter(vec![Ok(Bytes::from_static(b"ab")), Err("reset".to_owned())]));
        let mut reader = BlockReader::new(body);
        assert!(matches!(reader.next_block(4).await, Err(ObjectError::Body(_))));
    }
}
