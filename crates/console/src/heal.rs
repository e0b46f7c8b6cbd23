//! Heals started from the console: each runs the admin API's `cairn-heal` stream in a
//! task of this node, keeps its latest progress, and the operations page polls it.

use crate::error::{ConsoleError, Result};
use crate::router::Call;
use crate::web::{self, Body};
use bytes::{Buf, BytesMut};
use cairn_cli::admin::client::AdminClient;
use http::{Method, Response, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

/// Heals remembered at once (older ones are forgotten first).
const JOBS_MAX: usize = 20;
/// Failures kept per heal for the page (the count is always exact).
const FAILURES_SHOWN_MAX: usize = 50;
/// Longest line of the heal stream.
const LINE_BYTES_MAX: usize = 64 << 10;

/// One heal's state as the page shows it.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Job {
    id: String,
    target: String,
    /// Who started it: only they (or anyone allowed admin:Heal) read it.
    started_by: String,
    progress: Value,
    failures: Vec<Value>,
    failure_count: u64,
    summary: Option<Value>,
    error: Option<String>,
    done: bool,
}

/// The heals of this node's console.
#[derive(Debug, Default)]
pub(crate) struct Heals {
    jobs: Mutex<VecDeque<Arc<Mutex<Job>>>>,
}

impl Heals {
    /// Starts healing `bucket`/`prefix` (everything when both are empty) as `admin`'s identity.
    pub(crate) async fn start(
        &self,
        admin: AdminClient,
        started_by: &str,
        bucket: &str,
        prefix: &str,
        deep: bool,
    ) -> Result<String> {
        let mut query = vec![("recursive", "true"), ("scan", if deep { "deep" } else { "normal" })];
        if !bucket.is_empty() {
            query.push(("bucket", bucket));
        }
        if !prefix.is_empty() {
            query.push(("prefix", prefix));
        }
        let body = admin.stream(Method::POST, "cairn-heal", &query, Vec::new()).await?;
        let id = hex::encode(rand::random::<[u8; 8]>());
        let target = if bucket.is_empty() { "everything".to_owned() } else { format!("{bucket}/{prefix}") };
        let job = Arc::new(Mutex::new(Job {
            id: id.clone(),
            target,
            started_by: started_by.to_owned(),
            progress: Value::Null,
            failures: Vec::new(),
            failure_count: 0,
            summary: None,
            error: None,
            done: false,
        }));
        {
            let mut jobs = self.jobs.lock().expect("the heal list is never poisoned");
            if jobs.len() >= JOBS_MAX {
                jobs.pop_front();
            }
            jobs.push_back(Arc::clone(&job));
        }
        tokio::spawn(follow(body, job));
        Ok(id)
    }

    /// The heal `id`.
    pub(crate) fn get(&self, id: &str) -> Option<Job> {
        let jobs = self.jobs.lock().expect("the heal list is never poisoned");
        jobs.iter().map(|j| j.lock().expect("a heal is never poisoned")).find(|j| j.id == id).map(|j| j.clone())
    }
}

/// Reads the heal stream into `job` until it ends.
async fn follow(mut body: hyper::body::Incoming, job: Arc<Mutex<Job>>) {
    let mut buffer = BytesMut::new();
    let outcome: std::result::Result<(), String> = async {
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| format!("the heal stream broke: {e}"))?;
            let Ok(data) = frame.into_data() else { continue };
            buffer.extend_from_slice(&data);
            while let Some(end) = buffer.iter().position(|b| *b == b'\n') {
                let line = buffer.split_to(end + 1);
                record(&job, &line[..end]);
            }
            if buffer.len() > LINE_BYTES_MAX {
                return Err("the heal stream sent a line that is too long".into());
            }
        }
        if buffer.has_remaining() {
            record(&job, &buffer);
        }
        Ok(())
    }
    .await;
    let mut job = job.lock().expect("a heal is never poisoned");
    job.done = true;
    if let Err(error) = outcome {
        job.error = Some(error);
    } else if job.summary.is_none() {
        job.error = Some("the heal stream ended without a summary; run it again".into());
    }
}

fn record(job: &Mutex<Job>, line: &[u8]) {
    let Ok(value) = serde_json::from_slice::<Value>(line) else { return };
    let mut job = job.lock().expect("a heal is never poisoned");
    match value["type"].as_str() {
        Some("progress") => job.progress = value,
        Some("failure") => {
            job.failure_count += 1;
            if job.failures.len() < FAILURES_SHOWN_MAX {
                job.failures.push(value);
            }
        }
        Some("summary") => job.summary = Some(value),
        _ => {}
    }
}

/// `GET /api/heal/{id}`: a heal's state, for its starter or anyone allowed to heal.
pub(crate) fn status(call: Call) -> Result<Response<Body>> {
    let caller = call.caller()?;
    let id = call.segment(2);
    let job = call.console.heals.get(id).ok_or_else(|| ConsoleError::NotFound("no such heal on this node".into()))?;
    if job.started_by != caller.name() && !caller.may("admin:Heal", None, None) {
        return Err(ConsoleError::Forbidden("this heal is not yours to follow".into()));
    }
    Ok(web::json(StatusCode::OK, &json!(job)))
}
