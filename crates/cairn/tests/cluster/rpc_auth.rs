//! Node RPC tokens cover one call once: a captured call replayed as is is refused, and
//! so is a call whose body was changed in flight. The calls are made here as a node
//! makes them (same credentials, same signing), then replayed or altered.

use crate::harness::{ACCESS_KEY, SECRET_KEY};
use crate::nodes::Cluster;
use cairn_cluster::{HEADER_BODY, HEADER_NONCE, HEADER_TIME, HEADER_TOKEN, PATH_LOCK, PATH_METRICS, TokenKey};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Bound on one raw exchange.
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(10);

/// A call as it travels: the request line and headers, signed for `signed_body`.
fn signed_call(address: &str, path: &str, signed_body: &[u8]) -> String {
    let mut request = http::Request::post(path).body(()).expect("request");
    let digest = cairn_cluster::body_digest(signed_body);
    request.headers_mut().insert(HEADER_BODY, digest.parse().expect("header"));
    let issued = TokenKey::new(ACCESS_KEY, SECRET_KEY).issue(&cairn_cluster::scope_of(&request));
    format!(
        "POST {path} HTTP/1.1\r\nHost: {address}\r\n{HEADER_BODY}: {digest}\r\n{HEADER_TIME}: {}\r\n\
         {HEADER_NONCE}: {}\r\n{HEADER_TOKEN}: {}\r\nConnection: close\r\n",
        issued.time, issued.nonce, issued.tokens
    )
}

/// Sends `head` with `body`; returns the status and the answer's body.
async fn exchange(address: &str, head: &str, body: &[u8]) -> (u16, String) {
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(address).await.expect("connect");
        let mut request = format!("{head}Content-Length: {}\r\n\r\n", body.len()).into_bytes();
        request.extend_from_slice(body);
        stream.write_all(&request).await.expect("send");
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await.expect("read");
        let answer = String::from_utf8_lossy(&answer).into_owned();
        let status = answer.split_whitespace().nth(1).and_then(|s| s.parse().ok()).expect("a status line");
        (status, answer)
    };
    tokio::time::timeout(EXCHANGE_TIMEOUT, exchange).await.expect("an answer in time")
}

#[tokio::test(flavor = "multi_thread")]
async fn replayed_and_altered_node_calls_are_refused() {
    let cluster = Cluster::start(3).await;
    let address = cluster.address(2);

    let captured = signed_call(&address, PATH_METRICS, b"");
    let (status, answer) = exchange(&address, &captured, b"").await;
    assert_eq!(status, 200, "the genuine call: {answer}");
    let (status, answer) = exchange(&address, &captured, b"").await;
    assert_eq!(status, 401, "the same call replayed was accepted: {answer}");
    assert!(answer.contains("replayed"), "{answer}");

    let genuine_body = b"a lock call as sent".as_slice();
    let altered = signed_call(&address, PATH_LOCK, genuine_body);
    let (status, answer) = exchange(&address, &altered, b"a lock call changed").await;
    assert_eq!(status, 401, "a call with an altered body was accepted: {answer}");
    assert!(answer.contains("does not match its token"), "{answer}");
    // The same token with its own body passes authentication (and is then refused as no lock call).
    let (status, answer) = exchange(&address, &signed_call(&address, PATH_LOCK, genuine_body), genuine_body).await;
    assert_eq!(status, 400, "{answer}");
    assert!(cluster.log(2).contains("refused a node RPC call"), "{}", cluster.logs());
}
