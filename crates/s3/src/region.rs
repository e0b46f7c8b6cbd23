//! Which regions a request may be signed for, as MinIO decides: any while no region is
//! configured (`region name=` unset), else only the configured one; S3's legacy name
//! `US` stands for `us-east-1`. GetBucketLocation and ListBuckets are answered whatever
//! the region, as S3 does, since clients call them to find out the region.
//!
//! s3s refuses a credential scope whose region is not `[a-z0-9-]+` (after checking the
//! signature), so a request signed for `US` (s3cmd's default `bucket_location`) never
//! reaches the operations. [`resign_legacy`] verifies such a request's signature itself
//! and, when it holds, signs the same canonical request for the region the legacy name
//! stands for. s3s then checks that signature against its own canonical request: it
//! matches only if both canonical requests are identical, so a request is accepted only
//! if its client really signed everything s3s checks. Streaming (aws-chunked) uploads
//! chain their chunk signatures from the region, so they cannot be re-signed and keep
//! failing in a legacy region; presigned URLs are not re-signed either.

use crate::error::wrong_region;
use cairn_iam::Iam;
use hmac::{Hmac, KeyInit, Mac};
use http::{HeaderMap, HeaderValue, Method, Uri};
use s3s::S3Result;
use sha2::{Digest, Sha256};

/// The region the legacy name `US` stands for.
const US_EAST_1: &str = "us-east-1";
/// The only signing algorithm re-signed.
const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// What a request's region may be. `configured` is the `region name=` setting.
pub(crate) fn check(operation: &str, signed_for: Option<&str>, configured: Option<&str>) -> S3Result<()> {
    let (Some(signed_for), Some(configured)) = (signed_for, configured) else { return Ok(()) };
    if matches!(operation, "GetBucketLocation" | "ListBuckets") {
        return Ok(());
    }
    let signed_for = if signed_for == "US" { US_EAST_1 } else { signed_for };
    if signed_for == configured { Ok(()) } else { Err(wrong_region(signed_for, configured)) }
}

/// The region of a SigV4 request's credential scope (Authorization header or presigned
/// `X-Amz-Credential`), if it has one.
pub(crate) fn signed_region(headers: &HeaderMap, query: &[(String, String)]) -> Option<String> {
    let credential = match headers.get(http::header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        Some(authorization) => Authorization::parse(authorization)?.credential.to_owned(),
        None => query.iter().find(|(name, _)| name == "X-Amz-Credential").map(|(_, v)| v.clone())?,
    };
    credential.split('/').nth(2).map(str::to_owned)
}

/// The parts of a SigV4 Authorization header.
struct Authorization<'a> {
    /// `access-key/date/region/service/aws4_request`.
    credential: &'a str,
    signed_headers: &'a str,
    signature: &'a str,
}

impl<'a> Authorization<'a> {
    fn parse(value: &'a str) -> Option<Self> {
        let rest = value.strip_prefix(ALGORITHM)?.trim_start();
        let (mut credential, mut signed_headers, mut signature) = (None, None, None);
        for field in rest.split(',') {
            let (name, value) = field.trim().split_once('=')?;
            match name {
                "Credential" => credential = Some(value),
                "SignedHeaders" => signed_headers = Some(value),
                "Signature" => signature = Some(value),
                _ => return None,
            }
        }
        Some(Self { credential: credential?, signed_headers: signed_headers?, signature: signature? })
    }
}

/// Re-signs a header-signed request made for the legacy region `US` for `us-east-1`,
/// if its signature is valid; leaves any other request as it is (s3s judges it).
pub(crate) fn resign_legacy(method: &Method, uri: &Uri, headers: &mut HeaderMap, iam: &Iam) {
    if let Some(value) = resigned(method, uri, headers, iam)
        && let Ok(value) = HeaderValue::from_str(&value)
    {
        headers.insert(http::header::AUTHORIZATION, value);
    }
}

fn resigned(method: &Method, uri: &Uri, headers: &HeaderMap, iam: &Iam) -> Option<String> {
    let authorization = Authorization::parse(headers.get(http::header::AUTHORIZATION)?.to_str().ok()?)?;
    let mut scope = authorization.credential.split('/');
    let (access_key, date, region, service) = (scope.next()?, scope.next()?, scope.next()?, scope.next()?);
    if region != "US" {
        return None;
    }
    let payload = headers.get("x-amz-content-sha256")?.to_str().ok()?;
    if payload.starts_with("STREAMING-AWS4-HMAC-SHA256") {
        return None;
    }
    let amz_date = headers.get("x-amz-date")?.to_str().ok()?;
    let (secret, _) = iam.secret_for(access_key).ok()?;
    let canonical = canonical_request(method, uri, headers, authorization.signed_headers, payload)?;
    let expected = signature(&secret, amz_date, &format!("{date}/{region}/{service}"), &canonical)?;
    if !constant_time_eq(expected.as_bytes(), authorization.signature.as_bytes()) {
        return None;
    }
    let scope = format!("{date}/{US_EAST_1}/{service}");
    let signature = signature(&secret, amz_date, &scope, &canonical)?;
    Some(format!(
        "{ALGORITHM} Credential={access_key}/{scope}/aws4_request, SignedHeaders={}, Signature={signature}",
        authorization.signed_headers
    ))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Percent-encodes as SigV4 does: every byte but `A-Za-z0-9-_.~` (and `/` in paths).
fn uri_encode(text: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) || (keep_slash && byte == b'/') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text).decode_utf8_lossy().into_owned()
}

/// The SigV4 canonical request (S3 flavour: the path is encoded once).
fn canonical_request(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    signed_headers: &str,
    payload: &str,
) -> Option<String> {
    let path = uri_encode(&decode(uri.path()), true);
    let mut query: Vec<(String, String)> = uri
        .query()
        .unwrap_or_default()
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (uri_encode(&decode(name), false), uri_encode(&decode(value), false))
        })
        .collect();
    query.sort();
    let query: Vec<String> = query.into_iter().map(|(name, value)| format!("{name}={value}")).collect();
    let mut canonical_headers = String::new();
    for name in signed_headers.split(';') {
        let values: Vec<String> = headers
            .get_all(name)
            .iter()
            .map(|value| value.to_str().map(|v| v.split_whitespace().collect::<Vec<_>>().join(" ")))
            .collect::<Result<_, _>>()
            .ok()?;
        if values.is_empty() {
            return None;
        }
        canonical_headers.push_str(&format!("{name}:{}\n", values.join(",")));
    }
    Some(format!("{method}\n{path}\n{}\n{canonical_headers}\n{signed_headers}\n{payload}", query.join("&")))
}

pub(crate) fn hmac(key: &[u8], data: &str) -> Option<Vec<u8>> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).ok()?;
    mac.update(data.as_bytes());
    Some(mac.finalize().into_bytes().to_vec())
}

/// The SigV4 signing key of `secret` for a scope `date/region/service`.
pub(crate) fn signing_key(secret: &str, scope: &str) -> Option<Vec<u8>> {
    let mut key = format!("AWS4{secret}").into_bytes();
    for part in scope.split('/').chain(["aws4_request"]) {
        key = hmac(&key, part)?;
    }
    Some(key)
}

/// The hex signature of `canonical` for a scope `date/region/service`.
fn signature(secret: &str, amz_date: &str, scope: &str, canonical: &str) -> Option<String> {
    let key = signing_key(secret, scope)?;
    let hashed = hex::encode(Sha256::digest(canonical.as_bytes()));
    let to_sign = format!("{ALGORITHM}\n{amz_date}\n{scope}/aws4_request\n{hashed}");
    Some(hex::encode(hmac(&key, &to_sign)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// AWS's documented example: GET /test.txt with a Range header.
    #[test]
    fn signatures_match_the_aws_example() {
        let mut headers = HeaderMap::new();
        headers.insert("host", HeaderValue::from_static("examplebucket.s3.amazonaws.com"));
        headers.insert("range", HeaderValue::from_static("bytes=0-9"));
        let empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        headers.insert("x-amz-content-sha256", HeaderValue::from_static(empty));
        headers.insert("x-amz-date", HeaderValue::from_static("20130524T000000Z"));
        let uri: Uri = "/test.txt".parse().expect("uri");
        let signed = "host;range;x-amz-content-sha256;x-amz-date";
        let canonical = canonical_request(&Method::GET, &uri, &headers, signed, empty).expect("canonical");
        let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
        let signature = signature(secret, "20130524T000000Z", "20130524/us-east-1/s3", &canonical).expect("signs");
        assert_eq!(signature, "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
    }

    #[test]
    fn regions_are_judged_as_minio_does() {
        assert!(check("PutObject", Some("eu-north-1"), None).is_ok(), "any region while none is configured");
        assert!(check("PutObject", Some("US"), Some("us-east-1")).is_ok(), "US is us-east-1");
        assert!(check("PutObject", Some("us-east-1"), Some("eu-west-1")).is_err());
        assert!(check("PutObject", Some("US"), Some("eu-west-1")).is_err());
        assert!(check("GetBucketLocation", Some("us-east-1"), Some("eu-west-1")).is_ok());
        assert!(check("PutObject", None, Some("eu-west-1")).is_ok(), "anonymous requests have no region");
    }

    #[test]
    fn the_credential_region_is_found_in_headers_or_query() {
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::AUTHORIZATION,
            HeaderValue::from_static(
                "AWS4-HMAC-SHA256 Credential=AK/20240101/US/s3/aws4_request, SignedHeaders=host, Signature=00",
            ),
        );
        assert_eq!(signed_region(&headers, &[]).as_deref(), Some("US"));
        let query = [("X-Amz-Credential".to_owned(), "AK/20240101/eu-west-1/s3/aws4_request".to_owned())];
        assert_eq!(signed_region(&HeaderMap::new(), &query).as_deref(), Some("eu-west-1"));
    }
}
