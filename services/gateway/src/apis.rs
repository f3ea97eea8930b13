//! API definitions kept as records in the data service, with a
//! revalidating in-process cache in front for the request path
//! ([`crate::revalidating`]): no request waits on a record read once its
//! API is known. A change made here drops the local entry at once; other
//! replicas serve it once their entry is older than [`CACHE_TTL`] and its
//! background read has returned, or when told through `InvalidateApi`.

use std::{sync::Arc, time::Duration};

use nubo_proto::{ErrorCode, clients::RecordsClient};

use crate::{
    error::{GatewayError, Result},
    model::Api,
};

const NAMESPACE: &str = "gateway.apis.v1";
/// How long a cached definition serves requests before it is read again.
pub const CACHE_TTL: Duration = Duration::from_secs(1);
/// Entries kept at most, answers for unknown ids included.
const MAX_CACHED: u64 = 10_000;

/// A stored API and the version of its record, for compare-and-set.
#[derive(Debug, Clone)]
pub struct Versioned {
    pub api: Api,
    pub version: u64,
}

#[derive(Debug, Clone)]
pub struct Apis {
    records: RecordsClient,
    account_id: String,
    cache: crate::revalidating::Revalidating<String, Api>,
}

impl Apis {
    pub fn new(records: RecordsClient, account_id: String) -> Self {
        Self { records, account_id, cache: crate::revalidating::Revalidating::new(MAX_CACHED, CACHE_TTL) }
    }

    /// The records client, for the gateway's other definitions.
    pub fn records(&self) -> &RecordsClient {
        &self.records
    }

    pub fn not_found(&self, api_id: &str) -> GatewayError {
        GatewayError::NotFound(format!("Invalid API identifier specified {}:{api_id}", self.account_id))
    }

    pub async fn get(&self, api_id: &str) -> Result<Versioned> {
        let record = self.records.get(NAMESPACE, api_id).await?.ok_or_else(|| self.not_found(api_id))?;
        let api = serde_json::from_slice(&record.value)
            .map_err(|error| GatewayError::Service(format!("stored API {api_id} is unreadable: {error}")))?;
        Ok(Versioned { api, version: record.version })
    }

    /// Writes an API; `expected_version` 0 creates it.
    pub async fn put(&self, api: &Api, expected_version: u64) -> Result<()> {
        let value = serde_json::to_vec(api).map_err(|error| GatewayError::Service(error.to_string()))?;
        let written = self.records.put(NAMESPACE, &api.api_id, value, Some(expected_version)).await;
        self.invalidate(&api.api_id);
        match written {
            Ok(_) => Ok(()),
            Err(error) if error.code == ErrorCode::ConditionFailed => Err(GatewayError::Conflict(format!(
                "Unable to complete operation due to concurrent modification of API {}. Please try again later.",
                api.api_id
            ))),
            Err(error) => Err(error.into()),
        }
    }

    pub async fn delete(&self, api_id: &str) -> Result<()> {
        let existed = self.records.delete(NAMESPACE, api_id, None).await?;
        self.invalidate(api_id);
        if existed { Ok(()) } else { Err(self.not_found(api_id)) }
    }

    pub async fn list(&self) -> Result<Vec<Api>> {
        let mut apis = Vec::new();
        let mut start_after = String::new();
        loop {
            let (records, next) = self.records.list(NAMESPACE, "", &start_after, 500).await?;
            for record in records {
                match serde_json::from_slice(&record.value) {
                    Ok(api) => apis.push(api),
                    Err(error) => tracing::error!(api = %record.key, %error, "skipping unreadable stored API"),
                }
            }
            match next {
                Some(next) => start_after = next,
                None => return Ok(apis),
            }
        }
    }

    /// The definition to serve a request with, from the cache when known.
    pub async fn for_request(&self, api_id: &str) -> Result<Option<Arc<Api>>> {
        let key = api_id.to_owned();
        let apis = self.clone();
        self.cache
            .get(&api_id.to_owned(), move || async move {
                match apis.get(&key).await {
                    Ok(versioned) => Ok((versioned.version, Some(versioned.api))),
                    Err(GatewayError::NotFound(_)) => Ok((0, None)),
                    Err(error) => Err(error),
                }
            })
            .await
    }

    pub fn invalidate(&self, api_id: &str) {
        self.cache.invalidate(&api_id.to_owned());
    }
}
