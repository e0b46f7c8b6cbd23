//! Fuzz targets for what the S3 front parses itself (the Host header, checksum and
//! digest declarations, stored headers, copy ranges, conditions) and for the public
//! parsers of s3s that run on every request (copy sources, ranges, ETags, timestamps,
//! paths, POST policies, XML bodies). Nothing panics, memory stays in proportion to
//! the input, and parsed values keep their invariants. SigV4 and aws-chunked decoding
//! are private to s3s: `crates/cairn/tests/fuzz` reaches them through a real server.
//! Case counts: `CAIRN_FUZZ_CASES`.

use crate::auth::DomainHost;
use crate::copy::parse_copy_range;
use crate::digest::{Declared, DigestCheck, composite_checksums, recheck_of, response_checksums, with_query_checksums};
use crate::headers::{Conditions, StandardHeaders, not_modified, standard_headers, stored_headers, user_metadata};
use cairn_fuzz::memory::within;
use cairn_fuzz::mutate::{hostile, mutated, mutated_text};
use cairn_object::{BodyCheck, ObjectInfo};
use proptest::prelude::*;
use s3s::dto::{
    AccessControlPolicy, BucketLifecycleConfiguration, CORSConfiguration, Checksum, ChecksumAlgorithm,
    CompletedMultipartUpload, CopySource, CreateBucketConfiguration, Delete, ETag, ETagCondition, Metadata,
    NotificationConfiguration, ObjectLockConfiguration, Range, ReplicationConfiguration, Tagging, Timestamp,
    TimestampFormat, VersioningConfiguration, WebsiteConfiguration,
};
use s3s::host::S3Host;
use std::collections::BTreeMap;

/// Cases per target in a normal test run.
const CASES: u32 = 2048;
/// Longest arbitrary XML body.
const XML_BYTES_MAX: usize = 4096;

/// Header values with the shapes clients send, and the ones attackers try.
fn header_values() -> impl Strategy<Value = String> {
    let seeds = [
        "bytes=0-9",
        "bytes=-500",
        "bytes=9500-",
        "bytes=0-0,-1",
        "\"9e107d9d372bb6826bd81d3542a419d6\"",
        "W/\"abc\", \"def\"",
        "*",
        "Wed, 21 Oct 2015 07:28:00 GMT",
        "2015-10-21T07:28:00.123Z",
        "1445412480",
        "/bucket/key%20with%2Fslash?versionId=null",
        "bucket/k%E2%82%AC",
        "arn:aws:s3:us-west-2:123456789012:accesspoint/ap/object/key",
        "CRC32",
        "x-amz-checksum-crc32c",
        "rTrG4A==",
        "1B2M2Y8AsgTpgAmY7PhCfg==",
        "photos.cairn.test:9000",
        "[::1]:9000",
    ];
    prop_oneof![mutated_text(seeds.map(str::to_owned).to_vec()), any::<String>()]
}

#[test]
fn fuzz_s3s_header_parsers() {
    let strategy = (header_values(), any::<u64>());
    cairn_fuzz::run("s3s_headers", CASES, strategy, |(value, size)| {
        within(value.len(), 0, || {
            if let Ok(range) = Range::parse(&value)
                && let Ok(span) = range.check(size)
            {
                assert!(span.start <= span.end && span.end <= size, "{value:?} of {size}: {span:?}");
            }
            let _ = ETag::parse_http_header(value.as_bytes());
            let _ = ETagCondition::parse_http_header(value.as_bytes());
            for format in [TimestampFormat::DateTime, TimestampFormat::HttpDate, TimestampFormat::EpochSeconds] {
                if let Ok(timestamp) = Timestamp::parse(format, &value) {
                    let mut out = Vec::new();
                    let _ = timestamp.format(TimestampFormat::HttpDate, &mut out);
                }
            }
            if let Ok(CopySource::Bucket { bucket, key, .. }) = CopySource::parse(&value) {
                assert!(!bucket.is_empty(), "{value:?} named an empty bucket");
                let _ = key;
            }
            if let Ok((first, len)) = parse_copy_range(&value, size) {
                assert!(len >= 1 && first.checked_add(len).is_some_and(|end| end <= size), "{value:?} of {size}");
            }
            let _ = s3s::path::parse_path_style(&value);
            let _ = s3s::path::parse_virtual_hosted_style(Some(&value), "/k");
            let _ = s3s::post_policy::PostPolicy::from_base64(&value);
            let _ = s3s::post_policy::PostPolicy::from_json(&value);
        })
    });
}

#[test]
fn fuzz_host_header() {
    let domains = mutated_text(vec!["cairn.test, s3.example.com".into(), "localhost".into(), ".".into()]);
    cairn_fuzz::run("s3_host_header", CASES, (domains, header_values()), |(domains, host)| {
        let resolver = DomainHost::new(&domains);
        let parsed = within(host.len() + domains.len(), 0, || {
            resolver.parse_host_header(&host).map(|h| h.bucket().map(str::to_owned))
        })?;
        if let Ok(Some(bucket)) = parsed {
            prop_assert!(host.to_ascii_lowercase().starts_with(&bucket.to_ascii_lowercase()), "{host:?} -> {bucket:?}");
        }
        Ok(())
    });
}

/// A map of checksum algorithm names (real and not) to values (valid base64 and not).
fn checksum_map() -> impl Strategy<Value = BTreeMap<String, String>> {
    let names = prop_oneof![
        proptest::sample::select(vec!["CRC32", "CRC32C", "SHA1", "SHA256", "CRC64NVME", "crc32", "MD5"])
            .prop_map(str::to_owned),
        "[A-Z0-9]{0,6}",
    ];
    proptest::collection::btree_map(names, header_values(), 0..4)
}

#[test]
fn fuzz_checksum_declarations() {
    let optional = || proptest::option::of(header_values());
    let strategy = (optional(), optional(), optional(), optional(), checksum_map(), header_values(), any::<Vec<u8>>());
    cairn_fuzz::run("s3_checksums", CASES, strategy, |(md5, crc, algorithm, trailer, stored, query, body)| {
        let declared_checksums =
            Checksum { checksum_crc32: crc, checksum_sha256: stored.get("SHA256").cloned(), ..Default::default() };
        let checksums = with_query_checksums(declared_checksums, Some(&query));
        let declared = Declared {
            content_md5: md5,
            checksums,
            algorithm: algorithm.map(ChecksumAlgorithm::from),
            trailer,
            trailers: None,
        };
        for declared in [declared, recheck_of(&stored)] {
            if let Ok(mut check) = DigestCheck::new(declared) {
                check.update(&body);
                let _ = Box::new(check).finish(&[0; 16]);
            }
        }
        let parts = vec![stored.clone(); 3];
        for algorithm in stored.keys() {
            let composite = composite_checksums(Some(algorithm), &parts);
            prop_assert!(composite.values().all(|v| v.ends_with("-3")), "{composite:?}");
        }
        let _ = response_checksums(&stored);
        Ok(())
    });
}

#[test]
fn fuzz_stored_headers() {
    let text = || proptest::option::of(header_values());
    let standard = (text(), text(), text(), text(), text(), any::<Option<i64>>());
    let metadata = proptest::option::of(proptest::collection::hash_map("\\PC{0,12}", "\\PC{0,40}", 0..8));
    cairn_fuzz::run("s3_stored_headers", CASES, (standard, metadata), |(standard, metadata)| {
        let (content_type, content_encoding, content_disposition, content_language, cache_control, expires) = standard;
        let expires = expires.and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok()).map(Timestamp::from);
        let headers = StandardHeaders {
            content_type,
            content_encoding,
            content_disposition,
            content_language,
            cache_control,
            expires,
        };
        let metadata: Option<Metadata> = metadata;
        let Ok(stored) = stored_headers(headers, metadata.clone()) else { return Ok(()) };
        let _ = standard_headers(&stored);
        let read_back = user_metadata(&stored).unwrap_or_default();
        let sent: Metadata =
            metadata.unwrap_or_default().into_iter().map(|(k, v)| (k.to_ascii_lowercase(), v)).collect();
        // Names that differ only in case collapse to one: every name read back was sent.
        prop_assert!(read_back.keys().all(|name| sent.contains_key(name)), "{read_back:?} vs {sent:?}");
        prop_assert!(stored.get("content-encoding").is_none_or(|e| !e.to_ascii_lowercase().contains("aws-chunked")));
        Ok(())
    });
}

#[test]
fn fuzz_conditions() {
    let condition = || proptest::option::of(header_values());
    let when = || proptest::option::of(any::<i64>());
    let strategy = (condition(), condition(), when(), when(), any::<i64>());
    cairn_fuzz::run("s3_conditions", CASES, strategy, |(if_match, if_none_match, modified, unmodified, mod_time)| {
        let timestamp = |seconds: Option<i64>| {
            seconds.and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok()).map(Timestamp::from)
        };
        let conditions = Conditions {
            if_match: if_match.and_then(|v| ETagCondition::parse_http_header(v.as_bytes()).ok()),
            if_none_match: if_none_match.and_then(|v| ETagCondition::parse_http_header(v.as_bytes()).ok()),
            if_modified_since: timestamp(modified),
            if_unmodified_since: timestamp(unmodified),
        };
        let info = ObjectInfo {
            bucket: "b".into(),
            key: "k".into(),
            version_id: None,
            delete_marker: false,
            size: 1,
            etag: "9e107d9d372bb6826bd81d3542a419d6".into(),
            mod_time_unix_nanos: mod_time,
            headers: BTreeMap::new(),
            checksums: BTreeMap::new(),
            part_sizes: vec![1],
            compressed_size: None,
        };
        let _ = conditions.check(&info, not_modified);
        Ok(())
    });
}

/// Valid bodies of the XML requests S3 clients send.
const XML_SEEDS: &[&str] = &[
    r#"<?xml version="1.0" encoding="UTF-8"?><CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Part><ETag>"a54357aff0632cce46d942af68356b38"</ETag><PartNumber>1</PartNumber><ChecksumCRC32>AAAAAA==</ChecksumCRC32></Part><Part><ETag>"0c78aef83f66abc1fa1e8477f296d394"</ETag><PartNumber>2</PartNumber></Part></CompleteMultipartUpload>"#,
    r#"<Delete><Quiet>true</Quiet><Object><Key>a/b.txt</Key></Object><Object><Key>&lt;&amp;&gt;</Key><VersionId>null</VersionId></Object></Delete>"#,
    r#"<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><LocationConstraint>us-west-2</LocationConstraint></CreateBucketConfiguration>"#,
    r#"<Tagging><TagSet><Tag><Key>k</Key><Value>v</Value></Tag></TagSet></Tagging>"#,
    r#"<LifecycleConfiguration><Rule><ID>r</ID><Filter><Prefix>logs/</Prefix></Filter><Status>Enabled</Status><Expiration><Days>30</Days></Expiration><AbortIncompleteMultipartUpload><DaysAfterInitiation>7</DaysAfterInitiation></AbortIncompleteMultipartUpload></Rule></LifecycleConfiguration>"#,
    r#"<VersioningConfiguration><Status>Enabled</Status><MfaDelete>Disabled</MfaDelete></VersioningConfiguration>"#,
    r#"<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>GOVERNANCE</Mode><Days>1</Days></DefaultRetention></Rule></ObjectLockConfiguration>"#,
    r#"<CORSConfiguration><CORSRule><AllowedMethod>GET</AllowedMethod><AllowedOrigin>*</AllowedOrigin><MaxAgeSeconds>3000</MaxAgeSeconds></CORSRule></CORSConfiguration>"#,
];

/// Decodes `bytes` as an XML body of type `T`, as s3s does for a request.
fn decode_xml<T: for<'xml> s3s::xml::Deserialize<'xml>>(bytes: &[u8]) -> bool {
    let mut deserializer = s3s::xml::Deserializer::new(bytes);
    T::deserialize(&mut deserializer).is_ok() && deserializer.expect_eof().is_ok()
}

#[test]
fn fuzz_xml_bodies() {
    let seeds: Vec<Vec<u8>> = XML_SEEDS.iter().map(|s| s.as_bytes().to_vec()).collect();
    let bodies = prop_oneof![3 => mutated(seeds.clone()), 1 => hostile(seeds, XML_BYTES_MAX)];
    cairn_fuzz::run("s3s_xml_bodies", CASES, bodies, |bytes| {
        within(bytes.len(), 0, || {
            if decode_xml::<CompletedMultipartUpload>(&bytes) {
                let mut deserializer = s3s::xml::Deserializer::new(&bytes);
                let upload = <CompletedMultipartUpload as s3s::xml::Deserialize>::deserialize(&mut deserializer)
                    .expect("decoded once already");
                assert!(upload.parts.iter().flatten().count() * 16 <= bytes.len(), "more parts than bytes");
            }
            decode_xml::<Delete>(&bytes);
            decode_xml::<CreateBucketConfiguration>(&bytes);
            decode_xml::<Tagging>(&bytes);
            decode_xml::<BucketLifecycleConfiguration>(&bytes);
            decode_xml::<VersioningConfiguration>(&bytes);
            decode_xml::<ObjectLockConfiguration>(&bytes);
            decode_xml::<CORSConfiguration>(&bytes);
            decode_xml::<AccessControlPolicy>(&bytes);
            decode_xml::<NotificationConfiguration>(&bytes);
            decode_xml::<ReplicationConfiguration>(&bytes);
            decode_xml::<WebsiteConfiguration>(&bytes);
        })
    });
}
