//! The web console's settings, from the environment (MinIO's names accepted).

use cairn_console::ConsoleConfig;
use cairn_console::session::{SESSION_TTL_DEFAULT, SessionKeys};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

fn env_first(names: &[&str]) -> Option<String> {
    names.iter().find_map(|name| std::env::var(name).ok()).filter(|v| !v.is_empty())
}

/// The console's configuration for a node whose S3 API listens on `api` (TLS when `https`).
///
/// - `CAIRN_SERVER_URL` (`MINIO_SERVER_URL`): the S3 API's public URL, for share links.
/// - `CAIRN_BROWSER_REDIRECT_URL` (`MINIO_BROWSER_REDIRECT_URL`): the console's public
///   URL; its path is the prefix a reverse proxy serves the console under, and an
///   `https` URL marks cookies Secure.
/// - `CAIRN_BROWSER_SESSION_DURATION` (`MINIO_BROWSER_SESSION_DURATION`): session
///   lifetime such as `12h`, `30m` or `900s` (default 12 h).
pub fn config(
    root: &(String, String),
    api: SocketAddr,
    https: bool,
    tls: Option<Arc<rustls::ServerConfig>>,
) -> Result<ConsoleConfig, String> {
    // The console calls its own node: over loopback when the API listens everywhere.
    let host = match api.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    let scheme = if https { "https" } else { "http" };
    let api_url = format!("{scheme}://{}", SocketAddr::new(host, api.port()));
    let redirect = env_first(&["CAIRN_BROWSER_REDIRECT_URL", "MINIO_BROWSER_REDIRECT_URL"]);
    let base_path = match &redirect {
        Some(url) => base_path_of(url)?,
        None => String::new(),
    };
    let session_ttl = match env_first(&["CAIRN_BROWSER_SESSION_DURATION", "MINIO_BROWSER_SESSION_DURATION"]) {
        Some(text) => parse_duration(&text).ok_or_else(|| {
            format!("CAIRN_BROWSER_SESSION_DURATION={text:?}: give a duration such as 12h, 30m or 900s")
        })?,
        None => SESSION_TTL_DEFAULT,
    };
    Ok(ConsoleConfig {
        api_url,
        public_api_url: env_first(&["CAIRN_SERVER_URL", "MINIO_SERVER_URL"]),
        api_port: api.port(),
        public_host: redirect.as_deref().and_then(host_of),
        base_path,
        session_ttl,
        secure_cookies: https || redirect.as_deref().is_some_and(|url| url.starts_with("https://")),
        tls,
        keys: SessionKeys::from_root(&root.0, &root.1),
    })
}

/// The origin (`scheme://host[:port]`) of the console's public URL, if one is set.
pub(crate) fn public_origin() -> Option<String> {
    let url = env_first(&["CAIRN_BROWSER_REDIRECT_URL", "MINIO_BROWSER_REDIRECT_URL"])?;
    let scheme = url.split_once("://")?.0.to_ascii_lowercase();
    Some(format!("{scheme}://{}", host_of(&url)?))
}

/// The path of the console's public URL, without a trailing slash ("" for the root).
fn base_path_of(url: &str) -> Result<String, String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| format!("CAIRN_BROWSER_REDIRECT_URL={url:?}: give an http:// or https:// URL"))?;
    let path = rest.find('/').map_or("", |i| &rest[i..]).trim_end_matches('/');
    if path.contains(['?', '#', '"', '<', '>', ' ']) {
        return Err(format!("CAIRN_BROWSER_REDIRECT_URL={url:?}: the path must be a plain path such as /console"));
    }
    Ok(path.to_owned())
}

/// The `host[:port]` of an http(s) URL.
fn host_of(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let host = rest.split(['/', '?', '#']).next()?;
    (!host.is_empty()).then(|| host.to_owned())
}

/// `12h`, `30m`, `900s` or a number of seconds; at least one second (tests use short sessions).
fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let (number, unit) = match text.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => text.split_at(i),
        None => (text, "s"),
    };
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        _ => return None,
    };
    let secs = number.parse::<u64>().ok()?.checked_mul(scale)?;
    (secs >= 1).then(|| Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_paths_parse() {
        assert_eq!(parse_duration("12h"), Some(Duration::from_secs(43_200)));
        assert_eq!(parse_duration("30m"), Some(Duration::from_secs(1_800)));
        assert_eq!(parse_duration("900"), Some(Duration::from_secs(900)));
        assert_eq!(parse_duration("0s"), None, "no time at all");
        assert_eq!(parse_duration("1d"), None);
        assert_eq!(base_path_of("https://console.example.com").as_deref(), Ok(""));
        assert_eq!(base_path_of("https://example.com/console/").as_deref(), Ok("/console"));
        assert!(base_path_of("example.com/console").is_err());
        assert_eq!(host_of("https://console.example.com/x").as_deref(), Some("console.example.com"));
        assert_eq!(host_of("http://10.0.0.1:9001").as_deref(), Some("10.0.0.1:9001"));
    }
}
