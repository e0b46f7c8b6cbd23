//! What a fault-injection run measured, printed as text and written as Markdown (for
//! `docs/reliability.md`) when `CHAOS_REPORT` names a file.

use crate::faults::FaultKind;
use crate::workload::Op;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

/// How many examples of each kind of problem a report shows.
const EXAMPLES_SHOWN: usize = 15;

/// Requests that failed while one kind of fault was in its round.
#[derive(Debug, Default, Clone, Copy)]
pub struct Failed {
    /// Through the node the fault hit (or that owns the faulted drive).
    pub faulted_node: usize,
    /// Through the other nodes.
    pub other_nodes: usize,
    /// Of `other_nodes`, those the server answered with a 5xx status (not a timeout or a
    /// dropped connection): a healthy node refusing a request is what issue 9 forbids
    /// unless the quorum was lost from that node's view.
    pub other_nodes_5xx: usize,
}

#[derive(Debug, Default)]
pub struct Report {
    pub seed: u64,
    pub rounds: usize,
    pub namespaces: bool,
    pub faults: BTreeMap<FaultKind, usize>,
    pub ops: BTreeMap<Op, usize>,
    pub acked_writes: usize,
    pub acked_deletes: usize,
    pub reads_checked: usize,
    pub listings_checked: usize,
    /// Acknowledged writes that a read did not find.
    pub lost: Vec<String>,
    /// Reads of bytes that were never written, mixed, or already replaced; listings of
    /// objects that cannot be read.
    pub wrong: Vec<String>,
    /// Keys a listing left out although they must have been there (reported only).
    pub omissions: Vec<String>,
    pub failed: BTreeMap<FaultKind, Failed>,
    /// Examples of failed requests per fault kind.
    pub failure_examples: BTreeMap<FaultKind, Vec<String>>,
    /// Time from the end of a round's load to full redundancy, per fault kind.
    pub heal_times: BTreeMap<FaultKind, Vec<Duration>>,
    /// Copies of deleted or failed writes left on fewer drives than a read needs, after
    /// healing (reported only: no read or listing shows them).
    pub dangling: Vec<String>,
    /// Rounds that did not get back to full redundancy, or whose fault or restart failed.
    pub round_failures: Vec<String>,
    pub elapsed: Duration,
}

fn seconds(duration: &Duration) -> String {
    format!("{:.1}", duration.as_secs_f64())
}

impl Report {
    /// Whether the run met its bar: nothing lost, no wrong read, every round healed.
    pub fn passed(&self) -> bool {
        self.lost.is_empty() && self.wrong.is_empty() && self.round_failures.is_empty()
    }

    pub fn operations(&self) -> usize {
        self.ops.values().sum()
    }

    fn heal_summary(times: &[Duration]) -> String {
        let mut sorted = times.to_vec();
        sorted.sort();
        match (sorted.first(), sorted.get(sorted.len() / 2), sorted.last()) {
            (Some(min), Some(median), Some(max)) => {
                format!("{} / {} / {}", seconds(min), seconds(median), seconds(max))
            }
            _ => "-".to_owned(),
        }
    }

    /// The report as Markdown.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let network = if self.namespaces { "network namespaces" } else { "loopback (no partitions)" };
        let _ = writeln!(out, "| | |\n|---|---|");
        let _ = writeln!(out, "| seed | {} |", self.seed);
        let _ = writeln!(out, "| rounds | {} |", self.rounds);
        let _ = writeln!(out, "| network | {network} |");
        let _ = writeln!(out, "| duration | {} s |", self.elapsed.as_secs());
        let _ = writeln!(out, "| operations | {} |", self.operations());
        let ops: Vec<String> = self.ops.iter().map(|(op, count)| format!("{op:?} {count}")).collect();
        let _ = writeln!(out, "| by kind | {} |", ops.join(", "));
        let _ = writeln!(out, "| acknowledged writes | {} |", self.acked_writes);
        let _ = writeln!(out, "| acknowledged deletes | {} |", self.acked_deletes);
        let _ = writeln!(out, "| reads and HEADs checked | {} |", self.reads_checked);
        let _ = writeln!(out, "| listings checked | {} |", self.listings_checked);
        let _ = writeln!(out, "| **lost** (must be 0) | **{}** |", self.lost.len());
        let _ = writeln!(out, "| **wrong reads** (must be 0) | **{}** |", self.wrong.len());
        let _ = writeln!(out, "| listing omissions (reported) | {} |", self.omissions.len());
        let _ = writeln!(out, "| rounds that failed to heal or recover | {} |", self.round_failures.len());
        let _ = writeln!(out, "| dangling minority copies after healing (reported) | {} |", self.dangling.len());
        let _ = writeln!(
            out,
            "\n| fault | rounds | failed requests via faulted node | via other nodes | of which 5xx | time to full \
             redundancy, s (min / median / max) |\n|---|---|---|---|---|---|"
        );
        for (kind, count) in &self.faults {
            let failed = self.failed.get(kind).copied().unwrap_or_default();
            let times = self.heal_times.get(kind).map(Vec::as_slice).unwrap_or_default();
            let _ = writeln!(
                out,
                "| {kind:?} | {count} | {} | {} | {} | {} |",
                failed.faulted_node,
                failed.other_nodes,
                failed.other_nodes_5xx,
                Self::heal_summary(times)
            );
        }
        for (title, items) in [
            ("Lost", &self.lost),
            ("Wrong reads", &self.wrong),
            ("Round failures", &self.round_failures),
            ("Listing omissions", &self.omissions),
            ("Dangling minority copies", &self.dangling),
        ] {
            if !items.is_empty() {
                let _ = writeln!(out, "\n{title} ({}, first {EXAMPLES_SHOWN}):", items.len());
                for item in items.iter().take(EXAMPLES_SHOWN) {
                    let _ = writeln!(out, "- {item}");
                }
            }
        }
        if self.failure_examples.values().any(|examples| !examples.is_empty()) {
            let _ = writeln!(out, "\nExamples of failed requests:");
            for (kind, examples) in self.failure_examples.iter().filter(|(_, e)| !e.is_empty()) {
                let _ = writeln!(out, "- {kind:?}: {}", examples.join("; "));
            }
        }
        out
    }
}

/// One crash loop's counts.
#[derive(Debug, Default)]
pub struct CrashReport {
    pub seed: u64,
    pub crashes: usize,
    /// Kills that landed while at least one operation of each kind was in flight.
    pub in_flight: BTreeMap<&'static str, usize>,
    pub acked_writes: usize,
    pub acked_deletes: usize,
    pub reads_checked: usize,
    pub lost: Vec<String>,
    pub wrong: Vec<String>,
    /// Staged files still there after a restart.
    pub staging_leftovers: Vec<String>,
    /// Data folders no `xl.meta` refers to, on all drives after the last restart (reported only).
    pub orphan_data_dirs: usize,
    pub elapsed: Duration,
}

impl CrashReport {
    pub fn passed(&self) -> bool {
        self.lost.is_empty() && self.wrong.is_empty() && self.staging_leftovers.is_empty()
    }

    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let in_flight: Vec<String> = self.in_flight.iter().map(|(op, n)| format!("{op} {n}")).collect();
        let _ = writeln!(out, "| | |\n|---|---|");
        let _ = writeln!(out, "| seed | {} |", self.seed);
        let _ = writeln!(out, "| kill -9 and restart | {} |", self.crashes);
        let _ = writeln!(out, "| kills with an operation in flight | {} |", in_flight.join(", "));
        let _ = writeln!(out, "| duration | {} s |", self.elapsed.as_secs());
        let _ = writeln!(out, "| acknowledged writes | {} |", self.acked_writes);
        let _ = writeln!(out, "| acknowledged deletes | {} |", self.acked_deletes);
        let _ = writeln!(out, "| reads checked | {} |", self.reads_checked);
        let _ = writeln!(out, "| **lost** (must be 0) | **{}** |", self.lost.len());
        let _ = writeln!(out, "| **torn, mixed or wrong reads** (must be 0) | **{}** |", self.wrong.len());
        let _ =
            writeln!(out, "| **staging leftovers after restart** (must be 0) | **{}** |", self.staging_leftovers.len());
        let _ = writeln!(
            out,
            "| orphan data folders after the last restart, all drives (reported) | {} |",
            self.orphan_data_dirs
        );
        for (title, items) in
            [("Lost", &self.lost), ("Wrong reads", &self.wrong), ("Staging leftovers", &self.staging_leftovers)]
        {
            if !items.is_empty() {
                let _ = writeln!(out, "\n{title} ({}, first {EXAMPLES_SHOWN}):", items.len());
                for item in items.iter().take(EXAMPLES_SHOWN) {
                    let _ = writeln!(out, "- {item}");
                }
            }
        }
        out
    }
}

/// Appends `text` to the file `CHAOS_REPORT` names, if any.
pub fn write_out(title: &str, text: &str) {
    if let Ok(path) = std::env::var("CHAOS_REPORT") {
        let entry = format!("\n## {title}\n\n{text}");
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut file| std::io::Write::write_all(&mut file, entry.as_bytes()));
        if let Err(error) = written {
            eprintln!("chaos: cannot write the report to {path}: {error}");
        }
    }
}
