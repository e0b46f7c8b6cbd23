//! Condition keys: the names a policy may test (MinIO's `AllSupportedKeys`), the values
//! a request carries for them, and the policy variables (`${aws:username}`) that can be
//! substituted from those values.
//!
//! Key names are matched without regard to ASCII case, as AWS does, except the part
//! after a `/` (the tag key of `s3:ExistingObjectTag/<tag>`), because tag keys are
//! case-sensitive.

use std::collections::BTreeMap;

use super::wildcard::{self, Token};

/// Every condition key a policy may test, in its canonical spelling.
const CONDITION_KEYS: &[&str] = &[
    "s3:signatureversion",
    "s3:authType",
    "s3:signatureAge",
    "s3:x-amz-copy-source",
    "s3:x-amz-server-side-encryption",
    "s3:x-amz-server-side-encryption-customer-algorithm",
    "s3:x-amz-metadata-directive",
    "s3:x-amz-storage-class",
    "s3:x-amz-server-side-encryption-aws-kms-key-id",
    "s3:x-amz-content-sha256",
    "s3:LocationConstraint",
    "s3:prefix",
    "s3:delimiter",
    "s3:max-keys",
    "s3:versionid",
    "s3:object-lock-remaining-retention-days",
    "s3:object-lock-mode",
    "s3:object-lock-legal-hold",
    "s3:object-lock-retain-until-date",
    "s3:RequestObjectTagKeys",
    "aws:Referer",
    "aws:SourceIp",
    "aws:UserAgent",
    "aws:SecureTransport",
    "aws:CurrentTime",
    "aws:EpochTime",
    "aws:principaltype",
    "aws:userid",
    "aws:username",
    "aws:groups",
    "ldap:user",
    "ldap:username",
    "ldap:groups",
    "jwt:sub",
    "jwt:iss",
    "jwt:aud",
    "jwt:jti",
    "jwt:name",
    "jwt:upn",
    "jwt:groups",
    "jwt:given_name",
    "jwt:family_name",
    "jwt:middle_name",
    "jwt:nickname",
    "jwt:preferred_username",
    "jwt:profile",
    "jwt:picture",
    "jwt:website",
    "jwt:email",
    "jwt:gender",
    "jwt:birthdate",
    "jwt:phone_number",
    "jwt:address",
    "jwt:scope",
    "jwt:client_id",
    "sts:DurationSeconds",
    "svc:DurationSeconds",
];

/// Keys that take a tag key after a `/`: `s3:ExistingObjectTag/<tag>` and
/// `s3:RequestObjectTag/<tag>`.
const TAG_KEYS: &[&str] = &["s3:ExistingObjectTag", "s3:RequestObjectTag"];

/// Keys whose request value may be substituted for `${key}` in resources and condition
/// values: MinIO's `CommonKeys`, which describe the caller and the connection rather
/// than one operation's arguments.
const VARIABLE_KEYS: &[&str] = &[
    "s3:signatureversion",
    "s3:authType",
    "s3:signatureAge",
    "s3:x-amz-content-sha256",
    "s3:LocationConstraint",
    "aws:Referer",
    "aws:SourceIp",
    "aws:UserAgent",
    "aws:SecureTransport",
    "aws:CurrentTime",
    "aws:EpochTime",
    "aws:principaltype",
    "aws:userid",
    "aws:username",
    "aws:groups",
    "ldap:user",
    "ldap:username",
    "ldap:groups",
    "jwt:sub",
    "jwt:iss",
    "jwt:aud",
    "jwt:jti",
    "jwt:name",
    "jwt:upn",
    "jwt:groups",
    "jwt:given_name",
    "jwt:family_name",
    "jwt:middle_name",
    "jwt:nickname",
    "jwt:preferred_username",
    "jwt:profile",
    "jwt:picture",
    "jwt:website",
    "jwt:email",
    "jwt:gender",
    "jwt:birthdate",
    "jwt:phone_number",
    "jwt:address",
    "jwt:scope",
    "jwt:client_id",
];

/// The canonical spelling of a condition key written in a policy, or `None` if Cairn
/// does not know the key. A tag key keeps its tag part as written.
pub(crate) fn canonical_key(key: &str) -> Option<String> {
    if let Some((name, tag)) = key.split_once('/') {
        let canonical = TAG_KEYS.iter().find(|known| known.eq_ignore_ascii_case(name))?;
        if tag.is_empty() {
            return None;
        }
        return Some(format!("{canonical}/{tag}"));
    }
    CONDITION_KEYS.iter().find(|known| known.eq_ignore_ascii_case(key)).map(|known| (*known).to_owned())
}

/// Whether `${key}` may be substituted.
fn is_variable_key(key: &str) -> bool {
    VARIABLE_KEYS.iter().any(|known| known.eq_ignore_ascii_case(key))
}

/// The form a key is stored and looked up under: ASCII lower case before the first
/// `/`, the tag part after it untouched.
fn lookup_form(key: &str) -> String {
    match key.split_once('/') {
        Some((name, tag)) => format!("{}/{tag}", name.to_ascii_lowercase()),
        None => key.to_ascii_lowercase(),
    }
}

/// The values a request carries for condition keys, such as `s3:prefix`,
/// `aws:SourceIp`, `aws:SecureTransport`, `aws:username` or
/// `s3:ExistingObjectTag/<tag>`. A key that is absent is not the same as a key with an
/// empty value: absent keys follow AWS's missing-key rules.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConditionValues {
    /// Values by key in [`lookup_form`]; no entry has an empty list.
    values: BTreeMap<String, Vec<String>>,
}

impl ConditionValues {
    /// No values: every key is absent.
    pub fn new() -> ConditionValues {
        ConditionValues::default()
    }

    /// Sets the values of `key`, replacing any it had. An empty list removes the key.
    pub fn insert(&mut self, key: &str, values: Vec<String>) {
        let key = lookup_form(key);
        if values.is_empty() {
            self.values.remove(&key);
        } else {
            self.values.insert(key, values);
        }
    }

    /// Adds one value to `key`.
    pub fn push(&mut self, key: &str, value: impl Into<String>) {
        self.values.entry(lookup_form(key)).or_default().push(value.into());
    }

    /// `self` with one value added to `key`, for building values in one expression.
    pub fn with(mut self, key: &str, value: impl Into<String>) -> ConditionValues {
        self.push(key, value);
        self
    }

    /// The values of `key`, or `None` when the request does not carry it.
    pub fn get(&self, key: &str) -> Option<&[String]> {
        self.values.get(&lookup_form(key)).map(Vec::as_slice)
    }

    /// The value substituted for `${key}`: the first value, if it is not empty (MinIO
    /// does not substitute empty values).
    fn variable(&self, key: &str) -> Option<&str> {
        if !is_variable_key(key) {
            return None;
        }
        let first = self.get(key)?.first()?;
        (!first.is_empty()).then_some(first.as_str())
    }
}

impl<K: AsRef<str>, V: Into<String>> FromIterator<(K, V)> for ConditionValues {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(pairs: I) -> ConditionValues {
        let mut values = ConditionValues::new();
        for (key, value) in pairs {
            values.push(key.as_ref(), value);
        }
        values
    }
}

/// A piece of a string after policy variables are expanded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Piece<'a> {
    /// Text from the policy itself, in which `*` and `?` keep their wildcard meaning.
    Policy(&'a str),
    /// Text from a substituted variable (or `${*}`, `${?}`, `${$}`), always literal,
    /// so that a user named `*` is not a wildcard.
    Literal(&'a str),
}

/// Splits `text` into pieces with every known variable substituted. An unknown
/// variable, or one the request has no value for, stays as written (as MinIO leaves
/// it), so it matches only itself.
pub(crate) fn expand<'a>(text: &'a str, values: &'a ConditionValues) -> Vec<Piece<'a>> {
    let mut pieces = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let Some(length) = rest[start + 2..].find('}') else {
            break;
        };
        let name = &rest[start + 2..start + 2 + length];
        let replacement = match name {
            "*" => Some("*"),
            "?" => Some("?"),
            "$" => Some("$"),
            _ => values.variable(name),
        };
        let end = start + 2 + length + 1;
        match replacement {
            Some(replacement) => {
                if start > 0 {
                    pieces.push(Piece::Policy(&rest[..start]));
                }
                pieces.push(Piece::Literal(replacement));
            }
            None => pieces.push(Piece::Policy(&rest[..end])),
        }
        rest = &rest[end..];
    }
    if !rest.is_empty() {
        pieces.push(Piece::Policy(rest));
    }
    pieces
}

/// `text` with known variables substituted, as one string (for operators that compare
/// whole strings, where wildcards mean nothing).
pub(crate) fn substitute(text: &str, values: &ConditionValues) -> String {
    expand(text, values)
        .into_iter()
        .map(|piece| match piece {
            Piece::Policy(text) | Piece::Literal(text) => text,
        })
        .collect()
}

/// Whether `text` matches the wildcard `pattern` once variables are substituted from
/// `values`; `None` means the policy's version has no variables (2008-10-17), so the
/// pattern is used as written. Substituted text is matched literally.
pub(crate) fn matches_with_variables(pattern: &str, text: &str, values: Option<&ConditionValues>) -> bool {
    let Some(values) = values.filter(|_| pattern.contains("${")) else {
        return wildcard::matches(pattern, text);
    };
    let mut tokens = Vec::with_capacity(pattern.len());
    for piece in expand(pattern, values) {
        match piece {
            Piece::Policy(text) => tokens.extend(text.chars().map(|character| match character {
                '*' => Token::AnySequence,
                '?' => Token::AnyCharacter,
                other => Token::Literal(other),
            })),
            Piece::Literal(text) => tokens.extend(text.chars().map(Token::Literal)),
        }
    }
    wildcard::matches_tokens(&tokens, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_canonicalised() {
        assert_eq!(canonical_key("S3:PREFIX").as_deref(), Some("s3:prefix"));
        assert_eq!(canonical_key("aws:sourceip").as_deref(), Some("aws:SourceIp"));
        assert_eq!(canonical_key("s3:existingobjecttag/Env").as_deref(), Some("s3:ExistingObjectTag/Env"));
        assert_eq!(canonical_key("s3:ExistingObjectTag"), None);
        assert_eq!(canonical_key("s3:ExistingObjectTag/"), None);
        assert_eq!(canonical_key("s3:prefix/x"), None);
        assert_eq!(canonical_key("aws:PrincipalTag/team"), None);
        assert_eq!(canonical_key("ec2:Region"), None);
    }

    #[test]
    fn values_ignore_key_case_but_not_tag_case() {
        let values = ConditionValues::new().with("S3:Prefix", "photos/").with("s3:ExistingObjectTag/Env", "prod");
        assert_eq!(values.get("s3:prefix"), Some(&["photos/".to_owned()][..]));
        assert!(values.get("s3:existingobjecttag/Env").is_some());
        assert!(values.get("s3:ExistingObjectTag/env").is_none());
        let mut values = values;
        values.insert("s3:prefix", Vec::new());
        assert!(values.get("s3:prefix").is_none());
    }

    #[test]
    fn variables_expand() {
        let values = ConditionValues::new().with("aws:username", "alice").with("s3:prefix", "secret");
        assert_eq!(substitute("home/${aws:username}/*", &values), "home/alice/*");
        assert_eq!(substitute("${AWS:UserName}", &values), "alice");
        // Not a variable key, so left as written.
        assert_eq!(substitute("${s3:prefix}", &values), "${s3:prefix}");
        // Known key without a value: left as written.
        assert_eq!(substitute("${aws:userid}", &values), "${aws:userid}");
        assert_eq!(substitute("a${*}b${?}c${$}", &values), "a*b?c$");
        assert_eq!(substitute("${unclosed", &values), "${unclosed");
        assert_eq!(
            expand("x/${aws:username}/*", &values),
            vec![Piece::Policy("x/"), Piece::Literal("alice"), Piece::Policy("/*")]
        );
        let empty = ConditionValues::new().with("aws:username", "");
        assert_eq!(substitute("${aws:username}", &empty), "${aws:username}");
    }

    #[test]
    fn substituted_wildcards_are_literal() {
        let star = ConditionValues::new().with("aws:username", "*");
        assert!(matches_with_variables("home/${aws:username}/*", "home/*/file", Some(&star)));
        assert!(!matches_with_variables("home/${aws:username}/*", "home/bob/file", Some(&star)));
        let alice = ConditionValues::new().with("aws:username", "alice");
        assert!(matches_with_variables("home/${aws:username}/*", "home/alice/x", Some(&alice)));
        assert!(!matches_with_variables("home/${aws:username}/*", "home/alice/x", None));
        assert!(matches_with_variables("home/${aws:username}/*", "home/${aws:username}/x", None));
    }
}
