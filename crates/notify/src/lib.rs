//! `cairn-notify`: bucket event notifications to webhooks (MinIO's `notify_webhook`).
//!
//! A request that changed or read an object asks the [`Notifier`] to queue an event for
//! every target a rule of its bucket names (`emit`). Each target has a durable queue on
//! this node (`queue.rs`: an event is on disk before the request is answered) and a
//! task that delivers it at least once, in order, retrying while the endpoint is down
//! (`deliver.rs`). Events queued before a restart are delivered after it.

mod commit;
mod deliver;
mod event;
mod queue;
mod target;

pub use deliver::TargetStats;
pub use event::{EventName, ObjectEvent, PatternError, check_pattern, pattern_matches};
pub use queue::{Queue, QueueError};
pub use target::{
    DEFAULT_TARGET_ID, QUEUE_LIMIT_DEFAULT, QUEUE_LIMIT_MAX, WebhookTarget, arn_of, check_target_id, parse_endpoint,
    parse_queue_dir, parse_queue_limit, target_id_of,
};

use cairn_meta::Notification;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, RwLock};
use tokio::sync::Notify;

/// A running target: its queue and delivery task (stopped when dropped).
struct Running {
    config: WebhookTarget,
    queue: Arc<queue::Queue>,
    committer: commit::Committer,
    tasks: [tokio::task::AbortHandle; 2],
}

impl Drop for Running {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// One target as `admin info` and the metrics show it.
#[derive(Debug, Clone)]
pub struct TargetStatus {
    pub id: String,
    pub arn: String,
    pub endpoint: String,
    /// False when its queue could not be opened (the error is logged).
    pub online: bool,
    pub queued: u64,
    pub sent: u64,
    pub errors: u64,
    pub skipped: u64,
}

/// This node's webhook targets and their queues.
pub struct Notifier {
    /// Where a target without `queue_dir` keeps its queue: `<events_dir>/webhook-<id>`.
    events_dir: PathBuf,
    /// The configured targets, by id (whether or not their queue opened).
    configured: RwLock<BTreeMap<String, WebhookTarget>>,
    running: RwLock<BTreeMap<String, Arc<Running>>>,
    stats: Mutex<BTreeMap<String, Arc<TargetStats>>>,
    client: deliver::HttpClient,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier").field("events_dir", &self.events_dir).finish_non_exhaustive()
    }
}

impl Notifier {
    /// A notifier without targets whose default queues live under `events_dir`.
    pub fn new(events_dir: PathBuf) -> Arc<Self> {
        Arc::new(Self {
            events_dir,
            configured: RwLock::default(),
            running: RwLock::default(),
            stats: Mutex::default(),
            client: deliver::client(),
        })
    }

    /// Makes `targets` the configured ones: new or changed targets start (their queue
    /// is opened, events left from before are sent), removed ones stop (their queue
    /// stays on disk, and is sent if the target comes back). Call within the runtime.
    pub fn configure(&self, targets: Vec<WebhookTarget>) {
        let wanted: BTreeMap<String, WebhookTarget> = targets.into_iter().map(|t| (t.id.clone(), t)).collect();
        let Ok(mut running) = self.running.write() else { return };
        running.retain(|id, current| wanted.get(id) == Some(&current.config));
        for (id, target) in &wanted {
            if running.contains_key(id) {
                continue;
            }
            match self.start(target) {
                Ok(started) => {
                    tracing::info!(target = %id, endpoint = %target.endpoint, queued = started.queue.len(), "webhook target ready");
                    running.insert(id.clone(), Arc::new(started));
                }
                Err(error) => tracing::error!(target = %id, %error, "cannot open the webhook target's queue"),
            }
        }
        drop(running);
        if let Ok(mut configured) = self.configured.write() {
            *configured = wanted;
        }
    }

    fn start(&self, target: &WebhookTarget) -> std::io::Result<Running> {
        let dir = target.queue_dir.clone().unwrap_or_else(|| self.events_dir.join(format!("webhook-{}", target.id)));
        let queue = queue::Queue::open(&dir, target.queue_limit)?;
        let wake = Arc::new(Notify::new());
        let delivery = deliver::Delivery {
            target: target.clone(),
            queue: Arc::clone(&queue),
            wake: Arc::clone(&wake),
            client: self.client.clone(),
            stats: self.stats_of(&target.id),
        };
        let delivering = tokio::spawn(deliver::run(delivery)).abort_handle();
        let (committer, committing) = commit::Committer::start(Arc::clone(&queue), wake);
        Ok(Running { config: target.clone(), queue, committer, tasks: [delivering, committing] })
    }

    fn stats_of(&self, id: &str) -> Arc<TargetStats> {
        let mut stats = self.stats.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        Arc::clone(stats.entry(id.to_owned()).or_default())
    }

    /// True when a target with this id is configured.
    pub fn has_target(&self, id: &str) -> bool {
        self.configured.read().is_ok_and(|c| c.contains_key(id))
    }

    /// Every configured target, with its counters.
    pub fn status(&self) -> Vec<TargetStatus> {
        let configured = self.configured.read().map(|c| c.clone()).unwrap_or_default();
        let running = self.running.read().map(|r| r.clone()).unwrap_or_default();
        configured
            .values()
            .map(|target| {
                let stats = self.stats_of(&target.id);
                let queue = running.get(&target.id).map(|r| r.queue.len());
                TargetStatus {
                    id: target.id.clone(),
                    arn: target.arn(),
                    endpoint: target.endpoint.to_string(),
                    online: queue.is_some(),
                    queued: queue.unwrap_or(0),
                    sent: stats.sent.load(Ordering::Relaxed),
                    errors: stats.errors.load(Ordering::Relaxed),
                    skipped: stats.skipped.load(Ordering::Relaxed),
                }
            })
            .collect()
    }

    /// True when some rule of `rules` wants events named `name` (a cheap check before
    /// an event is built).
    pub fn wants(rules: &Notification, name: EventName) -> bool {
        rules.rules.iter().any(|r| r.events.iter().any(|p| pattern_matches(p, name)))
    }

    /// Queues `event` for each target a matching rule of `rules` names (once per
    /// target), durably, before returning. Failures are logged and counted: the
    /// request that caused the event has succeeded already.
    pub async fn emit(&self, rules: &Notification, event: &ObjectEvent) {
        let mut queued_for: Vec<&str> = Vec::new();
        for rule in &rules.rules {
            let wanted = rule.events.iter().any(|p| pattern_matches(p, event.name))
                && event.key.starts_with(&rule.prefix)
                && event.key.ends_with(&rule.suffix);
            let Some(id) = target_id_of(&rule.arn).filter(|id| wanted && !queued_for.contains(id)) else { continue };
            queued_for.push(id);
            let stats = self.stats_of(id);
            let running = self.running.read().ok().and_then(|r| r.get(id).cloned());
            let Some(running) = running else {
                stats.skipped.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(target = %id, bucket = %event.bucket, "an event names a webhook target that is not running; dropped");
                continue;
            };
            let message = serde_json::to_vec(&event.message(&rule.id)).expect("a JSON value always serialises");
            match running.committer.put(message).await {
                Ok(()) => {}
                Err(QueueError::Full(limit)) => {
                    stats.skipped.fetch_add(1, Ordering::Relaxed);
                    tracing::error!(target = %id, limit, "the webhook queue is full; event dropped");
                }
                Err(error) => {
                    stats.errors.fetch_add(1, Ordering::Relaxed);
                    tracing::error!(target = %id, %error, "cannot queue an event; dropped");
                }
            }
        }
    }
}
