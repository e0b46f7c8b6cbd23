//! Authentication (which secret signs for an access key, and whose it is) and
//! authorisation (may this identity do this action on this resource).

use super::Iam;
use super::snapshot::Identity;
use crate::policy::{ConditionValues, Decision, Policy, Request, evaluate};
use std::time::{SystemTime, UNIX_EPOCH};

/// Why an access key cannot sign requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    /// No such access key.
    Unknown,
    /// The user, its group membership, or the service account (or its parent) is disabled.
    Disabled,
    /// The service account's expiry passed.
    Expired,
}

fn now_unix() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

impl Iam {
    /// The secret key of `access_key` and whose it is, if it may sign requests now.
    pub fn secret_for(&self, access_key: &str) -> Result<(String, Identity), AuthFailure> {
        if access_key == self.root_access_key {
            return Ok((self.root_secret_key.clone(), Identity::Root));
        }
        let snapshot = self.snapshot();
        if let Some(user) = snapshot.users.get(access_key) {
            if !user.enabled {
                return Err(AuthFailure::Disabled);
            }
            return Ok((user.secret_key.clone(), Identity::User(user.access_key.clone())));
        }
        let account = snapshot.service_accounts.get(access_key).ok_or(AuthFailure::Unknown)?;
        if !account.enabled {
            return Err(AuthFailure::Disabled);
        }
        if account.expiration_unix.is_some_and(|until| until <= now_unix()) {
            return Err(AuthFailure::Expired);
        }
        if account.parent != self.root_access_key && !snapshot.users.get(&account.parent).is_some_and(|u| u.enabled) {
            return Err(AuthFailure::Disabled);
        }
        let identity =
            Identity::ServiceAccount { access_key: account.access_key.clone(), parent: account.parent.clone() };
        Ok((account.secret_key.clone(), identity))
    }

    /// Whether a policy [`Iam::is_allowed`] would consult for `identity` on `bucket` has a
    /// condition on a key starting with `prefix` (e.g. `s3:ExistingObjectTag/`). Root
    /// is allowed everything, so none is consulted.
    pub fn policies_mention(&self, identity: Option<&Identity>, bucket: Option<&str>, prefix: &str) -> bool {
        let snapshot = self.snapshot();
        let mentions = |policy: &Policy| policy.mentions_condition_key(prefix);
        match identity {
            None => bucket.and_then(|b| snapshot.bucket_policies.get(b)).is_some_and(|(policy, _)| mentions(policy)),
            Some(Identity::Root) => false,
            Some(Identity::User(user)) => snapshot.user_policies(user).iter().any(mentions),
            Some(Identity::ServiceAccount { access_key, parent }) => {
                let inline = snapshot.service_accounts.get(access_key).and_then(|a| a.policy.as_ref());
                inline.is_some_and(|text| Policy::parse(text.as_bytes()).is_ok_and(|p| mentions(&p)))
                    || snapshot.user_policies(parent).iter().any(mentions)
            }
        }
    }

    /// May `identity` (None: anonymous) do `action` on `bucket`/`key`? Root may do
    /// anything; users by their own and their groups' policies; a service account by
    /// its parent's, narrowed by its inline policy; anonymous requests by the bucket's
    /// policy alone. An explicit Deny always wins; nothing is allowed by default.
    pub fn is_allowed(
        &self,
        identity: Option<&Identity>,
        action: &str,
        bucket: Option<&str>,
        key: Option<&str>,
        conditions: &ConditionValues,
    ) -> bool {
        let snapshot = self.snapshot();
        let principal = match identity {
            None => None,
            Some(Identity::Root) => return true,
            Some(Identity::User(user)) => Some(user.as_str()),
            Some(Identity::ServiceAccount { access_key, .. }) => Some(access_key.as_str()),
        };
        // Policy variables: ${aws:username} is the user (a service account's parent).
        let mut conditions = conditions.clone();
        if let Some(identity) = identity {
            let user = match identity {
                Identity::Root => self.root_access_key.as_str(),
                Identity::User(user) => user.as_str(),
                Identity::ServiceAccount { parent, .. } => parent.as_str(),
            };
            conditions.insert("aws:username", vec![user.to_owned()]);
            conditions.insert("aws:userid", vec![user.to_owned()]);
        }
        let request = Request { action, bucket, key, principal, conditions: &conditions };
        match identity {
            None => bucket
                .and_then(|b| snapshot.bucket_policies.get(b))
                .is_some_and(|(policy, _)| policy.evaluate_bucket_policy(&request) == Decision::Allow),
            Some(Identity::Root) => true,
            Some(Identity::User(user)) => {
                let policies = snapshot.user_policies(user);
                evaluate(&policies.iter().collect::<Vec<&Policy>>(), &request)
            }
            Some(Identity::ServiceAccount { access_key, parent }) => {
                // An inline policy that no longer parses restricts to nothing, never to everything.
                let inline_allows = match snapshot.service_accounts.get(access_key).and_then(|a| a.policy.as_ref()) {
                    None => true,
                    Some(text) => Policy::parse(text.as_bytes()).is_ok_and(|p| evaluate(&[&p], &request)),
                };
                let parent_allows = *parent == self.root_access_key || {
                    let policies = snapshot.user_policies(parent);
                    evaluate(&policies.iter().collect::<Vec<&Policy>>(), &request)
                };
                inline_allows && parent_allows
            }
        }
    }
}
