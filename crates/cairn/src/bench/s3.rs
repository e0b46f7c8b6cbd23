//! The S3 client of the benchmarks: aws-sdk-s3, path-style, payload signing and
//! client checksums off (UNSIGNED-PAYLOAD), so the numbers measure the server.

use aws_sdk_s3::config::{Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation};
use aws_sdk_s3::primitives::ByteStream;
use bytes::Bytes;

/// A client of `endpoint` with these credentials, signing for `region`.
pub fn client(endpoint: &str, access_key: &str, secret_key: &str, region: &str) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::Config::builder()
        .behavior_version_latest()
        .region(Region::new(region.to_owned()))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new(access_key, secret_key, None, None, "bench"))
        .force_path_style(true)
        .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
        .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

/// Turns versioning on for `bucket` (the benchmarks' `--versioned`).
pub async fn enable_versioning(s3: &aws_sdk_s3::Client, bucket: &str) -> Result<(), String> {
    let enabled = aws_sdk_s3::types::VersioningConfiguration::builder()
        .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
        .build();
    let request = s3.put_bucket_versioning().bucket(bucket).versioning_configuration(enabled);
    request.send().await.map(drop).map_err(|e| format!("enable versioning on {bucket}: {e:?}"))
}

pub async fn put(s3: &aws_sdk_s3::Client, bucket: &str, key: &str, body: Bytes) -> Result<(), String> {
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(body))
        .customize()
        .disable_payload_signing()
        .send()
        .await
        .map(|_| ())
        .map_err(|e| format!("put {bucket}/{key}: {e:?}"))
}

/// Reads an object to the end without keeping it; returns its length.
pub async fn get(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Result<usize, String> {
    let output = s3.get_object().bucket(bucket).key(key).send().await.map_err(|e| format!("get {key}: {e:?}"))?;
    let mut body = output.body;
    let mut total = 0;
    while let Some(chunk) = body.next().await {
        total += chunk.map_err(|e| format!("get {key}: {e}"))?.len();
    }
    Ok(total)
}

/// Sets run-time configuration through the admin API, as `cairn admin config set` does.
pub async fn set_config(endpoint: &str, (access_key, secret_key): (&str, &str), line: &str) -> Result<(), String> {
    let alias = cairn_cli::config::Alias {
        url: endpoint.to_owned(),
        access_key: access_key.to_owned(),
        secret_key: secret_key.to_owned(),
        region: cairn_cli::config::REGION_DEFAULT.to_owned(),
    };
    let admin = cairn_cli::admin::client::AdminClient::new("bench", alias, None).map_err(|e| e.to_string())?;
    let sealed = admin.seal(line.as_bytes()).map_err(|e| e.to_string())?;
    admin.call(http::Method::PUT, "set-config-kv", &[], sealed).await.map_err(|e| e.to_string())?;
    Ok(())
}
