//! Helpers shared by the cluster tests: clients, writes with their checksums, reads
//! that compare them, on-disk checks and bounded wait loops.

use crate::harness::{error_status, md5_hex, no_retry_client, random_bytes};
use crate::nodes::POLL_INTERVAL;
use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use futures::StreamExt;
use std::collections::BTreeMap;
use std::future::Future;
use std::path::Path;
use std::time::{Duration, Instant};

pub const KIB: usize = 1 << 10;
pub const MIB: usize = 1 << 20;
/// Objects up to this size live inside `xl.meta`; bigger ones have part files.
pub const INLINE_BYTES_MAX: usize = cairn_object::INLINE_BYTES_MAX;
/// Bound on one S3 request (or one whole multipart upload) in a test: generous, as the
/// first request after a fault may wait out an internal RPC timeout.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// How many requests the bulk helpers keep in flight.
pub const CONCURRENCY: usize = 8;
/// How many failures a failure message lists.
const FAILURES_SHOWN: usize = 20;
/// The SDK's own bound on connecting; a killed node refuses at once, a paused one never accepts.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The SDK's bound on one operation: a backstop above [`REQUEST_TIMEOUT`].
const OPERATION_TIMEOUT: Duration = Duration::from_secs(180);

/// An S3 client for `endpoint` with the root credentials. The SDK never retries, so a
/// failed request shows as a failure instead of being papered over; its stalled-stream
/// protection is off, as a server waiting out a dead peer's timeout before reading a
/// body is not a stalled stream. The tests bound each request themselves.
pub fn node_client(endpoint: &str) -> Client {
    no_retry_client(endpoint, CONNECT_TIMEOUT, OPERATION_TIMEOUT)
}

/// What a test remembers of an object it wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectSpec {
    /// MD5 of the whole body, hex.
    pub md5: String,
    pub size: usize,
    /// 1 for a single PUT; the number of parts for a multipart upload.
    pub parts: usize,
}

impl ObjectSpec {
    pub fn of(body: &[u8]) -> ObjectSpec {
        ObjectSpec { md5: md5_hex(body), size: body.len(), parts: 1 }
    }
}

/// Runs `future` within `limit`, or fails with a message naming `what`.
pub async fn within<T>(limit: Duration, what: &str, future: impl Future<Output = T>) -> Result<T, String> {
    tokio::time::timeout(limit, future).await.map_err(|_| format!("{what}: no answer within {limit:?}"))
}

/// Runs `future` within `limit`; panics, naming `what`, if it takes longer.
pub async fn bounded<T>(limit: Duration, what: &str, future: impl Future<Output = T>) -> T {
    match tokio::time::timeout(limit, future).await {
        Ok(output) => output,
        Err(_) => panic!("{what}: no answer within {limit:?}"),
    }
}

/// Polls `check` until it holds or `limit` passes; returns whether it held.
pub async fn eventually<F, Fut>(limit: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    loop {
        if check().await {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// One PUT, bounded by [`REQUEST_TIMEOUT`].
pub async fn try_put(client: &Client, bucket: &str, key: &str, body: &[u8]) -> Result<(), String> {
    let request = client.put_object().bucket(bucket).key(key).body(ByteStream::from(body.to_vec())).send();
    within(REQUEST_TIMEOUT, &format!("PUT {key}"), request).await?.map(|_| ()).map_err(|e| format!("PUT {key}: {e:?}"))
}

/// A whole multipart upload of `parts`, bounded by [`REQUEST_TIMEOUT`].
pub async fn try_put_multipart(client: &Client, bucket: &str, key: &str, parts: &[Vec<u8>]) -> Result<(), String> {
    within(REQUEST_TIMEOUT, &format!("multipart upload of {key}"), multipart_upload(client, bucket, key, parts)).await?
}

async fn multipart_upload(client: &Client, bucket: &str, key: &str, parts: &[Vec<u8>]) -> Result<(), String> {
    let created = client
        .create_multipart_upload()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| format!("create upload {key}: {e:?}"))?;
    let upload_id = created.upload_id().ok_or_else(|| format!("create upload {key}: no upload id"))?;
    let mut completed = Vec::with_capacity(parts.len());
    for (index, body) in parts.iter().enumerate() {
        let number = i32::try_from(index + 1).expect("part number fits i32");
        let uploaded = client
            .upload_part()
            .bucket(bucket)
            .key(key)
            .upload_id(upload_id)
            .part_number(number)
            .body(ByteStream::from(body.clone()))
            .send()
            .await
            .map_err(|e| format!("upload part {number} of {key}: {e:?}"))?;
        let etag = uploaded.e_tag().ok_or_else(|| format!("part {number} of {key}: no etag"))?;
        completed.push(CompletedPart::builder().part_number(number).e_tag(etag).build());
    }
    client
        .complete_multipart_upload()
        .bucket(bucket)
        .key(key)
        .upload_id(upload_id)
        .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(completed)).build())
        .send()
        .await
        .map(|_| ())
        .map_err(|e| format!("complete upload {key}: {e:?}"))
}

/// MD5 of the object's body, `Ok(None)` if the object does not exist, bounded by [`REQUEST_TIMEOUT`].
pub async fn read_md5(client: &Client, bucket: &str, key: &str) -> Result<Option<String>, String> {
    Ok(read_body(client, bucket, key).await?.map(|body| md5_hex(&body)))
}

/// The object's body, `Ok(None)` if the object does not exist, bounded by [`REQUEST_TIMEOUT`].
pub async fn read_body(client: &Client, bucket: &str, key: &str) -> Result<Option<Vec<u8>>, String> {
    let read = async {
        let output = match client.get_object().bucket(bucket).key(key).send().await {
            Ok(output) => output,
            Err(error) if error_status(&error) == 404 => return Ok(None),
            Err(error) => return Err(format!("GET {key}: {error:?}")),
        };
        let body = output.body.collect().await.map_err(|e| format!("GET {key}: body: {e:?}"))?;
        Ok(Some(body.into_bytes().to_vec()))
    };
    within(REQUEST_TIMEOUT, &format!("GET {key}"), read).await?
}

/// Writes one random object per `(key, size)`, [`CONCURRENCY`] at a time; panics on any failure.
pub async fn write_objects(client: &Client, bucket: &str, plan: Vec<(String, usize)>) -> BTreeMap<String, ObjectSpec> {
    let writes = futures::stream::iter(plan)
        .map(|(key, size)| async move {
            let body = random_bytes(size);
            let result = try_put(client, bucket, &key, &body).await;
            (key, ObjectSpec::of(&body), result)
        })
        .buffer_unordered(CONCURRENCY)
        .collect::<Vec<_>>()
        .await;
    let mut written = BTreeMap::new();
    let mut failures = Vec::new();
    for (key, spec, result) in writes {
        match result {
            Ok(()) => {
                written.insert(key, spec);
            }
            Err(error) => failures.push(error),
        }
    }
    assert!(failures.is_empty(), "{} writes failed: {:#?}", failures.len(), first(&failures));
    written
}

/// Reads every object through `client`, [`CONCURRENCY`] at a time, and panics, naming
/// `through`, unless each one has exactly the recorded MD5.
pub async fn verify_objects(client: &Client, bucket: &str, objects: &BTreeMap<String, ObjectSpec>, through: &str) {
    let failures: Vec<String> = futures::stream::iter(objects)
        .map(|(key, spec)| async move {
            match read_md5(client, bucket, key).await {
                Ok(Some(md5)) if md5 == spec.md5 => None,
                Ok(Some(md5)) => Some(format!("{key}: MD5 {md5}, wrote {} ({} bytes)", spec.md5, spec.size)),
                Ok(None) => Some(format!("{key}: missing ({} bytes were acknowledged)", spec.size)),
                Err(error) => Some(error),
            }
        })
        .buffer_unordered(CONCURRENCY)
        .filter_map(std::future::ready)
        .collect()
        .await;
    assert!(
        failures.is_empty(),
        "{} of {} objects do not read back through {through}: {:#?}",
        failures.len(),
        objects.len(),
        first(&failures)
    );
}

/// Keys of `objects` that `drive` does not fully hold: metadata, and for objects too big
/// to be inline a `<uuid>__XLDATA__` folder with `part.1` to `part.<parts>`.
pub fn incomplete_on_drive(drive: &Path, bucket: &str, objects: &BTreeMap<String, ObjectSpec>) -> Vec<String> {
    objects.iter().filter(|(key, spec)| !complete_on_drive(drive, bucket, key, spec)).map(|(k, _)| k.clone()).collect()
}

fn complete_on_drive(drive: &Path, bucket: &str, key: &str, spec: &ObjectSpec) -> bool {
    let object_dir = drive.join(bucket).join(key);
    if !crate::harness::has_key_on(drive, bucket, key) {
        return false;
    }
    if spec.size <= INLINE_BYTES_MAX {
        return true;
    }
    let Ok(entries) = std::fs::read_dir(&object_dir) else { return false };
    entries
        .flatten()
        .filter(|entry| entry.file_name().to_string_lossy().ends_with("__XLDATA__"))
        .any(|entry| (1..=spec.parts).all(|part| entry.path().join(format!("part.{part}")).is_file()))
}

/// Every key in `bucket`, listed with ListObjectsV2 pages of `page_size`; panics if the
/// pages are out of order, repeat a key or do not end.
pub async fn list_keys(client: &Client, bucket: &str, page_size: i32) -> Vec<String> {
    /// Far more pages than any test bucket needs: a listing that goes on is a bug.
    const PAGES_MAX: usize = 1000;
    let mut keys: Vec<String> = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..PAGES_MAX {
        let request =
            client.list_objects_v2().bucket(bucket).max_keys(page_size).set_continuation_token(token.clone()).send();
        let page = match bounded(REQUEST_TIMEOUT, "ListObjectsV2", request).await {
            Ok(page) => page,
            Err(error) => panic!("ListObjectsV2 of {bucket}: {error:?}"),
        };
        let page_keys: Vec<String> = page.contents().iter().filter_map(|o| o.key().map(str::to_owned)).collect();
        assert!(
            page_keys.len() <= usize::try_from(page_size).expect("positive page size"),
            "a page of max-keys {page_size} holds {} keys",
            page_keys.len()
        );
        for key in page_keys {
            if let Some(last) = keys.last() {
                assert!(*last < key, "listing out of order or repeated: {last:?} then {key:?}");
            }
            keys.push(key);
        }
        if page.is_truncated() != Some(true) {
            return keys;
        }
        token = page.next_continuation_token().map(str::to_owned);
        assert!(token.is_some(), "a truncated page has no continuation token");
    }
    panic!("ListObjectsV2 of {bucket} did not end within {PAGES_MAX} pages");
}

/// Panics, naming `what`, unless `listed` is `expected`; shows what is missing and what is extra.
pub fn assert_same_keys(listed: &[String], expected: &[String], what: &str) {
    let missing: Vec<&String> = expected.iter().filter(|key| !listed.contains(key)).collect();
    let extra: Vec<&String> = listed.iter().filter(|key| !expected.contains(key)).collect();
    assert!(
        listed == expected,
        "{what}: {} keys listed, {} expected; missing {:?}, extra {:?}",
        listed.len(),
        expected.len(),
        first(&missing),
        first(&extra)
    );
}

/// The first few of `items`, for failure messages.
pub fn first<T>(items: &[T]) -> &[T] {
    &items[..items.len().min(FAILURES_SHOWN)]
}
