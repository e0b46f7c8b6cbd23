//! The phases of `cairn bench list`, run the same way against every target: populate
//! with real PUTs (bounded concurrency, one small body shared by all), time full
//! ListObjectsV2 listings page by page while checking each returned key against the
//! keys written, and a mixed GET/PUT/list workload. Key names are zero-padded so
//! their byte order is their number order and the expected listing is computed, not
//! stored: memory stays bounded at any key count.

use super::list_rss::RssSampler;
use super::load::Stats;
use super::s3;
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use std::time::{Duration, Instant};

/// Keys per ListObjectsV2 page (the S3 maximum and default).
pub const PAGE_KEYS: i32 = 1000;
/// Objects the mixed phase writes before it starts, and the size of its objects.
pub const MIXED_OBJECTS: usize = 1000;
pub const MIXED_OBJECT_BYTES: usize = 4 << 10;
/// Shares of the mixed phase's operations, in percent (the rest are list pages).
pub const MIXED_GET_PERCENT: u64 = 70;
pub const MIXED_PUT_PERCENT: u64 = 20;
/// The common prefix whose keys are listed on their own in the tree phase.
const TREE_PREFIX_LISTED: usize = 500;
/// Pages one listing may take before it is called endless (pages of 1,000 keys).
const PAGES_MAX: usize = 2_000_000;

/// What every target runs.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Ascending key counts; the last is the total written in the flat phase.
    pub checkpoints: Vec<usize>,
    pub tree_keys: usize,
    pub tree_prefixes: usize,
    pub body_bytes: usize,
    pub concurrency: usize,
    pub mixed_seconds: u64,
    pub mixed_clients: usize,
    /// Buckets have versioning enabled, and the flat and tree listings are
    /// ListObjectVersions (`--versioned`).
    pub versioned: bool,
}

/// Where a listing goes on: ListObjectsV2's continuation token, or ListObjectVersions'
/// key and version-id markers.
enum Position {
    Token(String),
    Markers(String, Option<String>),
}

/// One page of a listing: keys (one per version for ListObjectVersions), common
/// prefixes, and where the next page starts.
type Page = (Vec<String>, Vec<String>, Option<Position>);

/// One S3 endpoint under test.
pub struct Target {
    pub name: String,
    s3: aws_sdk_s3::Client,
    /// Processes whose RSS is sampled during listings (none: not sampled).
    pids: Vec<u32>,
}

/// One full listing, timed page by page.
#[derive(Debug, Clone, Copy, Default)]
pub struct Listing {
    pub keys: usize,
    pub prefixes: usize,
    pub pages: usize,
    pub seconds: f64,
    pub first_page_ms: f64,
    pub page_p50_ms: f64,
    pub page_p99_ms: f64,
    pub page_max_ms: f64,
    /// Server RSS when the listing began and the peak sampled during it, MiB.
    pub rss_mib: Option<(f64, f64)>,
}

/// The flat prefix listed at one key count.
#[derive(Debug, Clone, Copy)]
pub struct Checkpoint {
    pub keys: usize,
    /// PUT rate while the keys since the previous checkpoint were written.
    pub puts_per_s: f64,
    pub listing: Listing,
}

/// Keys under common prefixes, listed with a delimiter and inside one prefix.
#[derive(Debug, Clone)]
pub struct Tree {
    pub keys: usize,
    pub puts_per_s: f64,
    pub delimiter: Listing,
    /// The prefix listed on its own and its listing.
    pub one_prefix: String,
    pub one_prefix_listing: Listing,
}

/// Rate and latency of each operation of the mixed phase.
#[derive(Debug, Clone, Copy)]
pub struct Mixed {
    pub get: Stats,
    pub put: Stats,
    pub list: Stats,
}

/// Everything measured on one target; `error` stops the phases that follow it.
pub struct TargetResult {
    pub name: String,
    pub checkpoints: Vec<Checkpoint>,
    pub tree: Option<Tree>,
    pub mixed: Option<Mixed>,
    pub error: Option<String>,
}

impl Target {
    pub fn new(name: String, endpoint: &str, access_key: &str, secret_key: &str, region: &str, pids: Vec<u32>) -> Self {
        Self { name, s3: s3::client(endpoint, access_key, secret_key, region), pids }
    }

    async fn create_bucket(&self, purpose: &str, versioned: bool) -> Result<String, String> {
        let bucket = format!("bench-{purpose}-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        self.s3.create_bucket().bucket(&bucket).send().await.map_err(|e| format!("create bucket {bucket}: {e:?}"))?;
        if versioned {
            s3::enable_versioning(&self.s3, &bucket).await?;
        }
        Ok(bucket)
    }

    /// One page of `prefix` from `position` on: ListObjectsV2, or ListObjectVersions
    /// when `versions`.
    async fn page(
        &self,
        bucket: &str,
        prefix: &str,
        delimiter: Option<&str>,
        versions: bool,
        position: Option<Position>,
    ) -> Result<Page, String> {
        let failed = |e: &dyn std::fmt::Debug| format!("list {bucket}/{prefix}: {e:?}");
        let prefixes = |common: &[aws_sdk_s3::types::CommonPrefix]| {
            common.iter().map(|c| c.prefix().unwrap_or_default().to_owned()).collect::<Vec<_>>()
        };
        if versions {
            let (key_marker, version_marker) = match position {
                Some(Position::Markers(key, version)) => (Some(key), version),
                _ => (None, None),
            };
            let page = self
                .s3
                .list_object_versions()
                .bucket(bucket)
                .prefix(prefix)
                .set_delimiter(delimiter.map(str::to_owned))
                .max_keys(PAGE_KEYS)
                .set_key_marker(key_marker)
                .set_version_id_marker(version_marker)
                .send()
                .await
                .map_err(|e| failed(&e))?;
            let keys = page.versions().iter().map(|v| v.key().unwrap_or_default().to_owned()).collect();
            let next = (page.is_truncated() == Some(true)).then(|| {
                let key = page.next_key_marker().unwrap_or_default().to_owned();
                Position::Markers(key, page.next_version_id_marker().map(str::to_owned))
            });
            return Ok((keys, prefixes(page.common_prefixes()), next));
        }
        let token = match position {
            Some(Position::Token(token)) => Some(token),
            _ => None,
        };
        let page = self
            .s3
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .set_delimiter(delimiter.map(str::to_owned))
            .max_keys(PAGE_KEYS)
            .set_continuation_token(token)
            .send()
            .await
            .map_err(|e| failed(&e))?;
        let keys = page.contents().iter().map(|o| o.key().unwrap_or_default().to_owned()).collect();
        let next = (page.is_truncated() == Some(true))
            .then(|| Position::Token(page.next_continuation_token().unwrap_or_default().to_owned()));
        Ok((keys, prefixes(page.common_prefixes()), next))
    }

    async fn put(&self, bucket: &str, key: &str, body: Bytes) -> Result<(), String> {
        s3::put(&self.s3, bucket, key, body).await
    }

    async fn get(&self, bucket: &str, key: &str) -> Result<usize, String> {
        s3::get(&self.s3, bucket, key).await
    }

    /// Writes the keys `names(i)` for `i` in `range` with `concurrency` PUTs in
    /// flight; returns PUTs per second.
    async fn populate(
        &self,
        bucket: &str,
        range: std::ops::Range<usize>,
        names: impl Fn(usize) -> String,
        body: &Bytes,
        concurrency: usize,
    ) -> Result<f64, String> {
        let count = range.len();
        let started = Instant::now();
        futures::stream::iter(range.map(Ok))
            .try_for_each_concurrent(concurrency, |i| {
                let key = names(i);
                async move { self.put(bucket, &key, body.clone()).await }
            })
            .await?;
        Ok(count as f64 / started.elapsed().as_secs_f64())
    }

    /// Lists `prefix` in full (pages of `PAGE_KEYS`), timing each page and checking
    /// that the keys and common prefixes are exactly `expected_keys` and
    /// `expected_prefixes`, in that order.
    #[allow(clippy::too_many_arguments)]
    async fn list(
        &self,
        bucket: &str,
        prefix: &str,
        delimiter: Option<&str>,
        versions: bool,
        mut expected_keys: impl Iterator<Item = String>,
        mut expected_prefixes: impl Iterator<Item = String>,
    ) -> Result<Listing, String> {
        let sampler = RssSampler::start(self.pids.clone());
        let mut listing = Listing::default();
        let mut page_times = Vec::new();
        let mut position: Option<Position> = None;
        let started = Instant::now();
        loop {
            if page_times.len() >= PAGES_MAX {
                return Err(format!("listing {bucket}/{prefix} did not end after {PAGES_MAX} pages"));
            }
            let began = Instant::now();
            let (keys, prefixes, next) = self.page(bucket, prefix, delimiter, versions, position.take()).await?;
            page_times.push(began.elapsed());
            for key in &keys {
                check(&mut expected_keys, key, listing.keys, "key")?;
                listing.keys += 1;
            }
            for found in &prefixes {
                check(&mut expected_prefixes, found, listing.prefixes, "common prefix")?;
                listing.prefixes += 1;
            }
            match next {
                None => break,
                Some(Position::Token(token) | Position::Markers(token, _)) if token.is_empty() => {
                    return Err(format!("list {bucket}/{prefix}: a truncated page without where to go on"));
                }
                Some(next) => position = Some(next),
            }
        }
        listing.seconds = started.elapsed().as_secs_f64();
        listing.rss_mib = sampler.stop().await;
        if let Some(missing) = expected_keys.next() {
            return Err(format!("listing ended after {} keys; {missing} and maybe more are missing", listing.keys));
        }
        if let Some(missing) = expected_prefixes.next() {
            return Err(format!("listing ended after {} common prefixes; {missing} is missing", listing.prefixes));
        }
        listing.pages = page_times.len();
        listing.first_page_ms = page_times.first().map_or(0.0, |d| d.as_secs_f64() * 1000.0);
        page_times.sort_unstable();
        listing.page_p50_ms = percentile_ms(&page_times, 0.50);
        listing.page_p99_ms = percentile_ms(&page_times, 0.99);
        listing.page_max_ms = percentile_ms(&page_times, 1.0);
        Ok(listing)
    }
}

/// Compares the `position`th entry a listing returned with the one expected there.
fn check(expected: &mut impl Iterator<Item = String>, found: &str, position: usize, what: &str) -> Result<(), String> {
    match expected.next() {
        Some(want) if want == found => Ok(()),
        Some(want) => Err(format!("{what} {position} of the listing is {found:?}, expected {want:?}")),
        None => Err(format!("{what} {position} of the listing is {found:?}, beyond every {what} written")),
    }
}

/// The `quantile` of sorted latencies, in milliseconds (nearest rank).
fn percentile_ms(sorted: &[Duration], quantile: f64) -> f64 {
    let rank = ((sorted.len() as f64 * quantile).ceil() as usize).clamp(1, sorted.len().max(1)) - 1;
    sorted.get(rank).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

fn stats(mut latencies: Vec<Duration>, elapsed: Duration) -> Stats {
    latencies.sort_unstable();
    Stats {
        ops: latencies.len(),
        ops_per_s: latencies.len() as f64 / elapsed.as_secs_f64(),
        p50_ms: percentile_ms(&latencies, 0.50),
        p99_ms: percentile_ms(&latencies, 0.99),
    }
}

fn flat_key(i: usize) -> String {
    format!("flat/{i:09}")
}

/// Tree key `i` goes round-robin to prefix `i % prefixes`, as its `i / prefixes`th key.
fn tree_key(i: usize, prefixes: usize) -> String {
    format!("{}{:09}", tree_prefix(i % prefixes), i / prefixes)
}

fn tree_prefix(d: usize) -> String {
    format!("dir{d:04}/")
}

/// Runs every phase of `plan` on `target`; the first error ends the run on it.
pub async fn run(target: &Target, plan: &Plan) -> TargetResult {
    let mut result =
        TargetResult { name: target.name.clone(), checkpoints: Vec::new(), tree: None, mixed: None, error: None };
    if let Err(error) = run_phases(target, plan, &mut result).await {
        eprintln!("bench list: {}: {error}", target.name);
        result.error = Some(error);
    }
    result
}

async fn run_phases(target: &Target, plan: &Plan, result: &mut TargetResult) -> Result<(), String> {
    let body = Bytes::from(vec![b'x'; plan.body_bytes]);
    let bucket = target.create_bucket("flat", plan.versioned).await?;
    let mut written = 0;
    for &keys in &plan.checkpoints {
        eprintln!("bench list: {}: PUT keys {written}..{keys}", target.name);
        let puts_per_s = target.populate(&bucket, written..keys, flat_key, &body, plan.concurrency).await?;
        written = keys;
        eprintln!("bench list: {}: listing {keys} keys", target.name);
        let expected = (0..keys).map(flat_key);
        let listing = target.list(&bucket, "flat/", None, plan.versioned, expected, std::iter::empty()).await?;
        result.checkpoints.push(Checkpoint { keys, puts_per_s, listing });
    }
    if plan.tree_keys > 0 {
        result.tree = Some(tree(target, plan, &body).await?);
    }
    if plan.mixed_seconds > 0 {
        result.mixed = Some(mixed(target, plan).await?);
    }
    Ok(())
}

async fn tree(target: &Target, plan: &Plan, body: &Bytes) -> Result<Tree, String> {
    let (keys, prefixes) = (plan.tree_keys, plan.tree_prefixes);
    let bucket = target.create_bucket("tree", plan.versioned).await?;
    eprintln!("bench list: {}: PUT {keys} keys over {prefixes} prefixes", target.name);
    let puts_per_s = target.populate(&bucket, 0..keys, |i| tree_key(i, prefixes), body, plan.concurrency).await?;
    eprintln!("bench list: {}: delimiter listing", target.name);
    let used = prefixes.min(keys);
    let expected = (0..used).map(tree_prefix);
    let delimiter = target.list(&bucket, "", Some("/"), plan.versioned, std::iter::empty(), expected).await?;
    let listed = TREE_PREFIX_LISTED.min(used - 1);
    let in_listed = (listed..keys).step_by(prefixes).map(|i| tree_key(i, prefixes));
    let one_prefix = tree_prefix(listed);
    let one_prefix_listing =
        target.list(&bucket, &one_prefix, Some("/"), plan.versioned, in_listed, std::iter::empty()).await?;
    Ok(Tree { keys, puts_per_s, delimiter, one_prefix, one_prefix_listing })
}

/// A small xorshift generator per client: cheap, `Send`, and seeded per client so
/// runs choose the same operations.
struct Choices(u64);

impl Choices {
    fn next(&mut self, below: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % below
    }
}

async fn mixed(target: &Target, plan: &Plan) -> Result<Mixed, String> {
    let bucket = target.create_bucket("mixed", plan.versioned).await?;
    let mut body = vec![0u8; MIXED_OBJECT_BYTES];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut body);
    let body = Bytes::from(body);
    let name = |i: usize| format!("obj/{i:06}");
    eprintln!("bench list: {}: mixed phase, {} clients", target.name, plan.mixed_clients);
    target.populate(&bucket, 0..MIXED_OBJECTS, name, &body, plan.concurrency).await?;
    let phase = Duration::from_secs(plan.mixed_seconds);
    let started = Instant::now();
    let clients = (0..plan.mixed_clients).map(|client| {
        let (bucket, body) = (&bucket, &body);
        async move {
            let mut choices = Choices(0x9E37_79B9_7F4A_7C15 ^ (client as u64 + 1).wrapping_mul(0x2545_F491_4F6C_DD1D));
            let mut latencies: [Vec<Duration>; 3] = Default::default();
            let mut i = 0;
            while started.elapsed() < phase {
                let roll = choices.next(100);
                let existing = name(choices.next(MIXED_OBJECTS as u64) as usize);
                let began = Instant::now();
                let kind = if roll < MIXED_GET_PERCENT {
                    let length = target.get(bucket, &existing).await?;
                    if length != MIXED_OBJECT_BYTES {
                        return Err(format!("get {existing}: read {length} bytes"));
                    }
                    0
                } else if roll < MIXED_GET_PERCENT + MIXED_PUT_PERCENT {
                    target.put(bucket, &format!("new/{client:04}/{i:09}"), body.clone()).await?;
                    1
                } else {
                    let page = target.s3.list_objects_v2().bucket(bucket).start_after(&existing).max_keys(PAGE_KEYS);
                    page.send().await.map_err(|e| format!("list {bucket} after {existing}: {e:?}"))?;
                    2
                };
                latencies[kind].push(began.elapsed());
                i += 1;
            }
            Ok::<_, String>(latencies)
        }
    });
    // The clients run as one task's futures: the client side of a request is small
    // next to the server's, and this keeps the borrowed target and bucket simple.
    let mut all: [Vec<Duration>; 3] = Default::default();
    let mut finished = futures::stream::iter(clients).buffer_unordered(plan.mixed_clients);
    while let Some(latencies) = finished.next().await {
        for (into, from) in all.iter_mut().zip(latencies?) {
            into.extend(from);
        }
    }
    let elapsed = started.elapsed();
    let [get, put, list] = all.map(|latencies| stats(latencies, elapsed));
    Ok(Mixed { get, put, list })
}
