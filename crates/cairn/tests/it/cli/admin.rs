//! `cairn admin ...` end to end: server info, users, groups, policies (and that an
//! attached policy really governs S3 access), service accounts, configuration
//! export/import/get/set, a Prometheus token the metrics endpoint accepts, and a heal
//! that formats and refills a drive wiped while the server runs. Exit codes: 3 for an
//! unknown alias, 4 for a user without the admin permission.

use super::{Cli, Run};
use crate::harness::{Server, signed_request};
use serde_json::Value;
use std::io::{Read, Write};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// A policy that allows everything on the bucket `crm-allowed` and nothing else.
const ALLOWED_BUCKET_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:*"],
    "Resource":["arn:aws:s3:::crm-allowed","arn:aws:s3:::crm-allowed/*"]}]}"#;
/// Pushed past the test, so that the background scanner heals nothing during it.
const SCANNER_INTERVAL_SECS: &str = "3600";
/// Bound on the scan every server runs at start-up.
const START_SCAN_TIMEOUT: Duration = Duration::from_secs(20);

/// Runs `cairn --json --config-dir HOME args...` with `input` on stdin.
fn run_with_stdin(cli: &Cli, args: &[&str], input: &str) -> Run {
    let mut child = cli.command(args).stdin(Stdio::piped()).spawn().expect("run cairn");
    // Dropping stdin after the write closes it, so that the command sees the end.
    child.stdin.take().expect("stdin piped").write_all(input.as_bytes()).expect("write stdin");
    let output = child.wait_with_output().expect("wait for cairn");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// The one JSON line of a successful command.
fn one(run: &Run) -> Value {
    let lines = run.ok();
    assert_eq!(lines.len(), 1, "one result expected: {}", run.stdout);
    lines.into_iter().next().expect("one line")
}

/// The `field` of every line, as strings.
fn column(lines: &[Value], field: &str) -> Vec<String> {
    lines.iter().map(|line| line[field].as_str().unwrap_or_default().to_owned()).collect()
}

/// GET `path` with a bearer token over a raw connection; (status, body).
fn scrape(endpoint: &str, path: &str, token: &str) -> (u16, String) {
    let address = endpoint.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(address).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    let status = response.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, response.split_once("\r\n\r\n").map(|(_, body)| body.to_owned()).unwrap_or_default())
}

#[test]
fn admin_info_shows_the_node_and_drives_and_prometheus_tokens_are_accepted() {
    let server = Server::start(4);
    let cli = Cli::with_alias("local", &server);
    let info = one(&cli.run(&["admin", "info", "local"]));
    assert_eq!(info["mode"], "online", "{info}");
    assert!(!info["deploymentId"].as_str().unwrap_or_default().is_empty(), "{info}");
    let nodes = info["nodes"].as_array().expect("nodes");
    assert_eq!(nodes.len(), 1, "{info}");
    assert_eq!(nodes[0]["state"], "online");
    assert_eq!(nodes[0]["version"], env!("CARGO_PKG_VERSION"), "{info}");
    assert!(nodes[0]["uptimeSecs"].as_u64().is_some(), "{info}");
    let drives = nodes[0]["drives"].as_array().expect("drives");
    assert_eq!(drives.len(), 4, "{info}");
    assert!(drives.iter().all(|d| d["state"] == "ok" && d["totalBytes"].as_u64() > Some(0)), "{info}");
    assert_eq!((info["erasure"]["sets"].as_u64(), info["erasure"]["drivesPerSet"].as_u64()), (Some(1), Some(4)));
    assert_eq!(info["erasure"]["parity"], 2, "{info}");
    let capacity = &info["capacity"];
    assert_eq!(capacity["usableBytes"].as_u64(), capacity["rawBytes"].as_u64().map(|raw| raw / 2), "{info}");
    assert_eq!(cli.run(&["admin", "info", "nosuch"]).code, 3, "an unknown alias is not found");

    for (kind, path) in [("cluster", "/minio/v2/metrics/cluster"), ("node", "/minio/v2/metrics/node")] {
        let generated = one(&cli.run(&["admin", "prometheus", "generate", "local", "--type", kind]));
        assert_eq!(generated["metricsPath"], path);
        assert_eq!(generated["scheme"], "http");
        assert_eq!(generated["target"], server.endpoint.trim_start_matches("http://"));
        let token = generated["bearerToken"].as_str().expect("a token");
        let (status, body) = scrape(&server.endpoint, path, token);
        assert_eq!(status, 200, "{body}");
        assert!(body.lines().any(|line| line.starts_with("minio_")), "{body}");
    }
}

#[test]
fn admin_users_and_groups_are_added_listed_shown_switched_and_removed() {
    let server = Server::start(4);
    let cli = Cli::with_alias("local", &server);
    let added = one(&cli.run(&["admin", "user", "add", "local", "alice", "alice-secret-key"]));
    assert_eq!((added["accessKey"].as_str(), added["userStatus"].as_str()), (Some("alice"), Some("enabled")));
    cli.run(&["admin", "user", "add", "local", "bob", "bob-secret-key"]).ok();
    let users = cli.run(&["admin", "user", "ls", "local"]).ok();
    assert_eq!(column(&users, "accessKey"), ["alice", "bob"]);
    assert_eq!(column(&users, "userStatus"), ["enabled", "enabled"]);
    assert_eq!(one(&cli.run(&["admin", "user", "disable", "local", "alice"]))["userStatus"], "disabled");
    assert_eq!(one(&cli.run(&["admin", "user", "info", "local", "alice"]))["userStatus"], "disabled");
    cli.run(&["admin", "user", "enable", "local", "alice"]).ok();
    assert_eq!(one(&cli.run(&["admin", "user", "info", "local", "alice"]))["userStatus"], "enabled");

    let added = one(&cli.run(&["admin", "group", "add", "local", "crm-devs", "alice", "bob"]));
    assert_eq!(added["members"], serde_json::json!(["alice", "bob"]));
    assert_eq!(column(&cli.run(&["admin", "group", "ls", "local"]).ok(), "groupName"), ["crm-devs"]);
    let group = one(&cli.run(&["admin", "group", "info", "local", "crm-devs"]));
    assert_eq!(
        (group["groupStatus"].as_str(), group["members"].clone()),
        (Some("enabled"), serde_json::json!(["alice", "bob"]))
    );
    assert_eq!(one(&cli.run(&["admin", "user", "info", "local", "bob"]))["memberOf"], serde_json::json!(["crm-devs"]));
    cli.run(&["admin", "group", "disable", "local", "crm-devs"]).ok();
    assert_eq!(one(&cli.run(&["admin", "group", "info", "local", "crm-devs"]))["groupStatus"], "disabled");
    cli.run(&["admin", "group", "enable", "local", "crm-devs"]).ok();
    assert_ne!(cli.run(&["admin", "group", "rm", "local", "crm-devs"]).code, 0, "a group with members stays");
    cli.run(&["admin", "group", "rm", "local", "crm-devs", "alice", "bob"]).ok();
    assert!(
        one(&cli.run(&["admin", "group", "info", "local", "crm-devs"]))["members"]
            .as_array()
            .is_some_and(Vec::is_empty)
    );
    cli.run(&["admin", "group", "rm", "local", "crm-devs"]).ok();
    assert!(cli.run(&["admin", "group", "ls", "local"]).ok().is_empty());
    assert_eq!(cli.run(&["admin", "group", "info", "local", "crm-devs"]).code, 3);

    cli.run(&["admin", "user", "rm", "local", "alice"]).ok();
    assert_eq!(column(&cli.run(&["admin", "user", "ls", "local"]).ok(), "accessKey"), ["bob"]);
    assert_eq!(cli.run(&["admin", "user", "info", "local", "alice"]).code, 3, "a removed user is not found");
}

#[test]
fn admin_policies_attached_to_a_user_govern_its_s3_access() {
    let server = Server::start(4);
    let cli = Cli::with_alias("local", &server);
    let file = cli.home.path().join("crm-allowed.json");
    std::fs::write(&file, ALLOWED_BUCKET_POLICY).expect("write the policy");
    let file = file.to_str().expect("utf-8 path");
    assert_eq!(one(&cli.run(&["admin", "policy", "create", "local", "crm-rw", file]))["policy"], "crm-rw");
    assert!(column(&cli.run(&["admin", "policy", "ls", "local"]).ok(), "policy").contains(&"crm-rw".to_owned()));
    let info = one(&cli.run(&["admin", "policy", "info", "local", "crm-rw"]));
    assert_eq!(info["policyJSON"]["Statement"][0]["Resource"][0], "arn:aws:s3:::crm-allowed", "{info}");

    cli.run(&["mb", "local/crm-allowed", "local/crm-forbidden"]).ok();
    cli.run(&["admin", "user", "add", "local", "dana", "dana-secret-key"]).ok();
    cli.alias("dana", &server.endpoint, "dana", "dana-secret-key");
    assert_eq!(cli.run(&["ls", "dana/crm-allowed"]).code, 4, "no policy, no access");
    let attached = one(&cli.run(&["admin", "policy", "attach", "local", "crm-rw", "--user", "dana"]));
    assert_eq!(
        (attached["policiesAttached"].clone(), attached["user"].as_str()),
        (serde_json::json!(["crm-rw"]), Some("dana"))
    );
    assert_eq!(one(&cli.run(&["admin", "user", "info", "local", "dana"]))["policyName"], "crm-rw");
    cli.run(&["ls", "dana/crm-allowed"]).ok();
    assert_eq!(cli.run(&["ls", "dana/crm-forbidden"]).code, 4, "the policy names one bucket only");
    assert_eq!(cli.run(&["admin", "user", "ls", "dana"]).code, 4, "a user without admin rights is refused");

    let detached = one(&cli.run(&["admin", "policy", "detach", "local", "crm-rw", "--user", "dana"]));
    assert_eq!(detached["policiesDetached"], serde_json::json!(["crm-rw"]));
    assert_eq!(cli.run(&["ls", "dana/crm-allowed"]).code, 4, "a detached policy no longer applies");
    assert_eq!(cli.run(&["admin", "policy", "attach", "local", "crm-rw"]).code, 2, "--user or --group is required");
    cli.run(&["admin", "policy", "rm", "local", "crm-rw"]).ok();
    assert!(!column(&cli.run(&["admin", "policy", "ls", "local"]).ok(), "policy").contains(&"crm-rw".to_owned()));
    assert_eq!(cli.run(&["admin", "policy", "info", "local", "crm-rw"]).code, 3);
}

#[test]
fn admin_service_accounts_are_added_listed_shown_edited_and_removed() {
    let server = Server::start(4);
    let cli = Cli::with_alias("local", &server);
    cli.run(&["admin", "user", "add", "local", "erin", "erin-secret-key"]).ok();
    cli.run(&["admin", "policy", "attach", "local", "readwrite", "--user", "erin"]).ok();

    let generated = one(&cli.run(&["admin", "svcacct", "add", "local", "erin"]));
    let access = generated["accessKey"].as_str().expect("a generated access key").to_owned();
    let secret = generated["secretKey"].as_str().expect("a generated secret key").to_owned();
    assert!(!access.is_empty() && !secret.is_empty(), "{generated}");
    cli.alias("erin-key", &server.endpoint, &access, &secret);
    cli.run(&["ls", "erin-key"]).ok();

    let file = cli.home.path().join("narrow.json");
    std::fs::write(&file, ALLOWED_BUCKET_POLICY).expect("write the policy");
    let args = [
        "admin",
        "svcacct",
        "add",
        "local",
        "erin",
        "--access-key",
        "erin-ci",
        "--secret-key",
        "erin-ci-secret-key",
        "--policy",
        file.to_str().expect("utf-8"),
        "--expiry",
        "2099-01-01T00:00:00Z",
        "--name",
        "ci",
    ];
    let named = one(&cli.run(&args));
    assert_eq!(
        (named["accessKey"].as_str(), named["secretKey"].as_str()),
        (Some("erin-ci"), Some("erin-ci-secret-key"))
    );
    assert_eq!(named["expiration"], "2099-01-01T00:00:00Z");
    let mut listed = column(&cli.run(&["admin", "svcacct", "ls", "local", "erin"]).ok(), "accessKey");
    listed.sort();
    let mut expected = vec![access.clone(), "erin-ci".to_owned()];
    expected.sort();
    assert_eq!(listed, expected);

    let info = one(&cli.run(&["admin", "svcacct", "info", "local", "erin-ci"]));
    assert_eq!((info["parentUser"].as_str(), info["accountStatus"].as_str()), (Some("erin"), Some("on")), "{info}");
    assert_eq!(info["policy"]["Statement"][0]["Resource"][0], "arn:aws:s3:::crm-allowed", "{info}");
    assert!(info.get("secretKey").is_none(), "info never shows the secret key");
    one(&cli.run(&["admin", "svcacct", "edit", "local", "erin-ci", "--status", "off"]));
    assert_eq!(one(&cli.run(&["admin", "svcacct", "info", "local", "erin-ci"]))["accountStatus"], "off");
    assert_eq!(cli.run(&["admin", "svcacct", "edit", "local", "erin-ci"]).code, 2, "edit needs a change");
    cli.run(&["admin", "svcacct", "edit", "local", &access, "--secret-key", "erin-rotated-secret"]).ok();
    assert_eq!(cli.run(&["ls", "erin-key"]).code, 4, "the old secret key no longer works");
    cli.alias("erin-key", &server.endpoint, &access, "erin-rotated-secret");
    cli.run(&["ls", "erin-key"]).ok();
    assert_eq!(cli.run(&["admin", "svcacct", "add", "local", "erin", "--expiry", "soon"]).code, 2);

    cli.run(&["admin", "svcacct", "rm", "local", "erin-ci"]).ok();
    assert_eq!(column(&cli.run(&["admin", "svcacct", "ls", "local", "erin"]).ok(), "accessKey"), [access]);
    assert_eq!(cli.run(&["admin", "svcacct", "info", "local", "erin-ci"]).code, 3);
}

#[test]
fn admin_config_set_get_and_export_import_round_trip() {
    let server = Server::start(4);
    let cli = Cli::with_alias("local", &server);
    let set = one(&cli.run(&["admin", "config", "set", "local", "scanner", "speed=slow"]));
    assert_eq!(set["config"], "scanner speed=slow");
    let got = one(&cli.run(&["admin", "config", "get", "local", "scanner"]));
    assert_eq!(
        (got["subsystem"].as_str(), got["settings"]["speed"].as_str()),
        (Some("scanner"), Some("slow")),
        "{got}"
    );

    let exported = one(&cli.run(&["admin", "config", "export", "local"]));
    let text = exported["config"].as_str().expect("the configuration text").to_owned();
    assert!(text.lines().any(|line| line.starts_with("scanner ") && line.contains("speed=slow")), "{text}");
    cli.run(&["admin", "config", "set", "local", "scanner", "speed=fast"]).ok();
    assert_eq!(one(&cli.run(&["admin", "config", "get", "local", "scanner"]))["settings"]["speed"], "fast");
    let imported = run_with_stdin(&cli, &["admin", "config", "import", "local"], &text);
    assert_eq!(one(&imported)["bytes"], text.len());
    assert_eq!(one(&cli.run(&["admin", "config", "get", "local", "scanner"]))["settings"]["speed"], "slow");
    assert_eq!(
        one(&cli.run(&["admin", "config", "export", "local"]))["config"],
        text.as_str(),
        "the round trip is exact"
    );

    assert_eq!(cli.run(&["admin", "config", "set", "local", "scanner", "speed=ludicrous"]).code, 2);
    assert_eq!(cli.run(&["admin", "config", "set", "local", "scanner", "speed"]).code, 2);
    assert_eq!(run_with_stdin(&cli, &["admin", "config", "import", "local"], "").code, 2, "empty stdin is refused");
}

/// The background scanner's completed passes, from Cairn's healing report.
fn scans_completed(endpoint: &str) -> u64 {
    let (status, body) = signed_request(endpoint, "GET", "/cairn/admin/v1/heal", b"");
    assert_eq!(status, 200);
    serde_json::from_slice::<Value>(&body).expect("JSON report")["scans_completed"].as_u64().expect("a count")
}

#[test]
fn admin_heal_formats_and_refills_a_drive_wiped_while_running() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start_in(dir, 4, &[("CAIRN_SCANNER_INTERVAL_SECS", SCANNER_INTERVAL_SECS)]);
    let deadline = Instant::now() + START_SCAN_TIMEOUT;
    while scans_completed(&server.endpoint) == 0 {
        assert!(Instant::now() < deadline, "the start-up scan did not finish:\n{}", server.log());
        std::thread::sleep(Duration::from_millis(100));
    }
    let cli = Cli::with_alias("local", &server);
    let files = tempfile::tempdir().expect("files");
    let bodies = ["alpha", "bravo-bravo", "charlie-charlie-charlie", "delta"];
    for (index, body) in bodies.iter().enumerate() {
        std::fs::write(files.path().join(format!("f{index}.txt")), body).expect("write");
    }
    cli.run(&["mb", "local/crm-heal"]).ok();
    cli.run(&["cp", "-r", files.path().to_str().expect("utf-8"), "local/crm-heal/docs/"]).ok();

    let format = server.drive(2).join(".cairn.sys/format.json");
    assert!(format.is_file());
    server.delete_drive(2);
    let summary = one(&cli.run(&["admin", "heal", "-r", "local"]));
    assert_eq!(summary["type"], "summary", "{summary}");
    let count = |field: &str| summary[field].as_u64();
    assert_eq!((count("scanned"), count("healed"), count("failed")), (Some(4), Some(4), Some(0)), "{summary}");
    assert_eq!((count("drivesFormatted"), count("buckets")), (Some(1), Some(1)), "{summary}");
    let bytes = bodies.iter().map(|b| b.len() as u64).sum::<u64>();
    assert_eq!(count("bytes"), Some(bytes), "{summary}");
    assert!(format.is_file(), "the wiped drive has its format again");
    assert!(crate::harness::has_key_on(&server.drive(2), "crm-heal", "docs/f0.txt"), "and its objects");

    let again = one(&cli.run(&["admin", "heal", "-r", "local/crm-heal/docs/"]));
    assert_eq!((again["scanned"].as_u64(), again["healed"].as_u64()), (Some(4), Some(0)), "{again}");
    assert_eq!(cli.run(&["admin", "heal", "local/no-such-bucket"]).code, 3);
    assert_eq!(cli.run(&["admin", "heal", "nosuch"]).code, 3, "an unknown alias is not found");
}
