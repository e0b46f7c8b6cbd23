//! Parsing: valid documents from AWS's and MinIO's documentation, one test per kind of
//! malformed document, canonical output, and the bucket/identity policy rules.

use cairn_iam::policy::ResourceSpec;
use cairn_iam::{ActionSpec, Effect, POLICY_BYTES_MAX, Policy, PolicyError, PolicyVersion, ResourcePattern};

use super::policy;

/// Parses a document the test expects to be refused, returning the error.
fn refused(json: &str) -> PolicyError {
    match Policy::parse(json.as_bytes()) {
        Ok(policy) => panic!("policy should be refused, parsed as {policy:?}\n{json}"),
        Err(error) => error,
    }
}

/// A one-statement policy around the given statement body.
fn statement(body: &str) -> String {
    format!(r#"{{"Version":"2012-10-17","Statement":[{{{body}}}]}}"#)
}

#[test]
fn aws_home_directory_example() {
    // AWS's "Allow users to access their home directory" example.
    let parsed = policy(
        r#"{
          "Version": "2012-10-17",
          "Statement": [
            {
              "Sid": "AllowListingOfUserFolder",
              "Action": ["s3:ListBucket"],
              "Effect": "Allow",
              "Resource": ["arn:aws:s3:::mybucket"],
              "Condition": {"StringLike": {"s3:prefix": ["", "home/", "home/${aws:username}/*"]}}
            },
            {
              "Sid": "AllowAllS3ActionsInUserFolder",
              "Effect": "Allow",
              "Action": ["s3:*"],
              "Resource": ["arn:aws:s3:::mybucket/home/${aws:username}/*"]
            }
          ]
        }"#,
    );
    assert_eq!(parsed.version(), PolicyVersion::V20121017);
    assert_eq!(parsed.statements().len(), 2);
    let first = &parsed.statements()[0];
    assert_eq!(first.sid(), Some("AllowListingOfUserFolder"));
    assert_eq!(first.effect(), Effect::Allow);
    assert_eq!(first.actions(), &ActionSpec::Action(vec!["s3:ListBucket".into()]));
    assert_eq!(first.conditions().len(), 1);
    assert_eq!(first.conditions()[0].key(), "s3:prefix");
    assert_eq!(first.conditions()[0].values(), ["", "home/", "home/${aws:username}/*"]);
}

#[test]
fn bucket_policy_with_principal_and_single_strings() {
    let parsed = policy(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::public/*"}}"#,
    );
    let statement = &parsed.statements()[0];
    assert!(statement.principal().is_some_and(|principal| principal.is_everyone()));
    assert_eq!(statement.resources(), Some(&ResourceSpec::Resource(vec![ResourcePattern::S3("public/*".into())])));
    Policy::parse_bucket_policy(parsed.to_json().as_bytes(), "public").expect("valid bucket policy");
}

#[test]
fn principal_forms() {
    for principal in [r#""*""#, r#"{"AWS":"*"}"#, r#"{"AWS":["*"]}"#, r#"{"aws":["alice","bob*"]}"#] {
        let json = statement(&format!(
            r#""Effect":"Allow","Principal":{principal},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*""#
        ));
        policy(&json);
    }
}

#[test]
fn versions() {
    let body = r#""Effect":"Allow","Action":"s3:GetObject","Resource":"*""#;
    let old = policy(&format!(r#"{{"Version":"2008-10-17","Statement":[{{{body}}}]}}"#));
    assert_eq!(old.version(), PolicyVersion::V20081017);
    // MinIO takes a missing or empty Version as the current one.
    let missing = policy(&format!(r#"{{"Statement":[{{{body}}}]}}"#));
    assert_eq!(missing.version(), PolicyVersion::V20121017);
    let empty = policy(&format!(r#"{{"Version":"","Statement":[{{{body}}}]}}"#));
    assert_eq!(empty.version(), PolicyVersion::V20121017);
    assert!(matches!(
        refused(&format!(r#"{{"Version":"2012-10-18","Statement":[{{{body}}}]}}"#)),
        PolicyError::InvalidVersion(_)
    ));
}

#[test]
fn admin_statements_need_no_resource() {
    let parsed = policy(&statement(r#""Effect":"Allow","Action":["admin:ListUsers","admin:GetUser"]"#));
    assert_eq!(parsed.statements()[0].resources(), None);
    // An S3 action (or a pattern that covers one) needs a resource.
    for actions in [r#""s3:GetObject""#, r#"["admin:*","s3:ListBucket"]"#, r#""*""#] {
        assert_eq!(
            refused(&statement(&format!(r#""Effect":"Allow","Action":{actions}"#))),
            PolicyError::MissingField { context: "Statement[0]".into(), field: "Resource" }
        );
    }
    assert!(matches!(
        refused(&statement(r#""Effect":"Allow","NotAction":"admin:*""#)),
        PolicyError::MissingField { field: "Resource", .. }
    ));
}

#[test]
fn field_names_ignore_case_like_minio() {
    let parsed = policy(
        r#"{"version":"2012-10-17","ID":"doc","statement":[{"effect":"Allow","action":"s3:GetObject","resource":"*"}]}"#,
    );
    assert_eq!(parsed.id(), Some("doc"));
    assert!(matches!(
        refused(&statement(r#""Effect":"Allow","effect":"Deny","Action":"s3:GetObject","Resource":"*""#)),
        PolicyError::DuplicateField { field: "Effect", .. }
    ));
}

#[test]
fn every_condition_operator_parses() {
    policy(&statement(
        r#""Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{
            "StringEquals":{"s3:prefix":"a"},
            "StringNotEquals":{"s3:delimiter":"/"},
            "StringEqualsIgnoreCase":{"aws:UserAgent":"mc"},
            "StringNotEqualsIgnoreCase":{"aws:Referer":"x"},
            "StringLike":{"s3:ExistingObjectTag/Project":"p*"},
            "StringNotLike":{"aws:username":"guest*"},
            "BinaryEquals":{"aws:userid":"YWxpY2U="},
            "NumericEquals":{"s3:max-keys":10},
            "NumericNotEquals":{"s3:max-keys":"11"},
            "NumericLessThan":{"s3:max-keys":1000},
            "NumericLessThanEquals":{"s3:max-keys":1000},
            "NumericGreaterThan":{"s3:max-keys":0},
            "NumericGreaterThanEquals":{"s3:object-lock-remaining-retention-days":"1.5"},
            "DateEquals":{"aws:CurrentTime":"2030-01-01T00:00:00Z"},
            "DateNotEquals":{"aws:CurrentTime":"2030-01-01T00:00:00Z"},
            "DateLessThan":{"aws:CurrentTime":"2030-01-01T00:00:00Z"},
            "DateLessThanEquals":{"aws:EpochTime":1893456000},
            "DateGreaterThan":{"aws:CurrentTime":"2020-01-01T00:00:00+02:00"},
            "DateGreaterThanEquals":{"aws:CurrentTime":"2020-01-01T00:00:00Z"},
            "Bool":{"aws:SecureTransport":true},
            "IpAddress":{"aws:SourceIp":["10.0.0.0/8","2001:db8::/32"]},
            "NotIpAddress":{"aws:SourceIp":"10.1.2.3"},
            "Null":{"s3:x-amz-server-side-encryption":"true"},
            "ForAnyValue:StringLike":{"aws:groups":["admins","ops*"]},
            "ForAllValues:StringEquals":{"jwt:groups":["a","b"]},
            "StringEqualsIfExists":{"s3:versionid":"v1"},
            "ForAnyValue:NumericLessThanIfExists":{"s3:max-keys":5}
        }"#,
    ));
}

#[test]
fn duplicate_statements_are_kept_once() {
    let parsed = policy(
        r#"{"Statement":[
            {"Sid":"one","Effect":"Allow","Action":["s3:GetObject","s3:GetObject"],"Resource":"*"},
            {"Sid":"two","Effect":"Allow","Action":"s3:GetObject","Resource":["*"]},
            {"Effect":"Deny","Action":"s3:GetObject","Resource":"*"}
        ]}"#,
    );
    assert_eq!(parsed.statements().len(), 2);
    assert_eq!(parsed.statements()[0].sid(), Some("one"));
    assert_eq!(parsed.statements()[0].actions().patterns(), ["s3:GetObject"]);
}

#[test]
fn refuses_bad_json() {
    for json in ["", "{", "not json", r#"{"Statement":[]}x"#, "[]", "\"policy\"", "null"] {
        assert!(matches!(refused(json), PolicyError::Json(_)), "{json:?}");
    }
}

#[test]
fn refuses_oversized_documents() {
    let padding = " ".repeat(POLICY_BYTES_MAX);
    let json = format!(r#"{{"Statement":[{{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}}]}}{padding}"#);
    assert!(matches!(refused(&json), PolicyError::TooLarge { limit_bytes: POLICY_BYTES_MAX, .. }));
}

#[test]
fn refuses_missing_or_empty_statement() {
    assert!(matches!(refused(r#"{"Version":"2012-10-17"}"#), PolicyError::MissingField { field: "Statement", .. }));
    assert!(matches!(refused(r#"{"Version":"2012-10-17","Statement":[]}"#), PolicyError::Empty { .. }));
    assert!(matches!(refused(r#"{"Statement":"s3:*"}"#), PolicyError::WrongType { .. }));
    assert!(matches!(refused(r#"{"Statement":["s3:*"]}"#), PolicyError::WrongType { .. }));
}

#[test]
fn refuses_unknown_fields() {
    let body = r#"{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}"#;
    assert_eq!(
        refused(&format!(r#"{{"Statement":[{body}],"Extra":1}}"#)),
        PolicyError::UnknownField { context: "policy".into(), field: "Extra".into() }
    );
    assert_eq!(
        refused(&statement(r#""Effect":"Allow","Action":"s3:GetObject","Resource":"*","Actions":"s3:PutObject""#)),
        PolicyError::UnknownField { context: "Statement[0]".into(), field: "Actions".into() }
    );
}

#[test]
fn refuses_bad_effects() {
    for effect in [r#""allow""#, r#""Permit""#, r#""""#] {
        let error = refused(&statement(&format!(r#""Effect":{effect},"Action":"s3:GetObject","Resource":"*""#)));
        assert!(matches!(error, PolicyError::InvalidEffect { .. }), "{effect}: {error}");
    }
    assert!(matches!(
        refused(&statement(r#""Effect":true,"Action":"s3:GetObject","Resource":"*""#)),
        PolicyError::WrongType { .. }
    ));
    assert!(matches!(
        refused(&statement(r#""Action":"s3:GetObject","Resource":"*""#)),
        PolicyError::MissingField { field: "Effect", .. }
    ));
}

#[test]
fn refuses_bad_actions() {
    assert!(matches!(
        refused(&statement(r#""Effect":"Allow","Action":"s3:GetObject","NotAction":"s3:PutObject","Resource":"*""#)),
        PolicyError::Conflicting { first: "Action", second: "NotAction", .. }
    ));
    assert!(matches!(
        refused(&statement(r#""Effect":"Allow","Resource":"*""#)),
        PolicyError::MissingField { field: "Action", .. }
    ));
    for action in [r#""s3:GetObjekt""#, r#""ec2:*""#, r#"["s3:GetObject","iam:*"]"#, r#""""#, r#""s3:Foo*""#] {
        let error = refused(&statement(&format!(r#""Effect":"Allow","Action":{action},"Resource":"*""#)));
        assert!(matches!(error, PolicyError::UnknownAction { .. }), "{action}: {error}");
    }
    assert!(matches!(refused(&statement(r#""Effect":"Allow","Action":[],"Resource":"*""#)), PolicyError::Empty { .. }));
    assert!(matches!(
        refused(&statement(r#""Effect":"Allow","Action":[1],"Resource":"*""#)),
        PolicyError::WrongType { .. }
    ));
    // Known names in any case, and wildcards that match something, are fine.
    policy(&statement(r#""Effect":"Allow","Action":["S3:GETOBJECT","s3:Get*","s3:List?ucket"],"Resource":"*""#));
}

#[test]
fn refuses_bad_resources() {
    for resource in [
        r#""arn:aws:s3:::""#,
        r#""arn:aws:s3:::/bucket""#,
        r#""arn:aws:iam::123456789012:user/bob""#,
        r#""bucket/key""#,
        r#""arn:minio:kms:::key""#,
    ] {
        let error = refused(&statement(&format!(r#""Effect":"Allow","Action":"s3:GetObject","Resource":{resource}"#)));
        assert!(matches!(error, PolicyError::InvalidResource { .. }), "{resource}: {error}");
    }
    assert!(matches!(
        refused(&statement(r#""Effect":"Allow","Action":"s3:GetObject","Resource":"*","NotResource":"*""#)),
        PolicyError::Conflicting { first: "Resource", second: "NotResource", .. }
    ));
    assert!(matches!(
        refused(&statement(r#""Effect":"Allow","Action":"s3:GetObject","Resource":[]"#)),
        PolicyError::Empty { .. }
    ));
}

#[test]
fn refuses_bad_principals() {
    for principal in [r#""alice""#, r#"{"Service":"s3.amazonaws.com"}"#, r#"{"AWS":[]}"#, r#"{"AWS":[""]}"#, "42", "{}"]
    {
        let json =
            statement(&format!(r#""Effect":"Allow","Principal":{principal},"Action":"s3:GetObject","Resource":"*""#));
        let error = refused(&json);
        assert!(
            matches!(
                error,
                PolicyError::InvalidPrincipal { .. } | PolicyError::Empty { .. } | PolicyError::MissingField { .. }
            ),
            "{principal}: {error}"
        );
    }
    assert!(matches!(
        refused(&statement(r#""Effect":"Deny","NotPrincipal":{"AWS":"alice"},"Action":"s3:GetObject","Resource":"*""#)),
        PolicyError::NotPrincipalUnsupported { .. }
    ));
}

#[test]
fn refuses_bad_conditions() {
    let with_condition = |condition: &str| {
        statement(&format!(r#""Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{condition}"#))
    };
    /// Whether an error is the one a case expects.
    type Expected = fn(&PolicyError) -> bool;
    let cases: &[(&str, Expected)] = &[
        (r#"{"StringEqualz":{"s3:prefix":"a"}}"#, |e| matches!(e, PolicyError::UnknownConditionOperator { .. })),
        (r#"{"stringequals":{"s3:prefix":"a"}}"#, |e| matches!(e, PolicyError::UnknownConditionOperator { .. })),
        (r#"{"ForSomeValues:StringEquals":{"s3:prefix":"a"}}"#, |e| {
            matches!(e, PolicyError::UnknownConditionOperator { .. })
        }),
        (r#"{"NullIfExists":{"s3:prefix":"true"}}"#, |e| matches!(e, PolicyError::UnknownConditionOperator { .. })),
        (r#"{"StringEquals":{"ec2:Region":"a"}}"#, |e| matches!(e, PolicyError::UnknownConditionKey { .. })),
        (r#"{"StringEquals":{"s3:ExistingObjectTag":"a"}}"#, |e| matches!(e, PolicyError::UnknownConditionKey { .. })),
        (r#"{"IpAddress":{"aws:SourceIp":"10.0.0.0/33"}}"#, |e| matches!(e, PolicyError::InvalidConditionValue { .. })),
        (r#"{"IpAddress":{"aws:SourceIp":"localhost"}}"#, |e| matches!(e, PolicyError::InvalidConditionValue { .. })),
        (r#"{"IpAddress":{"aws:Referer":"10.0.0.0/8"}}"#, |e| matches!(e, PolicyError::InvalidConditionValue { .. })),
        (r#"{"NumericLessThan":{"s3:max-keys":"ten"}}"#, |e| matches!(e, PolicyError::InvalidConditionValue { .. })),
        (r#"{"DateLessThan":{"aws:CurrentTime":"tomorrow"}}"#, |e| {
            matches!(e, PolicyError::InvalidConditionValue { .. })
        }),
        (r#"{"Bool":{"aws:SecureTransport":"yes"}}"#, |e| matches!(e, PolicyError::InvalidConditionValue { .. })),
        (r#"{"Bool":{"aws:SecureTransport":[true,false]}}"#, |e| {
            matches!(e, PolicyError::InvalidConditionValue { .. })
        }),
        (r#"{"Null":{"s3:prefix":"maybe"}}"#, |e| matches!(e, PolicyError::InvalidConditionValue { .. })),
        (r#"{"BinaryEquals":{"aws:userid":"not base64!"}}"#, |e| {
            matches!(e, PolicyError::InvalidConditionValue { .. })
        }),
        (r#"{"StringEquals":{"s3:prefix":"a","S3:PREFIX":"b"}}"#, |e| {
            matches!(e, PolicyError::InvalidConditionValue { .. })
        }),
        (r#"{}"#, |e| matches!(e, PolicyError::Empty { .. })),
        (r#"{"StringEquals":{}}"#, |e| matches!(e, PolicyError::Empty { .. })),
        (r#"{"StringEquals":{"s3:prefix":[]}}"#, |e| matches!(e, PolicyError::Empty { .. })),
        (r#"{"StringEquals":{"s3:prefix":null}}"#, |e| matches!(e, PolicyError::WrongType { .. })),
        (r#"{"StringEquals":{"s3:prefix":{"a":"b"}}}"#, |e| matches!(e, PolicyError::WrongType { .. })),
        (r#"{"StringEquals":"s3:prefix"}"#, |e| matches!(e, PolicyError::WrongType { .. })),
        (r#"[]"#, |e| matches!(e, PolicyError::WrongType { .. })),
    ];
    for (condition, expected) in cases {
        let error = refused(&with_condition(condition));
        assert!(expected(&error), "{condition}: {error}");
    }
}

#[test]
fn error_messages_say_what_is_wrong() {
    let error = refused(&statement(r#""Effect":"Allow","Action":"s3:GetObjekt","Resource":"*""#));
    assert_eq!(error.to_string(), "Statement[0]: unknown action 's3:GetObjekt'");
    let error =
        refused(&statement(r#""Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"Foo":{"s3:prefix":"a"}}"#));
    assert_eq!(error.to_string(), "Statement[0].Condition: unsupported condition operator 'Foo'");
}

#[test]
fn canonical_json() {
    let parsed = policy(
        r#"{"Id":"x","Version":"2012-10-17","Statement":[{
            "Condition":{"StringLike":{"s3:prefix":["b*","a*"]},"IpAddress":{"aws:SourceIp":"10.1.2.3/8"},"Bool":{"aws:SecureTransport":"TRUE"}},
            "Resource":["arn:aws:s3:::b","arn:aws:s3:::a"],
            "Action":["s3:ListBucket","s3:GetBucketLocation"],
            "Principal":"*","Effect":"Allow","Sid":"s"}]}"#,
    );
    assert_eq!(
        parsed.to_json(),
        concat!(
            r#"{"Version":"2012-10-17","Id":"x","Statement":[{"Sid":"s","Effect":"Allow","Principal":{"AWS":["*"]},"#,
            r#""Action":["s3:GetBucketLocation","s3:ListBucket"],"Resource":["arn:aws:s3:::a","arn:aws:s3:::b"],"#,
            r#""Condition":{"Bool":{"aws:SecureTransport":["true"]},"IpAddress":{"aws:SourceIp":["10.0.0.0/8"]},"#,
            r#""StringLike":{"s3:prefix":["a*","b*"]}}}]}"#
        )
    );
    assert_eq!(Policy::parse(parsed.to_json().as_bytes()), Ok(parsed));
}

#[test]
fn canonical_json_escapes_and_keeps_not_fields() {
    let parsed = policy(
        r#"{"Statement":[{"Sid":"quote \" and \\ and \u00e9","Effect":"Deny","NotAction":"s3:Get*","NotResource":"arn:aws:s3:::b/\"x\"*"}]}"#,
    );
    let json = parsed.to_json();
    assert!(json.contains(r#""NotAction":["s3:Get*"]"#), "{json}");
    assert!(json.contains(r#""NotResource":["arn:aws:s3:::b/\"x\"*"]"#), "{json}");
    assert_eq!(Policy::parse(json.as_bytes()), Ok(parsed));
}

#[test]
fn bucket_policy_rules() {
    let for_bucket = |body: &str| Policy::parse_bucket_policy(statement(body).as_bytes(), "photos");
    for_bucket(r#""Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/*""#)
        .expect("valid");
    for_bucket(r#""Effect":"Allow","Principal":"*","Action":"s3:ListBucket","Resource":"arn:aws:s3:::photos""#)
        .expect("valid");
    for_bucket(r#""Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::photo*""#).expect("valid");
    assert!(matches!(
        for_bucket(r#""Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/*""#),
        Err(PolicyError::MissingField { field: "Principal", .. })
    ));
    assert!(matches!(
        for_bucket(r#""Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::videos/*""#),
        Err(PolicyError::ResourceOutsideBucket { .. })
    ));
    assert!(matches!(
        for_bucket(r#""Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::photos""#),
        Err(PolicyError::ResourceKindMismatch { needed: "an object", .. })
    ));
    assert!(matches!(
        for_bucket(r#""Effect":"Allow","Principal":"*","Action":"s3:ListBucket","Resource":"arn:aws:s3:::photos/a/*""#),
        Err(PolicyError::ResourceKindMismatch { needed: "a bucket", .. })
    ));
    assert!(matches!(
        for_bucket(r#""Effect":"Allow","Principal":"*","Action":"admin:*","Resource":"arn:aws:s3:::photos""#),
        Err(PolicyError::ActionNotForBuckets { .. })
    ));
}

#[test]
fn identity_policy_rules() {
    let with_principal = statement(r#""Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*""#);
    assert!(matches!(
        Policy::parse_identity_policy(with_principal.as_bytes()),
        Err(PolicyError::PrincipalNotAllowed { .. })
    ));
    let without = statement(r#""Effect":"Allow","Action":"s3:GetObject","Resource":"*""#);
    Policy::parse_identity_policy(without.as_bytes()).expect("valid");
}
