//! `cairn ilm rule add|ls|rm`: a bucket's lifecycle rules (expiry of objects, of
//! noncurrent versions and delete markers, abort of incomplete uploads). The rules are
//! read, changed and written back whole, as S3 has one configuration per bucket.
//! [`RuleSpec`] is also what the bootstrap file's `lifecycle` lists hold.

use crate::Context;
use crate::error::{CliError, Result};
use crate::s3;
use crate::target::Remote;
use aws_sdk_s3::Client;
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::types::{
    AbortIncompleteMultipartUpload, BucketLifecycleConfiguration, ExpirationStatus, LifecycleExpiration, LifecycleRule,
    LifecycleRuleAndOperator, LifecycleRuleFilter, NoncurrentVersionExpiration, Tag,
};
use serde::Deserialize;
use serde_json::json;

/// Subcommands of `cairn ilm`.
#[derive(Debug, clap::Subcommand)]
pub enum IlmCommand {
    /// Lifecycle rules of a bucket.
    #[command(subcommand)]
    Rule(RuleCommand),
}

/// Subcommands of `cairn ilm rule`.
#[derive(Debug, clap::Subcommand)]
pub enum RuleCommand {
    /// Add a rule (or replace the rule with the same --id).
    Add {
        /// ALIAS/BUCKET.
        target: String,
        #[command(flatten)]
        rule: RuleSpec,
    },
    /// Show a bucket's rules.
    #[command(alias = "list")]
    Ls {
        /// ALIAS/BUCKET.
        target: String,
    },
    /// Remove one rule (--id) or all of them (--all).
    #[command(alias = "remove")]
    Rm {
        /// ALIAS/BUCKET.
        target: String,
        /// The rule's id.
        #[arg(long, conflicts_with = "all", required_unless_present = "all")]
        id: Option<String>,
        /// Every rule of the bucket.
        #[arg(long)]
        all: bool,
    },
}

/// One lifecycle rule, as `cairn ilm rule add` options or a bootstrap file entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, clap::Args, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RuleSpec {
    /// The rule's id (the server makes one up when none is given).
    #[arg(long)]
    #[serde(default)]
    pub id: Option<String>,
    /// Only keys under this prefix.
    #[arg(long)]
    #[serde(default)]
    pub prefix: Option<String>,
    /// Only objects with all these tags ("key1=value1&key2=value2").
    #[arg(long)]
    #[serde(default)]
    pub tags: Option<String>,
    /// Only objects larger than this many bytes.
    #[arg(long)]
    #[serde(default)]
    pub size_gt: Option<i64>,
    /// Only objects smaller than this many bytes.
    #[arg(long)]
    #[serde(default)]
    pub size_lt: Option<i64>,
    /// Expire current versions this many days after they were written.
    #[arg(long, conflicts_with = "expire_date")]
    #[serde(default)]
    pub expire_days: Option<i32>,
    /// Expire current versions from this date on (YYYY-MM-DD, midnight UTC).
    #[arg(long)]
    #[serde(default)]
    pub expire_date: Option<String>,
    /// Remove delete markers that are their key's only version.
    #[arg(long, conflicts_with_all = ["expire_days", "expire_date"])]
    #[serde(default)]
    pub expire_delete_marker: bool,
    /// Remove noncurrent versions this many days after they were replaced.
    #[arg(long)]
    #[serde(default)]
    pub noncurrent_expire_days: Option<i32>,
    /// With --noncurrent-expire-days: keep this many of the newest noncurrent versions.
    #[arg(long, requires = "noncurrent_expire_days")]
    #[serde(default)]
    pub noncurrent_keep: Option<i32>,
    /// Abort multipart uploads not completed this many days after they started.
    #[arg(long)]
    #[serde(default)]
    pub abort_uploads_days: Option<i32>,
    /// Keep the rule but do not apply it.
    #[arg(long)]
    #[serde(default)]
    pub disabled: bool,
}

pub(crate) async fn run(context: &Context, command: IlmCommand) -> Result<()> {
    let IlmCommand::Rule(command) = command;
    match command {
        RuleCommand::Add { target, rule } => add(context, &target, &rule).await,
        RuleCommand::Ls { target } => list(context, &target).await,
        RuleCommand::Rm { target, id, all } => remove(context, &target, id.as_deref(), all).await,
    }
}

fn bad(message: String) -> CliError {
    CliError::Usage(format!("ilm rule: {message}"))
}

impl RuleSpec {
    /// The rule as S3 takes it.
    pub fn to_rule(&self) -> Result<LifecycleRule> {
        let tags: Vec<Tag> = form_urlencoded::parse(self.tags.as_deref().unwrap_or("").as_bytes())
            .map(|(key, value)| Tag::builder().key(key).value(value).build().map_err(|e| bad(e.to_string())))
            .collect::<Result<_>>()?;
        let prefix = self.prefix.clone().unwrap_or_default();
        let conditions = usize::from(!prefix.is_empty())
            + tags.len()
            + usize::from(self.size_gt.is_some())
            + usize::from(self.size_lt.is_some());
        let filter = if conditions > 1 {
            let and = LifecycleRuleAndOperator::builder()
                .prefix(prefix)
                .set_tags(Some(tags).filter(|t| !t.is_empty()))
                .set_object_size_greater_than(self.size_gt)
                .set_object_size_less_than(self.size_lt)
                .build();
            LifecycleRuleFilter::builder().and(and).build()
        } else {
            LifecycleRuleFilter::builder()
                .set_prefix((conditions == 0 || !prefix.is_empty()).then_some(prefix))
                .set_tag(tags.into_iter().next())
                .set_object_size_greater_than(self.size_gt)
                .set_object_size_less_than(self.size_lt)
                .build()
        };
        let expiration = if let Some(days) = self.expire_days {
            Some(LifecycleExpiration::builder().days(days).build())
        } else if let Some(date) = &self.expire_date {
            Some(LifecycleExpiration::builder().date(midnight(date)?).build())
        } else if self.expire_delete_marker {
            Some(LifecycleExpiration::builder().expired_object_delete_marker(true).build())
        } else {
            None
        };
        let noncurrent = self.noncurrent_expire_days.map(|days| {
            NoncurrentVersionExpiration::builder()
                .noncurrent_days(days)
                .set_newer_noncurrent_versions(self.noncurrent_keep)
                .build()
        });
        let abort = self
            .abort_uploads_days
            .map(|days| AbortIncompleteMultipartUpload::builder().days_after_initiation(days).build());
        if expiration.is_none() && noncurrent.is_none() && abort.is_none() {
            return Err(bad(
                "give an action: --expire-days, --expire-date, --expire-delete-marker, --noncurrent-expire-days or \
                 --abort-uploads-days"
                    .into(),
            ));
        }
        let status = if self.disabled { ExpirationStatus::Disabled } else { ExpirationStatus::Enabled };
        LifecycleRule::builder()
            .set_id(self.id.clone())
            .status(status)
            .filter(filter)
            .set_expiration(expiration)
            .set_noncurrent_version_expiration(noncurrent)
            .set_abort_incomplete_multipart_upload(abort)
            .build()
            .map_err(|e| bad(e.to_string()))
    }
}

/// Midnight UTC of a `YYYY-MM-DD` date.
fn midnight(date: &str) -> Result<aws_smithy_types::DateTime> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let day = time::Date::parse(date, &format).map_err(|_| bad(format!("--expire-date {date:?}: give YYYY-MM-DD")))?;
    Ok(aws_smithy_types::DateTime::from_secs(day.midnight().assume_utc().unix_timestamp()))
}

fn bucket_target(context: &Context, text: &str) -> Result<Remote> {
    let remote = context.target(text)?.remote("ilm rule")?;
    remote.bucket()?;
    if !remote.key.is_empty() {
        return Err(bad(format!("{text}: give ALIAS/BUCKET, without a key")));
    }
    Ok(remote)
}

/// The bucket's rules; none when it has no configuration.
pub(crate) async fn rules(client: &Client, bucket: &str, text: &str) -> Result<Vec<LifecycleRule>> {
    match client.get_bucket_lifecycle_configuration().bucket(bucket).send().await {
        Ok(output) => Ok(output.rules().to_vec()),
        Err(error) if error.code() == Some("NoSuchLifecycleConfiguration") => Ok(Vec::new()),
        Err(error) => Err(s3::error(text, error)),
    }
}

/// Replaces the bucket's rules with `rules` (none: the configuration is removed).
pub(crate) async fn put_rules(client: &Client, bucket: &str, text: &str, rules: Vec<LifecycleRule>) -> Result<()> {
    if rules.is_empty() {
        client.delete_bucket_lifecycle().bucket(bucket).send().await.map_err(|e| s3::error(text, e))?;
        return Ok(());
    }
    let configuration =
        BucketLifecycleConfiguration::builder().set_rules(Some(rules)).build().map_err(|e| bad(e.to_string()))?;
    let request = client.put_bucket_lifecycle_configuration().bucket(bucket).lifecycle_configuration(configuration);
    request.send().await.map_err(|e| s3::error(text, e))?;
    Ok(())
}

async fn add(context: &Context, text: &str, spec: &RuleSpec) -> Result<()> {
    let remote = bucket_target(context, text)?;
    let (client, bucket) = (context.client(&remote), remote.bucket()?);
    let rule = spec.to_rule()?;
    let mut kept = rules(&client, bucket, text).await?;
    kept.retain(|existing| rule.id().is_none() || existing.id() != rule.id());
    kept.push(rule);
    put_rules(&client, bucket, text, kept).await?;
    // The server names a rule given without an id: show it.
    let added = match &spec.id {
        Some(id) => id.clone(),
        None => rules(&client, bucket, text).await?.last().and_then(LifecycleRule::id).unwrap_or_default().to_owned(),
    };
    context.out.result(json!({"status": "success", "bucket": text, "id": added}), || {
        format!("Lifecycle rule {added} added to {text}.")
    });
    Ok(())
}

/// One rule as `ilm rule ls` shows it (and as the bootstrap apply compares rules).
pub(crate) fn describe(rule: &LifecycleRule) -> serde_json::Value {
    let filter = rule.filter();
    let and = filter.and_then(LifecycleRuleFilter::and);
    let prefix = filter.and_then(LifecycleRuleFilter::prefix).or_else(|| and.and_then(|a| a.prefix())).unwrap_or("");
    let mut tags: Vec<String> =
        filter.and_then(LifecycleRuleFilter::tag).into_iter().map(|t| format!("{}={}", t.key(), t.value())).collect();
    tags.extend(
        and.map(LifecycleRuleAndOperator::tags)
            .unwrap_or_default()
            .iter()
            .map(|t| format!("{}={}", t.key(), t.value())),
    );
    let expiration = rule.expiration();
    let noncurrent = rule.noncurrent_version_expiration();
    json!({
        "id": rule.id().unwrap_or_default(),
        "status": rule.status().as_str(),
        "prefix": prefix,
        "tags": tags.join("&"),
        "sizeGreaterThan": filter.and_then(LifecycleRuleFilter::object_size_greater_than).or_else(|| and.and_then(|a| a.object_size_greater_than())),
        "sizeLessThan": filter.and_then(LifecycleRuleFilter::object_size_less_than).or_else(|| and.and_then(|a| a.object_size_less_than())),
        "expireDays": expiration.and_then(LifecycleExpiration::days),
        "expireDate": expiration.and_then(LifecycleExpiration::date).map(|d| d.secs()),
        "expireDeleteMarker": expiration.and_then(LifecycleExpiration::expired_object_delete_marker).unwrap_or(false),
        "noncurrentExpireDays": noncurrent.and_then(NoncurrentVersionExpiration::noncurrent_days),
        "noncurrentKeep": noncurrent.and_then(NoncurrentVersionExpiration::newer_noncurrent_versions),
        "abortUploadsDays": rule.abort_incomplete_multipart_upload().and_then(AbortIncompleteMultipartUpload::days_after_initiation),
    })
}

/// A rule on one line: its id, status, filter and actions.
fn line(rule: &serde_json::Value) -> String {
    let mut parts =
        vec![format!("{:<24} {:<8}", rule["id"].as_str().unwrap_or(""), rule["status"].as_str().unwrap_or(""))];
    let shown = [
        ("prefix", "prefix="),
        ("tags", "tags="),
        ("sizeGreaterThan", "size>"),
        ("sizeLessThan", "size<"),
        ("expireDays", "expire-days="),
        ("expireDate", "expire-date(unix)="),
        ("noncurrentExpireDays", "noncurrent-expire-days="),
        ("noncurrentKeep", "noncurrent-keep="),
        ("abortUploadsDays", "abort-uploads-days="),
    ];
    for (field, label) in shown {
        match &rule[field] {
            serde_json::Value::Null => {}
            serde_json::Value::String(s) if s.is_empty() => {}
            serde_json::Value::String(s) => parts.push(format!("{label}{s}")),
            other => parts.push(format!("{label}{other}")),
        }
    }
    if rule["expireDeleteMarker"] == json!(true) {
        parts.push("expire-delete-marker".into());
    }
    parts.join(" ")
}

async fn list(context: &Context, text: &str) -> Result<()> {
    let remote = bucket_target(context, text)?;
    let client = context.client(&remote);
    let rules: Vec<serde_json::Value> = rules(&client, remote.bucket()?, text).await?.iter().map(describe).collect();
    context.out.result(json!({"bucket": text, "rules": rules}), || {
        if rules.is_empty() {
            return format!("{text} has no lifecycle rules.");
        }
        rules.iter().map(line).collect::<Vec<_>>().join("\n")
    });
    Ok(())
}

async fn remove(context: &Context, text: &str, id: Option<&str>, all: bool) -> Result<()> {
    let remote = bucket_target(context, text)?;
    let (client, bucket) = (context.client(&remote), remote.bucket()?);
    let mut rules = rules(&client, bucket, text).await?;
    let before = rules.len();
    if all {
        rules.clear();
    } else if let Some(id) = id {
        rules.retain(|rule| rule.id() != Some(id));
        if rules.len() == before {
            return Err(CliError::NotFound(format!("{text} has no lifecycle rule {id:?}")));
        }
    }
    put_rules(&client, bucket, text, rules).await?;
    context.out.result(json!({"status": "success", "bucket": text, "removed": id.unwrap_or("all")}), || {
        format!("Lifecycle rule {} removed from {text}.", id.unwrap_or("(all)"))
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rule_is_built_from_options() {
        let spec = RuleSpec {
            prefix: Some("tmp/".into()),
            expire_days: Some(7),
            abort_uploads_days: Some(1),
            ..RuleSpec::default()
        };
        let rule = spec.to_rule().expect("valid");
        assert_eq!(rule.filter().and_then(LifecycleRuleFilter::prefix), Some("tmp/"));
        assert_eq!(rule.expiration().and_then(LifecycleExpiration::days), Some(7));
        let shown = line(&describe(&rule));
        assert!(
            shown.contains("prefix=tmp/") && shown.contains("expire-days=7") && shown.contains("abort-uploads-days=1"),
            "{shown}"
        );
        let combined = RuleSpec {
            prefix: Some("a/".into()),
            tags: Some("k=v".into()),
            expire_days: Some(1),
            ..RuleSpec::default()
        };
        let and = combined.to_rule().expect("valid");
        assert_eq!(and.filter().and_then(LifecycleRuleFilter::and).map(|a| a.tags().len()), Some(1));
        assert!(RuleSpec::default().to_rule().is_err(), "a rule without an action");
        assert_eq!(midnight("2030-01-02").expect("a date").secs(), 1_893_542_400);
        assert!(midnight("2030-13-02").is_err());
    }
}
