//! Small configuration objects of Cairn itself (identities, policies, bucket
//! configuration) stored under `config/` in the system volume: erasure coded, quorum
//! written and healed like user objects, but out of reach of S3 clients (the system
//! volume's name is not a valid bucket name).

use crate::pages::Pages;
use crate::store::ObjectStore;
use crate::types::PutRequest;
use crate::{NoCheck, ObjectError, Result};
use bytes::{Bytes, BytesMut};
use cairn_drive::SYSTEM_VOLUME;
use futures::StreamExt;
use std::collections::BTreeMap;

/// Every configuration object's key starts with this.
pub const CONFIG_PREFIX: &str = "config/";
/// Largest configuration object read back whole (identities and policies are small).
pub const CONFIG_OBJECT_BYTES_MAX: u64 = 16 << 20;
/// Keys listed per page when enumerating configuration objects.
const CONFIG_LIST_PAGE: usize = 1000;

fn check_key(key: &str) -> Result<()> {
    if key.starts_with(CONFIG_PREFIX) {
        Ok(())
    } else {
        Err(ObjectError::InvalidArgument(format!("configuration key {key:?} is outside {CONFIG_PREFIX}")))
    }
}

impl ObjectStore {
    /// Writes configuration object `key` (under `config/`).
    pub async fn put_config(&self, key: &str, data: Bytes) -> Result<()> {
        check_key(key)?;
        let body = futures::stream::once(async move { Ok::<Bytes, String>(data) }).boxed();
        let request = PutRequest {
            bucket: SYSTEM_VOLUME.to_owned(),
            key: key.to_owned(),
            body,
            check: Box::new(NoCheck),
            headers: BTreeMap::new(),
            condition: None,
            encryption: None,
        };
        self.put_object(request).await.map(|_| ())
    }

    /// Reads configuration object `key`; None when it does not exist.
    pub async fn get_config(&self, key: &str) -> Result<Option<Bytes>> {
        check_key(key)?;
        let reader = match self.open_object(SYSTEM_VOLUME, key).await {
            Ok(reader) => reader,
            Err(ObjectError::ObjectNotFound) => return Ok(None),
            Err(error) => return Err(error),
        };
        let size = reader.info.size;
        if size > CONFIG_OBJECT_BYTES_MAX {
            return Err(ObjectError::Internal(format!("configuration object {key} is {size} bytes")));
        }
        let mut stream = reader.stream(0, size);
        let mut data = BytesMut::with_capacity(size as usize);
        while let Some(chunk) = stream.next().await {
            data.extend_from_slice(&chunk?);
        }
        Ok(Some(data.freeze()))
    }

    /// Deletes configuration object `key` (deleting a missing one is fine).
    pub async fn delete_config(&self, key: &str) -> Result<()> {
        check_key(key)?;
        match self.delete_object(SYSTEM_VOLUME, key).await {
            Ok(_) | Err(ObjectError::ObjectNotFound) => Ok(()),
            Err(error) => Err(error),
        }
    }

    /// Keys of the configuration objects under `prefix` (itself under `config/`), in order.
    pub async fn list_config(&self, prefix: &str) -> Result<Vec<String>> {
        check_key(prefix)?;
        let mut pages = Pages::new(SYSTEM_VOLUME, prefix, None, CONFIG_LIST_PAGE);
        let mut keys = Vec::new();
        while let Some(page) = pages.next(self).await? {
            keys.extend(page.objects.into_iter().map(|o| o.key));
        }
        Ok(keys)
    }
}
