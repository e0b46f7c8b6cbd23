//! `cairn server`: opens the drives, formats or checks them, and serves S3.

use crate::credentials;
use crate::node;
use cairn_admin::ServerSettings;
use cairn_cluster::{Peer, RpcService, TokenKey};
use cairn_iam::Iam;
use cairn_object::{ObjectStore, SCAN_INTERVAL_DEFAULT, StoreOptions, parse_storage_class};
use cairn_s3::{ListenerLimits, Ready, ServerConfig, StoreSlot};
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// Arguments of `cairn server`.
#[derive(Debug, clap::Args)]
pub struct ServerArgs {
    /// Address of the S3 API, `host:port` or `:port` for every interface.
    #[arg(long, default_value = ":9000", env = "CAIRN_ADDRESS")]
    address: String,
    /// Address of the web console, `host:port` or `:port` for every interface.
    #[arg(long, default_value = ":9001", env = "CAIRN_CONSOLE_ADDRESS")]
    console_address: String,
    /// Drives: folders such as `./data/d{1...4}`, or for a cluster the same list of
    /// URLs on every node, such as `http://cairn-{0...2}.cairn:9000/data` (ellipses expand).
    #[arg(required = true, value_name = "DRIVE")]
    drives: Vec<String>,
    /// Most S3 connections served at once; more clients wait to be accepted.
    #[arg(long, env = "CAIRN_API_CONNECTIONS_MAX", default_value_t = cairn_s3::CONNECTIONS_MAX_DEFAULT)]
    api_connections_max: usize,
    /// Seconds an S3 connection may sit idle between requests before it is closed.
    #[arg(long, env = "CAIRN_API_IDLE_TIMEOUT_SECS", default_value_t = cairn_s3::IDLE_TIMEOUT_SECS_DEFAULT)]
    api_idle_timeout_secs: u64,
    /// Seconds a client may take to send a request's headers once it started them.
    #[arg(long, env = "CAIRN_API_HEADER_TIMEOUT_SECS", default_value_t = cairn_s3::HEADER_TIMEOUT_SECS_DEFAULT)]
    api_header_timeout_secs: u64,
    /// Seconds a request body may pause before the request fails (pauses only: slow
    /// but steady uploads are never cut off).
    #[arg(long, env = "CAIRN_API_BODY_STALL_TIMEOUT_SECS", default_value_t = cairn_s3::BODY_STALL_TIMEOUT_SECS_DEFAULT)]
    api_body_stall_timeout_secs: u64,
    /// Folder of TLS certificates, laid out as MinIO's: `public.crt`, `private.key`, and
    /// `CAs/` with extra trusted CA certificates (also `MINIO_CERTS_DIR`; default
    /// `~/.cairn/certs`). With a certificate, S3 and node RPC are served over TLS and
    /// drive URLs must be `https://`; without one, plain HTTP.
    #[arg(long, short = 'S', env = "CAIRN_CERTS_DIR", value_name = "DIR")]
    certs_dir: Option<PathBuf>,
    /// Seconds requests in flight may take to finish after SIGTERM or SIGINT.
    #[arg(long, env = "CAIRN_SHUTDOWN_GRACE_SECS", default_value_t = cairn_s3::SHUTDOWN_GRACE_SECS_DEFAULT)]
    shutdown_grace_secs: u64,
}

impl ServerArgs {
    /// The listener limits the arguments name; every one must be above zero.
    fn limits(&self) -> Result<ListenerLimits, String> {
        let seconds = |name: &str, value: u64| {
            if value == 0 { Err(format!("--{name} must be above 0")) } else { Ok(Duration::from_secs(value)) }
        };
        if self.api_connections_max == 0 {
            return Err("--api-connections-max must be above 0".into());
        }
        Ok(ListenerLimits {
            connections_max: self.api_connections_max,
            idle_timeout: seconds("api-idle-timeout-secs", self.api_idle_timeout_secs)?,
            header_timeout: seconds("api-header-timeout-secs", self.api_header_timeout_secs)?,
            body_stall_timeout: seconds("api-body-stall-timeout-secs", self.api_body_stall_timeout_secs)?,
        })
    }

    /// The certs folder, and whether the operator named it (a named folder must exist).
    fn certs_dir(&self) -> Option<(PathBuf, bool)> {
        if let Some(dir) = &self.certs_dir {
            return Some((dir.clone(), true));
        }
        if let Some(dir) = env_first(&["MINIO_CERTS_DIR"]) {
            return Some((PathBuf::from(dir), true));
        }
        std::env::home_dir().map(|home| (home.join(DEFAULT_CERTS_DIR), false))
    }
}

/// The certs folder under the home folder when none is named.
const DEFAULT_CERTS_DIR: &str = ".cairn/certs";

/// Loads the node's certificates, if its certs folder holds any, and follows them.
fn load_tls(args: &ServerArgs) -> Result<Option<Arc<cairn_tls::NodeTls>>, String> {
    let Some((dir, named)) = args.certs_dir() else { return Ok(None) };
    let tls = cairn_tls::NodeTls::load(&dir, named).map_err(|e| format!("TLS: {e}"))?;
    match &tls {
        Some(tls) => {
            tracing::info!(certs = %dir.display(), "serving TLS; certificates reload on change and on SIGHUP");
            cairn_tls::reload::watch(Arc::clone(tls));
        }
        None => tracing::info!(certs = %dir.display(), "no certificate in the certs folder; serving plain HTTP"),
    }
    Ok(tls)
}

/// Longest wait at shutdown for this node's distributed locks to be released on its peers.
const LOCK_RELEASE_WAIT_MS: u64 = 5_000;

/// Turns `:9000` into `0.0.0.0:9000`, as MinIO does.
pub fn parse_address(address: &str) -> Result<SocketAddr, String> {
    let full = if address.starts_with(':') { format!("0.0.0.0{address}") } else { address.to_owned() };
    full.parse().map_err(|_| format!("invalid address {address:?}; use host:port or :port"))
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("CAIRN_LOG")
        .or_else(|_| tracing_subscriber::EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // s3s dumps whole requests at debug level, headers included: SSE-C keys (and
    // signatures) must not reach a log, whatever level is asked for.
    let filter = filter.add_directive("s3s::service=info".parse().expect("a valid directive"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_ansi(ansi).with_writer(std::io::stderr).try_init();
}

/// Raises the open-file limit to its hard maximum: every connection and shard file is a descriptor.
fn raise_file_limit() {
    let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile);
    let raised = rustix::process::Rlimit { current: limit.maximum, maximum: limit.maximum };
    if let Err(error) = rustix::process::setrlimit(rustix::process::Resource::Nofile, raised) {
        tracing::warn!(%error, "cannot raise the open-file limit");
    }
}

fn env_first(names: &[&str]) -> Option<String> {
    names.iter().find_map(|name| std::env::var(name).ok()).filter(|v| !v.is_empty())
}

/// The master keys of SSE-S3: `CAIRN_KMS_SECRET_KEY` (or MinIO's
/// `MINIO_KMS_SECRET_KEY`), `name:base64` of 32 bytes, and the keys it replaced,
/// comma-separated in `CAIRN_KMS_SECRET_KEY_PREVIOUS` (they still open the object keys
/// they sealed until `cairn admin kms rotate` re-seals those). None: no SSE-S3.
fn keyring() -> Result<Option<Arc<cairn_object::sse::Keyring>>, String> {
    let Some(current) = env_first(&["CAIRN_KMS_SECRET_KEY", "MINIO_KMS_SECRET_KEY"]) else {
        if env_first(&["CAIRN_KMS_SECRET_KEY_PREVIOUS"]).is_some() {
            return Err("CAIRN_KMS_SECRET_KEY_PREVIOUS is set without CAIRN_KMS_SECRET_KEY".into());
        }
        return Ok(None);
    };
    let previous = env_first(&["CAIRN_KMS_SECRET_KEY_PREVIOUS"]).unwrap_or_default();
    let keyring = cairn_object::sse::Keyring::parse(&current, &previous).map_err(|e| e.to_string())?;
    tracing::info!(current = keyring.current_name(), keys = keyring.names().len(), "SSE-S3 master keys loaded");
    Ok(Some(Arc::new(keyring)))
}

/// Time between background scans: `CAIRN_SCANNER_INTERVAL_SECS`, or an hour.
fn scan_interval() -> Result<std::time::Duration, String> {
    match env_first(&["CAIRN_SCANNER_INTERVAL_SECS"]) {
        Some(value) => value
            .parse::<u64>()
            .ok()
            .filter(|secs| *secs > 0)
            .map(std::time::Duration::from_secs)
            .ok_or_else(|| format!("CAIRN_SCANNER_INTERVAL_SECS={value:?}: give a whole number of seconds above 0")),
        None => Ok(SCAN_INTERVAL_DEFAULT),
    }
}

/// Tests only: `CAIRN_TEST_LIFECYCLE_DAY_SECS` makes a lifecycle "day" that many
/// seconds, so that tests of lifecycle rules do not wait days. Refused in production
/// mode (`CAIRN_PRODUCTION=on`, which the container image sets): there a shortened day
/// would expire real data early.
fn lifecycle_day_secs(production: bool) -> Result<i64, String> {
    const NAME: &str = "CAIRN_TEST_LIFECYCLE_DAY_SECS";
    let Some(value) = env_first(&[NAME]) else { return Ok(cairn_object::lifecycle::DAY_SECS) };
    if production {
        return Err(format!(
            "{NAME} shortens lifecycle days for tests and is refused in production mode ({PRODUCTION_ENV}=on)"
        ));
    }
    let secs = value
        .parse::<i64>()
        .ok()
        .filter(|secs| *secs > 0)
        .ok_or_else(|| format!("{NAME}={value:?}: give a whole number of seconds above 0"))?;
    tracing::warn!(secs, "{NAME} is set: a lifecycle day lasts {secs} s (tests only)");
    Ok(secs)
}

/// Production mode: settings made for tests are refused.
const PRODUCTION_ENV: &str = "CAIRN_PRODUCTION";

/// Whether this server runs in production mode (`CAIRN_PRODUCTION` is `on`, `true` or `1`).
fn production_mode() -> Result<bool, String> {
    match env_first(&[PRODUCTION_ENV]).map(|v| v.to_ascii_lowercase()) {
        None => Ok(false),
        Some(value) if ["on", "true", "1"].contains(&value.as_str()) => Ok(true),
        Some(value) if ["off", "false", "0"].contains(&value.as_str()) => Ok(false),
        Some(value) => Err(format!("{PRODUCTION_ENV}={value:?}: give on or off")),
    }
}

/// Tests only: `CAIRN_TEST_ORPHAN_GRACE_SECS` shortens the age (an hour) below which the
/// scanner leaves data directories that no metadata names.
fn orphan_grace() -> Result<std::time::Duration, String> {
    match env_first(&["CAIRN_TEST_ORPHAN_GRACE_SECS"]) {
        Some(value) => value
            .parse::<u64>()
            .map(std::time::Duration::from_secs)
            .map_err(|_| format!("CAIRN_TEST_ORPHAN_GRACE_SECS={value:?}: give a whole number of seconds")),
        None => Ok(cairn_object::ORPHAN_GRACE_DEFAULT),
    }
}

fn log_ready(store: &ObjectStore, drives: usize) {
    let layout = store.layout();
    tracing::info!(
        deployment = %store.deployment_id(),
        pools = store.pool_count(),
        drives,
        sets = layout.sets,
        data = layout.data(),
        parity = layout.parity,
        "storage ready"
    );
}

/// Loads the identities, retrying while the store cannot serve them (a cluster that
/// just formed may still lack a read quorum for a moment). In a cluster, a change made
/// through this node is pushed to the others before the call that made it returns, and
/// the others' changes reload this node's view at once.
async fn open_iam(
    store: ObjectStore,
    root: &(String, String),
    scan_interval: std::time::Duration,
    cluster: Option<(Vec<Arc<Peer>>, Arc<RpcService>)>,
    (notifier, env): (Arc<cairn_notify::Notifier>, cairn_admin::EnvSettings),
) -> Ready {
    loop {
        match Iam::open(store.clone(), &root.0, &root.1).await {
            Ok(iam) => {
                if let Some((peers, rpc)) = &cluster {
                    store.set_bucket_change_notifier(bucket_change_notifier(peers.clone()));
                    let forgetting = store.clone();
                    rpc.set_bucket_changed(Box::new(move |bucket| forgetting.forget_bucket_config(bucket)));
                    iam.set_change_notifier(change_notifier(peers.clone()));
                    let weak = Arc::downgrade(&iam);
                    rpc.set_identities_reload(Box::new(move || {
                        let weak = weak.clone();
                        Box::pin(async move {
                            match weak.upgrade() {
                                Some(iam) => iam.reload_now().await,
                                None => false,
                            }
                        })
                    }));
                }
                let settings =
                    ServerSettings::open(store.clone(), scan_interval, Arc::clone(&notifier), env.clone()).await;
                return Ready { store, iam, settings };
            }
            Err(error) => {
                tracing::warn!(%error, "cannot load identities yet; retrying");
                tokio::time::sleep(std::time::Duration::from_millis(IAM_RETRY_MS)).await;
            }
        }
    }
}

/// Longest wait for a peer to reload the identities after a change through this node;
/// a peer that does not answer in time catches up at its next poll (within a second).
const IDENTITY_PUSH_TIMEOUT_MS: u64 = 2_000;

/// Asks every peer, at once, to reload the identities.
fn change_notifier(peers: Vec<Arc<Peer>>) -> cairn_iam::ChangeNotifier {
    Box::new(move || {
        let peers = peers.clone();
        Box::pin(async move {
            let calls = peers.iter().map(|peer| async move {
                let limit = Duration::from_millis(IDENTITY_PUSH_TIMEOUT_MS);
                match tokio::time::timeout(limit, peer.reload_identities()).await {
                    Ok(Ok(true)) => {}
                    // Still starting, or its store could not be read: its poll catches up.
                    Ok(Ok(false)) => {
                        tracing::info!(peer = peer.authority(), "a peer did not reload the identities now")
                    }
                    Ok(Err(error)) => {
                        tracing::debug!(peer = peer.authority(), %error, "a peer was not told of an identity change")
                    }
                    Err(_) => tracing::warn!(peer = peer.authority(), "a peer did not reload the identities in time"),
                }
            });
            futures::future::join_all(calls).await;
        })
    })
}

/// Tells every peer that a bucket's configuration changed, waiting at most
/// [`IDENTITY_PUSH_TIMEOUT_MS`] for each (a peer that does not hear of it reads the
/// configuration again within `BUCKET_CONFIG_TTL`).
fn bucket_change_notifier(peers: Vec<Arc<Peer>>) -> cairn_object::BucketChangeNotifier {
    Box::new(move |bucket| {
        let peers = peers.clone();
        Box::pin(async move {
            let calls = peers.iter().map(|peer| async {
                let limit = Duration::from_millis(IDENTITY_PUSH_TIMEOUT_MS);
                if !matches!(tokio::time::timeout(limit, peer.bucket_changed(&bucket)).await, Ok(Ok(true))) {
                    tracing::info!(
                        peer = peer.authority(),
                        bucket,
                        "a peer was not told of a bucket configuration change"
                    );
                }
            });
            futures::future::join_all(calls).await;
        })
    })
}

/// Pause between attempts to load the identities at start-up.
const IAM_RETRY_MS: u64 = 1_000;

/// Scans for what `peer` missed each time it comes back online.
async fn scan_when_back(peer: Arc<Peer>, store: ObjectStore) {
    let mut returns = peer.returns();
    while returns.changed().await.is_ok() {
        tracing::info!(peer = peer.authority(), "peer returned; scanning for objects it missed");
        store.request_scan();
    }
}

/// Runs the server until SIGINT or SIGTERM.
pub async fn run(args: ServerArgs) -> Result<(), String> {
    cairn_admin::mark_start();
    init_logging();
    raise_file_limit();
    let root = credentials::from_lookup(|name| std::env::var(name).ok()).map_err(|e| e.to_string())?;
    if root.is_default {
        tracing::warn!("=================================================================");
        tracing::warn!("WARNING: running with the well-known default credentials minioadmin:minioadmin.");
        tracing::warn!("Anyone can read and write every bucket. Set CAIRN_ROOT_USER and CAIRN_ROOT_PASSWORD.");
        tracing::warn!("=================================================================");
    }
    let parity = match env_first(&["CAIRN_STORAGE_CLASS_STANDARD", "MINIO_STORAGE_CLASS_STANDARD"]) {
        Some(value) => Some(parse_storage_class(&value).map_err(|e| e.to_string())?),
        None => None,
    };
    let address = parse_address(&args.address)?;
    let mut token = TokenKey::new(&root.access_key, &root.secret_key);
    if let Some((user, password)) = &root.previous {
        tracing::info!("root credentials are changing: peers using the previous ones are still accepted");
        token = token.with_previous(user, password);
    }
    let tls = load_tls(&args)?;
    let keyring = keyring()?;
    let node = node::build(&args.drives, address, parity, &token, tls.as_ref()).await?;
    let scan_every = scan_interval()?;
    let notifier = cairn_notify::Notifier::new(node.events_dir.clone());
    let env_settings = cairn_admin::EnvSettings::from_vars(std::env::vars())?;
    let options = StoreOptions {
        parity,
        cluster_locks: node.locks.clone(),
        creates_format: node.creates_format,
        scan_interval: scan_every,
        orphan_grace: orphan_grace()?,
        lifecycle_day_secs: lifecycle_day_secs(production_mode()?)?,
    };
    let root_keys = (root.access_key.clone(), root.secret_key.clone());
    let mut config = ServerConfig {
        domain: env_first(&["CAIRN_DOMAIN", "MINIO_DOMAIN"]),
        rpc: node.rpc.clone(),
        metrics_public: env_first(&["CAIRN_PROMETHEUS_AUTH_TYPE", "MINIO_PROMETHEUS_AUTH_TYPE"])
            .is_some_and(|kind| kind.eq_ignore_ascii_case("public")),
        node_name: args.address.clone(),
        peers: node.peers.clone(),
        limits: args.limits()?,
        shutdown_grace: Duration::from_secs(args.shutdown_grace_secs),
        tls: tls.as_ref().map(cairn_tls::NodeTls::server_config),
        console: cairn_s3::ConsoleOrigins::default(),
    };
    let slot: StoreSlot = Arc::default();
    let drive_count = node.pools.iter().map(Vec::len).sum();
    // A single node opens its drives before it answers; cluster nodes answer first, as
    // they form the deployment by reading each other's drives.
    if !node.topology.distributed {
        let store = ObjectStore::open_pools(node.pools.clone(), options.clone()).await.map_err(|e| e.to_string())?;
        store.set_keyring(keyring.clone());
        log_ready(&store, drive_count);
        let _ = slot.set(open_iam(store, &root_keys, scan_every, None, (notifier.clone(), env_settings.clone())).await);
    }
    let listener = TcpListener::bind(address).await.map_err(|e| format!("cannot listen on {address}: {e}"))?;
    let bound = listener.local_addr().map_err(|e| e.to_string())?;
    let console_address = parse_address(&args.console_address)?;
    let console_listener = TcpListener::bind(console_address)
        .await
        .map_err(|e| format!("cannot listen on {console_address} for the console: {e}"))?;
    let console_bound = console_listener.local_addr().map_err(|e| e.to_string())?;
    config.console =
        cairn_s3::ConsoleOrigins { public: crate::console::public_origin(), port: Some(console_bound.port()) };
    let console_config = crate::console::config(&root_keys, bound, tls.is_some(), config.tls.clone())?;
    // Printed on stdout so scripts and tests can find an ephemeral port.
    // A closed stdout (a pipe whose reader went away) must not stop the server.
    let scheme = if tls.is_some() { "https" } else { "http" };
    let _ = writeln!(std::io::stdout(), "API: {scheme}://{bound}");
    let _ = writeln!(std::io::stdout(), "Console: {scheme}://{console_bound}{}", console_config.base_path);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = stop.send(true);
    });
    let until_stopped = |mut stopped: tokio::sync::watch::Receiver<bool>| async move {
        let _ = stopped.wait_for(|stop| *stop).await;
    };
    let console = tokio::spawn(cairn_console::serve(
        console_listener,
        Arc::clone(&slot),
        console_config,
        until_stopped(stopped.clone()),
    ));
    if node.topology.distributed {
        let (slot, pools, peers) = (Arc::clone(&slot), node.pools, node.peers);
        let cluster = node.rpc.clone().map(|rpc| (peers.clone(), rpc));
        tokio::spawn(async move {
            match ObjectStore::open_pools(pools, options).await {
                Ok(store) => {
                    store.set_keyring(keyring);
                    log_ready(&store, drive_count);
                    for peer in peers {
                        tokio::spawn(scan_when_back(peer, store.clone()));
                    }
                    let _ = slot.set(open_iam(store, &root_keys, scan_every, cluster, (notifier, env_settings)).await);
                }
                Err(error) => {
                    tracing::error!(%error, "cannot join the cluster");
                    std::process::exit(1);
                }
            }
        });
    }
    let locks = node.locks.clone();
    cairn_s3::serve(listener, slot, config, until_stopped(stopped)).await.map_err(|e| e.to_string())?;
    match console.await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => tracing::warn!(%error, "the console stopped with an error"),
        Err(error) => tracing::warn!(%error, "the console task failed"),
    }
    // Requests have finished: give back the locks they (or background heals) held, so
    // peers need not wait for this node's leases to expire.
    if let Some(locks) = locks
        && !locks.close(Duration::from_millis(LOCK_RELEASE_WAIT_MS)).await
    {
        tracing::warn!("some distributed locks were still held at exit; their leases will expire");
    }
    tracing::info!("server stopped");
    Ok(())
}

async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
    tracing::info!("shutting down");
}

#[cfg(test)]
mod tests {
    use super::parse_address;

    #[test]
    fn addresses() {
        assert_eq!(parse_address(":9000").expect("valid").to_string(), "0.0.0.0:9000");
        assert_eq!(parse_address("127.0.0.1:0").expect("valid").port(), 0);
        assert!(parse_address("nonsense").is_err());
    }
}
