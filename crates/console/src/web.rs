//! HTTP plumbing of the console: response bodies, security headers, cookies, query
//! strings and form bodies.

use crate::error::{ConsoleError, Result};
use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use std::collections::HashMap;

/// Errors of streamed response bodies.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// Every console response body: a page, a file streamed from the store, or nothing.
pub type Body = http_body_util::combinators::UnsyncBoxBody<Bytes, BoxError>;

/// Largest form or JSON body a console request may send (a policy document or a
/// configuration to import fits many times over); uploads stream and are not bound by it.
pub const FORM_BYTES_MAX: usize = 1 << 20;

/// The Content-Security-Policy of every page: scripts, styles and frames from the
/// console itself only, no inline script, never framed by another site.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data: blob:; frame-src 'self'; object-src 'none'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'self'";

/// A body of `bytes`.
pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).map_err(|never| match never {}).boxed_unsync()
}

/// A response with `status`, `content_type` and `body`, and the console's security headers.
pub fn response(status: StatusCode, content_type: &'static str, body: Body) -> Response<Body> {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    secure(headers);
    response
}

/// Headers every console response carries.
pub fn secure(headers: &mut http::HeaderMap) {
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("SAMEORIGIN"));
    headers.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
}

/// An HTML page.
pub fn html(status: StatusCode, page: String) -> Response<Body> {
    response(status, "text/html; charset=utf-8", full(page))
}

/// A JSON answer (for the console's own scripts).
pub fn json(status: StatusCode, value: &serde_json::Value) -> Response<Body> {
    response(status, "application/json", full(value.to_string()))
}

/// A 303 to `location` (after a form: the browser then GETs it).
pub fn redirect(location: &str) -> Response<Body> {
    let mut response = response(StatusCode::SEE_OTHER, "text/plain; charset=utf-8", full(""));
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

/// The value of cookie `name` in `headers`.
pub fn cookie<'a>(headers: &'a http::HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|line| line.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// Decoded `name=value` pairs of a query string or urlencoded form (the last of a repeated name wins).
pub fn pairs(text: &[u8]) -> HashMap<String, String> {
    form_urlencoded::parse(text).into_owned().collect()
}

/// Every value of `name` in a query string or urlencoded form, in order.
pub fn all_values(text: &[u8], name: &str) -> Vec<String> {
    form_urlencoded::parse(text).filter(|(key, _)| key == name).map(|(_, value)| value.into_owned()).collect()
}

/// Reads a request body of at most [`FORM_BYTES_MAX`] bytes.
pub async fn read_small<B>(body: B) -> Result<Bytes>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    Limited::new(body, FORM_BYTES_MAX)
        .collect()
        .await
        .map(|collected| collected.to_bytes())
        .map_err(|_| ConsoleError::BadRequest(format!("the request body is unreadable or over {FORM_BYTES_MAX} bytes")))
}

/// `text` percent-encoded for a query value or a path segment.
pub fn encode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, COMPONENT).to_string()
}

/// Characters escaped in query values and path segments (all but unreserved ones).
const COMPONENT: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// A `Content-Disposition` for `name`: `attachment` (download) or `inline` (preview),
/// with an ASCII fallback and the exact name in RFC 5987 form.
pub fn disposition(kind: &str, name: &str) -> String {
    let fallback: String =
        name.chars().map(|c| if c.is_ascii_graphic() && c != '"' && c != '\\' { c } else { '_' }).collect();
    format!("{kind}; filename=\"{fallback}\"; filename*=UTF-8''{}", encode(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_among_others() {
        let mut headers = http::HeaderMap::new();
        headers.append(header::COOKIE, HeaderValue::from_static("a=1; cairn_session=xyz.abc"));
        headers.append(header::COOKIE, HeaderValue::from_static("b=2"));
        assert_eq!(cookie(&headers, "cairn_session"), Some("xyz.abc"));
        assert_eq!(cookie(&headers, "b"), Some("2"));
        assert_eq!(cookie(&headers, "missing"), None);
    }

    #[test]
    fn dispositions_keep_the_name_and_stay_one_header_line() {
        let value = disposition("attachment", "re\"port \u{e9}\n.pdf");
        assert!(value.starts_with("attachment; filename=\"re_port___.pdf\""), "{value}");
        assert!(value.ends_with("filename*=UTF-8''re%22port%20%C3%A9%0A.pdf"), "{value}");
        assert!(HeaderValue::from_str(&value).is_ok());
    }
}
