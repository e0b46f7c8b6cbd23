//! Server-side copies: CopyObject and UploadPartCopy stream the source through
//! the normal write path (never buffering the object).

use crate::CairnS3;
use crate::digest::{DigestCheck, recheck_of, response_checksums};
use crate::error::{s3_error, to_s3};
use crate::headers::{etag, last_modified, precondition_failed, stored_headers};
use crate::versions::version_ref;
use cairn_object::sse::Encryption;
use cairn_object::{Body, NoCheck, ObjectError, ObjectReader, PutRequest, VersionRef};
use futures::StreamExt;
use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result};
use std::sync::{Arc, Mutex};

/// Largest object CopyObject copies in one request, as S3: 5 GiB.
const COPY_BYTES_MAX: u64 = 5 << 30;

/// The bucket, key and version (`?versionId=` in the header; none: the newest) a copy reads.
fn source_of(copy_source: &CopySource) -> S3Result<(String, String, VersionRef)> {
    match copy_source {
        CopySource::Bucket { bucket, key, version_id } => {
            Ok((bucket.to_string(), key.to_string(), version_ref(version_id.as_deref())?))
        }
        _ => Err(s3_error(S3ErrorCode::NotImplemented, "copy sources other than bucket/key are not supported")),
    }
}

/// The error that ended a copy's source stream, kept typed. The write path reads the
/// source as a request body, whose errors are messages it reports as the client's
/// (400 IncompleteBody); a source that failed is the server's: 503 when its drives or
/// quorum were unavailable (the client retries), 500 otherwise, as for any read.
#[derive(Clone, Default)]
struct SourceFailure(Arc<Mutex<Option<ObjectError>>>);

impl SourceFailure {
    /// Turns an object stream into a request body whose error is kept here.
    fn as_body(&self, reader: ObjectReader, offset: u64, length: u64) -> Body {
        let failure = self.clone();
        Box::pin(reader.stream(offset, length).map(move |chunk| {
            chunk.map_err(|error| {
                let message = format!("copy source: {error}");
                if let Ok(mut slot) = failure.0.lock() {
                    slot.get_or_insert(error);
                }
                message
            })
        }))
    }

    /// The S3 error for a failed copy: the source's own error when the source failed.
    fn explain(&self, error: ObjectError) -> S3Error {
        let source = self.0.lock().ok().and_then(|mut slot| slot.take());
        match (error, source) {
            (ObjectError::Body(_), Some(source)) => to_s3(source),
            (error, _) => to_s3(error),
        }
    }
}

/// Parses `bytes=first-last` of x-amz-copy-source-range against the source size.
pub(crate) fn parse_copy_range(range: &str, size: u64) -> S3Result<(u64, u64)> {
    let invalid = || {
        s3_error(
            S3ErrorCode::InvalidArgument,
            "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy",
        )
    };
    let spec = range.trim().strip_prefix("bytes=").ok_or_else(invalid)?;
    let (first, last) = spec.split_once('-').ok_or_else(invalid)?;
    let first: u64 = first.parse().map_err(|_| invalid())?;
    let last: u64 = last.parse().map_err(|_| invalid())?;
    if first > last {
        return Err(invalid());
    }
    if last >= size {
        let mut error = s3_error(S3ErrorCode::InvalidRange, "The requested range is not satisfiable");
        error.set_status_code(http::StatusCode::RANGE_NOT_SATISFIABLE);
        return Err(error);
    }
    Ok((first, last - first + 1))
}

impl CairnS3 {
    pub(crate) async fn do_copy_object(
        &self,
        req: S3Request<CopyObjectInput>,
    ) -> S3Result<S3Response<CopyObjectOutput>> {
        let source = crate::notification::EventSource::of(&req);
        let input = req.input;
        let (source_bucket, source_key, source_at) = source_of(&input.copy_source)?;
        let replace = input.metadata_directive.as_ref().is_some_and(|d| d.as_str() == MetadataDirective::REPLACE);
        let source_customer = customer_key_of!(copy input)?;
        let customer = customer_key_of!(input)?;
        let encryption = crate::sse::requested(input.server_side_encryption.as_ref(), customer.clone())?;
        // Copying an older version onto its own key restores it, with no change needed;
        // so does a copy onto itself that changes how the object is encrypted.
        let same = source_bucket == input.bucket && source_key == input.key;
        if same && !replace && source_at == VersionRef::Latest && encryption.is_none() {
            return Err(s3_error(
                S3ErrorCode::InvalidRequest,
                "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
            ));
        }
        self.store.bucket_info(&input.bucket).await.map_err(to_s3)?;
        let reader = self
            .store
            .open_version_with(&source_bucket, &source_key, source_at, source_customer.as_ref())
            .await
            .map_err(to_s3)?;
        conditions_of!(copy input).check(&reader.info, precondition_failed)?;
        let source_version = self.version_header(&source_bucket, &reader.info, source_at).await;
        if reader.info.size > COPY_BYTES_MAX {
            return Err(s3_error(
                S3ErrorCode::InvalidRequest,
                "The specified copy source is larger than the maximum allowable size for a copy source: 5368709120",
            ));
        }
        let mut headers = if replace {
            let standard = standard_headers_of!(input);
            stored_headers(standard, input.metadata)?
        } else {
            reader.info.headers.clone()
        };
        // Tags follow their own directive: the source's (COPY, the default) or the
        // request's (REPLACE), whatever the metadata directive.
        let replace_tags = match input.tagging_directive.as_ref().map(TaggingDirective::as_str) {
            None | Some(TaggingDirective::COPY) => false,
            Some(TaggingDirective::REPLACE) => true,
            Some(other) => {
                return Err(s3_error(
                    S3ErrorCode::InvalidArgument,
                    format!("Unknown tagging directive {other:?}: use COPY or REPLACE"),
                ));
            }
        };
        if replace_tags {
            crate::tagging::store(&mut headers, input.tagging.as_deref())?;
        } else {
            let source_tags = reader.info.headers.get(crate::tagging::STORED_NAME).cloned();
            crate::tagging::store(&mut headers, source_tags.as_deref())?;
        }
        // A copy is a new version: it gets the lock the request names (or the bucket's
        // default), never the source's.
        crate::object_lock::strip(&mut headers);
        let lock = crate::object_lock::WriteLock {
            mode: input.object_lock_mode,
            retain_until: input.object_lock_retain_until_date,
            legal_hold: input.object_lock_legal_hold_status,
        };
        self.apply_write_lock(&input.bucket, &mut headers, lock).await?;
        let size = reader.info.size;
        // The copy recomputes the source's checksums on the way, so a copy is verified end to end.
        let check = DigestCheck::new(recheck_of(&reader.info.checksums))?;
        let failure = SourceFailure::default();
        let bucket = input.bucket.clone();
        let request = PutRequest {
            bucket: input.bucket,
            key: input.key,
            body: failure.as_body(reader, 0, size),
            check: Box::new(check),
            headers,
            condition: None,
            encryption,
        };
        let info = self.store.put_object(request).await.map_err(|e| failure.explain(e))?;
        self.notify(cairn_notify::EventName::Copy, &info, &source).await;
        let told = crate::sse::told(&info.headers, customer.as_ref());
        let version_id = self.version_header(&bucket, &info, VersionRef::Latest).await;
        let result = with_checksums!(
            CopyObjectResult { e_tag: Some(etag(&info)), last_modified: Some(last_modified(&info)) },
            response_checksums(&info.checksums)
        );
        let expiration = self.expiration(&info).await;
        Ok(S3Response::new(CopyObjectOutput {
            copy_object_result: Some(result),
            copy_source_version_id: source_version,
            version_id,
            expiration,
            server_side_encryption: told.sse,
            sse_customer_algorithm: told.customer_algorithm,
            sse_customer_key_md5: told.customer_key_md5,
            ..Default::default()
        }))
    }

    pub(crate) async fn do_upload_part_copy(
        &self,
        req: S3Request<UploadPartCopyInput>,
    ) -> S3Result<S3Response<UploadPartCopyOutput>> {
        let input = req.input;
        let (source_bucket, source_key, source_at) = source_of(&input.copy_source)?;
        let source_customer = customer_key_of!(copy input)?;
        let customer = customer_key_of!(input)?;
        let reader = self
            .store
            .open_version_with(&source_bucket, &source_key, source_at, source_customer.as_ref())
            .await
            .map_err(to_s3)?;
        conditions_of!(copy input).check(&reader.info, precondition_failed)?;
        let source_version = self.version_header(&source_bucket, &reader.info, source_at).await;
        let (offset, length) = match &input.copy_source_range {
            Some(range) => parse_copy_range(range, reader.info.size)?,
            None => (0, reader.info.size),
        };
        if length > COPY_BYTES_MAX {
            return Err(s3_error(S3ErrorCode::InvalidRequest, "a copied part may be at most 5 GiB"));
        }
        let part_number = u32::try_from(input.part_number)
            .map_err(|_| s3_error(S3ErrorCode::InvalidArgument, "invalid part number"))?;
        let failure = SourceFailure::default();
        let request = PutRequest {
            bucket: input.bucket,
            key: input.key,
            body: failure.as_body(reader, offset, length),
            check: Box::new(NoCheck),
            headers: Default::default(),
            condition: None,
            encryption: customer.clone().map(Encryption::SseC),
        };
        let part =
            self.store.upload_part(request, &input.upload_id, part_number).await.map_err(|e| failure.explain(e))?;
        let result = CopyPartResult {
            e_tag: Some(ETag::Strong(part.etag)),
            last_modified: Some(crate::bucket::timestamp_of(part.mod_time_unix_nanos)),
            ..Default::default()
        };
        Ok(S3Response::new(UploadPartCopyOutput {
            copy_part_result: Some(result),
            copy_source_version_id: source_version,
            ..Default::default()
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::{SourceFailure, parse_copy_range};
    use cairn_object::ObjectError;
    use http::StatusCode;

    #[test]
    fn a_failed_copy_source_is_the_servers_error() {
        let status = |source: Option<ObjectError>, error: ObjectError| {
            let failure = SourceFailure::default();
            *failure.0.lock().expect("lock") = source;
            failure.explain(error).status_code().expect("a status")
        };
        let body = || ObjectError::Body("copy source: ...".into());
        assert_eq!(status(Some(ObjectError::ReadQuorum), body()), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(status(Some(ObjectError::Replaced), body()), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            status(Some(ObjectError::Unrecoverable("3 shards".into())), body()),
            StatusCode::INTERNAL_SERVER_ERROR
        );
        // Errors of the destination are reported as they are.
        assert_eq!(status(Some(ObjectError::ReadQuorum), ObjectError::StorageFull), StatusCode::INSUFFICIENT_STORAGE);
        assert_eq!(status(None, ObjectError::WriteQuorum { succeeded: 1, needed: 3 }), StatusCode::SERVICE_UNAVAILABLE);
    }

    #[test]
    fn copy_ranges() {
        assert_eq!(parse_copy_range("bytes=0-9", 100).expect("valid"), (0, 10));
        assert_eq!(parse_copy_range("bytes=90-99", 100).expect("valid"), (90, 10));
        assert!(parse_copy_range("bytes=90-100", 100).is_err());
        assert!(parse_copy_range("bytes=5-1", 100).is_err());
        assert!(parse_copy_range("0-1", 100).is_err());
    }
}
