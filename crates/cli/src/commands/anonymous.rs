//! `cairn anonymous set|get`: a bucket's (or prefix's) access for requests without
//! keys, as mc's canned levels: none, download, upload, public. `set` writes a bucket
//! policy built from MinIO's canned statements (replacing the bucket's policy);
//! `get` reads the policy back and names the level it grants.

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

/// The bucket policy granting `level` on `bucket`/`prefix`, or None for "none".
fn policy_for(level: &str, bucket: &str, prefix: &str) -> Option<Value> {
    let (download, upload) = match level {
        "download" => (true, false),
        "upload" => (false, true),
        "public" => (true, true),
        _ => return None,
    };
    let bucket_arn = format!("arn:aws:s3:::{bucket}");
    let objects_arn = format!("arn:aws:s3:::{bucket}/{prefix}*");
    let mut bucket_actions = vec!["s3:GetBucketLocation"];
    if upload {
        bucket_actions.push("s3:ListBucketMultipartUploads");
    }
    let mut statements = vec![
        json!({"Effect": "Allow", "Principal": {"AWS": ["*"]}, "Action": bucket_actions, "Resource": [bucket_arn]}),
    ];
    let mut object_actions: Vec<&str> = Vec::new();
    if download {
        let mut list = json!({"Effect": "Allow", "Principal": {"AWS": ["*"]}, "Action": ["s3:ListBucket"], "Resource": [bucket_arn]});
        if !prefix.is_empty() {
            list["Condition"] = json!({"StringEquals": {"s3:prefix": [prefix]}});
        }
        statements.push(list);
        object_actions.extend(DOWNLOAD_OBJECT_ACTIONS);
    }
    if upload {
        object_actions.extend(UPLOAD_OBJECT_ACTIONS);
    }
    statements.push(
        json!({"Effect": "Allow", "Principal": {"AWS": ["*"]}, "Action": object_actions, "Resource": [objects_arn]}),
    );
    Some(json!({"Version": "2012-10-17", "Statement": statements}))
}

/// The canned level a policy grants anonymous users on `bucket`/`prefix`.
fn level_of(policy: &Value, bucket: &str, prefix: &str) -> &'static str {
    let objects_arn = format!("arn:aws:s3:::{bucket}/{prefix}*");
    let everyone = |principal: &Value| match principal {
        Value::String(s) => s == "*",
        Value::Object(map) => map.get("AWS").is_some_and(|aws| match aws {
            Value::String(s) => s == "*",
            Value::Array(items) => items.iter().any(|i| i == "*"),
            _ => false,
        }),
        _ => false,
    };
    let as_list = |value: &Value| -> Vec<String> {
        match value {
            Value::String(s) => vec![s.clone()],
            Value::Array(items) => items.iter().filter_map(|i| i.as_str().map(str::to_owned)).collect(),
            _ => Vec::new(),
        }
    };
    let granted = |action: &str| {
        policy["Statement"].as_array().into_iter().flatten().any(|statement| {
            statement["Effect"] == "Allow"
                && everyone(&statement["Principal"])
                && as_list(&statement["Resource"]).contains(&objects_arn)
                && as_list(&statement["Action"]).iter().any(|a| a == action || a == "s3:*")
        })
    };
    match (granted("s3:GetObject"), granted("s3:PutObject")) {
        (true, true) => "public",
        (true, false) => "download",
        (false, true) => "upload",
        (false, false) => "none",
    }
}

pub(crate) async fn run(context: &Context, command: AnonymousCommand) -> Result<()> {
    match command {
        AnonymousCommand::Set { level, target } => {
            let remote = context.target(&target)?.remote("anonymous")?;
            let bucket = remote.bucket()?;
            let client = context.client(&remote);
            match policy_for(&level, bucket, &remote.key) {
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
            let answer = context.client(&remote).get_bucket_policy().bucket(bucket).send().await;
            let level = match answer {
                Ok(answer) => {
                    let text = answer.policy().unwrap_or_default();
                    let policy: Value = serde_json::from_str(text)
                        .map_err(|e| CliError::Remote(format!("{target}: the bucket policy is not JSON: {e}")))?;
                    level_of(&policy, bucket, &remote.key)
                }
                Err(error) if error.code() == Some("NoSuchBucketPolicy") => "none",
                Err(error) => return Err(s3::error(&target, error)),
            };
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
                let policy = policy_for(level, "b", prefix).expect("a policy");
                assert_eq!(level_of(&policy, "b", prefix), level);
            }
        }
        assert!(policy_for("none", "b", "").is_none());
        assert_eq!(level_of(&json!({}), "b", ""), "none");
    }
}
