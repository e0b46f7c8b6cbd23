//! The one place where internal errors become S3 error codes and HTTP statuses.

use cairn_object::ObjectError;
use http::StatusCode;
use s3s::{S3Error, S3ErrorCode};

/// Marks a body error caused by a bad aws-chunked signature, so it maps to SignatureDoesNotMatch.
pub(crate) const CHUNK_SIGNATURE_ERROR: &str = "chunk signature does not match";
/// Marks a body error caused by an aws-chunked chunk over the size limit, so it maps to InvalidRequest.
pub(crate) const CHUNK_TOO_LARGE_ERROR: &str = "aws-chunked chunk too large";
/// Marks a form upload's file over the policy's (or S3's) largest size: EntityTooLarge.
pub(crate) const POST_FILE_TOO_LARGE: &str = "form upload file exceeds the allowed size";
/// Marks a form upload's file under the policy's smallest size: EntityTooSmall.
pub(crate) const POST_FILE_TOO_SMALL: &str = "form upload file is under the allowed size";
/// Marks a body error caused by a client that stopped sending, so it maps to RequestTimeout.
pub(crate) const BODY_STALLED_ERROR: &str = "request body stalled";

fn custom(code: &'static str, status: StatusCode, message: String) -> S3Error {
    let mut error = S3Error::with_message(S3ErrorCode::Custom(code.into()), message);
    error.set_status_code(status);
    error
}

/// Maps an object-layer error to the S3 error a client expects.
pub(crate) fn to_s3(error: ObjectError) -> S3Error {
    let message = error.to_string();
    let code = match error {
        ObjectError::VersionNotFound => {
            return custom_404(S3ErrorCode::NoSuchVersion, "The specified version does not exist.");
        }
        ObjectError::DeleteMarker { version_id, current } => return delete_marker(version_id, current),
        ObjectError::ObjectLocked(why) => {
            return S3Error::with_message(
                S3ErrorCode::AccessDenied,
                format!("Object is WORM protected and cannot be overwritten or deleted: {why}"),
            );
        }
        ObjectError::InvalidBucketState(why) => {
            return custom("InvalidBucketState", StatusCode::CONFLICT, why.to_owned());
        }
        ObjectError::QuotaExceeded { .. } => {
            return custom(
                "XMinioAdminBucketQuotaExceeded",
                StatusCode::BAD_REQUEST,
                format!("Bucket quota exceeded: {message}"),
            );
        }
        ObjectError::Encryption(ref why) => return encryption_error(why),
        ObjectError::BucketNotFound => S3ErrorCode::NoSuchBucket,
        ObjectError::BucketExists => S3ErrorCode::BucketAlreadyOwnedByYou,
        ObjectError::BucketNotEmpty => S3ErrorCode::BucketNotEmpty,
        ObjectError::ObjectNotFound => S3ErrorCode::NoSuchKey,
        ObjectError::InvalidKey(_) => {
            return custom(
                "XMinioInvalidObjectName",
                StatusCode::BAD_REQUEST,
                format!("Object name contains unsupported characters: {message}"),
            );
        }
        ObjectError::KeyTooLong => S3ErrorCode::KeyTooLongError,
        ObjectError::WriteQuorum { .. } | ObjectError::ReadQuorum | ObjectError::LockTimeout => {
            return custom(
                "SlowDown",
                StatusCode::SERVICE_UNAVAILABLE,
                format!("Please reduce your request rate: {message}"),
            );
        }
        ObjectError::StorageFull => {
            return custom(
                "XMinioStorageFull",
                StatusCode::INSUFFICIENT_STORAGE,
                "Storage backend has reached its minimum free drive threshold. Please delete a few objects to proceed."
                    .into(),
            );
        }
        // A drive that is offline or did not answer in time, or an object replaced during
        // a read: retryable, like a lost quorum.
        ObjectError::Drive(_) if error.is_retryable() => S3ErrorCode::ServiceUnavailable,
        ObjectError::Replaced => S3ErrorCode::ServiceUnavailable,
        ObjectError::Unrecoverable(_) | ObjectError::Drive(_) | ObjectError::Internal(_) => {
            tracing::error!(%message, "internal error");
            S3ErrorCode::InternalError
        }
        ObjectError::Body(ref why) if why.contains(CHUNK_SIGNATURE_ERROR) => S3ErrorCode::SignatureDoesNotMatch,
        ObjectError::Body(ref why) if why.contains(BODY_STALLED_ERROR) => S3ErrorCode::RequestTimeout,
        ObjectError::Body(ref why) if why.contains(CHUNK_TOO_LARGE_ERROR) => S3ErrorCode::InvalidRequest,
        ObjectError::Body(ref why) if why.contains(POST_FILE_TOO_LARGE) => {
            return S3Error::with_message(
                S3ErrorCode::EntityTooLarge,
                "Your proposed upload exceeds the maximum allowed size of the policy",
            );
        }
        ObjectError::Body(ref why) if why.contains(POST_FILE_TOO_SMALL) => {
            return S3Error::with_message(
                S3ErrorCode::EntityTooSmall,
                "Your proposed upload is smaller than the minimum allowed size of the policy",
            );
        }
        ObjectError::Body(ref why) if why.contains("Sha256Mismatch") => {
            return custom(
                "XAmzContentSHA256Mismatch",
                StatusCode::BAD_REQUEST,
                "The provided 'x-amz-content-sha256' header does not match what was computed.".into(),
            );
        }
        ObjectError::Body(_) => S3ErrorCode::IncompleteBody,
        ObjectError::BadDigest(_) => S3ErrorCode::BadDigest,
        ObjectError::EntityTooLarge => S3ErrorCode::EntityTooLarge,
        ObjectError::UploadNotFound => S3ErrorCode::NoSuchUpload,
        ObjectError::InvalidPart(_) => S3ErrorCode::InvalidPart,
        ObjectError::InvalidPartOrder => S3ErrorCode::InvalidPartOrder,
        ObjectError::EntityTooSmall { .. } => S3ErrorCode::EntityTooSmall,
        ObjectError::InvalidArgument(_) => S3ErrorCode::InvalidArgument,
        ObjectError::PreconditionFailed(_) => S3ErrorCode::PreconditionFailed,
    };
    S3Error::with_message(code, message)
}

/// What S3 answers when encryption refuses a request.
fn encryption_error(why: &cairn_object::sse::EncryptionError) -> S3Error {
    use cairn_object::sse::EncryptionError;
    let (code, status, message) = match why {
        EncryptionError::KmsNotConfigured => (
            S3ErrorCode::NotImplemented,
            StatusCode::NOT_IMPLEMENTED,
            "Server side encryption specified but KMS is not configured (set CAIRN_KMS_SECRET_KEY)".to_owned(),
        ),
        EncryptionError::CustomerKeyMissing => (
            S3ErrorCode::InvalidRequest,
            StatusCode::BAD_REQUEST,
            "The object was stored using a form of Server Side Encryption. The correct parameters must be provided to retrieve the object.".to_owned(),
        ),
        EncryptionError::CustomerKeyWrong => (
            S3ErrorCode::AccessDenied,
            StatusCode::FORBIDDEN,
            "The SSE-C key provided does not match the key the object was encrypted with".to_owned(),
        ),
        EncryptionError::CustomerKeyNotExpected => (
            S3ErrorCode::InvalidRequest,
            StatusCode::BAD_REQUEST,
            "The encryption parameters are not applicable to this object.".to_owned(),
        ),
        EncryptionError::CustomerKeyInvalid(message) => {
            (S3ErrorCode::InvalidArgument, StatusCode::BAD_REQUEST, (*message).to_owned())
        }
        EncryptionError::MasterKeyUnknown(_) | EncryptionError::Damaged => {
            tracing::error!(error = %why, "cannot open an object key");
            (S3ErrorCode::InternalError, StatusCode::INTERNAL_SERVER_ERROR, why.to_string())
        }
    };
    let mut error = S3Error::with_message(code, message);
    error.set_status_code(status);
    error
}

/// A 404 with S3's code and message (a missing key, version or bucket configuration).
pub(crate) fn custom_404(code: S3ErrorCode, message: &'static str) -> S3Error {
    let mut error = S3Error::with_message(code, message);
    error.set_status_code(http::StatusCode::NOT_FOUND);
    error
}

/// A read of a delete marker, as S3 answers it: 404 `NoSuchKey` when the marker is the
/// key's newest version, 405 `MethodNotAllowed` when it was named by id; either way with
/// `x-amz-delete-marker: true` and the marker's `x-amz-version-id`.
fn delete_marker(version_id: Option<uuid::Uuid>, current: bool) -> S3Error {
    let mut error = if current {
        custom_404(S3ErrorCode::NoSuchKey, "The specified key does not exist.")
    } else {
        let mut error = S3Error::with_message(
            S3ErrorCode::MethodNotAllowed,
            "The specified method is not allowed against this resource.",
        );
        error.set_status_code(http::StatusCode::METHOD_NOT_ALLOWED);
        error
    };
    let mut headers = http::HeaderMap::new();
    headers.insert("x-amz-delete-marker", http::HeaderValue::from_static("true"));
    if let Ok(value) = http::HeaderValue::from_str(&crate::versions::id_string(version_id)) {
        headers.insert("x-amz-version-id", value);
    }
    error.set_headers(headers);
    error
}

/// A feature Cairn has not built: 501, so a client never believes it took effect.
pub(crate) fn not_implemented(what: &str) -> S3Error {
    S3Error::with_message(S3ErrorCode::NotImplemented, format!("{what} is not supported by Cairn yet"))
}

/// The answer to a request whose body ended before its Content-Length (or whose
/// connection broke while it was read), when s3s read the body and answered 500.
pub(crate) fn incomplete_body_response() -> http::Response<s3s::Body> {
    let error = S3Error::with_message(
        S3ErrorCode::IncompleteBody,
        "You did not provide the number of bytes specified by the Content-Length HTTP header.",
    );
    error.to_http_response().unwrap_or_else(|_| {
        let mut response = http::Response::new(s3s::Body::empty());
        *response.status_mut() = StatusCode::BAD_REQUEST;
        response
    })
}

/// A storage class Cairn cannot honour.
pub(crate) fn invalid_storage_class(class: &str) -> S3Error {
    S3Error::with_message(S3ErrorCode::InvalidStorageClass, format!("storage class {class} is not supported"))
}

/// A request signed for another region than the configured one. S3's answer, whose
/// `Region` the SDKs read to retry in the right region.
pub(crate) fn wrong_region(signed_for: &str, configured: &str) -> S3Error {
    let mut error = S3Error::with_message(
        S3ErrorCode::AuthorizationHeaderMalformed,
        format!("The authorization header is malformed; the region '{signed_for}' is wrong; expecting '{configured}'"),
    );
    if let Ok(value) = http::HeaderValue::from_str(configured) {
        let mut headers = http::HeaderMap::new();
        headers.insert("x-amz-bucket-region", value);
        error.set_headers(headers);
    }
    error
}

/// An S3 error with a code and message.
pub(crate) fn s3_error(code: S3ErrorCode, message: impl Into<String>) -> S3Error {
    S3Error::with_message(code, message.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_drive::DriveError;

    fn status(error: ObjectError) -> StatusCode {
        to_s3(error).status_code().expect("every mapped error has a status")
    }

    #[test]
    fn unavailable_storage_is_503_and_bugs_are_500() {
        assert_eq!(status(ObjectError::ReadQuorum), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(status(ObjectError::LockTimeout), StatusCode::SERVICE_UNAVAILABLE);
        let offline = ObjectError::from(DriveError::Offline("node 2 does not answer".into()));
        assert_eq!(status(offline), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(status(ObjectError::from(DriveError::DriveNotFound)), StatusCode::SERVICE_UNAVAILABLE);
        let timed_out = DriveError::Io { op: "read", source: std::io::Error::from(std::io::ErrorKind::TimedOut) };
        assert_eq!(status(ObjectError::from(timed_out)), StatusCode::SERVICE_UNAVAILABLE);
        let broken = DriveError::Io { op: "read", source: std::io::Error::from_raw_os_error(5) };
        assert_eq!(status(ObjectError::from(broken)), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(status(ObjectError::from(DriveError::Corrupt("xl.meta".into()))), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(status(ObjectError::Internal("task panicked".into())), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
