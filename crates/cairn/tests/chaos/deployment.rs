//! A deployment of real `cairn server` processes, one per network namespace (or, where
//! namespaces cannot be made, on 127.0.0.n), each with drives of its own. Nodes can be
//! killed, restarted, paused and resumed; every process is killed on drop, before the
//! drives are unmounted and the namespaces removed.

use crate::drives::Drives;
use crate::harness::{ACCESS_KEY, SECRET_KEY, no_retry_client, signed_request};
use crate::netns::{self, Network};
use aws_sdk_s3::Client;
use std::fs::OpenOptions;
use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The port every node listens on inside its own namespace.
const NAMESPACE_PORT: u16 = 9000;
/// How long nodes may take to report write quorum after a start.
pub const START_TIMEOUT: Duration = Duration::from_secs(90);
/// Time between two checks of a wait loop.
pub const POLL_INTERVAL: Duration = Duration::from_millis(250);
/// How long a health probe waits for an answer: a paused node never answers.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// How many lines of each node's log a failure message shows.
const LOG_TAIL_LINES: usize = 40;
/// The SDK's bound on connecting: a killed node refuses at once, a paused one never accepts.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// The SDK's own bound on one operation: a backstop above the workload's bounds.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(120);
/// Path of the on-demand heal (`cairn admin heal`).
const HEAL_PATH: &str = "/minio/admin/v3/cairn-heal";

/// How the nodes reach each other.
enum Net {
    /// One namespace per node: partitions are possible.
    Namespaces(Network),
    /// Node `n` on `127.0.0.n` at this port: no partitions.
    Loopback(u16),
}

#[derive(Default)]
struct Node {
    child: Option<Child>,
    paused: bool,
}

pub struct Deployment {
    nodes: Vec<Node>,
    /// Environment given to every node at every start.
    env: Vec<(String, String)>,
    /// Node logs; kept after a failed run.
    pub log_dir: PathBuf,
    pub drives: Drives,
    net: Net,
}

/// An S3 client that never retries (so every failure is counted) and has no stalled-stream
/// protection (a node waiting out a dead peer before reading a body is not stalled).
pub fn s3_client(endpoint: &str) -> Client {
    no_retry_client(endpoint, CONNECT_TIMEOUT, OPERATION_TIMEOUT)
}

impl Deployment {
    /// Starts `node_count` nodes with `per_node` drives each and waits for write quorum;
    /// in the namespaces of `network` when there is one (the caller runs in its clients'
    /// namespace), else on loopback.
    pub async fn start(node_count: usize, per_node: usize, network: Option<Network>, log_dir: PathBuf) -> Deployment {
        let net = match network {
            Some(network) => Net::Namespaces(network),
            None => Net::Loopback(free_loopback_port(node_count)),
        };
        std::fs::create_dir_all(&log_dir).expect("create the log folder");
        let drives = Drives::create(node_count, per_node);
        let mut deployment = Deployment {
            nodes: (0..node_count).map(|_| Node::default()).collect(),
            env: vec![("CAIRN_SCANNER_INTERVAL_SECS".into(), "3600".into())],
            log_dir,
            drives,
            net,
        };
        for n in 1..=node_count {
            deployment.start_node(n);
        }
        if let Err(error) = deployment.wait_healthy().await {
            panic!("the deployment did not start: {error}{}", deployment.logs());
        }
        deployment
    }

    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    fn address(&self, n: usize) -> String {
        match &self.net {
            Net::Namespaces(_) => format!("{}:{NAMESPACE_PORT}", netns::node_address(n)),
            Net::Loopback(port) => format!("{}:{port}", loopback_address(n)),
        }
    }

    pub fn endpoint(&self, n: usize) -> String {
        format!("http://{}", self.address(n))
    }

    pub fn client(&self, n: usize) -> Client {
        s3_client(&self.endpoint(n))
    }

    fn log_path(&self, n: usize) -> PathBuf {
        self.log_dir.join(format!("node{n}.log"))
    }

    /// Appends a line to every node's log, so that a fault can be found next to what it caused.
    pub fn mark_logs(&self, line: &str) {
        for n in 1..=self.node_count() {
            if let Ok(mut log) = OpenOptions::new().create(true).append(true).open(self.log_path(n)) {
                let _ = writeln!(log, "===== chaos: {line} =====");
            }
        }
    }

    /// The last lines of every node's log.
    pub fn logs(&self) -> String {
        let mut out = String::new();
        for n in 1..=self.node_count() {
            let log = std::fs::read_to_string(self.log_path(n)).unwrap_or_default();
            let lines: Vec<&str> = log.lines().collect();
            let tail = &lines[lines.len().saturating_sub(LOG_TAIL_LINES)..];
            out.push_str(&format!("\n----- node {n} log (last {} lines) -----\n{}", tail.len(), tail.join("\n")));
        }
        out
    }

    fn drive_urls(&self) -> Vec<String> {
        let per_node = self.drives.per_node();
        (1..=self.node_count())
            .flat_map(|n| (1..=per_node).map(move |j| (n, j)))
            .map(|(n, j)| format!("{}{}", self.endpoint(n), self.drives.drive(n, j).display()))
            .collect()
    }

    /// Spawns node `n` over the drives it has now; does not wait for it.
    pub fn start_node(&mut self, n: usize) {
        assert!(self.nodes[n - 1].child.is_none(), "node {n} is already running");
        let binary = Path::new(env!("CARGO_BIN_EXE_cairn"));
        let mut command = match &self.net {
            Net::Namespaces(network) => network.command(n, binary),
            Net::Loopback(_) => Command::new(binary),
        };
        let log = OpenOptions::new().create(true).append(true).open(self.log_path(n)).expect("open a node log");
        command
            .args(["server", "--address", &self.address(n)])
            .env("CAIRN_CONSOLE_ADDRESS", "127.0.0.1:0")
            .args(self.drive_urls())
            .env("CAIRN_ROOT_USER", ACCESS_KEY)
            .env("CAIRN_ROOT_PASSWORD", SECRET_KEY)
            .env("CAIRN_LOG", "info")
            // Tests read the drives' metadata while the nodes run.
            .env("CAIRN_TEST_INDEX_SHARED", "1")
            .envs(self.env.iter().map(|(name, value)| (name, value)))
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log));
        let mut child = command.spawn().expect("spawn cairn");
        let stdout = child.stdout.take().expect("stdout is piped");
        // Drains stdout for the process's lifetime: a full pipe would block the node.
        std::thread::spawn(move || for _ in BufReader::new(stdout).lines().map_while(Result::ok) {});
        self.nodes[n - 1] = Node { child: Some(child), paused: false };
    }

    pub fn is_running(&self, n: usize) -> bool {
        self.nodes[n - 1].child.is_some()
    }

    /// Files below `below` that node `n` has open (from `/proc/<pid>/fd`), for messages.
    pub fn open_files_below(&self, n: usize, below: &Path) -> Vec<String> {
        let Some(child) = self.nodes[n - 1].child.as_ref() else { return Vec::new() };
        let Ok(entries) = std::fs::read_dir(format!("/proc/{}/fd", child.id())) else { return Vec::new() };
        entries
            .flatten()
            .filter_map(|entry| std::fs::read_link(entry.path()).ok())
            .filter(|target| target.starts_with(below))
            .map(|target| target.display().to_string())
            .collect()
    }

    pub fn is_paused(&self, n: usize) -> bool {
        self.nodes[n - 1].paused
    }

    /// Kills node `n` with SIGKILL and reaps it; its drives stay.
    pub fn kill(&mut self, n: usize) {
        if self.nodes[n - 1].paused {
            self.resume(n);
        }
        if let Some(mut child) = self.nodes[n - 1].child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn pause(&mut self, n: usize) {
        self.signal(n, rustix::process::Signal::STOP);
        self.nodes[n - 1].paused = true;
    }

    pub fn resume(&mut self, n: usize) {
        self.signal(n, rustix::process::Signal::CONT);
        self.nodes[n - 1].paused = false;
    }

    fn signal(&self, n: usize, signal: rustix::process::Signal) {
        let child = self.nodes[n - 1].child.as_ref().unwrap_or_else(|| panic!("node {n} is not running"));
        let pid = rustix::process::Pid::from_raw(i32::try_from(child.id()).expect("pid fits i32")).expect("pid > 0");
        rustix::process::kill_process(pid, signal).unwrap_or_else(|e| panic!("signal node {n}: {e}"));
    }

    /// Waits until every running node reports write quorum.
    pub async fn wait_healthy(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let mut pending = Vec::new();
            for n in 1..=self.node_count() {
                let Some(child) = self.nodes[n - 1].child.as_mut() else { continue };
                if let Ok(Some(status)) = child.try_wait() {
                    self.nodes[n - 1].child = None;
                    return Err(format!("node {n} exited ({status})"));
                }
                if self.health(n, "cluster").await != Some(200) {
                    pending.push(n);
                }
            }
            if pending.is_empty() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!("nodes {pending:?} did not report write quorum within {START_TIMEOUT:?}"));
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// Status of `GET /minio/health/<check>` on node `n`, `None` without an answer.
    pub async fn health(&self, n: usize, check: &str) -> Option<u16> {
        http_status(&self.address(n), &format!("/minio/health/{check}")).await
    }

    /// Runs `cairn admin heal` of everything through node `n` (`--scan deep` when `scan`
    /// says so); returns its last line.
    pub async fn heal(&self, n: usize, scan: HealScan) -> Result<String, String> {
        let endpoint = self.endpoint(n);
        let mode = match scan {
            HealScan::Normal => "normal",
            HealScan::Deep => "deep",
        };
        let path = format!("{HEAL_PATH}?recursive=true&scan={mode}");
        let answer = tokio::task::spawn_blocking(move || signed_request(&endpoint, "POST", &path, b""))
            .await
            .map_err(|e| format!("heal through node {n}: {e}"))?;
        let text = String::from_utf8_lossy(&answer.1).into_owned();
        let summary = text.lines().rev().find(|line| line.contains("\"summary\"")).unwrap_or("").to_owned();
        if answer.0 != 200 || summary.contains("\"error\"") {
            return Err(format!("heal through node {n}: status {}, {summary}", answer.0));
        }
        Ok(summary)
    }

    pub fn network(&self) -> Option<&Network> {
        match &self.net {
            Net::Namespaces(network) => Some(network),
            Net::Loopback(_) => None,
        }
    }
}

impl Drop for Deployment {
    fn drop(&mut self) {
        for n in 1..=self.node_count() {
            self.kill(n);
        }
    }
}

/// How thoroughly a heal checks shards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HealScan {
    /// Trusts the metadata: finds missing and outdated shards (what `admin heal` does).
    Normal,
    /// Also reads every shard against its hash: the only heal that finds bitrot in an
    /// object nobody reads (`admin heal --scan deep`).
    Deep,
}

/// Status of a plain `GET path` at `address` (`host:port`), `None` without an answer
/// within [`PROBE_TIMEOUT`].
pub async fn http_status(address: &str, path: &str) -> Option<u16> {
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(address).await.ok()?;
        let request = format!("GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut head = vec![0u8; 64];
        let read = stream.read(&mut head).await.ok()?;
        String::from_utf8_lossy(&head[..read]).split_whitespace().nth(1)?.parse().ok()
    };
    tokio::time::timeout(PROBE_TIMEOUT, exchange).await.ok().flatten()
}

fn loopback_address(n: usize) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 0, u8::try_from(n).expect("node number fits an address byte"))
}

/// A port free on every node's loopback address, below the ephemeral range so that no
/// client's source port takes it while a node is down.
fn free_loopback_port(node_count: usize) -> u16 {
    for port in (21_000..32_000).step_by(7) {
        let bound = (1..=node_count).map_while(|n| TcpListener::bind((loopback_address(n), port)).ok()).count();
        if bound == node_count {
            return port;
        }
    }
    panic!("no port was free on every loopback address");
}
