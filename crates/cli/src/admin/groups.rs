//! `cairn admin group add|rm|ls|info|enable|disable`, as `mc admin group`: `add`
//! makes the group if needed and adds members; `rm` with members removes them, without
//! removes the (empty) group.

use super::{StatusCall, connect, names_text, set_status, split_names};
use crate::Context;
use crate::error::Result;
use http::Method;
use serde::Deserialize;
use serde_json::json;

/// Group subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum GroupCommand {
    /// Add users to a group (made if it does not exist).
    Add {
        /// ALIAS of the deployment.
        alias: String,
        /// The group's name.
        group: String,
        /// Access keys of the users to add.
        #[arg(required = true)]
        members: Vec<String>,
    },
    /// Remove users from a group, or with no users named, the group itself (it must be empty).
    #[command(visible_alias = "remove")]
    Rm {
        /// ALIAS of the deployment.
        alias: String,
        /// The group's name.
        group: String,
        /// Access keys of the users to remove.
        members: Vec<String>,
    },
    /// List the groups.
    #[command(visible_alias = "list")]
    Ls {
        /// ALIAS of the deployment.
        alias: String,
    },
    /// Show a group: state, members, policies.
    Info {
        /// ALIAS of the deployment.
        alias: String,
        /// The group's name.
        group: String,
    },
    /// Let a group's policies apply again.
    Enable {
        /// ALIAS of the deployment.
        alias: String,
        /// The group's name.
        group: String,
    },
    /// Stop applying a group's policies to its members (the group is kept).
    Disable {
        /// ALIAS of the deployment.
        alias: String,
        /// The group's name.
        group: String,
    },
}

/// `enable` and `disable` of groups.
const GROUP_STATUS: StatusCall = StatusCall {
    command: "set-group-status",
    param: "group",
    name_field: "groupName",
    status_field: "groupStatus",
    noun: "Group",
};

/// A group as the `group` call describes it.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct GroupInfo {
    /// `enabled` or `disabled`.
    status: String,
    /// Access keys of the members.
    pub(super) members: Option<Vec<String>>,
    /// The attached policies, comma-separated.
    pub(super) policy: String,
}

pub(crate) async fn run(context: &Context, command: GroupCommand) -> Result<()> {
    let out = context.out;
    match command {
        GroupCommand::Add { alias, group, members } => {
            update_members(context, &alias, &group, &members, false).await?;
            out.result(json!({"groupName": group, "members": members}), || {
                format!("Added members {} to group `{group}` successfully.", members.join(", "))
            });
        }
        GroupCommand::Rm { alias, group, members } => {
            update_members(context, &alias, &group, &members, true).await?;
            out.result(json!({"groupName": group, "members": members}), || {
                if members.is_empty() {
                    format!("Removed group `{group}` successfully.")
                } else {
                    format!("Removed members {} from group `{group}` successfully.", members.join(", "))
                }
            });
        }
        GroupCommand::Ls { alias } => {
            let client = connect(context, &alias)?;
            let groups: Option<Vec<String>> = client.call_json(Method::GET, "groups", &[], Vec::new()).await?;
            for group in groups.unwrap_or_default() {
                out.result(json!({"groupName": group}), || group.clone());
            }
        }
        GroupCommand::Info { alias, group } => {
            let client = connect(context, &alias)?;
            let info: GroupInfo = client.call_json(Method::GET, "group", &[("group", &group)], Vec::new()).await?;
            let members = info.members.unwrap_or_default();
            let policies = split_names(&info.policy);
            out.result(
                json!({"groupName": group, "groupStatus": info.status, "members": members, "groupPolicy": info.policy}),
                || {
                    format!(
                        "Group    : {group}\nStatus   : {}\nPolicies : {}\nMembers  : {}",
                        info.status,
                        names_text(&policies),
                        names_text(&members)
                    )
                },
            );
        }
        GroupCommand::Enable { alias, group } => set_status(context, &alias, &GROUP_STATUS, &group, true).await?,
        GroupCommand::Disable { alias, group } => set_status(context, &alias, &GROUP_STATUS, &group, false).await?,
    }
    Ok(())
}

/// Adds or removes `members` (none with `remove`: the group itself).
async fn update_members(context: &Context, alias: &str, group: &str, members: &[String], remove: bool) -> Result<()> {
    let client = connect(context, alias)?;
    let body = json!({ "group": group, "members": members, "isRemove": remove });
    client.call(Method::PUT, "update-group-members", &[], body.to_string().into_bytes()).await?;
    Ok(())
}
