//! The bootstrap file of `cairn admin apply`: what a deployment should hold (policies,
//! users, groups, service accounts, buckets and their anonymous access), read from
//! YAML with secrets taken from environment variables (`${NAME}`).

use crate::error::{CliError, Result};
use serde::Deserialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Largest bootstrap file read: it lists identities and buckets, not data.
const FILE_BYTES_MAX: u64 = 1 << 20;
/// The only format version this build reads.
const FORMAT_VERSION: u32 = 1;

/// Everything a bootstrap file declares. Names the file does not mention are left
/// alone: applying a file never removes anything.
#[derive(Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Bootstrap {
    /// Format version; must be 1.
    pub version: u32,
    /// Named IAM policies (name to policy document).
    #[serde(default)]
    pub policies: BTreeMap<String, Value>,
    /// Users with their secret key and policies.
    #[serde(default)]
    pub users: Vec<User>,
    /// Groups with their members and policies.
    #[serde(default)]
    pub groups: Vec<Group>,
    /// Service accounts: extra keys of a user.
    #[serde(default)]
    pub service_accounts: Vec<ServiceAccount>,
    /// Buckets and who may use them without credentials.
    #[serde(default)]
    pub buckets: Vec<Bucket>,
}

/// A user.
#[derive(Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct User {
    /// The access key (user name).
    pub access_key: String,
    /// The secret key; at least 8 characters.
    pub secret_key: String,
    /// Policies attached to the user (exactly these).
    #[serde(default)]
    pub policies: Vec<String>,
    /// False to keep the user but refuse its requests.
    #[serde(default = "enabled")]
    pub enabled: bool,
}

/// A group.
#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Group {
    /// The group's name.
    pub name: String,
    /// Access keys of the members (exactly these).
    pub members: Vec<String>,
    /// Policies attached to the group (exactly these).
    #[serde(default)]
    pub policies: Vec<String>,
}

/// A service account.
#[derive(Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ServiceAccount {
    /// The user the account belongs to.
    pub user: String,
    /// The account's access key.
    pub access_key: String,
    /// The account's secret key; at least 8 characters.
    pub secret_key: String,
    /// A policy narrowing what the user may do through this account; without one the
    /// account has the user's own permissions.
    #[serde(default)]
    pub policy: Option<Value>,
}

/// A bucket.
#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Bucket {
    /// The bucket's name.
    pub name: String,
    /// Anonymous access, as `cairn anonymous set`: none, download (public read),
    /// upload, or public (read and write).
    #[serde(default)]
    pub access: Access,
    /// Lifecycle rules, as `cairn ilm rule add` options (camelCase: `expireDays`,
    /// `abortUploadsDays`, ...), each with an `id`. Exactly these rules when given (an
    /// empty list removes them all); left alone when absent.
    #[serde(default)]
    pub lifecycle: Option<Vec<crate::commands::ilm::RuleSpec>>,
    /// Event notification rules, as `cairn event add` takes them. Exactly these rules
    /// when given (an empty list removes them all); left alone when absent.
    #[serde(default)]
    pub events: Option<Vec<EventRuleSpec>>,
}

/// One notification rule of a bucket: `events` (`put`, `delete`, `get` or S3 event
/// names) of keys with `prefix` and `suffix` go to the webhook target `arn`.
#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EventRuleSpec {
    pub arn: String,
    pub events: Vec<String>,
    #[serde(default)]
    pub prefix: String,
    #[serde(default)]
    pub suffix: String,
}

impl EventRuleSpec {
    /// The rule as `event ls` compares rules: ARN, S3 event names (sorted), prefix, suffix.
    pub fn key(&self) -> crate::error::Result<(String, Vec<String>, String, String)> {
        let mut events = crate::commands::event::events_of(&self.events.join(","))?;
        events.sort();
        Ok((self.arn.clone(), events, self.prefix.clone(), self.suffix.clone()))
    }
}

/// Anonymous access to a bucket.
#[derive(Debug, Default, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Access {
    /// Credentials needed for everything (`private` is accepted too).
    #[default]
    #[serde(alias = "private")]
    None,
    /// Anyone may list and read objects (`public-read` is accepted too).
    #[serde(alias = "public-read")]
    Download,
    /// Anyone may write objects.
    Upload,
    /// Anyone may list, read and write objects.
    Public,
}

impl Access {
    /// The level's name as `cairn anonymous` spells it.
    pub fn level(self) -> &'static str {
        match self {
            Access::None => "none",
            Access::Download => "download",
            Access::Upload => "upload",
            Access::Public => "public",
        }
    }
}

fn enabled() -> bool {
    true
}

// Hand-written so that a secret key never reaches a log or a panic message.
impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("access_key", &self.access_key)
            .field("policies", &self.policies)
            .field("enabled", &self.enabled)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for ServiceAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAccount")
            .field("user", &self.user)
            .field("access_key", &self.access_key)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// Shortest secret key the server accepts.
const SECRET_KEY_CHARS_MIN: usize = 8;

impl Bootstrap {
    /// Reads and checks `path`, with `${NAME}` replaced by `lookup(NAME)`.
    pub fn load(path: &Path, lookup: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let meta = std::fs::metadata(path).map_err(|e| CliError::io(path, e))?;
        if meta.len() > FILE_BYTES_MAX {
            return Err(CliError::Usage(format!("{}: larger than {FILE_BYTES_MAX} bytes", path.display())));
        }
        let text = std::fs::read_to_string(path).map_err(|e| CliError::io(path, e))?;
        Self::parse(&text, lookup).map_err(|e| CliError::Usage(format!("{}: {e}", path.display())))
    }

    /// Parses and checks a bootstrap document.
    pub fn parse(text: &str, lookup: impl Fn(&str) -> Option<String>) -> std::result::Result<Self, String> {
        let mut value: yaml_serde::Value = yaml_serde::from_str(text).map_err(|e| e.to_string())?;
        substitute(&mut value, &lookup, "")?;
        let bootstrap: Bootstrap = yaml_serde::from_value(value).map_err(|e| e.to_string())?;
        bootstrap.check()?;
        Ok(bootstrap)
    }

    /// Refuses what the server would refuse half-way through an apply.
    fn check(&self) -> std::result::Result<(), String> {
        if self.version != FORMAT_VERSION {
            return Err(format!("version {}: this build reads version {FORMAT_VERSION}", self.version));
        }
        unique("user", self.users.iter().map(|u| u.access_key.as_str()))?;
        unique("group", self.groups.iter().map(|g| g.name.as_str()))?;
        unique("service account", self.service_accounts.iter().map(|s| s.access_key.as_str()))?;
        unique("bucket", self.buckets.iter().map(|b| b.name.as_str()))?;
        for (name, document) in &self.policies {
            if !document.is_object() || document.get("Statement").is_none() {
                return Err(format!("policy {name}: a policy document is a map with a Statement list"));
            }
        }
        for user in &self.users {
            check_secret(&format!("user {}", user.access_key), &user.secret_key)?;
        }
        for account in &self.service_accounts {
            check_secret(&format!("service account {}", account.access_key), &account.secret_key)?;
            if let Some(policy) = &account.policy
                && !policy.is_object()
            {
                return Err(format!("service account {}: policy must be a policy document", account.access_key));
            }
        }
        for bucket in &self.buckets {
            check_bucket_name(&bucket.name)?;
            for rule in bucket.lifecycle.iter().flatten() {
                // An id makes a rule the same rule on the next apply (the server names
                // rules given without one afresh).
                if rule.id.as_deref().is_none_or(str::is_empty) {
                    return Err(format!("bucket {}: every lifecycle rule needs an id", bucket.name));
                }
                rule.to_rule().map_err(|e| format!("bucket {}: lifecycle rule {:?}: {e}", bucket.name, rule.id))?;
            }
            let ids = bucket.lifecycle.iter().flatten().filter_map(|rule| rule.id.as_deref());
            unique(&format!("lifecycle rule of bucket {}", bucket.name), ids)?;
            for rule in bucket.events.iter().flatten() {
                rule.key().map_err(|e| format!("bucket {}: event rule for {}: {e}", bucket.name, rule.arn))?;
            }
        }
        Ok(())
    }
}

fn unique<'a>(kind: &str, names: impl Iterator<Item = &'a str>) -> std::result::Result<(), String> {
    let mut seen = BTreeSet::new();
    for name in names {
        if name.is_empty() {
            return Err(format!("a {kind} has an empty name"));
        }
        if !seen.insert(name) {
            return Err(format!("{kind} {name} is declared twice"));
        }
    }
    Ok(())
}

fn check_secret(what: &str, secret: &str) -> std::result::Result<(), String> {
    if secret.chars().count() < SECRET_KEY_CHARS_MIN {
        return Err(format!("{what}: the secret key must be at least {SECRET_KEY_CHARS_MIN} characters"));
    }
    Ok(())
}

/// Lengths S3 allows for a bucket name.
const BUCKET_NAME_CHARS: std::ops::RangeInclusive<usize> = 3..=63;

/// S3's bucket naming rules (3-63 characters of lowercase letters, digits, dots and
/// hyphens, starting and ending with a letter or digit).
fn check_bucket_name(name: &str) -> std::result::Result<(), String> {
    let edge_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    let ok = BUCKET_NAME_CHARS.contains(&name.len())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
        && edge_ok(name.chars().next())
        && edge_ok(name.chars().last())
        && !name.contains("..");
    if ok {
        Ok(())
    } else {
        Err(format!(
            "bucket {name:?}: names are 3-63 lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit"
        ))
    }
}

/// Replaces `${NAME}` in every string of `value` by the variable's value (`$$` is a
/// literal `$`). Unset or empty variables are errors: an empty secret is never meant.
/// Policy documents are left as written: `${aws:username}` there is an IAM policy
/// variable for the server, not one of ours.
fn substitute(
    value: &mut yaml_serde::Value,
    lookup: &impl Fn(&str) -> Option<String>,
    at: &str,
) -> std::result::Result<(), String> {
    match value {
        yaml_serde::Value::String(text) => *text = expand(text, lookup).map_err(|e| format!("{at}: {e}"))?,
        yaml_serde::Value::Sequence(items) => {
            for (index, item) in items.iter_mut().enumerate() {
                substitute(item, lookup, &format!("{at}[{index}]"))?;
            }
        }
        yaml_serde::Value::Mapping(map) => {
            for (key, item) in map.iter_mut() {
                let name = key.as_str().map_or_else(|| format!("{key:?}"), str::to_owned);
                let path = if at.is_empty() { name } else { format!("{at}.{name}") };
                if !is_policy_document(&path) {
                    substitute(item, lookup, &path)?;
                }
            }
        }
        yaml_serde::Value::Tagged(tagged) => substitute(&mut tagged.value, lookup, at)?,
        yaml_serde::Value::Null | yaml_serde::Value::Bool(_) | yaml_serde::Value::Number(_) => {}
    }
    Ok(())
}

/// Whether `path` (as `substitute` spells it) is a policy document: the `policies` map,
/// or a service account's `policy`.
fn is_policy_document(path: &str) -> bool {
    path == "policies" || (path.starts_with("serviceAccounts[") && path.ends_with("].policy"))
}

fn expand(text: &str, lookup: &impl Fn(&str) -> Option<String>) -> std::result::Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(tail) = after.strip_prefix('{') {
            // The text is not quoted in errors: it may be a secret written in the file.
            let end = tail.find('}').ok_or_else(|| "an unclosed ${".to_owned())?;
            let name = &tail[..end];
            let valid = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                return Err(format!("${{{name}}} is not a variable name"));
            }
            let value = lookup(name).filter(|v| !v.is_empty()).ok_or_else(|| format!("${{{name}}} is not set"))?;
            out.push_str(&value);
            rest = &tail[end + 1..];
        } else {
            return Err("a lone $: write ${NAME} for a variable or $$ for a dollar sign".to_owned());
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "APP_SECRET" => Some("s3cr3t-value".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    const FILE: &str = r#"
version: 1
policies:
  crm-app:
    Version: "2012-10-17"
    Statement:
      - Effect: Allow
        Action: ["s3:GetObject"]
        Resource: ["arn:aws:s3:::crm-*/*"]
users:
  - accessKey: crm-access-key
    secretKey: ${APP_SECRET}
    policies: [crm-app]
buckets:
  - name: crm-documents
    access: public-read
  - name: crm-temp
"#;

    #[test]
    fn a_file_reads_with_its_variables_and_defaults() {
        let bootstrap = Bootstrap::parse(FILE, env).expect("valid");
        assert_eq!(bootstrap.users[0].secret_key, "s3cr3t-value");
        assert!(bootstrap.users[0].enabled);
        assert_eq!(bootstrap.buckets[0].access, Access::Download);
        assert_eq!(bootstrap.buckets[1].access, Access::None);
        assert_eq!(bootstrap.policies["crm-app"]["Statement"][0]["Action"][0], "s3:GetObject");
    }

    #[test]
    fn the_deployments_own_bootstrap_file_reads() {
        let text = include_str!("../../../../../k8s/storage/bootstrap.yaml");
        let lookup = |name: &str| Some(format!("{}-value", name.to_lowercase()));
        let bootstrap = Bootstrap::parse(text, lookup).expect("k8s/storage/bootstrap.yaml is valid");
        let buckets: Vec<(&str, Access)> = bootstrap.buckets.iter().map(|b| (b.name.as_str(), b.access)).collect();
        assert_eq!(buckets[0], ("crm-documents", Access::Download));
        assert_eq!(buckets.len(), 5);
        assert_eq!(bootstrap.users[0].policies, ["crm-app"]);
    }

    #[test]
    fn unset_empty_and_malformed_variables_are_refused() {
        for (text, expected) in [
            ("${MISSING}", "${MISSING} is not set"),
            ("${EMPTY}", "${EMPTY} is not set"),
            ("${APP_SECRET", "an unclosed ${"),
            ("a $ sign", "lone $"),
            ("${A-B}", "not a variable name"),
        ] {
            let error = expand(text, &env).expect_err(text);
            assert!(error.contains(expected), "{text}: {error}");
        }
        assert_eq!(expand("cost $$5 ${APP_SECRET}!", &env).expect("valid"), "cost $5 s3cr3t-value!");
        let with_variable = FILE.replace("arn:aws:s3:::crm-*/*", "arn:aws:s3:::crm-*/${aws:username}/*");
        let bootstrap = Bootstrap::parse(&with_variable, env).expect("policy variables are the server's");
        assert_eq!(
            bootstrap.policies["crm-app"]["Statement"][0]["Resource"][0],
            "arn:aws:s3:::crm-*/${aws:username}/*"
        );
        let error = Bootstrap::parse(&FILE.replace("APP_SECRET", "NOPE"), env).expect_err("unset");
        assert!(error.contains("users[0].secretKey"), "the error names where: {error}");
    }

    #[test]
    fn mistakes_are_refused_before_anything_is_applied() {
        let cases = [
            (FILE.replace("version: 1", "version: 2"), "this build reads version 1"),
            (FILE.replace("name: crm-temp", "name: crm-documents"), "declared twice"),
            (FILE.replace("name: crm-temp", "name: Crm_Temp"), "lowercase"),
            (FILE.replace("access: public-read", "access: everyone"), "unknown variant"),
            (FILE.replace("policies: [crm-app]", "policy: [crm-app]"), "unknown field"),
            (FILE.replace("    Statement:", "    Statements:"), "Statement list"),
        ];
        for (text, expected) in cases {
            let error = Bootstrap::parse(&text, env).expect_err(expected);
            assert!(error.contains(expected), "expected {expected:?} in {error}");
        }
        let short = |name: &str| if name == "APP_SECRET" { Some("short".to_owned()) } else { None };
        assert!(Bootstrap::parse(FILE, short).expect_err("short").contains("at least 8"));
    }
}
