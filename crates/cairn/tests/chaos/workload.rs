//! Concurrent clients doing PUT (inline, multi-block, multipart), overwrites of shared
//! keys, GET, ranged GET, DELETE and listings through random nodes, recording every
//! operation in the shared [`History`]. Each client's choices come from its own seeded
//! generator, so a seed replays the same sequence of requests (their timing, and so
//! their interleaving with faults, is the machine's).

use crate::body::{BODY_BYTES_MIN, attribute, body};
use crate::history::{Effect, History, Listing, Mutation, Observed, Outcome, Read};
use aws_sdk_s3::Client;
use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;

const KIB: usize = 1 << 10;
const MIB: usize = 1 << 20;
/// Shared keys every client reads, writes and deletes: few, so that writes overlap.
pub const KEYS: usize = 24;
/// Keys written once before the first round and only read afterwards: the stable
/// population that bit flips and wiped drives damage for good, so healing must repair it.
const COLD_KEYS: usize = 12;
/// Largest body of an inline PUT: below the 128 KiB inline limit.
const INLINE_BYTES_MAX: usize = 120 * KIB;
/// Sizes of a multi-block PUT (1 MiB erasure blocks).
const LARGE_BYTES: std::ops::RangeInclusive<usize> = MIB + 1..=6 * MIB;
/// First part of a multipart upload: S3's minimum part size.
const PART_BYTES: usize = 5 * MIB;
/// Sizes of the last part of a multipart upload.
const LAST_PART_BYTES: std::ops::RangeInclusive<usize> = 64 * KIB..=2 * MIB;
/// Bytes asked for by a ranged GET.
const RANGE_BYTES: std::ops::RangeInclusive<u64> = 64..=256 * 1024;
/// Bound on one request; the first request after a fault may wait out internal timeouts.
const REQUEST_LIMIT: Duration = Duration::from_secs(45);
/// Bound on a whole multipart upload.
const MULTIPART_LIMIT: Duration = Duration::from_secs(90);
/// Page sizes of listings (small ones exercise continuation).
const PAGE_SIZES: [i32; 3] = [4, 10, 1000];
/// Pages a listing may take before it is a bug.
const LIST_PAGES_MAX: usize = 100;

/// Operation kinds and their weights in the mix.
const MIX: [(Op, u32); 8] = [
    (Op::PutInline, 28),
    (Op::PutLarge, 8),
    (Op::Multipart, 3),
    (Op::Get, 24),
    (Op::RangedGet, 12),
    (Op::Delete, 8),
    (Op::List, 7),
    (Op::Head, 4),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Op {
    PutInline,
    PutLarge,
    Multipart,
    Get,
    RangedGet,
    Delete,
    List,
    Head,
}

/// A request that failed, for the report.
#[derive(Debug, Clone)]
pub struct Failure {
    pub node: usize,
    pub op: Op,
    pub error: String,
}

impl Failure {
    /// The server answered with a 5xx status (the error text is `HTTP <status>`,
    /// perhaps after the step it failed at, as in `part 1: HTTP 503`).
    pub fn is_server_error(&self) -> bool {
        self.error.contains("HTTP 5")
    }
}

/// What the clients did.
#[derive(Debug, Default)]
pub struct Stats {
    pub ops: BTreeMap<Op, usize>,
    pub failures: Vec<Failure>,
}

impl Stats {
    pub fn merge(&mut self, other: Stats) {
        for (op, count) in other.ops {
            *self.ops.entry(op).or_default() += count;
        }
        self.failures.extend(other.failures);
    }
}

/// What the clients share.
#[derive(Clone)]
pub struct Shared {
    pub history: Arc<Mutex<History>>,
    /// The next write id; ids start at 1 (0 is never written).
    pub next_id: Arc<AtomicU64>,
    pub bucket: String,
}

impl Shared {
    pub fn new(bucket: &str) -> Shared {
        Shared { history: Arc::default(), next_id: Arc::new(AtomicU64::new(1)), bucket: bucket.to_owned() }
    }

    pub fn history(&self) -> std::sync::MutexGuard<'_, History> {
        self.history.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Running clients; [`Workload::stop`] ends them and hands back their stats.
pub struct Workload {
    stop: Arc<AtomicBool>,
    /// While set, clients start no new request (their current one finishes).
    held: Arc<AtomicBool>,
    tasks: Vec<JoinHandle<Stats>>,
}

/// How often a held client looks whether it may go on.
const HELD_POLL: Duration = Duration::from_millis(5);

pub fn key_name(index: usize) -> String {
    format!("k/{index:02}")
}

fn cold_key_name(index: usize) -> String {
    format!("cold/{index:02}")
}

impl Workload {
    /// Starts `client_count` clients; client `c` of round `round` draws from `(seed, round, c)`.
    pub fn start(clients: Vec<Client>, shared: &Shared, seed: u64, round: usize, client_count: usize) -> Workload {
        let stop = Arc::new(AtomicBool::new(false));
        let held = Arc::new(AtomicBool::new(false));
        let tasks = (0..client_count)
            .map(|c| {
                let mut client = Worker {
                    clients: clients.clone(),
                    shared: shared.clone(),
                    random: StdRng::seed_from_u64(seed ^ ((round as u64) << 32) ^ (c as u64 + 1)),
                    round,
                    stats: Stats::default(),
                };
                let (stop, held) = (Arc::clone(&stop), Arc::clone(&held));
                tokio::spawn(async move {
                    while !stop.load(Ordering::SeqCst) {
                        if held.load(Ordering::SeqCst) {
                            tokio::time::sleep(HELD_POLL).await;
                            continue;
                        }
                        client.one().await;
                    }
                    client.stats
                })
            })
            .collect();
        Workload { stop, held, tasks }
    }

    /// Holds (or releases) the clients between requests: a read-only remount needs a
    /// moment without files open for writing, which a steady load never leaves.
    pub fn hold(&self, held: bool) {
        self.held.store(held, Ordering::SeqCst);
    }

    /// Stops the clients after their current request and waits for them.
    pub async fn stop(self) -> Stats {
        self.stop.store(true, Ordering::SeqCst);
        let mut stats = Stats::default();
        for task in self.tasks {
            stats.merge(task.await.expect("a client panicked"));
        }
        stats
    }
}

/// A multipart upload whose parts are uploaded, ready to complete.
pub struct Upload {
    key: String,
    /// The write id of its body.
    id: u64,
    len: u64,
    upload_id: String,
    parts: Vec<CompletedPart>,
}

/// One client's state: the nodes' clients, its random choices, what it did.
pub struct Worker {
    /// One client per node; node `n` is `clients[n - 1]`.
    clients: Vec<Client>,
    shared: Shared,
    random: StdRng,
    round: usize,
    stats: Stats,
}

/// How a failed request ended: with an answer from the server, or without one.
fn outcome_of_error<E, R>(error: &SdkError<E, R>) -> Outcome {
    match error {
        SdkError::ServiceError(_) | SdkError::ResponseError(_) => Outcome::Refused(Instant::now()),
        _ => Outcome::Unknown,
    }
}

fn status_of<E>(error: &SdkError<E, aws_smithy_runtime_api::http::Response>) -> u16 {
    error.raw_response().map(|r| r.status().as_u16()).unwrap_or(0)
}

/// A short description of a failed request, for the report.
fn describe<E: std::fmt::Debug>(error: &SdkError<E, aws_smithy_runtime_api::http::Response>) -> String {
    match error {
        SdkError::ServiceError(service) => format!("HTTP {}", service.raw().status().as_u16()),
        SdkError::TimeoutError(_) => "timeout".to_owned(),
        SdkError::DispatchFailure(_) => "no connection".to_owned(),
        SdkError::ResponseError(_) => "bad response".to_owned(),
        other => format!("{other:?}").chars().take(120).collect(),
    }
}

impl Worker {
    /// A worker over one client (for checks and the crash loop) recording into `round`.
    pub fn single(client: &Client, shared: &Shared, round: usize) -> Worker {
        Worker {
            clients: vec![client.clone()],
            shared: shared.clone(),
            random: StdRng::seed_from_u64(0),
            round,
            stats: Stats::default(),
        }
    }

    fn pick_op(&mut self) -> Op {
        let total: u32 = MIX.iter().map(|(_, weight)| weight).sum();
        let mut roll = self.random.random_range(0..total);
        for (op, weight) in MIX {
            if roll < weight {
                return op;
            }
            roll -= weight;
        }
        unreachable!("the roll is below the total weight")
    }

    async fn one(&mut self) {
        let node = self.random.random_range(1..=self.clients.len());
        let op = self.pick_op();
        // Reads also visit the cold keys; mutations only the shared hot ones.
        let reads = matches!(op, Op::Get | Op::RangedGet | Op::Head);
        let index = self.random.random_range(0..if reads { KEYS + COLD_KEYS } else { KEYS });
        let key = if index < KEYS { key_name(index) } else { cold_key_name(index - KEYS) };
        *self.stats.ops.entry(op).or_default() += 1;
        let client = self.clients[node - 1].clone();
        let label = format!("{op:?} via node {node} (round {})", self.round);
        let result = match op {
            Op::PutInline => {
                let len = self.random.random_range(BODY_BYTES_MIN..=INLINE_BYTES_MAX);
                self.put(&client, &key, len, label).await
            }
            Op::PutLarge => {
                let len = self.random.random_range(LARGE_BYTES);
                self.put(&client, &key, len, label).await
            }
            Op::Multipart => {
                let last = self.random.random_range(LAST_PART_BYTES);
                self.multipart(&client, &key, last, label).await
            }
            Op::Get => self.get(&client, &key, None, label).await,
            Op::RangedGet => {
                // Half the ranges start inside any object, half anywhere up to the largest.
                let end = if self.random.random_bool(0.5) { BODY_BYTES_MIN as u64 } else { (6 * MIB) as u64 };
                let start = self.random.random_range(0..end);
                let len = self.random.random_range(RANGE_BYTES);
                self.get(&client, &key, Some((start, len)), label).await
            }
            Op::Head => self.head(&client, &key, label).await,
            Op::Delete => self.delete(&client, &key, label).await,
            Op::List => {
                let page = PAGE_SIZES[self.random.random_range(0..PAGE_SIZES.len())];
                self.list(&client, page, label).await
            }
        };
        if let Err(error) = result {
            self.stats.failures.push(Failure { node, op, error });
        }
    }

    fn next_id(&self) -> u64 {
        self.shared.next_id.fetch_add(1, Ordering::SeqCst)
    }

    fn record(&self, key: &str, effect: Effect, start: Instant, outcome: Outcome, label: String) {
        let mutation = Mutation { key: key.to_owned(), effect, start, outcome, round: self.round, label };
        self.shared.history().record_mutation(mutation);
    }

    pub async fn put(&self, client: &Client, key: &str, len: usize, label: String) -> Result<(), String> {
        let id = self.next_id();
        let data = body(id, len);
        let start = Instant::now();
        let request = client.put_object().bucket(&self.shared.bucket).key(key).body(ByteStream::from(data)).send();
        let (outcome, result) = match tokio::time::timeout(REQUEST_LIMIT, request).await {
            Ok(Ok(_)) => (Outcome::Acked(Instant::now()), Ok(())),
            Ok(Err(error)) => (outcome_of_error(&error), Err(describe(&error))),
            Err(_) => (Outcome::Unknown, Err("no answer in time".to_owned())),
        };
        let effect = Effect::Write { id, len: len as u64 };
        self.record(key, effect, start, outcome, format!("{label}: PUT {len} bytes as write {id}"));
        result
    }

    async fn multipart(&self, client: &Client, key: &str, last: usize, label: String) -> Result<(), String> {
        let upload = match tokio::time::timeout(MULTIPART_LIMIT, self.prepare_upload(client, key, last)).await {
            Ok(Ok(upload)) => upload,
            Ok(Err(error)) => return Err(error),
            Err(_) => return Err("parts: no answer in time".to_owned()),
        };
        self.complete_upload(client, upload, label).await
    }

    /// Creates a multipart upload of two parts (5 MiB and `last` bytes) and uploads
    /// them. Nothing is visible before the upload completes, so nothing is recorded.
    pub async fn prepare_upload(&self, client: &Client, key: &str, last: usize) -> Result<Upload, String> {
        let id = self.next_id();
        let len = PART_BYTES + last;
        let data = body(id, len);
        let bucket = &self.shared.bucket;
        let created = client.create_multipart_upload().bucket(bucket).key(key).send().await;
        let upload_id = created.map_err(|e| format!("create: {}", describe(&e)))?.upload_id.unwrap_or_default();
        let mut parts = Vec::new();
        for (index, range) in [0..PART_BYTES, PART_BYTES..len].into_iter().enumerate() {
            let number = i32::try_from(index + 1).expect("two parts");
            let part = ByteStream::from(data[range].to_vec());
            let request = client.upload_part().bucket(bucket).key(key).upload_id(&upload_id).part_number(number);
            match request.body(part).send().await {
                Ok(done) => parts.push(CompletedPart::builder().part_number(number).set_e_tag(done.e_tag).build()),
                Err(error) => {
                    self.abort(client, key, Some(upload_id)).await;
                    return Err(format!("part {number}: {}", describe(&error)));
                }
            }
        }
        Ok(Upload { key: key.to_owned(), id, len: len as u64, upload_id, parts })
    }

    /// Completes a prepared upload: the moment its write may become visible.
    pub async fn complete_upload(&self, client: &Client, upload: Upload, label: String) -> Result<(), String> {
        let Upload { key, id, len, upload_id, parts } = upload;
        let start = Instant::now();
        let completion = CompletedMultipartUpload::builder().set_parts(Some(parts)).build();
        let request = client
            .complete_multipart_upload()
            .bucket(&self.shared.bucket)
            .key(&key)
            .upload_id(&upload_id)
            .multipart_upload(completion);
        let (outcome, result) = match tokio::time::timeout(REQUEST_LIMIT, request.send()).await {
            Ok(Ok(_)) => (Outcome::Acked(Instant::now()), Ok(())),
            Ok(Err(error)) => (outcome_of_error(&error), Err(format!("complete: {}", describe(&error)))),
            Err(_) => (Outcome::Unknown, Err("complete: no answer in time".to_owned())),
        };
        self.record(
            &key,
            Effect::Write { id, len },
            start,
            outcome,
            format!("{label}: multipart {len} bytes as write {id}"),
        );
        if result.is_err() {
            self.abort(client, &key, Some(upload_id)).await;
        }
        result
    }

    /// Best-effort abort of an upload that did not complete (keeps uploads from piling up).
    async fn abort(&self, client: &Client, key: &str, upload_id: Option<String>) {
        /// Short: a node that does not answer now will have the upload expire or stay.
        const ABORT_LIMIT: Duration = Duration::from_secs(10);
        let Some(upload_id) = upload_id else { return };
        let request = client.abort_multipart_upload().bucket(&self.shared.bucket).key(key).upload_id(upload_id);
        let _ = tokio::time::timeout(ABORT_LIMIT, request.send()).await;
    }

    pub async fn get(
        &self,
        client: &Client,
        key: &str,
        range: Option<(u64, u64)>,
        label: String,
    ) -> Result<(), String> {
        let start = Instant::now();
        let mut request = client.get_object().bucket(&self.shared.bucket).key(key);
        if let Some((first, len)) = range {
            request = request.range(format!("bytes={first}-{}", first + len - 1));
        }
        let exchange = async {
            let output = match request.send().await {
                Ok(output) => output,
                Err(error) if status_of(&error) == 404 => return Ok(Observed::Absent),
                Err(error) if status_of(&error) == 416 => {
                    return Ok(Observed::RangeBeyond { start: range.map_or(0, |(first, _)| first) });
                }
                Err(error) => return Err(describe(&error)),
            };
            let content_range = output.content_range.clone();
            let bytes = output.body.collect().await.map_err(|e| format!("body: {e}"))?.into_bytes();
            let (offset, total) = match (range, content_range) {
                (None, _) => (0, bytes.len() as u64),
                (Some(_), Some(header)) => parse_content_range(&header)?,
                (Some(_), None) => return Err("a ranged GET without Content-Range".to_owned()),
            };
            Ok(Observed::Bytes { offset, total, attribution: attribute(&bytes, offset) })
        };
        let observed = match tokio::time::timeout(REQUEST_LIMIT, exchange).await {
            Ok(Ok(observed)) => observed,
            Ok(Err(error)) => return Err(error),
            Err(_) => return Err("no answer in time".to_owned()),
        };
        let read = Read { key: key.to_owned(), start, end: Instant::now(), observed, label };
        self.shared.history().record_read(read);
        Ok(())
    }

    /// HEAD: the size it reports is checked like a listing's (an object that is there).
    async fn head(&self, client: &Client, key: &str, label: String) -> Result<(), String> {
        let start = Instant::now();
        let request = client.head_object().bucket(&self.shared.bucket).key(key).send();
        let entries = match tokio::time::timeout(REQUEST_LIMIT, request).await {
            Ok(Ok(output)) => vec![(key.to_owned(), u64::try_from(output.content_length.unwrap_or(-1)).unwrap_or(0))],
            Ok(Err(error)) if status_of(&error) == 404 => Vec::new(),
            Ok(Err(error)) => return Err(describe(&error)),
            Err(_) => return Err("no answer in time".to_owned()),
        };
        let Some((_, size)) = entries.first().cloned() else {
            // A 404 is judged like a GET that found nothing.
            let read = Read { key: key.to_owned(), start, end: Instant::now(), observed: Observed::Absent, label };
            self.shared.history().record_read(read);
            return Ok(());
        };
        // A present object: checked as a partial listing (a write of that size may be there).
        let entries = vec![(key.to_owned(), size)];
        let listing = Listing { start, end: Instant::now(), entries, complete: false, label };
        self.shared.history().record_listing(listing);
        Ok(())
    }

    pub async fn delete(&self, client: &Client, key: &str, label: String) -> Result<(), String> {
        let start = Instant::now();
        let request = client.delete_object().bucket(&self.shared.bucket).key(key).send();
        let (outcome, result) = match tokio::time::timeout(REQUEST_LIMIT, request).await {
            Ok(Ok(_)) => (Outcome::Acked(Instant::now()), Ok(())),
            Ok(Err(error)) => (outcome_of_error(&error), Err(describe(&error))),
            Err(_) => (Outcome::Unknown, Err("no answer in time".to_owned())),
        };
        self.record(key, Effect::Delete, start, outcome, format!("{label}: DELETE"));
        result
    }

    pub async fn list(&self, client: &Client, page_size: i32, label: String) -> Result<(), String> {
        let start = Instant::now();
        let listing = async {
            let mut entries = Vec::new();
            let mut token: Option<String> = None;
            for _ in 0..LIST_PAGES_MAX {
                let request = client
                    .list_objects_v2()
                    .bucket(&self.shared.bucket)
                    .max_keys(page_size)
                    .set_continuation_token(token.clone());
                let page = request.send().await.map_err(|e| describe(&e))?;
                for object in page.contents() {
                    let size = u64::try_from(object.size().unwrap_or(-1)).unwrap_or(0);
                    entries.push((object.key().unwrap_or_default().to_owned(), size));
                }
                if page.is_truncated() != Some(true) {
                    return Ok(entries);
                }
                token = page.next_continuation_token().map(str::to_owned);
            }
            Err(format!("the listing did not end within {LIST_PAGES_MAX} pages"))
        };
        let entries = match tokio::time::timeout(REQUEST_LIMIT, listing).await {
            Ok(result) => result?,
            Err(_) => return Err("no answer in time".to_owned()),
        };
        let label = format!("{label}: list (pages of {page_size})");
        let listing = Listing { start, end: Instant::now(), entries, complete: true, label };
        self.shared.history().record_listing(listing);
        Ok(())
    }
}

/// `bytes first-last/total` -> (first, total).
fn parse_content_range(header: &str) -> Result<(u64, u64), String> {
    let bad = || format!("malformed Content-Range {header:?}");
    let spec = header.strip_prefix("bytes ").ok_or_else(bad)?;
    let (range, total) = spec.split_once('/').ok_or_else(bad)?;
    let first = range.split('-').next().ok_or_else(bad)?.parse().map_err(|_| bad())?;
    Ok((first, total.parse().map_err(|_| bad())?))
}

/// Reads each of `keys` once through `client` and lists the bucket, recording the reads
/// and the listing for the next check; returns the requests that failed.
pub async fn read_all(client: &Client, shared: &Shared, keys: &[String], label: &str) -> Vec<String> {
    let worker = Worker::single(client, shared, usize::MAX);
    let mut failures = Vec::new();
    for key in keys {
        if let Err(error) = worker.get(client, key, None, format!("{label}: final GET")).await {
            failures.push(format!("{key}: {error}"));
        }
    }
    if let Err(error) = worker.list(client, 1000, format!("{label}: final")).await {
        failures.push(format!("listing: {error}"));
    }
    failures
}

/// The workload's keys, hot and cold.
pub fn all_keys() -> Vec<String> {
    (0..KEYS).map(key_name).chain((0..COLD_KEYS).map(cold_key_name)).collect()
}

/// Writes the cold keys (inline, multi-block and multipart objects); panics on failure,
/// as the deployment is healthy then.
pub async fn write_cold_keys(client: &Client, shared: &Shared) {
    let worker = Worker::single(client, shared, usize::MAX);
    for index in 0..COLD_KEYS {
        let key = cold_key_name(index);
        let label = format!("cold key {index}");
        let result = match index % 4 {
            0 => worker.multipart(client, &key, 100 * KIB + index, label).await,
            1 => worker.put(client, &key, 40 * KIB + index, label).await,
            _ => worker.put(client, &key, MIB + index * 150 * KIB, label).await,
        };
        result.unwrap_or_else(|e| panic!("writing {key} to a healthy deployment: {e}"));
    }
}

#[test]
fn content_ranges_parse() {
    assert_eq!(parse_content_range("bytes 5-9/100"), Ok((5, 100)));
    assert!(parse_content_range("bytes */100").is_err());
}
