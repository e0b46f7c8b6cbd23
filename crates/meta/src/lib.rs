//! `cairn-meta`: pure codecs for what Cairn stores next to data: per-object
//! metadata (`xl.meta`), multipart upload and part records, bucket records and the
//! drive format file. No I/O happens here.
//!
//! Every binary record starts with a four-byte magic naming its kind and a
//! little-endian `u16` format version, followed by MessagePack (structs as arrays in
//! field order; records written before 2026-12-02 have named fields and still decode),
//! so that a file of the wrong kind or a newer version is refused instead of misread.
//! Fields are added at the end of a struct with a default and a format version bump
//! (see `codec.rs`).

mod codec;
mod cors;
mod error;
mod format;
mod lifecycle;
mod notification;
mod object;
mod upload;

pub use codec::{
    BUCKET_MAGIC, OBJECT_MAGIC, PART_MAGIC, RECORD_FORMAT_VERSION, UPLOAD_MAGIC, decode_record, encode_record,
};
pub use cors::{Cors, CorsRule};
pub use error::MetaError;
pub use format::{FORMAT_VERSION, FormatFile};
pub use lifecycle::{Expiry, Lifecycle, LifecycleRule, NoncurrentExpiry, RuleFilter};
pub use notification::{Notification, NotificationRule};
pub use object::{
    BucketRecord, Cipher, Codec, DefaultRetention, ErasureInfo, ObjectLock, ObjectMeta, ObjectVersion,
    PACKAGE_TAG_BYTES, PartCompression, PartEncryption, PartInfo, RetentionMode, RetentionPeriod, VersionIdentity,
    Versioning,
};
pub use upload::{PartRecord, UploadRecord};
