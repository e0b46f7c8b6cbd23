//! A node whose drive was replaced by an empty one rejoins the deployment and gets
//! every object back, so that another node can then be lost.

use crate::harness::new_bucket;
use crate::nodes::{Cluster, SCANNER_INTERVAL_ENV};
use crate::util::{KIB, MIB, eventually, first, incomplete_on_drive, verify_objects, write_objects};
use std::time::Duration;

const OBJECTS: usize = 50;
/// Every this many objects, one is big enough to have part files.
const LARGE_EVERY: usize = 5;
/// Bound on the wiped drive being formatted and refilled.
const REFILL_TIMEOUT: Duration = Duration::from_secs(120);
/// The scanner's period, pushed past the test: a returning node is refilled without waiting for a scan.
const SCANNER_INTERVAL_SECS: &str = "3600";

fn size_of(index: usize) -> usize {
    if index.is_multiple_of(LARGE_EVERY) { MIB + index * KIB } else { index * KIB }
}

#[tokio::test(flavor = "multi_thread")]
async fn wiped_drive_is_refilled() {
    let mut cluster = Cluster::start_with(3, &[(SCANNER_INTERVAL_ENV, SCANNER_INTERVAL_SECS)]).await;
    let client1 = cluster.client(1);
    let bucket = new_bucket(&client1, "wiped").await;
    let plan = (0..OBJECTS).map(|i| (format!("refill/{i:03}"), size_of(i))).collect();
    let objects = write_objects(&client1, &bucket, plan).await;

    cluster.stop(2);
    let drive2 = cluster.drive(2);
    std::fs::remove_dir_all(&drive2).expect("wipe node 2's drive");
    std::fs::create_dir(&drive2).expect("recreate node 2's drive as an empty folder");
    cluster.start_node(2);
    cluster.wait_healthy(2).await;

    let format = drive2.join(".cairn.sys").join("format.json");
    let refilled = eventually(REFILL_TIMEOUT, || {
        std::future::ready(format.is_file() && incomplete_on_drive(&drive2, &bucket, &objects).is_empty())
    })
    .await;
    if !refilled {
        let missing = incomplete_on_drive(&drive2, &bucket, &objects);
        panic!(
            "{REFILL_TIMEOUT:?} after the wiped node came back, format.json exists: {}, and {} of {} objects are \
             missing or incomplete on its drive (first: {:?}); healing:{}{}",
            format.is_file(),
            missing.len(),
            objects.len(),
            first(&missing),
            cluster.heal_report().await,
            cluster.logs()
        );
    }

    cluster.stop(1);
    verify_objects(&cluster.client(2), &bucket, &objects, "node 2 (refilled) with node 1 down").await;
    verify_objects(&cluster.client(3), &bucket, &objects, "node 3 with node 1 down").await;
}
