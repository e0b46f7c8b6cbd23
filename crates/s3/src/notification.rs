//! Bucket notifications: Put/GetBucketNotificationConfiguration (queue configurations
//! naming webhook targets, `arn:minio:sqs::<id>:webhook`, as MinIO), and the events
//! successful requests emit to the targets a bucket's rules name (`cairn-notify`).

use crate::CairnS3;
use crate::access::PeerAddr;
use crate::error::{not_implemented, s3_error, to_s3};
use cairn_meta::{Notification, NotificationRule};
use cairn_notify::{EventName, Notifier, ObjectEvent, PatternError};
use cairn_object::ObjectInfo;
use s3s::dto::*;
use s3s::{S3ErrorCode, S3Request, S3Response, S3Result};

/// Most queue configurations a bucket may have.
const RULES_MAX: usize = 100;
/// Longest prefix or suffix of a filter, as S3.
const FILTER_VALUE_CHARS_MAX: usize = 1024;
/// Longest configuration id.
const RULE_ID_CHARS_MAX: usize = 255;
/// MinIO's answer to an ARN that names no configured target.
const UNKNOWN_ARN: &str =
    "A specified destination ARN does not exist or is not well-formed. Verify the destination ARN.";

/// The id the server gave a request (set by the HTTP layer; events carry it).
#[derive(Debug, Clone)]
pub(crate) struct RequestId(pub String);

/// Marks the PutObject a browser form upload stands for: its event is `Post`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FormUpload;

/// Who caused an event, taken from the request before its input is consumed.
#[derive(Debug, Clone, Default)]
pub(crate) struct EventSource {
    principal: String,
    peer: Option<std::net::SocketAddr>,
    user_agent: String,
    request_id: String,
    host: String,
}

impl EventSource {
    pub(crate) fn of<T>(req: &S3Request<T>) -> Self {
        let header = |name: &str| req.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        Self {
            principal: req.credentials.as_ref().map(|c| c.access_key.clone()).unwrap_or_default(),
            peer: req.extensions.get::<PeerAddr>().map(|p| p.0),
            user_agent: header("user-agent"),
            request_id: req.extensions.get::<RequestId>().map(|r| r.0.clone()).unwrap_or_default(),
            host: header("host"),
        }
    }
}

/// What the PutObject a form stands for carries for its event: the caller's address,
/// the request id, and that it is a form upload (`s3:ObjectCreated:Post`).
pub(crate) fn form_extensions(peer: Option<std::net::SocketAddr>, request_id: Option<RequestId>) -> http::Extensions {
    let mut extensions = http::Extensions::new();
    extensions.insert(crate::notification::FormUpload);
    if let Some(peer) = peer {
        extensions.insert(PeerAddr(peer));
    }
    if let Some(id) = request_id {
        extensions.insert(id);
    }
    extensions
}

fn invalid(message: impl Into<String>) -> s3s::S3Error {
    s3_error(S3ErrorCode::InvalidArgument, message)
}

/// One queue configuration, checked, as the bucket record keeps it.
fn rule_of(config: QueueConfiguration, notifier: &Notifier) -> S3Result<NotificationRule> {
    let Some(target) = cairn_notify::target_id_of(&config.queue_arn) else { return Err(invalid(UNKNOWN_ARN)) };
    if !notifier.has_target(target) {
        return Err(invalid(UNKNOWN_ARN));
    }
    if config.events.is_empty() {
        return Err(invalid("A notification configuration must name at least one event"));
    }
    let mut events = Vec::with_capacity(config.events.len());
    for event in config.events {
        let event: String = event.into();
        match cairn_notify::check_pattern(&event) {
            Ok(()) => events.push(event),
            Err(PatternError::NotEmitted(_)) => {
                return Err(not_implemented(&format!("Notifications of {event} events")));
            }
            Err(error @ PatternError::Unknown(_)) => {
                return Err(invalid(format!("The event is not supported: {error}")));
            }
        }
    }
    let (mut prefix, mut suffix) = (None, None);
    let rules = config.filter.and_then(|f| f.key).and_then(|k| k.filter_rules).unwrap_or_default();
    for rule in rules {
        let name = rule.name.as_ref().map(|n| n.as_str().to_ascii_lowercase()).unwrap_or_default();
        let value = rule.value.unwrap_or_default();
        if value.len() > FILTER_VALUE_CHARS_MAX {
            return Err(invalid(format!("A filter value is longer than {FILTER_VALUE_CHARS_MAX} characters")));
        }
        let slot = match name.as_str() {
            FilterRuleName::PREFIX => &mut prefix,
            FilterRuleName::SUFFIX => &mut suffix,
            _ => return Err(invalid("filter rule name must be either prefix or suffix")),
        };
        if slot.replace(value).is_some() {
            return Err(invalid(format!("Cannot specify more than one {name} rule in a filter.")));
        }
    }
    let id = config.id.filter(|id| !id.is_empty()).unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    if id.len() > RULE_ID_CHARS_MAX {
        return Err(invalid(format!("A configuration id is longer than {RULE_ID_CHARS_MAX} characters")));
    }
    Ok(NotificationRule {
        id,
        arn: config.queue_arn,
        events,
        prefix: prefix.unwrap_or_default(),
        suffix: suffix.unwrap_or_default(),
    })
}

/// A stored rule as S3 shows it.
fn queue_configuration(rule: &NotificationRule) -> QueueConfiguration {
    let filter = |name: &'static str, value: &str| {
        (!value.is_empty())
            .then(|| FilterRule { name: Some(FilterRuleName::from_static(name)), value: Some(value.to_owned()) })
    };
    let rules: Vec<FilterRule> =
        [filter(FilterRuleName::PREFIX, &rule.prefix), filter(FilterRuleName::SUFFIX, &rule.suffix)]
            .into_iter()
            .flatten()
            .collect();
    QueueConfiguration {
        events: rule.events.iter().cloned().map(Event::from).collect(),
        filter: (!rules.is_empty())
            .then_some(NotificationConfigurationFilter { key: Some(S3KeyFilter { filter_rules: Some(rules) }) }),
        id: Some(rule.id.clone()),
        queue_arn: rule.arn.clone(),
    }
}

impl CairnS3 {
    pub(crate) async fn do_put_bucket_notification_configuration(
        &self,
        req: S3Request<PutBucketNotificationConfigurationInput>,
    ) -> S3Result<S3Response<PutBucketNotificationConfigurationOutput>> {
        let input = req.input;
        let config = input.notification_configuration;
        if config.topic_configurations.is_some_and(|t| !t.is_empty()) {
            return Err(not_implemented("SNS topic notifications (use a queue configuration with a webhook ARN)"));
        }
        if config.lambda_function_configurations.is_some_and(|l| !l.is_empty()) {
            return Err(not_implemented("Lambda notifications (use a queue configuration with a webhook ARN)"));
        }
        if config.event_bridge_configuration.is_some() {
            return Err(not_implemented("EventBridge notifications"));
        }
        let queues = config.queue_configurations.unwrap_or_default();
        if queues.len() > RULES_MAX {
            return Err(invalid(format!("A bucket may have at most {RULES_MAX} notification configurations")));
        }
        let notifier = self.settings.notifier();
        let rules = queues.into_iter().map(|q| rule_of(q, notifier)).collect::<S3Result<Vec<_>>>()?;
        let notification = (!rules.is_empty()).then_some(Notification { rules });
        self.store
            .update_bucket_record(&input.bucket, move |record| {
                record.notification = notification;
                Ok(())
            })
            .await
            .map_err(to_s3)?;
        Ok(S3Response::new(PutBucketNotificationConfigurationOutput {}))
    }

    pub(crate) async fn do_get_bucket_notification_configuration(
        &self,
        req: S3Request<GetBucketNotificationConfigurationInput>,
    ) -> S3Result<S3Response<GetBucketNotificationConfigurationOutput>> {
        let record = self.store.bucket_record(&req.input.bucket).await.map_err(to_s3)?;
        let queues: Vec<QueueConfiguration> =
            record.notification.iter().flat_map(|n| n.rules.iter()).map(queue_configuration).collect();
        Ok(S3Response::new(GetBucketNotificationConfigurationOutput {
            queue_configurations: (!queues.is_empty()).then_some(queues),
            ..Default::default()
        }))
    }

    /// Queues the event `name` of `info`'s object for the targets its bucket's rules
    /// name (nothing when none wants it). Durable before it returns.
    pub(crate) async fn notify(&self, name: EventName, info: &ObjectInfo, source: &EventSource) {
        let Ok(record) = self.store.bucket_config(&info.bucket).await else { return };
        let Some(rules) = record.notification.as_ref().filter(|rules| Notifier::wants(rules, name)) else { return };
        let user_metadata = info
            .headers
            .iter()
            .filter(|(name, _)| name.starts_with("x-amz-meta-"))
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect();
        let event = ObjectEvent {
            name,
            bucket: info.bucket.clone(),
            key: info.key.clone(),
            size: info.size,
            etag: info.etag.clone(),
            content_type: info.headers.get("content-type").cloned(),
            version_id: info.version_id.map(|v| v.to_string()),
            user_metadata,
            principal: source.principal.clone(),
            source_ip: source.peer.map(|p| p.ip().to_string()).unwrap_or_default(),
            source_port: source.peer.map(|p| p.port().to_string()).unwrap_or_default(),
            user_agent: source.user_agent.clone(),
            request_id: source.request_id.clone(),
            region: self.settings.region(),
            origin_endpoint: format!("http://{}", source.host),
            time: time::OffsetDateTime::now_utc(),
        };
        self.settings.notifier().emit(rules, &event).await;
    }

    /// The event of a removal: the key, and the version or delete marker it made or removed.
    pub(crate) async fn notify_removal(
        &self,
        (bucket, key): (&str, &str),
        version_id: Option<String>,
        marker_created: bool,
        source: &EventSource,
    ) {
        let info = ObjectInfo {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            version_id: version_id.and_then(|v| uuid::Uuid::parse_str(&v).ok()),
            delete_marker: marker_created,
            size: 0,
            etag: String::new(),
            mod_time_unix_nanos: 0,
            headers: Default::default(),
            checksums: Default::default(),
            part_sizes: Vec::new(),
            compressed_size: None,
        };
        let name = if marker_created { EventName::DeleteMarkerCreated } else { EventName::Delete };
        self.notify(name, &info, source).await;
    }
}
