//! Object headers: what a PUT stores (system headers and user metadata) and how
//! GET/HEAD give them back; conditional request evaluation.

use crate::error::s3_error;
use cairn_object::ObjectInfo;
use s3s::S3ErrorCode;
use s3s::S3Result;
use s3s::dto::{ETag, ETagCondition, Metadata, Timestamp, TimestampFormat};
use std::collections::BTreeMap;
use time::OffsetDateTime;

/// Most bytes of user metadata (names plus values) S3 accepts.
pub(crate) const USER_METADATA_BYTES_MAX: usize = 2 << 10;
/// Content-Type of objects stored without one, as S3.
const DEFAULT_CONTENT_TYPE: &str = "binary/octet-stream";
/// Prefix of stored user metadata names.
const META_PREFIX: &str = "x-amz-meta-";

/// Standard headers a client may set on an object.
#[derive(Debug, Default, Clone)]
pub(crate) struct StandardHeaders {
    pub(crate) content_type: Option<String>,
    pub(crate) content_encoding: Option<String>,
    pub(crate) content_disposition: Option<String>,
    pub(crate) content_language: Option<String>,
    pub(crate) cache_control: Option<String>,
    pub(crate) expires: Option<Timestamp>,
}

fn format_http_date(timestamp: &Timestamp) -> Option<String> {
    let mut out = Vec::new();
    timestamp.format(TimestampFormat::HttpDate, &mut out).ok()?;
    String::from_utf8(out).ok()
}

/// Builds the stored header map, refusing user metadata over S3's 2 KiB.
pub(crate) fn stored_headers(
    standard: StandardHeaders,
    metadata: Option<Metadata>,
) -> S3Result<BTreeMap<String, String>> {
    let mut headers = BTreeMap::new();
    // aws-chunked describes the request's transfer framing, not the object: S3 drops it.
    let content_encoding = standard.content_encoding.and_then(|encoding| {
        let kept: Vec<&str> = encoding
            .split(',')
            .map(str::trim)
            .filter(|e| !e.eq_ignore_ascii_case("aws-chunked") && !e.is_empty())
            .collect();
        (!kept.is_empty()).then(|| kept.join(","))
    });
    let pairs = [
        ("content-type", Some(standard.content_type.unwrap_or_else(|| DEFAULT_CONTENT_TYPE.to_owned()))),
        ("content-encoding", content_encoding),
        ("content-disposition", standard.content_disposition),
        ("content-language", standard.content_language),
        ("cache-control", standard.cache_control),
        ("expires", standard.expires.as_ref().and_then(format_http_date)),
    ];
    for (name, value) in pairs {
        if let Some(value) = value {
            headers.insert(name.to_owned(), value);
        }
    }
    let mut user_bytes = 0;
    for (name, value) in metadata.into_iter().flatten() {
        user_bytes += name.len() + value.len();
        headers.insert(format!("{META_PREFIX}{}", name.to_ascii_lowercase()), value);
    }
    if user_bytes > USER_METADATA_BYTES_MAX {
        return Err(s3_error(
            S3ErrorCode::MetadataTooLarge,
            format!(
                "Your metadata headers exceed the maximum allowed metadata size of {USER_METADATA_BYTES_MAX} bytes"
            ),
        ));
    }
    Ok(headers)
}

/// Standard headers back from a stored map.
pub(crate) fn standard_headers(headers: &BTreeMap<String, String>) -> StandardHeaders {
    let get = |name: &str| headers.get(name).cloned();
    StandardHeaders {
        content_type: get("content-type"),
        content_encoding: get("content-encoding"),
        content_disposition: get("content-disposition"),
        content_language: get("content-language"),
        cache_control: get("cache-control"),
        expires: headers.get("expires").and_then(|v| Timestamp::parse(TimestampFormat::HttpDate, v).ok()),
    }
}

/// User metadata back from a stored map (without the `x-amz-meta-` prefix).
pub(crate) fn user_metadata(headers: &BTreeMap<String, String>) -> Option<Metadata> {
    let metadata: Metadata = headers
        .iter()
        .filter_map(|(name, value)| name.strip_prefix(META_PREFIX).map(|n| (n.to_owned(), value.clone())))
        .collect();
    (!metadata.is_empty()).then_some(metadata)
}

/// Last-modified of an object as an S3 timestamp.
pub(crate) fn last_modified(info: &ObjectInfo) -> Timestamp {
    timestamp(info.mod_time_unix_nanos)
}

/// The timestamp of `unix_nanos` nanoseconds since the Unix epoch.
pub(crate) fn timestamp(unix_nanos: i64) -> Timestamp {
    Timestamp::from(
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(unix_nanos)).unwrap_or(OffsetDateTime::UNIX_EPOCH),
    )
}

/// Seconds since the epoch: HTTP dates have second precision, so comparisons do too.
fn seconds(timestamp: &Timestamp) -> i64 {
    OffsetDateTime::from(timestamp.clone()).unix_timestamp()
}

fn etag_matches(condition: &ETagCondition, etag: &str) -> bool {
    match condition {
        ETagCondition::Any => true,
        ETagCondition::ETag(expected) => expected.value() == etag,
    }
}

/// The object's ETag as a response value.
pub(crate) fn etag(info: &ObjectInfo) -> ETag {
    ETag::Strong(info.etag.clone())
}

/// Conditions of a GET/HEAD, or of a copy source.
#[derive(Debug, Default)]
pub(crate) struct Conditions {
    pub(crate) if_match: Option<ETagCondition>,
    pub(crate) if_none_match: Option<ETagCondition>,
    pub(crate) if_modified_since: Option<Timestamp>,
    pub(crate) if_unmodified_since: Option<Timestamp>,
}

impl Conditions {
    /// Evaluates the conditions as RFC 9110 and S3 do. `not_modified` is the error
    /// for a failed If-None-Match / If-Modified-Since: 304 on GET/HEAD, 412 for copies.
    pub(crate) fn check(&self, info: &ObjectInfo, not_modified: fn() -> s3s::S3Error) -> S3Result<()> {
        let modified = seconds(&last_modified(info));
        if let Some(condition) = &self.if_match {
            if !etag_matches(condition, &info.etag) {
                return Err(s3_error(
                    S3ErrorCode::PreconditionFailed,
                    "At least one of the pre-conditions you specified did not hold",
                ));
            }
        } else if let Some(since) = &self.if_unmodified_since
            && modified > seconds(since)
        {
            return Err(s3_error(
                S3ErrorCode::PreconditionFailed,
                "At least one of the pre-conditions you specified did not hold",
            ));
        }
        if let Some(condition) = &self.if_none_match {
            if etag_matches(condition, &info.etag) {
                return Err(not_modified());
            }
        } else if let Some(since) = &self.if_modified_since
            && modified <= seconds(since)
        {
            return Err(not_modified());
        }
        Ok(())
    }
}

/// 304 Not Modified (GET and HEAD).
pub(crate) fn not_modified() -> s3s::S3Error {
    let mut error = s3s::S3Error::new(S3ErrorCode::NotModified);
    error.set_status_code(http::StatusCode::NOT_MODIFIED);
    error
}

/// 412 Precondition Failed (copy sources).
pub(crate) fn precondition_failed() -> s3s::S3Error {
    s3_error(S3ErrorCode::PreconditionFailed, "At least one of the pre-conditions you specified did not hold")
}
