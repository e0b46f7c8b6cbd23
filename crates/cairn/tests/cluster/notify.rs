//! Bucket notifications in a three-node cluster: a webhook target configured through
//! one node reaches every node, a rule set through another applies to writes through
//! all of them (each node queues and sends the events of the requests it served), and a
//! node that was down while the rule was set sends events after it returns.

use crate::harness::{new_bucket, set_config};
use crate::nodes::Cluster;
use crate::util::{eventually, try_put};
use crate::webhook::Webhook;
use aws_sdk_s3::types::{Event, NotificationConfiguration, QueueConfiguration};
use std::time::Duration;

/// Bound on every node having read a configuration change (they poll it each second).
const CONFIG_SPREAD: Duration = Duration::from_secs(20);

fn created_rule() -> NotificationConfiguration {
    let rule = QueueConfiguration::builder()
        .id("created")
        .queue_arn("arn:minio:sqs::cluster:webhook")
        .events(Event::from("s3:ObjectCreated:*"))
        .build()
        .expect("rule");
    NotificationConfiguration::builder().queue_configurations(rule).build()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_node_sends_the_events_of_its_requests() {
    let webhook = Webhook::start();
    let mut cluster = Cluster::start(3).await;
    set_config(&cluster.endpoint(1), &format!("notify_webhook:cluster endpoint={}", webhook.url()));
    let bucket = new_bucket(&cluster.client(1), "events").await;
    cluster.stop(3);
    // Node 2 learns of the target within a poll; until then it refuses the ARN.
    let client2 = cluster.client(2);
    let set = eventually(CONFIG_SPREAD, || {
        let (client, bucket) = (client2.clone(), bucket.clone());
        async move {
            let request = client.put_bucket_notification_configuration().bucket(&bucket);
            request.notification_configuration(created_rule()).send().await.is_ok()
        }
    })
    .await;
    assert!(set, "node 2 never accepted the target's ARN{}", cluster.logs());
    for n in [1, 2] {
        try_put(&cluster.client(n), &bucket, &format!("through-{n}"), b"quote").await.expect("put");
    }
    // Node 3 missed the rule; back, it reads the bucket's newest record and sends too.
    cluster.start_node(3);
    cluster.wait_healthy(3).await;
    try_put(&cluster.client(3), &bucket, "through-3", b"quote").await.expect("put through node 3");
    let received = webhook.wait_for(3).await;
    let mut seen: Vec<(String, String)> = received
        .iter()
        .map(|r| {
            let origin = r.record()["responseElements"]["x-minio-origin-endpoint"].as_str().unwrap_or_default();
            (r.key().to_owned(), origin.to_owned())
        })
        .collect();
    seen.sort();
    let expected: Vec<(String, String)> =
        (1..=3).map(|n| (format!("through-{n}"), format!("http://{}", cluster.address(n)))).collect();
    assert_eq!(seen, expected, "one event per write, each sent by the node that served it");
}
