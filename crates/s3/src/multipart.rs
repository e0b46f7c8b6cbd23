//! Multipart uploads.

use crate::bucket::{owner, timestamp_of};
use crate::digest::{Declared, DigestCheck, composite_checksums, response_checksums};
use crate::error::{s3_error, to_s3};
use crate::headers::stored_headers;
use crate::list::{encode_if, is_url_encoding};
use crate::object::write_condition;
use crate::{CairnS3, body_of};
use cairn_object::{CompletePart, CompleteRequest, PutRequest};
use s3s::dto::*;
use s3s::{S3ErrorCode, S3Request, S3Response, S3Result};

/// Most parts ListParts returns, as S3.
const LIST_PARTS_MAX: usize = 1000;
/// Most uploads ListMultipartUploads returns, as S3.
const LIST_UPLOADS_MAX: usize = 1000;

impl CairnS3 {
    pub(crate) async fn do_create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        let input = req.input;
        let standard = standard_headers_of!(input);
        let mut headers = stored_headers(standard, input.metadata)?;
        crate::tagging::store(&mut headers, input.tagging.as_deref())?;
        let lock = crate::object_lock::WriteLock {
            mode: input.object_lock_mode,
            retain_until: input.object_lock_retain_until_date,
            legal_hold: input.object_lock_legal_hold_status,
        };
        self.apply_write_lock(&input.bucket, &mut headers, lock).await?;
        let algorithm = input.checksum_algorithm.as_ref().map(|a| a.as_str().to_owned());
        let customer = customer_key_of!(input)?;
        let encryption = crate::sse::requested(input.server_side_encryption.as_ref(), customer.clone())?;
        let (upload_id, sse) = self
            .store
            .create_multipart_upload(&input.bucket, &input.key, headers, algorithm, encryption)
            .await
            .map_err(to_s3)?;
        let told = crate::sse::told_kind(sse.as_deref(), customer.as_ref());
        Ok(S3Response::new(CreateMultipartUploadOutput {
            bucket: Some(input.bucket),
            key: Some(input.key),
            upload_id: Some(upload_id),
            checksum_algorithm: input.checksum_algorithm,
            server_side_encryption: told.sse,
            sse_customer_algorithm: told.customer_algorithm,
            sse_customer_key_md5: told.customer_key_md5,
            ..Default::default()
        }))
    }

    pub(crate) async fn do_upload_part(
        &self,
        req: S3Request<UploadPartInput>,
    ) -> S3Result<S3Response<UploadPartOutput>> {
        let input = req.input;
        let part_number = u32::try_from(input.part_number).map_err(|_| {
            s3_error(S3ErrorCode::InvalidArgument, "Part number must be an integer between 1 and 10000, inclusive")
        })?;
        // A part whose declared size cannot fit the bucket's quota is refused unread.
        if let Some(length) = input.content_length {
            self.store.check_quota(&input.bucket, length.unsigned_abs()).await.map_err(to_s3)?;
        }
        let check = DigestCheck::new(Declared::of_request(
            &req.headers,
            req.trailing_headers,
            input.content_md5,
            declared_checksums_of!(input),
            input.checksum_algorithm,
        ))?;
        let customer = customer_key_of!(input)?;
        let request = PutRequest {
            bucket: input.bucket,
            key: input.key,
            body: body_of(input.body),
            check: Box::new(check),
            headers: Default::default(),
            condition: None,
            encryption: customer.clone().map(cairn_object::sse::Encryption::SseC),
        };
        let part = self.store.upload_part(request, &input.upload_id, part_number).await.map_err(to_s3)?;
        let told = crate::sse::told_kind(part.encryption.as_deref(), customer.as_ref());
        let output = with_checksums!(
            UploadPartOutput {
                e_tag: Some(ETag::Strong(part.etag)),
                server_side_encryption: told.sse,
                sse_customer_algorithm: told.customer_algorithm,
                sse_customer_key_md5: told.customer_key_md5,
            },
            response_checksums(&part.checksums)
        );
        Ok(S3Response::new(output))
    }

    pub(crate) async fn do_complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        let source = crate::notification::EventSource::of(&req);
        let input = req.input;
        let named = input.multipart_upload.and_then(|m| m.parts).unwrap_or_default();
        let mut parts = Vec::with_capacity(named.len());
        for part in named {
            let (Some(number), Some(etag)) = (part.part_number, part.e_tag) else {
                return Err(s3_error(S3ErrorCode::InvalidPart, "every part needs a PartNumber and an ETag"));
            };
            let number =
                u32::try_from(number).map_err(|_| s3_error(S3ErrorCode::InvalidPart, "invalid part number"))?;
            parts.push(CompletePart { number, etag: etag.value().to_owned() });
        }
        if parts.is_empty() {
            return Err(s3_error(S3ErrorCode::MalformedXML, "You must specify at least one part"));
        }
        let condition = write_condition(input.if_match, input.if_none_match)?;
        let request = CompleteRequest {
            bucket: input.bucket.clone(),
            key: input.key.clone(),
            upload_id: input.upload_id,
            parts,
            condition,
        };
        let info = self.store.complete_multipart_upload(request, Box::new(composite_checksums)).await.map_err(to_s3)?;
        let version_id = self.version_header(&input.bucket, &info, cairn_object::VersionRef::Latest).await;
        let expiration = self.expiration(&info).await;
        let told = crate::sse::told(&info.headers, None);
        self.notify(cairn_notify::EventName::CompleteMultipartUpload, &info, &source).await;
        let output = with_checksums!(
            CompleteMultipartUploadOutput {
                server_side_encryption: told.sse,
                bucket: Some(input.bucket.clone()),
                key: Some(input.key.clone()),
                e_tag: Some(ETag::Strong(info.etag.clone())),
                location: Some(format!("/{}/{}", input.bucket, input.key)),
                version_id: version_id,
                expiration: expiration,
            },
            response_checksums(&info.checksums)
        );
        Ok(S3Response::new(output))
    }

    pub(crate) async fn do_abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        let input = req.input;
        self.store.abort_multipart_upload(&input.bucket, &input.key, &input.upload_id).await.map_err(to_s3)?;
        Ok(S3Response::new(AbortMultipartUploadOutput::default()))
    }

    pub(crate) async fn do_list_parts(&self, req: S3Request<ListPartsInput>) -> S3Result<S3Response<ListPartsOutput>> {
        let input = req.input;
        let max_parts = input.max_parts.map_or(LIST_PARTS_MAX, |m| usize::try_from(m).unwrap_or(0).min(LIST_PARTS_MAX));
        let marker = input.part_number_marker.map_or(0, |m| u32::try_from(m).unwrap_or(0));
        let (parts, truncated) = self
            .store
            .list_parts(&input.bucket, &input.key, &input.upload_id, marker, max_parts)
            .await
            .map_err(to_s3)?;
        let next_marker = parts.last().map(|p| p.number as i32);
        let parts = parts
            .into_iter()
            .map(|p| {
                with_checksums!(
                    Part {
                        part_number: Some(p.number as i32),
                        size: Some(i64::try_from(p.size).unwrap_or(i64::MAX)),
                        e_tag: Some(ETag::Strong(p.etag)),
                        last_modified: Some(timestamp_of(p.mod_time_unix_nanos)),
                    },
                    response_checksums(&p.checksums)
                )
            })
            .collect();
        Ok(S3Response::new(ListPartsOutput {
            bucket: Some(input.bucket),
            key: Some(input.key),
            upload_id: Some(input.upload_id),
            max_parts: Some(max_parts as i32),
            part_number_marker: input.part_number_marker,
            next_part_number_marker: next_marker,
            is_truncated: Some(truncated),
            parts: Some(parts),
            owner: Some(owner()),
            initiator: Some(Initiator { display_name: owner().display_name, id: owner().id }),
            storage_class: Some(StorageClass::from_static(StorageClass::STANDARD)),
            ..Default::default()
        }))
    }

    pub(crate) async fn do_list_multipart_uploads(
        &self,
        req: S3Request<ListMultipartUploadsInput>,
    ) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
        let input = req.input;
        let max_uploads =
            input.max_uploads.map_or(LIST_UPLOADS_MAX, |m| usize::try_from(m).unwrap_or(0).min(LIST_UPLOADS_MAX));
        let prefix = input.prefix.clone().unwrap_or_default();
        let page = self
            .store
            .list_multipart_uploads(
                &input.bucket,
                &prefix,
                input.delimiter.as_deref(),
                (input.key_marker.as_deref(), input.upload_id_marker.as_deref()),
                max_uploads,
            )
            .await
            .map_err(to_s3)?;
        let url = is_url_encoding(input.encoding_type.as_ref());
        let next_key_marker = page.next_key_marker.as_deref().map(|k| encode_if(url, k));
        let next_upload_id_marker = page.next_upload_id_marker.clone();
        let uploads = page
            .uploads
            .into_iter()
            .map(|u| MultipartUpload {
                key: Some(encode_if(url, &u.key)),
                upload_id: Some(u.upload_id),
                initiated: Some(timestamp_of(u.initiated_unix_nanos)),
                owner: Some(owner()),
                initiator: Some(Initiator { display_name: owner().display_name, id: owner().id }),
                storage_class: Some(StorageClass::from_static(StorageClass::STANDARD)),
                ..Default::default()
            })
            .collect();
        let common_prefixes =
            page.prefixes.into_iter().map(|p| CommonPrefix { prefix: Some(encode_if(url, &p)) }).collect();
        Ok(S3Response::new(ListMultipartUploadsOutput {
            bucket: Some(input.bucket),
            prefix: input.prefix.map(|p| encode_if(url, &p)),
            delimiter: input.delimiter,
            key_marker: input.key_marker,
            upload_id_marker: input.upload_id_marker,
            max_uploads: Some(max_uploads as i32),
            is_truncated: Some(page.truncated),
            next_key_marker: if page.truncated { next_key_marker } else { None },
            next_upload_id_marker: if page.truncated { next_upload_id_marker } else { None },
            uploads: Some(uploads),
            common_prefixes: Some(common_prefixes),
            encoding_type: input.encoding_type,
            ..Default::default()
        }))
    }
}
