//! Resources: `*` or S3 ARNs `arn:aws:s3:::bucket` and `arn:aws:s3:::bucket/key`, with
//! `*` and `?` wildcards and policy variables in the part after the prefix.

use std::fmt;

use super::keys::{self, ConditionValues};
use super::wildcard;

/// The prefix of every S3 resource ARN.
pub const S3_ARN_PREFIX: &str = "arn:aws:s3:::";

/// One entry of a statement's `Resource` or `NotResource`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ResourcePattern {
    /// A bare `*`: every resource.
    Any,
    /// `arn:aws:s3:::<pattern>`, holding the pattern after the prefix: never empty and
    /// never starting with `/` (which could match no bucket).
    S3(String),
}

impl ResourcePattern {
    /// Parses a resource as written in a policy; the error says what is wrong. ARNs are
    /// case-sensitive, so `ARN:AWS:S3:::b` is not an S3 ARN.
    pub fn parse(text: &str) -> Result<ResourcePattern, &'static str> {
        if text == "*" {
            return Ok(ResourcePattern::Any);
        }
        let Some(pattern) = text.strip_prefix(S3_ARN_PREFIX) else {
            return Err("not an S3 ARN (arn:aws:s3:::bucket or arn:aws:s3:::bucket/key)");
        };
        if pattern.is_empty() {
            return Err("the ARN names no bucket");
        }
        if pattern.starts_with('/') {
            return Err("starts with '/' and so matches no bucket");
        }
        Ok(ResourcePattern::S3(pattern.to_owned()))
    }

    /// The S3 pattern `bucket[/key]` (wildcards allowed), for building policies in code.
    pub(crate) fn s3(pattern: String) -> ResourcePattern {
        assert!(!pattern.is_empty() && !pattern.starts_with('/'), "invalid S3 resource pattern {pattern:?}");
        ResourcePattern::S3(pattern)
    }

    /// Whether `resource` (`bucket`, `bucket/` or `bucket/key`, without the ARN prefix)
    /// matches. `variables` carries the request's values when the policy's version
    /// substitutes `${...}`.
    pub(crate) fn matches(&self, resource: &str, variables: Option<&ConditionValues>) -> bool {
        match self {
            ResourcePattern::Any => true,
            ResourcePattern::S3(pattern) => keys::matches_with_variables(pattern, resource, variables),
        }
    }

    /// MinIO's test that a pattern can name a bucket: it has no `/`, or is `*`.
    pub(crate) fn is_bucket_pattern(&self) -> bool {
        match self {
            ResourcePattern::Any => true,
            ResourcePattern::S3(pattern) => !pattern.contains('/') || pattern == "*",
        }
    }

    /// MinIO's test that a pattern can name objects: it has a `/` or a `*`.
    pub(crate) fn is_object_pattern(&self) -> bool {
        match self {
            ResourcePattern::Any => true,
            ResourcePattern::S3(pattern) => pattern.contains(['/', '*']),
        }
    }

    /// MinIO's test that a bucket policy's resource belongs to `bucket`: the pattern
    /// matches the bucket name itself, or could match `bucket/` followed by a key.
    pub(crate) fn covers_bucket(&self, bucket: &str) -> bool {
        match self {
            ResourcePattern::Any => true,
            ResourcePattern::S3(pattern) => {
                wildcard::matches(pattern, bucket)
                    || wildcard::matches_as_pattern_prefix(pattern, &format!("{bucket}/"))
            }
        }
    }
}

impl fmt::Display for ResourcePattern {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResourcePattern::Any => formatter.write_str("*"),
            ResourcePattern::S3(pattern) => write!(formatter, "{S3_ARN_PREFIX}{pattern}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses() {
        assert_eq!(ResourcePattern::parse("*"), Ok(ResourcePattern::Any));
        assert_eq!(ResourcePattern::parse("arn:aws:s3:::b/k*"), Ok(ResourcePattern::S3("b/k*".into())));
        assert!(ResourcePattern::parse("arn:aws:s3:::").is_err());
        assert!(ResourcePattern::parse("arn:aws:s3:::/b").is_err());
        assert!(ResourcePattern::parse("arn:aws:iam::123:user/x").is_err());
        assert!(ResourcePattern::parse("ARN:AWS:S3:::b").is_err());
        assert!(ResourcePattern::parse("bucket/key").is_err());
        assert_eq!(ResourcePattern::S3("b/*".into()).to_string(), "arn:aws:s3:::b/*");
    }

    #[test]
    fn bucket_coverage() {
        let covers = |pattern: &str, bucket: &str| ResourcePattern::S3(pattern.into()).covers_bucket(bucket);
        assert!(covers("photos", "photos"));
        assert!(covers("photos/*", "photos"));
        assert!(covers("photos/2024/*", "photos"));
        assert!(covers("photo*", "photos"));
        assert!(covers("example*a", "example22"));
        assert!(!covers("photos", "videos"));
        assert!(!covers("photos/*", "photos2"));
        assert!(!covers("photos2/*", "photos"));
    }

    proptest! {
        #[test]
        fn arn_round_trips(pattern in "[a-z0-9*?][a-z0-9/*?.-]{0,30}") {
            let arn = format!("{S3_ARN_PREFIX}{pattern}");
            let parsed = ResourcePattern::parse(&arn).expect("valid ARN");
            prop_assert_eq!(parsed.to_string(), arn);
        }

        #[test]
        fn bucket_star_matches_exactly_that_buckets_objects(
            bucket in "[a-z0-9]{3,8}",
            other in "[a-z0-9]{3,8}",
            key in "[a-zA-Z0-9/._-]{1,20}",
        ) {
            let pattern = ResourcePattern::parse(&format!("{S3_ARN_PREFIX}{bucket}/*")).expect("valid");
            let own_resource = format!("{bucket}/{key}");
            let other_resource = format!("{other}/{key}");
            prop_assert!(pattern.matches(&own_resource, None));
            prop_assert_eq!(pattern.matches(&other_resource, None), other == bucket);
            prop_assert!(!pattern.matches(&bucket, None));
            prop_assert!(pattern.covers_bucket(&bucket));
        }

        #[test]
        fn exact_arn_matches_only_itself(resource in "[a-z0-9][a-z0-9/._-]{0,30}", other in "[a-z0-9][a-z0-9/._-]{0,30}") {
            let pattern = ResourcePattern::parse(&format!("{S3_ARN_PREFIX}{resource}")).expect("valid");
            prop_assert!(pattern.matches(&resource, None));
            prop_assert_eq!(pattern.matches(&other, None), other == resource);
        }

        #[test]
        fn parse_never_panics(text in any::<String>()) {
            let _ = ResourcePattern::parse(&text);
        }
    }
}
