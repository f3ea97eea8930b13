//! Function definitions, kept as records in the data service and their
//! packages as objects in the storage service; this service keeps nothing
//! durable of its own.

use nubo_proto::{
    ErrorCode,
    clients::{ObjectsClient, RecordsClient},
};

use serde::{Serialize, de::DeserializeOwned};

use crate::{
    error::{LambdaError, Result},
    model::Function,
};

/// The data namespace of function definitions (`$LATEST`), by name.
const NAMESPACE: &str = "functions.v1";
/// Published versions, by `{name}/{version:010}` so they list in order.
pub const VERSIONS: &str = "function-versions.v1";
/// Aliases, by `{name}/{alias}`.
pub const ALIASES: &str = "function-aliases.v1";
/// Function URL configurations, by URL id.
pub const URLS: &str = "function-urls.v1";
/// Queued asynchronous invocations, by `{due_ms:016}/{request_id}`.
pub const EVENTS: &str = "function-events.v1";
/// The storage bucket of deployment packages.
pub const CODE_BUCKET: &str = "nubo-internal-lambda-code";

/// A stored function and the version of its record, for compare-and-set.
#[derive(Debug, Clone)]
pub struct Versioned {
    pub function: Function,
    pub version: u64,
}

/// How long the invocation path trusts a record it read: a change made
/// through another replica is seen within this long (changes made here are
/// seen at once).
const READ_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(1);

/// Records the invocation path read recently, by namespace and key.
type ReadCache =
    std::sync::Mutex<std::collections::HashMap<(&'static str, String), (std::time::Instant, Option<(Vec<u8>, u64)>)>>;

#[derive(Debug, Clone)]
pub struct Registry {
    records: RecordsClient,
    objects: ObjectsClient,
    cache: std::sync::Arc<ReadCache>,
}

impl Registry {
    pub fn new(records: RecordsClient, objects: ObjectsClient) -> Self {
        Self { records, objects, cache: Default::default() }
    }

    /// A record as the invocation path reads it: from the read cache when
    /// it is fresh, so a warm invoke costs no round trip to data.
    async fn read_cached(&self, namespace: &'static str, key: &str) -> Result<Option<(Vec<u8>, u64)>> {
        let cached = self.cache.lock().ok().and_then(|cache| {
            cache
                .get(&(namespace, key.to_owned()))
                .filter(|(at, _)| at.elapsed() < READ_CACHE_TTL)
                .map(|(_, value)| value.clone())
        });
        if let Some(value) = cached {
            return Ok(value);
        }
        let value = self.records.get(namespace, key).await?.map(|record| (record.value, record.version));
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() > 10_000 {
                cache.retain(|_, (at, _)| at.elapsed() < READ_CACHE_TTL);
            }
            cache.insert((namespace, key.to_owned()), (std::time::Instant::now(), value.clone()));
        }
        Ok(value)
    }

    /// Forgets a record this replica changed, so its next read is fresh.
    fn forget(&self, namespace: &str, key: &str) {
        if let Ok(mut cache) = self.cache.lock() {
            cache.retain(|(cached_namespace, cached_key), _| !(*cached_namespace == namespace && cached_key == key));
        }
    }

    /// `$LATEST` of a function as the invocation path reads it.
    pub async fn get_cached(&self, name: &str) -> Result<Option<Versioned>> {
        let Some((value, version)) = self.read_cached(NAMESPACE, name).await? else { return Ok(None) };
        let function = serde_json::from_slice(&value)
            .map_err(|error| LambdaError::Service(format!("stored function {name} is unreadable: {error}")))?;
        Ok(Some(Versioned { function, version }))
    }

    /// A version or alias as the invocation path reads it.
    pub async fn get_as_cached<T: DeserializeOwned>(&self, namespace: &'static str, key: &str) -> Result<Option<T>> {
        let Some((value, _)) = self.read_cached(namespace, key).await? else { return Ok(None) };
        serde_json::from_slice(&value)
            .map(Some)
            .map_err(|error| LambdaError::Service(format!("stored {namespace} {key} is unreadable: {error}")))
    }

    pub async fn get(&self, name: &str) -> Result<Option<Versioned>> {
        let Some(record) = self.records.get(NAMESPACE, name).await? else { return Ok(None) };
        let function = serde_json::from_slice(&record.value)
            .map_err(|error| LambdaError::Service(format!("stored function {name} is unreadable: {error}")))?;
        Ok(Some(Versioned { function, version: record.version }))
    }

    /// Stores a function; `expected_version` 0 creates, any other value
    /// updates what was read, failing if someone else wrote in between.
    pub async fn put(&self, function: &Function, expected_version: u64) -> Result<u64> {
        let value = serde_json::to_vec(function).map_err(|error| LambdaError::Service(error.to_string()))?;
        self.forget(NAMESPACE, &function.name);
        match self.records.put(NAMESPACE, &function.name, value, Some(expected_version)).await {
            Ok(version) => Ok(version),
            Err(error) if error.code == ErrorCode::ConditionFailed && expected_version == 0 => {
                Err(LambdaError::FunctionExists(function.name.clone()))
            }
            Err(error) if error.code == ErrorCode::ConditionFailed => Err(LambdaError::Conflict(format!(
                "The operation cannot be performed at this time. An update is in progress for resource: {}",
                function.name
            ))),
            Err(error) => Err(error.into()),
        }
    }

    pub async fn delete(&self, function: &Versioned) -> Result<()> {
        self.forget(NAMESPACE, &function.function.name);
        match self.records.delete(NAMESPACE, &function.function.name, Some(function.version)).await {
            Ok(_) => {}
            Err(error) if error.code == ErrorCode::ConditionFailed => {
                return Err(LambdaError::Conflict(format!(
                    "The operation cannot be performed at this time. An update is in progress for resource: {}",
                    function.function.name
                )));
            }
            Err(error) => return Err(error.into()),
        }
        // The package goes after the definition: a crash between the two
        // leaves an unreferenced object, never a function without code.
        self.delete_package(&function.function.code_bucket, &function.function.code_key).await;
        Ok(())
    }

    /// Deletes a package no definition refers to any more; a failure only
    /// leaves an unreferenced object behind, so it is logged, not returned.
    pub async fn delete_package(&self, bucket: &str, key: &str) {
        if let Err(error) = self.objects.delete(bucket, key).await {
            tracing::warn!(bucket, key, %error, "could not delete an unreferenced package");
        }
    }

    /// One page of functions in name order, and the marker of the next.
    pub async fn list(&self, marker: &str, limit: u32) -> Result<(Vec<Function>, Option<String>)> {
        let (records, next) = self.records.list(NAMESPACE, "", marker, limit).await?;
        let functions = records
            .iter()
            .filter_map(|record| match serde_json::from_slice(&record.value) {
                Ok(function) => Some(function),
                Err(error) => {
                    tracing::error!(key = %record.key, %error, "skipping unreadable stored function");
                    None
                }
            })
            .collect();
        Ok((functions, next))
    }

    /// A record of another kind than `$LATEST` (a version, an alias), with
    /// its record version.
    pub async fn get_as<T: DeserializeOwned>(&self, namespace: &str, key: &str) -> Result<Option<(T, u64)>> {
        let Some(record) = self.records.get(namespace, key).await? else { return Ok(None) };
        let value = serde_json::from_slice(&record.value)
            .map_err(|error| LambdaError::Service(format!("stored {namespace} {key} is unreadable: {error}")))?;
        Ok(Some((value, record.version)))
    }

    /// Writes such a record: `expected` `Some(0)` creates it, `Some(v)`
    /// updates what was read; `None` is returned when someone else wrote.
    pub async fn put_as<T: Serialize>(
        &self,
        namespace: &str,
        key: &str,
        value: &T,
        expected: u64,
    ) -> Result<Option<u64>> {
        let value = serde_json::to_vec(value).map_err(|error| LambdaError::Service(error.to_string()))?;
        self.forget(namespace, key);
        match self.records.put(namespace, key, value, Some(expected)).await {
            Ok(version) => Ok(Some(version)),
            Err(error) if error.code == ErrorCode::ConditionFailed => Ok(None),
            Err(error) => Err(error.into()),
        }
    }

    /// One page of records with their keys and versions, in key order.
    pub async fn page_as<T: DeserializeOwned>(
        &self,
        namespace: &str,
        start_after: &str,
        limit: u32,
    ) -> Result<Vec<(String, T, u64)>> {
        self.page_under(namespace, "", start_after, limit).await
    }

    /// One page of the records under `prefix`, in key order.
    pub async fn page_under<T: DeserializeOwned>(
        &self,
        namespace: &str,
        prefix: &str,
        start_after: &str,
        limit: u32,
    ) -> Result<Vec<(String, T, u64)>> {
        let (records, _) = self.records.list(namespace, prefix, start_after, limit).await?;
        Ok(records
            .into_iter()
            .filter_map(|record| match serde_json::from_slice(&record.value) {
                Ok(value) => Some((record.key, value, record.version)),
                Err(error) => {
                    tracing::error!(key = %record.key, %error, "skipping an unreadable record");
                    None
                }
            })
            .collect())
    }

    /// The keys of every record of `namespace` under `prefix`, in order.
    pub async fn keys(&self, namespace: &str, prefix: &str) -> Result<Vec<String>> {
        let mut keys = Vec::new();
        let mut after = String::new();
        loop {
            let (records, next) = self.records.list(namespace, prefix, &after, 1000).await?;
            keys.extend(records.into_iter().map(|record| record.key));
            match next {
                Some(next) => after = next,
                None => return Ok(keys),
            }
        }
    }

    /// Deletes a record if it is still at `version`.
    pub async fn delete_at(&self, namespace: &str, key: &str, version: u64) -> Result<bool> {
        match self.records.delete(namespace, key, Some(version)).await {
            Ok(existed) => Ok(existed),
            Err(error) if error.code == ErrorCode::ConditionFailed => Ok(false),
            Err(error) => Err(error.into()),
        }
    }

    pub async fn delete_as(&self, namespace: &str, key: &str) -> Result<bool> {
        self.forget(namespace, key);
        Ok(self.records.delete(namespace, key, None).await?)
    }

    /// Every record of `namespace` under `prefix`, in key order.
    pub async fn list_as<T: DeserializeOwned>(&self, namespace: &str, prefix: &str) -> Result<Vec<T>> {
        let mut values = Vec::new();
        let mut after = String::new();
        loop {
            let (records, next) = self.records.list(namespace, prefix, &after, 1000).await?;
            for record in records {
                match serde_json::from_slice(&record.value) {
                    Ok(value) => values.push(value),
                    Err(error) => tracing::error!(key = %record.key, %error, "skipping an unreadable record"),
                }
            }
            match next {
                Some(next) => after = next,
                None => return Ok(values),
            }
        }
    }

    /// Stores a package under the function's name and digest.
    pub async fn put_package(&self, name: &str, sha256_hex: &str, package: Vec<u8>) -> Result<(String, String)> {
        let key = format!("{name}/{sha256_hex}.zip");
        self.objects.put(CODE_BUCKET, &key, "application/zip", package).await?;
        Ok((CODE_BUCKET.to_owned(), key))
    }

    /// Reads a package from a bucket (CreateFunction with `S3Bucket`/`S3Key`).
    pub async fn fetch_package(&self, bucket: &str, key: &str) -> Result<Vec<u8>> {
        let not_found = || {
            LambdaError::InvalidParameterValue(format!(
                "Error occurred while GetObject. S3 Error Code: NoSuchKey. S3 Error Message: The specified key does not exist. ({bucket}/{key})"
            ))
        };
        // Check the size first: a package is read whole, so it must fit the limit.
        match self.objects.head(bucket, key).await {
            Ok(info) if info.size > crate::code::MAX_ZIPPED_BYTES as u64 => {
                return Err(LambdaError::RequestTooLarge(format!(
                    "Request must be smaller than {} bytes for the CreateFunction operation",
                    crate::code::MAX_ZIPPED_BYTES
                )));
            }
            Ok(_) => {}
            Err(error) if matches!(error.code, ErrorCode::NotFound | ErrorCode::InvalidArgument) => {
                return Err(not_found());
            }
            Err(error) => return Err(error.into()),
        }
        let mut bytes = Vec::new();
        match self.objects.get_into(bucket, key, &mut bytes).await {
            Ok(_) => Ok(bytes),
            Err(error) if error.code == ErrorCode::NotFound => Err(not_found()),
            Err(error) => Err(error.into()),
        }
    }
}
