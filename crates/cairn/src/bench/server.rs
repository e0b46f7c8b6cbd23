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
    pub drives: usize,
    pub data: usize,
    pub parity: usize,
}

pub struct BenchServer {
    child: Child,
    pub endpoint: String,
    pub layout: Layout,
}

impl BenchServer {
    pub fn start(dir: &Path, drives: usize) -> Result<Self, String> {
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let pattern = format!("{}/d{{1...{drives}}}", dir.display());
        let mut child = Command::new(exe)
            .args(["server", "--address", "127.0.0.1:0", &pattern])
            .env("CAIRN_ROOT_USER", ACCESS_KEY)
            .env("CAIRN_ROOT_PASSWORD", SECRET_KEY)
            // Request lines would measure the terminal; warnings still show.
            .env("CAIRN_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start the server: {e}"))?;
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
        let parity = cairn_object::parity_for_set_size(drives);
        Ok(Self { child, endpoint, layout: Layout { drives, data: drives - parity, parity } })
    }

    /// Peak resident memory of the server so far (VmHWM), in MiB.
    pub fn peak_rss_mib(&self) -> Result<f64, String> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).map_err(|e| e.to_string())?;
        let kib: f64 = status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .ok_or("no VmHWM in /proc status")?;
        Ok(kib / 1024.0)
    }
}

impl BenchServer {
    /// CPU time (user + system) the server has used so far, in seconds.
    pub fn cpu_seconds(&self) -> Result<f64, String> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).map_err(|e| e.to_string())?;
        // Fields after the command name (which is in parentheses and may hold spaces).
        let fields: Vec<&str> =
            stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().collect()).unwrap_or_default();
        let ticks = |index: usize| fields.get(index).and_then(|v| v.parse::<f64>().ok()).ok_or("malformed /proc stat");
        // utime and stime are fields 14 and 15 of stat(5); `fields` starts at field 3.
        let total = ticks(11)? + ticks(12)?;
        Ok(total / rustix::param::clock_ticks_per_second() as f64)
    }
}

impl Drop for BenchServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
