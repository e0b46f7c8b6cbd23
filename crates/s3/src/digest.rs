//! Verifying what a client declared about a body: Content-MD5 and the
//! x-amz-checksum-* values, sent as headers or as aws-chunked trailers.

use crate::error::s3_error;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use cairn_object::{BodyCheck, ObjectError};
use s3s::checksum::ChecksumHasher;
use s3s::dto::{Checksum, ChecksumAlgorithm};
use s3s::{S3ErrorCode, S3Result, TrailingHeaders};
use std::collections::BTreeMap;

/// The checksum algorithms S3 defines, with their header names.
const ALGORITHMS: [(&str, &str); 5] = [
    ("CRC32", "x-amz-checksum-crc32"),
    ("CRC32C", "x-amz-checksum-crc32c"),
    ("SHA1", "x-amz-checksum-sha1"),
    ("SHA256", "x-amz-checksum-sha256"),
    ("CRC64NVME", "x-amz-checksum-crc64nvme"),
];

/// What a request declared about its body.
pub(crate) struct Declared {
    /// Content-MD5 header, base64 as sent.
    pub(crate) content_md5: Option<String>,
    /// x-amz-checksum-* headers.
    pub(crate) checksums: Checksum,
    /// x-amz-checksum-algorithm / x-amz-sdk-checksum-algorithm.
    pub(crate) algorithm: Option<ChecksumAlgorithm>,
    /// The x-amz-trailer header: which checksum trailer will follow the body.
    pub(crate) trailer: Option<String>,
    /// Where s3s puts the trailers once the body has been read.
    pub(crate) trailers: Option<TrailingHeaders>,
}

impl Declared {
    /// What a PUT or UploadPart request declares: its Content-MD5 and checksum fields,
    /// and the checksum trailer its `x-amz-trailer` header announces.
    pub(crate) fn of_request(
        headers: &http::HeaderMap,
        trailers: Option<TrailingHeaders>,
        content_md5: Option<String>,
        checksums: Checksum,
        algorithm: Option<ChecksumAlgorithm>,
    ) -> Self {
        let trailer = headers.get("x-amz-trailer").and_then(|v| v.to_str().ok()).map(str::to_owned);
        Self { content_md5, checksums, algorithm, trailer, trailers }
    }
}

fn value_of<'a>(checksum: &'a Checksum, algorithm: &str) -> Option<&'a String> {
    match algorithm {
        "CRC32" => checksum.checksum_crc32.as_ref(),
        "CRC32C" => checksum.checksum_crc32c.as_ref(),
        "SHA1" => checksum.checksum_sha1.as_ref(),
        "SHA256" => checksum.checksum_sha256.as_ref(),
        "CRC64NVME" => checksum.checksum_crc64nvme.as_ref(),
        _ => None,
    }
}

fn set_value(checksum: &mut Checksum, algorithm: &str, value: String) {
    match algorithm {
        "CRC32" => checksum.checksum_crc32 = Some(value),
        "CRC32C" => checksum.checksum_crc32c = Some(value),
        "SHA1" => checksum.checksum_sha1 = Some(value),
        "SHA256" => checksum.checksum_sha256 = Some(value),
        "CRC64NVME" => checksum.checksum_crc64nvme = Some(value),
        _ => {}
    }
}

fn enable(hasher: &mut ChecksumHasher, algorithm: &str) {
    match algorithm {
        "CRC32" => hasher.crc32 = Some(Default::default()),
        "CRC32C" => hasher.crc32c = Some(Default::default()),
        "SHA1" => hasher.sha1 = Some(Default::default()),
        "SHA256" => hasher.sha256 = Some(Default::default()),
        "CRC64NVME" => hasher.crc64nvme = Some(Default::default()),
        _ => {}
    }
}

/// Adds checksums carried in a presigned URL's query (`x-amz-checksum-crc32=...`),
/// which are signed like headers, to those sent as headers.
pub(crate) fn with_query_checksums(mut checksums: Checksum, query: Option<&str>) -> Checksum {
    for pair in query.unwrap_or_default().split('&') {
        let Some((name, value)) = pair.split_once('=') else { continue };
        let name = name.to_ascii_lowercase();
        let Some((algorithm, _)) = ALGORITHMS.iter().find(|(_, header)| *header == name) else { continue };
        if value_of(&checksums, algorithm).is_none() {
            let value = percent_encoding::percent_decode_str(value).decode_utf8_lossy().into_owned();
            set_value(&mut checksums, algorithm, value);
        }
    }
    checksums
}

/// Declarations that make a copy re-verify the source's whole-object checksums
/// (composite multipart checksums, `...-N`, cannot be recomputed from the bytes).
pub(crate) fn recheck_of(stored: &BTreeMap<String, String>) -> Declared {
    let mut checksums = Checksum::default();
    for (algorithm, value) in stored.iter().filter(|(_, v)| !v.contains('-')) {
        set_value(&mut checksums, algorithm, value.clone());
    }
    Declared { content_md5: None, checksums, algorithm: None, trailer: None, trailers: None }
}

/// S3's composite checksum of a multipart object: the algorithm applied to the
/// concatenated raw part checksums, suffixed with `-<parts>`. Empty when the upload
/// named no algorithm, a part lacks the checksum, or the algorithm has no composite
/// form (CRC64NVME is full-object only).
pub(crate) fn composite_checksums(
    algorithm: Option<&str>,
    parts: &[BTreeMap<String, String>],
) -> BTreeMap<String, String> {
    use s3s::crypto::{Checksum as _, Crc32, Crc32c, Sha1, Sha256};
    let mut out = BTreeMap::new();
    let Some(algorithm) = algorithm.map(str::to_ascii_uppercase) else { return out };
    let mut raw = Vec::new();
    for part in parts {
        let Some(decoded) = part.get(&algorithm).and_then(|value| STANDARD.decode(value).ok()) else { return out };
        raw.extend_from_slice(&decoded);
    }
    let digest: Vec<u8> = match algorithm.as_str() {
        "CRC32" => Crc32::checksum(&raw).as_ref().to_vec(),
        "CRC32C" => Crc32c::checksum(&raw).as_ref().to_vec(),
        "SHA1" => Sha1::checksum(&raw).as_ref().to_vec(),
        "SHA256" => Sha256::checksum(&raw).as_ref().to_vec(),
        _ => return out,
    };
    out.insert(algorithm, format!("{}-{}", STANDARD.encode(digest), parts.len()));
    out
}

/// Fills a response's checksum fields from stored checksums.
pub(crate) fn response_checksums(stored: &BTreeMap<String, String>) -> Checksum {
    let mut checksum = Checksum::default();
    for (algorithm, value) in stored {
        set_value(&mut checksum, algorithm, value.clone());
    }
    checksum
}

/// Verifies a body against a request's declarations.
pub(crate) struct DigestCheck {
    content_md5: Option<[u8; 16]>,
    hasher: ChecksumHasher,
    enabled: Vec<&'static str>,
    declared: Checksum,
    trailers: Option<TrailingHeaders>,
}

impl DigestCheck {
    /// Prepares a check; fails early on a malformed Content-MD5 or unknown algorithm.
    pub(crate) fn new(declared: Declared) -> S3Result<Self> {
        let content_md5 = match declared.content_md5 {
            None => None,
            Some(encoded) => {
                let bytes = STANDARD.decode(encoded.trim()).map_err(|_| {
                    s3_error(S3ErrorCode::InvalidDigest, "The Content-MD5 you specified is not valid base64")
                })?;
                Some(<[u8; 16]>::try_from(bytes.as_slice()).map_err(|_| {
                    s3_error(S3ErrorCode::InvalidDigest, "The Content-MD5 you specified is not a 128-bit MD5")
                })?)
            }
        };
        let mut hasher = ChecksumHasher::default();
        let mut enabled = Vec::new();
        let requested_algorithm = declared.algorithm.as_ref().map(|a| a.as_str().to_ascii_uppercase());
        let trailer = declared.trailer.as_deref().map(|t| t.trim().to_ascii_lowercase());
        for (algorithm, header) in ALGORITHMS {
            let wanted = value_of(&declared.checksums, algorithm).is_some()
                || requested_algorithm.as_deref() == Some(algorithm)
                || trailer.as_deref() == Some(header);
            if wanted {
                enable(&mut hasher, algorithm);
                enabled.push(algorithm);
            }
        }
        if let Some(requested) = requested_algorithm
            && !ALGORITHMS.iter().any(|(name, _)| *name == requested)
        {
            return Err(s3_error(S3ErrorCode::InvalidRequest, format!("unsupported checksum algorithm {requested}")));
        }
        if let Some(trailer) = trailer
            && !ALGORITHMS.iter().any(|(_, header)| *header == trailer)
        {
            return Err(s3_error(S3ErrorCode::InvalidRequest, format!("unsupported trailer {trailer}")));
        }
        Ok(Self { content_md5, hasher, enabled, declared: declared.checksums, trailers: declared.trailers })
    }
}

impl BodyCheck for DigestCheck {
    fn update(&mut self, bytes: &[u8]) {
        self.hasher.update(bytes);
    }

    fn finish(self: Box<Self>, md5: &[u8; 16]) -> cairn_object::Result<BTreeMap<String, String>> {
        let this = *self;
        if let Some(expected) = this.content_md5
            && &expected != md5
        {
            return Err(ObjectError::BadDigest("The Content-MD5 you specified did not match what we received.".into()));
        }
        let mut declared = this.declared;
        if let Some(trailers) = this.trailers.and_then(|t| t.take()) {
            for (algorithm, header) in ALGORITHMS {
                if let Some(value) = trailers.get(header).and_then(|v| v.to_str().ok()) {
                    set_value(&mut declared, algorithm, value.to_owned());
                }
            }
        }
        let computed = this.hasher.finalize();
        let mut stored = BTreeMap::new();
        for algorithm in this.enabled {
            let actual = value_of(&computed, algorithm).cloned().unwrap_or_default();
            if let Some(expected) = value_of(&declared, algorithm)
                && *expected != actual
            {
                return Err(ObjectError::BadDigest(format!(
                    "The {algorithm} you specified did not match the calculated checksum."
                )));
            }
            stored.insert(algorithm.to_owned(), actual);
        }
        Ok(stored)
    }
}
