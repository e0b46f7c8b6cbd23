//! Prometheus text exposition with MinIO's metric names (v2), so existing dashboards
//! and alerts work: `/minio/v2/metrics/cluster` (capacity, drives, nodes, healing,
//! bucket usage, and every answering node's request metrics) and `/minio/v2/metrics/node` (this
//! node's drives, requests, traffic and process).

use super::counters::{ApiCounters, RequestTotals, TTFB_BUCKETS};
use cairn_object::{DriveState, ObjectStore};
use std::collections::BTreeSet;
use std::fmt::Write;

/// Builds one exposition: `# HELP`/`# TYPE` once per metric, then its samples.
#[derive(Default)]
pub(crate) struct Exposition {
    text: String,
}

/// Escapes a label value as the text format requires.
fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

impl Exposition {
    pub(crate) fn metric(&mut self, name: &str, kind: &str, help: &str, samples: &[(Vec<(&str, String)>, f64)]) {
        let _ = writeln!(self.text, "# HELP {name} {help}");
        let _ = writeln!(self.text, "# TYPE {name} {kind}");
        for (labels, value) in samples {
            let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{}\"", escape(v))).collect();
            let labels = if labels.is_empty() { String::new() } else { format!("{{{}}}", labels.join(",")) };
            let _ = writeln!(self.text, "{name}{labels} {value}");
        }
    }

    fn gauge(&mut self, name: &str, help: &str, value: f64) {
        self.metric(name, "gauge", help, &[(Vec::new(), value)]);
    }

    pub(crate) fn finish(self) -> String {
        self.text
    }
}

/// The cluster-wide metrics.
/// The cluster-wide metrics; `nodes` holds every answering node's request counters.
pub(crate) async fn cluster(store: &ObjectStore, nodes: &[(String, RequestTotals)]) -> String {
    let mut out = Exposition::default();
    let drives = store.drive_states().await;
    let layout = store.layout();
    let usable_share = layout.data() as f64 / layout.drives_per_set as f64;
    let (total, free) = drives
        .iter()
        .filter_map(|d| d.info.as_ref().ok())
        .fold((0u64, 0u64), |(t, f), info| (t + info.total_bytes, f + info.free_bytes));
    out.gauge("minio_cluster_capacity_raw_total_bytes", "Total capacity online in the cluster", total as f64);
    out.gauge("minio_cluster_capacity_raw_free_bytes", "Total free capacity online in the cluster", free as f64);
    out.gauge(
        "minio_cluster_capacity_usable_total_bytes",
        "Total usable capacity online in the cluster",
        total as f64 * usable_share,
    );
    out.gauge(
        "minio_cluster_capacity_usable_free_bytes",
        "Total free usable capacity online in the cluster",
        free as f64 * usable_share,
    );
    let online = drives.iter().filter(|d| d.info.is_ok()).count();
    out.gauge("minio_cluster_drive_online_total", "Total drives online in the cluster", online as f64);
    out.gauge(
        "minio_cluster_drive_offline_total",
        "Total drives offline in the cluster",
        (drives.len() - online) as f64,
    );
    out.gauge("minio_cluster_drive_total", "Total drives in the cluster", drives.len() as f64);
    let this_node = nodes.first().map_or("", |(name, _)| name.as_str());
    let node = |d: &DriveState| d.node.clone().unwrap_or_else(|| this_node.to_owned());
    let all_nodes: BTreeSet<String> = drives.iter().map(node).collect();
    let nodes_online: BTreeSet<String> = drives.iter().filter(|d| d.info.is_ok()).map(node).collect();
    out.gauge("minio_cluster_nodes_online_total", "Total number of MinIO nodes online", nodes_online.len() as f64);
    out.gauge(
        "minio_cluster_nodes_offline_total",
        "Total number of MinIO nodes offline",
        (all_nodes.len() - nodes_online.len()) as f64,
    );
    let healthy = store.quorum_status().await.write;
    out.gauge(
        "minio_cluster_health_status",
        "Is the cluster healthy (write quorum in every set): 1 or 0",
        f64::from(u8::from(healthy)),
    );
    let stats = store.stats();
    out.metric(
        "minio_heal_objects_total",
        "counter",
        "Objects scanned by the healer",
        &[(Vec::new(), stats.objects_scanned as f64)],
    );
    out.metric(
        "minio_heal_objects_heal_total",
        "counter",
        "Objects healed",
        &[(Vec::new(), stats.objects_healed as f64)],
    );
    out.metric(
        "minio_heal_objects_errors_total",
        "counter",
        "Objects the healer could not heal",
        &[(Vec::new(), stats.heal_failures as f64)],
    );
    read_and_scan_metrics(&mut out, store);
    let usage = store.bucket_usage();
    let bucket_samples = |pick: fn(&(u64, u64)) -> u64| -> Vec<(Vec<(&str, String)>, f64)> {
        usage.iter().map(|(bucket, counts)| (vec![("bucket", bucket.clone())], pick(counts) as f64)).collect()
    };
    out.metric(
        "minio_bucket_usage_total_bytes",
        "gauge",
        "Total bucket size in bytes (as of the last scan)",
        &bucket_samples(|c| c.1),
    );
    out.metric(
        "minio_bucket_usage_object_total",
        "gauge",
        "Total number of objects (as of the last scan)",
        &bucket_samples(|c| c.0),
    );
    out.gauge(
        "minio_cluster_usage_object_total",
        "Total number of objects in the cluster",
        usage.values().map(|c| c.0).sum::<u64>() as f64,
    );
    out.gauge(
        "minio_cluster_usage_total_bytes",
        "Total cluster usage in bytes",
        usage.values().map(|c| c.1).sum::<u64>() as f64,
    );
    let compressed = store.compressed_total();
    out.gauge(
        "cairn_compression_objects",
        "Current object versions stored compressed (as of the last scan)",
        compressed.objects as f64,
    );
    out.gauge(
        "cairn_compression_logical_bytes",
        "Bytes of the compressed objects as sent (as of the last scan)",
        compressed.logical_bytes as f64,
    );
    out.gauge(
        "cairn_compression_stored_bytes",
        "Bytes of the compressed objects on the drives, before parity (as of the last scan)",
        compressed.stored_bytes as f64,
    );
    out.gauge(
        "cairn_compression_saved_bytes",
        "Bytes compression saves, before parity (as of the last scan)",
        compressed.saved_bytes() as f64,
    );
    requests_metrics(&mut out, nodes);
    out.finish()
}

/// Counters MinIO has no name for, under `cairn_`: what object reads met on the drives
/// (shard files opened, missing or corrupt shards, degraded reads) and what deep scans
/// (bitrot checks of every frame) did. Counted by the node that answers the scrape.
fn read_and_scan_metrics(out: &mut Exposition, store: &ObjectStore) {
    let stats = store.stats();
    let deep = store.deep_scan_stats();
    let counters = [
        ("cairn_read_shard_files_opened_total", "Shard files that object reads opened", stats.shard_files_opened),
        ("cairn_read_shards_missing_total", "Shards object reads could not open or read", stats.missing_shards),
        ("cairn_read_shards_corrupt_total", "Shards whose bitrot hash or length did not match", stats.corrupt_shards),
        (
            "cairn_read_degraded_total",
            "Object reads that needed parity or skipped a failed drive",
            stats.degraded_reads,
        ),
        ("cairn_scanner_scans_total", "Scans that went through every bucket", stats.scans_completed),
        ("cairn_scanner_deep_scans_total", "Deep scans that went through every bucket", deep.scans_completed),
        (
            "cairn_scanner_deep_objects_verified_total",
            "Objects whose every frame a deep scan checked",
            deep.objects_verified,
        ),
        ("cairn_scanner_deep_bytes_verified_total", "Shard bytes deep scans read and checked", deep.bytes_verified),
        ("cairn_scanner_deep_objects_damaged_total", "Objects a deep scan found damaged", deep.objects_damaged),
        ("cairn_scanner_deep_objects_healed_total", "Damaged objects deep scans healed", deep.objects_healed),
    ];
    for (name, help, value) in counters {
        out.metric(name, "counter", help, &[(Vec::new(), value as f64)]);
    }
}

/// This node's metrics.
pub(crate) async fn node(sources: &super::Sources<'_>, this_node: &str) -> String {
    let (store, requests) = (sources.store, sources.requests);
    let mut out = Exposition::default();
    let local: Vec<DriveState> = store.drive_states().await.into_iter().filter(|d| d.node.is_none()).collect();
    let drive_samples = |pick: fn(&cairn_drive::DiskInfo) -> u64| -> Vec<(Vec<(&str, String)>, f64)> {
        local
            .iter()
            .filter_map(|d| d.info.as_ref().ok().map(|i| (&d.endpoint, pick(i))))
            .map(|(endpoint, value)| {
                (vec![("server", this_node.to_owned()), ("drive", endpoint.clone())], value as f64)
            })
            .collect()
    };
    out.metric(
        "minio_node_drive_used_bytes",
        "gauge",
        "Total storage used on a drive",
        &drive_samples(|i| i.used_bytes),
    );
    out.metric(
        "minio_node_drive_free_bytes",
        "gauge",
        "Total storage available on a drive",
        &drive_samples(|i| i.free_bytes),
    );
    out.metric("minio_node_drive_total_bytes", "gauge", "Total storage on a drive", &drive_samples(|i| i.total_bytes));
    let online = local.iter().filter(|d| d.info.is_ok()).count();
    out.gauge("minio_node_drive_online_total", "Total drives online on this node", online as f64);
    out.gauge("minio_node_drive_offline_total", "Total drives offline on this node", (local.len() - online) as f64);
    ilm_metrics(&mut out, store, this_node);
    notify_metrics(&mut out, sources.notifier, this_node);
    requests_metrics(&mut out, &[(this_node.to_owned(), requests.totals())]);
    process_metrics(&mut out);
    out.finish()
}

/// What this node's scanner did with lifecycle rules: MinIO's versions-scanned
/// counter, and Cairn's count of each action (each key is acted on by one node, so the
/// cluster's totals are the sums over nodes).
fn ilm_metrics(out: &mut Exposition, store: &ObjectStore, this_node: &str) {
    let ilm = store.ilm_stats();
    let server = || vec![("server", this_node.to_owned())];
    out.metric(
        "minio_node_ilm_versions_scanned",
        "counter",
        "Total number of object versions checked for ilm actions since server start",
        &[(server(), ilm.versions_scanned as f64)],
    );
    let actions = [
        ("expire_object", ilm.objects_expired),
        ("remove_noncurrent_version", ilm.versions_removed),
        ("remove_delete_marker", ilm.markers_removed),
        ("abort_upload", ilm.uploads_aborted),
    ];
    let samples: Vec<_> = actions
        .iter()
        .map(|(action, count)| {
            (vec![("server", this_node.to_owned()), ("action", (*action).to_owned())], *count as f64)
        })
        .collect();
    out.metric("cairn_node_ilm_actions_total", "counter", "Lifecycle actions taken by this node", &samples);
    out.metric(
        "cairn_node_ilm_kept_by_lock_total",
        "counter",
        "Lifecycle removals refused because object lock protects the version",
        &[(server(), ilm.kept_by_lock as f64)],
    );
}

/// Picks one number of a target's status.
type TargetNumber = fn(&cairn_notify::TargetStatus) -> u64;

/// This node's webhook targets: MinIO's event counters, and each queue's length.
fn notify_metrics(out: &mut Exposition, notifier: &cairn_notify::Notifier, this_node: &str) {
    let targets = notifier.status();
    let samples = |pick: TargetNumber| -> Vec<(Vec<(&str, String)>, f64)> {
        targets
            .iter()
            .map(|t| (vec![("server", this_node.to_owned()), ("target_id", t.arn.clone())], pick(t) as f64))
            .collect()
    };
    let metrics: [(&str, &str, &str, TargetNumber); 4] = [
        ("minio_notify_events_sent_total", "counter", "Events delivered to a target", |t| t.sent),
        (
            "minio_notify_events_errors_total",
            "counter",
            "Failed deliveries (each retried) and events not queued",
            |t| t.errors,
        ),
        ("minio_notify_events_skipped_total", "counter", "Events dropped: a full queue or a target not running", |t| {
            t.skipped
        }),
        ("cairn_notify_queue_length", "gauge", "Events waiting in a target's queue on this node", |t| t.queued),
    ];
    for (name, kind, help, pick) in metrics {
        out.metric(name, kind, help, &samples(pick));
    }
}

/// Request metrics of each node (`server` label), as MinIO reports them.
fn requests_metrics(out: &mut Exposition, nodes: &[(String, RequestTotals)]) {
    let per_api = |pick: fn(&ApiCounters) -> u64| -> Vec<(Vec<(&str, String)>, f64)> {
        nodes
            .iter()
            .flat_map(|(server, totals)| {
                totals
                    .apis
                    .iter()
                    .map(move |(api, c)| (vec![("api", api.clone()), ("server", server.clone())], pick(c) as f64))
            })
            .collect()
    };
    let per_node = |pick: fn(&RequestTotals) -> f64| -> Vec<(Vec<(&str, String)>, f64)> {
        nodes.iter().map(|(server, totals)| (vec![("server", server.clone())], pick(totals))).collect()
    };
    out.metric("minio_s3_requests_total", "counter", "Total number of S3 requests", &per_api(|c| c.requests));
    out.metric(
        "minio_s3_requests_errors_total",
        "counter",
        "Total number of S3 requests with (4xx and 5xx) errors",
        &per_api(|c| c.errors_4xx + c.errors_5xx),
    );
    out.metric(
        "minio_s3_requests_4xx_errors_total",
        "counter",
        "Total number of S3 requests with (4xx) errors",
        &per_api(|c| c.errors_4xx),
    );
    out.metric(
        "minio_s3_requests_5xx_errors_total",
        "counter",
        "Total number of S3 requests with (5xx) errors",
        &per_api(|c| c.errors_5xx),
    );
    let mut ttfb = Vec::new();
    for (server, totals) in nodes {
        for (api, counters) in &totals.apis {
            let labels = |le: String| vec![("api", api.clone()), ("le", le), ("server", server.clone())];
            for (i, bound) in TTFB_BUCKETS.iter().enumerate() {
                ttfb.push((labels(format!("{bound}")), counters.ttfb[i] as f64));
            }
            ttfb.push((labels("+Inf".to_owned()), counters.ttfb[TTFB_BUCKETS.len()] as f64));
        }
    }
    out.metric(
        "minio_s3_requests_ttfb_seconds_distribution",
        "counter",
        "Distribution of the time to first byte across API calls",
        &ttfb,
    );
    // MinIO's v2 histogram has no sum; the console's latency chart needs the mean.
    let ttfb_sums: Vec<_> = nodes
        .iter()
        .flat_map(|(server, totals)| {
            totals.apis.iter().map(move |(api, counters)| {
                (vec![("api", api.clone()), ("server", server.clone())], counters.ttfb_sum_secs)
            })
        })
        .collect();
    out.metric(
        "cairn_s3_requests_ttfb_seconds_sum",
        "counter",
        "Total time to first byte of API calls (with the +Inf bucket of the distribution: the mean)",
        &ttfb_sums,
    );
    out.metric(
        "minio_s3_requests_rejected_auth_total",
        "counter",
        "Total number of S3 requests rejected for auth failure",
        &per_node(|t| t.rejected_auth as f64),
    );
    out.metric(
        "minio_s3_requests_rejected_invalid_total",
        "counter",
        "Total number of invalid S3 requests",
        &per_node(|t| t.rejected_invalid as f64),
    );
    out.metric(
        "minio_s3_requests_inflight_total",
        "gauge",
        "Total number of S3 requests currently in flight",
        &per_node(|t| t.inflight as f64),
    );
    out.metric(
        "minio_s3_traffic_received_bytes",
        "counter",
        "Total number of s3 bytes received",
        &per_node(|t| t.received_bytes as f64),
    );
    out.metric(
        "minio_s3_traffic_sent_bytes",
        "counter",
        "Total number of s3 bytes sent",
        &per_node(|t| t.sent_bytes as f64),
    );
}

fn process_metrics(out: &mut Exposition) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let rss_kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0.0);
    out.gauge("minio_node_process_resident_memory_bytes", "Resident memory size in bytes", rss_kib * 1024.0);
    out.gauge("minio_node_process_uptime_seconds", "Uptime for this node", super::uptime_secs());
    let logins = &super::CONSOLE_LOGINS;
    let by_result = |result: &str, count: &std::sync::atomic::AtomicU64| {
        (vec![("result", result.to_owned())], count.load(std::sync::atomic::Ordering::Relaxed) as f64)
    };
    out.metric(
        "cairn_console_logins_total",
        "counter",
        "Console logins on this node by result (failure: wrong keys, disabled, or rate limited)",
        &[by_result("success", &logins.succeeded), by_result("failure", &logins.failed)],
    );
}

#[cfg(test)]
mod tests {
    use super::super::counters::RequestMetrics;
    use super::*;

    #[test]
    fn exposition_has_help_type_and_escaped_labels() {
        let mut out = Exposition::default();
        out.metric("m_total", "counter", "A counter", &[(vec![("api", "Get\"Object".into())], 3.0)]);
        out.gauge("g", "A gauge", 1.5);
        assert_eq!(
            out.finish(),
            "# HELP m_total A counter\n# TYPE m_total counter\nm_total{api=\"Get\\\"Object\"} 3\n# HELP g A gauge\n# TYPE g gauge\ng 1.5\n"
        );
    }

    #[test]
    fn histogram_buckets_are_cumulative() {
        let requests = RequestMetrics::default();
        requests.record("GetObject", 200, std::time::Duration::from_millis(30), 0, 10);
        requests.record("GetObject", 404, std::time::Duration::from_millis(700), 0, 0);
        let counters = requests.snapshot()["GetObject"].clone();
        assert_eq!(counters.ttfb[0], 1, "<= 50 ms");
        assert_eq!(counters.ttfb[4], 2, "<= 1 s");
        assert_eq!(counters.ttfb[TTFB_BUCKETS.len()], 2);
        assert_eq!((counters.requests, counters.errors_4xx), (2, 1));
    }
}
