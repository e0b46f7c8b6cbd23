//! The node RPC wire format: paths, headers, and the MessagePack messages that carry
//! drive calls, lock calls and their replies between nodes.

use bytes::Bytes;
use cairn_drive::{DiskInfo, DriveError, VolumeInfo, WalkEntry, WalkOptions};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Every node RPC path starts with this; the S3 server hands such requests to the RPC service.
pub const RPC_PREFIX: &str = "/cairn/rpc/v1/";
/// Unary drive calls ([`DriveCall`] in, `Result<DriveReply, WireError>` out).
pub const PATH_DRIVE: &str = "/cairn/rpc/v1/drive";
/// Streams a shard file into a drive's system volume (request body = file contents).
pub const PATH_CREATE_FILE: &str = "/cairn/rpc/v1/create-file";
/// Streams a walk of a bucket (response body = framed `Result<WireEntry, WireError>`).
pub const PATH_WALK: &str = "/cairn/rpc/v1/walk";
/// Namespace lock calls ([`LockCall`] in, `bool` out).
pub const PATH_LOCK: &str = "/cairn/rpc/v1/lock";
/// Liveness probe of a peer, also checks the caller's token.
pub const PATH_HEALTH: &str = "/cairn/rpc/v1/health";
/// This node's request counters, for the cluster-wide metrics of any node.
pub const PATH_METRICS: &str = "/cairn/rpc/v1/metrics";
/// Reload the identities now: another node just changed them (`bool` out: reloaded).
pub const PATH_RELOAD_IDENTITIES: &str = "/cairn/rpc/v1/identities/reload";
/// A bucket's configuration changed: forget the copy kept in memory (`String` in: the
/// bucket; `bool` out).
pub const PATH_BUCKET_CHANGED: &str = "/cairn/rpc/v1/bucket/changed";

/// The drive (its path on the serving node) a drive call is for.
pub const HEADER_DRIVE: &str = "x-cairn-drive";
/// Hex-encoded system-volume path of a streamed file.
pub const HEADER_PATH: &str = "x-cairn-path";
/// The write lock a drive call is fenced by (see `fence.rs`): `<owner> <hex of the name>`.
pub const HEADER_FENCE: &str = "x-cairn-fence";
/// The SHA-256 (hex) of a unary call's body, or `stream` for a streamed shard file.
pub const HEADER_BODY: &str = "x-cairn-body-sha256";
/// 128 random bits (hex) that make each call's token unique; a receiver refuses a nonce twice.
pub const HEADER_NONCE: &str = "x-cairn-nonce";
/// Unix seconds the token was made at.
pub const HEADER_TIME: &str = "x-cairn-time";
/// The caller's token (see `token.rs`).
pub const HEADER_TOKEN: &str = "x-cairn-token";

/// A drive error as it crosses the wire.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum WireError {
    VolumeNotFound,
    VolumeExists,
    VolumeNotEmpty,
    FileNotFound,
    InvalidKey(String),
    KeyTooLong,
    DiskFull,
    DriveNotFound,
    Offline(String),
    Corrupt(String),
    Io(String),
}

impl From<&DriveError> for WireError {
    fn from(error: &DriveError) -> Self {
        match error {
            DriveError::VolumeNotFound => WireError::VolumeNotFound,
            DriveError::VolumeExists => WireError::VolumeExists,
            DriveError::VolumeNotEmpty => WireError::VolumeNotEmpty,
            DriveError::FileNotFound => WireError::FileNotFound,
            DriveError::InvalidKey(why) => WireError::InvalidKey((*why).to_owned()),
            DriveError::KeyTooLong => WireError::KeyTooLong,
            DriveError::DiskFull => WireError::DiskFull,
            DriveError::DriveNotFound => WireError::DriveNotFound,
            DriveError::Offline(why) => WireError::Offline(why.clone()),
            DriveError::Corrupt(why) => WireError::Corrupt(why.clone()),
            DriveError::Io { .. } => WireError::Io(error.to_string()),
        }
    }
}

impl From<WireError> for DriveError {
    fn from(error: WireError) -> Self {
        match error {
            WireError::VolumeNotFound => DriveError::VolumeNotFound,
            WireError::VolumeExists => DriveError::VolumeExists,
            WireError::VolumeNotEmpty => DriveError::VolumeNotEmpty,
            WireError::FileNotFound => DriveError::FileNotFound,
            // Keys are validated on the calling node before a call is made, so a remote
            // refusal means the nodes disagree on the rules: report it as an I/O failure.
            WireError::InvalidKey(why) => DriveError::Io { op: "remote", source: std::io::Error::other(why) },
            WireError::KeyTooLong => DriveError::KeyTooLong,
            WireError::DiskFull => DriveError::DiskFull,
            WireError::DriveNotFound => DriveError::DriveNotFound,
            WireError::Offline(why) => DriveError::Offline(why),
            WireError::Corrupt(why) => DriveError::Corrupt(why),
            WireError::Io(why) => DriveError::Io { op: "remote", source: std::io::Error::other(why) },
        }
    }
}

/// One call on a drive of the serving node.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum DriveCall {
    DiskInfo,
    /// Recreates a wiped drive's system volume (an on-demand heal, then formats it).
    MakeSystemVolume,
    MakeVolume {
        volume: String,
    },
    ListVolumes,
    StatVolume {
        volume: String,
    },
    DeleteVolume {
        volume: String,
    },
    ReadMeta {
        volume: String,
        key: String,
    },
    WriteMeta {
        volume: String,
        key: String,
        meta: Bytes,
    },
    Commit(WireCommit),
    FinishCommit {
        volume: String,
        key: String,
        commit_id: Uuid,
        keep: Vec<Uuid>,
    },
    UndoCommit {
        volume: String,
        key: String,
        commit_id: Uuid,
        data_dir: Option<Uuid>,
    },
    DeleteObject {
        volume: String,
        key: String,
    },
    OpenShard {
        volume: String,
        key: String,
        data_dir: Uuid,
        part_number: u32,
    },
    OpenSysFile {
        sys_path: String,
    },
    ReadAt {
        handle: u64,
        offset: u64,
        len: u64,
    },
    CloseHandle {
        handle: u64,
    },
    WriteSysFile {
        sys_path: String,
        data: Bytes,
    },
    ReadSysFile {
        sys_path: String,
    },
    ListSysDir {
        sys_path: String,
    },
    /// The drive's commits neither finished nor undone (encoded `PendingCommit`s).
    PendingCommits,
    RenameSys {
        from: String,
        to: String,
    },
    DeleteSys {
        sys_path: String,
    },
}

/// A [`cairn_drive::CommitRequest`] on the wire.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WireCommit {
    pub volume: String,
    pub key: String,
    pub data_dir: Option<Uuid>,
    /// (system-volume path, part number) of each part.
    pub parts: Vec<(String, u32)>,
    pub meta: Bytes,
    pub commit_id: Uuid,
}

/// The successful answer to a [`DriveCall`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum DriveReply {
    Done,
    DiskInfo {
        total_bytes: u64,
        free_bytes: u64,
        used_bytes: u64,
    },
    Volumes(Vec<(String, i128)>),
    Volume(String, i128),
    Data(Bytes),
    Handle(u64),
    Names(Vec<String>),
    /// Encoded `PendingCommit` records.
    Records(Vec<Bytes>),
}

impl From<DiskInfo> for DriveReply {
    fn from(info: DiskInfo) -> Self {
        DriveReply::DiskInfo { total_bytes: info.total_bytes, free_bytes: info.free_bytes, used_bytes: info.used_bytes }
    }
}

impl From<VolumeInfo> for DriveReply {
    fn from(info: VolumeInfo) -> Self {
        DriveReply::Volume(info.name, info.created_unix_nanos)
    }
}

/// Arguments of a streamed walk.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WalkCall {
    pub volume: String,
    pub prefix: String,
    pub start_after: Option<String>,
    pub recursive: bool,
    /// Absent from callers before walks had limits: no limit.
    #[serde(default)]
    pub limit: Option<u64>,
}

impl WalkCall {
    pub fn new(volume: &str, options: &WalkOptions) -> Self {
        Self {
            volume: volume.to_owned(),
            prefix: options.prefix.clone(),
            start_after: options.start_after.clone(),
            recursive: options.recursive,
            limit: options.limit.map(|limit| limit as u64),
        }
    }

    pub fn options(&self) -> WalkOptions {
        WalkOptions {
            prefix: self.prefix.clone(),
            start_after: self.start_after.clone(),
            recursive: self.recursive,
            limit: self.limit.map(|limit| usize::try_from(limit).unwrap_or(usize::MAX)),
        }
    }
}

/// A [`WalkEntry`] on the wire.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum WireEntry {
    Object { key: String, meta: Bytes },
    Prefix(String),
}

impl From<WalkEntry> for WireEntry {
    fn from(entry: WalkEntry) -> Self {
        match entry {
            WalkEntry::Object { key, meta } => WireEntry::Object { key, meta },
            WalkEntry::Prefix(prefix) => WireEntry::Prefix(prefix),
        }
    }
}

impl From<WireEntry> for WalkEntry {
    fn from(entry: WireEntry) -> Self {
        match entry {
            WireEntry::Object { key, meta } => WalkEntry::Object { key, meta },
            WireEntry::Prefix(prefix) => WalkEntry::Prefix(prefix),
        }
    }
}

/// One call on the serving node's lock table.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum LockCall {
    /// Grant `name` to `owner` (exclusive when `write`), unless it conflicts.
    Lock { name: String, owner: Uuid, write: bool },
    /// Extend `owner`'s lease on `name`; false when it no longer holds it.
    Refresh { name: String, owner: Uuid },
    /// Drop `owner`'s hold on `name` (a no-op when it holds nothing).
    Unlock { name: String, owner: Uuid },
}

/// Encodes a message.
pub fn encode<T: Serialize>(value: &T) -> Bytes {
    // Encoding plain data into a Vec cannot fail: no map keys other than strings, no I/O.
    Bytes::from(rmp_serde::to_vec_named(value).unwrap_or_default())
}

/// Decodes a message; a malformed one is an I/O error of the call.
pub fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, DriveError> {
    rmp_serde::from_slice(bytes).map_err(|e| DriveError::Io { op: "rpc decode", source: std::io::Error::other(e) })
}

/// Frames one walk item: a 4-byte big-endian length, then the message.
pub fn walk_frame(item: &Result<WireEntry, WireError>) -> Bytes {
    let body = encode(item);
    let mut framed = Vec::with_capacity(4 + body.len());
    framed.extend_from_slice(&(body.len() as u32).to_be_bytes());
    framed.extend_from_slice(&body);
    Bytes::from(framed)
}
