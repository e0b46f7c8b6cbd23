//! A bound on aws-chunked chunk sizes, checked before s3s sees the chunk.
//!
//! s3s decodes `aws-chunked` bodies (`x-amz-content-sha256: STREAMING-...`) by
//! holding each whole chunk in memory until its signature can be checked, and accepts
//! any size a chunk header declares (up to 4 GiB). A client could make the server hold
//! gigabytes per request. So the request body (`drain::Returning`, before s3s decodes
//! it) follows the chunk framing with [`ChunkFraming`], without copying anything, and
//! fails at the first chunk header that declares more than [`CHUNK_BYTES_MAX`], before
//! any of that chunk's data has been read.

/// Largest aws-chunked chunk accepted: 16 MiB, as MinIO. The AWS SDKs send 64 KiB chunks.
pub(crate) const CHUNK_BYTES_MAX: u64 = 16 << 20;
/// Longest chunk header followed; a longer one is left for s3s to refuse (its own limit is 1 KiB).
const CHUNK_HEADER_BYTES_MAX: usize = 1024;

/// Where the framing reader is in the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    /// In a chunk header (`<hex size>[;chunk-signature=...]\r\n`).
    Header {
        /// The size read so far from the header's hex digits.
        size_bytes: u64,
        /// Whether a hex digit was seen.
        digits: bool,
        /// Whether the size has ended (at `;` or `\r`).
        size_ended: bool,
        /// Bytes of the header read so far.
        header_bytes: usize,
    },
    /// In a chunk's data and the CRLF after it: this many bytes remain.
    Data { remaining_bytes: u64 },
    /// After the last (empty) chunk, or framing s3s will refuse itself: not followed.
    Done,
}

const HEADER_START: Framing = Framing::Header { size_bytes: 0, digits: false, size_ended: false, header_bytes: 0 };

/// Follows aws-chunked framing across the pieces of a body.
#[derive(Debug)]
pub(crate) struct ChunkFraming {
    state: Framing,
}

impl ChunkFraming {
    pub(crate) fn new() -> Self {
        Self { state: HEADER_START }
    }

    /// Reads the next piece of the body; Err with the declared size of the first chunk
    /// larger than [`CHUNK_BYTES_MAX`].
    pub(crate) fn feed(&mut self, mut piece: &[u8]) -> Result<(), u64> {
        while !piece.is_empty() {
            match &mut self.state {
                Framing::Done => return Ok(()),
                Framing::Data { remaining_bytes } => {
                    let skipped = (*remaining_bytes).min(piece.len() as u64);
                    *remaining_bytes -= skipped;
                    piece = &piece[skipped as usize..];
                    if *remaining_bytes == 0 {
                        self.state = HEADER_START;
                    }
                }
                Framing::Header { size_bytes, digits, size_ended, header_bytes } => {
                    let byte = piece[0];
                    piece = &piece[1..];
                    *header_bytes += 1;
                    if byte == b'\n' {
                        self.state = match (*digits, *size_bytes) {
                            (false, _) => Framing::Done,
                            (true, 0) => Framing::Done,
                            // The data, then its CRLF.
                            (true, size) => Framing::Data { remaining_bytes: size + 2 },
                        };
                    } else if *header_bytes > CHUNK_HEADER_BYTES_MAX {
                        self.state = Framing::Done;
                    } else if !*size_ended {
                        match (byte as char).to_digit(16) {
                            Some(digit) => {
                                *digits = true;
                                *size_bytes = size_bytes.saturating_mul(16).saturating_add(u64::from(digit));
                                if *size_bytes > CHUNK_BYTES_MAX {
                                    return Err(*size_bytes);
                                }
                            }
                            None => *size_ended = true,
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// Whether a request's body is aws-chunked, as s3s decides it (`x-amz-content-sha256`).
pub(crate) fn is_aws_chunked(headers: &http::HeaderMap) -> bool {
    headers.get("x-amz-content-sha256").is_some_and(|v| v.as_bytes().starts_with(b"STREAMING-"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed_all(pieces: &[&[u8]]) -> Result<(), u64> {
        let mut framing = ChunkFraming::new();
        pieces.iter().try_for_each(|piece| framing.feed(piece))
    }

    #[test]
    fn chunks_within_the_limit_pass() {
        let data = vec![b'x'; 0x10000];
        let mut body = b"10000;chunk-signature=abc\r\n".to_vec();
        body.extend_from_slice(&data);
        body.extend_from_slice(b"\r\n1000000;chunk-signature=def\r\n");
        body.extend_from_slice(&vec![b'\n'; 0x1000000]);
        body.extend_from_slice(b"\r\n0;chunk-signature=0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n");
        assert_eq!(feed_all(&[&body]), Ok(()));
        // The same body in pieces of every small size.
        for size in 1..8 {
            assert_eq!(feed_all(&body.chunks(size).collect::<Vec<_>>()), Ok(()), "pieces of {size}");
        }
    }

    #[test]
    fn a_chunk_over_the_limit_fails_at_its_header() {
        assert_eq!(feed_all(&[b"1000001;chunk-signature=abc\r\n"]), Err(0x1000001));
        assert_eq!(feed_all(&[b"ffff", b"fff0;chunk"]), Err(0xfffffff));
        // The second chunk, after a first one of 5 bytes.
        assert_eq!(feed_all(&[b"5\r\nhello\r\n", b"FFFFFFFF\r\n"]), Err(0xfffffff));
        // Data that looks like a huge header is data.
        assert_eq!(feed_all(&[b"8\r\nFFFFFFFF\r\n0\r\n\r\n"]), Ok(()));
    }
}
