//! Compressed objects in a three-node cluster: written (single and multipart) while a
//! node is down, read through every node, and healed onto the node when it returns, so
//! that it can then stand in for another node.

use crate::harness::{SECRET_KEY, meta_on, new_bucket, signed_request, text_of};
use crate::nodes::{Cluster, SCANNER_INTERVAL_ENV};
use crate::util::{ObjectSpec, eventually, incomplete_on_drive, read_body, try_put, try_put_multipart};
use std::collections::BTreeMap;
use std::time::Duration;

/// Bound on the returning node getting every object it missed.
const HEAL_TIMEOUT: Duration = Duration::from_secs(120);
const MIB: usize = 1 << 20;

/// Log-like text of `len` bytes.
fn log_text(len: usize) -> Vec<u8> {
    text_of(len, |line| {
        format!(
            "2026-12-02T10:{:02}:{:02}Z INFO crm::quotes quote={} customer={} total={}.{:02}\n",
            line / 60 % 60,
            line % 60,
            line * 31 % 100_000,
            line % 977,
            line * 17 % 9000,
            line % 100
        )
    })
}

fn compressed_on(drive: &std::path::Path, bucket: &str, key: &str) -> bool {
    let bytes = meta_on(drive, bucket, key).unwrap_or_else(|| panic!("{key} on {}", drive.display()));
    let meta = cairn_meta::ObjectMeta::decode(&bytes).expect("metadata decodes");
    meta.versions[0].parts.iter().all(|p| p.compression.is_some())
}

#[tokio::test(flavor = "multi_thread")]
async fn compressed_objects_written_with_a_node_down_heal_when_it_returns() {
    let mut cluster = Cluster::start_with(3, &[(SCANNER_INTERVAL_ENV, "3600")]).await;
    let client1 = cluster.client(1);
    let bucket = new_bucket(&client1, "zstd").await;
    let rule = "compression enable=on extensions=.txt,.log mime_types=text/*\n";
    let sealed = cairn_madmin::encrypt_data(SECRET_KEY, rule.as_bytes()).expect("seal");
    let (status, body) = signed_request(&cluster.endpoint(1), "PUT", "/minio/admin/v3/set-config", &sealed);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));

    cluster.stop(3);
    let single = log_text(3 * MIB + 5);
    let small = log_text(900);
    let parts = vec![log_text(5 * MIB + 1), log_text(MIB + 7)];
    try_put(&client1, &bucket, "app.log", &single).await.expect("put while node 3 is down");
    try_put(&client1, &bucket, "note.txt", &small).await.expect("put while node 3 is down");
    try_put_multipart(&client1, &bucket, "big.log", &parts).await.expect("multipart while node 3 is down");
    let whole_multipart = parts.concat();
    let bodies: BTreeMap<&str, &[u8]> =
        [("app.log", &single[..]), ("note.txt", &small[..]), ("big.log", &whole_multipart[..])].into();
    for key in bodies.keys() {
        assert!(compressed_on(&cluster.drive(1), &bucket, key), "{key} is stored compressed");
    }
    for n in [1, 2] {
        for (key, body) in &bodies {
            let read = read_body(&cluster.client(n), &bucket, key).await.expect("read").expect("exists");
            assert!(read == *body, "{key} through node {n} with node 3 down");
        }
    }

    cluster.start_node(3);
    cluster.wait_healthy(3).await;
    let mut specs: BTreeMap<String, ObjectSpec> =
        bodies.iter().map(|(key, body)| ((*key).to_owned(), ObjectSpec::of(body))).collect();
    specs.get_mut("big.log").expect("listed").parts = 2;
    let drive3 = cluster.drive(3);
    let refilled =
        eventually(HEAL_TIMEOUT, || std::future::ready(incomplete_on_drive(&drive3, &bucket, &specs).is_empty())).await;
    assert!(refilled, "node 3 was not refilled: {:?}{}", incomplete_on_drive(&drive3, &bucket, &specs), cluster.logs());
    for key in bodies.keys() {
        assert!(compressed_on(&drive3, &bucket, key), "{key} healed onto node 3 as frames");
    }
    // Node 3's healed shards must now make reads without node 1.
    cluster.stop(1);
    for n in [2, 3] {
        for (key, body) in &bodies {
            let read = read_body(&cluster.client(n), &bucket, key).await.expect("read").expect("exists");
            assert!(read == *body, "{key} through node {n} with node 1 down");
        }
    }
}
