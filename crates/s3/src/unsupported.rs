//! Requests for features Cairn has not built are refused, never silently accepted:
//! a PUT that asks for encryption, tags, object lock or public ACLs and gets a 200
//! would make its client believe the object is encrypted, tagged, WORM or public.
//!
//! The check runs on every S3 request after its access check and before its body is
//! read, on header names (and, for presigned URLs, the same names in the query). It
//! looks at the raw request rather than s3s's parsed inputs so that one table covers
//! every operation, including those s3s parses no field for.
//!
//! Audit of what s3s 0.14.1 passes to the operations Cairn implements:
//! - refused (501): SSE-KMS (`x-amz-server-side-encryption-aws-kms-key-id`, `-context`,
//!   `-bucket-key-enabled`; `aws:kms` as the algorithm is refused in `sse.rs`),
//!   `x-amz-website-redirect-location`, ACL grants (`x-amz-grant-*`), canned ACLs
//!   other than the owner-only ones, object ownership other than `BucketOwnerEnforced`,
//!   `x-amz-write-offset-bytes` (appends), `x-amz-mp-object-size`;
//! - refused (400): storage classes other than STANDARD and REDUCED_REDUNDANCY
//!   (`InvalidStorageClass`);
//! - honoured: REDUCED_REDUNDANCY is stored at the standard parity (at least the
//!   redundancy asked for, as MinIO does without an RRS class); canned ACL `private`,
//!   and on objects `bucket-owner-full-control` / `bucket-owner-read` (Cairn has one
//!   owner, so the bucket owner always has full control); `x-amz-tagging` and
//!   `x-amz-tagging-directive` (`tagging.rs`); `versionId` (`versions.rs`); object
//!   lock (`x-amz-object-lock-*`, `x-amz-bucket-object-lock-enabled`,
//!   `x-amz-bypass-governance-retention`: `object_lock.rs`); SSE-S3 and SSE-C
//!   (`x-amz-server-side-encryption: AES256`, `...-customer-*`, `x-amz-copy-source-...`:
//!   `sse.rs`);
//! - ignored, as they change nothing in a single-account store: `x-amz-request-payer`
//!   (no billing), `x-amz-expected-bucket-owner` (every bucket belongs to the one
//!   account; MinIO ignores it too).
//!
//! Bucket subresources without an implementation (replication, website,
//! logging, notification, acl, ...) are
//! answered 501 by s3s's default handlers; query parameters an implemented operation
//! does not take (unknown subresources s3s would ignore) are refused in `query.rs`.

use crate::error::{invalid_storage_class, not_implemented};
use http::HeaderMap;
use s3s::S3Result;

/// Headers that ask for a feature Cairn lacks whatever their value, and that feature.
const REFUSED_HEADERS: &[(&str, &str)] = &[
    ("x-amz-server-side-encryption-aws-kms-key-id", "Server-side encryption with KMS"),
    ("x-amz-server-side-encryption-context", "Server-side encryption with KMS"),
    ("x-amz-server-side-encryption-bucket-key-enabled", "Server-side encryption with bucket keys"),
    ("x-amz-website-redirect-location", "Website redirects"),
    ("x-amz-grant-read", "ACL grants"),
    ("x-amz-grant-write", "ACL grants"),
    ("x-amz-grant-read-acp", "ACL grants"),
    ("x-amz-grant-write-acp", "ACL grants"),
    ("x-amz-grant-full-control", "ACL grants"),
    ("x-amz-write-offset-bytes", "Appending to objects"),
    ("x-amz-mp-object-size", "The multipart object size check (x-amz-mp-object-size)"),
];

/// Encryption parameters Cairn honours as headers only: in a query string (a presigned
/// URL that carries them unsigned-as-headers) s3s does not read them, so the object
/// would be stored without the encryption asked for.
const HEADER_ONLY_PREFIX: &str = "x-amz-server-side-encryption";

/// Canned ACLs Cairn honours: those that give access to the (one) owner only.
const OWNER_ONLY_ACLS: &[&str] = &["private", "bucket-owner-full-control", "bucket-owner-read"];

/// Storage classes Cairn honours (REDUCED_REDUNDANCY gets the standard parity).
const STORAGE_CLASSES: &[&str] = &["STANDARD", "REDUCED_REDUNDANCY"];

/// One request's headers and query, looked up by lowercase name.
struct Asked<'a> {
    headers: &'a HeaderMap,
    query: Vec<(String, String)>,
}

impl Asked<'_> {
    /// The value of `name` as a header, or as a query parameter (presigned URLs).
    fn get(&self, name: &str) -> Option<String> {
        if let Some(value) = self.headers.get(name) {
            return Some(String::from_utf8_lossy(value.as_bytes()).trim().to_owned());
        }
        self.query.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.trim().to_owned())
    }
}

/// Refuses a request that asks for something Cairn does not do. `query` is the decoded
/// query string's pairs; `is_object` tells object requests from bucket requests.
pub(crate) fn check(headers: &HeaderMap, query: Vec<(String, String)>, is_object: bool) -> S3Result<()> {
    if let Some((name, _)) = query.iter().find(|(name, _)| name.to_ascii_lowercase().starts_with(HEADER_ONLY_PREFIX)) {
        return Err(not_implemented(&format!("{name} in the query string (send it as a header)")));
    }
    let asked = Asked { headers, query };
    for (name, feature) in REFUSED_HEADERS {
        if asked.get(name).is_some() {
            return Err(not_implemented(feature));
        }
    }
    if let Some(acl) = asked.get("x-amz-acl") {
        // A bucket's `bucket-owner-*` ACL would be meaningless; only `private` is owner-only there.
        let honoured = if is_object { OWNER_ONLY_ACLS } else { &OWNER_ONLY_ACLS[..1] };
        if !honoured.contains(&acl.as_str()) {
            return Err(not_implemented(&format!("The canned ACL {acl:?}")));
        }
    }
    if let Some(class) = asked.get("x-amz-storage-class")
        && !STORAGE_CLASSES.contains(&class.as_str())
    {
        return Err(invalid_storage_class(&class));
    }
    if let Some(ownership) = asked.get("x-amz-object-ownership")
        && ownership != "BucketOwnerEnforced"
    {
        return Err(not_implemented(&format!("Object ownership {ownership:?} (ACLs)")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use s3s::S3ErrorCode;

    fn code(headers: &[(&str, &str)], query: &[(&str, &str)], is_object: bool) -> Option<S3ErrorCode> {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.insert(http::HeaderName::from_bytes(name.as_bytes()).expect("name"), value.parse().expect("value"));
        }
        let query = query.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect();
        check(&map, query, is_object).err().map(|e| e.code().clone())
    }

    #[test]
    fn features_not_built_are_refused() {
        assert_eq!(code(&[("x-amz-server-side-encryption", "AES256")], &[], true), None, "SSE-S3 is built");
        assert_eq!(
            code(&[("x-amz-server-side-encryption-aws-kms-key-id", "k")], &[], true),
            Some(S3ErrorCode::NotImplemented)
        );
        assert_eq!(code(&[("x-amz-tagging", "a=b")], &[], true), None, "tags are built");
        assert_eq!(code(&[("x-amz-acl", "public-read")], &[], true), Some(S3ErrorCode::NotImplemented));
        assert_eq!(code(&[("x-amz-acl", "bucket-owner-read")], &[], false), Some(S3ErrorCode::NotImplemented));
        assert_eq!(code(&[("x-amz-storage-class", "GLACIER")], &[], true), Some(S3ErrorCode::InvalidStorageClass));
        assert_eq!(
            code(&[], &[("X-Amz-Server-Side-Encryption-Context", "e30=")], true),
            Some(S3ErrorCode::NotImplemented)
        );
        assert_eq!(
            code(&[], &[("x-amz-server-side-encryption", "AES256")], true),
            Some(S3ErrorCode::NotImplemented),
            "honoured as a header only"
        );
    }

    #[test]
    fn what_cairn_honours_passes() {
        assert_eq!(code(&[("x-amz-acl", "private")], &[], false), None);
        assert_eq!(code(&[("x-amz-acl", "bucket-owner-full-control")], &[], true), None);
        assert_eq!(code(&[("x-amz-storage-class", "REDUCED_REDUNDANCY")], &[], true), None);
        assert_eq!(code(&[("x-amz-bucket-object-lock-enabled", "false")], &[], false), None);
        assert_eq!(code(&[("x-amz-object-ownership", "BucketOwnerEnforced")], &[], false), None);
        assert_eq!(code(&[("x-amz-request-payer", "requester")], &[("versionId", "null")], true), None);
    }
}
