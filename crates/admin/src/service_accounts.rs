//! Service accounts (extra access keys of a user): add, update, delete, info, list.

use crate::reply::{self, Reply};
use crate::route::{AdminRoute, Call};
use cairn_iam::Identity;
use cairn_iam::store::records::ServiceAccountRecord;
use serde::Deserialize;
use serde_json::json;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct AddAccount {
    #[serde(default)]
    access_key: Option<String>,
    #[serde(default)]
    secret_key: Option<String>,
    #[serde(default)]
    target_user: Option<String>,
    #[serde(default)]
    policy: Option<serde_json::Value>,
    #[serde(default)]
    expiration: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    description: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct UpdateAccount {
    #[serde(default)]
    new_secret_key: Option<String>,
    #[serde(default)]
    new_policy: Option<serde_json::Value>,
    #[serde(default)]
    new_expiration: Option<String>,
    #[serde(default)]
    new_status: Option<String>,
    #[serde(default)]
    new_name: Option<String>,
    #[serde(default)]
    new_description: Option<String>,
}

/// A policy as clients send it: a JSON object, or a string holding one; empty means none.
fn policy_text(value: Option<&serde_json::Value>) -> Option<String> {
    match value? {
        serde_json::Value::Null => None,
        serde_json::Value::String(text) if text.trim().is_empty() => None,
        serde_json::Value::String(text) => Some(text.clone()),
        other => Some(other.to_string()),
    }
}

fn parse_expiration(text: Option<&str>) -> Result<Option<i64>, Reply> {
    match text.filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(text) => OffsetDateTime::parse(text, &Rfc3339)
            .map(|at| Some(at.unix_timestamp()))
            .map_err(|e| reply::invalid(&format!("expiration {text:?}: {e}; use RFC 3339"))),
    }
}

fn expiration_text(unix: Option<i64>) -> serde_json::Value {
    unix.and_then(|secs| OffsetDateTime::from_unix_timestamp(secs).ok())
        .and_then(|at| at.format(&Rfc3339).ok())
        .map_or(serde_json::Value::Null, serde_json::Value::String)
}

fn denied() -> Reply {
    reply::failure(http::StatusCode::FORBIDDEN, "AccessDenied", "Access Denied.")
}

fn enabled_of(status: Option<&str>) -> bool {
    !matches!(status, Some("off" | "disabled"))
}

impl AdminRoute {
    /// The caller's own user (a service account acts for its parent).
    fn own_user(&self, call: &Call) -> String {
        match &call.identity {
            Identity::Root => self.iam.root_access_key().to_owned(),
            Identity::User(user) => user.clone(),
            Identity::ServiceAccount { parent, .. } => parent.clone(),
        }
    }

    /// The user whose accounts the call is about: `target`, or the caller's own. Only
    /// an admin may name another user.
    fn owner_of(&self, call: &Call, target: Option<&str>) -> Result<String, Reply> {
        let own = self.own_user(call);
        let owner = target.filter(|t| !t.is_empty()).map_or_else(|| own.clone(), str::to_owned);
        if owner != own && !call.admin {
            return Err(denied());
        }
        // Keys acting for root can do anything: only root makes or changes them.
        if owner == self.iam.root_access_key() && call.identity != Identity::Root {
            return Err(denied());
        }
        Ok(owner)
    }

    /// An account the caller may see or change: its own, or any for an admin.
    fn permitted_account(&self, call: &Call) -> Result<ServiceAccountRecord, Reply> {
        let account = self.account(call.param("accessKey"))?;
        if !call.admin && account.parent != self.own_user(call) {
            return Err(denied());
        }
        if account.parent == self.iam.root_access_key() && call.identity != Identity::Root {
            return Err(denied());
        }
        Ok(account)
    }

    pub(crate) async fn add_service_account(&self, call: &Call) -> Result<Reply, Reply> {
        let body: AddAccount = call.decrypted_json()?;
        let account = ServiceAccountRecord {
            access_key: body.access_key.unwrap_or_default(),
            secret_key: body.secret_key.unwrap_or_default(),
            parent: self.owner_of(call, body.target_user.as_deref())?,
            enabled: enabled_of(body.status.as_deref()),
            policy: policy_text(body.policy.as_ref()),
            expiration_unix: parse_expiration(body.expiration.as_deref())?,
            name: body.name.unwrap_or_default(),
            description: body.description.unwrap_or_default(),
        };
        let expiration = account.expiration_unix;
        let (access_key, secret_key) = self.iam.add_service_account(account).await.map_err(|e| reply::from_iam(&e))?;
        let credentials =
            json!({ "accessKey": access_key, "secretKey": secret_key, "expiration": expiration_text(expiration) });
        Ok(reply::encrypted(&json!({ "credentials": credentials }), &call.secret_key))
    }

    fn account(&self, access_key: &str) -> Result<ServiceAccountRecord, Reply> {
        self.iam.snapshot().service_accounts.get(access_key).cloned().ok_or_else(|| {
            reply::from_iam(&cairn_iam::IamError::NotFound { kind: "service account", name: access_key.into() })
        })
    }

    pub(crate) async fn update_service_account(&self, call: &Call) -> Result<Reply, Reply> {
        let body: UpdateAccount = call.decrypted_json()?;
        let mut account = self.permitted_account(call)?;
        if let Some(secret) = body.new_secret_key.filter(|s| !s.is_empty()) {
            account.secret_key = secret;
        }
        if body.new_policy.is_some() {
            account.policy = policy_text(body.new_policy.as_ref());
        }
        if body.new_expiration.is_some() {
            account.expiration_unix = parse_expiration(body.new_expiration.as_deref())?;
        }
        if let Some(status) = body.new_status.as_deref().filter(|s| !s.is_empty()) {
            account.enabled = enabled_of(Some(status));
        }
        if let Some(name) = body.new_name {
            account.name = name;
        }
        if let Some(description) = body.new_description {
            account.description = description;
        }
        self.iam.update_service_account(account).await.map_err(|e| reply::from_iam(&e))?;
        Ok(reply::ok())
    }

    pub(crate) async fn delete_service_account(&self, call: &Call) -> Result<Reply, Reply> {
        self.permitted_account(call)?;
        self.iam.delete_service_account(call.param("accessKey")).await.map_err(|e| reply::from_iam(&e))?;
        Ok(reply::ok())
    }

    pub(crate) fn service_account_info(&self, call: &Call) -> Result<Reply, Reply> {
        let account = self.permitted_account(call)?;
        let info = json!({
            "parentUser": account.parent,
            "accountStatus": if account.enabled { "on" } else { "off" },
            "impliedPolicy": account.policy.is_none(),
            "policy": account.policy.clone().unwrap_or_default(),
            "name": account.name,
            "description": account.description,
            "expiration": expiration_text(account.expiration_unix),
        });
        Ok(reply::encrypted(&info, &call.secret_key))
    }

    pub(crate) fn list_service_accounts(&self, call: &Call) -> Result<Reply, Reply> {
        let owner = self.owner_of(call, Some(call.param("user")))?;
        let snapshot = self.iam.snapshot();
        let mut accounts: Vec<&ServiceAccountRecord> =
            snapshot.service_accounts.values().filter(|a| a.parent == owner).collect();
        accounts.sort_by(|a, b| a.access_key.cmp(&b.access_key));
        let listed: Vec<serde_json::Value> = accounts
            .iter()
            .map(|a| {
                json!({
                    "parentUser": a.parent,
                    "accountStatus": if a.enabled { "on" } else { "off" },
                    "accessKey": a.access_key,
                    "name": a.name,
                    "description": a.description,
                    "expiration": expiration_text(a.expiration_unix),
                })
            })
            .collect();
        Ok(reply::encrypted(&json!({ "accounts": listed }), &call.secret_key))
    }
}
