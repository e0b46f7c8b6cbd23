//! Compressed objects, and compressed and encrypted ones (SSE-S3 by the bucket's
//! default), in a three-node cluster: written (single and multipart) while a node is
//! down, read through every node, and healed onto the node when it returns, so that it
//! can then stand in for another node.

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

/// Whether every part of `key`'s newest version on `drive` is compressed, and whether
/// every one is encrypted.
fn stored_as(drive: &std::path::Path, bucket: &str, key: &str) -> (bool, bool) {
    let bytes = meta_on(drive, bucket, key).unwrap_or_else(|| panic!("{key} on {}", drive.display()));
    let meta = cairn_meta::ObjectMeta::decode(&bytes).expect("metadata decodes");
    let parts = &meta.versions[0].parts;
    (parts.iter().all(|p| p.compression.is_some()), parts.iter().all(|p| p.encryption.is_some()))
}

/// A master key for SSE-S3, the same on every node.
const MASTER_KEY: &str = "cluster-key:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";

#[tokio::test(flavor = "multi_thread")]
async fn compressed_and_encrypted_objects_written_with_a_node_down_heal_when_it_returns() {
    let env = [(SCANNER_INTERVAL_ENV, "3600"), ("CAIRN_KMS_SECRET_KEY", MASTER_KEY)];
    let mut cluster = Cluster::start_with(3, &env).await;
    let client1 = cluster.client(1);
    let plain = new_bucket(&client1, "zstd").await;
    let sealed = new_bucket(&client1, "sealed").await;
    let rule = "compression enable=on extensions=.txt,.log mime_types=text/* allow_encryption=on\n";
    let config = cairn_madmin::encrypt_data(SECRET_KEY, rule.as_bytes()).expect("seal");
    let (status, body) = signed_request(&cluster.endpoint(1), "PUT", "/minio/admin/v3/set-config", &config);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let default = "<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule></ServerSideEncryptionConfiguration>";
    let (status, body) =
        signed_request(&cluster.endpoint(1), "PUT", &format!("/{sealed}?encryption"), default.as_bytes());
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));

    cluster.stop(3);
    let single = log_text(3 * MIB + 5);
    let small = log_text(900);
    let parts = vec![log_text(5 * MIB + 1), log_text(MIB + 7)];
    for bucket in [&plain, &sealed] {
        try_put(&client1, bucket, "app.log", &single).await.expect("put while node 3 is down");
        try_put(&client1, bucket, "note.txt", &small).await.expect("put while node 3 is down");
        try_put_multipart(&client1, bucket, "big.log", &parts).await.expect("multipart while node 3 is down");
    }
    let whole_multipart = parts.concat();
    let bodies: BTreeMap<&str, &[u8]> =
        [("app.log", &single[..]), ("note.txt", &small[..]), ("big.log", &whole_multipart[..])].into();
    let buckets = [(&plain, false), (&sealed, true)];
    for (bucket, encrypted) in buckets {
        for key in bodies.keys() {
            assert_eq!(stored_as(&cluster.drive(1), bucket, key), (true, encrypted), "{bucket}/{key}");
        }
    }
    for n in [1, 2] {
        for ((key, body), (bucket, _)) in bodies.iter().flat_map(|b| buckets.iter().map(move |k| (b, k))) {
            let read = read_body(&cluster.client(n), bucket, key).await.expect("read").expect("exists");
            assert!(read == *body, "{bucket}/{key} through node {n} with node 3 down");
        }
    }

    cluster.start_node(3);
    cluster.wait_healthy(3).await;
    let mut specs: BTreeMap<String, ObjectSpec> =
        bodies.iter().map(|(key, body)| ((*key).to_owned(), ObjectSpec::of(body))).collect();
    specs.get_mut("big.log").expect("listed").parts = 2;
    let drive3 = cluster.drive(3);
    for (bucket, encrypted) in buckets {
        let refilled =
            eventually(HEAL_TIMEOUT, || std::future::ready(incomplete_on_drive(&drive3, bucket, &specs).is_empty()))
                .await;
        let missing = incomplete_on_drive(&drive3, bucket, &specs);
        assert!(refilled, "node 3 was not refilled in {bucket}: {missing:?}{}", cluster.logs());
        for key in bodies.keys() {
            assert_eq!(stored_as(&drive3, bucket, key), (true, encrypted), "{bucket}/{key} healed as stored");
        }
    }
    // Node 3's healed shards must now make reads without node 1.
    cluster.stop(1);
    for n in [2, 3] {
        for ((key, body), (bucket, _)) in bodies.iter().flat_map(|b| buckets.iter().map(move |k| (b, k))) {
            let read = read_body(&cluster.client(n), bucket, key).await.expect("read").expect("exists");
            assert!(read == *body, "{bucket}/{key} through node {n} with node 1 down");
        }
    }
}
