//! Every kind of auth state as records in data, one record each, written
//! by compare-and-set so concurrent replicas never lose each other's writes.
//!
//! - `auth.pools.v1` / pool id: the pool;
//! - `auth.clients.v1` / client id: an app client (ids are global, as a
//!   token names its client alone);
//! - `auth.users.v1/{pool}` / user name (lower-cased when the pool is not
//!   case sensitive): a user with its password, codes, groups and MFA;
//! - `auth.aliases.v1/{pool}` / `email:...`, `phone_number:...`,
//!   `preferred_username:...`, `sub:...`: the other names that reach a
//!   user, each claimed by create-if-absent so two users never share one;
//! - `auth.groups.v1/{pool}`, `auth.resource-servers.v1/{pool}`;
//! - `auth.domains.v1` / domain prefix: the pool a hosted UI serves;
//! - `auth.keys.v1` / pool id: the pool's signing keys;
//! - `auth.grants.v1` / grant id: a refresh token's record;
//! - `auth.codes.v1` / hash of the code: an OAuth authorization code,
//!   claimed once by a compare-and-set delete (see `oidc::codes`).

use nubo_proto::{ErrorCode, clients::RecordsClient};
use serde::{Serialize, de::DeserializeOwned};

use crate::error::{CognitoError, Result};

pub const POOLS: &str = "auth.pools.v1";
pub const CLIENTS: &str = "auth.clients.v1";
pub const DOMAINS: &str = "auth.domains.v1";
pub const KEYS: &str = "auth.keys.v1";
pub const GRANTS: &str = "auth.grants.v1";

pub fn users(pool_id: &str) -> String {
    format!("auth.users.v1/{pool_id}")
}

pub fn aliases(pool_id: &str) -> String {
    format!("auth.aliases.v1/{pool_id}")
}

pub fn groups(pool_id: &str) -> String {
    format!("auth.groups.v1/{pool_id}")
}

pub fn resource_servers(pool_id: &str) -> String {
    format!("auth.resource-servers.v1/{pool_id}")
}

pub fn providers(pool_id: &str) -> String {
    format!("auth.providers.v1/{pool_id}")
}

/// A value read with the version a compare-and-set names.
#[derive(Debug, Clone)]
pub struct Versioned<T> {
    pub value: T,
    pub version: u64,
}

/// How often a compare-and-set update is retried against concurrent ones
/// before the caller is told to retry.
const UPDATE_ATTEMPTS: u32 = 16;

/// Typed access to the records.
#[derive(Debug, Clone)]
pub struct Store {
    records: RecordsClient,
}

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(value).map_err(|error| CognitoError::internal(format!("cannot encode a record: {error}")))
}

fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes)
        .map_err(|error| CognitoError::internal(format!("a stored record is unreadable: {error}")))
}

impl Store {
    pub fn new(records: RecordsClient) -> Self {
        Self { records }
    }

    pub async fn get<T: DeserializeOwned>(&self, namespace: &str, key: &str) -> Result<Option<Versioned<T>>> {
        match self.records.get(namespace, key).await? {
            Some(record) => Ok(Some(Versioned { value: decode(&record.value)?, version: record.version })),
            None => Ok(None),
        }
    }

    /// Writes `value` only if no record holds `key`; false if one does.
    pub async fn create<T: Serialize>(&self, namespace: &str, key: &str, value: &T) -> Result<bool> {
        self.put_if(namespace, key, value, 0).await
    }

    /// Writes `value` only if the record is still at `version` (0: absent).
    pub async fn put_if<T: Serialize>(&self, namespace: &str, key: &str, value: &T, version: u64) -> Result<bool> {
        match self.records.put(namespace, key, encode(value)?, Some(version)).await {
            Ok(_) => Ok(true),
            Err(error) if error.code == ErrorCode::ConditionFailed => Ok(false),
            Err(error) => Err(error.into()),
        }
    }

    pub async fn put<T: Serialize>(&self, namespace: &str, key: &str, value: &T) -> Result<()> {
        self.records.put(namespace, key, encode(value)?, None).await?;
        Ok(())
    }

    pub async fn delete(&self, namespace: &str, key: &str) -> Result<bool> {
        Ok(self.records.delete(namespace, key, None).await?)
    }

    /// Deletes the record only if it is still at `version`; false if it
    /// changed or went meanwhile (someone else claimed it).
    pub async fn delete_if(&self, namespace: &str, key: &str, version: u64) -> Result<bool> {
        match self.records.delete(namespace, key, Some(version)).await {
            Ok(existed) => Ok(existed),
            Err(error) if error.code == ErrorCode::ConditionFailed => Ok(false),
            Err(error) => Err(error.into()),
        }
    }

    /// Reads, changes and writes back one record, again from the read if a
    /// concurrent write got there first. `change` sees the latest value
    /// each time and may refuse; `None` if there is no record.
    pub async fn update<T, F>(&self, namespace: &str, key: &str, mut change: F) -> Result<Option<T>>
    where
        T: Serialize + DeserializeOwned,
        F: FnMut(&mut T) -> Result<()>,
    {
        for attempt in 0..UPDATE_ATTEMPTS {
            let Some(Versioned { mut value, version }) = self.get::<T>(namespace, key).await? else {
                return Ok(None);
            };
            change(&mut value)?;
            if self.put_if(namespace, key, &value, version).await? {
                return Ok(Some(value));
            }
            // Spread retries out so replicas racing on one record settle.
            let pause = std::time::Duration::from_millis(u64::from(attempt) * 2 + rand::random_range(0..3));
            tokio::time::sleep(pause).await;
        }
        Err(CognitoError::too_many_requests("Too many concurrent changes to one resource; try again."))
    }

    /// One page of a namespace: values and the key to continue after.
    pub async fn page<T: DeserializeOwned>(
        &self,
        namespace: &str,
        after: &str,
        limit: u32,
    ) -> Result<(Vec<(String, T)>, Option<String>)> {
        let (records, next) = self.records.list(namespace, "", after, limit).await?;
        let values = records
            .into_iter()
            .map(|record| Ok((record.key.clone(), decode(&record.value)?)))
            .collect::<Result<Vec<_>>>()?;
        Ok((values, next))
    }

    pub async fn all<T: DeserializeOwned>(&self, namespace: &str, prefix: &str) -> Result<Vec<(String, T)>> {
        self.records
            .list_all(namespace, prefix)
            .await?
            .into_iter()
            .map(|record| Ok((record.key.clone(), decode(&record.value)?)))
            .collect()
    }
}
