//! The console's stylesheet and script, compiled into the binary.

use crate::web::{Body, full, response};
use http::{HeaderValue, Response, StatusCode, header};

const CSS: &str = include_str!("../assets/console.css");
const JS: &str = include_str!("../assets/console.js");

/// A digest of the assets: their URLs carry it, so browsers may cache them for long
/// and still fetch them again when they change.
pub(crate) fn version() -> &'static str {
    static VERSION: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    VERSION.get_or_init(|| {
        use sha2::Digest;
        let digest = sha2::Sha256::new().chain_update(CSS).chain_update(JS).finalize();
        hex::encode(&digest[..8])
    })
}

/// The asset `name`, or None.
pub(crate) fn serve(name: &str) -> Option<Response<Body>> {
    let (content_type, text) = match name {
        "console.css" => ("text/css; charset=utf-8", CSS),
        "console.js" => ("text/javascript; charset=utf-8", JS),
        _ => return None,
    };
    let mut answer = response(StatusCode::OK, content_type, full(text));
    answer.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=86400"));
    Some(answer)
}
