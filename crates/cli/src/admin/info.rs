//! `cairn admin info ALIAS`, as `mc admin info`: the deployment, each node with its
//! drives, the erasure layout, capacity, usage and healing counters, read from MinIO's
//! InfoMessage (the fields Cairn and MinIO both send; missing ones are left out).

use super::connect;
use crate::Context;
use crate::error::Result;
use crate::output::human_bytes;
use http::Method;
use serde::Deserialize;
use serde_json::{Value, json};

/// Arguments of `cairn admin info`.
#[derive(Debug, clap::Args)]
pub struct InfoArgs {
    /// ALIAS of the deployment.
    alias: String,
}

/// The parts of MinIO's InfoMessage that are shown.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct InfoMessage {
    mode: String,
    #[serde(rename = "deploymentID")]
    deployment_id: String,
    buckets: Count,
    objects: Count,
    usage: Usage,
    backend: Backend,
    /// A count on Cairn; a map of pool index to sets on MinIO.
    pools: Value,
    servers: Option<Vec<ServerInfo>>,
    /// Cairn's healing counters (MinIO has no such field).
    heal: Option<Value>,
    /// Cairn's lifecycle counters (absent from MinIO servers).
    #[serde(default)]
    ilm: Option<Value>,
    /// What Cairn's transparent compression saves (absent from MinIO servers).
    #[serde(default)]
    compression: Option<Compression>,
    /// Cairn's SSE-S3 master key (absent from MinIO servers).
    #[serde(default)]
    kms: Option<Kms>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct Kms {
    configured: bool,
    #[serde(rename = "defaultKeyID")]
    default_key_id: Option<String>,
}

#[derive(Debug, Default, Deserialize, serde::Serialize)]
#[serde(default, rename_all = "camelCase")]
struct Compression {
    objects: u64,
    logical_bytes: u64,
    stored_bytes: u64,
    saved_bytes: u64,
    ratio: f64,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Count {
    count: u64,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Usage {
    size: u64,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct Backend {
    #[serde(rename = "standardSCData")]
    standard_sc_data: Option<Vec<u64>>,
    #[serde(rename = "standardSCParity")]
    standard_sc_parity: u64,
    offline_disks: u64,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ServerInfo {
    endpoint: String,
    state: String,
    version: Option<String>,
    /// Seconds since the node started (MinIO sends it).
    uptime: Option<u64>,
    drives: Option<Vec<DriveInfo>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct DriveInfo {
    endpoint: String,
    state: String,
    totalspace: u64,
    usedspace: u64,
    availspace: u64,
    error: Option<String>,
}

/// What is derived from the drives and the layout.
struct Derived {
    drives: u64,
    drives_online: u64,
    raw_bytes: u64,
    raw_used_bytes: u64,
    usable_bytes: u64,
    drives_per_set: u64,
    sets: u64,
    data: u64,
    parity: u64,
    pools: u64,
}

impl InfoMessage {
    fn servers(&self) -> &[ServerInfo] {
        self.servers.as_deref().unwrap_or_default()
    }

    fn derive(&self) -> Derived {
        let drives: Vec<&DriveInfo> =
            self.servers().iter().flat_map(|s| s.drives.as_deref().unwrap_or_default()).collect();
        let online: Vec<&&DriveInfo> = drives.iter().filter(|d| d.state == "ok").collect();
        let raw_bytes = online.iter().map(|d| d.totalspace).sum::<u64>();
        let data = self.backend.standard_sc_data.as_deref().and_then(<[u64]>::first).copied().unwrap_or_default();
        let parity = self.backend.standard_sc_parity;
        let drives_per_set = data + parity;
        let pools = match &self.pools {
            Value::Number(count) => count.as_u64().unwrap_or_default(),
            Value::Object(pools) => pools.len() as u64,
            _ => 0,
        };
        Derived {
            drives: drives.len() as u64,
            drives_online: online.len() as u64,
            raw_bytes,
            raw_used_bytes: online.iter().map(|d| d.usedspace).sum(),
            usable_bytes: (u128::from(raw_bytes) * u128::from(data))
                .checked_div(u128::from(drives_per_set))
                .map_or(0, |bytes| bytes as u64),
            drives_per_set,
            sets: (drives.len() as u64).checked_div(drives_per_set).unwrap_or_default(),
            data,
            parity,
            pools,
        }
    }
}

pub(crate) async fn run(context: &Context, args: InfoArgs) -> Result<()> {
    let client = connect(context, &args.alias)?;
    let info: InfoMessage = client.call_json(Method::GET, "info", &[], Vec::new()).await?;
    let derived = info.derive();
    context.out.result(to_json(&info, &derived), || to_text(&info, &derived));
    Ok(())
}

fn to_json(info: &InfoMessage, derived: &Derived) -> Value {
    let nodes: Vec<Value> = info
        .servers()
        .iter()
        .map(|server| {
            let drives: Vec<Value> = server
                .drives
                .as_deref()
                .unwrap_or_default()
                .iter()
                .map(|d| {
                    json!({"endpoint": d.endpoint, "state": d.state, "usedBytes": d.usedspace,
                           "totalBytes": d.totalspace, "availableBytes": d.availspace, "error": d.error})
                })
                .collect();
            json!({"endpoint": server.endpoint, "state": server.state, "version": server.version,
                   "uptimeSecs": server.uptime, "drives": drives})
        })
        .collect();
    json!({
        "mode": info.mode,
        "deploymentId": info.deployment_id,
        "nodes": nodes,
        "drives": {"total": derived.drives, "online": derived.drives_online, "offline": info.backend.offline_disks},
        "erasure": {"pools": derived.pools, "sets": derived.sets, "drivesPerSet": derived.drives_per_set,
                    "data": derived.data, "parity": derived.parity},
        "capacity": {"rawBytes": derived.raw_bytes, "rawUsedBytes": derived.raw_used_bytes,
                     "usableBytes": derived.usable_bytes},
        "buckets": info.buckets.count,
        "objects": info.objects.count,
        "objectBytes": info.usage.size,
        "compression": info.compression,
        "kms": info.kms.as_ref().map(|kms| json!({"configured": kms.configured, "defaultKeyID": kms.default_key_id})),
        "heal": info.heal,
    })
}

fn to_text(info: &InfoMessage, derived: &Derived) -> String {
    let mut lines = vec![format!("Deployment : {} ({})", info.deployment_id, info.mode)];
    for server in info.servers() {
        let drives = server.drives.as_deref().unwrap_or_default();
        let ok = drives.iter().filter(|d| d.state == "ok").count();
        lines.push(format!("\n● {}  {}  drives {ok}/{} ok", server.endpoint, server.state, drives.len()));
        if let Some(version) = &server.version {
            lines.push(format!("   Version : {version}"));
        }
        if let Some(uptime) = server.uptime {
            lines.push(format!("   Uptime  : {}", human_duration(uptime)));
        }
        for drive in drives {
            let detail = match &drive.error {
                Some(error) => error.clone(),
                None => format!("{} / {} used", human_bytes(drive.usedspace), human_bytes(drive.totalspace)),
            };
            lines.push(format!("   {:<40} {:<8} {detail}", drive.endpoint, drive.state));
        }
    }
    lines.push(String::new());
    lines.push(format!(
        "Erasure    : {} pool(s), {} set(s) of {} drives, {} data + {} parity",
        derived.pools, derived.sets, derived.drives_per_set, derived.data, derived.parity
    ));
    lines.push(format!(
        "Capacity   : {} usable of {} raw ({} raw used), {}/{} drives online",
        human_bytes(derived.usable_bytes),
        human_bytes(derived.raw_bytes),
        human_bytes(derived.raw_used_bytes),
        derived.drives_online,
        derived.drives
    ));
    lines.push(format!(
        "Usage      : {} bucket(s), {} object(s), {}",
        info.buckets.count,
        info.objects.count,
        human_bytes(info.usage.size)
    ));
    if let Some(compression) = info.compression.as_ref().filter(|c| c.objects > 0) {
        lines.push(format!(
            "Compression: {} object(s), {} stored for {} sent (ratio {:.2}, {} saved)",
            compression.objects,
            human_bytes(compression.stored_bytes),
            human_bytes(compression.logical_bytes),
            compression.ratio,
            human_bytes(compression.saved_bytes)
        ));
    }
    if let Some(kms) = &info.kms {
        lines.push(match (&kms.default_key_id, kms.configured) {
            (Some(name), true) => format!("Encryption: SSE-S3 with master key {name}"),
            _ => "Encryption: no master key (SSE-S3 off; SSE-C available)".to_owned(),
        });
    }
    if let Some(heal) = &info.heal {
        let count = |name: &str| heal[name].as_u64().unwrap_or_default();
        lines.push(format!(
            "Healing    : {} object(s) scanned, {} healed, {} failure(s), {} queued, {} full scan(s) by the answering node",
            count("objectsScanned"),
            count("objectsHealed"),
            count("healFailures"),
            count("backlog"),
            count("scansCompleted")
        ));
    }
    if let Some(ilm) = &info.ilm {
        let count = |name: &str| ilm[name].as_u64().unwrap_or_default();
        lines.push(format!(
            "Lifecycle  : {} expired, {} noncurrent version(s) and {} delete marker(s) removed, {} upload(s) \
             aborted, {} kept by object lock (by the answering node)",
            count("objects_expired"),
            count("versions_removed"),
            count("markers_removed"),
            count("uploads_aborted"),
            count("kept_by_lock")
        ));
    }
    lines.join("\n")
}

/// Seconds as `3d 4h 5m` (seconds only under a minute).
fn human_duration(secs: u64) -> String {
    const MINUTE: u64 = 60;
    const HOUR: u64 = 60 * MINUTE;
    const DAY: u64 = 24 * HOUR;
    if secs < MINUTE {
        return format!("{secs}s");
    }
    let parts = [(secs / DAY, "d"), (secs % DAY / HOUR, "h"), (secs % HOUR / MINUTE, "m")];
    parts.iter().filter(|(n, _)| *n > 0).map(|(n, unit)| format!("{n}{unit}")).collect::<Vec<_>>().join(" ")
}
