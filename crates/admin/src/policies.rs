//! Named policies: add, remove, info, list, and attaching them to users and groups.

use crate::reply::{self, Reply};
use crate::route::{AdminRoute, Call};
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
struct Attach {
    #[serde(default)]
    policies: Vec<String>,
    #[serde(default)]
    user: String,
    #[serde(default)]
    group: String,
}

impl AdminRoute {
    pub(crate) async fn add_policy(&self, call: &Call) -> Result<Reply, Reply> {
        self.iam.set_policy(call.param("name"), &call.body).await.map_err(|e| reply::from_iam(&e))?;
        Ok(reply::ok())
    }

    pub(crate) async fn remove_policy(&self, call: &Call) -> Result<Reply, Reply> {
        self.iam.delete_policy(call.param("name")).await.map_err(|e| reply::from_iam(&e))?;
        Ok(reply::ok())
    }

    pub(crate) fn policy_info(&self, call: &Call) -> Result<Reply, Reply> {
        let name = call.param("name");
        let document = self.iam.policies().into_iter().find(|(n, _)| n == name).map(|(_, document)| document);
        let document = document
            .ok_or_else(|| reply::from_iam(&cairn_iam::IamError::NotFound { kind: "policy", name: name.into() }))?;
        let value: serde_json::Value = serde_json::from_str(&document).unwrap_or(serde_json::Value::String(document));
        Ok(reply::json(&value))
    }

    pub(crate) fn list_policies(&self) -> Reply {
        let mut all = serde_json::Map::new();
        for (name, document) in self.iam.policies() {
            let value = serde_json::from_str(&document).unwrap_or(serde_json::Value::String(document));
            all.insert(name, value);
        }
        reply::json(&serde_json::Value::Object(all))
    }

    /// MinIO's older call: replaces nothing, attaches the comma-separated policies.
    pub(crate) async fn set_policy(&self, call: &Call) -> Result<Reply, Reply> {
        let names: Vec<String> =
            call.param("policyName").split(',').filter(|n| !n.is_empty()).map(str::to_owned).collect();
        let is_group = call.param("isGroup") == "true";
        self.iam
            .attach_policies(call.param("userOrGroup"), is_group, &names, true)
            .await
            .map_err(|e| reply::from_iam(&e))?;
        Ok(reply::ok())
    }

    pub(crate) async fn attach(&self, call: &Call, attach: bool) -> Result<Reply, Reply> {
        let body: Attach = call.decrypted_json()?;
        let (target, is_group) = if body.group.is_empty() { (&body.user, false) } else { (&body.group, true) };
        if target.is_empty() || body.policies.is_empty() {
            return Err(reply::invalid("name a user or a group, and at least one policy"));
        }
        self.iam.attach_policies(target, is_group, &body.policies, attach).await.map_err(|e| reply::from_iam(&e))?;
        let key = if attach { "policiesAttached" } else { "policiesDetached" };
        let mut response = json!({ key: body.policies });
        response[if is_group { "group" } else { "user" }] = json!(target);
        Ok(reply::encrypted(&response, &call.secret_key))
    }
}
