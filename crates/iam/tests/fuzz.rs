//! Fuzz target for policy JSON (bucket policies come from any client allowed to set
//! them, identity policies from administrators, both back from storage): parsing never
//! panics and holds memory in proportion to the document; a policy that parses prints
//! canonically and parses back to itself, and evaluating it against any request
//! neither panics nor depends on anything but the policy and the request.
//! Case counts: `CAIRN_FUZZ_CASES`.

use cairn_fuzz::memory::within;
use cairn_fuzz::mutate::hostile;
use cairn_iam::policy::canned_json;
use cairn_iam::{CANNED_NAMES, ConditionValues, Policy, PresetKind, Request, classify, preset};
use proptest::prelude::*;

/// Cases per target in a normal test run.
const CASES: u32 = 2048;
/// Longest arbitrary input (a little over the 20 KiB policy limit).
const INPUT_BYTES_MAX: usize = 21 * 1024;

/// Policies with every kind of field: conditions of each family, variables,
/// principals, NotAction/NotResource, wildcards.
const HANDWRITTEN: &[&str] = &[
    r#"{"Version":"2012-10-17","Id":"x","Statement":[{"Sid":"1","Effect":"Allow","Principal":{"AWS":["*"]},"Action":["s3:GetObject","s3:ListBucket"],"Resource":["arn:aws:s3:::b","arn:aws:s3:::b/*"],"Condition":{"StringLike":{"s3:prefix":["home/${aws:username}/*"]},"IpAddress":{"aws:SourceIp":["10.0.0.0/8","2001:db8::/32"]}}}]}"#,
    r#"{"Statement":{"Effect":"Deny","NotAction":"s3:Get*","NotResource":"arn:aws:s3:::b/p?/*","Condition":{"NumericGreaterThanEquals":{"s3:max-keys":"10"},"Bool":{"aws:SecureTransport":false},"ForAllValues:StringEquals":{"aws:groups":["a","b"]},"Null":{"s3:delimiter":"true"},"DateLessThan":{"aws:CurrentTime":"2030-01-01T00:00:00Z"}}}}"#,
    r#"{"version":"2008-10-17","statement":[{"effect":"Allow","action":"admin:*"},{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"StringNotEqualsIgnoreCase":{"aws:Referer":"X"},"ArnLike":{"aws:PrincipalArn":"arn:*"}}}]}"#,
];

fn seeds() -> Vec<Vec<u8>> {
    let mut seeds: Vec<Vec<u8>> = HANDWRITTEN.iter().map(|p| p.as_bytes().to_vec()).collect();
    seeds.extend(CANNED_NAMES.iter().filter_map(|name| canned_json(name)).map(|json| json.as_bytes().to_vec()));
    for kind in PresetKind::ALL {
        seeds.push(preset(kind, "photos", "2024/").to_json().into_bytes());
    }
    seeds.retain(|seed| !seed.is_empty());
    seeds
}

/// A request to evaluate: action, bucket, key (only with a bucket), condition values.
#[derive(Debug, Clone)]
struct Probe {
    action: String,
    bucket: Option<String>,
    key: Option<String>,
    values: Vec<(String, String)>,
}

/// Requests over names that the seeds mention, so that evaluation walks real matches.
fn probes() -> impl Strategy<Value = Probe> {
    let action =
        proptest::sample::select(vec!["s3:GetObject", "s3:ListBucket", "s3:PutObject", "admin:ServerInfo", "x"]);
    let bucket = prop_oneof![Just(None), Just(Some("photos".to_owned())), Just(Some("b".to_owned()))];
    let key = prop_oneof![Just(None), "(home/alice/|2024/|)[a-z*?/]{0,6}".prop_map(Some)];
    let values = proptest::collection::vec(
        (
            proptest::sample::select(vec!["s3:prefix", "aws:SourceIp", "aws:username", "s3:max-keys", "aws:groups"]),
            prop_oneof!["[a-z0-9./:*]{0,12}", Just("10.1.2.3".to_owned()), Just("2001:db8::1".to_owned())],
        ),
        0..4,
    );
    (action, bucket, key, values).prop_map(|(action, bucket, key, values)| Probe {
        action: action.to_owned(),
        bucket,
        key,
        values: values.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
    })
}

#[test]
fn fuzz_policy_json() {
    let strategy = (hostile(seeds(), INPUT_BYTES_MAX), probes());
    cairn_fuzz::run("iam_policy_json", CASES, strategy, |(bytes, probe)| {
        let parsed = within(bytes.len(), 0, || Policy::parse(&bytes))?;
        let Ok(policy) = parsed else { return Ok(()) };
        let json = policy.to_json();
        let again = Policy::parse(json.as_bytes()).map_err(|e| TestCaseError::fail(format!("{json}: {e}")))?;
        prop_assert_eq!(&again, &policy, "canonical form {} reads back differently", json);
        prop_assert_eq!(again.to_json(), json);
        let _ = policy.validate_bucket_policy("photos");
        let _ = policy.validate_identity_policy();
        let _ = classify(&policy, "photos");
        let mut conditions = ConditionValues::new();
        for (name, value) in &probe.values {
            conditions.push(name, value.clone());
        }
        let mut request = Request::new(&probe.action, &conditions).with_principal("alice");
        if let Some(bucket) = &probe.bucket {
            request = request.with_bucket(bucket);
            if let Some(key) = &probe.key {
                request = request.with_key(key);
            }
        }
        let decision = within(bytes.len(), 0, || policy.evaluate(&request))?;
        prop_assert_eq!(decision, policy.evaluate(&request), "evaluation is not a function of its inputs");
        let _ = policy.evaluate_bucket_policy(&request);
        Ok(())
    });
}
