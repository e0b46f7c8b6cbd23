//! Where the bytes of an upload come from, read so that a source that changes while it
//! is copied is noticed instead of copied half old, half new: a local file is read only
//! up to the size it had when opened, every reopening must find the same file (device
//! and inode), and its size and modification time are checked again after the last
//! read; an object is read only with `If-Match` on the ETag it was listed with.

use super::STREAM_BUFFER_BYTES;
use crate::error::{CliError, Result};
use crate::s3;
use crate::target::Remote;
use aws_sdk_s3::primitives::{ByteStream, Length};
use bytes::Bytes;
use md5::{Digest, Md5};
use std::path::{Path, PathBuf};
use std::time::SystemTime;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

/// What a local file looked like: compared again after reading it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    len: u64,
    modified: Option<SystemTime>,
    /// Device and inode: the same file, not another one renamed over the path.
    id: (u64, u64),
}

impl Snapshot {
    fn of(meta: &std::fs::Metadata) -> Snapshot {
        Snapshot { len: meta.len(), modified: meta.modified().ok(), id: file_id(meta) }
    }

    /// The file's size when it was opened.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether `path` still holds this file, unchanged.
    pub async fn matches(&self, path: &Path) -> bool {
        tokio::fs::metadata(path).await.is_ok_and(|meta| Snapshot::of(&meta) == *self)
    }
}

#[cfg(unix)]
fn file_id(meta: &std::fs::Metadata) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (meta.dev(), meta.ino())
}

#[cfg(not(unix))]
fn file_id(_meta: &std::fs::Metadata) -> (u64, u64) {
    (0, 0)
}

/// A local file opened for copying.
pub struct LocalFile {
    path: PathBuf,
    /// The handle opened first: its metadata tells whether the file changed.
    file: tokio::fs::File,
    snapshot: Snapshot,
}

impl LocalFile {
    /// Opens `path` (a regular file) and notes its size, time and identity.
    pub async fn open(path: &Path) -> Result<LocalFile> {
        let file = tokio::fs::File::open(path).await.map_err(|e| CliError::io(path, e))?;
        let meta = file.metadata().await.map_err(|e| CliError::io(path, e))?;
        if meta.is_dir() {
            return Err(CliError::Usage(format!("{}: a folder; use -r to copy it", path.display())));
        }
        Ok(LocalFile { path: path.to_owned(), file, snapshot: Snapshot::of(&meta) })
    }

    /// The file's state when opened.
    pub fn snapshot(&self) -> &Snapshot {
        &self.snapshot
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn changed(&self, how: &str) -> CliError {
        CliError::Changed(format!(
            "{}: the file {how} while it was being copied; nothing was kept, copy it again when it is stable",
            self.path.display()
        ))
    }

    /// A new handle on the same file (each part reads with its own position).
    pub async fn reopen(&self) -> Result<tokio::fs::File> {
        let file = tokio::fs::File::open(&self.path).await.map_err(|e| CliError::io(&self.path, e))?;
        let meta = file.metadata().await.map_err(|e| CliError::io(&self.path, e))?;
        if file_id(&meta) != self.snapshot.id {
            return Err(self.changed("was replaced"));
        }
        Ok(file)
    }

    /// Fails if the file's size or time changed since it was opened, or another file
    /// took its path: the bytes read may then be a mix of two versions.
    pub async fn check_unchanged(&self) -> Result<()> {
        let now = self.file.metadata().await.map_err(|e| CliError::io(&self.path, e))?;
        if now.len() != self.snapshot.len {
            return Err(self.changed(if now.len() > self.snapshot.len { "grew" } else { "shrank" }));
        }
        if now.modified().ok() != self.snapshot.modified {
            return Err(self.changed("was modified"));
        }
        if !self.snapshot.matches(&self.path).await {
            return Err(self.changed("was replaced"));
        }
        Ok(())
    }

    /// Reads `len` bytes at `offset` through `sink`, in small steps.
    async fn read_range(&self, offset: u64, len: u64, mut sink: impl FnMut(&[u8])) -> Result<()> {
        let mut file = self.reopen().await?;
        file.seek(std::io::SeekFrom::Start(offset)).await.map_err(|e| CliError::io(&self.path, e))?;
        let mut reader = file.take(len);
        let mut buffer = vec![0u8; STREAM_BUFFER_BYTES];
        let mut done = 0u64;
        loop {
            let read = reader.read(&mut buffer).await.map_err(|e| CliError::io(&self.path, e))?;
            if read == 0 {
                break;
            }
            sink(&buffer[..read]);
            done += read as u64;
        }
        if done != len {
            return Err(self.changed("shrank"));
        }
        Ok(())
    }
}

/// The source of an upload.
pub enum Source<'a> {
    /// A local file.
    File(&'a LocalFile),
    /// An object, as it was when listed.
    Object(ObjectSource<'a>),
}

/// An object to read, as it was when listed.
#[derive(Clone, Copy)]
pub struct ObjectSource<'a> {
    /// A client of the object's endpoint.
    pub client: &'a aws_sdk_s3::Client,
    /// The object.
    pub remote: &'a Remote,
    /// Its ETag when listed, without quotes (empty if unknown): every read requires it.
    pub etag: &'a str,
}

impl Source<'_> {
    /// The whole source (`size` bytes, small enough for one PUT) in memory.
    pub async fn read_all(&self, size: u64) -> Result<Bytes> {
        match self {
            Source::File(file) => {
                let mut body = Vec::with_capacity(size as usize);
                file.read_range(0, size, |bytes| body.extend_from_slice(bytes)).await?;
                file.check_unchanged().await?;
                Ok(Bytes::from(body))
            }
            Source::Object(ObjectSource { client, remote, etag }) => {
                let body = get(client, remote, etag, 0, size).await?;
                let bytes = body.collect().await.map_err(|e| self.broken(e))?.into_bytes();
                if bytes.len() as u64 != size {
                    return Err(self.broken(format!("got {} of {size} bytes", bytes.len())));
                }
                Ok(bytes)
            }
        }
    }

    /// The MD5 of `len` bytes at `offset` (to keep a part an earlier attempt sent).
    pub async fn md5(&self, offset: u64, len: u64) -> Result<[u8; 16]> {
        let mut hasher = Md5::new();
        match self {
            Source::File(file) => file.read_range(offset, len, |bytes| hasher.update(bytes)).await?,
            Source::Object(ObjectSource { client, remote, etag }) => {
                let mut body = get(client, remote, etag, offset, len).await?;
                let mut done = 0u64;
                while let Some(bytes) = body.try_next().await.map_err(|e| self.broken(e))? {
                    hasher.update(&bytes);
                    done += bytes.len() as u64;
                }
                if done != len {
                    return Err(self.broken(format!("got {done} of {len} bytes")));
                }
            }
        }
        Ok(hasher.finalize().into())
    }

    /// `len` bytes at `offset` as a streamed request body: read while it is sent,
    /// never held whole in memory.
    pub async fn body(&self, offset: u64, len: u64) -> Result<ByteStream> {
        match self {
            Source::File(file) => ByteStream::read_from()
                .path(file.path())
                .offset(offset)
                .length(Length::Exact(len))
                .buffer_size(STREAM_BUFFER_BYTES)
                .build()
                .await
                .map_err(|e| file.changed(&format!("could not be read ({e})"))),
            Source::Object(ObjectSource { client, remote, etag }) => {
                Ok(ByteStream::new(get(client, remote, etag, offset, len).await?.into_inner()))
            }
        }
    }

    /// Fails if the source changed since the copy began (objects cannot: every read
    /// was conditional on the ETag).
    pub async fn check_unchanged(&self) -> Result<()> {
        match self {
            Source::File(file) => file.check_unchanged().await,
            Source::Object(_) => Ok(()),
        }
    }

    fn broken(&self, error: impl std::fmt::Display) -> CliError {
        let what = match self {
            Source::File(file) => file.path().display().to_string(),
            Source::Object(ObjectSource { remote, .. }) => remote.display(),
        };
        CliError::Remote(format!("{what}: reading the source broke off: {error}"))
    }
}

/// A ranged GET of an object, only while it still has `etag` (when known).
async fn get(client: &aws_sdk_s3::Client, remote: &Remote, etag: &str, offset: u64, len: u64) -> Result<ByteStream> {
    let mut request =
        client.get_object().bucket(remote.bucket()?).key(&remote.key).set_version_id(remote.version_id.clone());
    if !etag.is_empty() {
        request = request.if_match(format!("\"{etag}\""));
    }
    if len > 0 {
        request = request.range(format!("bytes={offset}-{}", offset + len - 1));
    }
    let object = request.send().await.map_err(|e| s3::error(&remote.display(), e))?;
    Ok(object.body)
}
