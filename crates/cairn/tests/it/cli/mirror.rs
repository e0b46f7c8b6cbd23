//! `mirror` between two servers and from a local folder (including `--watch`), and
//! `cp` resuming an interrupted multipart upload.

use super::{Cli, write};
use crate::harness::{Server, random_bytes};
use serde_json::Value;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// Bound on a watched change reaching the target.
const WATCH_TIMEOUT: Duration = Duration::from_secs(30);

fn summary(lines: &[Value]) -> Value {
    lines.iter().find(|l| l["type"] == "summary").cloned().expect("a summary line")
}

fn copied(lines: &[Value]) -> Vec<String> {
    let mut keys: Vec<String> = lines
        .iter()
        .filter_map(|l| l["target"].as_str().filter(|_| l["source"].is_string()).map(str::to_owned))
        .collect();
    keys.sort();
    keys
}

#[test]
fn cli_mirror_copies_only_what_changed_between_folders_and_servers() {
    let (first, second) = (Server::start(4), Server::start(4));
    let cli = Cli::with_alias("one", &first);
    cli.alias("two", &second.endpoint, crate::harness::ACCESS_KEY, crate::harness::SECRET_KEY);
    let dir = tempfile::tempdir().expect("dir");
    let source = dir.path().join("site");
    write(&source, "index.html", b"<html>v1</html>");
    write(&source, "img/logo.png", &random_bytes(300_000));
    write(&source, "docs/big.bin", &random_bytes(20 << 20)); // Multipart.
    let source_text = source.to_str().expect("utf-8");

    // Local folder -> server one (the bucket is made by mirror).
    let lines = cli.run(&["mirror", source_text, "one/www"]).ok();
    assert_eq!(copied(&lines), ["one/www/docs/big.bin", "one/www/img/logo.png", "one/www/index.html"]);
    let again = cli.run(&["mirror", source_text, "one/www"]).ok();
    assert_eq!(summary(&again)["items"], 0, "a second mirror copies nothing: {again:?}");

    // A changed file is copied again, and only it.
    std::thread::sleep(Duration::from_millis(20));
    write(&source, "index.html", b"<html>v2</html>");
    let lines = cli.run(&["mirror", source_text, "one/www"]).ok();
    assert_eq!(copied(&lines), ["one/www/index.html"]);
    assert_eq!(cli.run(&["cat", "one/www/index.html"]).stdout, "<html>v2</html>");

    // Server one -> server two: the bytes stream between endpoints.
    let lines = cli.run(&["mirror", "one/www", "two/mirror"]).ok();
    assert_eq!(summary(&lines)["items"], 3);
    assert_eq!(summary(&cli.run(&["mirror", "one/www", "two/mirror"]).ok())["items"], 0);
    let stat = cli.run(&["stat", "two/mirror/docs/big.bin"]).ok();
    assert_eq!(stat[0]["size"], 20u64 << 20);

    // --dry-run reports and changes nothing; --remove deletes what the source lacks.
    cli.run(&["cp", source.join("index.html").to_str().expect("utf-8"), "two/mirror/extra.html"]).ok();
    let dry = cli.run(&["mirror", "--remove", "--dry-run", "one/www", "two/mirror"]).ok();
    assert!(dry.iter().any(|l| l["action"] == "remove" && l["target"] == "two/mirror/extra.html"), "{dry:?}");
    assert_eq!(cli.run(&["stat", "two/mirror/extra.html"]).code, 0, "a dry run removes nothing");
    cli.run(&["mirror", "--remove", "one/www", "two/mirror"]).ok();
    assert_eq!(cli.run(&["stat", "two/mirror/extra.html"]).code, 3);

    // Server -> local folder, twice.
    let restore = dir.path().join("restore");
    let restore_text = restore.to_str().expect("utf-8");
    assert_eq!(summary(&cli.run(&["mirror", "two/mirror", restore_text]).ok())["items"], 3);
    assert_eq!(summary(&cli.run(&["mirror", "two/mirror", restore_text]).ok())["items"], 0);
    for path in ["index.html", "img/logo.png", "docs/big.bin"] {
        assert!(std::fs::read(source.join(path)).expect("source") == std::fs::read(restore.join(path)).expect("copy"));
    }

    // A target object changed after the copy is kept unless --overwrite.
    std::thread::sleep(Duration::from_millis(20));
    write(&restore, "index.html", b"edited on the target");
    let kept = cli.run(&["mirror", "two/mirror", restore_text]);
    assert_eq!(std::fs::read(restore.join("index.html")).expect("kept"), b"edited on the target", "{}", kept.stdout);
    cli.run(&["mirror", "--overwrite", "two/mirror", restore_text]).ok();
    assert_eq!(std::fs::read(restore.join("index.html")).expect("replaced"), b"<html>v2</html>");
}

#[test]
fn cli_mirror_watch_follows_a_local_folder() {
    let server = Server::start(4);
    let cli = Cli::with_alias("local", &server);
    let dir = tempfile::tempdir().expect("dir");
    write(dir.path(), "first.txt", b"1");
    let mut child = cli
        .command(&["mirror", "--watch", dir.path().to_str().expect("utf-8"), "local/watched"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start mirror --watch");
    let appeared = |key: &str| cli.run(&["stat", &format!("local/watched/{key}")]).code == 0;
    let deadline = Instant::now() + WATCH_TIMEOUT;
    while !appeared("first.txt") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    write(dir.path(), "later/second.txt", b"2");
    while !appeared("later/second.txt") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(appeared("first.txt") && appeared("later/second.txt"), "the watched files were not mirrored in time");
}

#[tokio::test(flavor = "multi_thread")]
async fn cli_cp_resumes_an_interrupted_multipart_upload() {
    let server = Server::start(4);
    let cli = Cli::with_alias("local", &server);
    cli.run(&["mb", "local/resume"]).ok();
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("backup.tar");
    let part = 16usize << 20; // The CLI's part size for files of this size.
    let bytes = random_bytes(3 * part + 1000);
    std::fs::write(&file, &bytes).expect("write");
    // An earlier attempt sent parts 1 and 2 and a broken part 3, then died.
    let client = server.client();
    let upload = client.create_multipart_upload().bucket("resume").key("backup.tar").send().await.expect("create");
    let id = upload.upload_id().expect("id");
    for (number, body) in [(1, bytes[..part].to_vec()), (2, bytes[part..2 * part].to_vec()), (3, vec![0u8; part])] {
        client
            .upload_part()
            .bucket("resume")
            .key("backup.tar")
            .upload_id(id)
            .part_number(number)
            .body(body.into())
            .send()
            .await
            .expect("part");
    }
    let lines = cli.run(&["cp", file.to_str().expect("utf-8"), "local/resume/backup.tar"]).ok();
    assert_eq!(lines[0]["partsReused"], 2, "parts 1 and 2 are kept, part 3 is sent again: {lines:?}");
    let object = client.get_object().bucket("resume").key("backup.tar").send().await.expect("get");
    let body = object.body.collect().await.expect("body").into_bytes();
    assert!(body.as_ref() == bytes.as_slice(), "the resumed upload holds the file's bytes");
    let pending = client.list_multipart_uploads().bucket("resume").send().await.expect("list uploads");
    assert!(pending.uploads().is_empty(), "the upload was completed, not left behind");
}
