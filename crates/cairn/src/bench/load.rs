//! The client side of the benchmark: aws-sdk-s3 over loopback (see `s3.rs`).

use super::server::{ACCESS_KEY, BenchServer, SECRET_KEY, cpu_seconds};
use bytes::Bytes;
use rand::RngCore;
use std::time::{Duration, Instant};

const MIB: usize = 1 << 20;
/// Size of the throughput-phase objects.
const LARGE_OBJECT_BYTES: usize = 64 * MIB;
/// Concurrent streams in the throughput phase.
const LARGE_STREAMS: usize = 4;
/// Size of the latency-phase objects.
const SMALL_OBJECT_BYTES: usize = 4 << 10;
/// Free space kept on the disk beyond what the memory phase writes, in bytes.
const MEMORY_DISK_MARGIN_BYTES: u64 = 1 << 30;
/// Distinct small bodies cycled through (each random).
const SMALL_BODIES: usize = 1024;
const BUCKET: &str = "bench";

/// Throughput of 64 MiB objects, MB/s (10^6 bytes).
#[derive(Debug, Clone, Copy)]
pub struct Large {
    pub objects: usize,
    pub put_mb_s: f64,
    pub get_mb_s: f64,
    /// Server CPU seconds per GB (10^9 bytes) stored, and per GB served; None when the
    /// server's processes are not known (a --compare endpoint without --compare-pid).
    pub put_cpu_s_per_gb: Option<f64>,
    pub get_cpu_s_per_gb: Option<f64>,
}

/// Rate and latency of one small-object operation.
#[derive(Debug, Clone, Copy)]
pub struct Stats {
    pub ops: usize,
    pub ops_per_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

/// Small-object results at one concurrency.
#[derive(Debug, Clone, Copy)]
pub struct Small {
    pub clients: usize,
    pub put: Stats,
    pub get: Stats,
}

/// What the memory phase uploads: `uploads` objects of `object_mib` MiB, all at once.
#[derive(Debug, Clone, Copy)]
pub struct MemoryPhase {
    pub uploads: usize,
    pub object_mib: usize,
}

impl MemoryPhase {
    fn object_bytes(self) -> usize {
        self.object_mib * MIB
    }

    /// Errors unless the filesystem under `dir` can hold every upload at once, with
    /// parity (as with the default layout of `drives` drives), plus a margin.
    pub fn check_disk_space(self, dir: &std::path::Path, drives: usize) -> Result<(), String> {
        let parity = cairn_object::parity_for_set_size(drives);
        let data = (drives - parity).max(1) as u64;
        let objects = (self.uploads * self.object_bytes()) as u64;
        let needed = objects / data * drives as u64 + MEMORY_DISK_MARGIN_BYTES;
        let stat = rustix::fs::statvfs(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let free = stat.f_bavail * stat.f_frsize;
        if free < needed {
            return Err(format!(
                "the memory phase ({} x {} MiB) needs {} GiB free under {}, there are {} GiB: \
                 pass --memory-uploads/--memory-object-mib or --skip-memory",
                self.uploads,
                self.object_mib,
                needed >> 30,
                dir.display(),
                free >> 30
            ));
        }
        Ok(())
    }
}

/// Server memory and CPU during concurrent large uploads.
#[derive(Debug, Clone, Copy)]
pub struct Memory {
    pub uploads: usize,
    pub object_mib: usize,
    pub seconds: f64,
    /// Peak RSS during this phase alone (the high-water mark is reset before it).
    pub peak_rss_mib: f64,
    /// Server CPU seconds per GB (10^9 bytes) stored in this phase.
    pub cpu_s_per_gb: f64,
}

fn random(len: usize) -> Bytes {
    let mut bytes = vec![0u8; len];
    rand::rng().fill_bytes(&mut bytes);
    Bytes::from(bytes)
}

fn stats(mut latencies: Vec<Duration>, elapsed: Duration) -> Stats {
    latencies.sort_unstable();
    let at = |q: f64| {
        let index =
            ((latencies.len() as f64 * q).ceil() as usize).saturating_sub(1).min(latencies.len().saturating_sub(1));
        latencies.get(index).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    Stats {
        ops: latencies.len(),
        ops_per_s: latencies.len() as f64 / elapsed.as_secs_f64(),
        p50_ms: at(0.50),
        p99_ms: at(0.99),
    }
}

#[derive(Clone)]
pub struct Client {
    s3: aws_sdk_s3::Client,
    bucket: String,
}

impl Client {
    /// A client of the benchmarked server, with its bucket made (versioned when asked).
    pub async fn new(endpoint: &str, versioned: bool) -> Result<Self, String> {
        let client = Self::with(super::s3::client(endpoint, ACCESS_KEY, SECRET_KEY, "us-east-1"), BUCKET).await?;
        if versioned {
            super::s3::enable_versioning(&client.s3, &client.bucket).await?;
        }
        Ok(client)
    }

    /// The S3 client.
    pub fn s3(&self) -> &aws_sdk_s3::Client {
        &self.s3
    }

    /// The benchmark's bucket.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// A client of another endpoint (`--compare`): a bucket of its own per run, as the
    /// endpoint may keep the buckets of earlier runs.
    pub async fn compare(endpoint: &str, access_key: &str, secret_key: &str, region: &str) -> Result<Self, String> {
        let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        let bucket = format!("{BUCKET}-{}", since_epoch.as_millis());
        Self::with(super::s3::client(endpoint, access_key, secret_key, region), &bucket).await
    }

    async fn with(s3: aws_sdk_s3::Client, bucket: &str) -> Result<Self, String> {
        s3.create_bucket().bucket(bucket).send().await.map_err(|e| format!("create bucket {bucket}: {e:?}"))?;
        Ok(Self { s3, bucket: bucket.to_owned() })
    }

    async fn put(&self, key: &str, body: Bytes) -> Result<(), String> {
        super::s3::put(&self.s3, &self.bucket, key, body).await
    }

    async fn get(&self, key: &str) -> Result<usize, String> {
        super::s3::get(&self.s3, &self.bucket, key).await
    }

    /// The throughput phase; server CPU is read from `pids` (none: not measured).
    pub async fn large_objects(&self, count: usize, pids: &[u32]) -> Result<Large, String> {
        let per_stream = count.div_ceil(LARGE_STREAMS);
        let bodies: Vec<Bytes> = (0..LARGE_STREAMS).map(|_| random(LARGE_OBJECT_BYTES)).collect();
        let cpu = || if pids.is_empty() { Ok(None) } else { cpu_seconds(pids).map(Some) };
        let cpu_before = cpu()?;
        let started = Instant::now();
        let mut tasks = Vec::new();
        for (stream, body) in bodies.into_iter().enumerate() {
            let client = self.clone();
            tasks.push(tokio::spawn(async move {
                for i in 0..per_stream {
                    client.put(&format!("large/{stream}/{i}"), body.clone()).await?;
                }
                Ok::<(), String>(())
            }));
        }
        for task in tasks {
            task.await.map_err(|e| e.to_string())??;
        }
        let bytes = per_stream * LARGE_STREAMS * LARGE_OBJECT_BYTES;
        let put_mb_s = super::raw::mb_per_s(bytes, started.elapsed().as_secs_f64());
        let cpu_after_put = cpu()?;
        let started = Instant::now();
        let mut tasks = Vec::new();
        for stream in 0..LARGE_STREAMS {
            let client = self.clone();
            tasks.push(tokio::spawn(async move {
                let mut total = 0;
                for i in 0..per_stream {
                    total += client.get(&format!("large/{stream}/{i}")).await?;
                }
                Ok::<usize, String>(total)
            }));
        }
        let mut read = 0;
        for task in tasks {
            read += task.await.map_err(|e| e.to_string())??;
        }
        let get_mb_s = super::raw::mb_per_s(read, started.elapsed().as_secs_f64());
        let cpu_after_get = cpu()?;
        let per_gb = |from: Option<f64>, to: Option<f64>, moved: usize| Some((to? - from?) / (moved as f64 / 1e9));
        Ok(Large {
            objects: per_stream * LARGE_STREAMS,
            put_mb_s,
            get_mb_s,
            put_cpu_s_per_gb: per_gb(cpu_before, cpu_after_put, bytes),
            get_cpu_s_per_gb: per_gb(cpu_after_put, cpu_after_get, read),
        })
    }

    pub async fn small_objects(&self, clients: usize, seconds: u64) -> Result<Small, String> {
        let bodies: Vec<Bytes> = (0..SMALL_BODIES).map(|_| random(SMALL_OBJECT_BYTES)).collect();
        let phase = Duration::from_secs(seconds);
        let started = Instant::now();
        let mut tasks = Vec::new();
        for client_index in 0..clients {
            let client = self.clone();
            let bodies = bodies.clone();
            tasks.push(tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut i = 0;
                while started.elapsed() < phase {
                    let body = bodies[(client_index * 7919 + i) % bodies.len()].clone();
                    let began = Instant::now();
                    client.put(&format!("small-{clients}/{client_index}/{i}"), body).await?;
                    latencies.push(began.elapsed());
                    i += 1;
                }
                Ok::<(Vec<Duration>, usize), String>((latencies, i))
            }));
        }
        let mut put_latencies = Vec::new();
        let mut written = Vec::new();
        for task in tasks {
            let (latencies, count) = task.await.map_err(|e| e.to_string())??;
            put_latencies.extend(latencies);
            written.push(count);
        }
        let put = stats(put_latencies, started.elapsed());

        let started = Instant::now();
        let mut tasks = Vec::new();
        for (client_index, count) in written.into_iter().enumerate() {
            let client = self.clone();
            tasks.push(tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut i = 0;
                while started.elapsed() < phase && count > 0 {
                    let key = format!("small-{clients}/{client_index}/{}", (i * 31) % count);
                    let began = Instant::now();
                    let length = client.get(&key).await?;
                    latencies.push(began.elapsed());
                    if length != SMALL_OBJECT_BYTES {
                        return Err(format!("{key}: read {length} bytes"));
                    }
                    i += 1;
                }
                Ok::<Vec<Duration>, String>(latencies)
            }));
        }
        let mut get_latencies = Vec::new();
        for task in tasks {
            get_latencies.extend(task.await.map_err(|e| e.to_string())??);
        }
        let get = stats(get_latencies, started.elapsed());
        Ok(Small { clients, put, get })
    }

    pub async fn memory_phase(&self, phase: MemoryPhase, server: &BenchServer) -> Result<Memory, String> {
        let body = random(phase.object_bytes());
        server.reset_peak_rss()?;
        let cpu_before = server.cpu_seconds()?;
        let started = Instant::now();
        let mut tasks = Vec::new();
        for upload in 0..phase.uploads {
            let client = self.clone();
            let body = body.clone();
            tasks.push(tokio::spawn(async move { client.put(&format!("memory/{upload}"), body).await }));
        }
        for task in tasks {
            task.await.map_err(|e| e.to_string())??;
        }
        let seconds = started.elapsed().as_secs_f64();
        let peak_rss_mib = server.peak_rss_mib()?;
        let stored_gb = (phase.uploads * phase.object_bytes()) as f64 / 1e9;
        Ok(Memory {
            uploads: phase.uploads,
            object_mib: phase.object_mib,
            seconds,
            peak_rss_mib,
            cpu_s_per_gb: (server.cpu_seconds()? - cpu_before) / stored_gb,
        })
    }
}
