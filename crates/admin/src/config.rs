//! `get-config-kv`, `set-config-kv`, `del-config-kv` (one subsystem) and `get-config`,
//! `set-config` (`mc admin config export|import`): the run-time server configuration,
//! bodies encrypted with the caller's secret key as MinIO does.

use crate::reply::{self, Reply};
use crate::route::{AdminRoute, Call};
use http::StatusCode;

fn config_error(message: &str) -> Reply {
    reply::failure(StatusCode::BAD_REQUEST, "XMinioConfigError", message)
}

impl AdminRoute {
    pub(crate) fn get_config_kv(&self, call: &Call) -> Result<Reply, Reply> {
        let key = call.param("key");
        if key.is_empty() {
            return Err(config_error("name a subsystem: region or scanner"));
        }
        let line = self.settings.get(key).map_err(|e| config_error(&e))?;
        Ok(reply::sealed(line.as_bytes(), &call.secret_key))
    }

    pub(crate) async fn set_config_kv(&self, call: &Call, replace: bool) -> Result<Reply, Reply> {
        let text = String::from_utf8(call.decrypted()?).map_err(|_| config_error("the configuration is not UTF-8"))?;
        self.settings.set(&text, replace).await.map_err(|e| config_error(&e))?;
        Ok(reply::ok())
    }

    pub(crate) async fn del_config_kv(&self, call: &Call) -> Result<Reply, Reply> {
        let text = String::from_utf8(call.decrypted()?).map_err(|_| config_error("the request is not UTF-8"))?;
        self.settings.reset(&text).await.map_err(|e| config_error(&e))?;
        Ok(reply::ok())
    }

    pub(crate) fn export_config(&self, call: &Call) -> Reply {
        reply::sealed(self.settings.export().as_bytes(), &call.secret_key)
    }
}
