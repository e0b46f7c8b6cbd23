//! `POST /minio/admin/v3/cairn-heal?bucket=B&prefix=P&recursive=true|false&scan=normal|deep` (action
//! `admin:Heal`): heals now and streams what it does as JSON lines
//! (`application/x-ndjson`), for `cairn admin heal`'s live display. MinIO's own heal
//! API (a heal sequence polled with a client token) is not implemented: one streamed
//! answer needs no server-side sequence state, and the heal ends when its client leaves.
//!
//! Every parameter is optional: no bucket heals everything (drives, buckets, objects and
//! Cairn's configuration); `prefix` needs a bucket; `recursive` is `false` unless given
//! (see [`HealScope::recursive`] for what one level means); `scan=deep` also verifies
//! every shard frame against its hash (bitrot), where `normal` (the default) compares
//! metadata and checks that each shard file is there and long enough. A missing bucket (404) or a bad
//! parameter (400) is a MinIO-style error before anything is streamed. Then, one JSON
//! object a line:
//!
//! ```text
//! {"type":"progress","scanned":N,"healed":N,"failed":N,"bytes":N,"drives_formatted":N,"buckets":N,"current":"bucket/key"}
//! {"type":"failure","bucket":"B","key":"K","error":"..."}
//! {"type":"summary","scanned":N,"healed":N,"failed":N,"bytes":N,"drives_formatted":N,"buckets":N,"elapsed_ms":N}
//! ```
//!
//! A progress line comes at once, then whenever the counts changed (at most every 250 ms)
//! and at least every second while the heal runs (a large object can take a while). A
//! failure line comes for each object that could not be healed. The summary is the last
//! line; it carries `"error":"..."` when the heal stopped before it covered everything (a
//! listing lost its quorum). A stream that ends without a summary was cut off.

use crate::reply::{self, Reply};
use crate::route::{AdminRoute, Call};
use bytes::Bytes;
use cairn_object::{HealCounts, HealEvent, HealRun, HealScope};
use futures::{Stream, StreamExt};
use serde_json::json;
use std::time::Duration;
use tokio::time::{Instant, Interval, MissedTickBehavior};

/// Shortest time between two progress lines, so that a fast heal does not flood the client.
const PROGRESS_INTERVAL_MIN_MS: u64 = 250;
/// Longest time between two progress lines while the heal runs, so that a client sees it alive.
const PROGRESS_INTERVAL_MAX_MS: u64 = 1_000;

impl AdminRoute {
    pub(crate) async fn heal(&self, call: &Call) -> Result<Reply, Reply> {
        let scope = scope_of(call)?;
        let run = self.store.heal(scope).await.map_err(|error| reply::from_store(&error))?;
        Ok(reply::ndjson(lines(run)))
    }
}

fn scope_of(call: &Call) -> Result<HealScope, Reply> {
    let recursive = match call.param("recursive") {
        "" | "false" => false,
        "true" => true,
        other => return Err(reply::invalid(&format!("recursive={other:?}: give true or false"))),
    };
    let deep = match call.param("scan") {
        "" | "normal" => false,
        "deep" => true,
        other => return Err(reply::invalid(&format!("scan={other:?}: give normal or deep"))),
    };
    let bucket = Some(call.param("bucket")).filter(|b| !b.is_empty()).map(str::to_owned);
    Ok(HealScope { bucket, prefix: call.param("prefix").to_owned(), recursive, deep })
}

/// The run's events as JSON lines, progress thinned out to the pace a display needs.
fn lines(run: HealRun) -> impl Stream<Item = Bytes> + Send + 'static {
    let period = Duration::from_millis(PROGRESS_INTERVAL_MIN_MS);
    let mut ticker = tokio::time::interval_at(Instant::now() + period, period);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let reporter = Reporter {
        run,
        ticker,
        latest: (HealCounts::default(), String::new()),
        changed: false,
        last_sent: None,
        finished: false,
    };
    futures::stream::unfold(reporter, |mut reporter| async move {
        let line = reporter.next_line().await?;
        Some((line, reporter))
    })
}

/// Turns a run's events into lines.
struct Reporter {
    run: HealRun,
    /// Ticks every `PROGRESS_INTERVAL_MIN_MS`: the only times a progress line may go out
    /// (except the first).
    ticker: Interval,
    /// The last progress event: counts and what was handled last.
    latest: (HealCounts, String),
    /// `latest` differs from what the last progress line said.
    changed: bool,
    /// When the last progress line went out; None before the first.
    last_sent: Option<Instant>,
    /// The summary went out: nothing follows.
    finished: bool,
}

impl Reporter {
    /// The next line to send, or None once the summary went out (or the run died).
    async fn next_line(&mut self) -> Option<Bytes> {
        while !self.finished {
            tokio::select! {
                event = self.run.next() => match event? {
                    HealEvent::Progress { counts, current } => {
                        self.latest = (counts, current);
                        self.changed = true;
                        if self.last_sent.is_none() {
                            return Some(self.progress_line());
                        }
                    }
                    HealEvent::Failure { bucket, key, error } => {
                        let failure = json!({ "type": "failure", "bucket": bucket, "key": key, "error": error.to_string() });
                        return Some(line(&failure));
                    }
                    HealEvent::Finished { counts, elapsed, error } => {
                        self.finished = true;
                        let mut summary = counts_json("summary", &counts);
                        summary["elapsed_ms"] = json!(elapsed.as_millis() as u64);
                        if let Some(error) = error {
                            summary["error"] = json!(error.to_string());
                        }
                        return Some(line(&summary));
                    }
                },
                _ = self.ticker.tick() => {
                    // Ticks are one minimum interval apart: a line skipped now would come
                    // after the maximum interval at the next tick.
                    let quiet = Duration::from_millis(PROGRESS_INTERVAL_MAX_MS - PROGRESS_INTERVAL_MIN_MS);
                    if self.changed || self.last_sent.is_none_or(|at| at.elapsed() >= quiet) {
                        return Some(self.progress_line());
                    }
                }
            }
        }
        None
    }

    fn progress_line(&mut self) -> Bytes {
        self.changed = false;
        self.last_sent = Some(Instant::now());
        let (counts, current) = &self.latest;
        let mut progress = counts_json("progress", counts);
        progress["current"] = json!(current);
        line(&progress)
    }
}

fn counts_json(kind: &str, counts: &HealCounts) -> serde_json::Value {
    json!({
        "type": kind,
        "scanned": counts.scanned,
        "healed": counts.healed,
        "failed": counts.failed,
        "bytes": counts.bytes,
        "drives_formatted": counts.drives_formatted,
        "buckets": counts.buckets,
    })
}

fn line(value: &serde_json::Value) -> Bytes {
    let mut text = value.to_string();
    text.push('\n');
    Bytes::from(text)
}
