//! Compares a bootstrap file with what the deployment holds and lists the calls that
//! make them agree. Reading is all this file does until [`Step::apply`] runs.
//!
//! Secrets cannot be read back, so a secret key is compared by signing a request
//! with it: a refusal as an unknown key or a bad signature means it differs; an
//! answer or an access-denied means the server took the signature.

use super::spec::{Bootstrap, Bucket, Group, ServiceAccount, User};
use crate::admin::client::AdminClient;
use crate::admin::groups::GroupInfo;
use crate::admin::users::UserInfo;
use crate::admin::{split_names, status_word};
use crate::commands::anonymous;
use crate::commands::event;
use crate::commands::ilm::{self, RuleSpec};
use crate::config::Alias;
use crate::error::{CliError, Result};
use crate::s3;
use aws_sdk_s3::error::ProvideErrorMetadata;
use http::Method;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeSet;

/// What a step does to its resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// The resource does not exist yet.
    Create,
    /// The resource exists and differs in what is listed.
    Update(Vec<String>),
    /// The resource already is as declared.
    Unchanged,
}

/// One declared resource, how it differs, and the calls that fix it. Not `Debug`: its
/// calls carry secret keys.
pub struct Step {
    /// `policy`, `user`, `group`, `service-account` or `bucket`.
    pub kind: &'static str,
    /// The resource's name.
    pub name: String,
    /// How it differs.
    pub change: Change,
    /// Notes the plan cannot act on (a secret that cannot be checked, say).
    pub notes: Vec<String>,
    actions: Vec<Action>,
}

/// A call on the deployment (not `Debug`: some carry secret keys).
enum Action {
    PutPolicy { name: String, document: Value },
    PutUser { access_key: String, secret_key: String, enabled: bool },
    SetUserStatus { access_key: String, enabled: bool },
    Attach { principal: &'static str, name: String, policies: Vec<String>, attach: bool },
    Members { group: String, members: Vec<String>, remove: bool },
    AddServiceAccount { user: String, access_key: String, secret_key: String, policy: Option<Value> },
    UpdateServiceAccount { access_key: String, body: serde_json::Map<String, Value> },
    CreateBucket { name: String },
    PutLifecycle { bucket: String, rules: Vec<aws_sdk_s3::types::LifecycleRule> },
    PutEvents { bucket: String, rules: Vec<aws_sdk_s3::types::QueueConfiguration> },
    PutBucketPolicy { bucket: String, policy: Value },
    DeleteBucketPolicy { bucket: String },
}

/// What planning and applying talk to.
pub struct Deployment<'a> {
    /// The admin API of the alias.
    pub admin: &'a AdminClient,
    /// The S3 API of the alias.
    pub s3: aws_sdk_s3::Client,
    /// The HTTP client S3 clients for other keys use (the SDK's own when None).
    pub http: Option<aws_sdk_s3::config::SharedHttpClient>,
}

impl Step {
    fn new(kind: &'static str, name: &str, change: Change, actions: Vec<Action>) -> Self {
        debug_assert_eq!(change == Change::Unchanged, actions.is_empty(), "{kind} {name}: calls only for changes");
        Step { kind, name: name.to_owned(), change, notes: Vec::new(), actions }
    }

    /// Makes the change on the deployment.
    pub async fn apply(&self, deployment: &Deployment<'_>) -> Result<()> {
        for action in &self.actions {
            action.run(deployment).await?;
        }
        Ok(())
    }
}

/// Plans every resource of `bootstrap`, in the order applying needs: policies before
/// the users and groups they are attached to, users before groups and service
/// accounts, buckets last.
pub async fn plan(bootstrap: &Bootstrap, deployment: &Deployment<'_>) -> Result<Vec<Step>> {
    check_policies_exist(bootstrap, deployment).await?;
    let mut steps = Vec::new();
    for (name, document) in &bootstrap.policies {
        steps.push(plan_policy(deployment, name, document).await?);
    }
    for user in &bootstrap.users {
        steps.push(plan_user(deployment, user).await?);
    }
    for group in &bootstrap.groups {
        steps.push(plan_group(deployment, group).await?);
    }
    for account in &bootstrap.service_accounts {
        steps.push(plan_service_account(deployment, account).await?);
    }
    for bucket in &bootstrap.buckets {
        steps.push(plan_bucket(deployment, bucket).await?);
    }
    Ok(steps)
}

/// Refuses a file that attaches a policy neither it nor the deployment defines, before
/// anything is applied (the attach would fail half-way through otherwise).
async fn check_policies_exist(bootstrap: &Bootstrap, deployment: &Deployment<'_>) -> Result<()> {
    let users = bootstrap.users.iter().map(|u| ("user", &u.access_key, &u.policies));
    let groups = bootstrap.groups.iter().map(|g| ("group", &g.name, &g.policies));
    let mut checked = BTreeSet::new();
    for (kind, name, policies) in users.chain(groups) {
        for policy in policies {
            if bootstrap.policies.contains_key(policy) || !checked.insert(policy.as_str()) {
                continue;
            }
            let query = [("name", policy.as_str())];
            let call = deployment.admin.call_json::<Value>(Method::GET, "info-canned-policy", &query, Vec::new());
            if found(call).await?.is_none() {
                return Err(CliError::Usage(format!(
                    "{kind} {name}: policy {policy} is neither in the file nor on the deployment"
                )));
            }
        }
    }
    Ok(())
}

/// The answer of `call`, or None when the server says the thing does not exist.
async fn found<T>(call: impl Future<Output = Result<T>>) -> Result<Option<T>> {
    match call.await {
        Ok(value) => Ok(Some(value)),
        Err(CliError::NotFound(_)) => Ok(None),
        Err(error) => Err(error),
    }
}

async fn plan_policy(deployment: &Deployment<'_>, name: &str, document: &Value) -> Result<Step> {
    let query = [("name", name)];
    let current: Option<Value> =
        found(deployment.admin.call_json(Method::GET, "info-canned-policy", &query, Vec::new())).await?;
    let put = || vec![Action::PutPolicy { name: name.to_owned(), document: document.clone() }];
    Ok(match current {
        None => Step::new("policy", name, Change::Create, put()),
        Some(current) if current == *document => Step::new("policy", name, Change::Unchanged, Vec::new()),
        Some(_) => Step::new("policy", name, Change::Update(vec!["document".into()]), put()),
    })
}

/// Whether a secret key signs requests the server accepts for `access_key`.
async fn secret_matches(deployment: &Deployment<'_>, access_key: &str, secret_key: &str) -> Result<bool> {
    let base = deployment.admin.alias();
    let alias = Alias { access_key: access_key.to_owned(), secret_key: secret_key.to_owned(), ..base.clone() };
    let client = s3::client(&alias, deployment.http.clone());
    match client.list_buckets().send().await {
        Ok(_) => Ok(true),
        Err(error) => match error.code() {
            Some("AccessDenied") => Ok(true),
            Some("InvalidAccessKeyId" | "SignatureDoesNotMatch") => Ok(false),
            _ => Err(s3::error(&format!("checking the secret key of {access_key}"), error)),
        },
    }
}

/// Whether `user` may sign requests: root always; a user when enabled.
async fn user_enabled(deployment: &Deployment<'_>, user: &str) -> Result<bool> {
    if user == deployment.admin.alias().access_key {
        return Ok(true);
    }
    let query = [("accessKey", user)];
    let info: Option<UserInfo> =
        found(deployment.admin.call_json(Method::GET, "user-info", &query, Vec::new())).await?;
    Ok(info.is_some_and(|info| info.status == status_word(true)))
}

/// Attach and detach calls that turn `current` policies into `wanted`, and what changes.
fn policy_changes(
    principal: &'static str,
    name: &str,
    current: &[&str],
    wanted: &[String],
) -> (Vec<Action>, Vec<String>) {
    let current: BTreeSet<&str> = current.iter().copied().collect();
    let wanted: BTreeSet<&str> = wanted.iter().map(String::as_str).collect();
    let attach: Vec<String> = wanted.difference(&current).map(|p| (*p).to_owned()).collect();
    let detach: Vec<String> = current.difference(&wanted).map(|p| (*p).to_owned()).collect();
    let mut actions = Vec::new();
    let mut what = Vec::new();
    if !attach.is_empty() {
        what.push(format!("attach {}", attach.join(", ")));
        actions.push(Action::Attach { principal, name: name.to_owned(), policies: attach, attach: true });
    }
    if !detach.is_empty() {
        what.push(format!("detach {}", detach.join(", ")));
        actions.push(Action::Attach { principal, name: name.to_owned(), policies: detach, attach: false });
    }
    (actions, what)
}

async fn plan_user(deployment: &Deployment<'_>, user: &User) -> Result<Step> {
    let key = user.access_key.as_str();
    let query = [("accessKey", key)];
    let current: Option<UserInfo> =
        found(deployment.admin.call_json(Method::GET, "user-info", &query, Vec::new())).await?;
    let put =
        Action::PutUser { access_key: key.to_owned(), secret_key: user.secret_key.clone(), enabled: user.enabled };
    let Some(current) = current else {
        let (attach, _) = policy_changes("user", key, &[], &user.policies);
        return Ok(Step::new("user", key, Change::Create, std::iter::once(put).chain(attach).collect()));
    };
    let mut actions = Vec::new();
    let mut what = Vec::new();
    let mut notes = Vec::new();
    let enabled_now = current.status == status_word(true);
    if enabled_now {
        if !secret_matches(deployment, key, &user.secret_key).await? {
            what.push("secret key".to_owned());
            actions.push(put);
        } else if !user.enabled {
            what.push("status disabled".to_owned());
            actions.push(Action::SetUserStatus { access_key: key.to_owned(), enabled: false });
        }
    } else if user.enabled {
        // A disabled user's secret cannot be checked by signing with it: setting secret
        // and status together makes one run enough.
        what.push("status enabled (secret key set)".to_owned());
        actions.push(put);
    } else {
        notes.push("disabled: its secret key cannot be checked and is left as it is".to_owned());
    }
    let (attach, changes) = policy_changes("user", key, &split_names(&current.policy_name), &user.policies);
    actions.extend(attach);
    what.extend(changes);
    let change = if what.is_empty() { Change::Unchanged } else { Change::Update(what) };
    let mut step = Step::new("user", key, change, actions);
    step.notes = notes;
    Ok(step)
}

async fn plan_group(deployment: &Deployment<'_>, group: &Group) -> Result<Step> {
    let name = group.name.as_str();
    let current: Option<GroupInfo> =
        found(deployment.admin.call_json(Method::GET, "group", &[("group", name)], Vec::new())).await?;
    let members = |members: Vec<String>, remove: bool| Action::Members { group: name.to_owned(), members, remove };
    let Some(current) = current else {
        let (attach, _) = policy_changes("group", name, &[], &group.policies);
        let actions = std::iter::once(members(group.members.clone(), false)).chain(attach).collect();
        return Ok(Step::new("group", name, Change::Create, actions));
    };
    let now: BTreeSet<String> = current.members.unwrap_or_default().into_iter().collect();
    let wanted: BTreeSet<String> = group.members.iter().cloned().collect();
    let added: Vec<String> = wanted.difference(&now).cloned().collect();
    let removed: Vec<String> = now.difference(&wanted).cloned().collect();
    let mut actions = Vec::new();
    let mut what = Vec::new();
    if !added.is_empty() {
        what.push(format!("add {}", added.join(", ")));
        actions.push(members(added, false));
    }
    // Removing an empty list would remove the group itself: only named members go.
    if !removed.is_empty() {
        what.push(format!("remove {}", removed.join(", ")));
        actions.push(members(removed, true));
    }
    let (attach, changes) = policy_changes("group", name, &split_names(&current.policy), &group.policies);
    actions.extend(attach);
    what.extend(changes);
    let change = if what.is_empty() { Change::Unchanged } else { Change::Update(what) };
    Ok(Step::new("group", name, change, actions))
}

/// A service account as `info-service-account` describes it.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct AccountInfo {
    parent_user: String,
    /// `on` or `off`.
    account_status: String,
    implied_policy: bool,
    policy: String,
}

async fn plan_service_account(deployment: &Deployment<'_>, account: &ServiceAccount) -> Result<Step> {
    let key = account.access_key.as_str();
    let query = [("accessKey", key)];
    let current: Option<AccountInfo> =
        found(deployment.admin.call_sealed_json(Method::GET, "info-service-account", &query, Vec::new())).await?;
    let Some(current) = current else {
        let add = Action::AddServiceAccount {
            user: account.user.clone(),
            access_key: key.to_owned(),
            secret_key: account.secret_key.clone(),
            policy: account.policy.clone(),
        };
        return Ok(Step::new("service-account", key, Change::Create, vec![add]));
    };
    if current.parent_user != account.user {
        return Err(CliError::Usage(format!(
            "service account {key} belongs to {}, not {}; an account cannot change users: remove it first (cairn admin svcacct rm)",
            current.parent_user, account.user
        )));
    }
    let policy_now: Option<Value> =
        if current.implied_policy || current.policy.trim().is_empty() {
            None
        } else {
            Some(serde_json::from_str(&current.policy).map_err(|e| {
                CliError::Remote(format!("service account {key}: the server's policy is not JSON: {e}"))
            })?)
        };
    let mut body = serde_json::Map::new();
    let mut what = Vec::new();
    if policy_now != account.policy {
        what.push("policy".to_owned());
        // An empty policy takes the account back to its user's permissions.
        body.insert("newPolicy".into(), account.policy.clone().unwrap_or_else(|| json!("")));
    }
    // An account that is off, or whose user is disabled, refuses every signature: its
    // secret cannot be checked that way.
    let mut notes = Vec::new();
    if current.account_status == "off" || !user_enabled(deployment, &account.user).await? {
        notes.push("off or its user is disabled: its secret key cannot be checked and is left as it is".to_owned());
    } else if !secret_matches(deployment, key, &account.secret_key).await? {
        what.push("secret key".to_owned());
        body.insert("newSecretKey".into(), json!(account.secret_key));
    }
    let mut step = if what.is_empty() {
        Step::new("service-account", key, Change::Unchanged, Vec::new())
    } else {
        let update = Action::UpdateServiceAccount { access_key: key.to_owned(), body };
        Step::new("service-account", key, Change::Update(what), vec![update])
    };
    step.notes = notes;
    Ok(step)
}

async fn plan_bucket(deployment: &Deployment<'_>, bucket: &Bucket) -> Result<Step> {
    let name = bucket.name.as_str();
    let level = bucket.access.level();
    let exists = match deployment.s3.head_bucket().bucket(name).send().await {
        Ok(_) => true,
        Err(error) => match s3::error(name, error) {
            CliError::NotFound(_) => false,
            other => return Err(other),
        },
    };
    let lifecycle = match &bucket.lifecycle {
        Some(specs) => Some(specs.iter().map(RuleSpec::to_rule).collect::<Result<Vec<_>>>()?),
        None => None,
    };
    if !exists {
        let mut actions = vec![Action::CreateBucket { name: name.to_owned() }];
        if let Some(policy) = anonymous::with_level(None, level, name, "") {
            actions.push(Action::PutBucketPolicy { bucket: name.to_owned(), policy });
        }
        if let Some(rules) = lifecycle.filter(|rules| !rules.is_empty()) {
            actions.push(Action::PutLifecycle { bucket: name.to_owned(), rules });
        }
        if let Some(rules) = bucket.events.as_ref().filter(|rules| !rules.is_empty()) {
            actions.push(Action::PutEvents { bucket: name.to_owned(), rules: event_rules(rules)? });
        }
        return Ok(Step::new("bucket", name, Change::Create, actions));
    }
    let (mut changes, mut actions) = (Vec::new(), Vec::new());
    let current = anonymous::read_policy(&deployment.s3, name, name).await?;
    let level_now = current.as_ref().map_or("none", |policy| anonymous::level_of(policy, name, ""));
    if level_now != level {
        changes.push(format!("access {level_now} -> {level}"));
        actions.push(match anonymous::with_level(current, level, name, "") {
            Some(policy) => Action::PutBucketPolicy { bucket: name.to_owned(), policy },
            None => Action::DeleteBucketPolicy { bucket: name.to_owned() },
        });
    }
    if let Some(rules) = lifecycle {
        // Compared as `ilm rule ls` shows rules: the server returns them in its own form.
        let now = ilm::rules(&deployment.s3, name, name).await?;
        if now.iter().map(ilm::describe).ne(rules.iter().map(ilm::describe)) {
            changes.push(format!("lifecycle: {} rule(s) -> {}", now.len(), rules.len()));
            actions.push(Action::PutLifecycle { bucket: name.to_owned(), rules });
        }
    }
    if let Some(wanted) = &bucket.events {
        let now = event::rules(&deployment.s3, name, name).await?;
        let mut now_keys: Vec<_> = now.iter().map(event::rule_key).collect();
        let mut wanted_keys = wanted.iter().map(|rule| rule.key()).collect::<Result<Vec<_>>>()?;
        now_keys.sort();
        wanted_keys.sort();
        if now_keys != wanted_keys {
            changes.push(format!("events: {} rule(s) -> {}", now.len(), wanted.len()));
            actions.push(Action::PutEvents { bucket: name.to_owned(), rules: event_rules(wanted)? });
        }
    }
    let change = if changes.is_empty() { Change::Unchanged } else { Change::Update(changes) };
    Ok(Step::new("bucket", name, change, actions))
}

/// The notification rules a bootstrap file's bucket names, as S3 takes them.
fn event_rules(specs: &[super::spec::EventRuleSpec]) -> Result<Vec<aws_sdk_s3::types::QueueConfiguration>> {
    specs
        .iter()
        .map(|spec| {
            let (arn, events, prefix, suffix) = spec.key()?;
            let events = events.iter().map(|e| aws_sdk_s3::types::Event::from(e.as_str())).collect();
            event::queue_rule(&arn, events, &prefix, &suffix)
        })
        .collect()
}

impl Action {
    async fn run(&self, deployment: &Deployment<'_>) -> Result<()> {
        let admin = deployment.admin;
        match self {
            Action::PutPolicy { name, document } => {
                let body = document.to_string().into_bytes();
                admin.call(Method::PUT, "add-canned-policy", &[("name", name)], body).await?;
            }
            Action::PutUser { access_key, secret_key, enabled } => {
                let body = admin.seal_json(&json!({ "secretKey": secret_key, "status": status_word(*enabled) }))?;
                admin.call(Method::PUT, "add-user", &[("accessKey", access_key)], body).await?;
            }
            Action::SetUserStatus { access_key, enabled } => {
                let query = [("accessKey", access_key.as_str()), ("status", status_word(*enabled))];
                admin.call(Method::PUT, "set-user-status", &query, Vec::new()).await?;
            }
            Action::Attach { principal, name, policies, attach } => {
                let body = admin.seal_json(&json!({ "policies": policies, *principal: name }))?;
                let verb = if *attach { "attach" } else { "detach" };
                admin.call_sealed(Method::POST, &format!("idp/builtin/policy/{verb}"), &[], body).await?;
            }
            Action::Members { group, members, remove } => {
                let body = json!({ "group": group, "members": members, "isRemove": remove });
                admin.call(Method::PUT, "update-group-members", &[], body.to_string().into_bytes()).await?;
            }
            Action::AddServiceAccount { user, access_key, secret_key, policy } => {
                let mut body =
                    json!({ "targetUser": user, "accessKey": access_key, "secretKey": secret_key, "status": "on" });
                if let Some(policy) = policy {
                    body["policy"] = policy.clone();
                }
                admin.call_sealed(Method::PUT, "add-service-account", &[], admin.seal_json(&body)?).await?;
            }
            Action::UpdateServiceAccount { access_key, body } => {
                let sealed = admin.seal_json(&Value::Object(body.clone()))?;
                admin.call(Method::POST, "update-service-account", &[("accessKey", access_key)], sealed).await?;
            }
            Action::CreateBucket { name } => {
                deployment.s3.create_bucket().bucket(name).send().await.map_err(|e| s3::error(name, e))?;
            }
            Action::PutLifecycle { bucket, rules } => {
                crate::commands::ilm::put_rules(&deployment.s3, bucket, bucket, rules.clone()).await?;
            }
            Action::PutEvents { bucket, rules } => {
                event::put_rules(&deployment.s3, bucket, bucket, rules.clone()).await?;
            }
            Action::PutBucketPolicy { bucket, policy } => {
                let put = deployment.s3.put_bucket_policy().bucket(bucket).policy(policy.to_string());
                put.send().await.map_err(|e| s3::error(bucket, e))?;
            }
            Action::DeleteBucketPolicy { bucket } => {
                let delete = deployment.s3.delete_bucket_policy().bucket(bucket);
                delete.send().await.map_err(|e| s3::error(bucket, e))?;
            }
        }
        Ok(())
    }
}
