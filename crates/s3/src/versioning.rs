//! Bucket versioning (Put/GetBucketVersioning) and ListObjectVersions.

use crate::CairnS3;
use crate::bucket::owner;
use crate::error::{not_implemented, s3_error, to_s3};
use crate::headers::timestamp;
use crate::list::{encode_if, is_url_encoding};
use crate::versions::{id_string, parse};
use cairn_object::{ListedVersion, Versioning, VersionsRequest};
use s3s::dto::*;
use s3s::{S3ErrorCode, S3Request, S3Response, S3Result};

/// Default and largest page, as S3.
const LIST_VERSIONS_DEFAULT: usize = 1000;

fn version_entry(version: ListedVersion, url: bool) -> ObjectVersion {
    ObjectVersion {
        key: Some(encode_if(url, &version.key)),
        version_id: Some(id_string(version.version_id)),
        is_latest: Some(version.is_latest),
        size: Some(i64::try_from(version.size).unwrap_or(i64::MAX)),
        e_tag: Some(ETag::Strong(version.etag)),
        last_modified: Some(timestamp(version.mod_time_unix_nanos)),
        storage_class: Some(ObjectVersionStorageClass::from_static(ObjectVersionStorageClass::STANDARD)),
        owner: Some(owner()),
        ..Default::default()
    }
}

fn marker_entry(version: ListedVersion, url: bool) -> DeleteMarkerEntry {
    DeleteMarkerEntry {
        key: Some(encode_if(url, &version.key)),
        version_id: Some(id_string(version.version_id)),
        is_latest: Some(version.is_latest),
        last_modified: Some(timestamp(version.mod_time_unix_nanos)),
        owner: Some(owner()),
    }
}

impl CairnS3 {
    pub(crate) async fn do_put_bucket_versioning(
        &self,
        req: S3Request<PutBucketVersioningInput>,
    ) -> S3Result<S3Response<PutBucketVersioningOutput>> {
        let input = req.input;
        let configuration = input.versioning_configuration;
        if configuration.mfa_delete.as_ref().is_some_and(|m| m.as_str() == MFADelete::ENABLED) || input.mfa.is_some() {
            return Err(not_implemented("MFA delete"));
        }
        let versioning = match configuration.status.as_ref().map(BucketVersioningStatus::as_str) {
            Some(BucketVersioningStatus::ENABLED) => Versioning::Enabled,
            Some(BucketVersioningStatus::SUSPENDED) => Versioning::Suspended,
            _ => {
                return Err(s3_error(S3ErrorCode::MalformedXML, "The versioning status must be Enabled or Suspended."));
            }
        };
        self.store.set_bucket_versioning(&input.bucket, versioning).await.map_err(to_s3)?;
        Ok(S3Response::new(PutBucketVersioningOutput {}))
    }

    pub(crate) async fn do_get_bucket_versioning(
        &self,
        req: S3Request<GetBucketVersioningInput>,
    ) -> S3Result<S3Response<GetBucketVersioningOutput>> {
        let record = self.store.bucket_record(&req.input.bucket).await.map_err(to_s3)?;
        let status = match record.versioning {
            // A bucket never versioned has no status at all, as on S3.
            Versioning::Unversioned => None,
            Versioning::Enabled => Some(BucketVersioningStatus::from_static(BucketVersioningStatus::ENABLED)),
            Versioning::Suspended => Some(BucketVersioningStatus::from_static(BucketVersioningStatus::SUSPENDED)),
        };
        Ok(S3Response::new(GetBucketVersioningOutput { status, mfa_delete: None }))
    }

    pub(crate) async fn do_list_object_versions(
        &self,
        req: S3Request<ListObjectVersionsInput>,
    ) -> S3Result<S3Response<ListObjectVersionsOutput>> {
        let input = req.input;
        let url = is_url_encoding(input.encoding_type.as_ref());
        let max_keys = match input.max_keys {
            None => LIST_VERSIONS_DEFAULT,
            Some(n) if n < 0 => return Err(s3_error(S3ErrorCode::InvalidArgument, "max-keys cannot be negative")),
            Some(n) => usize::try_from(n).unwrap_or(LIST_VERSIONS_DEFAULT).min(LIST_VERSIONS_DEFAULT),
        };
        let key_marker = input.key_marker.clone().filter(|k| !k.is_empty());
        let version_id_marker = match input.version_id_marker.as_deref().filter(|v| !v.is_empty()) {
            None => None,
            Some(_) if key_marker.is_none() => {
                return Err(s3_error(
                    S3ErrorCode::InvalidArgument,
                    "A version-id marker cannot be specified without a key marker.",
                ));
            }
            Some(marker) => Some(parse(marker)?),
        };
        let request = VersionsRequest {
            bucket: input.bucket.clone(),
            prefix: input.prefix.clone().unwrap_or_default(),
            delimiter: input.delimiter.clone().filter(|d| !d.is_empty()),
            key_marker,
            version_id_marker,
            max_keys,
        };
        let page = self.store.list_object_versions(&request).await.map_err(to_s3)?;
        let (mut versions, mut markers) = (Vec::new(), Vec::new());
        for version in page.versions {
            if version.delete_marker {
                markers.push(marker_entry(version, url));
            } else {
                versions.push(version_entry(version, url));
            }
        }
        let prefixes: Vec<CommonPrefix> =
            page.prefixes.into_iter().map(|p| CommonPrefix { prefix: Some(encode_if(url, &p)) }).collect();
        Ok(S3Response::new(ListObjectVersionsOutput {
            name: Some(input.bucket),
            prefix: Some(encode_if(url, &request.prefix)),
            delimiter: input.delimiter.map(|d| encode_if(url, &d)),
            key_marker: Some(input.key_marker.map(|k| encode_if(url, &k)).unwrap_or_default()),
            version_id_marker: Some(input.version_id_marker.unwrap_or_default()),
            max_keys: Some(i32::try_from(max_keys).unwrap_or(i32::MAX)),
            is_truncated: Some(page.truncated),
            next_key_marker: page.next_key_marker.map(|k| encode_if(url, &k)),
            next_version_id_marker: page.next_version_id_marker.map(id_string),
            versions: (!versions.is_empty()).then_some(versions),
            delete_markers: (!markers.is_empty()).then_some(markers),
            common_prefixes: (!prefixes.is_empty()).then_some(prefixes),
            encoding_type: input.encoding_type,
            ..Default::default()
        }))
    }
}
