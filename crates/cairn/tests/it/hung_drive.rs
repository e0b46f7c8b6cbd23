//! A local drive that stops answering: one drive is a small ext4 on a loop device whose
//! filesystem is frozen (`fsfreeze`), so every write to it blocks in the kernel, as on a
//! dead disk or controller. The drive must be taken offline after the drive deadline,
//! while S3 requests, health checks and writes on the other drives go on; it comes back
//! once it answers again.

use crate::harness::{Server, get, new_bucket, put, random_bytes, raw_request};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Longest a request may take while a drive hangs: the drive deadline (2 s here) and
/// the lock and retry time around it, with room for a loaded machine.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

fn run(program: &str, args: &[&str]) -> bool {
    Command::new(program).args(args).status().is_ok_and(|s| s.success())
}

/// An ext4 filesystem in an image file, loop-mounted; unmounted and removed on drop.
struct LoopFs {
    mount: PathBuf,
}

impl LoopFs {
    /// None where loop mounts are not possible (no root, no mkfs.ext4).
    fn mount(image: &Path, mount: &Path) -> Option<LoopFs> {
        std::fs::create_dir_all(mount).expect("mount point");
        let file = std::fs::File::create(image).expect("image file");
        file.set_len(64 << 20).expect("image size");
        let image = image.to_str().expect("utf-8 path");
        let target = mount.to_str().expect("utf-8 path");
        let mounted = run("mkfs.ext4", &["-q", "-F", image]) && run("mount", &["-o", "loop", image, target]);
        mounted.then(|| LoopFs { mount: mount.to_path_buf() })
    }
}

impl Drop for LoopFs {
    fn drop(&mut self) {
        let target = self.mount.to_str().expect("utf-8 path");
        run("fsfreeze", &["-u", target]);
        run("umount", &["-l", target]);
    }
}

/// A frozen filesystem, thawed on drop (before the server is killed: a process with
/// threads blocked on a frozen filesystem cannot exit until it thaws).
struct Freeze<'a>(&'a Path);

impl Freeze<'_> {
    fn thaw(&self) {
        run("fsfreeze", &["-u", self.0.to_str().expect("utf-8 path")]);
    }
}

impl Drop for Freeze<'_> {
    fn drop(&mut self) {
        self.thaw();
    }
}

/// Drives 1 to 3 in `dir` and drive 4 a loop-mounted ext4 in `disk`: the mount, its
/// path and the four drive arguments.
fn four_drives_one_on_loop(disk: &Path, dir: &Path) -> (LoopFs, PathBuf, Vec<String>) {
    let mount = disk.join("d4");
    let Some(loop_fs) = LoopFs::mount(&disk.join("d4.img"), &mount) else {
        panic!("cannot loop-mount an ext4 image (needs root and mkfs.ext4): the hung drive cannot be simulated");
    };
    let mut drives: Vec<String> = (1..=3).map(|d| dir.join(format!("d{d}")).display().to_string()).collect();
    drives.push(mount.display().to_string());
    (loop_fs, mount, drives)
}

async fn within<T>(what: &str, work: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(REQUEST_TIMEOUT, work)
        .await
        .unwrap_or_else(|_| panic!("{what} did not complete within {REQUEST_TIMEOUT:?} while a drive hangs"))
}

/// Regression: filesystem calls ran on the async workers (`is_dir()` stats before every
/// operation) or without a deadline, so a hung disk froze S3 and RPC on that node.
#[tokio::test(flavor = "multi_thread")]
async fn a_hung_drive_is_taken_offline_while_requests_go_on() {
    let (disk, dir) = (tempfile::tempdir().expect("temp dir"), tempfile::tempdir().expect("temp dir"));
    let (loop_fs, mount, drives) = four_drives_one_on_loop(disk.path(), dir.path());
    let server = Server::start_with_args(dir, &drives, 4, &[("CAIRN_DRIVE_TIMEOUT_SECS", "2")]);
    let client = server.client();
    let bucket = new_bucket(&client, "hung").await;
    put(&client, &bucket, "before", b"written while every drive answers").await;

    let frozen = Freeze(&mount);
    assert!(run("fsfreeze", &["-f", mount.to_str().expect("utf-8 path")]), "fsfreeze failed");
    // Small (inline) and multi-block objects: 3 of 4 drives are a write quorum at EC:2.
    for round in 0..3 {
        let small = random_bytes(1000 + round);
        let large = random_bytes((3 << 20) + round);
        within("a small PUT", put(&client, &bucket, &format!("small-{round}"), &small)).await;
        within("a large PUT", put(&client, &bucket, &format!("large-{round}"), &large)).await;
        assert_eq!(within("a GET", get(&client, &bucket, &format!("small-{round}"))).await, small);
        assert_eq!(within("a GET", get(&client, &bucket, &format!("large-{round}"))).await, large);
    }
    assert_eq!(within("a GET", get(&client, &bucket, "before")).await, b"written while every drive answers");
    let endpoint = server.endpoint.clone();
    let health = |path: &'static str| {
        let endpoint = endpoint.clone();
        async move { tokio::task::spawn_blocking(move || raw_request(&endpoint, "GET", path, b"").0).await }
    };
    assert_eq!(within("/minio/health/live", health("/minio/health/live")).await.expect("probe"), 200);
    assert_eq!(within("/minio/health/cluster", health("/minio/health/cluster")).await.expect("probe"), 200);
    assert!(server.log().contains("drive did not answer in time"), "the hung drive was not taken offline");

    // Thawed, the drive answers a probe and takes writes again.
    frozen.thaw();
    let mut back = false;
    for _ in 0..100 {
        if server.log().contains("drive answers again") {
            back = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(back, "the drive did not come back online after it answered again");
    put(&client, &bucket, "after", b"written once the drive is back").await;
    assert!(crate::harness::has_key_on(&mount, &bucket, "after"), "the returned drive took no write");
    drop(frozen);
    drop(server);
    drop(loop_fs);
}

/// Bound on a server start-up that meets a hung drive: the drive deadline (2 s here)
/// with room for a loaded machine.
const BOOT_TIMEOUT: Duration = Duration::from_secs(30);

/// Kills the server on drop (after the filesystem thawed: see [`Freeze`]).
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Regression: drives were opened at start-up on an async worker without a deadline, so a
/// disk hung at boot froze the node for good, with nothing said. The open runs off the
/// workers within the drive deadline, and start-up fails naming the drive.
#[tokio::test(flavor = "multi_thread")]
async fn a_drive_hung_at_start_up_fails_the_start_with_its_name() {
    let (disk, dir) = (tempfile::tempdir().expect("temp dir"), tempfile::tempdir().expect("temp dir"));
    let (loop_fs, mount, drives) = four_drives_one_on_loop(disk.path(), dir.path());
    let log_path = dir.path().join("server.log");
    let log = std::fs::File::create(&log_path).expect("log file");
    // Frozen before the server starts: opening the drive (creating `.cairn.sys`) blocks.
    let frozen = Freeze(&mount);
    assert!(run("fsfreeze", &["-f", mount.to_str().expect("utf-8 path")]), "fsfreeze failed");
    let mut child = Child(
        std::process::Command::new(env!("CARGO_BIN_EXE_cairn"))
            .args(["server", "--address", "127.0.0.1:0"])
            .env("CAIRN_CONSOLE_ADDRESS", "127.0.0.1:0")
            .args(&drives)
            .env("CAIRN_DRIVE_TIMEOUT_SECS", "2")
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .expect("start cairn"),
    );

    let mut reported = false;
    for _ in 0..BOOT_TIMEOUT.as_millis() / 100 {
        let text = std::fs::read_to_string(&log_path).unwrap_or_default();
        if text.contains("did not answer within") && text.contains(mount.to_str().expect("utf-8 path")) {
            reported = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    frozen.thaw();
    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
    assert!(reported, "start-up did not fail naming the hung drive within {BOOT_TIMEOUT:?}:\n{log}");
    let mut status = None;
    for _ in 0..BOOT_TIMEOUT.as_millis() / 100 {
        status = child.0.try_wait().expect("wait for cairn");
        if status.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let status = status.unwrap_or_else(|| panic!("cairn did not exit after the failed start-up:\n{log}"));
    assert!(!status.success(), "cairn exited successfully after a drive hung at start-up:\n{log}");
    drop(frozen);
    drop(child);
    drop(loop_fs);
}
