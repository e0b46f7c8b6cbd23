//! Cairn's own healing report, served next to S3 and signed with SigV4 like any S3
//! request. A valid signature of any identity is the whole check (s3s's default for a
//! route): the counters name no bucket or object. MinIO's admin API, with its
//! `admin:*` actions, is `crates/admin`; healing on demand is its `cairn-heal` call.

use cairn_object::ObjectStore;
use http::{HeaderMap, Method, Uri};
use s3s::route::S3Route;
use s3s::{Body, S3Request, S3Response, S3Result};

/// Path of the healing progress report.
pub const HEAL_STATUS_PATH: &str = "/cairn/admin/v1/heal";

/// `GET /cairn/admin/v1/heal`: this node's scanning and healing counters as JSON.
/// Lifecycle counters as a JSON object.
fn ilm_json(stats: cairn_object::IlmStats) -> serde_json::Value {
    stats.fields().into_iter().map(|(name, value)| (name.to_owned(), serde_json::Value::from(value))).collect()
}

pub(crate) struct HealStatusRoute {
    pub(crate) store: ObjectStore,
}

#[async_trait::async_trait]
impl S3Route for HealStatusRoute {
    fn is_match(&self, method: &Method, uri: &Uri, _headers: &HeaderMap, _extensions: &mut http::Extensions) -> bool {
        method == Method::GET && uri.path() == HEAL_STATUS_PATH
    }

    async fn call(&self, _request: S3Request<Body>) -> S3Result<S3Response<Body>> {
        let stats = self.store.stats();
        let deep = self.store.deep_scan_stats();
        let report = serde_json::json!({
            "objects_scanned": stats.objects_scanned,
            "objects_healed": stats.objects_healed,
            "heal_failures": stats.heal_failures,
            "scans_completed": stats.scans_completed,
            "dangling_removed": stats.dangling_removed,
            "orphans_removed": stats.orphans_removed,
            "degraded_reads": stats.degraded_reads,
            "corrupt_shards": stats.corrupt_shards,
            "missing_shards": stats.missing_shards,
            "drives_offline": self.store.drives_offline().await,
            // What this node's scanner did with lifecycle rules (its share of the keys).
            "ilm": ilm_json(self.store.ilm_stats()),
            "deep_scans_completed": deep.scans_completed,
            "deep_objects_verified": deep.objects_verified,
            "deep_bytes_verified": deep.bytes_verified,
            "deep_objects_damaged": deep.objects_damaged,
            "deep_objects_healed": deep.objects_healed,
        });
        let mut response = S3Response::new(Body::from(report.to_string()));
        response.headers.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
        Ok(response)
    }
}
