//! Object lock (WORM): buckets created with it (`x-amz-bucket-object-lock-enabled`),
//! their default retention (Put/GetObjectLockConfiguration), each version's retention
//! and legal hold (given on writes, or by Put/GetObjectRetention and
//! Put/GetObjectLegalHold, by version too), and the lock fields of GET and HEAD.
//! The rules are `cairn_object::retention`'s; deletes enforce them in the object layer.

use crate::CairnS3;
use crate::error::{custom_404, s3_error, to_s3};
use crate::versions::version_ref;
use cairn_object::retention::{self, Retention};
use cairn_object::{DefaultRetention, ObjectError, RetentionPeriod};
use s3s::dto::*;
use s3s::{S3ErrorCode, S3Request, S3Response, S3Result};
use std::collections::BTreeMap;
use time::OffsetDateTime;

/// Seconds in a day, and days in a retention year (as S3 counts them).
const DAY_SECS: i64 = 86_400;
const YEAR_DAYS: i64 = 365;
/// Longest default retention accepted, in days (S3 allows up to 100 years).
const DEFAULT_RETENTION_DAYS_MAX: i64 = 100 * YEAR_DAYS;

/// Marks a request whose caller asked to bypass GOVERNANCE retention and may
/// (`x-amz-bypass-governance-retention: true` and `s3:BypassGovernanceRetention`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct BypassGovernance;

fn now_unix_secs() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

fn invalid(message: &str) -> s3s::S3Error {
    s3_error(S3ErrorCode::InvalidArgument, message)
}

fn missing_lock() -> s3s::S3Error {
    s3_error(S3ErrorCode::InvalidRequest, "Bucket is missing Object Lock Configuration")
}

/// The lock a write names (`x-amz-object-lock-*`), checked: mode and date together, the
/// date in the future.
pub(crate) struct WriteLock {
    pub(crate) mode: Option<ObjectLockMode>,
    pub(crate) retain_until: Option<Timestamp>,
    pub(crate) legal_hold: Option<ObjectLockLegalHoldStatus>,
}

impl CairnS3 {
    /// Adds to a new version's `headers` the lock its write names, or else the bucket's
    /// default retention; refuses a lock on a bucket without object lock.
    pub(crate) async fn apply_write_lock(
        &self,
        bucket: &str,
        headers: &mut BTreeMap<String, String>,
        lock: WriteLock,
    ) -> S3Result<()> {
        let named = lock.mode.is_some() || lock.retain_until.is_some() || lock.legal_hold.is_some();
        let Some(config) = self.store.bucket_object_lock(bucket).await.map_err(to_s3)? else {
            return if named { Err(missing_lock()) } else { Ok(()) };
        };
        let retention = match (lock.mode, lock.retain_until) {
            (Some(mode), Some(until)) => Some(write_retention(mode.as_str(), until)?),
            (None, None) => config.default_retention.map(|default| default_from_now(default, now_unix_secs())),
            _ => {
                return Err(invalid(
                    "x-amz-object-lock-mode and x-amz-object-lock-retain-until-date must be given together",
                ));
            }
        };
        retention::set_retention(headers, retention);
        if let Some(hold) = lock.legal_hold {
            retention::set_legal_hold(headers, legal_hold_on(hold.as_str())?);
        }
        Ok(())
    }

    /// Refuses a request about a version's lock in a bucket without object lock.
    async fn require_lock(&self, bucket: &str) -> S3Result<()> {
        match self.store.bucket_object_lock(bucket).await.map_err(to_s3)? {
            Some(_) => Ok(()),
            None => Err(missing_lock()),
        }
    }

    pub(crate) async fn do_put_object_lock_configuration(
        &self,
        req: S3Request<PutObjectLockConfigurationInput>,
    ) -> S3Result<S3Response<PutObjectLockConfigurationOutput>> {
        let input = req.input;
        let configuration = input.object_lock_configuration.unwrap_or_default();
        if configuration.object_lock_enabled.as_ref().is_none_or(|e| e.as_str() != ObjectLockEnabled::ENABLED) {
            return Err(s3_error(S3ErrorCode::MalformedXML, "ObjectLockEnabled must be Enabled"));
        }
        let default = match configuration.rule.and_then(|rule| rule.default_retention) {
            None => None,
            Some(default) => Some(default_retention(&default)?),
        };
        self.store.set_default_retention(&input.bucket, default).await.map_err(to_s3)?;
        Ok(S3Response::new(PutObjectLockConfigurationOutput::default()))
    }

    pub(crate) async fn do_get_object_lock_configuration(
        &self,
        req: S3Request<GetObjectLockConfigurationInput>,
    ) -> S3Result<S3Response<GetObjectLockConfigurationOutput>> {
        let Some(lock) = self.store.bucket_object_lock(&req.input.bucket).await.map_err(to_s3)? else {
            return Err(custom_404(
                S3ErrorCode::ObjectLockConfigurationNotFoundError,
                "Object Lock configuration does not exist for this bucket",
            ));
        };
        let rule = lock.default_retention.map(|default| {
            let (days, years) = match default.period {
                RetentionPeriod::Days(days) => (Some(days as i32), None),
                RetentionPeriod::Years(years) => (None, Some(years as i32)),
            };
            let mode = ObjectLockRetentionMode::from(retention::mode_name(default.mode).to_owned());
            ObjectLockRule { default_retention: Some(s3s::dto::DefaultRetention { days, mode: Some(mode), years }) }
        });
        let configuration = ObjectLockConfiguration {
            object_lock_enabled: Some(ObjectLockEnabled::from_static(ObjectLockEnabled::ENABLED)),
            rule,
        };
        Ok(S3Response::new(GetObjectLockConfigurationOutput { object_lock_configuration: Some(configuration) }))
    }

    pub(crate) async fn do_put_object_retention(
        &self,
        req: S3Request<PutObjectRetentionInput>,
    ) -> S3Result<S3Response<PutObjectRetentionOutput>> {
        let bypass = req.extensions.get::<BypassGovernance>().is_some()
            && req.input.bypass_governance_retention.unwrap_or(false);
        let input = req.input;
        let at = version_ref(input.version_id.as_deref())?;
        self.require_lock(&input.bucket).await?;
        let new = match input.retention {
            Some(ObjectLockRetention { mode: Some(mode), retain_until_date: Some(until) }) => {
                Some(write_retention(mode.as_str(), until)?)
            }
            Some(ObjectLockRetention { mode: None, retain_until_date: None }) | None => None,
            Some(_) => {
                return Err(s3_error(S3ErrorCode::MalformedXML, "a retention needs a Mode and a RetainUntilDate"));
            }
        };
        let change = Box::new(move |headers: &mut BTreeMap<String, String>| {
            retention::check_retention_change(retention::retention(headers), new, now_unix_secs(), bypass)?;
            retention::set_retention(headers, new);
            Ok::<(), ObjectError>(())
        });
        self.store.update_object_headers(&input.bucket, &input.key, at, change).await.map_err(to_s3)?;
        Ok(S3Response::new(PutObjectRetentionOutput::default()))
    }

    pub(crate) async fn do_get_object_retention(
        &self,
        req: S3Request<GetObjectRetentionInput>,
    ) -> S3Result<S3Response<GetObjectRetentionOutput>> {
        let input = req.input;
        let at = version_ref(input.version_id.as_deref())?;
        let info = self.store.version_info(&input.bucket, &input.key, at).await.map_err(to_s3)?;
        let Some(kept) = retention::retention(&info.headers) else {
            return Err(custom_404(
                S3ErrorCode::Custom("NoSuchObjectLockConfiguration".into()),
                "The specified object does not have a ObjectLock configuration",
            ));
        };
        Ok(S3Response::new(GetObjectRetentionOutput {
            retention: Some(ObjectLockRetention {
                mode: Some(ObjectLockRetentionMode::from(retention::mode_name(kept.mode).to_owned())),
                retain_until_date: Some(timestamp_of(kept.until_unix_secs)),
            }),
        }))
    }

    pub(crate) async fn do_put_object_legal_hold(
        &self,
        req: S3Request<PutObjectLegalHoldInput>,
    ) -> S3Result<S3Response<PutObjectLegalHoldOutput>> {
        let input = req.input;
        let at = version_ref(input.version_id.as_deref())?;
        self.require_lock(&input.bucket).await?;
        let status = input.legal_hold.and_then(|hold| hold.status);
        let Some(status) = status else {
            return Err(s3_error(S3ErrorCode::MalformedXML, "a legal hold needs a Status of ON or OFF"));
        };
        let on = legal_hold_on(status.as_str())?;
        let change = Box::new(move |headers: &mut BTreeMap<String, String>| {
            retention::set_legal_hold(headers, on);
            Ok::<(), ObjectError>(())
        });
        self.store.update_object_headers(&input.bucket, &input.key, at, change).await.map_err(to_s3)?;
        Ok(S3Response::new(PutObjectLegalHoldOutput::default()))
    }

    pub(crate) async fn do_get_object_legal_hold(
        &self,
        req: S3Request<GetObjectLegalHoldInput>,
    ) -> S3Result<S3Response<GetObjectLegalHoldOutput>> {
        let input = req.input;
        let at = version_ref(input.version_id.as_deref())?;
        self.require_lock(&input.bucket).await?;
        let info = self.store.version_info(&input.bucket, &input.key, at).await.map_err(to_s3)?;
        let status = if retention::legal_hold(&info.headers) { "ON" } else { "OFF" };
        Ok(S3Response::new(GetObjectLegalHoldOutput {
            legal_hold: Some(ObjectLockLegalHold { status: Some(ObjectLockLegalHoldStatus::from(status.to_owned())) }),
        }))
    }
}

/// The lock fields of a GET or HEAD of a version with these headers.
pub(crate) fn output_fields(
    headers: &BTreeMap<String, String>,
) -> (Option<ObjectLockMode>, Option<Timestamp>, Option<ObjectLockLegalHoldStatus>) {
    let kept = retention::retention(headers);
    let mode = kept.map(|r| ObjectLockMode::from(retention::mode_name(r.mode).to_owned()));
    let until = kept.map(|r| timestamp_of(r.until_unix_secs));
    let hold = retention::legal_hold(headers).then(|| ObjectLockLegalHoldStatus::from("ON".to_owned()));
    (mode, until, hold)
}

/// Removes a copy source's lock from the headers a copy takes: a copy gets its own.
pub(crate) fn strip(headers: &mut BTreeMap<String, String>) {
    retention::set_retention(headers, None);
    retention::set_legal_hold(headers, false);
}

fn timestamp_of(unix_secs: i64) -> Timestamp {
    Timestamp::from(OffsetDateTime::from_unix_timestamp(unix_secs).unwrap_or(OffsetDateTime::UNIX_EPOCH))
}

fn legal_hold_on(status: &str) -> S3Result<bool> {
    match status {
        "ON" => Ok(true),
        "OFF" => Ok(false),
        other => Err(invalid(&format!("unknown legal hold status {other:?}: use ON or OFF"))),
    }
}

/// A retention a request names: a known mode and a date in the future.
fn write_retention(mode: &str, until: Timestamp) -> S3Result<Retention> {
    let mode = retention::mode_of(mode).ok_or_else(|| invalid(&format!("unknown object lock mode {mode:?}")))?;
    let until_unix_secs = OffsetDateTime::from(until).unix_timestamp();
    if until_unix_secs <= now_unix_secs() {
        return Err(invalid("The retain until date must be in the future!"));
    }
    Ok(Retention { mode, until_unix_secs })
}

/// A bucket's default retention as PutObjectLockConfiguration gives it: a mode and
/// either days or years, positive.
fn default_retention(default: &s3s::dto::DefaultRetention) -> S3Result<DefaultRetention> {
    let malformed = |why: &str| s3_error(S3ErrorCode::MalformedXML, why);
    let mode = default.mode.as_ref().ok_or_else(|| malformed("a default retention needs a Mode"))?;
    let mode = retention::mode_of(mode.as_str()).ok_or_else(|| malformed("Mode must be GOVERNANCE or COMPLIANCE"))?;
    let period = match (default.days, default.years) {
        (Some(days), None) if days > 0 && i64::from(days) <= DEFAULT_RETENTION_DAYS_MAX => {
            RetentionPeriod::Days(days as u32)
        }
        (None, Some(years)) if years > 0 && i64::from(years) * YEAR_DAYS <= DEFAULT_RETENTION_DAYS_MAX => {
            RetentionPeriod::Years(years as u32)
        }
        (Some(_), Some(_)) => return Err(malformed("give Days or Years, not both")),
        _ => return Err(invalid("the default retention period must be a positive number of days or years")),
    };
    Ok(DefaultRetention { mode, period })
}

/// The retention a new version gets from the bucket's default, written at `now`.
fn default_from_now(default: DefaultRetention, now_unix_secs: i64) -> Retention {
    let days = match default.period {
        RetentionPeriod::Days(days) => i64::from(days),
        RetentionPeriod::Years(years) => i64::from(years) * YEAR_DAYS,
    };
    Retention { mode: default.mode, until_unix_secs: now_unix_secs + days * DAY_SECS }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_retentions_are_checked_and_counted_from_the_write() {
        let with = |days: Option<i32>, years: Option<i32>| {
            let mode = Some(ObjectLockRetentionMode::from("COMPLIANCE".to_owned()));
            default_retention(&s3s::dto::DefaultRetention { days, mode, years })
        };
        let thirty = with(Some(30), None).expect("30 days");
        assert_eq!(default_from_now(thirty, 1_000).until_unix_secs, 1_000 + 30 * DAY_SECS);
        let one_year = with(None, Some(1)).expect("a year");
        assert_eq!(default_from_now(one_year, 0).until_unix_secs, 365 * DAY_SECS);
        assert!(with(Some(0), None).is_err());
        assert!(with(Some(1), Some(1)).is_err());
        assert!(with(None, None).is_err());
        assert!(with(None, Some(101)).is_err());
    }

    #[test]
    fn a_written_retention_is_in_the_future() {
        let past = Timestamp::from(OffsetDateTime::UNIX_EPOCH);
        assert!(write_retention("GOVERNANCE", past).is_err());
        let later = Timestamp::from(OffsetDateTime::now_utc() + time::Duration::days(1));
        let kept = write_retention("COMPLIANCE", later.clone()).expect("valid");
        assert_eq!(kept.mode, cairn_object::RetentionMode::Compliance);
        assert!(write_retention("STRICT", later).is_err());
    }
}
