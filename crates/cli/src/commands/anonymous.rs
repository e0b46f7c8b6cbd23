//! `cairn anonymous set|get`: a bucket's (or prefix's) access for requests without
//! keys, as mc's canned levels: none, download, upload, public. `set` changes only the
//! statements of that bucket or prefix in the bucket policy (MinIO's canned
//! statements), keeping every other statement; `get` names the level anonymous users
//! have on that bucket or prefix, counting statements for a prefix above it.

use crate::Context;
use crate::error::{CliError, Result};
use crate::s3;
use aws_sdk_s3::error::ProvideErrorMetadata;
use serde_json::{Value, json};

/// Anonymous subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum AnonymousCommand {
    /// Set the anonymous access level of ALIAS/BUCKET[/PREFIX].
    Set {
        /// none, download, upload or public.
        #[arg(value_parser = ["none", "download", "upload", "public"])]
        level: String,
        /// ALIAS/BUCKET[/PREFIX].
        target: String,
    },
    /// Show the anonymous access level of ALIAS/BUCKET[/PREFIX].
    Get {
        /// ALIAS/BUCKET[/PREFIX].
        target: String,
    },
}

const DOWNLOAD_OBJECT_ACTIONS: [&str; 1] = ["s3:GetObject"];
const UPLOAD_OBJECT_ACTIONS: [&str; 4] =
    ["s3:AbortMultipartUpload", "s3:DeleteObject", "s3:ListMultipartUploadParts", "s3:PutObject"];

const LIST_ACTION: &str = "s3:ListBucket";
/// Bucket-level actions the canned levels add beside the object statements.
const BUCKET_ACTIONS: [&str; 2] = ["s3:GetBucketLocation", "s3:ListBucketMultipartUploads"];

fn bucket_arn(bucket: &str) -> String {
    format!("arn:aws:s3:::{bucket}")
}

fn objects_arn(bucket: &str, prefix: &str) -> String {
    format!("arn:aws:s3:::{bucket}/{prefix}*")
}

/// A string or a list of strings (policy fields may be either).
fn as_list(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items.iter().filter_map(|i| i.as_str().map(str::to_owned)).collect(),
        _ => Vec::new(),
    }
}

/// A statement about anonymous requests (principal `*`) with the given effect.
fn is_anonymous(statement: &Value, effect: &str) -> bool {
    let everyone = match &statement["Principal"] {
        Value::String(s) => s == "*",
        Value::Object(map) => map.get("AWS").is_some_and(|aws| as_list(aws).iter().any(|a| a == "*")),
        _ => false,
    };
    everyone && statement["Effect"] == effect
}

/// The canned statements granting `level` on `bucket`/`prefix` (none for "none"),
/// without the bucket-level statement (see [`bucket_statement`]).
fn statements_for(level: &str, bucket: &str, prefix: &str) -> Vec<Value> {
    let (download, upload) = match level {
        "download" => (true, false),
        "upload" => (false, true),
        "public" => (true, true),
        _ => return Vec::new(),
    };
    let mut statements = Vec::new();
    let mut object_actions: Vec<&str> = Vec::new();
    if download {
        let mut list = json!({"Effect": "Allow", "Principal": {"AWS": ["*"]}, "Action": [LIST_ACTION],
                              "Resource": [bucket_arn(bucket)]});
        if !prefix.is_empty() {
            list["Condition"] = json!({"StringEquals": {"s3:prefix": [prefix]}});
        }
        statements.push(list);
        object_actions.extend(DOWNLOAD_OBJECT_ACTIONS);
    }
    if upload {
        object_actions.extend(UPLOAD_OBJECT_ACTIONS);
    }
    statements.push(json!({"Effect": "Allow", "Principal": {"AWS": ["*"]}, "Action": object_actions,
                           "Resource": [objects_arn(bucket, prefix)]}));
    statements
}

/// The bucket-level statement that goes with the object statements in `statements`
/// (GetBucketLocation, and ListBucketMultipartUploads where uploads are allowed).
fn bucket_statement(statements: &[Value], bucket: &str) -> Option<Value> {
    let own_objects = format!("arn:aws:s3:::{bucket}/");
    let grants: Vec<&Value> = statements
        .iter()
        .filter(|s| is_anonymous(s, "Allow") && as_list(&s["Resource"]).iter().any(|r| r.starts_with(&own_objects)))
        .collect();
    if grants.is_empty() {
        return None;
    }
    let uploads = grants.iter().any(|s| as_list(&s["Action"]).iter().any(|a| a == "s3:PutObject"));
    let actions = if uploads { &BUCKET_ACTIONS[..] } else { &BUCKET_ACTIONS[..1] };
    Some(json!({"Effect": "Allow", "Principal": {"AWS": ["*"]}, "Action": actions, "Resource": [bucket_arn(bucket)]}))
}

/// `policy` (maybe none) with the anonymous access of `bucket`/`prefix` set to
/// `level`: the canned statements of that prefix replaced, every other statement
/// kept. None when no statement is left (the policy is then deleted).
pub fn with_level(policy: Option<Value>, level: &str, bucket: &str, prefix: &str) -> Option<Value> {
    let mut policy = policy.unwrap_or_else(|| json!({"Version": "2012-10-17", "Statement": []}));
    let canned_object_actions: Vec<&str> =
        DOWNLOAD_OBJECT_ACTIONS.iter().chain(&UPLOAD_OBJECT_ACTIONS).copied().collect();
    let (own_objects, own_bucket) = (objects_arn(bucket, prefix), bucket_arn(bucket));
    let mut kept = Vec::new();
    for mut statement in policy["Statement"].as_array().cloned().unwrap_or_default() {
        if !is_anonymous(&statement, "Allow") {
            kept.push(statement);
            continue;
        }
        let actions = as_list(&statement["Action"]);
        let resources = as_list(&statement["Resource"]);
        let canned_objects = actions.iter().all(|a| canned_object_actions.contains(&a.as_str()));
        if canned_objects && resources.contains(&own_objects) {
            // This prefix's object grant: drop its resource, keep any others.
            let others: Vec<String> = resources.into_iter().filter(|r| *r != own_objects).collect();
            if !others.is_empty() {
                statement["Resource"] = json!(others);
                kept.push(statement);
            }
            continue;
        }
        let on_bucket_only = resources == [own_bucket.clone()];
        let listing_of_prefix = actions == [LIST_ACTION] && on_bucket_only && {
            let condition = &statement["Condition"]["StringEquals"]["s3:prefix"];
            if prefix.is_empty() { statement.get("Condition").is_none() } else { as_list(condition) == [prefix] }
        };
        let canned_bucket = on_bucket_only
            && statement.get("Condition").is_none()
            && actions.iter().all(|a| BUCKET_ACTIONS.contains(&a.as_str()));
        if !listing_of_prefix && !canned_bucket {
            kept.push(statement);
        }
    }
    kept.extend(statements_for(level, bucket, prefix));
    if let Some(statement) = bucket_statement(&kept, bucket) {
        kept.push(statement);
    }
    if kept.is_empty() {
        return None;
    }
    policy["Statement"] = Value::Array(kept);
    Some(policy)
}

/// The canned level a policy grants anonymous users on `bucket`/`prefix`: a grant on
/// that prefix or on any prefix above it (`bucket/*` covers every prefix) counts,
/// unless an anonymous Deny covers it.
pub fn level_of(policy: &Value, bucket: &str, prefix: &str) -> &'static str {
    let covers = |resource: &str| {
        if resource == "*" || resource == "arn:aws:s3:::*" {
            return true;
        }
        let Some(pattern) = resource.strip_prefix(&format!("arn:aws:s3:::{bucket}/")) else { return false };
        match pattern.strip_suffix('*') {
            Some(above) => !above.contains(['*', '?']) && prefix.starts_with(above),
            None => false,
        }
    };
    let applies = |effect: &str, action: &str| {
        policy["Statement"].as_array().into_iter().flatten().any(|statement| {
            is_anonymous(statement, effect)
                && as_list(&statement["Resource"]).iter().any(|r| covers(r))
                && as_list(&statement["Action"]).iter().any(|a| a == action || a == "s3:*")
        })
    };
    let granted = |action: &str| applies("Allow", action) && !applies("Deny", action);
    match (granted("s3:GetObject"), granted("s3:PutObject")) {
        (true, true) => "public",
        (true, false) => "download",
        (false, true) => "upload",
        (false, false) => "none",
    }
}

/// The bucket's policy, or None if it has none.
pub async fn read_policy(client: &aws_sdk_s3::Client, bucket: &str, target: &str) -> Result<Option<Value>> {
    match client.get_bucket_policy().bucket(bucket).send().await {
        Ok(answer) => {
            let text = answer.policy().unwrap_or_default();
            let policy = serde_json::from_str(text)
                .map_err(|e| CliError::Remote(format!("{target}: the bucket policy is not JSON: {e}")))?;
            Ok(Some(policy))
        }
        Err(error) if error.code() == Some("NoSuchBucketPolicy") => Ok(None),
        Err(error) => Err(s3::error(target, error)),
    }
}

pub(crate) async fn run(context: &Context, command: AnonymousCommand) -> Result<()> {
    match command {
        AnonymousCommand::Set { level, target } => {
            let remote = context.target(&target)?.remote("anonymous")?;
            let bucket = remote.bucket()?;
            let client = context.client(&remote);
            let current = read_policy(&client, bucket, &target).await?;
            match with_level(current, &level, bucket, &remote.key) {
                Some(policy) => {
                    client
                        .put_bucket_policy()
                        .bucket(bucket)
                        .policy(policy.to_string())
                        .send()
                        .await
                        .map_err(|e| s3::error(&target, e))?;
                }
                None => {
                    client.delete_bucket_policy().bucket(bucket).send().await.map_err(|e| s3::error(&target, e))?;
                }
            }
            context.out.result(json!({"target": target, "permission": level}), || {
                format!("Access permission for `{target}` is set to `{level}`")
            });
        }
        AnonymousCommand::Get { target } => {
            let remote = context.target(&target)?.remote("anonymous")?;
            let bucket = remote.bucket()?;
            let policy = read_policy(&context.client(&remote), bucket, &target).await?;
            let level = policy.map_or("none", |policy| level_of(&policy, bucket, &remote.key));
            context.out.result(json!({"target": target, "permission": level}), || {
                format!("Access permission for `{target}` is `{level}`")
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canned_policies_read_back_as_their_level() {
        for level in ["download", "upload", "public"] {
            for prefix in ["", "docs/"] {
                let policy = with_level(None, level, "b", prefix).expect("a policy");
                assert_eq!(level_of(&policy, "b", prefix), level);
            }
        }
        assert!(with_level(None, "none", "b", "").is_none());
        assert_eq!(level_of(&json!({}), "b", ""), "none");
    }

    #[test]
    fn a_prefix_level_keeps_the_other_statements() {
        let foreign = json!({"Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::1:user/x"]},
                             "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::b/*"]});
        let start = json!({"Version": "2012-10-17", "Statement": [foreign.clone()]});
        let policy = with_level(Some(start), "download", "b", "public/");
        let policy = with_level(policy, "upload", "b", "dropbox/").expect("policy");
        assert_eq!(level_of(&policy, "b", "public/"), "download");
        assert_eq!(level_of(&policy, "b", "public/deeper/"), "download", "a grant covers the prefixes below");
        assert_eq!(level_of(&policy, "b", "dropbox/"), "upload");
        assert_eq!(level_of(&policy, "b", ""), "none", "the bucket as a whole is not open");
        let policy = with_level(Some(policy), "none", "b", "dropbox/").expect("policy");
        assert_eq!(level_of(&policy, "b", "dropbox/"), "none");
        assert_eq!(level_of(&policy, "b", "public/"), "download");
        let statements = policy["Statement"].as_array().expect("statements");
        assert!(statements.contains(&foreign), "a statement anonymous never got is kept: {policy}");
        assert!(!policy.to_string().contains("ListBucketMultipartUploads"), "no uploads left: {policy}");
        let policy = with_level(Some(policy), "none", "b", "public/").expect("the foreign statement remains");
        assert_eq!(policy["Statement"].as_array().map(Vec::len), Some(1), "{policy}");
    }
}
