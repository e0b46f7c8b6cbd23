//! A TCP proxy in front of a server that holds the first request whose bytes contain
//! a marker (e.g. `partNumber=1`) until the test releases it: a way to change a source
//! at an exact point of a running copy, without timing guesses.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// Bytes forwarded per read.
const CHUNK_BYTES: usize = 64 << 10;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Hold {
    /// Waiting for the marker.
    Armed,
    /// A request with the marker is held.
    Holding,
    /// Released: everything flows.
    Released,
}

struct Gate {
    marker: Vec<u8>,
    state: Mutex<Hold>,
    changed: Condvar,
}

impl Gate {
    fn set(&self, hold: Hold) {
        *self.state.lock().expect("gate") = hold;
        self.changed.notify_all();
    }

    /// Holds the calling connection if `chunk` is the first to carry the marker.
    fn pass(&self, chunk: &[u8]) {
        let mut state = self.state.lock().expect("gate");
        if *state != Hold::Armed || !chunk.windows(self.marker.len()).any(|w| w == self.marker) {
            return;
        }
        *state = Hold::Holding;
        self.changed.notify_all();
        while *state == Hold::Holding {
            state = self.changed.wait(state).expect("gate");
        }
    }
}

/// A proxy listening on 127.0.0.1 (an ephemeral port).
pub struct Proxy {
    /// `http://127.0.0.1:PORT`, to use instead of the server's endpoint.
    pub endpoint: String,
    gate: Arc<Gate>,
}

impl Proxy {
    /// Forwards to `upstream` (`http://host:port`), holding the first request that
    /// contains `marker`.
    pub fn start(upstream: &str, marker: &str) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let endpoint = format!("http://{}", listener.local_addr().expect("address"));
        let upstream = upstream.trim_start_matches("http://").to_owned();
        let gate = Arc::new(Gate {
            marker: marker.as_bytes().to_vec(),
            state: Mutex::new(Hold::Armed),
            changed: Condvar::new(),
        });
        let shared = gate.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().map_while(Result::ok) {
                let Ok(server) = TcpStream::connect(&upstream) else { continue };
                let gate = shared.clone();
                std::thread::spawn(move || forward(client, server, gate));
            }
        });
        Proxy { endpoint, gate }
    }

    /// Waits (at most `timeout`) until a request with the marker is held.
    pub fn wait_held(&self, timeout: Duration) -> bool {
        let state = self.gate.state.lock().expect("gate");
        let (state, _) =
            self.gate.changed.wait_timeout_while(state, timeout, |hold| *hold == Hold::Armed).expect("gate");
        *state == Hold::Holding
    }

    /// Lets the held request (and everything after it) through.
    pub fn release(&self) {
        self.gate.set(Hold::Released);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.release();
    }
}

/// Copies client -> server through the gate, and server -> client as is.
fn forward(mut client: TcpStream, mut server: TcpStream, gate: Arc<Gate>) {
    let (Ok(mut client_back), Ok(mut server_back)) = (client.try_clone(), server.try_clone()) else { return };
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut server_back, &mut client_back);
        let _ = client_back.shutdown(Shutdown::Write);
    });
    let mut buffer = vec![0u8; CHUNK_BYTES];
    loop {
        let read = match client.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(read) => read,
        };
        gate.pass(&buffer[..read]);
        if server.write_all(&buffer[..read]).is_err() {
            break;
        }
    }
    let _ = server.shutdown(Shutdown::Write);
}
