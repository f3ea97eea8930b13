//! Event source mappings for DynamoDB streams: a follower per mapping reads
//! the table's stream through the data service, drops records the
//! mapping's filters do not match, and invokes the function with batches
//! in stream order, so changes to an item reach it in the order they were
//! made. Like Lambda:
//! - a failing batch is retried until it succeeds or
//!   `MaximumRetryAttempts` is spent (default −1: for ever, so one poison
//!   record blocks its shard) or its records pass `MaximumRecordAgeInSeconds`;
//! - `BisectBatchOnFunctionError` splits a failing batch in two and
//!   retries each half, which isolates a poison record;
//! - `ReportBatchItemFailures` lets the function name the first record
//!   that failed, and only the records from it on are retried;
//! - a batch given up on goes to the on-failure destination (a function)
//!   in Lambda's record, with `DDBStreamBatchInfo`.
//!
//! Where a follower is in the stream (its checkpoint) is a record in the
//! data service, written after each batch; it also holds a lease, so one
//! replica of the service follows a mapping at a time and another takes
//! over when the lease lapses.

use std::{
    collections::HashSet,
    sync::{Arc, Mutex},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use bytes::Bytes;
use nubo_proto::clients::ItemsClient;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::{
    error::{LambdaError, Result},
    filter::Pattern,
    invoker::Invoked,
    lambda::Lambda,
    model::parse_function_reference,
};

/// The data namespaces of mappings (by UUID) and of their followers'
/// checkpoints and leases (by UUID).
const MAPPINGS: &str = "event-source-mappings.v1";
const CHECKPOINTS: &str = "event-source-checkpoints.v1";
/// How long a follower's lease lasts without renewal.
const LEASE: Duration = Duration::from_secs(30);
/// How often an idle follower asks its stream for new records.
const POLL: Duration = Duration::from_millis(200);

/// A mapping as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mapping {
    pub uuid: String,
    /// The function as named at creation, qualified or not.
    pub function: String,
    pub event_source_arn: String,
    pub batch_size: u32,
    pub batching_window_secs: u32,
    pub starting_position: String,
    pub filters: Vec<String>,
    pub report_batch_item_failures: bool,
    pub maximum_retry_attempts: i64,
    pub maximum_record_age_secs: i64,
    pub bisect: bool,
    pub on_failure: Option<String>,
    pub enabled: bool,
    pub last_modified: f64,
}

/// Where a mapping's follower is, and who follows it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Checkpoint {
    /// An iterator at the first record not yet handled; empty once its
    /// shard was read to its end.
    iterator: String,
    /// The shard the iterator reads (a stream's shards close and are
    /// followed by children; empty in checkpoints from before).
    #[serde(default)]
    shard: String,
    /// The sequence number of the last record handled, to resume after it
    /// when the iterator expired (iterators last 15 minutes).
    #[serde(default)]
    sequence: Option<String>,
    owner: String,
    lease_until_ms: u64,
    last_result: String,
}

/// Create/UpdateEventSourceMapping's request.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MappingInput {
    pub function_name: Option<String>,
    pub event_source_arn: Option<String>,
    pub batch_size: Option<i64>,
    pub maximum_batching_window_in_seconds: Option<i64>,
    pub starting_position: Option<String>,
    pub enabled: Option<bool>,
    pub filter_criteria: Option<FilterCriteriaInput>,
    pub function_response_types: Option<Vec<String>>,
    pub maximum_retry_attempts: Option<i64>,
    pub maximum_record_age_in_seconds: Option<i64>,
    pub bisect_batch_on_function_error: Option<bool>,
    pub destination_config: Option<crate::events::DestinationConfigInput>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FilterCriteriaInput {
    #[serde(default)]
    pub filters: Vec<FilterInput>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FilterInput {
    pub pattern: Option<String>,
}

/// The followers this replica runs.
#[derive(Debug, Default)]
pub struct Followers {
    /// This replica's name in leases.
    owner: String,
    running: Mutex<HashSet<String>>,
}

impl Followers {
    pub fn new(items: ItemsClient) -> Arc<(Self, ItemsClient)> {
        Arc::new((Self { owner: uuid::Uuid::new_v4().to_string(), running: Mutex::default() }, items))
    }
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_millis() as u64)
}

fn invalid(message: impl Into<String>) -> LambdaError {
    LambdaError::InvalidParameterValue(message.into())
}

fn range(name: &str, value: i64, low: i64, high: i64) -> Result<i64> {
    if (low..=high).contains(&value) {
        Ok(value)
    } else {
        Err(LambdaError::Validation(format!(
            "1 validation error detected: Value '{value}' at '{name}' failed to satisfy constraint: Member must have value between {low} and {high}"
        )))
    }
}

/// How handing a batch to the function ended.
enum Delivery {
    Done,
    /// The mapping was disabled or deleted meanwhile.
    Stopped,
}

impl Lambda {
    fn items(&self) -> &ItemsClient {
        &self.followers.1
    }

    /// The shards of a stream, oldest first (shard ids sort by age).
    async fn shards_of(&self, stream_arn: &str) -> Result<Vec<String>> {
        let mut shards = Vec::new();
        let mut request = json!({ "StreamArn": stream_arn });
        loop {
            let described = self
                .items()
                .execute("DescribeStream", &request)
                .await
                .map_err(|error| invalid(format!("Stream not found: {stream_arn} ({})", error.message)))?;
            let description = &described["StreamDescription"];
            shards.extend(
                description["Shards"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|shard| shard["ShardId"].as_str().map(str::to_owned)),
            );
            match description["LastEvaluatedShardId"].as_str() {
                Some(last) => request["ExclusiveStartShardId"] = last.into(),
                None => break,
            }
        }
        shards.sort();
        Ok(shards)
    }

    /// The shard a follower starts in: the oldest from the trim horizon,
    /// the newest for the latest changes.
    async fn shard_of(&self, stream_arn: &str, position: &str) -> Result<String> {
        let shards = self.shards_of(stream_arn).await?;
        let shard = if position == "LATEST" { shards.last() } else { shards.first() };
        shard.cloned().ok_or_else(|| invalid(format!("Stream {stream_arn} has no shard")))
    }

    /// An iterator for a follower whose iterator expired or whose records
    /// were trimmed: after the last record handled if that is still kept,
    /// else from where its shard's records, or the stream's, begin.
    async fn resume(&self, stream_arn: &str, checkpoint: &mut Checkpoint) -> Result<String> {
        if let Some(sequence) = &checkpoint.sequence
            && let Ok(iterator) =
                self.iterator(stream_arn, &checkpoint.shard, "AFTER_SEQUENCE_NUMBER", Some(sequence)).await
        {
            return Ok(iterator);
        }
        if let Ok(iterator) = self.iterator(stream_arn, &checkpoint.shard, "TRIM_HORIZON", None).await {
            return Ok(iterator);
        }
        checkpoint.shard = self.shard_of(stream_arn, "TRIM_HORIZON").await?;
        checkpoint.sequence = None;
        self.iterator(stream_arn, &checkpoint.shard, "TRIM_HORIZON", None).await
    }

    async fn iterator(&self, stream_arn: &str, shard: &str, kind: &str, sequence: Option<&str>) -> Result<String> {
        let mut request = json!({ "StreamArn": stream_arn, "ShardId": shard, "ShardIteratorType": kind });
        if let Some(sequence) = sequence {
            request["SequenceNumber"] = sequence.into();
        }
        let answer = self.items().execute("GetShardIterator", &request).await?;
        answer["ShardIterator"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| LambdaError::Service("no shard iterator".into()))
    }

    fn apply_mapping_input(&self, mapping: &mut Mapping, input: MappingInput) -> Result<()> {
        if let Some(size) = input.batch_size {
            mapping.batch_size = range("batchSize", size, 1, 10_000)? as u32;
        }
        if let Some(window) = input.maximum_batching_window_in_seconds {
            mapping.batching_window_secs = range("maximumBatchingWindowInSeconds", window, 0, 300)? as u32;
        }
        if let Some(enabled) = input.enabled {
            mapping.enabled = enabled;
        }
        if let Some(criteria) = input.filter_criteria {
            let patterns: Vec<String> = criteria.filters.into_iter().filter_map(|filter| filter.pattern).collect();
            for pattern in &patterns {
                Pattern::parse(pattern)?;
            }
            mapping.filters = patterns;
        }
        if let Some(types) = input.function_response_types {
            if let Some(other) = types.iter().find(|kind| *kind != "ReportBatchItemFailures") {
                return Err(LambdaError::Validation(format!(
                    "1 validation error detected: Value '[{other}]' at 'functionResponseTypes' failed to satisfy constraint: Member must satisfy enum value set: [ReportBatchItemFailures]"
                )));
            }
            mapping.report_batch_item_failures = !types.is_empty();
        }
        if let Some(retries) = input.maximum_retry_attempts {
            mapping.maximum_retry_attempts = range("maximumRetryAttempts", retries, -1, 10_000)?;
        }
        if let Some(age) = input.maximum_record_age_in_seconds {
            if age != -1 {
                range("maximumRecordAgeInSeconds", age, 60, 604_800)?;
            }
            mapping.maximum_record_age_secs = age;
        }
        if let Some(bisect) = input.bisect_batch_on_function_error {
            mapping.bisect = bisect;
        }
        if let Some(on_failure) = input.destination_config.and_then(|config| config.on_failure) {
            mapping.on_failure = on_failure.destination.filter(|arn| !arn.is_empty());
        }
        Ok(())
    }

    pub async fn create_mapping(&self, input: MappingInput) -> Result<Value> {
        let function = input.function_name.clone().ok_or_else(|| invalid("FunctionName is required"))?;
        self.resolve(&function).await?;
        let source = input.event_source_arn.clone().ok_or_else(|| invalid("EventSourceArn is required"))?;
        if !source.contains(":dynamodb:") || !source.contains("/stream/") {
            return Err(invalid(format!(
                "Unsupported event source type: {source}. nubo maps DynamoDB streams to functions."
            )));
        }
        let starting_position = match input.starting_position.as_deref() {
            Some(position @ ("TRIM_HORIZON" | "LATEST")) => position.to_owned(),
            Some(other) => return Err(invalid(format!("Unsupported starting position for DynamoDB streams: {other}"))),
            None => {
                return Err(invalid(
                    "1 validation error detected: Value null at 'startingPosition' failed to satisfy constraint: Member must not be null",
                ));
            }
        };
        let mut mapping = Mapping {
            uuid: uuid::Uuid::new_v4().to_string(),
            function,
            event_source_arn: source.clone(),
            batch_size: 100,
            batching_window_secs: 0,
            starting_position: starting_position.clone(),
            filters: Vec::new(),
            report_batch_item_failures: false,
            maximum_retry_attempts: -1,
            maximum_record_age_secs: -1,
            bisect: false,
            on_failure: None,
            enabled: true,
            last_modified: now_ms() as f64 / 1000.0,
        };
        let destination = input
            .destination_config
            .as_ref()
            .and_then(|config| config.on_failure.as_ref())
            .and_then(|destination| destination.destination.clone());
        self.apply_mapping_input(&mut mapping, input)?;
        if let Some(destination) = destination.filter(|arn| !arn.is_empty()) {
            self.resolve(&destination).await.map_err(|_| {
                invalid(format!(
                    "The destination ARN {destination} is invalid: nubo delivers to Lambda functions of this account."
                ))
            })?;
        }
        // Where the stream is now is fixed at creation, so LATEST means the
        // changes made after this call, however soon the follower starts.
        let shard = self.shard_of(&source, &starting_position).await?;
        let iterator = self.iterator(&source, &shard, &starting_position, None).await?;
        let checkpoint =
            Checkpoint { iterator, shard, last_result: "No records processed".into(), ..Default::default() };
        self.registry.put_as(CHECKPOINTS, &mapping.uuid, &checkpoint, 0).await?;
        self.registry.put_as(MAPPINGS, &mapping.uuid, &mapping, 0).await?;
        let mut answer = self.mapping_value(&mapping, &checkpoint.last_result);
        answer["State"] = "Creating".into();
        Ok(answer)
    }

    async fn stored_mapping(&self, uuid: &str) -> Result<(Mapping, u64)> {
        self.registry.get_as::<Mapping>(MAPPINGS, uuid).await?.ok_or_else(|| {
            LambdaError::ResourceNotFound(format!(
                "The resource you requested does not exist. (Service: Lambda, Status Code: 404, Request ID: {uuid})"
            ))
        })
    }

    async fn last_result(&self, uuid: &str) -> String {
        match self.registry.get_as::<Checkpoint>(CHECKPOINTS, uuid).await {
            Ok(Some((checkpoint, _))) => checkpoint.last_result,
            _ => "No records processed".into(),
        }
    }

    pub async fn get_mapping(&self, uuid: &str) -> Result<Value> {
        let (mapping, _) = self.stored_mapping(uuid).await?;
        Ok(self.mapping_value(&mapping, &self.last_result(uuid).await))
    }

    pub async fn update_mapping(&self, uuid: &str, input: MappingInput) -> Result<Value> {
        let (mut mapping, version) = self.stored_mapping(uuid).await?;
        if let Some(function) = input.function_name.clone() {
            self.resolve(&function).await?;
            mapping.function = function;
        }
        self.apply_mapping_input(&mut mapping, input)?;
        mapping.last_modified = now_ms() as f64 / 1000.0;
        if self.registry.put_as(MAPPINGS, uuid, &mapping, version).await?.is_none() {
            return Err(LambdaError::Conflict(format!(
                "The operation cannot be performed at this time. The event source mapping is currently in an Updating state. {uuid}"
            )));
        }
        let mut answer = self.mapping_value(&mapping, &self.last_result(uuid).await);
        answer["State"] = "Updating".into();
        Ok(answer)
    }

    pub async fn delete_mapping(&self, uuid: &str) -> Result<Value> {
        let (mapping, _) = self.stored_mapping(uuid).await?;
        self.registry.delete_as(MAPPINGS, uuid).await?;
        self.registry.delete_as(CHECKPOINTS, uuid).await?;
        let mut answer = self.mapping_value(&mapping, "No records processed");
        answer["State"] = "Deleting".into();
        Ok(answer)
    }

    pub async fn list_mappings(&self, function: Option<&str>, source: Option<&str>) -> Result<Vec<Value>> {
        let name = function.map(parse_function_reference).transpose()?.map(|(name, _)| name);
        let mut listed = Vec::new();
        for mapping in self.registry.list_as::<Mapping>(MAPPINGS, "").await? {
            let same_function = name.as_ref().is_none_or(|name| {
                parse_function_reference(&mapping.function).is_ok_and(|(mapped, _)| &mapped == name)
            });
            if same_function && source.is_none_or(|source| source == mapping.event_source_arn) {
                let result = self.last_result(&mapping.uuid).await;
                listed.push(self.mapping_value(&mapping, &result));
            }
        }
        Ok(listed)
    }

    /// The `EventSourceMappingConfiguration` shape.
    fn mapping_value(&self, mapping: &Mapping, last_result: &str) -> Value {
        let function_arn = match parse_function_reference(&mapping.function) {
            Ok((name, qualifier)) => {
                let arn = format!("arn:aws:lambda:{}:{}:function:{name}", self.region, self.account_id);
                qualifier.map_or(arn.clone(), |qualifier| format!("{arn}:{qualifier}"))
            }
            Err(_) => mapping.function.clone(),
        };
        let mut value = json!({
            "UUID": mapping.uuid,
            "BatchSize": mapping.batch_size,
            "MaximumBatchingWindowInSeconds": mapping.batching_window_secs,
            "ParallelizationFactor": 1,
            "EventSourceArn": mapping.event_source_arn,
            "FunctionArn": function_arn,
            "LastModified": mapping.last_modified,
            "LastProcessingResult": last_result,
            "State": if mapping.enabled { "Enabled" } else { "Disabled" },
            "StateTransitionReason": "User action",
            "StartingPosition": mapping.starting_position,
            "MaximumRecordAgeInSeconds": mapping.maximum_record_age_secs,
            "BisectBatchOnFunctionError": mapping.bisect,
            "MaximumRetryAttempts": mapping.maximum_retry_attempts,
            "TumblingWindowInSeconds": 0,
            "FunctionResponseTypes": if mapping.report_batch_item_failures { json!(["ReportBatchItemFailures"]) } else { json!([]) },
            "DestinationConfig": { "OnFailure": mapping.on_failure.as_ref().map_or(json!({}), |arn| json!({ "Destination": arn })) },
        });
        if !mapping.filters.is_empty() {
            let filters: Vec<Value> = mapping.filters.iter().map(|pattern| json!({ "Pattern": pattern })).collect();
            value["FilterCriteria"] = json!({ "Filters": filters });
        }
        value
    }

    /// Starts a follower for every enabled mapping no replica follows,
    /// until the task is aborted.
    pub async fn run_mappings(self) {
        loop {
            match self.registry.list_as::<Mapping>(MAPPINGS, "").await {
                Ok(mappings) => {
                    for mapping in mappings.into_iter().filter(|mapping| mapping.enabled) {
                        let newly = self
                            .followers
                            .0
                            .running
                            .lock()
                            .is_ok_and(|mut running| running.insert(mapping.uuid.clone()));
                        if newly {
                            let lambda = self.clone();
                            tokio::spawn(async move {
                                let uuid = mapping.uuid.clone();
                                if let Err(error) = lambda.follow(&uuid).await {
                                    tracing::warn!(mapping = %uuid, %error, "an event source mapping's follower stopped; it will start again");
                                }
                                if let Ok(mut running) = lambda.followers.0.running.lock() {
                                    running.remove(&uuid);
                                }
                            });
                        }
                    }
                }
                Err(error) => tracing::warn!(%error, "event source mappings could not be read"),
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// Takes or renews the lease on a mapping; `None` if another replica
    /// holds it.
    async fn lease(&self, uuid: &str) -> Result<Option<(Checkpoint, u64)>> {
        let Some((mut checkpoint, version)) = self.registry.get_as::<Checkpoint>(CHECKPOINTS, uuid).await? else {
            return Ok(None);
        };
        let owner = &self.followers.0.owner;
        if checkpoint.owner != *owner && checkpoint.lease_until_ms > now_ms() {
            return Ok(None);
        }
        checkpoint.owner = owner.clone();
        checkpoint.lease_until_ms = now_ms() + LEASE.as_millis() as u64;
        Ok(self.registry.put_as(CHECKPOINTS, uuid, &checkpoint, version).await?.map(|version| (checkpoint, version)))
    }

    /// Follows one mapping's stream while this replica holds its lease.
    async fn follow(&self, uuid: &str) -> Result<()> {
        let Some((mut checkpoint, mut version)) = self.lease(uuid).await? else { return Ok(()) };
        if checkpoint.shard.is_empty()
            && let Some((mapping, _)) = self.registry.get_as::<Mapping>(MAPPINGS, uuid).await?
        {
            // A checkpoint from before streams had shards: its iterator no
            // longer reads; start again from the oldest record kept.
            checkpoint.iterator = self.resume(&mapping.event_source_arn, &mut checkpoint).await?;
        }
        loop {
            let Some((mapping, _)) = self.registry.get_as::<Mapping>(MAPPINGS, uuid).await? else { return Ok(()) };
            if !mapping.enabled {
                return Ok(());
            }
            if checkpoint.iterator.is_empty() {
                // The shard closed and was read to its end: its child (the
                // next shard by age) follows.
                let shards = self.shards_of(&mapping.event_source_arn).await?;
                let Some(child) = shards.into_iter().find(|shard| *shard > checkpoint.shard) else {
                    tokio::time::sleep(POLL).await;
                    continue;
                };
                checkpoint.iterator = self.iterator(&mapping.event_source_arn, &child, "TRIM_HORIZON", None).await?;
                checkpoint.shard = child;
                checkpoint.sequence = None;
                match self.registry.put_as(CHECKPOINTS, uuid, &checkpoint, version).await? {
                    Some(written) => version = written,
                    None => return Ok(()),
                }
                continue;
            }
            let request = json!({ "ShardIterator": checkpoint.iterator, "Limit": mapping.batch_size });
            let answer = match self.items().execute("GetRecords", &request).await {
                Ok(answer) => answer,
                Err(error)
                    if matches!(
                        error.aws_name.as_deref(),
                        Some("ExpiredIteratorException" | "TrimmedDataAccessException")
                    ) =>
                {
                    checkpoint.iterator = self.resume(&mapping.event_source_arn, &mut checkpoint).await?;
                    continue;
                }
                Err(error) => return Err(error.into()),
            };
            let mut records = answer["Records"].as_array().cloned().unwrap_or_default();
            let mut next = answer["NextShardIterator"].as_str().unwrap_or_default().to_owned();
            // A batching window waits for a fuller batch.
            let window_ends =
                tokio::time::Instant::now() + Duration::from_secs(u64::from(mapping.batching_window_secs));
            while !records.is_empty()
                && !next.is_empty()
                && records.len() < mapping.batch_size as usize
                && tokio::time::Instant::now() < window_ends
            {
                tokio::time::sleep(POLL).await;
                let more = self
                    .items()
                    .execute(
                        "GetRecords",
                        &json!({ "ShardIterator": next, "Limit": mapping.batch_size as usize - records.len() }),
                    )
                    .await?;
                records.extend(more["Records"].as_array().cloned().unwrap_or_default());
                next = more["NextShardIterator"].as_str().unwrap_or_default().to_owned();
            }
            if records.is_empty() {
                // The fresh iterator replaces the old one, which expires.
                checkpoint.iterator = next;
                if checkpoint.lease_until_ms < now_ms() + LEASE.as_millis() as u64 / 2 {
                    checkpoint.lease_until_ms = now_ms() + LEASE.as_millis() as u64;
                    match self.registry.put_as(CHECKPOINTS, uuid, &checkpoint, version).await? {
                        Some(written) => version = written,
                        None => return Ok(()),
                    }
                }
                if !checkpoint.iterator.is_empty() {
                    tokio::time::sleep(POLL).await;
                }
                continue;
            }
            let last_sequence =
                records.last().and_then(|record| record["dynamodb"]["SequenceNumber"].as_str()).map(str::to_owned);
            let patterns: Vec<Pattern> =
                mapping.filters.iter().filter_map(|pattern| Pattern::parse(pattern).ok()).collect();
            let batch: Vec<Value> = records
                .into_iter()
                .filter(|record| patterns.is_empty() || patterns.iter().any(|pattern| pattern.matches(record)))
                .collect();
            let (delivery, result) = if batch.is_empty() {
                (Delivery::Done, checkpoint.last_result.clone())
            } else {
                Box::pin(self.deliver_batch(&mapping, &checkpoint.shard, batch)).await?
            };
            if let Delivery::Stopped = delivery {
                return Ok(());
            }
            checkpoint.iterator = next;
            checkpoint.sequence = last_sequence.or(checkpoint.sequence.take());
            checkpoint.last_result = result;
            checkpoint.lease_until_ms = now_ms() + LEASE.as_millis() as u64;
            match self.registry.put_as(CHECKPOINTS, uuid, &checkpoint, version).await? {
                Some(written) => version = written,
                // Deleted, or taken over: stop here.
                None => return Ok(()),
            }
        }
    }

    /// Hands one batch to the function until it is done with, as the
    /// mapping's retry, bisection and destination settings say.
    /// Its settings are read again before each retry, so a mapping blocked
    /// by a poison record is freed by updating it (bisection, fewer retries).
    async fn deliver_batch(&self, mapping: &Mapping, shard: &str, mut batch: Vec<Value>) -> Result<(Delivery, String)> {
        let mut mapping = mapping.clone();
        let mut attempts: i64 = 0;
        loop {
            if mapping.maximum_record_age_secs >= 0 {
                let oldest_allowed = now_ms() as i64 / 1000 - mapping.maximum_record_age_secs;
                let (old, young): (Vec<Value>, Vec<Value>) = batch.into_iter().partition(|record| {
                    record["dynamodb"]["ApproximateCreationDateTime"]
                        .as_i64()
                        .is_some_and(|created| created < oldest_allowed)
                });
                if !old.is_empty() {
                    self.give_up(&mapping, shard, &old, None, attempts, "RecordAgeExceeded").await;
                }
                batch = young;
                if batch.is_empty() {
                    return Ok((Delivery::Done, "OK".into()));
                }
            }
            let payload = Bytes::from(json!({ "Records": batch }).to_string());
            let invoked = match self.invoke_now(&mapping.function, payload, &uuid::Uuid::new_v4().to_string()).await {
                Ok(invoked) => invoked,
                Err(LambdaError::FunctionNotFound(_)) => {
                    return Ok((Delivery::Stopped, "PROBLEM: Function not found".into()));
                }
                Err(error) => {
                    // Throttled or not startable: wait, and do not count it.
                    tracing::debug!(mapping = %mapping.uuid, %error, "a stream batch could not be run yet");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            let failed_from = match (&invoked.function_error, mapping.report_batch_item_failures) {
                (Some(_), _) => Some(0),
                (None, true) => first_failure(&invoked.payload, &batch),
                (None, false) => None,
            };
            let Some(failed_from) = failed_from else { return Ok((Delivery::Done, "OK".into())) };
            // Records before the first failure are done with.
            batch.drain(..failed_from);
            attempts += 1;
            if mapping.bisect && batch.len() > 1 {
                let second = batch.split_off(batch.len() / 2);
                for half in [batch, second] {
                    if let (Delivery::Stopped, result) = Box::pin(self.deliver_batch(&mapping, shard, half)).await? {
                        return Ok((Delivery::Stopped, result));
                    }
                }
                return Ok((Delivery::Done, "PROBLEM: Function call failed".into()));
            }
            if mapping.maximum_retry_attempts >= 0 && attempts > mapping.maximum_retry_attempts {
                self.give_up(&mapping, shard, &batch, Some(&invoked), attempts, "RetryAttemptsExhausted").await;
                return Ok((Delivery::Done, "PROBLEM: Function call failed".into()));
            }
            let backoff = Duration::from_millis((100u64 << attempts.min(6)).min(5_000));
            tokio::time::sleep(backoff).await;
            match self.registry.get_as::<Mapping>(MAPPINGS, &mapping.uuid).await? {
                Some((current, _)) if current.enabled => mapping = current,
                _ => return Ok((Delivery::Stopped, "PROBLEM: Function call failed".into())),
            }
        }
    }

    /// Sends records given up on to the mapping's on-failure destination.
    async fn give_up(
        &self,
        mapping: &Mapping,
        shard: &str,
        records: &[Value],
        invoked: Option<&Invoked>,
        attempts: i64,
        condition: &str,
    ) {
        let sequence = |record: &Value| record["dynamodb"]["SequenceNumber"].clone();
        let arrival = |record: &Value| {
            let seconds = record["dynamodb"]["ApproximateCreationDateTime"].as_i64().unwrap_or(0);
            chrono::DateTime::from_timestamp(seconds, 0).map(|at| at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        };
        let (Some(first), Some(last)) = (records.first(), records.last()) else { return };
        let Some(destination) = &mapping.on_failure else {
            tracing::warn!(mapping = %mapping.uuid, records = records.len(), condition, "stream records dropped");
            return;
        };
        let mut record = json!({
            "requestContext": {
                "requestId": invoked.map(|invoked| invoked.request_id.clone()).unwrap_or_default(),
                "functionArn": self.mapping_value(mapping, "")["FunctionArn"],
                "condition": condition,
                "approximateInvokeCount": attempts,
            },
            "version": "1.0",
            "timestamp": chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
            "DDBStreamBatchInfo": {
                "shardId": shard,
                "startSequenceNumber": sequence(first),
                "endSequenceNumber": sequence(last),
                "approximateArrivalOfFirstRecord": arrival(first),
                "approximateArrivalOfLastRecord": arrival(last),
                "batchSize": records.len(),
                "streamArn": mapping.event_source_arn,
            },
        });
        if let Some(invoked) = invoked {
            record["responseContext"] = json!({
                "statusCode": 200,
                "executedVersion": invoked.executed_version,
                "functionError": invoked.function_error.clone().unwrap_or_default(),
            });
        }
        if let Err(error) = self.enqueue(destination, Bytes::from(record.to_string())).await {
            tracing::warn!(%error, destination, "a stream failure could not be sent to its destination");
        }
    }
}

/// Where `ReportBatchItemFailures` says to resume: the position of the
/// failed record with the lowest sequence number, or `None` when the
/// answer reports none. An answer naming no record of the batch fails it
/// whole, as Lambda treats it.
fn first_failure(answer: &[u8], batch: &[Value]) -> Option<usize> {
    let answer: Value = serde_json::from_slice(answer).ok()?;
    let failures = answer.get("batchItemFailures")?.as_array()?;
    if failures.is_empty() {
        return None;
    }
    failures
        .iter()
        .map(|failure| {
            let id = failure.get("itemIdentifier").and_then(Value::as_str).unwrap_or_default();
            batch.iter().position(|record| record["dynamodb"]["SequenceNumber"] == id).unwrap_or(0)
        })
        .min()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reported_failures_resume_at_the_earliest() {
        let batch: Vec<Value> =
            ["1", "2", "3"].iter().map(|n| json!({ "dynamodb": { "SequenceNumber": n } })).collect();
        assert_eq!(
            first_failure(br#"{"batchItemFailures": [{"itemIdentifier": "3"}, {"itemIdentifier": "2"}]}"#, &batch),
            Some(1)
        );
        assert_eq!(first_failure(br#"{"batchItemFailures": []}"#, &batch), None);
        assert_eq!(first_failure(br#"null"#, &batch), None);
        assert_eq!(first_failure(br#"{"batchItemFailures": [{"itemIdentifier": "9"}]}"#, &batch), Some(0));
    }
}
