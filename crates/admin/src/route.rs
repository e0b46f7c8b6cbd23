//! Dispatch of `/minio/admin/v3/<command>`: authorisation by MinIO's admin action
//! names, then the handler of the command.

use crate::reply::{self, Reply};
use crate::settings::ServerSettings;
use bytes::Bytes;
use cairn_iam::{Iam, Identity};
use cairn_object::ObjectStore;
use http::{HeaderMap, Method, StatusCode, Uri};
use http_body_util::BodyExt;
use s3s::route::S3Route;
use s3s::{Body, S3Request, S3Response, S3Result};
use std::collections::HashMap;
use std::sync::Arc;

/// Every admin path starts with this.
const ADMIN_PREFIX: &str = "/minio/admin/v3/";
/// Largest admin request body (policies, encrypted user records).
const ADMIN_BODY_BYTES_MAX: usize = 1 << 20;

/// The admin API as an s3s route.
pub struct AdminRoute {
    pub(crate) iam: Arc<Iam>,
    pub(crate) store: ObjectStore,
    pub(crate) settings: Arc<ServerSettings>,
}

impl AdminRoute {
    /// The admin API over `iam`, `store` and the run-time `settings`.
    pub fn new(iam: Arc<Iam>, store: ObjectStore, settings: Arc<ServerSettings>) -> Self {
        Self { iam, store, settings }
    }
}

/// One admin call, parsed.
pub(crate) struct Call {
    pub(crate) query: HashMap<String, String>,
    pub(crate) body: Bytes,
    /// The caller's secret key: the key of encrypted payloads.
    pub(crate) secret_key: String,
    pub(crate) identity: Identity,
    /// The caller holds the admin action of this call (else it may act on its own keys only).
    pub(crate) admin: bool,
}

impl Call {
    pub(crate) fn param(&self, name: &str) -> &str {
        self.query.get(name).map_or("", String::as_str)
    }

    /// The body, decrypted with the caller's secret key.
    pub(crate) fn decrypted(&self) -> Result<Vec<u8>, Reply> {
        tokio::task::block_in_place(|| cairn_madmin::decrypt_data(&self.secret_key, &self.body))
            .map_err(|e| reply::invalid(&format!("cannot decrypt the request body: {e}")))
    }

    /// The decrypted body as JSON.
    pub(crate) fn decrypted_json<T: serde::de::DeserializeOwned>(&self) -> Result<T, Reply> {
        let plain = self.decrypted()?;
        serde_json::from_slice(&plain).map_err(|e| reply::invalid(&format!("malformed request body: {e}")))
    }
}

fn query_of(uri: &Uri) -> HashMap<String, String> {
    let decode = |s: &str| percent_encoding::percent_decode_str(&s.replace('+', " ")).decode_utf8_lossy().into_owned();
    uri.query()
        .unwrap_or_default()
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(name), decode(value))
        })
        .collect()
}

/// The admin action MinIO requires for `(method, command)`, or None for an unknown command.
fn action_of(method: &Method, command: &str) -> Option<&'static str> {
    let action = match (method.as_str(), command) {
        ("PUT", "add-user") => "admin:CreateUser",
        ("DELETE", "remove-user") => "admin:DeleteUser",
        ("PUT", "set-user-status") => "admin:EnableUser",
        ("GET", "user-info") => "admin:GetUser",
        ("GET", "list-users") => "admin:ListUsers",
        ("PUT", "add-canned-policy") => "admin:CreatePolicy",
        ("DELETE", "remove-canned-policy") => "admin:DeletePolicy",
        ("GET", "info-canned-policy") => "admin:GetPolicy",
        ("GET", "list-canned-policies") => "admin:ListUserPolicies",
        ("PUT", "set-user-or-group-policy") | ("POST", "idp/builtin/policy/attach" | "idp/builtin/policy/detach") => {
            "admin:AttachUserOrGroupPolicy"
        }
        ("PUT", "update-group-members") => "admin:AddUserToGroup",
        ("PUT", "set-group-status") => "admin:EnableGroup",
        ("GET", "group") => "admin:GetGroup",
        ("GET", "groups") => "admin:ListGroups",
        ("PUT", "add-service-account") => "admin:CreateServiceAccount",
        ("POST", "update-service-account") => "admin:UpdateServiceAccount",
        ("DELETE", "delete-service-account") => "admin:RemoveServiceAccount",
        ("GET", "info-service-account") | ("GET", "list-service-accounts") => "admin:ListServiceAccounts",
        ("GET", "info") => "admin:ServerInfo",
        ("GET", "get-config-kv" | "get-config")
        | ("PUT", "set-config-kv" | "set-config")
        | ("DELETE", "del-config-kv") => "admin:ConfigUpdate",
        ("POST", "cairn-heal") => "admin:Heal",
        ("PUT", "set-bucket-quota") => "admin:SetBucketQuota",
        ("GET", "get-bucket-quota") => "admin:GetBucketQuota",
        ("GET", "kms/status") => "admin:KMSKeyStatus",
        ("POST", "cairn-kms-rotate") => "admin:KMSCreateKey",
        _ => return None,
    };
    Some(action)
}

#[async_trait::async_trait]
impl S3Route for AdminRoute {
    fn is_match(&self, _method: &Method, uri: &Uri, _headers: &HeaderMap, _extensions: &mut http::Extensions) -> bool {
        uri.path().starts_with(ADMIN_PREFIX)
    }

    async fn call(&self, request: S3Request<Body>) -> S3Result<S3Response<Body>> {
        let command = request.uri.path().trim_start_matches(ADMIN_PREFIX).to_owned();
        let Some(action) = action_of(&request.method, &command) else {
            return Ok(*reply::failure(StatusCode::NOT_IMPLEMENTED, "NotImplemented", "unknown admin call"));
        };
        // s3s verified the signature, so the access key is known and enabled.
        let access_key = request.credentials.as_ref().map(|c| c.access_key.clone()).unwrap_or_default();
        let Ok((secret_key, identity)) = self.iam.secret_for(&access_key) else {
            return Ok(*reply::failure(StatusCode::FORBIDDEN, "AccessDenied", "Access Denied."));
        };
        let admin = self.iam.is_allowed(Some(&identity), action, None, None, &Default::default());
        // As in MinIO, a user may manage its own access keys (checked by the handlers); a
        // service account may not, or a narrowed key could lift its own restrictions.
        let own_keys = command.contains("service-account") && matches!(identity, Identity::User(_));
        if !admin && !own_keys {
            return Ok(*reply::failure(StatusCode::FORBIDDEN, "AccessDenied", "Access Denied."));
        }
        let limited = http_body_util::Limited::new(request.input, ADMIN_BODY_BYTES_MAX);
        let body = match limited.collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(_) => return Ok(*reply::invalid("the request body is unreadable or too large")),
        };
        let call = Call { query: query_of(&request.uri), body, secret_key, identity, admin };
        Ok(*self.dispatch(&command, &call).await.unwrap_or_else(|error| error))
    }
}

impl AdminRoute {
    async fn dispatch(&self, command: &str, call: &Call) -> Result<Reply, Reply> {
        match command {
            "add-user" => self.add_user(call).await,
            "remove-user" => self.remove_user(call).await,
            "set-user-status" => self.set_user_status(call).await,
            "user-info" => self.user_info(call),
            "list-users" => Ok(self.list_users(call)),
            "add-canned-policy" => self.add_policy(call).await,
            "remove-canned-policy" => self.remove_policy(call).await,
            "info-canned-policy" => self.policy_info(call),
            "list-canned-policies" => Ok(self.list_policies()),
            "set-user-or-group-policy" => self.set_policy(call).await,
            "idp/builtin/policy/attach" => self.attach(call, true).await,
            "idp/builtin/policy/detach" => self.attach(call, false).await,
            "update-group-members" => self.update_group(call).await,
            "set-group-status" => self.set_group_status(call).await,
            "group" => self.group_info(call),
            "groups" => Ok(self.list_groups()),
            "add-service-account" => self.add_service_account(call).await,
            "update-service-account" => self.update_service_account(call).await,
            "delete-service-account" => self.delete_service_account(call).await,
            "info-service-account" => self.service_account_info(call),
            "list-service-accounts" => self.list_service_accounts(call),
            "info" => Ok(self.server_info().await),
            "get-config-kv" => self.get_config_kv(call),
            "set-config-kv" => self.set_config_kv(call, false).await,
            "set-config" => self.set_config_kv(call, true).await,
            "del-config-kv" => self.del_config_kv(call).await,
            "get-config" => Ok(self.export_config(call)),
            "cairn-heal" => self.heal(call).await,
            "set-bucket-quota" => self.set_bucket_quota(call).await,
            "get-bucket-quota" => self.get_bucket_quota(call).await,
            "kms/status" => self.kms_status(),
            "cairn-kms-rotate" => self.kms_rotate().await,
            _ => Err(reply::failure(StatusCode::NOT_IMPLEMENTED, "NotImplemented", "unknown admin call")),
        }
    }
}
