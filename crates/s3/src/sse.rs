//! Encryption at rest on the wire: the headers that ask for SSE-S3 or SSE-C, checked as
//! S3 checks them, and the headers that tell a client how an object is encrypted.

use crate::error::s3_error;
use cairn_object::sse::{CustomerKey, Encryption, SSE_C, SSE_S3, encryption_of};
use s3s::dto::ServerSideEncryption;
use s3s::{S3ErrorCode, S3Result};
use std::collections::BTreeMap;

/// The only SSE-C algorithm S3 has.
const SSE_C_ALGORITHM: &str = "AES256";

/// The customer key of SSE-C headers (`...-customer-algorithm`, `-key`, `-key-MD5`):
/// None when none is given, an error when only some are or they are wrong.
pub(crate) fn customer_key(
    algorithm: Option<&str>,
    key: Option<&str>,
    md5: Option<&str>,
) -> S3Result<Option<CustomerKey>> {
    match (algorithm, key, md5) {
        (None, None, None) => Ok(None),
        (None, _, _) => Err(s3_error(
            S3ErrorCode::InvalidArgument,
            "Requests specifying Server Side Encryption with Customer provided keys must provide a valid encryption algorithm.",
        )),
        (Some(_), None, _) => Err(s3_error(
            S3ErrorCode::InvalidArgument,
            "Requests specifying Server Side Encryption with Customer provided keys must provide an appropriate secret key.",
        )),
        (Some(_), Some(_), None) => Err(s3_error(
            S3ErrorCode::InvalidArgument,
            "Requests specifying Server Side Encryption with Customer provided keys must provide the client calculated MD5 of the secret key.",
        )),
        (Some(algorithm), Some(key), Some(md5)) => CustomerKey::parse(algorithm, key, md5)
            .map(Some)
            .map_err(|error| s3_error(S3ErrorCode::InvalidArgument, error.to_string())),
    }
}

/// The encryption a write asks for: SSE-S3 (`x-amz-server-side-encryption: AES256`),
/// SSE-C (a customer key), or neither (the bucket's default applies).
pub(crate) fn requested(
    sse: Option<&ServerSideEncryption>,
    customer: Option<CustomerKey>,
) -> S3Result<Option<Encryption>> {
    match (sse.map(ServerSideEncryption::as_str), customer) {
        (None, None) => Ok(None),
        (None, Some(customer)) => Ok(Some(Encryption::SseC(customer))),
        (Some(ServerSideEncryption::AES256), None) => Ok(Some(Encryption::SseS3)),
        (Some(ServerSideEncryption::AES256), Some(_)) => Err(s3_error(
            S3ErrorCode::InvalidArgument,
            "Server Side Encryption with Customer provided key is incompatible with the encryption method specified",
        )),
        (Some(kms), _) if kms.starts_with("aws:kms") => {
            Err(s3_error(S3ErrorCode::NotImplemented, "Server-side encryption with KMS (aws:kms) is not implemented"))
        }
        (Some(other), _) => Err(s3_error(
            S3ErrorCode::InvalidArgument,
            format!("The encryption method specified is not supported: {other:?}"),
        )),
    }
}

/// The SSE headers of a response about an object with `headers`, for a request that
/// gave `customer`: `x-amz-server-side-encryption: AES256` for SSE-S3, the algorithm
/// and the key's MD5 for SSE-C.
#[derive(Debug, Default)]
pub(crate) struct Told {
    pub(crate) sse: Option<ServerSideEncryption>,
    pub(crate) customer_algorithm: Option<String>,
    pub(crate) customer_key_md5: Option<String>,
}

pub(crate) fn told(headers: &BTreeMap<String, String>, customer: Option<&CustomerKey>) -> Told {
    told_kind(encryption_of(headers), customer)
}

/// [`told`] from the kind of encryption (`SSE_S3`, `SSE_C` or None).
pub(crate) fn told_kind(kind: Option<&str>, customer: Option<&CustomerKey>) -> Told {
    match kind {
        Some(SSE_S3) => {
            Told { sse: Some(ServerSideEncryption::from_static(ServerSideEncryption::AES256)), ..Told::default() }
        }
        Some(SSE_C) => Told {
            sse: None,
            customer_algorithm: Some(SSE_C_ALGORITHM.to_owned()),
            customer_key_md5: customer.map(|key| key.key_md5().to_owned()),
        },
        _ => Told::default(),
    }
}

/// The customer key an SSE-C request gives, for an operation whose input has the
/// three `sse_customer_*` fields.
macro_rules! customer_key_of {
    ($input:expr) => {
        $crate::sse::customer_key(
            $input.sse_customer_algorithm.as_deref(),
            $input.sse_customer_key.as_deref(),
            $input.sse_customer_key_md5.as_deref(),
        )
    };
    (copy $input:expr) => {
        $crate::sse::customer_key(
            $input.copy_source_sse_customer_algorithm.as_deref(),
            $input.copy_source_sse_customer_key.as_deref(),
            $input.copy_source_sse_customer_key_md5.as_deref(),
        )
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD as BASE64;
    use md5::Digest;

    #[test]
    fn sse_c_headers_are_all_or_nothing_and_checked() {
        let key = BASE64.encode([9u8; 32]);
        let md5 = BASE64.encode(md5::Md5::digest([9u8; 32]));
        assert!(customer_key(None, None, None).expect("none").is_none());
        assert!(customer_key(Some("AES256"), Some(&key), Some(&md5)).expect("valid").is_some());
        for (a, k, m) in [
            (None, Some(key.as_str()), Some(md5.as_str())),
            (Some("AES256"), None, None),
            (Some("AES256"), Some(&key), None),
        ] {
            assert_eq!(customer_key(a, k, m).expect_err("partial").code(), &S3ErrorCode::InvalidArgument);
        }
        let wrong_md5 = customer_key(Some("AES256"), Some(&key), Some(&BASE64.encode([0u8; 16])));
        assert_eq!(wrong_md5.expect_err("wrong md5").code(), &S3ErrorCode::InvalidArgument);
    }

    #[test]
    fn requests_name_one_encryption() {
        let aes = ServerSideEncryption::from_static(ServerSideEncryption::AES256);
        assert!(matches!(requested(Some(&aes), None), Ok(Some(Encryption::SseS3))));
        assert!(matches!(requested(None, None), Ok(None)));
        let kms = ServerSideEncryption::from_static(ServerSideEncryption::AWS_KMS);
        assert_eq!(requested(Some(&kms), None).expect_err("kms").code(), &S3ErrorCode::NotImplemented);
    }
}
