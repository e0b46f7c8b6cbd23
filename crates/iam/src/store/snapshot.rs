//! One consistent view of every identity and policy, loaded from the system volume and
//! swapped in whole when any node changes something.

use super::records::{GroupRecord, PolicyRecord, ServiceAccountRecord, UserRecord};
use crate::policy::{Policy, canned};
use std::collections::HashMap;

/// Who a request is from, once its access key is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// The root credentials: always allowed.
    Root,
    /// A user.
    User(String),
    /// A service account of `parent` (a user, or root).
    ServiceAccount { access_key: String, parent: String },
}

/// Everything the identity store knows, as of one load.
#[derive(Debug, Default)]
pub struct Snapshot {
    pub users: HashMap<String, UserRecord>,
    pub service_accounts: HashMap<String, ServiceAccountRecord>,
    pub groups: HashMap<String, GroupRecord>,
    /// Custom policies: parsed, with their record.
    pub policies: HashMap<String, (Policy, PolicyRecord)>,
    /// Bucket policies: parsed, with their JSON.
    pub bucket_policies: HashMap<String, (Policy, String)>,
}

impl Snapshot {
    /// A named policy: a custom one, else a canned one.
    pub(crate) fn policy(&self, name: &str) -> Option<Policy> {
        self.policies.get(name).map(|(policy, _)| policy.clone()).or_else(|| canned(name))
    }

    /// Policies that apply to user `access_key`: its own and its enabled groups'.
    pub(crate) fn user_policies(&self, access_key: &str) -> Vec<Policy> {
        let mut names: Vec<&String> =
            self.users.get(access_key).map(|u| u.policies.iter().collect()).unwrap_or_default();
        for group in self.groups.values().filter(|g| g.enabled && g.members.iter().any(|m| m == access_key)) {
            names.extend(group.policies.iter());
        }
        names.iter().filter_map(|name| self.policy(name)).collect()
    }

    /// Groups `access_key` belongs to.
    pub fn groups_of(&self, access_key: &str) -> Vec<String> {
        let mut groups: Vec<String> = self
            .groups
            .values()
            .filter(|g| g.members.iter().any(|m| m == access_key))
            .map(|g| g.name.clone())
            .collect();
        groups.sort();
        groups
    }
}
