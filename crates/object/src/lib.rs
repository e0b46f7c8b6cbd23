//! `cairn-object`: the object layer. It turns drives into erasure sets and sets
//! into one namespace of buckets and objects, and implements every object
//! operation the same way: lock, read metadata from all drives, reduce to a
//! quorum answer, write to staging, commit by rename on a write quorum.
//!
//! It knows nothing of HTTP; the S3 front maps [`ObjectError`] to S3 codes.

mod body;
mod bucket_config;
mod compress;
mod config;
mod cpu;
mod encryption;
mod error;
mod format;
mod heal_run;
mod ilm;
pub mod lifecycle;
mod list;
mod list_versions;
mod lock;
mod pages;
mod pools;
mod quorum;
mod quota;
pub mod retention;
mod scanner;
mod set;
pub mod sse;
mod store;
mod system;
mod types;
mod uploads;

pub use body::{Body, BodyCheck, NoCheck};
pub use bucket_config::{BUCKET_CONFIG_TTL, BucketChangeNotifier};
pub use cairn_meta::{
    BucketRecord, Cors, CorsRule, DefaultRetention, ObjectLock, RetentionMode, RetentionPeriod, Versioning,
};
pub use compress::{
    COMPRESSION_EXTENSIONS_DEFAULT, COMPRESSION_MIME_TYPES_DEFAULT, CompressionRule, FRAME_BLOCK_BYTES,
};
pub use config::{
    BLOCK_SIZE_BYTES, INLINE_BYTES_MAX, Layout, PART_SIZE_BYTES_MIN, PARTS_MAX, parity_for_set_size,
    parse_storage_class,
};
pub use encryption::Rotation;
pub use error::ObjectError;
pub use heal_run::{HealCounts, HealEvent, HealRun, HealScope};
pub use ilm::IlmStats;
pub use list::{ListMode, ListPage, ListRequest};
pub use list_versions::{VersionsPage, VersionsRequest};
pub use lock::LockGuard;
pub use scanner::{
    CompressedUsage, DEEP_SCAN_BYTES_PER_SEC_DEFAULT, DEEP_SCAN_INTERVAL_DEFAULT, DeepScanStats, ORPHAN_GRACE_DEFAULT,
    SCAN_OBJECTS_PER_SEC_DEFAULT,
};
pub use set::read::{ObjectReader, ObjectStream};
pub use store::{DriveState, ObjectStore, QuorumStatus, SCAN_INTERVAL_DEFAULT, StoreOptions, StoreStats};
pub use system::{CONFIG_OBJECT_BYTES_MAX, CONFIG_PREFIX};
pub use types::{
    BucketInfo, CompletePart, CompleteRequest, Deleted, HeaderChange, ListedObject, ListedVersion, MultipartUpload,
    ObjectInfo, PartSummary, PutRequest, UploadPage, VersionRef, WriteCondition,
};
pub use uploads::{LIST_UPLOADS_MAX, STALE_UPLOADS_CLEANUP_INTERVAL_DEFAULT, STALE_UPLOADS_EXPIRY_DEFAULT};

/// Result of object-layer operations.
pub type Result<T> = std::result::Result<T, ObjectError>;
