//! Sources that change while they are copied, and the memory a transfer holds. A
//! proxy holds one request of a running `cairn cp` while the test changes the source,
//! so the change lands at a known point of the copy.

use super::Cli;
use super::proxy::Proxy;
use crate::harness::{ACCESS_KEY, SECRET_KEY, Server, put, random_bytes};
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

/// Bound on a copy reaching the request the proxy holds.
const HOLD_TIMEOUT: Duration = Duration::from_secs(60);
/// The memory bound a transfer must keep (docs/cli.md), with room for the process
/// itself (runtime, TLS, SDK): a transfer's bodies are at most 16 MiB.
const PEAK_RSS_KIB_MAX: u64 = 64 << 10;

#[tokio::test(flavor = "multi_thread")]
async fn cli_a_file_that_grows_during_an_upload_fails_the_copy_and_leaves_nothing() {
    let server = Server::start(4);
    let proxy = Proxy::start(&server.endpoint, "partNumber=1&");
    let cli = Cli::new();
    cli.alias("held", &proxy.endpoint, ACCESS_KEY, SECRET_KEY);
    cli.alias("local", &server.endpoint, ACCESS_KEY, SECRET_KEY);
    cli.run(&["mb", "local/bkt"]).ok();
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("growing.log");
    std::fs::write(&path, random_bytes(40 << 20)).expect("write"); // Three parts.
    let child =
        cli.command(&["cp", path.to_str().expect("utf-8"), "held/bkt/growing.log"]).spawn().expect("start cairn");
    assert!(proxy.wait_held(HOLD_TIMEOUT), "the upload of part 1 never started");
    let mut file = std::fs::OpenOptions::new().append(true).open(&path).expect("open");
    file.write_all(b"a line appended while the upload runs\n").expect("append");
    drop(file);
    proxy.release();
    let output = child.wait_with_output().expect("wait");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "the copy must fail: {stdout}");
    assert!(stdout.contains("grew"), "the error says what happened: {stdout}");
    assert_eq!(cli.run(&["stat", "local/bkt/growing.log"]).code, 3, "no truncated object was kept");
    let uploads = server.client().list_multipart_uploads().bucket("bkt").send().await.expect("list uploads");
    assert!(uploads.uploads().is_empty(), "the upload of a changed file is not kept for resuming");
}

#[tokio::test(flavor = "multi_thread")]
async fn cli_an_object_replaced_during_a_copy_between_servers_fails_the_copy() {
    let (first, second) = (Server::start(4), Server::start(4));
    let proxy = Proxy::start(&first.endpoint, "GET /src/report.bin");
    let cli = Cli::new();
    cli.alias("from", &proxy.endpoint, ACCESS_KEY, SECRET_KEY);
    cli.alias("to", &second.endpoint, ACCESS_KEY, SECRET_KEY);
    cli.run(&["mb", "to/dst"]).ok();
    let source = first.client();
    source.create_bucket().bucket("src").send().await.expect("bucket");
    put(&source, "src", "report.bin", &random_bytes(1 << 20)).await;
    let child = cli.command(&["cp", "from/src/report.bin", "to/dst/report.bin"]).spawn().expect("start cairn");
    assert!(proxy.wait_held(HOLD_TIMEOUT), "the copy never read the source");
    put(&source, "src", "report.bin", &random_bytes(3 << 20)).await; // A new, larger version.
    proxy.release();
    let output = child.wait_with_output().expect("wait");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "the copy must fail: {stdout}");
    assert!(stdout.contains("changed since it was listed"), "{stdout}");
    assert_eq!(cli.run(&["stat", "to/dst/report.bin"]).code, 3, "no truncated or mixed object was kept");
}

#[test]
fn cli_upload_memory_stays_within_the_stated_bound() {
    let server = Server::start(4);
    let cli = Cli::with_alias("local", &server);
    cli.run(&["mb", "local/bkt"]).ok();
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("big.bin");
    std::fs::write(&path, random_bytes(160 << 20)).expect("write"); // Ten 16 MiB parts.
    let report = dir.path().join("rss");
    let time = std::path::Path::new("/usr/bin/time");
    assert!(time.exists(), "SKIPPED LOUDLY: GNU time (/usr/bin/time) is needed to measure peak RSS; install it");
    let status = Command::new(time)
        .args(["-f", "%M", "-o"])
        .arg(&report)
        .arg(env!("CARGO_BIN_EXE_cairn"))
        .args(["--json", "--config-dir"])
        .arg(cli.home.path())
        .args(["cp", path.to_str().expect("utf-8"), "local/bkt/big.bin"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run cairn under time");
    assert!(status.success(), "the upload failed");
    let text = std::fs::read_to_string(&report).expect("time's report");
    let peak_kib: u64 = text.lines().last().and_then(|l| l.trim().parse().ok()).expect("a number of KiB");
    eprintln!("peak RSS of `cairn cp` of a 160 MiB file: {peak_kib} KiB");
    assert!(peak_kib < PEAK_RSS_KIB_MAX, "peak RSS {peak_kib} KiB is above {PEAK_RSS_KIB_MAX} KiB");
    assert_eq!(cli.run(&["stat", "local/bkt/big.bin"]).ok()[0]["size"], 160u64 << 20);
}
