//! Fuzz targets for the node RPC messages: whatever body a caller holding a valid
//! token sends (or a peer answers), decoding never panics and never reserves memory
//! the body does not justify, and what decodes re-encodes stably. The serving side as
//! a whole is fuzzed through a real server (`crates/cairn/tests/fuzz`).

use crate::wire::{
    DriveCall, DriveReply, LockCall, WalkCall, WireCommit, WireEntry, WireError, decode, encode, walk_frame,
};
use bytes::Bytes;
use cairn_fuzz::memory::within;
use cairn_fuzz::mutate::hostile;
use proptest::prelude::*;
use serde::Serialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

/// Cases per target in a normal test run.
const CASES: u32 = 2048;
/// Longest arbitrary input.
const INPUT_BYTES_MAX: usize = 2048;

fn drive_calls() -> Vec<Bytes> {
    let id = Uuid::from_u128(1);
    let calls = [
        DriveCall::DiskInfo,
        DriveCall::MakeVolume { volume: "bucket".into() },
        DriveCall::ReadMeta { volume: "bucket".into(), key: "a/b.txt".into() },
        DriveCall::WriteMeta {
            volume: "bucket".into(),
            key: "k".into(),
            meta: Bytes::from_static(b"CXL1\x01\x00\x80"),
        },
        DriveCall::Commit(WireCommit {
            volume: "bucket".into(),
            key: "k".into(),
            data_dir: Some(id),
            parts: vec![("tmp/0b1f".into(), 1), ("tmp/77aa".into(), 2)],
            meta: Bytes::from_static(b"meta"),
            commit_id: id,
        }),
        DriveCall::FinishCommit { volume: "b".into(), key: "k".into(), commit_id: id, keep: vec![id] },
        DriveCall::OpenShard { volume: "b".into(), key: "k".into(), data_dir: id, part_number: 3 },
        DriveCall::ReadAt { handle: 7, offset: 1 << 40, len: 1 << 20 },
        DriveCall::WriteSysFile { sys_path: "buckets/b.meta".into(), data: Bytes::from_static(b"CBK1") },
        DriveCall::RenameSys { from: "tmp/a".into(), to: "multipart/b/u/part.1.meta".into() },
    ];
    calls.iter().map(encode).collect()
}

fn replies() -> Vec<Bytes> {
    let replies: [Result<DriveReply, WireError>; 6] = [
        Ok(DriveReply::Done),
        Ok(DriveReply::DiskInfo { total_bytes: 1 << 40, free_bytes: 1 << 39, used_bytes: 1 << 39 }),
        Ok(DriveReply::Volumes(vec![("a".into(), -1), ("b".into(), i128::MAX)])),
        Ok(DriveReply::Data(Bytes::from_static(&[0xc6, 0xff, 0xff, 0xff, 0xff]))),
        Ok(DriveReply::Names(vec!["part.1.meta".into(), "upload.meta".into()])),
        Err(WireError::Io("disk on fire".into())),
    ];
    replies.iter().map(encode).collect()
}

/// A walk call from a node of the previous release, which had no `limit`, still reads,
/// as a walk without one.
#[test]
fn a_walk_call_without_a_limit_reads_as_unlimited() {
    #[derive(serde::Serialize)]
    struct OldWalkCall {
        volume: String,
        prefix: String,
        start_after: Option<String>,
        recursive: bool,
    }
    let old = OldWalkCall { volume: "b".into(), prefix: "a/".into(), start_after: None, recursive: false };
    let call: WalkCall = decode(&encode(&old)).expect("an old walk call decodes");
    let options = call.options();
    assert_eq!((options.prefix.as_str(), options.recursive, options.limit), ("a/", false, None));
}

fn lock_and_walk_messages() -> Vec<Bytes> {
    let owner = Uuid::from_u128(9);
    let mut messages = vec![
        encode(&LockCall::Lock { name: "bucket/key".into(), owner, write: true }),
        encode(&LockCall::Unlock { name: "bucket/key".into(), owner }),
        encode(&WalkCall {
            volume: "b".into(),
            prefix: "a/".into(),
            start_after: Some("a/b".into()),
            recursive: true,
            limit: Some(1001),
        }),
        encode(&Ok::<bool, WireError>(true)),
    ];
    let entry: Result<WireEntry, WireError> = Ok(WireEntry::Object { key: "k".into(), meta: Bytes::from_static(b"m") });
    messages.push(walk_frame(&entry).slice(4..));
    messages.push(walk_frame(&Ok(WireEntry::Prefix("p/".into()))).slice(4..));
    messages
}

fn seeds() -> Vec<Vec<u8>> {
    drive_calls().into_iter().chain(replies()).chain(lock_and_walk_messages()).map(|b| b.to_vec()).collect()
}

/// Decodes `bytes` as `T` within the memory bound; a message that decodes must
/// re-encode to bytes that decode and re-encode identically.
fn check<T: Serialize + DeserializeOwned>(bytes: &[u8]) -> Result<(), TestCaseError> {
    let decoded = within(bytes.len(), 0, || decode::<T>(bytes))?;
    if let Ok(value) = decoded {
        let encoded = encode(&value);
        let again = decode::<T>(&encoded).map_err(|e| TestCaseError::fail(format!("re-encoded message: {e}")))?;
        prop_assert_eq!(encode(&again), encoded);
    }
    Ok(())
}

#[test]
fn fuzz_rpc_messages() {
    cairn_fuzz::run("cluster_rpc_messages", CASES, hostile(seeds(), INPUT_BYTES_MAX), |bytes| {
        check::<DriveCall>(&bytes)?;
        check::<LockCall>(&bytes)?;
        check::<WalkCall>(&bytes)?;
        check::<Result<DriveReply, WireError>>(&bytes)?;
        check::<Result<WireEntry, WireError>>(&bytes)?;
        check::<Result<bool, WireError>>(&bytes)?;
        check::<Result<(), WireError>>(&bytes)?;
        check::<Result<Vec<u8>, WireError>>(&bytes)
    });
}
