//! Below quorum, requests fail promptly with 503 instead of hanging, the health checks
//! say so, and a refused write leaves nothing behind once the cluster is whole again.

use crate::harness::{error_code, error_status, new_bucket, random_bytes};
use crate::nodes::Cluster;
use crate::util::{KIB, MIB, assert_same_keys, bounded, eventually, list_keys, verify_objects, write_objects};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_smithy_runtime_api::http::Response;
use std::fmt::Debug;
use std::time::Duration;

/// The S3 error codes a request below quorum may get, all with status 503.
const QUORUM_CODES: [&str; 3] = ["SlowDown", "XMinioWriteQuorum", "XMinioReadQuorum"];
/// Bound on a request below quorum failing: it must not hang.
const REFUSAL_TIMEOUT: Duration = Duration::from_secs(60);
/// Bound on a node noticing that its peers went away.
const NOTICE_TIMEOUT: Duration = Duration::from_secs(30);
/// ListObjectsV2 page size.
const PAGE_SIZE: i32 = 100;

fn assert_quorum_error<E>(error: &SdkError<E, Response>, what: &str)
where
    E: ProvideErrorMetadata + Debug,
{
    let (status, code) = (error_status(error), error_code(error));
    assert!(
        status == 503 && QUORUM_CODES.contains(&code.as_str()),
        "{what}: expected status 503 with one of {QUORUM_CODES:?}, got {status} {code}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn below_quorum_writes_fail_cleanly() {
    let mut cluster = Cluster::start(3).await;
    let client1 = cluster.client(1);
    let bucket = new_bucket(&client1, "quorum").await;
    let plan = vec![("before/small".to_owned(), 10 * KIB), ("before/large".to_owned(), MIB + 1)];
    let objects = write_objects(&client1, &bucket, plan).await;

    cluster.stop(2);
    cluster.stop(3);
    let refused = [("refused/small", 10 * KIB), ("refused/large", MIB + 1)];
    for (key, size) in refused {
        let what = format!("PUT {key} with 1 of 3 drives");
        let request = client1.put_object().bucket(&bucket).key(key).body(ByteStream::from(random_bytes(size))).send();
        let Ok(answer) = tokio::time::timeout(REFUSAL_TIMEOUT, request).await else {
            panic!("{what}: no answer within {REFUSAL_TIMEOUT:?}{}", cluster.logs());
        };
        assert_quorum_error(&answer.expect_err("a write below write quorum must fail"), &what);
    }
    let what = "GET before/large with 1 of 3 drives";
    let request = client1.get_object().bucket(&bucket).key("before/large").send();
    let Ok(answer) = tokio::time::timeout(REFUSAL_TIMEOUT, request).await else {
        panic!("{what}: no answer within {REFUSAL_TIMEOUT:?}{}", cluster.logs());
    };
    assert_quorum_error(&answer.expect_err("a read below read quorum must fail"), what);
    for check in ["cluster", "cluster/read"] {
        let unhealthy = eventually(NOTICE_TIMEOUT, || async { cluster.health(1, check).await == Some(503) }).await;
        assert!(unhealthy, "/minio/health/{check} on node 1 is {:?}, not 503", cluster.health(1, check).await);
    }

    cluster.start_node(2);
    cluster.start_node(3);
    cluster.wait_all_healthy().await;
    for n in 1..=3 {
        let client = cluster.client(n);
        for (key, _) in refused {
            let request = client.head_object().bucket(&bucket).key(key).send();
            let answer = bounded(REFUSAL_TIMEOUT, &format!("HEAD {key}"), request).await;
            match answer {
                Ok(_) => panic!("the refused write {key} exists through node {n}"),
                Err(error) => assert_eq!(error_status(&error), 404, "HEAD {key} through node {n}: {error:?}"),
            }
        }
    }
    let listed = list_keys(&client1, &bucket, PAGE_SIZE).await;
    let expected: Vec<String> = objects.keys().cloned().collect();
    assert_same_keys(&listed, &expected, "listing through node 1 after the refused writes");

    let after = write_objects(&client1, &bucket, vec![("after/object".to_owned(), MIB + 3)]).await;
    for n in 2..=3 {
        verify_objects(&cluster.client(n), &bucket, &after, &format!("node {n} after the restart")).await;
        verify_objects(&cluster.client(n), &bucket, &objects, &format!("node {n} after the restart")).await;
    }
}
