//! Users: add (or change secret), remove, enable/disable, info, list.

use crate::reply::{self, Reply};
use crate::route::{AdminRoute, Call};
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
struct AddUser {
    #[serde(rename = "secretKey")]
    secret_key: String,
    #[serde(default)]
    status: Option<String>,
}

fn status_word(enabled: bool) -> &'static str {
    if enabled { "enabled" } else { "disabled" }
}

impl AdminRoute {
    pub(crate) async fn add_user(&self, call: &Call) -> Result<Reply, Reply> {
        let body: AddUser = call.decrypted_json()?;
        let enabled = body.status.as_deref() != Some("disabled");
        self.iam.add_user(call.param("accessKey"), &body.secret_key, enabled).await.map_err(|e| reply::from_iam(&e))?;
        Ok(reply::ok())
    }

    pub(crate) async fn remove_user(&self, call: &Call) -> Result<Reply, Reply> {
        self.iam.delete_user(call.param("accessKey")).await.map_err(|e| reply::from_iam(&e))?;
        Ok(reply::ok())
    }

    pub(crate) async fn set_user_status(&self, call: &Call) -> Result<Reply, Reply> {
        let enabled = match call.param("status") {
            "enabled" => true,
            "disabled" => false,
            other => return Err(reply::invalid(&format!("status {other:?}: use enabled or disabled"))),
        };
        self.iam.set_user_enabled(call.param("accessKey"), enabled).await.map_err(|e| reply::from_iam(&e))?;
        Ok(reply::ok())
    }

    fn user_json(&self, access_key: &str) -> Option<serde_json::Value> {
        let snapshot = self.iam.snapshot();
        let user = snapshot.users.get(access_key)?;
        Some(json!({
            "policyName": user.policies.join(","),
            "status": status_word(user.enabled),
            "memberOf": snapshot.groups_of(access_key),
        }))
    }

    pub(crate) fn user_info(&self, call: &Call) -> Result<Reply, Reply> {
        let access_key = call.param("accessKey");
        self.user_json(access_key)
            .map(|info| reply::json(&info))
            .ok_or_else(|| reply::from_iam(&cairn_iam::IamError::NotFound { kind: "user", name: access_key.into() }))
    }

    pub(crate) fn list_users(&self, call: &Call) -> Reply {
        let snapshot = self.iam.snapshot();
        let mut users = serde_json::Map::new();
        for access_key in snapshot.users.keys() {
            if let Some(info) = self.user_json(access_key) {
                users.insert(access_key.to_string(), info);
            }
        }
        reply::encrypted(&serde_json::Value::Object(users), &call.secret_key)
    }
}
