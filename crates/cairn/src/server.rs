//! `cairn server`: opens the drives, formats or checks them, and serves S3.

use crate::credentials;
use crate::ellipsis;
use cairn_drive::{Drive, LocalDrive};
use cairn_object::{ObjectStore, parse_storage_class};
use cairn_s3::ServerConfig;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;

/// Arguments of `cairn server`.
#[derive(Debug, clap::Args)]
pub struct ServerArgs {
    /// Address of the S3 API, `host:port` or `:port` for every interface.
    #[arg(long, default_value = ":9000", env = "CAIRN_ADDRESS")]
    address: String,
    /// Address of the web console (not served yet; accepted so MinIO command lines work).
    #[arg(long, default_value = ":9001", env = "CAIRN_CONSOLE_ADDRESS")]
    console_address: String,
    /// Drives: folders such as `./data/d{1...4}` (ellipses expand).
    #[arg(required = true, value_name = "DRIVE")]
    drives: Vec<String>,
}

/// Turns `:9000` into `0.0.0.0:9000`, as MinIO does.
pub fn parse_address(address: &str) -> Result<SocketAddr, String> {
    let full = if address.starts_with(':') { format!("0.0.0.0{address}") } else { address.to_owned() };
    full.parse().map_err(|_| format!("invalid address {address:?}; use host:port or :port"))
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("CAIRN_LOG")
        .or_else(|_| tracing_subscriber::EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
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

/// Runs the server until SIGINT or SIGTERM.
pub async fn run(args: ServerArgs) -> Result<(), String> {
    init_logging();
    raise_file_limit();
    let root = credentials::from_lookup(|name| std::env::var(name).ok()).map_err(|e| e.to_string())?;
    if root.is_default {
        tracing::warn!("=================================================================");
        tracing::warn!("WARNING: running with the well-known default credentials minioadmin:minioadmin.");
        tracing::warn!("Anyone can read and write every bucket. Set CAIRN_ROOT_USER and CAIRN_ROOT_PASSWORD.");
        tracing::warn!("=================================================================");
    }
    let mut paths = Vec::new();
    for argument in &args.drives {
        if argument.contains("://") {
            return Err(format!(
                "{argument}: URL drives need a cluster, which this build does not support yet; give local folders"
            ));
        }
        paths.extend(ellipsis::expand(argument).map_err(|e| e.to_string())?);
    }
    let mut drives: Vec<Arc<dyn Drive>> = Vec::with_capacity(paths.len());
    for path in &paths {
        let drive = LocalDrive::open(path).map_err(|e| format!("drive {path}: {e}"))?;
        drives.push(Arc::new(drive));
    }
    let parity = match env_first(&["CAIRN_STORAGE_CLASS_STANDARD", "MINIO_STORAGE_CLASS_STANDARD"]) {
        Some(value) => Some(parse_storage_class(&value).map_err(|e| e.to_string())?),
        None => None,
    };
    let store = ObjectStore::open(drives, parity).await.map_err(|e| e.to_string())?;
    let layout = store.layout();
    tracing::info!(
        deployment = %store.deployment_id(),
        drives = paths.len(),
        sets = layout.sets,
        data = layout.data(),
        parity = layout.parity,
        "storage ready"
    );
    let address = parse_address(&args.address)?;
    let listener = TcpListener::bind(address).await.map_err(|e| format!("cannot listen on {address}: {e}"))?;
    let bound = listener.local_addr().map_err(|e| e.to_string())?;
    tracing::info!(console = %args.console_address, "the web console is not part of this build yet");
    // Printed on stdout so scripts and tests can find an ephemeral port.
    println!("API: http://{bound}");
    let config = ServerConfig {
        access_key: root.access_key,
        secret_key: root.secret_key,
        domain: env_first(&["CAIRN_DOMAIN", "MINIO_DOMAIN"]),
    };
    cairn_s3::serve(listener, store, config, shutdown_signal()).await.map_err(|e| e.to_string())?;
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
