//! Bucket quotas through MinIO's admin calls (`mc quota set|info|clear` and
//! `cairn quota`):
//! - `PUT set-bucket-quota?bucket=B` with madmin's `BucketQuota` JSON
//!   (`{"size": N, "quotatype": "hard"}`; older clients send `quota`); a size of 0
//!   removes the quota, as in MinIO;
//! - `GET get-bucket-quota?bucket=B`: the same document, or 404
//!   `XMinioAdminNoSuchQuotaConfiguration` when the bucket has none.
//!
//! Only hard quotas exist (MinIO removed its FIFO quotas); writes past one are refused
//! by the object layer (`cairn_object` `quota.rs`).

use crate::reply::{self, Reply};
use crate::route::{AdminRoute, Call};
use http::StatusCode;
use serde::Deserialize;
use serde_json::json;

/// madmin's `BucketQuota` as clients send it.
#[derive(Debug, Deserialize)]
struct BucketQuota {
    #[serde(default)]
    size: u64,
    /// The older name of `size`.
    #[serde(default)]
    quota: u64,
    #[serde(default)]
    quotatype: String,
    /// Bandwidth and request-rate limits: MinIO documents them but does not enforce
    /// them; Cairn refuses them rather than accept limits nobody applies.
    #[serde(default)]
    rate: u64,
    #[serde(default)]
    requests: u64,
}

fn bucket_of(call: &Call) -> Result<&str, Reply> {
    match call.param("bucket") {
        "" => Err(reply::invalid("give the bucket: ?bucket=NAME")),
        bucket => Ok(bucket),
    }
}

/// The quota a `BucketQuota` document sets: None removes it.
fn quota_of(body: &[u8]) -> Result<Option<u64>, Reply> {
    let asked: BucketQuota = serde_json::from_slice(body)
        .map_err(|error| reply::invalid(&format!("not a bucket quota document: {error}")))?;
    if !matches!(asked.quotatype.as_str(), "" | "hard") {
        return Err(reply::invalid(&format!("quota type {:?}: only hard quotas exist", asked.quotatype)));
    }
    if asked.rate > 0 || asked.requests > 0 {
        return Err(reply::failure(
            http::StatusCode::NOT_IMPLEMENTED,
            "NotImplemented",
            "rate and request quotas are not supported by Cairn; give a size only",
        ));
    }
    let size = if asked.size > 0 { asked.size } else { asked.quota };
    Ok((size > 0).then_some(size))
}

impl AdminRoute {
    pub(crate) async fn set_bucket_quota(&self, call: &Call) -> Result<Reply, Reply> {
        let bucket = bucket_of(call)?;
        let quota = quota_of(&call.body)?;
        self.store.set_bucket_quota(bucket, quota).await.map_err(|error| reply::from_store(&error))?;
        Ok(reply::ok())
    }

    pub(crate) async fn get_bucket_quota(&self, call: &Call) -> Result<Reply, Reply> {
        let bucket = bucket_of(call)?;
        match self.store.bucket_quota(bucket).await.map_err(|error| reply::from_store(&error))? {
            Some(size) => Ok(reply::json(&json!({ "quota": size, "size": size, "quotatype": "hard" }))),
            None => Err(reply::failure(
                StatusCode::NOT_FOUND,
                "XMinioAdminNoSuchQuotaConfiguration",
                &format!("The quota configuration does not exist for bucket {bucket}"),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quota_documents_set_or_remove_hard_quotas() {
        assert_eq!(quota_of(br#"{"size": 1024, "quotatype": "hard"}"#).ok(), Some(Some(1024)));
        assert_eq!(quota_of(br#"{"quota": 2048, "quotatype": "hard"}"#).ok(), Some(Some(2048)));
        assert_eq!(quota_of(br#"{"size": 0, "quotatype": "hard"}"#).ok(), Some(None));
        assert!(quota_of(br#"{"size": 1, "quotatype": "fifo"}"#).is_err());
        assert!(quota_of(b"not json").is_err());
        assert!(quota_of(br#"{"size": 1, "rate": 5}"#).is_err(), "rate limits are not applied, so refused");
    }
}
