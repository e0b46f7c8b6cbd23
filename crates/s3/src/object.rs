//! Single-object operations: PutObject, GetObject, HeadObject, DeleteObject, DeleteObjects.

use crate::digest::{Declared, DigestCheck, response_checksums, with_query_checksums};
use crate::error::{s3_error, to_s3};
use crate::headers::{etag, not_modified, stored_headers};
use crate::notification::{EventSource, FormUpload};
use crate::object_lock::WriteLock;
use crate::versions::{id_string, version_ref};
use crate::{CairnS3, body_of};
use cairn_notify::EventName;
use cairn_object::{ObjectError, ObjectInfo, PutRequest, VersionRef, WriteCondition};
use s3s::dto::*;
use s3s::{S3ErrorCode, S3Request, S3Response, S3Result};

/// Whether a delete may remove versions under GOVERNANCE retention: it asked to
/// (`x-amz-bypass-governance-retention: true`) and its caller may (the access check
/// marked it).
fn bypass_of(extensions: &http::Extensions, asked: Option<bool>) -> bool {
    asked.unwrap_or(false) && extensions.get::<crate::object_lock::BypassGovernance>().is_some()
}

/// Largest single PUT (and form upload), as S3: 5 GiB (bigger objects use multipart).
pub(crate) const PUT_BYTES_MAX: u64 = 5 << 30;
/// Most keys one DeleteObjects request may name, as S3.
const DELETE_KEYS_MAX: usize = 1000;

/// The conditional write a PUT or CompleteMultipartUpload asks for: `If-None-Match: *`,
/// `If-Match: <etag>` or `If-Match: *`.
pub(crate) fn write_condition(
    if_match: Option<ETagCondition>,
    if_none_match: Option<ETagCondition>,
) -> S3Result<Option<WriteCondition>> {
    match (if_match, if_none_match) {
        (None, None) => Ok(None),
        (None, Some(ETagCondition::Any)) => Ok(Some(WriteCondition::IfNoneMatchAny)),
        (Some(ETagCondition::ETag(etag)), None) => Ok(Some(WriteCondition::IfMatch(etag.value().to_owned()))),
        (Some(ETagCondition::Any), None) => Ok(Some(WriteCondition::IfMatchAny)),
        _ => {
            Err(s3_error(S3ErrorCode::NotImplemented, "only If-None-Match: * or If-Match: <etag> are supported on PUT"))
        }
    }
}

/// The byte span a GET/HEAD covers (a Range, or the n-th part with `partNumber`,
/// counted in object order as MinIO does), and its Content-Range when partial.
fn resolve_span(
    range: Option<Range>,
    part_number: Option<i32>,
    info: &cairn_object::ObjectInfo,
) -> S3Result<(std::ops::Range<u64>, Option<String>)> {
    let size = info.size;
    let Some(part_number) = part_number else { return resolve_range(range, size) };
    if range.is_some() {
        return Err(s3_error(
            S3ErrorCode::InvalidRequest,
            "Cannot specify both Range header and partNumber query parameter",
        ));
    }
    let index = usize::try_from(part_number).ok().and_then(|n| n.checked_sub(1)).filter(|i| *i < info.part_sizes.len());
    let Some(index) = index else {
        let mut error =
            s3_error(S3ErrorCode::Custom("InvalidPartNumber".into()), "The requested partnumber is not satisfiable");
        error.set_status_code(http::StatusCode::RANGE_NOT_SATISFIABLE);
        return Err(error);
    };
    let start: u64 = info.part_sizes[..index].iter().sum();
    let end = start + info.part_sizes[index];
    if start == end {
        return Ok((start..end, None));
    }
    Ok((start..end, Some(format!("bytes {start}-{}/{size}", end - 1))))
}

/// The byte span a GET/HEAD covers, and its Content-Range when it is a range.
fn resolve_range(range: Option<Range>, size: u64) -> S3Result<(std::ops::Range<u64>, Option<String>)> {
    let Some(range) = range else { return Ok((0..size, None)) };
    let unsatisfiable = || {
        let mut error = s3_error(S3ErrorCode::InvalidRange, "The requested range is not satisfiable");
        error.set_status_code(http::StatusCode::RANGE_NOT_SATISFIABLE);
        error
    };
    // An empty object has no byte a range could name (s3s lets `bytes=-5` through as 0..0).
    let span = range.check(size).ok().filter(|span| span.start < span.end).ok_or_else(unsatisfiable)?;
    let content_range = format!("bytes {}-{}/{size}", span.start, span.end - 1);
    Ok((span, Some(content_range)))
}

impl CairnS3 {
    pub(crate) async fn do_put_object(
        &self,
        mut req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        let body = body_of(req.input.body.take());
        self.put_object_from(req, body).await
    }

    /// A PutObject whose body is `body` (the request's own, or a form upload's file).
    pub(crate) async fn put_object_from(
        &self,
        req: S3Request<PutObjectInput>,
        body: cairn_object::Body,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        let source = EventSource::of(&req);
        let event = if req.extensions.get::<FormUpload>().is_some() { EventName::Post } else { EventName::Put };
        let input = req.input;
        let condition = write_condition(input.if_match, input.if_none_match)?;
        if input.content_length.is_some_and(|length| length.unsigned_abs() > PUT_BYTES_MAX) {
            return Err(s3_error(
                S3ErrorCode::EntityTooLarge,
                "Your proposed upload exceeds the maximum allowed size of 5 GiB; use multipart upload",
            ));
        }
        // A declared size past the bucket's quota is refused before a byte is stored.
        if let Some(length) = input.content_length {
            self.store.check_quota(&input.bucket, length.unsigned_abs()).await.map_err(to_s3)?;
        }
        let standard = standard_headers_of!(input);
        let mut headers = stored_headers(standard, input.metadata)?;
        crate::tagging::store(&mut headers, input.tagging.as_deref())?;
        let lock = WriteLock {
            mode: input.object_lock_mode,
            retain_until: input.object_lock_retain_until_date,
            legal_hold: input.object_lock_legal_hold_status,
        };
        self.apply_write_lock(&input.bucket, &mut headers, lock).await?;
        let declared = declared_checksums_of!(input);
        let check = DigestCheck::new(Declared::of_request(
            &req.headers,
            req.trailing_headers,
            input.content_md5,
            with_query_checksums(declared, req.uri.query()),
            input.checksum_algorithm,
        ))?;
        let customer = customer_key_of!(input)?;
        let encryption = crate::sse::requested(input.server_side_encryption.as_ref(), customer.clone())?;
        let request = PutRequest {
            bucket: input.bucket,
            key: input.key,
            body,
            check: Box::new(check),
            headers,
            condition,
            encryption,
        };
        let bucket = request.bucket.clone();
        let info = self.store.put_object(request).await.map_err(to_s3)?;
        let version_id = self.version_header(&bucket, &info, VersionRef::Latest).await;
        let expiration = self.expiration(&info).await;
        let told = crate::sse::told(&info.headers, customer.as_ref());
        self.notify(event, &info, &source).await;
        let output = with_checksums!(
            PutObjectOutput {
                e_tag: Some(etag(&info)),
                version_id: version_id,
                expiration: expiration,
                server_side_encryption: told.sse,
                sse_customer_algorithm: told.customer_algorithm,
                sse_customer_key_md5: told.customer_key_md5,
            },
            response_checksums(&info.checksums)
        );
        Ok(S3Response::new(output))
    }

    pub(crate) async fn do_get_object(&self, req: S3Request<GetObjectInput>) -> S3Result<S3Response<GetObjectOutput>> {
        let source = EventSource::of(&req);
        let input = req.input;
        let at = version_ref(input.version_id.as_deref())?;
        let customer = customer_key_of!(input)?;
        let reader =
            self.store.open_version_with(&input.bucket, &input.key, at, customer.as_ref()).await.map_err(to_s3)?;
        let info = reader.info.clone();
        let told = crate::sse::told(&info.headers, customer.as_ref());
        conditions_of!(input).check(&info, not_modified)?;
        let (span, content_range) = resolve_span(input.range, input.part_number, &info)?;
        let version_id = self.version_header(&input.bucket, &info, at).await;
        let expiration = self.current_expiration(&info, at).await;
        let (lock_mode, retain_until, legal_hold) = crate::object_lock::output_fields(&info.headers);
        let body = reader.stream(span.start, span.end - span.start);
        let output = object_output!(GetObjectOutput, input, &info, span, content_range, {
            body: Some(StreamingBlob::wrap(body)),
            tag_count: crate::tagging::count(&info.headers),
            server_side_encryption: told.sse,
            sse_customer_algorithm: told.customer_algorithm,
            sse_customer_key_md5: told.customer_key_md5,
            version_id: version_id,
            expiration: expiration,
            object_lock_mode: lock_mode,
            object_lock_retain_until_date: retain_until,
            object_lock_legal_hold_status: legal_hold,
        });
        self.notify(EventName::Get, &info, &source).await;
        Ok(S3Response::new(output))
    }

    /// The `x-amz-version-id` of a response about `info` (see `versions::header_of`).
    pub(crate) async fn version_header(&self, bucket: &str, info: &ObjectInfo, at: VersionRef) -> Option<String> {
        let versioning = self.store.bucket_versioning(bucket).await.unwrap_or_default();
        crate::versions::header_of(info, versioning, at)
    }

    pub(crate) async fn do_get_object_tagging(
        &self,
        req: S3Request<GetObjectTaggingInput>,
    ) -> S3Result<S3Response<GetObjectTaggingOutput>> {
        let input = req.input;
        let at = version_ref(input.version_id.as_deref())?;
        let info = self.store.version_info(&input.bucket, &input.key, at).await.map_err(to_s3)?;
        let version_id = self.version_header(&input.bucket, &info, at).await;
        Ok(S3Response::new(GetObjectTaggingOutput { tag_set: crate::tagging::tag_set(&info.headers), version_id }))
    }

    pub(crate) async fn do_head_object(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        let source = EventSource::of(&req);
        let input = req.input;
        let at = version_ref(input.version_id.as_deref())?;
        let customer = customer_key_of!(input)?;
        let info =
            self.store.version_info_with(&input.bucket, &input.key, at, customer.as_ref()).await.map_err(to_s3)?;
        let told = crate::sse::told(&info.headers, customer.as_ref());
        conditions_of!(input).check(&info, not_modified)?;
        let (span, content_range) = resolve_span(input.range, input.part_number, &info)?;
        let version_id = self.version_header(&input.bucket, &info, at).await;
        let expiration = self.current_expiration(&info, at).await;
        let (lock_mode, retain_until, legal_hold) = crate::object_lock::output_fields(&info.headers);
        self.notify(EventName::Head, &info, &source).await;
        Ok(S3Response::new(object_output!(HeadObjectOutput, input, &info, span, content_range, {
            version_id: version_id,
            server_side_encryption: told.sse,
            sse_customer_algorithm: told.customer_algorithm,
            sse_customer_key_md5: told.customer_key_md5,
            expiration: expiration,
            object_lock_mode: lock_mode,
            object_lock_retain_until_date: retain_until,
            object_lock_legal_hold_status: legal_hold,
        })))
    }

    /// Deletes `at` of one key, as S3 does in the bucket's versioning state: a missing
    /// key or version is success (nothing to delete). Returns what the response says:
    /// the version id removed or the marker added, and whether it is a delete marker.
    async fn delete_key(
        &self,
        (bucket, key): (&str, &str),
        at: VersionRef,
        bypass_governance: bool,
        source: &EventSource,
    ) -> S3Result<(Option<String>, bool)> {
        let versioning = self.store.bucket_versioning(bucket).await.map_err(to_s3)?;
        match self.store.delete_version(bucket, key, at, bypass_governance).await {
            Ok(deleted) => {
                let named = versioning.keeps_versions() || at != VersionRef::Latest;
                let version_id = named.then(|| id_string(deleted.version_id));
                // A delete of the latest version that left a marker created it.
                let marker_created = deleted.delete_marker && at == VersionRef::Latest;
                self.notify_removal((bucket, key), version_id.clone(), marker_created, source).await;
                Ok((version_id, deleted.delete_marker))
            }
            Err(ObjectError::ObjectNotFound | ObjectError::VersionNotFound) => {
                let named = match at {
                    VersionRef::Exact(id) => Some(id_string(id)),
                    VersionRef::Latest => None,
                };
                Ok((named, false))
            }
            Err(error) => Err(to_s3(error)),
        }
    }

    pub(crate) async fn do_delete_object(
        &self,
        req: S3Request<DeleteObjectInput>,
    ) -> S3Result<S3Response<DeleteObjectOutput>> {
        let bypass = bypass_of(&req.extensions, req.input.bypass_governance_retention);
        let source = EventSource::of(&req);
        let input = req.input;
        let at = version_ref(input.version_id.as_deref())?;
        self.store.bucket_info(&input.bucket).await.map_err(to_s3)?;
        let (version_id, marker) = self.delete_key((&input.bucket, &input.key), at, bypass, &source).await?;
        Ok(S3Response::new(DeleteObjectOutput {
            version_id,
            delete_marker: marker.then_some(true),
            ..Default::default()
        }))
    }

    pub(crate) async fn do_delete_objects(
        &self,
        req: S3Request<DeleteObjectsInput>,
    ) -> S3Result<S3Response<DeleteObjectsOutput>> {
        let bypass = bypass_of(&req.extensions, req.input.bypass_governance_retention);
        let source = EventSource::of(&req);
        let input = req.input;
        if input.delete.objects.len() > DELETE_KEYS_MAX {
            return Err(s3_error(
                S3ErrorCode::MalformedXML,
                format!("a delete request may name at most {DELETE_KEYS_MAX} keys"),
            ));
        }
        self.store.bucket_info(&input.bucket).await.map_err(to_s3)?;
        let quiet = input.delete.quiet.unwrap_or(false);
        let mut deleted = Vec::new();
        let mut errors = Vec::new();
        for object in input.delete.objects {
            let outcome = match version_ref(object.version_id.as_deref()) {
                Ok(at) => {
                    self.delete_key((&input.bucket, &object.key), at, bypass, &source).await.map(|done| (at, done))
                }
                Err(error) => Err(error),
            };
            match outcome {
                Ok((at, (version_id, marker))) if !quiet => {
                    // A marker added by the delete is named as such; a version removed by id is the version.
                    let (version_id, marker_version) = match at {
                        VersionRef::Latest if marker => (None, version_id),
                        _ => (version_id, None),
                    };
                    deleted.push(DeletedObject {
                        key: Some(object.key),
                        version_id,
                        delete_marker: marker.then_some(true),
                        delete_marker_version_id: marker_version,
                    });
                }
                Ok(_) => {}
                Err(error) => errors.push(Error {
                    code: Some(error.code().as_str().to_owned()),
                    key: Some(object.key),
                    message: error.message().map(str::to_owned),
                    version_id: object.version_id,
                }),
            }
        }
        Ok(S3Response::new(DeleteObjectsOutput { deleted: Some(deleted), errors: Some(errors), ..Default::default() }))
    }
}
