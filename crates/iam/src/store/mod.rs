//! The identity store: users, service accounts, groups, named policies and bucket
//! policies, persisted as erasure-coded configuration objects and cached in memory.
//! A change made through any node bumps a version object; every node polls it each
//! second and reloads, so changes take effect everywhere within about a second.

mod access;
mod error;
mod manage;
pub mod records;
mod snapshot;

pub use access::AuthFailure;
pub use error::IamError;
pub use snapshot::{Identity, Snapshot};

use crate::policy::Policy;
use bytes::Bytes;
use cairn_object::ObjectStore;
use records::{BUCKET_POLICIES, GROUPS, POLICIES, SERVICE_ACCOUNTS, USERS, VERSION};
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// How often every node checks whether the identities changed.
const REFRESH_MS: u64 = 1_000;

/// The identity store of one node.
pub struct Iam {
    store: ObjectStore,
    root_access_key: String,
    root_secret_key: String,
    snapshot: RwLock<Arc<Snapshot>>,
    /// The version object's content at the last load.
    version: RwLock<Option<Bytes>>,
    /// Tells the other nodes that the identities changed (set once by the server).
    on_change: std::sync::OnceLock<ChangeNotifier>,
    /// Held through each reload: a reload that started before a change must not finish
    /// after the one a peer asked for and put back the older view.
    reloading: tokio::sync::Mutex<()>,
}

/// Tells the other nodes of a cluster to reload the identities now, so that a change
/// made through one node holds on every node when the call that made it returns. The
/// poll each second is the fallback for a node that could not be told.
pub type ChangeNotifier = Box<dyn Fn() -> std::pin::Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

impl std::fmt::Debug for Iam {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Iam").field("root_access_key", &self.root_access_key).finish_non_exhaustive()
    }
}

impl Iam {
    /// Loads the identities from `store` and keeps them fresh in the background.
    pub async fn open(store: ObjectStore, root_access_key: &str, root_secret_key: &str) -> Result<Arc<Self>, IamError> {
        let iam = Arc::new(Self {
            store,
            root_access_key: root_access_key.to_owned(),
            root_secret_key: root_secret_key.to_owned(),
            snapshot: RwLock::default(),
            version: RwLock::default(),
            on_change: std::sync::OnceLock::new(),
            reloading: tokio::sync::Mutex::new(()),
        });
        iam.reload().await?;
        tokio::spawn(refresh(Arc::downgrade(&iam)));
        Ok(iam)
    }

    /// The current view.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.read().map(|s| Arc::clone(&s)).unwrap_or_default()
    }

    /// Root's access key.
    pub fn root_access_key(&self) -> &str {
        &self.root_access_key
    }

    /// Sets how the other nodes are told of a change (once; single nodes set none).
    pub fn set_change_notifier(&self, notify: ChangeNotifier) {
        let _ = self.on_change.set(notify);
    }

    /// Reloads now, because another node says the identities changed; true on success.
    pub async fn reload_now(&self) -> bool {
        match self.reload().await {
            Ok(()) => true,
            Err(error) => {
                tracing::warn!(%error, "could not reload the identities a peer changed; the next poll retries");
                false
            }
        }
    }

    /// Reads every record and swaps the view in.
    async fn reload(&self) -> Result<(), IamError> {
        let _one_at_a_time = self.reloading.lock().await;
        let version = self.store.get_config(VERSION).await?;
        let mut snapshot = Snapshot::default();
        for record in self.read_folder::<records::UserRecord>(USERS).await? {
            snapshot.users.insert(record.access_key.clone(), record);
        }
        for record in self.read_folder::<records::ServiceAccountRecord>(SERVICE_ACCOUNTS).await? {
            snapshot.service_accounts.insert(record.access_key.clone(), record);
        }
        for record in self.read_folder::<records::GroupRecord>(GROUPS).await? {
            snapshot.groups.insert(record.name.clone(), record);
        }
        for record in self.read_folder::<records::PolicyRecord>(POLICIES).await? {
            match Policy::parse(record.document.as_bytes()) {
                Ok(policy) => {
                    snapshot.policies.insert(record.name.clone(), (policy, record));
                }
                Err(error) => tracing::warn!(policy = record.name, %error, "stored policy does not parse; ignored"),
            }
        }
        for key in self.store.list_config(BUCKET_POLICIES).await? {
            let Some(bucket) = key.strip_prefix(BUCKET_POLICIES).and_then(|k| k.strip_suffix(".json")) else {
                continue;
            };
            let Some(bytes) = self.store.get_config(&key).await? else { continue };
            match Policy::parse(&bytes) {
                Ok(policy) => {
                    snapshot
                        .bucket_policies
                        .insert(bucket.to_owned(), (policy, String::from_utf8_lossy(&bytes).into()));
                }
                Err(error) => tracing::warn!(bucket, %error, "stored bucket policy does not parse; ignored"),
            }
        }
        tracing::debug!(
            version = ?version.as_deref().map(String::from_utf8_lossy),
            users = snapshot.users.len(),
            policies = snapshot.policies.len(),
            bucket_policies = ?snapshot.bucket_policies.keys().collect::<Vec<_>>(),
            "identities reloaded"
        );
        if let Ok(mut current) = self.snapshot.write() {
            *current = Arc::new(snapshot);
        }
        if let Ok(mut current) = self.version.write() {
            *current = version;
        }
        Ok(())
    }

    async fn read_folder<T: serde::de::DeserializeOwned>(&self, folder: &str) -> Result<Vec<T>, IamError> {
        let mut records = Vec::new();
        for key in self.store.list_config(folder).await? {
            if let Some(bytes) = self.store.get_config(&key).await? {
                match serde_json::from_slice(&bytes) {
                    Ok(record) => records.push(record),
                    Err(error) => tracing::warn!(key, %error, "unreadable identity record; ignored"),
                }
            }
        }
        Ok(records)
    }

    /// Persists a change: writes (or deletes) one record, bumps the version, reloads.
    async fn commit(&self, key: &str, record: Option<Bytes>) -> Result<(), IamError> {
        match record {
            Some(bytes) => self.store.put_config(key, bytes).await?,
            None => self.store.delete_config(key).await?,
        }
        self.store.put_config(VERSION, Bytes::from(uuid::Uuid::new_v4().to_string())).await?;
        self.reload().await?;
        if let Some(notify) = self.on_change.get() {
            notify().await;
        }
        Ok(())
    }

    /// Reloads when another node changed something.
    async fn refresh_if_changed(&self) -> Result<(), IamError> {
        let version = self.store.get_config(VERSION).await?;
        let known = self.version.read().map(|v| v.clone()).unwrap_or_default();
        if version != known {
            self.reload().await?;
        }
        Ok(())
    }
}

/// Polls for changes made through other nodes until the store is dropped.
async fn refresh(iam: std::sync::Weak<Iam>) {
    loop {
        tokio::time::sleep(Duration::from_millis(REFRESH_MS)).await;
        let Some(iam) = iam.upgrade() else { return };
        if let Err(error) = iam.refresh_if_changed().await {
            tracing::debug!(%error, "could not check the identities for changes");
        }
    }
}
