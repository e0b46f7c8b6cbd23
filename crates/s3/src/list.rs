//! ListObjects (v1) and ListObjectsV2.

use crate::CairnS3;
use crate::bucket::owner;
use crate::error::{s3_error, to_s3};
use crate::headers::timestamp;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cairn_object::{ListMode, ListPage, ListRequest, ListedObject};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use s3s::dto::*;
use s3s::{S3ErrorCode, S3Request, S3Response, S3Result};

/// Default and largest page, as S3.
const LIST_KEYS_DEFAULT: usize = 1000;

/// True when the client asked for `encoding-type=url`.
pub(crate) fn is_url_encoding(encoding: Option<&EncodingType>) -> bool {
    encoding.is_some_and(|e| e.as_str() == EncodingType::URL)
}

/// Characters S3 leaves alone in `encoding-type=url` output: unreserved ones and `/`.
const KEY_ENCODE_SET: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~').remove(b'/');

/// Percent-encodes a key or prefix when the client asked for `encoding-type=url`.
pub(crate) fn encode_if(url: bool, value: &str) -> String {
    if url { utf8_percent_encode(value, KEY_ENCODE_SET).to_string() } else { value.to_owned() }
}

fn max_keys(requested: Option<i32>) -> S3Result<usize> {
    match requested {
        None => Ok(LIST_KEYS_DEFAULT),
        Some(n) if n < 0 => Err(s3_error(S3ErrorCode::InvalidArgument, "max-keys cannot be negative")),
        Some(n) => Ok(usize::try_from(n).unwrap_or(LIST_KEYS_DEFAULT).min(LIST_KEYS_DEFAULT)),
    }
}

fn object_entry(info: ListedObject, url: bool, with_owner: bool) -> Object {
    Object {
        key: Some(encode_if(url, &info.key)),
        size: Some(i64::try_from(info.size).unwrap_or(i64::MAX)),
        e_tag: Some(ETag::Strong(info.etag)),
        last_modified: Some(timestamp(info.mod_time_unix_nanos)),
        storage_class: Some(ObjectStorageClass::from_static(ObjectStorageClass::STANDARD)),
        owner: with_owner.then(owner),
        ..Default::default()
    }
}

fn split_page(page: ListPage, url: bool, with_owner: bool) -> (Vec<Object>, Vec<CommonPrefix>) {
    let objects = page.objects.into_iter().map(|info| object_entry(info, url, with_owner)).collect();
    let prefixes = page.prefixes.into_iter().map(|p| CommonPrefix { prefix: Some(encode_if(url, &p)) }).collect();
    (objects, prefixes)
}

impl CairnS3 {
    pub(crate) async fn do_list_objects(
        &self,
        req: S3Request<ListObjectsInput>,
    ) -> S3Result<S3Response<ListObjectsOutput>> {
        let input = req.input;
        let max = max_keys(input.max_keys)?;
        let request = ListRequest {
            bucket: input.bucket.clone(),
            prefix: input.prefix.clone().unwrap_or_default(),
            delimiter: input.delimiter.clone(),
            start_after: input.marker.clone().filter(|m| !m.is_empty()),
            max_keys: max,
            mode: ListMode::Current,
        };
        let page = self.store.list_objects(&request).await.map_err(to_s3)?;
        let url = is_url_encoding(input.encoding_type.as_ref());
        let truncated = page.truncated;
        // NextMarker is only returned with a delimiter; clients use the last key otherwise.
        let next_marker = page.next_marker.clone().filter(|_| input.delimiter.is_some()).map(|m| encode_if(url, &m));
        let (contents, common_prefixes) = split_page(page, url, true);
        Ok(S3Response::new(ListObjectsOutput {
            name: Some(input.bucket),
            prefix: Some(encode_if(url, &input.prefix.unwrap_or_default())),
            marker: Some(encode_if(url, &input.marker.unwrap_or_default())),
            max_keys: Some(max as i32),
            is_truncated: Some(truncated),
            contents: Some(contents),
            common_prefixes: Some(common_prefixes),
            delimiter: input.delimiter.map(|d| encode_if(url, &d)),
            next_marker,
            encoding_type: input.encoding_type,
            ..Default::default()
        }))
    }

    pub(crate) async fn do_list_objects_v2(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        let input = req.input;
        let max = max_keys(input.max_keys)?;
        let continuation = match &input.continuation_token {
            Some(token) => Some(decode_token(token)?),
            None => None,
        };
        let start_after = continuation.or_else(|| input.start_after.clone()).filter(|s| !s.is_empty());
        let request = ListRequest {
            bucket: input.bucket.clone(),
            prefix: input.prefix.clone().unwrap_or_default(),
            delimiter: input.delimiter.clone(),
            start_after,
            max_keys: max,
            mode: ListMode::Current,
        };
        let page = self.store.list_objects(&request).await.map_err(to_s3)?;
        let url = is_url_encoding(input.encoding_type.as_ref());
        let truncated = page.truncated;
        let next_token = page.next_marker.as_deref().filter(|_| truncated).map(|m| URL_SAFE_NO_PAD.encode(m));
        let (contents, common_prefixes) = split_page(page, url, input.fetch_owner.unwrap_or(false));
        let key_count = (contents.len() + common_prefixes.len()) as i32;
        Ok(S3Response::new(ListObjectsV2Output {
            name: Some(input.bucket),
            prefix: Some(encode_if(url, &input.prefix.unwrap_or_default())),
            max_keys: Some(max as i32),
            key_count: Some(key_count),
            continuation_token: input.continuation_token,
            next_continuation_token: next_token,
            is_truncated: Some(truncated),
            contents: Some(contents),
            common_prefixes: Some(common_prefixes),
            delimiter: input.delimiter.map(|d| encode_if(url, &d)),
            encoding_type: input.encoding_type,
            start_after: input.start_after.map(|s| encode_if(url, &s)),
            ..Default::default()
        }))
    }
}

fn decode_token(token: &str) -> S3Result<String> {
    URL_SAFE_NO_PAD
        .decode(token)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(|| s3_error(S3ErrorCode::InvalidArgument, "The continuation token provided is incorrect"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_encoding_keeps_slashes_and_escapes_the_rest() {
        assert_eq!(encode_if(true, "a b/ü+c"), "a%20b/%C3%BC%2Bc");
        assert_eq!(encode_if(false, "a b"), "a b");
        assert_eq!(decode_token(&URL_SAFE_NO_PAD.encode("k/ü")).expect("valid"), "k/ü");
        assert!(decode_token("!!").is_err());
    }
}
