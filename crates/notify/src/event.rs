//! Event names, the patterns rules name them by, and the message a webhook receives
//! (S3's event message, as MinIO sends it).

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Value, json};

/// What happened to an object. Only events Cairn emits are listed: a rule that names
/// any other is refused, so a configuration never waits for events that never come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventName {
    Put,
    Post,
    Copy,
    CompleteMultipartUpload,
    Delete,
    DeleteMarkerCreated,
    Get,
    Head,
}

/// Every event name, with its S3 name.
const NAMES: [(EventName, &str); 8] = [
    (EventName::Put, "s3:ObjectCreated:Put"),
    (EventName::Post, "s3:ObjectCreated:Post"),
    (EventName::Copy, "s3:ObjectCreated:Copy"),
    (EventName::CompleteMultipartUpload, "s3:ObjectCreated:CompleteMultipartUpload"),
    (EventName::Delete, "s3:ObjectRemoved:Delete"),
    (EventName::DeleteMarkerCreated, "s3:ObjectRemoved:DeleteMarkerCreated"),
    (EventName::Get, "s3:ObjectAccessed:Get"),
    (EventName::Head, "s3:ObjectAccessed:Head"),
];
/// The families a `*` pattern may name.
const FAMILIES: [&str; 3] = ["s3:ObjectCreated:", "s3:ObjectRemoved:", "s3:ObjectAccessed:"];
/// Event families S3 and MinIO know that Cairn does not emit: refused as not built.
const NOT_EMITTED: [&str; 7] = [
    "s3:ObjectRestore:",
    "s3:Replication:",
    "s3:LifecycleExpiration:",
    "s3:LifecycleTransition",
    "s3:ObjectTagging:",
    "s3:ObjectAcl:",
    "s3:IntelligentTiering",
];

impl EventName {
    /// The S3 name (`s3:ObjectCreated:Put`).
    pub fn as_str(self) -> &'static str {
        NAMES.iter().find(|(name, _)| *name == self).map(|(_, text)| *text).expect("every name is listed")
    }
}

/// Why a rule's event pattern was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    /// Not an S3 event name.
    #[error("{0:?} is not an S3 event name")]
    Unknown(String),
    /// An S3 event Cairn does not emit.
    #[error("{0:?} events are not emitted by Cairn")]
    NotEmitted(String),
}

/// Checks an event pattern of a rule: an event name, or a family with `*`.
pub fn check_pattern(pattern: &str) -> Result<(), PatternError> {
    if NAMES.iter().any(|(_, name)| *name == pattern) {
        return Ok(());
    }
    if let Some(family) = pattern.strip_suffix('*')
        && FAMILIES.contains(&family)
    {
        return Ok(());
    }
    let created_extra = ["PutRetention", "PutLegalHold", "PutTagging", "DeleteTagging"];
    let accessed_extra = ["GetRetention", "GetLegalHold", "Attributes"];
    let known_elsewhere = NOT_EMITTED.iter().any(|family| pattern.starts_with(family))
        || created_extra.iter().any(|e| pattern.strip_prefix("s3:ObjectCreated:") == Some(*e))
        || accessed_extra.iter().any(|e| pattern.strip_prefix("s3:ObjectAccessed:") == Some(*e))
        || pattern == "s3:TestEvent"
        || pattern == "s3:ReducedRedundancyLostObject";
    if known_elsewhere {
        Err(PatternError::NotEmitted(pattern.to_owned()))
    } else {
        Err(PatternError::Unknown(pattern.to_owned()))
    }
}

/// True when `pattern` (checked) covers `event`.
pub fn pattern_matches(pattern: &str, event: EventName) -> bool {
    let name = event.as_str();
    match pattern.strip_suffix('*') {
        Some(family) => name.starts_with(family),
        None => pattern == name,
    }
}

/// What a request did to an object, and who asked.
#[derive(Debug, Clone)]
pub struct ObjectEvent {
    pub name: EventName,
    pub bucket: String,
    pub key: String,
    /// Size of the object (0 for removals).
    pub size: u64,
    /// ETag without quotes (empty for removals).
    pub etag: String,
    pub content_type: Option<String>,
    pub version_id: Option<String>,
    /// The object's `x-amz-meta-*` headers, with their prefix.
    pub user_metadata: Vec<(String, String)>,
    /// The access key of the request (empty: anonymous).
    pub principal: String,
    pub source_ip: String,
    pub source_port: String,
    pub user_agent: String,
    pub request_id: String,
    pub region: String,
    /// Where the request arrived (this node's address).
    pub origin_endpoint: String,
    pub time: time::OffsetDateTime,
}

/// Characters escaped in a key, as MinIO's (Go's) query escaping: all but unreserved ones.
const KEY_ESCAPES: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

impl ObjectEvent {
    /// The message a webhook receives: S3's event record in MinIO's envelope
    /// (`EventName`, `Key`, `Records`). `rule_id` is the configuration that matched.
    pub fn message(&self, rule_id: &str) -> Value {
        let time = self.time.format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
        let key = utf8_percent_encode(&self.key, KEY_ESCAPES).to_string().replace("%2F", "/");
        let nanos = self.time.unix_timestamp_nanos();
        let metadata: serde_json::Map<String, Value> =
            self.user_metadata.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
        let mut object = json!({
            "key": key,
            "sequencer": format!("{nanos:X}"),
        });
        if !matches!(self.name, EventName::Delete | EventName::DeleteMarkerCreated) {
            object["size"] = json!(self.size);
            object["eTag"] = json!(self.etag);
            object["contentType"] = json!(self.content_type.clone().unwrap_or_default());
            object["userMetadata"] = Value::Object(metadata);
        }
        if let Some(version) = &self.version_id {
            object["versionId"] = json!(version);
        }
        json!({
            "EventName": self.name.as_str(),
            "Key": format!("{}/{}", self.bucket, self.key),
            "Records": [{
                "eventVersion": "2.0",
                "eventSource": "minio:s3",
                "awsRegion": self.region,
                "eventTime": time,
                "eventName": self.name.as_str(),
                "userIdentity": { "principalId": self.principal },
                "requestParameters": {
                    "principalId": self.principal,
                    "region": self.region,
                    "sourceIPAddress": self.source_ip,
                },
                "responseElements": {
                    "x-amz-request-id": self.request_id,
                    "x-minio-origin-endpoint": self.origin_endpoint,
                },
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": rule_id,
                    "bucket": {
                        "name": self.bucket,
                        "ownerIdentity": { "principalId": self.principal },
                        "arn": format!("arn:aws:s3:::{}", self.bucket),
                    },
                    "object": object,
                },
                "source": { "host": self.source_ip, "port": self.source_port, "userAgent": self.user_agent },
            }],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_are_checked_and_matched() {
        assert_eq!(check_pattern("s3:ObjectCreated:*"), Ok(()));
        assert_eq!(check_pattern("s3:ObjectRemoved:DeleteMarkerCreated"), Ok(()));
        assert!(matches!(check_pattern("s3:ObjectRestore:Post"), Err(PatternError::NotEmitted(_))));
        assert!(matches!(check_pattern("s3:ObjectCreated:PutTagging"), Err(PatternError::NotEmitted(_))));
        assert!(matches!(check_pattern("s3:Whatever"), Err(PatternError::Unknown(_))));
        assert!(matches!(check_pattern("s3:*"), Err(PatternError::Unknown(_))));
        assert!(pattern_matches("s3:ObjectCreated:*", EventName::CompleteMultipartUpload));
        assert!(!pattern_matches("s3:ObjectCreated:*", EventName::Delete));
        assert!(pattern_matches("s3:ObjectRemoved:Delete", EventName::Delete));
        assert!(!pattern_matches("s3:ObjectRemoved:Delete", EventName::DeleteMarkerCreated));
    }

    #[test]
    fn the_message_is_s3s_event_record() {
        let event = ObjectEvent {
            name: EventName::Put,
            bucket: "crm-quotes".into(),
            key: "q/2026 offer+1.pdf".into(),
            size: 42,
            etag: "abc".into(),
            content_type: Some("application/pdf".into()),
            version_id: None,
            user_metadata: vec![("x-amz-meta-customer".into(), "acme".into())],
            principal: "crm-app".into(),
            source_ip: "127.0.0.1".into(),
            source_port: "5000".into(),
            user_agent: "boto3".into(),
            request_id: "R1".into(),
            region: "us-east-1".into(),
            origin_endpoint: "http://127.0.0.1:9000".into(),
            time: time::OffsetDateTime::from_unix_timestamp(1_800_000_000).expect("valid"),
        };
        let message = event.message("quotes");
        assert_eq!(message["EventName"], "s3:ObjectCreated:Put");
        assert_eq!(message["Key"], "crm-quotes/q/2026 offer+1.pdf");
        let record = &message["Records"][0];
        assert_eq!(record["s3"]["object"]["key"], "q/2026%20offer%2B1.pdf");
        assert_eq!(record["s3"]["object"]["size"], 42);
        assert_eq!(record["s3"]["object"]["userMetadata"]["x-amz-meta-customer"], "acme");
        assert_eq!(record["s3"]["configurationId"], "quotes");
        assert_eq!(record["eventTime"], "2027-01-15T08:00:00Z");
        assert_eq!(record["userIdentity"]["principalId"], "crm-app");
    }
}
