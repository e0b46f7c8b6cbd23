//! TLS on the S3 port (`--certs-dir`, MinIO's layout) with certificates the tests
//! make: trusted clients work, untrusted ones and plain HTTP are refused without
//! hurting the server, and bad certificate files stop the start with the file named.

use crate::certs::{CaIn, TestCa, https_client, refused_start};
use crate::cli::Cli;
use crate::harness::{ACCESS_KEY, SECRET_KEY, Server, get, new_bucket, put, random_bytes};
use std::io::{Read, Write};
use std::process::Command;
use std::time::{Duration, Instant};

/// How long a refused connection may take to be closed by the server.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(15);

/// A single-node server over TLS with a leaf for 127.0.0.1 signed by `ca`.
fn tls_server(ca: &TestCa) -> Server {
    tls_server_with(ca, &[])
}

/// Like [`tls_server`], with more environment.
fn tls_server_with(ca: &TestCa, env: &[(&str, &str)]) -> Server {
    let dir = tempfile::tempdir().expect("temp dir");
    let certs = ca.certs_dir(&dir.path().join("certs"), &["127.0.0.1"], CaIn::Nowhere);
    let certs = certs.to_str().expect("utf-8 path").to_owned();
    let mut env = env.to_vec();
    env.push(("CAIRN_CERTS_DIR", &certs));
    Server::start_in(dir, 4, &env)
}

#[tokio::test]
async fn tls_serves_s3_to_a_client_that_trusts_the_ca_and_refuses_one_that_does_not() {
    let ca = TestCa::new();
    let server = tls_server(&ca);
    assert!(server.endpoint.starts_with("https://127.0.0.1:"), "{}", server.endpoint);
    let client = https_client(&server.endpoint, Some(&ca.pem));
    let bucket = new_bucket(&client, "tls").await;
    let body = random_bytes(3 << 20);
    put(&client, &bucket, "over/tls.bin", &body).await;
    assert!(get(&client, &bucket, "over/tls.bin").await == body, "bytes changed over TLS");

    let stranger = https_client(&server.endpoint, None);
    let refused = stranger.get_object().bucket(&bucket).key("over/tls.bin").send().await;
    let error = refused.expect_err("a client that does not trust the CA must fail the handshake");
    assert!(
        matches!(error, aws_sdk_s3::error::SdkError::DispatchFailure(_)),
        "expected a connection failure, got {error:?}"
    );
    let other_ca = TestCa::new();
    let fooled = https_client(&server.endpoint, Some(&other_ca.pem)).list_buckets().send().await;
    assert!(fooled.is_err(), "a client trusting another CA must fail");
}

/// Sends a plain HTTP request to `address` and returns what came back before the
/// server closed the connection (or the read failed).
fn plain_http_exchange(address: &str) -> Vec<u8> {
    let mut stream = std::net::TcpStream::connect(address).expect("connect");
    stream.set_read_timeout(Some(CLOSE_TIMEOUT)).expect("read timeout");
    let request = format!("GET /minio/health/live HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    // The server may close before the whole request is written.
    let _ = stream.write_all(request.as_bytes());
    let started = Instant::now();
    let mut answer = Vec::new();
    let mut buffer = [0u8; 1024];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => break,
            Ok(read) => answer.extend_from_slice(&buffer[..read]),
            Err(error) => {
                assert!(
                    started.elapsed() < CLOSE_TIMEOUT,
                    "the server kept a plain HTTP connection open for {CLOSE_TIMEOUT:?}: {error}"
                );
                break;
            }
        }
    }
    answer
}

#[tokio::test]
async fn tls_port_closes_plain_http_connections_and_keeps_serving() {
    let ca = TestCa::new();
    let server = tls_server(&ca);
    let address = server.endpoint.trim_start_matches("https://").to_owned();
    let client = https_client(&server.endpoint, Some(&ca.pem));
    let bucket = new_bucket(&client, "plain").await;
    for round in 0..5 {
        let address = address.clone();
        let answer = tokio::task::spawn_blocking(move || plain_http_exchange(&address)).await.expect("exchange");
        assert!(!answer.starts_with(b"HTTP/"), "round {round}: plain HTTP was answered: {answer:?}");
        put(&client, &bucket, &format!("after-{round}"), b"still serving").await;
    }
    assert_eq!(get(&client, &bucket, "after-4").await, b"still serving");
    assert!(!server.log().contains("panicked"), "{}", server.log());
}

/// Runs `cairn server` with `certs` as certs folder and returns its stderr once it
/// exited (it must exit: the files are bad).
fn start_fails(certs: &std::path::Path) -> String {
    let drives = tempfile::tempdir().expect("drives");
    let mut command = Command::new(env!("CARGO_BIN_EXE_cairn"));
    command
        .args(["server", "--address", "127.0.0.1:0", "--certs-dir"])
        .env("CAIRN_CONSOLE_ADDRESS", "127.0.0.1:0")
        .arg(certs)
        .arg(drives.path().join("d{1...4}"))
        .env("CAIRN_ROOT_USER", ACCESS_KEY)
        .env("CAIRN_ROOT_PASSWORD", SECRET_KEY);
    refused_start(command)
}

#[test]
fn tls_bad_certificate_files_stop_the_start_and_name_the_file() {
    let ca = TestCa::new();
    let dir = tempfile::tempdir().expect("dir");

    let garbage = ca.certs_dir(&dir.path().join("garbage"), &["127.0.0.1"], CaIn::Nowhere);
    std::fs::write(garbage.join("public.crt"), "not a certificate").expect("write");
    let error = start_fails(&garbage);
    assert!(error.contains("public.crt") && error.contains("no PEM certificate"), "{error}");

    let mismatched = ca.certs_dir(&dir.path().join("mismatched"), &["127.0.0.1"], CaIn::Nowhere);
    let (_, other_key) = ca.leaf(&["127.0.0.1"]);
    std::fs::write(mismatched.join("private.key"), other_key).expect("write");
    let error = start_fails(&mismatched);
    assert!(error.contains("private.key"), "{error}");

    let bad_key = ca.certs_dir(&dir.path().join("bad-key"), &["127.0.0.1"], CaIn::Nowhere);
    std::fs::write(bad_key.join("private.key"), "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
        .expect("write");
    let error = start_fails(&bad_key);
    assert!(error.contains("private.key"), "{error}");

    let half = ca.certs_dir(&dir.path().join("half"), &["127.0.0.1"], CaIn::Nowhere);
    std::fs::remove_file(half.join("private.key")).expect("remove");
    let error = start_fails(&half);
    assert!(error.contains("private.key") && error.contains("public.crt"), "{error}");

    let error = start_fails(&dir.path().join("missing"));
    assert!(error.contains("does not exist"), "{error}");
}

#[test]
fn tls_cli_talks_to_an_https_alias_with_ca_or_insecure() {
    let ca = TestCa::new();
    let server = tls_server(&ca);
    let ca_file = server.dir.path().join("ca.crt");
    ca.write_pem(&ca_file);
    let ca_file = ca_file.to_str().expect("utf-8 path");
    let cli = Cli::new();
    cli.alias("secure", &server.endpoint, ACCESS_KEY, SECRET_KEY);
    let files = tempfile::tempdir().expect("files");
    let source = files.path().join("hello.txt");
    std::fs::write(&source, "hello over TLS").expect("write");
    let source = source.to_str().expect("utf-8 path");

    let refused = cli.run(&["mb", "secure/tls-cli"]);
    assert_ne!(refused.code, 0, "a server whose CA is not trusted must be refused: {}", refused.stdout);
    cli.run(&["--ca", ca_file, "mb", "secure/tls-cli"]).ok();
    cli.run(&["--ca", ca_file, "cp", source, "secure/tls-cli/hello.txt"]).ok();
    let back = cli.run(&["--ca", ca_file, "cat", "secure/tls-cli/hello.txt"]);
    assert_eq!(back.code, 0, "{}", back.stderr);
    assert!(back.stdout.contains("hello over TLS"), "{}", back.stdout);
    let listed = cli.run(&["--insecure", "ls", "secure/tls-cli"]).ok();
    assert_eq!(listed.len(), 1, "{listed:?}");
    let info = cli.run(&["--ca", ca_file, "admin", "info", "secure"]);
    assert_eq!(info.code, 0, "admin calls trust the CA too: {}", info.stderr);
    assert_ne!(cli.run(&["admin", "info", "secure"]).code, 0, "admin calls without the CA are refused");
}

/// Opens a connection to `address`, sends `first_bytes`, and returns whether the server
/// closed it within [`CLOSE_TIMEOUT`].
fn closed_by_server(address: &str, first_bytes: &[u8]) -> bool {
    let mut stream = std::net::TcpStream::connect(address).expect("connect");
    stream.set_read_timeout(Some(CLOSE_TIMEOUT)).expect("read timeout");
    stream.write_all(first_bytes).expect("write");
    let mut buffer = [0u8; 64];
    // EOF or a reset: closed. A read timeout: still open.
    match stream.read(&mut buffer) {
        Ok(read) => read == 0,
        Err(error) => !matches!(error.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut),
    }
}

#[tokio::test]
async fn tls_handshakes_are_bounded_by_the_idle_and_header_timeouts() {
    let ca = TestCa::new();
    let server = tls_server_with(&ca, &[("CAIRN_API_IDLE_TIMEOUT_SECS", "2"), ("CAIRN_API_HEADER_TIMEOUT_SECS", "2")]);
    let address = server.endpoint.trim_start_matches("https://").to_owned();
    let (silent, stalled) = tokio::task::spawn_blocking(move || {
        // Nothing sent at all (idle), and the first byte of a TLS record then nothing (a
        // handshake trickled like a slowloris request head).
        (closed_by_server(&address, b""), closed_by_server(&address, &[0x16, 0x03, 0x01]))
    })
    .await
    .expect("probes");
    assert!(silent, "a connection that never starts its handshake must be closed");
    assert!(stalled, "a handshake that stalls must be closed");
    let client = https_client(&server.endpoint, Some(&ca.pem));
    client.list_buckets().send().await.expect("the server still serves");
}

/// Whether a fresh client trusting only `ca` can list buckets on `server`.
async fn trusted_by(server: &Server, ca: &TestCa) -> bool {
    https_client(&server.endpoint, Some(&ca.pem)).list_buckets().send().await.is_ok()
}

/// Sends SIGHUP to the server: it reads its certs folder again.
fn hang_up(server: &Server) {
    let pid = rustix::process::Pid::from_raw(server.pid() as i32).expect("a child has a pid");
    rustix::process::kill_process(pid, rustix::process::Signal::HUP).expect("send SIGHUP");
}

#[tokio::test]
async fn tls_certificates_reload_on_sighup_and_bad_files_keep_the_old_ones() {
    let (old_ca, new_ca) = (TestCa::new(), TestCa::new());
    let server = tls_server(&old_ca);
    let certs = server.dir.path().join("certs");
    assert!(trusted_by(&server, &old_ca).await);

    // Half-written or mismatched files are refused; the certificate in use stays.
    std::fs::write(certs.join("public.crt"), "-----BEGIN CERTIFICATE-----\ncut short").expect("write");
    hang_up(&server);
    let deadline = Instant::now() + CLOSE_TIMEOUT;
    while !server.log().contains("cannot reload the TLS certificates") {
        assert!(Instant::now() < deadline, "the failed reload was not logged: {}", server.log());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(trusted_by(&server, &old_ca).await, "bad files must not replace the certificate in use");

    new_ca.certs_dir(&certs, &["127.0.0.1"], CaIn::Nowhere);
    hang_up(&server);
    let deadline = Instant::now() + CLOSE_TIMEOUT;
    while !trusted_by(&server, &new_ca).await {
        assert!(Instant::now() < deadline, "the new certificate was not served: {}", server.log());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(!trusted_by(&server, &old_ca).await, "the old certificate is no longer served");
}
