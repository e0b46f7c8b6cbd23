//! The serving side of node RPC: checks the caller's token, then runs drive calls on
//! this node's drives and lock calls on its lock table.

use crate::fence::Fence;
use crate::handles::{Handles, READ_HANDLES_OPEN_MAX};
use crate::locks::LockTable;
use crate::peer::scope_of;
use crate::stream::{Received, StreamReader};
use crate::token::{ReplayCache, STREAM_BODY, TokenError, TokenKey, Verified, body_digest};
use crate::wire::{
    DriveCall, DriveReply, HEADER_BODY, HEADER_DRIVE, HEADER_FENCE, HEADER_NONCE, HEADER_PATH, HEADER_TIME,
    HEADER_TOKEN, LockCall, PATH_BUCKET_CHANGED, PATH_CREATE_FILE, PATH_DRIVE, PATH_HEALTH, PATH_LOCK, PATH_METRICS,
    PATH_RELOAD_IDENTITIES, PATH_WALK, WalkCall, WireEntry, WireError, decode, encode, walk_frame,
};
use bytes::{Bytes, BytesMut};
use cairn_drive::{CommitRequest, Drive, DriveError, PartSource};
use http::{Request, Response, StatusCode};
use http_body::Frame;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Incoming;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// Largest body of a unary call: a metadata file with inline data, or a small system file.
const CALL_BODY_BYTES_MAX: usize = 64 << 20;
/// Longest wait for the next chunk of a streamed shard file.
const RECEIVE_CHUNK_MS: u64 = 60_000;

/// Response bodies of the RPC service.
pub type ResponseBody = UnsyncBoxBody<Bytes, std::io::Error>;

/// Serves this node's drives and locks to its peers.
pub struct RpcService {
    /// This node's drives, by their path (as written in the endpoint URLs).
    drives: HashMap<String, Arc<dyn Drive>>,
    token: TokenKey,
    locks: Arc<LockTable>,
    /// Shard files peers are reading, bounded by [`READ_HANDLES_OPEN_MAX`].
    handles: Handles,
    /// Nonces of the calls accepted lately.
    replays: ReplayCache,
    /// Tests only: how long a received shard file waits before it is made durable and
    /// acknowledged, as on a node whose disk is slow.
    test_ack_delay: Option<Duration>,
    /// Encodes this node's request counters (set by the S3 server when it starts).
    metrics: std::sync::OnceLock<MetricsSource>,
    /// Reloads this node's identities (set by the server once they are loaded).
    identities: std::sync::OnceLock<ReloadIdentities>,
    /// Forgets this node's copy of a bucket's configuration (set by the server).
    bucket_changed: std::sync::OnceLock<BucketChanged>,
}

/// What answers [`PATH_BUCKET_CHANGED`]: forgets the node's copy of a bucket's configuration.
pub type BucketChanged = Box<dyn Fn(&str) + Send + Sync>;

/// What answers [`PATH_RELOAD_IDENTITIES`]: reloads the node's identities, true on success.
pub type ReloadIdentities =
    Box<dyn Fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = bool> + Send>> + Send + Sync>;

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
        Self {
            drives,
            token,
            locks,
            handles: Handles::new(READ_HANDLES_OPEN_MAX),
            replays: ReplayCache::default(),
            test_ack_delay: None,
            metrics: std::sync::OnceLock::new(),
            identities: std::sync::OnceLock::new(),
            bucket_changed: std::sync::OnceLock::new(),
        }
    }

    /// Sets what forgets this node's copy of a bucket's configuration when a peer
    /// changed it (once).
    pub fn set_bucket_changed(&self, forget: BucketChanged) {
        let _ = self.bucket_changed.set(forget);
    }

    /// Tests only: delays acknowledging each received shard file by `delay`, as a slow disk would.
    pub fn with_test_ack_delay(mut self, delay: Option<Duration>) -> Self {
        self.test_ack_delay = delay;
        self
    }

    /// Sets what answers peers' requests for this node's counters (once).
    pub fn set_metrics_source(&self, source: MetricsSource) {
        let _ = self.metrics.set(source);
    }

    /// Sets what reloads this node's identities when a peer changed them (once).
    pub fn set_identities_reload(&self, reload: ReloadIdentities) {
        let _ = self.identities.set(reload);
    }

    /// Checks a call's token and nonce.
    fn authenticate<B>(&self, request: &Request<B>) -> Result<Verified, TokenError> {
        let header = |name: &str| request.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default();
        let (time, nonce) = (header(HEADER_TIME), header(HEADER_NONCE));
        let verified = self.token.verify(time, nonce, header(HEADER_TOKEN), &scope_of(request))?;
        self.replays.admit(time, nonce)?;
        Ok(verified)
    }

    /// Answers one RPC request.
    pub async fn handle(&self, request: Request<Incoming>) -> Response<ResponseBody> {
        let verified = match self.authenticate(&request) {
            Ok(verified) => verified,
            Err(error) => {
                tracing::warn!(path = request.uri().path(), %error, "refused a node RPC call with a bad token");
                let status = match error {
                    TokenError::CacheFull => StatusCode::SERVICE_UNAVAILABLE,
                    _ => StatusCode::UNAUTHORIZED,
                };
                return respond(status, Bytes::from(error.to_string()));
            }
        };
        let header = |name: &str| request.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default();
        let path = request.uri().path().to_owned();
        if path == PATH_HEALTH {
            return respond(StatusCode::OK, Bytes::new());
        }
        if path == PATH_METRICS {
            let encoded = self.metrics.get().map(|source| source()).unwrap_or_default();
            return reply::<Vec<u8>>(&Ok(encoded));
        }
        if path == PATH_RELOAD_IDENTITIES {
            // Before the identities are loaded, a load under way may have read the
            // records before the change: say so, and the caller's poll fallback covers it.
            let reloaded = match self.identities.get() {
                Some(reload) => reload().await,
                None => false,
            };
            return reply::<bool>(&Ok(reloaded));
        }
        if path == PATH_BUCKET_CHANGED {
            return match read_call::<String>(request).await {
                Ok(bucket) => {
                    let known = self.bucket_changed.get().map(|forget| forget(&bucket)).is_some();
                    reply::<bool>(&Ok(known))
                }
                Err(response) => response,
            };
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
            PATH_DRIVE => {
                let fence = match request.headers().get(HEADER_FENCE) {
                    None => None,
                    Some(value) => match value.to_str().ok().and_then(Fence::from_header) {
                        Some(fence) => Some(fence),
                        None => return respond(StatusCode::BAD_REQUEST, Bytes::from_static(b"bad fence header")),
                    },
                };
                let call = match read_call::<DriveCall>(request).await {
                    Ok(call) => call,
                    Err(response) => return response,
                };
                let result = match fence {
                    Some(fence) => self.locks.fenced(&fence, self.drive_call(drive.as_ref(), call)).await,
                    None => self.drive_call(drive.as_ref(), call).await,
                };
                reply(&result.map_err(|e| WireError::from(&e)))
            }
            PATH_CREATE_FILE => {
                let sys_path = hex::decode(header(HEADER_PATH)).ok().and_then(|p| String::from_utf8(p).ok());
                let Some(sys_path) = sys_path else {
                    return respond(StatusCode::BAD_REQUEST, Bytes::from_static(b"bad path header"));
                };
                if header(HEADER_BODY) != STREAM_BODY {
                    return respond(StatusCode::BAD_REQUEST, Bytes::from_static(b"a shard file is sent as a stream"));
                }
                let reader = StreamReader::new(header(HEADER_TOKEN));
                let result = self.receive_file(drive.as_ref(), &sys_path, request.into_body(), reader, &verified).await;
                reply(&result.map_err(|e| WireError::from(&e)))
            }
            PATH_WALK => match read_call::<WalkCall>(request).await {
                Ok(call) => walk(drive.as_ref(), &call),
                Err(response) => response,
            },
            _ => respond(StatusCode::NOT_FOUND, Bytes::from_static(b"no such RPC")),
        }
    }

    /// Streams a request body into a new shard file; durable when this returns Ok,
    /// which it does only when the body's trailing MAC matches its call.
    async fn receive_file(
        &self,
        drive: &dyn Drive,
        sys_path: &str,
        mut body: Incoming,
        mut reader: StreamReader,
        verified: &Verified,
    ) -> Result<(), DriveError> {
        let mut writer = drive.create_sys_file(sys_path).await?;
        let stalled = || DriveError::Io { op: "receive shard", source: std::io::Error::other("the sender stalled") };
        let mut finished = false;
        loop {
            match reader.next(&self.token, verified, finished)? {
                Received::Data(data) => writer.write(data).await?,
                Received::End => {
                    if let Some(delay) = self.test_ack_delay {
                        tokio::time::sleep(delay).await;
                    }
                    return writer.finish().await;
                }
                // Dropping the writer unfinished (an error above) removes the partial file.
                Received::NeedMore => {
                    // A sender that stops mid-stream (paused, partitioned) must not pin this task forever.
                    let next = tokio::time::timeout(Duration::from_millis(RECEIVE_CHUNK_MS), body.frame()).await;
                    match next.map_err(|_| stalled())? {
                        Some(frame) => {
                            let frame = frame.map_err(|e| DriveError::Io {
                                op: "receive shard",
                                source: std::io::Error::other(e),
                            })?;
                            if let Ok(data) = frame.into_data() {
                                reader.push(&data);
                            }
                        }
                        None => finished = true,
                    }
                }
            }
        }
    }

    async fn drive_call(&self, drive: &dyn Drive, call: DriveCall) -> Result<DriveReply, DriveError> {
        let done = |r: Result<(), DriveError>| r.map(|()| DriveReply::Done);
        match call {
            DriveCall::DiskInfo => drive.disk_info().await.map(DriveReply::from),
            DriveCall::MakeSystemVolume => done(drive.make_system_volume().await),
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
                Ok(DriveReply::Handle(self.handles.register(reader)?))
            }
            DriveCall::OpenSysFile { sys_path } => {
                let reader = drive.open_sys_file(&sys_path).await?;
                Ok(DriveReply::Handle(self.handles.register(reader)?))
            }
            DriveCall::ReadAt { handle, offset, len } => {
                let reader = self.handles.reader(handle).ok_or(DriveError::FileNotFound)?;
                let len = usize::try_from(len)
                    .ok()
                    .filter(|len| *len <= CALL_BODY_BYTES_MAX)
                    .ok_or_else(|| DriveError::Corrupt(format!("read of {len} bytes refused")))?;
                reader.read_at(offset, len).await.map(DriveReply::Data)
            }
            DriveCall::CloseHandle { handle } => {
                self.handles.close(handle);
                Ok(DriveReply::Done)
            }
            DriveCall::WriteSysFile { sys_path, data } => done(drive.write_sys_file(&sys_path, data).await),
            DriveCall::ReadSysFile { sys_path } => drive.read_sys_file(&sys_path).await.map(DriveReply::Data),
            DriveCall::ListSysDir { sys_path } => drive.list_sys_dir(&sys_path).await.map(DriveReply::Names),
            DriveCall::PendingCommits => drive
                .pending_commits()
                .await
                .map(|records| DriveReply::Records(records.iter().map(|r| Bytes::from(r.encode())).collect())),
            DriveCall::RenameSys { from, to } => done(drive.rename_sys(&from, &to).await),
            DriveCall::DeleteSys { sys_path } => done(drive.delete_sys(&sys_path).await),
        }
    }
}

/// Reads and decodes a unary call's body, or the response refusing it.
async fn read_call<T: serde::de::DeserializeOwned>(request: Request<Incoming>) -> Result<T, Response<ResponseBody>> {
    let claimed = request.headers().get(HEADER_BODY).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let limited = http_body_util::Limited::new(request.into_body(), CALL_BODY_BYTES_MAX);
    let bytes = match limited.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return Err(respond(StatusCode::BAD_REQUEST, Bytes::from_static(b"unreadable call body"))),
    };
    // The token covers the claimed digest; the body must match it.
    if body_digest(&bytes) != claimed {
        tracing::warn!("refused a node RPC call whose body does not match its token (altered in flight?)");
        return Err(respond(StatusCode::UNAUTHORIZED, Bytes::from_static(b"call body does not match its token")));
    }
    decode(&bytes).map_err(|e| respond(StatusCode::BAD_REQUEST, Bytes::from(e.to_string())))
}

/// Streams a walk as framed entries, each chunk in one body frame; an error ends the
/// stream as its last entry frame.
fn walk(drive: &dyn Drive, call: &WalkCall) -> Response<ResponseBody> {
    let receiver = drive.walk(&call.volume, call.options());
    let frames = futures::stream::unfold(receiver, |mut receiver| async move {
        let framed = match receiver.recv().await? {
            Ok(chunk) => {
                let mut framed = BytesMut::new();
                for entry in chunk {
                    framed.extend_from_slice(&walk_frame(&Ok(WireEntry::from(entry))));
                }
                framed.freeze()
            }
            Err(error) => walk_frame(&Err(WireError::from(&error))),
        };
        Some((Ok::<_, std::io::Error>(Frame::data(framed)), receiver))
    });
    Response::new(UnsyncBoxBody::new(StreamBody::new(frames)))
}
