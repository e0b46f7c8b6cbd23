//! Bucket notifications with aws-sdk-s3 and a real webhook endpoint: a
//! `notify_webhook` target set through the admin API, rules set with
//! PutBucketNotificationConfiguration, the events requests cause (names, filters, the
//! token, the record's fields), refusals, and queued events that survive a killed
//! server and are delivered once the endpoint comes up.

use crate::harness::*;
use crate::webhook::{Webhook, free_port};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketVersioningStatus, CompletedMultipartUpload, CompletedPart, Delete, Event, FilterRule, FilterRuleName,
    NotificationConfiguration, NotificationConfigurationFilter, ObjectIdentifier, QueueConfiguration, S3KeyFilter,
    TopicConfiguration, VersioningConfiguration,
};

const ARN: &str = "arn:minio:sqs::1:webhook";
const MIB: usize = 1 << 20;

/// A queue configuration sending `events` of keys with `prefix` and `suffix` to `arn`.
fn rule(id: &str, arn: &str, events: &[&str], prefix: &str, suffix: &str) -> QueueConfiguration {
    let mut filter_rules = Vec::new();
    if !prefix.is_empty() {
        filter_rules.push(FilterRule::builder().name(FilterRuleName::Prefix).value(prefix).build());
    }
    if !suffix.is_empty() {
        filter_rules.push(FilterRule::builder().name(FilterRuleName::Suffix).value(suffix).build());
    }
    let mut builder = QueueConfiguration::builder().id(id).queue_arn(arn);
    for event in events {
        builder = builder.events(Event::from(*event));
    }
    if !filter_rules.is_empty() {
        let key = S3KeyFilter::builder().set_filter_rules(Some(filter_rules)).build();
        builder = builder.filter(NotificationConfigurationFilter::builder().key(key).build());
    }
    builder.build().expect("queue configuration")
}

async fn set_rules(client: &aws_sdk_s3::Client, bucket: &str, rules: Vec<QueueConfiguration>) {
    let configuration = NotificationConfiguration::builder().set_queue_configurations(Some(rules)).build();
    client
        .put_bucket_notification_configuration()
        .bucket(bucket)
        .notification_configuration(configuration)
        .send()
        .await
        .expect("put notification configuration");
}

/// Names and keys of received events, in arrival order.
fn names_and_keys(received: &[crate::webhook::Received]) -> Vec<(String, String)> {
    received.iter().map(|r| (r.name().to_owned(), r.key().to_owned())).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn events_reach_the_webhook_through_rules_and_filters() {
    let webhook = Webhook::start();
    let server = Server::start(4);
    set_config(&server.endpoint, &format!("notify_webhook:1 endpoint={} auth_token=t0ken-123", webhook.url()));
    let client = server.client();
    let bucket = new_bucket(&client, "notify").await;
    set_rules(
        &client,
        &bucket,
        vec![
            rule("quotes", ARN, &["s3:ObjectCreated:*"], "quotes/", ".pdf"),
            rule("removals", ARN, &["s3:ObjectRemoved:*"], "", ""),
        ],
    )
    .await;
    let stored = client.get_bucket_notification_configuration().bucket(&bucket).send().await.expect("get");
    let queues = stored.queue_configurations();
    assert_eq!(queues.len(), 2);
    assert_eq!((queues[0].id(), queues[0].queue_arn()), (Some("quotes"), ARN));
    assert_eq!(queues[0].events(), [Event::from("s3:ObjectCreated:*")]);
    let filters = queues[0].filter().and_then(|f| f.key()).map(|k| k.filter_rules().to_vec()).unwrap_or_default();
    assert_eq!(filters.len(), 2, "{filters:?}");

    let etag = put(&client, &bucket, "quotes/offer 1.pdf", b"%PDF-1.4 quote").await;
    put(&client, &bucket, "quotes/notes.txt", b"not a pdf").await;
    put(&client, &bucket, "other/offer.pdf", b"%PDF-1.4 elsewhere").await;
    let upload = client.create_multipart_upload().bucket(&bucket).key("quotes/big.pdf").send().await.expect("create");
    let upload_id = upload.upload_id().expect("id");
    let part = client
        .upload_part()
        .bucket(&bucket)
        .key("quotes/big.pdf")
        .upload_id(upload_id)
        .part_number(1)
        .body(ByteStream::from(random_bytes(6 * MIB)))
        .send()
        .await
        .expect("part");
    let done = CompletedMultipartUpload::builder()
        .parts(CompletedPart::builder().part_number(1).e_tag(part.e_tag().expect("etag")).build())
        .build();
    client
        .complete_multipart_upload()
        .bucket(&bucket)
        .key("quotes/big.pdf")
        .upload_id(upload_id)
        .multipart_upload(done)
        .send()
        .await
        .expect("complete");
    client
        .copy_object()
        .bucket(&bucket)
        .key("quotes/copy.pdf")
        .copy_source(format!("{bucket}/other/offer.pdf"))
        .send()
        .await
        .expect("copy");
    get(&client, &bucket, "quotes/offer 1.pdf").await;
    client.delete_object().bucket(&bucket).key("quotes/offer 1.pdf").send().await.expect("delete");
    let delete = Delete::builder()
        .objects(ObjectIdentifier::builder().key("other/offer.pdf").build().expect("id"))
        .build()
        .expect("delete");
    client.delete_objects().bucket(&bucket).delete(delete).send().await.expect("delete objects");

    let received = webhook.wait_for(5).await;
    assert_eq!(
        names_and_keys(&received),
        [
            ("s3:ObjectCreated:Put".to_owned(), "quotes/offer%201.pdf".to_owned()),
            ("s3:ObjectCreated:CompleteMultipartUpload".to_owned(), "quotes/big.pdf".to_owned()),
            ("s3:ObjectCreated:Copy".to_owned(), "quotes/copy.pdf".to_owned()),
            ("s3:ObjectRemoved:Delete".to_owned(), "quotes/offer%201.pdf".to_owned()),
            ("s3:ObjectRemoved:Delete".to_owned(), "other/offer.pdf".to_owned()),
        ],
        "only matching events, in order, once each"
    );
    assert!(received.iter().all(|r| r.authorization.as_deref() == Some("Bearer t0ken-123")));
    let first = received[0].record();
    assert_eq!(first["s3"]["bucket"]["name"], bucket.as_str());
    assert_eq!(first["s3"]["object"]["size"], 14);
    assert_eq!(first["s3"]["object"]["eTag"], etag.trim_matches('"'));
    assert_eq!(first["s3"]["configurationId"], "quotes");
    assert_eq!(first["userIdentity"]["principalId"], ACCESS_KEY);
    assert_eq!(first["requestParameters"]["sourceIPAddress"], "127.0.0.1");
    assert_eq!(received[1].record()["s3"]["object"]["size"], 6 * MIB);
    assert_eq!(received[3].record()["s3"]["configurationId"], "removals");
    assert_eq!(received[0].body["Key"], format!("{bucket}/quotes/offer 1.pdf"));
    assert!(!server.log().contains("t0ken-123"), "the token is never logged");
}

#[tokio::test(flavor = "multi_thread")]
async fn reads_and_versioned_deletes_have_their_own_events() {
    let webhook = Webhook::start();
    let server = Server::start(4);
    set_config(&server.endpoint, &format!("notify_webhook:1 endpoint={}", webhook.url()));
    let client = server.client();
    let bucket = new_bucket(&client, "notify-versions").await;
    client
        .put_bucket_versioning()
        .bucket(&bucket)
        .versioning_configuration(VersioningConfiguration::builder().status(BucketVersioningStatus::Enabled).build())
        .send()
        .await
        .expect("versioning");
    set_rules(
        &client,
        &bucket,
        vec![
            rule("reads", ARN, &["s3:ObjectAccessed:*"], "", ""),
            rule("markers", ARN, &["s3:ObjectRemoved:DeleteMarkerCreated"], "", ""),
        ],
    )
    .await;
    put(&client, &bucket, "doc.json", b"{}").await;
    get(&client, &bucket, "doc.json").await;
    client.head_object().bucket(&bucket).key("doc.json").send().await.expect("head");
    let deleted = client.delete_object().bucket(&bucket).key("doc.json").send().await.expect("delete");
    let marker = deleted.version_id().expect("a delete marker's version").to_owned();
    let received = webhook.wait_for(3).await;
    let names: Vec<&str> = received.iter().map(|r| r.name()).collect();
    assert_eq!(names, ["s3:ObjectAccessed:Get", "s3:ObjectAccessed:Head", "s3:ObjectRemoved:DeleteMarkerCreated"]);
    assert_eq!(received[2].record()["s3"]["object"]["versionId"], marker.as_str());
    assert!(received[2].authorization.is_none(), "no token configured, none sent");
}

#[tokio::test(flavor = "multi_thread")]
async fn configurations_that_cannot_be_honoured_are_refused_and_change_nothing() {
    let server = Server::start(4);
    set_config(&server.endpoint, &format!("notify_webhook:1 endpoint=http://127.0.0.1:{}/", free_port()));
    let client = server.client();
    let bucket = new_bucket(&client, "notify-refusals").await;
    set_rules(&client, &bucket, vec![rule("kept", ARN, &["s3:ObjectCreated:Put"], "", "")]).await;
    let attempt = |configuration: NotificationConfiguration| {
        let client = client.clone();
        let bucket = bucket.clone();
        async move {
            let error = client
                .put_bucket_notification_configuration()
                .bucket(&bucket)
                .notification_configuration(configuration)
                .send()
                .await
                .expect_err("refused");
            (error_status(&error), error_code(&error))
        }
    };
    let queue = |rule: QueueConfiguration| NotificationConfiguration::builder().queue_configurations(rule).build();
    let cases = [
        (queue(rule("x", "arn:minio:sqs::9:webhook", &["s3:ObjectCreated:*"], "", "")), 400, "InvalidArgument"),
        (queue(rule("x", "arn:aws:sqs:us-east-1:1:queue", &["s3:ObjectCreated:*"], "", "")), 400, "InvalidArgument"),
        (queue(rule("x", ARN, &["s3:ObjectCreated:Sideways"], "", "")), 400, "InvalidArgument"),
        (queue(rule("x", ARN, &["s3:ObjectRestore:Completed"], "", "")), 501, "NotImplemented"),
        (
            NotificationConfiguration::builder()
                .topic_configurations(
                    TopicConfiguration::builder()
                        .topic_arn("arn:aws:sns:us-east-1:1:t")
                        .events(Event::from("s3:ObjectCreated:*"))
                        .build()
                        .expect("topic"),
                )
                .build(),
            501,
            "NotImplemented",
        ),
    ];
    for (configuration, status, code) in cases {
        assert_eq!(attempt(configuration).await, (status, code.to_owned()));
    }
    let bad_filter = QueueConfiguration::builder()
        .queue_arn(ARN)
        .events(Event::from("s3:ObjectCreated:*"))
        .filter(
            NotificationConfigurationFilter::builder()
                .key(
                    S3KeyFilter::builder()
                        .filter_rules(FilterRule::builder().name(FilterRuleName::Prefix).value("a").build())
                        .filter_rules(FilterRule::builder().name(FilterRuleName::Prefix).value("b").build())
                        .build(),
                )
                .build(),
        )
        .build()
        .expect("rule");
    assert_eq!(attempt(queue(bad_filter)).await, (400, "InvalidArgument".to_owned()));
    let stored = client.get_bucket_notification_configuration().bucket(&bucket).send().await.expect("get");
    assert_eq!(stored.queue_configurations().len(), 1, "refusals change nothing");
    assert_eq!(stored.queue_configurations()[0].id(), Some("kept"));

    // Targets are checked too: no endpoint, a bad URL, a key Cairn does not act on.
    for text in
        ["notify_webhook:2 queue_limit=10", "notify_webhook:2 endpoint=ftp://x/", "notify_webhook:2 client_cert=/c"]
    {
        let (status, body) = try_set_config(&server.endpoint, text);
        assert_ne!(status, 200, "{text}: {body}");
    }
    // An empty configuration removes the rules.
    set_rules(&client, &bucket, Vec::new()).await;
    let stored = client.get_bucket_notification_configuration().bucket(&bucket).send().await.expect("get");
    assert!(stored.queue_configurations().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn queued_events_survive_a_killed_server_and_arrive_when_the_endpoint_comes_up() {
    let port = free_port();
    let server = Server::start(4);
    set_config(&server.endpoint, &format!("notify_webhook:1 endpoint=http://127.0.0.1:{port}/events"));
    let client = server.client();
    let bucket = new_bucket(&client, "notify-durable").await;
    set_rules(&client, &bucket, vec![rule("all", ARN, &["s3:ObjectCreated:*"], "", "")]).await;
    for n in 0..5 {
        put(&client, &bucket, &format!("k{n}"), format!("body {n}").as_bytes()).await;
    }
    // Acknowledged writes have their events on disk already: kill the server at once.
    let queue = server.drive(1).join(".cairn.sys/events/webhook-1");
    let queued: usize = files_below(&queue)
        .iter()
        .map(|file| std::fs::read(file).expect("a queued batch").iter().filter(|b| **b == b'\n').count())
        .sum();
    assert_eq!(queued, 5, "every undelivered event, one per line, in {}", queue.display());
    let drive_count = server.drive_count;
    let dir = server.stop();
    let server = Server::start_in(dir, drive_count, &[("CAIRN_PROMETHEUS_AUTH_TYPE", "public")]);
    let webhook = Webhook::start_on(port);
    let received = webhook.wait_for(5).await;
    let keys: Vec<&str> = received.iter().map(|r| r.key()).collect();
    assert_eq!(keys, ["k0", "k1", "k2", "k3", "k4"], "every event, in order, after the restart");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::fs::read_dir(&queue).map(|d| d.count()).unwrap_or(0) > 0 {
        assert!(std::time::Instant::now() < deadline, "delivered events are removed from the queue");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // New events flow too.
    put(&server.client(), &bucket, "k5", b"after").await;
    let received = webhook.wait_for(6).await;
    assert_eq!(received[5].key(), "k5");
    let (status, metrics) = raw_request(&server.endpoint, "GET", "/minio/v2/metrics/node", b"");
    let metrics = String::from_utf8_lossy(&metrics);
    assert_eq!(status, 200, "{metrics}");
    let sample = format!("minio_notify_events_sent_total{{server=\"127.0.0.1:0\",target_id=\"{ARN}\"}} 6");
    assert!(metrics.contains(&sample), "{sample} in:\n{metrics}");
    assert!(metrics.contains("cairn_notify_queue_length{"), "{metrics}");
}

#[tokio::test(flavor = "multi_thread")]
async fn targets_set_in_the_environment_work_as_minio_reads_them() {
    let webhook = Webhook::start();
    let server = Server::start_in(
        tempfile::tempdir().expect("dir"),
        4,
        &[
            ("MINIO_NOTIFY_WEBHOOK_ENDPOINT_PRIMARY", &webhook.url()),
            ("MINIO_NOTIFY_WEBHOOK_AUTH_TOKEN_PRIMARY", "env-tok"),
        ],
    );
    let client = server.client();
    let bucket = new_bucket(&client, "notify-env").await;
    set_rules(&client, &bucket, vec![rule("env", "arn:minio:sqs::PRIMARY:webhook", &["s3:ObjectCreated:Put"], "", "")])
        .await;
    put(&client, &bucket, "from-env.txt", b"hello").await;
    let received = webhook.wait_for(1).await;
    assert_eq!((received.len(), received[0].key()), (1, "from-env.txt"));
    assert_eq!(received[0].authorization.as_deref(), Some("Bearer env-tok"));

    // A variable Cairn cannot act on stops the server at start-up, with its name.
    let dir = tempfile::tempdir().expect("dir");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args(["server", "--address", "127.0.0.1:0", "--console-address", "127.0.0.1:0"])
        .arg(format!("{}/d{{1...4}}", dir.path().display()))
        .env("MINIO_NOTIFY_WEBHOOK_CLIENT_CERT_PRIMARY", "/etc/cert.pem")
        .env("CAIRN_ROOT_USER", ACCESS_KEY)
        .env("CAIRN_ROOT_PASSWORD", SECRET_KEY)
        .output()
        .expect("run cairn");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "started with an unusable variable");
    assert!(stderr.contains("MINIO_NOTIFY_WEBHOOK_CLIENT_CERT_PRIMARY"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_writes_are_queued_together_and_each_sent_once() {
    let webhook = Webhook::start();
    let server = Server::start(4);
    set_config(&server.endpoint, &format!("notify_webhook:1 endpoint={}", webhook.url()));
    let client = server.client();
    let bucket = new_bucket(&client, "notify-many").await;
    set_rules(&client, &bucket, vec![rule("all", ARN, &["s3:ObjectCreated:Put"], "", "")]).await;
    const WRITES: usize = 48;
    let writes = (0..WRITES).map(|n| {
        let (client, bucket) = (client.clone(), bucket.clone());
        async move { put(&client, &bucket, &format!("k{n:02}"), b"body").await }
    });
    futures::future::join_all(writes).await;
    let received = webhook.wait_for(WRITES).await;
    let mut keys: Vec<&str> = received.iter().map(|r| r.key()).collect();
    keys.sort_unstable();
    let expected: Vec<String> = (0..WRITES).map(|n| format!("k{n:02}")).collect();
    assert_eq!(keys, expected, "every event once, whatever batch it was written in");
}
