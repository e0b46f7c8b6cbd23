//! Moving bytes: file -> object, object -> file, object -> object. Large uploads
//! are multipart with parts in parallel, and resumable: an interrupted upload is
//! left on the server, and the next `cp` of the same file to the same key finds it
//! and skips every part whose MD5 matches. Downloads go to a partial file that a
//! rerun continues with a ranged GET (if the object's ETag is unchanged), then are
//! fsynced and renamed into place: a file is never seen half written.

use crate::error::{CliError, Result};
use crate::progress::Transfer;
use crate::s3;
use crate::target::Remote;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use bytes::{Bytes, BytesMut};
use md5::{Digest, Md5};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Objects up to this size are sent in one PUT (and held in memory for it).
pub const SINGLE_PUT_BYTES_MAX: u64 = 16 << 20;
/// Smallest multipart part used (S3's minimum is 5 MiB).
const PART_BYTES_MIN: u64 = 16 << 20;
/// Most parts S3 allows in one upload.
const PARTS_MAX: u64 = 10_000;
/// Parts uploaded at once per transfer (memory: this many parts in flight).
const PARTS_IN_FLIGHT: usize = 4;
/// Largest object CopyObject copies in one call; larger ones are copied by part.
const COPY_OBJECT_BYTES_MAX: u64 = 5 << 30;
/// Part size of server-side copies by part.
const COPY_PART_BYTES: u64 = 512 << 20;

/// The part size for an object of `size` bytes: at least the minimum, and large
/// enough to stay within the part limit. A pure function of the size, so that a rerun
/// cuts the same parts and can resume.
pub fn part_size(size: u64) -> u64 {
    let needed = size.div_ceil(PARTS_MAX).next_multiple_of(1 << 20);
    needed.max(PART_BYTES_MIN)
}

/// The Content-Type to store for `name`, guessed from its extension.
pub fn content_type(name: &str) -> String {
    mime_guess::from_path(name).first_or_octet_stream().essence_str().to_owned()
}

/// Where bytes come from, read in chunks in order.
pub enum Source {
    /// A local file.
    File(tokio::fs::File, PathBuf),
    /// An object's body.
    Stream(ByteStream, Bytes),
}

impl Source {
    /// Reads the next `len` bytes (fewer only at the end).
    async fn chunk(&mut self, len: usize) -> Result<Bytes> {
        let mut buffer = BytesMut::with_capacity(len);
        match self {
            Source::File(file, path) => {
                buffer.resize(len, 0);
                let mut filled = 0;
                while filled < len {
                    let read = file.read(&mut buffer[filled..]).await.map_err(|e| CliError::io(&*path, e))?;
                    if read == 0 {
                        break;
                    }
                    filled += read;
                }
                buffer.truncate(filled);
            }
            Source::Stream(body, leftover) => {
                while buffer.len() < len {
                    if leftover.is_empty() {
                        match body.try_next().await {
                            Ok(Some(bytes)) => *leftover = bytes,
                            Ok(None) => break,
                            Err(e) => return Err(CliError::Remote(format!("reading the source object: {e}"))),
                        }
                    }
                    let take = leftover.len().min(len - buffer.len());
                    buffer.extend_from_slice(&leftover.split_to(take));
                }
            }
        }
        Ok(buffer.freeze())
    }
}

/// Writes `size` bytes from `source` to `destination`: one PUT when small, else a
/// resumable multipart upload. Returns how many parts an earlier attempt had already
/// uploaded (and were kept).
pub async fn upload(
    client: &aws_sdk_s3::Client,
    destination: &Remote,
    mut source: Source,
    size: u64,
    transfer: &Transfer,
) -> Result<u64> {
    let bucket = destination.bucket()?;
    let what = destination.display();
    if size <= SINGLE_PUT_BYTES_MAX {
        let body = source.chunk(size as usize).await?;
        if body.len() as u64 != size {
            return Err(CliError::Remote(format!("{what}: the source changed size while being read")));
        }
        client
            .put_object()
            .bucket(bucket)
            .key(&destination.key)
            .content_type(content_type(&destination.key))
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| s3::error(&what, e))?;
        transfer.advance(size);
        return Ok(0);
    }
    let part_bytes = part_size(size);
    let (upload_id, done) = match find_upload(client, bucket, &destination.key, &what).await? {
        Some(found) => found,
        None => {
            let created = client
                .create_multipart_upload()
                .bucket(bucket)
                .key(&destination.key)
                .content_type(content_type(&destination.key))
                .send()
                .await
                .map_err(|e| s3::error(&what, e))?;
            let id = created.upload_id().ok_or_else(|| CliError::Remote(format!("{what}: no upload id")))?;
            (id.to_owned(), HashMap::new())
        }
    };
    let parts = size.div_ceil(part_bytes);
    let mut completed = Vec::with_capacity(parts as usize);
    let mut in_flight = tokio::task::JoinSet::new();
    let mut reused = 0;
    for number in 1..=parts {
        let len = part_bytes.min(size - (number - 1) * part_bytes);
        let chunk = source.chunk(len as usize).await?;
        if chunk.len() as u64 != len {
            return Err(CliError::Remote(format!("{what}: the source changed size while being read")));
        }
        let number = i32::try_from(number).expect("at most 10,000 parts");
        // Hash only parts an earlier attempt sent: a fresh upload costs no MD5 pass.
        let kept = done.get(&number).and_then(|(stored, stored_len)| {
            let etag = hex::encode(Md5::digest(&chunk));
            (*stored == etag && *stored_len == len).then_some(etag)
        });
        if let Some(etag) = kept {
            completed.push(CompletedPart::builder().part_number(number).e_tag(format!("\"{etag}\"")).build());
            transfer.advance(len);
            reused += 1;
            continue;
        }
        while in_flight.len() >= PARTS_IN_FLIGHT {
            completed.push(join_part(&mut in_flight, transfer, &what).await?);
        }
        let request = client
            .upload_part()
            .bucket(bucket)
            .key(&destination.key)
            .upload_id(&upload_id)
            .part_number(number)
            .body(ByteStream::from(chunk));
        in_flight.spawn(async move { (request.send().await, number, len) });
    }
    while !in_flight.is_empty() {
        completed.push(join_part(&mut in_flight, transfer, &what).await?);
    }
    completed.sort_by_key(|part| part.part_number());
    complete(client, destination, &upload_id, completed).await?;
    Ok(reused)
}

/// Completes a multipart upload with its parts (in part order).
async fn complete(
    client: &aws_sdk_s3::Client,
    destination: &Remote,
    upload_id: &str,
    parts: Vec<CompletedPart>,
) -> Result<()> {
    client
        .complete_multipart_upload()
        .bucket(destination.bucket()?)
        .key(&destination.key)
        .upload_id(upload_id)
        .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
        .send()
        .await
        .map_err(|e| s3::error(&destination.display(), e))?;
    Ok(())
}

type PartResult = (
    std::result::Result<
        aws_sdk_s3::operation::upload_part::UploadPartOutput,
        aws_sdk_s3::error::SdkError<aws_sdk_s3::operation::upload_part::UploadPartError, s3::HttpResponse>,
    >,
    i32,
    u64,
);

async fn join_part(
    set: &mut tokio::task::JoinSet<PartResult>,
    transfer: &Transfer,
    what: &str,
) -> Result<CompletedPart> {
    let joined = set.join_next().await.expect("joined only while parts are in flight");
    let (result, number, len) = joined.map_err(|e| CliError::Remote(format!("{what}: a part upload failed: {e}")))?;
    let output = result.map_err(|e| s3::error(what, e))?;
    transfer.advance(len);
    Ok(CompletedPart::builder().part_number(number).set_e_tag(output.e_tag().map(str::to_owned)).build())
}

/// The newest unfinished upload of `key` and its parts (number -> (MD5 hex, size)).
async fn find_upload(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    what: &str,
) -> Result<Option<(String, HashMap<i32, (String, u64)>)>> {
    let uploads = client.list_multipart_uploads().bucket(bucket).prefix(key).send().await;
    let Ok(uploads) = uploads else { return Ok(None) }; // Not every endpoint lists uploads.
    let newest = uploads
        .uploads()
        .iter()
        .filter(|u| u.key() == Some(key))
        .max_by_key(|u| u.initiated().map(|t| t.secs()))
        .and_then(|u| u.upload_id().map(str::to_owned));
    let Some(upload_id) = newest else { return Ok(None) };
    let mut parts = HashMap::new();
    let mut marker: Option<String> = None;
    loop {
        let mut request = client.list_parts().bucket(bucket).key(key).upload_id(&upload_id);
        if let Some(marker) = marker.take() {
            request = request.part_number_marker(marker);
        }
        let page = request.send().await.map_err(|e| s3::error(what, e))?;
        for part in page.parts() {
            if let (Some(number), Some(etag)) = (part.part_number(), part.e_tag()) {
                parts.insert(number, (etag.trim_matches('"').to_owned(), part.size().unwrap_or_default() as u64));
            }
        }
        if !page.is_truncated().unwrap_or(false) || parts.len() as u64 > PARTS_MAX {
            break;
        }
        marker = page.next_part_number_marker().map(str::to_owned);
        if marker.is_none() {
            break;
        }
    }
    Ok(Some((upload_id, parts)))
}

/// Copies an object to a local file; returns the bytes written.
pub async fn download(client: &aws_sdk_s3::Client, source: &Remote, path: &Path, transfer: &Transfer) -> Result<u64> {
    let what = source.display();
    let bucket = source.bucket()?;
    let head = client.head_object().bucket(bucket).key(&source.key).send().await.map_err(|e| s3::error(&what, e))?;
    let size = head.content_length().unwrap_or_default().max(0) as u64;
    let etag = head.e_tag().unwrap_or_default().trim_matches('"').to_owned();
    let partial = partial_path(path, &etag);
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        tokio::fs::create_dir_all(parent).await.map_err(|e| CliError::io(parent, e))?;
    }
    let have = tokio::fs::metadata(&partial).await.map(|m| m.len()).unwrap_or(0);
    let resume = have > 0 && have < size && !etag.is_empty();
    let mut request = client.get_object().bucket(bucket).key(&source.key);
    if resume {
        request = request.range(format!("bytes={have}-")).if_match(format!("\"{etag}\""));
    }
    let object = request.send().await.map_err(|e| s3::error(&what, e))?;
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

/// The partial file of a download: hidden, next to the destination, named after the
/// object's ETag so that a changed object is not resumed into.
fn partial_path(path: &Path, etag: &str) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tag: String = etag.chars().filter(char::is_ascii_alphanumeric).take(40).collect();
    path.with_file_name(format!(".{name}.{tag}.cairn-partial"))
}

/// Copies an object to another place. On one endpoint with the same keys the server
/// copies; between endpoints the bytes stream through this process. Returns the parts
/// reused from an interrupted earlier copy.
pub async fn copy_object(
    source_client: &aws_sdk_s3::Client,
    source: &Remote,
    destination_client: &aws_sdk_s3::Client,
    destination: &Remote,
    size: u64,
    transfer: &Transfer,
) -> Result<u64> {
    let what = destination.display();
    let same_endpoint =
        source.alias.url == destination.alias.url && source.alias.access_key == destination.alias.access_key;
    if !same_endpoint {
        let object = source_client
            .get_object()
            .bucket(source.bucket()?)
            .key(&source.key)
            .send()
            .await
            .map_err(|e| s3::error(&source.display(), e))?;
        return upload(destination_client, destination, Source::Stream(object.body, Bytes::new()), size, transfer)
            .await;
    }
    let copy_source = format!("{}/{}", source.bucket()?, encode_key(&source.key));
    let bucket = destination.bucket()?;
    if size <= COPY_OBJECT_BYTES_MAX {
        destination_client
            .copy_object()
            .bucket(bucket)
            .key(&destination.key)
            .copy_source(copy_source)
            .send()
            .await
            .map_err(|e| s3::error(&what, e))?;
        transfer.advance(size);
        return Ok(0);
    }
    let created = destination_client
        .create_multipart_upload()
        .bucket(bucket)
        .key(&destination.key)
        .send()
        .await
        .map_err(|e| s3::error(&what, e))?;
    let upload_id = created.upload_id().unwrap_or_default().to_owned();
    let mut completed = Vec::new();
    for (index, start) in (0..size).step_by(COPY_PART_BYTES as usize).enumerate() {
        let end = (start + COPY_PART_BYTES).min(size) - 1;
        let number = i32::try_from(index + 1).expect("copy parts are few");
        let part = destination_client
            .upload_part_copy()
            .bucket(bucket)
            .key(&destination.key)
            .upload_id(&upload_id)
            .part_number(number)
            .copy_source(&copy_source)
            .copy_source_range(format!("bytes={start}-{end}"))
            .send()
            .await
            .map_err(|e| s3::error(&what, e))?;
        let etag = part.copy_part_result().and_then(|r| r.e_tag()).map(str::to_owned);
        completed.push(CompletedPart::builder().part_number(number).set_e_tag(etag).build());
        transfer.advance(end + 1 - start);
    }
    complete(destination_client, destination, &upload_id, completed).await?;
    Ok(0)
}

/// A key as the copy-source header wants it: percent-encoded, '/' kept.
fn encode_key(key: &str) -> String {
    const KEEP: &percent_encoding::AsciiSet =
        &percent_encoding::NON_ALPHANUMERIC.remove(b'/').remove(b'-').remove(b'.').remove(b'_').remove(b'~');
    percent_encoding::utf8_percent_encode(key, KEEP).to_string()
}

/// Copies a local file to another local path (staging, fsync, rename).
pub async fn copy_file(from: &Path, to: &Path, transfer: &Transfer) -> Result<u64> {
    if let Some(parent) = to.parent().filter(|p| !p.as_os_str().is_empty()) {
        tokio::fs::create_dir_all(parent).await.map_err(|e| CliError::io(parent, e))?;
    }
    let staging = partial_path(to, "copy");
    let size = tokio::fs::copy(from, &staging).await.map_err(|e| CliError::io(from, e))?;
    let file = tokio::fs::File::open(&staging).await.map_err(|e| CliError::io(&staging, e))?;
    file.sync_all().await.map_err(|e| CliError::io(&staging, e))?;
    tokio::fs::rename(&staging, to).await.map_err(|e| CliError::io(to, e))?;
    transfer.advance(size);
    Ok(size)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_sizes_stay_within_the_part_limit() {
        assert_eq!(part_size(200 << 20), PART_BYTES_MIN);
        let huge = 5u64 << 40;
        assert!(huge.div_ceil(part_size(huge)) <= PARTS_MAX);
        assert_eq!(part_size(huge) % (1 << 20), 0);
    }

    #[test]
    fn content_types_follow_extensions() {
        assert_eq!(content_type("a/b.txt"), "text/plain");
        assert_eq!(content_type("x.pdf"), "application/pdf");
        assert_eq!(content_type("noext"), "application/octet-stream");
    }
}
