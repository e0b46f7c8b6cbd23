//! A pool of concurrent writers of mixed objects that a test can fault under: each
//! write is recorded with its checksum, its outcome and when it started and ended, so
//! the test can tell which failures a fault excuses.

use crate::harness::random_bytes;
use crate::util::{CONCURRENCY, KIB, MIB, ObjectSpec, try_put, try_put_multipart};
use aws_sdk_s3::Client;
use md5::{Digest, Md5};
use rand::Rng;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;

/// Every this many writes, one is a multipart upload (the last of each run).
const MULTIPART_EVERY: usize = 150;
/// Every this many writes, one is a single PUT of several erasure blocks.
const LARGE_EVERY: usize = 25;
/// Size of a multipart upload's parts, except the last: S3's minimum.
const PART_BYTES: usize = 5 * MIB;
/// Bounds of the small objects, most of the load: inline and just above.
const SMALL_BYTES_MAX: usize = 100 * KIB;
/// Bounds of the large single PUTs.
const LARGE_BYTES: std::ops::RangeInclusive<usize> = MIB..=3 * MIB;
/// Bounds of the number of parts of a multipart upload.
const PARTS: std::ops::RangeInclusive<usize> = 2..=3;

/// One finished write.
#[derive(Debug)]
pub struct Outcome {
    pub key: String,
    pub spec: ObjectSpec,
    pub started: Instant,
    pub finished: Instant,
    /// Why the write failed; `None` if the store acknowledged it.
    pub error: Option<String>,
}

/// State shared by the writers.
struct Progress {
    /// Index of the next write to start; writes `0..count` are made.
    next: AtomicUsize,
    /// How many writes finished, successfully or not.
    finished: AtomicUsize,
    outcomes: Mutex<Vec<Outcome>>,
}

/// [`CONCURRENCY`] writers making `count` writes between them, running until done.
pub struct Load {
    progress: Arc<Progress>,
    writers: Vec<JoinHandle<()>>,
}

impl Load {
    /// Starts writers that write keys `<prefix>/<index>-<shape>` into `bucket`.
    pub fn start(client: &Client, bucket: &str, prefix: &str, count: usize) -> Load {
        let progress = Arc::new(Progress {
            next: AtomicUsize::new(0),
            finished: AtomicUsize::new(0),
            outcomes: Mutex::new(Vec::with_capacity(count)),
        });
        let writers = (0..CONCURRENCY)
            .map(|_| {
                let (client, bucket, prefix, progress) =
                    (client.clone(), bucket.to_owned(), prefix.to_owned(), Arc::clone(&progress));
                tokio::spawn(async move {
                    loop {
                        let index = progress.next.fetch_add(1, Ordering::SeqCst);
                        if index >= count {
                            break;
                        }
                        let outcome = write_one(&client, &bucket, &prefix, index).await;
                        progress.outcomes.lock().unwrap_or_else(PoisonError::into_inner).push(outcome);
                        progress.finished.fetch_add(1, Ordering::SeqCst);
                    }
                })
            })
            .collect();
        Load { progress, writers }
    }

    /// How many writes finished so far.
    pub fn finished(&self) -> usize {
        self.progress.finished.load(Ordering::SeqCst)
    }

    /// Waits until at least `count` writes finished; panics after `limit`.
    pub async fn wait_finished(&self, count: usize, limit: Duration) {
        /// Short, so that a fault lands close to the count the test asked for.
        const WATCH_INTERVAL: Duration = Duration::from_millis(10);
        let deadline = Instant::now() + limit;
        while self.finished() < count {
            assert!(Instant::now() < deadline, "only {} of {count} writes finished within {limit:?}", self.finished());
            tokio::time::sleep(WATCH_INTERVAL).await;
        }
    }

    /// Waits for every write to finish (panics after `limit`) and hands back the outcomes.
    pub async fn finish(self, limit: Duration) -> Vec<Outcome> {
        let deadline = tokio::time::Instant::now() + limit;
        for writer in self.writers {
            let joined = tokio::time::timeout_at(deadline, writer).await;
            let joined = joined.unwrap_or_else(|_| panic!("the writers did not finish within {limit:?}"));
            joined.expect("a writer panicked");
        }
        std::mem::take(&mut *self.progress.outcomes.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// What write `index` uploads.
enum Shape {
    Single(usize),
    Multipart(Vec<usize>),
}

fn shape(index: usize) -> Shape {
    let mut random = rand::rng();
    if index % MULTIPART_EVERY == MULTIPART_EVERY - 1 {
        let parts = random.random_range(PARTS);
        let mut sizes = vec![PART_BYTES; parts - 1];
        sizes.push(random.random_range(MIB..=PART_BYTES));
        Shape::Multipart(sizes)
    } else if index % LARGE_EVERY == LARGE_EVERY / 2 {
        Shape::Single(random.random_range(LARGE_BYTES))
    } else {
        Shape::Single(random.random_range(0..=SMALL_BYTES_MAX))
    }
}

async fn write_one(client: &Client, bucket: &str, prefix: &str, index: usize) -> Outcome {
    match shape(index) {
        Shape::Single(size) => {
            let key = format!("{prefix}/{index:05}-single");
            let body = random_bytes(size);
            let started = Instant::now();
            let result = try_put(client, bucket, &key, &body).await;
            Outcome { key, spec: ObjectSpec::of(&body), started, finished: Instant::now(), error: result.err() }
        }
        Shape::Multipart(sizes) => {
            let key = format!("{prefix}/{index:05}-multipart");
            let parts: Vec<Vec<u8>> = sizes.iter().map(|size| random_bytes(*size)).collect();
            let mut whole = Md5::new();
            parts.iter().for_each(|part| whole.update(part));
            let spec = ObjectSpec {
                md5: hex::encode(whole.finalize()),
                size: parts.iter().map(Vec::len).sum(),
                parts: parts.len(),
            };
            let started = Instant::now();
            let result = try_put_multipart(client, bucket, &key, &parts).await;
            Outcome { key, spec, started, finished: Instant::now(), error: result.err() }
        }
    }
}

#[test]
fn shapes_keep_the_load_modest() {
    // Upper bound of 600 writes: the failover test's volume on a two-core machine.
    let writes = 600;
    let multipart = writes / MULTIPART_EVERY * (*PARTS.end() * PART_BYTES);
    let large = writes / LARGE_EVERY * *LARGE_BYTES.end();
    let small = writes * SMALL_BYTES_MAX;
    assert!(multipart + large + small < 200 * MIB, "the worst case is {} MiB", (multipart + large + small) / MIB);
}
