//! `cairn tag set|ls|rm`: the tags of an object (its current version) or a bucket.

use crate::Context;
use crate::error::{CliError, Result};
use crate::s3;
use crate::target::Remote;
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::types::{Tag, Tagging};
use serde_json::json;

/// Subcommands of `cairn tag`.
#[derive(Debug, clap::Subcommand)]
pub enum TagCommand {
    /// Replace the tags of an object or a bucket with TAGS ("key1=value1&key2=value2").
    Set {
        /// ALIAS/BUCKET or ALIAS/BUCKET/KEY.
        target: String,
        /// The tags, URL-encoded: `key1=value1&key2=value2`.
        tags: String,
    },
    /// Show the tags of an object or a bucket.
    #[command(alias = "list")]
    Ls {
        /// ALIAS/BUCKET or ALIAS/BUCKET/KEY.
        target: String,
    },
    /// Remove every tag of an object or a bucket.
    #[command(alias = "remove")]
    Rm {
        /// ALIAS/BUCKET or ALIAS/BUCKET/KEY.
        target: String,
    },
}

pub(crate) async fn run(context: &Context, command: TagCommand) -> Result<()> {
    match command {
        TagCommand::Set { target, tags } => set(context, &target, &tags).await,
        TagCommand::Ls { target } => list(context, &target).await,
        TagCommand::Rm { target } => remove(context, &target).await,
    }
}

/// The tags of a `key1=value1&key2=value2` argument; the server checks S3's rules.
fn parse(text: &str) -> Result<Vec<Tag>> {
    form_urlencoded::parse(text.as_bytes())
        .map(|(key, value)| {
            Tag::builder().key(key).value(value).build().map_err(|e| CliError::Usage(format!("tag set: bad tag: {e}")))
        })
        .collect()
}

async fn set(context: &Context, text: &str, tags: &str) -> Result<()> {
    let remote = context.target(text)?.remote("tag set")?;
    let tagging = Tagging::builder()
        .set_tag_set(Some(parse(tags)?))
        .build()
        .map_err(|e| CliError::Usage(format!("tag set: {e}")))?;
    let client = context.client(&remote);
    let bucket = remote.bucket()?;
    if remote.key.is_empty() {
        let request = client.put_bucket_tagging().bucket(bucket).tagging(tagging);
        request.send().await.map_err(|e| s3::error(text, e))?;
    } else {
        let request = client.put_object_tagging().bucket(bucket).key(&remote.key).tagging(tagging);
        request.send().await.map_err(|e| s3::error(text, e))?;
    }
    context.out.result(json!({"status": "success", "name": text}), || format!("Tags set for {text}."));
    Ok(())
}

async fn list(context: &Context, text: &str) -> Result<()> {
    let remote = context.target(text)?.remote("tag ls")?;
    let tags = fetch(context, &remote, text).await?;
    let map: serde_json::Map<String, serde_json::Value> =
        tags.iter().map(|tag| (tag.key().to_owned(), json!(tag.value()))).collect();
    context.out.result(json!({"name": text, "tags": map}), || {
        if tags.is_empty() {
            return format!("{text} has no tags.");
        }
        let lines: Vec<String> = tags.iter().map(|tag| format!("{} : {}", tag.key(), tag.value())).collect();
        lines.join("\n")
    });
    Ok(())
}

/// The tags of an object or a bucket; a bucket without tags has none (S3 answers
/// NoSuchTagSet).
async fn fetch(context: &Context, remote: &Remote, text: &str) -> Result<Vec<Tag>> {
    let client = context.client(remote);
    let bucket = remote.bucket()?;
    if remote.key.is_empty() {
        match client.get_bucket_tagging().bucket(bucket).send().await {
            Ok(output) => Ok(output.tag_set().to_vec()),
            Err(error) if error.code() == Some("NoSuchTagSet") => Ok(Vec::new()),
            Err(error) => Err(s3::error(text, error)),
        }
    } else {
        let output = client.get_object_tagging().bucket(bucket).key(&remote.key).send().await;
        Ok(output.map_err(|e| s3::error(text, e))?.tag_set().to_vec())
    }
}

async fn remove(context: &Context, text: &str) -> Result<()> {
    let remote = context.target(text)?.remote("tag rm")?;
    let client = context.client(&remote);
    let bucket = remote.bucket()?;
    if remote.key.is_empty() {
        client.delete_bucket_tagging().bucket(bucket).send().await.map_err(|e| s3::error(text, e))?;
    } else {
        let request = client.delete_object_tagging().bucket(bucket).key(&remote.key);
        request.send().await.map_err(|e| s3::error(text, e))?;
    }
    context.out.result(json!({"status": "success", "name": text}), || format!("Tags removed from {text}."));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn tags_are_read_url_encoded() {
        let tags = parse("team=crm&note=a%20b&empty=").expect("parses");
        let pairs: Vec<(&str, &str)> = tags.iter().map(|t| (t.key(), t.value())).collect();
        assert_eq!(pairs, [("team", "crm"), ("note", "a b"), ("empty", "")]);
    }
}
