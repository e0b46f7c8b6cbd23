//! Raw HTTP/1.1 requests: built from parts, edited as parts (headers dropped,
//! replaced, added; body edited) or as bytes, and sent over a plain TCP connection
//! whose outcome is classified: answered, closed, or hung.

use cairn_fuzz::mutate::{Mutation, mutation};
use proptest::prelude::*;
use proptest::sample::{Index, select};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

/// How long a request may go unanswered before the client closes its side (a request
/// whose edited length claims more body than was sent waits for the rest).
const ANSWER_WAIT: Duration = Duration::from_secs(1);
/// How long the server may take, after the client closed its side, to answer or
/// close: past this the request hung the server.
const HANG_LIMIT: Duration = Duration::from_secs(30);
/// Most response bytes kept (statuses and error codes are at the start).
const RESPONSE_BYTES_KEPT: usize = 64 << 10;

/// A request as parts.
#[derive(Debug, Clone)]
pub struct RawRequest {
    pub method: String,
    /// Path and query.
    pub target: String,
    /// Headers besides Host, Content-Length and Connection, which [`RawRequest::bytes`] adds.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawRequest {
    /// The request's bytes: `Content-Length` of the body unless a header sets the
    /// framing, and `Connection: close` so that the server ends the exchange.
    pub fn bytes(&self, host: &str) -> Vec<u8> {
        let framed = self
            .headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("content-length") || n.eq_ignore_ascii_case("transfer-encoding"));
        let mut head = format!("{} {} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n", self.method, self.target);
        if !framed {
            head.push_str(&format!("Content-Length: {}\r\n", self.body.len()));
        }
        for (name, value) in &self.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(&self.body);
        bytes
    }
}

/// Header names whose parsing matters: framing, signing, checksums, conditions, copies.
const HEADER_NAMES: &[&str] = &[
    "content-length",
    "transfer-encoding",
    "authorization",
    "x-amz-date",
    "x-amz-content-sha256",
    "x-amz-decoded-content-length",
    "content-encoding",
    "x-amz-trailer",
    "x-amz-sdk-checksum-algorithm",
    "x-amz-checksum-crc32",
    "content-md5",
    "expect",
    "range",
    "if-match",
    "if-none-match",
    "if-modified-since",
    "x-amz-copy-source",
    "x-amz-copy-source-range",
    "x-amz-metadata-directive",
    "x-amz-meta-a",
    "x-amz-tagging",
    "x-amz-server-side-encryption-customer-key",
    "x-amz-object-lock-mode",
    "host",
    "x-cairn-drive",
    "x-cairn-path",
    "x-cairn-time",
    "x-cairn-token",
];

/// Values that break parsers: empty, huge, negative, overflowing, half-valid.
const HEADER_VALUES: &[&str] = &[
    "",
    " ",
    "-1",
    "0",
    "18446744073709551616",
    "99999999999999999999999",
    "bytes=0-18446744073709551615",
    "bytes=-0",
    "bytes=5-1",
    "chunked",
    "aws-chunked",
    "aws-chunked,gzip,aws-chunked",
    "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
    "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
    "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
    "UNSIGNED-PAYLOAD",
    "AWS4-HMAC-SHA256",
    "AWS4-HMAC-SHA256 Credential=a/b/c/d/e, SignedHeaders=, Signature=",
    "AWS4-HMAC-SHA256 Credential=,,,,,,",
    "AWS a:b",
    "Bearer a.b.c",
    "20991231T235959Z",
    "00000000T000000Z",
    "100-continue",
    "x-amz-checksum-crc32,x-amz-checksum-sha256",
    "/bucket/../../etc/passwd",
    "%2F%2E%2E%2F",
    "*",
    "W/\"x\"",
    "\u{fffd}\u{fffd}",
];

/// Headers of `seed` with some edits, and its body with some byte edits.
#[derive(Debug, Clone)]
pub enum Edit {
    DropHeader(Index),
    /// Replaces a header's value with a hostile one.
    SetHeader(Index, String),
    /// Adds a header (a second copy when the request has it already).
    AddHeader(String, String),
    /// Edits the body (Content-Length follows it).
    Body(Mutation),
}

fn hostile_value() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => select(HEADER_VALUES).prop_map(str::to_owned),
        1 => (1usize..9000).prop_map(|n| "a".repeat(n)),
        2 => "[ -~]{0,40}",
    ]
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        1 => any::<Index>().prop_map(Edit::DropHeader),
        2 => (any::<Index>(), hostile_value()).prop_map(|(at, value)| Edit::SetHeader(at, value)),
        2 => (select(HEADER_NAMES), hostile_value()).prop_map(|(name, value)| Edit::AddHeader(name.to_owned(), value)),
        3 => mutation().prop_map(Edit::Body),
    ]
}

/// A fuzz case: which seed, which part edits, and byte edits of the whole request
/// (request line, header syntax, framing) in one case out of four.
#[derive(Debug, Clone)]
pub struct Case {
    pub seed: Index,
    pub edits: Vec<Edit>,
    pub raw: Vec<Mutation>,
}

pub fn case() -> impl Strategy<Value = Case> {
    let raw = prop_oneof![3 => Just(Vec::new()), 1 => proptest::collection::vec(mutation(), 1..6)];
    (any::<Index>(), proptest::collection::vec(edit(), 0..4), raw).prop_map(|(seed, edits, raw)| Case {
        seed,
        edits,
        raw,
    })
}

impl Case {
    /// The bytes of this case applied to one of `seeds`.
    pub fn apply(&self, seeds: &[RawRequest], host: &str) -> Vec<u8> {
        let mut request = seeds[self.seed.index(seeds.len())].clone();
        for edit in &self.edits {
            match edit {
                Edit::DropHeader(at) if !request.headers.is_empty() => {
                    request.headers.remove(at.index(request.headers.len()));
                }
                Edit::SetHeader(at, value) if !request.headers.is_empty() => {
                    let index = at.index(request.headers.len());
                    request.headers[index].1.clone_from(value);
                }
                Edit::AddHeader(name, value) => request.headers.push((name.clone(), value.clone())),
                Edit::Body(mutation) => mutation.apply(&mut request.body, &[]),
                _ => {}
            }
        }
        let mut bytes = request.bytes(host);
        for mutation in &self.raw {
            mutation.apply(&mut bytes, &[]);
        }
        bytes
    }
}

/// What became of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// An HTTP response: its status, its first bytes, and whether the client had
    /// closed its side first (the server saw the body end early).
    Answered(u16, Vec<u8>, bool),
    /// The server closed (or reset) the connection without a response.
    Closed,
    /// Neither within [`HANG_LIMIT`] after the client closed its side.
    Hung,
}

/// Sends `bytes` on a new connection and waits for the answer or a close.
pub fn exchange(address: &str, bytes: &[u8]) -> Outcome {
    let Ok(mut stream) = TcpStream::connect(address) else { return Outcome::Closed };
    // A server that answers early (bad headers) may close before the whole body is sent.
    let _ = stream.write_all(bytes);
    let mut response = Vec::new();
    let started = Instant::now();
    let mut closed_our_side = false;
    let mut buffer = [0u8; 16 << 10];
    loop {
        let limit = if closed_our_side { HANG_LIMIT } else { ANSWER_WAIT };
        let left = limit.saturating_sub(started.elapsed());
        if left.is_zero() {
            if closed_our_side {
                // Bytes without an end (a stalled body) still answered; nothing at all is a hang.
                if response.is_empty() {
                    return Outcome::Hung;
                }
                break;
            }
            let _ = stream.shutdown(Shutdown::Write);
            closed_our_side = true;
            continue;
        }
        let _ = stream.set_read_timeout(Some(left));
        match stream.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) if response.len() < RESPONSE_BYTES_KEPT => response.extend_from_slice(&buffer[..n]),
            Ok(_) => {}
            Err(error) if matches!(error.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            Err(_) => break,
        }
    }
    status_of(&response).map_or(Outcome::Closed, |status| Outcome::Answered(status, response, closed_our_side))
}

/// The status of an HTTP/1.x response, if `response` starts with one.
pub fn status_of(response: &[u8]) -> Option<u16> {
    let line = response.split(|b| *b == b'\n').next()?;
    let text = std::str::from_utf8(line).ok()?;
    let mut words = text.split_whitespace();
    words.next().filter(|version| version.starts_with("HTTP/1."))?;
    words.next()?.parse().ok()
}

/// The body of an HTTP response (after the blank line), for messages.
pub fn body_of(response: &[u8]) -> String {
    let start = response.windows(4).position(|w| w == b"\r\n\r\n").map_or(response.len(), |i| i + 4);
    String::from_utf8_lossy(&response[start..]).chars().take(300).collect()
}
