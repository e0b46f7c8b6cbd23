//! Changes to identities and policies (what the admin API calls). Each change writes
//! one record and bumps the version; rules follow MinIO's.

use super::records::{
    self, BUCKET_POLICIES, GROUPS, GroupRecord, POLICIES, PolicyRecord, SERVICE_ACCOUNTS, ServiceAccountRecord, USERS,
    UserRecord,
};
use super::{Iam, IamError};
use crate::policy::{Policy, canned};
use bytes::Bytes;
use rand::Rng;

/// The lock every identity change takes.
const CHANGE_LOCK: &str = "iam";
/// Shortest access key, as MinIO.
const ACCESS_KEY_CHARS_MIN: usize = 3;
/// Longest access key (it becomes a file name).
const ACCESS_KEY_CHARS_MAX: usize = 128;
/// Shortest secret key, as MinIO.
const SECRET_KEY_CHARS_MIN: usize = 8;
/// Longest secret key.
const SECRET_KEY_CHARS_MAX: usize = 128;
/// Length of generated access keys and secrets.
const GENERATED_ACCESS_KEY_CHARS: usize = 20;
const GENERATED_SECRET_KEY_CHARS: usize = 40;

fn check_name(kind: &str, name: &str) -> Result<(), IamError> {
    let ok = (ACCESS_KEY_CHARS_MIN..=ACCESS_KEY_CHARS_MAX).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.@=+,".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(IamError::Invalid(format!(
            "{kind} {name:?}: use {ACCESS_KEY_CHARS_MIN} to {ACCESS_KEY_CHARS_MAX} letters, digits or -_.@=+,"
        )))
    }
}

fn check_secret(secret: &str) -> Result<(), IamError> {
    if (SECRET_KEY_CHARS_MIN..=SECRET_KEY_CHARS_MAX).contains(&secret.len()) {
        Ok(())
    } else {
        Err(IamError::Invalid(format!("a secret key has {SECRET_KEY_CHARS_MIN} to {SECRET_KEY_CHARS_MAX} characters")))
    }
}

fn random_string(chars: usize, alphabet: &[u8]) -> String {
    let mut rng = rand::rng();
    (0..chars).map(|_| alphabet[rng.random_range(0..alphabet.len())] as char).collect()
}

fn encode<T: serde::Serialize>(record: &T) -> Result<Bytes, IamError> {
    Ok(Bytes::from(serde_json::to_vec(record)?))
}

impl Iam {
    /// Serialises changes across the cluster and starts each from the stored state, so
    /// two admins changing identities through different nodes never undo each other.
    async fn begin_change(&self) -> Result<cairn_object::LockGuard, IamError> {
        let guard = self.store.lock_exclusive(CHANGE_LOCK).await?;
        self.reload().await?;
        Ok(guard)
    }

    fn check_free(&self, access_key: &str) -> Result<(), IamError> {
        let snapshot = self.snapshot();
        if access_key == self.root_access_key
            || snapshot.service_accounts.contains_key(access_key)
            || snapshot.users.contains_key(access_key) && !access_key.is_empty()
        {
            return Err(IamError::Conflict(format!("access key {access_key:?} is taken")));
        }
        Ok(())
    }

    /// Creates a user, or changes an existing user's secret (MinIO's add-user does both).
    pub async fn add_user(&self, access_key: &str, secret_key: &str, enabled: bool) -> Result<(), IamError> {
        let _change = self.begin_change().await?;
        check_name("access key", access_key)?;
        check_secret(secret_key)?;
        let existing = self.snapshot().users.get(access_key).cloned();
        if existing.is_none() {
            self.check_free(access_key)?;
        }
        let policies = existing.map(|u| u.policies).unwrap_or_default();
        let record =
            UserRecord { access_key: access_key.to_owned(), secret_key: secret_key.to_owned(), enabled, policies };
        self.commit(&records::path(USERS, access_key), Some(encode(&record)?)).await
    }

    /// Enables or disables a user.
    pub async fn set_user_enabled(&self, access_key: &str, enabled: bool) -> Result<(), IamError> {
        let _change = self.begin_change().await?;
        let mut record =
            self.snapshot().users.get(access_key).cloned().ok_or_else(|| IamError::not_found("user", access_key))?;
        record.enabled = enabled;
        self.commit(&records::path(USERS, access_key), Some(encode(&record)?)).await
    }

    /// Removes a user with its service accounts and group memberships.
    pub async fn delete_user(&self, access_key: &str) -> Result<(), IamError> {
        let _change = self.begin_change().await?;
        let snapshot = self.snapshot();
        if !snapshot.users.contains_key(access_key) {
            return Err(IamError::not_found("user", access_key));
        }
        for account in snapshot.service_accounts.values().filter(|a| a.parent == access_key) {
            self.store.delete_config(&records::path(SERVICE_ACCOUNTS, &account.access_key)).await?;
        }
        for group in snapshot.groups.values().filter(|g| g.members.iter().any(|m| m == access_key)) {
            let mut group = group.clone();
            group.members.retain(|m| m != access_key);
            self.store.put_config(&records::path(GROUPS, &group.name), encode(&group)?).await?;
        }
        self.commit(&records::path(USERS, access_key), None).await
    }

    /// Stores a named policy; a malformed one is refused and the old one kept.
    pub async fn set_policy(&self, name: &str, document: &[u8]) -> Result<(), IamError> {
        let _change = self.begin_change().await?;
        check_name("policy name", name)?;
        Policy::parse_identity_policy(document).map_err(|e| IamError::MalformedPolicy(e.to_string()))?;
        let record = PolicyRecord { name: name.to_owned(), document: String::from_utf8_lossy(document).into_owned() };
        self.commit(&records::path(POLICIES, name), Some(encode(&record)?)).await
    }

    /// Removes a named policy (canned ones cannot be removed).
    pub async fn delete_policy(&self, name: &str) -> Result<(), IamError> {
        let _change = self.begin_change().await?;
        if !self.snapshot().policies.contains_key(name) {
            return Err(IamError::not_found("policy", name));
        }
        self.commit(&records::path(POLICIES, name), None).await
    }

    /// Every policy by name (canned and custom) with its JSON.
    pub fn policies(&self) -> Vec<(String, String)> {
        let snapshot = self.snapshot();
        let mut all: Vec<(String, String)> = crate::policy::CANNED_NAMES
            .iter()
            .filter(|name| !snapshot.policies.contains_key(**name))
            .filter_map(|name| canned(name).map(|p| ((*name).to_owned(), p.to_json())))
            .collect();
        all.extend(snapshot.policies.values().map(|(_, record)| (record.name.clone(), record.document.clone())));
        all.sort();
        all
    }

    /// Attaches (or detaches) policies to a user or a group.
    pub async fn attach_policies(
        &self,
        target: &str,
        is_group: bool,
        names: &[String],
        attach: bool,
    ) -> Result<(), IamError> {
        let _change = self.begin_change().await?;
        let snapshot = self.snapshot();
        if let Some(missing) = names.iter().find(|name| snapshot.policy(name).is_none()) {
            return Err(IamError::not_found("policy", missing));
        }
        let update = |policies: &mut Vec<String>| {
            for name in names {
                policies.retain(|p| p != name);
                if attach {
                    policies.push(name.clone());
                }
            }
        };
        if is_group {
            let mut group = snapshot.groups.get(target).cloned().ok_or_else(|| IamError::not_found("group", target))?;
            update(&mut group.policies);
            self.commit(&records::path(GROUPS, target), Some(encode(&group)?)).await
        } else {
            let mut user = snapshot.users.get(target).cloned().ok_or_else(|| IamError::not_found("user", target))?;
            update(&mut user.policies);
            self.commit(&records::path(USERS, target), Some(encode(&user)?)).await
        }
    }

    /// Adds members to a group (creating it), or removes them (removing the group
    /// itself when `members` is empty and it has none left).
    pub async fn update_group(&self, name: &str, members: &[String], remove: bool) -> Result<(), IamError> {
        let _change = self.begin_change().await?;
        check_name("group", name)?;
        let snapshot = self.snapshot();
        if let Some(unknown) = members.iter().find(|m| !snapshot.users.contains_key(*m)) {
            return Err(IamError::not_found("user", unknown));
        }
        let existing = snapshot.groups.get(name).cloned();
        if remove {
            let mut group = existing.ok_or_else(|| IamError::not_found("group", name))?;
            if members.is_empty() {
                if !group.members.is_empty() {
                    return Err(IamError::Conflict(format!("group {name:?} is not empty")));
                }
                return self.commit(&records::path(GROUPS, name), None).await;
            }
            group.members.retain(|m| !members.contains(m));
            return self.commit(&records::path(GROUPS, name), Some(encode(&group)?)).await;
        }
        let mut group = existing.unwrap_or(GroupRecord {
            name: name.to_owned(),
            enabled: true,
            members: Vec::new(),
            policies: Vec::new(),
        });
        for member in members {
            if !group.members.contains(member) {
                group.members.push(member.clone());
            }
        }
        self.commit(&records::path(GROUPS, name), Some(encode(&group)?)).await
    }

    /// Enables or disables a group.
    pub async fn set_group_enabled(&self, name: &str, enabled: bool) -> Result<(), IamError> {
        let _change = self.begin_change().await?;
        let mut group = self.snapshot().groups.get(name).cloned().ok_or_else(|| IamError::not_found("group", name))?;
        group.enabled = enabled;
        self.commit(&records::path(GROUPS, name), Some(encode(&group)?)).await
    }

    /// Creates a service account for `parent`; returns (access key, secret key).
    pub async fn add_service_account(&self, mut account: ServiceAccountRecord) -> Result<(String, String), IamError> {
        let _change = self.begin_change().await?;
        if account.parent != self.root_access_key && !self.snapshot().users.contains_key(&account.parent) {
            return Err(IamError::not_found("user", &account.parent));
        }
        if account.access_key.is_empty() {
            account.access_key = random_string(GENERATED_ACCESS_KEY_CHARS, b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789");
        }
        if account.secret_key.is_empty() {
            let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
            account.secret_key = random_string(GENERATED_SECRET_KEY_CHARS, alphabet);
        }
        check_name("access key", &account.access_key)?;
        check_secret(&account.secret_key)?;
        self.check_free(&account.access_key)?;
        if let Some(policy) = &account.policy {
            Policy::parse_identity_policy(policy.as_bytes()).map_err(|e| IamError::MalformedPolicy(e.to_string()))?;
        }
        let keys = (account.access_key.clone(), account.secret_key.clone());
        self.commit(&records::path(SERVICE_ACCOUNTS, &account.access_key), Some(encode(&account)?)).await?;
        Ok(keys)
    }

    /// Replaces a service account's record (status, secret, policy, expiry).
    pub async fn update_service_account(&self, account: ServiceAccountRecord) -> Result<(), IamError> {
        let _change = self.begin_change().await?;
        if !self.snapshot().service_accounts.contains_key(&account.access_key) {
            return Err(IamError::not_found("service account", &account.access_key));
        }
        check_secret(&account.secret_key)?;
        if let Some(policy) = &account.policy {
            Policy::parse_identity_policy(policy.as_bytes()).map_err(|e| IamError::MalformedPolicy(e.to_string()))?;
        }
        self.commit(&records::path(SERVICE_ACCOUNTS, &account.access_key), Some(encode(&account)?)).await
    }

    /// Removes a service account.
    pub async fn delete_service_account(&self, access_key: &str) -> Result<(), IamError> {
        let _change = self.begin_change().await?;
        if !self.snapshot().service_accounts.contains_key(access_key) {
            return Err(IamError::not_found("service account", access_key));
        }
        self.commit(&records::path(SERVICE_ACCOUNTS, access_key), None).await
    }

    /// Sets a bucket's policy; a malformed one is refused and the old one kept.
    pub async fn set_bucket_policy(&self, bucket: &str, document: &[u8]) -> Result<(), IamError> {
        let _change = self.begin_change().await?;
        Policy::parse_bucket_policy(document, bucket).map_err(|e| IamError::MalformedPolicy(e.to_string()))?;
        self.commit(&records::path(BUCKET_POLICIES, bucket), Some(Bytes::copy_from_slice(document))).await
    }

    /// Removes a bucket's policy (missing is fine).
    pub async fn delete_bucket_policy(&self, bucket: &str) -> Result<(), IamError> {
        let _change = self.begin_change().await?;
        self.commit(&records::path(BUCKET_POLICIES, bucket), None).await
    }

    /// A bucket's policy JSON, as stored.
    pub fn bucket_policy(&self, bucket: &str) -> Option<String> {
        self.snapshot().bucket_policies.get(bucket).map(|(_, json)| json.clone())
    }
}
