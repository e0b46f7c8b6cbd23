//! Browser form uploads (POST object): `multipart/form-data` posted to a bucket's URL.
//!
//! The form is read as a stream (`multer`). The fields before the file, bounded in
//! size, are collected; the policy's signature (SigV4) and the policy itself
//! (`post_policy.rs`) are checked; the caller is judged as for the PutObject the form
//! stands for (`IamAccess::check_form_upload`, the same permissions and refusals);
//! then the file part is handed to the PutObject path as its body, so it is streamed to
//! the drives and never held whole. Its size is checked against the policy's
//! `content-length-range` as it flows: a file too large fails at the byte that breaks
//! the limit, one too small at its end, and neither is committed. Fields after the
//! file are ignored, as on S3.
//!
//! A form without `x-amz-signature` is anonymous, judged by the bucket's policy alone;
//! a policy must then be absent (a policy nobody signed proves nothing).

use crate::CairnS3;
use crate::access::{IamAccess, PeerAddr, secret_of};
use crate::error::{POST_FILE_TOO_LARGE, POST_FILE_TOO_SMALL, s3_error};
use crate::post_policy::{FormFields, SizeRange};
use bytes::Bytes;
use futures::StreamExt;
use http::{HeaderMap, HeaderName, HeaderValue, Request, Response, StatusCode};
use http_body_util::BodyExt;
use s3s::dto::*;
use s3s::post_policy::PostPolicy;
use s3s::{Body, S3ErrorCode, S3Request, S3Result};
use std::sync::Arc;

/// Largest value of one field before the file (policies and tag documents are small).
const FIELD_BYTES_MAX: u64 = 64 << 10;
/// Largest total of the fields before the file.
const FIELDS_BYTES_MAX: usize = 256 << 10;
/// Most bytes read before the file starts (fields, part headers, a preamble; with room
/// for the chunk that holds the file's start): what the parser may hold before the
/// form is authorised.
const PRE_FILE_BYTES_MAX: u64 = 4 << 20;
/// Names the failure of a form whose part before the file is too large.
const PRE_FILE_TOO_LARGE: &str = "form fields before the file exceed the allowed size";
/// Most fields a form may have before its file.
const FIELDS_MAX: usize = 100;
/// Most fields read (and ignored) after the file, so the connection can be reused.
const FIELDS_AFTER_FILE_MAX: usize = 16;
/// The field that stands for the file's name in `key` (S3's variable).
const FILENAME_VARIABLE: &str = "${filename}";
/// The only signing algorithm of form uploads Cairn checks.
const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// Form fields that become the headers of the PutObject the form stands for (the
/// `x-amz-meta-*`, `x-amz-checksum-*`, `x-amz-object-lock-*` and
/// `x-amz-server-side-encryption*` families are passed too).
const HEADER_FIELDS: &[&str] = &[
    "cache-control",
    "content-type",
    "content-disposition",
    "content-encoding",
    "content-language",
    "content-md5",
    "expires",
    "x-amz-storage-class",
    "x-amz-website-redirect-location",
    "x-amz-checksum-algorithm",
];
const HEADER_FIELD_PREFIXES: &[&str] =
    &["x-amz-meta-", "x-amz-checksum-", "x-amz-object-lock-", "x-amz-server-side-encryption", "x-amz-grant-"];

fn malformed(why: &str) -> s3s::S3Error {
    let message = format!("The body of your POST request is not well-formed multipart/form-data: {why}");
    let mut error = s3_error(S3ErrorCode::Custom("MalformedPOSTRequest".into()), &message);
    error.set_status_code(StatusCode::BAD_REQUEST);
    error
}

fn fields_too_large() -> s3s::S3Error {
    let message = "Your POST request fields preceding the upload file were too large.";
    let mut error = s3_error(S3ErrorCode::Custom("MaxPostPreDataLengthExceededError".into()), message);
    error.set_status_code(StatusCode::BAD_REQUEST);
    error
}

fn form_error(error: multer::Error) -> s3s::S3Error {
    match error {
        multer::Error::FieldSizeExceeded { .. } => fields_too_large(),
        multer::Error::StreamSizeExceeded { .. } => {
            s3_error(S3ErrorCode::EntityTooLarge, "Your proposed upload exceeds the maximum allowed size")
        }
        multer::Error::StreamReadFailed(error) if error.to_string().contains(PRE_FILE_TOO_LARGE) => fields_too_large(),
        multer::Error::StreamReadFailed(error) => {
            let text = error.to_string();
            let code = if text.contains(crate::error::BODY_STALLED_ERROR) {
                S3ErrorCode::RequestTimeout
            } else {
                S3ErrorCode::IncompleteBody
            };
            s3_error(code, format!("the form could not be read: {text}"))
        }
        other => malformed(&other.to_string()),
    }
}

/// Who signed the form, and for which region (None: anonymous).
struct Signer {
    access_key: String,
    secret_key: String,
    identity: cairn_iam::Identity,
    region: String,
}

/// Checks the SigV4 signature of a form's policy: HMAC-SHA256 of the base64 policy
/// with the signing key of the credential's scope.
fn verify_signature(iam: &cairn_iam::Iam, fields: &FormFields, signature: &str) -> S3Result<Signer> {
    let missing = |name: &str| {
        s3_error(
            S3ErrorCode::InvalidArgument,
            format!("Bucket POST with x-amz-signature must contain a field named '{name}'"),
        )
    };
    let algorithm = fields.get("x-amz-algorithm").ok_or_else(|| missing("x-amz-algorithm"))?;
    if algorithm != ALGORITHM {
        return Err(s3_error(S3ErrorCode::InvalidArgument, format!("unsupported x-amz-algorithm {algorithm:?}")));
    }
    let credential = fields.get("x-amz-credential").ok_or_else(|| missing("x-amz-credential"))?;
    let amz_date = fields.get("x-amz-date").ok_or_else(|| missing("x-amz-date"))?;
    let policy = fields.get("policy").ok_or_else(|| missing("policy"))?;
    let parts: Vec<&str> = credential.split('/').collect();
    let [access_key, date, region, "s3", "aws4_request"] = parts[..] else {
        return Err(s3_error(S3ErrorCode::InvalidArgument, "x-amz-credential is not key/date/region/s3/aws4_request"));
    };
    if !amz_date.starts_with(date) {
        return Err(s3_error(S3ErrorCode::InvalidArgument, "x-amz-date is not the credential's date"));
    }
    let (secret_key, identity) = secret_of(iam, access_key)?;
    let expected = crate::region::signing_key(&secret_key, &format!("{date}/{region}/s3"))
        .and_then(|key| crate::region::hmac(&key, policy))
        .map(hex::encode)
        .ok_or_else(|| s3_error(S3ErrorCode::InternalError, "the signing key could not be derived"))?;
    // Compared in constant time: the signature is a secret-derived value.
    let same = expected.len() == signature.len()
        && expected.bytes().zip(signature.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0;
    if !same {
        return Err(s3_error(
            S3ErrorCode::SignatureDoesNotMatch,
            "The request signature we calculated does not match the signature you provided.",
        ));
    }
    Ok(Signer { access_key: access_key.to_owned(), secret_key, identity, region: region.to_owned() })
}

/// The `<Tagging>` document of a form's `tagging` field as an `x-amz-tagging` value.
fn tagging_header(document: &str) -> S3Result<String> {
    let mut reader = s3s::xml::Deserializer::new(document.as_bytes());
    let tagging = <Tagging as s3s::xml::Deserialize>::deserialize(&mut reader)
        .map_err(|_| s3_error(S3ErrorCode::MalformedXML, "the tagging field is not a valid Tagging document"))?;
    let tags = crate::tagging::from_set(tagging.tag_set, crate::tagging::OBJECT_TAGS_MAX)?;
    let mut encoded = form_urlencoded::Serializer::new(String::new());
    for (key, value) in &tags {
        encoded.append_pair(key, value);
    }
    Ok(encoded.finish())
}

/// The headers of the PutObject a form stands for.
fn headers_of(fields: &FormFields) -> S3Result<HeaderMap> {
    let mut headers = HeaderMap::new();
    let mut add = |name: &str, value: &str| -> S3Result<()> {
        let invalid = || s3_error(S3ErrorCode::InvalidArgument, format!("the form field {name} is not a valid header"));
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| invalid())?;
        let value = HeaderValue::from_str(value).map_err(|_| invalid())?;
        headers.insert(name, value);
        Ok(())
    };
    for (name, value) in fields.iter() {
        let passed = HEADER_FIELDS.contains(&name) || HEADER_FIELD_PREFIXES.iter().any(|p| name.starts_with(p));
        match name {
            _ if passed => add(name, value)?,
            "acl" => add("x-amz-acl", value)?,
            "tagging" => add(crate::tagging::STORED_NAME, &tagging_header(value)?)?,
            _ => {}
        }
    }
    Ok(headers)
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn timestamp(headers: &HeaderMap, name: &str, format: TimestampFormat) -> S3Result<Option<Timestamp>> {
    let Some(value) = header(headers, name) else { return Ok(None) };
    Timestamp::parse(format, value)
        .map(Some)
        .map_err(|_| s3_error(S3ErrorCode::InvalidArgument, format!("the form field {name} is not a valid date")))
}

/// The PutObject input of a form (without a body: the file is passed beside it).
fn put_input(bucket: &str, key: &str, headers: &HeaderMap) -> S3Result<PutObjectInput> {
    let text = |name: &str| header(headers, name).map(str::to_owned);
    let metadata: Metadata = (headers.iter())
        .filter_map(|(name, value)| {
            let short = name.as_str().strip_prefix("x-amz-meta-")?;
            Some((short.to_owned(), value.to_str().ok()?.to_owned()))
        })
        .collect();
    let mut builder = PutObjectInput::builder();
    builder
        .set_bucket(bucket.to_owned())
        .set_key(key.to_owned())
        .set_cache_control(text("cache-control"))
        .set_content_type(text("content-type"))
        .set_content_disposition(text("content-disposition"))
        .set_content_encoding(text("content-encoding"))
        .set_content_language(text("content-language"))
        .set_content_md5(text("content-md5"))
        .set_expires(timestamp(headers, "expires", TimestampFormat::HttpDate)?)
        .set_metadata((!metadata.is_empty()).then_some(metadata))
        .set_tagging(text(crate::tagging::STORED_NAME))
        .set_checksum_algorithm(text("x-amz-checksum-algorithm").map(ChecksumAlgorithm::from))
        .set_checksum_crc32(text("x-amz-checksum-crc32"))
        .set_checksum_crc32c(text("x-amz-checksum-crc32c"))
        .set_checksum_sha1(text("x-amz-checksum-sha1"))
        .set_checksum_sha256(text("x-amz-checksum-sha256"))
        .set_checksum_crc64nvme(text("x-amz-checksum-crc64nvme"))
        .set_object_lock_mode(text("x-amz-object-lock-mode").map(ObjectLockMode::from))
        .set_object_lock_retain_until_date(timestamp(
            headers,
            "x-amz-object-lock-retain-until-date",
            TimestampFormat::DateTime,
        )?)
        .set_object_lock_legal_hold_status(text("x-amz-object-lock-legal-hold").map(ObjectLockLegalHoldStatus::from))
        .set_server_side_encryption(text("x-amz-server-side-encryption").map(ServerSideEncryption::from))
        .set_sse_customer_algorithm(text("x-amz-server-side-encryption-customer-algorithm"))
        .set_sse_customer_key(text("x-amz-server-side-encryption-customer-key"))
        .set_sse_customer_key_md5(text("x-amz-server-side-encryption-customer-key-md5"));
    builder.build().map_err(|error| s3_error(S3ErrorCode::InvalidArgument, error.to_string()))
}

/// The file part as a PutObject body, failing (before the commit) when its size
/// leaves `range`: at the byte past the largest size, or at the end when it is short.
fn sized_body(file: multer::Field<'static>, range: Option<SizeRange>) -> cairn_object::Body {
    let range = range.unwrap_or(SizeRange { min: 0, max: crate::object::PUT_BYTES_MAX });
    let state = (file, 0u64, false);
    let body = futures::stream::unfold(state, move |(mut file, mut seen, ended)| async move {
        if ended {
            return None;
        }
        let item = match file.next().await {
            Some(Ok(chunk)) => {
                seen += chunk.len() as u64;
                if seen > range.max { Err(POST_FILE_TOO_LARGE.to_owned()) } else { Ok(chunk) }
            }
            Some(Err(multer::Error::FieldSizeExceeded { .. } | multer::Error::StreamSizeExceeded { .. })) => {
                Err(POST_FILE_TOO_LARGE.to_owned())
            }
            Some(Err(error)) => Err(error.to_string()),
            None if seen < range.min => Err(POST_FILE_TOO_SMALL.to_owned()),
            None => return None,
        };
        let ended = item.is_err();
        Some((item, (file, seen, ended)))
    });
    Box::pin(body)
}

/// Where a stored object is, as the `Location` of S3's answer.
fn location(scheme: &str, host: &str, bucket: &str, key: &str) -> String {
    const PATH: &percent_encoding::AsciiSet =
        &percent_encoding::NON_ALPHANUMERIC.remove(b'/').remove(b'-').remove(b'_').remove(b'.').remove(b'~');
    format!("{scheme}://{host}/{bucket}/{}", percent_encoding::utf8_percent_encode(key, PATH))
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&apos;")
}

/// What a successful form upload answers, as S3: a 303 to `success_action_redirect`
/// (with bucket, key and ETag in its query), or the `success_action_status` asked
/// for (201 with a `PostResponse` document, 200 empty), else 204.
fn answer(fields: &FormFields, stored: (&str, &str, &str), url: &str, version_id: Option<&str>) -> Response<Body> {
    let (bucket, key, etag) = stored;
    let redirect = fields.get("success_action_redirect").or_else(|| fields.get("redirect"));
    let redirect = redirect.filter(|url| url.parse::<http::Uri>().is_ok_and(|uri| uri.scheme().is_some()));
    let mut response = Response::new(Body::empty());
    if let Some(target) = redirect {
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("bucket", bucket)
            .append_pair("key", key)
            .append_pair("etag", etag)
            .finish();
        let separator = if target.contains('?') { '&' } else { '?' };
        *response.status_mut() = StatusCode::SEE_OTHER;
        if let Ok(value) = HeaderValue::from_str(&format!("{target}{separator}{query}")) {
            response.headers_mut().insert(http::header::LOCATION, value);
        }
    } else {
        match fields.get("success_action_status") {
            Some("201") => {
                let document = format!(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<PostResponse><Location>{}</Location><Bucket>{}</Bucket><Key>{}</Key><ETag>{}</ETag></PostResponse>",
                    xml_escape(url),
                    xml_escape(bucket),
                    xml_escape(key),
                    xml_escape(etag)
                );
                response = Response::new(Body::from(document));
                *response.status_mut() = StatusCode::CREATED;
                response.headers_mut().insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/xml"));
            }
            Some("200") => *response.status_mut() = StatusCode::OK,
            _ => *response.status_mut() = StatusCode::NO_CONTENT,
        }
        if let Ok(value) = HeaderValue::from_str(url) {
            response.headers_mut().insert(http::header::LOCATION, value);
        }
    }
    if let Ok(value) = HeaderValue::from_str(etag) {
        response.headers_mut().insert(http::header::ETAG, value);
    }
    if let Some(value) = version_id.and_then(|v| HeaderValue::from_str(v).ok()) {
        response.headers_mut().insert("x-amz-version-id", value);
    }
    response
}

/// A form's fields up to its file, and the file part.
async fn read_fields(
    multipart: &mut multer::Multipart<'static>,
    file_started: &std::sync::Mutex<bool>,
) -> S3Result<(FormFields, multer::Field<'static>)> {
    let mut fields = FormFields::default();
    let (mut count, mut bytes) = (0usize, 0usize);
    loop {
        let Some(field) = multipart.next_field().await.map_err(form_error)? else {
            return Err(s3_error(S3ErrorCode::InvalidArgument, "POST requires exactly one file upload per request."));
        };
        let name = field.name().unwrap_or_default().to_owned();
        // S3's name for the file field; the parser's file size limit is set for it.
        if name == "file" {
            *file_started.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = true;
            return Ok((fields, field));
        }
        let value = field.text().await.map_err(form_error)?;
        count += 1;
        bytes += name.len() + value.len();
        if count > FIELDS_MAX || bytes > FIELDS_BYTES_MAX {
            return Err(fields_too_large());
        }
        fields.push(&name, value);
    }
}

/// Reads (and ignores) what follows the file, within bounds; true when the form ended.
async fn finish_form(multipart: &mut multer::Multipart<'static>) -> bool {
    for _ in 0..FIELDS_AFTER_FILE_MAX {
        match multipart.next_field().await {
            Ok(Some(field)) => {
                if field.bytes().await.is_err() {
                    return false;
                }
            }
            Ok(None) => return true,
            Err(_) => return false,
        }
    }
    false
}

/// The bucket a form is posted to, if the request names a bucket and no key: the
/// host's first label under one of `domains` with the path `/`, or the path `/bucket`.
pub(crate) fn form_target(path: &str, host: Option<&str>, domains: Option<&str>) -> Option<String> {
    let from_host = crate::cors::bucket_of("/", host, domains);
    if domains.is_some() && from_host.is_some() {
        return from_host.filter(|_| path.trim_start_matches('/').is_empty());
    }
    let rest = path.trim_start_matches('/');
    let bucket = rest.strip_suffix('/').unwrap_or(rest);
    Some(bucket.to_owned()).filter(|b| !b.is_empty() && !b.contains('/'))
}

/// Where a form upload is posted, as the server knows it.
pub(crate) struct Posted {
    pub(crate) bucket: String,
    /// `http` or `https`, for the object's `Location`.
    pub(crate) scheme: &'static str,
}

impl CairnS3 {
    /// Answers a form upload: the object's answer, or the S3 error document.
    pub(crate) async fn post_object<B>(&self, posted: Posted, request: Request<B>) -> Response<Body>
    where
        B: http_body::Body<Data = Bytes> + Send + Sync + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        match self.form_upload(posted, request).await {
            Ok(response) => response,
            Err(error) => error.to_http_response().unwrap_or_else(|_| {
                let mut response = Response::new(Body::empty());
                *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
                response
            }),
        }
    }

    async fn form_upload<B>(&self, posted: Posted, request: Request<B>) -> S3Result<Response<Body>>
    where
        B: http_body::Body<Data = Bytes> + Send + Sync + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let Posted { bucket, scheme } = posted;
        let content_type = header(request.headers(), "content-type").unwrap_or_default().to_owned();
        let boundary = multer::parse_boundary(&content_type).map_err(|error| malformed(&error.to_string()))?;
        let host = header(request.headers(), "host").unwrap_or("localhost").to_owned();
        let peer = request.extensions().get::<PeerAddr>().map(|p| p.0);
        let request_id = request.extensions().get::<crate::notification::RequestId>().cloned();
        let limits = multer::SizeLimit::new()
            .whole_stream(crate::object::PUT_BYTES_MAX + FIELDS_BYTES_MAX as u64)
            .per_field(FIELD_BYTES_MAX)
            .for_field("file", crate::object::PUT_BYTES_MAX);
        // Until the file starts, the parser may hold what it has read: that is bounded.
        let file_started = Arc::new(std::sync::Mutex::new(false));
        let started = Arc::clone(&file_started);
        let mut before_file = 0u64;
        let stream = request.into_body().into_data_stream().map(move |chunk| {
            let chunk = chunk.map_err(Into::into)?;
            if !*started.lock().unwrap_or_else(std::sync::PoisonError::into_inner) {
                before_file += chunk.len() as u64;
                if before_file > PRE_FILE_BYTES_MAX {
                    return Err(Box::<dyn std::error::Error + Send + Sync>::from(PRE_FILE_TOO_LARGE));
                }
            }
            Ok(chunk)
        });
        let mut multipart =
            multer::Multipart::with_constraints(stream, boundary, multer::Constraints::new().size_limit(limits));
        let (mut fields, file) = read_fields(&mut multipart, &file_started).await?;
        let signer = match fields.get("x-amz-signature") {
            Some(signature) => Some(verify_signature(&self.iam, &fields, signature)?),
            None if fields.get("signature").is_some() || fields.get("awsaccesskeyid").is_some() => {
                return Err(crate::error::not_implemented("Form uploads signed with signature version 2"));
            }
            None if fields.get("policy").is_some() => {
                return Err(s3_error(
                    S3ErrorCode::InvalidArgument,
                    "a POST policy must be signed: give x-amz-algorithm, x-amz-credential, x-amz-date and x-amz-signature",
                ));
            }
            None => None,
        };
        let raw_key = fields.get("key").ok_or_else(|| {
            s3_error(
                S3ErrorCode::InvalidArgument,
                "Bucket POST must contain a field named 'key'. If it is specified, please check the order of the fields.",
            )
        })?;
        // S3 puts the file's name (its last path component, whatever the browser sent)
        // for `${filename}` before the policy is checked.
        let file_name = file.file_name().unwrap_or_default().rsplit(['/', '\\']).next().unwrap_or_default();
        let key = raw_key.replace(FILENAME_VARIABLE, file_name);
        fields.set("key", key.clone());
        let range = match fields.get("policy") {
            Some(encoded) => {
                let policy = PostPolicy::from_base64(encoded).map_err(|error| {
                    s3_error(S3ErrorCode::InvalidPolicyDocument, format!("Invalid Policy: {error}"))
                })?;
                crate::post_policy::check(&policy, &fields, &bucket, time::OffsetDateTime::now_utc().unix_timestamp())?
            }
            None => None,
        };
        let headers = headers_of(&fields)?;
        let access =
            IamAccess { iam: Arc::clone(&self.iam), store: self.store.clone(), settings: Arc::clone(&self.settings) };
        let identity = signer.as_ref().map(|s| s.identity.clone());
        let signed_for = signer.as_ref().map(|s| s.region.as_str());
        access.check_form_upload(identity.as_ref(), (&bucket, &key), &headers, (peer, signed_for))?;
        let input = put_input(&bucket, &key, &headers)?;
        let put = S3Request {
            input,
            method: http::Method::PUT,
            uri: http::Uri::default(),
            headers,
            extensions: crate::notification::form_extensions(peer, request_id),
            credentials: signer
                .map(|s| s3s::auth::Credentials { access_key: s.access_key, secret_key: s.secret_key.into() }),
            region: None,
            service: None,
            trailing_headers: None,
        };
        let output = self.put_object_from(put, sized_body(file, range)).await?.output;
        let etag = output.e_tag.map(|etag| etag.value().to_owned()).unwrap_or_default();
        let etag = format!("\"{etag}\"");
        let url = location(scheme, &host, &bucket, &key);
        let mut response = answer(&fields, (&bucket, &key, &etag), &url, output.version_id.as_deref());
        if !finish_form(&mut multipart).await {
            response.headers_mut().insert(http::header::CONNECTION, HeaderValue::from_static("close"));
        }
        Ok(response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> FormFields {
        let mut fields = FormFields::default();
        for (name, value) in pairs {
            fields.push(name, (*value).to_owned());
        }
        fields
    }

    #[test]
    fn fields_become_the_headers_of_the_put() {
        let fields = form(&[
            ("key", "a/b"),
            ("Content-Type", "text/plain"),
            ("x-amz-meta-owner", "ann"),
            ("acl", "private"),
            ("tagging", "<Tagging><TagSet><Tag><Key>k</Key><Value>v w</Value></Tag></TagSet></Tagging>"),
            ("success_action_status", "201"),
            ("x-amz-server-side-encryption", "AES256"),
        ]);
        let headers = headers_of(&fields).expect("headers");
        assert_eq!(header(&headers, "content-type"), Some("text/plain"));
        assert_eq!(header(&headers, "x-amz-meta-owner"), Some("ann"));
        assert_eq!(header(&headers, "x-amz-acl"), Some("private"));
        assert_eq!(header(&headers, crate::tagging::STORED_NAME), Some("k=v+w"));
        assert_eq!(header(&headers, "x-amz-server-side-encryption"), Some("AES256"));
        assert!(!headers.contains_key("key") && !headers.contains_key("success_action_status"));
        let input = put_input("b", "a/b", &headers).expect("input");
        assert_eq!(input.metadata.expect("metadata").get("owner").map(String::as_str), Some("ann"));
        assert_eq!(input.tagging.as_deref(), Some("k=v+w"));
    }

    #[test]
    fn bad_tag_documents_and_header_values_are_refused() {
        assert!(headers_of(&form(&[("tagging", "<Tagging><TagSet>")])).is_err());
        assert!(headers_of(&form(&[("content-type", "text/plain\r\nx: y")])).is_err());
        let bad_date = headers_of(&form(&[("expires", "tomorrow")])).expect("headers");
        assert!(put_input("b", "k", &bad_date).is_err());
    }

    #[test]
    fn answers_follow_success_action_fields() {
        let stored = ("b", "a&b", "\"e\"");
        let url = "http://h/b/a%26b";
        let created = answer(&form(&[("success_action_status", "201")]), stored, url, None);
        assert_eq!(created.status(), StatusCode::CREATED);
        assert_eq!(answer(&form(&[("success_action_status", "200")]), stored, url, None).status(), StatusCode::OK);
        assert_eq!(answer(&form(&[]), stored, url, Some("v1")).status(), StatusCode::NO_CONTENT);
        let redirect = form(&[("success_action_redirect", "https://app.test/done?x=1")]);
        let moved = answer(&redirect, stored, url, None);
        assert_eq!(moved.status(), StatusCode::SEE_OTHER);
        let target = moved.headers()[http::header::LOCATION].to_str().expect("ascii");
        assert_eq!(target, "https://app.test/done?x=1&bucket=b&key=a%26b&etag=%22e%22");
        // A redirect that is not an absolute URL falls back to the status.
        let relative = form(&[("success_action_redirect", "done"), ("success_action_status", "200")]);
        assert_eq!(answer(&relative, stored, url, None).status(), StatusCode::OK);
    }

    #[test]
    fn forms_are_posted_to_a_bucket_not_a_key() {
        assert_eq!(form_target("/photos", None, None), Some("photos".into()));
        assert_eq!(form_target("/photos/", Some("h"), None), Some("photos".into()));
        assert_eq!(form_target("/photos/a.png", None, None), None);
        assert_eq!(form_target("/", None, None), None);
        let domain = Some("cairn.test");
        assert_eq!(form_target("/", Some("photos.cairn.test:9000"), domain), Some("photos".into()));
        assert_eq!(form_target("/a.png", Some("photos.cairn.test"), domain), None);
        assert_eq!(form_target("/photos", Some("127.0.0.1:9000"), domain), Some("photos".into()));
    }

    #[test]
    fn locations_encode_the_key() {
        assert_eq!(location("http", "h:9000", "b", "a b/c&d"), "http://h:9000/b/a%20b/c%26d");
    }
}
