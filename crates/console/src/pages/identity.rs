//! Identity: users, groups, access keys (service accounts) and policies, through the
//! admin API with the caller's own keys.

use crate::caller::Caller;
use crate::error::{ConsoleError, Result};
use crate::pages::with_message;
use crate::router::{Call, render};
use crate::templates::Chrome;
use crate::web::{self, Body};
use askama::Template;
use cairn_cli::admin::client::AdminClient;
use http::{Method, Response};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};

pub(crate) struct UserRow {
    name: String,
    name_q: String,
    status: String,
    policies: Vec<String>,
    groups: String,
}

#[derive(Template)]
#[template(path = "users.html")]
struct UsersPage {
    title: &'static str,
    section: &'static str,
    chrome: Chrome,
    users: Vec<UserRow>,
    policies: Vec<String>,
}

pub(crate) struct GroupRow {
    name: String,
    name_q: String,
    status: String,
    members: String,
    policies: Vec<String>,
}

#[derive(Template)]
#[template(path = "groups.html")]
struct GroupsPage {
    title: &'static str,
    section: &'static str,
    chrome: Chrome,
    groups: Vec<GroupRow>,
    policies: Vec<String>,
}

pub(crate) struct KeyRow {
    access_key: String,
    name: String,
    status: String,
    expires: String,
}

#[derive(Template)]
#[template(path = "keys.html")]
struct KeysPage {
    title: &'static str,
    section: &'static str,
    chrome: Chrome,
    user: String,
    can_choose_user: bool,
    keys: Vec<KeyRow>,
    created: Option<(String, String)>,
}

#[derive(Template)]
#[template(path = "policies.html")]
struct PoliciesPage {
    title: &'static str,
    section: &'static str,
    chrome: Chrome,
    /// (name, name for a query string).
    policies: Vec<(String, String)>,
    name: String,
    document: String,
}

pub(crate) async fn route(call: Call) -> Result<Response<Body>> {
    let kind = call.segment(1).to_owned();
    let name = call.segment(2).to_owned();
    let action = call.segment(3).to_owned();
    match (&call.method, kind.as_str()) {
        (&Method::GET, "users") => users(call).await,
        (&Method::GET, "groups") => groups(call).await,
        (&Method::GET, "keys") => keys(call, None).await,
        (&Method::GET, "policies") => policies(call).await,
        (&Method::POST, "users") => user_change(call, name, action).await,
        (&Method::POST, "groups") => group_change(call, name, action).await,
        (&Method::POST, "keys") => key_change(call, name, action).await,
        (&Method::POST, "policies") => policy_change(call, name).await,
        _ => Err(ConsoleError::NotFound("no such page".into())),
    }
}

/// Policy names, sorted.
async fn policy_names(admin: &AdminClient) -> Result<Vec<String>> {
    let listed: BTreeMap<String, Value> = admin.call_json(Method::GET, "list-canned-policies", &[], Vec::new()).await?;
    Ok(listed.into_keys().collect())
}

/// A comma-separated list as names.
fn split(text: &str) -> Vec<String> {
    text.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

async fn users(call: Call) -> Result<Response<Body>> {
    let caller = call.caller()?;
    let admin = caller.admin()?;
    let listed: BTreeMap<String, Value> = admin.call_sealed_json(Method::GET, "list-users", &[], Vec::new()).await?;
    let users = listed
        .into_iter()
        .map(|(name, info)| UserRow {
            name_q: web::encode(&name),
            name,
            status: info["status"].as_str().unwrap_or("unknown").to_owned(),
            policies: split(info["policyName"].as_str().unwrap_or_default()),
            groups: info["memberOf"]
                .as_array()
                .map(|g| g.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", "))
                .unwrap_or_default(),
        })
        .collect();
    let page = UsersPage {
        title: "Users",
        section: "users",
        chrome: Chrome::new(&call.console, &caller, &call.query),
        users,
        policies: policy_names(&admin).await.unwrap_or_default(),
    };
    render(&page)
}

/// Attaches (or detaches) `policies` to the user or group `principal` names.
async fn attach(admin: &AdminClient, principal: (&str, &str), policies: &[String], attach: bool) -> Result<()> {
    let body = admin.seal_json(&json!({ "policies": policies, principal.0: principal.1 }))?;
    let verb = if attach { "attach" } else { "detach" };
    admin.call(Method::POST, &format!("idp/builtin/policy/{verb}"), &[], body).await?;
    Ok(())
}

/// Runs a form's change and goes back to `back` with its outcome.
async fn finish(back: &str, done: &str, change: impl Future<Output = Result<()>>) -> Result<Response<Body>> {
    Ok(web::redirect(&match change.await {
        Ok(()) => with_message(back, "notice", done),
        Err(error) => with_message(back, "error", &error.to_string()),
    }))
}

async fn user_change(call: Call, name: String, action: String) -> Result<Response<Body>> {
    let back = call.link("/identity/users");
    let (caller, fields, _) = call.form().await?;
    let admin = caller.admin()?;
    let field = |n: &str| fields.get(n).cloned().unwrap_or_default();
    match action.as_str() {
        "" => {
            let (user, secret, policy) = (field("accessKey"), field("secretKey"), field("policy"));
            let change = async {
                let body = admin.seal_json(&json!({ "secretKey": secret, "status": "enabled" }))?;
                admin.call(Method::PUT, "add-user", &[("accessKey", &user)], body).await?;
                if !policy.is_empty() {
                    attach(&admin, ("user", &user), &[policy], true).await?;
                }
                Ok(())
            };
            finish(&back, &format!("User {} created.", field("accessKey")), change).await
        }
        "status" => {
            let status = if field("status") == "enabled" { "enabled" } else { "disabled" };
            let change = async {
                admin
                    .call(Method::PUT, "set-user-status", &[("accessKey", &name), ("status", status)], Vec::new())
                    .await?;
                Ok(())
            };
            finish(&back, &format!("User {name} {status}."), change).await
        }
        "secret" => {
            let change = async {
                let info: Value =
                    admin.call_json(Method::GET, "user-info", &[("accessKey", &name)], Vec::new()).await?;
                let status = info["status"].as_str().unwrap_or("enabled").to_owned();
                let body = admin.seal_json(&json!({ "secretKey": field("secretKey"), "status": status }))?;
                admin.call(Method::PUT, "add-user", &[("accessKey", &name)], body).await?;
                Ok(())
            };
            finish(&back, &format!("The secret key of {name} changed; its sessions ended."), change).await
        }
        "attach" | "detach" => {
            let policy = field("policy");
            let change = attach(&admin, ("user", &name), std::slice::from_ref(&policy), action == "attach");
            finish(&back, &format!("Policy {policy} {action}ed."), change).await
        }
        "delete" => {
            let change = async {
                admin.call(Method::DELETE, "remove-user", &[("accessKey", &name)], Vec::new()).await?;
                Ok(())
            };
            finish(&back, &format!("User {name} deleted."), change).await
        }
        _ => Err(ConsoleError::NotFound("no such change".into())),
    }
}

async fn groups(call: Call) -> Result<Response<Body>> {
    let caller = call.caller()?;
    let admin = caller.admin()?;
    let names: Option<Vec<String>> = admin.call_json(Method::GET, "groups", &[], Vec::new()).await?;
    let mut groups = Vec::new();
    for name in names.unwrap_or_default() {
        let info: Value = admin.call_json(Method::GET, "group", &[("group", &name)], Vec::new()).await?;
        groups.push(GroupRow {
            name_q: web::encode(&name),
            name,
            status: info["status"].as_str().unwrap_or("unknown").to_owned(),
            members: info["members"]
                .as_array()
                .map(|m| m.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", "))
                .unwrap_or_default(),
            policies: split(info["policy"].as_str().unwrap_or_default()),
        });
    }
    let page = GroupsPage {
        title: "Groups",
        section: "groups",
        chrome: Chrome::new(&call.console, &caller, &call.query),
        groups,
        policies: policy_names(&admin).await.unwrap_or_default(),
    };
    render(&page)
}

async fn group_change(call: Call, name: String, action: String) -> Result<Response<Body>> {
    let back = call.link("/identity/groups");
    let (caller, fields, _) = call.form().await?;
    let admin = caller.admin()?;
    let field = |n: &str| fields.get(n).cloned().unwrap_or_default();
    let members = |group: &str, members: Vec<String>, remove: bool| {
        let body = json!({ "group": group, "members": members, "isRemove": remove }).to_string().into_bytes();
        let admin = &admin;
        async move {
            admin.call(Method::PUT, "update-group-members", &[], body).await?;
            Ok(())
        }
    };
    match action.as_str() {
        "" => {
            let group = field("group");
            let done = format!("Group {group} created.");
            finish(&back, &done, members(&group, split(&field("members")), false)).await
        }
        "members" => {
            let remove = field("change") == "remove";
            finish(&back, &format!("Members of {name} changed."), members(&name, split(&field("members")), remove))
                .await
        }
        "status" => {
            let status = if field("status") == "enabled" { "enabled" } else { "disabled" };
            let change = async {
                admin
                    .call(Method::PUT, "set-group-status", &[("group", &name), ("status", status)], Vec::new())
                    .await?;
                Ok(())
            };
            finish(&back, &format!("Group {name} {status}."), change).await
        }
        "attach" | "detach" => {
            let policy = field("policy");
            let change = attach(&admin, ("group", &name), std::slice::from_ref(&policy), action == "attach");
            finish(&back, &format!("Policy {policy} {action}ed."), change).await
        }
        _ => Err(ConsoleError::NotFound("no such change".into())),
    }
}

/// The user whose keys a page shows: the one named, or the caller.
fn key_owner(caller: &Caller, named: &str) -> String {
    if named.is_empty() { caller.name().to_owned() } else { named.to_owned() }
}

async fn keys(call: Call, created: Option<(String, String)>) -> Result<Response<Body>> {
    let caller = call.caller()?;
    keys_page(&call.console, &call.query, &caller, &call.param("user"), created).await
}

/// The access keys of `named` (the caller when empty), with a key just `created` shown once.
async fn keys_page(
    console: &crate::Console,
    query: &[u8],
    caller: &Caller,
    named: &str,
    created: Option<(String, String)>,
) -> Result<Response<Body>> {
    let admin = caller.admin()?;
    let owner = key_owner(caller, named);
    let listed: Value =
        admin.call_sealed_json(Method::GET, "list-service-accounts", &[("user", &owner)], Vec::new()).await?;
    let keys = listed["accounts"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|account| {
            let text = |f: &str| account[f].as_str().unwrap_or_default().to_owned();
            KeyRow {
                access_key: text("accessKey"),
                name: text("name"),
                status: text("accountStatus"),
                expires: text("expiration"),
            }
        })
        .collect();
    let page = KeysPage {
        title: "Access keys",
        section: "keys",
        chrome: Chrome::new(console, caller, query),
        user: named.to_owned(),
        can_choose_user: caller.may("admin:ListUsers", None, None),
        keys,
        created,
    };
    render(&page)
}

async fn key_change(call: Call, access_key: String, action: String) -> Result<Response<Body>> {
    let base = call.link("/identity/keys");
    let console = std::sync::Arc::clone(&call.console);
    let (caller, fields, _) = call.form().await?;
    let admin = caller.admin()?;
    let field = |n: &str| fields.get(n).cloned().unwrap_or_default();
    let user = field("user");
    let back = if user.is_empty() { base } else { format!("{base}?user={}", web::encode(&user)) };
    match action.as_str() {
        "" => {
            let created = create_key(&admin, &key_owner(&caller, &user), &fields).await;
            match created {
                Ok(pair) => keys_page(&console, b"", &caller, &user, Some(pair)).await,
                Err(error) => Ok(web::redirect(&with_message(&back, "error", &error.to_string()))),
            }
        }
        "status" => {
            let status = if field("status") == "on" { "on" } else { "off" };
            let change = async {
                let body = admin.seal_json(&json!({ "newStatus": status }))?;
                admin.call(Method::POST, "update-service-account", &[("accessKey", &access_key)], body).await?;
                Ok(())
            };
            finish(&back, &format!("Access key {access_key} turned {status}."), change).await
        }
        "delete" => {
            let change = async {
                admin.call(Method::DELETE, "delete-service-account", &[("accessKey", &access_key)], Vec::new()).await?;
                Ok(())
            };
            finish(&back, &format!("Access key {access_key} revoked."), change).await
        }
        _ => Err(ConsoleError::NotFound("no such change".into())),
    }
}

/// Creates an access key for `owner` from the form's fields; returns (access key, secret key).
async fn create_key(admin: &AdminClient, owner: &str, fields: &HashMap<String, String>) -> Result<(String, String)> {
    let field = |n: &str| fields.get(n).map(|v| v.trim().to_owned()).unwrap_or_default();
    let mut body = json!({ "targetUser": owner, "status": "on" });
    if !field("name").is_empty() {
        body["name"] = json!(field("name"));
    }
    if !field("expiry").is_empty() {
        // The form gives `YYYY-MM-DDTHH:MM` (UTC); the API takes RFC 3339.
        body["expiration"] = json!(format!("{}:00Z", field("expiry")));
    }
    if !field("policy").is_empty() {
        let policy: Value = serde_json::from_str(&field("policy"))
            .map_err(|e| ConsoleError::BadRequest(format!("the policy is not valid JSON: {e}")))?;
        body["policy"] = policy;
    }
    let sealed = admin.seal_json(&body)?;
    let added: Value = admin.call_sealed_json(Method::PUT, "add-service-account", &[], sealed).await?;
    let credentials = &added["credentials"];
    match (credentials["accessKey"].as_str(), credentials["secretKey"].as_str()) {
        (Some(access), Some(secret)) => Ok((access.to_owned(), secret.to_owned())),
        _ => Err(ConsoleError::Backend("the server's answer had no credentials".into())),
    }
}

async fn policies(call: Call) -> Result<Response<Body>> {
    let caller = call.caller()?;
    let admin = caller.admin()?;
    let name = call.param("name");
    let listed: BTreeMap<String, Value> = admin.call_json(Method::GET, "list-canned-policies", &[], Vec::new()).await?;
    let document = match listed.get(&name) {
        Some(document) => serde_json::to_string_pretty(document).unwrap_or_default(),
        None if name.is_empty() => serde_json::to_string_pretty(&json!({
            "Version": "2012-10-17",
            "Statement": [{ "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::BUCKET/*"] }]
        }))
        .unwrap_or_default(),
        None => return Err(ConsoleError::NotFound(format!("no policy named {name}"))),
    };
    let page = PoliciesPage {
        title: "Policies",
        section: "policies",
        chrome: Chrome::new(&call.console, &caller, &call.query),
        policies: listed.into_keys().map(|n| (web::encode(&n), n)).map(|(q, n)| (n, q)).collect(),
        name,
        document,
    };
    render(&page)
}

async fn policy_change(call: Call, action: String) -> Result<Response<Body>> {
    let base = call.link("/identity/policies");
    let (caller, fields, _) = call.form().await?;
    let admin = caller.admin()?;
    let name = fields.get("name").map(|n| n.trim().to_owned()).unwrap_or_default();
    let back = format!("{base}?name={}", web::encode(&name));
    match action.as_str() {
        "" => {
            let text = fields.get("document").cloned().unwrap_or_default();
            let change = async {
                let document: Value = serde_json::from_str(&text)
                    .map_err(|e| ConsoleError::BadRequest(format!("The document is not valid JSON: {e}")))?;
                admin
                    .call(Method::PUT, "add-canned-policy", &[("name", &name)], document.to_string().into_bytes())
                    .await?;
                Ok(())
            };
            finish(&back, &format!("Policy {name} saved."), change).await
        }
        "delete" => {
            let change = async {
                admin.call(Method::DELETE, "remove-canned-policy", &[("name", &name)], Vec::new()).await?;
                Ok(())
            };
            finish(&base, &format!("Policy {name} deleted."), change).await
        }
        _ => Err(ConsoleError::NotFound("no such change".into())),
    }
}
