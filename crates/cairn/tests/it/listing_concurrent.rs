//! Listings are correct while writes and deletes run (issue 10): a client pages
//! through ListObjectsV2 in small pages, recursively and with a delimiter, while
//! writers create and delete keys that sort between the stable ones. Every stable
//! key (and stable common prefix) must come exactly once, entries must come in
//! strictly ascending order across pages, and nothing may appear that was never
//! written.

use crate::harness::*;
use aws_sdk_s3::Client;
use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// Stable keys `s/k0000-s`..; every `STABLE_DIR_EVERY`th index also has a stable
/// "directory" `s/kNNNN-t/leaf`, a common prefix of the delimiter listing.
const STABLE_KEYS: usize = 300;
const STABLE_DIR_EVERY: usize = 5;
/// Concurrent writers, how many of its keys each keeps alive before deleting the
/// oldest, and the most operations each may do (the loop's bound).
const WRITERS: usize = 8;
const WRITER_ALIVE_MAX: usize = 3;
const WRITER_OPS_MAX: usize = 5_000;
/// Small pages, so that a listing takes many pages while the writers run.
const PAGE_KEYS: i32 = 50;
/// Full listings of each kind (recursive, delimited).
const PASSES: usize = 5;
/// Pages one listing may take before it is called endless.
const PAGES_MAX: usize = 1_000;

fn stable_key(i: usize) -> String {
    format!("s/k{i:04}-s")
}

fn stable_dir(i: usize) -> String {
    format!("s/k{i:04}-t/")
}

/// A churn key: `-c` sorts before `-s`, so it lands between stable keys `i - 1` and `i`.
fn churn_key(i: usize, writer: usize, n: usize) -> String {
    if n.is_multiple_of(3) { format!("s/k{i:04}-c{writer}-{n}/leaf") } else { format!("s/k{i:04}-c{writer}-{n}") }
}

/// Creates and deletes churn keys until `stop` (or `WRITER_OPS_MAX`), recording each
/// key in `written` before its PUT is sent. Returns the operations done.
async fn churn(
    client: Client,
    bucket: String,
    writer: usize,
    written: Arc<Mutex<HashSet<String>>>,
    stop: Arc<AtomicBool>,
    operations: Arc<AtomicUsize>,
) {
    let mut alive = VecDeque::new();
    let mut state = 0x9E37_79B9_7F4A_7C15u64 ^ (writer as u64 + 1);
    for n in 0..WRITER_OPS_MAX {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let key = churn_key(state as usize % STABLE_KEYS, writer, n);
        written.lock().expect("written set").insert(key.clone());
        put(&client, &bucket, &key, b"churn").await;
        alive.push_back(key);
        if alive.len() > WRITER_ALIVE_MAX {
            let oldest = alive.pop_front().expect("more than the bound alive");
            client.delete_object().bucket(&bucket).key(&oldest).send().await.expect("delete churn key");
        }
        operations.fetch_add(1, Ordering::Relaxed);
    }
}

/// One full listing of `s/` in pages of `PAGE_KEYS`: every page's keys and common
/// prefixes, merged in order.
async fn list_pages(client: &Client, bucket: &str, delimiter: Option<&str>) -> Vec<Vec<String>> {
    let mut pages = Vec::new();
    let mut token: Option<String> = None;
    loop {
        assert!(pages.len() < PAGES_MAX, "the listing did not end after {PAGES_MAX} pages");
        let output = client
            .list_objects_v2()
            .bucket(bucket)
            .prefix("s/")
            .set_delimiter(delimiter.map(str::to_owned))
            .max_keys(PAGE_KEYS)
            .set_continuation_token(token.take())
            .send()
            .await
            .expect("list page");
        let keys: Vec<String> = output.contents().iter().filter_map(|o| o.key().map(str::to_owned)).collect();
        let prefixes: Vec<String> =
            output.common_prefixes().iter().filter_map(|p| p.prefix().map(str::to_owned)).collect();
        assert!(keys.len() + prefixes.len() <= PAGE_KEYS as usize, "a page is larger than max-keys");
        for list in [&keys, &prefixes] {
            assert!(list.windows(2).all(|w| w[0] < w[1]), "a page's entries are not strictly ascending: {list:?}");
        }
        let mut page = keys;
        page.extend(prefixes);
        page.sort();
        pages.push(page);
        if output.is_truncated() != Some(true) {
            return pages;
        }
        token = output.next_continuation_token().map(str::to_owned);
        assert!(token.is_some(), "a truncated page without a continuation token");
    }
}

/// Checks one listing: strictly ascending across pages, the stable entries exactly
/// once, nothing that was never written.
fn check_listing(pages: &[Vec<String>], delimited: bool, written: &HashSet<String>) {
    let entries: Vec<&String> = pages.iter().flatten().collect();
    for pair in entries.windows(2) {
        assert!(pair[0] < pair[1], "entries out of order or repeated across pages: {:?} then {:?}", pair[0], pair[1]);
    }
    let seen: HashSet<&str> = entries.iter().map(|e| e.as_str()).collect();
    for i in 0..STABLE_KEYS {
        let key = stable_key(i);
        assert!(seen.contains(key.as_str()), "stable key {key} is missing from the listing");
        if i.is_multiple_of(STABLE_DIR_EVERY) {
            let dir = stable_dir(i);
            let want = if delimited { dir } else { format!("{dir}leaf") };
            assert!(seen.contains(want.as_str()), "stable entry {want} is missing from the listing");
        }
    }
    for entry in entries {
        let known = if delimited && entry.ends_with('/') {
            written.iter().any(|key| key.starts_with(entry.as_str()))
        } else {
            written.contains(entry)
        };
        assert!(known, "the listing returned {entry:?}, which was never written");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn listings_are_correct_while_writes_and_deletes_run() {
    let server = Server::start(4);
    let client = server.client();
    let bucket = new_bucket(&client, "listchurn").await;
    let mut stable = HashSet::new();
    for i in 0..STABLE_KEYS {
        stable.insert(stable_key(i));
        if i.is_multiple_of(STABLE_DIR_EVERY) {
            stable.insert(format!("{}leaf", stable_dir(i)));
        }
    }
    for key in &stable {
        put(&client, &bucket, key, b"stable").await;
    }
    let written = Arc::new(Mutex::new(stable));
    let stop = Arc::new(AtomicBool::new(false));
    let operations = Arc::new(AtomicUsize::new(0));
    let writers: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let task = churn(client.clone(), bucket.clone(), writer, written.clone(), stop.clone(), operations.clone());
            tokio::spawn(task)
        })
        .collect();
    let mut concurrent_operations = 0;
    for pass in 0..PASSES {
        for delimiter in [None, Some("/")] {
            let before = operations.load(Ordering::Relaxed);
            let pages = list_pages(&client, &bucket, delimiter).await;
            concurrent_operations += operations.load(Ordering::Relaxed) - before;
            // The set only grows, so taking it after the listing covers every key the
            // listing may have seen.
            let written = written.lock().expect("written set").clone();
            eprintln!("pass {pass}, delimiter {delimiter:?}: {} pages", pages.len());
            check_listing(&pages, delimiter.is_some(), &written);
        }
    }
    stop.store(true, Ordering::Relaxed);
    for writer in writers {
        writer.await.expect("writer task");
    }
    // Without writes during the listings the test shows nothing.
    assert!(concurrent_operations > 0, "no write or delete ran while the listings ran");
    eprintln!("{concurrent_operations} writes and deletes ran during the listings");
}
