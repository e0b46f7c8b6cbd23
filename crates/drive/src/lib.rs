//! `cairn-drive`: the `Drive` trait and `LocalDrive`, the only code in Cairn that
//! touches the filesystem.
//!
//! A drive is one folder (one disk in production). Everything above this crate
//! speaks in volumes (buckets, plus the system volume) and validated object keys;
//! this crate turns them into paths, refuses anything that could escape the drive
//! root, and commits data by staging, fsync and rename so that a crash never
//! leaves a half-written object visible.
//!
//! Layout of a drive (see docs/architecture.md):
//! ```text
//! <root>/.cairn.sys/format.json
//! <root>/.cairn.sys/index.redb                metadata of every object, pending commits
//! <root>/.cairn.sys/tmp/<uuid>/...            staging, removed at start-up
//! <root>/.cairn.sys/multipart/<bucket>/<upload-id>/...
//! <root>/.cairn.sys/buckets/<bucket>.meta
//! <root>/<bucket>/<key...>/<data-dir-uuid>__XLDATA__/part.N
//! ```

mod api;
mod error;
pub mod inspect;
mod local;
mod path;
mod pending;

pub use api::{
    CommitRequest, DataDirRefs, DiskInfo, Drive, OrphanSweep, PartSource, ShardReader, ShardWriter, VolumeInfo,
    WalkChunk, WalkEntry, WalkOptions,
};
pub use error::DriveError;
pub use local::{DRIVE_CALL_TIMEOUT_DEFAULT, LocalDrive, LocalDriveOptions};
pub use path::{META_FILE_NAME, SYSTEM_VOLUME, validate_key, validate_sys_path};
pub use pending::{PendingCommit, UNDO_DIR};

/// Result type of every drive operation.
pub type Result<T> = std::result::Result<T, DriveError>;
