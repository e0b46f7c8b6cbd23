//! Why a policy document was refused.
//!
//! Every variant names where in the document the problem is (`context`, such as
//! `Statement[1].Condition`), so the S3 front can answer `MalformedPolicy` with a
//! message a person can act on. Evaluation never fails: a parsed policy is valid.

/// Why a policy document could not be parsed or does not fit where it is used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// The document is larger than [`super::POLICY_BYTES_MAX`].
    #[error("policy document is {size_bytes} bytes, over the limit of {limit_bytes} bytes")]
    TooLarge {
        /// Size of the document given.
        size_bytes: usize,
        /// The limit it exceeds.
        limit_bytes: usize,
    },
    /// Not JSON, or not a JSON object at the top.
    #[error("policy document is not valid JSON: {0}")]
    Json(String),
    /// A field that policy documents do not have (field names are matched without
    /// regard to case, as MinIO's decoder does).
    #[error("{context}: unknown field '{field}'")]
    UnknownField {
        /// Where the field is.
        context: String,
        /// The field as written.
        field: String,
    },
    /// The same field twice in one object, perhaps spelled with different case.
    #[error("{context}: field '{field}' appears more than once")]
    DuplicateField {
        /// Where the field is.
        context: String,
        /// The field's canonical name.
        field: &'static str,
    },
    /// A required field is absent.
    #[error("{context}: missing '{field}'")]
    MissingField {
        /// Where the field should be.
        context: String,
        /// The field's canonical name.
        field: &'static str,
    },
    /// A field holds the wrong kind of JSON value.
    #[error("{context}: '{field}' must be {expected}")]
    WrongType {
        /// Where the field is.
        context: String,
        /// The field.
        field: String,
        /// What it must be, in words.
        expected: &'static str,
    },
    /// A list or map that must have at least one entry has none.
    #[error("{context}: '{field}' must not be empty")]
    Empty {
        /// Where the field is.
        context: String,
        /// The field.
        field: String,
    },
    /// `Version` is neither `2012-10-17` nor `2008-10-17`.
    #[error("unsupported policy Version '{0}' (expected \"2012-10-17\" or \"2008-10-17\")")]
    InvalidVersion(String),
    /// `Effect` is neither `Allow` nor `Deny`.
    #[error("{context}: invalid Effect '{effect}' (expected \"Allow\" or \"Deny\")")]
    InvalidEffect {
        /// The statement.
        context: String,
        /// The effect as written.
        effect: String,
    },
    /// Two fields that exclude each other, such as `Action` and `NotAction`.
    #[error("{context}: '{first}' and '{second}' cannot both be given")]
    Conflicting {
        /// The statement.
        context: String,
        /// One field.
        first: &'static str,
        /// The other.
        second: &'static str,
    },
    /// An action pattern that matches no action Cairn knows.
    #[error("{context}: unknown action '{action}'")]
    UnknownAction {
        /// The statement.
        context: String,
        /// The pattern as written.
        action: String,
    },
    /// A resource that is not `*` or an S3 ARN `arn:aws:s3:::bucket[/key]`.
    #[error("{context}: invalid resource '{resource}': {reason}")]
    InvalidResource {
        /// The statement.
        context: String,
        /// The resource as written.
        resource: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A `Principal` that is not `"*"` or `{"AWS": ...}`.
    #[error("{context}: invalid Principal: {reason}")]
    InvalidPrincipal {
        /// The statement.
        context: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// `NotPrincipal`, which Cairn (like MinIO) does not implement.
    #[error("{context}: NotPrincipal is not supported")]
    NotPrincipalUnsupported {
        /// The statement.
        context: String,
    },
    /// A condition operator Cairn does not implement.
    #[error("{context}: unsupported condition operator '{operator}'")]
    UnknownConditionOperator {
        /// The statement.
        context: String,
        /// The operator as written.
        operator: String,
    },
    /// A condition key Cairn does not know.
    #[error("{context}: unknown condition key '{key}'")]
    UnknownConditionKey {
        /// The statement.
        context: String,
        /// The key as written.
        key: String,
    },
    /// A condition value the operator cannot use, or an operator not allowed on a key.
    #[error("{context}: invalid {operator} condition on '{key}' with value '{value}': {reason}")]
    InvalidConditionValue {
        /// The statement.
        context: String,
        /// The operator.
        operator: String,
        /// The key.
        key: String,
        /// The value as written.
        value: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// A bucket policy statement naming a resource outside the policy's bucket.
    #[error("{context}: resource '{resource}' is not in bucket '{bucket}'")]
    ResourceOutsideBucket {
        /// The statement.
        context: String,
        /// The resource as written.
        resource: String,
        /// The bucket the policy is for.
        bucket: String,
    },
    /// A bucket policy statement whose resources cannot cover one of its actions, such
    /// as `s3:GetObject` on `arn:aws:s3:::bucket` alone.
    #[error("{context}: action '{action}' needs {needed} resource")]
    ResourceKindMismatch {
        /// The statement.
        context: String,
        /// The action pattern.
        action: String,
        /// "an object" or "a bucket".
        needed: &'static str,
    },
    /// A bucket policy statement granting a non-S3 action.
    #[error("{context}: action '{action}' cannot be granted by a bucket policy")]
    ActionNotForBuckets {
        /// The statement.
        context: String,
        /// The action pattern.
        action: String,
    },
    /// An identity (user or group) policy with a `Principal`, which only bucket
    /// policies have.
    #[error("{context}: an identity policy cannot have a Principal")]
    PrincipalNotAllowed {
        /// The statement.
        context: String,
    },
}
