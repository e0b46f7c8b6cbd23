//! `cairn cors set|get|rm`: a bucket's CORS rules, as `mc cors` manages them. The file
//! is JSON in the AWS CLI's form (`{"CORSRules": [{"AllowedOrigins": [...],
//! "AllowedMethods": [...], "AllowedHeaders": [...], "ExposeHeaders": [...],
//! "MaxAgeSeconds": 600, "ID": "..."}]}`), and `get` prints the same form.

use crate::Context;
use crate::commands::bucket_target;
use crate::error::{CliError, Result};
use crate::s3;
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::types::{CorsConfiguration, CorsRule};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::path::Path;

/// Largest CORS file read: a hundred rules fit in far less.
const FILE_BYTES_MAX: u64 = 1 << 20;

/// Subcommands of `cairn cors`.
#[derive(Debug, clap::Subcommand)]
pub enum CorsCommand {
    /// Replace a bucket's CORS rules with those of a JSON file.
    Set {
        /// ALIAS/BUCKET.
        target: String,
        /// The rules: `{"CORSRules": [...]}`, as the AWS CLI writes them.
        file: std::path::PathBuf,
    },
    /// Show a bucket's CORS rules.
    Get {
        /// ALIAS/BUCKET.
        target: String,
    },
    /// Remove a bucket's CORS rules.
    #[command(alias = "remove")]
    Rm {
        /// ALIAS/BUCKET.
        target: String,
    },
}

/// A CORS configuration file.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
struct CorsFile {
    #[serde(rename = "CORSRules")]
    cors_rules: Vec<RuleFile>,
}

/// One rule of the file.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
struct RuleFile {
    #[serde(rename = "ID", default, skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    allowed_origins: Vec<String>,
    allowed_methods: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    allowed_headers: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    expose_headers: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max_age_seconds: Option<i32>,
}

pub(crate) async fn run(context: &Context, command: CorsCommand) -> Result<()> {
    match command {
        CorsCommand::Set { target, file } => set(context, &target, &file).await,
        CorsCommand::Get { target } => get(context, &target).await,
        CorsCommand::Rm { target } => remove(context, &target).await,
    }
}

fn read_file(path: &Path) -> Result<CorsFile> {
    let meta = std::fs::metadata(path).map_err(|e| CliError::io(path, e))?;
    if meta.len() > FILE_BYTES_MAX {
        return Err(CliError::Usage(format!("{}: larger than {FILE_BYTES_MAX} bytes", path.display())));
    }
    let text = std::fs::read_to_string(path).map_err(|e| CliError::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| CliError::Usage(format!("{}: {e}", path.display())))
}

fn to_rule(rule: RuleFile) -> Result<CorsRule> {
    CorsRule::builder()
        .set_id(rule.id)
        .set_allowed_origins(Some(rule.allowed_origins))
        .set_allowed_methods(Some(rule.allowed_methods))
        .set_allowed_headers(Some(rule.allowed_headers).filter(|h| !h.is_empty()))
        .set_expose_headers(Some(rule.expose_headers).filter(|h| !h.is_empty()))
        .set_max_age_seconds(rule.max_age_seconds)
        .build()
        .map_err(|e| CliError::Usage(format!("cors set: {e}")))
}

async fn set(context: &Context, text: &str, path: &Path) -> Result<()> {
    let remote = bucket_target(context, text, "cors")?;
    let file = read_file(path)?;
    let rules = file.cors_rules.into_iter().map(to_rule).collect::<Result<Vec<_>>>()?;
    let configuration = CorsConfiguration::builder()
        .set_cors_rules(Some(rules))
        .build()
        .map_err(|e| CliError::Usage(format!("cors set: {e}")))?;
    let request = context.client(&remote).put_bucket_cors().bucket(remote.bucket()?).cors_configuration(configuration);
    request.send().await.map_err(|e| s3::error(text, e))?;
    context.out.result(json!({"status": "success", "bucket": text}), || format!("CORS rules set for {text}."));
    Ok(())
}

async fn get(context: &Context, text: &str) -> Result<()> {
    let remote = bucket_target(context, text, "cors")?;
    let rules = match context.client(&remote).get_bucket_cors().bucket(remote.bucket()?).send().await {
        Ok(output) => output.cors_rules().to_vec(),
        Err(error) if error.code() == Some("NoSuchCORSConfiguration") => Vec::new(),
        Err(error) => return Err(s3::error(text, error)),
    };
    let file = CorsFile {
        cors_rules: rules
            .into_iter()
            .map(|rule| RuleFile {
                id: rule.id().map(str::to_owned),
                allowed_origins: rule.allowed_origins().to_vec(),
                allowed_methods: rule.allowed_methods().to_vec(),
                allowed_headers: rule.allowed_headers().to_vec(),
                expose_headers: rule.expose_headers().to_vec(),
                max_age_seconds: rule.max_age_seconds(),
            })
            .collect(),
    };
    let value = serde_json::to_value(&file).map_err(|e| CliError::Remote(e.to_string()))?;
    context.out.result(json!({"bucket": text, "cors": value}), || {
        if file.cors_rules.is_empty() {
            return format!("{text} has no CORS rules.");
        }
        serde_json::to_string_pretty(&value).unwrap_or_default()
    });
    Ok(())
}

async fn remove(context: &Context, text: &str) -> Result<()> {
    let remote = bucket_target(context, text, "cors")?;
    let request = context.client(&remote).delete_bucket_cors().bucket(remote.bucket()?);
    request.send().await.map_err(|e| s3::error(text, e))?;
    context.out.result(json!({"status": "success", "bucket": text}), || format!("CORS rules removed from {text}."));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_aws_cli_form_is_read() {
        let text = r#"{"CORSRules": [{"AllowedOrigins": ["https://crm.example.com"], "AllowedMethods": ["PUT"],
                       "AllowedHeaders": ["*"], "MaxAgeSeconds": 600}]}"#;
        let file: CorsFile = serde_json::from_str(text).expect("parses");
        let rule = to_rule(file.cors_rules.into_iter().next().expect("a rule")).expect("valid");
        assert_eq!(rule.allowed_methods(), ["PUT"]);
        assert_eq!(rule.max_age_seconds(), Some(600));
        assert!(serde_json::from_str::<CorsFile>(r#"{"CORSRules": [{"AllowedOrigin": ["x"]}]}"#).is_err());
    }
}
