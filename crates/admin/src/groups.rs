//! Groups: add/remove members (creating and removing groups), status, info, list.

use crate::reply::{self, Reply};
use crate::route::{AdminRoute, Call};
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
struct UpdateGroup {
    group: String,
    #[serde(default)]
    members: Option<serde_json::Value>,
    #[serde(rename = "isRemove", default)]
    is_remove: bool,
}

/// Members as MinIO clients send them: a list, or (the Python client) a comma-separated string.
fn members_of(value: Option<&serde_json::Value>) -> Vec<String> {
    match value {
        Some(serde_json::Value::Array(items)) => items.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect(),
        Some(serde_json::Value::String(list)) => {
            list.split(',').map(str::trim).filter(|m| !m.is_empty()).map(str::to_owned).collect()
        }
        _ => Vec::new(),
    }
}

impl AdminRoute {
    pub(crate) async fn update_group(&self, call: &Call) -> Result<Reply, Reply> {
        let body: UpdateGroup =
            serde_json::from_slice(&call.body).map_err(|e| reply::invalid(&format!("malformed request body: {e}")))?;
        let members = members_of(body.members.as_ref());
        self.iam.update_group(&body.group, &members, body.is_remove).await.map_err(|e| reply::from_iam(&e))?;
        Ok(reply::ok())
    }

    pub(crate) async fn set_group_status(&self, call: &Call) -> Result<Reply, Reply> {
        let enabled = match call.param("status") {
            "enabled" => true,
            "disabled" => false,
            other => return Err(reply::invalid(&format!("status {other:?}: use enabled or disabled"))),
        };
        self.iam.set_group_enabled(call.param("group"), enabled).await.map_err(|e| reply::from_iam(&e))?;
        Ok(reply::ok())
    }

    pub(crate) fn group_info(&self, call: &Call) -> Result<Reply, Reply> {
        let name = call.param("group");
        let snapshot = self.iam.snapshot();
        let group = snapshot
            .groups
            .get(name)
            .ok_or_else(|| reply::from_iam(&cairn_iam::IamError::NotFound { kind: "group", name: name.into() }))?;
        Ok(reply::json(&json!({
            "name": group.name,
            "status": if group.enabled { "enabled" } else { "disabled" },
            "members": group.members,
            "policy": group.policies.join(","),
        })))
    }

    pub(crate) fn list_groups(&self) -> Reply {
        let mut names: Vec<String> = self.iam.snapshot().groups.keys().cloned().collect();
        names.sort();
        reply::json(&json!(names))
    }
}
