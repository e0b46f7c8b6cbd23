//! The ceilings Cairn is compared against: sequential disk bandwidth (with fsync,
//! reads from disk rather than the page cache) and TCP loopback bandwidth.

use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;
use std::time::Instant;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Bytes written and read by the raw disk test.
const RAW_FILE_BYTES: usize = 1 << 30;
/// Size of each write and read.
const RAW_CHUNK_BYTES: usize = 1 << 20;
/// Threads and duration of the small-commit test.
const COMMIT_THREADS: usize = 32;
const COMMIT_SECONDS: u64 = 3;
/// Bytes pushed through the loopback test.
const LOOPBACK_BYTES: usize = 2 << 30;

/// Sequential disk bandwidth in MB/s (10^6 bytes per second).
#[derive(Debug, Clone, Copy)]
pub struct RawDisk {
    pub write_mb_s: f64,
    pub read_mb_s: f64,
    /// Small durable commits per second (see `small_commits`).
    pub commits_per_s: f64,
}

pub fn mb_per_s(bytes: usize, seconds: f64) -> f64 {
    bytes as f64 / 1e6 / seconds
}

/// Writes 1 GiB of random bytes as `writers` files in parallel (one per drive, as
/// the server writes its shards), each fsynced at the end; then evicts them from the
/// page cache and reads them back in parallel.
pub fn disk(dir: &Path, writers: usize) -> std::io::Result<RawDisk> {
    std::fs::create_dir_all(dir)?;
    let mut chunk = vec![0u8; RAW_CHUNK_BYTES];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut chunk);
    let chunks_each = RAW_FILE_BYTES / RAW_CHUNK_BYTES / writers;
    let paths: Vec<_> = (0..writers).map(|i| dir.join(format!("raw-{i}.bin"))).collect();
    let started = Instant::now();
    std::thread::scope(|scope| {
        let handles: Vec<_> = paths
            .iter()
            .map(|path| {
                let chunk = &chunk;
                scope.spawn(move || -> std::io::Result<()> {
                    let mut file = File::create(path)?;
                    for _ in 0..chunks_each {
                        file.write_all(chunk)?;
                    }
                    file.sync_all()
                })
            })
            .collect();
        handles.into_iter().try_for_each(|h| h.join().unwrap_or_else(|_| Err(std::io::Error::other("writer panicked"))))
    })?;
    let written = chunks_each * writers * RAW_CHUNK_BYTES;
    let write_mb_s = mb_per_s(written, started.elapsed().as_secs_f64());
    for path in &paths {
        // Drop the file's pages so the read measures the disk, not memory.
        rustix::fs::fadvise(&File::open(path)?, 0, None, rustix::fs::Advice::DontNeed)?;
    }
    let started = Instant::now();
    let total = std::thread::scope(|scope| {
        let handles: Vec<_> = paths
            .iter()
            .map(|path| {
                scope.spawn(move || -> std::io::Result<usize> {
                    let mut file = File::open(path)?;
                    let mut buffer = vec![0u8; RAW_CHUNK_BYTES];
                    let mut total = 0;
                    loop {
                        let read = file.read(&mut buffer)?;
                        if read == 0 {
                            return Ok(total);
                        }
                        total += read;
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err(std::io::Error::other("reader panicked"))))
            .sum::<std::io::Result<usize>>()
    })?;
    let read_mb_s = mb_per_s(total, started.elapsed().as_secs_f64());
    for path in &paths {
        std::fs::remove_file(path)?;
    }
    let commits_per_s = small_commits(dir)?;
    Ok(RawDisk { write_mb_s, read_mb_s, commits_per_s })
}

/// The disk's rate of small durable commits, done the way a small PUT commits on one
/// drive (mkdir, write 4 KiB, fdatasync, rename, fsync the directory), from
/// `COMMIT_THREADS` threads for `COMMIT_SECONDS`: the ceiling for small PUTs.
fn small_commits(dir: &Path) -> std::io::Result<f64> {
    let base = dir.join("commits");
    let deadline = Instant::now() + std::time::Duration::from_secs(COMMIT_SECONDS);
    let started = Instant::now();
    let total = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..COMMIT_THREADS)
            .map(|thread| {
                let base = &base;
                scope.spawn(move || -> std::io::Result<usize> {
                    let own = base.join(format!("t{thread}"));
                    std::fs::create_dir_all(&own)?;
                    let data = [thread as u8; 4096];
                    let mut count = 0;
                    while Instant::now() < deadline {
                        let key_dir = own.join(format!("k{count}"));
                        std::fs::create_dir(&key_dir)?;
                        let staging = own.join(format!("s{count}"));
                        let mut file = File::create(&staging)?;
                        file.write_all(&data)?;
                        file.sync_data()?;
                        std::fs::rename(&staging, key_dir.join("xl.meta"))?;
                        File::open(&key_dir)?.sync_all()?;
                        count += 1;
                    }
                    Ok(count)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err(std::io::Error::other("committer panicked"))))
            .sum::<std::io::Result<usize>>()
    })?;
    let rate = total as f64 / started.elapsed().as_secs_f64();
    std::fs::remove_dir_all(&base)?;
    Ok(rate)
}

/// One TCP stream over 127.0.0.1, 1 MiB writes: the most a single connection moves.
pub async fn loopback() -> std::io::Result<f64> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let receiver = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await?;
        let mut buffer = vec![0u8; RAW_CHUNK_BYTES];
        let mut total = 0;
        loop {
            let read = stream.read(&mut buffer).await?;
            if read == 0 {
                return Ok::<usize, std::io::Error>(total);
            }
            total += read;
        }
    });
    let chunk = vec![7u8; RAW_CHUNK_BYTES];
    let started = Instant::now();
    let mut stream = tokio::net::TcpStream::connect(address).await?;
    for _ in 0..LOOPBACK_BYTES / RAW_CHUNK_BYTES {
        stream.write_all(&chunk).await?;
    }
    stream.shutdown().await?;
    let received = receiver.await.map_err(std::io::Error::other)??;
    Ok(mb_per_s(received, started.elapsed().as_secs_f64()))
}
