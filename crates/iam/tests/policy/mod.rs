//! Policy parsing, evaluation, canned policies, bucket presets and properties.

mod bucket;
mod canned;
mod evaluate;
mod parse;
mod properties;

use cairn_iam::{ConditionValues, Decision, Policy, Request};

/// Parses a policy that the test expects to be valid.
pub fn policy(json: &str) -> Policy {
    match Policy::parse(json.as_bytes()) {
        Ok(policy) => policy,
        Err(error) => panic!("policy should parse: {error}\n{json}"),
    }
}

/// The identity-policy decision for `action` on `bucket`/`key` with `conditions`.
pub fn decide(
    policy: &Policy,
    action: &str,
    bucket: Option<&str>,
    key: Option<&str>,
    conditions: &ConditionValues,
) -> Decision {
    let request = Request { action, bucket, key, principal: Some("alice"), conditions };
    policy.evaluate(&request)
}

/// Whether an identity policy allows `action` on `bucket`/`key`, with no conditions.
pub fn allows(policy: &Policy, action: &str, bucket: Option<&str>, key: Option<&str>) -> bool {
    decide(policy, action, bucket, key, &ConditionValues::new()) == Decision::Allow
}
