//! `cairn ilm rule add|ls|rm` against a real server, and the rules applied by a single
//! node's scanner with a lifecycle day shortened to a second: an expired object is
//! removed (unversioned bucket), an incomplete upload is aborted, keys outside the
//! rule stay, and the node's metrics count it. The shortened day is refused in
//! production mode.

use super::Cli;
use crate::harness::{ACCESS_KEY, SECRET_KEY, Server, raw_request};
use aws_sdk_s3::primitives::ByteStream;
use std::time::{Duration, Instant};

const DAY_ENV: &str = "CAIRN_TEST_LIFECYCLE_DAY_SECS";
/// Bound on the scanner applying a rule that is due.
const APPLY_TIMEOUT: Duration = Duration::from_secs(60);

#[test]
fn cli_ilm_rules_are_added_listed_and_removed() {
    let server = Server::start(4);
    let cli = Cli::with_alias("local", &server);
    cli.run(&["mb", "local/crm-temp"]).ok();
    assert_eq!(cli.run(&["ilm", "rule", "ls", "local/crm-temp"]).ok()[0]["rules"], serde_json::json!([]));
    let args = ["ilm", "rule", "add", "local/crm-temp", "--id", "expire-temp", "--prefix", "tmp/"];
    cli.run(&[&args[..], &["--expire-days", "7", "--abort-uploads-days", "1"]].concat()).ok();
    let unnamed = cli.run(&["ilm", "rule", "add", "local/crm-temp", "--noncurrent-expire-days", "30"]).ok();
    let generated = unnamed[0]["id"].as_str().expect("the server names the rule").to_owned();
    assert!(!generated.is_empty());

    let listed = cli.run(&["ilm", "rule", "ls", "local/crm-temp"]).ok();
    let rules = listed[0]["rules"].as_array().expect("rules").clone();
    assert_eq!(rules.len(), 2, "{rules:?}");
    assert_eq!((rules[0]["id"].as_str(), rules[0]["prefix"].as_str()), (Some("expire-temp"), Some("tmp/")));
    assert_eq!((rules[0]["expireDays"].as_i64(), rules[0]["abortUploadsDays"].as_i64()), (Some(7), Some(1)));
    assert_eq!(rules[1]["noncurrentExpireDays"].as_i64(), Some(30));

    // The same id replaces the rule.
    cli.run(&[&args[..], &["--expire-days", "3"]].concat()).ok();
    let listed = cli.run(&["ilm", "rule", "ls", "local/crm-temp"]).ok();
    let rules = listed[0]["rules"].as_array().expect("rules").clone();
    assert_eq!(rules.len(), 2);
    assert_eq!(rules.iter().find(|r| r["id"] == "expire-temp").expect("kept")["expireDays"].as_i64(), Some(3));

    assert_eq!(cli.run(&["ilm", "rule", "add", "local/crm-temp", "--prefix", "x/"]).code, 2, "a rule needs an action");
    let refused = cli.run(&["ilm", "rule", "add", "local/crm-temp", "--expire-days", "0"]);
    assert_ne!(refused.code, 0, "the server refuses 0 days");
    assert_eq!(cli.run(&["ilm", "rule", "rm", "local/crm-temp", "--id", "nosuch"]).code, 3);
    cli.run(&["ilm", "rule", "rm", "local/crm-temp", "--id", "expire-temp"]).ok();
    let listed = cli.run(&["ilm", "rule", "ls", "local/crm-temp"]).ok();
    assert_eq!(listed[0]["rules"].as_array().map(Vec::len), Some(1));
    cli.run(&["ilm", "rule", "rm", "local/crm-temp", "--all"]).ok();
    assert_eq!(cli.run(&["ilm", "rule", "ls", "local/crm-temp"]).ok()[0]["rules"], serde_json::json!([]));
}

/// Polls `check` until it holds or [`APPLY_TIMEOUT`] passes.
async fn within_timeout(mut check: impl AsyncFnMut() -> bool) -> bool {
    let deadline = Instant::now() + APPLY_TIMEOUT;
    while Instant::now() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    false
}

#[tokio::test]
async fn a_node_expires_objects_and_aborts_uploads_a_rule_names() {
    let dir = tempfile::tempdir().expect("temp dir");
    let env = [("CAIRN_SCANNER_INTERVAL_SECS", "1"), (DAY_ENV, "1"), ("CAIRN_PROMETHEUS_AUTH_TYPE", "public")];
    let server = Server::start_in(dir, 4, &env);
    let cli = Cli::with_alias("local", &server);
    cli.run(&["mb", "local/crm-temp"]).ok();
    let client = server.client();
    for key in ["tmp/report.csv", "keep/contract.pdf"] {
        let body = ByteStream::from_static(b"data");
        client.put_object().bucket("crm-temp").key(key).body(body).send().await.expect("put");
    }
    let upload = client.create_multipart_upload().bucket("crm-temp").key("tmp/big.bin").send().await.expect("upload");
    let upload_id = upload.upload_id().expect("an upload id").to_owned();
    let args = ["ilm", "rule", "add", "local/crm-temp", "--id", "temp", "--prefix", "tmp/", "--expire-days", "1"];
    cli.run(&[&args[..], &["--abort-uploads-days", "1"]].concat()).ok();

    let applied = within_timeout(async || {
        let gone = client.head_object().bucket("crm-temp").key("tmp/report.csv").send().await.is_err();
        let uploads = client.list_multipart_uploads().bucket("crm-temp").send().await.expect("list uploads");
        gone && uploads.uploads().is_empty()
    })
    .await;
    assert!(applied, "the rule was not applied; log:\n{}", server.log());
    client.head_object().bucket("crm-temp").key("keep/contract.pdf").send().await.expect("outside the rule: kept");
    let aborted = client.list_parts().bucket("crm-temp").key("tmp/big.bin").upload_id(&upload_id).send().await;
    assert!(aborted.is_err(), "the upload was aborted");

    let (status, body) = raw_request(&server.endpoint, "GET", "/minio/v2/metrics/node", b"");
    assert_eq!(status, 200);
    let text = String::from_utf8_lossy(&body);
    for action in ["expire_object", "abort_upload"] {
        let line = text.lines().find(|l| l.starts_with("cairn_node_ilm_actions_total") && l.contains(action));
        assert!(line.is_some_and(|l| l.ends_with(" 1")), "{action} counted once: {line:?}");
    }
}

#[test]
fn a_shortened_lifecycle_day_is_refused_in_production_mode() {
    let dir = tempfile::tempdir().expect("temp dir");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args(["server", "--address", "127.0.0.1:0", "--console-address", "127.0.0.1:0"])
        .arg(format!("{}/d{{1...4}}", dir.path().display()))
        .env("CAIRN_ROOT_USER", ACCESS_KEY)
        .env("CAIRN_ROOT_PASSWORD", SECRET_KEY)
        .env("CAIRN_PRODUCTION", "on")
        .env(DAY_ENV, "1")
        .output()
        .expect("run cairn");
    assert!(!output.status.success(), "the server must not start");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(DAY_ENV) && stderr.contains("production mode"), "{stderr}");
}
