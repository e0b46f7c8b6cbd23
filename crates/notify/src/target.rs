//! Webhook targets as the admin configuration names them (MinIO's `notify_webhook`
//! subsystem: `notify_webhook:<id> endpoint=... auth_token=... queue_dir=...
//! queue_limit=...`), and their ARNs (`arn:minio:sqs::<id>:webhook`).

use std::path::PathBuf;

/// Events a target's queue holds at most when none is configured (MinIO's default).
pub const QUEUE_LIMIT_DEFAULT: u64 = 100_000;
/// Largest queue limit accepted.
pub const QUEUE_LIMIT_MAX: u64 = 10_000_000;
/// The id of the target configured without one (`notify_webhook endpoint=...`), as MinIO.
pub const DEFAULT_TARGET_ID: &str = "_";
/// Longest target id.
const TARGET_ID_CHARS_MAX: usize = 64;
/// Longest endpoint URL.
const ENDPOINT_CHARS_MAX: usize = 2048;
/// The service and resource type of a webhook ARN, as MinIO writes them.
const ARN_PREFIX: &str = "arn:minio:sqs:";
const ARN_SUFFIX: &str = ":webhook";

/// One webhook target of this server.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookTarget {
    /// The id after `notify_webhook:` (`_` for the one without).
    pub id: String,
    /// Where events are POSTed: an `http://` or `https://` URL.
    pub endpoint: http::Uri,
    /// Sent as `Authorization: Bearer <token>` (as given when it has a space already).
    pub auth_token: Option<String>,
    /// Where the queue lives; None: the node's default folder for it.
    pub queue_dir: Option<PathBuf>,
    /// Most events waiting; beyond it new events for the target are dropped (and counted).
    pub queue_limit: u64,
}

impl std::fmt::Debug for WebhookTarget {
    // The token is a secret: never in logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookTarget")
            .field("id", &self.id)
            .field("endpoint", &self.endpoint)
            .field("auth_token", &self.auth_token.as_ref().map(|_| "<set>"))
            .field("queue_dir", &self.queue_dir)
            .field("queue_limit", &self.queue_limit)
            .finish()
    }
}

impl WebhookTarget {
    /// The target's ARN as Cairn reports it.
    pub fn arn(&self) -> String {
        arn_of(&self.id)
    }
}

/// The ARN of target `id`.
pub fn arn_of(id: &str) -> String {
    format!("{ARN_PREFIX}:{id}{ARN_SUFFIX}")
}

/// The target id an ARN names (`arn:minio:sqs:<region>:<id>:webhook`, any region), or
/// None when it is not a webhook ARN.
pub fn target_id_of(arn: &str) -> Option<&str> {
    let rest = arn.strip_prefix(ARN_PREFIX)?.strip_suffix(ARN_SUFFIX)?;
    let (_region, id) = rest.split_once(':')?;
    check_target_id(id).ok().map(|()| id)
}

/// Checks a target id: letters, digits, `_` and `-`.
pub fn check_target_id(id: &str) -> Result<(), String> {
    let valid = !id.is_empty()
        && id.len() <= TARGET_ID_CHARS_MAX
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if valid { Ok(()) } else { Err(format!("target id {id:?}: use letters, digits, _ and - (at most 64)")) }
}

/// Parses an endpoint: an absolute `http://` or `https://` URL.
pub fn parse_endpoint(value: &str) -> Result<http::Uri, String> {
    let bad = || format!("endpoint={value:?}: use an http:// or https:// URL");
    if value.len() > ENDPOINT_CHARS_MAX {
        return Err(bad());
    }
    let uri: http::Uri = value.parse().map_err(|_| bad())?;
    let scheme_ok = matches!(uri.scheme_str(), Some("http" | "https"));
    if !scheme_ok || uri.host().is_none_or(str::is_empty) {
        return Err(bad());
    }
    Ok(uri)
}

/// Parses a queue limit.
pub fn parse_queue_limit(value: &str) -> Result<u64, String> {
    value
        .parse::<u64>()
        .ok()
        .filter(|limit| (1..=QUEUE_LIMIT_MAX).contains(limit))
        .ok_or_else(|| format!("queue_limit={value:?}: a count of events from 1 to {QUEUE_LIMIT_MAX}"))
}

/// Parses a queue folder: an absolute path.
pub fn parse_queue_dir(value: &str) -> Result<PathBuf, String> {
    let path = PathBuf::from(value);
    if path.is_absolute() && !value.contains('\0') {
        Ok(path)
    } else {
        Err(format!("queue_dir={value:?}: use an absolute path"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_name_targets() {
        assert_eq!(arn_of("1"), "arn:minio:sqs::1:webhook");
        assert_eq!(target_id_of("arn:minio:sqs::1:webhook"), Some("1"));
        assert_eq!(target_id_of("arn:minio:sqs:us-east-1:crm-events:webhook"), Some("crm-events"));
        assert_eq!(target_id_of("arn:minio:sqs::_:webhook"), Some("_"));
        assert_eq!(target_id_of("arn:minio:sqs::1:kafka"), None);
        assert_eq!(target_id_of("arn:aws:sqs:us-east-1:123:queue"), None);
        assert_eq!(target_id_of("arn:minio:sqs::a/b:webhook"), None);
    }

    #[test]
    fn settings_are_checked() {
        assert!(parse_endpoint("http://127.0.0.1:8080/hook").is_ok());
        assert!(parse_endpoint("https://hooks.example.com/").is_ok());
        assert!(parse_endpoint("ftp://x/").is_err());
        assert!(parse_endpoint("/relative").is_err());
        assert!(parse_endpoint("http://").is_err());
        assert_eq!(parse_queue_limit("10"), Ok(10));
        assert!(parse_queue_limit("0").is_err());
        assert!(parse_queue_limit("lots").is_err());
        assert!(parse_queue_dir("relative/dir").is_err());
        assert!(parse_queue_dir("/var/lib/cairn/events").is_ok());
        assert!(check_target_id("crm_1-a").is_ok());
        assert!(check_target_id("a b").is_err());
    }

    #[test]
    fn the_token_is_never_printed() {
        let target = WebhookTarget {
            id: "1".into(),
            endpoint: parse_endpoint("http://127.0.0.1/").expect("valid"),
            auth_token: Some("s3cr3t-token".into()),
            queue_dir: None,
            queue_limit: QUEUE_LIMIT_DEFAULT,
        };
        assert!(!format!("{target:?}").contains("s3cr3t"));
    }
}
