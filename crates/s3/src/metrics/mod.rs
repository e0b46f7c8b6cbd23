//! The Prometheus endpoints: `/minio/v2/metrics/cluster` and `/minio/v2/metrics/node`.

mod auth;
pub(crate) mod counters;
mod render;

pub use counters::{ApiSlot, RequestMetrics};

use cairn_cluster::Peer;
use cairn_iam::Iam;
use cairn_object::ObjectStore;
use counters::RequestTotals;
use futures::future::join_all;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// How long the cluster endpoint waits for a peer's request counters; a slow or
/// offline peer's series are left out of that scrape (as MinIO does).
const PEER_METRICS_TIMEOUT: Duration = Duration::from_secs(2);

/// Paths of the two scrape targets.
pub const CLUSTER_PATH: &str = "/minio/v2/metrics/cluster";
pub const NODE_PATH: &str = "/minio/v2/metrics/node";

static STARTED: OnceLock<Instant> = OnceLock::new();

/// Console logins since the process started, by outcome (the console counts them,
/// the metrics endpoint exports them as `cairn_console_logins_total`).
#[derive(Debug)]
pub struct ConsoleLogins {
    /// Logins that opened a session.
    pub succeeded: std::sync::atomic::AtomicU64,
    /// Logins refused: wrong keys, a disabled identity, or over the rate limit.
    pub failed: std::sync::atomic::AtomicU64,
}

/// This process's console login counters.
pub static CONSOLE_LOGINS: ConsoleLogins =
    ConsoleLogins { succeeded: std::sync::atomic::AtomicU64::new(0), failed: std::sync::atomic::AtomicU64::new(0) };

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

/// What a scrape reads.
pub(crate) struct Sources<'a> {
    pub(crate) store: &'a ObjectStore,
    pub(crate) iam: &'a Iam,
    /// This node's webhook targets (their queues are this node's).
    pub(crate) notifier: &'a cairn_notify::Notifier,
    /// This node's request counters.
    pub(crate) requests: &'a RequestMetrics,
    /// The other nodes, asked for their counters by the cluster endpoint.
    pub(crate) peers: &'a [Arc<Peer>],
    /// Scrapes need no token.
    pub(crate) public: bool,
    /// This node's name in the `server` label.
    pub(crate) this_node: &'a str,
}

/// Answers a scrape of `path`: the exposition text, or why not.
pub(crate) async fn scrape(path: &str, sources: &Sources<'_>, authorization: Option<&str>) -> Result<String, Refusal> {
    if path != CLUSTER_PATH && path != NODE_PATH {
        return Err(Refusal::NotFound);
    }
    if !sources.public && !auth::allowed(sources.iam, authorization) {
        return Err(Refusal::Unauthorized);
    }
    if path == NODE_PATH {
        return Ok(render::node(sources, sources.this_node).await);
    }
    let mut nodes = vec![(sources.this_node.to_owned(), sources.requests.totals())];
    let answers =
        join_all(sources.peers.iter().map(|peer| tokio::time::timeout(PEER_METRICS_TIMEOUT, peer.node_metrics())))
            .await;
    for (peer, answer) in sources.peers.iter().zip(answers) {
        if let Ok(Ok(encoded)) = answer {
            let mut totals = RequestTotals::default();
            totals.add_encoded(&encoded);
            nodes.push((peer.authority().to_owned(), totals));
        }
    }
    Ok(render::cluster(sources.store, &nodes).await)
}
