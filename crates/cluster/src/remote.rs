//! `RemoteDrive`: a drive of another node, reached over node RPC. Each `Drive` call
//! is one request; shard files stream in one request body; walks stream back in one
//! response body; shard reads go through a handle the serving node keeps open, so a
//! read that opened a version keeps reading it even if the key is overwritten.

use crate::peer::{Outgoing, Peer, deadline_for};
use crate::stream::StreamItem;
use crate::wire::{
    DriveCall, DriveReply, HEADER_DRIVE, HEADER_FENCE, HEADER_PATH, PATH_CREATE_FILE, PATH_DRIVE, PATH_WALK, WalkCall,
    WireCommit, WireEntry, WireError, decode, encode,
};
use bytes::{Bytes, BytesMut};
use cairn_drive::{
    CommitRequest, DiskInfo, Drive, DriveError, PendingCommit, Result, ShardReader, ShardWriter, VolumeInfo, WalkChunk,
    WalkEntry, WalkOptions, validate_key, validate_sys_path,
};
use http_body_util::BodyExt;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use uuid::Uuid;

/// Shard chunks buffered towards a peer before a writer waits.
const STREAM_CHUNKS_BUFFERED: usize = 4;
/// Walk chunks buffered from a peer before the walk waits for its consumer.
const WALK_BUFFER_CHUNKS: usize = 2;
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
    /// `http(s)://host:port/path`, for logs.
    endpoint: String,
}

impl RemoteDrive {
    /// The drive at `path` on `peer`.
    pub fn new(peer: Arc<Peer>, path: &str) -> Self {
        let endpoint = format!("{}://{}{path}", peer.scheme(), peer.authority());
        Self { peer, path: path.to_owned(), endpoint }
    }

    /// One drive call; inside a [`crate::fence::scope`] it carries the fence, and the
    /// serving node runs it only while its lock table grants that lock.
    async fn call(&self, call: DriveCall) -> Result<DriveReply> {
        let path = self.path.clone();
        let fence = crate::fence::current();
        let build = |request: http::request::Builder| {
            let request = request.header(HEADER_DRIVE, path);
            match fence {
                Some(fence) => request.header(HEADER_FENCE, fence.to_header()),
                None => request,
            }
        };
        // A read's answer carries the bytes read; every other answer is small.
        let reply_bytes = match &call {
            DriveCall::ReadAt { len, .. } => *len,
            _ => 0,
        };
        self.peer.call(PATH_DRIVE, build, encode(&call), reply_bytes).await
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

    fn is_online(&self) -> bool {
        self.peer.is_online()
    }

    async fn recheck(&self) -> bool {
        self.peer.recheck().await
    }

    async fn disk_info(&self) -> Result<DiskInfo> {
        match self.call(DriveCall::DiskInfo).await? {
            DriveReply::DiskInfo { total_bytes, free_bytes, used_bytes } => {
                Ok(DiskInfo { total_bytes, free_bytes, used_bytes })
            }
            other => Err(unexpected(&other)),
        }
    }

    /// The drive's own node recreates its system volume, so that an on-demand heal run
    /// from any node can format a drive that was wiped on another.
    async fn make_system_volume(&self) -> Result<()> {
        self.call_done(DriveCall::MakeSystemVolume).await
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

    async fn finish_commit(&self, volume: &str, key: &str, commit_id: Uuid, keep: Vec<Uuid>) -> Result<()> {
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
        let peer = Arc::clone(&self.peer);
        let (drive, path) = (self.path.clone(), hex::encode(sys_path));
        let upload = tokio::spawn(async move {
            // The peer answers once the whole file arrived and was fsynced: the writer
            // bounds that wait (its `finish`), not this task.
            let build = |r: http::request::Builder| r.header(HEADER_DRIVE, drive).header(HEADER_PATH, path);
            let response = peer.send(PATH_CREATE_FILE, build, Outgoing::Stream(receiver), STREAM_OPEN).await?;
            let bytes = peer.read_reply(response, deadline_for(0)).await?;
            decode::<std::result::Result<(), WireError>>(&bytes)?.map_err(DriveError::from)
        });
        Ok(Box::new(RemoteWriter {
            chunks: Some(chunks),
            upload: Some(upload),
            peer: Arc::clone(&self.peer),
            sent_bytes: 0,
        }))
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

    async fn pending_commits(&self) -> Result<Vec<PendingCommit>> {
        match self.call(DriveCall::PendingCommits).await? {
            DriveReply::Records(records) => {
                let mut decoded = Vec::with_capacity(records.len());
                for record in records {
                    decoded.push(PendingCommit::decode(&record)?);
                }
                Ok(decoded)
            }
            other => Err(unexpected(&other)),
        }
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

    fn walk(&self, volume: &str, options: WalkOptions) -> mpsc::Receiver<Result<WalkChunk>> {
        let (sender, receiver) = mpsc::channel(WALK_BUFFER_CHUNKS);
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

/// How long a streamed request may wait for its answer: the whole shard is sent first,
/// which the writer bounds chunk by chunk and at its finish ([`deadline_for`]).
const STREAM_OPEN: Duration = Duration::from_secs(24 * 3600);

/// Reads a walk's framed entries from `peer` into `sender`, as one chunk whatever
/// complete entries each read of the body brings.
async fn stream_walk(peer: &Peer, drive: String, call: Bytes, sender: &mpsc::Sender<Result<WalkChunk>>) -> Result<()> {
    let timeout = Duration::from_millis(WALK_FRAME_TIMEOUT_MS);
    let response = peer.send(PATH_WALK, |r| r.header(HEADER_DRIVE, drive), Outgoing::Whole(call), timeout).await?;
    if response.status() != http::StatusCode::OK {
        return Err(peer.read_reply(response, timeout).await.err().unwrap_or(DriveError::DriveNotFound));
    }
    let mut body = response.into_body();
    let mut buffer = BytesMut::new();
    loop {
        let mut chunk = WalkChunk::new();
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
            match item {
                Ok(entry) => chunk.push(WalkEntry::from(entry)),
                Err(error) => {
                    // The entries before the error are still the walk's: pass them on first.
                    if !chunk.is_empty() && sender.send(Ok(chunk)).await.is_err() {
                        return Ok(());
                    }
                    return Err(DriveError::from(error));
                }
            }
        }
        if !chunk.is_empty() && sender.send(Ok(chunk)).await.is_err() {
            return Ok(()); // The consumer stopped listening.
        }
        let frame = peer.bounded("reading a walk", timeout, async {
            body.frame().await.transpose().map_err(|error| {
                peer.suspect(&error.to_string());
                peer.offline_error()
            })
        });
        match frame.await? {
            Some(frame) => {
                if let Ok(data) = frame.into_data() {
                    buffer.extend_from_slice(&data);
                }
            }
            None if buffer.is_empty() => return Ok(()),
            None => return Err(DriveError::Corrupt(format!("truncated walk from {}", peer.authority()))),
        }
    }
}

/// Streams a shard file to a peer.
struct RemoteWriter {
    chunks: Option<mpsc::Sender<StreamItem>>,
    upload: Option<tokio::task::JoinHandle<Result<()>>>,
    peer: Arc<Peer>,
    /// Bytes handed to the stream so far, for the deadline of its finish.
    sent_bytes: u64,
}

impl RemoteWriter {
    /// The upload's own error, once it ended early.
    async fn upload_error(&mut self) -> DriveError {
        self.chunks = None;
        match self.upload.take() {
            Some(upload) => match upload.await {
                Ok(Err(error)) => error,
                _ => self.peer.offline_error(),
            },
            None => self.peer.offline_error(),
        }
    }

    /// Hands `item` to the stream within `deadline`: Ok(false) when the upload ended.
    async fn hand_over(&mut self, item: StreamItem, deadline: Duration) -> Result<bool> {
        let Some(chunks) = &self.chunks else { return Ok(false) };
        let handed =
            self.peer.bounded("sending a shard chunk", deadline, async { Ok(chunks.send(item).await.is_ok()) });
        let handed = handed.await;
        if handed.is_err()
            && let Some(upload) = self.upload.take()
        {
            upload.abort();
        }
        handed
    }
}

#[async_trait::async_trait]
impl ShardWriter for RemoteWriter {
    async fn write(&mut self, data: Bytes) -> Result<()> {
        let length = data.len() as u64;
        if !self.hand_over(StreamItem::Data(data), deadline_for(length)).await? {
            return Err(self.upload_error().await);
        }
        self.sent_bytes += length;
        Ok(())
    }

    async fn finish(mut self: Box<Self>) -> Result<()> {
        if !self.hand_over(StreamItem::End, deadline_for(0)).await? {
            return Err(self.upload_error().await);
        }
        self.chunks = None;
        let Some(upload) = self.upload.take() else { return Err(self.peer.offline_error()) };
        let abort = upload.abort_handle();
        // Everything sent may still be on its way, then the peer fsyncs the file.
        let acknowledged = self.peer.bounded("finishing a shard file", deadline_for(self.sent_bytes), async {
            upload.await.unwrap_or_else(|_| Err(self.peer.offline_error()))
        });
        let acknowledged = acknowledged.await;
        if acknowledged.is_err() {
            abort.abort();
        }
        acknowledged
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
                let _: Result<DriveReply> = peer.call(PATH_DRIVE, |r| r.header(HEADER_DRIVE, path), call, 0).await;
            });
        }
    }
}
