//! The anonymous-access presets of `mc anonymous set none|download|upload|public`,
//! built exactly as mc builds them (minio-go `pkg/policy` `SetPolicy` on a bucket with
//! no policy), and recognising them again for `mc anonymous get`.
//!
//! For bucket `b` and prefix `p` (empty for the whole bucket), every statement is
//! `Allow` for principal `*`:
//!
//! - download: `s3:GetBucketLocation` and `s3:ListBucket` on `b` (when `p` is not
//!   empty `s3:ListBucket` gets its own statement with `StringLike s3:prefix p*`), and
//!   `s3:GetObject` on `b/p*`.
//! - upload: `s3:GetBucketLocation` and `s3:ListBucketMultipartUploads` on `b`, and
//!   `s3:AbortMultipartUpload`, `s3:DeleteObject`, `s3:ListMultipartUploadParts`,
//!   `s3:PutObject` on `b/p*`.
//! - public: both, the bucket actions merged into one statement (less `s3:ListBucket`
//!   when it carries the prefix condition) and the object actions into another.
//! - none: no statement; the bucket then has no policy.

use std::fmt;
use std::str::FromStr;

use super::actions;
use super::condition::Condition;
use super::document::{ActionSpec, Effect, Policy, Principal, ResourceSpec, Statement};
use super::resource::ResourcePattern;

/// One of mc's anonymous-access presets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PresetKind {
    /// No anonymous access (no bucket policy).
    None,
    /// Anonymous listing and reading.
    Download,
    /// Anonymous writing, including multipart uploads and deletes.
    Upload,
    /// Both.
    Public,
}

impl PresetKind {
    /// Every preset, in mc's order.
    pub const ALL: [PresetKind; 4] = [PresetKind::None, PresetKind::Download, PresetKind::Upload, PresetKind::Public];

    /// The preset's name on mc's command line.
    pub fn as_str(self) -> &'static str {
        match self {
            PresetKind::None => "none",
            PresetKind::Download => "download",
            PresetKind::Upload => "upload",
            PresetKind::Public => "public",
        }
    }

    fn reads(self) -> bool {
        matches!(self, PresetKind::Download | PresetKind::Public)
    }

    fn writes(self) -> bool {
        matches!(self, PresetKind::Upload | PresetKind::Public)
    }
}

impl fmt::Display for PresetKind {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// The name given is not one of `none`, `download`, `upload`, `public`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown anonymous access preset '{0}' (expected none, download, upload or public)")]
pub struct UnknownPreset(pub String);

impl FromStr for PresetKind {
    type Err = UnknownPreset;

    fn from_str(name: &str) -> Result<PresetKind, UnknownPreset> {
        PresetKind::ALL
            .into_iter()
            .find(|kind| kind.as_str().eq_ignore_ascii_case(name))
            .ok_or_else(|| UnknownPreset(name.to_owned()))
    }
}

/// The bucket policy mc writes for `kind` on `bucket`, limited to keys starting with
/// `prefix` (empty for the whole bucket). `PresetKind::None` gives an empty policy,
/// meaning the bucket policy is to be deleted.
pub fn preset(kind: PresetKind, bucket: &str, prefix: &str) -> Policy {
    assert!(!bucket.is_empty() && !bucket.contains('/'), "preset for an invalid bucket name {bucket:?}");
    if kind == PresetKind::None {
        return Policy::new(Vec::new());
    }
    let mut bucket_actions = vec![actions::GET_BUCKET_LOCATION];
    let mut statements = Vec::new();
    let mut listing_statement = None;
    if kind.reads() {
        if prefix.is_empty() {
            bucket_actions.push(actions::LIST_BUCKET);
        } else {
            let condition = Condition::new_string_like("s3:prefix", format!("{prefix}*"));
            listing_statement = Some(allow(&[actions::LIST_BUCKET], bucket.to_owned(), vec![condition]));
        }
    }
    if kind.writes() {
        bucket_actions.push(actions::LIST_BUCKET_MULTIPART_UPLOADS);
    }
    statements.push(allow(&bucket_actions, bucket.to_owned(), Vec::new()));
    statements.extend(listing_statement);
    let mut object_actions = Vec::new();
    if kind.reads() {
        object_actions.push(actions::GET_OBJECT);
    }
    if kind.writes() {
        object_actions.extend([
            actions::ABORT_MULTIPART_UPLOAD,
            actions::DELETE_OBJECT,
            actions::LIST_MULTIPART_UPLOAD_PARTS,
            actions::PUT_OBJECT,
        ]);
    }
    statements.push(allow(&object_actions, format!("{bucket}/{prefix}*"), Vec::new()));
    Policy::new(statements)
}

/// Which preset `policy` is for `bucket`, as `mc anonymous get` reports it: the preset
/// whose statements it has exactly (in any order, ignoring `Sid`, `Id` and `Version`),
/// for the prefix its object resource names. `None` means a custom policy.
pub fn classify(policy: &Policy, bucket: &str) -> Option<PresetKind> {
    if policy.is_empty() {
        return Some(PresetKind::None);
    }
    let object_prefix = format!("{bucket}/");
    let mut prefixes: Vec<&str> = policy
        .statements()
        .iter()
        .filter_map(Statement::resources)
        .flat_map(ResourceSpec::patterns)
        .filter_map(|pattern| match pattern {
            ResourcePattern::S3(pattern) => pattern.strip_prefix(&object_prefix)?.strip_suffix('*'),
            ResourcePattern::Any => None,
        })
        .collect();
    prefixes.sort_unstable();
    prefixes.dedup();
    let wanted = canonical_statements(policy);
    for prefix in prefixes {
        for kind in [PresetKind::Download, PresetKind::Upload, PresetKind::Public] {
            if canonical_statements(&preset(kind, bucket, prefix)) == wanted {
                return Some(kind);
            }
        }
    }
    None
}

/// The statements without their `Sid`, in a fixed order, for comparing policies that
/// differ only in statement order.
fn canonical_statements(policy: &Policy) -> Vec<String> {
    let mut statements: Vec<String> = policy
        .statements()
        .iter()
        .map(|statement| {
            let mut statement = statement.clone();
            statement.sid = None;
            Policy::new(vec![statement]).to_json()
        })
        .collect();
    statements.sort_unstable();
    statements
}

/// An anonymous `Allow` statement of `actions` on one resource.
fn allow(action_names: &[&str], resource: String, conditions: Vec<Condition>) -> Statement {
    let mut action_names: Vec<String> = action_names.iter().map(|name| (*name).to_owned()).collect();
    action_names.sort();
    Statement::new(
        Effect::Allow,
        Some(Principal::everyone()),
        ActionSpec::Action(action_names),
        Some(ResourceSpec::Resource(vec![ResourcePattern::s3(resource)])),
        conditions,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for kind in PresetKind::ALL {
            assert_eq!(kind.as_str().parse::<PresetKind>(), Ok(kind));
        }
        assert_eq!("PUBLIC".parse::<PresetKind>(), Ok(PresetKind::Public));
        assert!("readwrite".parse::<PresetKind>().is_err());
    }
}
