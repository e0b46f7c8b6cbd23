//! `cairn retention set|clear|info` and `cairn legalhold set|clear|info`: object lock on
//! an object's version, or a bucket's default retention (`--default`, or a bucket target).

use crate::Context;
use crate::error::{CliError, Result};
use crate::s3;
use crate::target::Remote;
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::types::{
    DefaultRetention, ObjectLockConfiguration, ObjectLockEnabled, ObjectLockLegalHold, ObjectLockLegalHoldStatus,
    ObjectLockRetention, ObjectLockRetentionMode, ObjectLockRule,
};
use serde_json::json;

/// Seconds in a day.
const DAY_SECS: u64 = 86_400;
/// Days in a retention year, as S3 counts them.
const YEAR_DAYS: u64 = 365;

/// Subcommands of `cairn retention`.
#[derive(Debug, clap::Subcommand)]
pub enum RetentionCommand {
    /// Protect an object's version (or, with --default or a bucket, every new version)
    /// for a time: MODE is GOVERNANCE or COMPLIANCE, VALIDITY like 30d or 1y.
    Set {
        mode: String,
        validity: String,
        /// ALIAS/BUCKET/KEY, or ALIAS/BUCKET for the default retention.
        target: String,
        #[command(flatten)]
        options: Options,
    },
    /// Remove an object's retention (GOVERNANCE only, with --bypass) or the bucket's default.
    Clear {
        target: String,
        #[command(flatten)]
        options: Options,
    },
    /// Show an object's retention, or the bucket's default.
    Info {
        target: String,
        #[command(flatten)]
        options: Options,
    },
}

/// Options shared by the retention subcommands.
#[derive(Debug, clap::Args)]
pub struct Options {
    /// The bucket's default retention (also when the target is a bucket).
    #[arg(long)]
    default: bool,
    /// The version of the object (default: the newest).
    #[arg(long = "version-id", visible_alias = "vid")]
    version_id: Option<String>,
    /// Shorten or remove GOVERNANCE retention (needs s3:BypassGovernanceRetention).
    #[arg(long)]
    bypass: bool,
}

/// Subcommands of `cairn legalhold`.
#[derive(Debug, clap::Subcommand)]
pub enum LegalHoldCommand {
    /// Put an object's version under legal hold: nobody can delete it until it is cleared.
    Set {
        target: String,
        #[arg(long = "version-id", visible_alias = "vid")]
        version_id: Option<String>,
    },
    /// Lift an object's legal hold.
    Clear {
        target: String,
        #[arg(long = "version-id", visible_alias = "vid")]
        version_id: Option<String>,
    },
    /// Show whether an object's version is under legal hold.
    Info {
        target: String,
        #[arg(long = "version-id", visible_alias = "vid")]
        version_id: Option<String>,
    },
}

/// A validity like `30d` or `1y`: (days, years), one of them set.
fn validity(text: &str) -> Result<(Option<i32>, Option<i32>)> {
    let bad =
        || CliError::Usage(format!("retention validity {text:?}: give a number of days or years, like 30d or 1y"));
    let (number, unit) = text.split_at(text.len().saturating_sub(1));
    let number: i32 = number.parse().ok().filter(|n| *n > 0).ok_or_else(bad)?;
    match unit {
        "d" | "D" => Ok((Some(number), None)),
        "y" | "Y" => Ok((None, Some(number))),
        _ => Err(bad()),
    }
}

fn mode(text: &str) -> Result<ObjectLockRetentionMode> {
    match text.to_ascii_uppercase().as_str() {
        "GOVERNANCE" => Ok(ObjectLockRetentionMode::Governance),
        "COMPLIANCE" => Ok(ObjectLockRetentionMode::Compliance),
        _ => Err(CliError::Usage(format!("retention mode {text:?}: use GOVERNANCE or COMPLIANCE"))),
    }
}

fn is_default(remote: &Remote, options: &Options) -> bool {
    options.default || remote.key.is_empty()
}

pub(crate) async fn run(context: &Context, command: RetentionCommand) -> Result<()> {
    match command {
        RetentionCommand::Set { mode: mode_text, validity: period, target, options } => {
            let remote = context.target(&target)?.remote("retention set")?;
            let (mode, (days, years)) = (mode(&mode_text)?, validity(&period)?);
            if is_default(&remote, &options) {
                let default = DefaultRetention::builder().mode(mode).set_days(days).set_years(years).build();
                set_default(context, &remote, &target, Some(default)).await
            } else {
                let span = days.map_or(0, |d| d as u64) + years.map_or(0, |y| y as u64 * YEAR_DAYS);
                let until = std::time::SystemTime::now() + std::time::Duration::from_secs(span * DAY_SECS);
                let retention = ObjectLockRetention::builder().mode(mode).retain_until_date(until.into()).build();
                put_retention(context, &remote, &target, &options, Some(retention)).await
            }
        }
        RetentionCommand::Clear { target, options } => {
            let remote = context.target(&target)?.remote("retention clear")?;
            if is_default(&remote, &options) {
                set_default(context, &remote, &target, None).await
            } else {
                put_retention(context, &remote, &target, &options, None).await
            }
        }
        RetentionCommand::Info { target, options } => info(context, &target, &options).await,
    }
}

async fn set_default(context: &Context, remote: &Remote, text: &str, default: Option<DefaultRetention>) -> Result<()> {
    let rule = default.map(|d| ObjectLockRule::builder().default_retention(d).build());
    let configuration =
        ObjectLockConfiguration::builder().object_lock_enabled(ObjectLockEnabled::Enabled).set_rule(rule).build();
    let request = context.client(remote).put_object_lock_configuration().bucket(remote.bucket()?);
    request.object_lock_configuration(configuration).send().await.map_err(|e| s3::error(text, e))?;
    context.out.result(json!({"status": "success", "name": text}), || format!("Default retention set for {text}."));
    Ok(())
}

async fn put_retention(
    context: &Context,
    remote: &Remote,
    text: &str,
    options: &Options,
    retention: Option<ObjectLockRetention>,
) -> Result<()> {
    let request = context
        .client(remote)
        .put_object_retention()
        .bucket(remote.bucket()?)
        .key(&remote.key)
        .set_version_id(options.version_id.clone())
        .retention(retention.unwrap_or_else(|| ObjectLockRetention::builder().build()))
        .set_bypass_governance_retention(options.bypass.then_some(true));
    request.send().await.map_err(|e| s3::error(text, e))?;
    context.out.result(json!({"status": "success", "name": text}), || format!("Retention set for {text}."));
    Ok(())
}

async fn info(context: &Context, text: &str, options: &Options) -> Result<()> {
    let remote = context.target(text)?.remote("retention info")?;
    let client = context.client(&remote);
    if is_default(&remote, options) {
        let output = client.get_object_lock_configuration().bucket(remote.bucket()?).send().await;
        let output = output.map_err(|e| s3::error(text, e))?;
        let default = output.object_lock_configuration().and_then(|c| c.rule()).and_then(|r| r.default_retention());
        let mode = default.and_then(|d| d.mode()).map(|m| m.as_str().to_owned());
        let (days, years) = (default.and_then(|d| d.days()), default.and_then(|d| d.years()));
        context.out.result(json!({"name": text, "mode": mode, "days": days, "years": years}), || match &mode {
            Some(mode) => format!("{text}: default retention {mode} for {}", period_text(days, years)),
            None => format!("{text}: object lock is on, with no default retention"),
        });
        return Ok(());
    }
    let request = client.get_object_retention().bucket(remote.bucket()?).key(&remote.key);
    let (mode, until) = match request.set_version_id(options.version_id.clone()).send().await {
        Ok(output) => {
            let retention = output.retention();
            (
                retention.and_then(|r| r.mode()).map(|m| m.as_str().to_owned()),
                retention.and_then(|r| r.retain_until_date()).map(|d| d.to_string()),
            )
        }
        Err(error) if error.code() == Some("NoSuchObjectLockConfiguration") => (None, None),
        Err(error) => return Err(s3::error(text, error)),
    };
    context.out.result(json!({"name": text, "mode": mode, "retainUntil": until}), || match (&mode, &until) {
        (Some(mode), Some(until)) => format!("{text}: {mode} until {until}"),
        _ => format!("{text}: no retention"),
    });
    Ok(())
}

fn period_text(days: Option<i32>, years: Option<i32>) -> String {
    match (days, years) {
        (Some(days), _) => format!("{days} days"),
        (_, Some(years)) => format!("{years} years"),
        _ => "an unknown period".to_owned(),
    }
}

pub(crate) async fn run_legal_hold(context: &Context, command: LegalHoldCommand) -> Result<()> {
    let (target, version_id, status) = match command {
        LegalHoldCommand::Set { target, version_id } => (target, version_id, Some(ObjectLockLegalHoldStatus::On)),
        LegalHoldCommand::Clear { target, version_id } => (target, version_id, Some(ObjectLockLegalHoldStatus::Off)),
        LegalHoldCommand::Info { target, version_id } => (target, version_id, None),
    };
    let remote = context.target(&target)?.remote("legalhold")?;
    if remote.key.is_empty() {
        return Err(CliError::Usage(format!("legalhold {target}: name an object")));
    }
    let client = context.client(&remote);
    let bucket = remote.bucket()?;
    match status {
        Some(status) => {
            let hold = ObjectLockLegalHold::builder().status(status.clone()).build();
            let request = client.put_object_legal_hold().bucket(bucket).key(&remote.key).legal_hold(hold);
            request.set_version_id(version_id).send().await.map_err(|e| s3::error(&target, e))?;
            let state = status.as_str().to_owned();
            context
                .out
                .result(json!({"name": target, "legalHold": state}), || format!("Legal hold {state} for {target}."));
        }
        None => {
            let request = client.get_object_legal_hold().bucket(bucket).key(&remote.key).set_version_id(version_id);
            let output = request.send().await.map_err(|e| s3::error(&target, e))?;
            let state = output.legal_hold().and_then(|h| h.status()).map_or("OFF", |s| s.as_str()).to_owned();
            context
                .out
                .result(json!({"name": target, "legalHold": state}), || format!("{target}: legal hold {state}."));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::validity;

    #[test]
    fn validities_are_days_or_years() {
        assert_eq!(validity("30d").expect("days"), (Some(30), None));
        assert_eq!(validity("2y").expect("years"), (None, Some(2)));
        for bad in ["0d", "d", "30", "3w", "-1d", ""] {
            assert!(validity(bad).is_err(), "{bad}");
        }
    }
}
