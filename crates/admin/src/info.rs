//! Server info (`mc admin info`): deployment, per node its state and drives, erasure
//! layout, usage as of the last scan, and healing counters, in MinIO's InfoMessage shape.

use crate::reply::{self, Reply};
use crate::route::AdminRoute;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::time::Instant;

/// When this server process started, for the uptime `admin info` reports.
static STARTED: OnceLock<Instant> = OnceLock::new();

/// Records the server's start (call once, early in `cairn server`).
pub fn mark_start() {
    let _ = STARTED.set(Instant::now());
}

/// The name of the answering node's entry (its drives have no node).
const LOCAL_NODE: &str = "local";
/// This build's version, as `admin info` reports it for the answering node.
const VERSION: &str = env!("CARGO_PKG_VERSION");

impl AdminRoute {
    pub(crate) async fn server_info(&self) -> Reply {
        let buckets = self.store.list_buckets().await.map(|b| b.len()).unwrap_or(0);
        let layout = self.store.layout();
        let stats = self.store.stats();
        let usage = self.store.bucket_usage();
        let compressed = self.store.compressed_total();
        let mut servers: BTreeMap<String, Vec<serde_json::Value>> = BTreeMap::new();
        let mut offline = 0;
        for state in self.store.drive_states().await {
            let endpoint = &state.endpoint;
            let drive = match &state.info {
                Ok(info) => json!({
                    "endpoint": endpoint, "state": "ok", "totalspace": info.total_bytes,
                    "usedspace": info.used_bytes, "availspace": info.free_bytes,
                }),
                Err(error) => {
                    offline += 1;
                    json!({ "endpoint": endpoint, "state": "offline", "error": error.to_string() })
                }
            };
            servers.entry(state.node.unwrap_or_else(|| LOCAL_NODE.to_owned())).or_default().push(drive);
        }
        let servers: Vec<serde_json::Value> = servers
            .into_iter()
            .map(|(node, drives)| {
                let online = drives.iter().any(|d| d["state"] == "ok");
                let mut server =
                    json!({ "endpoint": node, "state": if online { "online" } else { "offline" }, "drives": drives });
                // Other nodes' versions and uptimes are theirs to tell; only the answering
                // node's are known here.
                if node == LOCAL_NODE {
                    server["version"] = VERSION.into();
                    server["uptime"] = STARTED.get().map_or(0, |started| started.elapsed().as_secs()).into();
                }
                server
            })
            .collect();
        reply::json(&json!({
            "mode": if offline == 0 { "online" } else { "degraded" },
            "deploymentID": self.store.deployment_id().to_string(),
            "buckets": { "count": buckets },
            "objects": { "count": usage.values().map(|u| u.0).sum::<u64>() },
            "usage": { "size": usage.values().map(|u| u.1).sum::<u64>() },
            // Cairn's: what transparent compression saves, as of the last scan.
            "compression": {
                "objects": compressed.objects,
                "logicalBytes": compressed.logical_bytes,
                "storedBytes": compressed.stored_bytes,
                "savedBytes": compressed.saved_bytes(),
                "ratio": compressed.ratio(),
            },
            // Cairn's: the master key of SSE-S3 (its name only).
            "kms": {
                "configured": self.store.keyring().is_some(),
                "defaultKeyID": self.store.keyring().map(|keyring| keyring.current_name().to_owned()),
            },
            "backend": {
                "backendType": "Erasure",
                "standardSCData": [layout.data()],
                "standardSCParity": layout.parity,
                "offlineDisks": offline,
            },
            "pools": self.store.pool_count(),
            "servers": servers,
            "heal": {
                "objectsScanned": stats.objects_scanned,
                "objectsHealed": stats.objects_healed,
                "healFailures": stats.heal_failures,
                // Full passes of this node's scanner since it started: after a drive is
                // replaced, one pass that started after it is refilled it.
                "scansCompleted": stats.scans_completed,
                // Objects queued for healing by reads that met damage, not yet healed.
                "backlog": self.store.heal_backlog(),
                // When this node's last full scan ended (Unix seconds; 0: none yet).
                "lastScanCompleted": stats.last_scan_unix_secs,
            },
            // What this node's scanner did with lifecycle rules: each node acts on its
            // share of the keys, so the cluster's totals are the sums over nodes.
            "ilm": self.store.ilm_stats().fields().into_iter()
                .map(|(name, value)| (name.to_owned(), serde_json::Value::from(value)))
                .collect::<serde_json::Map<_, _>>(),
        }))
    }
}
