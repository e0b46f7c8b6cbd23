//! Server configuration set at run time through the admin API (`mc admin config
//! set|get|export|import`), in MinIO's key-value text form: one line per subsystem,
//! `subsystem key=value ...`. Stored as a configuration object of the cluster and
//! applied on every node (each polls it once a second). Only settings Cairn acts on
//! are accepted; anything else is refused with a message, so a config never claims an
//! effect it does not have.
//!
//! - `region name=<region>`: the region GetBucketLocation reports.
//! - `scanner speed=fastest|fast|default|slow|slowest cycle=<duration>`: how many
//!   objects per second the healing scanner checks, and how often it runs;
//!   `deep=<duration>|off deep_speed=<bytes per second, e.g. 32MiB>`: how often a scan
//!   also reads and checks every shard (bitrot), and how fast it may read.
//! - `api stale_uploads_expiry=<duration> stale_uploads_cleanup_interval=<duration>`:
//!   multipart uploads older than the expiry (default 168h) are removed by a cleanup
//!   that runs every interval (default 6h), as in MinIO.
//! - `compression enable=on|off extensions=.txt,.log mime_types=text/*,application/json`:
//!   new objects whose key ends with a listed extension or whose Content-Type matches a
//!   listed type are compressed (MinIO's names and defaults; both lists empty: every
//!   object). Content compressed already (images, video, archives, PDFs, a
//!   Content-Encoding) never is; encrypted objects only with `allow_encryption=on`.
//!   Applies to writes that start after the change.
//! - `notify_webhook[:<id>] endpoint=<url> auth_token=<token> queue_dir=<path>
//!   queue_limit=<n> enable=on|off`: a webhook target for bucket notifications (its ARN
//!   is `arn:minio:sqs::<id>:webhook`; `_` without an id, as MinIO). Applied at once.
//!   The token is a secret: `get` and `export` show `*redacted*`, and setting that
//!   placeholder keeps the stored token (so an export imports back unchanged).

use bytes::Bytes;
use cairn_notify::{Notifier, WebhookTarget};
use cairn_object::{
    COMPRESSION_EXTENSIONS_DEFAULT, COMPRESSION_MIME_TYPES_DEFAULT, CompressionRule, DEEP_SCAN_BYTES_PER_SEC_DEFAULT,
    DEEP_SCAN_INTERVAL_DEFAULT, ObjectStore, SCAN_OBJECTS_PER_SEC_DEFAULT, STALE_UPLOADS_CLEANUP_INTERVAL_DEFAULT,
    STALE_UPLOADS_EXPIRY_DEFAULT,
};
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

/// Where the configuration is stored.
const CONFIG_KEY: &str = "config/server/config.txt";
/// How often every node checks whether the configuration changed.
const POLL_MS: u64 = 1_000;
/// The region reported when none is configured.
const REGION_DEFAULT: &str = "us-east-1";
/// Longest scanner cycle accepted: 30 days.
const CYCLE_SECS_MAX: u64 = 30 * 24 * 3600;
/// Fastest deep scan accepted: 100 GiB per second (no limit, in practice).
const DEEP_SPEED_BYTES_PER_SEC_MAX: u64 = 100 << 30;
/// Units of a deep scan speed, in bytes.
const SIZE_UNITS: [(&str, u64); 4] = [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10), ("B", 1)];
/// Longest region name.
const REGION_CHARS_MAX: usize = 63;
/// Scanner speeds and the objects per second each allows, as MinIO names them.
const SPEEDS: [(&str, u64); 5] = [
    ("fastest", 100_000),
    ("fast", 10_000),
    ("default", SCAN_OBJECTS_PER_SEC_DEFAULT),
    ("slow", 500),
    ("slowest", 100),
];

/// The subsystems and keys Cairn acts on.
const KNOWN: [(&str, &[&str]); 5] = [
    ("region", &["name"]),
    ("scanner", &["speed", "cycle", "deep", "deep_speed"]),
    ("api", &["stale_uploads_expiry", "stale_uploads_cleanup_interval"]),
    ("compression", &["enable", "extensions", "mime_types", "allow_encryption"]),
    ("notify_webhook", &["enable", "endpoint", "auth_token", "queue_dir", "queue_limit", "comment"]),
];
/// The subsystem of webhook targets; `notify_webhook:<id>` names one.
const WEBHOOK: &str = "notify_webhook";
/// What `get` and `export` show instead of a secret; set back, it keeps the secret.
const REDACTED: &str = "*redacted*";
/// The subsystems, as messages list them.
const SUBSYSTEMS_TEXT: &str = "region, scanner, api, compression and notify_webhook";
/// Longest list of extensions or content types.
const COMPRESSION_LIST_CHARS_MAX: usize = 4096;

/// Checks that `subsystem` (and `key`, if given) is one Cairn acts on; only
/// `notify_webhook` takes a target id (`notify_webhook:<id>`).
fn check_known(subsystem: &str, key: Option<&str>) -> Result<(), String> {
    let (base, id) = subsystem.split_once(':').map_or((subsystem, None), |(b, id)| (b, Some(id)));
    let Some((_, keys)) = KNOWN.iter().find(|(name, _)| *name == base) else {
        return Err(format!("unknown configuration subsystem {subsystem:?}; Cairn has {SUBSYSTEMS_TEXT}"));
    };
    match id {
        Some(_) if base != WEBHOOK => return Err(format!("{base} takes no target id ({subsystem:?})")),
        Some(id) => cairn_notify::check_target_id(id).map_err(|e| format!("{WEBHOOK}: {e}"))?,
        None => {}
    }
    match key {
        Some(key) if !keys.contains(&key) => Err(format!("{base}: unknown key {key:?}; it has {}", keys.join(", "))),
        _ => Ok(()),
    }
}

/// Parsed configuration: subsystem -> key -> value, only what was set explicitly.
type Kv = BTreeMap<String, BTreeMap<String, String>>;

/// The run-time configuration of this node.
pub struct ServerSettings {
    store: ObjectStore,
    /// Webhook targets, configured from `notify_webhook`.
    notifier: Arc<Notifier>,
    /// Settings from the environment (webhook targets), over the stored ones.
    env: Kv,
    /// The scanner cycle used when the configuration names none (from the environment).
    default_cycle: Duration,
    kv: RwLock<Kv>,
    /// The stored text at the last load.
    stored: RwLock<Option<Bytes>>,
}

impl std::fmt::Debug for ServerSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerSettings").field("kv", &self.kv).finish_non_exhaustive()
    }
}

/// Splits `key=value key2="a b"` into pairs.
fn pairs(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        let (key, after) = rest.split_once('=').ok_or_else(|| format!("{rest:?}: expected key=value"))?;
        let (value, after) = match after.strip_prefix('"') {
            Some(quoted) => {
                let end = quoted.find('"').ok_or_else(|| format!("{key}: unterminated quote"))?;
                (&quoted[..end], &quoted[end + 1..])
            }
            None => after.split_once(' ').unwrap_or((after, "")),
        };
        out.push((key.trim().to_owned(), value.to_owned()));
        rest = after.trim_start();
    }
    Ok(out)
}

/// Parses a duration like `90s`, `30m`, `1h`.
fn parse_duration(text: &str) -> Option<Duration> {
    let (number, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit())?);
    let number: u64 = number.parse().ok()?;
    let secs = match unit {
        "s" => number,
        "m" => number.checked_mul(60)?,
        "h" => number.checked_mul(3600)?,
        "d" => number.checked_mul(24 * 3600)?,
        _ => return None,
    };
    (secs > 0 && secs <= CYCLE_SECS_MAX).then(|| Duration::from_secs(secs))
}

/// Parses a deep scan speed such as `32MiB` (bytes per second).
fn parse_speed(text: &str) -> Option<u64> {
    let (number, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit())?);
    let (_, scale) = SIZE_UNITS.iter().find(|(name, _)| *name == unit)?;
    let bytes = number.parse::<u64>().ok()?.checked_mul(*scale)?;
    (bytes > 0 && bytes <= DEEP_SPEED_BYTES_PER_SEC_MAX).then_some(bytes)
}

fn format_speed(bytes: u64) -> String {
    let (name, scale) =
        SIZE_UNITS.iter().find(|(_, scale)| bytes.is_multiple_of(*scale)).expect("every count is a multiple of 1 B");
    format!("{}{name}", bytes / scale)
}

fn format_duration(duration: Duration) -> String {
    let secs = duration.as_secs();
    if secs.is_multiple_of(3600) {
        format!("{}h", secs / 3600)
    } else if secs.is_multiple_of(60) {
        format!("{}m", secs / 60)
    } else {
        format!("{secs}s")
    }
}

/// Checks one setting; the message says what would be valid.
fn validate(subsystem: &str, key: &str, value: &str) -> Result<(), String> {
    check_known(subsystem, Some(key))?;
    let base = subsystem.split(':').next().unwrap_or_default();
    match (base, key) {
        ("region", "name") => {
            let ok = !value.is_empty()
                && value.len() <= REGION_CHARS_MAX
                && value.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            if ok { Ok(()) } else { Err(format!("region name={value:?}: use lowercase letters, digits and -")) }
        }
        ("scanner", "speed") => {
            if SPEEDS.iter().any(|(name, _)| *name == value) {
                Ok(())
            } else {
                Err(format!("scanner speed={value:?}: use fastest, fast, default, slow or slowest"))
            }
        }
        ("scanner", "cycle") | ("api", _) => parse_duration(value)
            .map(|_| ())
            .ok_or_else(|| format!("{subsystem} {key}={value:?}: use e.g. 90s, 30m, 1h; at most 30 days")),
        ("scanner", "deep") => (value == "off" || parse_duration(value).is_some())
            .then_some(())
            .ok_or_else(|| format!("scanner deep={value:?}: use e.g. 12h, 7d, 30d (at most 30 days) or off")),
        ("scanner", "deep_speed") => parse_speed(value).map(|_| ()).ok_or_else(|| {
            format!("scanner deep_speed={value:?}: bytes per second, e.g. 512KiB, 32MiB, 1GiB (at most 100GiB)")
        }),
        ("compression", "enable" | "allow_encryption") => {
            parse_switch(value).map(|_| ()).ok_or_else(|| format!("compression {key}={value:?}: use on or off"))
        }
        ("compression", "extensions") => check_list(value, |ext| ext.starts_with('.') && ext.len() > 1)
            .map_err(|item| format!("compression extensions: {item:?} is not an extension like .txt")),
        ("compression", "mime_types") => check_list(value, |t| {
            let (kind, sub) = t.split_once('/').unwrap_or_default();
            !kind.is_empty() && !sub.is_empty() && !kind.contains('*') && !sub[..sub.len() - 1].contains('*')
        })
        .map_err(|item| format!("compression mime_types: {item:?} is not a type like text/csv or text/*")),
        (WEBHOOK, "enable") => {
            parse_switch(value).map(|_| ()).ok_or_else(|| format!("{subsystem} enable={value:?}: use on or off"))
        }
        (WEBHOOK, "endpoint") => cairn_notify::parse_endpoint(value).map(|_| ()),
        (WEBHOOK, "queue_dir") => cairn_notify::parse_queue_dir(value).map(|_| ()),
        (WEBHOOK, "queue_limit") => cairn_notify::parse_queue_limit(value).map(|_| ()),
        _ => Ok(()),
    }
}

/// Parses `on`/`off` (MinIO also writes `true`/`false`).
fn parse_switch(value: &str) -> Option<bool> {
    match value {
        "on" | "true" => Some(true),
        "off" | "false" => Some(false),
        _ => None,
    }
}

/// The items of a comma-separated list (empty items dropped).
fn list_items(value: &str) -> Vec<String> {
    value.split(',').map(str::trim).filter(|item| !item.is_empty()).map(str::to_owned).collect()
}

/// Checks every item of a comma-separated list; returns the first bad one.
fn check_list(value: &str, valid: impl Fn(&str) -> bool) -> Result<(), String> {
    if value.len() > COMPRESSION_LIST_CHARS_MAX {
        return Err(format!("a list of {} characters (at most {COMPRESSION_LIST_CHARS_MAX})", value.len()));
    }
    match list_items(value).into_iter().find(|item| !valid(item) || item.contains(char::is_whitespace)) {
        Some(bad) => Err(bad),
        None => Ok(()),
    }
}

/// The compression rule `kv` sets (MinIO's defaults for what it leaves out).
fn compression_rule(kv: &Kv) -> CompressionRule {
    let section = kv.get("compression");
    let get = |key: &str| section.and_then(|s| s.get(key)).map(String::as_str);
    CompressionRule {
        enabled: get("enable").and_then(parse_switch).unwrap_or(false),
        extensions: list_items(get("extensions").unwrap_or(COMPRESSION_EXTENSIONS_DEFAULT)),
        mime_types: list_items(get("mime_types").unwrap_or(COMPRESSION_MIME_TYPES_DEFAULT)),
        allow_encryption: get("allow_encryption").and_then(parse_switch).unwrap_or(false),
    }
}

/// The webhook targets `kv` configures and enables (`enable` is on unless set off).
fn webhook_targets(kv: &Kv) -> Result<Vec<WebhookTarget>, String> {
    let mut targets = Vec::new();
    for (subsystem, keys) in kv.iter().filter(|(s, _)| s.split(':').next() == Some(WEBHOOK)) {
        if keys.get("enable").and_then(|v| parse_switch(v)) == Some(false) {
            continue;
        }
        let id = subsystem.split_once(':').map_or(cairn_notify::DEFAULT_TARGET_ID, |(_, id)| id);
        let endpoint = keys.get("endpoint").ok_or_else(|| format!("{subsystem}: an enabled target needs endpoint="))?;
        targets.push(WebhookTarget {
            id: id.to_owned(),
            endpoint: cairn_notify::parse_endpoint(endpoint)?,
            auth_token: keys.get("auth_token").filter(|t| !t.is_empty()).cloned(),
            queue_dir: keys
                .get("queue_dir")
                .filter(|d| !d.is_empty())
                .map(|d| cairn_notify::parse_queue_dir(d))
                .transpose()?,
            queue_limit: keys
                .get("queue_limit")
                .map(|l| cairn_notify::parse_queue_limit(l))
                .transpose()?
                .unwrap_or(cairn_notify::QUEUE_LIMIT_DEFAULT),
        });
    }
    Ok(targets)
}

/// The `notify_webhook` sections of `kv` as `get` and `export` show them: the token
/// redacted, `enable` explicit.
fn webhook_sections(kv: &Kv) -> Kv {
    kv.iter()
        .filter(|(s, _)| s.split(':').next() == Some(WEBHOOK))
        .map(|(subsystem, keys)| {
            let mut keys = keys.clone();
            if let Some(token) = keys.get_mut("auth_token").filter(|t| !t.is_empty()) {
                *token = REDACTED.to_owned();
            }
            keys.entry("enable".into()).or_insert_with(|| "on".into());
            (subsystem.clone(), keys)
        })
        .collect()
}

/// `kv` with every key of `over` set over it.
fn overlay(mut kv: Kv, over: &Kv) -> Kv {
    for (subsystem, keys) in over {
        kv.entry(subsystem.clone()).or_default().extend(keys.clone());
    }
    kv
}

/// Settings taken from the environment at start-up: webhook targets, as MinIO reads
/// them (`MINIO_NOTIFY_WEBHOOK_<KEY>[_<ID>]`, or `CAIRN_NOTIFY_WEBHOOK_...`).
#[derive(Debug, Default, Clone)]
pub struct EnvSettings(Kv);

/// The webhook keys as environment variables name them, longest first (so that
/// `QUEUE_LIMIT_X` is not read as a key `QUEUE` of target `LIMIT_X`).
const WEBHOOK_ENV_KEYS: [&str; 6] = ["AUTH_TOKEN", "QUEUE_LIMIT", "QUEUE_DIR", "ENDPOINT", "COMMENT", "ENABLE"];
/// Prefixes of the webhook variables.
const WEBHOOK_ENV_PREFIXES: [&str; 2] = ["CAIRN_NOTIFY_WEBHOOK_", "MINIO_NOTIFY_WEBHOOK_"];

impl EnvSettings {
    /// Reads webhook targets from `vars`; a variable Cairn cannot act on, or a bad
    /// value, is an error (the server does not start), as in the configuration.
    pub fn from_vars(vars: impl IntoIterator<Item = (String, String)>) -> Result<Self, String> {
        let mut kv = Kv::new();
        for (name, value) in vars {
            let Some(rest) = WEBHOOK_ENV_PREFIXES.iter().find_map(|p| name.strip_prefix(p)) else { continue };
            let found = WEBHOOK_ENV_KEYS.iter().find_map(|key| match rest.strip_prefix(key) {
                Some("") => Some((key.to_ascii_lowercase(), WEBHOOK.to_owned())),
                Some(id) => id.strip_prefix('_').map(|id| (key.to_ascii_lowercase(), format!("{WEBHOOK}:{id}"))),
                None => None,
            });
            let Some((key, subsystem)) = found else {
                return Err(format!("{name}: Cairn's webhook targets take {}", WEBHOOK_ENV_KEYS.join(", ")));
            };
            validate(&subsystem, &key, &value).map_err(|e| format!("{name}: {e}"))?;
            kv.entry(subsystem).or_default().insert(key, value);
        }
        webhook_targets(&kv).map_err(|e| format!("webhook targets in the environment: {e}"))?;
        Ok(Self(kv))
    }
}

/// Parses configuration text (lines of `subsystem key=value ...`; `#` comments).
fn parse(text: &str) -> Result<Kv, String> {
    let mut kv = Kv::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let (subsystem, rest) = line.split_once(' ').unwrap_or((line, ""));
        check_known(subsystem, None)?;
        let entry = kv.entry(subsystem.to_owned()).or_default();
        for (key, value) in pairs(rest)? {
            validate(subsystem, &key, &value)?;
            entry.insert(key, value);
        }
    }
    Ok(kv)
}

fn render(kv: &Kv) -> String {
    kv.iter()
        .map(|(subsystem, keys)| {
            let pairs: Vec<String> = keys.iter().map(|(k, v)| format!("{k}={v}")).collect();
            format!("{subsystem} {}\n", pairs.join(" "))
        })
        .collect()
}

impl ServerSettings {
    /// Loads the stored configuration, applies it, and follows changes made on any node.
    pub async fn open(
        store: ObjectStore,
        default_cycle: Duration,
        notifier: Arc<Notifier>,
        env: EnvSettings,
    ) -> Arc<Self> {
        let settings = Arc::new(Self {
            store,
            notifier,
            env: env.0,
            default_cycle,
            kv: RwLock::default(),
            stored: RwLock::default(),
        });
        // The defaults and the environment's targets hold until a stored configuration
        // is read (a reload applies only what changed, and none may be stored).
        settings.apply(&Kv::new());
        if let Err(error) = settings.reload().await {
            tracing::warn!(%error, "cannot read the server configuration yet; using defaults");
        }
        tokio::spawn(poll(Arc::downgrade(&settings)));
        settings
    }

    async fn reload(&self) -> Result<(), String> {
        let stored = self.store.get_config(CONFIG_KEY).await.map_err(|e| e.to_string())?;
        if *self.stored.read().map_err(|e| e.to_string())? == stored {
            return Ok(());
        }
        let text = stored.as_ref().map(|b| String::from_utf8_lossy(b).into_owned()).unwrap_or_default();
        let kv = parse(&text)?;
        self.apply(&kv);
        if let Ok(mut current) = self.kv.write() {
            *current = kv;
        }
        if let Ok(mut current) = self.stored.write() {
            *current = stored;
        }
        Ok(())
    }

    fn apply(&self, kv: &Kv) {
        let scanner = kv.get("scanner");
        let speed = scanner.and_then(|s| s.get("speed")).map_or("default", String::as_str);
        let rate = SPEEDS.iter().find(|(name, _)| *name == speed).map_or(SCAN_OBJECTS_PER_SEC_DEFAULT, |(_, r)| *r);
        self.store.set_scan_rate(rate);
        let cycle = scanner.and_then(|s| s.get("cycle")).and_then(|c| parse_duration(c)).unwrap_or(self.default_cycle);
        self.store.set_scan_interval(cycle);
        let (expiry, interval) = stale_uploads(kv);
        self.store.set_stale_uploads(expiry, interval);
        let deep = match scanner.and_then(|s| s.get("deep")).map(String::as_str) {
            Some("off") => None,
            Some(value) => Some(parse_duration(value).unwrap_or(DEEP_SCAN_INTERVAL_DEFAULT)),
            None => Some(DEEP_SCAN_INTERVAL_DEFAULT),
        };
        let speed = scanner.and_then(|s| s.get("deep_speed")).and_then(|v| parse_speed(v));
        self.store.set_deep_scan(deep, speed.unwrap_or(DEEP_SCAN_BYTES_PER_SEC_DEFAULT));
        self.store.set_compression(compression_rule(kv));
        match webhook_targets(&overlay(kv.clone(), &self.env)) {
            Ok(targets) => self.notifier.configure(targets),
            Err(error) => tracing::error!(%error, "the stored webhook configuration is invalid; targets unchanged"),
        }
    }

    /// The webhook targets and their queues.
    pub fn notifier(&self) -> &Arc<Notifier> {
        &self.notifier
    }

    /// The region to report.
    pub fn region(&self) -> String {
        self.configured_region().unwrap_or_else(|| REGION_DEFAULT.to_owned())
    }

    /// The region set with `region name=`, if one is: requests signed for another are
    /// refused. None while unset (requests signed for any region are served).
    pub fn configured_region(&self) -> Option<String> {
        self.kv.read().ok().and_then(|kv| kv.get("region").and_then(|r| r.get("name")).cloned())
    }

    /// Every setting with its current value (defaults included), one line per subsystem.
    pub fn export(&self) -> String {
        let mut full = Kv::new();
        full.entry("region".into()).or_default().insert("name".into(), self.region());
        let kv = self.kv.read().map(|kv| kv.clone()).unwrap_or_default();
        let scanner = full.entry("scanner".into()).or_default();
        scanner.insert(
            "speed".into(),
            kv.get("scanner").and_then(|s| s.get("speed")).cloned().unwrap_or("default".into()),
        );
        let cycle = kv.get("scanner").and_then(|s| s.get("cycle")).cloned();
        scanner.insert("cycle".into(), cycle.unwrap_or_else(|| format_duration(self.default_cycle)));
        let deep = kv.get("scanner").and_then(|s| s.get("deep")).cloned();
        scanner.insert("deep".into(), deep.unwrap_or_else(|| format_duration(DEEP_SCAN_INTERVAL_DEFAULT)));
        let deep_speed = kv.get("scanner").and_then(|s| s.get("deep_speed")).cloned();
        scanner
            .insert("deep_speed".into(), deep_speed.unwrap_or_else(|| format_speed(DEEP_SCAN_BYTES_PER_SEC_DEFAULT)));
        let (expiry, interval) = stale_uploads(&kv);
        let api = full.entry("api".into()).or_default();
        api.insert("stale_uploads_expiry".into(), format_duration(expiry));
        api.insert("stale_uploads_cleanup_interval".into(), format_duration(interval));
        let rule = compression_rule(&kv);
        let compression = full.entry("compression".into()).or_default();
        compression.insert("enable".into(), if rule.enabled { "on" } else { "off" }.into());
        compression.insert("extensions".into(), rule.extensions.join(","));
        compression.insert("mime_types".into(), rule.mime_types.join(","));
        compression.insert("allow_encryption".into(), if rule.allow_encryption { "on" } else { "off" }.into());
        full.extend(webhook_sections(&kv));
        render(&full)
    }

    /// The lines of one subsystem: all its targets for `notify_webhook`, the one named
    /// for `notify_webhook:<id>`.
    pub fn get(&self, subsystem: &str) -> Result<String, String> {
        check_known(subsystem, None)?;
        let exact = subsystem.contains(':');
        let base = subsystem.split(':').next().unwrap_or_default();
        // Targets set in the environment show too (they win over stored ones).
        let text = if base == WEBHOOK {
            let stored = self.kv.read().map(|kv| kv.clone()).unwrap_or_default();
            render(&webhook_sections(&overlay(stored, &self.env)))
        } else {
            self.export()
        };
        let lines: String = text
            .lines()
            .filter(|line| {
                let name = line.split(' ').next().unwrap_or_default();
                if exact { name == subsystem } else { name.split(':').next() == Some(base) }
            })
            .map(|line| format!("{line}\n"))
            .collect();
        if lines.is_empty() && base != WEBHOOK {
            return Err(format!("unknown configuration subsystem {subsystem:?}; Cairn has {SUBSYSTEMS_TEXT}"));
        }
        Ok(lines)
    }

    /// Sets the keys given in `text` (merged into the current configuration), or with
    /// `replace`, replaces the whole configuration (an import). Invalid text changes nothing.
    pub async fn set(&self, text: &str, replace: bool) -> Result<(), String> {
        let changes = parse(text)?;
        let current = self.kv.read().map(|kv| kv.clone()).unwrap_or_default();
        let mut kv = if replace { Kv::new() } else { current.clone() };
        for (subsystem, mut keys) in changes {
            // The placeholder `get` and `export` show keeps the stored secret.
            if keys.get("auth_token").is_some_and(|t| t == REDACTED) {
                match current.get(&subsystem).and_then(|k| k.get("auth_token")) {
                    Some(token) => keys.insert("auth_token".into(), token.clone()),
                    None => return Err(format!("{subsystem}: auth_token={REDACTED} but no token is stored to keep")),
                };
            }
            kv.entry(subsystem).or_default().extend(keys);
        }
        webhook_targets(&kv)?;
        self.save(kv).await
    }

    /// Resets a subsystem (or one key of it) to its default.
    pub async fn reset(&self, text: &str) -> Result<(), String> {
        let (subsystem, key) = text.trim().split_once(' ').map_or((text.trim(), None), |(s, k)| (s, Some(k.trim())));
        let key = key.filter(|k| !k.is_empty());
        check_known(subsystem, key)?;
        let mut kv = self.kv.read().map(|kv| kv.clone()).unwrap_or_default();
        match key {
            Some(key) => {
                if let Some(keys) = kv.get_mut(subsystem) {
                    keys.remove(key);
                }
            }
            None => {
                kv.remove(subsystem);
            }
        }
        self.save(kv).await
    }

    async fn save(&self, kv: Kv) -> Result<(), String> {
        let text = Bytes::from(render(&kv));
        self.store.put_config(CONFIG_KEY, text).await.map_err(|e| e.to_string())?;
        self.reload().await
    }
}

/// The stale-upload expiry and cleanup interval `kv` sets, or the defaults.
fn stale_uploads(kv: &Kv) -> (Duration, Duration) {
    let api = kv.get("api");
    let duration = |key: &str| api.and_then(|a| a.get(key)).and_then(|v| parse_duration(v));
    (
        duration("stale_uploads_expiry").unwrap_or(STALE_UPLOADS_EXPIRY_DEFAULT),
        duration("stale_uploads_cleanup_interval").unwrap_or(STALE_UPLOADS_CLEANUP_INTERVAL_DEFAULT),
    )
}

/// Follows changes made through other nodes.
async fn poll(settings: Weak<ServerSettings>) {
    loop {
        tokio::time::sleep(Duration::from_millis(POLL_MS)).await;
        let Some(settings) = settings.upgrade() else { return };
        if let Err(error) = settings.reload().await {
            tracing::debug!(%error, "could not check the server configuration for changes");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_parses_validates_and_renders() {
        let kv = parse("# comment\nregion name=eu-west-1\nscanner speed=slow cycle=\"30m\"\n").expect("valid");
        assert_eq!(render(&kv), "region name=eu-west-1\nscanner cycle=30m speed=slow\n");
        assert!(parse("region name=EU").is_err());
        assert!(parse("scanner speed=ludicrous").is_err());
        assert!(parse("scanner deep=7d deep_speed=64MiB").is_ok());
        assert!(parse("scanner deep=off").is_ok());
        assert!(parse("scanner deep=31d").is_err(), "at most 30 days");
        assert!(parse("scanner deep_speed=fast").is_err());
        assert!(parse("scanner deep_speed=0MiB").is_err());
        assert_eq!(parse_speed("32MiB"), Some(32 << 20));
        assert_eq!(format_speed(DEEP_SCAN_BYTES_PER_SEC_DEFAULT), "32MiB");
        assert!(parse("scanner cycle=0s").is_err());
        assert!(parse("scanner cycle=2305843009213693952s").is_err(), "absurd cycles are refused, not wrapped");
        assert!(parse("notify_kafka enable=on").is_err(), "settings Cairn does not act on are refused");
        assert!(parse("scanner:1 speed=slow").is_err(), "only notify_webhook takes a target id");
        assert!(parse("region colour=blue").is_err());
        let kv = parse("api stale_uploads_expiry=2s").expect("valid");
        assert_eq!(stale_uploads(&kv), (Duration::from_secs(2), STALE_UPLOADS_CLEANUP_INTERVAL_DEFAULT));
        assert!(parse("api stale_uploads_expiry=soon").is_err());
        assert!(parse("api requests_max=10").is_err(), "api keys Cairn does not act on are refused");
        assert_eq!(parse_duration("90s"), Some(Duration::from_secs(90)));
        assert_eq!(format_duration(Duration::from_secs(3600)), "1h");
    }

    #[test]
    fn webhook_targets_follow_minio() {
        let kv = parse(
            "notify_webhook:1 endpoint=http://127.0.0.1:8080/hook auth_token=t0k queue_limit=50\n\
                        notify_webhook endpoint=https://hooks.example.com/\n\
                        notify_webhook:off endpoint=http://x/ enable=off",
        )
        .expect("valid");
        let targets = webhook_targets(&kv).expect("complete");
        assert_eq!(targets.len(), 2, "a target set off is not configured");
        assert_eq!((targets[0].id.as_str(), targets[0].queue_limit), ("_", cairn_notify::QUEUE_LIMIT_DEFAULT));
        assert_eq!(targets[1].arn(), "arn:minio:sqs::1:webhook");
        assert_eq!(targets[1].auth_token.as_deref(), Some("t0k"));
        assert!(webhook_targets(&parse("notify_webhook:2 queue_limit=5").expect("valid")).is_err(), "no endpoint");
        assert!(parse("notify_webhook:1 endpoint=ftp://x/").is_err());
        assert!(parse("notify_webhook:1 client_cert=/c.pem").is_err(), "keys Cairn does not act on are refused");
        assert!(parse("notify_webhook:a/b endpoint=http://x/").is_err());
        assert!(parse("notify_webhook:1 queue_dir=relative").is_err());
    }

    #[test]
    fn webhook_targets_come_from_the_environment_too() {
        let vars = [
            ("MINIO_NOTIFY_WEBHOOK_ENDPOINT_PRIMARY", "http://127.0.0.1:9/hook"),
            ("MINIO_NOTIFY_WEBHOOK_AUTH_TOKEN_PRIMARY", "tok"),
            ("CAIRN_NOTIFY_WEBHOOK_QUEUE_LIMIT_PRIMARY", "7"),
            ("MINIO_NOTIFY_WEBHOOK_ENDPOINT", "http://127.0.0.1:9/default"),
            ("MINIO_ROOT_USER", "ignored"),
        ];
        let env = EnvSettings::from_vars(vars.map(|(k, v)| (k.to_owned(), v.to_owned()))).expect("valid");
        let targets = webhook_targets(&env.0).expect("complete");
        assert_eq!(targets.len(), 2);
        assert_eq!((targets[1].id.as_str(), targets[1].queue_limit), ("PRIMARY", 7));
        assert_eq!(targets[1].auth_token.as_deref(), Some("tok"));
        assert_eq!(targets[0].id, "_");
        let bad = |name: &str, value: &str| EnvSettings::from_vars([(name.to_owned(), value.to_owned())]).is_err();
        assert!(bad("MINIO_NOTIFY_WEBHOOK_CLIENT_CERT_X", "/c.pem"), "keys Cairn does not act on");
        assert!(bad("MINIO_NOTIFY_WEBHOOK_ENDPOINT_X", "ftp://x/"));
        assert!(bad("MINIO_NOTIFY_WEBHOOK_QUEUE_LIMIT_X", "7"), "a target without an endpoint");
        let stored = parse("notify_webhook:PRIMARY endpoint=http://stored/ queue_limit=3").expect("valid");
        let merged = overlay(stored, &env.0);
        assert_eq!(merged["notify_webhook:PRIMARY"]["endpoint"], "http://127.0.0.1:9/hook", "the environment wins");
    }

    #[test]
    fn compression_settings_follow_minio() {
        let rule = compression_rule(&parse("compression enable=on").expect("valid"));
        assert!(rule.enabled);
        assert_eq!(rule.extensions.join(","), COMPRESSION_EXTENSIONS_DEFAULT);
        assert_eq!(rule.mime_types.join(","), COMPRESSION_MIME_TYPES_DEFAULT);
        let kv = parse("compression enable=on extensions=.txt,.log mime_types=text/*,application/json").expect("ok");
        let rule = compression_rule(&kv);
        assert_eq!((rule.extensions.len(), rule.mime_types.len()), (2, 2));
        let kv = parse("compression enable=on extensions=\"\" mime_types=\"\"").expect("empty lists");
        assert!(compression_rule(&kv).extensions.is_empty(), "both lists empty: every object");
        assert!(!compression_rule(&Kv::new()).enabled, "off by default");
        assert!(parse("compression enable=yes").is_err());
        assert!(parse("compression extensions=txt").is_err(), "an extension starts with a dot");
        assert!(parse("compression mime_types=text").is_err());
        assert!(parse("compression mime_types=*/json").is_err());
        assert!(!compression_rule(&kv).allow_encryption, "encrypted objects are not compressed by default");
        let kv = parse("compression enable=on allow_encryption=on").expect("valid");
        assert!(compression_rule(&kv).allow_encryption);
        assert!(parse("compression allow_encryption=maybe").is_err());
    }
}
