//! A bucket's CORS rules (PutBucketCors), as its record stores them: already checked
//! by the S3 front.

use serde::{Deserialize, Serialize};

/// The rules of one bucket, in the order given: the first that matches a request wins.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cors {
    pub rules: Vec<CorsRule>,
}

/// One rule: which cross-origin requests it allows and what browsers are told.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorsRule {
    pub id: Option<String>,
    /// Origins, each with at most one `*` wildcard (`https://*.example.com`, `*`).
    pub allowed_origins: Vec<String>,
    /// Methods: GET, PUT, HEAD, POST or DELETE.
    pub allowed_methods: Vec<String>,
    /// Request headers a preflight may ask for, each with at most one `*` (lowercase).
    pub allowed_headers: Vec<String>,
    /// Response headers the browser may show to the page.
    pub expose_headers: Vec<String>,
    /// How long a browser may cache the preflight's answer, in seconds.
    pub max_age_secs: Option<u32>,
}
