//! Moving bytes: file -> object, object -> file, object -> object, file -> file.
//! Large uploads are multipart with parts in parallel, and resumable: an interrupted
//! upload is left on the server, and the next `cp` of the same source to the same key
//! finds it and skips every part whose MD5 matches. Parts are streamed from the file
//! (or a ranged GET of the source object) while they are sent, never held whole, so
//! a transfer's memory does not grow with the part size: at most one single PUT's
//! body ([`SINGLE_PUT_BYTES_MAX`]) plus a [`STREAM_BUFFER_BYTES`] read buffer per part
//! in flight.
//! Downloads go to a partial file that a rerun continues with a ranged GET (if the
//! object's ETag is unchanged), then are fsynced and renamed into place: a file is
//! never seen half written. A source that changes during the copy fails the copy
//! (see [`source`]); what was written is not kept.

mod copy;
mod download;
mod source;

pub use copy::copy_object;
pub use download::{copy_file, download, is_partial_name};
pub use source::{LocalFile, ObjectSource, Snapshot, Source};

use crate::error::{CliError, Result};
use crate::progress::Transfer;
use crate::s3;
use crate::target::Remote;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use base64::Engine;
use futures::{StreamExt, TryStreamExt};
use std::collections::HashMap;

/// Objects up to this size are sent in one PUT, their body held in memory for it: the
/// most body bytes one transfer ever holds, since larger objects stream their parts.
pub const SINGLE_PUT_BYTES_MAX: u64 = 16 << 20;
/// Smallest multipart part used (S3's minimum is 5 MiB).
const PART_BYTES_MIN: u64 = 16 << 20;
/// Most parts S3 allows in one upload.
const PARTS_MAX: u64 = 10_000;
/// Parts uploaded at once per transfer.
const PARTS_IN_FLIGHT: usize = 4;
/// Bytes read at a time from a file or a source object while a part streams.
pub(crate) const STREAM_BUFFER_BYTES: usize = 64 << 10;
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

/// Writes `size` bytes from `source` to `destination`: one PUT when small, else a
/// resumable multipart upload. Returns how many parts an earlier attempt had already
/// uploaded (and were kept).
pub async fn upload(
    client: &aws_sdk_s3::Client,
    destination: &Remote,
    source: Source<'_>,
    size: u64,
    transfer: &Transfer,
) -> Result<u64> {
    let bucket = destination.bucket()?;
    let what = destination.display();
    if size <= SINGLE_PUT_BYTES_MAX {
        let body = source.read_all(size).await?;
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
    let upload = Upload { client, destination, upload_id: &upload_id, source: &source, transfer };
    let sent = futures::stream::iter(1..=parts)
        .map(|number| {
            let offset = (number - 1) * part_bytes;
            let len = part_bytes.min(size - offset);
            let number = i32::try_from(number).expect("at most 10,000 parts");
            upload.part(number, offset, len, done.get(&number))
        })
        .buffered(PARTS_IN_FLIGHT)
        .try_collect::<Vec<(CompletedPart, bool)>>()
        .await;
    let checked = match sent {
        Ok(parts) => source.check_unchanged().await.map(|()| parts),
        Err(error) => Err(error),
    };
    let parts = match checked {
        Ok(parts) => parts,
        Err(error) => {
            // Parts of a source that changed must not be resumed into; other
            // failures leave the upload for a rerun to continue.
            if matches!(error, CliError::Changed(_)) {
                abort(client, destination, &upload_id).await;
            }
            return Err(error);
        }
    };
    let reused = parts.iter().filter(|(_, kept)| *kept).count() as u64;
    complete(client, destination, &upload_id, parts.into_iter().map(|(part, _)| part).collect()).await?;
    Ok(reused)
}

/// One multipart upload in progress.
struct Upload<'a> {
    client: &'a aws_sdk_s3::Client,
    destination: &'a Remote,
    upload_id: &'a str,
    source: &'a Source<'a>,
    transfer: &'a Transfer,
}

impl Upload<'_> {
    /// Sends part `number` (`len` bytes at `offset`), or keeps the part an earlier
    /// attempt sent (`stored`: its MD5 hex and size) when the bytes are the same.
    /// Returns the part and whether it was kept.
    async fn part(
        &self,
        number: i32,
        offset: u64,
        len: u64,
        stored: Option<&(String, u64)>,
    ) -> Result<(CompletedPart, bool)> {
        let what = self.destination.display();
        // A file's MD5 is read first in any case: it goes along as Content-MD5, so the
        // server checks that the streamed bytes are the ones hashed. An object's is
        // read only to compare with a stored part (it costs a second GET).
        let md5 = match (self.source, stored) {
            (Source::File(_), _) | (_, Some(_)) => Some(self.source.md5(offset, len).await?),
            _ => None,
        };
        if let (Some(md5), Some((stored_md5, stored_len))) = (md5, stored)
            && *stored_len == len
            && hex::encode(md5) == *stored_md5
        {
            self.transfer.advance(len);
            let part = CompletedPart::builder().part_number(number).e_tag(format!("\"{stored_md5}\"")).build();
            return Ok((part, true));
        }
        let mut request = self
            .client
            .upload_part()
            .bucket(self.destination.bucket()?)
            .key(&self.destination.key)
            .upload_id(self.upload_id)
            .part_number(number)
            .content_length(len as i64)
            .body(self.source.body(offset, len).await?);
        if let Some(md5) = md5 {
            request = request.content_md5(base64::engine::general_purpose::STANDARD.encode(md5));
        }
        let output = request.send().await.map_err(|e| s3::error(&what, e))?;
        self.transfer.advance(len);
        let part = CompletedPart::builder().part_number(number).set_e_tag(output.e_tag().map(str::to_owned)).build();
        Ok((part, false))
    }
}

/// Abandons a multipart upload (best effort: an upload left behind only costs space
/// until the server expires it).
async fn abort(client: &aws_sdk_s3::Client, destination: &Remote, upload_id: &str) {
    if let Ok(bucket) = destination.bucket() {
        let _ = client.abort_multipart_upload().bucket(bucket).key(&destination.key).upload_id(upload_id).send().await;
    }
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

    /// The plan for every size up to S3's 5 TiB: within S3's part limits, and memory
    /// that does not grow with it (parts stream; only a single PUT is held, and only
    /// up to 16 MiB). Memory by size was 4 parts of max(16 MiB, size/10,000), so 2 GiB
    /// at 5 TiB; the streaming itself is measured by the RSS test in `tests/it/cli`.
    #[test]
    fn every_size_gets_a_plan_within_the_limits() {
        let mut size = SINGLE_PUT_BYTES_MAX + 1;
        while size <= 5 << 40 {
            let part = part_size(size);
            assert!((5 << 20..=5 << 30).contains(&part), "part of {part} bytes for {size}");
            assert!(size.div_ceil(part) <= PARTS_MAX, "too many parts for {size}");
            let copy_part = COPY_PART_BYTES.max(part);
            assert!(copy_part <= 5 << 30 && size.div_ceil(copy_part) <= PARTS_MAX, "copy of {size}");
            size = size * 3 / 2;
        }
        let stream_bytes = PARTS_IN_FLIGHT as u64 * STREAM_BUFFER_BYTES as u64;
        assert!(stream_bytes <= SINGLE_PUT_BYTES_MAX, "streaming parts hold less than a single PUT");
    }

    #[test]
    fn content_types_follow_extensions() {
        assert_eq!(content_type("a/b.txt"), "text/plain");
        assert_eq!(content_type("x.pdf"), "application/pdf");
        assert_eq!(content_type("noext"), "application/octet-stream");
    }
}
