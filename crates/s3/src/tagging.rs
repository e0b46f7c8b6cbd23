//! Object tags: set with `x-amz-tagging` on PutObject, CreateMultipartUpload and
//! CopyObject (`x-amz-tagging-directive: REPLACE`), counted in GetObject's
//! `x-amz-tagging-count`, read with GetObjectTagging. They are stored with the
//! object's other headers, under [`STORED_NAME`], as the URL-encoded form S3 clients
//! send (`k1=v1&k2=v2`), so they travel with the version (healing, copies, uploads)
//! and need no format change; lifecycle filters read them there too. PutObjectTagging
//! and DeleteObjectTagging change them in place (`tagging_api.rs`).

use crate::error::s3_error;
use cairn_iam::policy::ConditionValues;
use s3s::S3ErrorCode;
use s3s::S3Result;
use s3s::dto::{Tag, TagSet};
use std::collections::BTreeMap;

/// The stored header holding an object's tags; never sent back as a header (object
/// outputs are built field by field from the standard and `x-amz-meta-*` headers).
pub(crate) const STORED_NAME: &str = cairn_object::lifecycle::TAGGING_HEADER;
/// Most tags one object may have (S3's limit).
pub(crate) const OBJECT_TAGS_MAX: usize = 10;
/// Most tags one bucket may have (S3's limit).
pub(crate) const BUCKET_TAGS_MAX: usize = 50;
/// Longest tag key, in characters (S3's limit).
const KEY_CHARS_MAX: usize = 128;
/// Longest tag value, in characters (S3's limit).
const VALUE_CHARS_MAX: usize = 256;
/// Keys under this prefix are AWS's own and may not be set by clients.
const RESERVED_KEY_PREFIX: &str = "aws:";

/// The tags of an `x-amz-tagging` value, checked against S3's rules: at most 10,
/// keys of 1-128 and values of 0-256 characters from S3's set, no key twice.
pub(crate) fn parse(value: &str) -> S3Result<Vec<(String, String)>> {
    checked(form_urlencoded::parse(value.as_bytes()).into_owned(), OBJECT_TAGS_MAX)
}

/// The tags of a `<Tagging>` document (PutObjectTagging, PutBucketTagging), checked as
/// [`parse`] checks a header, with at most `max` tags.
pub(crate) fn from_set(set: TagSet, max: usize) -> S3Result<Vec<(String, String)>> {
    let pairs = set.into_iter().map(|tag| (tag.key.unwrap_or_default(), tag.value.unwrap_or_default()));
    checked(pairs, max)
}

/// `tags` checked against S3's rules, with at most `max` of them.
fn checked(tags: impl IntoIterator<Item = (String, String)>, max: usize) -> S3Result<Vec<(String, String)>> {
    let mut checked: Vec<(String, String)> = Vec::new();
    for (key, value) in tags {
        if checked.len() == max {
            return Err(invalid(&format!("at most {max} tags are allowed")));
        }
        if key.starts_with(RESERVED_KEY_PREFIX) {
            return Err(invalid(&format!("tag keys starting with {RESERVED_KEY_PREFIX:?} are reserved")));
        }
        if key.is_empty() || key.chars().count() > KEY_CHARS_MAX {
            return Err(invalid(&format!("a tag key must be 1-{KEY_CHARS_MAX} characters")));
        }
        if value.chars().count() > VALUE_CHARS_MAX {
            return Err(invalid(&format!("a tag value must be at most {VALUE_CHARS_MAX} characters")));
        }
        if !key.chars().chain(value.chars()).all(allowed) {
            return Err(invalid("tags may hold letters, digits, spaces and + - = . _ : / @ only"));
        }
        if checked.iter().any(|(k, _)| *k == key) {
            return Err(invalid(&format!("the tag key {key:?} is given twice")));
        }
        checked.push((key, value));
    }
    Ok(checked)
}

/// S3's tag alphabet: letters, digits, separators (spaces; not tabs or line breaks)
/// and `+ - = . _ : / @`.
fn allowed(c: char) -> bool {
    c.is_alphanumeric() || (c.is_whitespace() && !c.is_control()) || "+-=._:/@".contains(c)
}

fn invalid(message: &str) -> s3s::S3Error {
    s3_error(S3ErrorCode::InvalidTag, message)
}

/// Adds the tags of `value` (if any) to an object's stored headers; no tags store nothing.
pub(crate) fn store(headers: &mut BTreeMap<String, String>, value: Option<&str>) -> S3Result<()> {
    let tags = value.map(parse).transpose()?.unwrap_or_default();
    store_checked(headers, &tags);
    Ok(())
}

/// Replaces the tags in an object's stored headers with `tags` (already checked).
pub(crate) fn store_checked(headers: &mut BTreeMap<String, String>, tags: &[(String, String)]) {
    headers.remove(STORED_NAME);
    if !tags.is_empty() {
        let encoded = form_urlencoded::Serializer::new(String::new()).extend_pairs(tags).finish();
        headers.insert(STORED_NAME.to_owned(), encoded);
    }
}

/// The stored tags of an object, in the order they were given.
pub(crate) fn stored(headers: &BTreeMap<String, String>) -> Vec<(String, String)> {
    headers
        .get(STORED_NAME)
        .map(|value| form_urlencoded::parse(value.as_bytes()).into_owned().collect())
        .unwrap_or_default()
}

/// `x-amz-tagging-count`: the number of tags, or None for none (S3 omits the header).
pub(crate) fn count(headers: &BTreeMap<String, String>) -> Option<i32> {
    let count = stored(headers).len();
    (count > 0).then(|| i32::try_from(count).unwrap_or(i32::MAX))
}

/// The tag set GetObjectTagging answers with.
pub(crate) fn tag_set(headers: &BTreeMap<String, String>) -> TagSet {
    to_set(stored(headers))
}

/// Tags as a `<TagSet>`.
pub(crate) fn to_set(tags: Vec<(String, String)>) -> TagSet {
    tags.into_iter().map(|(key, value)| Tag { key: Some(key), value: Some(value) }).collect()
}

/// IAM condition values of tags a request sets: `s3:RequestObjectTag/<key>` for each
/// and `s3:RequestObjectTagKeys`.
pub(crate) fn request_conditions(values: &mut ConditionValues, tags: &[(String, String)]) {
    for (key, value) in tags {
        values.insert(&format!("s3:RequestObjectTag/{key}"), vec![value.clone()]);
    }
    values.insert("s3:RequestObjectTagKeys", tags.iter().map(|(key, _)| key.clone()).collect());
}

/// IAM condition values of an object's stored tags: `s3:ExistingObjectTag/<key>`.
pub(crate) fn existing_conditions(values: &mut ConditionValues, headers: &BTreeMap<String, String>) {
    for (key, value) in stored(headers) {
        values.insert(&format!("s3:ExistingObjectTag/{key}"), vec![value]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_stored_encoded_and_read_back_in_order() {
        let mut headers = BTreeMap::new();
        store(&mut headers, Some("Tus-Completed=false&project=crm%20app&empty=")).expect("valid");
        assert_eq!(count(&headers), Some(3));
        let set = tag_set(&headers);
        assert_eq!(set[1].key.as_deref(), Some("project"));
        assert_eq!(set[1].value.as_deref(), Some("crm app"));
        assert_eq!(set[2].value.as_deref(), Some(""));
        store(&mut headers, Some("")).expect("no tags");
        assert_eq!(count(&headers), None, "an empty tagging header leaves no tags");
        assert!(!headers.contains_key(STORED_NAME));
    }

    #[test]
    fn tags_outside_s3s_rules_are_refused() {
        let eleven: Vec<String> = (0..11).map(|n| format!("k{n}=v")).collect();
        let long_key = format!("{}=v", "k".repeat(129));
        let long_value = format!("k={}", "v".repeat(257));
        let cases = [eleven.join("&"), long_key, long_value, "a=1&a=2".into(), "=v".into(), "k=%3Cscript%3E".into()];
        let more = ["k=line%0Abreak".to_owned(), "k=tab%09".to_owned(), "aws:origin=me".to_owned()];
        for bad in cases.into_iter().chain(more) {
            let error = parse(&bad).expect_err(&bad);
            assert_eq!(*error.code(), S3ErrorCode::InvalidTag, "{bad}");
        }
        assert_eq!(parse("k=").expect("an empty value is allowed").len(), 1);
    }

    #[test]
    fn tag_documents_follow_the_same_rules_with_their_own_limit() {
        let set = |n: usize| to_set((0..n).map(|i| (format!("k{i}"), "v".to_owned())).collect());
        assert_eq!(from_set(set(50), BUCKET_TAGS_MAX).expect("50 bucket tags").len(), 50);
        assert_eq!(*from_set(set(51), BUCKET_TAGS_MAX).expect_err("51").code(), S3ErrorCode::InvalidTag);
        assert_eq!(*from_set(set(11), OBJECT_TAGS_MAX).expect_err("11").code(), S3ErrorCode::InvalidTag);
        let twice = to_set(vec![("a".into(), "1".into()), ("a".into(), "2".into())]);
        assert_eq!(*from_set(twice, OBJECT_TAGS_MAX).expect_err("twice").code(), S3ErrorCode::InvalidTag);
        let no_key = vec![Tag { key: None, value: Some("v".into()) }];
        assert_eq!(*from_set(no_key, OBJECT_TAGS_MAX).expect_err("no key").code(), S3ErrorCode::InvalidTag);
    }

    #[test]
    fn tags_become_condition_values() {
        let mut values = ConditionValues::new();
        request_conditions(&mut values, &[("Env".into(), "prod".into()), ("team".into(), "crm".into())]);
        assert_eq!(values.get("s3:RequestObjectTag/Env"), Some(&["prod".to_owned()][..]));
        assert_eq!(values.get("s3:RequestObjectTagKeys").map(<[String]>::len), Some(2));
        let mut headers = BTreeMap::new();
        store_checked(&mut headers, &[("Env".into(), "prod".into())]);
        existing_conditions(&mut values, &headers);
        assert_eq!(values.get("s3:ExistingObjectTag/Env"), Some(&["prod".to_owned()][..]));
        assert!(values.get("s3:ExistingObjectTag/env").is_none(), "tag keys keep their case");
    }
}
