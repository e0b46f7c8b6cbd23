//! Parsing and validating policy JSON.
//!
//! Follows MinIO where AWS and MinIO differ in ways clients rely on: field names are
//! matched without regard to case (Go's decoder does that), a missing `Version` means
//! `2012-10-17`, an empty `Condition` is refused, statements identical apart from their
//! `Sid` are kept once. Follows AWS where MinIO is looser than it should be: `Statement`
//! may be a single object, every action must be known (in bucket policies too), and a
//! document with no statement is refused.

use serde_json::{Map, Value};

use super::actions::{self, Service};
use super::condition::parse_conditions;
use super::document::{ActionSpec, Effect, Policy, PolicyVersion, Principal, ResourceSpec, Statement};
use super::error::PolicyError;
use super::resource::ResourcePattern;

/// The largest policy document accepted, in bytes: AWS's limit for bucket policies,
/// applied to identity policies too. It also bounds the work of evaluating a policy.
pub const POLICY_BYTES_MAX: usize = 20 * 1024;

/// Top-level fields.
const POLICY_FIELDS: &[&str] = &["Version", "Id", "Statement"];
/// Statement fields (`NotPrincipal` is refused with its own message).
const STATEMENT_FIELDS: &[&str] =
    &["Sid", "Effect", "Principal", "Action", "NotAction", "Resource", "NotResource", "Condition"];

impl Policy {
    /// Parses and validates a policy document, bucket or identity policy alike:
    /// `Principal` is accepted but only bucket policy evaluation looks at it. Use
    /// [`Policy::parse_bucket_policy`] or [`Policy::parse_identity_policy`] to also
    /// check the rules of where the document will be used.
    pub fn parse(bytes: &[u8]) -> Result<Policy, PolicyError> {
        if bytes.len() > POLICY_BYTES_MAX {
            return Err(PolicyError::TooLarge { size_bytes: bytes.len(), limit_bytes: POLICY_BYTES_MAX });
        }
        let document: Value = serde_json::from_slice(bytes).map_err(|error| PolicyError::Json(error.to_string()))?;
        let Value::Object(document) = document else {
            return Err(PolicyError::Json("the document is not a JSON object".into()));
        };
        let fields = Fields::of(&document, POLICY_FIELDS, "policy")?;
        let version = match fields.get("Version") {
            None => PolicyVersion::V20121017,
            Some(Value::String(text)) => match text.as_str() {
                "" | "2012-10-17" => PolicyVersion::V20121017,
                "2008-10-17" => PolicyVersion::V20081017,
                other => return Err(PolicyError::InvalidVersion(other.to_owned())),
            },
            Some(_) => return Err(fields.wrong_type("Version", "a string")),
        };
        let id = optional_string(&fields, "Id")?;
        let statements = match fields.get("Statement") {
            None => return Err(PolicyError::MissingField { context: "policy".into(), field: "Statement" }),
            Some(Value::Array(items)) if items.is_empty() => {
                return Err(PolicyError::Empty { context: "policy".into(), field: "Statement".into() });
            }
            Some(Value::Array(items)) => items.iter().collect(),
            Some(item @ Value::Object(_)) => vec![item],
            Some(_) => return Err(fields.wrong_type("Statement", "an object or an array of objects")),
        };
        let mut parsed: Vec<Statement> = Vec::with_capacity(statements.len());
        for (index, statement) in statements.into_iter().enumerate() {
            let statement = parse_statement(statement, &format!("Statement[{index}]"))?;
            if !parsed.iter().any(|earlier| same_ignoring_sid(earlier, &statement)) {
                parsed.push(statement);
            }
        }
        Ok(Policy { version, id, statements: parsed })
    }

    /// Parses a bucket policy for `bucket` and checks it as MinIO's PutBucketPolicy
    /// does: see [`Policy::validate_bucket_policy`].
    pub fn parse_bucket_policy(bytes: &[u8], bucket: &str) -> Result<Policy, PolicyError> {
        let policy = Policy::parse(bytes)?;
        policy.validate_bucket_policy(bucket)?;
        Ok(policy)
    }

    /// Parses an identity policy (for users and groups): see
    /// [`Policy::validate_identity_policy`].
    pub fn parse_identity_policy(bytes: &[u8]) -> Result<Policy, PolicyError> {
        let policy = Policy::parse(bytes)?;
        policy.validate_identity_policy()?;
        Ok(policy)
    }

    /// Checks the rules of bucket policies: every statement has a `Principal`, grants
    /// only S3 actions, names only resources of `bucket`, and (as MinIO checks) names
    /// an object resource for object actions and a bucket resource for bucket actions.
    pub fn validate_bucket_policy(&self, bucket: &str) -> Result<(), PolicyError> {
        for (index, statement) in self.statements.iter().enumerate() {
            let context = format!("Statement[{index}]");
            if statement.principal.is_none() {
                return Err(PolicyError::MissingField { context, field: "Principal" });
            }
            let resources = statement.resources.as_ref().map_or(&[][..], ResourceSpec::patterns);
            for resource in resources {
                if !resource.covers_bucket(bucket) {
                    return Err(PolicyError::ResourceOutsideBucket {
                        context,
                        resource: resource.to_string(),
                        bucket: bucket.to_owned(),
                    });
                }
            }
            let ActionSpec::Action(patterns) = &statement.actions else {
                continue;
            };
            for pattern in patterns {
                if !actions::pattern_covers(pattern, Service::S3) {
                    return Err(PolicyError::ActionNotForBuckets { context, action: pattern.clone() });
                }
                let (covered, needed) = if actions::pattern_covers_object_action(pattern) {
                    (resources.iter().any(ResourcePattern::is_object_pattern), "an object")
                } else {
                    (resources.iter().any(ResourcePattern::is_bucket_pattern), "a bucket")
                };
                if !covered {
                    return Err(PolicyError::ResourceKindMismatch { context, action: pattern.clone(), needed });
                }
            }
        }
        Ok(())
    }

    /// Checks the rules of identity policies: no statement has a `Principal` (the
    /// principal is whoever the policy is attached to).
    pub fn validate_identity_policy(&self) -> Result<(), PolicyError> {
        match self.statements.iter().position(|statement| statement.principal.is_some()) {
            Some(index) => Err(PolicyError::PrincipalNotAllowed { context: format!("Statement[{index}]") }),
            None => Ok(()),
        }
    }
}

/// MinIO drops a statement equal to an earlier one in all but its `Sid`.
fn same_ignoring_sid(left: &Statement, right: &Statement) -> bool {
    left.effect == right.effect
        && left.principal == right.principal
        && left.actions == right.actions
        && left.resources == right.resources
        && left.conditions == right.conditions
}

fn parse_statement(value: &Value, context: &str) -> Result<Statement, PolicyError> {
    let Value::Object(object) = value else {
        return Err(PolicyError::WrongType {
            context: context.to_owned(),
            field: "Statement".into(),
            expected: "an object",
        });
    };
    if object.keys().any(|field| field.eq_ignore_ascii_case("NotPrincipal")) {
        return Err(PolicyError::NotPrincipalUnsupported { context: context.to_owned() });
    }
    let fields = Fields::of(object, STATEMENT_FIELDS, context)?;
    let sid = optional_string(&fields, "Sid")?;
    let effect = match fields.get("Effect") {
        None => return Err(fields.missing("Effect")),
        Some(Value::String(effect)) if effect == "Allow" => Effect::Allow,
        Some(Value::String(effect)) if effect == "Deny" => Effect::Deny,
        Some(Value::String(effect)) => {
            return Err(PolicyError::InvalidEffect { context: context.to_owned(), effect: effect.clone() });
        }
        Some(_) => return Err(fields.wrong_type("Effect", "a string")),
    };
    let principal = fields.get("Principal").map(|principal| parse_principal(principal, context)).transpose()?;
    let actions = match (fields.get("Action"), fields.get("NotAction")) {
        (Some(_), Some(_)) => return Err(fields.conflicting("Action", "NotAction")),
        (None, None) => return Err(fields.missing("Action")),
        (Some(list), None) => ActionSpec::Action(parse_actions(&fields, "Action", list)?),
        (None, Some(list)) => ActionSpec::NotAction(parse_actions(&fields, "NotAction", list)?),
    };
    let resources = match (fields.get("Resource"), fields.get("NotResource")) {
        (Some(_), Some(_)) => return Err(fields.conflicting("Resource", "NotResource")),
        (None, None) => None,
        (Some(list), None) => Some(ResourceSpec::Resource(parse_resources(&fields, "Resource", list)?)),
        (None, Some(list)) => Some(ResourceSpec::NotResource(parse_resources(&fields, "NotResource", list)?)),
    };
    // Only S3 requests are matched against resources, so only statements that can
    // grant an S3 action need them (MinIO's admin statements may omit `Resource`).
    let may_cover_s3 = match &actions {
        ActionSpec::Action(patterns) => patterns.iter().any(|pattern| actions::pattern_covers(pattern, Service::S3)),
        ActionSpec::NotAction(_) => true,
    };
    if may_cover_s3 && resources.is_none() {
        return Err(fields.missing("Resource"));
    }
    let conditions = match fields.get("Condition") {
        Some(block) => parse_conditions(block, context)?,
        None => Vec::new(),
    };
    Ok(Statement { sid, effect, principal, actions, resources, conditions })
}

fn parse_actions(fields: &Fields<'_>, field: &'static str, value: &Value) -> Result<Vec<String>, PolicyError> {
    let patterns = string_list(fields, field, value)?;
    if let Some(unknown) = patterns.iter().find(|pattern| !actions::is_known_action_pattern(pattern)) {
        return Err(PolicyError::UnknownAction { context: fields.context.clone(), action: unknown.clone() });
    }
    Ok(patterns)
}

fn parse_resources(
    fields: &Fields<'_>,
    field: &'static str,
    value: &Value,
) -> Result<Vec<ResourcePattern>, PolicyError> {
    let mut patterns = Vec::new();
    for text in string_list(fields, field, value)? {
        let pattern = ResourcePattern::parse(&text).map_err(|reason| PolicyError::InvalidResource {
            context: fields.context.clone(),
            resource: text.clone(),
            reason,
        })?;
        patterns.push(pattern);
    }
    patterns.sort();
    patterns.dedup();
    Ok(patterns)
}

fn parse_principal(value: &Value, context: &str) -> Result<Principal, PolicyError> {
    let invalid = |reason| PolicyError::InvalidPrincipal { context: context.to_owned(), reason };
    match value {
        Value::String(text) if text == "*" => Ok(Principal::everyone()),
        Value::String(_) => Err(invalid("only \"*\" may be given as a string; use {\"AWS\": [...]}")),
        Value::Object(object) => {
            if object.keys().any(|kind| !kind.eq_ignore_ascii_case("AWS")) {
                return Err(invalid("only AWS principals are supported"));
            }
            let fields = Fields::of(object, &["AWS"], &format!("{context}.Principal"))?;
            let Some(list) = fields.get("AWS") else {
                return Err(fields.missing("AWS"));
            };
            let aws = string_list(&fields, "AWS", list)?;
            if aws.iter().any(String::is_empty) {
                return Err(invalid("an AWS principal is empty"));
            }
            Ok(Principal { aws })
        }
        _ => Err(invalid("must be \"*\" or {\"AWS\": ...}")),
    }
}

/// A string, or an array of strings, as a sorted list without duplicates; never empty.
fn string_list(fields: &Fields<'_>, field: &'static str, value: &Value) -> Result<Vec<String>, PolicyError> {
    let mut list = match value {
        Value::String(text) => vec![text.clone()],
        Value::Array(items) => {
            let mut list = Vec::with_capacity(items.len());
            for item in items {
                let Value::String(text) = item else {
                    return Err(fields.wrong_type(field, "a string or an array of strings"));
                };
                list.push(text.clone());
            }
            list
        }
        _ => return Err(fields.wrong_type(field, "a string or an array of strings")),
    };
    if list.is_empty() {
        return Err(PolicyError::Empty { context: fields.context.clone(), field: field.to_owned() });
    }
    list.sort();
    list.dedup();
    Ok(list)
}

/// An optional string field; an empty string counts as absent.
fn optional_string(fields: &Fields<'_>, field: &'static str) -> Result<Option<String>, PolicyError> {
    match fields.get(field) {
        None => Ok(None),
        Some(Value::String(text)) if text.is_empty() => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(_) => Err(fields.wrong_type(field, "a string")),
    }
}

/// The fields of one JSON object, looked up by canonical name.
struct Fields<'a> {
    /// Where the object is, for error messages.
    context: String,
    /// Canonical name and value of each field present; names unique.
    found: Vec<(&'static str, &'a Value)>,
}

impl<'a> Fields<'a> {
    /// Matches each field of `object` to one of `allowed` without regard to case,
    /// refusing unknown and repeated fields.
    fn of(object: &'a Map<String, Value>, allowed: &[&'static str], context: &str) -> Result<Fields<'a>, PolicyError> {
        let mut found: Vec<(&'static str, &'a Value)> = Vec::with_capacity(object.len());
        for (written, value) in object {
            let Some(name) = allowed.iter().find(|name| name.eq_ignore_ascii_case(written)) else {
                return Err(PolicyError::UnknownField { context: context.to_owned(), field: written.clone() });
            };
            if found.iter().any(|(seen, _)| seen == name) {
                return Err(PolicyError::DuplicateField { context: context.to_owned(), field: name });
            }
            found.push((name, value));
        }
        Ok(Fields { context: context.to_owned(), found })
    }

    fn get(&self, name: &str) -> Option<&'a Value> {
        self.found.iter().find(|(found, _)| *found == name).map(|(_, value)| *value)
    }

    fn missing(&self, field: &'static str) -> PolicyError {
        PolicyError::MissingField { context: self.context.clone(), field }
    }

    fn wrong_type(&self, field: &str, expected: &'static str) -> PolicyError {
        PolicyError::WrongType { context: self.context.clone(), field: field.to_owned(), expected }
    }

    fn conflicting(&self, first: &'static str, second: &'static str) -> PolicyError {
        PolicyError::Conflicting { context: self.context.clone(), first, second }
    }
}
