//! Logging in and out.

use crate::error::{ConsoleError, Result};
use crate::router::{Call, render};
use crate::session::COOKIE_NAME;
use crate::web::{self, Body};
use askama::Template;
use http::{HeaderValue, Response, StatusCode, header};
use std::sync::atomic::Ordering;
use std::time::Instant;

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    base: &'a str,
    asset_version: &'static str,
    error: Option<String>,
    access_key: String,
    /// `?next=...` carried from the page that sent the browser here.
    next_query: String,
}

/// The login form (or, with a session open already, the console itself).
pub(crate) fn login_page(call: &Call) -> Response<Body> {
    if call.caller().is_ok() {
        return web::redirect(&call.link("/"));
    }
    let page = LoginPage {
        base: &call.console.config.base_path,
        asset_version: crate::assets::version(),
        error: Some(call.param("error")).filter(|e| !e.is_empty()),
        access_key: String::new(),
        next_query: next_query(&call.param("next")),
    };
    render(&page).unwrap_or_else(|e| web::html(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
}

/// Checks the keys, opens a session and goes where the person was headed.
pub(crate) async fn login(call: Call) -> Result<Response<Body>> {
    let console = std::sync::Arc::clone(&call.console);
    let source = call.peer.ip();
    let next = call.param("next");
    let body = web::read_small(call.request.into_body()).await?;
    let fields = web::pairs(&body);
    let access_key = fields.get("accessKey").cloned().unwrap_or_default();
    let secret_key = fields.get("secretKey").cloned().unwrap_or_default();
    let refuse = |status: StatusCode, message: String| {
        cairn_s3::CONSOLE_LOGINS.failed.fetch_add(1, Ordering::Relaxed);
        let page = LoginPage {
            base: &console.config.base_path,
            asset_version: crate::assets::version(),
            error: Some(message),
            access_key: access_key.clone(),
            next_query: next_query(&next),
        };
        let mut answer = render(&page)?;
        *answer.status_mut() = status;
        Ok(answer)
    };
    if !console.limiter.try_attempt(source, Instant::now()) {
        tracing::warn!(%source, access_key, "console login refused: too many attempts from this address");
        return refuse(StatusCode::TOO_MANY_REQUESTS, ConsoleError::RateLimited.to_string());
    }
    let ready = console.ready()?;
    let keys = &console.config.keys;
    let known = ready.iam.secret_for(&access_key).ok().filter(|(secret, _)| keys.secrets_match(&secret_key, secret));
    let Some((secret, _)) = known else {
        // One message for every cause: it must not tell which access keys exist.
        tracing::warn!(%source, access_key, "console login failed");
        return refuse(
            StatusCode::UNAUTHORIZED,
            "The access key or secret key is wrong, or the account is disabled.".into(),
        );
    };
    console.limiter.succeeded(source);
    cairn_s3::CONSOLE_LOGINS.succeeded.fetch_add(1, Ordering::Relaxed);
    tracing::info!(%source, access_key, "console login");
    let session = keys.issue(&access_key, &secret, console.config.session_ttl);
    // Only a path within the console: never send a person elsewhere after logging in.
    let target =
        if next.starts_with('/') && !next.starts_with("//") && !next.contains('\\') && !next.ends_with("/logout") {
            next
        } else {
            call_link(&console.config.base_path, "/")
        };
    let mut answer = web::redirect(&target);
    let cookie = cookie_line(&console.config, &keys.seal(&session), console.config.session_ttl.as_secs());
    answer.headers_mut().insert(header::SET_COOKIE, cookie);
    Ok(answer)
}

/// The login form's query: where to go after logging in, if anywhere.
fn next_query(next: &str) -> String {
    if next.is_empty() { String::new() } else { format!("?next={}", web::encode(next)) }
}

fn call_link(base: &str, path: &str) -> String {
    format!("{base}{path}")
}

/// The Set-Cookie line of a session: HttpOnly, SameSite=Strict, Secure over TLS,
/// scoped to the console's path.
fn cookie_line(config: &crate::ConsoleConfig, value: &str, max_age: u64) -> HeaderValue {
    let path = if config.base_path.is_empty() { "/" } else { config.base_path.as_str() };
    let secure = if config.secure_cookies { "; Secure" } else { "" };
    let line = format!("{COOKIE_NAME}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}");
    HeaderValue::from_str(&line).expect("session cookies are base64url and ASCII paths")
}

/// Ends the session in this browser.
pub(crate) async fn logout(call: Call) -> Result<Response<Body>> {
    let console = std::sync::Arc::clone(&call.console);
    let (caller, _, _) = call.form().await?;
    tracing::info!(access_key = caller.name(), "console logout");
    let mut answer = web::redirect(&format!("{}/login", console.config.base_path));
    answer.headers_mut().insert(header::SET_COOKIE, cookie_line(&console.config, "", 0));
    Ok(answer)
}
