//! Copies to local files: an object downloaded, or another local file copied. Bytes go
//! to a hidden partial file next to the destination, which is fsynced and renamed
//! into place only when complete and consistent, so a file is never seen half
//! written and a failed copy leaves the destination as it was.

use super::STREAM_BUFFER_BYTES;
use super::source::{LocalFile, ObjectSource};
use crate::error::{CliError, Result};
use crate::progress::Transfer;
use crate::s3;
use std::path::{Path, PathBuf};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Ends the names of partial files (downloads and local copies in progress).
const PARTIAL_SUFFIX: &str = ".cairn-partial";

/// Whether a file name is one of this client's partial files: never a source to copy
/// (it is not a file of the user's) nor a target extra for `mirror --remove`.
pub fn is_partial_name(name: &str) -> bool {
    name.starts_with('.') && name.ends_with(PARTIAL_SUFFIX)
}

/// Downloads the object `from` (`size` bytes as listed) to `path`; returns the bytes
/// written. Every GET requires the listed ETag, so an object replaced meanwhile fails
/// the download; an interrupted one continues from its partial file on a rerun.
pub async fn download(from: ObjectSource<'_>, size: u64, path: &Path, transfer: &Transfer) -> Result<u64> {
    let what = from.remote.display();
    let partial = partial_path(path, from.etag);
    make_parent(path).await?;
    let have = tokio::fs::metadata(&partial).await.map(|m| m.len()).unwrap_or(0);
    let resume = have > 0 && have < size && !from.etag.is_empty();
    let mut request = from
        .client
        .get_object()
        .bucket(from.remote.bucket()?)
        .key(&from.remote.key)
        .set_version_id(from.remote.version_id.clone());
    if !from.etag.is_empty() {
        request = request.if_match(format!("\"{}\"", from.etag));
    }
    if resume {
        request = request.range(format!("bytes={have}-"));
    }
    let object = match request.send().await.map_err(|e| s3::error(&what, e)) {
        Ok(object) => object,
        Err(error) => {
            if matches!(error, CliError::Changed(_)) {
                // Bytes of a version that is gone are of no use to a rerun.
                let _ = tokio::fs::remove_file(&partial).await;
            }
            return Err(error);
        }
    };
    // A server that ignores the range answers with the whole object from byte 0;
    // appended to the partial file it would only fail the size check at the end.
    if resume && !object.content_range().is_some_and(|range| range.starts_with(&format!("bytes {have}-"))) {
        let _ = tokio::fs::remove_file(&partial).await;
        return Err(CliError::Remote(format!(
            "{what}: the server did not continue the download at byte {have}; the partial file was dropped, rerun"
        )));
    }
    let mut file = tokio::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .append(resume)
        .truncate(!resume)
        .open(&partial)
        .await
        .map_err(|e| CliError::io(&partial, e))?;
    let mut written = if resume { have } else { 0 };
    transfer.advance(written);
    let mut body = object.body;
    while let Some(bytes) =
        body.try_next().await.map_err(|e| CliError::Remote(format!("{what}: the download broke off: {e}")))?
    {
        if written + bytes.len() as u64 > size {
            let _ = tokio::fs::remove_file(&partial).await;
            return Err(CliError::Changed(format!("{what}: the object is larger than listed; nothing was kept")));
        }
        file.write_all(&bytes).await.map_err(|e| CliError::io(&partial, e))?;
        written += bytes.len() as u64;
        transfer.advance(bytes.len() as u64);
    }
    if written != size {
        return Err(CliError::Remote(format!("{what}: got {written} of {size} bytes; rerun to continue")));
    }
    file.sync_all().await.map_err(|e| CliError::io(&partial, e))?;
    drop(file);
    tokio::fs::rename(&partial, path).await.map_err(|e| CliError::io(path, e))?;
    Ok(size)
}

/// Copies the local file `from` to `to`: exactly the bytes it had when opened, and
/// only if it did not change meanwhile. Returns the bytes copied.
pub async fn copy_file(from: &LocalFile, to: &Path, transfer: &Transfer) -> Result<u64> {
    make_parent(to).await?;
    let size = from.snapshot().len();
    let staging = partial_path(to, "copy");
    let result = async {
        let mut reader = from.reopen().await?.take(size);
        let mut out = tokio::fs::File::create(&staging).await.map_err(|e| CliError::io(&staging, e))?;
        let mut buffer = vec![0u8; STREAM_BUFFER_BYTES];
        loop {
            let read = reader.read(&mut buffer).await.map_err(|e| CliError::io(from.path(), e))?;
            if read == 0 {
                break;
            }
            out.write_all(&buffer[..read]).await.map_err(|e| CliError::io(&staging, e))?;
            transfer.advance(read as u64);
        }
        from.check_unchanged().await?;
        out.sync_all().await.map_err(|e| CliError::io(&staging, e))?;
        drop(out);
        tokio::fs::rename(&staging, to).await.map_err(|e| CliError::io(to, e))
    }
    .await;
    if result.is_err() {
        let _ = tokio::fs::remove_file(&staging).await;
    }
    result.map(|()| size)
}

async fn make_parent(path: &Path) -> Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        tokio::fs::create_dir_all(parent).await.map_err(|e| CliError::io(parent, e))?;
    }
    Ok(())
}

/// The partial file of a download: hidden, next to the destination, named after the
/// object's ETag so that a changed object is not resumed into.
fn partial_path(path: &Path, etag: &str) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tag: String = etag.chars().filter(char::is_ascii_alphanumeric).take(40).collect();
    path.with_file_name(format!(".{name}.{tag}{PARTIAL_SUFFIX}"))
}
