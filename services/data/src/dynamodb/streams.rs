//! DynamoDB Streams: ListStreams, DescribeStream, GetShardIterator and
//! GetRecords over a table's stream log, which the engine appends to in the
//! same atomic write as the change it records (see `mutation`). Each table
//! has one shard; sequence numbers are the log's commit order.

use std::ops::Bound;

use base64::Engine as _;
use serde_json::{Value, json};

use super::{
    Dynamo, TABLES,
    error::{DynamoError, ErrorKind, Result},
    mutation::STREAM_SHARD,
    request::{Request, validation_error},
    table::Table,
};

/// Digits of a rendered sequence number, as DynamoDB pads them.
const SEQUENCE_DIGITS: usize = 21;
/// The most record data one GetRecords answers with (1 MB).
const MAX_RECORDS_BYTES: usize = 1024 * 1024;
/// How long a gap in sequence numbers is waited for before it is skipped.
const GAP_PATIENCE_SECS: i64 = 10;

fn shard_id() -> &'static str {
    std::str::from_utf8(STREAM_SHARD).unwrap_or("shardId-00000001")
}

fn sequence_text(sequence: u64) -> String {
    format!("{sequence:0SEQUENCE_DIGITS$}")
}

fn not_found(arn: &str) -> DynamoError {
    DynamoError::new(ErrorKind::ResourceNotFound, format!("Requested resource not found: Stream: {arn} not found"))
}

/// The table whose current stream `arn` names.
async fn table_of_stream(dynamo: &Dynamo, arn: &str) -> Result<Table> {
    let prefix = format!("arn:aws:dynamodb:{}:{}:table/", dynamo.region, dynamo.account_id);
    let rest = arn.strip_prefix(&prefix).ok_or_else(|| not_found(arn))?;
    let (name, label) = rest.split_once("/stream/").ok_or_else(|| not_found(arn))?;
    let table = dynamo.find_table(name).await?.ok_or_else(|| not_found(arn))?;
    match &table.stream {
        Some(stream) if stream.label == label => Ok(table),
        _ => Err(not_found(arn)),
    }
}

pub async fn list(dynamo: &Dynamo, request: &Request) -> Result<Value> {
    let only = request.optional_str("TableName")?.map(str::to_owned);
    let records = dynamo.records.list_all(TABLES).await?;
    let streams: Vec<Value> = records
        .iter()
        .filter_map(|record| serde_json::from_slice::<Table>(&record.value).ok())
        .filter(|table| only.as_deref().is_none_or(|name| name == table.name))
        .filter_map(|table| {
            let stream = table.stream.as_ref()?;
            Some(json!({
                "StreamArn": table.stream_arn(&dynamo.region, &dynamo.account_id),
                "TableName": table.name,
                "StreamLabel": stream.label,
            }))
        })
        .collect();
    Ok(json!({ "Streams": streams }))
}

pub async fn describe(dynamo: &Dynamo, request: &Request) -> Result<Value> {
    let arn = request.required_str("StreamArn", "streamArn")?;
    let table = table_of_stream(dynamo, arn).await?;
    let stream = table.stream.as_ref().ok_or_else(|| not_found(arn))?;
    let mut key_schema = vec![json!({ "AttributeName": table.hash_key, "KeyType": "HASH" })];
    if let Some(range) = &table.range_key {
        key_schema.push(json!({ "AttributeName": range, "KeyType": "RANGE" }));
    }
    Ok(json!({ "StreamDescription": {
        "StreamArn": arn,
        "StreamLabel": stream.label,
        "StreamStatus": "ENABLED",
        "StreamViewType": stream.view_type,
        "CreationRequestDateTime": table.created,
        "TableName": table.name,
        "KeySchema": key_schema,
        "Shards": [{
            "ShardId": shard_id(),
            "SequenceNumberRange": { "StartingSequenceNumber": sequence_text(1) },
        }],
    } }))
}

/// What an iterator encodes: the stream and the last sequence number read.
#[derive(serde::Serialize, serde::Deserialize)]
struct Iterator {
    arn: String,
    after: u64,
}

fn iterator_text(arn: &str, after: u64) -> String {
    let json = serde_json::to_vec(&Iterator { arn: arn.to_owned(), after }).unwrap_or_default();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
}

fn parse_sequence(text: Option<&str>) -> Result<u64> {
    text.and_then(|text| text.parse::<u64>().ok())
        .ok_or_else(|| DynamoError::validation("Invalid SequenceNumber: must be a sequence number of this shard"))
}

async fn last_sequence(dynamo: &Dynamo, table: &Table) -> Result<u64> {
    let rows =
        dynamo.engine.query(&table.stream_log(), STREAM_SHARD, (Bound::Unbounded, Bound::Unbounded), true, 1).await?;
    Ok(rows.first().and_then(|row| row.key.clustering.clone().try_into().ok()).map(u64::from_be_bytes).unwrap_or(0))
}

pub async fn get_shard_iterator(dynamo: &Dynamo, request: &Request) -> Result<Value> {
    let arn = request.required_str("StreamArn", "streamArn")?;
    let shard = request.required_str("ShardId", "shardId")?;
    let kind = request.required_str("ShardIteratorType", "shardIteratorType")?;
    let table = table_of_stream(dynamo, arn).await?;
    if shard != shard_id() {
        return Err(DynamoError::new(
            ErrorKind::ResourceNotFound,
            format!("Requested resource not found: Shard does not exist: {shard}"),
        ));
    }
    let sequence = request.optional_str("SequenceNumber")?;
    let after = match kind {
        "TRIM_HORIZON" => 0,
        "LATEST" => last_sequence(dynamo, &table).await?,
        "AT_SEQUENCE_NUMBER" => parse_sequence(sequence)?.saturating_sub(1),
        "AFTER_SEQUENCE_NUMBER" => parse_sequence(sequence)?,
        other => {
            return Err(validation_error(format!(
                "Value '{other}' at 'shardIteratorType' failed to satisfy constraint: Member must satisfy enum value set: [AFTER_SEQUENCE_NUMBER, LATEST, AT_SEQUENCE_NUMBER, TRIM_HORIZON]"
            )));
        }
    };
    Ok(json!({ "ShardIterator": iterator_text(arn, after) }))
}

pub async fn get_records(dynamo: &Dynamo, request: &Request) -> Result<Value> {
    let text = request.required_str("ShardIterator", "shardIterator")?;
    let invalid = || DynamoError::validation("Invalid ShardIterator");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text).map_err(|_| invalid())?;
    let iterator: Iterator = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    let limit = request.optional_u64("Limit", "limit", 1)?.unwrap_or(1000);
    if limit > 1000 {
        return Err(validation_error(format!(
            "Value '{limit}' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 1000"
        )));
    }
    let table = table_of_stream(dynamo, &iterator.arn).await?;
    let rows = dynamo
        .engine
        .query(
            &table.stream_log(),
            STREAM_SHARD,
            (Bound::Excluded(iterator.after.to_be_bytes().to_vec()), Bound::Unbounded),
            false,
            limit as usize,
        )
        .await?;
    let mut after = iterator.after;
    let mut records = Vec::with_capacity(rows.len());
    let mut bytes = 0;
    for row in rows {
        let sequence = row.key.clustering.clone().try_into().map(u64::from_be_bytes).unwrap_or(after);
        let mut change: Value = serde_json::from_slice(&row.value)
            .map_err(|error| DynamoError::internal(format!("stream record is unreadable: {error}")))?;
        // A gap is a record still being committed (CQL engine): stop before
        // it, unless what follows is old enough that the gap is a batch
        // that was aborted and will never fill.
        let created = change.get("ApproximateCreationDateTime").and_then(Value::as_i64).unwrap_or(0);
        if sequence != after + 1 && chrono::Utc::now().timestamp() - created < GAP_PATIENCE_SECS {
            break;
        }
        bytes += row.value.len();
        if bytes > MAX_RECORDS_BYTES && !records.is_empty() {
            break;
        }
        after = sequence;
        let event_name = change.get("eventName").cloned().unwrap_or(Value::Null);
        let identity = change.get("userIdentity").cloned();
        if let Some(fields) = change.as_object_mut() {
            fields.remove("eventName");
            fields.remove("userIdentity");
            fields.insert("SequenceNumber".into(), json!(sequence_text(sequence)));
        }
        let mut record = json!({
            "eventID": format!("{:032x}", u128::from(sequence) ^ u128::from_str_radix(&table.id, 16).unwrap_or(0)),
            "eventName": event_name,
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": dynamo.region,
            "dynamodb": change,
        });
        if let Some(identity) = identity {
            record["userIdentity"] = identity;
        }
        records.push(record);
    }
    Ok(json!({ "Records": records, "NextShardIterator": iterator_text(&iterator.arn, after) }))
}
