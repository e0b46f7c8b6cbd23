//! `cairn-iam`: identity and access for Cairn. `policy` is pure (no I/O, no clock, no
//! async): it parses and validates AWS policy JSON the way MinIO does, prints it back
//! canonically, and decides whether a policy allows a request; the S3 front and the
//! admin API build the [`Request`] and act on the answer. `store` keeps users, service
//! accounts, groups, named and bucket policies in the cluster's system volume and
//! answers "whose key is this" and "may it do this".
//!
//! ```
//! use cairn_iam::{ConditionValues, Decision, Policy, Request};
//!
//! let policy = Policy::parse_identity_policy(br#"{
//!     "Version": "2012-10-17",
//!     "Statement": [{
//!         "Effect": "Allow",
//!         "Action": "s3:*",
//!         "Resource": "arn:aws:s3:::home/${aws:username}/*"
//!     }]
//! }"#)?;
//! let values = ConditionValues::new().with("aws:username", "alice");
//! let own = Request::new("s3:PutObject", &values).with_bucket("home").with_key("alice/notes.txt");
//! let other = Request::new("s3:PutObject", &values).with_bucket("home").with_key("bob/notes.txt");
//! assert_eq!(policy.evaluate(&own), Decision::Allow);
//! assert_eq!(policy.evaluate(&other), Decision::NoMatch);
//! # Ok::<(), cairn_iam::PolicyError>(())
//! ```

pub mod policy;
pub mod store;

pub use store::{AuthFailure, ChangeNotifier, Iam, IamError, Identity};

pub use policy::{
    ActionSpec, CANNED_NAMES, Condition, ConditionOperator, ConditionValues, Decision, Effect, Operator,
    POLICY_BYTES_MAX, Policy, PolicyError, PolicyVersion, PresetKind, Principal, Request, ResourcePattern,
    ResourceSpec, SetQualifier, Statement, canned, classify, evaluate, preset,
};
