//! Evaluation: deny beats allow, NotAction and NotResource, bucket and object
//! resources, conditions (prefix, delimiter, max-keys, addresses, TLS, dates, tags,
//! missing keys, set qualifiers, IfExists), policy variables and principals.

use cairn_iam::{ConditionValues, Decision, Policy, Request, evaluate};

use super::{allows, decide, policy};

fn values(pairs: &[(&str, &str)]) -> ConditionValues {
    pairs.iter().copied().collect()
}

#[test]
fn explicit_deny_beats_allow() {
    let parsed = policy(
        r#"{"Statement":[
            {"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::*"},
            {"Effect":"Deny","Action":"s3:DeleteObject","Resource":"arn:aws:s3:::photos/*"}
        ]}"#,
    );
    assert!(allows(&parsed, "s3:GetObject", Some("photos"), Some("a.jpg")));
    assert!(allows(&parsed, "s3:DeleteObject", Some("videos"), Some("a.mp4")));
    let none = ConditionValues::new();
    assert_eq!(decide(&parsed, "s3:DeleteObject", Some("photos"), Some("a.jpg"), &none), Decision::Deny);
    // The deny also wins across policies.
    let allow_all = policy(r#"{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#);
    let request = Request::new("s3:DeleteObject", &none).with_bucket("photos").with_key("a.jpg");
    assert!(!evaluate(&[&allow_all, &parsed], &request));
    assert!(evaluate(&[&allow_all], &request));
}

#[test]
fn default_is_deny() {
    let parsed = policy(r#"{"Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::a/*"}]}"#);
    let none = ConditionValues::new();
    assert_eq!(decide(&parsed, "s3:PutObject", Some("a"), Some("k"), &none), Decision::NoMatch);
    assert_eq!(decide(&parsed, "s3:GetObject", Some("b"), Some("k"), &none), Decision::NoMatch);
    let request = Request::new("s3:GetObject", &none).with_bucket("a").with_key("k");
    assert!(!evaluate(&[], &request));
}

#[test]
fn decisions_combine() {
    use Decision::{Allow, Deny, NoMatch};
    assert_eq!(NoMatch.combine(NoMatch), NoMatch);
    assert_eq!(NoMatch.combine(Allow), Allow);
    assert_eq!(Allow.combine(Deny), Deny);
    assert_eq!(Deny.combine(NoMatch), Deny);
    assert!(Allow.is_allowed() && !Deny.is_allowed() && !NoMatch.is_allowed());
}

#[test]
fn actions_match_without_case_and_with_wildcards() {
    let parsed = policy(r#"{"Statement":[{"Effect":"Allow","Action":["S3:get*","s3:List?ucket"],"Resource":"*"}]}"#);
    assert!(allows(&parsed, "s3:GetObject", Some("b"), Some("k")));
    assert!(allows(&parsed, "s3:GetBucketTagging", Some("b"), None));
    assert!(allows(&parsed, "s3:ListBucket", Some("b"), None));
    assert!(!allows(&parsed, "s3:ListBucketVersions", Some("b"), None));
    assert!(!allows(&parsed, "s3:PutObject", Some("b"), Some("k")));
}

#[test]
fn get_object_version_implies_get_object() {
    let parsed = policy(r#"{"Statement":[{"Effect":"Allow","Action":"s3:GetObjectVersion","Resource":"*"}]}"#);
    assert!(allows(&parsed, "s3:GetObject", Some("b"), Some("k")));
    let only_get = policy(r#"{"Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#);
    assert!(!allows(&only_get, "s3:GetObjectVersion", Some("b"), Some("k")));
}

#[test]
fn not_action() {
    let parsed = policy(
        r#"{"Statement":[{"Effect":"Allow","NotAction":["s3:Delete*","s3:PutBucketPolicy"],"Resource":"arn:aws:s3:::*"}]}"#,
    );
    assert!(allows(&parsed, "s3:GetObject", Some("b"), Some("k")));
    assert!(allows(&parsed, "s3:PutObject", Some("b"), Some("k")));
    assert!(!allows(&parsed, "s3:DeleteObject", Some("b"), Some("k")));
    assert!(!allows(&parsed, "s3:DeleteBucket", Some("b"), None));
    assert!(!allows(&parsed, "s3:PutBucketPolicy", Some("b"), None));
    // NotAction reaches admin actions too, whose resources are ignored.
    assert!(allows(&parsed, "admin:ServerInfo", None, None));
    let deny_all_but_reads = policy(
        r#"{"Statement":[
            {"Effect":"Allow","Action":"s3:*","Resource":"*"},
            {"Effect":"Deny","NotAction":"s3:Get*","Resource":"arn:aws:s3:::locked/*"}
        ]}"#,
    );
    assert!(allows(&deny_all_but_reads, "s3:GetObject", Some("locked"), Some("k")));
    assert!(!allows(&deny_all_but_reads, "s3:PutObject", Some("locked"), Some("k")));
    assert!(allows(&deny_all_but_reads, "s3:PutObject", Some("open"), Some("k")));
}

#[test]
fn not_resource() {
    let parsed = policy(
        r#"{"Statement":[{"Effect":"Allow","Action":"s3:*","NotResource":["arn:aws:s3:::secret","arn:aws:s3:::secret/*"]}]}"#,
    );
    assert!(allows(&parsed, "s3:GetObject", Some("public"), Some("k")));
    assert!(allows(&parsed, "s3:ListBucket", Some("public"), None));
    assert!(!allows(&parsed, "s3:GetObject", Some("secret"), Some("k")));
    assert!(!allows(&parsed, "s3:ListBucket", Some("secret"), None));
}

#[test]
fn bucket_and_object_resources() {
    let parsed = policy(
        r#"{"Statement":[
            {"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::photos"},
            {"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/2024/*"}
        ]}"#,
    );
    assert!(allows(&parsed, "s3:ListBucket", Some("photos"), None));
    assert!(!allows(&parsed, "s3:ListBucket", Some("photos2"), None));
    assert!(allows(&parsed, "s3:GetObject", Some("photos"), Some("2024/jan/a.jpg")));
    assert!(!allows(&parsed, "s3:GetObject", Some("photos"), Some("2023/a.jpg")));
    // Resources are case-sensitive.
    assert!(!allows(&parsed, "s3:GetObject", Some("Photos"), Some("2024/a.jpg")));
    assert!(!allows(&parsed, "s3:ListBucket", Some("PHOTOS"), None));
}

#[test]
fn identity_policies_match_bucket_requests_against_bucket_slash_like_minio() {
    let objects_only =
        policy(r#"{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::photos/*"}]}"#);
    assert!(allows(&objects_only, "s3:ListBucket", Some("photos"), None));
    assert!(!allows(&objects_only, "s3:ListBucket", Some("videos"), None));
    // A bucket policy matches the bucket name alone, as AWS does.
    let bucket_policy = policy(
        r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::photos/*"}]}"#,
    );
    let none = ConditionValues::new();
    let listing = Request::new("s3:ListBucket", &none).with_bucket("photos");
    assert_eq!(bucket_policy.evaluate_bucket_policy(&listing), Decision::NoMatch);
}

#[test]
fn account_level_actions() {
    let parsed =
        policy(r#"{"Statement":[{"Effect":"Allow","Action":"s3:ListAllMyBuckets","Resource":"arn:aws:s3:::*"}]}"#);
    assert!(allows(&parsed, "s3:ListAllMyBuckets", None, None));
    let one_bucket =
        policy(r#"{"Statement":[{"Effect":"Allow","Action":"s3:ListAllMyBuckets","Resource":"arn:aws:s3:::photos"}]}"#);
    assert!(!allows(&one_bucket, "s3:ListAllMyBuckets", None, None));
}

#[test]
fn admin_actions_ignore_resources() {
    let parsed = policy(
        r#"{"Statement":[
            {"Effect":"Allow","Action":["admin:ListUsers","admin:GetUser"]},
            {"Effect":"Allow","Action":"admin:ServerInfo","Resource":"arn:aws:s3:::nothing-matches-this"}
        ]}"#,
    );
    assert!(allows(&parsed, "admin:ListUsers", None, None));
    assert!(allows(&parsed, "admin:ServerInfo", None, None));
    assert!(allows(&parsed, "admin:ServerInfo", Some("bucket"), None));
    assert!(!allows(&parsed, "admin:CreateUser", None, None));
    assert!(!allows(&parsed, "s3:GetObject", Some("b"), Some("k")));
}

#[test]
fn cross_family_patterns_grant_admin_only_with_matching_resources() {
    let one_bucket = policy(r#"{"Statement":[{"Effect":"Allow","Action":"*","Resource":"arn:aws:s3:::photos/*"}]}"#);
    assert!(allows(&one_bucket, "s3:PutObject", Some("photos"), Some("k")));
    assert!(!allows(&one_bucket, "admin:CreateUser", None, None));
    let everything = policy(r#"{"Statement":[{"Effect":"Allow","Action":"*","Resource":"arn:aws:s3:::*"}]}"#);
    assert!(allows(&everything, "admin:CreateUser", None, None));
    let not_action =
        policy(r#"{"Statement":[{"Effect":"Allow","NotAction":"s3:*","Resource":"arn:aws:s3:::photos/*"}]}"#);
    assert!(!allows(&not_action, "admin:ServerInfo", None, None));
}

#[test]
fn listing_conditions_on_prefix_delimiter_and_max_keys() {
    let parsed = policy(
        r#"{"Statement":[{"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::b","Condition":{
            "StringLike":{"s3:prefix":["","docs/*"]},
            "StringEquals":{"s3:delimiter":"/"},
            "NumericLessThanEquals":{"s3:max-keys":"100"}
        }}]}"#,
    );
    let list = |pairs: &[(&str, &str)]| decide(&parsed, "s3:ListBucket", Some("b"), None, &values(pairs));
    assert_eq!(list(&[("s3:prefix", "docs/a"), ("s3:delimiter", "/"), ("s3:max-keys", "100")]), Decision::Allow);
    assert_eq!(list(&[("s3:prefix", ""), ("s3:delimiter", "/"), ("s3:max-keys", "5")]), Decision::Allow);
    assert_eq!(list(&[("s3:prefix", "private/"), ("s3:delimiter", "/"), ("s3:max-keys", "5")]), Decision::NoMatch);
    assert_eq!(list(&[("s3:prefix", "docs/"), ("s3:delimiter", "|"), ("s3:max-keys", "5")]), Decision::NoMatch);
    assert_eq!(list(&[("s3:prefix", "docs/"), ("s3:delimiter", "/"), ("s3:max-keys", "1000")]), Decision::NoMatch);
    assert_eq!(list(&[("s3:prefix", "docs/"), ("s3:delimiter", "/"), ("s3:max-keys", "lots")]), Decision::NoMatch);
    // Missing keys do not satisfy positive operators.
    assert_eq!(list(&[("s3:prefix", "docs/"), ("s3:delimiter", "/")]), Decision::NoMatch);
    assert_eq!(list(&[]), Decision::NoMatch);
}

#[test]
fn source_ip_ranges() {
    let parsed = policy(
        r#"{"Statement":[
            {"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":["192.168.0.0/16","2001:db8::/32"]}}},
            {"Effect":"Deny","Action":"s3:*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"192.168.66.6"}}}
        ]}"#,
    );
    let from =
        |address: &str| decide(&parsed, "s3:GetObject", Some("b"), Some("k"), &values(&[("aws:SourceIp", address)]));
    assert_eq!(from("192.168.1.20"), Decision::Allow);
    assert_eq!(from("::ffff:192.168.1.20"), Decision::Allow);
    assert_eq!(from("2001:db8:ffff::1"), Decision::Allow);
    assert_eq!(from("10.0.0.1"), Decision::NoMatch);
    assert_eq!(from("2001:db9::1"), Decision::NoMatch);
    assert_eq!(from("192.168.66.6"), Decision::Deny);
    assert_eq!(from("not an address"), Decision::NoMatch);
    assert_eq!(decide(&parsed, "s3:GetObject", Some("b"), Some("k"), &ConditionValues::new()), Decision::NoMatch);

    let outside = policy(
        r#"{"Statement":[{"Effect":"Deny","Action":"s3:*","Resource":"*","Condition":{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}]}"#,
    );
    let from =
        |address: &str| decide(&outside, "s3:GetObject", Some("b"), Some("k"), &values(&[("aws:SourceIp", address)]));
    assert_eq!(from("10.9.9.9"), Decision::NoMatch);
    assert_eq!(from("8.8.8.8"), Decision::Deny);
    // An absent key satisfies a negated operator.
    assert_eq!(decide(&outside, "s3:GetObject", Some("b"), Some("k"), &ConditionValues::new()), Decision::Deny);
}

#[test]
fn secure_transport() {
    let parsed = policy(
        r#"{"Statement":[
            {"Effect":"Allow","Action":"s3:*","Resource":"*"},
            {"Effect":"Deny","Action":"s3:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}
        ]}"#,
    );
    let over =
        |tls: &str| decide(&parsed, "s3:GetObject", Some("b"), Some("k"), &values(&[("aws:SecureTransport", tls)]));
    assert_eq!(over("true"), Decision::Allow);
    assert_eq!(over("false"), Decision::Deny);
    assert_eq!(over("FALSE"), Decision::Deny);
    assert_eq!(decide(&parsed, "s3:GetObject", Some("b"), Some("k"), &ConditionValues::new()), Decision::Allow);
}

#[test]
fn missing_keys_follow_aws() {
    let with = |condition: &str| {
        policy(&format!(
            r#"{{"Statement":[{{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{condition}}}]}}"#
        ))
    };
    let absent = ConditionValues::new();
    let cases = [
        (r#"{"StringEquals":{"s3:prefix":"a"}}"#, Decision::NoMatch),
        (r#"{"StringNotEquals":{"s3:prefix":"a"}}"#, Decision::Allow),
        (r#"{"StringLike":{"s3:prefix":"*"}}"#, Decision::NoMatch),
        (r#"{"StringNotLike":{"s3:prefix":"a*"}}"#, Decision::Allow),
        (r#"{"StringEqualsIfExists":{"s3:prefix":"a"}}"#, Decision::Allow),
        (r#"{"NumericLessThan":{"s3:max-keys":"10"}}"#, Decision::NoMatch),
        (r#"{"NumericLessThanIfExists":{"s3:max-keys":"10"}}"#, Decision::Allow),
        (r#"{"NumericNotEquals":{"s3:max-keys":"10"}}"#, Decision::Allow),
        (r#"{"DateLessThan":{"aws:CurrentTime":"2030-01-01T00:00:00Z"}}"#, Decision::NoMatch),
        (r#"{"Bool":{"aws:SecureTransport":"true"}}"#, Decision::NoMatch),
        (r#"{"ForAnyValue:StringEquals":{"aws:groups":"a"}}"#, Decision::NoMatch),
        (r#"{"ForAllValues:StringEquals":{"aws:groups":"a"}}"#, Decision::Allow),
        (r#"{"Null":{"s3:prefix":"true"}}"#, Decision::Allow),
        (r#"{"Null":{"s3:prefix":"false"}}"#, Decision::NoMatch),
    ];
    for (condition, expected) in cases {
        assert_eq!(decide(&with(condition), "s3:GetObject", Some("b"), Some("k"), &absent), expected, "{condition}");
    }
    let present = values(&[("s3:prefix", "a")]);
    assert_eq!(
        decide(&with(r#"{"StringEqualsIfExists":{"s3:prefix":"b"}}"#), "s3:GetObject", Some("b"), Some("k"), &present),
        Decision::NoMatch
    );
    assert_eq!(
        decide(&with(r#"{"Null":{"s3:prefix":"false"}}"#), "s3:GetObject", Some("b"), Some("k"), &present),
        Decision::Allow
    );
}

#[test]
fn string_operators() {
    let check = |condition: &str, value: &str| {
        let parsed = policy(&format!(
            r#"{{"Statement":[{{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{condition}}}]}}"#
        ));
        decide(&parsed, "s3:GetObject", Some("b"), Some("k"), &values(&[("aws:UserAgent", value)])) == Decision::Allow
    };
    assert!(check(r#"{"StringEquals":{"aws:UserAgent":["mc","aws-cli"]}}"#, "mc"));
    assert!(!check(r#"{"StringEquals":{"aws:UserAgent":"mc"}}"#, "MC"));
    assert!(check(r#"{"StringEqualsIgnoreCase":{"aws:UserAgent":"mc"}}"#, "MC"));
    assert!(!check(r#"{"StringNotEqualsIgnoreCase":{"aws:UserAgent":"mc"}}"#, "Mc"));
    assert!(check(r#"{"StringNotEquals":{"aws:UserAgent":"mc"}}"#, "curl"));
    assert!(check(r#"{"StringLike":{"aws:UserAgent":"MinIO (*) mc/?"}}"#, "MinIO (linux) mc/1"));
    assert!(!check(r#"{"StringLike":{"aws:UserAgent":"mc*"}}"#, "Mc/1"));
    assert!(check(r#"{"StringNotLike":{"aws:UserAgent":"curl*"}}"#, "mc"));
    assert!(check(r#"{"BinaryEquals":{"aws:UserAgent":"bWM="}}"#, "mc"));
}

#[test]
fn numeric_and_date_operators() {
    let check = |condition: &str, key: &str, value: &str| {
        let parsed = policy(&format!(
            r#"{{"Statement":[{{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{condition}}}]}}"#
        ));
        decide(&parsed, "s3:GetObject", Some("b"), Some("k"), &values(&[(key, value)])) == Decision::Allow
    };
    assert!(check(r#"{"NumericEquals":{"s3:max-keys":"10"}}"#, "s3:max-keys", "10"));
    assert!(check(r#"{"NumericGreaterThan":{"s3:max-keys":9}}"#, "s3:max-keys", "10"));
    assert!(!check(r#"{"NumericGreaterThan":{"s3:max-keys":10}}"#, "s3:max-keys", "10"));
    assert!(check(r#"{"NumericGreaterThanEquals":{"s3:max-keys":10}}"#, "s3:max-keys", "10"));
    assert!(check(r#"{"NumericLessThan":{"s3:max-keys":"10.5"}}"#, "s3:max-keys", "10"));
    assert!(!check(r#"{"NumericNotEquals":{"s3:max-keys":10}}"#, "s3:max-keys", "10"));
    assert!(!check(r#"{"NumericNotEquals":{"s3:max-keys":10}}"#, "s3:max-keys", "many"));
    let now = "2025-06-01T12:00:00Z";
    assert!(check(r#"{"DateLessThan":{"aws:CurrentTime":"2026-01-01T00:00:00Z"}}"#, "aws:CurrentTime", now));
    assert!(!check(r#"{"DateGreaterThan":{"aws:CurrentTime":"2026-01-01T00:00:00Z"}}"#, "aws:CurrentTime", now));
    assert!(check(r#"{"DateEquals":{"aws:CurrentTime":"2025-06-01T14:00:00+02:00"}}"#, "aws:CurrentTime", now));
    assert!(check(r#"{"DateGreaterThanEquals":{"aws:EpochTime":"1700000000"}}"#, "aws:EpochTime", "1748779200"));
    assert!(!check(r#"{"DateLessThanEquals":{"aws:CurrentTime":"2025-06-01T11:59:59Z"}}"#, "aws:CurrentTime", now));
}

#[test]
fn set_qualifiers_on_multi_valued_keys() {
    let with = |condition: &str| {
        policy(&format!(
            r#"{{"Statement":[{{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{condition}}}]}}"#
        ))
    };
    let groups = |names: &[&str]| {
        let mut values = ConditionValues::new();
        for name in names {
            values.push("aws:groups", *name);
        }
        values
    };
    let any = with(r#"{"ForAnyValue:StringEquals":{"aws:groups":["admins","ops"]}}"#);
    let all = with(r#"{"ForAllValues:StringEquals":{"aws:groups":["admins","ops"]}}"#);
    let none_of = with(r#"{"StringNotEquals":{"aws:groups":"banned"}}"#);
    let run = |policy: &Policy, names: &[&str]| decide(policy, "s3:GetObject", Some("b"), Some("k"), &groups(names));
    assert_eq!(run(&any, &["dev", "ops"]), Decision::Allow);
    assert_eq!(run(&any, &["dev"]), Decision::NoMatch);
    assert_eq!(run(&all, &["admins", "ops"]), Decision::Allow);
    assert_eq!(run(&all, &["admins", "dev"]), Decision::NoMatch);
    assert_eq!(run(&none_of, &["dev", "ops"]), Decision::Allow);
    assert_eq!(run(&none_of, &["dev", "banned"]), Decision::NoMatch);
}

#[test]
fn existing_object_tags() {
    let parsed = policy(
        r#"{"Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{"StringEquals":{"s3:ExistingObjectTag/Classification":"public"}}}]}"#,
    );
    let tagged =
        |key: &str, value: &str| decide(&parsed, "s3:GetObject", Some("b"), Some("k"), &values(&[(key, value)]));
    assert_eq!(tagged("s3:ExistingObjectTag/Classification", "public"), Decision::Allow);
    assert_eq!(tagged("s3:existingobjecttag/Classification", "public"), Decision::Allow);
    assert_eq!(tagged("s3:ExistingObjectTag/classification", "public"), Decision::NoMatch);
    assert_eq!(tagged("s3:ExistingObjectTag/Classification", "secret"), Decision::NoMatch);
}

#[test]
fn policy_variables_in_resources_and_conditions() {
    let parsed = policy(
        r#"{"Version":"2012-10-17","Statement":[
            {"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::home","Condition":{"StringLike":{"s3:prefix":"${aws:username}/*"}}},
            {"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::home/${aws:username}/*"},
            {"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::ids/${aws:userid}"}
        ]}"#,
    );
    let alice = values(&[("aws:username", "alice"), ("aws:userid", "AKIA1")]);
    assert_eq!(decide(&parsed, "s3:PutObject", Some("home"), Some("alice/notes.txt"), &alice), Decision::Allow);
    assert_eq!(decide(&parsed, "s3:PutObject", Some("home"), Some("bob/notes.txt"), &alice), Decision::NoMatch);
    assert_eq!(decide(&parsed, "s3:GetObject", Some("ids"), Some("AKIA1"), &alice), Decision::Allow);
    let listing = values(&[("aws:username", "alice"), ("s3:prefix", "alice/docs")]);
    assert_eq!(decide(&parsed, "s3:ListBucket", Some("home"), None, &listing), Decision::Allow);
    let snooping = values(&[("aws:username", "alice"), ("s3:prefix", "bob/")]);
    assert_eq!(decide(&parsed, "s3:ListBucket", Some("home"), None, &snooping), Decision::NoMatch);
    // A user name with wildcard characters matches only itself.
    let star = values(&[("aws:username", "*")]);
    assert_eq!(decide(&parsed, "s3:PutObject", Some("home"), Some("alice/notes.txt"), &star), Decision::NoMatch);
    assert_eq!(decide(&parsed, "s3:PutObject", Some("home"), Some("*/notes.txt"), &star), Decision::Allow);
    // Without a user name the variable stays literal and matches nothing real.
    let anonymous = ConditionValues::new();
    assert_eq!(decide(&parsed, "s3:PutObject", Some("home"), Some("alice/x"), &anonymous), Decision::NoMatch);
}

#[test]
fn version_2008_has_no_variables() {
    let parsed = policy(
        r#"{"Version":"2008-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::home/${aws:username}/*"}]}"#,
    );
    let alice = values(&[("aws:username", "alice")]);
    assert_eq!(decide(&parsed, "s3:GetObject", Some("home"), Some("alice/x"), &alice), Decision::NoMatch);
    assert_eq!(decide(&parsed, "s3:GetObject", Some("home"), Some("${aws:username}/x"), &alice), Decision::Allow);
}

#[test]
fn bucket_policy_principals() {
    let parsed = policy(
        r#"{"Statement":[
            {"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/public/*"},
            {"Effect":"Allow","Principal":{"AWS":["alice","svc-*"]},"Action":"s3:*","Resource":["arn:aws:s3:::b","arn:aws:s3:::b/*"]},
            {"Effect":"Deny","Principal":{"AWS":"mallory"},"Action":"s3:*","Resource":"arn:aws:s3:::b/*"}
        ]}"#,
    );
    let none = ConditionValues::new();
    let request = |principal: Option<&'static str>, action: &'static str, key: Option<&'static str>| Request {
        action,
        bucket: Some("b"),
        key,
        principal,
        conditions: &none,
    };
    let decide = |request: Request<'_>| parsed.evaluate_bucket_policy(&request);
    assert_eq!(decide(request(None, "s3:GetObject", Some("public/a"))), Decision::Allow);
    assert_eq!(decide(request(None, "s3:GetObject", Some("private/a"))), Decision::NoMatch);
    assert_eq!(decide(request(None, "s3:PutObject", Some("public/a"))), Decision::NoMatch);
    assert_eq!(decide(request(Some("alice"), "s3:PutObject", Some("private/a"))), Decision::Allow);
    assert_eq!(decide(request(Some("svc-backup"), "s3:ListBucket", None)), Decision::Allow);
    assert_eq!(decide(request(Some("bob"), "s3:PutObject", Some("private/a"))), Decision::NoMatch);
    assert_eq!(decide(request(Some("bob"), "s3:GetObject", Some("public/a"))), Decision::Allow);
    assert_eq!(decide(request(Some("mallory"), "s3:GetObject", Some("public/a"))), Decision::Deny);
    // Identity evaluation ignores principals, so mallory's deny reaches everyone.
    assert_eq!(parsed.evaluate(&request(Some("bob"), "s3:PutObject", Some("private/a"))), Decision::Deny);
}

#[test]
fn bucket_policy_statement_without_principal_matches_nobody() {
    let parsed = policy(r#"{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#);
    let none = ConditionValues::new();
    let request = Request::new("s3:GetObject", &none).with_bucket("b").with_key("k").with_principal("alice");
    assert_eq!(parsed.evaluate_bucket_policy(&request), Decision::NoMatch);
}
