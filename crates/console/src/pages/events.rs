//! A bucket's event notifications: its rules (which events of which keys go to which
//! webhook target), added and removed through S3's Get/PutBucketNotificationConfiguration
//! with the logged-in identity's keys, as `cairn event` does.

use crate::error::{ConsoleError, Result};
use crate::pages::with_message;
use crate::router::{Call, render};
use crate::templates::Chrome;
use crate::web::Body;
use askama::Template;
use aws_sdk_s3::types::{Event, NotificationConfiguration, QueueConfiguration};
use http::{Method, Response};

/// The event kinds the form offers (as `mc event`), the field of each, and its events.
const KINDS: [(&str, &str, &str); 3] = [
    ("event_put", "s3:ObjectCreated:*", "Created (put, copy, upload)"),
    ("event_delete", "s3:ObjectRemoved:*", "Removed (delete)"),
    ("event_get", "s3:ObjectAccessed:*", "Read (get, head)"),
];

pub(crate) struct RuleRow {
    arn: String,
    events: String,
    prefix: String,
    suffix: String,
}

pub(crate) struct Kind {
    field: &'static str,
    label: &'static str,
}

#[derive(Template)]
#[template(path = "events.html")]
struct EventsPage {
    title: String,
    section: &'static str,
    chrome: Chrome,
    bucket: String,
    rules: Vec<RuleRow>,
    kinds: Vec<Kind>,
    /// ARNs of the servers' webhook targets, when the identity may read the configuration.
    targets: Vec<String>,
}

pub(crate) async fn route(call: Call, bucket: String) -> Result<Response<Body>> {
    match call.method {
        Method::GET => page(call, bucket).await,
        Method::POST => change(call, bucket).await,
        _ => Err(ConsoleError::NotFound("no such page".into())),
    }
}

async fn rules_of(s3: &aws_sdk_s3::Client, bucket: &str) -> Result<Vec<QueueConfiguration>> {
    let answer = s3
        .get_bucket_notification_configuration()
        .bucket(bucket)
        .send()
        .await
        .map_err(|e| ConsoleError::from(cairn_cli::s3_error(bucket, e)))?;
    Ok(answer.queue_configurations.unwrap_or_default())
}

async fn page(call: Call, bucket: String) -> Result<Response<Body>> {
    let caller = call.caller()?;
    let rules = rules_of(&caller.s3(), &bucket).await?;
    let rows = rules
        .iter()
        .map(|queue| {
            let (prefix, suffix) = cairn_cli::event::filters_of(queue);
            let events: Vec<&str> = queue.events().iter().map(Event::as_str).collect();
            RuleRow { arn: queue.queue_arn().to_owned(), events: events.join(", "), prefix, suffix }
        })
        .collect();
    let targets = match caller.admin() {
        Ok(admin) => admin
            .call_sealed(Method::GET, "get-config-kv", &[("key", "notify_webhook")], Vec::new())
            .await
            .map(|plain| target_arns(&String::from_utf8_lossy(&plain)))
            .unwrap_or_default(),
        Err(_) => Vec::new(),
    };
    let page = EventsPage {
        title: format!("Events of {bucket}"),
        section: "buckets",
        chrome: Chrome::new(&call.console, &caller, &call.query),
        bucket,
        rules: rows,
        kinds: KINDS.iter().map(|(field, _, label)| Kind { field, label }).collect(),
        targets,
    };
    render(&page)
}

/// The ARNs of the targets in `notify_webhook` configuration lines.
fn target_arns(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|line| line.split(' ').next())
        .filter_map(|subsystem| subsystem.strip_prefix("notify_webhook"))
        .map(|id| format!("arn:minio:sqs::{}:webhook", id.strip_prefix(':').unwrap_or("_")))
        .collect()
}

async fn change(call: Call, bucket: String) -> Result<Response<Body>> {
    let back = call.link(&format!("/buckets/{}/events", crate::web::encode(&bucket)));
    let (caller, fields, _) = call.form().await?;
    let s3 = caller.s3();
    let field = |name: &str| fields.get(name).map(|v| v.trim().to_owned()).unwrap_or_default();
    let mut rules = rules_of(&s3, &bucket).await?;
    let notice = match field("action").as_str() {
        "add" => {
            let events: Vec<Event> = KINDS
                .iter()
                .filter(|(name, _, _)| !field(name).is_empty())
                .map(|(_, event, _)| Event::from(*event))
                .collect();
            if events.is_empty() {
                return Ok(crate::web::redirect(&with_message(&back, "error", "Choose at least one kind of event.")));
            }
            let rule = cairn_cli::event::queue_rule(&field("arn"), events, &field("prefix"), &field("suffix"))
                .map_err(|e| ConsoleError::BadRequest(e.to_string()))?;
            rules.push(rule);
            "Rule added."
        }
        "remove" => {
            let index: usize = field("index").parse().map_err(|_| ConsoleError::BadRequest("no rule named".into()))?;
            if index >= rules.len() {
                return Err(ConsoleError::BadRequest("no such rule (changed meanwhile?)".into()));
            }
            rules.remove(index);
            "Rule removed."
        }
        _ => return Err(ConsoleError::BadRequest("add or remove a rule".into())),
    };
    let configuration = NotificationConfiguration::builder().set_queue_configurations(Some(rules)).build();
    let result = s3
        .put_bucket_notification_configuration()
        .bucket(&bucket)
        .notification_configuration(configuration)
        .send()
        .await
        .map_err(|e| ConsoleError::from(cairn_cli::s3_error(&bucket, e)).to_string());
    Ok(crate::web::redirect(&match result {
        Ok(_) => with_message(&back, "notice", notice),
        Err(message) => with_message(&back, "error", &message),
    }))
}

#[cfg(test)]
mod tests {
    #[test]
    fn target_arns_follow_minio() {
        let text = "notify_webhook:1 enable=on endpoint=http://x/\nnotify_webhook endpoint=http://y/\n";
        assert_eq!(super::target_arns(text), ["arn:minio:sqs::1:webhook", "arn:minio:sqs::_:webhook"]);
    }
}
