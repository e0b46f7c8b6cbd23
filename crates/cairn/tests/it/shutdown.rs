//! Graceful shutdown: a SIGTERM (Kubernetes sends one on every rolling restart) stops
//! new connections at once, lets the requests in flight finish, then the server exits 0.

use crate::harness::*;
use crate::raw_client::{connect, read_response, send_slowly, signed_put_head};
use std::io::Write;
use std::sync::mpsc;
use std::time::Duration;

/// Uploads in flight when the signal arrives.
const UPLOADS: usize = 4;
/// Bytes per upload: several erasure blocks, so each is mid-body at the signal.
const UPLOAD_BYTES: usize = 24 << 20;
/// Bytes each upload sends before the signal.
const BEFORE_SIGNAL_BYTES: usize = 4 << 20;
/// Pause between the 1 MiB pieces sent after the signal: the rest of each body takes
/// about 12 s, longer than a short grace period would allow (the default is 25 s).
const AFTER_SIGNAL_PAUSE: Duration = Duration::from_millis(600);

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_during_uploads_fails_none_and_refuses_new_connections() {
    let mut server = Server::start(4);
    let client = server.client();
    let bucket = new_bucket(&client, "drain").await;
    let bodies: Vec<Vec<u8>> = (0..UPLOADS).map(|_| random_bytes(UPLOAD_BYTES)).collect();
    let (started_tx, started_rx) = mpsc::channel();
    let mut resumes = Vec::new();
    let mut uploads = Vec::new();
    for (n, body) in bodies.iter().enumerate() {
        let (resume_tx, resume_rx) = mpsc::channel::<()>();
        resumes.push(resume_tx);
        let (endpoint, started, body) = (server.endpoint.clone(), started_tx.clone(), body.clone());
        let path = format!("/{bucket}/upload-{n}");
        uploads.push(std::thread::spawn(move || {
            let mut stream = connect(&endpoint);
            stream.write_all(signed_put_head(&endpoint, &path, body.len()).as_bytes()).expect("head");
            stream.write_all(&body[..BEFORE_SIGNAL_BYTES]).expect("first part of the body");
            started.send(()).expect("report start");
            resume_rx.recv().expect("resume");
            send_slowly(&mut stream, &body[BEFORE_SIGNAL_BYTES..], 1 << 20, AFTER_SIGNAL_PAUSE)
                .expect("the rest of the body");
            read_response(&mut stream)
        }));
    }
    for _ in 0..UPLOADS {
        started_rx.recv_timeout(Duration::from_secs(60)).expect("every upload started");
    }
    server.terminate();

    // New connections are refused as soon as the signal is handled (bounded wait).
    let address = server.endpoint.trim_start_matches("http://").to_owned();
    let refused = (0..200).any(|_| match std::net::TcpStream::connect(&address) {
        Err(error) => error.kind() == std::io::ErrorKind::ConnectionRefused,
        Ok(_) => {
            std::thread::sleep(Duration::from_millis(25));
            false
        }
    });
    assert!(refused, "a new connection was still accepted after SIGTERM");

    for resume in &resumes {
        resume.send(()).expect("resume upload");
    }
    for (n, upload) in uploads.into_iter().enumerate() {
        let (status, text) = upload.join().expect("upload thread");
        assert_eq!(status, 200, "upload {n} started before SIGTERM failed: {text}");
    }
    let exit = server.wait_exit(Duration::from_secs(60)).expect("the server exits after draining");
    assert!(exit.success(), "exit status {exit:?}; log:\n{}", server.log());

    let server = Server::start_in(server.stop(), 4, &[]);
    let client = server.client();
    for (n, body) in bodies.iter().enumerate() {
        let stored = get(&client, &bucket, &format!("upload-{n}")).await;
        assert_eq!(md5_hex(&stored), md5_hex(body), "upload {n} after the restart");
    }
}
