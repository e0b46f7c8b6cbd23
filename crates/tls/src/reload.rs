//! Certificates follow their files, as MinIO's do: a node checks its certs folder every
//! [`RELOAD_CHECK_INTERVAL_SECS`] and reads it again when a file changed (a renewal by
//! certbot or cert-manager), and at once on SIGHUP. A version that cannot be used (a
//! key that does not match its certificate, half-written files) is logged and the
//! version in use stays; the check retries until the files are whole.

use crate::NodeTls;
use std::sync::Arc;
use std::time::Duration;

/// How often the certs folder is checked for changes, in seconds.
pub const RELOAD_CHECK_INTERVAL_SECS: u64 = 10;

/// Watches `tls`'s folder for the process's lifetime: reloads on change and on SIGHUP.
/// While it runs, SIGHUP no longer ends the process.
pub fn watch(tls: Arc<NodeTls>) {
    let mut hangup = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(signal) => Some(signal),
        Err(error) => {
            tracing::warn!(%error, "cannot listen for SIGHUP; certificates reload on change only");
            None
        }
    };
    tokio::spawn(async move {
        // Logged once per failing version of the files, not at every check.
        let mut failing = false;
        loop {
            let forced = tokio::select! {
                () = tokio::time::sleep(Duration::from_secs(RELOAD_CHECK_INTERVAL_SECS)) => false,
                Some(()) = async {
                    match hangup.as_mut() {
                        Some(signal) => signal.recv().await,
                        None => std::future::pending().await,
                    }
                } => true,
            };
            match tls.reload(forced) {
                Ok(true) => {
                    failing = false;
                    tracing::info!(dir = %tls.dir().display(), forced, "TLS certificates reloaded");
                }
                Ok(false) => {}
                Err(error) => {
                    if !failing || forced {
                        tracing::error!(%error, "cannot reload the TLS certificates; serving the previous ones");
                    }
                    failing = true;
                }
            }
        }
    });
}
