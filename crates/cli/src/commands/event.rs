//! `cairn event add|ls|rm ALIAS/BUCKET [ARN]`: a bucket's notification rules, as
//! `mc event` manages them (S3's Put/GetBucketNotificationConfiguration, queue
//! configurations naming webhook targets such as `arn:minio:sqs::1:webhook`).

use crate::Context;
use crate::commands::bucket_target;
use crate::error::{CliError, Result};
use crate::s3;
use crate::target::Remote;
use aws_sdk_s3::types::{
    Event, FilterRule, FilterRuleName, NotificationConfiguration, NotificationConfigurationFilter, QueueConfiguration,
    S3KeyFilter,
};
use serde_json::json;

/// The event kinds `--event` takes, as `mc event`, and the S3 events each stands for.
const KINDS: [(&str, &str); 3] =
    [("put", "s3:ObjectCreated:*"), ("delete", "s3:ObjectRemoved:*"), ("get", "s3:ObjectAccessed:*")];
/// What `--event` is when not given (mc's default).
const KINDS_DEFAULT: &str = "put,delete,get";

/// Subcommands of `cairn event`.
#[derive(Debug, clap::Subcommand)]
pub enum EventCommand {
    /// Send a bucket's events to a webhook target.
    Add {
        /// ALIAS/BUCKET.
        target: String,
        /// The target's ARN, e.g. arn:minio:sqs::1:webhook (`notify_webhook:1`).
        arn: String,
        /// Events: put, delete, get (comma-separated), or S3 event names.
        #[arg(long, default_value = KINDS_DEFAULT)]
        event: String,
        /// Only keys starting with this.
        #[arg(long, default_value = "")]
        prefix: String,
        /// Only keys ending with this.
        #[arg(long, default_value = "")]
        suffix: String,
    },
    /// List a bucket's notification rules (those of one ARN if given).
    Ls {
        /// ALIAS/BUCKET.
        target: String,
        /// Only rules sending to this ARN.
        arn: Option<String>,
    },
    /// Remove a bucket's rules for an ARN (or, with --force, every rule).
    Rm {
        /// ALIAS/BUCKET.
        target: String,
        /// The ARN whose rules go.
        arn: Option<String>,
        /// Remove every rule of the bucket.
        #[arg(long)]
        force: bool,
    },
}

/// The S3 event names `--event` stands for.
pub(crate) fn events_of(text: &str) -> Result<Vec<String>> {
    let mut events = Vec::new();
    for item in text.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let event = match KINDS.iter().find(|(kind, _)| kind.eq_ignore_ascii_case(item)) {
            Some((_, event)) => (*event).to_owned(),
            None if item.starts_with("s3:") => item.to_owned(),
            None => return Err(CliError::Usage(format!("--event {item}: use put, delete, get or an S3 event name"))),
        };
        if !events.contains(&event) {
            events.push(event);
        }
    }
    if events.is_empty() {
        return Err(CliError::Usage("--event: name at least one event".into()));
    }
    Ok(events)
}

async fn current(context: &Context, remote: &Remote, target: &str) -> Result<Vec<QueueConfiguration>> {
    rules(&context.client(remote), remote.bucket()?, target).await
}

/// A bucket's notification rules.
pub(crate) async fn rules(s3: &aws_sdk_s3::Client, bucket: &str, target: &str) -> Result<Vec<QueueConfiguration>> {
    let answer =
        s3.get_bucket_notification_configuration().bucket(bucket).send().await.map_err(|e| s3::error(target, e))?;
    Ok(answer.queue_configurations.unwrap_or_default())
}

/// Replaces a bucket's notification rules.
pub(crate) async fn put_rules(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    target: &str,
    queues: Vec<QueueConfiguration>,
) -> Result<()> {
    let configuration = NotificationConfiguration::builder().set_queue_configurations(Some(queues)).build();
    let put = s3.put_bucket_notification_configuration().bucket(bucket).notification_configuration(configuration);
    put.send().await.map_err(|e| s3::error(target, e))?;
    Ok(())
}

/// A stored rule as `key()` of a bootstrap rule: ARN, events (sorted), prefix, suffix.
pub(crate) fn rule_key(queue: &QueueConfiguration) -> (String, Vec<String>, String, String) {
    let (prefix, suffix) = filters_of(queue);
    let mut events: Vec<String> = queue.events().iter().map(|e| e.as_str().to_owned()).collect();
    events.sort();
    (queue.queue_arn().to_owned(), events, prefix, suffix)
}

async fn replace(context: &Context, remote: &Remote, target: &str, queues: Vec<QueueConfiguration>) -> Result<()> {
    put_rules(&context.client(remote), remote.bucket()?, target, queues).await
}

/// A rule's prefix and suffix filters (the rule names may come in either case).
pub fn filters_of(queue: &QueueConfiguration) -> (String, String) {
    let rules = queue.filter.as_ref().and_then(|f| f.key.as_ref()).map(|k| k.filter_rules()).unwrap_or_default();
    let value = |name: &FilterRuleName| {
        rules
            .iter()
            .find(|r| r.name.as_ref().is_some_and(|n| n.as_str().eq_ignore_ascii_case(name.as_str())))
            .and_then(|r| r.value.clone())
            .unwrap_or_default()
    };
    (value(&FilterRuleName::Prefix), value(&FilterRuleName::Suffix))
}

/// A queue configuration sending `events` of keys with `prefix` and `suffix` (empty:
/// any) to `arn`.
pub fn queue_rule(arn: &str, events: Vec<Event>, prefix: &str, suffix: &str) -> Result<QueueConfiguration> {
    let mut filter_rules = Vec::new();
    for (name, value) in [(FilterRuleName::Prefix, prefix), (FilterRuleName::Suffix, suffix)] {
        if !value.is_empty() {
            filter_rules.push(FilterRule::builder().name(name).value(value).build());
        }
    }
    let mut rule = QueueConfiguration::builder().queue_arn(arn).set_events(Some(events));
    if !filter_rules.is_empty() {
        let key = S3KeyFilter::builder().set_filter_rules(Some(filter_rules)).build();
        rule = rule.filter(NotificationConfigurationFilter::builder().key(key).build());
    }
    rule.build().map_err(|e| CliError::Usage(format!("an incomplete notification rule: {e}")))
}

fn rule_json(queue: &QueueConfiguration) -> serde_json::Value {
    let (prefix, suffix) = filters_of(queue);
    let events: Vec<&str> = queue.events().iter().map(Event::as_str).collect();
    json!({ "id": queue.id, "arn": queue.queue_arn(), "events": events, "prefix": prefix, "suffix": suffix })
}

pub(crate) async fn run(context: &Context, command: EventCommand) -> Result<()> {
    let out = &context.out;
    match command {
        EventCommand::Add { target, arn, event, prefix, suffix } => {
            let remote = bucket_target(context, &target, "event")?;
            let events = events_of(&event)?;
            let queue = queue_rule(&arn, events.iter().map(|e| Event::from(e.as_str())).collect(), &prefix, &suffix)?;
            let mut queues = current(context, &remote, &target).await?;
            queues.push(queue);
            replace(context, &remote, &target, queues).await?;
            out.result(
                json!({ "bucket": target, "arn": arn, "events": events, "prefix": prefix, "suffix": suffix }),
                || format!("{target}: {} events now go to {arn}.", events.join(", ")),
            );
        }
        EventCommand::Ls { target, arn } => {
            let remote = bucket_target(context, &target, "event")?;
            let queues: Vec<QueueConfiguration> = current(context, &remote, &target)
                .await?
                .into_iter()
                .filter(|q| arn.as_deref().is_none_or(|arn| q.queue_arn() == arn))
                .collect();
            let rules: Vec<serde_json::Value> = queues.iter().map(rule_json).collect();
            out.result(json!({ "bucket": target, "rules": rules }), || {
                if queues.is_empty() {
                    return format!("{target} sends no events.");
                }
                let lines: Vec<String> = queues
                    .iter()
                    .map(|queue| {
                        let (prefix, suffix) = filters_of(queue);
                        let events: Vec<&str> = queue.events().iter().map(Event::as_str).collect();
                        let mut line = format!("{}   {}", queue.queue_arn(), events.join(","));
                        if !prefix.is_empty() {
                            line.push_str(&format!("   Filter: prefix=\"{prefix}\""));
                        }
                        if !suffix.is_empty() {
                            line.push_str(&format!("   Filter: suffix=\"{suffix}\""));
                        }
                        line
                    })
                    .collect();
                lines.join("\n")
            });
        }
        EventCommand::Rm { target, arn, force } => {
            let remote = bucket_target(context, &target, "event")?;
            let queues = current(context, &remote, &target).await?;
            let before = queues.len();
            let kept: Vec<QueueConfiguration> = match (&arn, force) {
                (_, true) => Vec::new(),
                (Some(arn), false) => queues.into_iter().filter(|q| q.queue_arn() != arn).collect(),
                (None, false) => {
                    return Err(CliError::Usage("event rm: give the ARN to remove, or --force to remove all".into()));
                }
            };
            let removed = before - kept.len();
            replace(context, &remote, &target, kept).await?;
            out.result(json!({ "bucket": target, "arn": arn, "removed": removed }), || {
                format!("{target}: removed {removed} notification rule(s).")
            });
        }
    }
    Ok(())
}
