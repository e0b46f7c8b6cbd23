//! Drive formatting: every drive records the deployment it belongs to and its
//! slot in the set layout, so drives cannot be mixed up or joined to the wrong
//! cluster, and a fresh drive in a known slot is recognised as a replacement.

use crate::config::Layout;
use crate::{ObjectError, Result};
use bytes::Bytes;
use cairn_drive::{Drive, DriveError};
use cairn_meta::{FORMAT_VERSION, FormatFile};
use futures::future::join_all;
use std::sync::Arc;
use uuid::Uuid;

/// Name of the format file inside the system volume.
pub(crate) const FORMAT_FILE: &str = "format.json";

/// Reads every drive's format; creates a new deployment when no drive has one,
/// formats fresh drives into their slot, and refuses drives that belong elsewhere.
/// Returns the deployment id.
pub(crate) async fn load_or_create(drives: &[Arc<dyn Drive>], layout: &Layout) -> Result<Uuid> {
    let found = join_all(drives.iter().map(|drive| async move {
        match drive.read_sys_file(FORMAT_FILE).await {
            Ok(bytes) => FormatFile::decode(&bytes).map(Some).map_err(|e| {
                ObjectError::InvalidArgument(format!("drive {}: unreadable {FORMAT_FILE}: {e}", drive.endpoint()))
            }),
            Err(DriveError::FileNotFound) => Ok(None),
            Err(error) => Err(ObjectError::InvalidArgument(format!("drive {}: {error}", drive.endpoint()))),
        }
    }))
    .await;
    let formats = found.into_iter().collect::<Result<Vec<Option<FormatFile>>>>()?;

    let reference = match formats.iter().flatten().next() {
        Some(existing) => existing.clone(),
        None => FormatFile {
            version: FORMAT_VERSION,
            deployment_id: Uuid::new_v4(),
            this: Uuid::nil(),
            sets: (0..layout.sets).map(|_| (0..layout.drives_per_set).map(|_| Uuid::new_v4()).collect()).collect(),
        },
    };
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
    for (position, (drive, format)) in drives.iter().zip(&formats).enumerate() {
        let expected = reference.sets[position / layout.drives_per_set][position % layout.drives_per_set];
        match format {
            Some(format) if format.deployment_id != reference.deployment_id => {
                return Err(ObjectError::InvalidArgument(format!(
                    "drive {} belongs to deployment {}, not {}; refusing to mix deployments",
                    drive.endpoint(),
                    format.deployment_id,
                    reference.deployment_id
                )));
            }
            Some(format) if format.this != expected => {
                return Err(ObjectError::InvalidArgument(format!(
                    "drive {} was formatted for another slot; give the drives in their original order",
                    drive.endpoint()
                )));
            }
            Some(_) => {}
            None => {
                let mut own = reference.clone();
                own.this = expected;
                drive.write_sys_file(FORMAT_FILE, Bytes::from(own.encode())).await?;
                tracing::info!(drive = drive.endpoint(), deployment = %reference.deployment_id, "formatted drive");
            }
        }
    }
    Ok(reference.deployment_id)
}
