//! Request counters kept by the HTTP server for the metrics endpoint: per S3 API
//! requests, errors and time to first byte, traffic, requests in flight.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds (seconds) of the time-to-first-byte histogram, as MinIO's.
pub(crate) const TTFB_BUCKETS: [f64; 10] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

/// Counters of one S3 API.
#[derive(Debug, Default, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct ApiCounters {
    pub(crate) requests: u64,
    pub(crate) errors_4xx: u64,
    pub(crate) errors_5xx: u64,
    /// Cumulative counts per [`TTFB_BUCKETS`] bound, then the +Inf count.
    pub(crate) ttfb: [u64; TTFB_BUCKETS.len() + 1],
    pub(crate) ttfb_sum_secs: f64,
}

/// Everything the server counts.
#[derive(Debug, Default)]
pub struct RequestMetrics {
    pub(crate) apis: Mutex<BTreeMap<String, ApiCounters>>,
    pub(crate) received_bytes: AtomicU64,
    pub(crate) sent_bytes: AtomicU64,
    pub(crate) inflight: AtomicI64,
    /// Requests refused before reaching an API: bad signature, unknown key (401/403).
    pub(crate) rejected_auth: AtomicU64,
    /// Requests refused before reaching an API as malformed (400).
    pub(crate) rejected_invalid: AtomicU64,
}

impl RequestMetrics {
    /// Records a request refused before it was recognised as an API call.
    pub(crate) fn record_rejected(&self, status: u16) {
        match status {
            401 | 403 => self.rejected_auth.fetch_add(1, Ordering::Relaxed),
            400 => self.rejected_invalid.fetch_add(1, Ordering::Relaxed),
            _ => 0,
        };
    }

    /// Records a finished request of `api` with `status`, answered after `ttfb`.
    pub(crate) fn record(&self, api: &str, status: u16, ttfb: Duration, received: u64, sent: u64) {
        self.received_bytes.fetch_add(received, Ordering::Relaxed);
        self.sent_bytes.fetch_add(sent, Ordering::Relaxed);
        let Ok(mut apis) = self.apis.lock() else { return };
        let counters = apis.entry(api.to_owned()).or_default();
        counters.requests += 1;
        match status {
            400..=499 => counters.errors_4xx += 1,
            500..=599 => counters.errors_5xx += 1,
            _ => {}
        }
        let secs = ttfb.as_secs_f64();
        counters.ttfb_sum_secs += secs;
        for (i, bound) in TTFB_BUCKETS.iter().enumerate() {
            if secs <= *bound {
                counters.ttfb[i] += 1;
            }
        }
        counters.ttfb[TTFB_BUCKETS.len()] += 1;
    }

    pub(crate) fn snapshot(&self) -> BTreeMap<String, ApiCounters> {
        self.apis.lock().map(|apis| apis.clone()).unwrap_or_default()
    }

    /// Everything counted so far, as one value.
    pub(crate) fn totals(&self) -> RequestTotals {
        RequestTotals {
            apis: self.snapshot(),
            received_bytes: self.received_bytes.load(Ordering::Relaxed),
            sent_bytes: self.sent_bytes.load(Ordering::Relaxed),
            inflight: self.inflight.load(Ordering::Relaxed),
            rejected_auth: self.rejected_auth.load(Ordering::Relaxed),
            rejected_invalid: self.rejected_invalid.load(Ordering::Relaxed),
        }
    }

    /// The totals encoded for a peer that renders the cluster-wide metrics.
    pub fn encoded(&self) -> Vec<u8> {
        serde_json::to_vec(&self.totals()).expect("counters serialise")
    }
}

/// A snapshot of one or more nodes' counters.
#[derive(Debug, Default, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct RequestTotals {
    pub(crate) apis: BTreeMap<String, ApiCounters>,
    pub(crate) received_bytes: u64,
    pub(crate) sent_bytes: u64,
    pub(crate) inflight: i64,
    #[serde(default)]
    pub(crate) rejected_auth: u64,
    #[serde(default)]
    pub(crate) rejected_invalid: u64,
}

impl RequestTotals {
    /// Adds another node's counters (decoded from its answer; garbage is ignored).
    pub(crate) fn add_encoded(&mut self, encoded: &[u8]) {
        let Ok(other) = serde_json::from_slice::<RequestTotals>(encoded) else { return };
        self.received_bytes += other.received_bytes;
        self.sent_bytes += other.sent_bytes;
        self.inflight += other.inflight;
        self.rejected_auth += other.rejected_auth;
        self.rejected_invalid += other.rejected_invalid;
        for (api, counters) in other.apis {
            let mine = self.apis.entry(api).or_default();
            mine.requests += counters.requests;
            mine.errors_4xx += counters.errors_4xx;
            mine.errors_5xx += counters.errors_5xx;
            mine.ttfb_sum_secs += counters.ttfb_sum_secs;
            for (sum, count) in mine.ttfb.iter_mut().zip(counters.ttfb) {
                *sum += count;
            }
        }
    }
}

/// Where the S3 layer leaves the name of the API a request was, for the counters.
#[derive(Debug, Clone, Default)]
pub struct ApiSlot(pub(crate) std::sync::Arc<Mutex<Option<String>>>);

impl ApiSlot {
    pub(crate) fn set(&self, api: &str) {
        if let Ok(mut slot) = self.0.lock() {
            *slot = Some(api.to_owned());
        }
    }

    pub(crate) fn get(&self) -> Option<String> {
        self.0.lock().ok().and_then(|slot| slot.clone())
    }
}
