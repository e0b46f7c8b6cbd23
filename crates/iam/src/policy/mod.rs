//! AWS IAM policy documents as MinIO implements them: parsing with validation,
//! canonical JSON output, evaluation against a request, MinIO's canned policies and
//! mc's anonymous-access bucket presets.

pub mod actions;
pub mod admin_actions;
mod bucket;
mod canned;
mod cidr;
mod condition;
mod condition_eval;
mod document;
mod error;
mod evaluate;
mod keys;
mod parse;
mod resource;
mod serialize;
pub mod wildcard;

pub use bucket::{PresetKind, UnknownPreset, classify, preset};
pub use canned::{CANNED_NAMES, canned, canned_json};
pub use condition::{Condition, ConditionOperator, Operator, SetQualifier};
pub use document::{ActionSpec, Effect, Policy, PolicyVersion, Principal, ResourceSpec, Statement};
pub use error::PolicyError;
pub use evaluate::{Decision, Request, evaluate};
pub use keys::ConditionValues;
pub use parse::POLICY_BYTES_MAX;
pub use resource::{ResourcePattern, S3_ARN_PREFIX};
