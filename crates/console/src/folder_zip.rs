//! Writes the objects under a prefix as a zip, for folder downloads. Runs on a blocking
//! thread (the zip crate writes through `std::io::Write`) and reads each object as a
//! stream, so only one chunk of one object is in memory at a time.

use crate::pages::operations::ChannelWriter;
use std::io::Write;
use zip::CompressionMethod;
use zip::write::SimpleFileOptions;

/// Most objects in one zip: the zip's central directory (about 100 bytes per member)
/// is kept until the end, so the number of members bounds the memory a download takes.
pub(crate) const ZIP_MEMBERS_MAX: u64 = 100_000;
/// Keys listed per page while writing.
const LIST_PAGE_KEYS: i32 = 1000;

/// Writes every object under `bucket`/`prefix` to `writer` as zip members named by their
/// key without the prefix. Folder markers (keys ending in `/`) are left out.
pub(crate) fn write(
    runtime: &tokio::runtime::Handle,
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
    writer: ChannelWriter,
) -> Result<(), String> {
    let mut zip = zip::ZipWriter::new_stream(writer);
    // Stored: most large objects are compressed already, and the browser gets bytes at
    // the store's pace. Large-file headers allow members over 4 GiB.
    let options = SimpleFileOptions::default().compression_method(CompressionMethod::Stored).large_file(true);
    let mut token: Option<String> = None;
    let mut members = 0;
    loop {
        let mut list = s3.list_objects_v2().bucket(bucket).prefix(prefix).max_keys(LIST_PAGE_KEYS);
        if let Some(token) = &token {
            list = list.continuation_token(token);
        }
        let page = runtime.block_on(list.send()).map_err(|e| cairn_cli::s3_error(bucket, e).to_string())?;
        for object in page.contents() {
            let Some(key) = object.key() else { continue };
            let name = &key[prefix.len().min(key.len())..];
            if name.is_empty() || name.ends_with('/') {
                continue;
            }
            members += 1;
            if members > ZIP_MEMBERS_MAX {
                return Err(format!("the folder holds more than {ZIP_MEMBERS_MAX} objects; download it in parts"));
            }
            zip.start_file(name, options).map_err(|e| format!("{key}: {e}"))?;
            let answer = runtime
                .block_on(s3.get_object().bucket(bucket).key(key).send())
                .map_err(|e| cairn_cli::s3_error(key, e).to_string())?;
            let mut body = answer.body;
            while let Some(chunk) = runtime.block_on(body.next()) {
                let chunk = chunk.map_err(|e| format!("{key}: {e}"))?;
                zip.write_all(&chunk).map_err(|e| format!("{key}: {e}"))?;
            }
        }
        match page.next_continuation_token() {
            Some(next) => token = Some(next.to_owned()),
            None => break,
        }
    }
    let mut inner = zip.finish().map_err(|e| e.to_string())?.into_inner();
    inner.flush().map_err(|e| e.to_string())
}
