//! `RemoteDrive`: a drive of another node, reached over node RPC. Each `Drive` call
//! is one request; shard files stream in one request body; walks stream back in one
//! response body; shard reads go through a handle the serving node keeps open, so a
//! read that opened a version keeps reading it even if the key is overwritten.

use crate::peer::{CALL_TIMEOUT_MS, Peer, RequestBody};
use crate::wire::{
    DriveCall, DriveReply, HEADER_DRIVE, HEADER_PATH, PATH_CREATE_FILE, PATH_DRIVE, PATH_WALK, WalkCall, WireCommit,
    WireEntry, WireError, decode, encode,
};
use bytes::{Bytes, BytesMut};
use cairn_drive::{
    CommitRequest, DiskInfo, Drive, DriveError, Result, ShardReader, ShardWriter, VolumeInfo, WalkEntry, WalkOptions,
    validate_key, validate_sys_path,
};
use http_body::Frame;
use http_body_util::BodyExt;
use http_body_util::combinators::UnsyncBoxBody;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::mpsc;
use uuid::Uuid;

/// Shard chunks buffered towards a peer before a writer waits.
const STREAM_CHUNKS_BUFFERED: usize = 4;
/// Walk entries buffered from a peer before the walk waits for its consumer.
const WALK_BUFFER_ENTRIES: usize = 16;
/// Longest wait for the next part of a walk: a peer may sort a large directory first.
const WALK_FRAME_TIMEOUT_MS: u64 = 60_000;
/// Largest walk frame accepted: an object's metadata with inline data, with room to spare.
const WALK_FRAME_BYTES_MAX: usize = 16 << 20;

/// A drive on another node.
#[derive(Debug)]
pub struct RemoteDrive {
    peer: Arc<Peer>,
    /// The drive's path on its node.
    path: String,
    /// `http://host:port/path`, for logs.
    endpoint: String,
}

impl RemoteDrive {
    /// The drive at `path` on `peer`.
    pub fn new(peer: Arc<Peer>, path: &str) -> Self {
        let endpoint = format!("http://{}{path}", peer.authority());
        Self { peer, path: path.to_owned(), endpoint }
    }

    async fn call(&self, call: DriveCall) -> Result<DriveReply> {
        let path = self.path.clone();
        self.peer.call(PATH_DRIVE, |request| request.header(HEADER_DRIVE, path), encode(&call)).await
    }

    async fn call_done(&self, call: DriveCall) -> Result<()> {
        match self.call(call).await? {
            DriveReply::Done => Ok(()),
            other => Err(unexpected(&other)),
        }
    }

    async fn call_data(&self, call: DriveCall) -> Result<Bytes> {
        match self.call(call).await? {
            DriveReply::Data(data) => Ok(data),
            other => Err(unexpected(&other)),
        }
    }

    async fn call_handle(&self, call: DriveCall) -> Result<Box<dyn ShardReader>> {
        match self.call(call).await? {
            DriveReply::Handle(handle) => {
                Ok(Box::new(RemoteReader { drive: RemoteDrive::new(Arc::clone(&self.peer), &self.path), handle }))
            }
            other => Err(unexpected(&other)),
        }
    }
}

fn unexpected(reply: &DriveReply) -> DriveError {
    DriveError::Io { op: "rpc", source: std::io::Error::other(format!("unexpected reply {reply:?}")) }
}

#[async_trait::async_trait]
impl Drive for RemoteDrive {
    fn endpoint(&self) -> &str {
        &self.endpoint
    }

    fn is_local(&self) -> bool {
        false
    }

    async fn disk_info(&self) -> Result<DiskInfo> {
        match self.call(DriveCall::DiskInfo).await? {
            DriveReply::DiskInfo { total_bytes, free_bytes, used_bytes } => {
                Ok(DiskInfo { total_bytes, free_bytes, used_bytes })
            }
            other => Err(unexpected(&other)),
        }
    }

    async fn make_volume(&self, volume: &str) -> Result<()> {
        self.call_done(DriveCall::MakeVolume { volume: volume.to_owned() }).await
    }

    async fn list_volumes(&self) -> Result<Vec<VolumeInfo>> {
        match self.call(DriveCall::ListVolumes).await? {
            DriveReply::Volumes(volumes) => Ok(volumes
                .into_iter()
                .map(|(name, created_unix_nanos)| VolumeInfo { name, created_unix_nanos })
                .collect()),
            other => Err(unexpected(&other)),
        }
    }

    async fn stat_volume(&self, volume: &str) -> Result<VolumeInfo> {
        match self.call(DriveCall::StatVolume { volume: volume.to_owned() }).await? {
            DriveReply::Volume(name, created_unix_nanos) => Ok(VolumeInfo { name, created_unix_nanos }),
            other => Err(unexpected(&other)),
        }
    }

    async fn delete_volume(&self, volume: &str) -> Result<()> {
        self.call_done(DriveCall::DeleteVolume { volume: volume.to_owned() }).await
    }

    async fn read_meta(&self, volume: &str, key: &str) -> Result<Bytes> {
        validate_key(key)?;
        self.call_data(DriveCall::ReadMeta { volume: volume.to_owned(), key: key.to_owned() }).await
    }

    async fn write_meta(&self, volume: &str, key: &str, meta: Bytes) -> Result<()> {
        validate_key(key)?;
        self.call_done(DriveCall::WriteMeta { volume: volume.to_owned(), key: key.to_owned(), meta }).await
    }

    async fn commit(&self, request: CommitRequest) -> Result<()> {
        validate_key(&request.key)?;
        let commit = WireCommit {
            volume: request.volume,
            key: request.key,
            data_dir: request.data_dir,
            parts: request.parts.into_iter().map(|p| (p.sys_path, p.part_number)).collect(),
            meta: request.meta,
            commit_id: request.commit_id,
        };
        self.call_done(DriveCall::Commit(commit)).await
    }

    async fn finish_commit(&self, volume: &str, key: &str, commit_id: Uuid, keep: Option<Uuid>) -> Result<()> {
        validate_key(key)?;
        self.call_done(DriveCall::FinishCommit { volume: volume.to_owned(), key: key.to_owned(), commit_id, keep })
            .await
    }

    async fn undo_commit(&self, volume: &str, key: &str, commit_id: Uuid, data_dir: Option<Uuid>) -> Result<()> {
        validate_key(key)?;
        self.call_done(DriveCall::UndoCommit { volume: volume.to_owned(), key: key.to_owned(), commit_id, data_dir })
            .await
    }

    async fn delete_object(&self, volume: &str, key: &str) -> Result<()> {
        validate_key(key)?;
        self.call_done(DriveCall::DeleteObject { volume: volume.to_owned(), key: key.to_owned() }).await
    }

    async fn open_shard(
        &self,
        volume: &str,
        key: &str,
        data_dir: Uuid,
        part_number: u32,
    ) -> Result<Box<dyn ShardReader>> {
        validate_key(key)?;
        self.call_handle(DriveCall::OpenShard { volume: volume.to_owned(), key: key.to_owned(), data_dir, part_number })
            .await
    }

    async fn create_sys_file(&self, sys_path: &str) -> Result<Box<dyn ShardWriter>> {
        validate_sys_path(sys_path)?;
        let (chunks, receiver) = mpsc::channel(STREAM_CHUNKS_BUFFERED);
        let body: RequestBody = UnsyncBoxBody::new(ChannelBody { receiver });
        let peer = Arc::clone(&self.peer);
        let (drive, path) = (self.path.clone(), hex::encode(sys_path));
        let upload = tokio::spawn(async move {
            // The request stays open while the shard streams: no timeout on the head.
            let response = peer
                .send(PATH_CREATE_FILE, |r| r.header(HEADER_DRIVE, drive).header(HEADER_PATH, path), body, STREAM_OPEN)
                .await?;
            let bytes = peer.read_reply(response, Duration::from_millis(CALL_TIMEOUT_MS)).await?;
            decode::<std::result::Result<(), WireError>>(&bytes)?.map_err(DriveError::from)
        });
        Ok(Box::new(RemoteWriter { chunks: Some(chunks), upload: Some(upload), peer: Arc::clone(&self.peer) }))
    }

    async fn open_sys_file(&self, sys_path: &str) -> Result<Box<dyn ShardReader>> {
        validate_sys_path(sys_path)?;
        self.call_handle(DriveCall::OpenSysFile { sys_path: sys_path.to_owned() }).await
    }

    async fn write_sys_file(&self, sys_path: &str, data: Bytes) -> Result<()> {
        validate_sys_path(sys_path)?;
        self.call_done(DriveCall::WriteSysFile { sys_path: sys_path.to_owned(), data }).await
    }

    async fn read_sys_file(&self, sys_path: &str) -> Result<Bytes> {
        validate_sys_path(sys_path)?;
        self.call_data(DriveCall::ReadSysFile { sys_path: sys_path.to_owned() }).await
    }

    async fn list_sys_dir(&self, sys_path: &str) -> Result<Vec<String>> {
        validate_sys_path(sys_path)?;
        match self.call(DriveCall::ListSysDir { sys_path: sys_path.to_owned() }).await? {
            DriveReply::Names(names) => Ok(names),
            other => Err(unexpected(&other)),
        }
    }

    async fn rename_sys(&self, from: &str, to: &str) -> Result<()> {
        validate_sys_path(from)?;
        validate_sys_path(to)?;
        self.call_done(DriveCall::RenameSys { from: from.to_owned(), to: to.to_owned() }).await
    }

    async fn delete_sys(&self, sys_path: &str) -> Result<()> {
        validate_sys_path(sys_path)?;
        self.call_done(DriveCall::DeleteSys { sys_path: sys_path.to_owned() }).await
    }

    fn walk(&self, volume: &str, options: WalkOptions) -> mpsc::Receiver<Result<WalkEntry>> {
        let (sender, receiver) = mpsc::channel(WALK_BUFFER_ENTRIES);
        let peer = Arc::clone(&self.peer);
        let drive = self.path.clone();
        let call = encode(&WalkCall::new(volume, &options));
        tokio::spawn(async move {
            if let Err(error) = stream_walk(&peer, drive, call, &sender).await {
                let _ = sender.send(Err(error)).await;
            }
        });
        receiver
    }
}

/// How long a streamed request may take to be answered: the whole shard has to be
/// sent first, so this bounds the transfer; each chunk also has [`CALL_TIMEOUT_MS`].
const STREAM_OPEN: Duration = Duration::from_secs(24 * 3600);

/// Reads a walk's framed entries from `peer` into `sender`.
async fn stream_walk(peer: &Peer, drive: String, call: Bytes, sender: &mpsc::Sender<Result<WalkEntry>>) -> Result<()> {
    let timeout = Duration::from_millis(WALK_FRAME_TIMEOUT_MS);
    let response =
        peer.send(PATH_WALK, |r| r.header(HEADER_DRIVE, drive), crate::peer::full_body(call), timeout).await?;
    if response.status() != http::StatusCode::OK {
        return Err(peer.read_reply(response, timeout).await.err().unwrap_or(DriveError::DriveNotFound));
    }
    let mut body = response.into_body();
    let mut buffer = BytesMut::new();
    loop {
        while buffer.len() >= 4 {
            let len = u32::from_be_bytes([buffer[0], buffer[1], buffer[2], buffer[3]]) as usize;
            if len > WALK_FRAME_BYTES_MAX {
                return Err(DriveError::Corrupt(format!("walk frame of {len} bytes from {}", peer.authority())));
            }
            if buffer.len() < 4 + len {
                break;
            }
            let frame = buffer.split_to(4 + len);
            let item: std::result::Result<WireEntry, WireError> = decode(&frame[4..])?;
            if sender.send(item.map(WalkEntry::from).map_err(DriveError::from)).await.is_err() {
                return Ok(()); // The consumer stopped listening.
            }
        }
        match tokio::time::timeout(timeout, body.frame()).await {
            Ok(Some(Ok(frame))) => {
                if let Ok(data) = frame.into_data() {
                    buffer.extend_from_slice(&data);
                }
            }
            Ok(None) if buffer.is_empty() => return Ok(()),
            Ok(None) => return Err(DriveError::Corrupt(format!("truncated walk from {}", peer.authority()))),
            Ok(Some(Err(error))) => {
                peer.mark_offline(&error.to_string());
                return Err(DriveError::Offline(peer.authority().to_owned()));
            }
            Err(_) => {
                peer.mark_offline("walk timed out");
                return Err(DriveError::Offline(peer.authority().to_owned()));
            }
        }
    }
}

/// A request body fed from a channel.
struct ChannelBody {
    receiver: mpsc::Receiver<Bytes>,
}

impl http_body::Body for ChannelBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<std::result::Result<Frame<Bytes>, std::io::Error>>> {
        self.receiver.poll_recv(cx).map(|chunk| chunk.map(|c| Ok(Frame::data(c))))
    }
}

/// Streams a shard file to a peer.
struct RemoteWriter {
    chunks: Option<mpsc::Sender<Bytes>>,
    upload: Option<tokio::task::JoinHandle<Result<()>>>,
    peer: Arc<Peer>,
}

impl RemoteWriter {
    /// The upload's own error, once it ended early.
    async fn upload_error(&mut self) -> DriveError {
        self.chunks = None;
        match self.upload.take() {
            Some(upload) => match upload.await {
                Ok(Err(error)) => error,
                _ => DriveError::Offline(self.peer.authority().to_owned()),
            },
            None => DriveError::Offline(self.peer.authority().to_owned()),
        }
    }
}

#[async_trait::async_trait]
impl ShardWriter for RemoteWriter {
    async fn write(&mut self, data: Bytes) -> Result<()> {
        let Some(chunks) = &self.chunks else { return Err(self.upload_error().await) };
        match tokio::time::timeout(Duration::from_millis(CALL_TIMEOUT_MS), chunks.send(data)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(self.upload_error().await),
            Err(_) => {
                self.peer.mark_offline("shard stream stalled");
                if let Some(upload) = self.upload.take() {
                    upload.abort();
                }
                Err(DriveError::Offline(self.peer.authority().to_owned()))
            }
        }
    }

    async fn finish(mut self: Box<Self>) -> Result<()> {
        self.chunks = None; // Ends the request body.
        let Some(upload) = self.upload.take() else {
            return Err(DriveError::Offline(self.peer.authority().to_owned()));
        };
        let abort = upload.abort_handle();
        match tokio::time::timeout(Duration::from_millis(CALL_TIMEOUT_MS), upload).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(DriveError::Offline(self.peer.authority().to_owned())),
            Err(_) => {
                abort.abort();
                self.peer.mark_offline("shard stream not acknowledged");
                Err(DriveError::Offline(self.peer.authority().to_owned()))
            }
        }
    }
}

impl Drop for RemoteWriter {
    fn drop(&mut self) {
        // Abandoned before finish: stop sending; the peer discards the partial file.
        if let Some(upload) = self.upload.take() {
            upload.abort();
        }
    }
}

/// Reads a file through a handle kept open on the peer.
struct RemoteReader {
    drive: RemoteDrive,
    handle: u64,
}

#[async_trait::async_trait]
impl ShardReader for RemoteReader {
    async fn read_at(&self, offset: u64, len: usize) -> Result<Bytes> {
        let data = self.drive.call_data(DriveCall::ReadAt { handle: self.handle, offset, len: len as u64 }).await?;
        if data.len() != len {
            return Err(DriveError::Corrupt(format!("short read from {}", self.drive.endpoint)));
        }
        Ok(data)
    }
}

impl Drop for RemoteReader {
    fn drop(&mut self) {
        let (peer, path, handle) = (Arc::clone(&self.drive.peer), self.drive.path.clone(), self.handle);
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let call = encode(&DriveCall::CloseHandle { handle });
                let _: Result<DriveReply> = peer.call(PATH_DRIVE, |r| r.header(HEADER_DRIVE, path), call).await;
            });
        }
    }
}
