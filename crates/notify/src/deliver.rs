//! Delivery: one task per target sends its queued events in order, one at a time, and
//! removes each only after the endpoint answered 2xx; a failure is retried, with a
//! growing pause, until it succeeds or the target is removed from the configuration.

use crate::queue::Queue;
use crate::target::WebhookTarget;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::Notify;

/// Longest wait for an endpoint to answer one event.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// First pause after a failed delivery; it doubles up to [`RETRY_MAX`].
const RETRY_MIN: Duration = Duration::from_millis(500);
/// Longest pause between attempts while an endpoint is down.
const RETRY_MAX: Duration = Duration::from_secs(8);
/// Batch files listed from the queue folder per pass (each pass reads the whole
/// folder, so a long backlog is listed once per this many files).
const BATCH: usize = 1024;
/// How often an idle target looks at its folder anyway (events queued by an earlier
/// run of this node are found at start; this is a safety net).
const IDLE_CHECK: Duration = Duration::from_secs(5);
/// Most bytes of an endpoint's answer read (and thrown away) to reuse the connection.
const ANSWER_BYTES_MAX: usize = 64 << 10;

/// The HTTP client every target shares.
pub(crate) type HttpClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// Builds the client: http and https (the system's CA certificates).
pub(crate) fn client() -> HttpClient {
    let tls = cairn_tls::ClientTrust::Verify(Vec::new())
        .client_config()
        .or_else(|_| cairn_tls::ClientTrust::Nobody.client_config())
        .expect("a client that trusts nobody can always be built");
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(Arc::unwrap_or_clone(tls))
        .https_or_http()
        .enable_http1()
        .build();
    Client::builder(TokioExecutor::new()).build(connector)
}

/// Counters of one target, kept across reconfigurations.
#[derive(Debug, Default)]
pub struct TargetStats {
    /// Events delivered.
    pub sent: AtomicU64,
    /// Failed attempts (each retried) and events that could not be queued.
    pub errors: AtomicU64,
    /// Events dropped: the queue was full, or the rule named a target not configured.
    pub skipped: AtomicU64,
}

/// What a delivery task needs.
pub(crate) struct Delivery {
    pub target: WebhookTarget,
    pub queue: Arc<Queue>,
    pub wake: Arc<Notify>,
    pub client: HttpClient,
    pub stats: Arc<TargetStats>,
}

/// Sends the target's events until the task is aborted.
pub(crate) async fn run(delivery: Delivery) {
    let mut pause = RETRY_MIN;
    // Where a failed send stopped: that batch file and the first event not yet sent, so
    // that a retry does not send the batch's earlier events again.
    let mut resume: Option<(PathBuf, usize)> = None;
    loop {
        let queue = Arc::clone(&delivery.queue);
        let files = match tokio::task::spawn_blocking(move || queue.oldest(BATCH)).await {
            Ok(Ok(files)) => files,
            Ok(Err(error)) => {
                tracing::error!(target = %delivery.target.id, %error, "cannot read the event queue");
                Vec::new()
            }
            Err(_) => Vec::new(),
        };
        if files.is_empty() {
            let _ = tokio::time::timeout(IDLE_CHECK, delivery.wake.notified()).await;
            continue;
        }
        for path in files {
            let reading = path.clone();
            let events = match tokio::task::spawn_blocking(move || Queue::read(&reading)).await {
                Ok(Ok(events)) => events,
                // Removed meanwhile (a previous task of the same folder): nothing to send.
                Ok(Err(error)) if error.kind() == std::io::ErrorKind::NotFound => continue,
                Ok(Err(error)) => {
                    tracing::error!(target = %delivery.target.id, %error, path = %path.display(), "cannot read queued events");
                    tokio::time::sleep(pause).await;
                    break;
                }
                Err(_) => break,
            };
            let first = match resume.take() {
                Some((stopped, index)) if stopped == path => index,
                _ => 0,
            };
            match send_all(&delivery, &events[first.min(events.len())..]).await {
                Ok(()) => {
                    pause = RETRY_MIN;
                    if let Err(error) = delivery.queue.remove(&path) {
                        tracing::warn!(target = %delivery.target.id, %error, "cannot remove delivered events; they will be sent again");
                    }
                }
                Err((sent, error)) => {
                    resume = Some((path, first + sent));
                    delivery.stats.errors.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(
                        target = %delivery.target.id,
                        endpoint = %delivery.target.endpoint,
                        %error,
                        queued = delivery.queue.len(),
                        retry_in_ms = pause.as_millis() as u64,
                        "event delivery failed; it stays queued"
                    );
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(RETRY_MAX);
                    break;
                }
            }
        }
    }
}

/// Sends `events` in order; on a failure, how many were sent before it, and why.
async fn send_all(delivery: &Delivery, events: &[Bytes]) -> Result<(), (usize, String)> {
    for (sent, event) in events.iter().enumerate() {
        send(delivery, event.clone()).await.map_err(|error| (sent, error))?;
        delivery.stats.sent.fetch_add(1, Ordering::Relaxed);
    }
    Ok(())
}

/// POSTs one event; Ok once the endpoint answered 2xx.
async fn send(delivery: &Delivery, body: Bytes) -> Result<(), String> {
    let mut request = http::Request::post(delivery.target.endpoint.clone())
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(http::header::USER_AGENT, "Cairn (notify_webhook)");
    if let Some(token) = &delivery.target.auth_token {
        // As MinIO: a token with a scheme already ("Basic ...") is sent as it is.
        let value = if token.contains(' ') { token.clone() } else { format!("Bearer {token}") };
        request = request.header(http::header::AUTHORIZATION, value);
    }
    let request = request.body(Full::new(body)).map_err(|e| e.to_string())?;
    let response = tokio::time::timeout(SEND_TIMEOUT, delivery.client.request(request))
        .await
        .map_err(|_| format!("no answer within {} s", SEND_TIMEOUT.as_secs()))?
        .map_err(|e| format!("{e:?}"))?;
    let status = response.status();
    let _ = tokio::time::timeout(
        SEND_TIMEOUT,
        http_body_util::Limited::new(response.into_body(), ANSWER_BYTES_MAX).collect(),
    )
    .await;
    if status.is_success() { Ok(()) } else { Err(format!("the endpoint answered {status}")) }
}
