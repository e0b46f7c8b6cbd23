//! The action names a policy may name, as MinIO knows them (github.com/minio/pkg
//! `policy/action.go`, `kms-action.go`, `sts-action.go` at v3.4.0, the last series
//! used by the open-source server), and how an action name is classified.
//!
//! Admin action names live in [`super::admin_actions`]. A policy's `Action` entries are
//! patterns: each must match at least one name here (wildcards allowed, letters
//! compared without regard to case), so a typo is refused instead of silently
//! granting nothing.

use super::admin_actions::{ADMIN_ACTIONS, ALL_ADMIN};
use super::wildcard;

/// Every S3 action: `s3:*` in a policy.
pub const ALL_S3: &str = "s3:*";
/// Every KMS action: `kms:*` in a policy (granted by the `consoleAdmin` canned policy).
pub const ALL_KMS: &str = "kms:*";
/// Every STS action: `sts:*` in a policy.
pub const ALL_STS: &str = "sts:*";

// S3 actions. MinIO checks `s3:ListBucket` for HeadBucket; `s3:HeadBucket` exists as a
// name but MinIO never asks for it.
pub const ABORT_MULTIPART_UPLOAD: &str = "s3:AbortMultipartUpload";
pub const BYPASS_GOVERNANCE_RETENTION: &str = "s3:BypassGovernanceRetention";
pub const CREATE_BUCKET: &str = "s3:CreateBucket";
pub const DELETE_BUCKET: &str = "s3:DeleteBucket";
pub const DELETE_BUCKET_CORS: &str = "s3:DeleteBucketCors";
pub const DELETE_BUCKET_POLICY: &str = "s3:DeleteBucketPolicy";
pub const DELETE_OBJECT: &str = "s3:DeleteObject";
pub const DELETE_OBJECT_TAGGING: &str = "s3:DeleteObjectTagging";
pub const DELETE_OBJECT_VERSION: &str = "s3:DeleteObjectVersion";
pub const DELETE_OBJECT_VERSION_TAGGING: &str = "s3:DeleteObjectVersionTagging";
pub const FORCE_DELETE_BUCKET: &str = "s3:ForceDeleteBucket";
pub const GET_BUCKET_CORS: &str = "s3:GetBucketCors";
pub const GET_BUCKET_LOCATION: &str = "s3:GetBucketLocation";
pub const GET_BUCKET_NOTIFICATION: &str = "s3:GetBucketNotification";
pub const GET_BUCKET_OBJECT_LOCK_CONFIGURATION: &str = "s3:GetBucketObjectLockConfiguration";
pub const GET_BUCKET_POLICY: &str = "s3:GetBucketPolicy";
pub const GET_BUCKET_POLICY_STATUS: &str = "s3:GetBucketPolicyStatus";
pub const GET_BUCKET_QOS: &str = "s3:GetBucketQOS";
pub const GET_BUCKET_TAGGING: &str = "s3:GetBucketTagging";
pub const GET_BUCKET_VERSIONING: &str = "s3:GetBucketVersioning";
pub const GET_ENCRYPTION_CONFIGURATION: &str = "s3:GetEncryptionConfiguration";
pub const GET_LIFECYCLE_CONFIGURATION: &str = "s3:GetLifecycleConfiguration";
pub const GET_OBJECT: &str = "s3:GetObject";
pub const GET_OBJECT_ATTRIBUTES: &str = "s3:GetObjectAttributes";
pub const GET_OBJECT_LEGAL_HOLD: &str = "s3:GetObjectLegalHold";
pub const GET_OBJECT_RETENTION: &str = "s3:GetObjectRetention";
pub const GET_OBJECT_TAGGING: &str = "s3:GetObjectTagging";
pub const GET_OBJECT_VERSION: &str = "s3:GetObjectVersion";
pub const GET_OBJECT_VERSION_ATTRIBUTES: &str = "s3:GetObjectVersionAttributes";
pub const GET_OBJECT_VERSION_FOR_REPLICATION: &str = "s3:GetObjectVersionForReplication";
pub const GET_OBJECT_VERSION_TAGGING: &str = "s3:GetObjectVersionTagging";
pub const GET_REPLICATION_CONFIGURATION: &str = "s3:GetReplicationConfiguration";
pub const HEAD_BUCKET: &str = "s3:HeadBucket";
pub const LIST_ALL_MY_BUCKETS: &str = "s3:ListAllMyBuckets";
pub const LIST_BUCKET: &str = "s3:ListBucket";
pub const LIST_BUCKET_MULTIPART_UPLOADS: &str = "s3:ListBucketMultipartUploads";
pub const LIST_BUCKET_VERSIONS: &str = "s3:ListBucketVersions";
pub const LISTEN_BUCKET_NOTIFICATION: &str = "s3:ListenBucketNotification";
pub const LISTEN_NOTIFICATION: &str = "s3:ListenNotification";
pub const LIST_MULTIPART_UPLOAD_PARTS: &str = "s3:ListMultipartUploadParts";
pub const PUT_BUCKET_CORS: &str = "s3:PutBucketCors";
pub const PUT_BUCKET_NOTIFICATION: &str = "s3:PutBucketNotification";
pub const PUT_BUCKET_OBJECT_LOCK_CONFIGURATION: &str = "s3:PutBucketObjectLockConfiguration";
pub const PUT_BUCKET_POLICY: &str = "s3:PutBucketPolicy";
pub const PUT_BUCKET_QOS: &str = "s3:PutBucketQOS";
pub const PUT_BUCKET_TAGGING: &str = "s3:PutBucketTagging";
pub const PUT_BUCKET_VERSIONING: &str = "s3:PutBucketVersioning";
pub const PUT_ENCRYPTION_CONFIGURATION: &str = "s3:PutEncryptionConfiguration";
pub const PUT_LIFECYCLE_CONFIGURATION: &str = "s3:PutLifecycleConfiguration";
pub const PUT_OBJECT: &str = "s3:PutObject";
pub const PUT_OBJECT_FAN_OUT: &str = "s3:PutObjectFanOut";
pub const PUT_OBJECT_LEGAL_HOLD: &str = "s3:PutObjectLegalHold";
pub const PUT_OBJECT_RETENTION: &str = "s3:PutObjectRetention";
pub const PUT_OBJECT_TAGGING: &str = "s3:PutObjectTagging";
pub const PUT_OBJECT_VERSION_TAGGING: &str = "s3:PutObjectVersionTagging";
pub const PUT_REPLICATION_CONFIGURATION: &str = "s3:PutReplicationConfiguration";
pub const REPLICATE_DELETE: &str = "s3:ReplicateDelete";
pub const REPLICATE_OBJECT: &str = "s3:ReplicateObject";
pub const REPLICATE_TAGS: &str = "s3:ReplicateTags";
pub const RESET_BUCKET_REPLICATION_STATE: &str = "s3:ResetBucketReplicationState";
pub const RESTORE_OBJECT: &str = "s3:RestoreObject";
pub const CREATE_SESSION: &str = "s3express:CreateSession";

/// Every S3 action name MinIO knows, sorted without regard to case.
pub const S3_ACTIONS: &[&str] = &[
    ABORT_MULTIPART_UPLOAD,
    BYPASS_GOVERNANCE_RETENTION,
    CREATE_BUCKET,
    DELETE_BUCKET,
    DELETE_BUCKET_CORS,
    DELETE_BUCKET_POLICY,
    DELETE_OBJECT,
    DELETE_OBJECT_TAGGING,
    DELETE_OBJECT_VERSION,
    DELETE_OBJECT_VERSION_TAGGING,
    FORCE_DELETE_BUCKET,
    GET_BUCKET_CORS,
    GET_BUCKET_LOCATION,
    GET_BUCKET_NOTIFICATION,
    GET_BUCKET_OBJECT_LOCK_CONFIGURATION,
    GET_BUCKET_POLICY,
    GET_BUCKET_POLICY_STATUS,
    GET_BUCKET_QOS,
    GET_BUCKET_TAGGING,
    GET_BUCKET_VERSIONING,
    GET_ENCRYPTION_CONFIGURATION,
    GET_LIFECYCLE_CONFIGURATION,
    GET_OBJECT,
    GET_OBJECT_ATTRIBUTES,
    GET_OBJECT_LEGAL_HOLD,
    GET_OBJECT_RETENTION,
    GET_OBJECT_TAGGING,
    GET_OBJECT_VERSION,
    GET_OBJECT_VERSION_ATTRIBUTES,
    GET_OBJECT_VERSION_FOR_REPLICATION,
    GET_OBJECT_VERSION_TAGGING,
    GET_REPLICATION_CONFIGURATION,
    HEAD_BUCKET,
    LIST_ALL_MY_BUCKETS,
    LIST_BUCKET,
    LIST_BUCKET_MULTIPART_UPLOADS,
    LIST_BUCKET_VERSIONS,
    LISTEN_BUCKET_NOTIFICATION,
    LISTEN_NOTIFICATION,
    LIST_MULTIPART_UPLOAD_PARTS,
    PUT_BUCKET_CORS,
    PUT_BUCKET_NOTIFICATION,
    PUT_BUCKET_OBJECT_LOCK_CONFIGURATION,
    PUT_BUCKET_POLICY,
    PUT_BUCKET_QOS,
    PUT_BUCKET_TAGGING,
    PUT_BUCKET_VERSIONING,
    PUT_ENCRYPTION_CONFIGURATION,
    PUT_LIFECYCLE_CONFIGURATION,
    PUT_OBJECT,
    PUT_OBJECT_FAN_OUT,
    PUT_OBJECT_LEGAL_HOLD,
    PUT_OBJECT_RETENTION,
    PUT_OBJECT_TAGGING,
    PUT_OBJECT_VERSION_TAGGING,
    PUT_REPLICATION_CONFIGURATION,
    REPLICATE_DELETE,
    REPLICATE_OBJECT,
    REPLICATE_TAGS,
    RESET_BUCKET_REPLICATION_STATE,
    RESTORE_OBJECT,
    CREATE_SESSION,
];

/// The S3 actions that act on an object, whose resource is `arn:aws:s3:::bucket/key`.
/// Every other S3 action acts on a bucket (resource `arn:aws:s3:::bucket`) or, for
/// `s3:ListAllMyBuckets` and `s3:CreateBucket`, on the account.
pub const S3_OBJECT_ACTIONS: &[&str] = &[
    ABORT_MULTIPART_UPLOAD,
    BYPASS_GOVERNANCE_RETENTION,
    DELETE_OBJECT,
    DELETE_OBJECT_TAGGING,
    DELETE_OBJECT_VERSION,
    DELETE_OBJECT_VERSION_TAGGING,
    GET_OBJECT,
    GET_OBJECT_ATTRIBUTES,
    GET_OBJECT_LEGAL_HOLD,
    GET_OBJECT_RETENTION,
    GET_OBJECT_TAGGING,
    GET_OBJECT_VERSION,
    GET_OBJECT_VERSION_ATTRIBUTES,
    GET_OBJECT_VERSION_FOR_REPLICATION,
    GET_OBJECT_VERSION_TAGGING,
    LIST_MULTIPART_UPLOAD_PARTS,
    PUT_OBJECT,
    PUT_OBJECT_FAN_OUT,
    PUT_OBJECT_LEGAL_HOLD,
    PUT_OBJECT_RETENTION,
    PUT_OBJECT_TAGGING,
    PUT_OBJECT_VERSION_TAGGING,
    REPLICATE_DELETE,
    REPLICATE_OBJECT,
    REPLICATE_TAGS,
    RESET_BUCKET_REPLICATION_STATE,
    RESTORE_OBJECT,
];

/// MinIO's KMS action names, accepted so that policies granting them (such as
/// `consoleAdmin`) parse; Cairn has no KMS API, so nothing asks for them yet.
pub const KMS_ACTIONS: &[&str] = &[
    "kms:CreateKey",
    "kms:DeleteKey",
    "kms:ListKeys",
    "kms:ImportKey",
    "kms:DescribePolicy",
    "kms:AssignPolicy",
    "kms:DeletePolicy",
    "kms:SetPolicy",
    "kms:GetPolicy",
    "kms:ListPolicies",
    "kms:DescribeIdentity",
    "kms:DescribeSelfIdentity",
    "kms:DeleteIdentity",
    "kms:ListIdentities",
    "kms:KeyStatus",
    "kms:Status",
    "kms:API",
    "kms:Metrics",
    "kms:Version",
    "kms:AuditLog",
    "kms:ErrorLog",
];

/// MinIO's STS action names, accepted so that policies naming them parse.
pub const STS_ACTIONS: &[&str] = &[
    "sts:AssumeRole",
    "sts:AssumeRoleLDAPIdentity",
    "sts:AssumeRoleWithWebIdentity",
    "sts:AssumeRoleWithCustomToken",
    "sts:AssumeRoleWithClientGrants",
    "sts:AssumeRoleWithClientCertificate",
];

/// The family an action belongs to, named by the text before its first `:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    /// `s3:` (and MinIO's `s3express:`): the only family whose statements are matched
    /// against `Resource`.
    S3,
    /// `admin:`: MinIO's admin API; resources are ignored.
    Admin,
    /// `kms:`: resources are ignored.
    Kms,
    /// `sts:`: resources are ignored.
    Sts,
}

impl Service {
    /// All families, for scanning.
    const ALL: [Service; 4] = [Service::S3, Service::Admin, Service::Kms, Service::Sts];

    /// The family of an action name, or `None` for an unknown prefix.
    pub fn of(action: &str) -> Option<Service> {
        let (prefix, _) = action.split_once(':')?;
        if prefix.eq_ignore_ascii_case("s3") || prefix.eq_ignore_ascii_case("s3express") {
            Some(Service::S3)
        } else if prefix.eq_ignore_ascii_case("admin") {
            Some(Service::Admin)
        } else if prefix.eq_ignore_ascii_case("kms") {
            Some(Service::Kms)
        } else if prefix.eq_ignore_ascii_case("sts") {
            Some(Service::Sts)
        } else {
            None
        }
    }

    /// Whether requests for this family are matched against a statement's resources.
    pub fn uses_resources(self) -> bool {
        self == Service::S3
    }

    /// The action names of this family, without its `*` action.
    fn names(self) -> &'static [&'static str] {
        match self {
            Service::S3 => S3_ACTIONS,
            Service::Admin => ADMIN_ACTIONS,
            Service::Kms => KMS_ACTIONS,
            Service::Sts => STS_ACTIONS,
        }
    }

    /// The name of this family's "every action" pattern.
    fn all_actions(self) -> &'static str {
        match self {
            Service::S3 => ALL_S3,
            Service::Admin => ALL_ADMIN,
            Service::Kms => ALL_KMS,
            Service::Sts => ALL_STS,
        }
    }
}

/// Whether an action pattern from a policy names at least one known action.
pub fn is_known_action_pattern(pattern: &str) -> bool {
    Service::ALL.iter().any(|service| pattern_covers(pattern, *service))
}

/// Whether an action pattern matches at least one action of `service`.
pub fn pattern_covers(pattern: &str, service: Service) -> bool {
    wildcard::matches_ignore_ascii_case(pattern, service.all_actions())
        || service.names().iter().any(|name| wildcard::matches_ignore_ascii_case(pattern, name))
}

/// Whether an action pattern matches at least one object action, which MinIO requires
/// of a bucket policy statement's resources (they must then include an object pattern).
pub fn pattern_covers_object_action(pattern: &str) -> bool {
    wildcard::matches_ignore_ascii_case(pattern, ALL_S3)
        || S3_OBJECT_ACTIONS.iter().any(|name| wildcard::matches_ignore_ascii_case(pattern, name))
}

/// Whether `action` (a concrete name, not a pattern) acts on an object.
pub fn is_object_action(action: &str) -> bool {
    S3_OBJECT_ACTIONS.iter().any(|name| name.eq_ignore_ascii_case(action))
}

/// Whether a statement's action pattern matches a requested action: wildcard match
/// without regard to case, plus MinIO's one implied action, `s3:GetObjectVersion`
/// granting (or, under `Deny`, refusing) `s3:GetObject` too.
pub fn action_matches(pattern: &str, action: &str) -> bool {
    wildcard::matches_ignore_ascii_case(pattern, action)
        || (pattern.eq_ignore_ascii_case(GET_OBJECT_VERSION) && action.eq_ignore_ascii_case(GET_OBJECT))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_hold_no_duplicates_and_only_their_family() {
        for service in Service::ALL {
            let mut seen = std::collections::HashSet::new();
            for name in service.names() {
                assert_eq!(Service::of(name), Some(service), "{name}");
                assert!(seen.insert(name.to_ascii_lowercase()), "duplicate {name}");
                assert!(!wildcard::has_wildcard(name), "{name}");
            }
        }
        for name in S3_OBJECT_ACTIONS {
            assert!(S3_ACTIONS.contains(name), "{name}");
        }
    }

    #[test]
    fn patterns() {
        assert!(is_known_action_pattern("s3:*"));
        assert!(is_known_action_pattern("S3:GETOBJECT"));
        assert!(is_known_action_pattern("s3:Get*"));
        assert!(is_known_action_pattern("admin:*"));
        assert!(is_known_action_pattern("*"));
        assert!(is_known_action_pattern("kms:*"));
        assert!(!is_known_action_pattern("s3:GetObjekt"));
        assert!(!is_known_action_pattern("ec2:*"));
        assert!(!is_known_action_pattern(""));
        assert!(pattern_covers("*", Service::S3));
        assert!(!pattern_covers("admin:*", Service::S3));
        assert!(pattern_covers_object_action("s3:Get*"));
        assert!(!pattern_covers_object_action("s3:ListBucket"));
    }

    #[test]
    fn implied_get_object_version() {
        assert!(action_matches(GET_OBJECT_VERSION, GET_OBJECT));
        assert!(!action_matches(GET_OBJECT, GET_OBJECT_VERSION));
        assert!(action_matches("s3:get*", GET_OBJECT));
    }
}
