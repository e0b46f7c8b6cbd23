//! Tagging operations: PutObjectTagging and DeleteObjectTagging (in place, on the
//! current version), and bucket tags (Put/Get/DeleteBucketTagging, in the bucket's
//! record). GetObjectTagging is in `object.rs` with the other reads.

use crate::CairnS3;
use crate::error::{custom_404, to_s3};
use crate::tagging::{BUCKET_TAGS_MAX, OBJECT_TAGS_MAX, from_set, store_checked, to_set};
use crate::versions::version_ref;
use s3s::dto::*;
use s3s::{S3ErrorCode, S3Request, S3Response, S3Result};

impl CairnS3 {
    pub(crate) async fn do_put_object_tagging(
        &self,
        req: S3Request<PutObjectTaggingInput>,
    ) -> S3Result<S3Response<PutObjectTaggingOutput>> {
        let input = req.input;
        let at = version_ref(input.version_id.as_deref())?;
        let tags = from_set(input.tagging.tag_set, OBJECT_TAGS_MAX)?;
        let change = Box::new(move |headers: &mut std::collections::BTreeMap<String, String>| {
            store_checked(headers, &tags);
            Ok(())
        });
        let info = self.store.update_object_headers(&input.bucket, &input.key, at, change).await.map_err(to_s3)?;
        let version_id = self.version_header(&input.bucket, &info, at).await;
        Ok(S3Response::new(PutObjectTaggingOutput { version_id }))
    }

    pub(crate) async fn do_delete_object_tagging(
        &self,
        req: S3Request<DeleteObjectTaggingInput>,
    ) -> S3Result<S3Response<DeleteObjectTaggingOutput>> {
        let input = req.input;
        let at = version_ref(input.version_id.as_deref())?;
        let change = Box::new(|headers: &mut std::collections::BTreeMap<String, String>| {
            store_checked(headers, &[]);
            Ok(())
        });
        let info = self.store.update_object_headers(&input.bucket, &input.key, at, change).await.map_err(to_s3)?;
        let version_id = self.version_header(&input.bucket, &info, at).await;
        Ok(S3Response::new(DeleteObjectTaggingOutput { version_id }))
    }

    pub(crate) async fn do_put_bucket_tagging(
        &self,
        req: S3Request<PutBucketTaggingInput>,
    ) -> S3Result<S3Response<PutBucketTaggingOutput>> {
        let input = req.input;
        let tags = from_set(input.tagging.tag_set, BUCKET_TAGS_MAX)?;
        let set_tags = |record: &mut cairn_object::BucketRecord| {
            record.tags = tags;
            Ok(())
        };
        self.store.update_bucket_record(&input.bucket, set_tags).await.map_err(to_s3)?;
        Ok(S3Response::new(PutBucketTaggingOutput {}))
    }

    pub(crate) async fn do_get_bucket_tagging(
        &self,
        req: S3Request<GetBucketTaggingInput>,
    ) -> S3Result<S3Response<GetBucketTaggingOutput>> {
        let record = self.store.bucket_record(&req.input.bucket).await.map_err(to_s3)?;
        if record.tags.is_empty() {
            return Err(custom_404(S3ErrorCode::NoSuchTagSet, "The TagSet does not exist"));
        }
        Ok(S3Response::new(GetBucketTaggingOutput { tag_set: to_set(record.tags) }))
    }

    pub(crate) async fn do_delete_bucket_tagging(
        &self,
        req: S3Request<DeleteBucketTaggingInput>,
    ) -> S3Result<S3Response<DeleteBucketTaggingOutput>> {
        let bucket = req.input.bucket;
        let clear = |record: &mut cairn_object::BucketRecord| {
            record.tags.clear();
            Ok(())
        };
        self.store.update_bucket_record(&bucket, clear).await.map_err(to_s3)?;
        Ok(S3Response::new(DeleteBucketTaggingOutput {}))
    }
}
