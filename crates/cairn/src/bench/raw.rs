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
/// Bytes pushed through the loopback test.
const LOOPBACK_BYTES: usize = 2 << 30;

/// Sequential disk bandwidth in MB/s (10^6 bytes per second).
#[derive(Debug, Clone, Copy)]
pub struct RawDisk {
    pub write_mb_s: f64,
    pub read_mb_s: f64,
}

pub fn mb_per_s(bytes: usize, seconds: f64) -> f64 {
    bytes as f64 / 1e6 / seconds
}

/// Writes a 1 GiB file of random bytes with one fsync at the end, evicts it from the
/// page cache, and reads it back.
pub fn disk(dir: &Path) -> std::io::Result<RawDisk> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join("raw.bin");
    let mut chunk = vec![0u8; RAW_CHUNK_BYTES];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut chunk);
    let started = Instant::now();
    let mut file = File::create(&path)?;
    for _ in 0..RAW_FILE_BYTES / RAW_CHUNK_BYTES {
        file.write_all(&chunk)?;
    }
    file.sync_all()?;
    let write_mb_s = mb_per_s(RAW_FILE_BYTES, started.elapsed().as_secs_f64());
    drop(file);
    let file = File::open(&path)?;
    // Drop the file's pages so the read measures the disk, not memory.
    rustix::fs::fadvise(&file, 0, None, rustix::fs::Advice::DontNeed)?;
    let started = Instant::now();
    let mut reader = file;
    let mut total = 0;
    loop {
        let read = reader.read(&mut chunk)?;
        if read == 0 {
            break;
        }
        total += read;
    }
    let read_mb_s = mb_per_s(total, started.elapsed().as_secs_f64());
    std::fs::remove_file(&path)?;
    Ok(RawDisk { write_mb_s, read_mb_s })
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
