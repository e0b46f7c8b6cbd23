//! Query parameters each implemented operation takes; any other is refused.
//!
//! s3s picks an operation from the method, the path and the first subresource it
//! recognises, and ignores every other query parameter. So `PUT /bucket?tagging-v9`
//! (a subresource s3s does not know) becomes CreateBucket and `PUT /bucket/key?retention2`
//! becomes PutObject: a request for a feature Cairn lacks would succeed and do something
//! else. Each operation Cairn implements therefore names the query parameters it takes
//! (its subresource and the parameters s3s parses into its input), and a request with
//! any other is answered 501 before its handler runs. Operations Cairn does not
//! implement are answered 501 by s3s whatever their query.

use crate::error::not_implemented;
use s3s::S3Result;

/// The response header overrides of GetObject and HeadObject.
const RESPONSE_OVERRIDES: &[&str] = &[
    "response-cache-control",
    "response-content-disposition",
    "response-content-encoding",
    "response-content-language",
    "response-content-type",
    "response-expires",
];

/// Parameters of every request: the operation hint the AWS SDKs add (`x-id`) and the
/// SigV2 presigned-URL parameters. SigV4 presigned-URL parameters and headers given in
/// the query all start with `x-amz-` (checked separately, case-insensitively).
const ANY_OPERATION: &[&str] = &["x-id", "AWSAccessKeyId", "Signature", "Expires"];

/// The query parameters of an operation Cairn implements (as s3s names operations),
/// or None for an operation s3s answers itself.
fn parameters_of(operation: &str) -> Option<&'static [&'static str]> {
    let parameters: &[&str] = match operation {
        "ListBuckets" => &["prefix", "continuation-token", "max-buckets", "bucket-region"],
        "CreateBucket" | "HeadBucket" | "DeleteBucket" | "PutObject" | "CopyObject" => &[],
        "GetBucketLocation" => &["location"],
        "PutBucketPolicy" | "GetBucketPolicy" | "DeleteBucketPolicy" => &["policy"],
        "GetBucketPolicyStatus" => &["policyStatus"],
        "DeleteObject" => &["versionId"],
        "DeleteObjects" => &["delete"],
        "ListObjects" => &["delimiter", "encoding-type", "marker", "max-keys", "prefix"],
        "ListObjectsV2" => &[
            "list-type",
            "continuation-token",
            "delimiter",
            "encoding-type",
            "fetch-owner",
            "max-keys",
            "prefix",
            "start-after",
        ],
        "CreateMultipartUpload" => &["uploads"],
        "UploadPart" | "UploadPartCopy" => &["partNumber", "uploadId"],
        "CompleteMultipartUpload" | "AbortMultipartUpload" => &["uploadId"],
        "ListParts" => &["uploadId", "max-parts", "part-number-marker"],
        "ListMultipartUploads" => {
            &["uploads", "delimiter", "encoding-type", "key-marker", "max-uploads", "prefix", "upload-id-marker"]
        }
        // Overrides are checked below; these are the other parameters.
        "GetObject" | "HeadObject" => &["versionId", "partNumber"],
        "GetObjectTagging" | "PutObjectTagging" | "DeleteObjectTagging" => &["tagging", "versionId"],
        "PutBucketTagging" | "GetBucketTagging" | "DeleteBucketTagging" => &["tagging"],
        "PutBucketLifecycleConfiguration" | "GetBucketLifecycleConfiguration" | "DeleteBucketLifecycle" => {
            &["lifecycle"]
        }
        "PutBucketVersioning" | "GetBucketVersioning" => &["versioning"],
        "PutBucketCors" | "GetBucketCors" | "DeleteBucketCors" => &["cors"],
        "PutBucketEncryption" | "GetBucketEncryption" | "DeleteBucketEncryption" => &["encryption"],
        "PutBucketNotificationConfiguration" | "GetBucketNotificationConfiguration" => &["notification"],
        "PutObjectLockConfiguration" | "GetObjectLockConfiguration" => &["object-lock"],
        "PutObjectRetention" | "GetObjectRetention" => &["retention", "versionId"],
        "PutObjectLegalHold" | "GetObjectLegalHold" => &["legal-hold", "versionId"],
        "ListObjectVersions" => {
            &["versions", "delimiter", "encoding-type", "key-marker", "max-keys", "prefix", "version-id-marker"]
        }
        _ => return None,
    };
    Some(parameters)
}

/// Refuses a request to `operation` with a query parameter the operation does not take.
pub(crate) fn check(operation: &str, query: &[(String, String)]) -> S3Result<()> {
    let Some(parameters) = parameters_of(operation) else { return Ok(()) };
    let overrides = matches!(operation, "GetObject" | "HeadObject");
    for (name, _) in query {
        let taken = parameters.contains(&name.as_str())
            || ANY_OPERATION.contains(&name.as_str())
            || name.get(..6).is_some_and(|head| head.eq_ignore_ascii_case("x-amz-"))
            || (overrides && RESPONSE_OVERRIDES.contains(&name.as_str()));
        if !taken {
            return Err(not_implemented(&format!("The query parameter {name:?} on {operation}")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check;

    fn allowed(operation: &str, names: &[&str]) -> bool {
        let query: Vec<(String, String)> = names.iter().map(|n| ((*n).to_owned(), String::new())).collect();
        check(operation, &query).is_ok()
    }

    #[test]
    fn unknown_subresources_are_refused() {
        assert!(!allowed("CreateBucket", &["unknownthing"]));
        assert!(!allowed("PutObject", &["retention2"]));
        assert!(!allowed("PutObject", &["partNumber"]));
        assert!(!allowed("GetObject", &["VersionId"]));
        assert!(!allowed("ListObjectsV2", &["list-type", "metadata"]));
        // MinIO's ListenBucketNotification (`mc watch`) arrives as a bucket GET with
        // `events`: refused, never answered as a listing.
        assert!(!allowed("ListObjects", &["events", "prefix", "suffix"]));
    }

    #[test]
    fn parameters_clients_send_pass() {
        let presigned = ["X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires", "X-Amz-SignedHeaders"];
        assert!(allowed("PutObject", &presigned));
        assert!(allowed("PutObject", &["x-id"]));
        assert!(allowed("GetObject", &["versionId", "partNumber", "response-content-type", "X-Amz-Signature"]));
        assert!(allowed("UploadPart", &["partNumber", "uploadId", "x-id"]));
        assert!(allowed("ListObjectsV2", &["list-type", "prefix", "delimiter", "max-keys", "continuation-token"]));
        assert!(allowed("GetObject", &["AWSAccessKeyId", "Signature", "Expires"]));
        // s3s answers operations Cairn does not implement (501) itself.
        assert!(allowed("GetBucketWebsite", &["website", "anything"]));
        assert!(!allowed("PutBucketTagging", &["tagging", "anything"]));
    }
}
