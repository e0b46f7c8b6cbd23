//! Properties of parsing, printing and evaluating over generated policies and requests.

use cairn_iam::policy::actions::S3_ACTIONS;
use cairn_iam::{ConditionValues, Decision, Policy, Request, evaluate};
use proptest::prelude::*;

/// A few action patterns, concrete and wildcard.
fn action() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(S3_ACTIONS).prop_map(str::to_owned),
        Just("s3:*".to_owned()),
        Just("s3:Get*".to_owned()),
        Just("s3:List*".to_owned()),
    ]
}

/// Resource ARNs over a small alphabet so that matches happen.
fn resource() -> impl Strategy<Value = String> {
    prop_oneof![Just("*".to_owned()), "[ab]{1,2}(/[ab*?]{0,3})?".prop_map(|pattern| format!("arn:aws:s3:::{pattern}"))]
}

/// The conditions the generated statements use; each knows how to judge a request itself.
#[derive(Debug, Clone)]
enum ModelCondition {
    /// `StringLike s3:prefix <pattern>`.
    PrefixLike(String),
    /// `NumericLessThan s3:max-keys <limit>`.
    MaxKeysBelow(u32),
    /// `Bool aws:SecureTransport true`.
    SecureTransport,
    /// `NotIpAddress aws:SourceIp [10.0.0.0/8, ::1]`.
    NotFromTenOrLoopback,
    /// `ForAnyValue:StringEquals aws:groups [g1, g2]`.
    InGroupOneOrTwo,
}

impl ModelCondition {
    fn json(&self) -> String {
        match self {
            ModelCondition::PrefixLike(prefix) => format!(r#"{{"StringLike":{{"s3:prefix":"{prefix}"}}}}"#),
            ModelCondition::MaxKeysBelow(limit) => format!(r#"{{"NumericLessThan":{{"s3:max-keys":{limit}}}}}"#),
            ModelCondition::SecureTransport => r#"{"Bool":{"aws:SecureTransport":"true"}}"#.to_owned(),
            ModelCondition::NotFromTenOrLoopback => {
                r#"{"NotIpAddress":{"aws:SourceIp":["10.0.0.0/8","::1"]}}"#.to_owned()
            }
            ModelCondition::InGroupOneOrTwo => r#"{"ForAnyValue:StringEquals":{"aws:groups":["g1","g2"]}}"#.to_owned(),
        }
    }

    fn holds(&self, values: &ModelValues) -> bool {
        match self {
            ModelCondition::PrefixLike(pattern) => glob(pattern, &values.prefix),
            ModelCondition::MaxKeysBelow(limit) => values.max_keys < *limit,
            ModelCondition::SecureTransport => values.secure,
            ModelCondition::NotFromTenOrLoopback => !(values.address.starts_with("10.") || values.address == "::1"),
            ModelCondition::InGroupOneOrTwo => ["g1", "g2"].contains(&values.group),
        }
    }
}

/// A condition block, possibly empty (then left out).
fn condition() -> impl Strategy<Value = Option<ModelCondition>> {
    prop_oneof![
        Just(None),
        "[ab*]{0,3}".prop_map(|prefix| Some(ModelCondition::PrefixLike(prefix))),
        (0u32..20).prop_map(|limit| Some(ModelCondition::MaxKeysBelow(limit))),
        Just(Some(ModelCondition::SecureTransport)),
        Just(Some(ModelCondition::NotFromTenOrLoopback)),
        Just(Some(ModelCondition::InGroupOneOrTwo)),
    ]
}

/// A generated statement, kept as data so that a model can judge requests without the
/// crate's parser or evaluator.
#[derive(Debug, Clone)]
struct ModelStatement {
    allow: bool,
    not_action: bool,
    actions: Vec<String>,
    not_resource: bool,
    resources: Vec<String>,
    condition: Option<ModelCondition>,
}

impl ModelStatement {
    fn json(&self) -> String {
        let effect = if self.allow { "Allow" } else { "Deny" };
        let action_field = if self.not_action { "NotAction" } else { "Action" };
        let resource_field = if self.not_resource { "NotResource" } else { "Resource" };
        let actions = serde_json_list(&self.actions);
        let resources = serde_json_list(&self.resources);
        let condition = self.condition.as_ref().map(|c| format!(r#","Condition":{}"#, c.json())).unwrap_or_default();
        format!(r#"{{"Effect":"{effect}","{action_field}":{actions},"{resource_field}":{resources}{condition}}}"#)
    }

    /// Whether the statement applies to `request`, as AWS documents identity policies
    /// (and MinIO matches a bucket-level request against `bucket` and `bucket/`).
    fn applies(&self, request: &ModelRequest) -> bool {
        let action_listed = self.actions.iter().any(|pattern| action_pattern_matches(pattern, &request.action));
        let resource_listed = self.resources.iter().any(|pattern| {
            let Some(arn) = pattern.strip_prefix("arn:aws:s3:::") else { return pattern == "*" };
            match &request.key {
                Some(key) => glob(arn, &format!("{}/{key}", request.bucket)),
                None => glob(arn, &request.bucket) || glob(arn, &format!("{}/", request.bucket)),
            }
        });
        action_listed != self.not_action
            && resource_listed != self.not_resource
            && self.condition.as_ref().is_none_or(|c| c.holds(&request.values))
    }
}

/// `pattern` names `action`: `*` wildcards (the generated ones end in `*`), and MinIO's
/// one implied action, `s3:GetObjectVersion` covering `s3:GetObject`.
fn action_pattern_matches(pattern: &str, action: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(stem) => action.starts_with(stem),
        None => pattern == action || (pattern == "s3:GetObjectVersion" && action == "s3:GetObject"),
    }
}

/// `*` matches any run of characters and `?` one character; a plain recursive matcher,
/// fine for the short strings generated here.
fn glob(pattern: &str, text: &str) -> bool {
    let mut pattern_chars = pattern.chars();
    match pattern_chars.next() {
        None => text.is_empty(),
        Some('*') => {
            let rest = pattern_chars.as_str();
            text.char_indices().map(|(at, _)| at).chain([text.len()]).any(|at| glob(rest, &text[at..]))
        }
        Some(first) => {
            let mut text_chars = text.chars();
            match text_chars.next() {
                Some(c) if first == '?' || first == c => glob(pattern_chars.as_str(), text_chars.as_str()),
                _ => false,
            }
        }
    }
}

/// One statement.
fn statement() -> impl Strategy<Value = ModelStatement> {
    (
        prop::bool::ANY,
        prop::bool::ANY,
        prop::collection::vec(action(), 1..4),
        prop::bool::ANY,
        prop::collection::vec(resource(), 1..3),
        condition(),
    )
        .prop_map(|(allow, not_action, actions, not_resource, resources, condition)| ModelStatement {
            allow,
            not_action,
            actions,
            not_resource,
            resources,
            condition,
        })
}

fn serde_json_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|item| format!("\"{item}\"")).collect();
    format!("[{}]", quoted.join(","))
}

fn policy_text(statements: &[ModelStatement]) -> String {
    let statements: Vec<String> = statements.iter().map(ModelStatement::json).collect();
    format!(r#"{{"Version":"2012-10-17","Statement":[{}]}}"#, statements.join(","))
}

/// A whole policy, as statements.
fn model_policy() -> impl Strategy<Value = Vec<ModelStatement>> {
    prop::collection::vec(statement(), 1..4)
}

/// A whole policy as JSON.
fn policy_json() -> impl Strategy<Value = String> {
    model_policy().prop_map(|statements| policy_text(&statements))
}

/// The request values the conditions look at.
#[derive(Debug, Clone)]
struct ModelValues {
    prefix: String,
    max_keys: u32,
    secure: bool,
    address: &'static str,
    group: &'static str,
}

impl ModelValues {
    fn condition_values(&self) -> ConditionValues {
        ConditionValues::new()
            .with("s3:prefix", self.prefix.clone())
            .with("s3:max-keys", self.max_keys.to_string())
            .with("aws:SecureTransport", self.secure.to_string())
            .with("aws:SourceIp", self.address)
            .with("aws:groups", self.group)
    }
}

/// Request values over the same small alphabet.
fn model_values() -> impl Strategy<Value = ModelValues> {
    (
        "[ab]{0,3}",
        0u32..30,
        prop::bool::ANY,
        prop::sample::select(vec!["10.1.1.1", "192.0.2.1", "::1"]),
        prop::sample::select(vec!["g2", "g3"]),
    )
        .prop_map(|(prefix, max_keys, secure, address, group)| ModelValues {
            prefix,
            max_keys,
            secure,
            address,
            group,
        })
}

fn request_values() -> impl Strategy<Value = ConditionValues> {
    model_values().prop_map(|values| values.condition_values())
}

/// A request as the model sees it.
#[derive(Debug, Clone)]
struct ModelRequest {
    action: String,
    bucket: String,
    key: Option<String>,
    values: ModelValues,
}

fn model_request() -> impl Strategy<Value = ModelRequest> {
    (prop::sample::select(S3_ACTIONS), "[ab]{1,2}", prop::option::of("[ab/]{0,4}"), model_values())
        .prop_map(|(action, bucket, key, values)| ModelRequest { action: action.to_owned(), bucket, key, values })
}

/// The model's verdict over several identity policies: refused if any applying statement
/// denies, allowed if some applying statement allows, refused by default.
fn model_allows(policies: &[Vec<ModelStatement>], request: &ModelRequest) -> bool {
    let applying: Vec<&ModelStatement> = policies.iter().flatten().filter(|s| s.applies(request)).collect();
    !applying.iter().any(|s| !s.allow) && applying.iter().any(|s| s.allow)
}

proptest! {
    #[test]
    fn printed_policies_parse_back_equal(json in policy_json()) {
        let parsed = Policy::parse(json.as_bytes()).expect("generated policies are valid");
        let printed = parsed.to_json();
        let reparsed = Policy::parse(printed.as_bytes()).expect("printed policies are valid");
        prop_assert_eq!(&reparsed, &parsed);
        prop_assert_eq!(reparsed.to_json(), printed);
    }

    #[test]
    fn adding_a_deny_everything_statement_refuses_everything(
        json in policy_json(),
        action in prop::sample::select(S3_ACTIONS),
        bucket in "[ab]{1,2}",
        key in prop::option::of("[ab/]{0,4}"),
        values in request_values(),
    ) {
        let parsed = Policy::parse(json.as_bytes()).expect("valid");
        let deny_all = Policy::parse(br#"{"Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}"#).expect("valid");
        let request = Request { action, bucket: Some(&bucket), key: key.as_deref(), principal: Some("user"), conditions: &values };
        prop_assert!(!evaluate(&[&parsed, &deny_all], &request));
        prop_assert_eq!(deny_all.evaluate(&request), Decision::Deny);
    }

    #[test]
    fn decisions_agree_with_policy_order(
        first in policy_json(),
        second in policy_json(),
        action in prop::sample::select(S3_ACTIONS),
        bucket in "[ab]{1,2}",
        key in prop::option::of("[ab/]{0,4}"),
        values in request_values(),
    ) {
        let first = Policy::parse(first.as_bytes()).expect("valid");
        let second = Policy::parse(second.as_bytes()).expect("valid");
        let request = Request { action, bucket: Some(&bucket), key: key.as_deref(), principal: None, conditions: &values };
        prop_assert_eq!(evaluate(&[&first, &second], &request), evaluate(&[&second, &first], &request));
    }

    /// Evaluation agrees with a model written from the documented rules (statement
    /// matching, deny wins, default deny), not from the evaluator's code.
    #[test]
    fn evaluation_agrees_with_a_model_of_the_rules(
        policies in prop::collection::vec(model_policy(), 1..4),
        request in model_request(),
    ) {
        let parsed: Vec<Policy> =
            policies.iter().map(|p| Policy::parse(policy_text(p).as_bytes()).expect("valid")).collect();
        let references: Vec<&Policy> = parsed.iter().collect();
        let values = request.values.condition_values();
        let asked = Request {
            action: &request.action,
            bucket: Some(&request.bucket),
            key: request.key.as_deref(),
            principal: Some("user"),
            conditions: &values,
        };
        prop_assert_eq!(evaluate(&references, &asked), model_allows(&policies, &request), "{:#?}", policies);
        for (policy, statements) in parsed.iter().zip(&policies) {
            let expected = match statements.iter().filter(|s| s.applies(&request)).map(|s| s.allow).collect::<Vec<_>>() {
                allows if allows.contains(&false) => Decision::Deny,
                allows if allows.is_empty() => Decision::NoMatch,
                _ => Decision::Allow,
            };
            prop_assert_eq!(policy.evaluate(&asked), expected);
        }
    }

    #[test]
    fn bucket_star_allows_exactly_that_buckets_objects(
        bucket in "[a-z0-9]{3,10}",
        requested in "[a-z0-9]{3,10}",
        key in "[a-zA-Z0-9/._ -]{1,40}",
    ) {
        let json = format!(r#"{{"Statement":[{{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::{bucket}/*"}}]}}"#);
        let parsed = Policy::parse(json.as_bytes()).expect("valid");
        let none = ConditionValues::new();
        let request = Request::new("s3:GetObject", &none).with_bucket(&requested).with_key(&key);
        prop_assert_eq!(parsed.evaluate(&request).is_allowed(), requested == bucket);
    }

    #[test]
    fn prefix_star_allows_exactly_keys_with_that_prefix(prefix in "[ab/]{0,5}", key in "[ab/]{0,8}") {
        let json = format!(r#"{{"Statement":[{{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/{prefix}*"}}]}}"#);
        let parsed = Policy::parse(json.as_bytes()).expect("valid");
        let none = ConditionValues::new();
        let request = Request::new("s3:GetObject", &none).with_bucket("b").with_key(&key);
        prop_assert_eq!(parsed.evaluate(&request).is_allowed(), key.starts_with(&prefix));
    }

    #[test]
    fn parsing_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = Policy::parse(&bytes);
    }

    #[test]
    fn parsing_mangled_policies_never_panics(json in policy_json(), cut in any::<prop::sample::Index>(), insert in "[\\[\\]{}\":,*$?a-z0-9]{0,3}") {
        let at = cut.index(json.len() + 1);
        let mut mangled = json.clone();
        if mangled.is_char_boundary(at) {
            mangled.insert_str(at, &insert);
        }
        if let Ok(parsed) = Policy::parse(mangled.as_bytes()) {
            let reparsed = Policy::parse(parsed.to_json().as_bytes());
            prop_assert_eq!(reparsed.as_ref(), Ok(&parsed));
        }
    }

    #[test]
    fn evaluation_never_panics(
        json in policy_json(),
        action in any::<String>(),
        bucket in prop::option::of(any::<String>()),
        key in any::<String>(),
        principal in prop::option::of(any::<String>()),
        pairs in prop::collection::vec(("(s3:prefix|aws:SourceIp|s3:max-keys|aws:groups|aws:SecureTransport)", any::<String>()), 0..6),
    ) {
        let parsed = Policy::parse(json.as_bytes()).expect("valid");
        let values: ConditionValues = pairs.into_iter().collect();
        let key = bucket.as_ref().map(|_| key.as_str());
        let request = Request { action: &action, bucket: bucket.as_deref(), key, principal: principal.as_deref(), conditions: &values };
        let _ = parsed.evaluate(&request);
        let _ = parsed.evaluate_bucket_policy(&request);
    }
}
