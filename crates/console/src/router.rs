//! Maps console requests to their handlers, checks the session and CSRF token, and
//! turns failures into pages (or JSON for the console's scripts).

use crate::Console;
use crate::caller::Caller;
use crate::error::{ConsoleError, Result};
use crate::pages;
use crate::web::{self, Body};
use askama::Template;
use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

/// Header the console's scripts send the CSRF token in.
pub(crate) const CSRF_HEADER: &str = "x-csrf-token";
/// Form field pages send the CSRF token in.
const CSRF_FIELD: &str = "csrf";

/// One request as handlers see it.
pub(crate) struct Call {
    pub(crate) console: Arc<Console>,
    pub(crate) peer: SocketAddr,
    pub(crate) method: Method,
    /// Path segments after the base path, percent-decoded.
    pub(crate) segments: Vec<String>,
    pub(crate) query: Bytes,
    pub(crate) request: Request<Incoming>,
}

impl Call {
    /// Query parameter `name` (empty when absent).
    pub(crate) fn param(&self, name: &str) -> String {
        web::pairs(&self.query).remove(name).unwrap_or_default()
    }

    /// The logged-in caller.
    pub(crate) fn caller(&self) -> Result<Caller> {
        self.console.caller(self.request.headers())
    }

    /// The caller of a state-changing request from a script: the CSRF token must be in
    /// its header.
    pub(crate) fn caller_with_token(&self) -> Result<Caller> {
        let caller = self.caller()?;
        let token = self.request.headers().get(CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default();
        if !self.console.config.keys.csrf_valid(&caller.session, token) {
            return Err(ConsoleError::Csrf);
        }
        Ok(caller)
    }

    /// The caller and fields of a submitted form, which must carry the CSRF token.
    pub(crate) async fn form(self) -> Result<(Caller, HashMap<String, String>, Bytes)> {
        let caller = self.caller()?;
        let body = web::read_small(self.request.into_body()).await?;
        let fields = web::pairs(&body);
        let token = fields.get(CSRF_FIELD).map(String::as_str).unwrap_or_default();
        if !self.console.config.keys.csrf_valid(&caller.session, token) {
            return Err(ConsoleError::Csrf);
        }
        Ok((caller, fields, body))
    }

    /// The base path with `path` after it: a link within the console.
    pub(crate) fn link(&self, path: &str) -> String {
        format!("{}{path}", self.console.config.base_path)
    }

    /// A segment of the path (empty when absent).
    pub(crate) fn segment(&self, index: usize) -> &str {
        self.segments.get(index).map_or("", String::as_str)
    }
}

/// Answers one console request.
pub(crate) async fn handle(console: Arc<Console>, peer: SocketAddr, request: Request<Incoming>) -> Response<Body> {
    let started = Instant::now();
    let method = request.method().clone();
    let raw_path = request.uri().path().to_owned();
    // Behind a proxy that keeps the prefix, paths start with the base path; one that
    // strips it sends them bare. Both work.
    let base = console.config.base_path.as_str();
    let path = match raw_path.strip_prefix(base) {
        Some(rest) if !base.is_empty() && (rest.is_empty() || rest.starts_with('/')) => rest,
        _ => raw_path.as_str(),
    };
    let segments: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned())
        .collect();
    let api = segments.first().is_some_and(|s| s == "api");
    let query = Bytes::copy_from_slice(request.uri().query().unwrap_or_default().as_bytes());
    let gzip = crate::gzip::accepted(request.headers());
    let call = Call { console: Arc::clone(&console), peer, method: method.clone(), segments, query, request };
    let mut answer = match route(call).await {
        Ok(answer) => answer,
        Err(error) => failure(&console, &error, api, &raw_path),
    };
    if gzip {
        answer = crate::gzip::compress(answer).await;
    }
    tracing::info!(
        target: "cairn::console",
        method = %method,
        path = %raw_path,
        status = answer.status().as_u16(),
        duration_us = started.elapsed().as_micros() as u64,
        "console request"
    );
    answer
}

/// True when a browser says the request comes from another site: its `Origin` names a
/// host other than the one it sent the request to (the `Host`, a proxy's
/// `X-Forwarded-Host`, or the console's configured public host). Checked on every
/// state-changing request, the login form included (which has no session to bind a
/// token to yet). A cross-site page cannot set `X-Forwarded-Host` (the browser would
/// ask first with a preflight the console never grants).
fn cross_site(headers: &http::HeaderMap, public_host: Option<&str>) -> bool {
    let Some(origin) = headers.get(http::header::ORIGIN).and_then(|v| v.to_str().ok()) else { return false };
    if origin == "null" {
        return true;
    }
    let origin_host = origin.split_once("://").map_or(origin, |(_, rest)| rest);
    let header =
        |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(|v| v.split(',').next().unwrap_or(v).trim());
    let ours = [header("host"), header("x-forwarded-host"), public_host];
    !ours.into_iter().flatten().any(|host| origin_host.eq_ignore_ascii_case(host))
}

async fn route(call: Call) -> Result<Response<Body>> {
    let first = call.segment(0).to_owned();
    let method = call.method.clone();
    let public_host = call.console.config.public_host.as_deref();
    if !matches!(method, Method::GET | Method::HEAD) && cross_site(call.request.headers(), public_host) {
        return Err(ConsoleError::Csrf);
    }
    match (method, first.as_str()) {
        (Method::GET | Method::HEAD, "static") => {
            crate::assets::serve(call.segment(1)).ok_or_else(|| ConsoleError::NotFound("no such file".into()))
        }
        (Method::GET, "login") => Ok(pages::auth::login_page(&call)),
        (Method::POST, "login") => pages::auth::login(call).await,
        (Method::POST, "logout") => pages::auth::logout(call).await,
        (Method::GET, "") => {
            let caller = call.caller()?;
            let home = if caller.menu().dashboard { "/dashboard" } else { "/buckets" };
            Ok(web::redirect(&call.link(home)))
        }
        (Method::GET, "dashboard") => pages::dashboard::page(call).await,
        (_, "buckets") => pages::buckets::route(call).await,
        (_, "browse" | "object" | "download" | "zip") => pages::objects::route(call).await,
        (_, "identity") => pages::identity::route(call).await,
        (_, "operations") => pages::operations::route(call).await,
        (_, "api") => crate::upload::route(call).await,
        _ => Err(ConsoleError::NotFound("no such page".into())),
    }
}

/// The answer to a failed request: the login page for a page request without a
/// session, JSON for scripts, a page with the message otherwise.
fn failure(console: &Console, error: &ConsoleError, api: bool, path: &str) -> Response<Body> {
    let status = error.status();
    if api {
        return web::json(status, &serde_json::json!({ "error": error.to_string() }));
    }
    if let ConsoleError::LoggedOut(message) = error {
        let base = &console.config.base_path;
        return web::redirect(&format!("{base}/login?next={}&error={}", web::encode(path), web::encode(message)));
    }
    let page = pages::Bare {
        title: status.canonical_reason().unwrap_or("Error"),
        message: error.to_string(),
        base: &console.config.base_path,
    };
    web::html(status, page.render().unwrap_or_else(|_| error.to_string()))
}

/// Pages that fail to render answer 500 with what went wrong.
pub(crate) fn render(template: &impl Template) -> Result<Response<Body>> {
    template
        .render()
        .map(|page| web::html(StatusCode::OK, page))
        .map_err(|e| ConsoleError::Backend(format!("the page could not be rendered: {e}")))
}

#[cfg(test)]
mod tests {
    use super::cross_site;
    use http::{HeaderMap, HeaderValue};

    fn headers(origin: Option<&'static str>, host: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(http::header::HOST, HeaderValue::from_static(host));
        if let Some(origin) = origin {
            headers.insert(http::header::ORIGIN, HeaderValue::from_static(origin));
        }
        headers
    }

    #[test]
    fn requests_from_other_sites_are_recognised() {
        let same = |origin, host| !cross_site(&headers(Some(origin), host), None);
        assert!(!cross_site(&headers(None, "console.example.com"), None), "no Origin: not a browser's cross-site call");
        assert!(same("https://console.example.com", "console.example.com"));
        assert!(same("http://127.0.0.1:9001", "127.0.0.1:9001"));
        assert!(!same("https://evil.example", "console.example.com"));
        assert!(!same("http://127.0.0.1:9002", "127.0.0.1:9001"));
        assert!(!same("null", "console.example.com"));
    }

    #[test]
    fn a_proxy_that_rewrites_the_host_keeps_the_console_usable() {
        // nginx's default `proxy_pass` sends the upstream's name as Host.
        let mut proxied = headers(Some("https://console.example.com"), "cairn-console:9001");
        assert!(cross_site(&proxied, None));
        assert!(!cross_site(&proxied, Some("console.example.com")), "the configured public host");
        proxied.insert("x-forwarded-host", HeaderValue::from_static("console.example.com"));
        assert!(!cross_site(&proxied, None), "the proxy's X-Forwarded-Host");
        assert!(cross_site(&headers(Some("https://evil.example"), "cairn-console:9001"), Some("console.example.com")));
    }
}
