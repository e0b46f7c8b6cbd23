//! Guards s3s's `x-amz-date` parser. s3s 0.14.1 computes `c - b'0'` before checking that
//! `c` is a digit (`utils/parser.rs`), so a date with a byte below `'0'` where a digit
//! belongs panics in builds with overflow checks (every debug and test build). A date
//! that is not `YYYYMMDDTHHMMSSZ` is replaced by a value s3s rejects before it looks at
//! any digit, so the client gets s3s's own `400 InvalidRequest` ("invalid header:
//! x-amz-date", "invalid field: x-amz-date") and the task never panics.
//!
//! The credential scope's date (`Credential=<key>/<YYYYMMDD>/...` in `Authorization`,
//! and the `X-Amz-Credential` query parameter) goes through the same digit parser, once
//! it is eight bytes long: a scope date of eight bytes that are not all digits makes the
//! whole header (or parameter) one that s3s refuses before parsing the credential.

use http::header::HeaderValue;
use http::{HeaderMap, Uri};
use percent_encoding::percent_decode_str;

/// The header of a signed request and the query parameter of a presigned URL.
const HEADER: &str = "x-amz-date";
const QUERY_PARAMETER: &str = "X-Amz-Date";
/// What replaces a malformed date: shorter than a date, so s3s's length check refuses it.
const REFUSED: &str = "malformed";
/// The signed request's header holding the credential scope.
const AUTHORIZATION: &str = "authorization";
/// The presigned URL's parameter holding the credential scope.
const CREDENTIAL_PARAMETER: &str = "X-Amz-Credential";
/// Where the credential starts in an `Authorization` header.
const CREDENTIAL_FIELD: &str = "Credential=";
/// The length of a scope date, the only length s3s hands to its digit parser.
const SCOPE_DATE_BYTES: usize = 8;

/// Whether a credential (`<key>/<date>/<region>/<service>/aws4_request`, or its start)
/// has a scope date s3s's parser can take without panicking: anything but eight bytes
/// that are not all digits (s3s refuses other lengths before looking at a digit).
fn safe_credential(credential: &[u8]) -> bool {
    let mut segments = credential.splitn(3, |c| *c == b'/');
    let date = segments.nth(1).unwrap_or_default();
    date.len() != SCOPE_DATE_BYTES || date.iter().all(u8::is_ascii_digit)
}

/// Whether an `Authorization` header's credential is safe to parse (see [`safe_credential`]).
fn safe_authorization(value: &[u8]) -> bool {
    let field = CREDENTIAL_FIELD.as_bytes();
    match value.windows(field.len()).position(|w| w == field) {
        Some(at) => safe_credential(&value[at + field.len()..]),
        None => true,
    }
}

/// Whether `value` has the one shape SigV4 dates have: `YYYYMMDDTHHMMSSZ`.
pub fn well_formed(value: &[u8]) -> bool {
    value.len() == 16
        && value.iter().enumerate().all(|(i, c)| match i {
            8 => *c == b'T',
            15 => *c == b'Z',
            _ => c.is_ascii_digit(),
        })
}

/// Replaces every malformed `x-amz-date` header and `X-Amz-Date` query value of a
/// request with one s3s refuses safely; well-formed requests are left untouched.
pub fn defuse(uri: &mut Uri, headers: &mut HeaderMap) {
    if headers.get_all(HEADER).iter().any(|v| !well_formed(v.as_bytes())) {
        // One value: s3s refuses a repeated header anyway, and this one fails its check.
        headers.insert(HEADER, HeaderValue::from_static(REFUSED));
    }
    if headers.get_all(AUTHORIZATION).iter().any(|v| !safe_authorization(v.as_bytes())) {
        headers.insert(AUTHORIZATION, HeaderValue::from_static(REFUSED));
    }
    let Some(defused) = uri.query().and_then(defuse_query) else { return };
    let mut parts = uri.clone().into_parts();
    // The path and the other parameters are kept byte for byte, so this always parses.
    if let Ok(path_and_query) = format!("{}?{defused}", uri.path()).parse() {
        parts.path_and_query = Some(path_and_query);
        if let Ok(rebuilt) = Uri::from_parts(parts) {
            *uri = rebuilt;
        }
    }
}

/// `query` with malformed `X-Amz-Date` values and unsafe `X-Amz-Credential` values
/// replaced, or `None` when none is.
fn defuse_query(query: &str) -> Option<String> {
    let malformed = |pair: &str| {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let decoded: Vec<u8> = percent_decode_str(value).collect();
        (name == QUERY_PARAMETER && !well_formed(&decoded))
            || (name == CREDENTIAL_PARAMETER && !safe_credential(&decoded))
    };
    if !query.split('&').any(malformed) {
        return None;
    }
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if malformed(pair) => format!("{name}={REFUSED}"),
            _ => pair.to_owned(),
        })
        .collect();
    Some(pairs.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_sigv4_dates_are_well_formed() {
        assert!(well_formed(b"20261201T185453Z"));
        for bad in ["2026120/T185453Z", "20261201T18545 Z", "20261201X185453Z", "20261201T185453", "", "2026-12-01"] {
            assert!(!well_formed(bad.as_bytes()), "{bad:?}");
        }
    }

    /// Regression (found by `fuzz_s3_requests`): these reached s3s's parser, whose
    /// `c - b'0'` overflowed and panicked the connection's task.
    #[test]
    fn malformed_dates_are_replaced_and_good_ones_kept() {
        let mut uri: Uri =
            "/b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=2026120%2FT185453Z&x=1".parse().expect("uri");
        let mut headers = HeaderMap::new();
        headers.insert(HEADER, HeaderValue::from_static("2026120/T185453Z"));
        defuse(&mut uri, &mut headers);
        assert_eq!(headers[HEADER], REFUSED);
        assert_eq!(uri.query(), Some("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=malformed&x=1"));

        let good = "/b/k?X-Amz-Date=20261201T185453Z&a=%2F";
        let mut uri: Uri = good.parse().expect("uri");
        let mut headers = HeaderMap::new();
        headers.insert(HEADER, HeaderValue::from_static("20261201T185453Z"));
        defuse(&mut uri, &mut headers);
        assert_eq!((uri.to_string().as_str(), &headers[HEADER]), (good, &HeaderValue::from_static("20261201T185453Z")));
    }

    /// Regression (found by `fuzz_s3_requests`): a credential scope date with a byte
    /// below `'0'` overflowed in s3s's `verify_date` and panicked the connection's task.
    #[test]
    fn credential_scope_dates_that_would_panic_s3s_are_refused() {
        let header = |date: &str| {
            format!("AWS4-HMAC-SHA256 Credential=key/{date}/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0")
        };
        for (date, kept) in [("20261202", true), ("2026120 ", false), ("2026/202", true), ("2026-1202", true)] {
            let mut uri: Uri = "/b".parse().expect("uri");
            let mut headers = HeaderMap::new();
            headers.insert(AUTHORIZATION, HeaderValue::from_str(&header(date)).expect("header"));
            defuse(&mut uri, &mut headers);
            assert_eq!(headers[AUTHORIZATION] != REFUSED, kept, "{date:?}");
        }
        let mut uri: Uri =
            "/b/k?X-Amz-Credential=key%2F2026120%2C%2Fus-east-1%2Fs3%2Faws4_request&x=1".parse().expect("uri");
        defuse(&mut uri, &mut HeaderMap::new());
        assert_eq!(uri.query(), Some("X-Amz-Credential=malformed&x=1"));
        let good = "/b/k?X-Amz-Credential=key%2F20261202%2Fus-east-1%2Fs3%2Faws4_request";
        let mut uri: Uri = good.parse().expect("uri");
        defuse(&mut uri, &mut HeaderMap::new());
        assert_eq!(uri.to_string(), good);
    }
}
