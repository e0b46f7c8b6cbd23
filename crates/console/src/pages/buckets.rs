//! Buckets: list with usage and access, create, delete (forced: with its objects),
//! and anonymous access (private, public read, or a custom policy).

use crate::caller::Caller;
use crate::error::{ConsoleError, Result};
use crate::pages::with_message;
use crate::router::{Call, render};
use crate::templates::{Chrome, bytes};
use crate::web::Body;
use askama::Template;
use aws_sdk_s3::error::ProvideErrorMetadata;
use futures::StreamExt;
use http::{Method, Response};

/// Bucket policies read at once when the list is drawn.
const POLICY_READS_PARALLEL: usize = 16;
/// Keys deleted per DeleteObjects call (S3's limit).
pub(crate) const DELETE_BATCH: usize = 1000;

pub(crate) struct Row {
    name: String,
    objects: String,
    size: String,
    created: String,
    access: String,
}

#[derive(Template)]
#[template(path = "buckets.html")]
struct BucketsPage {
    title: &'static str,
    section: &'static str,
    chrome: Chrome,
    can_create: bool,
    buckets: Vec<Row>,
}

#[derive(Template)]
#[template(path = "access.html")]
struct AccessPage {
    title: String,
    section: &'static str,
    chrome: Chrome,
    bucket: String,
    mode: &'static str,
    policy: String,
}

pub(crate) async fn route(call: Call) -> Result<Response<Body>> {
    let bucket = call.segment(1).to_owned();
    let action = call.segment(2).to_owned();
    match (&call.method, bucket.is_empty(), action.as_str()) {
        (&Method::GET, true, _) => list(call).await,
        (&Method::POST, true, _) => create(call).await,
        (&Method::POST, false, "delete") => delete(call, bucket).await,
        (&Method::GET, false, "access") => access_page(call, bucket).await,
        (&Method::POST, false, "access") => set_access(call, bucket).await,
        (&Method::GET | &Method::POST, false, "events") => crate::pages::events::route(call, bucket).await,
        _ => Err(ConsoleError::NotFound("no such page".into())),
    }
}

async fn list(call: Call) -> Result<Response<Body>> {
    let caller = call.caller()?;
    let s3 = caller.s3();
    let listed = s3.list_buckets().send().await.map_err(|e| cairn_cli::s3_error("buckets", e))?;
    let usage = call.console.ready()?.store.bucket_usage();
    let names: Vec<(String, String)> = listed
        .buckets()
        .iter()
        .filter_map(|b| {
            let created = b.creation_date().map(|d| d.to_string()).unwrap_or_default();
            b.name().map(|n| (n.to_owned(), created))
        })
        .collect();
    let rows = futures::stream::iter(names)
        .map(|(name, created)| {
            let (s3, caller, usage) = (&s3, &caller, &usage);
            async move {
                let access = access_level(s3, caller, &name).await;
                // Usage is shown to those who may list the bucket: it tells them nothing new.
                let (objects, size) = match usage.get(&name) {
                    Some((objects, size)) if caller.may("s3:ListBucket", Some(&name), None) => {
                        (objects.to_string(), bytes(*size))
                    }
                    _ => ("—".into(), "—".into()),
                };
                Row { name, objects, size, created, access }
            }
        })
        .buffered(POLICY_READS_PARALLEL)
        .collect()
        .await;
    let page = BucketsPage {
        title: "Buckets",
        section: "buckets",
        chrome: Chrome::new(&call.console, &caller, &call.query),
        can_create: caller.may("s3:CreateBucket", None, None),
        buckets: rows,
    };
    render(&page)
}

/// The bucket's anonymous access in words.
async fn access_level(s3: &aws_sdk_s3::Client, caller: &Caller, bucket: &str) -> String {
    if !caller.may("s3:GetBucketPolicy", Some(bucket), None) {
        return "—".into();
    }
    match cairn_cli::anonymous::read_policy(s3, bucket, bucket).await {
        Ok(None) => "private".into(),
        Ok(Some(policy)) => match cairn_cli::anonymous::level_of(&policy, bucket, "") {
            "none" => "custom".into(),
            "download" if is_canned_download(&policy, bucket) => "public read".into(),
            level => format!("custom ({level})"),
        },
        Err(_) => "unknown".into(),
    }
}

/// True when `policy` is exactly the console's "public read" policy.
fn is_canned_download(policy: &serde_json::Value, bucket: &str) -> bool {
    cairn_cli::anonymous::with_level(None, "download", bucket, "").as_ref() == Some(policy)
}

async fn create(call: Call) -> Result<Response<Body>> {
    let back = call.link("/buckets");
    let (caller, fields, _) = call.form().await?;
    let bucket = fields.get("bucket").map(|b| b.trim().to_owned()).unwrap_or_default();
    let made = caller.s3().create_bucket().bucket(&bucket).send().await;
    Ok(crate::web::redirect(&match made {
        Ok(_) => with_message(&back, "notice", &format!("Bucket {bucket} created.")),
        Err(error) => with_message(&back, "error", &bucket_error(&bucket, error)),
    }))
}

/// An S3 error on `bucket` in words.
fn bucket_error<E>(
    bucket: &str,
    error: aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match error.code() {
        Some("BucketAlreadyOwnedByYou" | "BucketAlreadyExists") => format!("A bucket named {bucket} exists already."),
        Some("InvalidBucketName") => format!(
            "{bucket:?} is not a valid bucket name: use 3 to 63 lowercase letters, digits, dots and hyphens, \
             starting and ending with a letter or digit."
        ),
        Some("BucketNotEmpty") => {
            format!("Bucket {bucket} is not empty: tick \"with its objects\" to delete them too.")
        }
        _ => ConsoleError::from(cairn_cli::s3_error(bucket, error)).to_string(),
    }
}

async fn delete(call: Call, bucket: String) -> Result<Response<Body>> {
    let back = call.link("/buckets");
    let (caller, fields, _) = call.form().await?;
    let s3 = caller.s3();
    if fields.get("force").is_some_and(|f| f == "on")
        && let Err(error) = delete_prefix(&s3, &bucket, "").await
    {
        return Ok(crate::web::redirect(&with_message(&back, "error", &error.to_string())));
    }
    Ok(crate::web::redirect(&match s3.delete_bucket().bucket(&bucket).send().await {
        Ok(_) => with_message(&back, "notice", &format!("Bucket {bucket} deleted.")),
        Err(error) => with_message(&back, "error", &bucket_error(&bucket, error)),
    }))
}

/// Deletes every object under `prefix`, a page at a time (memory stays bounded).
/// Returns how many were deleted.
pub(crate) async fn delete_prefix(s3: &aws_sdk_s3::Client, bucket: &str, prefix: &str) -> Result<u64> {
    let mut deleted = 0;
    loop {
        // Always the first page: what was deleted is gone from the listing.
        let page = s3
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .max_keys(DELETE_BATCH as i32)
            .send()
            .await
            .map_err(|e| cairn_cli::s3_error(bucket, e))?;
        let keys: Vec<String> = page.contents().iter().filter_map(|o| o.key().map(str::to_owned)).collect();
        if keys.is_empty() {
            return Ok(deleted);
        }
        deleted += delete_keys(s3, bucket, &keys).await?;
    }
}

/// Deletes `keys` (at most [`DELETE_BATCH`]) in one call; any key refused fails the whole.
pub(crate) async fn delete_keys(s3: &aws_sdk_s3::Client, bucket: &str, keys: &[String]) -> Result<u64> {
    assert!(keys.len() <= DELETE_BATCH, "one DeleteObjects call takes at most {DELETE_BATCH} keys");
    let objects: Vec<aws_sdk_s3::types::ObjectIdentifier> = keys
        .iter()
        .map(|k| aws_sdk_s3::types::ObjectIdentifier::builder().key(k).build())
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| ConsoleError::BadRequest(e.to_string()))?;
    let delete = aws_sdk_s3::types::Delete::builder()
        .set_objects(Some(objects))
        .quiet(true)
        .build()
        .map_err(|e| ConsoleError::BadRequest(e.to_string()))?;
    let answer = s3.delete_objects().bucket(bucket).delete(delete).send().await.map_err(|e| match e.code() {
        Some("AccessDenied") => ConsoleError::Forbidden(format!(
            "Access denied: you may not delete {bucket}/{}{}.",
            keys[0],
            if keys.len() > 1 { " (nor the others selected)" } else { "" }
        )),
        _ => cairn_cli::s3_error(bucket, e).into(),
    })?;
    if let Some(failed) = answer.errors().first() {
        let what = failed.key().unwrap_or_default();
        return Err(match failed.code() {
            Some("AccessDenied") => {
                ConsoleError::Forbidden(format!("Access denied: you may not delete {bucket}/{what}."))
            }
            _ => ConsoleError::Backend(format!(
                "{bucket}/{what} was not deleted: {}",
                failed.message().unwrap_or_default()
            )),
        });
    }
    Ok(keys.len() as u64)
}

async fn access_page(call: Call, bucket: String) -> Result<Response<Body>> {
    let caller = call.caller()?;
    let s3 = caller.s3();
    let policy = cairn_cli::anonymous::read_policy(&s3, &bucket, &bucket).await?;
    let mode = match &policy {
        None => "private",
        Some(policy) if is_canned_download(policy, &bucket) => "public",
        Some(_) => "custom",
    };
    let shown = policy.unwrap_or_else(|| {
        cairn_cli::anonymous::with_level(None, "download", &bucket, "").expect("a download level has statements")
    });
    let page = AccessPage {
        title: format!("Access to {bucket}"),
        section: "buckets",
        chrome: Chrome::new(&call.console, &caller, &call.query),
        policy: serde_json::to_string_pretty(&shown).unwrap_or_default(),
        bucket,
        mode,
    };
    render(&page)
}

async fn set_access(call: Call, bucket: String) -> Result<Response<Body>> {
    let back = call.link(&format!("/buckets/{}/access", crate::web::encode(&bucket)));
    let (caller, fields, _) = call.form().await?;
    let s3 = caller.s3();
    let mode = fields.get("mode").map(String::as_str).unwrap_or_default();
    let document = match mode {
        "private" => None,
        "public" => cairn_cli::anonymous::with_level(None, "download", &bucket, ""),
        "custom" => {
            let text = fields.get("policy").map(String::as_str).unwrap_or_default();
            match serde_json::from_str::<serde_json::Value>(text) {
                Ok(value) if value.is_object() => Some(value),
                Ok(_) => {
                    return Ok(crate::web::redirect(&with_message(
                        &back,
                        "error",
                        "The policy must be a JSON object.",
                    )));
                }
                Err(e) => {
                    return Ok(crate::web::redirect(&with_message(
                        &back,
                        "error",
                        &format!("The policy is not valid JSON: {e}"),
                    )));
                }
            }
        }
        _ => return Err(ConsoleError::BadRequest("choose private, public or custom".into())),
    };
    let result = match document {
        None => {
            s3.delete_bucket_policy().bucket(&bucket).send().await.map(|_| ()).map_err(|e| policy_error(&bucket, e))
        }
        Some(document) => s3
            .put_bucket_policy()
            .bucket(&bucket)
            .policy(document.to_string())
            .send()
            .await
            .map(|_| ())
            .map_err(|e| policy_error(&bucket, e)),
    };
    Ok(crate::web::redirect(&match result {
        Ok(()) => with_message(&back, "notice", "Access saved."),
        Err(message) => with_message(&back, "error", &message),
    }))
}

/// A refused policy in words: the server's reason for a malformed one.
fn policy_error<E>(
    bucket: &str,
    error: aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match error.code() {
        Some("MalformedPolicy") => {
            format!("The policy was refused and the old one kept: {}", error.message().unwrap_or("it is malformed"))
        }
        _ => ConsoleError::from(cairn_cli::s3_error(bucket, error)).to_string(),
    }
}
