//! A cluster of real `cairn` processes on loopback. Node `n` (1-based) listens on
//! `127.0.0.n:<port>`, every node on the same port, and owns one drive folder; all
//! nodes get the same list of drive URLs. Nodes can be killed, restarted, paused and
//! resumed to inject faults; every process is killed when the `Cluster` is dropped.

use crate::harness::signed_request;
use crate::util::node_client;
use aws_sdk_s3::Client;
use rand::Rng;
use std::fs::OpenOptions;
use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, LazyLock, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How long nodes may take, from spawn, to report write quorum (`/minio/health/cluster`).
pub const START_TIMEOUT: Duration = Duration::from_secs(60);
/// Environment variable that sets the background scanner's period, in seconds.
pub const SCANNER_INTERVAL_ENV: &str = "CAIRN_SCANNER_INTERVAL_SECS";
/// Path of a node's healing report.
pub const HEAL_STATUS_PATH: &str = "/cairn/admin/v1/heal";
/// The most nodes a cluster may have: node `n` is `127.0.0.n`.
const NODES_MAX: usize = 16;
/// Ports are drawn below Linux's default ephemeral range (32768-60999), so that neither
/// the source port of a client connection nor another test binding port 0 can take a
/// node's port while the node is down between a kill and a restart.
const PORT_RANGE: std::ops::Range<u16> = 20_000..32_000;
/// How many random ports to try before giving up.
const PORT_ATTEMPTS: usize = 64;
/// How long a health probe waits to connect and for the status line: a paused node never answers.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// Longest status line a probe reads before giving up on the answer.
const STATUS_LINE_BYTES_MAX: usize = 4096;
/// Time between two checks of a wait loop.
pub const POLL_INTERVAL: Duration = Duration::from_millis(200);
/// How many lines of each node's log a failure message shows.
const LOG_TAIL_LINES: usize = 60;

/// Cluster tests take turns: three nodes per cluster on a two-core machine, and several
/// clusters at once would turn the tests' liveness bounds into races. A tokio mutex
/// works across the separate runtimes of `#[tokio::test]`s and is not poisoned when a
/// test panics.
pub static SERIAL: LazyLock<Arc<tokio::sync::Mutex<()>>> = LazyLock::new(|| Arc::new(tokio::sync::Mutex::new(())));

/// One node's process, as far as the harness knows it.
#[derive(Default)]
struct Node {
    /// The running process; `None` while the node is stopped.
    child: Option<Child>,
    /// Whether the process was paused with SIGSTOP and not resumed since.
    paused: bool,
    /// The address from the node's `API:` line; `None` until it printed one.
    announced: Arc<Mutex<Option<String>>>,
}

/// A running cluster over drives in one temporary folder.
pub struct Cluster {
    /// Node `n` is `nodes[n - 1]`.
    nodes: Vec<Node>,
    /// The port every node listens on, each on its own loopback address.
    port: u16,
    /// Extra environment given to every node, at every start.
    env: Vec<(String, String)>,
    /// Holds the drives (`n1`, `n2`, ...) and the logs (`node1.log`, ...); removed on drop
    /// unless the test failed.
    dir: tempfile::TempDir,
    /// Held for the cluster's lifetime; released last, after every process is gone.
    _turn: tokio::sync::OwnedMutexGuard<()>,
}

/// One node's scanning and healing counters (`GET /cairn/admin/v1/heal`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HealStatus {
    pub objects_scanned: u64,
    pub objects_healed: u64,
    pub heal_failures: u64,
    pub scans_completed: u64,
    pub drives_offline: u64,
}

impl Cluster {
    /// Starts `node_count` nodes and waits until every one reports write quorum.
    pub async fn start(node_count: usize) -> Cluster {
        Self::start_with(node_count, &[]).await
    }

    /// Like [`Cluster::start`], with extra environment variables for every node.
    pub async fn start_with(node_count: usize, env: &[(&str, &str)]) -> Cluster {
        assert!((1..=NODES_MAX).contains(&node_count), "a cluster has 1 to {NODES_MAX} nodes");
        let turn = Arc::clone(&SERIAL).lock_owned().await;
        let dir = tempfile::tempdir().expect("temp dir");
        let mut cluster = Cluster {
            nodes: (0..node_count).map(|_| Node::default()).collect(),
            port: free_port(node_count),
            env: env.iter().map(|(name, value)| ((*name).to_owned(), (*value).to_owned())).collect(),
            dir,
            _turn: turn,
        };
        for n in 1..=node_count {
            std::fs::create_dir_all(cluster.drive(n)).expect("create drive folder");
        }
        for n in 1..=node_count {
            cluster.start_node(n);
        }
        cluster.wait_all_healthy().await;
        cluster
    }

    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// `127.0.0.n:<port>`.
    pub fn address(&self, n: usize) -> String {
        format!("{}:{}", node_ip(n), self.port)
    }

    /// `http://127.0.0.n:<port>`.
    pub fn endpoint(&self, n: usize) -> String {
        format!("http://{}", self.address(n))
    }

    /// Node `n`'s drive folder.
    pub fn drive(&self, n: usize) -> PathBuf {
        self.dir.path().join(format!("n{n}"))
    }

    fn log_path(&self, n: usize) -> PathBuf {
        self.dir.path().join(format!("node{n}.log"))
    }

    /// Node `n`'s log (stderr) over all its starts.
    pub fn log(&self, n: usize) -> String {
        std::fs::read_to_string(self.log_path(n)).unwrap_or_default()
    }

    /// The end of every node's log, for failure messages.
    pub fn logs(&self) -> String {
        let mut out = String::new();
        for n in 1..=self.node_count() {
            let log = self.log(n);
            let lines: Vec<&str> = log.lines().collect();
            let tail = &lines[lines.len().saturating_sub(LOG_TAIL_LINES)..];
            out.push_str(&format!("\n----- node {n} log (last {} lines) -----\n", tail.len()));
            out.push_str(&tail.join("\n"));
        }
        out
    }

    /// An S3 client for node `n` (no SDK retries; see [`node_client`]).
    pub fn client(&self, n: usize) -> Client {
        node_client(&self.endpoint(n))
    }

    /// The drive URLs every node is given, in node order.
    fn drive_urls(&self) -> Vec<String> {
        (1..=self.node_count()).map(|n| format!("{}{}", self.endpoint(n), self.drive(n).display())).collect()
    }

    fn node(&mut self, n: usize) -> &mut Node {
        assert!((1..=self.nodes.len()).contains(&n), "no node {n}");
        &mut self.nodes[n - 1]
    }

    /// Sets an environment variable for every later node start (e.g. other credentials).
    pub fn set_env(&mut self, name: &str, value: &str) {
        self.env.retain(|(existing, _)| existing != name);
        self.env.push((name.to_owned(), value.to_owned()));
    }

    /// Spawns node `n` with the same arguments as at first start, over the drive it
    /// has now. Does not wait: a starting node may wait for its peers, so call
    /// [`Cluster::wait_healthy`] once every node that should run was started.
    pub fn start_node(&mut self, n: usize) {
        assert!(self.node(n).child.is_none(), "node {n} is already running");
        let mut log = OpenOptions::new().create(true).append(true).open(self.log_path(n)).expect("open log file");
        writeln!(log, "===== test harness: starting node {n} =====").expect("write log file");
        let mut command = Command::new(env!("CARGO_BIN_EXE_cairn"));
        command
            .args(["server", "--address", &self.address(n)])
            .env("CAIRN_CONSOLE_ADDRESS", "127.0.0.1:0")
            .args(self.drive_urls())
            .env("CAIRN_ROOT_USER", crate::harness::ACCESS_KEY)
            .env("CAIRN_ROOT_PASSWORD", crate::harness::SECRET_KEY)
            .env("CAIRN_LOG", "info")
            // Tests read the drives' metadata while the nodes run.
            .env("CAIRN_TEST_INDEX_SHARED", "1")
            .envs(self.env.iter().map(|(name, value)| (name, value)))
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log));
        let mut child = command.spawn().expect("spawn cairn");
        let stdout = child.stdout.take().expect("stdout is piped");
        let announced: Arc<Mutex<Option<String>>> = Arc::default();
        let announced_by_reader = Arc::clone(&announced);
        // Drains stdout for the process's lifetime (a full pipe would block the node);
        // ends when the process dies and the pipe closes.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(address) = line.strip_prefix("API: ") {
                    *announced_by_reader.lock().unwrap_or_else(PoisonError::into_inner) = Some(address.to_owned());
                }
            }
        });
        *self.node(n) = Node { child: Some(child), paused: false, announced };
    }

    /// Kills node `n` with SIGKILL (no shutdown path runs) and reaps it; its drive stays.
    pub fn stop(&mut self, n: usize) {
        if self.node(n).paused {
            self.sigcont(n);
        }
        let mut child = self.node(n).child.take().unwrap_or_else(|| panic!("node {n} is not running"));
        child.kill().expect("SIGKILL");
        child.wait().expect("reap node");
    }

    /// Pauses node `n` with SIGSTOP: its sockets stay open but it answers nothing.
    pub fn sigstop(&mut self, n: usize) {
        self.signal(n, "-STOP");
        self.node(n).paused = true;
    }

    /// Resumes node `n` after [`Cluster::sigstop`].
    pub fn sigcont(&mut self, n: usize) {
        self.signal(n, "-CONT");
        self.node(n).paused = false;
    }

    fn signal(&mut self, n: usize, signal: &str) {
        let pid = self.node(n).child.as_ref().unwrap_or_else(|| panic!("node {n} is not running")).id();
        let status = Command::new("kill").args([signal, &pid.to_string()]).status().expect("run kill");
        assert!(status.success(), "kill {signal} {pid} (node {n}) failed: {status}");
    }

    /// Waits until node `n` reports write quorum; panics with every log after [`START_TIMEOUT`].
    pub async fn wait_healthy(&mut self, n: usize) {
        self.wait_until_healthy(&[n]).await;
    }

    /// Waits until every running node reports write quorum.
    pub async fn wait_all_healthy(&mut self) {
        let running: Vec<usize> = (1..=self.node_count()).filter(|n| self.nodes[n - 1].child.is_some()).collect();
        self.wait_until_healthy(&running).await;
    }

    async fn wait_until_healthy(&mut self, nodes: &[usize]) {
        let deadline = Instant::now() + START_TIMEOUT;
        let mut pending = nodes.to_vec();
        loop {
            for n in &pending {
                let child = self.node(*n).child.as_mut().unwrap_or_else(|| panic!("node {n} is not running"));
                if let Some(status) = child.try_wait().expect("poll node process") {
                    self.node(*n).child = None;
                    panic!("node {n} exited ({status}) before it reported write quorum{}", self.logs());
                }
            }
            let mut still_pending = Vec::new();
            for n in pending {
                if self.health(n, "cluster").await != Some(200) {
                    still_pending.push(n);
                }
            }
            pending = still_pending;
            if pending.is_empty() {
                return;
            }
            if Instant::now() >= deadline {
                let mut states = String::new();
                for n in &pending {
                    states.push_str(&format!("\n  {}", self.describe(*n).await));
                }
                panic!(
                    "nodes {pending:?} did not report write quorum within {START_TIMEOUT:?}:{states}{}",
                    self.logs()
                );
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// One line on node `n`'s state, for failure messages.
    async fn describe(&self, n: usize) -> String {
        let node = &self.nodes[n - 1];
        let announced = node.announced.lock().unwrap_or_else(PoisonError::into_inner).clone();
        let process = match (&node.child, node.paused) {
            (None, _) => "stopped",
            (Some(_), true) => "paused",
            (Some(_), false) => "running",
        };
        let api = announced.map_or_else(|| "has not printed its API line".to_owned(), |a| format!("printed API: {a}"));
        let live = self.health(n, "live").await;
        let cluster = self.health(n, "cluster").await;
        format!("node {n}: {process}, {api}, health/live {live:?}, health/cluster {cluster:?}")
    }

    /// Status of `GET /minio/health/<check>` on node `n`, or `None` if it does not answer
    /// within [`PROBE_TIMEOUT`].
    pub async fn health(&self, n: usize, check: &str) -> Option<u16> {
        http_status(&self.address(n), &format!("/minio/health/{check}")).await
    }

    /// Node `n`'s healing counters, or `None` if it does not answer or answers otherwise than 200.
    pub async fn heal_status(&self, n: usize) -> Option<HealStatus> {
        // The signed request panics when it cannot connect: probe first so a dead node is `None`.
        self.health(n, "live").await?;
        let endpoint = self.endpoint(n);
        let (status, body) =
            tokio::task::spawn_blocking(move || signed_request(&endpoint, "GET", HEAL_STATUS_PATH, b"")).await.ok()?;
        if status != 200 {
            return None;
        }
        HealStatus::parse(&String::from_utf8_lossy(&body))
    }

    /// Every node's healing counters on one line each, for failure messages.
    pub async fn heal_report(&self) -> String {
        let mut out = String::new();
        for n in 1..=self.node_count() {
            out.push_str(&format!("\n  node {n}: {:?}", self.heal_status(n).await));
        }
        out
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            let Some(mut child) = node.child.take() else { continue };
            if node.paused {
                let _ = Command::new("kill").args(["-CONT", &child.id().to_string()]).status();
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        // A failed test leaves its drives and logs behind for a post-mortem.
        if std::thread::panicking() {
            self.dir.disable_cleanup(true);
            eprintln!("cluster drives and logs kept in {}", self.dir.path().display());
        }
    }
}

impl HealStatus {
    /// Reads the counters out of the report's JSON object (extra fields are ignored).
    fn parse(json: &str) -> Option<HealStatus> {
        Some(HealStatus {
            objects_scanned: json_u64(json, "objects_scanned")?,
            objects_healed: json_u64(json, "objects_healed")?,
            heal_failures: json_u64(json, "heal_failures")?,
            scans_completed: json_u64(json, "scans_completed")?,
            drives_offline: json_u64(json, "drives_offline")?,
        })
    }
}

/// The unsigned integer value of `"field":` in a flat JSON object.
fn json_u64(json: &str, field: &str) -> Option<u64> {
    let quoted = format!("\"{field}\"");
    let after = &json[json.find(&quoted)? + quoted.len()..];
    let value = after.trim_start().strip_prefix(':')?.trim_start();
    let end = value.find(|c: char| !c.is_ascii_digit()).unwrap_or(value.len());
    value[..end].parse().ok()
}

/// `127.0.0.n`.
pub fn node_ip(n: usize) -> Ipv4Addr {
    let last = u8::try_from(n).expect("node number fits an address byte");
    Ipv4Addr::new(127, 0, 0, last)
}

/// A port free on the loopback address of every node. The probes are released before
/// the nodes bind it; see [`PORT_RANGE`] for why nothing else takes it in between.
pub fn free_port(node_count: usize) -> u16 {
    let mut random = rand::rng();
    for _ in 0..PORT_ATTEMPTS {
        let port = random.random_range(PORT_RANGE);
        let bound = (1..=node_count).map_while(|n| TcpListener::bind((node_ip(n), port)).ok()).count();
        if bound == node_count {
            return port;
        }
    }
    panic!("no port in {PORT_RANGE:?} was free on all of 127.0.0.1..={node_count} after {PORT_ATTEMPTS} tries");
}

/// The status of a plain `GET path`, or `None` if there is no answer within [`PROBE_TIMEOUT`].
async fn http_status(address: &str, path: &str) -> Option<u16> {
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(address).await.ok()?;
        let request = format!("GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut head = Vec::new();
        let mut buffer = [0u8; 512];
        while !head.contains(&b'\n') && head.len() < STATUS_LINE_BYTES_MAX {
            let read = stream.read(&mut buffer).await.ok()?;
            if read == 0 {
                break;
            }
            head.extend_from_slice(&buffer[..read]);
        }
        String::from_utf8_lossy(&head).split_whitespace().nth(1)?.parse().ok()
    };
    tokio::time::timeout(PROBE_TIMEOUT, exchange).await.ok().flatten()
}

#[test]
fn heal_report_fields_parse() {
    let json = r#"{"objects_scanned":12,"objects_healed":3,"heal_failures":0,"scans_completed":1,"degraded_reads":4,"drives_offline": 1}"#;
    let status = HealStatus::parse(json).expect("parses");
    assert_eq!(
        status,
        HealStatus { objects_scanned: 12, objects_healed: 3, heal_failures: 0, scans_completed: 1, drives_offline: 1 }
    );
    assert_eq!(HealStatus::parse(r#"{"objects_scanned":1}"#), None);
}
