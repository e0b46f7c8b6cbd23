//! Fencing: the drive calls that change what readers see (commit, finish, undo, delete)
//! land only where the caller's write lock still holds. A holder that stalled longer
//! than a lease (a paused process, a partition) may have lost its lock to another
//! writer without knowing it; its late calls must not replace or delete that writer's
//! data.
//!
//! A call is fenced by the node that serves the drive: it pins the lease of `(name,
//! owner)` in its own lock table for the length of the call (so the lease cannot pass
//! to another writer mid-call) or refuses the call when the lease is gone. Each node's
//! table grants a write lease to one owner at a time, so the fenced calls of two
//! writers never run on one node at once, and a writer whose leases expired has all
//! its fenced calls refused: refused commits count as failed drives, so it cannot
//! reach a write quorum.
//!
//! For a drive of this node the object layer pins the local table itself. For a drive
//! of another node the fence travels with the call: the object layer runs the calls in
//! a [`scope`], `RemoteDrive` adds the fence to every drive call it makes inside one
//! (the `x-cairn-fence` header, covered by the call's token), and the serving node's
//! RPC service pins its table around the call.

use cairn_drive::DriveError;
use std::future::Future;
use uuid::Uuid;

/// A write lock's identity, as every node's lock table knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fence {
    /// The lock's name (`bucket/key`).
    pub name: String,
    /// The holder: a fresh id per acquisition, so a later holder never passes for an earlier one.
    pub owner: Uuid,
}

impl Fence {
    /// The header value: `<owner> <hex of the name>` (a name may hold any UTF-8).
    pub(crate) fn to_header(&self) -> String {
        format!("{} {}", self.owner, hex::encode(&self.name))
    }

    /// Parses [`Fence::to_header`]'s output; None when malformed.
    pub(crate) fn from_header(value: &str) -> Option<Fence> {
        let (owner, name) = value.split_once(' ')?;
        let name = String::from_utf8(hex::decode(name).ok()?).ok()?;
        Some(Fence { name, owner: owner.parse().ok()? })
    }
}

/// A fenced call refused because the node no longer grants the lock to its holder.
#[derive(Debug, thiserror::Error)]
#[error("the write lock on {name:?} is no longer held here (its lease expired or passed to another writer)")]
pub struct LockLost {
    /// The lock's name.
    pub name: String,
}

impl From<LockLost> for DriveError {
    fn from(error: LockLost) -> Self {
        DriveError::Io { op: "fenced drive call", source: std::io::Error::other(error) }
    }
}

tokio::task_local! {
    /// The fence of the drive calls made by the current task, if any.
    static CURRENT: Fence;
}

/// Runs `calls` with every remote drive call they make fenced by `fence`.
pub async fn scope<F: Future>(fence: Fence, calls: F) -> F::Output {
    CURRENT.scope(fence, calls).await
}

/// The fence of the current task's drive calls.
pub(crate) fn current() -> Option<Fence> {
    CURRENT.try_with(Fence::clone).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fences_survive_the_header() {
        let fence = Fence { name: "bucket/a key/ünïcode\n".into(), owner: Uuid::new_v4() };
        assert_eq!(Fence::from_header(&fence.to_header()), Some(fence));
        assert_eq!(Fence::from_header("not-a-uuid 6b"), None);
        assert_eq!(Fence::from_header("nospace"), None);
    }

    #[tokio::test]
    async fn the_fence_is_seen_inside_its_scope_only() {
        let fence = Fence { name: "b/k".into(), owner: Uuid::new_v4() };
        assert_eq!(current(), None);
        let seen = scope(fence.clone(), async { current() }).await;
        assert_eq!(seen, Some(fence));
        assert_eq!(current(), None);
    }
}
