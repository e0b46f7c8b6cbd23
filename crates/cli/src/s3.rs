//! S3 clients for aliases (aws-sdk-s3, path-style, any endpoint) and the mapping of
//! SDK errors to [`CliError`] with messages that say what to do.

use crate::config::Alias;
use crate::error::CliError;
pub(crate) use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_types::retry::RetryConfig;

/// Attempts per request (the SDK retries throttling and transient errors).
const ATTEMPTS_MAX: u32 = 3;
use crate::tls::CONNECT_TIMEOUT;

/// A client for `alias`, over `http` (the SDK's own HTTP client when None).
pub fn client(alias: &Alias, http: Option<aws_sdk_s3::config::SharedHttpClient>) -> aws_sdk_s3::Client {
    let credentials = aws_credential_types::Credentials::new(
        alias.access_key.clone(),
        alias.secret_key.clone(),
        None,
        None,
        "cairn-alias",
    );
    let http = http.unwrap_or_else(|| {
        aws_smithy_http_client::Builder::new()
            .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
                aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
            ))
            .build_https()
    });
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .endpoint_url(&alias.url)
        .region(aws_sdk_s3::config::Region::new(alias.region.clone()))
        .credentials_provider(credentials)
        .force_path_style(true)
        .retry_config(RetryConfig::standard().with_max_attempts(ATTEMPTS_MAX))
        .timeout_config(aws_smithy_types::timeout::TimeoutConfig::builder().connect_timeout(CONNECT_TIMEOUT).build())
        // Checksums only when the operation requires them: not every S3 endpoint
        // understands the newer flexible-checksum headers.
        .request_checksum_calculation(aws_sdk_s3::config::RequestChecksumCalculation::WhenRequired)
        .response_checksum_validation(aws_sdk_s3::config::ResponseChecksumValidation::WhenRequired)
        .http_client(http)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

/// Maps an SDK error on `what` (e.g. `alias/bucket/key`) to a typed client error.
pub fn error<E>(what: &str, error: SdkError<E, HttpResponse>) -> CliError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let status = match &error {
        SdkError::ServiceError(service) => Some(service.raw().status().as_u16()),
        _ => None,
    };
    let code = error.code().unwrap_or_default().to_owned();
    let message = error.message().map(str::to_owned);
    match (code.as_str(), status) {
        ("NoSuchKey" | "NoSuchBucket" | "NotFound" | "NoSuchUpload" | "NoSuchBucketPolicy", _) | (_, Some(404)) => {
            let detail = match code.as_str() {
                "NoSuchBucket" => "no such bucket",
                "NoSuchBucketPolicy" => "the bucket has no policy",
                _ => "no such object",
            };
            CliError::NotFound(format!("{what}: {detail}"))
        }
        ("AccessDenied" | "InvalidAccessKeyId" | "SignatureDoesNotMatch" | "AllAccessDisabled", _)
        | (_, Some(401 | 403)) => CliError::AccessDenied(format!(
            "{what}: access denied{} (check the alias's keys and their policy)",
            message.map(|m| format!(": {m}")).unwrap_or_default()
        )),
        ("PreconditionFailed", _) | (_, Some(412)) => CliError::Changed(format!(
            "{what}: the object changed since it was listed (its ETag no longer matches); nothing was kept, \
             run the command again to copy the new version"
        )),
        _ if status.is_none() => CliError::Remote(format!("{what}: {}", describe_transport(&error))),
        _ => CliError::Remote(format!(
            "{what}: {}{}",
            if code.is_empty() { format!("HTTP {}", status.unwrap_or_default()) } else { code.clone() },
            message.map(|m| format!(": {m}")).unwrap_or_default()
        )),
    }
}

/// A transport failure in words (the SDK's Display says only "dispatch failure").
fn describe_transport<E: std::error::Error + 'static, R: std::fmt::Debug>(error: &SdkError<E, R>) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text = format!("{text}: {cause}");
        source = cause.source();
    }
    format!("{text} (is the endpoint right and the server running?)")
}
