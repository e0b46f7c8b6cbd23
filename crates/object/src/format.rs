//! Drive formatting: every drive records the deployment it belongs to and its
//! slot in the set layout, so drives cannot be mixed up or joined to the wrong
//! cluster, and a fresh drive in a known slot is recognised as a replacement.
//!
//! In a cluster, nodes start in any order. The node holding the first drive creates
//! the format when every drive answers and none has one; the others wait until enough
//! drives carry it. At start-up a node formats only its own fresh drives: a drive that
//! is down or fresh on another node is that node's to format when it starts. An
//! on-demand heal, run on any node, formats the wiped drives of every node.

use crate::config::Layout;
use crate::{ObjectError, Result};
use bytes::Bytes;
use cairn_drive::{Drive, DriveError};
use cairn_meta::{FORMAT_VERSION, FormatFile};
use futures::future::join_all;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

/// Name of the format file inside the system volume.
pub(crate) const FORMAT_FILE: &str = "format.json";
/// Pause between looks at the drives while waiting for other nodes.
const FORMAT_RETRY_MS: u64 = 1_000;
/// Waiting attempts between two "still waiting" log lines.
const FORMAT_LOG_EVERY: u32 = 10;

/// What one drive holds.
enum Found {
    Formatted(FormatFile),
    Fresh,
    /// A remote drive that does not answer (yet), and why.
    Unreachable(String),
}

async fn read_format(drive: &Arc<dyn Drive>) -> Result<Found> {
    match drive.read_sys_file(FORMAT_FILE).await {
        Ok(bytes) => FormatFile::decode(&bytes).map(Found::Formatted).map_err(|e| {
            ObjectError::InvalidArgument(format!("drive {}: unreadable {FORMAT_FILE}: {e}", drive.endpoint()))
        }),
        Err(DriveError::FileNotFound) => Ok(Found::Fresh),
        Err(error) if !drive.is_local() => Ok(Found::Unreachable(format!("{}: {error}", drive.endpoint()))),
        Err(error) => Err(ObjectError::InvalidArgument(format!("drive {}: {error}", drive.endpoint()))),
    }
}

/// Reads every drive's format, waiting for other nodes as needed; creates a new
/// deployment when `creates_format` and no drive has one; formats this node's fresh
/// drives into their slot; refuses drives that belong elsewhere. Returns the deployment id.
/// `deployment` is the id the first pool has, when this is a later pool.
pub(crate) async fn load_or_create(
    drives: &[Arc<dyn Drive>],
    layout: &Layout,
    creates_format: bool,
    deployment: Option<Uuid>,
) -> Result<Uuid> {
    let mut attempt = 0u32;
    let (reference, found) = loop {
        let found = join_all(drives.iter().map(read_format)).await.into_iter().collect::<Result<Vec<Found>>>()?;
        if let Some(reference) = choose_reference(&found, layout) {
            break (reference, found);
        }
        let all_fresh = found.iter().all(|f| matches!(f, Found::Fresh));
        if all_fresh && creates_format {
            let reference = FormatFile {
                version: FORMAT_VERSION,
                deployment_id: deployment.unwrap_or_else(Uuid::new_v4),
                this: Uuid::nil(),
                sets: (0..layout.sets).map(|_| (0..layout.drives_per_set).map(|_| Uuid::new_v4()).collect()).collect(),
            };
            tracing::info!(deployment = %reference.deployment_id, "creating a new deployment");
            break (reference, found);
        }
        if attempt.is_multiple_of(FORMAT_LOG_EVERY) {
            let answering = found.iter().filter(|f| !matches!(f, Found::Unreachable(_))).count();
            let example =
                found.iter().find_map(|f| if let Found::Unreachable(why) = f { Some(why.as_str()) } else { None });
            tracing::info!(
                answering,
                drives = drives.len(),
                unreachable = example.unwrap_or("none"),
                "waiting for the other nodes' drives to form the cluster"
            );
        }
        attempt += 1;
        tokio::time::sleep(Duration::from_millis(FORMAT_RETRY_MS)).await;
    };
    check_shape(&reference, layout)?;
    if let Some(expected) = deployment
        && reference.deployment_id != expected
    {
        return Err(ObjectError::InvalidArgument(format!(
            "a pool's drives belong to deployment {}, the first pool's to {expected}; refusing to mix deployments",
            reference.deployment_id
        )));
    }
    for (position, (drive, found)) in drives.iter().zip(&found).enumerate() {
        let expected = reference.sets[position / layout.drives_per_set][position % layout.drives_per_set];
        match found {
            Found::Formatted(format) if format.deployment_id != reference.deployment_id => {
                return Err(ObjectError::InvalidArgument(format!(
                    "drive {} belongs to deployment {}, not {}; refusing to mix deployments",
                    drive.endpoint(),
                    format.deployment_id,
                    reference.deployment_id
                )));
            }
            Found::Formatted(format) if format.this != expected => {
                return Err(ObjectError::InvalidArgument(format!(
                    "drive {} was formatted for another slot; give the drives in their original order",
                    drive.endpoint()
                )));
            }
            Found::Fresh if drive.is_local() || reference.this.is_nil() => {
                format_into_slot(drive, &reference, expected).await?;
            }
            // Opening the drive upgraded its layout (see `cairn_drive`); the version says so
            // to older builds, which refuse it instead of taking the drive for empty.
            Found::Formatted(format) if format.version < FORMAT_VERSION && drive.is_local() => {
                let upgraded = FormatFile { version: FORMAT_VERSION, ..format.clone() };
                drive.write_sys_file(FORMAT_FILE, Bytes::from(upgraded.encode())).await?;
                tracing::info!(drive = drive.endpoint(), from = format.version, to = FORMAT_VERSION, "format upgraded");
            }
            _ => {}
        }
    }
    Ok(reference.deployment_id)
}

/// Writes the deployment's format to a fresh drive, naming it the drive of slot `slot`.
async fn format_into_slot(drive: &Arc<dyn Drive>, reference: &FormatFile, slot: Uuid) -> Result<()> {
    let mut own = reference.clone();
    own.this = slot;
    own.version = FORMAT_VERSION;
    drive.write_sys_file(FORMAT_FILE, Bytes::from(own.encode())).await?;
    tracing::info!(drive = drive.endpoint(), deployment = %reference.deployment_id, "formatted drive");
    Ok(())
}

/// Formats the drives of one pool that lost their format while the store runs (wiped,
/// or swapped for an empty drive), on this node and on the others: each drive's own
/// node recreates its system volume (over node RPC for another node's drive), then the
/// drive gets the deployment's format naming its slot, as start-up does for fresh
/// drives. Without this such a drive stays down (every call fails) until its node
/// restarts. A drive that does not answer is left for later; one holding another
/// deployment's or another slot's format is left alone (a restart refuses it with a
/// message). Returns how many drives were formatted.
pub(crate) async fn heal_formats(drives: &[Arc<dyn Drive>], layout: &Layout, deployment: Uuid) -> Result<u64> {
    for (drive, made) in drives.iter().zip(join_all(drives.iter().map(|drive| drive.make_system_volume())).await) {
        if let Err(error) = made {
            tracing::warn!(drive = drive.endpoint(), %error, "cannot recreate the drive's system volume");
        }
    }
    let found = join_all(drives.iter().map(read_format)).await;
    let reference = found
        .iter()
        .find_map(|f| match f {
            Ok(Found::Formatted(format)) if format.deployment_id == deployment => Some(format.clone()),
            _ => None,
        })
        .ok_or(ObjectError::ReadQuorum)?;
    check_shape(&reference, layout)?;
    let mut formatted = 0;
    for (position, (drive, found)) in drives.iter().zip(&found).enumerate() {
        if matches!(found, Ok(Found::Fresh)) {
            let slot = reference.sets[position / layout.drives_per_set][position % layout.drives_per_set];
            match format_into_slot(drive, &reference, slot).await {
                Ok(()) => formatted += 1,
                Err(error) => tracing::warn!(drive = drive.endpoint(), %error, "cannot format a wiped drive"),
            }
        }
    }
    Ok(formatted)
}

/// The format to follow: the deployment most drives carry, once every set has a read
/// quorum of drives carrying it (so that a partial format in progress is not taken).
fn choose_reference(found: &[Found], layout: &Layout) -> Option<FormatFile> {
    let formats: Vec<&FormatFile> =
        found.iter().filter_map(|f| if let Found::Formatted(format) = f { Some(format) } else { None }).collect();
    let count = |id: Uuid| formats.iter().filter(|f| f.deployment_id == id).count();
    let best = formats.iter().max_by_key(|f| count(f.deployment_id))?;
    let enough = found.chunks(layout.drives_per_set).all(|set| {
        set.iter().filter(|f| matches!(f, Found::Formatted(f) if f.deployment_id == best.deployment_id)).count()
            >= layout.read_quorum()
    });
    // A single node's drives all answer: whatever is formatted there is the deployment.
    let all_answer = found.iter().all(|f| !matches!(f, Found::Unreachable(_)));
    (enough || all_answer).then(|| (*best).clone())
}

fn check_shape(reference: &FormatFile, layout: &Layout) -> Result<()> {
    let shape: Vec<usize> = reference.sets.iter().map(Vec::len).collect();
    if shape != vec![layout.drives_per_set; layout.sets] {
        return Err(ObjectError::InvalidArgument(format!(
            "the drives were formatted as {} set(s) of {:?} drives, but the command line gives {} set(s) of {}; start with the original drive list",
            shape.len(),
            shape,
            layout.sets,
            layout.drives_per_set
        )));
    }
    Ok(())
}
