//! MinIO's built-in ("canned") policies, which exist on every deployment and can be
//! attached to users and groups by name. Their statements are MinIO's
//! (github.com/minio/pkg `policy/constants.go` at v3.4.0), written out as the JSON
//! `mc admin policy info` prints.

use super::document::Policy;

/// The names of the canned policies, as users attach them.
pub const CANNED_NAMES: &[&str] = &["readwrite", "readonly", "writeonly", "diagnostics", "consoleAdmin"];

/// Every S3 action on every bucket and object.
const READWRITE: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Allow",
      "Action": ["s3:*"],
      "Resource": ["arn:aws:s3:::*"]
    }
  ]
}"#;

/// Reading objects. MinIO's console treats `admin:CreateUser` as granted unless a policy
/// denies it explicitly, so the read-only policy denies it (MinIO's fix for read-only
/// LDAP users being offered "Add User").
const READONLY: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Allow",
      "Action": ["s3:GetBucketLocation", "s3:GetObject"],
      "Resource": ["arn:aws:s3:::*"]
    },
    {
      "Effect": "Deny",
      "Action": ["admin:CreateUser"],
      "Resource": ["arn:aws:s3:::*"]
    }
  ]
}"#;

/// Writing objects only.
const WRITEONLY: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Allow",
      "Action": ["s3:PutObject"],
      "Resource": ["arn:aws:s3:::*"]
    }
  ]
}"#;

/// The admin actions support staff need to diagnose a deployment.
const DIAGNOSTICS: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Allow",
      "Action": [
        "admin:BandwidthMonitor",
        "admin:ConsoleLog",
        "admin:OBDInfo",
        "admin:Profiling",
        "admin:Prometheus",
        "admin:ServerInfo",
        "admin:ServerTrace",
        "admin:TopLocksInfo"
      ],
      "Resource": ["arn:aws:s3:::*"]
    }
  ]
}"#;

/// Everything: every admin and KMS action and every S3 action on every resource.
const CONSOLE_ADMIN: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Allow",
      "Action": ["admin:*"]
    },
    {
      "Effect": "Allow",
      "Action": ["kms:*"]
    },
    {
      "Effect": "Allow",
      "Action": ["s3:*"],
      "Resource": ["arn:aws:s3:::*"]
    }
  ]
}"#;

/// The JSON of the canned policy `name` (names are case-sensitive, as in MinIO).
pub fn canned_json(name: &str) -> Option<&'static str> {
    match name {
        "readwrite" => Some(READWRITE),
        "readonly" => Some(READONLY),
        "writeonly" => Some(WRITEONLY),
        "diagnostics" => Some(DIAGNOSTICS),
        "consoleAdmin" => Some(CONSOLE_ADMIN),
        _ => None,
    }
}

/// The canned policy `name`, or `None` if there is none by that name.
pub fn canned(name: &str) -> Option<Policy> {
    let json = canned_json(name)?;
    Some(Policy::parse_identity_policy(json.as_bytes()).expect("canned policies are valid (tested)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_has_a_valid_policy() {
        for name in CANNED_NAMES {
            let json = canned_json(name).expect("listed");
            Policy::parse_identity_policy(json.as_bytes()).expect(name);
        }
        assert!(canned("ReadOnly").is_none());
        assert!(canned("admin").is_none());
    }
}
