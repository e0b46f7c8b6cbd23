//! Encryption at rest, on the store's side: the master keys, buckets' default
//! encryption, which writes are encrypted with which key, and master key rotation
//! (see `crate::sse` for the keys and the stored layout).

use crate::sse::{CustomerKey, Encryption, EncryptionError, Keyring, ObjectKey};
use crate::types::{ObjectInfo, PutRequest, VersionRef};
use crate::{ObjectError, ObjectStore, Result, VersionsRequest};
use cairn_drive::SYSTEM_VOLUME;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Versions listed per page while rotating.
const ROTATION_PAGE_KEYS: usize = 1000;

/// What a master key rotation did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rotation {
    /// Versions looked at (delete markers excluded).
    pub versions: u64,
    /// Object keys re-sealed under the current master key.
    pub resealed: u64,
    /// Versions that could not be re-sealed (logged; a later rotation retries them).
    pub failed: u64,
}

impl ObjectStore {
    /// Sets (or removes) the master keys of SSE-S3.
    pub fn set_keyring(&self, keyring: Option<Arc<Keyring>>) {
        *self.keyring.write().unwrap_or_else(std::sync::PoisonError::into_inner) = keyring;
    }

    /// The master keys of SSE-S3, if the server has them.
    pub fn keyring(&self) -> Option<Arc<Keyring>> {
        self.keyring.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// Whether new objects in `bucket` are encrypted (SSE-S3) when their write asks for
    /// no encryption.
    pub async fn bucket_default_encryption(&self, bucket: &str) -> Result<bool> {
        if bucket == SYSTEM_VOLUME {
            return Ok(false);
        }
        Ok(self.bucket_config(bucket).await?.default_encryption)
    }

    /// Turns the bucket's default encryption on or off; on needs a master key.
    pub async fn set_bucket_default_encryption(&self, bucket: &str, on: bool) -> Result<()> {
        if bucket == SYSTEM_VOLUME {
            return Err(ObjectError::BucketNotFound);
        }
        if on && self.keyring().is_none() {
            return Err(EncryptionError::KmsNotConfigured.into());
        }
        self.update_bucket_record(bucket, |record| {
            record.default_encryption = on;
            Ok(())
        })
        .await
        .map(drop)
    }

    /// The object key a PUT of `bucket/key` encrypts with, sealed into its headers: as
    /// the request asks, else as the bucket's default says (None: not encrypted).
    pub(crate) async fn new_object_key(
        &self,
        bucket: &str,
        key: &str,
        request: &mut PutRequest,
    ) -> Result<Option<ObjectKey>> {
        let asked = request.encryption.take();
        self.seal_object_key(bucket, key, asked, &mut request.headers).await
    }

    /// A fresh object key for a new object (or upload) of `bucket/key`, sealed into
    /// `headers` as `asked` says or the bucket's default does; headers a copy carried
    /// over from its source are replaced.
    pub(crate) async fn seal_object_key(
        &self,
        bucket: &str,
        key: &str,
        asked: Option<Encryption>,
        headers: &mut BTreeMap<String, String>,
    ) -> Result<Option<ObjectKey>> {
        crate::sse::strip_headers(headers);
        let encryption = match asked {
            Some(asked) => asked,
            None if self.bucket_default_encryption(bucket).await? => Encryption::SseS3,
            None => return Ok(None),
        };
        let keyring = self.keyring();
        Ok(Some(crate::sse::seal_new_object_key(&encryption, keyring.as_deref(), (bucket, key), headers)?))
    }

    /// The object key of a stored version (or upload) with these headers, if encrypted.
    pub(crate) fn object_key_of(
        &self,
        headers: &BTreeMap<String, String>,
        customer: Option<&CustomerKey>,
        at: (&str, &str),
    ) -> Result<Option<ObjectKey>> {
        let keyring = self.keyring();
        Ok(crate::sse::open_object_key(headers, keyring.as_deref(), customer, at)?)
    }

    /// Describes a version as [`ObjectStore::version_info`] does, after checking that
    /// `customer` is the key it needs (S3 answers a HEAD of an SSE-C object only to the
    /// holder of its key).
    pub async fn version_info_with(
        &self,
        bucket: &str,
        key: &str,
        at: VersionRef,
        customer: Option<&CustomerKey>,
    ) -> Result<ObjectInfo> {
        let info = self.version_info(bucket, key, at).await?;
        // SSE-S3 needs no key to be described (a server without its master key still
        // answers HEAD); SSE-C needs the client's, and a key given must fit.
        if customer.is_some() || crate::sse::encryption_of(&info.headers) == Some(crate::sse::SSE_C) {
            self.object_key_of(&info.headers, customer, (bucket, key))?;
        }
        Ok(info)
    }

    /// Re-seals every SSE-S3 object key that the current master key did not seal, so
    /// that older master keys can be retired. Only metadata changes; no data is read or
    /// rewritten. Runs over every version of every bucket.
    pub async fn rotate_master_key(&self) -> Result<Rotation> {
        let keyring = self.keyring().ok_or(EncryptionError::KmsNotConfigured)?;
        let mut rotation = Rotation::default();
        for bucket in self.list_buckets().await? {
            let mut request = VersionsRequest {
                bucket: bucket.name.clone(),
                prefix: String::new(),
                delimiter: None,
                key_marker: None,
                version_id_marker: None,
                max_keys: ROTATION_PAGE_KEYS,
            };
            loop {
                let page = self.list_object_versions(&request).await?;
                for version in page.versions.iter().filter(|v| !v.delete_marker) {
                    rotation.versions += 1;
                    let at = VersionRef::Exact(version.version_id);
                    match self.reseal_version(&keyring, &bucket.name, &version.key, at).await {
                        Ok(true) => rotation.resealed += 1,
                        Ok(false) | Err(ObjectError::ObjectNotFound | ObjectError::VersionNotFound) => {}
                        Err(error) => {
                            rotation.failed += 1;
                            tracing::warn!(bucket = bucket.name, key = version.key, %error, "cannot re-seal an object key");
                        }
                    }
                }
                if !page.truncated {
                    break;
                }
                request.key_marker = page.next_key_marker;
                request.version_id_marker = page.next_version_id_marker;
            }
        }
        Ok(rotation)
    }

    /// Re-seals one version's object key under the current master key; false when it
    /// had nothing to re-seal.
    async fn reseal_version(&self, keyring: &Arc<Keyring>, bucket: &str, key: &str, at: VersionRef) -> Result<bool> {
        let info = self.version_info(bucket, key, at).await?;
        if crate::sse::reseal_headers(&info.headers, keyring, (bucket, key))?.is_none() {
            return Ok(false);
        }
        let (keyring, owned) = (Arc::clone(keyring), (bucket.to_owned(), key.to_owned()));
        let change: crate::HeaderChange = Box::new(move |headers| {
            // Judged again under the key's lock: another rotation may have done it.
            if let Some(resealed) = crate::sse::reseal_headers(headers, &keyring, (&owned.0, &owned.1))? {
                *headers = resealed;
            }
            Ok(())
        });
        self.update_object_headers(bucket, key, at, change).await?;
        Ok(true)
    }
}
