//! Server info (`mc admin info`): deployment, drives, buckets and healing counters.

use crate::reply::{self, Reply};
use crate::route::AdminRoute;
use serde_json::json;

impl AdminRoute {
    pub(crate) async fn server_info(&self) -> Reply {
        let buckets = self.store.list_buckets().await.map(|b| b.len()).unwrap_or(0);
        let layout = self.store.layout();
        let stats = self.store.stats();
        let offline = self.store.drives_offline().await;
        reply::json(&json!({
            "mode": if offline == 0 { "online" } else { "degraded" },
            "deploymentID": self.store.deployment_id().to_string(),
            "buckets": { "count": buckets },
            "backend": {
                "backendType": "Erasure",
                "standardSCData": [layout.data()],
                "standardSCParity": layout.parity,
                "offlineDisks": offline,
            },
            "pools": self.store.pool_count(),
            "heal": {
                "objectsScanned": stats.objects_scanned,
                "objectsHealed": stats.objects_healed,
                "healFailures": stats.heal_failures,
            },
        }))
    }
}
