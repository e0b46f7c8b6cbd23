//! Operations: heals with live progress, configuration export and import, and
//! folders downloaded as a zip streamed on the fly.

use crate::error::{ConsoleError, Result};
use crate::pages::with_message;
use crate::router::{Call, render};
use crate::templates::Chrome;
use crate::web::{self, Body, BoxError};
use askama::Template;
use http::{HeaderValue, Method, Response, StatusCode, header};
use http_body_util::BodyExt;

#[derive(Template)]
#[template(path = "operations.html")]
struct OperationsPage {
    title: &'static str,
    section: &'static str,
    chrome: Chrome,
    can_heal: bool,
    can_config: bool,
    heal_id: Option<String>,
    current: String,
}

pub(crate) async fn route(call: Call) -> Result<Response<Body>> {
    match (&call.method, call.segment(1)) {
        (&Method::GET, "") => page(call).await,
        (&Method::POST, "heal") => heal(call).await,
        (&Method::GET, "config") => export(call).await,
        (&Method::POST, "config") => import(call).await,
        (&Method::POST, "setting") => setting(call).await,
        _ => Err(ConsoleError::NotFound("no such page".into())),
    }
}

async fn page(call: Call) -> Result<Response<Body>> {
    let caller = call.caller()?;
    let (can_heal, can_config) = (caller.may("admin:Heal", None, None), caller.may("admin:ConfigUpdate", None, None));
    if !can_heal && !can_config {
        return Err(ConsoleError::Forbidden("Your policies do not allow healing or configuring the server.".into()));
    }
    let current = if can_config {
        let admin = caller.admin()?;
        String::from_utf8_lossy(&admin.call_sealed(Method::GET, "get-config", &[], Vec::new()).await?).into_owned()
    } else {
        String::new()
    };
    let heal_id = Some(call.param("heal")).filter(|id| !id.is_empty());
    let page = OperationsPage {
        title: "Operations",
        section: "operations",
        chrome: Chrome::new(&call.console, &caller, &call.query),
        can_heal,
        can_config,
        heal_id,
        current,
    };
    render(&page)
}

async fn heal(call: Call) -> Result<Response<Body>> {
    let console = std::sync::Arc::clone(&call.console);
    let back = call.link("/operations");
    let (caller, fields, _) = call.form().await?;
    let field = |name: &str| fields.get(name).map(|v| v.trim().to_owned()).unwrap_or_default();
    let deep = field("deep") == "on";
    let started = console.heals.start(caller.admin()?, caller.name(), &field("bucket"), &field("prefix"), deep).await;
    Ok(web::redirect(&match started {
        Ok(id) => format!("{back}?heal={id}"),
        Err(error) => with_message(&back, "error", &error.to_string()),
    }))
}

async fn export(call: Call) -> Result<Response<Body>> {
    let caller = call.caller()?;
    let text = caller.admin()?.call_sealed(Method::GET, "get-config", &[], Vec::new()).await?;
    let mut answer = web::response(StatusCode::OK, "text/plain; charset=utf-8", web::full(text));
    answer
        .headers_mut()
        .insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("attachment; filename=\"cairn-config.txt\""));
    Ok(answer)
}

async fn import(call: Call) -> Result<Response<Body>> {
    let back = call.link("/operations");
    let (caller, fields, _) = call.form().await?;
    let text = fields.get("config").cloned().unwrap_or_default();
    let admin = caller.admin()?;
    let sealed = admin.seal(text.as_bytes())?;
    Ok(web::redirect(&match admin.call(Method::PUT, "set-config", &[], sealed).await {
        Ok(_) => with_message(&back, "notice", "Configuration imported."),
        Err(error) => {
            with_message(&back, "error", &format!("The configuration was refused and nothing changed: {error}"))
        }
    }))
}

/// Applies one line of settings (`subsystem key=value ...`), as `cairn admin config set`.
async fn setting(call: Call) -> Result<Response<Body>> {
    let back = call.link("/operations");
    let (caller, fields, _) = call.form().await?;
    let line = fields.get("setting").map(|s| s.trim().to_owned()).unwrap_or_default();
    let admin = caller.admin()?;
    let sealed = admin.seal(line.as_bytes())?;
    Ok(web::redirect(&match admin.call(Method::PUT, "set-config-kv", &[], sealed).await {
        Ok(_) => with_message(&back, "notice", &format!("Applied: {line}")),
        Err(error) => with_message(&back, "error", &format!("The setting was refused and nothing changed: {error}")),
    }))
}

/// Bytes buffered between the zip writer and the connection.
const ZIP_CHUNK_BYTES: usize = 256 << 10;
/// Chunks queued towards the browser; the writer waits when they are not taken.
const ZIP_QUEUE: usize = 4;

/// `GET /zip/{bucket}?prefix=`: every object under the prefix, as a zip written while
/// it is sent (stored, not compressed; ZIP64 for large members). Objects are read one
/// at a time, so memory stays bounded whatever the folder holds.
pub(crate) async fn zip(call: Call, bucket: String) -> Result<Response<Body>> {
    let caller = call.caller()?;
    let prefix = call.param("prefix");
    let s3 = caller.s3();
    // Refuse at once (a plain error page) when the caller may not list the folder.
    s3.list_objects_v2()
        .bucket(&bucket)
        .prefix(&prefix)
        .max_keys(1)
        .send()
        .await
        .map_err(|e| cairn_cli::s3_error(&bucket, e))?;
    let (sender, receiver) = tokio::sync::mpsc::channel::<std::result::Result<bytes::Bytes, BoxError>>(ZIP_QUEUE);
    let runtime = tokio::runtime::Handle::current();
    let (zip_bucket, zip_prefix) = (bucket.clone(), prefix.clone());
    tokio::task::spawn_blocking(move || {
        let writer = ChannelWriter { sender: sender.clone(), buffer: Vec::with_capacity(ZIP_CHUNK_BYTES) };
        if let Err(error) = crate::folder_zip::write(&runtime, &s3, &zip_bucket, &zip_prefix, writer) {
            tracing::warn!(bucket = zip_bucket, prefix = zip_prefix, %error, "console: zip download failed");
            let _ = sender.blocking_send(Err(error.into()));
        }
    });
    let stream = futures::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|chunk| (chunk.map(http_body::Frame::data), receiver))
    });
    let mut answer = Response::new(http_body_util::StreamBody::new(stream).boxed_unsync());
    let headers = answer.headers_mut();
    web::secure(headers);
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/zip"));
    let name = prefix.trim_end_matches('/').rsplit('/').next().filter(|n| !n.is_empty()).unwrap_or(&bucket);
    if let Ok(value) = HeaderValue::from_str(&web::disposition("attachment", &format!("{name}.zip"))) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(answer)
}

/// A `Write` that sends full chunks to the response body (from a blocking thread).
pub(crate) struct ChannelWriter {
    sender: tokio::sync::mpsc::Sender<std::result::Result<bytes::Bytes, BoxError>>,
    buffer: Vec<u8>,
}

impl std::io::Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(data);
        if self.buffer.len() >= ZIP_CHUNK_BYTES {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let chunk = bytes::Bytes::from(std::mem::replace(&mut self.buffer, Vec::with_capacity(ZIP_CHUNK_BYTES)));
        self.sender
            .blocking_send(Ok(chunk))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the browser went away"))
    }
}
