//! `cairn admin prometheus generate ALIAS [--type cluster|node]`, as `mc admin
//! prometheus generate`: a Prometheus scrape configuration whose bearer token is a JWT
//! (HS512, signed with the alias's secret key, `sub` = its access key, `iss` =
//! `prometheus`) that the server checks before it serves metrics. Made locally; the
//! server is not called.

use crate::Context;
use crate::error::{CliError, Result};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::json;
use sha2::Sha512;
use std::time::{SystemTime, UNIX_EPOCH};

/// How long a generated token stays valid: 10 years, in seconds (a scrape config is
/// meant to be deployed and forgotten; revoke it by changing the secret key).
const TOKEN_LIFETIME_SECS: u64 = 10 * 365 * 24 * 3600;
/// The JWT header of an HS512 token.
const TOKEN_HEADER: &str = r#"{"alg":"HS512","typ":"JWT"}"#;
/// The issuer MinIO's tokens carry.
const TOKEN_ISSUER: &str = "prometheus";

/// Prometheus subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum PrometheusCommand {
    /// Print a scrape configuration (YAML) with a bearer token for the alias's keys.
    Generate {
        /// ALIAS of the deployment.
        alias: String,
        /// Which metrics: the whole cluster's, or the answering node's.
        #[arg(long = "type", value_enum, default_value_t = MetricsType::Cluster)]
        metrics_type: MetricsType,
    },
}

/// The metrics endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum MetricsType {
    /// `/minio/v2/metrics/cluster`.
    Cluster,
    /// `/minio/v2/metrics/node`.
    Node,
}

impl MetricsType {
    fn path(self) -> &'static str {
        match self {
            MetricsType::Cluster => "/minio/v2/metrics/cluster",
            MetricsType::Node => "/minio/v2/metrics/node",
        }
    }

    fn job_name(self) -> &'static str {
        match self {
            MetricsType::Cluster => "cairn-job",
            MetricsType::Node => "cairn-job-node",
        }
    }
}

pub(crate) fn run(context: &Context, command: PrometheusCommand) -> Result<()> {
    let PrometheusCommand::Generate { alias: alias_name, metrics_type } = command;
    let alias = context.config.alias(&alias_name)?;
    let (scheme, target) = alias
        .url
        .split_once("://")
        .ok_or_else(|| CliError::Usage(format!("alias {alias_name}: its URL {:?} has no scheme", alias.url)))?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default();
    let token = token(&alias.access_key, &alias.secret_key, now + TOKEN_LIFETIME_SECS)?;
    let (job_name, path) = (metrics_type.job_name(), metrics_type.path());
    context.out.result(
        json!({"bearerToken": token, "jobName": job_name, "metricsPath": path, "scheme": scheme, "target": target}),
        || {
            format!(
                "scrape_configs:\n- job_name: {job_name}\n  bearer_token: {token}\n  metrics_path: {path}\n  \
                 scheme: {scheme}\n  static_configs:\n  - targets: ['{target}']"
            )
        },
    );
    Ok(())
}

/// A JWT for `access_key`, signed with `secret_key`, expiring at `expires_unix_secs`.
pub fn token(access_key: &str, secret_key: &str, expires_unix_secs: u64) -> Result<String> {
    let claims = json!({ "exp": expires_unix_secs, "sub": access_key, "iss": TOKEN_ISSUER });
    let signed = format!("{}.{}", URL_SAFE_NO_PAD.encode(TOKEN_HEADER), URL_SAFE_NO_PAD.encode(claims.to_string()));
    let mut mac = <Hmac<Sha512> as KeyInit>::new_from_slice(secret_key.as_bytes())
        .map_err(|e| CliError::Usage(format!("the alias's secret key cannot sign: {e}")))?;
    mac.update(signed.as_bytes());
    Ok(format!("{signed}.{}", URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_hs512_jwts_with_the_claims_the_server_checks() {
        let token = token("ak", "sk", 4_000_000_000).expect("token");
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3);
        let header: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).expect("base64")).expect("json");
        assert_eq!(header["alg"], "HS512");
        let claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).expect("base64")).expect("json");
        assert_eq!((claims["sub"].as_str(), claims["exp"].as_u64()), (Some("ak"), Some(4_000_000_000)));
        let mut mac = <Hmac<Sha512> as KeyInit>::new_from_slice(b"sk").expect("key");
        mac.update(format!("{}.{}", parts[0], parts[1]).as_bytes());
        mac.verify_slice(&URL_SAFE_NO_PAD.decode(parts[2]).expect("base64")).expect("signature verifies");
    }
}
