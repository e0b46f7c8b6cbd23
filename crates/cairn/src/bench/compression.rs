//! `cairn bench compression`: what transparent compression and encryption at rest cost
//! and save, in one run against one server: for each dataset (generated CSV, JSON lines
//! and log lines, and a corpus of real text files), PUT and GET throughput and the bytes
//! the drives hold, stored as sent, compressed, encrypted (SSE-S3, by the bucket's
//! default), and compressed then encrypted. Nothing is asserted; the report is Markdown.

use super::s3;
use super::server::{ACCESS_KEY, BenchServer, SECRET_KEY};
use bytes::Bytes;
use futures::StreamExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Objects written and read at once.
const CONCURRENCY: usize = 4;
/// Suffixes of the files that make the corpus dataset.
const CORPUS_SUFFIXES: [&str; 12] =
    [".rs", ".md", ".toml", ".txt", ".json", ".yaml", ".yml", ".sh", ".py", ".mjs", ".html", ".css"];
/// Folders the corpus walk leaves out (build output, dependencies, version control).
const CORPUS_SKIP: [&str; 4] = ["target", "node_modules", ".git", "bench-data"];
/// The rule the "on" runs use: every object of the benchmark is `.txt`, encrypted or not.
const RULE: &str = "compression enable=on extensions=.txt mime_types=text/* allow_encryption=on";

/// Arguments of `cairn bench compression`.
#[derive(Debug, clap::Args)]
pub struct CompressionArgs {
    /// Folder for the server's drives.
    #[arg(long, default_value = "./bench-data")]
    dir: PathBuf,
    /// Drives of the server (one erasure set).
    #[arg(long, default_value_t = 4)]
    drives: usize,
    /// MiB of each generated dataset.
    #[arg(long, default_value_t = 256)]
    mib: usize,
    /// Folder whose text files (source, docs, configuration) make the corpus dataset,
    /// at most `--mib` MiB of it.
    #[arg(long, default_value = ".")]
    corpus: PathBuf,
    /// MiB per object.
    #[arg(long, default_value_t = 16)]
    object_mib: usize,
}

/// How a run stores its objects: compressed, encrypted.
const MODES: [(bool, bool); 4] = [(false, false), (true, false), (false, true), (true, true)];

/// One dataset's run in one mode.
struct Row {
    dataset: &'static str,
    compressed: bool,
    encrypted: bool,
    bytes: u64,
    put_mb_s: f64,
    get_mb_s: f64,
    stored: u64,
}

pub async fn run(args: CompressionArgs) -> Result<(), String> {
    let object_bytes = args.object_mib.max(1) << 20;
    let datasets: Vec<(&'static str, Vec<u8>)> = vec![
        ("CSV", generated(args.mib << 20, csv_line)),
        ("JSON lines", generated(args.mib << 20, json_line)),
        ("log lines", generated(args.mib << 20, log_line)),
        ("repository text", corpus(&args.corpus, args.mib << 20)?),
    ];
    std::fs::create_dir_all(&args.dir).map_err(|e| format!("{}: {e}", args.dir.display()))?;
    let drives_dir = std::fs::canonicalize(&args.dir).map_err(|e| e.to_string())?.join("drives");
    let _ = std::fs::remove_dir_all(&drives_dir);
    let server = BenchServer::start(&drives_dir, args.drives, 1)?;
    let client = s3::client(&server.endpoint, ACCESS_KEY, SECRET_KEY, "us-east-1");
    let mut rows = Vec::new();
    for (compressed, encrypted) in MODES {
        super::s3::set_config(
            &server.endpoint,
            (ACCESS_KEY, SECRET_KEY),
            if compressed { RULE } else { "compression enable=off" },
        )
        .await?;
        for (name, data) in &datasets {
            let bucket = format!("bench-zstd-{}", rows.len());
            client.create_bucket().bucket(&bucket).send().await.map_err(|e| format!("create {bucket}: {e:?}"))?;
            if encrypted {
                encrypt_by_default(&client, &bucket).await?;
            }
            eprintln!("bench: {name}, compression {compressed}, encryption {encrypted}");
            let objects: Vec<Bytes> =
                Bytes::from(data.clone()).chunks(object_bytes).map(Bytes::copy_from_slice).collect();
            let started = Instant::now();
            futures::stream::iter(objects.iter().enumerate())
                .map(|(n, body)| {
                    let (client, bucket, body) = (&client, &bucket, body.clone());
                    async move { s3::put(client, bucket, &format!("{n}.txt"), body).await }
                })
                .buffer_unordered(CONCURRENCY)
                .collect::<Vec<_>>()
                .await
                .into_iter()
                .collect::<Result<Vec<()>, String>>()?;
            let put_secs = started.elapsed().as_secs_f64();
            let started = Instant::now();
            let read: usize = futures::stream::iter(0..objects.len())
                .map(|n| {
                    let (client, bucket) = (&client, &bucket);
                    async move { s3::get(client, bucket, &format!("{n}.txt")).await }
                })
                .buffer_unordered(CONCURRENCY)
                .collect::<Vec<_>>()
                .await
                .into_iter()
                .sum::<Result<usize, String>>()?;
            let get_secs = started.elapsed().as_secs_f64();
            if read != data.len() {
                return Err(format!("{name}: read {read} bytes of {}", data.len()));
            }
            let megabytes = data.len() as f64 / 1e6;
            rows.push(Row {
                dataset: name,
                compressed,
                encrypted,
                bytes: data.len() as u64,
                put_mb_s: megabytes / put_secs,
                get_mb_s: megabytes / get_secs,
                stored: stored_bytes(&drives_dir, &bucket),
            });
        }
    }
    drop(server);
    let _ = std::fs::remove_dir_all(&drives_dir);
    println!("{}", render(&rows, args.drives));
    Ok(())
}

/// Turns on SSE-S3 for every new object of `bucket` (PutBucketEncryption).
async fn encrypt_by_default(client: &aws_sdk_s3::Client, bucket: &str) -> Result<(), String> {
    use aws_sdk_s3::types::{
        ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration,
        ServerSideEncryptionRule,
    };
    let by_default = ServerSideEncryptionByDefault::builder()
        .sse_algorithm(ServerSideEncryption::Aes256)
        .build()
        .map_err(|e| e.to_string())?;
    let rule = ServerSideEncryptionRule::builder().apply_server_side_encryption_by_default(by_default).build();
    let configuration = ServerSideEncryptionConfiguration::builder().rules(rule).build().map_err(|e| e.to_string())?;
    let request = client.put_bucket_encryption().bucket(bucket).server_side_encryption_configuration(configuration);
    request.send().await.map(drop).map_err(|e| format!("encrypt {bucket}: {e:?}"))
}

/// Bytes of `bucket`'s files on every drive (shards with parity and bitrot hashes; the
/// objects are large enough to have part files, so nothing is inline in the index).
fn stored_bytes(drives_dir: &Path, bucket: &str) -> u64 {
    fn walk(dir: &Path) -> u64 {
        let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
        entries
            .flatten()
            .map(|entry| match entry.file_type() {
                Ok(kind) if kind.is_dir() => walk(&entry.path()),
                Ok(_) => entry.metadata().map_or(0, |m| m.len()),
                Err(_) => 0,
            })
            .sum()
    }
    let Ok(drives) = std::fs::read_dir(drives_dir) else { return 0 };
    drives.flatten().map(|drive| walk(&drive.path().join(bucket))).sum()
}

fn generated(len: usize, line: fn(u64) -> String) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 256);
    let mut n = 0u64;
    while out.len() < len {
        out.extend_from_slice(line(n).as_bytes());
        n += 1;
    }
    out.truncate(len);
    out
}

/// A pseudo-random number for row `n` (the same each run).
fn mix(n: u64, salt: u64) -> u64 {
    let mut x = n.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ salt;
    x ^= x >> 29;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^ (x >> 32)
}

fn csv_line(n: u64) -> String {
    let names = ["Ada", "Grace", "Linus", "Margaret", "Ken", "Barbara", "Dennis", "Frances"];
    let name = names[(mix(n, 1) % names.len() as u64) as usize];
    format!(
        "{n},{name},{name}.{}@example.com,+1-555-{:04},{}.{:02},{},open\n",
        mix(n, 2) % 10_000,
        mix(n, 3) % 10_000,
        mix(n, 4) % 100_000,
        mix(n, 5) % 100,
        1_700_000_000 + mix(n, 6) % 50_000_000
    )
}

fn json_line(n: u64) -> String {
    format!(
        "{{\"id\":{n},\"customer\":\"C-{:06}\",\"quote\":\"Q-{:08x}\",\"items\":[{{\"sku\":\"SKU-{}\",\"qty\":{},\"price\":{}.{:02}}}],\"status\":\"{}\"}}\n",
        mix(n, 1) % 1_000_000,
        mix(n, 2),
        mix(n, 3) % 5000,
        mix(n, 4) % 20,
        mix(n, 5) % 2000,
        mix(n, 6) % 100,
        ["draft", "sent", "accepted", "rejected"][(mix(n, 7) % 4) as usize]
    )
}

fn log_line(n: u64) -> String {
    let secs = 1_700_000_000 + n / 7;
    format!(
        "2026-12-02T{:02}:{:02}:{:02}.{:03}Z {} crm::api request_id={:016x} method={} path=/v1/quotes/{} status={} duration_us={}\n",
        secs / 3600 % 24,
        secs / 60 % 60,
        secs % 60,
        mix(n, 1) % 1000,
        ["INFO", "INFO", "INFO", "WARN", "DEBUG"][(mix(n, 2) % 5) as usize],
        mix(n, 3),
        ["GET", "GET", "PUT", "POST"][(mix(n, 4) % 4) as usize],
        mix(n, 5) % 100_000,
        [200, 200, 200, 201, 404, 500][(mix(n, 6) % 6) as usize],
        mix(n, 7) % 50_000
    )
}

/// Text files under `root`, concatenated up to `max` bytes.
fn corpus(root: &Path, max: usize) -> Result<Vec<u8>, String> {
    let mut files = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        for entry in entries.flatten() {
            let (path, name) = (entry.path(), entry.file_name().to_string_lossy().into_owned());
            match entry.file_type() {
                Ok(kind) if kind.is_dir() && !CORPUS_SKIP.contains(&name.as_str()) => pending.push(path),
                Ok(kind) if kind.is_file() && CORPUS_SUFFIXES.iter().any(|s| name.ends_with(s)) => files.push(path),
                _ => {}
            }
        }
    }
    files.sort();
    let mut out = Vec::new();
    for file in files {
        if out.len() >= max {
            break;
        }
        out.extend(std::fs::read(&file).map_err(|e| format!("{}: {e}", file.display()))?);
    }
    out.truncate(max);
    if out.is_empty() {
        return Err(format!("no text files under {}", root.display()));
    }
    Ok(out)
}

fn render(rows: &[Row], drives: usize) -> String {
    let mut out = format!(
        "## Compression and encryption (`cairn bench compression`, {drives} drives, {CONCURRENCY} clients)\n\n\
         | data | MB | compression | encryption | PUT MB/s | GET MB/s | on the drives | stored / sent |\n\
         | --- | --- | --- | --- | --- | --- | --- | --- |\n"
    );
    for row in rows {
        out.push_str(&format!(
            "| {} | {:.0} | {} | {} | {:.0} | {:.0} | {:.1} MB | {:.3} |\n",
            row.dataset,
            row.bytes as f64 / 1e6,
            if row.compressed { "zstd 1" } else { "off" },
            if row.encrypted { "SSE-S3" } else { "off" },
            row.put_mb_s,
            row.get_mb_s,
            row.stored as f64 / 1e6,
            row.stored as f64 / row.bytes as f64
        ));
    }
    out
}
