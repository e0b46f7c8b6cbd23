//! A peer that hangs (SIGSTOP: its sockets stay open, nothing answers) costs a node at
//! most an RPC timeout: requests keep completing, and soon at full speed again.

use crate::harness::{new_bucket, random_bytes};
use crate::nodes::Cluster;
use crate::util::{
    KIB, MIB, ObjectSpec, REQUEST_TIMEOUT, bounded, read_md5, try_put, verify_objects, within, write_objects,
};
use aws_sdk_s3::Client;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;

/// Requests made through node 1 while node 3 hangs: PUTs and GETs alternately.
const REQUESTS: usize = 20;
/// Liveness bound on each of them: the first may wait out an RPC timeout.
const REQUEST_LIMIT: Duration = Duration::from_secs(20);
/// Liveness bound on each of the later half: by then node 1 must have stopped waiting
/// on the hung peer. Generous: this is not a performance test.
const SETTLED_REQUEST_LIMIT: Duration = Duration::from_secs(5);
/// Objects written before the peer hangs, read back while it hangs.
const OBJECTS_BEFORE: usize = 10;
/// Pause between two writes of the background load.
const BACKGROUND_PAUSE: Duration = Duration::from_millis(100);
/// Size of the background load's objects.
const BACKGROUND_BYTES: usize = 4 * KIB;

fn size_of(index: usize) -> usize {
    if index.is_multiple_of(2) { 20 * KIB } else { MIB + 5 }
}

/// Small writes through one node until stopped; their failures are not the test's concern.
struct BackgroundLoad {
    stop: Arc<AtomicBool>,
    succeeded: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl BackgroundLoad {
    fn start(client: Client, bucket: String) -> BackgroundLoad {
        let stop = Arc::new(AtomicBool::new(false));
        let succeeded = Arc::new(AtomicUsize::new(0));
        let (stop_seen, counted) = (Arc::clone(&stop), Arc::clone(&succeeded));
        let task = tokio::spawn(async move {
            let body = random_bytes(BACKGROUND_BYTES);
            for index in 0.. {
                if stop_seen.load(Ordering::SeqCst) {
                    break;
                }
                if try_put(&client, &bucket, &format!("background/{index:05}"), &body).await.is_ok() {
                    counted.fetch_add(1, Ordering::SeqCst);
                }
                tokio::time::sleep(BACKGROUND_PAUSE).await;
            }
        });
        BackgroundLoad { stop, succeeded, task }
    }

    /// Stops the load (its last write is bounded by the request timeout); returns how many writes succeeded.
    async fn stop(self) -> usize {
        self.stop.store(true, Ordering::SeqCst);
        bounded(REQUEST_TIMEOUT * 2, "stopping the background load", self.task)
            .await
            .expect("the background load panicked");
        self.succeeded.load(Ordering::SeqCst)
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn hung_peer_does_not_stall_requests() {
    let mut cluster = Cluster::start(3).await;
    let client = cluster.client(1);
    let bucket = new_bucket(&client, "hung").await;
    let plan = (0..OBJECTS_BEFORE).map(|i| (format!("before/{i:02}"), size_of(i))).collect();
    let mut objects = write_objects(&client, &bucket, plan).await;
    let background = BackgroundLoad::start(cluster.client(2), bucket.clone());

    cluster.sigstop(3);
    let mut timings = Vec::with_capacity(REQUESTS);
    let mut failure = None;
    for index in 0..REQUESTS {
        let started = Instant::now();
        let result = if index.is_multiple_of(2) {
            let key = format!("during/{index:02}");
            let body = random_bytes(size_of(index / 2));
            let put = within(REQUEST_LIMIT, &format!("PUT {key}"), try_put(&client, &bucket, &key, &body)).await;
            objects.insert(key, ObjectSpec::of(&body));
            put.and_then(|written| written)
        } else {
            let key = format!("before/{:02}", (index / 2) % OBJECTS_BEFORE);
            let expected = objects[&key].md5.clone();
            match within(REQUEST_LIMIT, &format!("GET {key}"), read_md5(&client, &bucket, &key)).await {
                Ok(Ok(Some(md5))) if md5 == expected => Ok(()),
                Ok(Ok(other)) => Err(format!("GET {key}: MD5 {other:?}, wrote {expected}")),
                Ok(Err(error)) | Err(error) => Err(error),
            }
        };
        timings.push((index, started.elapsed()));
        if let Err(error) = result {
            failure = Some(format!("request {index} failed with node 3 hung: {error}"));
            break;
        }
    }
    cluster.sigcont(3);
    let background_writes = background.stop().await;
    eprintln!("request timings with node 3 hung: {timings:?}; background writes that succeeded: {background_writes}");
    if let Some(failure) = failure {
        panic!("{failure}; timings so far: {timings:?}{}", cluster.logs());
    }
    let slow: Vec<_> =
        timings.iter().filter(|(index, took)| *index >= REQUESTS / 2 && *took > SETTLED_REQUEST_LIMIT).collect();
    assert!(
        slow.is_empty(),
        "requests in the later half still took over {SETTLED_REQUEST_LIMIT:?} with node 3 hung: {slow:?} (all: \
         {timings:?})"
    );

    cluster.wait_all_healthy().await;
    verify_objects(&cluster.client(3), &bucket, &objects, "node 3 after it resumed").await;
}
