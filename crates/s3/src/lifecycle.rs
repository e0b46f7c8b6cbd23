//! Bucket lifecycle (Put/Get/DeleteBucketLifecycleConfiguration): the rules are checked
//! as S3 checks them and kept in the bucket's record; the scanner applies them
//! (`cairn_object`'s `ilm.rs`). A configuration that is refused leaves the old one in
//! place. Transitions are refused with NotImplemented: Cairn has no storage tiers.

use crate::CairnS3;
use crate::error::{custom_404, not_implemented, s3_error, to_s3};
use crate::tagging::{OBJECT_TAGS_MAX, from_set, to_set};
use cairn_object::lifecycle::{Expiry, Lifecycle, LifecycleRule, NoncurrentExpiry, RuleFilter};
use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result};
use time::OffsetDateTime;

/// Most rules one configuration may hold (S3's limit).
const RULES_MAX: usize = 1_000;
/// Longest rule id, in characters (S3's limit).
const RULE_ID_CHARS_MAX: usize = 255;
/// Most noncurrent versions a rule may keep (S3's limit).
const NEWER_VERSIONS_MAX: i32 = 100;
/// Seconds in a day: a `Date` must be a midnight (UTC).
const SECS_PER_DAY: i64 = 86_400;

fn malformed(message: &str) -> S3Error {
    s3_error(S3ErrorCode::MalformedXML, message)
}

fn invalid(message: &str) -> S3Error {
    s3_error(S3ErrorCode::InvalidArgument, message)
}

/// A day count S3 accepts: a whole number above 0.
fn positive_days(days: Option<i32>, what: &str) -> S3Result<u32> {
    days.and_then(|d| u32::try_from(d).ok())
        .filter(|d| *d > 0)
        .ok_or_else(|| invalid(&format!("'{what}' must be a positive integer")))
}

fn size_bound(bytes: Option<i64>, what: &str) -> S3Result<Option<u64>> {
    bytes.map(|b| u64::try_from(b).map_err(|_| invalid(&format!("'{what}' must not be negative")))).transpose()
}

/// A rule's filter: exactly one of Prefix, Tag, a size bound or And in `<Filter>`, or the
/// rule's own (older) `<Prefix>`.
fn filter_of(rule_prefix: Option<String>, filter: Option<LifecycleRuleFilter>) -> S3Result<RuleFilter> {
    let filter = match (rule_prefix, filter) {
        (Some(_), Some(_)) => return Err(malformed("A rule has either a Prefix or a Filter, not both.")),
        (None, None) => return Err(malformed("A rule needs a Filter (or a Prefix).")),
        (Some(prefix), None) => return Ok(RuleFilter { prefix, ..RuleFilter::default() }),
        (None, Some(filter)) => filter,
    };
    let given = [
        filter.prefix.is_some(),
        filter.tag.is_some(),
        filter.object_size_greater_than.is_some(),
        filter.object_size_less_than.is_some(),
        filter.and.is_some(),
    ];
    if given.iter().filter(|g| **g).count() > 1 {
        return Err(malformed("A Filter holds one condition; combine several with And."));
    }
    let mut checked = RuleFilter {
        prefix: filter.prefix.unwrap_or_default(),
        tags: match filter.tag {
            Some(tag) => from_set(vec![tag], OBJECT_TAGS_MAX)?,
            None => Vec::new(),
        },
        size_greater_than: size_bound(filter.object_size_greater_than, "ObjectSizeGreaterThan")?,
        size_less_than: size_bound(filter.object_size_less_than, "ObjectSizeLessThan")?,
    };
    if let Some(and) = filter.and {
        checked = RuleFilter {
            prefix: and.prefix.unwrap_or_default(),
            tags: from_set(and.tags.unwrap_or_default(), OBJECT_TAGS_MAX)?,
            size_greater_than: size_bound(and.object_size_greater_than, "ObjectSizeGreaterThan")?,
            size_less_than: size_bound(and.object_size_less_than, "ObjectSizeLessThan")?,
        };
    }
    if let (Some(above), Some(below)) = (checked.size_greater_than, checked.size_less_than)
        && below <= above
    {
        return Err(invalid("ObjectSizeLessThan must be greater than ObjectSizeGreaterThan."));
    }
    Ok(checked)
}

/// The expiration of current versions: exactly one of Days, Date and
/// ExpiredObjectDeleteMarker.
fn expiration_of(expiration: LifecycleExpiration) -> S3Result<(Option<Expiry>, bool)> {
    let marker = expiration.expired_object_delete_marker;
    match (expiration.days, expiration.date, marker) {
        (Some(_), None, None) => Ok((Some(Expiry::Days(positive_days(expiration.days, "Days")?)), false)),
        (None, Some(date), None) => {
            let secs = OffsetDateTime::from(date).unix_timestamp();
            if secs.rem_euclid(SECS_PER_DAY) != 0 {
                return Err(invalid("'Date' must be at midnight GMT."));
            }
            Ok((Some(Expiry::Date(secs)), false))
        }
        (None, None, Some(marker)) => Ok((None, marker)),
        _ => Err(malformed("Expiration holds exactly one of Days, Date and ExpiredObjectDeleteMarker.")),
    }
}

fn rule_of(rule: s3s::dto::LifecycleRule) -> S3Result<LifecycleRule> {
    if rule.transitions.as_ref().is_some_and(|t| !t.is_empty())
        || rule.noncurrent_version_transitions.as_ref().is_some_and(|t| !t.is_empty())
    {
        return Err(not_implemented("Lifecycle transitions (moving objects to another storage class or tier)"));
    }
    let enabled = match rule.status.as_str() {
        ExpirationStatus::ENABLED => true,
        ExpirationStatus::DISABLED => false,
        _ => return Err(malformed("A rule's Status is Enabled or Disabled.")),
    };
    let id = rule.id.filter(|id| !id.is_empty()).unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    if id.chars().count() > RULE_ID_CHARS_MAX {
        return Err(invalid(&format!("A rule ID is at most {RULE_ID_CHARS_MAX} characters.")));
    }
    let filter = filter_of(rule.prefix, rule.filter)?;
    let (expiration, expired_object_delete_marker) = match rule.expiration {
        Some(expiration) => expiration_of(expiration)?,
        None => (None, false),
    };
    let noncurrent = match rule.noncurrent_version_expiration {
        None => None,
        Some(noncurrent) => {
            let days = positive_days(noncurrent.noncurrent_days, "NoncurrentDays")?;
            let newer_versions_kept = match noncurrent.newer_noncurrent_versions {
                None => None,
                Some(count) if (1..=NEWER_VERSIONS_MAX).contains(&count) => Some(count.unsigned_abs()),
                Some(_) => {
                    return Err(invalid(&format!("'NewerNoncurrentVersions' must be 1 to {NEWER_VERSIONS_MAX}.")));
                }
            };
            Some(NoncurrentExpiry { days, newer_versions_kept })
        }
    };
    let abort_incomplete_upload_days = match rule.abort_incomplete_multipart_upload {
        None => None,
        Some(abort) => Some(positive_days(abort.days_after_initiation, "DaysAfterInitiation")?),
    };
    if !filter.tags.is_empty() && expired_object_delete_marker {
        return Err(invalid("ExpiredObjectDeleteMarker cannot be used with a tag filter."));
    }
    if !filter.tags.is_empty() && abort_incomplete_upload_days.is_some() {
        return Err(invalid("AbortIncompleteMultipartUpload cannot be used with a tag filter."));
    }
    if expiration.is_none()
        && !expired_object_delete_marker
        && noncurrent.is_none()
        && abort_incomplete_upload_days.is_none()
    {
        return Err(malformed("A rule needs at least one action."));
    }
    Ok(LifecycleRule {
        id,
        enabled,
        filter,
        expiration,
        expired_object_delete_marker,
        noncurrent,
        abort_incomplete_upload_days,
    })
}

/// A configuration checked as S3 checks it.
pub(crate) fn lifecycle_of(configuration: BucketLifecycleConfiguration) -> S3Result<Lifecycle> {
    if configuration.rules.is_empty() || configuration.rules.len() > RULES_MAX {
        return Err(malformed(&format!("A lifecycle configuration holds 1 to {RULES_MAX} rules.")));
    }
    let rules = configuration.rules.into_iter().map(rule_of).collect::<S3Result<Vec<_>>>()?;
    for (n, rule) in rules.iter().enumerate() {
        if rules[..n].iter().any(|earlier| earlier.id == rule.id) {
            return Err(invalid("Rule ID must be unique. Found same ID for more than one rule."));
        }
    }
    Ok(Lifecycle { rules })
}

/// A stored filter as S3 returns it: one condition alone, several under And.
fn filter_dto(filter: RuleFilter) -> LifecycleRuleFilter {
    let size = |bound: Option<u64>| bound.map(|b| i64::try_from(b).unwrap_or(i64::MAX));
    let conditions = usize::from(!filter.prefix.is_empty())
        + filter.tags.len()
        + usize::from(filter.size_greater_than.is_some())
        + usize::from(filter.size_less_than.is_some());
    if conditions > 1 {
        let and = LifecycleRuleAndOperator {
            prefix: Some(filter.prefix).filter(|p| !p.is_empty()),
            tags: Some(to_set(filter.tags)).filter(|t| !t.is_empty()),
            object_size_greater_than: size(filter.size_greater_than),
            object_size_less_than: size(filter.size_less_than),
        };
        return LifecycleRuleFilter { and: Some(and), ..Default::default() };
    }
    LifecycleRuleFilter {
        // A filter of nothing is the empty prefix: every key.
        prefix: (conditions == 0 || !filter.prefix.is_empty()).then_some(filter.prefix),
        tag: to_set(filter.tags).into_iter().next(),
        object_size_greater_than: size(filter.size_greater_than),
        object_size_less_than: size(filter.size_less_than),
        and: None,
    }
}

fn rule_dto(rule: LifecycleRule) -> s3s::dto::LifecycleRule {
    let expiration = match (rule.expiration, rule.expired_object_delete_marker) {
        (None, false) => None,
        (expiry, marker) => Some(LifecycleExpiration {
            days: match expiry {
                Some(Expiry::Days(days)) => i32::try_from(days).ok(),
                _ => None,
            },
            date: match expiry {
                Some(Expiry::Date(secs)) => OffsetDateTime::from_unix_timestamp(secs).ok().map(Timestamp::from),
                _ => None,
            },
            expired_object_delete_marker: marker.then_some(true),
        }),
    };
    let status = if rule.enabled { ExpirationStatus::ENABLED } else { ExpirationStatus::DISABLED };
    s3s::dto::LifecycleRule {
        id: Some(rule.id),
        status: ExpirationStatus::from_static(status),
        filter: Some(filter_dto(rule.filter)),
        expiration,
        noncurrent_version_expiration: rule.noncurrent.map(|n| NoncurrentVersionExpiration {
            noncurrent_days: i32::try_from(n.days).ok(),
            newer_noncurrent_versions: n.newer_versions_kept.and_then(|k| i32::try_from(k).ok()),
        }),
        abort_incomplete_multipart_upload: rule
            .abort_incomplete_upload_days
            .map(|days| AbortIncompleteMultipartUpload { days_after_initiation: i32::try_from(days).ok() }),
        prefix: None,
        transitions: None,
        noncurrent_version_transitions: None,
    }
}

/// `x-amz-expiration` for the current version `info`, when a rule will expire it.
pub(crate) fn expiration_header(
    lifecycle: &Lifecycle,
    info: &cairn_object::ObjectInfo,
    day_secs: i64,
) -> Option<String> {
    let subject = cairn_object::lifecycle::Subject {
        size: info.size,
        delete_marker: info.delete_marker,
        headers: &info.headers,
        mod_time_unix_nanos: info.mod_time_unix_nanos,
    };
    let (due, rule) = cairn_object::lifecycle::expiry(lifecycle, &info.key, subject, day_secs)?;
    let date = OffsetDateTime::from_unix_timestamp(due).ok()?;
    let http_date = date.format(&time::format_description::well_known::Rfc2822).ok()?;
    // RFC 2822 writes "+0000"; HTTP dates (and S3) say GMT.
    let http_date = http_date.replace("+0000", "GMT");
    Some(format!("expiry-date=\"{http_date}\", rule-id=\"{rule}\""))
}

impl CairnS3 {
    /// `x-amz-expiration` for `info`, the current version of its key (None when the
    /// bucket's rules do not expire it, or its configuration cannot be read now).
    pub(crate) async fn expiration(&self, info: &cairn_object::ObjectInfo) -> Option<String> {
        let record = self.store.bucket_config(&info.bucket).await.ok()?;
        expiration_header(record.lifecycle.as_ref()?, info, self.store.lifecycle_day_secs())
    }

    /// `x-amz-expiration` of a read: only a read of the current version announces one
    /// (Expiration rules apply to current versions).
    pub(crate) async fn current_expiration(
        &self,
        info: &cairn_object::ObjectInfo,
        at: cairn_object::VersionRef,
    ) -> Option<String> {
        if at != cairn_object::VersionRef::Latest {
            return None;
        }
        self.expiration(info).await
    }

    pub(crate) async fn do_put_bucket_lifecycle_configuration(
        &self,
        req: S3Request<PutBucketLifecycleConfigurationInput>,
    ) -> S3Result<S3Response<PutBucketLifecycleConfigurationOutput>> {
        let input = req.input;
        let configuration =
            input.lifecycle_configuration.ok_or_else(|| malformed("A lifecycle configuration is required."))?;
        let lifecycle = lifecycle_of(configuration)?;
        let set = |record: &mut cairn_object::BucketRecord| {
            record.lifecycle = Some(lifecycle);
            Ok(())
        };
        self.store.update_bucket_record(&input.bucket, set).await.map_err(to_s3)?;
        Ok(S3Response::new(PutBucketLifecycleConfigurationOutput::default()))
    }

    pub(crate) async fn do_get_bucket_lifecycle_configuration(
        &self,
        req: S3Request<GetBucketLifecycleConfigurationInput>,
    ) -> S3Result<S3Response<GetBucketLifecycleConfigurationOutput>> {
        let record = self.store.bucket_record(&req.input.bucket).await.map_err(to_s3)?;
        let Some(lifecycle) = record.lifecycle.filter(|l| !l.rules.is_empty()) else {
            let code = S3ErrorCode::NoSuchLifecycleConfiguration;
            return Err(custom_404(code, "The lifecycle configuration does not exist"));
        };
        let rules = lifecycle.rules.into_iter().map(rule_dto).collect();
        Ok(S3Response::new(GetBucketLifecycleConfigurationOutput { rules: Some(rules), ..Default::default() }))
    }

    pub(crate) async fn do_delete_bucket_lifecycle(
        &self,
        req: S3Request<DeleteBucketLifecycleInput>,
    ) -> S3Result<S3Response<DeleteBucketLifecycleOutput>> {
        let clear = |record: &mut cairn_object::BucketRecord| {
            record.lifecycle = None;
            Ok(())
        };
        self.store.update_bucket_record(&req.input.bucket, clear).await.map_err(to_s3)?;
        Ok(S3Response::new(DeleteBucketLifecycleOutput {}))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(xml_like: impl FnOnce(&mut s3s::dto::LifecycleRule)) -> BucketLifecycleConfiguration {
        let mut rule = s3s::dto::LifecycleRule {
            id: Some("r".into()),
            status: ExpirationStatus::from_static(ExpirationStatus::ENABLED),
            filter: Some(LifecycleRuleFilter { prefix: Some("tmp/".into()), ..Default::default() }),
            expiration: Some(LifecycleExpiration { days: Some(7), ..Default::default() }),
            abort_incomplete_multipart_upload: None,
            noncurrent_version_expiration: None,
            noncurrent_version_transitions: None,
            prefix: None,
            transitions: None,
        };
        xml_like(&mut rule);
        BucketLifecycleConfiguration { rules: vec![rule] }
    }

    fn code(configuration: BucketLifecycleConfiguration) -> S3ErrorCode {
        lifecycle_of(configuration).expect_err("refused").code().clone()
    }

    #[test]
    fn a_configuration_round_trips() {
        let configuration = rule(|r| {
            r.filter = Some(LifecycleRuleFilter {
                and: Some(LifecycleRuleAndOperator {
                    prefix: Some("tmp/".into()),
                    tags: Some(vec![Tag { key: Some("state".into()), value: Some("done".into()) }]),
                    object_size_greater_than: Some(10),
                    object_size_less_than: None,
                }),
                ..Default::default()
            });
            r.noncurrent_version_expiration =
                Some(NoncurrentVersionExpiration { noncurrent_days: Some(3), newer_noncurrent_versions: Some(2) });
        });
        let lifecycle = lifecycle_of(configuration).expect("valid");
        let rule = &lifecycle.rules[0];
        assert_eq!(rule.filter.tags, vec![("state".to_owned(), "done".to_owned())]);
        assert_eq!(rule.noncurrent, Some(NoncurrentExpiry { days: 3, newer_versions_kept: Some(2) }));
        let back = BucketLifecycleConfiguration { rules: lifecycle.rules.clone().into_iter().map(rule_dto).collect() };
        assert_eq!(lifecycle_of(back).expect("what Cairn returns it accepts"), lifecycle);
    }

    #[test]
    fn s3s_refusals_are_kept() {
        assert_eq!(
            code(rule(|r| r.expiration = Some(LifecycleExpiration { days: Some(0), ..Default::default() }))),
            S3ErrorCode::InvalidArgument
        );
        assert_eq!(code(rule(|r| r.prefix = Some("x".into()))), S3ErrorCode::MalformedXML);
        assert_eq!(code(rule(|r| r.filter = None)), S3ErrorCode::MalformedXML);
        assert_eq!(code(rule(|r| r.expiration = None)), S3ErrorCode::MalformedXML);
        assert_eq!(code(rule(|r| r.status = ExpirationStatus::from("On".to_owned()))), S3ErrorCode::MalformedXML);
        let two_ids = BucketLifecycleConfiguration { rules: [rule(|_| {}).rules, rule(|_| {}).rules].concat() };
        assert_eq!(code(two_ids), S3ErrorCode::InvalidArgument);
        let transition = Transition { days: Some(30), storage_class: None, date: None };
        assert_eq!(code(rule(|r| r.transitions = Some(vec![transition]))), S3ErrorCode::NotImplemented);
        let noon = OffsetDateTime::from_unix_timestamp(SECS_PER_DAY * 20_000 + 43_200).expect("a date");
        let at_noon = LifecycleExpiration { date: Some(Timestamp::from(noon)), ..Default::default() };
        assert_eq!(code(rule(|r| r.expiration = Some(at_noon))), S3ErrorCode::InvalidArgument);
        let tagged_marker = rule(|r| {
            r.filter = Some(LifecycleRuleFilter {
                tag: Some(Tag { key: Some("a".into()), value: Some("b".into()) }),
                ..Default::default()
            });
            r.expiration = Some(LifecycleExpiration { expired_object_delete_marker: Some(true), ..Default::default() });
        });
        assert_eq!(code(tagged_marker), S3ErrorCode::InvalidArgument);
        let both = rule(|r| {
            r.filter = Some(LifecycleRuleFilter {
                prefix: Some("a".into()),
                object_size_less_than: Some(5),
                ..Default::default()
            });
        });
        assert_eq!(code(both), S3ErrorCode::MalformedXML);
    }

    #[test]
    fn the_expiration_header_names_the_day_and_the_rule() {
        let lifecycle = lifecycle_of(rule(|_| {})).expect("valid");
        let info = cairn_object::ObjectInfo {
            bucket: "b".into(),
            key: "tmp/a".into(),
            version_id: None,
            delete_marker: false,
            size: 1,
            etag: String::new(),
            mod_time_unix_nanos: 1_356_172_200 * 1_000_000_000,
            headers: Default::default(),
            checksums: Default::default(),
            part_sizes: vec![1],
            compressed_size: None,
        };
        assert_eq!(
            expiration_header(&lifecycle, &info, SECS_PER_DAY).as_deref(),
            Some("expiry-date=\"Sun, 30 Dec 2012 00:00:00 GMT\", rule-id=\"r\"")
        );
        let elsewhere = cairn_object::ObjectInfo { key: "keep/a".into(), ..info };
        assert_eq!(expiration_header(&lifecycle, &elsewhere, SECS_PER_DAY), None);
    }
}
