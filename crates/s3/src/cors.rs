//! CORS: Put/Get/DeleteBucketCors keep a bucket's rules (checked as S3 checks them) in
//! its record; the server answers preflight `OPTIONS` requests from them
//! ([`preflight`]) and adds the CORS headers to every response to a request that names
//! an `Origin` a rule allows ([`decorate`]), errors included, so that a page can read
//! why its upload failed. Preflights carry no credentials and need none, as on S3.

use crate::CairnS3;
use crate::error::{custom_404, s3_error, to_s3};
use cairn_object::{Cors, CorsRule};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Response, StatusCode};
use s3s::dto::*;
use s3s::{Body, S3Error, S3ErrorCode, S3Request, S3Response, S3Result};

/// Most rules one configuration may hold (S3's limit).
const RULES_MAX: usize = 100;
/// The methods a rule may allow (S3's list).
const METHODS: &[&str] = &["GET", "PUT", "HEAD", "POST", "DELETE"];

fn invalid(message: &str) -> S3Error {
    s3_error(S3ErrorCode::InvalidRequest, message)
}

/// Whether `pattern` (with at most one `*`, standing for any run of characters)
/// matches `value`.
pub(crate) fn wildcard_match(pattern: &str, value: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == value,
        Some((head, tail)) => {
            value.len() >= head.len() + tail.len() && value.starts_with(head) && value.ends_with(tail)
        }
    }
}

fn one_wildcard_at_most(values: &[String], what: &str) -> S3Result<()> {
    match values.iter().find(|v| v.matches('*').count() > 1) {
        Some(value) => Err(invalid(&format!("{what} {value:?} can not have more than one wildcard."))),
        None => Ok(()),
    }
}

fn rule_of(rule: CORSRule) -> S3Result<CorsRule> {
    if rule.allowed_origins.is_empty() || rule.allowed_methods.is_empty() {
        return Err(s3_error(S3ErrorCode::MalformedXML, "A CORS rule needs an AllowedOrigin and an AllowedMethod."));
    }
    if let Some(method) = rule.allowed_methods.iter().find(|m| !METHODS.contains(&m.as_str())) {
        return Err(invalid(&format!("Found unsupported HTTP method in CORS config. Unsupported method is {method}")));
    }
    one_wildcard_at_most(&rule.allowed_origins, "AllowedOrigin")?;
    let allowed_headers: Vec<String> =
        rule.allowed_headers.unwrap_or_default().into_iter().map(|h| h.to_ascii_lowercase()).collect();
    one_wildcard_at_most(&allowed_headers, "AllowedHeader")?;
    let max_age_secs = match rule.max_age_seconds {
        None => None,
        Some(secs) => Some(u32::try_from(secs).map_err(|_| invalid("MaxAgeSeconds must not be negative."))?),
    };
    Ok(CorsRule {
        id: rule.id,
        allowed_origins: rule.allowed_origins,
        allowed_methods: rule.allowed_methods,
        allowed_headers,
        expose_headers: rule.expose_headers.unwrap_or_default(),
        max_age_secs,
    })
}

/// A configuration checked as S3 checks it.
pub(crate) fn cors_of(configuration: CORSConfiguration) -> S3Result<Cors> {
    let rules = configuration.cors_rules;
    if rules.is_empty() || rules.len() > RULES_MAX {
        return Err(s3_error(S3ErrorCode::MalformedXML, format!("A CORS configuration holds 1 to {RULES_MAX} rules.")));
    }
    Ok(Cors { rules: rules.into_iter().map(rule_of).collect::<S3Result<_>>()? })
}

fn rule_dto(rule: CorsRule) -> CORSRule {
    CORSRule {
        id: rule.id,
        allowed_origins: rule.allowed_origins,
        allowed_methods: rule.allowed_methods,
        allowed_headers: Some(rule.allowed_headers).filter(|h| !h.is_empty()),
        expose_headers: Some(rule.expose_headers).filter(|h| !h.is_empty()),
        max_age_seconds: rule.max_age_secs.and_then(|s| i32::try_from(s).ok()),
    }
}

/// The first rule that lets `origin` send `method` with the request headers `headers`
/// (lowercase).
pub(crate) fn matching<'a>(cors: &'a Cors, origin: &str, method: &str, headers: &[String]) -> Option<&'a CorsRule> {
    cors.rules.iter().find(|rule| {
        rule.allowed_origins.iter().any(|pattern| wildcard_match(pattern, origin))
            && rule.allowed_methods.iter().any(|m| m == method)
            && headers.iter().all(|h| rule.allowed_headers.iter().any(|pattern| wildcard_match(pattern, h)))
    })
}

fn insert(headers: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        headers.insert(HeaderName::from_static(name), value);
    }
}

/// The headers `rule` gives a response to `origin`: on a preflight also the methods,
/// the request headers asked for and the max age.
fn allow(headers: &mut HeaderMap, rule: &CorsRule, origin: &str, preflight: Option<&[String]>) {
    let any_origin = rule.allowed_origins.iter().any(|o| o == "*");
    // As S3: a rule for every origin answers `*`, and then credentials are not allowed.
    insert(headers, "access-control-allow-origin", if any_origin { "*" } else { origin });
    if !any_origin {
        insert(headers, "access-control-allow-credentials", "true");
    }
    insert(headers, "vary", "Origin, Access-Control-Request-Headers, Access-Control-Request-Method");
    if !rule.expose_headers.is_empty() {
        insert(headers, "access-control-expose-headers", &rule.expose_headers.join(", "));
    }
    if let Some(requested) = preflight {
        insert(headers, "access-control-allow-methods", &rule.allowed_methods.join(", "));
        if !requested.is_empty() {
            insert(headers, "access-control-allow-headers", &requested.join(", "));
        }
        if let Some(secs) = rule.max_age_secs {
            insert(headers, "access-control-max-age", &secs.to_string());
        }
    }
}

/// The header names a preflight asks to send (`Access-Control-Request-Headers`), lowercase.
fn requested_headers(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all("access-control-request-headers")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|h| h.trim().to_ascii_lowercase())
        .filter(|h| !h.is_empty())
        .collect()
}

fn refusal(status: StatusCode, code: &str, message: &str) -> Response<Body> {
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code><Message>{message}</Message></Error>"
    );
    let mut response = Response::new(Body::from(xml));
    *response.status_mut() = status;
    response.headers_mut().insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/xml"));
    response
}

/// Where the node's own console is seen from: its public URL (`CAIRN_BROWSER_REDIRECT_URL`)
/// and its port. Pages of the console may call the S3 API without a CORS rule: the API
/// still checks each request's signature and policies, as for any other client.
#[derive(Debug, Clone, Default)]
pub struct ConsoleOrigins {
    /// The origin (`scheme://host[:port]`) of the console's public URL, if one is set.
    pub public: Option<String>,
    /// The console's port: an origin with this port on the host the request was sent
    /// to is the console.
    pub port: Option<u16>,
}

/// Methods and exposed headers the console's origin gets.
const CONSOLE_METHODS: &[&str] = &["GET", "PUT", "POST", "DELETE", "HEAD"];
const CONSOLE_EXPOSED: &[&str] =
    &["ETag", "Content-Length", "Content-Range", "x-amz-request-id", "x-amz-version-id", "x-amz-delete-marker"];
/// How long a browser may keep a preflight answer for the console's origin.
const CONSOLE_MAX_AGE_SECS: u32 = 3600;

impl ConsoleOrigins {
    /// Whether `origin` is the console's, for a request sent to `host` (its Host header).
    pub(crate) fn admits(&self, origin: &str, host: Option<&str>) -> bool {
        let origin = origin.trim_end_matches('/');
        if self.public.as_deref().is_some_and(|public| public.eq_ignore_ascii_case(origin)) {
            return true;
        }
        let (Some(port), Some(host)) = (self.port, host) else { return false };
        let Some(rest) = origin.strip_prefix("http://").or_else(|| origin.strip_prefix("https://")) else {
            return false;
        };
        let request_host = crate::auth::strip_port(host);
        let same_port = rest.rsplit_once(':').is_some_and(|(_, p)| p == port.to_string());
        same_port && crate::auth::strip_port(rest).eq_ignore_ascii_case(request_host)
    }

    /// The rules that let the console's `origin` call the API.
    pub(crate) fn rules(origin: &str) -> Cors {
        let owned = |names: &[&str]| names.iter().map(|n| (*n).to_owned()).collect();
        Cors {
            rules: vec![CorsRule {
                id: Some("console".into()),
                allowed_origins: vec![origin.to_owned()],
                allowed_methods: owned(CONSOLE_METHODS),
                allowed_headers: vec!["*".into()],
                expose_headers: owned(CONSOLE_EXPOSED),
                max_age_secs: Some(CONSOLE_MAX_AGE_SECS),
            }],
        }
    }
}

/// The answer to a preflight `OPTIONS` (`names_bucket`: the request names a bucket),
/// from the rules `cors` that apply (None: there are none).
pub(crate) fn preflight(names_bucket: bool, cors: Option<&Cors>, request: &HeaderMap) -> Response<Body> {
    let origin = request.get(http::header::ORIGIN).and_then(|v| v.to_str().ok());
    let method = request.get("access-control-request-method").and_then(|v| v.to_str().ok());
    let (Some(origin), Some(method)) = (origin, method) else {
        return refusal(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "Insufficient information. Origin and Access-Control-Request-Method request headers needed.",
        );
    };
    if !names_bucket {
        return refusal(StatusCode::FORBIDDEN, "AccessForbidden", "CORSResponse: Bucket not found");
    }
    let Some(cors) = cors else {
        return refusal(StatusCode::FORBIDDEN, "AccessForbidden", "CORSResponse: CORS is not enabled for this bucket.");
    };
    let asked = requested_headers(request);
    match matching(cors, origin, method, &asked) {
        Some(rule) => {
            let mut response = Response::new(Body::empty());
            allow(response.headers_mut(), rule, origin, Some(&asked));
            response
        }
        None => refusal(
            StatusCode::FORBIDDEN,
            "AccessForbidden",
            "CORSResponse: This CORS request is not allowed. The Origin, the method (Access-Control-Request-Method) \
             or the headers (Access-Control-Request-Headers) are not allowed by the bucket's CORS rules.",
        ),
    }
}

/// Adds the CORS headers to the response to an actual request from `origin` with
/// `method`, when a rule allows it (the headers it sent are not checked again: the
/// preflight did, and simple requests need none).
pub(crate) fn decorate(cors: &Cors, origin: &str, method: &Method, response: &mut HeaderMap) {
    if let Some(rule) = matching(cors, origin, method.as_str(), &[]) {
        allow(response, rule, origin, None);
    }
}

/// The bucket a request names: the host's first label under one of `domains`
/// (comma-separated, as `CAIRN_DOMAIN`: virtual-host style), else the path's first segment.
pub(crate) fn bucket_of(path: &str, host: Option<&str>, domains: Option<&str>) -> Option<String> {
    if let (Some(host), Some(domains)) = (host, domains) {
        let host = host.split(':').next().unwrap_or(host);
        for domain in domains.split(',').map(str::trim).filter(|d| !d.is_empty()) {
            if let Some(bucket) = host.strip_suffix(domain).and_then(|rest| rest.strip_suffix('.')) {
                return Some(bucket.to_owned()).filter(|b| !b.is_empty());
            }
        }
    }
    let first = path.trim_start_matches('/').split('/').next()?;
    Some(first.to_owned()).filter(|b| !b.is_empty())
}

impl CairnS3 {
    pub(crate) async fn do_put_bucket_cors(
        &self,
        req: S3Request<PutBucketCorsInput>,
    ) -> S3Result<S3Response<PutBucketCorsOutput>> {
        let input = req.input;
        let cors = cors_of(input.cors_configuration)?;
        let set = |record: &mut cairn_object::BucketRecord| {
            record.cors = Some(cors);
            Ok(())
        };
        self.store.update_bucket_record(&input.bucket, set).await.map_err(to_s3)?;
        Ok(S3Response::new(PutBucketCorsOutput {}))
    }

    pub(crate) async fn do_get_bucket_cors(
        &self,
        req: S3Request<GetBucketCorsInput>,
    ) -> S3Result<S3Response<GetBucketCorsOutput>> {
        let record = self.store.bucket_record(&req.input.bucket).await.map_err(to_s3)?;
        let Some(cors) = record.cors.filter(|c| !c.rules.is_empty()) else {
            let code = S3ErrorCode::NoSuchCORSConfiguration;
            return Err(custom_404(code, "The CORS configuration does not exist"));
        };
        let rules = cors.rules.into_iter().map(rule_dto).collect();
        Ok(S3Response::new(GetBucketCorsOutput { cors_rules: Some(rules) }))
    }

    pub(crate) async fn do_delete_bucket_cors(
        &self,
        req: S3Request<DeleteBucketCorsInput>,
    ) -> S3Result<S3Response<DeleteBucketCorsOutput>> {
        let clear = |record: &mut cairn_object::BucketRecord| {
            record.cors = None;
            Ok(())
        };
        self.store.update_bucket_record(&req.input.bucket, clear).await.map_err(to_s3)?;
        Ok(S3Response::new(DeleteBucketCorsOutput {}))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(origins: &[&str], methods: &[&str], headers: &[&str]) -> CorsRule {
        let owned = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect();
        CorsRule {
            id: None,
            allowed_origins: owned(origins),
            allowed_methods: owned(methods),
            allowed_headers: owned(headers),
            expose_headers: vec!["ETag".into()],
            max_age_secs: Some(600),
        }
    }

    #[test]
    fn the_console_origin_is_its_public_url_or_its_port_on_the_requested_host() {
        let console = ConsoleOrigins { public: Some("https://console.crm.test".into()), port: Some(9001) };
        assert!(console.admits("https://console.crm.test", Some("s3.crm.test")));
        assert!(console.admits("http://10.0.0.5:9001", Some("10.0.0.5:9000")));
        assert!(console.admits("http://[::1]:9001", Some("[::1]:9000")));
        assert!(!console.admits("http://10.0.0.6:9001", Some("10.0.0.5:9000")));
        assert!(!console.admits("http://10.0.0.5:9002", Some("10.0.0.5:9000")));
        assert!(!console.admits("https://evil.test", Some("s3.crm.test")));
        assert!(!ConsoleOrigins::default().admits("http://h:9001", Some("h:9000")));
        let rules = ConsoleOrigins::rules("http://h:9001");
        assert!(matching(&rules, "http://h:9001", "DELETE", &["authorization".into()]).is_some());
        assert!(matching(&rules, "http://other:9001", "GET", &[]).is_none());
    }

    #[test]
    fn wildcards_match_one_run_of_characters() {
        assert!(wildcard_match("https://*.example.com", "https://crm.example.com"));
        assert!(!wildcard_match("https://*.example.com", "https://example.com"));
        assert!(wildcard_match("*", "http://anything:8080"));
        assert!(wildcard_match("x-amz-*", "x-amz-date"));
        assert!(!wildcard_match("https://crm.example.com", "https://crm.example.com.evil"));
    }

    #[test]
    fn the_first_matching_rule_wins_and_headers_must_all_be_allowed() {
        let cors = Cors {
            rules: vec![
                rule(&["https://crm.example.com"], &["PUT", "POST"], &["content-type", "x-amz-*"]),
                rule(&["*"], &["GET"], &[]),
            ],
        };
        let asked = vec!["content-type".to_owned(), "x-amz-date".to_owned()];
        assert!(matching(&cors, "https://crm.example.com", "PUT", &asked).is_some());
        assert!(matching(&cors, "https://crm.example.com", "PUT", &["authorization".to_owned()]).is_none());
        assert!(matching(&cors, "https://other.example.com", "PUT", &[]).is_none());
        assert!(matching(&cors, "https://other.example.com", "GET", &[]).is_some());
        assert!(matching(&cors, "https://other.example.com", "DELETE", &[]).is_none());
    }

    #[test]
    fn a_preflight_is_answered_from_the_rules() {
        let cors = Cors { rules: vec![rule(&["https://crm.example.com"], &["PUT"], &["*"])] };
        let mut request = HeaderMap::new();
        request.insert(http::header::ORIGIN, HeaderValue::from_static("https://crm.example.com"));
        request.insert("access-control-request-method", HeaderValue::from_static("PUT"));
        request.insert("access-control-request-headers", HeaderValue::from_static("Content-Type, X-Amz-Date"));
        let answer = preflight(true, Some(&cors), &request);
        assert_eq!(answer.status(), StatusCode::OK);
        let header = |name: &str| answer.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        assert_eq!(header("access-control-allow-origin").as_deref(), Some("https://crm.example.com"));
        assert_eq!(header("access-control-allow-headers").as_deref(), Some("content-type, x-amz-date"));
        assert_eq!(header("access-control-max-age").as_deref(), Some("600"));
        assert_eq!(header("access-control-allow-credentials").as_deref(), Some("true"));
        request.insert(http::header::ORIGIN, HeaderValue::from_static("https://evil.example"));
        assert_eq!(preflight(true, Some(&cors), &request).status(), StatusCode::FORBIDDEN);
        assert_eq!(preflight(true, None, &request).status(), StatusCode::FORBIDDEN);
        request.remove("access-control-request-method");
        assert_eq!(preflight(true, Some(&cors), &request).status(), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn configurations_are_checked() {
        let dto = |methods: Vec<&str>, origins: Vec<&str>| CORSConfiguration {
            cors_rules: vec![CORSRule {
                allowed_methods: methods.into_iter().map(str::to_owned).collect(),
                allowed_origins: origins.into_iter().map(str::to_owned).collect(),
                allowed_headers: Some(vec!["Content-Type".into()]),
                expose_headers: None,
                id: Some("r".into()),
                max_age_seconds: Some(30),
            }],
        };
        let cors = cors_of(dto(vec!["GET", "PUT"], vec!["https://*.example.com"])).expect("valid");
        assert_eq!(cors.rules[0].allowed_headers, vec!["content-type".to_owned()]);
        let back = CORSConfiguration { cors_rules: cors.rules.clone().into_iter().map(rule_dto).collect() };
        assert_eq!(cors_of(back).expect("round trip"), cors);
        let code = |c: CORSConfiguration| cors_of(c).expect_err("refused").code().clone();
        assert_eq!(code(dto(vec!["PATCH"], vec!["*"])), S3ErrorCode::InvalidRequest);
        assert_eq!(code(dto(vec!["GET"], vec!["https://*.*.example.com"])), S3ErrorCode::InvalidRequest);
        assert_eq!(code(dto(vec![], vec!["*"])), S3ErrorCode::MalformedXML);
        assert_eq!(code(CORSConfiguration { cors_rules: vec![] }), S3ErrorCode::MalformedXML);
        assert_eq!(bucket_of("/crm-temp/a/b", None, None).as_deref(), Some("crm-temp"));
        assert_eq!(bucket_of("/a", Some("crm.cairn.test:9000"), Some("cairn.test")).as_deref(), Some("crm"));
        assert_eq!(bucket_of("/", Some("cairn.test"), Some("cairn.test")), None);
        assert_eq!(bucket_of("/k", Some("b.two.test"), Some("one.test, two.test")).as_deref(), Some("b"));
    }
}
