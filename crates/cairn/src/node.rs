//! This node's part of the deployment: which drive arguments are its own, the drives
//! (local folders and other nodes' drives over RPC), the RPC service and the lock
//! service it offers its peers.

use cairn_cluster::topology::{self, Endpoint, Topology};
use cairn_cluster::{DistLocks, Granter, LockOptions, LockTable, Peer, RemoteDrive, RpcService, TokenKey};
use cairn_drive::{Drive, LocalDrive, LocalDriveOptions};
use cairn_object::Layout;
use cairn_tls::NodeTls;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs, UdpSocket};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The folder of event queues in a drive's system folder.
const EVENTS_FOLDER: &str = "events";

/// Everything this node runs besides the store itself.
pub struct Node {
    /// The store's drives: per pool, in erasure-set order.
    pub pools: Vec<Vec<Arc<dyn Drive>>>,
    /// Serves this node's drives and locks to peers (clusters only).
    pub rpc: Option<Arc<RpcService>>,
    /// Quorum locks over every node (clusters only).
    pub locks: Option<DistLocks>,
    /// The other nodes.
    pub peers: Vec<Arc<Peer>>,
    /// Per pool: this node creates the pool's format when it is brand new.
    pub creates_format: Vec<bool>,
    /// The parsed command line.
    pub topology: Topology,
    /// Where this node queues bucket notifications (webhook targets without a
    /// `queue_dir`): in its first local drive's system folder, so that they survive a
    /// restart with the drive (a pod's volume).
    pub events_dir: PathBuf,
}

/// True when `host:port` names this node, listening on `listen`: the port matches and
/// the host is this machine's name, or resolves to the listening address (or, when
/// listening on every interface, to an address of this machine).
pub fn is_local(host: &str, port: u16, listen: SocketAddr) -> bool {
    if port != listen.port() {
        return false;
    }
    let hostname = rustix::system::uname().nodename().to_string_lossy().into_owned();
    if listen.ip().is_unspecified() && host.split('.').next() == Some(hostname.as_str()) {
        return true;
    }
    let addresses: Vec<IpAddr> =
        (host, port).to_socket_addrs().map(|a| a.map(|s| s.ip()).collect()).unwrap_or_default();
    if listen.ip().is_unspecified() {
        // An address can be bound only if it belongs to this machine.
        addresses.iter().any(|ip| UdpSocket::bind((*ip, 0)).is_ok())
    } else {
        addresses.contains(&listen.ip())
    }
}

/// Builds this node from the drive arguments; with `tls`, it serves TLS and calls its
/// peers over TLS.
pub async fn build(
    args: &[String],
    listen: SocketAddr,
    parity: Option<usize>,
    token: &TokenKey,
    tls: Option<&Arc<NodeTls>>,
) -> Result<Node, String> {
    let topology =
        topology::parse(args, listen.port(), |host, port| is_local(host, port, listen)).map_err(|e| e.to_string())?;
    check_scheme(&topology, tls)?;
    let peer_tls = tls.map(NodeTls::client_config);
    for (index, endpoints) in topology.pools.iter().enumerate() {
        let layout = Layout::for_drives(endpoints.len(), parity).map_err(|e| format!("pool {}: {e}", index + 1))?;
        topology::check_spread(index, endpoints, layout.drives_per_set, layout.parity).map_err(|e| e.to_string())?;
    }
    let peers: HashMap<String, Arc<Peer>> = topology
        .peers()
        .into_iter()
        .map(|authority| (authority.clone(), Peer::new(&authority, token.clone(), peer_tls.clone())))
        .collect();
    let drive_options = LocalDriveOptions::from_env()?;
    // Every local drive at once, off the async workers and within the drive deadline.
    let local_endpoints = topology.pools.iter().flatten().filter(|endpoint| endpoint.local);
    let mut opened = futures::future::join_all(local_endpoints.map(|endpoint| {
        let (path, options) = (PathBuf::from(&endpoint.path), drive_options.clone());
        LocalDrive::open_async(path, options)
    }))
    .await
    .into_iter();
    let mut pools: Vec<Vec<Arc<dyn Drive>>> = Vec::with_capacity(topology.pools.len());
    let mut local: HashMap<String, Arc<dyn Drive>> = HashMap::new();
    for endpoints in &topology.pools {
        let mut drives: Vec<Arc<dyn Drive>> = Vec::with_capacity(endpoints.len());
        for endpoint in endpoints {
            let drive: Arc<dyn Drive> = if endpoint.local {
                let drive: Arc<dyn Drive> = Arc::new(
                    opened
                        .next()
                        .expect("one open per local drive")
                        .map_err(|e| format!("drive {}: {e}", endpoint.url))?,
                );
                local.insert(endpoint.path.clone(), Arc::clone(&drive));
                drive
            } else {
                Arc::new(RemoteDrive::new(peer_of(&peers, endpoint)?, &endpoint.path))
            };
            drives.push(drive);
        }
        pools.push(drives);
    }
    let peer_list: Vec<Arc<Peer>> = topology.peers().iter().filter_map(|a| peers.get(a).cloned()).collect();
    let (rpc, locks) = if topology.distributed {
        let options = lock_options()?;
        let table = Arc::new(LockTable::new(options.lease));
        let granters = peer_list.iter().map(|peer| Granter::Remote(Arc::clone(peer))).collect();
        let locks = DistLocks::new(Arc::clone(&table), granters, options);
        let rpc = RpcService::new(local, token.clone(), table).with_test_ack_delay(env_millis(TEST_ACK_DELAY_ENV)?);
        (Some(Arc::new(rpc)), Some(locks))
    } else {
        (None, None)
    };
    let creates_format = topology.pools.iter().map(|pool| pool.first().is_some_and(|e| e.local)).collect();
    let first_local = topology.pools.iter().flatten().find(|e| e.local).ok_or("this node has no drive of its own")?;
    let events_dir = PathBuf::from(&first_local.path).join(cairn_drive::SYSTEM_VOLUME).join(EVENTS_FOLDER);
    Ok(Node { pools, rpc, locks, peers: peer_list, creates_format, topology, events_dir })
}

/// Drive URLs say how nodes talk: `https://` needs this node to serve TLS, `http://`
/// needs it not to (its port speaks only one of them, and so do its peers').
fn check_scheme(topology: &Topology, tls: Option<&Arc<NodeTls>>) -> Result<(), String> {
    match (topology.distributed, topology.tls, tls) {
        (true, true, None) => {
            Err("the drive URLs are https:// but this node has no certificate: put public.crt and private.key in its \
             certs folder (--certs-dir), or write the URLs as http://"
                .into())
        }
        (true, false, Some(tls)) => Err(format!(
            "this node serves TLS (certificate in {}) but the drive URLs are http://: write them as https://",
            tls.dir().display()
        )),
        _ => Ok(()),
    }
}

/// Tests only: the lock lease in milliseconds (every node of a cluster must get the same).
const TEST_LOCK_LEASE_ENV: &str = "CAIRN_TEST_LOCK_LEASE_MS";
/// Tests only: how long a writer holds a write lock unused before it commits.
const TEST_LOCK_HOLD_ENV: &str = "CAIRN_TEST_LOCK_HOLD_MS";

/// Tests only: how long this node waits before acknowledging a shard file a peer sent (a slow disk).
const TEST_ACK_DELAY_ENV: &str = "CAIRN_TEST_RPC_ACK_DELAY_MS";

/// A whole number of milliseconds from `name`, if set and not empty.
fn env_millis(name: &str) -> Result<Option<Duration>, String> {
    match std::env::var(name).ok().filter(|value| !value.is_empty()) {
        None => Ok(None),
        Some(value) => value
            .parse::<u64>()
            .ok()
            .filter(|ms| *ms > 0)
            .map(|ms| Some(Duration::from_millis(ms)))
            .ok_or_else(|| format!("{name}={value:?}: give a whole number of milliseconds above 0")),
    }
}

/// The cluster's lock settings: the defaults, unless a test shortens the lease or holds locks.
fn lock_options() -> Result<LockOptions, String> {
    let mut options = LockOptions::default();
    if let Some(lease) = env_millis(TEST_LOCK_LEASE_ENV)? {
        tracing::warn!(
            lease_ms = lease.as_millis() as u64,
            "{TEST_LOCK_LEASE_ENV} is set: lock leases are not the default (tests only)"
        );
        options.lease = lease;
    }
    options.test_hold = env_millis(TEST_LOCK_HOLD_ENV)?;
    Ok(options)
}

fn peer_of(peers: &HashMap<String, Arc<Peer>>, endpoint: &Endpoint) -> Result<Arc<Peer>, String> {
    endpoint
        .authority
        .as_ref()
        .and_then(|authority| peers.get(authority))
        .cloned()
        .ok_or_else(|| format!("{}: no node for this drive", endpoint.url))
}
