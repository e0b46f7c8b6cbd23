//! Put/Get/DeleteBucketEncryption: a bucket's default encryption (SSE-S3 only; SSE-KMS
//! is refused with 501, as there is no KMS).

use crate::CairnS3;
use crate::error::{custom_404, s3_error, to_s3};
use s3s::dto::*;
use s3s::{S3ErrorCode, S3Request, S3Response, S3Result};

/// Whether a configuration turns default encryption on; refuses what Cairn cannot do.
fn default_on(configuration: &ServerSideEncryptionConfiguration) -> S3Result<bool> {
    let [rule] = configuration.rules.as_slice() else {
        return Err(s3_error(S3ErrorCode::MalformedXML, "an encryption configuration has exactly one rule"));
    };
    let Some(by_default) = &rule.apply_server_side_encryption_by_default else {
        return Err(s3_error(S3ErrorCode::MalformedXML, "the rule needs ApplyServerSideEncryptionByDefault"));
    };
    match by_default.sse_algorithm.as_str() {
        ServerSideEncryption::AES256 if by_default.kms_master_key_id.is_some() => Err(s3_error(
            S3ErrorCode::InvalidArgument,
            "a KMS master key id is allowed only with the aws:kms algorithm",
        )),
        ServerSideEncryption::AES256 => Ok(true),
        kms if kms.starts_with("aws:kms") => {
            Err(s3_error(S3ErrorCode::NotImplemented, "Server-side encryption with KMS (aws:kms) is not implemented"))
        }
        other => Err(s3_error(S3ErrorCode::MalformedXML, format!("unknown SSEAlgorithm {other:?}"))),
    }
}

impl CairnS3 {
    pub(crate) async fn do_put_bucket_encryption(
        &self,
        req: S3Request<PutBucketEncryptionInput>,
    ) -> S3Result<S3Response<PutBucketEncryptionOutput>> {
        let input = req.input;
        let on = default_on(&input.server_side_encryption_configuration)?;
        self.store.set_bucket_default_encryption(&input.bucket, on).await.map_err(to_s3)?;
        Ok(S3Response::new(PutBucketEncryptionOutput {}))
    }

    pub(crate) async fn do_get_bucket_encryption(
        &self,
        req: S3Request<GetBucketEncryptionInput>,
    ) -> S3Result<S3Response<GetBucketEncryptionOutput>> {
        if !self.store.bucket_default_encryption(&req.input.bucket).await.map_err(to_s3)? {
            return Err(custom_404(
                S3ErrorCode::ServerSideEncryptionConfigurationNotFoundError,
                "The server side encryption configuration was not found",
            ));
        }
        let rule = ServerSideEncryptionRule {
            apply_server_side_encryption_by_default: Some(ServerSideEncryptionByDefault {
                kms_master_key_id: None,
                sse_algorithm: ServerSideEncryption::from_static(ServerSideEncryption::AES256),
            }),
            bucket_key_enabled: Some(false),
        };
        let configuration = ServerSideEncryptionConfiguration { rules: vec![rule] };
        Ok(S3Response::new(GetBucketEncryptionOutput { server_side_encryption_configuration: Some(configuration) }))
    }

    pub(crate) async fn do_delete_bucket_encryption(
        &self,
        req: S3Request<DeleteBucketEncryptionInput>,
    ) -> S3Result<S3Response<DeleteBucketEncryptionOutput>> {
        self.store.set_bucket_default_encryption(&req.input.bucket, false).await.map_err(to_s3)?;
        Ok(S3Response::new(DeleteBucketEncryptionOutput {}))
    }
}
