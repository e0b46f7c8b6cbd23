//! Building admin responses: JSON bodies, encrypted bodies, MinIO-style errors.

use bytes::Bytes;
use cairn_iam::IamError;
use cairn_object::ObjectError;
use futures::{Stream, StreamExt};
use http::{HeaderValue, StatusCode};
use http_body::Frame;
use s3s::{Body, S3Response};
use std::convert::Infallible;

/// An admin call's answer (boxed: it travels in `Err` as often as in `Ok`).
pub(crate) type Reply = Box<S3Response<Body>>;

fn with_status(status: StatusCode, body: Bytes, content_type: &'static str) -> Reply {
    let mut response = S3Response::new(Body::from(body));
    response.status = Some(status);
    response.headers.insert(http::header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    Box::new(response)
}

/// 200 with a JSON body.
pub(crate) fn json(value: &serde_json::Value) -> Reply {
    with_status(StatusCode::OK, Bytes::from(value.to_string()), "application/json")
}

/// 200 with raw bytes.
pub(crate) fn bytes(body: Bytes) -> Reply {
    with_status(StatusCode::OK, body, "application/octet-stream")
}

/// 200 with an empty body.
pub(crate) fn ok() -> Reply {
    with_status(StatusCode::OK, Bytes::new(), "application/json")
}

/// 200 with a body of JSON lines, each sent as soon as `lines` yields it; the
/// stream is dropped when the client goes away.
pub(crate) fn ndjson(lines: impl Stream<Item = Bytes> + Send + 'static) -> Reply {
    let frames = lines.map(|line| Ok::<_, Infallible>(Frame::data(line)));
    let mut response = S3Response::new(Body::http_body_unsync(http_body_util::StreamBody::new(frames)));
    response.status = Some(StatusCode::OK);
    response.headers.insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/x-ndjson"));
    Box::new(response)
}

/// 200 with `value` encrypted with the caller's secret key (madmin's EncryptData).
pub(crate) fn encrypted(value: &serde_json::Value, secret_key: &str) -> Reply {
    sealed(value.to_string().as_bytes(), secret_key)
}

/// 200 with `plain` encrypted with the caller's secret key.
pub(crate) fn sealed(plain: &[u8], secret_key: &str) -> Reply {
    // argon2id takes 64 MiB and tens of milliseconds: keep it off the async workers' backs.
    match tokio::task::block_in_place(|| cairn_madmin::encrypt_data(secret_key, plain)) {
        Ok(sealed) => bytes(Bytes::from(sealed)),
        Err(error) => failure(StatusCode::INTERNAL_SERVER_ERROR, "XMinioAdminEncryptionFailed", &error.to_string()),
    }
}

/// A MinIO admin error: JSON with Code and Message.
pub(crate) fn failure(status: StatusCode, code: &str, message: &str) -> Reply {
    let body = serde_json::json!({ "Code": code, "Message": message, "Resource": "", "RequestId": "" });
    with_status(status, Bytes::from(body.to_string()), "application/json")
}

/// A bad request.
pub(crate) fn invalid(message: &str) -> Reply {
    failure(StatusCode::BAD_REQUEST, "XMinioAdminInvalidArgument", message)
}

/// The answer for an identity-store error.
pub(crate) fn from_iam(error: &IamError) -> Reply {
    let message = error.to_string();
    match error {
        IamError::NotFound { kind: "user", .. } => failure(StatusCode::NOT_FOUND, "XMinioAdminNoSuchUser", &message),
        IamError::NotFound { kind: "group", .. } => failure(StatusCode::NOT_FOUND, "XMinioAdminNoSuchGroup", &message),
        IamError::NotFound { kind: "policy", .. } => {
            failure(StatusCode::NOT_FOUND, "XMinioAdminNoSuchPolicy", &message)
        }
        IamError::NotFound { .. } => failure(StatusCode::NOT_FOUND, "XMinioAdminNoSuchServiceAccount", &message),
        IamError::Conflict(_) => failure(StatusCode::CONFLICT, "XMinioAdminResourceConflict", &message),
        IamError::MalformedPolicy(_) => failure(StatusCode::BAD_REQUEST, "XMinioMalformedPolicy", &message),
        IamError::Invalid(_) => invalid(&message),
        IamError::Storage(_) | IamError::Record(_) => {
            failure(StatusCode::SERVICE_UNAVAILABLE, "XMinioAdminStorageUnavailable", &message)
        }
    }
}

/// The answer for an object-layer error met before an admin call could start.
pub(crate) fn from_store(error: &ObjectError) -> Reply {
    let message = error.to_string();
    match error {
        ObjectError::BucketNotFound => failure(StatusCode::NOT_FOUND, "NoSuchBucket", &message),
        ObjectError::InvalidArgument(_) | ObjectError::InvalidKey(_) | ObjectError::KeyTooLong => invalid(&message),
        _ if error.is_retryable() => {
            failure(StatusCode::SERVICE_UNAVAILABLE, "XMinioAdminStorageUnavailable", &message)
        }
        _ => failure(StatusCode::INTERNAL_SERVER_ERROR, "XMinioAdminInternalError", &message),
    }
}
