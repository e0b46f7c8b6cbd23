//! The policy of a browser form upload (POST object): what the signed policy document
//! allows the form to contain, judged as S3 judges it.
//!
//! The document is parsed by s3s (`PostPolicy`); this file decides. Rules, from S3's
//! "Creating a POST policy":
//! - the policy must not have expired;
//! - every condition must hold: `eq` (exact value), `starts-with` (prefix; `""` allows
//!   any value) and `content-length-range` (the file's size, checked while it streams);
//!   the `bucket` condition is tested against the bucket the form was posted to;
//! - every form field must be named by an `eq` or `starts-with` condition, except the
//!   signature, the policy, the file and `x-ignore-*` fields.
//!
//! Failures are `AccessDenied` with S3's "Invalid according to Policy: ..." messages.

use s3s::post_policy::{PostPolicy, PostPolicyCondition};
use s3s::{S3Error, S3ErrorCode, S3Result};

/// The form's fields before the file, names lowercase (S3 matches names without case).
#[derive(Debug, Default)]
pub(crate) struct FormFields(Vec<(String, String)>);

impl FormFields {
    /// Adds a field; a repeated name keeps its first value, as S3 does.
    pub(crate) fn push(&mut self, name: &str, value: String) {
        let name = name.to_ascii_lowercase();
        if self.get(&name).is_none() {
            self.0.push((name, value));
        }
    }

    /// The value of the field `name` (lowercase).
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// Replaces the value of a field that is present.
    pub(crate) fn set(&mut self, name: &str, value: String) {
        if let Some(slot) = self.0.iter_mut().find(|(n, _)| n == name) {
            slot.1 = value;
        }
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }
}

/// Fields a policy need not name (S3: the signature, the policy, the file, `x-ignore-*`).
fn exempt(name: &str) -> bool {
    matches!(name, "x-amz-signature" | "policy" | "file") || name.starts_with("x-ignore-")
}

fn refused(why: String) -> S3Error {
    S3Error::with_message(S3ErrorCode::AccessDenied, format!("Invalid according to Policy: {why}"))
}

/// The smallest and largest file size a policy allows (inclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SizeRange {
    pub(crate) min: u64,
    pub(crate) max: u64,
}

/// Checks `fields` (posted to `bucket` at `now`, in Unix seconds) against `policy`, and
/// gives the file size range it allows, if it names one. The file itself is checked
/// against that range while it streams.
pub(crate) fn check(policy: &PostPolicy, fields: &FormFields, bucket: &str, now: i64) -> S3Result<Option<SizeRange>> {
    let expires = time::OffsetDateTime::from(policy.expiration.clone()).unix_timestamp();
    if now >= expires {
        return Err(refused("Policy expired.".into()));
    }
    let value_of = |field: &str| if field == "bucket" { Some(bucket) } else { fields.get(field) };
    let mut range: Option<SizeRange> = None;
    for condition in &policy.conditions {
        match condition {
            PostPolicyCondition::Eq { field, value } => {
                if value_of(field) != Some(value.as_str()) {
                    return Err(refused(format!("Policy Condition failed: [\"eq\", \"${field}\", \"{value}\"]")));
                }
            }
            PostPolicyCondition::StartsWith { field, prefix } => {
                if !starts_with(field, value_of(field), prefix) {
                    return Err(refused(format!(
                        "Policy Condition failed: [\"starts-with\", \"${field}\", \"{prefix}\"]"
                    )));
                }
            }
            PostPolicyCondition::ContentLengthRange { min, max } => {
                // Several ranges: the file must be within each.
                let merged = match range {
                    None => SizeRange { min: *min, max: *max },
                    Some(r) => SizeRange { min: r.min.max(*min), max: r.max.min(*max) },
                };
                range = Some(merged);
            }
        }
    }
    let extra: Vec<&str> =
        (fields.iter()).map(|(name, _)| name).filter(|name| !exempt(name) && !names(policy, name)).collect();
    if !extra.is_empty() {
        return Err(refused(format!("Extra input fields: {}", extra.join(", "))));
    }
    Ok(range)
}

/// A `starts-with` condition. A Content-Type may list several types separated by
/// commas (S3 and MinIO): each must start with the prefix.
fn starts_with(field: &str, value: Option<&str>, prefix: &str) -> bool {
    let Some(value) = value else { return prefix.is_empty() };
    if field == "content-type" {
        return value.split(',').all(|part| part.trim().starts_with(prefix));
    }
    value.starts_with(prefix)
}

/// Whether the policy names the field in an `eq` or `starts-with` condition.
fn names(policy: &PostPolicy, name: &str) -> bool {
    policy.conditions.iter().any(|condition| match condition {
        PostPolicyCondition::Eq { field, .. } | PostPolicyCondition::StartsWith { field, .. } => field == name,
        PostPolicyCondition::ContentLengthRange { .. } => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    fn policy(conditions: &str) -> PostPolicy {
        let json = format!(r#"{{"expiration": "2027-01-15T12:00:00.000Z", "conditions": [{conditions}]}}"#);
        PostPolicy::from_json(&json).expect("valid policy")
    }

    fn fields(pairs: &[(&str, &str)]) -> FormFields {
        let mut fields = FormFields::default();
        for (name, value) in pairs {
            fields.push(name, (*value).to_owned());
        }
        fields
    }

    fn message(result: S3Result<Option<SizeRange>>) -> String {
        let error = result.expect_err("refused");
        assert_eq!(error.code(), &S3ErrorCode::AccessDenied);
        error.message().unwrap_or_default().to_owned()
    }

    #[test]
    fn conditions_that_hold_pass_and_give_the_size_range() {
        let policy = policy(
            r#"{"bucket": "b"}, ["starts-with", "$key", "user/"], {"acl": "private"},
               ["content-length-range", 10, 100], ["content-length-range", 20, 200],
               ["starts-with", "$Content-Type", "image/"], ["starts-with", "$x-amz-meta-tag", ""]"#,
        );
        let form = fields(&[
            ("key", "user/a.png"),
            ("ACL", "private"),
            ("Content-Type", "image/png, image/jpeg"),
            ("x-amz-meta-tag", "anything"),
            ("x-amz-signature", "abc"),
            ("policy", "e30="),
            ("x-ignore-me", "1"),
        ]);
        assert_eq!(check(&policy, &form, "b", NOW).expect("allowed"), Some(SizeRange { min: 20, max: 100 }));
    }

    #[test]
    fn each_failing_condition_is_named() {
        let form = fields(&[("key", "other/a"), ("content-type", "text/plain")]);
        let eq = policy(r#"["eq", "$key", "user/a"], ["starts-with", "$content-type", ""]"#);
        assert!(message(check(&eq, &form, "b", NOW)).contains(r#"["eq", "$key", "user/a"]"#));
        let prefix = policy(r#"["starts-with", "$key", "user/"], {"content-type": "text/plain"}"#);
        assert!(message(check(&prefix, &form, "b", NOW)).contains(r#"["starts-with", "$key", "user/"]"#));
        let bucket = policy(r#"{"bucket": "other"}, {"key": "other/a"}, {"content-type": "text/plain"}"#);
        assert!(message(check(&bucket, &form, "b", NOW)).contains("$bucket"));
        let types = policy(r#"{"key": "other/a"}, ["starts-with", "$content-type", "image/"]"#);
        let mixed = fields(&[("key", "other/a"), ("content-type", "image/png,text/plain")]);
        assert!(message(check(&types, &mixed, "b", NOW)).contains("starts-with"));
    }

    #[test]
    fn a_missing_field_fails_its_condition_unless_any_value_is_allowed() {
        let form = fields(&[("key", "k")]);
        let eq = policy(r#"{"key": "k"}, {"success_action_status": "201"}"#);
        assert!(message(check(&eq, &form, "b", NOW)).contains("success_action_status"));
        let any = policy(r#"{"key": "k"}, ["starts-with", "$content-type", ""]"#);
        assert_eq!(check(&any, &form, "b", NOW).expect("allowed"), None);
    }

    #[test]
    fn fields_the_policy_does_not_name_are_refused() {
        let policy = policy(r#"{"key": "k"}"#);
        let form = fields(&[("key", "k"), ("x-amz-meta-owner", "eve"), ("Content-Type", "text/html")]);
        let text = message(check(&policy, &form, "b", NOW));
        assert!(text.contains("Extra input fields: x-amz-meta-owner, content-type"), "{text}");
    }

    #[test]
    fn an_expired_policy_is_refused() {
        let policy = policy(r#"{"key": "k"}"#);
        let form = fields(&[("key", "k")]);
        let expiry = time::OffsetDateTime::from(policy.expiration.clone()).unix_timestamp();
        assert!(message(check(&policy, &form, "b", expiry)).contains("Policy expired"));
        assert!(check(&policy, &form, "b", expiry - 1).is_ok());
    }

    #[test]
    fn repeated_fields_keep_their_first_value() {
        let mut form = fields(&[("key", "first"), ("Key", "second")]);
        assert_eq!(form.get("key"), Some("first"));
        form.set("key", "third".into());
        assert_eq!(form.get("key"), Some("third"));
    }
}
