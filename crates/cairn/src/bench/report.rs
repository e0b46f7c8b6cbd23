//! The benchmark report, as Markdown.

use super::client::{CLIENT_FILE_BYTES, ClientCopy};
use super::load::{Large, Memory, Small};
use super::raw::RawDisk;
use super::server::Layout;
use std::fmt::Write;

#[derive(Debug, Default)]
pub struct Report {
    /// The endpoint measured, when it is not the server the bench started (`--compare`).
    pub compare: Option<String>,
    pub raw_disk: Option<RawDisk>,
    pub loopback_mb_s: Option<f64>,
    pub layout: Option<Layout>,
    pub large: Option<Large>,
    pub small: Vec<Small>,
    pub memory: Option<Memory>,
    pub client: Option<ClientCopy>,
}

impl Report {
    pub fn render(&self) -> String {
        let mut out = String::new();
        let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
        match &self.compare {
            None => _ = writeln!(out, "## cairn bench ({cores} cores; MB = 10^6 bytes)\n"),
            Some(endpoint) => _ = writeln!(out, "## cairn bench, the same phases against {endpoint}\n"),
        }
        let _ = writeln!(out, "| measurement | result |\n| --- | --- |");
        if let Some(raw) = self.raw_disk {
            let writers = self.layout.map_or(1, |l| l.drives);
            let _ = writeln!(
                out,
                "| raw disk write, 1 GiB as {writers} parallel files + fsync | {:.0} MB/s |",
                raw.write_mb_s
            );
            let _ = writeln!(out, "| raw disk read, same files, page cache dropped | {:.0} MB/s |", raw.read_mb_s);
            let _ = writeln!(
                out,
                "| raw small commits (mkdir, 4 KiB write, fdatasync, rename, dir fsync), 32 threads | {:.0} /s; / {writers} drives = {:.0} small PUT/s ceiling |",
                raw.commits_per_s,
                raw.commits_per_s / writers as f64
            );
        }
        if let Some(loopback) = self.loopback_mb_s {
            let _ = writeln!(out, "| TCP loopback, one stream | {loopback:.0} MB/s |");
        }
        if let Some(layout) = self.layout {
            let _ = writeln!(
                out,
                "| server layout | {} node(s) on loopback, {} drives on this disk, EC {}+{} |",
                layout.nodes, layout.drives, layout.data, layout.parity
            );
        }
        if let Some(large) = self.large {
            let _ = writeln!(
                out,
                "| PUT 64 MiB x {} (4 streams) | {:.0} MB/s{} |",
                large.objects,
                large.put_mb_s,
                cpu_per_gb(large.put_cpu_s_per_gb)
            );
            if let (Some(raw), Some(layout)) = (self.raw_disk, self.layout) {
                let limit = raw.write_mb_s * layout.data as f64 / (layout.data + layout.parity) as f64;
                let _ = writeln!(
                    out,
                    "| PUT as a share of raw write x k/(k+m) = {limit:.0} MB/s | {:.2} |",
                    large.put_mb_s / limit
                );
            }
            let _ = writeln!(
                out,
                "| GET 64 MiB x {} (4 streams) | {:.0} MB/s{} |",
                large.objects,
                large.get_mb_s,
                cpu_per_gb(large.get_cpu_s_per_gb)
            );
        }
        for small in &self.small {
            for (name, stats) in [("PUT", small.put), ("GET", small.get)] {
                let _ = writeln!(
                    out,
                    "| 4 KiB {name}, {} clients | {:.0} ops/s, p50 {:.2} ms, p99 {:.2} ms ({} ops) |",
                    small.clients, stats.ops_per_s, stats.p50_ms, stats.p99_ms, stats.ops
                );
            }
        }
        if let Some(client) = self.client {
            let mib = CLIENT_FILE_BYTES >> 20;
            let _ = writeln!(
                out,
                "| `cairn cp` {mib} MiB file -> server / server -> file | {:.0} MB/s / {:.0} MB/s |",
                client.upload_mb_s, client.download_mb_s
            );
        }
        if let Some(memory) = self.memory {
            let _ = writeln!(
                out,
                "| server peak RSS, {} concurrent {} MiB uploads ({:.1} s) | {:.0} MiB; server CPU {:.2} core-s per GB |",
                memory.uploads, memory.object_mib, memory.seconds, memory.peak_rss_mib, memory.cpu_s_per_gb
            );
        }
        out
    }
}

/// "; server CPU x core-s per GB", or nothing when it was not measured.
fn cpu_per_gb(seconds: Option<f64>) -> String {
    seconds.map(|s| format!("; server CPU {s:.2} core-s per GB")).unwrap_or_default()
}
