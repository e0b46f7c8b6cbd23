//! MinIO's canned policies grant what MinIO's do.

use cairn_iam::policy::canned_json;
use cairn_iam::{CANNED_NAMES, Policy, canned};

use super::allows;

fn named(name: &str) -> Policy {
    canned(name).unwrap_or_else(|| panic!("canned policy {name}"))
}

#[test]
fn names() {
    assert_eq!(CANNED_NAMES, ["readwrite", "readonly", "writeonly", "diagnostics", "consoleAdmin"]);
    for name in CANNED_NAMES {
        let policy = named(name);
        // The canonical output parses back to the same policy.
        assert_eq!(Policy::parse(policy.to_json().as_bytes()).as_ref(), Ok(&policy), "{name}");
        assert!(canned_json(name).is_some());
    }
    assert!(canned("readWrite").is_none());
}

#[test]
fn readwrite() {
    let policy = named("readwrite");
    assert!(allows(&policy, "s3:GetObject", Some("b"), Some("k")));
    assert!(allows(&policy, "s3:PutObject", Some("b"), Some("k")));
    assert!(allows(&policy, "s3:DeleteBucket", Some("b"), None));
    assert!(allows(&policy, "s3:ListAllMyBuckets", None, None));
    assert!(!allows(&policy, "admin:ListUsers", None, None));
}

#[test]
fn readonly() {
    let policy = named("readonly");
    assert!(allows(&policy, "s3:GetObject", Some("b"), Some("k")));
    assert!(allows(&policy, "s3:GetBucketLocation", Some("b"), None));
    assert!(!allows(&policy, "s3:PutObject", Some("b"), Some("k")));
    assert!(!allows(&policy, "s3:DeleteObject", Some("b"), Some("k")));
    assert!(!allows(&policy, "s3:ListBucket", Some("b"), None), "MinIO's readonly does not list");
    let none = cairn_iam::ConditionValues::new();
    assert_eq!(super::decide(&policy, "admin:CreateUser", None, None, &none), cairn_iam::Decision::Deny);
}

#[test]
fn writeonly() {
    let policy = named("writeonly");
    assert!(allows(&policy, "s3:PutObject", Some("b"), Some("k")));
    assert!(!allows(&policy, "s3:GetObject", Some("b"), Some("k")));
    assert!(!allows(&policy, "s3:DeleteObject", Some("b"), Some("k")));
}

#[test]
fn diagnostics() {
    let policy = named("diagnostics");
    for action in ["admin:ServerInfo", "admin:ServerTrace", "admin:ConsoleLog", "admin:Prometheus", "admin:OBDInfo"] {
        assert!(allows(&policy, action, None, None), "{action}");
    }
    assert!(!allows(&policy, "admin:CreateUser", None, None));
    assert!(!allows(&policy, "admin:ConfigUpdate", None, None));
    assert!(!allows(&policy, "s3:GetObject", Some("b"), Some("k")));
}

#[test]
fn console_admin() {
    let policy = named("consoleAdmin");
    for action in cairn_iam::policy::admin_actions::ADMIN_ACTIONS {
        assert!(allows(&policy, action, None, None), "{action}");
    }
    // `s3:*` covers the `s3:` family; MinIO's `s3express:CreateSession` is outside it.
    for action in cairn_iam::policy::actions::S3_ACTIONS.iter().filter(|action| action.starts_with("s3:")) {
        assert!(allows(&policy, action, Some("b"), Some("k")), "{action}");
    }
    assert!(!allows(&policy, "s3express:CreateSession", Some("b"), None));
    assert!(allows(&policy, "kms:CreateKey", None, None));
    assert!(allows(&policy, "s3:ListAllMyBuckets", None, None));
}
