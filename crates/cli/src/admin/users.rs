//! `cairn admin user add|rm|ls|info|enable|disable`, as `mc admin user`.

use super::{StatusCall, connect, names_text, set_status, split_names, status_word};
use crate::Context;
use crate::error::Result;
use http::Method;
use serde::Deserialize;
use serde_json::json;
use std::collections::BTreeMap;

/// User subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum UserCommand {
    /// Add a user, or change an existing user's secret key.
    Add {
        /// ALIAS of the deployment.
        alias: String,
        /// The user's access key.
        access_key: String,
        /// The user's secret key.
        secret_key: String,
    },
    /// Remove a user.
    #[command(visible_alias = "remove")]
    Rm {
        /// ALIAS of the deployment.
        alias: String,
        /// The user's access key.
        access_key: String,
    },
    /// List the users with their state and policies.
    #[command(visible_alias = "list")]
    Ls {
        /// ALIAS of the deployment.
        alias: String,
    },
    /// Show a user: state, policies, groups.
    Info {
        /// ALIAS of the deployment.
        alias: String,
        /// The user's access key.
        access_key: String,
    },
    /// Let a user sign in again.
    Enable {
        /// ALIAS of the deployment.
        alias: String,
        /// The user's access key.
        access_key: String,
    },
    /// Refuse a user's requests (the user is kept).
    Disable {
        /// ALIAS of the deployment.
        alias: String,
        /// The user's access key.
        access_key: String,
    },
}

/// `enable` and `disable` of users.
const USER_STATUS: StatusCall = StatusCall {
    command: "set-user-status",
    param: "accessKey",
    name_field: "accessKey",
    status_field: "userStatus",
    noun: "User",
};

/// A user as `user-info` and `list-users` describe it.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(super) struct UserInfo {
    /// The attached policies, comma-separated.
    pub(super) policy_name: String,
    /// `enabled` or `disabled`.
    pub(super) status: String,
    /// The groups the user belongs to.
    member_of: Option<Vec<String>>,
}

impl UserInfo {
    fn json(&self, access_key: &str) -> serde_json::Value {
        json!({
            "accessKey": access_key,
            "userStatus": self.status,
            "policyName": self.policy_name,
            "memberOf": self.member_of.clone().unwrap_or_default(),
        })
    }
}

pub(crate) async fn run(context: &Context, command: UserCommand) -> Result<()> {
    let out = context.out;
    match command {
        UserCommand::Add { alias, access_key, secret_key } => {
            let client = connect(context, &alias)?;
            let body = client.seal_json(&json!({ "secretKey": secret_key, "status": status_word(true) }))?;
            client.call(Method::PUT, "add-user", &[("accessKey", &access_key)], body).await?;
            out.result(json!({"accessKey": access_key, "userStatus": status_word(true)}), || {
                format!("Added user `{access_key}` successfully.")
            });
        }
        UserCommand::Rm { alias, access_key } => {
            let client = connect(context, &alias)?;
            client.call(Method::DELETE, "remove-user", &[("accessKey", &access_key)], Vec::new()).await?;
            out.result(json!({"accessKey": access_key}), || format!("Removed user `{access_key}` successfully."));
        }
        UserCommand::Ls { alias } => {
            let client = connect(context, &alias)?;
            let users: BTreeMap<String, UserInfo> =
                client.call_sealed_json(Method::GET, "list-users", &[], Vec::new()).await?;
            for (access_key, user) in &users {
                out.result(user.json(access_key), || {
                    format!("{:<9} {access_key:<24} {}", user.status, names_text(&split_names(&user.policy_name)))
                });
            }
        }
        UserCommand::Info { alias, access_key } => {
            let client = connect(context, &alias)?;
            let user: UserInfo =
                client.call_json(Method::GET, "user-info", &[("accessKey", &access_key)], Vec::new()).await?;
            out.result(user.json(&access_key), || {
                let groups = user.member_of.clone().unwrap_or_default();
                format!(
                    "AccessKey : {access_key}\nStatus    : {}\nPolicies  : {}\nMemberOf  : {}",
                    user.status,
                    names_text(&split_names(&user.policy_name)),
                    names_text(&groups)
                )
            });
        }
        UserCommand::Enable { alias, access_key } => {
            set_status(context, &alias, &USER_STATUS, &access_key, true).await?
        }
        UserCommand::Disable { alias, access_key } => {
            set_status(context, &alias, &USER_STATUS, &access_key, false).await?
        }
    }
    Ok(())
}
