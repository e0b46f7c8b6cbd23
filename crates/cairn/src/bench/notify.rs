//! `cairn bench --notify`: every object created in the benchmark's bucket is an event
//! for a webhook target served here (a sink that answers 200 and counts), so the small
//! and large phases measure what durable event queues cost a write, against a run
//! without the flag.

use super::server::{ACCESS_KEY, SECRET_KEY};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

/// The target's id in the server's configuration.
const TARGET_ID: &str = "bench";
/// How long delivery may stall before the report gives up waiting.
const STALL_SECS: u64 = 10;
/// Largest event body the sink reads.
const EVENT_BYTES_MAX: usize = 1 << 20;

/// A running sink: how many events it received.
pub struct Sink {
    pub received: Arc<AtomicU64>,
    pub url: String,
}

/// Starts the sink on 127.0.0.1 (it runs until the process ends).
pub async fn sink() -> Result<Sink, String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(|e| format!("event sink: {e}"))?;
    let url = format!("http://{}/events", listener.local_addr().map_err(|e| e.to_string())?);
    let received = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&received);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let counter = Arc::clone(&counter);
            tokio::spawn(async move {
                let mut reader = BufReader::new(stream);
                // Keep-alive, as a real webhook: each answered event is counted.
                while answer(&mut reader).await.is_ok() {
                    counter.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
    });
    Ok(Sink { received, url })
}

/// Reads one POST and answers 200.
async fn answer(reader: &mut BufReader<tokio::net::TcpStream>) -> std::io::Result<()> {
    let mut length = 0usize;
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let trimmed = line.trim_end();
        if trimmed.is_empty() {
            break;
        }
        if let Some((name, value)) = trimmed.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; length.min(EVENT_BYTES_MAX)];
    reader.read_exact(&mut body).await?;
    reader.get_mut().write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").await
}

/// Waits until the sink has `expected` events (or stops getting more for
/// [`STALL_SECS`]); prints how long delivery ran behind the writes.
pub async fn report_delivery(sink: &Sink, expected: u64) {
    let started = std::time::Instant::now();
    let (mut last, mut last_change) = (sink.received.load(Ordering::Relaxed), std::time::Instant::now());
    loop {
        let now = sink.received.load(Ordering::Relaxed);
        if now >= expected || last_change.elapsed().as_secs() >= STALL_SECS {
            let behind = started.elapsed().as_secs_f64();
            eprintln!(
                "bench: the webhook received {now} of {expected} events, the last {behind:.1} s after the writes"
            );
            return;
        }
        if now != last {
            (last, last_change) = (now, std::time::Instant::now());
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Configures the target on the server and a rule sending `bucket`'s created objects to it.
pub async fn configure(endpoint: &str, s3: &aws_sdk_s3::Client, bucket: &str, sink: &Sink) -> Result<(), String> {
    super::s3::set_config(
        endpoint,
        (ACCESS_KEY, SECRET_KEY),
        &format!("notify_webhook:{TARGET_ID} endpoint={}", sink.url),
    )
    .await?;
    let rule = cairn_cli::event::queue_rule(
        &format!("arn:minio:sqs::{TARGET_ID}:webhook"),
        vec![aws_sdk_s3::types::Event::from("s3:ObjectCreated:*")],
        "",
        "",
    )
    .map_err(|e| e.to_string())?;
    let configuration = aws_sdk_s3::types::NotificationConfiguration::builder().queue_configurations(rule).build();
    s3.put_bucket_notification_configuration()
        .bucket(bucket)
        .notification_configuration(configuration)
        .send()
        .await
        .map(drop)
        .map_err(|e| format!("notification rule on {bucket}: {e:?}"))
}
