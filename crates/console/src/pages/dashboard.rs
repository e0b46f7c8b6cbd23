//! The dashboard: nodes and drives, capacity, usage, erasure layout and healing from
//! the admin API's server info, and live request charts from the metrics endpoint.

use crate::error::Result;
use crate::router::{Call, render};
use crate::templates::{Chrome, bytes};
use crate::web::{self, Body};
use askama::Template;
use http::{Method, Response, StatusCode};
use serde_json::{Value, json};
use std::time::{SystemTime, UNIX_EPOCH};

/// Lifetime of the metrics token the console signs for one scrape.
const METRICS_TOKEN_SECS: u64 = 60;

struct Drive {
    endpoint: String,
    state: String,
    used: String,
    total: String,
    percent: u64,
}

struct Server {
    endpoint: String,
    state: String,
    drives: Vec<Drive>,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    title: &'static str,
    section: &'static str,
    chrome: Chrome,
    mode: String,
    servers: Vec<Server>,
    servers_online: usize,
    drives_online: usize,
    drives_total: usize,
    raw: String,
    usable: String,
    used: String,
    objects: u64,
    buckets: u64,
    stored: String,
    compression_ratio: String,
    compressed_objects: u64,
    compressed_stored: String,
    compressed_logical: String,
    compressed_saved: String,
    data: u64,
    parity: u64,
    pools: u64,
    healed: u64,
    scanned: u64,
    heal_failures: u64,
    scans: u64,
    backlog: u64,
    last_scan: String,
}

pub(crate) async fn page(call: Call) -> Result<Response<Body>> {
    let caller = call.caller()?;
    let info: Value = caller.admin()?.call_json(Method::GET, "info", &[], Vec::new()).await?;
    let number = |v: &Value| v.as_u64().unwrap_or_default();
    let (mut raw, mut used, mut drives_online, mut drives_total) = (0, 0, 0, 0);
    let servers: Vec<Server> = info["servers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|server| {
            let drives = server["drives"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|drive| {
                    let (total, in_use) = (number(&drive["totalspace"]), number(&drive["usedspace"]));
                    drives_total += 1;
                    if drive["state"] == "ok" {
                        drives_online += 1;
                        raw += total;
                        used += in_use;
                    }
                    Drive {
                        endpoint: drive["endpoint"].as_str().unwrap_or_default().to_owned(),
                        state: drive["state"].as_str().unwrap_or("unknown").to_owned(),
                        used: bytes(in_use),
                        total: bytes(total),
                        percent: (in_use * 100).checked_div(total).unwrap_or(0),
                    }
                })
                .collect();
            Server {
                endpoint: server["endpoint"].as_str().unwrap_or_default().to_owned(),
                state: server["state"].as_str().unwrap_or("unknown").to_owned(),
                drives,
            }
        })
        .collect();
    let data = info["backend"]["standardSCData"][0].as_u64().unwrap_or(1);
    let parity = number(&info["backend"]["standardSCParity"]);
    let usable = raw * data / (data + parity).max(1);
    let page = DashboardPage {
        title: "Dashboard",
        section: "dashboard",
        chrome: Chrome::new(&call.console, &caller, &call.query),
        mode: info["mode"].as_str().unwrap_or("unknown").to_owned(),
        servers_online: servers.iter().filter(|s| s.state == "online").count(),
        servers,
        drives_online,
        drives_total,
        raw: bytes(raw),
        usable: bytes(usable),
        used: bytes(used),
        objects: number(&info["objects"]["count"]),
        buckets: number(&info["buckets"]["count"]),
        stored: bytes(number(&info["usage"]["size"])),
        compression_ratio: match info["compression"]["ratio"].as_f64() {
            Some(ratio) if number(&info["compression"]["objects"]) > 0 => format!("{:.0}% of size", ratio * 100.0),
            _ => "none".to_owned(),
        },
        compressed_objects: number(&info["compression"]["objects"]),
        compressed_stored: bytes(number(&info["compression"]["storedBytes"])),
        compressed_logical: bytes(number(&info["compression"]["logicalBytes"])),
        compressed_saved: bytes(number(&info["compression"]["savedBytes"])),
        data,
        parity,
        pools: number(&info["pools"]),
        healed: number(&info["heal"]["objectsHealed"]),
        scanned: number(&info["heal"]["objectsScanned"]),
        heal_failures: number(&info["heal"]["healFailures"]),
        scans: number(&info["heal"]["scansCompleted"]),
        backlog: number(&info["heal"]["backlog"]),
        last_scan: match number(&info["heal"]["lastScanCompleted"]) {
            0 => "not finished yet".to_owned(),
            secs => time::OffsetDateTime::from_unix_timestamp(secs as i64)
                .ok()
                .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
                .map_or_else(|| "unknown".to_owned(), |t| format!("ended {t}")),
        },
    };
    render(&page)
}

/// Totals the charts plot, from the cluster's metrics scraped with the caller's keys.
pub(crate) async fn data(call: Call) -> Result<Response<Body>> {
    let caller = call.caller()?;
    let admin = caller.admin()?;
    let alias = admin.alias();
    let expires = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs() + METRICS_TOKEN_SECS;
    let token = cairn_cli::admin::metrics_token(&alias.access_key, &alias.secret_key, expires)?;
    let text = admin.get_with_bearer("/minio/v2/metrics/cluster", &token).await?;
    let totals = Totals::parse(&text);
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs_f64();
    Ok(web::json(
        StatusCode::OK,
        &json!({
            "time": now,
            "requests": totals.requests,
            "errors": totals.errors,
            "received": totals.received,
            "sent": totals.sent,
            "ttfbSum": totals.ttfb_sum,
            "ttfbCount": totals.ttfb_count,
        }),
    ))
}

/// Sums of the series the charts use.
#[derive(Debug, Default, PartialEq)]
struct Totals {
    requests: f64,
    errors: f64,
    received: f64,
    sent: f64,
    ttfb_sum: f64,
    /// Requests in the TTFB histogram (its +Inf buckets).
    ttfb_count: f64,
}

impl Totals {
    /// Sums the samples of Prometheus text over all their labels.
    fn parse(text: &str) -> Self {
        let mut totals = Self::default();
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let Some((series, value)) = line.rsplit_once(' ') else { continue };
            let Ok(value) = value.parse::<f64>() else { continue };
            match series.split('{').next().unwrap_or_default() {
                "minio_s3_requests_total" => totals.requests += value,
                "minio_s3_requests_errors_total" => totals.errors += value,
                "minio_s3_traffic_received_bytes" => totals.received += value,
                "minio_s3_traffic_sent_bytes" => totals.sent += value,
                "cairn_s3_requests_ttfb_seconds_sum" => totals.ttfb_sum += value,
                "minio_s3_requests_ttfb_seconds_distribution" if series.contains("le=\"+Inf\"") => {
                    totals.ttfb_count += value;
                }
                _ => {}
            }
        }
        totals
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_sum_series_and_read_the_histogram() {
        let text = "# HELP x\n\
            minio_s3_requests_total{api=\"GetObject\",server=\"a\"} 3\n\
            minio_s3_requests_total{api=\"PutObject\",server=\"a\"} 2\n\
            minio_s3_requests_errors_total{api=\"GetObject\",server=\"a\"} 1\n\
            minio_s3_traffic_received_bytes{server=\"a\"} 100\n\
            minio_s3_traffic_sent_bytes{server=\"a\"} 50\n\
            minio_s3_requests_ttfb_seconds_distribution{api=\"GetObject\",le=\"0.05\",server=\"a\"} 2\n\
            minio_s3_requests_ttfb_seconds_distribution{api=\"GetObject\",le=\"0.1\",server=\"a\"} 3\n\
            minio_s3_requests_ttfb_seconds_distribution{api=\"GetObject\",le=\"+Inf\",server=\"a\"} 3\n\
            cairn_s3_requests_ttfb_seconds_sum{api=\"GetObject\",server=\"a\"} 0.25\n";
        let totals = Totals::parse(text);
        assert_eq!(totals.requests, 5.0);
        assert_eq!(totals.errors, 1.0);
        assert_eq!(totals.received, 100.0);
        assert_eq!(totals.sent, 50.0);
        assert_eq!(totals.ttfb_count, 3.0);
        assert_eq!(totals.ttfb_sum, 0.25);
    }
}
