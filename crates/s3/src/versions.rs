//! Version ids on the wire: `versionId` parameters and `x-amz-version-id` headers.
//! Cairn's version ids are UUIDs; the `null` version is the one written while a bucket
//! was never versioned or had versioning suspended.

use crate::error::s3_error;
use cairn_object::{ObjectInfo, VersionRef, Versioning};
use s3s::{S3ErrorCode, S3Result};
use uuid::Uuid;

/// The id S3 gives the version without one.
pub(crate) const NULL_VERSION: &str = "null";

/// The version a `versionId` parameter names: none is the newest version.
pub(crate) fn version_ref(id: Option<&str>) -> S3Result<VersionRef> {
    match id {
        None => Ok(VersionRef::Latest),
        Some(id) => Ok(VersionRef::Exact(parse(id)?)),
    }
}

/// A version id: `null` (None) or one Cairn made. Anything else is S3's
/// `InvalidArgument` ("Invalid version id specified"), not an absent version.
pub(crate) fn parse(id: &str) -> S3Result<Option<Uuid>> {
    if id == NULL_VERSION {
        return Ok(None);
    }
    Uuid::parse_str(id).map(Some).map_err(|_| s3_error(S3ErrorCode::InvalidArgument, "Invalid version id specified"))
}

/// The id as S3 writes it.
pub(crate) fn id_string(id: Option<Uuid>) -> String {
    id.map_or_else(|| NULL_VERSION.to_owned(), |id| id.to_string())
}

/// The `x-amz-version-id` of a response about `info`: sent when the bucket keeps
/// versions or a version was asked for by id (a bucket never versioned has only the
/// null version, and S3 says nothing of it).
pub(crate) fn header_of(info: &ObjectInfo, versioning: Versioning, at: VersionRef) -> Option<String> {
    (versioning.keeps_versions() || at != VersionRef::Latest).then(|| id_string(info.version_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_ids_are_null_or_uuids() {
        assert_eq!(version_ref(None).expect("none"), VersionRef::Latest);
        assert_eq!(version_ref(Some("null")).expect("null"), VersionRef::Exact(None));
        let id = Uuid::new_v4();
        assert_eq!(version_ref(Some(&id.to_string())).expect("uuid"), VersionRef::Exact(Some(id)));
        let error = version_ref(Some("3HL4kqtJlcpXroDTDmJ-rmSpXd3dIbrHY")).expect_err("not a Cairn id");
        assert_eq!(*error.code(), S3ErrorCode::InvalidArgument);
        assert_eq!(id_string(None), "null");
    }
}
