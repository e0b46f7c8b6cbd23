//! The client phase: `cairn cp` of one large local file up to the server and back,
//! run as a user runs it (this binary, as a child process, alias from the
//! environment), so the numbers include the CLI's multipart pipeline and the local
//! file I/O on both ends.

use super::server::{ACCESS_KEY, BenchServer, SECRET_KEY};
use std::io::Write;
use std::path::Path;
use std::time::Instant;

/// Size of the file copied up and back.
pub const CLIENT_FILE_BYTES: u64 = 512 << 20;
/// Bytes written per chunk while making the file.
const CHUNK_BYTES: usize = 1 << 20;

/// What the client phase measured.
#[derive(Debug, Clone, Copy)]
pub struct ClientCopy {
    pub upload_mb_s: f64,
    pub download_mb_s: f64,
}

/// Copies a `CLIENT_FILE_BYTES` file to the server and back with `cairn cp`, checks
/// the copy, and reports both rates.
pub fn copy_round_trip(dir: &Path, server: &BenchServer) -> Result<ClientCopy, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let (source, back) = (dir.join("upload.bin"), dir.join("download.bin"));
    write_file(&source)?;
    let cairn = |args: &[&str]| -> Result<f64, String> {
        let started = Instant::now();
        let status = std::process::Command::new(std::env::current_exe().map_err(|e| e.to_string())?)
            .args(["--quiet"])
            .args(args)
            .env("CAIRN_HOST_bench", host_url(&server.endpoint))
            .env("CAIRN_CONFIG_DIR", dir)
            .stdout(std::process::Stdio::null())
            .status()
            .map_err(|e| format!("cannot run cairn {args:?}: {e}"))?;
        if !status.success() {
            return Err(format!("cairn {args:?} failed: {status}"));
        }
        Ok(started.elapsed().as_secs_f64())
    };
    cairn(&["mb", "-p", "bench/client"])?;
    let path = |p: &Path| p.to_string_lossy().into_owned();
    let up = cairn(&["cp", &path(&source), "bench/client/upload.bin"])?;
    let down = cairn(&["cp", "bench/client/upload.bin", &path(&back)])?;
    let same = std::fs::metadata(&back).map(|m| m.len()).ok() == Some(CLIENT_FILE_BYTES);
    let _ = std::fs::remove_file(&source);
    let _ = std::fs::remove_file(&back);
    if !same {
        return Err("the downloaded file has another size".into());
    }
    let mb = CLIENT_FILE_BYTES as f64 / 1e6;
    Ok(ClientCopy { upload_mb_s: mb / up, download_mb_s: mb / down })
}

fn host_url(endpoint: &str) -> String {
    endpoint.replacen("://", &format!("://{ACCESS_KEY}:{SECRET_KEY}@"), 1)
}

/// Writes incompressible bytes (a cheap xorshift stream), then syncs.
fn write_file(path: &Path) -> Result<(), String> {
    let mut file = std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut chunk = vec![0u8; CHUNK_BYTES];
    for _ in 0..CLIENT_FILE_BYTES / CHUNK_BYTES as u64 {
        for word in chunk.chunks_exact_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            word.copy_from_slice(&state.to_le_bytes());
        }
        file.write_all(&chunk).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    file.sync_all().map_err(|e| format!("{}: {e}", path.display()))
}
