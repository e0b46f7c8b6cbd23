//! The serving side of node RPC: checks the caller's token, then runs drive calls on
//! this node's drives and lock calls on its lock table.

use crate::locks::LockTable;
use crate::peer::scope_of;
use crate::token::TokenKey;
use crate::wire::{
    DriveCall, DriveReply, HEADER_DRIVE, HEADER_PATH, HEADER_TIME, HEADER_TOKEN, LockCall, PATH_CREATE_FILE,
    PATH_DRIVE, PATH_HEALTH, PATH_LOCK, PATH_METRICS, PATH_WALK, WalkCall, WireEntry, WireError, decode, encode,
    walk_frame,
};
use bytes::Bytes;
use cairn_drive::{CommitRequest, Drive, DriveError, PartSource, ShardReader};
use http::{Request, Response, StatusCode};
use http_body::Frame;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Incoming;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Largest body of a unary call: a metadata file with inline data, or a small system file.
const CALL_BODY_BYTES_MAX: usize = 64 << 20;
/// Longest wait for the next chunk of a streamed shard file.
const RECEIVE_CHUNK_MS: u64 = 60_000;
/// Read handles unused this long are closed (their reader went away without saying so).
const HANDLE_IDLE_MS: u64 = 300_000;

/// Response bodies of the RPC service.
pub type ResponseBody = UnsyncBoxBody<Bytes, std::io::Error>;

/// Open read handles, by number.
#[derive(Default)]
struct Handles {
    next: u64,
    open: HashMap<u64, (Arc<dyn ShardReader>, Instant)>,
}

/// Serves this node's drives and locks to its peers.
pub struct RpcService {
    /// This node's drives, by their path (as written in the endpoint URLs).
    drives: HashMap<String, Arc<dyn Drive>>,
    token: TokenKey,
    locks: Arc<LockTable>,
    handles: Mutex<Handles>,
    /// Encodes this node's request counters (set by the S3 server when it starts).
    metrics: std::sync::OnceLock<MetricsSource>,
}

/// What answers [`PATH_METRICS`]: the node's counters, encoded by their owner.
pub type MetricsSource = Box<dyn Fn() -> Vec<u8> + Send + Sync>;

impl std::fmt::Debug for RpcService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RpcService").field("drives", &self.drives.keys().collect::<Vec<_>>()).finish_non_exhaustive()
    }
}

fn respond(status: StatusCode, body: Bytes) -> Response<ResponseBody> {
    let mut response = Response::new(UnsyncBoxBody::new(Full::new(body).map_err(|never| match never {})));
    *response.status_mut() = status;
    response
}

fn reply<T: serde::Serialize>(result: &Result<T, WireError>) -> Response<ResponseBody> {
    respond(StatusCode::OK, encode(result))
}

impl RpcService {
    /// Serves `drives` (path → drive) and `locks`, to callers holding `token`'s credentials.
    pub fn new(drives: HashMap<String, Arc<dyn Drive>>, token: TokenKey, locks: Arc<LockTable>) -> Self {
        Self { drives, token, locks, handles: Mutex::new(Handles::default()), metrics: std::sync::OnceLock::new() }
    }

    /// Sets what answers peers' requests for this node's counters (once).
    pub fn set_metrics_source(&self, source: MetricsSource) {
        let _ = self.metrics.set(source);
    }

    /// Answers one RPC request.
    pub async fn handle(&self, request: Request<Incoming>) -> Response<ResponseBody> {
        let header = |name: &str| request.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default();
        if !self.token.verify(header(HEADER_TIME), header(HEADER_TOKEN), &scope_of(&request)) {
            tracing::warn!(path = request.uri().path(), "node RPC call with a bad token (other root credentials?)");
            return respond(StatusCode::UNAUTHORIZED, Bytes::from_static(b"bad node token"));
        }
        let path = request.uri().path().to_owned();
        if path == PATH_HEALTH {
            return respond(StatusCode::OK, Bytes::new());
        }
        if path == PATH_METRICS {
            let encoded = self.metrics.get().map(|source| source()).unwrap_or_default();
            return reply::<Vec<u8>>(&Ok(encoded));
        }
        if path == PATH_LOCK {
            return match read_call::<LockCall>(request).await {
                Ok(call) => reply::<bool>(&Ok(self.locks.apply(call))),
                Err(response) => response,
            };
        }
        let drive = match self.drives.get(header(HEADER_DRIVE)) {
            Some(drive) => Arc::clone(drive),
            None => return respond(StatusCode::NOT_FOUND, Bytes::from_static(b"no such drive on this node")),
        };
        match path.as_str() {
            PATH_DRIVE => match read_call::<DriveCall>(request).await {
                Ok(call) => reply(&self.drive_call(drive.as_ref(), call).await.map_err(|e| WireError::from(&e))),
                Err(response) => response,
            },
            PATH_CREATE_FILE => {
                let sys_path = hex::decode(header(HEADER_PATH)).ok().and_then(|p| String::from_utf8(p).ok());
                let Some(sys_path) = sys_path else {
                    return respond(StatusCode::BAD_REQUEST, Bytes::from_static(b"bad path header"));
                };
                let result = receive_file(drive.as_ref(), &sys_path, request.into_body()).await;
                reply(&result.map_err(|e| WireError::from(&e)))
            }
            PATH_WALK => match read_call::<WalkCall>(request).await {
                Ok(call) => walk(drive.as_ref(), &call),
                Err(response) => response,
            },
            _ => respond(StatusCode::NOT_FOUND, Bytes::from_static(b"no such RPC")),
        }
    }

    async fn drive_call(&self, drive: &dyn Drive, call: DriveCall) -> Result<DriveReply, DriveError> {
        let done = |r: Result<(), DriveError>| r.map(|()| DriveReply::Done);
        match call {
            DriveCall::DiskInfo => drive.disk_info().await.map(DriveReply::from),
            DriveCall::MakeVolume { volume } => done(drive.make_volume(&volume).await),
            DriveCall::ListVolumes => drive.list_volumes().await.map(|volumes| {
                DriveReply::Volumes(volumes.into_iter().map(|v| (v.name, v.created_unix_nanos)).collect())
            }),
            DriveCall::StatVolume { volume } => drive.stat_volume(&volume).await.map(DriveReply::from),
            DriveCall::DeleteVolume { volume } => done(drive.delete_volume(&volume).await),
            DriveCall::ReadMeta { volume, key } => drive.read_meta(&volume, &key).await.map(DriveReply::Data),
            DriveCall::WriteMeta { volume, key, meta } => done(drive.write_meta(&volume, &key, meta).await),
            DriveCall::Commit(commit) => {
                let parts = commit
                    .parts
                    .into_iter()
                    .map(|(sys_path, part_number)| PartSource { sys_path, part_number })
                    .collect();
                let request = CommitRequest {
                    volume: commit.volume,
                    key: commit.key,
                    data_dir: commit.data_dir,
                    parts,
                    meta: commit.meta,
                    commit_id: commit.commit_id,
                };
                done(drive.commit(request).await)
            }
            DriveCall::FinishCommit { volume, key, commit_id, keep } => {
                done(drive.finish_commit(&volume, &key, commit_id, keep).await)
            }
            DriveCall::UndoCommit { volume, key, commit_id, data_dir } => {
                done(drive.undo_commit(&volume, &key, commit_id, data_dir).await)
            }
            DriveCall::DeleteObject { volume, key } => done(drive.delete_object(&volume, &key).await),
            DriveCall::OpenShard { volume, key, data_dir, part_number } => {
                let reader = drive.open_shard(&volume, &key, data_dir, part_number).await?;
                Ok(DriveReply::Handle(self.register(reader)))
            }
            DriveCall::OpenSysFile { sys_path } => {
                let reader = drive.open_sys_file(&sys_path).await?;
                Ok(DriveReply::Handle(self.register(reader)))
            }
            DriveCall::ReadAt { handle, offset, len } => {
                let reader = self.reader(handle).ok_or(DriveError::FileNotFound)?;
                let len = usize::try_from(len)
                    .ok()
                    .filter(|len| *len <= CALL_BODY_BYTES_MAX)
                    .ok_or_else(|| DriveError::Corrupt(format!("read of {len} bytes refused")))?;
                reader.read_at(offset, len).await.map(DriveReply::Data)
            }
            DriveCall::CloseHandle { handle } => {
                self.handles.lock().map(|mut h| h.open.remove(&handle)).ok();
                Ok(DriveReply::Done)
            }
            DriveCall::WriteSysFile { sys_path, data } => done(drive.write_sys_file(&sys_path, data).await),
            DriveCall::ReadSysFile { sys_path } => drive.read_sys_file(&sys_path).await.map(DriveReply::Data),
            DriveCall::ListSysDir { sys_path } => drive.list_sys_dir(&sys_path).await.map(DriveReply::Names),
            DriveCall::RenameSys { from, to } => done(drive.rename_sys(&from, &to).await),
            DriveCall::DeleteSys { sys_path } => done(drive.delete_sys(&sys_path).await),
        }
    }

    /// Keeps `reader` open under a new handle; closes handles left idle too long.
    fn register(&self, reader: Box<dyn ShardReader>) -> u64 {
        let Ok(mut handles) = self.handles.lock() else { return u64::MAX };
        let now = Instant::now();
        handles.open.retain(|_, (_, used)| now.duration_since(*used) < Duration::from_millis(HANDLE_IDLE_MS));
        handles.next += 1;
        let handle = handles.next;
        handles.open.insert(handle, (Arc::from(reader), now));
        handle
    }

    fn reader(&self, handle: u64) -> Option<Arc<dyn ShardReader>> {
        let mut handles = self.handles.lock().ok()?;
        let (reader, used) = handles.open.get_mut(&handle)?;
        *used = Instant::now();
        Some(Arc::clone(reader))
    }
}

/// Reads and decodes a unary call's body, or the response refusing it.
async fn read_call<T: serde::de::DeserializeOwned>(request: Request<Incoming>) -> Result<T, Response<ResponseBody>> {
    let limited = http_body_util::Limited::new(request.into_body(), CALL_BODY_BYTES_MAX);
    let bytes = match limited.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return Err(respond(StatusCode::BAD_REQUEST, Bytes::from_static(b"unreadable call body"))),
    };
    decode(&bytes).map_err(|e| respond(StatusCode::BAD_REQUEST, Bytes::from(e.to_string())))
}

/// Streams a request body into a new shard file; durable when this returns Ok.
async fn receive_file(drive: &dyn Drive, sys_path: &str, mut body: Incoming) -> Result<(), DriveError> {
    let mut writer = drive.create_sys_file(sys_path).await?;
    let stalled = || DriveError::Io { op: "receive shard", source: std::io::Error::other("the sender stalled") };
    // A sender that stops mid-stream (paused, partitioned) must not pin this task forever.
    while let Some(frame) =
        tokio::time::timeout(Duration::from_millis(RECEIVE_CHUNK_MS), body.frame()).await.map_err(|_| stalled())?
    {
        let frame = frame.map_err(|e| DriveError::Io { op: "receive shard", source: std::io::Error::other(e) })?;
        if let Ok(data) = frame.into_data() {
            writer.write(data).await?;
        }
    }
    writer.finish().await
}

/// Streams a walk as framed entries; an error ends the stream as its last frame.
fn walk(drive: &dyn Drive, call: &WalkCall) -> Response<ResponseBody> {
    let receiver = drive.walk(&call.volume, call.options());
    let frames = futures::stream::unfold(receiver, |mut receiver| async move {
        let item = receiver.recv().await?;
        let item = item.map(WireEntry::from).map_err(|e| WireError::from(&e));
        Some((Ok::<_, std::io::Error>(Frame::data(walk_frame(&item))), receiver))
    });
    Response::new(UnsyncBoxBody::new(StreamBody::new(frames)))
}
