//! Node RPC under hostile calls: a one-node cluster (drives given as URLs, so the
//! server serves `/cairn/rpc/v1/*`) gets valid calls carrying valid tokens (drive,
//! lock, walk, streamed file, health, metrics) with edited headers and MessagePack
//! bodies. Every call gets an answer or a close, nothing gets a 500, the server stays
//! alive with bounded memory, and nothing is written outside its drive folders.

use crate::harness::{ACCESS_KEY, SECRET_KEY, Server};
use crate::raw::RawRequest;
use crate::server::{assert_folder_contained, fuzz_server, send};
use bytes::Bytes;
use cairn_cluster::{Issued, STREAM_BODY, TokenKey, body_digest};
use serde::Serialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// Calls per run in a normal test run.
const CASES: u32 = 300;

// The call types of `crates/cluster/src/wire.rs`, in the same order with the same
// fields, to encode seeds. If they drift apart the seeds stop decoding, and the check
// that every seed is answered 200 fails.
#[derive(Serialize)]
#[allow(dead_code)]
enum DriveCall {
    DiskInfo,
    MakeSystemVolume,
    MakeVolume { volume: String },
    ListVolumes,
    StatVolume { volume: String },
    DeleteVolume { volume: String },
    ReadMeta { volume: String, key: String },
    WriteMeta { volume: String, key: String, meta: Bytes },
    Commit(WireCommit),
    FinishCommit { volume: String, key: String, commit_id: Uuid, keep: Vec<Uuid> },
    UndoCommit { volume: String, key: String, commit_id: Uuid, data_dir: Option<Uuid> },
    DeleteObject { volume: String, key: String },
    OpenShard { volume: String, key: String, data_dir: Uuid, part_number: u32 },
    OpenSysFile { sys_path: String },
    ReadAt { handle: u64, offset: u64, len: u64 },
    CloseHandle { handle: u64 },
    WriteSysFile { sys_path: String, data: Bytes },
    ReadSysFile { sys_path: String },
    ListSysDir { sys_path: String },
    RenameSys { from: String, to: String },
    DeleteSys { sys_path: String },
}

#[derive(Serialize)]
struct WireCommit {
    volume: String,
    key: String,
    data_dir: Option<Uuid>,
    parts: Vec<(String, u32)>,
    meta: Bytes,
    commit_id: Uuid,
}

#[derive(Serialize)]
#[allow(dead_code)]
enum LockCall {
    Lock { name: String, owner: Uuid, write: bool },
    Refresh { name: String, owner: Uuid },
    Unlock { name: String, owner: Uuid },
}

#[derive(Serialize)]
struct WalkCall {
    volume: String,
    prefix: String,
    start_after: Option<String>,
    recursive: bool,
}

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    rmp_serde::to_vec_named(value).expect("encode a call")
}

/// A call with a valid token for its method, path, drive, file and body (a streamed
/// file call is framed and ends with its MAC, as `cairn_cluster`'s `SignedStream` sends it).
fn call(token: &TokenKey, path: &str, drive: &str, file: Option<&str>, body: Vec<u8>) -> RawRequest {
    let file_header = file.map(|f| hex::encode(f.as_bytes())).unwrap_or_default();
    let streamed = path.ends_with("/create-file");
    let body_field = if streamed { STREAM_BODY.to_owned() } else { body_digest(&body) };
    let issued = token.issue(&format!("POST\n{path}\n{drive}\n{file_header}\n\n{body_field}"));
    let body = if streamed { framed(token, &issued, &body) } else { body };
    let mut headers = vec![
        ("x-cairn-time".to_owned(), issued.time.clone()),
        ("x-cairn-nonce".to_owned(), issued.nonce.clone()),
        ("x-cairn-token".to_owned(), issued.tokens.clone()),
        ("x-cairn-body-sha256".to_owned(), body_field),
    ];
    if !drive.is_empty() {
        headers.push(("x-cairn-drive".into(), drive.to_owned()));
    }
    if file.is_some() {
        headers.push(("x-cairn-path".into(), file_header));
    }
    RawRequest { method: "POST".into(), target: path.to_owned(), headers, body }
}

/// `data` as one frame, the end mark and the call's MACs.
fn framed(token: &TokenKey, issued: &Issued, data: &[u8]) -> Vec<u8> {
    let length = u32::try_from(data.len()).expect("a small seed");
    let mut body = length.to_be_bytes().to_vec();
    body.extend_from_slice(data);
    body.extend_from_slice(&0u32.to_be_bytes());
    let digest: [u8; 32] = Sha256::digest(data).into();
    for mac in token.stream_macs(issued, &digest, data.len() as u64) {
        body.extend_from_slice(&mac);
    }
    body
}

fn seeds(token: &TokenKey, drive: &str) -> Vec<RawRequest> {
    let id = Uuid::from_u128(0x5eed);
    let volume = || "fuzzvol".to_owned();
    let meta = Bytes::from_static(b"CXL1\x01\x00\x80");
    let drive_calls = [
        DriveCall::DiskInfo,
        DriveCall::MakeSystemVolume,
        DriveCall::MakeVolume { volume: volume() },
        DriveCall::ListVolumes,
        DriveCall::StatVolume { volume: volume() },
        DriveCall::DeleteVolume { volume: "fuzzvol2".into() },
        DriveCall::WriteMeta { volume: volume(), key: "a/b".into(), meta: meta.clone() },
        DriveCall::ReadMeta { volume: volume(), key: "a/b".into() },
        DriveCall::Commit(WireCommit {
            volume: volume(),
            key: "c".into(),
            data_dir: Some(id),
            parts: vec![("tmp/fuzz-part".into(), 1)],
            meta,
            commit_id: id,
        }),
        DriveCall::FinishCommit { volume: volume(), key: "c".into(), commit_id: id, keep: vec![id] },
        DriveCall::UndoCommit { volume: volume(), key: "c".into(), commit_id: id, data_dir: None },
        DriveCall::DeleteObject { volume: volume(), key: "a/b".into() },
        DriveCall::OpenShard { volume: volume(), key: "c".into(), data_dir: id, part_number: 1 },
        DriveCall::OpenSysFile { sys_path: "format.json".into() },
        DriveCall::ReadAt { handle: 1, offset: 0, len: 100 },
        DriveCall::CloseHandle { handle: 1 },
        DriveCall::WriteSysFile { sys_path: "tmp/fuzz-file".into(), data: Bytes::from_static(b"data") },
        DriveCall::ReadSysFile { sys_path: "format.json".into() },
        DriveCall::ListSysDir { sys_path: "tmp".into() },
        DriveCall::RenameSys { from: "tmp/fuzz-file".into(), to: "tmp/fuzz-renamed".into() },
        DriveCall::DeleteSys { sys_path: "tmp/fuzz-renamed".into() },
    ];
    let owner = Uuid::from_u128(7);
    let lock_calls = [
        LockCall::Lock { name: "fuzzvol/a".into(), owner, write: true },
        LockCall::Refresh { name: "fuzzvol/a".into(), owner },
        LockCall::Unlock { name: "fuzzvol/a".into(), owner },
    ];
    let walk = WalkCall { volume: volume(), prefix: "a/".into(), start_after: None, recursive: true };
    let mut seeds: Vec<RawRequest> =
        drive_calls.iter().map(|c| call(token, "/cairn/rpc/v1/drive", drive, None, encode(c))).collect();
    seeds.extend(lock_calls.iter().map(|c| call(token, "/cairn/rpc/v1/lock", "", None, encode(c))));
    seeds.push(call(token, "/cairn/rpc/v1/walk", drive, None, encode(&walk)));
    seeds.push(call(token, "/cairn/rpc/v1/create-file", drive, Some("tmp/fuzz-stream"), vec![7; 3000]));
    seeds.push(call(token, "/cairn/rpc/v1/health", "", None, Vec::new()));
    seeds.push(call(token, "/cairn/rpc/v1/metrics", "", None, Vec::new()));
    seeds
}

/// A port free on 127.0.0.1 when asked (the server binds it right after).
fn free_port() -> u16 {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a probe");
    probe.local_addr().expect("probe address").port()
}

#[test]
fn fuzz_rpc_calls() {
    let dir = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let address = format!("127.0.0.1:{port}");
    let drives = format!("http://{address}{}/d{{1...4}}", dir.path().display());
    let drive = format!("{}/d1", dir.path().display());
    let server = Server::start_with_args(dir, &[drives], 4, &[("CAIRN_ADDRESS", address.as_str())]);
    let token = TokenKey::new(ACCESS_KEY, SECRET_KEY);
    let seeds = seeds(&token, &drive);
    // Every seed must decode and pass its token, so that edits start from a valid call.
    for (index, seed) in seeds.iter().enumerate() {
        let status = send(&address, seed);
        assert_eq!(status, Some(200), "seed {index} ({}) was refused", seed.target);
    }
    fuzz_server(
        "rpc_calls",
        &server,
        &|| self::seeds(&token, &drive),
        cairn_fuzz::cases_costing(CASES, crate::s3::REQUEST_COST),
    );
    assert_folder_contained(&server);
}
