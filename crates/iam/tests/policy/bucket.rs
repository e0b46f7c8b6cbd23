//! mc's anonymous-access presets: the exact statements mc writes, what they let an
//! anonymous caller do, and recognising them again.

use cairn_iam::{ConditionValues, Decision, Policy, PresetKind, Request, classify, preset};

fn anonymous(policy: &Policy, action: &str, bucket: &str, key: Option<&str>, conditions: &ConditionValues) -> bool {
    let request = Request { action, bucket: Some(bucket), key, principal: None, conditions };
    policy.evaluate_bucket_policy(&request) == Decision::Allow
}

#[test]
fn download_without_prefix_is_what_mc_writes() {
    assert_eq!(
        preset(PresetKind::Download, "photos", "").to_json(),
        concat!(
            r#"{"Version":"2012-10-17","Statement":["#,
            r#"{"Effect":"Allow","Principal":{"AWS":["*"]},"Action":["s3:GetBucketLocation","s3:ListBucket"],"Resource":["arn:aws:s3:::photos"]},"#,
            r#"{"Effect":"Allow","Principal":{"AWS":["*"]},"Action":["s3:GetObject"],"Resource":["arn:aws:s3:::photos/*"]}]}"#
        )
    );
}

#[test]
fn download_with_prefix_is_what_mc_writes() {
    assert_eq!(
        preset(PresetKind::Download, "photos", "public/").to_json(),
        concat!(
            r#"{"Version":"2012-10-17","Statement":["#,
            r#"{"Effect":"Allow","Principal":{"AWS":["*"]},"Action":["s3:GetBucketLocation"],"Resource":["arn:aws:s3:::photos"]},"#,
            r#"{"Effect":"Allow","Principal":{"AWS":["*"]},"Action":["s3:ListBucket"],"Resource":["arn:aws:s3:::photos"],"Condition":{"StringLike":{"s3:prefix":["public/*"]}}},"#,
            r#"{"Effect":"Allow","Principal":{"AWS":["*"]},"Action":["s3:GetObject"],"Resource":["arn:aws:s3:::photos/public/*"]}]}"#
        )
    );
}

#[test]
fn upload_is_what_mc_writes() {
    assert_eq!(
        preset(PresetKind::Upload, "drop", "").to_json(),
        concat!(
            r#"{"Version":"2012-10-17","Statement":["#,
            r#"{"Effect":"Allow","Principal":{"AWS":["*"]},"Action":["s3:GetBucketLocation","s3:ListBucketMultipartUploads"],"Resource":["arn:aws:s3:::drop"]},"#,
            r#"{"Effect":"Allow","Principal":{"AWS":["*"]},"Action":["s3:AbortMultipartUpload","s3:DeleteObject","s3:ListMultipartUploadParts","s3:PutObject"],"Resource":["arn:aws:s3:::drop/*"]}]}"#
        )
    );
}

#[test]
fn public_is_what_mc_writes() {
    assert_eq!(
        preset(PresetKind::Public, "open", "").to_json(),
        concat!(
            r#"{"Version":"2012-10-17","Statement":["#,
            r#"{"Effect":"Allow","Principal":{"AWS":["*"]},"Action":["s3:GetBucketLocation","s3:ListBucket","s3:ListBucketMultipartUploads"],"Resource":["arn:aws:s3:::open"]},"#,
            r#"{"Effect":"Allow","Principal":{"AWS":["*"]},"Action":["s3:AbortMultipartUpload","s3:DeleteObject","s3:GetObject","s3:ListMultipartUploadParts","s3:PutObject"],"Resource":["arn:aws:s3:::open/*"]}]}"#
        )
    );
    assert_eq!(
        preset(PresetKind::Public, "open", "p").to_json(),
        concat!(
            r#"{"Version":"2012-10-17","Statement":["#,
            r#"{"Effect":"Allow","Principal":{"AWS":["*"]},"Action":["s3:GetBucketLocation","s3:ListBucketMultipartUploads"],"Resource":["arn:aws:s3:::open"]},"#,
            r#"{"Effect":"Allow","Principal":{"AWS":["*"]},"Action":["s3:ListBucket"],"Resource":["arn:aws:s3:::open"],"Condition":{"StringLike":{"s3:prefix":["p*"]}}},"#,
            r#"{"Effect":"Allow","Principal":{"AWS":["*"]},"Action":["s3:AbortMultipartUpload","s3:DeleteObject","s3:GetObject","s3:ListMultipartUploadParts","s3:PutObject"],"Resource":["arn:aws:s3:::open/p*"]}]}"#
        )
    );
}

#[test]
fn none_is_no_policy() {
    let none = preset(PresetKind::None, "b", "");
    assert!(none.is_empty());
    assert_eq!(classify(&none, "b"), Some(PresetKind::None));
}

#[test]
fn presets_are_valid_bucket_policies_and_classify_back() {
    for kind in [PresetKind::Download, PresetKind::Upload, PresetKind::Public] {
        for prefix in ["", "dir/", "x"] {
            let built = preset(kind, "bucket", prefix);
            let reparsed = Policy::parse_bucket_policy(built.to_json().as_bytes(), "bucket").expect("valid");
            assert_eq!(reparsed, built);
            assert_eq!(classify(&built, "bucket"), Some(kind), "{kind} {prefix:?}");
            assert_eq!(classify(&built, "other"), None, "{kind} {prefix:?} for another bucket");
        }
    }
}

#[test]
fn classify_ignores_order_and_sids_but_not_extra_statements() {
    let mc_json = r#"{"Version":"2012-10-17","Statement":[
        {"Sid":"","Effect":"Allow","Principal":{"AWS":["*"]},"Action":["s3:GetObject"],"Resource":["arn:aws:s3:::b/*"]},
        {"Sid":"list","Effect":"Allow","Principal":"*","Action":["s3:ListBucket","s3:GetBucketLocation"],"Resource":"arn:aws:s3:::b"}
    ]}"#;
    let parsed = Policy::parse_bucket_policy(mc_json.as_bytes(), "b").expect("valid");
    assert_eq!(classify(&parsed, "b"), Some(PresetKind::Download));
    let custom = r#"{"Statement":[
        {"Effect":"Allow","Principal":"*","Action":["s3:GetObject"],"Resource":["arn:aws:s3:::b/*"]},
        {"Effect":"Allow","Principal":"*","Action":["s3:ListBucket","s3:GetBucketLocation"],"Resource":"arn:aws:s3:::b"},
        {"Effect":"Allow","Principal":"*","Action":["s3:PutObject"],"Resource":"arn:aws:s3:::b/incoming/*"}
    ]}"#;
    let parsed = Policy::parse_bucket_policy(custom.as_bytes(), "b").expect("valid");
    assert_eq!(classify(&parsed, "b"), None);
}

#[test]
fn download_grants_anonymous_reads_only() {
    let policy = preset(PresetKind::Download, "photos", "public/");
    let none = ConditionValues::new();
    let listing_public = ConditionValues::new().with("s3:prefix", "public/2024/");
    let listing_private = ConditionValues::new().with("s3:prefix", "private/");
    assert!(anonymous(&policy, "s3:GetObject", "photos", Some("public/a.jpg"), &none));
    assert!(!anonymous(&policy, "s3:GetObject", "photos", Some("private/a.jpg"), &none));
    assert!(anonymous(&policy, "s3:GetBucketLocation", "photos", None, &none));
    assert!(anonymous(&policy, "s3:ListBucket", "photos", None, &listing_public));
    assert!(!anonymous(&policy, "s3:ListBucket", "photos", None, &listing_private));
    assert!(!anonymous(&policy, "s3:PutObject", "photos", Some("public/a.jpg"), &none));
    assert!(!anonymous(&policy, "s3:GetObject", "videos", Some("public/a.jpg"), &none));
}

#[test]
fn upload_grants_anonymous_writes_only() {
    let policy = preset(PresetKind::Upload, "drop", "");
    let none = ConditionValues::new();
    for action in ["s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts", "s3:DeleteObject"] {
        assert!(anonymous(&policy, action, "drop", Some("file"), &none), "{action}");
    }
    assert!(anonymous(&policy, "s3:ListBucketMultipartUploads", "drop", None, &none));
    assert!(!anonymous(&policy, "s3:GetObject", "drop", Some("file"), &none));
    assert!(!anonymous(&policy, "s3:ListBucket", "drop", None, &none));
}
