//! Hand-driven HTTP/1.1 clients for tests that need control over timing: a signed
//! request head whose body the test sends at its own pace (slow uploads, stalls,
//! uploads in flight during a shutdown), and helpers to read one response.

use crate::harness::{ACCESS_KEY, SECRET_KEY, sigv4_headers};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// The head of a PUT of `length` bytes to `path`, signed for us-east-1 by the root
/// credentials with an unsigned payload (so the body can be sent at any pace).
pub fn signed_put_head(endpoint: &str, path: &str, length: usize) -> String {
    let address = endpoint.trim_start_matches("http://");
    let length_text = length.to_string();
    let headers = [("host", address), ("content-length", length_text.as_str())];
    let unsigned = aws_sigv4::http_request::SignableBody::UnsignedPayload;
    let signing = sigv4_headers(endpoint, (ACCESS_KEY, SECRET_KEY), "us-east-1", ("PUT", path), &headers, unsigned);
    let mut head = format!("PUT {path} HTTP/1.1\r\nHost: {address}\r\nContent-Length: {length}\r\n");
    for (name, value) in signing {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    head
}

/// Connects to `endpoint` with a read timeout.
pub fn connect(endpoint: &str) -> TcpStream {
    let stream = TcpStream::connect(endpoint.trim_start_matches("http://")).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(120))).expect("read timeout");
    stream
}

/// Reads one response (until the server closes the connection or its body, when it
/// has a Content-Length, is complete): its status and the text read.
pub fn read_response(stream: &mut TcpStream) -> (u16, String) {
    let mut response = Vec::new();
    let mut buffer = [0u8; 8192];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => response.extend_from_slice(&buffer[..n]),
        }
        if response_complete(&response) {
            break;
        }
    }
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, text)
}

fn response_complete(response: &[u8]) -> bool {
    let Some(end) = response.windows(4).position(|w| w == b"\r\n\r\n") else { return false };
    let head = String::from_utf8_lossy(&response[..end]).to_ascii_lowercase();
    let length =
        head.lines().find_map(|line| line.strip_prefix("content-length:")).and_then(|v| v.trim().parse::<usize>().ok());
    length.is_some_and(|length| response.len() >= end + 4 + length)
}

/// Writes `body` in pieces of `piece` bytes with `pause` between them.
pub fn send_slowly(stream: &mut TcpStream, body: &[u8], piece: usize, pause: Duration) -> std::io::Result<()> {
    for chunk in body.chunks(piece) {
        stream.write_all(chunk)?;
        std::thread::sleep(pause);
    }
    Ok(())
}
