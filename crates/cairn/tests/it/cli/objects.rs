//! Object commands end to end: aliases, buckets, copies both ways, listing and
//! inspection, sharing, anonymous access, removal, and exit codes.

use super::Cli;
use crate::harness::{Server, random_bytes, raw_request};
use serde_json::Value;

fn summary(lines: &[Value]) -> &Value {
    lines.iter().find(|l| l["type"] == "summary").expect("a summary line")
}

#[test]
fn cli_aliases_are_kept_private_and_buckets_made_and_removed() {
    let server = Server::start(4);
    let cli = Cli::with_alias("local", &server);
    let aliases = cli.run(&["alias", "ls"]).ok();
    assert_eq!(aliases.len(), 1);
    assert_eq!(aliases[0]["url"], server.endpoint.as_str());
    assert!(aliases[0].get("secretKey").is_none(), "alias ls never prints secrets");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(cli.home.path().join("config.json")).expect("config").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    assert_eq!(cli.run(&["mb", "local/crm-docs"]).ok()[0]["bucket"], "crm-docs");
    assert_eq!(cli.run(&["mb", "local/crm-docs"]).code, 2, "an existing bucket is an error without -p");
    cli.run(&["mb", "-p", "local/crm-docs"]).ok();
    let buckets = cli.run(&["ls", "local"]).ok();
    assert_eq!(buckets.iter().map(|b| b["key"].as_str().unwrap_or_default()).collect::<Vec<_>>(), ["crm-docs"]);
    assert_eq!(cli.run(&["ls", "nosuch/bucket"]).code, 3, "not an alias: a local path that does not exist");
    cli.run(&["rb", "local/crm-docs"]).ok();
    assert!(cli.run(&["ls", "local"]).ok().is_empty());
    cli.run(&["alias", "rm", "local"]).ok();
    assert_eq!(cli.run(&["alias", "rm", "local"]).code, 3);
    assert_eq!(cli.run(&["alias", "set", "bad", "ftp://x", "a", "b"]).code, 2);
}

#[test]
fn cli_copies_a_200_mib_file_up_and_back_byte_identical() {
    let server = Server::start(4);
    let cli = Cli::with_alias("local", &server);
    cli.run(&["mb", "local/big"]).ok();
    let dir = tempfile::tempdir().expect("dir");
    let original = dir.path().join("original.bin");
    let size = 200usize << 20;
    let bytes = random_bytes(size);
    std::fs::write(&original, &bytes).expect("write");
    let up = cli.run(&["cp", original.to_str().expect("utf-8"), "local/big/backups/"]).ok();
    assert_eq!(up[0]["target"], "local/big/backups/original.bin");
    assert_eq!(summary(&up)["bytes"], size as u64);
    let stat = cli.run(&["stat", "local/big/backups/original.bin"]).ok();
    assert_eq!(stat[0]["size"], size as u64);
    assert!(stat[0]["etag"].as_str().expect("etag").ends_with("-13"), "200 MiB in 16 MiB parts: {}", stat[0]);
    let back = dir.path().join("back.bin");
    cli.run(&["cp", "local/big/backups/original.bin", back.to_str().expect("utf-8")]).ok();
    assert!(std::fs::read(&back).expect("read back") == bytes, "the round trip changed bytes");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path()).expect("list").flatten().map(|e| e.file_name()).collect();
    assert_eq!(leftovers.len(), 2, "no partial files are left: {leftovers:?}");
}

#[test]
fn cli_lists_inspects_shares_and_removes_objects() {
    let server = Server::start(4);
    let cli = Cli::with_alias("local", &server);
    cli.run(&["mb", "local/crm-documents"]).ok();
    let dir = tempfile::tempdir().expect("dir");
    for (path, body) in [("docs/a.txt", "alpha"), ("docs/sub/b.pdf", "bravo!"), ("c.txt", "charlie-charlie")] {
        let file = dir.path().join("src").join(path);
        std::fs::create_dir_all(file.parent().expect("parent")).expect("mkdir");
        std::fs::write(&file, body).expect("write");
    }
    let copied = cli.run(&["cp", "-r", dir.path().join("src").to_str().expect("utf-8"), "local/crm-documents"]).ok();
    assert_eq!(summary(&copied)["items"], 3);
    let one_file = dir.path().join("src/c.txt");
    let one_file = one_file.to_str().expect("utf-8");
    assert_eq!(cli.run(&["cp", one_file, "local/no-such-bucket/c.txt"]).code, 3, "one item: its own exit code");
    assert_eq!(cli.run(&["cp", "local/crm-documents/missing.txt", "local/crm-documents/x"]).code, 3);
    let two = cli.run(&["cp", one_file, "local/crm-documents/missing.txt", "local/crm-documents/copies/"]);
    assert_eq!(two.code, 5, "several items, one failed: partly done");
    assert_eq!(summary(&two.json())["items"], 1);
    cli.run(&["rm", "-r", "--force", "local/crm-documents/copies/"]).ok();

    let top = cli.run(&["ls", "local/crm-documents"]).ok();
    let keys: Vec<(&str, &str)> =
        top.iter().map(|e| (e["key"].as_str().unwrap_or(""), e["type"].as_str().unwrap_or(""))).collect();
    assert_eq!(keys, [("c.txt", "file"), ("docs/", "folder")]);
    let all = cli.run(&["ls", "-r", "local/crm-documents/docs/"]).ok();
    assert_eq!(all.iter().map(|e| e["key"].as_str().unwrap_or("")).collect::<Vec<_>>(), ["a.txt", "sub/b.pdf"]);

    let cat = cli.run(&["cat", "local/crm-documents/docs/a.txt"]);
    assert_eq!((cat.code, cat.stdout.as_str()), (0, "alpha"));
    let stat = cli.run(&["stat", "local/crm-documents/docs/sub/b.pdf"]).ok();
    assert_eq!((stat[0]["size"].as_u64(), stat[0]["contentType"].as_str()), (Some(6), Some("application/pdf")));
    let du = cli.run(&["du", "local/crm-documents"]).ok();
    assert_eq!((du[0]["objects"].as_u64(), du[0]["size"].as_u64()), (Some(3), Some(26)));

    let found = cli.run(&["find", "local/crm-documents", "--name", "*.txt"]).ok();
    let found: Vec<&str> = found.iter().map(|e| e["key"].as_str().unwrap_or("")).collect();
    assert_eq!(found, ["local/crm-documents/c.txt", "local/crm-documents/docs/a.txt"]);
    assert_eq!(cli.run(&["find", "local/crm-documents", "--newer", "1h"]).ok().len(), 3);
    assert!(cli.run(&["find", "local/crm-documents", "--older", "1h"]).ok().is_empty());
    assert_eq!(cli.run(&["find", "local/crm-documents", "--larger", "5"]).ok().len(), 2);
    assert_eq!(cli.run(&["find", "local/crm-documents", "--newer", "1x"]).code, 2);

    // A presigned download works without keys; a presigned upload puts an object.
    let shared = cli.run(&["share", "download", "--expire", "1h", "local/crm-documents/c.txt"]).ok();
    let url = shared[0]["url"].as_str().expect("url");
    let path = url.trim_start_matches(&server.endpoint);
    assert_eq!(raw_request(&server.endpoint, "GET", path, b""), (200, b"charlie-charlie".to_vec()));
    let upload = cli.run(&["share", "upload", "local/crm-documents/dropbox/new.txt"]).ok();
    let path = upload[0]["url"].as_str().expect("url").trim_start_matches(&server.endpoint).to_owned();
    assert_eq!(raw_request(&server.endpoint, "PUT", &path, b"dropped").0, 200);
    assert_eq!(cli.run(&["cat", "local/crm-documents/dropbox/new.txt"]).stdout, "dropped");
    assert_eq!(cli.run(&["share", "download", "--expire", "8d", "local/crm-documents/c.txt"]).code, 2);

    // Anonymous access, as the CRM's public bucket needs.
    assert_eq!(cli.run(&["anonymous", "get", "local/crm-documents"]).ok()[0]["permission"], "none");
    assert_eq!(raw_request(&server.endpoint, "GET", "/crm-documents/c.txt", b"").0, 403);
    cli.run(&["anonymous", "set", "download", "local/crm-documents"]).ok();
    assert_eq!(cli.run(&["anonymous", "get", "local/crm-documents"]).ok()[0]["permission"], "download");
    assert_eq!(raw_request(&server.endpoint, "GET", "/crm-documents/c.txt", b"").0, 200);
    assert_eq!(raw_request(&server.endpoint, "PUT", "/crm-documents/x.txt", b"no").0, 403);
    cli.run(&["anonymous", "set", "none", "local/crm-documents"]).ok();
    assert_eq!(raw_request(&server.endpoint, "GET", "/crm-documents/c.txt", b"").0, 403);

    // Moves, removals and their exit codes.
    cli.run(&["mv", "local/crm-documents/c.txt", "local/crm-documents/archive/c.txt"]).ok();
    assert_eq!(cli.run(&["stat", "local/crm-documents/c.txt"]).code, 3);
    assert_eq!(cli.run(&["cat", "local/crm-documents/archive/c.txt"]).stdout, "charlie-charlie");
    assert_eq!(cli.run(&["rm", "local/crm-documents/nothing-here"]).code, 3);
    assert_eq!(cli.run(&["rm", "-r", "local/crm-documents/docs/"]).code, 2, "-r needs --force");
    let removed = cli.run(&["rm", "-r", "--force", "local/crm-documents/docs/"]).ok();
    assert_eq!(removed.len(), 2);
    assert_eq!(cli.run(&["rb", "local/crm-documents"]).code, 2, "not empty without --force");
    cli.run(&["rb", "--force", "local/crm-documents"]).ok();
    assert!(cli.run(&["ls", "local"]).ok().is_empty());
}

#[test]
fn cli_tags_objects_and_buckets() {
    let server = Server::start(4);
    let cli = Cli::with_alias("local", &server);
    cli.run(&["mb", "local/crm-quotes"]).ok();
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("q.pdf");
    std::fs::write(&file, "quote").expect("write");
    cli.run(&["cp", file.to_str().expect("utf-8"), "local/crm-quotes/q.pdf"]).ok();
    let before = cli.run(&["stat", "local/crm-quotes/q.pdf"]).ok();

    cli.run(&["tag", "set", "local/crm-quotes/q.pdf", "stage=signed&owner=a%20b"]).ok();
    let listed = cli.run(&["tag", "ls", "local/crm-quotes/q.pdf"]).ok();
    assert_eq!(listed[0]["tags"], serde_json::json!({"stage": "signed", "owner": "a b"}));
    let after = cli.run(&["stat", "local/crm-quotes/q.pdf"]).ok();
    assert_eq!((&after[0]["etag"], &after[0]["lastModified"]), (&before[0]["etag"], &before[0]["lastModified"]));
    cli.run(&["tag", "remove", "local/crm-quotes/q.pdf"]).ok();
    assert_eq!(cli.run(&["tag", "list", "local/crm-quotes/q.pdf"]).ok()[0]["tags"], serde_json::json!({}));

    assert_eq!(cli.run(&["tag", "ls", "local/crm-quotes"]).ok()[0]["tags"], serde_json::json!({}));
    cli.run(&["tag", "set", "local/crm-quotes", "team=crm"]).ok();
    assert_eq!(cli.run(&["tag", "ls", "local/crm-quotes"]).ok()[0]["tags"], serde_json::json!({"team": "crm"}));
    cli.run(&["tag", "rm", "local/crm-quotes"]).ok();
    assert_eq!(cli.run(&["tag", "ls", "local/crm-quotes"]).ok()[0]["tags"], serde_json::json!({}));

    assert_eq!(cli.run(&["tag", "set", "local/crm-quotes/missing", "a=b"]).code, 3, "no such object");
    assert_eq!(cli.run(&["tag", "set", "local/crm-quotes/q.pdf", "a=1&a=2"]).code, 1, "refused by the server");
}

#[test]
fn cli_versions_are_enabled_listed_copied_and_removed() {
    let server = Server::start(4);
    let cli = Cli::with_alias("local", &server);
    cli.run(&["mb", "local/crm-backups"]).ok();
    assert_eq!(cli.run(&["version", "info", "local/crm-backups"]).ok()[0]["versioning"], "unversioned");
    cli.run(&["version", "enable", "local/crm-backups"]).ok();
    assert_eq!(cli.run(&["version", "info", "local/crm-backups"]).ok()[0]["versioning"], "enabled");
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("db.dump");
    let path = file.to_str().expect("utf-8");
    for body in ["monday", "tuesday"] {
        std::fs::write(&file, body).expect("write");
        cli.run(&["cp", path, "local/crm-backups/db.dump"]).ok();
    }
    let listed = cli.run(&["ls", "--versions", "local/crm-backups"]).ok();
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert_eq!((&listed[0]["isLatest"], &listed[0]["size"]), (&serde_json::json!(true), &serde_json::json!(7)));
    let (latest, monday) = (listed[0]["versionId"].as_str().expect("id"), listed[1]["versionId"].as_str().expect("id"));
    assert_eq!(cli.run(&["stat", "local/crm-backups/db.dump"]).ok()[0]["versionId"], latest);
    let old = cli.run(&["stat", "--version-id", monday, "local/crm-backups/db.dump"]).ok();
    assert_eq!(old[0]["size"], 6);

    let back = dir.path().join("monday.dump");
    cli.run(&["cp", "--version-id", monday, "local/crm-backups/db.dump", back.to_str().expect("utf-8")]).ok();
    assert_eq!(std::fs::read_to_string(&back).expect("read"), "monday");
    cli.run(&["cp", "--vid", monday, "local/crm-backups/db.dump", "local/crm-backups/restored.dump"]).ok();
    assert_eq!(cli.run(&["cat", "local/crm-backups/restored.dump"]).stdout, "monday");
    assert_eq!(cli.run(&["mv", "--version-id", monday, "local/crm-backups/db.dump", path]).code, 2);

    // Removing the object adds a delete marker; removing the marker brings it back.
    cli.run(&["rm", "local/crm-backups/db.dump"]).ok();
    let listed = cli.run(&["ls", "--versions", "local/crm-backups/db.dump"]).ok();
    assert_eq!(listed.len(), 3);
    assert_eq!(
        (&listed[0]["type"], &listed[0]["isLatest"]),
        (&serde_json::json!("deleteMarker"), &serde_json::json!(true))
    );
    assert_eq!(cli.run(&["cat", "local/crm-backups/db.dump"]).code, 3, "the key reads as deleted");
    let marker = listed[0]["versionId"].as_str().expect("id").to_owned();
    cli.run(&["rm", "--version-id", &marker, "local/crm-backups/db.dump"]).ok();
    assert_eq!(cli.run(&["cat", "local/crm-backups/db.dump"]).stdout, "tuesday");

    cli.run(&["rm", "--versions", "local/crm-backups/db.dump"]).ok();
    assert!(cli.run(&["ls", "--versions", "local/crm-backups/db.dump"]).ok().is_empty());
    assert_eq!(cli.run(&["rm", "--versions", "local/crm-backups/db.dump"]).code, 3, "nothing left");
    cli.run(&["version", "suspend", "local/crm-backups"]).ok();
    assert_eq!(cli.run(&["version", "info", "local/crm-backups"]).ok()[0]["versioning"], "suspended");
    cli.run(&["rm", "-r", "--force", "--versions", "local/crm-backups/"]).ok();
    cli.run(&["rb", "local/crm-backups"]).ok();
}

#[test]
fn cli_locked_versions_survive_a_root_rm_force() {
    let server = Server::start(4);
    let cli = Cli::with_alias("local", &server);
    cli.run(&["mb", "--with-lock", "local/crm-vault"]).ok();
    assert_eq!(cli.run(&["version", "info", "local/crm-vault"]).ok()[0]["versioning"], "enabled");
    assert_ne!(cli.run(&["version", "suspend", "local/crm-vault"]).code, 0, "a locked bucket stays versioned");
    cli.run(&["retention", "set", "COMPLIANCE", "1d", "local/crm-vault"]).ok();
    let default = cli.run(&["retention", "info", "local/crm-vault"]).ok();
    assert_eq!((&default[0]["mode"], &default[0]["days"]), (&serde_json::json!("COMPLIANCE"), &serde_json::json!(1)));

    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("ledger.csv");
    std::fs::write(&file, "2026,closed").expect("write");
    cli.run(&["cp", file.to_str().expect("utf-8"), "local/crm-vault/ledger.csv"]).ok();
    assert_eq!(cli.run(&["retention", "info", "local/crm-vault/ledger.csv"]).ok()[0]["mode"], "COMPLIANCE");

    // Root removes every version of everything, forcefully: the locked version stays.
    let removal = cli.run(&["rm", "-r", "--force", "--versions", "local/crm-vault/"]);
    assert_eq!(removal.code, 5, "the locked version could not be removed: {}", removal.stdout);
    let versions = cli.run(&["ls", "--versions", "local/crm-vault"]).ok();
    assert_eq!(versions.len(), 1, "{versions:?}");
    assert_eq!(cli.run(&["cat", "local/crm-vault/ledger.csv"]).stdout, "2026,closed");
    let shorter = cli.run(&["retention", "set", "GOVERNANCE", "1d", "local/crm-vault/ledger.csv", "--bypass"]);
    assert_eq!(shorter.code, 4, "COMPLIANCE cannot be weakened, even by root");

    cli.run(&["legalhold", "set", "local/crm-vault/ledger.csv"]).ok();
    assert_eq!(cli.run(&["legalhold", "info", "local/crm-vault/ledger.csv"]).ok()[0]["legalHold"], "ON");
    cli.run(&["legalhold", "clear", "local/crm-vault/ledger.csv"]).ok();
    assert_eq!(cli.run(&["legalhold", "info", "local/crm-vault/ledger.csv"]).ok()[0]["legalHold"], "OFF");
    assert_eq!(cli.run(&["retention", "set", "GOVERNANCE", "1w", "local/crm-vault/ledger.csv"]).code, 2);
}
