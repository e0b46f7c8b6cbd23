//! Deciding whether a policy allows a request.
//!
//! A statement applies to a request when its principal (bucket policies only), action,
//! resource (not looked at for admin, KMS and STS actions granted by a pattern of their
//! own family) and every condition match. A policy's decision is `Deny`
//! if any applying statement denies, else `Allow` if any applying statement allows,
//! else `NoMatch`; across several policies an explicit deny wins and the default is to
//! refuse.
//!
//! The resource a request names is `bucket/key` for object actions and the bucket for
//! bucket actions; which one an action uses is the caller's choice (see
//! [`super::actions::is_object_action`]). For identity policies a bucket-level request
//! also matches patterns written for `bucket/`, as MinIO's does (MinIO matches the
//! resource `bucket/`), so `arn:aws:s3:::bucket/*` grants `s3:ListBucket` on `bucket`
//! there, though not in a bucket policy, where MinIO and AWS match `bucket` alone.

use super::actions::{self, Service};
use super::document::{ActionSpec, Effect, Policy, ResourceSpec, Statement};
use super::keys::ConditionValues;
use super::wildcard;

/// What a request asks to do, as policy evaluation sees it.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The action, such as `s3:GetObject` or `admin:ListUsers`.
    pub action: &'a str,
    /// The bucket, if the action is on a bucket or an object.
    pub bucket: Option<&'a str>,
    /// The object key, for object actions; requires `bucket`.
    pub key: Option<&'a str>,
    /// The caller's access key; `None` for anonymous requests.
    pub principal: Option<&'a str>,
    /// Condition key values (`s3:prefix`, `aws:SourceIp`, `aws:username`, ...).
    pub conditions: &'a ConditionValues,
}

impl<'a> Request<'a> {
    /// An anonymous request for `action` on no bucket.
    pub fn new(action: &'a str, conditions: &'a ConditionValues) -> Request<'a> {
        Request { action, bucket: None, key: None, principal: None, conditions }
    }

    /// `self` on `bucket`.
    pub fn with_bucket(self, bucket: &'a str) -> Request<'a> {
        Request { bucket: Some(bucket), ..self }
    }

    /// `self` on object `key` (of the bucket also given).
    pub fn with_key(self, key: &'a str) -> Request<'a> {
        Request { key: Some(key), ..self }
    }

    /// `self` made by the holder of `access_key`.
    pub fn with_principal(self, access_key: &'a str) -> Request<'a> {
        Request { principal: Some(access_key), ..self }
    }
}

/// A policy's verdict on a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Decision {
    /// An applying statement allows it and none denies it.
    Allow,
    /// An applying statement denies it.
    Deny,
    /// No statement applies.
    NoMatch,
}

impl Decision {
    /// The verdict of two policies together: `Deny` beats `Allow` beats `NoMatch`.
    pub fn combine(self, other: Decision) -> Decision {
        match (self, other) {
            (Decision::Deny, _) | (_, Decision::Deny) => Decision::Deny,
            (Decision::Allow, _) | (_, Decision::Allow) => Decision::Allow,
            (Decision::NoMatch, Decision::NoMatch) => Decision::NoMatch,
        }
    }

    /// Whether the request may go ahead: only an explicit `Allow` lets it.
    pub fn is_allowed(self) -> bool {
        self == Decision::Allow
    }
}

/// Whether the policies together allow `request`: an explicit deny in any of them
/// refuses it, otherwise an allow in any of them is needed. Principals are not looked
/// at: these are identity policies.
pub fn evaluate(policies: &[&Policy], request: &Request<'_>) -> bool {
    policies.iter().map(|policy| policy.evaluate(request)).fold(Decision::NoMatch, Decision::combine).is_allowed()
}

/// Which kind of policy a statement is evaluated as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Attached to users and groups: no principal; bucket-level resource `bucket/`.
    Identity,
    /// Attached to a bucket: the principal must match; bucket-level resource `bucket`.
    Bucket,
}

impl Policy {
    /// This policy's verdict on `request` as an identity policy: `Principal` is ignored.
    pub fn evaluate(&self, request: &Request<'_>) -> Decision {
        self.decide(request, Kind::Identity)
    }

    /// This policy's verdict on `request` as a bucket policy: a statement applies only
    /// if its `Principal` names the caller (anonymous callers match only `*`).
    pub fn evaluate_bucket_policy(&self, request: &Request<'_>) -> Decision {
        self.decide(request, Kind::Bucket)
    }

    fn decide(&self, request: &Request<'_>, kind: Kind) -> Decision {
        let target = Target::new(request, kind, self.version.has_variables());
        let mut decision = Decision::NoMatch;
        for statement in &self.statements {
            if !statement.applies(&target) {
                continue;
            }
            match statement.effect {
                Effect::Deny => return Decision::Deny,
                Effect::Allow => decision = Decision::Allow,
            }
        }
        decision
    }
}

/// A request prepared for matching against every statement of one policy.
struct Target<'a> {
    /// The request.
    request: &'a Request<'a>,
    /// How the policy is being evaluated.
    kind: Kind,
    /// The request's values, when the policy's version substitutes `${...}`.
    variables: Option<&'a ConditionValues>,
    /// The resource without the ARN prefix: `bucket/key`, `bucket`, or empty for
    /// account-level actions.
    resource: String,
    /// A second spelling that also counts: `bucket/` for bucket-level requests under
    /// identity policies (MinIO's resource for them).
    alternative: Option<String>,
}

impl<'a> Target<'a> {
    fn new(request: &'a Request<'a>, kind: Kind, has_variables: bool) -> Target<'a> {
        assert!(request.key.is_none() || request.bucket.is_some(), "a request names a key without a bucket");
        let bucket = request.bucket.unwrap_or("");
        let (resource, alternative) = match (request.key, kind) {
            (Some(key), _) => (format!("{bucket}/{key}"), None),
            (None, Kind::Bucket) => (bucket.to_owned(), None),
            (None, Kind::Identity) if bucket.is_empty() => (String::new(), None),
            (None, Kind::Identity) => (bucket.to_owned(), Some(format!("{bucket}/"))),
        };
        let variables = has_variables.then_some(request.conditions);
        Target { request, kind, variables, resource, alternative }
    }
}

impl Statement {
    fn applies(&self, target: &Target<'_>) -> bool {
        let request = target.request;
        if target.kind == Kind::Bucket && !self.principal_matches(request.principal) {
            return false;
        }
        let action_listed =
            self.actions.patterns().iter().any(|pattern| actions::action_matches(pattern, request.action));
        let action_matches = match self.actions {
            ActionSpec::Action(_) => action_listed,
            ActionSpec::NotAction(_) => !action_listed,
        };
        if !action_matches {
            return false;
        }
        if self.checks_resources_for(request.action) && !self.resource_matches(target) {
            return false;
        }
        let has_variables = target.variables.is_some();
        self.conditions.iter().all(|condition| condition.evaluate(request.conditions, has_variables))
    }

    /// Whether the request's resource must match this statement's resources. MinIO
    /// ignores resources for admin, KMS and STS actions; here that holds when the
    /// action was granted by a pattern of its own family (`admin:*`, `kms:CreateKey`).
    /// Granted by a cross-family pattern (`*`) or by `NotAction`, it must match like an
    /// S3 action, so `{"Action": "*", "Resource": "arn:aws:s3:::photos/*"}` does not hand
    /// out admin rights (MinIO's `*` would; its `NotAction` would not).
    fn checks_resources_for(&self, action: &str) -> bool {
        let Some(service) = Service::of(action).filter(|service| !service.uses_resources()) else {
            return true;
        };
        let ActionSpec::Action(patterns) = &self.actions else {
            return true;
        };
        !patterns
            .iter()
            .any(|pattern| Service::of(pattern) == Some(service) && actions::action_matches(pattern, action))
    }

    fn principal_matches(&self, caller: Option<&str>) -> bool {
        let Some(principal) = &self.principal else {
            return false;
        };
        principal.aws.iter().any(|pattern| match caller {
            None => pattern == "*",
            Some(access_key) => wildcard::matches(pattern, access_key),
        })
    }

    fn resource_matches(&self, target: &Target<'_>) -> bool {
        let Some(resources) = &self.resources else {
            // Validation gives every statement that can match an S3 action resources.
            return false;
        };
        let listed = resources.patterns().iter().any(|pattern| {
            pattern.matches(&target.resource, target.variables)
                || target
                    .alternative
                    .as_deref()
                    .is_some_and(|alternative| pattern.matches(alternative, target.variables))
        });
        match resources {
            ResourceSpec::Resource(_) => listed,
            ResourceSpec::NotResource(_) => !listed,
        }
    }
}
