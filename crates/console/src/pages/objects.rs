//! The object browser: folders with breadcrumbs, a page of entries at a time (a prefix
//! with 100k objects is paged by the server, never sent whole), search by name,
//! deletes, the object page (details, tags, preview, share link) and downloads.

use crate::caller::Caller;
use crate::error::{ConsoleError, Result};
use crate::pages::buckets::{DELETE_BATCH, delete_keys, delete_prefix};
use crate::pages::with_message;
use crate::router::{Call, render};
use crate::templates::{Chrome, bytes};
use crate::web::{self, Body, BoxError};
use askama::Template;
use aws_sdk_s3::presigning::PresigningConfig;
use http::{HeaderValue, Method, Response, StatusCode, header};
use http_body_util::BodyExt;
use std::time::Duration;

/// Entries listed per page.
const PAGE_KEYS: i32 = 200;
/// Largest text shown in a preview; longer files show their beginning.
const PREVIEW_TEXT_BYTES: u64 = 256 << 10;
/// Longest share link S3 allows (SigV4 presigned URLs last at most 7 days).
const SHARE_SECS_MAX: u64 = 7 * 24 * 3600;

struct Folder {
    name: String,
    prefix: String,
    link: String,
}

struct Entry {
    name: String,
    key: String,
    link: String,
    size: String,
    modified: String,
}

#[derive(Template)]
#[template(path = "browse.html")]
struct BrowsePage {
    title: String,
    section: &'static str,
    chrome: Chrome,
    bucket: String,
    prefix: String,
    prefix_q: String,
    search: String,
    crumbs: Vec<(String, String)>,
    folders: Vec<Folder>,
    objects: Vec<Entry>,
    can_upload: bool,
    can_delete: bool,
    first_page: bool,
    first_link: String,
    next_link: Option<String>,
}

/// What the object page previews.
pub(crate) enum Preview {
    Image(String),
    Pdf(String),
    Text(String),
    None(String),
}

#[derive(Template)]
#[template(path = "object.html")]
struct ObjectPage {
    title: String,
    section: &'static str,
    chrome: Chrome,
    bucket: String,
    key: String,
    key_q: String,
    parent: String,
    crumbs: Vec<(String, String)>,
    download: String,
    can_delete: bool,
    size: String,
    size_bytes: i64,
    modified: String,
    etag: String,
    content_type: String,
    /// How the object is encrypted at rest ("SSE-S3"), empty when it is not.
    encryption: String,
    metadata: Vec<(String, String)>,
    tags: Vec<(String, String)>,
    /// The object's versions, newest first (id, date, size, kind), when the caller may list them.
    versions: Option<Vec<super::object_versions::VersionRow>>,
    preview: Preview,
    share: Option<String>,
    share_for: String,
}

pub(crate) async fn route(call: Call) -> Result<Response<Body>> {
    let kind = call.segment(0).to_owned();
    let bucket = call.segment(1).to_owned();
    if bucket.is_empty() {
        return Err(ConsoleError::NotFound("name a bucket".into()));
    }
    let action = call.segment(2).to_owned();
    match (&call.method, kind.as_str(), action.as_str()) {
        (&Method::GET, "browse", "") => browse(call, bucket).await,
        (&Method::POST, "browse", "delete") => delete(call, bucket).await,
        (&Method::GET, "object", "") => {
            let caller = call.caller()?;
            let key = call.param("key");
            object(&call.console, &caller, &call.query, bucket, key, None).await
        }
        (&Method::POST, "object", "share") => share(call, bucket).await,
        (&Method::GET, "download", "") => download(call, bucket).await,
        (&Method::GET, "zip", "") => crate::pages::operations::zip(call, bucket).await,
        _ => Err(ConsoleError::NotFound("no such page".into())),
    }
}

/// The browse page of `bucket`/`prefix`.
pub(crate) fn browse_link(base: &str, bucket: &str, prefix: &str) -> String {
    format!("{base}/browse/{}?prefix={}", web::encode(bucket), web::encode(prefix))
}

/// Breadcrumbs of `prefix` in `bucket`: the bucket, then each folder.
fn crumbs(base: &str, bucket: &str, prefix: &str) -> Vec<(String, String)> {
    let mut crumbs = vec![(bucket.to_owned(), browse_link(base, bucket, ""))];
    let mut upto = String::new();
    for part in prefix.split_inclusive('/') {
        upto.push_str(part);
        if part.ends_with('/') {
            crumbs.push((part.trim_end_matches('/').to_owned(), browse_link(base, bucket, &upto)));
        }
    }
    crumbs
}

async fn browse(call: Call, bucket: String) -> Result<Response<Body>> {
    let caller = call.caller()?;
    let base = &call.console.config.base_path;
    let prefix = call.param("prefix");
    let search = call.param("search");
    let token = call.param("token");
    let mut request = caller
        .s3()
        .list_objects_v2()
        .bucket(&bucket)
        .prefix(format!("{prefix}{search}"))
        .delimiter("/")
        .max_keys(PAGE_KEYS);
    if !token.is_empty() {
        request = request.continuation_token(&token);
    }
    let page = request.send().await.map_err(|e| cairn_cli::s3_error(&bucket, e))?;
    let folders = page
        .common_prefixes()
        .iter()
        .filter_map(|p| p.prefix())
        .map(|p| Folder {
            name: p[prefix.len()..].to_owned(),
            prefix: p.to_owned(),
            link: browse_link(base, &bucket, p),
        })
        .collect();
    let objects = page
        .contents()
        .iter()
        .filter_map(|o| {
            let key = o.key()?.to_owned();
            Some(Entry {
                name: key[prefix.len().min(key.len())..].to_owned(),
                link: format!("{base}/object/{}?key={}", web::encode(&bucket), web::encode(&key)),
                key,
                size: bytes(o.size().unwrap_or_default().max(0) as u64),
                modified: o.last_modified().map(|d| d.to_string()).unwrap_or_default(),
            })
        })
        .collect();
    let here = format!("{}&search={}", browse_link(base, &bucket, &prefix), web::encode(&search));
    let next_link = page.next_continuation_token().map(|t| format!("{here}&token={}", web::encode(t)));
    let title = if prefix.is_empty() { bucket.clone() } else { format!("{bucket}/{prefix}") };
    let page = BrowsePage {
        title,
        section: "buckets",
        chrome: Chrome::new(&call.console, &caller, &call.query),
        crumbs: crumbs(base, &bucket, &prefix),
        prefix_q: web::encode(&prefix),
        can_upload: caller.may("s3:PutObject", Some(&bucket), Some(&format!("{prefix}x"))),
        can_delete: caller.may("s3:DeleteObject", Some(&bucket), Some(&format!("{prefix}x"))),
        first_page: token.is_empty(),
        first_link: here,
        next_link,
        bucket,
        prefix,
        search,
        folders,
        objects,
    };
    render(&page)
}

async fn delete(call: Call, bucket: String) -> Result<Response<Body>> {
    let base = call.console.config.base_path.clone();
    let (caller, fields, body) = call.form().await?;
    let back = browse_link(&base, &bucket, fields.get("prefix").map(String::as_str).unwrap_or_default());
    let s3 = caller.s3();
    let keys = web::all_values(&body, "key");
    let folders = web::all_values(&body, "folder");
    let mut deleted = 0;
    let outcome = async {
        for batch in keys.chunks(DELETE_BATCH) {
            deleted += delete_keys(&s3, &bucket, batch).await?;
        }
        for folder in folders.iter().filter(|f| !f.is_empty()) {
            deleted += delete_prefix(&s3, &bucket, folder).await?;
        }
        Ok::<_, ConsoleError>(())
    }
    .await;
    Ok(web::redirect(&match outcome {
        Ok(()) => with_message(&back, "notice", &format!("Deleted {deleted} object(s).")),
        Err(error) if deleted == 0 => with_message(&back, "error", &error.to_string()),
        Err(error) => with_message(&back, "error", &format!("{error} ({deleted} object(s) were deleted before that.)")),
    }))
}

async fn object(
    console: &crate::Console,
    caller: &Caller,
    query: &[u8],
    bucket: String,
    key: String,
    share: Option<(String, u64)>,
) -> Result<Response<Body>> {
    let base = console.config.base_path.clone();
    let s3 = caller.s3();
    let head = s3.head_object().bucket(&bucket).key(&key).send().await.map_err(|e| cairn_cli::s3_error(&key, e))?;
    let tags = if caller.may("s3:GetObjectTagging", Some(&bucket), Some(&key)) {
        match s3.get_object_tagging().bucket(&bucket).key(&key).send().await {
            Ok(answer) => answer.tag_set().iter().map(|t| (t.key().to_owned(), t.value().to_owned())).collect(),
            Err(_) => Vec::new(),
        }
    } else {
        Vec::new()
    };
    let versions = if caller.may("s3:ListBucketVersions", Some(&bucket), None) {
        Some(super::object_versions::versions_of(&s3, &bucket, &key).await)
    } else {
        None
    };
    let size = head.content_length().unwrap_or_default().max(0);
    let content_type = head.content_type().unwrap_or("application/octet-stream").to_owned();
    let download = format!("{base}/download/{}?key={}", web::encode(&bucket), web::encode(&key));
    let preview = preview(&s3, &bucket, &key, &content_type, size as u64, &download).await;
    let parent = key.rfind('/').map_or("", |i| &key[..=i]).to_owned();
    let mut metadata: Vec<(String, String)> = head
        .metadata()
        .map(|m| m.iter().map(|(k, v)| (format!("x-amz-meta-{k}"), v.clone())).collect())
        .unwrap_or_default();
    metadata.sort();
    let (share, share_for) = match share {
        Some((link, secs)) => (Some(link), humantime(secs)),
        None => (None, String::new()),
    };
    let page = ObjectPage {
        title: key.rsplit('/').next().unwrap_or(&key).to_owned(),
        section: "buckets",
        chrome: Chrome::new(console, caller, query),
        crumbs: crumbs(&base, &bucket, &parent),
        key_q: web::encode(&key),
        can_delete: caller.may("s3:DeleteObject", Some(&bucket), Some(&key)),
        size: bytes(size as u64),
        size_bytes: size,
        modified: head.last_modified().map(|d| d.to_string()).unwrap_or_default(),
        etag: head.e_tag().unwrap_or_default().trim_matches('"').to_owned(),
        content_type,
        encryption: if head.server_side_encryption().is_some() { "SSE-S3".into() } else { String::new() },
        metadata,
        versions,
        tags,
        preview,
        share,
        share_for,
        download,
        parent,
        bucket,
        key,
    };
    render(&page)
}

fn humantime(secs: u64) -> String {
    match secs {
        s if s % 86400 == 0 => format!("{} day(s)", s / 86400),
        s if s % 3600 == 0 => format!("{} hour(s)", s / 3600),
        s => format!("{s} seconds"),
    }
}

/// Image types a browser shows safely (no script; SVG is not among them).
const IMAGE_TYPES: [&str; 6] = ["image/png", "image/jpeg", "image/gif", "image/webp", "image/avif", "image/bmp"];

/// True for content shown as text.
fn is_text(content_type: &str, key: &str) -> bool {
    let kind = content_type.split(';').next().unwrap_or_default().trim();
    kind.starts_with("text/")
        || matches!(kind, "application/json" | "application/xml" | "application/x-ndjson" | "application/yaml")
        || [".txt", ".log", ".csv", ".json", ".xml", ".md", ".yaml", ".yml"].iter().any(|e| key.ends_with(e))
}

async fn preview(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    content_type: &str,
    size: u64,
    download: &str,
) -> Preview {
    let kind = content_type.split(';').next().unwrap_or_default().trim();
    if IMAGE_TYPES.contains(&kind) {
        return Preview::Image(format!("{download}&inline=1"));
    }
    if kind == "application/pdf" {
        return Preview::Pdf(format!("{download}&inline=1"));
    }
    if !is_text(content_type, key) {
        return Preview::None(format!("No preview for {kind}: download it to open it."));
    }
    if size == 0 {
        return Preview::Text(String::new());
    }
    let range = format!("bytes=0-{}", size.min(PREVIEW_TEXT_BYTES) - 1);
    let read = async {
        let answer = s3.get_object().bucket(bucket).key(key).range(range).send().await.ok()?;
        answer.body.collect().await.ok().map(|b| b.into_bytes())
    };
    match read.await {
        Some(body) => {
            let mut text = String::from_utf8_lossy(&body).into_owned();
            if kind == "application/json" && size <= PREVIEW_TEXT_BYTES {
                // Whole JSON documents are shown indented.
                if let Ok(value) = serde_json::from_str::<serde_json::Value>(&text) {
                    text = serde_json::to_string_pretty(&value).unwrap_or(text);
                }
            }
            if size > PREVIEW_TEXT_BYTES {
                text.push_str(&format!("\n… ({} more not shown)", bytes(size - PREVIEW_TEXT_BYTES)));
            }
            Preview::Text(text)
        }
        None => Preview::None("The preview could not be read.".into()),
    }
}

async fn share(call: Call, bucket: String) -> Result<Response<Body>> {
    let key = call.param("key");
    let host = call.request.headers().get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1").to_owned();
    let console = std::sync::Arc::clone(&call.console);
    let (caller, fields, _) = call.form().await?;
    let secs = fields.get("expiry").and_then(|e| e.parse::<u64>().ok()).unwrap_or(86400).clamp(1, SHARE_SECS_MAX);
    let endpoint = share_endpoint(&console.config, &host);
    let link = presign(&caller, &endpoint, &bucket, &key, secs).await?;
    object(&console, &caller, b"", bucket, key, Some((link, secs))).await
}

/// The S3 address share links point at: `CAIRN_SERVER_URL`, or the host the browser
/// reached the console at with the API's port.
fn share_endpoint(config: &crate::ConsoleConfig, host: &str) -> String {
    if let Some(url) = &config.public_api_url {
        return url.trim_end_matches('/').to_owned();
    }
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    };
    let scheme = if config.tls.is_some() { "https" } else { "http" };
    format!("{scheme}://{name}:{}", config.api_port)
}

/// A presigned GET of `bucket`/`key` at `endpoint`, valid for `secs`.
async fn presign(caller: &Caller, endpoint: &str, bucket: &str, key: &str, secs: u64) -> Result<String> {
    let config =
        PresigningConfig::expires_in(Duration::from_secs(secs)).map_err(|e| ConsoleError::BadRequest(e.to_string()))?;
    let signed = caller
        .s3_at(endpoint)
        .get_object()
        .bucket(bucket)
        .key(key)
        .presigned(config)
        .await
        .map_err(|e| ConsoleError::Backend(format!("cannot sign the link: {e}")))?;
    Ok(signed.uri().to_owned())
}

async fn download(call: Call, bucket: String) -> Result<Response<Body>> {
    let caller = call.caller()?;
    let key = call.param("key");
    let inline = call.param("inline") == "1";
    let answer =
        caller.s3().get_object().bucket(&bucket).key(&key).send().await.map_err(|e| cairn_cli::s3_error(&key, e))?;
    let kind = answer.content_type().unwrap_or("application/octet-stream").to_owned();
    let base_kind = kind.split(';').next().unwrap_or_default().trim().to_owned();
    // Inline only for types that cannot run script in the console's origin.
    let inline = inline && (IMAGE_TYPES.contains(&base_kind.as_str()) || base_kind == "application/pdf");
    let length = answer.content_length();
    let stream = futures::stream::unfold(answer.body, |mut body| async move {
        body.next().await.map(|chunk| (chunk.map(http_body::Frame::data).map_err(|e| Box::new(e) as BoxError), body))
    });
    let body = http_body_util::StreamBody::new(stream).boxed_unsync();
    let served_type = if inline { base_kind } else { "application/octet-stream".to_owned() };
    let mut response = Response::new(body);
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    web::secure(headers);
    let name = key.rsplit('/').next().unwrap_or(&key);
    let disposition = web::disposition(if inline { "inline" } else { "attachment" }, name);
    if let Ok(value) = HeaderValue::from_str(&served_type) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    if let Some(length) = length {
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn breadcrumbs_name_each_folder() {
        let crumbs = crumbs("", "b", "a/b c/");
        let names: Vec<&str> = crumbs.iter().map(|c| c.0.as_str()).collect();
        assert_eq!(names, ["b", "a", "b c"]);
        assert_eq!(crumbs[2].1, "/browse/b?prefix=a%2Fb%20c%2F");
    }

    #[test]
    fn text_is_recognised_by_type_or_extension() {
        assert!(is_text("text/plain; charset=utf-8", "x"));
        assert!(is_text("application/json", "x"));
        assert!(is_text("application/octet-stream", "notes.csv"));
        assert!(!is_text("application/pdf", "x.pdf"));
    }
}
