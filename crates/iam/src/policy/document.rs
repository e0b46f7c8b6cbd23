//! The parsed form of a policy document. Parsing and validation are in
//! [`super::parse`], JSON output in [`super::serialize`], evaluation in
//! [`super::evaluate`].
//!
//! A `Policy` obtained from this crate is always valid: every action names a known
//! action, every resource is an S3 ARN or `*`, every condition can be evaluated.
//! Lists that are sets in AWS's model (actions, resources, principals, condition
//! values) are kept sorted and without duplicates, so two policies that say the same
//! thing in a different order compare equal and print the same.

use super::condition::Condition;
use super::resource::ResourcePattern;

/// The policy language version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyVersion {
    /// `2012-10-17`, the current language; also what a document without `Version` is
    /// taken to be, as MinIO does. Policy variables are substituted.
    V20121017,
    /// `2008-10-17`, the original language, which AWS still accepts for bucket
    /// policies: `${...}` is literal text.
    V20081017,
}

impl PolicyVersion {
    /// The version as written in documents.
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyVersion::V20121017 => "2012-10-17",
            PolicyVersion::V20081017 => "2008-10-17",
        }
    }

    /// Whether `${...}` policy variables are substituted.
    pub fn has_variables(self) -> bool {
        self == PolicyVersion::V20121017
    }
}

/// What a matching statement does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Effect {
    /// Grants the request, unless some statement denies it.
    Allow,
    /// Refuses the request, whatever else allows it.
    Deny,
}

impl Effect {
    /// The effect as written in documents.
    pub fn as_str(self) -> &'static str {
        match self {
            Effect::Allow => "Allow",
            Effect::Deny => "Deny",
        }
    }
}

/// A statement's `Action` or `NotAction`: action name patterns, sorted, unique,
/// never empty, each matching at least one known action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActionSpec {
    /// The statement applies to the actions matching any pattern.
    Action(Vec<String>),
    /// The statement applies to every action matching none of the patterns.
    NotAction(Vec<String>),
}

impl ActionSpec {
    /// The patterns, whichever field they came from.
    pub fn patterns(&self) -> &[String] {
        match self {
            ActionSpec::Action(patterns) | ActionSpec::NotAction(patterns) => patterns,
        }
    }
}

/// A statement's `Resource` or `NotResource`: sorted, unique, never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResourceSpec {
    /// The statement applies to resources matching any pattern.
    Resource(Vec<ResourcePattern>),
    /// The statement applies to resources matching none of the patterns.
    NotResource(Vec<ResourcePattern>),
}

impl ResourceSpec {
    /// The patterns, whichever field they came from.
    pub fn patterns(&self) -> &[ResourcePattern] {
        match self {
            ResourceSpec::Resource(patterns) | ResourceSpec::NotResource(patterns) => patterns,
        }
    }
}

/// A bucket policy statement's `Principal`: `"*"` (written as `{"AWS": ["*"]}` in
/// output) or `{"AWS": [patterns]}`, matched against the caller's access key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// Access key patterns (wildcards allowed); `*` also matches anonymous callers.
    /// Sorted, unique, never empty.
    pub(crate) aws: Vec<String>,
}

impl Principal {
    /// Everyone, including anonymous callers.
    pub fn everyone() -> Principal {
        Principal { aws: vec!["*".to_owned()] }
    }

    /// The `AWS` patterns.
    pub fn aws(&self) -> &[String] {
        &self.aws
    }

    /// Whether the principal is exactly everyone (`"*"`).
    pub fn is_everyone(&self) -> bool {
        self.aws.iter().any(|pattern| pattern == "*")
    }
}

/// One statement of a policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// `Sid`, if given and not empty; informational only.
    pub(crate) sid: Option<String>,
    /// `Effect`.
    pub(crate) effect: Effect,
    /// `Principal`: present in bucket policies, absent in identity policies.
    pub(crate) principal: Option<Principal>,
    /// `Action` or `NotAction`.
    pub(crate) actions: ActionSpec,
    /// `Resource` or `NotResource`; absent only when no action is an S3 action (admin,
    /// KMS or STS statements, whose resources MinIO ignores).
    pub(crate) resources: Option<ResourceSpec>,
    /// `Condition`, sorted by operator name then key; all must hold.
    pub(crate) conditions: Vec<Condition>,
}

impl Statement {
    /// A statement built by this crate (bucket presets) from known-good parts.
    pub(crate) fn new(
        effect: Effect,
        principal: Option<Principal>,
        actions: ActionSpec,
        resources: Option<ResourceSpec>,
        conditions: Vec<Condition>,
    ) -> Statement {
        Statement { sid: None, effect, principal, actions, resources, conditions }
    }

    /// `Sid`, if any.
    pub fn sid(&self) -> Option<&str> {
        self.sid.as_deref()
    }

    /// `Effect`.
    pub fn effect(&self) -> Effect {
        self.effect
    }

    /// `Principal`, if any.
    pub fn principal(&self) -> Option<&Principal> {
        self.principal.as_ref()
    }

    /// `Action` or `NotAction`.
    pub fn actions(&self) -> &ActionSpec {
        &self.actions
    }

    /// `Resource` or `NotResource`, if any.
    pub fn resources(&self) -> Option<&ResourceSpec> {
        self.resources.as_ref()
    }

    /// `Condition` entries.
    pub fn conditions(&self) -> &[Condition] {
        &self.conditions
    }
}

/// A policy document: an identity policy (attached to users and groups, no
/// `Principal`) or a bucket policy (every statement has a `Principal`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// `Version`.
    pub(crate) version: PolicyVersion,
    /// `Id`, if given and not empty; informational only.
    pub(crate) id: Option<String>,
    /// `Statement`, in document order. Never empty for a parsed policy; empty only for
    /// the `none` bucket preset, which means "no policy".
    pub(crate) statements: Vec<Statement>,
}

impl Policy {
    /// A policy built by this crate from known-good statements.
    pub(crate) fn new(statements: Vec<Statement>) -> Policy {
        Policy { version: PolicyVersion::V20121017, id: None, statements }
    }

    /// `Version`.
    pub fn version(&self) -> PolicyVersion {
        self.version
    }

    /// `Id`, if any.
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// The statements in document order.
    pub fn statements(&self) -> &[Statement] {
        &self.statements
    }

    /// Whether some statement has a condition on a key that starts with `prefix`
    /// (ignoring case, as keys do): lets a caller skip gathering costly values (an
    /// object's existing tags) that no policy looks at.
    pub fn mentions_condition_key(&self, prefix: &str) -> bool {
        let prefix = prefix.to_ascii_lowercase();
        self.statements
            .iter()
            .flat_map(|statement| statement.conditions())
            .any(|condition| condition.key().to_ascii_lowercase().starts_with(&prefix))
    }

    /// Whether the policy has no statement (only the `none` bucket preset): such a
    /// policy decides nothing, and a bucket "with" it has no policy at all.
    pub fn is_empty(&self) -> bool {
        self.statements.is_empty()
    }
}
