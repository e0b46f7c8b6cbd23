//! Object-to-object copies. On one endpoint the server copies (CopyObject, or
//! UploadPartCopy by parts above 5 GiB), each request conditional on the source's
//! ETag so that a source replaced during a copy by parts fails the copy instead of
//! mixing two versions; between endpoints the bytes stream through this process.

use super::{COPY_OBJECT_BYTES_MAX, COPY_PART_BYTES, ObjectSource, Source, abort, complete, part_size, upload};
use crate::error::{CliError, Result};
use crate::progress::Transfer;
use crate::s3;
use crate::target::Remote;
use aws_sdk_s3::types::CompletedPart;

/// Copies the object `from` (`size` bytes) to `destination`. Returns the parts reused
/// from an interrupted earlier copy.
pub async fn copy_object(
    from: ObjectSource<'_>,
    destination_client: &aws_sdk_s3::Client,
    destination: &Remote,
    size: u64,
    transfer: &Transfer,
) -> Result<u64> {
    let (source, etag) = (from.remote, from.etag);
    let same_endpoint =
        source.alias.url == destination.alias.url && source.alias.access_key == destination.alias.access_key;
    if !same_endpoint {
        return upload(destination_client, destination, Source::Object(from), size, transfer).await;
    }
    let what = destination.display();
    let mut copy_source = format!("{}/{}", source.bucket()?, encode_key(&source.key));
    if let Some(version) = &source.version_id {
        copy_source.push_str(&format!("?versionId={}", encode_key(version)));
    }
    let if_match = (!etag.is_empty()).then(|| format!("\"{etag}\""));
    let bucket = destination.bucket()?;
    if size <= COPY_OBJECT_BYTES_MAX {
        destination_client
            .copy_object()
            .bucket(bucket)
            .key(&destination.key)
            .copy_source(copy_source)
            .set_copy_source_if_match(if_match)
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
    let upload_id = created.upload_id().ok_or_else(|| CliError::Remote(format!("{what}: no upload id")))?;
    // Enough bytes per part to stay within the part limit for any size.
    let part_bytes = COPY_PART_BYTES.max(part_size(size));
    let mut completed = Vec::new();
    for (index, start) in (0..size).step_by(part_bytes as usize).enumerate() {
        let end = (start + part_bytes).min(size) - 1;
        let number = i32::try_from(index + 1).expect("at most 10,000 parts");
        let part = destination_client
            .upload_part_copy()
            .bucket(bucket)
            .key(&destination.key)
            .upload_id(upload_id)
            .part_number(number)
            .copy_source(&copy_source)
            .copy_source_range(format!("bytes={start}-{end}"))
            .set_copy_source_if_match(if_match.clone())
            .send()
            .await
            .map_err(|e| s3::error(&what, e));
        let part = match part {
            Ok(part) => part,
            Err(error) => {
                // Parts already copied may be of another version: never resumed.
                abort(destination_client, destination, upload_id).await;
                return Err(error);
            }
        };
        let etag = part.copy_part_result().and_then(|r| r.e_tag()).map(str::to_owned);
        completed.push(CompletedPart::builder().part_number(number).set_e_tag(etag).build());
        transfer.advance(end + 1 - start);
    }
    complete(destination_client, destination, upload_id, completed).await?;
    Ok(0)
}

/// A key as the copy-source header wants it: percent-encoded, '/' kept.
fn encode_key(key: &str) -> String {
    const KEEP: &percent_encoding::AsciiSet =
        &percent_encoding::NON_ALPHANUMERIC.remove(b'/').remove(b'-').remove(b'.').remove(b'_').remove(b'~');
    percent_encoding::utf8_percent_encode(key, KEEP).to_string()
}
