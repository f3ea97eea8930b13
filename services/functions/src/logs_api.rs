//! The CloudWatch Logs API for functions' logs (awsJson 1.1,
//! `X-Amz-Target: Logs_20140328.<Action>`, signed as `logs`): the subset
//! that reads Lambda's log groups — FilterLogEvents, GetLogEvents,
//! DescribeLogStreams and DescribeLogGroups — on the functions port and,
//! by its signing name, through the edge.

use std::collections::BTreeMap;

use actix_web::{HttpRequest, HttpResponse};
use nubo_host::front::{AwsError, AwsFront, Protocol};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{
    lambda::Lambda,
    logs::{BATCHES_PER_READ, LOGS, LogBatch, LogEvent},
};

/// The prefix of every Lambda log group.
const GROUP_PREFIX: &str = "/aws/lambda/";
/// CloudWatch's default and largest page of events.
const MAX_EVENTS: usize = 10_000;

/// One CloudWatch Logs action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    FilterLogEvents,
    GetLogEvents,
    DescribeLogStreams,
    DescribeLogGroups,
}

impl nubo_host::front::Operation for Action {
    fn name(&self) -> &'static str {
        match self {
            Action::FilterLogEvents => "FilterLogEvents",
            Action::GetLogEvents => "GetLogEvents",
            Action::DescribeLogStreams => "DescribeLogStreams",
            Action::DescribeLogGroups => "DescribeLogGroups",
        }
    }
}

impl Action {
    /// The action an `X-Amz-Target` names, if it is a Logs target.
    pub fn from_target(target: &str) -> Option<Result<Self, String>> {
        let action = target.strip_prefix("Logs_20140328.")?;
        Some(match action {
            "FilterLogEvents" => Ok(Action::FilterLogEvents),
            "GetLogEvents" => Ok(Action::GetLogEvents),
            "DescribeLogStreams" => Ok(Action::DescribeLogStreams),
            "DescribeLogGroups" => Ok(Action::DescribeLogGroups),
            other => Err(other.to_owned()),
        })
    }
}

/// The Logs front: awsJson 1.1, signed as `logs`.
pub fn front(context: &nubo_host::Context) -> AwsFront {
    AwsFront::new(Protocol::AwsJson11, context.policy("logs", 15), context.credentials.clone(), 1024 * 1024)
}

fn error(status: u16, code: &'static str, message: impl Into<String>) -> AwsError {
    AwsError::new(status, code, message)
}

fn invalid(message: impl Into<String>) -> AwsError {
    error(400, "InvalidParameterException", message)
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct Input {
    log_group_name: Option<String>,
    log_group_identifier: Option<String>,
    log_group_name_prefix: Option<String>,
    log_stream_name: Option<String>,
    log_stream_names: Option<Vec<String>>,
    log_stream_name_prefix: Option<String>,
    start_time: Option<i64>,
    end_time: Option<i64>,
    filter_pattern: Option<String>,
    next_token: Option<String>,
    limit: Option<usize>,
    start_from_head: Option<bool>,
}

pub async fn handle(action: Action, body: &[u8], lambda: &Lambda, protocol: Protocol) -> HttpResponse {
    let input: Input = match serde_json::from_slice(if body.is_empty() { b"{}" } else { body }) {
        Ok(input) => input,
        Err(parse) => return protocol.render(&error(400, "SerializationException", parse.to_string())),
    };
    let answer = match action {
        Action::DescribeLogGroups => describe_groups(lambda, &input).await,
        Action::FilterLogEvents => filter(lambda, &input).await,
        Action::GetLogEvents => get_events(lambda, &input).await,
        Action::DescribeLogStreams => describe_streams(lambda, &input).await,
    };
    match answer {
        Ok(value) => HttpResponse::Ok().content_type("application/x-amz-json-1.1").body(value.to_string()),
        Err(aws) => protocol.render(&aws),
    }
}

/// The function a log group belongs to.
async fn function_of(lambda: &Lambda, input: &Input) -> Result<String, AwsError> {
    let group = input
        .log_group_name
        .as_deref()
        .or(input.log_group_identifier.as_deref().map(|identifier| identifier.rsplit(":log-group:").next().unwrap_or(identifier)))
        .ok_or_else(|| invalid("1 validation error detected: Value null at 'logGroupName' failed to satisfy constraint: Member must not be null"))?;
    let missing = || error(400, "ResourceNotFoundException", "The specified log group does not exist.");
    let name = group.strip_prefix(GROUP_PREFIX).ok_or_else(missing)?;
    lambda.get_function(name).await.map_err(|_| missing())?;
    Ok(name.to_owned())
}

/// A function's events between two times, in time order, with the key of
/// the batch after which a next page starts.
async fn events(
    lambda: &Lambda,
    function: &str,
    start: i64,
    end: i64,
    after: Option<&str>,
    keep: impl Fn(&LogEvent) -> bool,
    limit: usize,
) -> Result<(Vec<LogEvent>, Option<String>), AwsError> {
    let service = |failure: crate::error::LambdaError| error(500, "ServiceUnavailableException", failure.to_string());
    // Batches hold events from their key's time to a moment after it.
    let prefix = format!("{function}/");
    let from = format!("{prefix}{:016}", (start - 1000).max(0));
    let mut cursor = after.map(str::to_owned).unwrap_or(from);
    let mut found = Vec::new();
    loop {
        let page =
            lambda.registry.page_under::<LogBatch>(LOGS, &prefix, &cursor, BATCHES_PER_READ).await.map_err(service)?;
        if page.is_empty() {
            return Ok((found, None));
        }
        for (key, batch, _) in page {
            if !key.starts_with(&format!("{function}/")) {
                return Ok((found, None));
            }
            let first: i64 = key.split('/').nth(1).and_then(|ms| ms.parse().ok()).unwrap_or(0);
            if first > end {
                return Ok((found, None));
            }
            found.extend(
                batch
                    .events
                    .into_iter()
                    .filter(|event| event.timestamp >= start && event.timestamp <= end && keep(event)),
            );
            cursor = key;
            if found.len() >= limit {
                return Ok((found, Some(cursor)));
            }
        }
    }
}

/// CloudWatch's filter patterns, for unstructured text: every term (or
/// quoted phrase) must appear in the message.
fn matches_pattern(pattern: &str, message: &str) -> bool {
    let mut terms = Vec::new();
    let mut rest = pattern.trim();
    while !rest.is_empty() {
        if let Some(quoted) = rest.strip_prefix('"') {
            let (term, after) = quoted.split_once('"').unwrap_or((quoted, ""));
            terms.push(term);
            rest = after.trim_start();
        } else {
            let (term, after) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
            terms.push(term);
            rest = after.trim_start();
        }
    }
    terms.iter().all(|term| message.contains(term))
}

fn event_value(event: &LogEvent, with_stream: bool, index: usize) -> Value {
    let mut value = json!({ "timestamp": event.timestamp, "message": event.message, "ingestionTime": event.timestamp });
    if with_stream {
        value["logStreamName"] = event.stream.clone().into();
        value["eventId"] = format!("{:020}{index:06}", event.timestamp).into();
    }
    value
}

async fn filter(lambda: &Lambda, input: &Input) -> Result<Value, AwsError> {
    let function = function_of(lambda, input).await?;
    let limit = input.limit.unwrap_or(MAX_EVENTS).clamp(1, MAX_EVENTS);
    let pattern = input.filter_pattern.clone().unwrap_or_default();
    let streams = input.log_stream_names.clone();
    let prefix = input.log_stream_name_prefix.clone();
    let keep = |event: &LogEvent| {
        streams.as_ref().is_none_or(|streams| streams.contains(&event.stream))
            && prefix.as_ref().is_none_or(|prefix| event.stream.starts_with(prefix.as_str()))
            && matches_pattern(&pattern, &event.message)
    };
    let (found, next) = events(
        lambda,
        &function,
        input.start_time.unwrap_or(0),
        input.end_time.unwrap_or(i64::MAX),
        input.next_token.as_deref(),
        keep,
        limit,
    )
    .await?;
    let mut searched: Vec<&str> = found.iter().map(|event| event.stream.as_str()).collect();
    searched.sort();
    searched.dedup();
    let mut answer = json!({
        "events": found.iter().enumerate().map(|(index, event)| event_value(event, true, index)).collect::<Vec<_>>(),
        "searchedLogStreams": searched.iter().map(|stream| json!({ "logStreamName": stream, "searchedCompletely": true })).collect::<Vec<_>>(),
    });
    if let Some(next) = next {
        answer["nextToken"] = next.into();
    }
    Ok(answer)
}

async fn get_events(lambda: &Lambda, input: &Input) -> Result<Value, AwsError> {
    let function = function_of(lambda, input).await?;
    let stream = input.log_stream_name.clone().ok_or_else(|| invalid("1 validation error detected: Value null at 'logStreamName' failed to satisfy constraint: Member must not be null"))?;
    let limit = input.limit.unwrap_or(MAX_EVENTS).clamp(1, MAX_EVENTS);
    let (mut found, next) = events(
        lambda,
        &function,
        input.start_time.unwrap_or(0),
        input.end_time.unwrap_or(i64::MAX),
        input.next_token.as_deref().and_then(|token| token.strip_prefix("f/")),
        |event| event.stream == stream,
        limit,
    )
    .await?;
    if input.start_from_head != Some(true) && next.is_none() && found.len() > limit {
        found = found.split_off(found.len() - limit);
    }
    let forward = next.map_or_else(|| format!("f/{function}/{:016}", i64::MAX), |key| format!("f/{key}"));
    Ok(json!({
        "events": found.iter().map(|event| event_value(event, false, 0)).collect::<Vec<_>>(),
        "nextForwardToken": forward,
        "nextBackwardToken": "b/0",
    }))
}

async fn describe_streams(lambda: &Lambda, input: &Input) -> Result<Value, AwsError> {
    let function = function_of(lambda, input).await?;
    let (found, _) = events(lambda, &function, 0, i64::MAX, None, |_| true, usize::MAX).await?;
    let mut streams: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for event in &found {
        let span = streams.entry(event.stream.clone()).or_insert((event.timestamp, event.timestamp));
        span.1 = span.1.max(event.timestamp);
    }
    let prefix = input.log_stream_name_prefix.clone().unwrap_or_default();
    let streams: Vec<Value> = streams
        .iter()
        .filter(|(name, _)| name.starts_with(&prefix))
        .map(|(name, (first, last))| {
            json!({ "logStreamName": name, "creationTime": first, "firstEventTimestamp": first, "lastEventTimestamp": last, "lastIngestionTime": last, "storedBytes": 0 })
        })
        .collect();
    Ok(json!({ "logStreams": streams }))
}

async fn describe_groups(lambda: &Lambda, input: &Input) -> Result<Value, AwsError> {
    let prefix = input.log_group_name_prefix.clone().unwrap_or_default();
    let (functions, _) = lambda
        .list_functions(None, Some(50))
        .await
        .map_err(|failure| error(500, "ServiceUnavailableException", failure.to_string()))?;
    let groups: Vec<Value> = functions
        .iter()
        .map(|function| format!("{GROUP_PREFIX}{}", function.name))
        .filter(|group| group.starts_with(&prefix))
        .map(|group| json!({ "logGroupName": group, "storedBytes": 0, "metricFilterCount": 0 }))
        .collect();
    Ok(json!({ "logGroups": groups }))
}

/// Serves one Logs request: authenticates it with the Logs front.
pub async fn serve(
    request: &HttpRequest,
    payload: actix_web::web::Payload,
    action: Action,
    lambda: &Lambda,
    front: &AwsFront,
) -> HttpResponse {
    match front.authenticate(request, payload).await {
        Ok(signed) => handle(action, &signed.body, lambda, Protocol::AwsJson11).await,
        Err(error) => front.error(&error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_patterns_want_every_term() {
        assert!(matches_pattern("", "anything"));
        assert!(matches_pattern("ERROR order", "ERROR while saving order 7"));
        assert!(!matches_pattern("ERROR order", "ERROR while saving"));
        assert!(matches_pattern("\"saving order\"", "ERROR while saving order 7"));
        assert!(!matches_pattern("\"order saving\"", "ERROR while saving order 7"));
    }
}
