//! A webhook endpoint for notification tests: a plain HTTP/1.1 server on 127.0.0.1
//! that records every POST it receives (its Authorization header and JSON body) and
//! answers 200. It can be started on a port chosen in advance, so that a test can
//! configure a target while nothing listens and bring the endpoint up later.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Largest request body accepted (an event is a few KiB).
const BODY_BYTES_MAX: usize = 1 << 20;
/// How long a test waits for events to arrive.
pub const DELIVERY_WAIT: Duration = Duration::from_secs(60);

/// One POST the endpoint received.
#[derive(Debug, Clone)]
pub struct Received {
    pub authorization: Option<String>,
    pub body: serde_json::Value,
}

impl Received {
    /// The event's name (`s3:ObjectCreated:Put`).
    pub fn name(&self) -> &str {
        self.body["EventName"].as_str().unwrap_or_default()
    }
    /// The object's key as the record gives it (URL-encoded).
    pub fn key(&self) -> &str {
        self.body["Records"][0]["s3"]["object"]["key"].as_str().unwrap_or_default()
    }
    /// The record.
    pub fn record(&self) -> &serde_json::Value {
        &self.body["Records"][0]
    }
}

/// A running endpoint; stops when dropped.
pub struct Webhook {
    pub port: u16,
    received: Arc<Mutex<Vec<Received>>>,
    stop: Arc<AtomicBool>,
}

/// A port nothing listens on now (bound and released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("address").port()
}

impl Webhook {
    /// Starts an endpoint on an ephemeral port.
    pub fn start() -> Webhook {
        Self::start_on(0)
    }

    /// Starts an endpoint on `port` (0: any).
    pub fn start_on(port: u16) -> Webhook {
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind the webhook port");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("address").port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (seen, stopped) = (Arc::clone(&received), Arc::clone(&stop));
        std::thread::spawn(move || {
            while !stopped.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let seen = Arc::clone(&seen);
                        std::thread::spawn(move || serve(stream, &seen));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        Webhook { port, received, stop }
    }

    /// The URL to configure as the target's endpoint.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/events", self.port)
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().expect("lock").clone()
    }

    /// Waits until `count` events arrived, then a little longer so that extra (wrong)
    /// events would be seen too; panics after [`DELIVERY_WAIT`].
    pub async fn wait_for(&self, count: usize) -> Vec<Received> {
        let deadline = Instant::now() + DELIVERY_WAIT;
        while self.received().len() < count {
            assert!(
                Instant::now() < deadline,
                "only {} of {count} events arrived: {:#?}",
                self.received().len(),
                self.received()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tokio::time::sleep(Duration::from_millis(700)).await;
        self.received()
    }
}

impl Drop for Webhook {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Reads one request, records it, answers 200 and closes.
fn serve(stream: TcpStream, seen: &Mutex<Vec<Received>>) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut reader = BufReader::new(&stream);
    let mut length = 0usize;
    let mut authorization = None;
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let trimmed = line.trim_end();
        if trimmed.is_empty() {
            break;
        }
        if let Some((name, value)) = trimmed.split_once(':') {
            match name.to_ascii_lowercase().as_str() {
                "content-length" => length = value.trim().parse().unwrap_or(0),
                "authorization" => authorization = Some(value.trim().to_owned()),
                _ => {}
            }
        }
    }
    let mut body = vec![0; length.min(BODY_BYTES_MAX)];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let body = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    seen.lock().expect("lock").push(Received { authorization, body });
    let mut stream = stream;
    let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
}
