//! Bucket policies: Put/Get/Delete/GetBucketPolicyStatus over the identity store.

use crate::CairnS3;
use crate::error::to_s3;
use cairn_iam::IamError;
use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

/// Keys a public-read check tries: a policy that lets anonymous users read these is public.
const PUBLIC_PROBE_KEY: &str = "any-object";

fn iam_error(error: IamError) -> s3s::S3Error {
    match error {
        IamError::MalformedPolicy(why) => s3_error!(MalformedPolicy, "{why}"),
        IamError::Storage(error) => to_s3(error),
        other => s3_error!(InternalError, "{other}"),
    }
}

impl CairnS3 {
    pub(crate) async fn do_put_bucket_policy(
        &self,
        req: S3Request<PutBucketPolicyInput>,
    ) -> S3Result<S3Response<PutBucketPolicyOutput>> {
        let bucket = req.input.bucket;
        self.store.bucket_info(&bucket).await.map_err(to_s3)?;
        self.iam.set_bucket_policy(&bucket, req.input.policy.as_bytes()).await.map_err(iam_error)?;
        Ok(S3Response::new(PutBucketPolicyOutput::default()))
    }

    pub(crate) async fn do_get_bucket_policy(
        &self,
        req: S3Request<GetBucketPolicyInput>,
    ) -> S3Result<S3Response<GetBucketPolicyOutput>> {
        let bucket = req.input.bucket;
        self.store.bucket_info(&bucket).await.map_err(to_s3)?;
        let policy = self
            .iam
            .bucket_policy(&bucket)
            .ok_or_else(|| s3_error!(NoSuchBucketPolicy, "The bucket policy does not exist"))?;
        Ok(S3Response::new(GetBucketPolicyOutput { policy: Some(policy) }))
    }

    pub(crate) async fn do_delete_bucket_policy(
        &self,
        req: S3Request<DeleteBucketPolicyInput>,
    ) -> S3Result<S3Response<DeleteBucketPolicyOutput>> {
        let bucket = req.input.bucket;
        self.store.bucket_info(&bucket).await.map_err(to_s3)?;
        self.iam.delete_bucket_policy(&bucket).await.map_err(iam_error)?;
        Ok(S3Response::new(DeleteBucketPolicyOutput::default()))
    }

    pub(crate) async fn do_get_bucket_policy_status(
        &self,
        req: S3Request<GetBucketPolicyStatusInput>,
    ) -> S3Result<S3Response<GetBucketPolicyStatusOutput>> {
        let bucket = req.input.bucket;
        self.store.bucket_info(&bucket).await.map_err(to_s3)?;
        if self.iam.bucket_policy(&bucket).is_none() {
            return Err(s3_error!(NoSuchBucketPolicy, "The bucket policy does not exist"));
        }
        let anonymous = |action: &str, key: Option<&str>| {
            self.iam.is_allowed(None, action, Some(&bucket), key, &Default::default())
        };
        let is_public = anonymous("s3:GetObject", Some(PUBLIC_PROBE_KEY))
            || anonymous("s3:ListBucket", None)
            || anonymous("s3:PutObject", Some(PUBLIC_PROBE_KEY));
        Ok(S3Response::new(GetBucketPolicyStatusOutput {
            policy_status: Some(PolicyStatus { is_public: Some(is_public) }),
        }))
    }
}
