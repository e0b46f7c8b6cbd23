//! Starting and stopping real servers, and S3 clients for them.

use aws_sdk_s3::Client;
use aws_sdk_s3::config::{Credentials, Region};
use aws_sdk_s3::primitives::ByteStream;
use md5::{Digest, Md5};
use rand::RngCore;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub const ACCESS_KEY: &str = "cairn-test-admin";
pub const SECRET_KEY: &str = "cairn-test-secret-key";
/// How long a server may take to print its address.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A running `cairn server` over temporary drives; killed on drop.
pub struct Server {
    child: Option<Child>,
    pub endpoint: String,
    /// Holds the drives and the log; removed on drop.
    pub dir: tempfile::TempDir,
    pub drive_count: usize,
}

impl Server {
    /// Starts a server over `drive_count` drives in a fresh temporary folder.
    pub fn start(drive_count: usize) -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        Self::start_in(dir, drive_count, &[])
    }

    /// Starts a server over drives that already exist (or not) under `dir`.
    pub fn start_in(dir: tempfile::TempDir, drive_count: usize, env: &[(&str, &str)]) -> Server {
        let drives = format!("{}/d{{1...{drive_count}}}", dir.path().display());
        Self::start_with_args(dir, &[drives], drive_count, env)
    }

    /// Starts a server with these drive arguments (e.g. one per server pool).
    pub fn start_with_args(
        dir: tempfile::TempDir,
        drive_args: &[String],
        drive_count: usize,
        env: &[(&str, &str)],
    ) -> Server {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.path().join("server.log"))
            .expect("log file");
        // `CAIRN_ADDRESS` in `env` picks the address (drive URLs must name its port).
        let address = env.iter().find(|(name, _)| *name == "CAIRN_ADDRESS").map_or("127.0.0.1:0", |(_, v)| *v);
        let mut command = Command::new(env!("CARGO_BIN_EXE_cairn"));
        command
            .args(["server", "--address", address])
            .env("CAIRN_CONSOLE_ADDRESS", "127.0.0.1:0")
            .args(drive_args)
            .env("CAIRN_ROOT_USER", ACCESS_KEY)
            .env("CAIRN_ROOT_PASSWORD", SECRET_KEY)
            .env("CAIRN_LOG", "info")
            // Tests read and damage drives' metadata while the server runs (see `meta_on`).
            .env("CAIRN_TEST_INDEX_SHARED", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log));
        for (name, value) in env {
            command.env(name, value);
        }
        let mut child = command.spawn().expect("spawn cairn");
        let stdout = child.stdout.take().expect("stdout piped");
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(address) = line.strip_prefix("API: ") {
                    let _ = sender.send(address.to_owned());
                }
            }
        });
        let endpoint = match receiver.recv_timeout(START_TIMEOUT) {
            Ok(endpoint) => endpoint,
            Err(_) => {
                let _ = child.kill();
                let log = std::fs::read_to_string(dir.path().join("server.log")).unwrap_or_default();
                panic!("server did not start within {START_TIMEOUT:?}; log:\n{log}");
            }
        };
        Server { child: Some(child), endpoint, dir, drive_count }
    }

    /// Starts a server whose start-up scan is over before the test goes on, and whose
    /// next scan is an hour away: a test that damages drives by hand must not race the
    /// scanner, which would repair (or remove, as dangling) what the test set up.
    pub async fn start_quiet(dir: tempfile::TempDir, drive_count: usize, env: &[(&str, &str)]) -> Server {
        const QUIET_SCANNER_INTERVAL_SECS: &str = "3600";
        const START_SCAN_TIMEOUT: Duration = Duration::from_secs(30);
        let mut env = env.to_vec();
        env.push(("CAIRN_SCANNER_INTERVAL_SECS", QUIET_SCANNER_INTERVAL_SECS));
        let server = Self::start_in(dir, drive_count, &env);
        let deadline = std::time::Instant::now() + START_SCAN_TIMEOUT;
        while server.scans_completed() == 0 {
            assert!(std::time::Instant::now() < deadline, "the start-up scan did not finish:\n{}", server.log());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        server
    }

    /// The background scanner's completed passes, from the healing report.
    pub fn scans_completed(&self) -> u64 {
        let (status, body) = signed_request(&self.endpoint, "GET", "/cairn/admin/v1/heal", b"");
        assert_eq!(status, 200, "heal report: {}", String::from_utf8_lossy(&body));
        let report: serde_json::Value = serde_json::from_slice(&body).expect("JSON report");
        report["scans_completed"].as_u64().expect("a count")
    }

    /// Path of drive `n` (1-based).
    pub fn drive(&self, n: usize) -> PathBuf {
        self.dir.path().join(format!("d{n}"))
    }

    /// The server's log so far.
    /// Deletes drive `n`'s folder under the running server. The server may create files
    /// in it meanwhile (healing, the scanner), which makes one `remove_dir_all` fail
    /// with "directory not empty": a few passes remove what appeared.
    pub fn delete_drive(&self, n: usize) {
        const PASSES_MAX: usize = 20;
        let path = self.drive(n);
        for pass in 1..=PASSES_MAX {
            match std::fs::remove_dir_all(&path) {
                Ok(()) => return,
                Err(error) if error.kind() == std::io::ErrorKind::NotFound && pass > 1 => return,
                Err(error) if pass == PASSES_MAX => panic!("delete drive {n} ({}): {error}", path.display()),
                Err(_) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// Stops the server and hands back its folder (to restart over the same drives).
    pub fn stop(mut self) -> tempfile::TempDir {
        self.kill();
        let placeholder = tempfile::tempdir().expect("temp dir");
        std::mem::replace(&mut self.dir, placeholder)
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("server running").id()
    }

    /// Sends SIGTERM to the server (as Kubernetes does on every rolling restart).
    pub fn terminate(&self) {
        let child = self.child.as_ref().expect("server running");
        let pid = rustix::process::Pid::from_raw(child.id() as i32).expect("a child has a pid");
        rustix::process::kill_process(pid, rustix::process::Signal::TERM).expect("send SIGTERM");
    }

    /// Waits at most `timeout` for the server to exit by itself; its exit status, or
    /// None if it still runs (it is then killed on drop).
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let child = self.child.as_mut()?;
        let deadline = std::time::Instant::now() + timeout;
        while std::time::Instant::now() < deadline {
            if let Some(status) = child.try_wait().expect("wait for the server") {
                self.child = None;
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    /// An S3 client with the root credentials.
    pub fn client(&self) -> Client {
        client_for(&self.endpoint, ACCESS_KEY, SECRET_KEY)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// An S3 client for `endpoint` (path-style, us-east-1, plain HTTP).
pub fn client_for(endpoint: &str, access_key: &str, secret_key: &str) -> Client {
    let config = aws_sdk_s3::Config::builder()
        .behavior_version_latest()
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new(access_key, secret_key, None, None, "test"))
        .force_path_style(true)
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    Client::from_conf(config)
}

/// A root client for `endpoint` that never retries, so every failed request shows as a
/// failure instead of being papered over, and has no stalled-stream protection (a node
/// waiting out a dead peer before it reads a body is not a stalled stream). The suites
/// that kill and partition nodes (`tests/cluster`, `tests/chaos`) bound requests with
/// `connect` and `operation`.
#[allow(dead_code)] // used by tests/cluster and tests/chaos, which share this file
pub fn no_retry_client(endpoint: &str, connect: Duration, operation: Duration) -> Client {
    use aws_sdk_s3::config::StalledStreamProtectionConfig;
    use aws_sdk_s3::config::retry::RetryConfig;
    use aws_sdk_s3::config::timeout::TimeoutConfig;
    let base = client_for(endpoint, ACCESS_KEY, SECRET_KEY);
    let timeouts = TimeoutConfig::builder().connect_timeout(connect).operation_timeout(operation).build();
    let config = base
        .config()
        .to_builder()
        .retry_config(RetryConfig::standard().with_max_attempts(1))
        .timeout_config(timeouts)
        .stalled_stream_protection(StalledStreamProtectionConfig::disabled())
        .build();
    Client::from_conf(config)
}

/// `len` random bytes (incompressible, never deduplicable).
pub fn random_bytes(len: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; len];
    rand::rng().fill_bytes(&mut bytes);
    bytes
}

/// Text of exactly `len` bytes made of `line(0)`, `line(1)`, ... (compressible data).
pub fn text_of(len: usize, line: impl Fn(u64) -> String) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 128);
    let mut n = 0u64;
    while out.len() < len {
        out.extend_from_slice(line(n).as_bytes());
        n += 1;
    }
    out.truncate(len);
    out
}

pub fn md5_hex(bytes: &[u8]) -> String {
    hex::encode(Md5::digest(bytes))
}

/// Creates a bucket with a unique name.
pub async fn new_bucket(client: &Client, stem: &str) -> String {
    let name = format!("{stem}-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    client.create_bucket().bucket(&name).send().await.expect("create bucket");
    name
}

pub async fn put(client: &Client, bucket: &str, key: &str, body: &[u8]) -> String {
    let output = client
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(body.to_vec()))
        .send()
        .await
        .unwrap_or_else(|e| panic!("put {key}: {e:?}"));
    output.e_tag().expect("etag").trim_matches('"').to_owned()
}

pub async fn get(client: &Client, bucket: &str, key: &str) -> Vec<u8> {
    let output =
        client.get_object().bucket(bucket).key(key).send().await.unwrap_or_else(|e| panic!("get {key}: {e:?}"));
    output.body.collect().await.expect("body").into_bytes().to_vec()
}

/// The S3 error code of a failed SDK call.
/// Bytes `from..to` of an object, read with a Range GET.
pub async fn get_range(client: &Client, bucket: &str, key: &str, from: usize, to: usize) -> Vec<u8> {
    let output = client
        .get_object()
        .bucket(bucket)
        .key(key)
        .range(format!("bytes={from}-{}", to - 1))
        .send()
        .await
        .unwrap_or_else(|e| panic!("range {from}..{to}: {e:?}"));
    assert_eq!(output.content_length(), Some((to - from) as i64));
    output.body.collect().await.expect("body").into_bytes().to_vec()
}

pub fn error_code<E, R>(error: &aws_sdk_s3::error::SdkError<E, R>) -> String
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::fmt::Debug,
    R: std::fmt::Debug,
{
    error.as_service_error().and_then(|e| e.code()).map(str::to_owned).unwrap_or_else(|| format!("{error:?}"))
}

/// The HTTP status of a failed SDK call.
pub fn error_status<E>(error: &aws_sdk_s3::error::SdkError<E, aws_smithy_runtime_api::http::Response>) -> u16 {
    error.raw_response().map(|r| r.status().as_u16()).unwrap_or(0)
}

/// Every file below `dir`, which must exist: a check that nothing is left in a folder
/// must not pass because the folder moved elsewhere. (Subfolders removed while they are
/// listed are skipped: the server may be cleaning up as the test looks.)
pub fn files_below(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    collect_files(dir, &mut out).unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
    out
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if !path.is_dir() {
            out.push(path);
        } else if let Err(error) = collect_files(&path, out)
            && error.kind() != std::io::ErrorKind::NotFound
        {
            return Err(error);
        }
    }
    Ok(())
}

/// Environment variable that lets a test that cannot run here (missing privilege or
/// tool) be skipped; without it such a test fails, so a skip never passes unnoticed.
pub const ALLOW_SKIP_ENV: &str = "CAIRN_TEST_ALLOW_SKIP";

/// Ends a test that cannot run here: fails it, unless `CAIRN_TEST_ALLOW_SKIP=1`, in
/// which case it says loudly that it was skipped.
pub fn cannot_run(why: &str) {
    if std::env::var(ALLOW_SKIP_ENV).is_ok_and(|v| v == "1") {
        eprintln!("\n*** SKIPPED ({ALLOW_SKIP_ENV}=1): {why} ***\n");
    } else {
        panic!("this test cannot run here: {why} (set {ALLOW_SKIP_ENV}=1 to skip it knowingly)");
    }
}

/// A raw HTTP/1.1 exchange (for anonymous requests and health probes): returns the status and body.
pub fn raw_request(endpoint: &str, method: &str, path: &str, body: &[u8]) -> (u16, Vec<u8>) {
    raw_request_with(endpoint, method, path, &[], body)
}

/// A raw request signed with SigV4 by the root credentials, with any body (even malformed XML).
pub fn signed_request(endpoint: &str, method: &str, path: &str, body: &[u8]) -> (u16, Vec<u8>) {
    signed_request_as(endpoint, (ACCESS_KEY, SECRET_KEY), method, path, body)
}

/// A raw request signed with SigV4 by `(access key, secret key)`.
pub fn signed_request_as(
    endpoint: &str,
    credentials: (&str, &str),
    method: &str,
    path: &str,
    body: &[u8],
) -> (u16, Vec<u8>) {
    signed_request_in(endpoint, credentials, "us-east-1", method, path, body)
}

/// A raw request signed with SigV4 by `(access key, secret key)` for `region`.
pub fn signed_request_in(
    endpoint: &str,
    credentials: (&str, &str),
    region: &str,
    method: &str,
    path: &str,
    body: &[u8],
) -> (u16, Vec<u8>) {
    let address = endpoint.trim_start_matches("http://");
    let signable = aws_sigv4::http_request::SignableBody::Bytes(body);
    let signing = sigv4_headers(endpoint, credentials, region, (method, path), &[("host", address)], signable);
    raw_request_with(endpoint, method, path, &signing, body)
}

/// The headers SigV4 adds (`x-amz-date`, `x-amz-content-sha256`, `authorization`) to a
/// request `(method, path)` to `endpoint` with `headers`, signed by `(access key,
/// secret key)` for `region`.
pub fn sigv4_headers(
    endpoint: &str,
    (access_key, secret_key): (&str, &str),
    region: &str,
    (method, path): (&str, &str),
    headers: &[(&str, &str)],
    body: aws_sigv4::http_request::SignableBody<'_>,
) -> Vec<(String, String)> {
    use aws_sigv4::http_request::{PayloadChecksumKind, SignableRequest, SigningSettings, sign};
    let mut settings = SigningSettings::default();
    settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    let identity = Credentials::new(access_key, secret_key, None, None, "test").into();
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("s3")
        .time(std::time::SystemTime::now())
        .settings(settings)
        .build()
        .expect("signing params")
        .into();
    let uri = format!("{endpoint}{path}");
    let signable = SignableRequest::new(method, &uri, headers.iter().copied(), body).expect("signable");
    let (instructions, _) = sign(signable, &params).expect("sign").into_parts();
    instructions.headers().map(|(name, value)| (name.to_owned(), value.to_owned())).collect()
}

fn raw_request_with(
    endpoint: &str,
    method: &str,
    path: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> (u16, Vec<u8>) {
    use std::io::{Read, Write};
    let address = endpoint.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(address).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).expect("write head");
    stream.write_all(body).expect("write body");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).expect("read response");
    let text = String::from_utf8_lossy(&response);
    let status = text.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body_start = response.windows(4).position(|w| w == b"\r\n\r\n").map_or(response.len(), |i| i + 4);
    (status, response[body_start..].to_vec())
}

/// The metadata drive folder `drive` holds for `key` (read through the drive's index,
/// which test servers share with the test process).
pub fn meta_on(drive: &Path, bucket: &str, key: &str) -> Option<Vec<u8>> {
    cairn_drive::inspect::object_meta(drive, bucket, key)
        .unwrap_or_else(|e| panic!("read {key} on {}: {e}", drive.display()))
        .map(|meta| meta.to_vec())
}

/// True when drive folder `drive` holds metadata for `key`.
pub fn has_key_on(drive: &Path, bucket: &str, key: &str) -> bool {
    meta_on(drive, bucket, key).is_some()
}

/// Replaces (or puts back) the metadata drive folder `drive` holds for `key`.
pub fn set_meta_on(drive: &Path, bucket: &str, key: &str, meta: Vec<u8>) {
    cairn_drive::inspect::put_object_meta(drive, bucket, key, meta.into())
        .unwrap_or_else(|e| panic!("write {key} on {}: {e}", drive.display()));
}

/// Removes the metadata drive folder `drive` holds for `key` (its data stays).
pub fn remove_meta_on(drive: &Path, bucket: &str, key: &str) -> bool {
    cairn_drive::inspect::remove_object_meta(drive, bucket, key)
        .unwrap_or_else(|e| panic!("remove {key} on {}: {e}", drive.display()))
}

/// Every key drive folder `drive` holds in `bucket`.
pub fn keys_on(drive: &Path, bucket: &str) -> Vec<String> {
    cairn_drive::inspect::object_keys(drive, bucket).unwrap_or_else(|e| panic!("keys on {}: {e}", drive.display()))
}

/// Sets run-time configuration keys through the admin API (`mc admin config set`).
pub fn set_config(endpoint: &str, text: &str) {
    let (status, body) = try_set_config(endpoint, text);
    assert_eq!(status, 200, "set-config-kv {text}: {body}");
}

/// Sets run-time configuration keys; the status and the answer's text.
pub fn try_set_config(endpoint: &str, text: &str) -> (u16, String) {
    let sealed = cairn_madmin::encrypt_data(SECRET_KEY, text.as_bytes()).expect("encrypt");
    let (status, body) = signed_request(endpoint, "PUT", "/minio/admin/v3/set-config-kv", &sealed);
    (status, String::from_utf8_lossy(&body).into_owned())
}
