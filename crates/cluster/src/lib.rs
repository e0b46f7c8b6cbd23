//! `cairn-cluster`: what turns single-node Cairn into a cluster. The topology from
//! the command line, node RPC (authenticated with tokens derived from the root
//! credentials), `RemoteDrive` (a `Drive` on another node), the RPC service that
//! serves this node's drives to its peers, and quorum-based distributed locks.

pub mod ellipsis;
mod locks;
mod peer;
mod remote;
mod service;
mod token;
pub mod topology;
mod wire;

#[cfg(test)]
mod fuzz_tests;

pub use locks::{DistGuard, DistLocks, Granter, LOCK_LEASE_MS, LockTable};
pub use peer::Peer;
pub use remote::RemoteDrive;
pub use service::{MetricsSource, ResponseBody, RpcService};
pub use token::TokenKey;
pub use wire::RPC_PREFIX;
