//! What operators look at in a cluster: the cluster metrics endpoint of any node
//! reports every node's request counters, and `cairn admin info` sees a killed node
//! go offline within seconds.

use crate::harness::{ACCESS_KEY, SECRET_KEY, new_bucket, raw_request};
use crate::nodes::Cluster;
use crate::util::{eventually, try_put};
use std::time::Duration;

/// Bound on a killed node showing as offline.
const OFFLINE_WITHIN: Duration = Duration::from_secs(15);

#[tokio::test(flavor = "multi_thread")]
async fn cluster_metrics_of_one_node_count_requests_served_by_the_others() {
    let cluster = Cluster::start_with(3, &[("CAIRN_PROMETHEUS_AUTH_TYPE", "public")]).await;
    let client2 = cluster.client(2);
    let bucket = new_bucket(&client2, "metrics").await;
    for i in 0..5 {
        try_put(&client2, &bucket, &format!("k{i}"), b"counted").await.expect("put through node 2");
    }
    let endpoint = cluster.endpoint(1);
    let (status, body) =
        tokio::task::spawn_blocking(move || raw_request(&endpoint, "GET", "/minio/v2/metrics/cluster", b""))
            .await
            .expect("scrape");
    assert_eq!(status, 200);
    let text = String::from_utf8_lossy(&body);
    let series = format!("minio_s3_requests_total{{api=\"PutObject\",server=\"{}\"}}", cluster.address(2));
    let count: f64 = text
        .lines()
        .find_map(|line| line.strip_prefix(&series).map(|v| v.trim().parse().unwrap_or(0.0)))
        .unwrap_or_else(|| panic!("node 1's cluster metrics lack {series}:\n{text}"));
    assert!(count >= 5.0, "{series} = {count}");
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_info_reports_a_killed_node_offline_within_seconds() {
    let mut cluster = Cluster::start(3).await;
    let home = tempfile::tempdir().expect("config dir");
    let cairn = |args: &[&str]| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_cairn"))
            .arg("--json")
            .arg("--config-dir")
            .arg(home.path())
            .args(args)
            .output()
            .expect("run cairn");
        (output.status.code(), String::from_utf8_lossy(&output.stdout).into_owned())
    };
    let (code, _) = cairn(&["alias", "set", "c", &cluster.endpoint(1), ACCESS_KEY, SECRET_KEY]);
    assert_eq!(code, Some(0));
    let offline_nodes = |stdout: &str| -> Option<usize> {
        let info: serde_json::Value = serde_json::from_str(stdout.lines().next()?).ok()?;
        Some(info["nodes"].as_array()?.iter().filter(|n| n["state"] != "online").count())
    };
    let (code, stdout) = cairn(&["admin", "info", "c"]);
    assert_eq!((code, offline_nodes(&stdout)), (Some(0), Some(0)), "all online at first: {stdout}");
    cluster.stop(3);
    let seen = eventually(OFFLINE_WITHIN, || {
        let (code, stdout) = cairn(&["admin", "info", "c"]);
        async move { code == Some(0) && offline_nodes(&stdout) == Some(1) }
    })
    .await;
    assert!(
        seen,
        "admin info did not report node 3 offline within {OFFLINE_WITHIN:?}: {}",
        cairn(&["admin", "info", "c"]).1
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_node_joining_alone_is_live_but_not_ready() {
    let mut cluster = Cluster::start(3).await;
    for n in 1..=3 {
        cluster.stop(n);
    }
    // Node 1 alone cannot form the cluster: it answers, but must not take traffic.
    cluster.start_node(1);
    let answered = eventually(OFFLINE_WITHIN, || {
        let cluster = &cluster;
        async move { cluster.health(1, "live").await == Some(200) }
    })
    .await;
    assert!(answered, "node 1 did not answer /minio/health/live");
    for _ in 0..5 {
        assert_eq!(cluster.health(1, "ready").await, Some(503), "ready while still joining");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    cluster.start_node(2);
    cluster.start_node(3);
    cluster.wait_all_healthy().await;
    assert_eq!(cluster.health(1, "ready").await, Some(200), "ready once the cluster formed");
}
