//! `cairn admin heal` heals the whole deployment from any node: a drive wiped on node 3
//! while it runs is formatted into its slot and refilled by a heal sent to node 1.

use crate::harness::{ACCESS_KEY, SECRET_KEY, new_bucket};
use crate::nodes::{Cluster, SCANNER_INTERVAL_ENV};
use crate::util::{KIB, MIB, first, incomplete_on_drive, verify_objects, write_objects};
use std::process::{Command, Stdio};

const OBJECTS: usize = 24;
/// Every this many objects, one is big enough to have part files.
const LARGE_EVERY: usize = 4;
/// The scanner's period, pushed past the test: whatever refills the drive is the heal.
const SCANNER_INTERVAL_SECS: &str = "3600";

fn size_of(index: usize) -> usize {
    if index.is_multiple_of(LARGE_EVERY) { MIB + index * KIB } else { index * KIB + 1 }
}

/// Runs `cairn --json admin heal node1 -r` against node 1; returns its summary line.
fn heal_through_node1(cluster: &Cluster) -> serde_json::Value {
    heal_at(&cluster.address(1)).unwrap_or_else(|e| panic!("{e}{}", cluster.logs()))
}

/// Runs `cairn --json admin heal node1 -r` against the node at `address`; returns its
/// summary line, or why the heal failed.
pub(crate) fn heal_at(address: &str) -> Result<serde_json::Value, String> {
    let home = tempfile::tempdir().expect("config dir");
    let output = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args(["--json", "--config-dir"])
        .arg(home.path())
        .args(["admin", "heal", "node1", "-r"])
        .env("CAIRN_HOST_node1", format!("http://{ACCESS_KEY}:{SECRET_KEY}@{address}"))
        .stdin(Stdio::null())
        .output()
        .expect("run cairn admin heal");
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(format!("cairn admin heal failed ({}): {stdout}\n{stderr}", output.status));
    }
    let last = stdout.lines().rev().find(|line| !line.trim().is_empty()).ok_or("no summary line")?;
    serde_json::from_str(last).map_err(|e| format!("summary is not JSON ({e}): {last}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_heal_sent_to_one_node_formats_and_refills_a_drive_wiped_on_another() {
    let cluster = Cluster::start_with(3, &[(SCANNER_INTERVAL_ENV, SCANNER_INTERVAL_SECS)]).await;
    let client1 = cluster.client(1);
    let bucket = new_bucket(&client1, "heal-all").await;
    let plan = (0..OBJECTS).map(|i| (format!("dir/{i:03}"), size_of(i))).collect();
    let objects = write_objects(&client1, &bucket, plan).await;

    // Wiped while node 3 runs: it keeps running with an empty drive folder.
    let drive3 = cluster.drive(3);
    std::fs::remove_dir_all(&drive3).expect("wipe node 3's drive");
    std::fs::create_dir(&drive3).expect("recreate node 3's drive as an empty folder");

    let summary = heal_through_node1(&cluster);
    let format = drive3.join(".cairn.sys").join("format.json");
    let missing = incomplete_on_drive(&drive3, &bucket, &objects);
    assert!(
        format.is_file() && missing.is_empty(),
        "after a heal through node 1, node 3's drive has format.json: {}, and lacks {} of {} objects (first: {:?}); \
         summary {summary}{}",
        format.is_file(),
        missing.len(),
        objects.len(),
        first(&missing),
        cluster.logs()
    );
    assert_eq!(summary["drivesFormatted"].as_u64(), Some(1), "summary {summary}");
    assert_eq!(summary["failed"].as_u64(), Some(0), "summary {summary}");

    // Node 3's drive now carries its shards: the data survives losing another node.
    let mut cluster = cluster;
    cluster.stop(1);
    verify_objects(&cluster.client(3), &bucket, &objects, "node 3 (healed) with node 1 down").await;
}
