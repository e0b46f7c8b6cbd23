//! The console's script API (`/api/...`): uploads streamed straight through to the
//! store (single PUTs, and multipart for large files, whose parts the browser cuts),
//! plus the JSON the dashboard and heal pages poll.
//!
//! A body is never held whole: it flows from the browser's connection into the S3
//! call as it arrives. Every call here is state-changing or private, so each needs the
//! session and, when it changes something, the CSRF token in its header.

use crate::error::{ConsoleError, Result};
use crate::router::Call;
use crate::web::{self, Body};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use aws_smithy_types::body::SdkBody;
use http::{Method, Response, StatusCode, header};
use serde::Deserialize;
use serde_json::json;

/// Parts of one upload the console completes at once (S3's limit).
const PARTS_MAX: usize = 10_000;

pub(crate) async fn route(call: Call) -> Result<Response<Body>> {
    let what = call.segment(1).to_owned();
    let bucket = call.segment(2).to_owned();
    let step = call.segment(3).to_owned();
    match (&call.method, what.as_str(), step.as_str()) {
        (&Method::GET, "dashboard", _) => crate::pages::dashboard::data(call).await,
        (&Method::GET, "heal", _) => crate::heal::status(call),
        (&Method::PUT, "upload", "") => put(call, bucket).await,
        (&Method::POST, "multipart", "") => create(call, bucket).await,
        (&Method::PUT, "multipart", "part") => part(call, bucket).await,
        (&Method::POST, "multipart", "complete") => complete(call, bucket).await,
        (&Method::DELETE, "multipart", "") => abort(call, bucket).await,
        _ => Err(ConsoleError::NotFound("no such call".into())),
    }
}

/// The declared length of a request body; uploads must declare one (the S3 call needs it).
fn declared_length(call: &Call) -> Result<i64> {
    call.request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i64>().ok())
        .ok_or_else(|| ConsoleError::BadRequest("an upload must declare its Content-Length".into()))
}

/// The request body as an SDK body, streamed.
fn streamed(call: Call) -> ByteStream {
    ByteStream::new(SdkBody::from_body_1_x(call.request.into_body()))
}

async fn put(call: Call, bucket: String) -> Result<Response<Body>> {
    let caller = call.caller_with_token()?;
    let key = call.param("key");
    let length = declared_length(&call)?;
    let content_type = call
        .request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .filter(|t| !t.is_empty())
        .unwrap_or("application/octet-stream")
        .to_owned();
    let body = streamed(call);
    let answer = caller
        .s3()
        .put_object()
        .bucket(&bucket)
        .key(&key)
        .content_length(length)
        .content_type(content_type)
        .body(body)
        .customize()
        // Signing the payload would read it whole first; loopback needs no payload hash.
        .disable_payload_signing()
        .send()
        .await
        .map_err(|e| cairn_cli::s3_error(&key, e))?;
    Ok(web::json(StatusCode::OK, &json!({ "key": key, "etag": answer.e_tag() })))
}

async fn create(call: Call, bucket: String) -> Result<Response<Body>> {
    let caller = call.caller_with_token()?;
    let key = call.param("key");
    let content_type = call.param("type");
    let mut request = caller.s3().create_multipart_upload().bucket(&bucket).key(&key);
    if !content_type.is_empty() {
        request = request.content_type(content_type);
    }
    let answer = request.send().await.map_err(|e| cairn_cli::s3_error(&key, e))?;
    Ok(web::json(StatusCode::OK, &json!({ "uploadId": answer.upload_id() })))
}

async fn part(call: Call, bucket: String) -> Result<Response<Body>> {
    let caller = call.caller_with_token()?;
    let (key, upload_id) = (call.param("key"), call.param("uploadId"));
    let number: i32 = call
        .param("partNumber")
        .parse()
        .ok()
        .filter(|n| (1..=PARTS_MAX as i32).contains(n))
        .ok_or_else(|| ConsoleError::BadRequest(format!("partNumber must be 1 to {PARTS_MAX}")))?;
    let length = declared_length(&call)?;
    let body = streamed(call);
    let answer = caller
        .s3()
        .upload_part()
        .bucket(&bucket)
        .key(&key)
        .upload_id(&upload_id)
        .part_number(number)
        .content_length(length)
        .body(body)
        .customize()
        .disable_payload_signing()
        .send()
        .await
        .map_err(|e| cairn_cli::s3_error(&key, e))?;
    Ok(web::json(StatusCode::OK, &json!({ "etag": answer.e_tag() })))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Part {
    part_number: i32,
    etag: String,
}

async fn complete(call: Call, bucket: String) -> Result<Response<Body>> {
    let caller = call.caller_with_token()?;
    let (key, upload_id) = (call.param("key"), call.param("uploadId"));
    let body = web::read_small(call.request.into_body()).await?;
    let parts: Vec<Part> = serde_json::from_slice(&body)
        .map_err(|e| ConsoleError::BadRequest(format!("the part list is not valid: {e}")))?;
    if parts.is_empty() || parts.len() > PARTS_MAX {
        return Err(ConsoleError::BadRequest(format!("give 1 to {PARTS_MAX} parts")));
    }
    let completed = CompletedMultipartUpload::builder()
        .set_parts(Some(
            parts
                .into_iter()
                .map(|p| CompletedPart::builder().part_number(p.part_number).e_tag(p.etag).build())
                .collect(),
        ))
        .build();
    let answer = caller
        .s3()
        .complete_multipart_upload()
        .bucket(&bucket)
        .key(&key)
        .upload_id(&upload_id)
        .multipart_upload(completed)
        .send()
        .await
        .map_err(|e| cairn_cli::s3_error(&key, e))?;
    Ok(web::json(StatusCode::OK, &json!({ "key": key, "etag": answer.e_tag() })))
}

async fn abort(call: Call, bucket: String) -> Result<Response<Body>> {
    let caller = call.caller_with_token()?;
    let (key, upload_id) = (call.param("key"), call.param("uploadId"));
    caller
        .s3()
        .abort_multipart_upload()
        .bucket(&bucket)
        .key(&key)
        .upload_id(&upload_id)
        .send()
        .await
        .map_err(|e| cairn_cli::s3_error(&key, e))?;
    Ok(web::json(StatusCode::OK, &json!({ "aborted": true })))
}
