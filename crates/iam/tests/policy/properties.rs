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

/// A condition block, possibly empty (then left out).
fn condition() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        "[ab*]{0,3}".prop_map(|prefix| Some(format!(r#"{{"StringLike":{{"s3:prefix":"{prefix}"}}}}"#))),
        (0u32..20).prop_map(|limit| Some(format!(r#"{{"NumericLessThan":{{"s3:max-keys":{limit}}}}}"#))),
        Just(Some(r#"{"Bool":{"aws:SecureTransport":"true"}}"#.to_owned())),
        Just(Some(r#"{"NotIpAddress":{"aws:SourceIp":["10.0.0.0/8","::1"]}}"#.to_owned())),
        Just(Some(r#"{"ForAnyValue:StringEquals":{"aws:groups":["g1","g2"]}}"#.to_owned())),
    ]
}

/// One statement as JSON.
fn statement() -> impl Strategy<Value = String> {
    (
        prop::bool::ANY,
        prop::bool::ANY,
        prop::collection::vec(action(), 1..4),
        prop::bool::ANY,
        prop::collection::vec(resource(), 1..3),
        condition(),
    )
        .prop_map(|(allow, not_action, actions, not_resource, resources, condition)| {
            let effect = if allow { "Allow" } else { "Deny" };
            let action_field = if not_action { "NotAction" } else { "Action" };
            let resource_field = if not_resource { "NotResource" } else { "Resource" };
            let actions = serde_json_list(&actions);
            let resources = serde_json_list(&resources);
            let condition = condition.map(|block| format!(r#","Condition":{block}"#)).unwrap_or_default();
            format!(r#"{{"Effect":"{effect}","{action_field}":{actions},"{resource_field}":{resources}{condition}}}"#)
        })
}

fn serde_json_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|item| format!("\"{item}\"")).collect();
    format!("[{}]", quoted.join(","))
}

/// A whole policy as JSON.
fn policy_json() -> impl Strategy<Value = String> {
    prop::collection::vec(statement(), 1..4)
        .prop_map(|statements| format!(r#"{{"Version":"2012-10-17","Statement":[{}]}}"#, statements.join(",")))
}

/// Request values over the same small alphabet.
fn request_values() -> impl Strategy<Value = ConditionValues> {
    ("[ab]{0,3}", 0u32..30, prop::bool::ANY, prop::sample::select(vec!["10.1.1.1", "192.0.2.1", "::1"])).prop_map(
        |(prefix, max_keys, secure, address)| {
            ConditionValues::new()
                .with("s3:prefix", prefix)
                .with("s3:max-keys", max_keys.to_string())
                .with("aws:SecureTransport", secure.to_string())
                .with("aws:SourceIp", address)
                .with("aws:groups", "g2")
        },
    )
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
        let combined = first.evaluate(&request).combine(second.evaluate(&request));
        prop_assert_eq!(combined.is_allowed(), evaluate(&[&first, &second], &request));
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
