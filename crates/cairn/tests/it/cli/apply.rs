//! `cairn admin apply` end to end: a bootstrap file of the CRM deployment is planned
//! (dry run changes nothing), applied, applied again (changes nothing), and what it
//! declared governs real requests: anonymous reads of the public bucket only, the
//! application user's least-privilege policy, the service account's narrower one.
//! Then drift is corrected (a rotated secret, a bucket made public, a detached policy,
//! a member removed), and mistakes are refused before anything is applied.

use super::{Cli, Run};
use crate::harness::{Server, client_for, raw_request, signed_request};

/// The deployment's file, with the application's secrets from the environment.
const BOOTSTRAP: &str = r#"
version: 1
policies:
  crm-app:
    Version: "2012-10-17"
    Statement:
      - Effect: Allow
        Action: ["s3:ListBucket", "s3:GetBucketLocation"]
        Resource: ["arn:aws:s3:::crm-*"]
      - Effect: Allow
        Action: ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
        Resource: ["arn:aws:s3:::crm-*/*"]
users:
  - accessKey: crm-access-key
    secretKey: ${CRM_SECRET_KEY}
    policies: [crm-app]
  - accessKey: crm-auditor
    secretKey: ${CRM_AUDITOR_SECRET_KEY}
groups:
  - name: crm-readers
    members: [crm-auditor]
    policies: [readonly]
serviceAccounts:
  - user: crm-access-key
    accessKey: crm-backup-key
    secretKey: ${CRM_BACKUP_SECRET_KEY}
    policy:
      Version: "2012-10-17"
      Statement:
        - Effect: Allow
          Action: ["s3:GetObject", "s3:PutObject", "s3:ListBucket"]
          Resource: ["arn:aws:s3:::crm-backups", "arn:aws:s3:::crm-backups/*"]
buckets:
  - name: crm-documents
    access: public-read
  - name: crm-quotes
  - name: crm-attachments
  - name: crm-backups
  - name: crm-temp
    access: private
    lifecycle:
      - id: expire-temp
        expireDays: 7
        abortUploadsDays: 1
"#;

const SECRETS: [(&str, &str); 3] = [
    ("CRM_SECRET_KEY", "crm-secret-key-1"),
    ("CRM_AUDITOR_SECRET_KEY", "auditor-secret-1"),
    ("CRM_BACKUP_SECRET_KEY", "backup-secret-1"),
];

/// Runs `cairn admin apply -f FILE cairn [extra]` with `env` set.
fn apply(cli: &Cli, text: &str, env: &[(&str, &str)], extra: &[&str]) -> Run {
    let file = cli.home.path().join("bootstrap.yaml");
    std::fs::write(&file, text).expect("write the bootstrap file");
    let file = file.to_str().expect("utf-8 path");
    let mut command = cli.command(&[&["admin", "apply", "-f", file, "cairn"], extra].concat());
    command.envs(env.iter().copied());
    let output = command.output().expect("run cairn");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// The plan lines (`kind name` to `change`) and the summary of a successful run.
fn plan(run: &Run) -> (Vec<(String, String)>, serde_json::Value) {
    let mut lines = run.ok();
    let summary = lines.pop().expect("a summary line")["summary"].clone();
    let text = |line: &serde_json::Value, field: &str| line[field].as_str().expect("a plan field").to_owned();
    let steps = lines.iter().map(|l| (format!("{} {}", text(l, "kind"), text(l, "name")), text(l, "change"))).collect();
    (steps, summary)
}

fn all_unchanged(run: &Run) {
    let (steps, summary) = plan(run);
    assert!(steps.iter().all(|(_, change)| change == "unchanged"), "a second apply changes nothing: {steps:?}");
    assert_eq!((summary["create"].as_u64(), summary["change"].as_u64()), (Some(0), Some(0)), "{summary}");
}

#[tokio::test]
async fn a_bootstrap_file_applies_once_and_then_changes_nothing() {
    let server = Server::start(4);
    let cli = Cli::with_alias("cairn", &server);

    let dry = apply(&cli, BOOTSTRAP, &SECRETS, &["--dry-run"]);
    let (steps, summary) = plan(&dry);
    assert_eq!(steps.len(), 10, "one line per declared resource: {steps:?}");
    assert!(steps.iter().all(|(_, change)| change == "create"), "{steps:?}");
    assert_eq!(summary["applied"], false);
    assert_eq!(signed_request(&server.endpoint, "HEAD", "/crm-quotes", b"").0, 404, "a dry run creates nothing");
    assert_eq!(cli.run(&["admin", "user", "info", "cairn", "crm-access-key"]).code, 3, "a dry run adds no user");

    let first = apply(&cli, BOOTSTRAP, &SECRETS, &[]);
    let (_, summary) = plan(&first);
    assert_eq!((summary["create"].as_u64(), summary["applied"].as_bool()), (Some(10), Some(true)), "{summary}");
    all_unchanged(&apply(&cli, BOOTSTRAP, &SECRETS, &[]));
    let lifecycle = server.client().get_bucket_lifecycle_configuration().bucket("crm-temp").send().await;
    let rules = lifecycle.expect("crm-temp has lifecycle rules").rules().to_vec();
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0].id(), Some("expire-temp"));
    assert_eq!(rules[0].expiration().and_then(|e| e.days()), Some(7));
    let abort = rules[0].abort_incomplete_multipart_upload().and_then(|a| a.days_after_initiation());
    assert_eq!(abort, Some(1));

    // Anonymous reads of crm-documents only.
    let root = server.client();
    for bucket in ["crm-documents", "crm-temp"] {
        let body = aws_sdk_s3::primitives::ByteStream::from_static(b"brochure");
        root.put_object().bucket(bucket).key("brochure.pdf").body(body).send().await.expect("root writes");
    }
    assert_eq!(raw_request(&server.endpoint, "GET", "/crm-documents/brochure.pdf", b"").0, 200);
    assert_eq!(raw_request(&server.endpoint, "GET", "/crm-temp/brochure.pdf", b"").0, 403);
    assert_eq!(raw_request(&server.endpoint, "PUT", "/crm-documents/new.pdf", b"x").0, 403, "public read only");

    // The application user: objects in crm-* buckets, nothing else.
    let app = client_for(&server.endpoint, "crm-access-key", "crm-secret-key-1");
    let body = aws_sdk_s3::primitives::ByteStream::from_static(b"quote");
    app.put_object().bucket("crm-quotes").key("q1.pdf").body(body).send().await.expect("the app writes its buckets");
    assert!(app.create_bucket().bucket("not-crm").send().await.is_err(), "the app cannot create buckets");
    assert!(app.delete_bucket().bucket("crm-temp").send().await.is_err(), "the app cannot delete buckets");
    // The auditor reads through its group's readonly policy, and cannot write.
    let auditor = client_for(&server.endpoint, "crm-auditor", "auditor-secret-1");
    auditor.get_object().bucket("crm-quotes").key("q1.pdf").send().await.expect("the group's readonly policy");
    let body = aws_sdk_s3::primitives::ByteStream::from_static(b"x");
    assert!(auditor.put_object().bucket("crm-quotes").key("x").body(body).send().await.is_err());
    // The backup key reaches crm-backups only.
    let backup = client_for(&server.endpoint, "crm-backup-key", "backup-secret-1");
    let body = aws_sdk_s3::primitives::ByteStream::from_static(b"dump");
    backup.put_object().bucket("crm-backups").key("d.sql").body(body).send().await.expect("backups");
    assert!(backup.get_object().bucket("crm-quotes").key("q1.pdf").send().await.is_err(), "narrowed policy");

    // Drift: a rotated secret, crm-temp made public, the group's policy swapped and its
    // member removed, the app's policy widened, the backup account's secret rotated.
    let changed = BOOTSTRAP
        .replace("  - name: crm-temp\n    access: private", "  - name: crm-temp\n    access: download")
        .replace("    members: [crm-auditor]\n    policies: [readonly]", "    members: []\n    policies: [diagnostics]")
        .replace(r#"Action: ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]"#, r#"Action: ["s3:*"]"#);
    let rotated = [
        ("CRM_SECRET_KEY", "crm-secret-key-2"),
        ("CRM_AUDITOR_SECRET_KEY", "auditor-secret-1"),
        ("CRM_BACKUP_SECRET_KEY", "backup-secret-2"),
    ];
    let (steps, summary) = plan(&apply(&cli, &changed, &rotated, &[]));
    let change_of = |name: &str| steps.iter().find(|(n, _)| n == name).map(|(_, c)| c.clone()).expect(name);
    for name in [
        "policy crm-app",
        "user crm-access-key",
        "group crm-readers",
        "service-account crm-backup-key",
        "bucket crm-temp",
    ] {
        assert_eq!(change_of(name), "change", "{name}: {steps:?}");
    }
    assert_eq!(change_of("user crm-auditor"), "unchanged");
    assert_eq!(summary["change"].as_u64(), Some(5), "{summary}");
    all_unchanged(&apply(&cli, &changed, &rotated, &[]));

    assert_eq!(raw_request(&server.endpoint, "GET", "/crm-temp/brochure.pdf", b"").0, 200, "crm-temp is public now");
    let old = client_for(&server.endpoint, "crm-access-key", "crm-secret-key-1");
    assert!(old.list_objects_v2().bucket("crm-quotes").send().await.is_err(), "the old secret is refused");
    let new = client_for(&server.endpoint, "crm-access-key", "crm-secret-key-2");
    new.list_objects_v2().bucket("crm-quotes").send().await.expect("the new secret works");
    let backup = client_for(&server.endpoint, "crm-backup-key", "backup-secret-2");
    backup.list_objects_v2().bucket("crm-backups").send().await.expect("the rotated backup key works");
    let group = cli.run(&["admin", "group", "info", "cairn", "crm-readers"]).ok();
    assert_eq!(group[0]["members"], serde_json::json!([]), "{group:?}");
    assert_eq!(group[0]["groupPolicy"], "diagnostics", "{group:?}");
    assert!(auditor.get_object().bucket("crm-quotes").key("q1.pdf").send().await.is_err(), "left the group");
}

#[tokio::test]
async fn mistakes_are_refused_before_anything_is_applied() {
    let server = Server::start(4);
    let cli = Cli::with_alias("cairn", &server);
    // A secret that is not set: usage error, nothing created.
    let run = apply(&cli, BOOTSTRAP, &SECRETS[..2], &[]);
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(run.stdout.contains("CRM_BACKUP_SECRET_KEY"), "names the variable: {}", run.stdout);
    assert_eq!(signed_request(&server.endpoint, "HEAD", "/crm-documents", b"").0, 404);

    // A policy neither the file nor the server defines: refused before any change.
    let unknown = BOOTSTRAP.replace("policies: [crm-app]", "policies: [no-such-policy]");
    let run = apply(&cli, &unknown, &SECRETS, &[]);
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(run.stdout.contains("policy no-such-policy is neither"), "{}", run.stdout);
    assert_eq!(cli.run(&["admin", "user", "info", "cairn", "crm-access-key"]).code, 3, "nothing was applied");

    // A service account that already belongs to another user is not moved.
    apply(&cli, BOOTSTRAP, &SECRETS, &[]).ok();
    let moved = BOOTSTRAP.replace(
        "  - user: crm-access-key\n    accessKey: crm-backup-key",
        "  - user: crm-auditor\n    accessKey: crm-backup-key",
    );
    let run = apply(&cli, &moved, &SECRETS, &[]);
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(run.stdout.contains("belongs to crm-access-key"), "{}", run.stdout);
}

#[tokio::test]
async fn disabled_identities_settle_in_one_run() {
    let server = Server::start(4);
    let cli = Cli::with_alias("cairn", &server);
    let file = |enabled: bool, secret: &str| {
        format!(
            "version: 1\nusers:\n  - accessKey: paused\n    secretKey: {secret}\n    policies: [readwrite]\n    enabled: {enabled}\n\
             serviceAccounts:\n  - user: paused\n    accessKey: paused-key\n    secretKey: paused-key-secret\n"
        )
    };
    // A disabled user and its key: their secrets cannot be checked by signing, and a
    // second run must not report them as changed.
    apply(&cli, &file(false, "first-secret"), &[], &[]).ok();
    let (steps, summary) = plan(&apply(&cli, &file(false, "first-secret"), &[], &[]));
    assert_eq!((summary["create"].as_u64(), summary["change"].as_u64()), (Some(0), Some(0)), "{steps:?}");

    // Enabled again with a new secret: one run sets both, the next changes nothing.
    let (steps, _) = plan(&apply(&cli, &file(true, "second-secret"), &[], &[]));
    assert!(steps.contains(&("user paused".to_owned(), "change".to_owned())), "{steps:?}");
    all_unchanged(&apply(&cli, &file(true, "second-secret"), &[], &[]));
    let user = client_for(&server.endpoint, "paused", "second-secret");
    user.list_buckets().send().await.expect("the new secret works");
    let key = client_for(&server.endpoint, "paused-key", "paused-key-secret");
    key.list_buckets().send().await.expect("the key works once its user is enabled");
}

#[tokio::test]
async fn bucket_event_rules_are_applied_exactly() {
    let server = Server::start(4);
    let cli = Cli::with_alias("cairn", &server);
    let endpoint = format!("http://127.0.0.1:{}/events", crate::webhook::free_port());
    crate::harness::set_config(&server.endpoint, &format!("notify_webhook:crm endpoint={endpoint}"));
    let file = |events: &str| {
        format!(
            "version: 1\nbuckets:\n  - name: crm-quotes\n    events:\n      - arn: arn:minio:sqs::crm:webhook\n        events: [{events}]\n        suffix: .pdf\n"
        )
    };
    let (steps, _) = plan(&apply(&cli, &file("put"), &[], &[]));
    assert_eq!(steps, [("bucket crm-quotes".to_owned(), "create".to_owned())]);
    all_unchanged(&apply(&cli, &file("put"), &[], &[]));
    let listed = cli.run(&["event", "ls", "cairn/crm-quotes"]).ok();
    assert_eq!(listed[0]["rules"][0]["events"], serde_json::json!(["s3:ObjectCreated:*"]), "{listed:?}");
    assert_eq!(listed[0]["rules"][0]["suffix"], ".pdf");
    let (steps, _) = plan(&apply(&cli, &file("delete, put"), &[], &[]));
    assert_eq!(steps[0].1, "change", "{steps:?}");
    all_unchanged(&apply(&cli, &file("put, delete"), &[], &[]));
    let emptied = "version: 1\nbuckets:\n  - name: crm-quotes\n    events: []\n";
    assert_eq!(plan(&apply(&cli, emptied, &[], &[])).0[0].1, "change");
    assert!(cli.run(&["event", "ls", "cairn/crm-quotes"]).ok()[0]["rules"].as_array().expect("rules").is_empty());
    let run = apply(&cli, &file("sideways"), &[], &[]);
    assert_eq!(run.code, 2, "an unknown event kind is refused before anything is applied: {}", run.stdout);
}
