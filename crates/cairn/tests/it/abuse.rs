//! Resource limits under abuse: idle and slowloris connections, header floods, tiny
//! listing pages over many keys, a 10,000-part upload, stalled bodies and a full
//! connection table. The server keeps serving other clients and its memory (RSS from
//! /proc) stays bounded. The numbers are printed (they go in docs/architecture.md);
//! nothing here asserts on time.

use crate::harness::*;
use crate::raw_client::{connect, read_response, signed_put_head};
use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// Short limits, so the tests see them act.
const LIMITS: [(&str, &str); 3] = [
    ("CAIRN_API_IDLE_TIMEOUT_SECS", "3"),
    ("CAIRN_API_HEADER_TIMEOUT_SECS", "3"),
    ("CAIRN_API_BODY_STALL_TIMEOUT_SECS", "3"),
];
/// Growth of the server's resident memory allowed under any abuse here.
const RSS_GROWTH_BYTES_MAX: u64 = 512 << 20;

/// The server's resident memory, from /proc.
pub(crate) fn rss_bytes(server: &Server) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.pid())).expect("proc status");
    let kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS");
    kib << 10
}

/// A normal client's PUT and GET succeed; returns how long the pair took.
async fn normal_round_trip(client: &Client, bucket: &str, key: &str) -> Duration {
    let started = Instant::now();
    let body = random_bytes(256 << 10);
    put(client, bucket, key, &body).await;
    assert_eq!(get(client, bucket, key).await, body);
    started.elapsed()
}

/// True once the server closed `stream` (EOF or reset), reading at most `wait`.
fn closed_by_server(stream: &mut TcpStream, wait: Duration) -> bool {
    stream.set_read_timeout(Some(wait)).expect("timeout");
    let mut byte = [0u8; 1];
    match stream.read(&mut byte) {
        Ok(0) => true,
        Ok(_) => closed_by_server(stream, wait),
        Err(error) => !matches!(error.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut),
    }
}

fn report(what: &str, rss_before: u64, rss_during: u64, round_trip: Duration) {
    eprintln!(
        "abuse[{what}]: rss before {} MiB, during {} MiB, normal PUT+GET of 256 KiB during it {} ms",
        rss_before >> 20,
        rss_during >> 20,
        round_trip.as_millis()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn idle_and_slowloris_connections_are_dropped_while_others_are_served() {
    const IDLE: usize = 2000;
    const SLOWLORIS: usize = 500;
    let server = Server::start_in(tempfile::tempdir().expect("dir"), 4, &LIMITS);
    let client = server.client();
    let bucket = new_bucket(&client, "abuse").await;
    normal_round_trip(&client, &bucket, "warm").await;
    let rss_before = rss_bytes(&server);
    let address = server.endpoint.trim_start_matches("http://").to_owned();
    let mut idle: Vec<TcpStream> = (0..IDLE).map(|_| TcpStream::connect(&address).expect("idle connection")).collect();
    let mut slow: Vec<TcpStream> = (0..SLOWLORIS).map(|_| TcpStream::connect(&address).expect("slowloris")).collect();
    // Slowloris: a request head trickled a few bytes at a time, never finished.
    let head = format!("GET /{bucket}/warm HTTP/1.1\r\nHost: {address}\r\nX-Slow: ");
    for step in 0..4 {
        for stream in &mut slow {
            let _ = stream.write_all(&head.as_bytes()[step * 4..step * 4 + 4]);
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let round_trip = normal_round_trip(&client, &bucket, "during-idle").await;
    let rss_during = rss_bytes(&server);
    report(&format!("{IDLE} idle + {SLOWLORIS} slowloris connections"), rss_before, rss_during, round_trip);
    assert!(rss_during < rss_before + RSS_GROWTH_BYTES_MAX, "{rss_during} bytes resident");
    // One bounded wait for all: idle connections close after the idle timeout,
    // slowloris ones after the header timeout.
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut closed = |stream: &mut TcpStream| {
        closed_by_server(stream, deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(10)))
    };
    let idle_closed = idle.iter_mut().map(&mut closed).filter(|c| *c).count();
    let slow_closed = slow.iter_mut().map(&mut closed).filter(|c| *c).count();
    assert_eq!(idle_closed, IDLE, "idle connections left open");
    assert_eq!(slow_closed, SLOWLORIS, "slowloris connections left open");
    normal_round_trip(&client, &bucket, "after-idle").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn header_floods_are_refused_with_bounded_memory() {
    let server = Server::start_in(tempfile::tempdir().expect("dir"), 4, &LIMITS);
    let client = server.client();
    let bucket = new_bucket(&client, "flood").await;
    normal_round_trip(&client, &bucket, "warm").await;
    let rss_before = rss_bytes(&server);
    let address = server.endpoint.trim_start_matches("http://").to_owned();
    let floods = [
        ("many headers", (0..5000).map(|i| format!("X-Flood-{i}: {i}\r\n")).collect::<String>()),
        ("one huge header", format!("X-Huge: {}\r\n", "h".repeat(4 << 20))),
    ];
    for (what, headers) in &floods {
        let mut answered = Vec::new();
        for _ in 0..20 {
            let mut stream = connect(&server.endpoint);
            let request = format!("GET /{bucket}/warm HTTP/1.1\r\nHost: {address}\r\n{headers}\r\n");
            // The server may close while the flood is still being written.
            let _ = stream.write_all(request.as_bytes());
            answered.push(read_response(&mut stream).0);
        }
        assert!(answered.iter().all(|status| *status != 200), "{what}: {answered:?}");
        let round_trip = normal_round_trip(&client, &bucket, "during-flood").await;
        let rss_during = rss_bytes(&server);
        report(&format!("header flood, {what} (answers {:?})", answered[0]), rss_before, rss_during, round_trip);
        assert!(rss_during < rss_before + RSS_GROWTH_BYTES_MAX, "{what}: {rss_during} bytes resident");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stalled_body_is_dropped_and_a_slow_steady_one_is_not() {
    let server = Server::start_in(tempfile::tempdir().expect("dir"), 4, &LIMITS);
    let client = server.client();
    let bucket = new_bucket(&client, "stall").await;
    // Sends half its body, then nothing: dropped after the stall limit, nothing stored.
    let body = random_bytes(4 << 20);
    let mut stalled = connect(&server.endpoint);
    stalled
        .write_all(signed_put_head(&server.endpoint, &format!("/{bucket}/stalled"), body.len()).as_bytes())
        .expect("head");
    stalled.write_all(&body[..body.len() / 2]).expect("half");
    let (status, text) = read_response(&mut stalled);
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("RequestTimeout"), "{text}");
    let error = client.head_object().bucket(&bucket).key("stalled").send().await.expect_err("nothing stored");
    assert_eq!(error_status(&error), 404);
    // Slow but steady: one piece every second for longer than the stall limit in total.
    let body = random_bytes(64 << 10);
    let mut steady = connect(&server.endpoint);
    steady
        .write_all(signed_put_head(&server.endpoint, &format!("/{bucket}/steady"), body.len()).as_bytes())
        .expect("head");
    crate::raw_client::send_slowly(&mut steady, &body, 8 << 10, Duration::from_secs(1)).expect("body");
    let (status, text) = read_response(&mut steady);
    assert_eq!(status, 200, "{text}");
    assert_eq!(get(&client, &bucket, "steady").await, body);
}

#[tokio::test(flavor = "multi_thread")]
async fn beyond_the_connection_limit_clients_wait_until_a_slot_frees() {
    const LIMIT: usize = 16;
    let mut env = LIMITS.to_vec();
    env.push(("CAIRN_API_CONNECTIONS_MAX", "16"));
    let server = Server::start_in(tempfile::tempdir().expect("dir"), 4, &env);
    let client = server.client();
    let bucket = new_bucket(&client, "limit").await;
    put(&client, &bucket, "k", b"value").await;
    // The SDK's pooled connection would hold a slot too; drop it first.
    drop(client);
    std::thread::sleep(Duration::from_secs(4));
    let address = server.endpoint.trim_start_matches("http://").to_owned();
    let held: Vec<TcpStream> = (0..LIMIT).map(|_| TcpStream::connect(&address).expect("connection")).collect();
    std::thread::sleep(Duration::from_millis(300));
    // The kernel completes the handshake, but the server does not serve it yet.
    let mut waiting = connect(&server.endpoint);
    waiting.write_all(format!("GET /minio/health/live HTTP/1.1\r\nHost: {address}\r\n\r\n").as_bytes()).expect("send");
    waiting.set_read_timeout(Some(Duration::from_secs(1))).expect("timeout");
    let mut byte = [0u8; 1];
    let early = waiting.read(&mut byte);
    assert!(early.is_err(), "served beyond the connection limit: {early:?}");
    drop(held);
    waiting.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
    let (status, text) = read_response(&mut waiting);
    assert_eq!(status, 200, "served once slots freed: {text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn tiny_pages_over_many_keys_and_a_10000_part_upload() {
    const KEYS: usize = 3000;
    const PARTS: i32 = 10_000;
    let server = Server::start_in(tempfile::tempdir().expect("dir"), 4, &LIMITS);
    let client = server.client();
    let bucket = new_bucket(&client, "pages").await;
    let keys: Vec<String> = (0..KEYS).map(|i| format!("dir{}/key-{i:05}", i % 7)).collect();
    for chunk in keys.chunks(64) {
        let puts = chunk.iter().map(|key| {
            let (client, bucket) = (client.clone(), bucket.clone());
            let key = key.clone();
            async move { put(&client, &bucket, &key, key.as_bytes()).await }
        });
        futures::future::join_all(puts).await;
    }
    let rss_before = rss_bytes(&server);
    // Every key, one per page.
    let started = Instant::now();
    let mut listed = 0;
    let mut token: Option<String> = None;
    loop {
        let page = client
            .list_objects_v2()
            .bucket(&bucket)
            .max_keys(1)
            .set_continuation_token(token.clone())
            .send()
            .await
            .expect("page");
        listed += page.contents().len();
        match page.next_continuation_token() {
            Some(next) if page.is_truncated() == Some(true) => token = Some(next.to_owned()),
            _ => break,
        }
        assert!(listed <= KEYS, "the listing does not end");
    }
    assert_eq!(listed, KEYS);
    let pages_elapsed = started.elapsed();
    let round_trip = normal_round_trip(&client, &bucket, "during-pages").await;
    report(
        &format!("{KEYS} pages of max-keys=1 ({} ms in all)", pages_elapsed.as_millis()),
        rss_before,
        rss_bytes(&server),
        round_trip,
    );

    // 10,000 parts of 1 KiB: all stored, listed in pages, Complete refuses the small parts.
    let key = "many-parts";
    let upload = client.create_multipart_upload().bucket(&bucket).key(key).send().await.expect("create");
    let upload_id = upload.upload_id().expect("id").to_owned();
    let started = Instant::now();
    let numbers: Vec<i32> = (1..=PARTS).collect();
    let mut completed = Vec::with_capacity(PARTS as usize);
    for chunk in numbers.chunks(32) {
        let uploads = chunk.iter().map(|number| {
            let (client, bucket, upload_id) = (client.clone(), bucket.clone(), upload_id.clone());
            let number = *number;
            async move {
                let output = client
                    .upload_part()
                    .bucket(&bucket)
                    .key(key)
                    .upload_id(&upload_id)
                    .part_number(number)
                    .body(ByteStream::from(vec![(number % 251) as u8; 1024]))
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("part {number}: {e:?}"));
                (number, output.e_tag().expect("etag").to_owned())
            }
        });
        completed.extend(futures::future::join_all(uploads).await);
    }
    let parts_elapsed = started.elapsed();
    let rss_parts = rss_bytes(&server);
    let too_many = client
        .upload_part()
        .bucket(&bucket)
        .key(key)
        .upload_id(&upload_id)
        .part_number(PARTS + 1)
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .expect_err("part 10,001");
    assert_eq!(error_status(&too_many), 400);
    let mut listed_parts = 0;
    let mut marker: Option<String> = None;
    loop {
        let page = client
            .list_parts()
            .bucket(&bucket)
            .key(key)
            .upload_id(&upload_id)
            .set_part_number_marker(marker.clone())
            .send()
            .await
            .expect("list parts");
        listed_parts += page.parts().len();
        match page.next_part_number_marker() {
            Some(next) if page.is_truncated() == Some(true) => marker = Some(next.to_owned()),
            _ => break,
        }
    }
    assert_eq!(listed_parts, PARTS as usize);
    let round_trip = normal_round_trip(&client, &bucket, "during-parts").await;
    let started = Instant::now();
    let error = crate::multipart::complete_request(&client, (&bucket, key), &upload_id, &completed)
        .send()
        .await
        .expect_err("parts below 5 MiB");
    assert_eq!(error_code(&error), "EntityTooSmall");
    report(
        &format!(
            "{PARTS} parts of 1 KiB ({} ms to upload, Complete refused in {} ms)",
            parts_elapsed.as_millis(),
            started.elapsed().as_millis()
        ),
        rss_before,
        rss_parts.max(rss_bytes(&server)),
        round_trip,
    );
    assert!(rss_bytes(&server) < rss_before + RSS_GROWTH_BYTES_MAX);
    client.abort_multipart_upload().bucket(&bucket).key(key).upload_id(&upload_id).send().await.expect("abort");
}
