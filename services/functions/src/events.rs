//! Asynchronous invocation: `Event` invocations are records in the data
//! service before Invoke answers 202, so an acknowledged event survives a
//! crash of this service. A worker runs them, retrying a failed one up to
//! the function's `MaximumRetryAttempts` (Lambda's default two, after about
//! one and then two minutes), retrying throttled ones without counting
//! them, dropping one older than `MaximumEventAgeInSeconds`, and handing
//! the outcome to the configured on-success or on-failure destination
//! (another function) in Lambda's destination record.
//!
//! Records are keyed by the time they are due, so the worker reads only
//! what is due. Every replica of the service runs a worker; a replica
//! claims an event by a compare-and-set on its record before running it,
//! so an event runs once per attempt unless a replica dies mid-run, when
//! the claim lapses and another runs it again (Lambda's at-least-once).

use std::{
    collections::BTreeMap,
    sync::Arc,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::{Notify, Semaphore};

use crate::{
    error::{LambdaError, Result},
    invoker::Invoked,
    lambda::Lambda,
    model::{LATEST, parse_function_reference},
    registry::EVENTS,
};

/// Lambda's defaults for asynchronous invocation.
pub const DEFAULT_RETRIES: u32 = 2;
pub const DEFAULT_MAX_AGE_SECS: u64 = 21_600;

/// How the queue behaves on this host.
#[derive(Debug)]
pub struct Queue {
    /// The first retry's delay; each later one doubles it.
    retry_delay: Duration,
    /// Woken when an event is queued here, so it runs at once.
    queued: Notify,
    /// Events running at once on this replica.
    running: Arc<Semaphore>,
}

impl Queue {
    pub fn new(retry_delay: Duration) -> Arc<Self> {
        Arc::new(Self { retry_delay, queued: Notify::new(), running: Arc::new(Semaphore::new(16)) })
    }
}

/// One queued invocation.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct QueuedEvent {
    request_id: String,
    /// The reference it was invoked with (name, ARN, qualified or not).
    function: String,
    payload: String,
    enqueued_ms: u64,
    /// Attempts that ran and failed.
    attempts: u32,
    /// While in the future, a replica is running it.
    claimed_until_ms: u64,
}

/// A function's asynchronous-invocation settings for one qualifier.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EventInvokeConfig {
    pub maximum_retry_attempts: Option<u32>,
    pub maximum_event_age_secs: Option<u64>,
    pub on_success: Option<String>,
    pub on_failure: Option<String>,
    pub last_modified: f64,
}

/// Put/UpdateFunctionEventInvokeConfig's request.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EventInvokeConfigInput {
    pub maximum_retry_attempts: Option<i64>,
    pub maximum_event_age_in_seconds: Option<i64>,
    pub destination_config: Option<DestinationConfigInput>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DestinationConfigInput {
    pub on_success: Option<DestinationInput>,
    pub on_failure: Option<DestinationInput>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DestinationInput {
    pub destination: Option<String>,
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_millis() as u64)
}

fn key(due_ms: u64, request_id: &str) -> String {
    format!("{due_ms:016}/{request_id}")
}

fn due_of(key: &str) -> u64 {
    key.split('/').next().and_then(|due| due.parse().ok()).unwrap_or(0)
}

/// How a queued event's attempt ended.
enum Attempt {
    Succeeded(Invoked),
    Failed(Invoked),
    /// Not run: throttled, or nubo could not start it; tried again later
    /// without counting.
    NotRun,
    /// The function is gone: nothing to retry.
    Gone,
}

impl Lambda {
    /// Queues an `Event` invocation durably; returns its request id.
    pub(crate) async fn enqueue(&self, reference: &str, payload: Bytes) -> Result<String> {
        let request_id = uuid::Uuid::new_v4().to_string();
        let event = QueuedEvent {
            request_id: request_id.clone(),
            function: reference.to_owned(),
            payload: String::from_utf8_lossy(&payload).into_owned(),
            enqueued_ms: now_ms(),
            attempts: 0,
            claimed_until_ms: 0,
        };
        self.registry.put_as(EVENTS, &key(event.enqueued_ms, &request_id), &event, 0).await?;
        self.queue.queued.notify_one();
        Ok(request_id)
    }

    /// Runs queued events until the task is aborted.
    pub async fn run_queue(self) {
        loop {
            if let Err(error) = self.run_due().await {
                tracing::warn!(%error, "the asynchronous invocation queue could not be read");
            }
            // Events queued here wake the worker at once; retries and other
            // replicas' events are found by the next sweep.
            let _ = tokio::time::timeout(Duration::from_millis(250), self.queue.queued.notified()).await;
        }
    }

    /// Claims and starts every event that is due now.
    async fn run_due(&self) -> Result<()> {
        let now = now_ms();
        let mut after = String::new();
        loop {
            let page = self.registry.page_as::<QueuedEvent>(EVENTS, &after, 100).await?;
            let Some((last, _, _)) = page.last() else { return Ok(()) };
            after = last.clone();
            for (key, mut event, version) in page {
                if due_of(&key) > now {
                    return Ok(());
                }
                if event.claimed_until_ms > now {
                    continue;
                }
                let Ok(permit) = self.queue.running.clone().acquire_owned().await else { return Ok(()) };
                // Claimed for as long as the longest function may run.
                event.claimed_until_ms = now + 16 * 60 * 1000;
                let Some(claimed) = self.registry.put_as(EVENTS, &key, &event, version).await? else { continue };
                let lambda = self.clone();
                tokio::spawn(async move {
                    if let Err(error) = lambda.attempt(&key, event, claimed).await {
                        tracing::warn!(%error, "an asynchronous invocation could not be settled; it will run again");
                    }
                    drop(permit);
                });
            }
        }
    }

    /// Runs one claimed event and settles its record.
    async fn attempt(&self, key: &str, mut event: QueuedEvent, claimed: u64) -> Result<()> {
        let config = self.event_config_for(&event.function).await.unwrap_or_default();
        let max_age = config.maximum_event_age_secs.unwrap_or(DEFAULT_MAX_AGE_SECS);
        let retries = config.maximum_retry_attempts.unwrap_or(DEFAULT_RETRIES);
        if now_ms().saturating_sub(event.enqueued_ms) > max_age * 1000 {
            self.deliver(&config.on_failure, &event, "EventAgeExceeded", None).await;
            self.registry.delete_at(EVENTS, key, claimed).await?;
            return Ok(());
        }
        let payload = Bytes::from(event.payload.clone().into_bytes());
        let outcome = match self.invoke_now(&event.function, payload, &event.request_id).await {
            Ok(invoked) if invoked.function_error.is_some() => Attempt::Failed(invoked),
            Ok(invoked) => Attempt::Succeeded(invoked),
            Err(LambdaError::FunctionNotFound(_)) => Attempt::Gone,
            Err(error) => {
                tracing::debug!(%error, request_id = %event.request_id, "asynchronous invocation not run yet");
                Attempt::NotRun
            }
        };
        let retry_at = match outcome {
            Attempt::Succeeded(invoked) => {
                self.deliver(&config.on_success, &event, "Success", Some(&invoked)).await;
                None
            }
            Attempt::Gone => None,
            Attempt::Failed(invoked) => {
                event.attempts += 1;
                tracing::warn!(function = %event.function, request_id = %event.request_id, attempt = event.attempts, "asynchronous invocation failed");
                if event.attempts > retries {
                    self.deliver(&config.on_failure, &event, "RetriesExhausted", Some(&invoked)).await;
                    None
                } else {
                    Some(now_ms() + self.queue.retry_delay.as_millis() as u64 * (1 << (event.attempts - 1)))
                }
            }
            Attempt::NotRun => Some(now_ms() + 1000),
        };
        if let Some(due) = retry_at {
            // The new record first: a crash between the two writes runs the
            // event once more, never loses it.
            event.claimed_until_ms = 0;
            self.registry.put_as(EVENTS, &self::key(due, &event.request_id), &event, 0).await?;
        }
        self.registry.delete_at(EVENTS, key, claimed).await?;
        Ok(())
    }

    /// Hands an outcome to a destination function, as an event of its own.
    async fn deliver(
        &self,
        destination: &Option<String>,
        event: &QueuedEvent,
        condition: &str,
        invoked: Option<&Invoked>,
    ) {
        let Some(destination) = destination else {
            if condition != "Success" {
                tracing::warn!(function = %event.function, request_id = %event.request_id, condition, "asynchronous invocation dropped");
            }
            return;
        };
        let function_arn = match parse_function_reference(&event.function) {
            Ok((name, qualifier)) => format!(
                "arn:aws:lambda:{}:{}:function:{name}:{}",
                self.region,
                self.account_id,
                qualifier.as_deref().unwrap_or(LATEST)
            ),
            Err(_) => event.function.clone(),
        };
        let mut record = json!({
            "version": "1.0",
            "timestamp": chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
            "requestContext": {
                "requestId": event.request_id,
                "functionArn": function_arn,
                "condition": condition,
                "approximateInvokeCount": if condition == "Success" { event.attempts + 1 } else { event.attempts.max(1) },
            },
            "requestPayload": serde_json::from_str::<Value>(&event.payload).unwrap_or(Value::Null),
        });
        if let Some(invoked) = invoked {
            let mut response = json!({ "statusCode": 200, "executedVersion": invoked.executed_version });
            if let Some(error) = &invoked.function_error {
                response["functionError"] = error.clone().into();
            }
            record["responseContext"] = response;
            record["responsePayload"] = serde_json::from_slice(&invoked.payload).unwrap_or(Value::Null);
        }
        if let Err(error) = self.enqueue(destination, Bytes::from(record.to_string())).await {
            tracing::warn!(%error, destination, "a destination could not be queued");
        }
    }

    /// The asynchronous-invocation settings that apply to a reference.
    async fn event_config_for(&self, reference: &str) -> Result<EventInvokeConfig> {
        let (name, qualifier) = parse_function_reference(reference)?;
        // The settings live on the function's `$LATEST` record.
        let function = self.latest(&name).await?.function;
        let qualifier = qualifier.filter(|qualifier| qualifier != LATEST).unwrap_or_default();
        Ok(function.settings.event_invoke.get(&qualifier).cloned().unwrap_or_default())
    }

    fn event_config_value(&self, function: &str, qualifier: &str, config: &EventInvokeConfig) -> Value {
        let mut arn = format!("arn:aws:lambda:{}:{}:function:{function}", self.region, self.account_id);
        arn.push(':');
        arn.push_str(if qualifier.is_empty() { LATEST } else { qualifier });
        let destination = |destination: &Option<String>| match destination {
            Some(destination) => json!({ "Destination": destination }),
            None => json!({}),
        };
        json!({
            "FunctionArn": arn,
            "LastModified": config.last_modified,
            "MaximumRetryAttempts": config.maximum_retry_attempts.unwrap_or(DEFAULT_RETRIES),
            "MaximumEventAgeInSeconds": config.maximum_event_age_secs.unwrap_or(DEFAULT_MAX_AGE_SECS),
            "DestinationConfig": { "OnSuccess": destination(&config.on_success), "OnFailure": destination(&config.on_failure) },
        })
    }

    /// PutFunctionEventInvokeConfig (`replace`) and its Update (merge).
    pub async fn put_event_invoke_config(
        &self,
        reference: &str,
        qualifier: Option<&str>,
        input: EventInvokeConfigInput,
        replace: bool,
    ) -> Result<Value> {
        let latest = self.latest(reference).await?;
        let mut function = latest.function;
        let qualifier = qualifier.filter(|qualifier| *qualifier != LATEST).unwrap_or_default().to_owned();
        if !qualifier.is_empty() {
            self.resolve(&format!("{}:{qualifier}", function.name)).await?;
        }
        let mut config = if replace {
            EventInvokeConfig::default()
        } else {
            function
                .settings
                .event_invoke
                .get(&qualifier)
                .cloned()
                .ok_or_else(|| self.no_event_config(&function.name, &qualifier))?
        };
        if let Some(retries) = input.maximum_retry_attempts {
            if !(0..=2).contains(&retries) {
                return Err(LambdaError::Validation(format!(
                    "1 validation error detected: Value '{retries}' at 'maximumRetryAttempts' failed to satisfy constraint: Member must have value less than or equal to 2"
                )));
            }
            config.maximum_retry_attempts = Some(retries as u32);
        }
        if let Some(age) = input.maximum_event_age_in_seconds {
            if !(60..=21_600).contains(&age) {
                return Err(LambdaError::Validation(format!(
                    "1 validation error detected: Value '{age}' at 'maximumEventAgeInSeconds' failed to satisfy constraint: Member must have value between 60 and 21600"
                )));
            }
            config.maximum_event_age_secs = Some(age as u64);
        }
        if let Some(destinations) = input.destination_config {
            for (slot, destination) in
                [(&mut config.on_success, destinations.on_success), (&mut config.on_failure, destinations.on_failure)]
            {
                let Some(destination) = destination else { continue };
                *slot = match destination.destination.filter(|arn| !arn.is_empty()) {
                    Some(arn) => Some(self.check_destination(&arn).await?),
                    None => None,
                };
            }
        }
        config.last_modified = now_ms() as f64 / 1000.0;
        function.settings.event_invoke.insert(qualifier.clone(), config.clone());
        self.registry.put(&function, latest.version).await?;
        Ok(self.event_config_value(&function.name, &qualifier, &config))
    }

    /// nubo delivers to functions; SQS, SNS and EventBridge are not here.
    async fn check_destination(&self, arn: &str) -> Result<String> {
        if arn.starts_with("arn:aws:lambda:") && self.resolve(arn).await.is_ok() {
            return Ok(arn.to_owned());
        }
        Err(LambdaError::InvalidParameterValue(format!(
            "The destination ARN {arn} is invalid: nubo delivers asynchronous invocation results to Lambda functions of this account."
        )))
    }

    fn no_event_config(&self, function: &str, qualifier: &str) -> LambdaError {
        LambdaError::ResourceNotFound(format!(
            "The function arn:aws:lambda:{}:{}:function:{function}:{} doesn't have an EventInvokeConfig",
            self.region,
            self.account_id,
            if qualifier.is_empty() { LATEST } else { qualifier }
        ))
    }

    pub async fn get_event_invoke_config(&self, reference: &str, qualifier: Option<&str>) -> Result<Value> {
        let function = self.latest(reference).await?.function;
        let qualifier = qualifier.filter(|qualifier| *qualifier != LATEST).unwrap_or_default();
        let config = function
            .settings
            .event_invoke
            .get(qualifier)
            .ok_or_else(|| self.no_event_config(&function.name, qualifier))?;
        Ok(self.event_config_value(&function.name, qualifier, config))
    }

    pub async fn delete_event_invoke_config(&self, reference: &str, qualifier: Option<&str>) -> Result<()> {
        let latest = self.latest(reference).await?;
        let mut function = latest.function;
        let qualifier = qualifier.filter(|qualifier| *qualifier != LATEST).unwrap_or_default();
        if function.settings.event_invoke.remove(qualifier).is_none() {
            return Err(self.no_event_config(&function.name, qualifier));
        }
        self.registry.put(&function, latest.version).await?;
        Ok(())
    }

    pub async fn list_event_invoke_configs(&self, reference: &str) -> Result<Vec<Value>> {
        let function = self.latest(reference).await?.function;
        let configs: &BTreeMap<String, EventInvokeConfig> = &function.settings.event_invoke;
        Ok(configs
            .iter()
            .map(|(qualifier, config)| self.event_config_value(&function.name, qualifier, config))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sort_by_when_they_are_due() {
        assert!(key(999, "b") < key(1000, "a"));
        assert_eq!(due_of(&key(1_733_000_000_000, "id")), 1_733_000_000_000);
    }
}
