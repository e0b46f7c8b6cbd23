//! The master keys of SSE-S3 through the admin API:
//! - `GET kms/status` (MinIO's path): the current key's name and every key the server
//!   holds (names only: key bytes never leave the server);
//! - `POST cairn-kms-rotate`: re-seals every SSE-S3 object key that an older master key
//!   sealed under the current one (a metadata change per version; no data moves), so
//!   that the older keys can be dropped from `CAIRN_KMS_SECRET_KEY_PREVIOUS`.

use crate::reply::{self, Reply};
use crate::route::AdminRoute;
use http::StatusCode;
use serde_json::json;

fn not_configured() -> Reply {
    reply::failure(
        StatusCode::NOT_IMPLEMENTED,
        "XMinioKMSNotConfigured",
        "no master key is configured: set CAIRN_KMS_SECRET_KEY on every node",
    )
}

impl AdminRoute {
    pub(crate) fn kms_status(&self) -> Result<Reply, Reply> {
        let keyring = self.store.keyring().ok_or_else(not_configured)?;
        Ok(reply::json(&json!({
            "name": "builtin",
            "defaultKeyID": keyring.current_name(),
            "keys": keyring.names(),
        })))
    }

    pub(crate) async fn kms_rotate(&self) -> Result<Reply, Reply> {
        self.store.keyring().ok_or_else(not_configured)?;
        let rotation = self.store.rotate_master_key().await.map_err(|error| reply::from_store(&error))?;
        Ok(reply::json(&json!({
            "versions": rotation.versions,
            "resealed": rotation.resealed,
            "failed": rotation.failed,
        })))
    }
}
