//! `cairn-cluster`: what turns single-node Cairn into a cluster. The topology from
//! the command line, node RPC (authenticated with tokens derived from the root
//! credentials), `RemoteDrive` (a `Drive` on another node), the RPC service that
//! serves this node's drives to its peers, and quorum-based distributed locks.

pub mod ellipsis;
mod fence;
mod handles;
mod locks;
mod peer;
mod remote;
mod service;
mod stream;
mod token;
pub mod topology;
mod wire;

#[cfg(test)]
mod fuzz_tests;

pub use fence::{Fence, LockLost};
pub use handles::{READ_HANDLES_OPEN_MAX, TooManyHandles};
pub use locks::{DistGuard, DistLocks, Granter, LOCK_LEASE_MS, LeasePin, LockOptions, LockTable};
pub use peer::{CALL_TIMEOUT_BASE_MS, OFFLINE_AFTER_MS, Peer, TRANSFER_RATE_BYTES_PER_SEC_MIN, scope_of};
pub use remote::RemoteDrive;
pub use service::{BucketChanged, MetricsSource, ReloadIdentities, ResponseBody, RpcService};
pub use token::{Issued, REPLAY_CACHE_ENTRIES_MAX, STREAM_BODY, TOKEN_SKEW_SECS_MAX, TokenKey, body_digest};
pub use wire::{
    HEADER_BODY, HEADER_NONCE, HEADER_TIME, HEADER_TOKEN, PATH_HEALTH, PATH_LOCK, PATH_METRICS, RPC_PREFIX,
};
