//! The nodes' drives: each one a size-limited tmpfs of its own, so that a drive can fill
//! up (a ballast file beside the drive folder takes the free space), turn read-only
//! (remount) and be wiped or have bytes flipped under a running node.
//!
//! Everything lives under `/var/tmp/cairn-chaos-<pid>` (the test process's id): the
//! mounts are removed on drop, also when a test panics, and [`remove_leftovers`] removes
//! those of a killed run at the next start.

use crate::netns::run;
use rand::Rng;
use rand::rngs::StdRng;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Folder (on the real disk) that holds every run's mount points.
const ROOT_PARENT: &str = "/var/tmp";
/// Start of a run's folder name, followed by the test process's id.
const ROOT_PREFIX: &str = "cairn-chaos-";
/// Size limit of one drive's tmpfs: far above what the workload keeps (its keys hold at
/// most ~10 MiB each), small enough that filling it is quick.
pub const DRIVE_BYTES_MAX: u64 = 384 << 20;
/// Size of one ballast write while filling a drive.
const BALLAST_CHUNK_BYTES: usize = 1 << 20;
/// How long making a drive read-only (or lifting it) is retried while files are open
/// through its read-only mount: longer than a peer keeps an idle read handle
/// (`cairn_cluster` closes them after 60 s).
const REMOUNT_RETRY_FOR: Duration = Duration::from_secs(75);
const REMOUNT_RETRY_INTERVAL: Duration = Duration::from_millis(20);

/// Every node's drives, mounted; unmounted and removed on drop.
pub struct Drives {
    /// `/var/tmp/cairn-chaos-<pid>`.
    root: PathBuf,
    per_node: usize,
    node_count: usize,
    /// Whether each drive is a tmpfs of its own; if not, drive faults that need a
    /// filesystem of their own (full, read-only) are unavailable.
    pub mounted: bool,
}

fn mount_points_below(root: &Path) -> Vec<PathBuf> {
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    let mut points: Vec<PathBuf> = mounts
        .lines()
        .filter_map(|line| line.split_whitespace().nth(1))
        .map(PathBuf::from)
        .filter(|point| point.starts_with(root))
        .collect();
    // Deepest first, so that nested mounts come off before their parents.
    points.sort_by_key(|point| std::cmp::Reverse(point.components().count()));
    points
}

fn unmount_and_remove(root: &Path) {
    for point in mount_points_below(root) {
        if run("umount", &[&point.to_string_lossy()]).is_err() {
            let _ = run("umount", &["-l", &point.to_string_lossy()]);
        }
    }
    let _ = std::fs::remove_dir_all(root);
}

/// Removes the mounts and folders of earlier runs whose process is gone.
pub fn remove_leftovers() {
    let Ok(entries) = std::fs::read_dir(ROOT_PARENT) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.strip_prefix(ROOT_PREFIX).and_then(|pid| pid.parse::<u32>().ok()) else { continue };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            eprintln!("chaos: removing drives left by a killed run: {}", entry.path().display());
            unmount_and_remove(&entry.path());
        }
    }
}

impl Drives {
    /// Mounts `per_node` drives for each of `node_count` nodes. Where tmpfs cannot be
    /// mounted the drives are plain folders and `mounted` is false.
    pub fn create(node_count: usize, per_node: usize) -> Drives {
        let root = PathBuf::from(ROOT_PARENT).join(format!("{ROOT_PREFIX}{}", std::process::id()));
        unmount_and_remove(&root);
        let mut drives = Drives { root, per_node, node_count, mounted: true };
        for n in 1..=node_count {
            for j in 1..=per_node {
                let point = drives.mount_point(n, j);
                std::fs::create_dir_all(&point).expect("create a mount point");
                let options = format!("size={DRIVE_BYTES_MAX}");
                if let Err(error) = run("mount", &["-t", "tmpfs", "-o", &options, "tmpfs", &point.to_string_lossy()]) {
                    if drives.mounted {
                        eprintln!(
                            "chaos: LOUD WARNING: cannot mount tmpfs ({error}); drives are plain folders and the \
                             drive-full and read-only faults are off"
                        );
                    }
                    drives.mounted = false;
                }
                std::fs::create_dir_all(drives.drive(n, j)).expect("create a drive folder");
            }
        }
        drives
    }

    pub fn per_node(&self) -> usize {
        self.per_node
    }

    pub fn mount_point(&self, n: usize, j: usize) -> PathBuf {
        self.root.join(format!("m{n}-{j}"))
    }

    /// Drive `j` of node `n` (both 1-based): a folder inside its mount.
    pub fn drive(&self, n: usize, j: usize) -> PathBuf {
        self.mount_point(n, j).join("drive")
    }

    /// Every drive, node by node.
    pub fn all(&self) -> Vec<PathBuf> {
        (1..=self.node_count)
            .flat_map(|n| (1..=self.per_node).map(move |j| (n, j)))
            .map(|(n, j)| self.drive(n, j))
            .collect()
    }

    fn ballast(&self, n: usize, j: usize) -> PathBuf {
        self.mount_point(n, j).join("ballast")
    }

    /// Fills drive `(n, j)`'s filesystem with a ballast file; returns the bytes written.
    pub fn fill(&self, n: usize, j: usize) -> Result<u64, String> {
        let path = self.ballast(n, j);
        let mut file = std::fs::File::create(&path).map_err(|e| format!("create {}: {e}", path.display()))?;
        let chunk = vec![0xa5u8; BALLAST_CHUNK_BYTES];
        let mut written = 0u64;
        let limit = DRIVE_BYTES_MAX / BALLAST_CHUNK_BYTES as u64 + 1;
        for _ in 0..limit {
            match file.write(&chunk) {
                Ok(0) => break,
                Ok(count) => written += count as u64,
                Err(error) if error.raw_os_error() == Some(libc::ENOSPC) => break,
                Err(error) => return Err(format!("fill {}: {error}", path.display())),
            }
        }
        // Whatever partial page is left: a few more small writes until nothing fits.
        for _ in 0..64 {
            if file.write(&chunk[..4096]).is_err() {
                break;
            }
        }
        Ok(written)
    }

    /// Removes drive `(n, j)`'s ballast.
    pub fn unfill(&self, n: usize, j: usize) -> Result<(), String> {
        let path = self.ballast(n, j);
        std::fs::remove_file(&path).map_err(|e| format!("remove {}: {e}", path.display()))
    }

    /// Remounts drive `(n, j)` read-only (or back read-write), retrying while busy.
    pub fn set_read_only(&self, n: usize, j: usize, read_only: bool) -> Result<(), String> {
        let point = self.mount_point(n, j).to_string_lossy().into_owned();
        // A read-only bind mount over the drive: every file or folder opened, made or
        // renamed from now on through the drive's path gets EROFS. A remount of the
        // tmpfs itself is refused (EBUSY) while the node holds its metadata index open
        // for writing, which it always does; that open file keeps taking commits, as
        // the kernel lets it (only an emergency read-only remount would stop it).
        let deadline = Instant::now() + REMOUNT_RETRY_FOR;
        if read_only {
            run("mount", &["--bind", &point, &point])?;
        }
        loop {
            // Making the bind mount read-only is refused (EBUSY) while a file opened
            // through it since the bind is open for writing (a shard being written);
            // lifting it is lazy, as files opened through it keep it busy.
            let attempt = if read_only {
                run("mount", &["-o", "remount,bind,ro", &point])
            } else {
                run("umount", &["-l", &point])
            };
            match attempt {
                Ok(_) => return Ok(()),
                Err(error) if Instant::now() >= deadline => {
                    let open = open_files_under(&point);
                    if read_only {
                        let _ = run("umount", &["-l", &point]);
                    }
                    return Err(format!("{error}; files open under it: {open}"));
                }
                Err(_) => std::thread::sleep(REMOUNT_RETRY_INTERVAL),
            }
        }
    }

    /// Removes everything in drive `(n, j)`'s folder (format, staging, buckets); returns
    /// how many top-level entries went.
    pub fn wipe(&self, n: usize, j: usize) -> Result<usize, String> {
        let drive = self.drive(n, j);
        let entries = std::fs::read_dir(&drive).map_err(|e| format!("read {}: {e}", drive.display()))?;
        let mut removed = 0;
        for entry in entries.flatten() {
            let path = entry.path();
            // A running node may create files while this runs: a second pass catches them.
            for _ in 0..3 {
                let result = if path.is_dir() { std::fs::remove_dir_all(&path) } else { std::fs::remove_file(&path) };
                if result.is_ok() || !path.exists() {
                    break;
                }
            }
            removed += 1;
        }
        Ok(removed)
    }

    /// Flips one byte in each of up to `files_max` randomly chosen shard files
    /// (`part.N` in data folders) of drive `(n, j)`; returns the files changed. Half of
    /// them, where there are enough, belong to keys below a folder named `stable_folder`
    /// (keys nobody overwrites, so the damage stays until healing repairs it).
    pub fn flip_bytes(
        &self,
        n: usize,
        j: usize,
        random: &mut StdRng,
        files_max: usize,
        stable_folder: &str,
    ) -> Vec<PathBuf> {
        let mut shards = Vec::new();
        collect_shard_files(&self.drive(n, j), &mut shards);
        shards.sort();
        let marker = format!("/{stable_folder}/");
        let (mut stable, mut others): (Vec<PathBuf>, Vec<PathBuf>) =
            shards.into_iter().partition(|path| path.to_string_lossy().contains(&marker));
        let mut flipped = Vec::new();
        for pool in [&mut stable, &mut others] {
            let wanted = (files_max - flipped.len()).min(files_max.div_ceil(2)).min(pool.len());
            for _ in 0..wanted {
                let path = pool.swap_remove(random.random_range(0..pool.len()));
                if flip_one_byte(&path, random).is_ok() {
                    flipped.push(path);
                }
            }
        }
        flipped
    }
}

fn collect_shard_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name == ".cairn.sys" {
            continue;
        }
        if path.is_dir() {
            collect_shard_files(&path, out);
        } else if name.starts_with("part.") && dir.to_string_lossy().ends_with("__XLDATA__") {
            out.push(path);
        }
    }
}

fn flip_one_byte(path: &Path, random: &mut StdRng) -> std::io::Result<()> {
    let mut file = std::fs::OpenOptions::new().read(true).write(true).open(path)?;
    let len = file.metadata()?.len();
    if len == 0 {
        return Err(std::io::Error::other("empty shard file"));
    }
    let offset = random.random_range(0..len);
    let mut byte = [0u8; 1];
    file.seek(SeekFrom::Start(offset))?;
    file.read_exact(&mut byte)?;
    byte[0] ^= 1 << random.random_range(0..8);
    file.seek(SeekFrom::Start(offset))?;
    file.write_all(&byte)?;
    file.sync_all()
}

impl Drop for Drives {
    fn drop(&mut self) {
        unmount_and_remove(&self.root);
    }
}

/// The files processes hold open under `point` (for a remount that stays busy), as
/// `pid: path` entries, at most a few.
fn open_files_under(point: &str) -> String {
    const SHOWN_MAX: usize = 8;
    let mut found = Vec::new();
    let processes = std::fs::read_dir("/proc").into_iter().flatten().flatten();
    for process in processes {
        let Ok(fds) = std::fs::read_dir(process.path().join("fd")) else { continue };
        for fd in fds.flatten() {
            if let Ok(target) = std::fs::read_link(fd.path())
                && target.starts_with(point)
            {
                found.push(format!("{}: {}", process.file_name().to_string_lossy(), target.display()));
            }
        }
    }
    let total = found.len();
    found.truncate(SHOWN_MAX);
    format!("{total} {found:?}")
}
