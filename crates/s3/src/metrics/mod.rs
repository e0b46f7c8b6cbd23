//! The Prometheus endpoints: `/minio/v2/metrics/cluster` and `/minio/v2/metrics/node`.

mod auth;
pub(crate) mod counters;
mod render;

pub use counters::{ApiSlot, RequestMetrics};

use cairn_iam::Iam;
use cairn_object::ObjectStore;
use std::sync::OnceLock;
use std::time::Instant;

/// Paths of the two scrape targets.
pub const CLUSTER_PATH: &str = "/minio/v2/metrics/cluster";
pub const NODE_PATH: &str = "/minio/v2/metrics/node";

static STARTED: OnceLock<Instant> = OnceLock::new();

/// Marks the process start, for the uptime metric.
pub(crate) fn mark_start() {
    let _ = STARTED.set(Instant::now());
}

fn uptime_secs() -> f64 {
    STARTED.get().map_or(0.0, |started| started.elapsed().as_secs_f64())
}

/// Why a scrape was refused.
pub(crate) enum Refusal {
    Unauthorized,
    NotFound,
}

/// Answers a scrape of `path`: the exposition text, or why not.
pub(crate) async fn scrape(
    path: &str,
    store: &ObjectStore,
    iam: &Iam,
    requests: &RequestMetrics,
    public: bool,
    authorization: Option<&str>,
    this_node: &str,
) -> Result<String, Refusal> {
    if path != CLUSTER_PATH && path != NODE_PATH {
        return Err(Refusal::NotFound);
    }
    if !public && !auth::allowed(iam, authorization) {
        return Err(Refusal::Unauthorized);
    }
    Ok(if path == CLUSTER_PATH {
        render::cluster(store, requests, this_node).await
    } else {
        render::node(store, requests, this_node).await
    })
}
