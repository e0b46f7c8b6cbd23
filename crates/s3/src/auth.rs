//! How the Host header maps to virtual-hosted buckets (who may call is `access.rs`).

use s3s::S3Result;
use s3s::host::{S3Host, VirtualHost};

/// Virtual-hosted-style addressing under configured base domains (`bucket.domain[:port]`);
/// any other Host (an IP, a service name) is path-style.
pub(crate) struct DomainHost {
    /// Base domains, lowercase, without ports.
    domains: Vec<String>,
}

impl DomainHost {
    /// Parses a comma-separated list of domains, as MINIO_DOMAIN.
    pub(crate) fn new(domains: &str) -> Self {
        let domains = domains
            .split(',')
            .map(|d| d.trim().trim_end_matches('.').to_ascii_lowercase())
            .filter(|d| !d.is_empty())
            .collect();
        Self { domains }
    }
}

/// The host part of a Host header: without the port, and without brackets around IPv6.
pub(crate) fn strip_port(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    }
}

impl S3Host for DomainHost {
    fn parse_host_header<'a>(&'a self, host: &'a str) -> S3Result<VirtualHost<'a>> {
        let name = strip_port(host);
        for domain in &self.domains {
            if name.eq_ignore_ascii_case(domain) {
                return Ok(VirtualHost::new(domain.as_str()));
            }
            let bucket = name
                .len()
                .checked_sub(domain.len() + 1)
                .filter(|split| name.as_bytes()[*split] == b'.' && name[split + 1..].eq_ignore_ascii_case(domain))
                .map(|split| &name[..split]);
            if let Some(bucket) = bucket {
                return Ok(VirtualHost::new(domain.as_str()).with_bucket(bucket));
            }
        }
        Ok(VirtualHost::new(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_map_to_buckets_only_under_the_domain() {
        let host = DomainHost::new("cairn.test, s3.example.com");
        let bucket = |h: &str| host.parse_host_header(h).expect("parses").bucket().map(str::to_owned);
        assert_eq!(bucket("photos.cairn.test:9000"), Some("photos".into()));
        assert_eq!(bucket("photos.s3.example.com"), Some("photos".into()));
        assert_eq!(bucket("cairn.test:9000"), None);
        assert_eq!(bucket("127.0.0.1:9000"), None);
        assert_eq!(bucket("[::1]:9000"), None);
        assert_eq!(bucket("localhost"), None);
        assert_eq!(bucket("evilcairn.test"), None);
    }
}
