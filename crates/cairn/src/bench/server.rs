//! The server under test: this same binary, started as a child process so that
//! its memory can be measured on its own.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Credentials of the benchmark server (loopback only, discarded afterwards).
pub const ACCESS_KEY: &str = "cairn-bench";
pub const SECRET_KEY: &str = "cairn-bench-secret";
/// How long the server may take to start.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// Data and parity shards of the server under test.
#[derive(Debug, Clone, Copy)]
pub struct Layout {
    pub nodes: usize,
    pub drives: usize,
    pub data: usize,
    pub parity: usize,
}

pub struct BenchServer {
    /// Node 1 first; the benchmark talks to node 1.
    children: Vec<Child>,
    pub endpoint: String,
    pub layout: Layout,
}

/// Pause between looks at a starting cluster's health.
const HEALTH_POLL_MS: u64 = 100;

/// A port free on 127.0.0.1 up to 127.0.0.`nodes` (each node listens on its own address).
fn free_port(nodes: usize) -> Result<u16, String> {
    for _ in 0..100 {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
        let port = probe.local_addr().map_err(|e| e.to_string())?.port();
        drop(probe);
        if (1..=nodes).all(|n| std::net::TcpListener::bind(format!("127.0.0.{n}:{port}")).is_ok()) {
            return Ok(port);
        }
    }
    Err("no port is free on every loopback address".into())
}

/// True when `address` answers `/minio/health/cluster` with 200.
fn cluster_healthy(address: &str) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(address) else { return false };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request = format!("GET /minio/health/cluster HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.ends_with(b"200")
}

/// The SSE-S3 master key of benchmark servers.
const BENCH_MASTER_KEY: &str = "bench:YmVuY2gtbWFzdGVyLWtleS1vZi0zMi1ieXRlcyEhISE=";

fn spawn(args: &[String], stdout: Stdio) -> Result<Child, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    Command::new(exe)
        .arg("server")
        // Benchmarks start several servers; their consoles take ephemeral ports.
        .env("CAIRN_CONSOLE_ADDRESS", "127.0.0.1:0")
        .args(args)
        .env("CAIRN_ROOT_USER", ACCESS_KEY)
        .env("CAIRN_ROOT_PASSWORD", SECRET_KEY)
        // A fixed master key, so that benchmarks can measure SSE-S3 (benchmark data only).
        .env("CAIRN_KMS_SECRET_KEY", BENCH_MASTER_KEY)
        // Request lines would measure the terminal; warnings still show.
        .env("CAIRN_LOG", "warn")
        .stdout(stdout)
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("cannot start the server: {e}"))
}

impl BenchServer {
    /// Starts one node over `drives` drives, or `nodes` nodes on 127.0.0.1.. sharing them.
    pub fn start(dir: &Path, drives: usize, nodes: usize) -> Result<Self, String> {
        let parity = cairn_object::parity_for_set_size(drives);
        let layout = Layout { nodes, drives, data: drives - parity, parity };
        if nodes > 1 {
            return Self::start_cluster(dir, drives, nodes, layout);
        }
        let pattern = format!("{}/d{{1...{drives}}}", dir.display());
        let mut child = spawn(&["--address".into(), "127.0.0.1:0".into(), pattern], Stdio::piped())?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(address) = line.strip_prefix("API: ") {
                    let _ = sender.send(address.to_owned());
                }
            }
        });
        let endpoint = receiver.recv_timeout(START_TIMEOUT).map_err(|_| "the server did not start".to_owned())?;
        Ok(Self { children: vec![child], endpoint, layout })
    }

    fn start_cluster(dir: &Path, drives: usize, nodes: usize, layout: Layout) -> Result<Self, String> {
        if !drives.is_multiple_of(nodes) {
            return Err(format!("{drives} drives cannot be shared evenly by {nodes} nodes"));
        }
        let port = free_port(nodes)?;
        let urls: Vec<String> = (1..=nodes)
            .flat_map(|n| (1..=drives / nodes).map(move |d| (n, d)))
            .map(|(n, d)| format!("http://127.0.0.{n}:{port}{}/n{n}d{d}", dir.display()))
            .collect();
        let mut server = Self { children: Vec::new(), endpoint: format!("http://127.0.0.1:{port}"), layout };
        for n in 1..=nodes {
            let mut args = vec!["--address".to_owned(), format!("127.0.0.{n}:{port}")];
            args.extend(urls.iter().cloned());
            // The cluster's health says when it is ready; the address line is not needed.
            server.children.push(spawn(&args, Stdio::null())?);
        }
        let deadline = std::time::Instant::now() + START_TIMEOUT;
        while !cluster_healthy(&format!("127.0.0.1:{port}")) {
            if std::time::Instant::now() > deadline {
                return Err("the cluster did not form".into());
            }
            std::thread::sleep(Duration::from_millis(HEALTH_POLL_MS));
        }
        Ok(server)
    }

    /// Process ids of the server's nodes.
    pub fn pids(&self) -> Vec<u32> {
        self.children.iter().map(Child::id).collect()
    }

    /// Peak resident memory of the largest server process so far (VmHWM), in MiB.
    pub fn peak_rss_mib(&self) -> Result<f64, String> {
        let mut peak: f64 = 0.0;
        for child in &self.children {
            let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).map_err(|e| e.to_string())?;
            let kib: f64 = status
                .lines()
                .find_map(|line| line.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
                .ok_or("no VmHWM in /proc status")?;
            peak = peak.max(kib / 1024.0);
        }
        Ok(peak)
    }

    /// Resets every server's peak RSS (VmHWM) to its current RSS, so that the next
    /// [`Self::peak_rss_mib`] covers only what follows (clear_refs(5), Linux >= 4.0).
    pub fn reset_peak_rss(&self) -> Result<(), String> {
        for child in &self.children {
            std::fs::write(format!("/proc/{}/clear_refs", child.id()), "5")
                .map_err(|e| format!("reset peak RSS: {e}"))?;
        }
        Ok(())
    }

    /// CPU time (user + system) all server processes have used so far, in seconds.
    pub fn cpu_seconds(&self) -> Result<f64, String> {
        cpu_seconds(&self.pids())
    }
}

impl Drop for BenchServer {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// CPU time (user and system) the processes `pids` have used so far, in seconds.
pub fn cpu_seconds(pids: &[u32]) -> Result<f64, String> {
    let mut total = 0.0;
    for pid in pids {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).map_err(|e| format!("process {pid}: {e}"))?;
        // Fields after the command name (which is in parentheses and may hold spaces).
        let fields: Vec<&str> =
            stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().collect()).unwrap_or_default();
        let ticks = |index: usize| fields.get(index).and_then(|v| v.parse::<f64>().ok()).ok_or("malformed /proc stat");
        // utime and stime are fields 14 and 15 of stat(5); `fields` starts at field 3.
        total += ticks(11)? + ticks(12)?;
    }
    Ok(total / rustix::param::clock_ticks_per_second() as f64)
}
