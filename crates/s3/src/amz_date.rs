//! Guards s3s's `x-amz-date` parser. s3s 0.14.1 computes `c - b'0'` before checking that
//! `c` is a digit (`utils/parser.rs`), so a date with a byte below `'0'` where a digit
//! belongs panics in builds with overflow checks (every debug and test build). A date
//! that is not `YYYYMMDDTHHMMSSZ` is replaced by a value s3s rejects before it looks at
//! any digit, so the client gets s3s's own `400 InvalidRequest` ("invalid header:
//! x-amz-date", "invalid field: x-amz-date") and the task never panics.

use http::header::HeaderValue;
use http::{HeaderMap, Uri};
use percent_encoding::percent_decode_str;

/// The header of a signed request and the query parameter of a presigned URL.
const HEADER: &str = "x-amz-date";
const QUERY_PARAMETER: &str = "X-Amz-Date";
/// What replaces a malformed date: shorter than a date, so s3s's length check refuses it.
const REFUSED: &str = "malformed";

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

/// `query` with malformed `X-Amz-Date` values replaced, or `None` when none is.
fn defuse_query(query: &str) -> Option<String> {
    let malformed = |pair: &str| {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let decoded: Vec<u8> = percent_decode_str(value).collect();
        name == QUERY_PARAMETER && !well_formed(&decoded)
    };
    if !query.split('&').any(malformed) {
        return None;
    }
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| if malformed(pair) { format!("{QUERY_PARAMETER}={REFUSED}") } else { pair.to_owned() })
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
}
