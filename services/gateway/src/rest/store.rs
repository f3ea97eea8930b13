//! REST APIs, API keys and usage plans as records in the data service: one
//! record per REST API (`gateway.restapis.v1`, its resources, deployments,
//! stages and authorizers inside, so a change is one atomic
//! compare-and-set write), one per API key and one per usage plan. The
//! request path reads through short-lived in-process caches, as
//! [`crate::apis`] does for HTTP APIs.

use std::{
    collections::HashMap,
    marker::PhantomData,
    sync::{Arc, Mutex},
    time::Instant,
};

use nubo_proto::{ErrorCode, clients::RecordsClient};
use serde::{Serialize, de::DeserializeOwned};

use super::model::{ApiKey, RestApi, UsagePlan};
use crate::{
    apis::CACHE_TTL,
    error::{GatewayError, Result},
};

const REST_APIS: &str = "gateway.restapis.v1";
const API_KEYS: &str = "gateway.apikeys.v1";
const USAGE_PLANS: &str = "gateway.usageplans.v1";
/// Cached REST APIs at most, answers for unknown ids included.
const MAX_CACHED: usize = 10_000;

/// A stored value and the version of its record, for compare-and-set.
#[derive(Debug, Clone)]
pub struct Versioned<T> {
    pub value: T,
    pub version: u64,
}

/// Typed records of one namespace.
#[derive(Debug, Clone)]
pub struct Records<T> {
    records: RecordsClient,
    namespace: &'static str,
    kind: PhantomData<fn() -> T>,
}

impl<T: Serialize + DeserializeOwned> Records<T> {
    fn new(records: RecordsClient, namespace: &'static str) -> Self {
        Self { records, namespace, kind: PhantomData }
    }

    pub async fn get(&self, key: &str) -> Result<Option<Versioned<T>>> {
        let Some(record) = self.records.get(self.namespace, key).await? else { return Ok(None) };
        let value = serde_json::from_slice(&record.value)
            .map_err(|error| GatewayError::Service(format!("stored record {key} is unreadable: {error}")))?;
        Ok(Some(Versioned { value, version: record.version }))
    }

    /// Writes a value; `expected_version` 0 creates it.
    pub async fn put(&self, key: &str, value: &T, expected_version: u64) -> Result<()> {
        let bytes = serde_json::to_vec(value).map_err(|error| GatewayError::Service(error.to_string()))?;
        match self.records.put(self.namespace, key, bytes, Some(expected_version)).await {
            Ok(_) => Ok(()),
            Err(error) if error.code == ErrorCode::ConditionFailed => Err(GatewayError::Conflict(
                "Unable to complete operation due to concurrent modification. Please try again later.".into(),
            )),
            Err(error) => Err(error.into()),
        }
    }

    /// Whether there was a record to delete.
    pub async fn delete(&self, key: &str) -> Result<bool> {
        Ok(self.records.delete(self.namespace, key, None).await?)
    }

    pub async fn list(&self) -> Result<Vec<T>> {
        let mut values = Vec::new();
        let mut start_after = String::new();
        loop {
            let (records, next) = self.records.list(self.namespace, "", &start_after, 500).await?;
            for record in records {
                match serde_json::from_slice(&record.value) {
                    Ok(value) => values.push(value),
                    Err(error) => {
                        tracing::error!(namespace = self.namespace, key = %record.key, %error, "skipping unreadable record")
                    }
                }
            }
            match next {
                Some(next) => start_after = next,
                None => return Ok(values),
            }
        }
    }
}

/// The keys and plans the request path checks `x-api-key` against.
#[derive(Debug, Default)]
pub struct UsageSnapshot {
    pub keys_by_value: HashMap<String, ApiKey>,
    pub plans: Vec<UsagePlan>,
}

type ApiEntry = (Instant, Option<Arc<RestApi>>);
type UsageEntry = Option<(Instant, Arc<UsageSnapshot>)>;

/// Everything REST APIs keep in data, with the request path's caches.
#[derive(Debug, Clone)]
pub struct RestStore {
    pub apis: Records<RestApi>,
    pub keys: Records<ApiKey>,
    pub plans: Records<UsagePlan>,
    pub account_id: String,
    api_cache: Arc<Mutex<HashMap<String, ApiEntry>>>,
    usage_cache: Arc<Mutex<UsageEntry>>,
}

impl RestStore {
    pub fn new(records: RecordsClient, account_id: String) -> Self {
        Self {
            apis: Records::new(records.clone(), REST_APIS),
            keys: Records::new(records.clone(), API_KEYS),
            plans: Records::new(records, USAGE_PLANS),
            account_id,
            api_cache: Arc::default(),
            usage_cache: Arc::default(),
        }
    }

    pub fn api_not_found(&self, api_id: &str) -> GatewayError {
        GatewayError::NotFound(format!("Invalid API identifier specified {}:{api_id}", self.account_id))
    }

    pub async fn api(&self, api_id: &str) -> Result<Versioned<RestApi>> {
        self.apis.get(api_id).await?.ok_or_else(|| self.api_not_found(api_id))
    }

    pub async fn put_api(&self, api: &RestApi, expected_version: u64) -> Result<()> {
        let written = self.apis.put(&api.id, api, expected_version).await;
        self.invalidate_api(&api.id);
        written
    }

    pub async fn delete_api(&self, api_id: &str) -> Result<()> {
        let existed = self.apis.delete(api_id).await?;
        self.invalidate_api(api_id);
        if existed { Ok(()) } else { Err(self.api_not_found(api_id)) }
    }

    /// Reads an API, applies `change`, and writes it back with compare-and-set.
    pub async fn update_api<T>(&self, api_id: &str, change: impl FnOnce(&mut RestApi) -> Result<T>) -> Result<T> {
        let mut versioned = self.api(api_id).await?;
        let result = change(&mut versioned.value)?;
        self.put_api(&versioned.value, versioned.version).await?;
        Ok(result)
    }

    /// The definition to serve a request with, from the cache when fresh.
    pub async fn api_for_request(&self, api_id: &str) -> Result<Option<Arc<RestApi>>> {
        if let Ok(cache) = self.api_cache.lock()
            && let Some((fetched, api)) = cache.get(api_id)
            && fetched.elapsed() < CACHE_TTL
        {
            return Ok(api.clone());
        }
        let api = self.apis.get(api_id).await?.map(|versioned| Arc::new(versioned.value));
        if let Ok(mut cache) = self.api_cache.lock() {
            // Requests naming random ids must not grow the cache unbounded.
            if cache.len() >= MAX_CACHED {
                cache.clear();
            }
            cache.insert(api_id.to_owned(), (Instant::now(), api.clone()));
        }
        Ok(api)
    }

    pub fn invalidate_api(&self, api_id: &str) {
        if let Ok(mut cache) = self.api_cache.lock() {
            cache.remove(api_id);
        }
    }

    /// Keys and plans for the request path, read again once a second.
    pub async fn usage_for_request(&self) -> Result<Arc<UsageSnapshot>> {
        if let Ok(cache) = self.usage_cache.lock()
            && let Some((fetched, snapshot)) = cache.as_ref()
            && fetched.elapsed() < CACHE_TTL
        {
            return Ok(snapshot.clone());
        }
        let keys = self.keys.list().await?;
        let plans = self.plans.list().await?;
        let snapshot = Arc::new(UsageSnapshot {
            keys_by_value: keys.into_iter().map(|key| (key.value.clone(), key)).collect(),
            plans,
        });
        if let Ok(mut cache) = self.usage_cache.lock() {
            *cache = Some((Instant::now(), snapshot.clone()));
        }
        Ok(snapshot)
    }

    /// Drops the usage snapshot after a key or plan changed here.
    pub fn invalidate_usage(&self) {
        if let Ok(mut cache) = self.usage_cache.lock() {
            *cache = None;
        }
    }
}
