//! DynamoDB Streams: ListStreams, DescribeStream, GetShardIterator and
//! GetRecords over a table's stream log, which the engine appends to in the
//! same atomic write as the change it records (see `mutation`). The log is
//! cut into shards by time (see `shards`): a shard closes and its child
//! follows, records older than the retention are trimmed (a shard whose
//! records all are is dropped whole by [`Dynamo::trim_streams`]), and an
//! iterator expires, as DynamoDB's do.

use std::ops::Bound;

use base64::Engine as _;
use serde_json::{Value, json};

use super::{
    Dynamo, TABLES,
    error::{DynamoError, ErrorKind, Result},
    input::streams::{
        DescribeStreamInput, GetRecordsInput, GetShardIteratorInput, ListStreamsInput, MAX_DESCRIBE_SHARDS, MAX_RECORDS,
    },
    request::validation_error,
    shards::Lineage,
    table::{StreamSettings, Table},
};
use crate::engine::{EngineError, Expect, Key, Row, Write};

/// The most record data one GetRecords answers with (1 MB).
const MAX_RECORDS_BYTES: usize = 1024 * 1024;
/// How long a gap in sequence numbers is waited for before it is skipped.
const GAP_PATIENCE_SECS: i64 = 10;
/// Rows deleted per engine write when a trimmed shard is dropped.
const TRIM_BATCH: usize = 100;

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn not_found(arn: &str) -> DynamoError {
    DynamoError::new(ErrorKind::ResourceNotFound, format!("Requested resource not found: Stream: {arn} not found"))
}

fn no_shard(shard: &str) -> DynamoError {
    DynamoError::new(
        ErrorKind::ResourceNotFound,
        format!("Requested resource not found: Shard does not exist: {shard}"),
    )
}

fn trimmed() -> DynamoError {
    DynamoError::new(ErrorKind::TrimmedDataAccess, "The data you are trying to access has been trimmed")
}

/// A record's position in its shard: the engine's sequence of the log row.
fn position_of(row: &Row) -> u64 {
    row.key.clustering.clone().try_into().map(u64::from_be_bytes).unwrap_or(0)
}

/// When a stored record was made, in epoch seconds.
fn created_secs(change: &Value) -> i64 {
    change.get("ApproximateCreationDateTime").and_then(Value::as_i64).unwrap_or(0)
}

impl Dynamo {
    /// Fixes a newly enabled stream's shard lifetime from the settings.
    pub(super) fn fix_shard_lifetime(&self, stream: &mut Option<StreamSettings>) {
        if let Some(stream) = stream {
            stream.shard_secs = Some(self.runtime.settings.shard_secs);
        }
    }

    fn retention_ms(&self) -> i64 {
        self.runtime.settings.stream_retention().as_millis() as i64
    }

    /// The first and last record positions of a shard, if it has any.
    async fn shard_extent(&self, table: &Table, shard: &str) -> Result<Option<(u64, u64)>> {
        let all = (Bound::Unbounded, Bound::Unbounded);
        let log = table.stream_log();
        let first = self.engine.query(&log, shard.as_bytes(), all.clone(), false, 1).await?;
        let last = self.engine.query(&log, shard.as_bytes(), all, true, 1).await?;
        Ok(first.first().zip(last.first()).map(|(first, last)| (position_of(first), position_of(last))))
    }

    /// Seals a closed shard a reader has read up to `after`; whether
    /// nothing lies past `after` once it is sealed.
    async fn seal(&self, table: &Table, shard: &str, after: u64) -> Result<bool> {
        let log = table.stream_log();
        let seal = Key { partition: Lineage::seal_partition(shard), clustering: Vec::new() };
        match self.engine.write(vec![Write::put(&log, seal.clone(), b"sealed".to_vec(), Expect::Version(0))]).await {
            Ok(_) => {}
            // Sealed before, or (on the CQL engine) a writer holds the seal
            // row's lock while it checks the seal is absent. Only a stored
            // seal counts: an in-flight writer may still append behind us,
            // so the reader stays on the shard and tries again.
            Err(EngineError::VersionMismatch { .. }) => {
                if self.engine.get(&log, &seal).await?.is_none() {
                    return Ok(false);
                }
            }
            Err(error) => return Err(error.into()),
        }
        let past = (Bound::Excluded(after.to_be_bytes().to_vec()), Bound::Unbounded);
        Ok(self.engine.query(&log, shard.as_bytes(), past, false, 1).await?.is_empty())
    }

    /// Drops the shards of every stream whose records are all past the
    /// retention; returns how many shards were dropped.
    pub async fn trim_streams(&self) -> Result<usize> {
        let records = self.records.list_all(TABLES).await?;
        let tables: Vec<Table> =
            records.iter().filter_map(|record| serde_json::from_slice(&record.value).ok()).collect();
        let mut dropped = 0;
        for table in tables {
            let Some(stream) = &table.stream else { continue };
            let lineage = Lineage::of(stream);
            let live = lineage.first_live(now_ms(), self.retention_ms());
            let log = table.stream_log();
            let from =
                self.runtime.trimmed_below.lock().map(|known| known.get(&log).copied().unwrap_or(0)).unwrap_or(0);
            for generation in from..live {
                let shard = lineage.shard_id(generation);
                let mut any = false;
                loop {
                    let all = (Bound::Unbounded, Bound::Unbounded);
                    let rows = self.engine.query(&log, shard.as_bytes(), all, false, TRIM_BATCH).await?;
                    if rows.is_empty() {
                        break;
                    }
                    any = true;
                    let deletes = rows.into_iter().map(|row| Write::delete(&log, row.key, Expect::Anything)).collect();
                    self.engine.write(deletes).await?;
                }
                let seal = Key { partition: Lineage::seal_partition(&shard), clustering: Vec::new() };
                self.engine.write(vec![Write::delete(&log, seal, Expect::Anything)]).await?;
                dropped += usize::from(any);
            }
            if let Ok(mut known) = self.runtime.trimmed_below.lock() {
                known.insert(log, live.max(from));
            }
        }
        Ok(dropped)
    }
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

pub async fn list(dynamo: &Dynamo, input: ListStreamsInput) -> Result<Value> {
    let only = input.table_name;
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

pub async fn describe(dynamo: &Dynamo, input: DescribeStreamInput) -> Result<Value> {
    let arn = input.arn();
    // Validated: 1 to 100.
    let limit = input.limit.unwrap_or(MAX_DESCRIBE_SHARDS) as u64;
    let table = table_of_stream(dynamo, arn).await?;
    let stream = table.stream.as_ref().ok_or_else(|| not_found(arn))?;
    let lineage = Lineage::of(stream);
    let now = now_ms();
    let current = lineage.generation_at(now);
    let mut from = lineage.first_live(now, dynamo.retention_ms());
    if let Some(start) = input.exclusive_start_shard_id.as_deref() {
        from = from.max(lineage.parse_shard_id(start).map_or(0, |generation| generation + 1));
    }
    let mut shards = Vec::new();
    let mut last_evaluated = None;
    for generation in from..=current {
        let id = lineage.shard_id(generation);
        let extent = dynamo.shard_extent(&table, &id).await?;
        let closed = lineage.is_closed(generation, now);
        // A shard that closed without a record has nothing to read.
        if closed && extent.is_none() {
            continue;
        }
        let mut range =
            json!({ "StartingSequenceNumber": lineage.sequence(generation, extent.map_or(1, |(first, _)| first)) });
        if let (true, Some((_, last))) = (closed, extent) {
            range["EndingSequenceNumber"] = json!(lineage.sequence(generation, last));
        }
        let mut shard = json!({ "ShardId": id, "SequenceNumberRange": range });
        if generation > 0 {
            shard["ParentShardId"] = json!(lineage.shard_id(generation - 1));
        }
        shards.push(shard);
        if shards.len() as u64 == limit && generation < current {
            last_evaluated = Some(id);
            break;
        }
    }
    let mut key_schema = vec![json!({ "AttributeName": table.hash_key, "KeyType": "HASH" })];
    if let Some(range) = &table.range_key {
        key_schema.push(json!({ "AttributeName": range, "KeyType": "RANGE" }));
    }
    let mut description = json!({
        "StreamArn": arn,
        "StreamLabel": stream.label,
        "StreamStatus": "ENABLED",
        "StreamViewType": stream.view_type,
        "CreationRequestDateTime": lineage.created_ms as f64 / 1000.0,
        "TableName": table.name,
        "KeySchema": key_schema,
        "Shards": shards,
    });
    if let Some(id) = last_evaluated {
        description["LastEvaluatedShardId"] = json!(id);
    }
    Ok(json!({ "StreamDescription": description }))
}

/// What an iterator encodes: the stream, the shard, the last position
/// read, whether it still stands at the trim horizon, and when it was
/// handed out.
#[derive(serde::Serialize, serde::Deserialize)]
struct Iterator {
    arn: String,
    shard: u64,
    after: u64,
    #[serde(default)]
    horizon: bool,
    issued_ms: i64,
}

impl Iterator {
    fn text(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
    }

    fn parse(text: &str) -> Result<Self> {
        let invalid = || DynamoError::validation("Invalid ShardIterator");
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text).map_err(|_| invalid())?;
        serde_json::from_slice(&bytes).map_err(|_| invalid())
    }
}

fn parse_sequence(text: Option<&str>, generation: u64) -> Result<u64> {
    text.and_then(Lineage::parse_sequence)
        .filter(|(of, _)| *of == generation)
        .map(|(_, position)| position)
        .ok_or_else(|| DynamoError::validation("Invalid SequenceNumber: must be a sequence number of this shard"))
}

pub async fn get_shard_iterator(dynamo: &Dynamo, input: GetShardIteratorInput) -> Result<Value> {
    // The three are validated present.
    let arn = input.stream_arn.as_deref().unwrap_or_default();
    let shard = input.shard_id.as_deref().unwrap_or_default();
    let kind = input.shard_iterator_type.as_deref().unwrap_or_default();
    let table = table_of_stream(dynamo, arn).await?;
    let lineage = Lineage::of(table.stream.as_ref().ok_or_else(|| not_found(arn))?);
    let now = now_ms();
    let generation = lineage
        .parse_shard_id(shard)
        .filter(|generation| {
            (lineage.first_live(now, dynamo.retention_ms())..=lineage.generation_at(now)).contains(generation)
        })
        .ok_or_else(|| no_shard(shard))?;
    let sequence = input.sequence_number.as_deref();
    let (after, horizon) = match kind {
        "TRIM_HORIZON" => (0, true),
        "LATEST" => (dynamo.shard_extent(&table, shard).await?.map_or(0, |(_, last)| last), false),
        "AT_SEQUENCE_NUMBER" | "AFTER_SEQUENCE_NUMBER" => {
            let position = parse_sequence(sequence, generation)?;
            // A record kept past the retention is trimmed, to readers at least.
            let at =
                (Bound::Included(position.to_be_bytes().to_vec()), Bound::Included(position.to_be_bytes().to_vec()));
            let rows = dynamo.engine.query(&table.stream_log(), shard.as_bytes(), at, false, 1).await?;
            if let Some(row) = rows.first() {
                let change: Value = serde_json::from_slice(&row.value).unwrap_or(Value::Null);
                if created_secs(&change) * 1000 < now - dynamo.retention_ms() {
                    return Err(trimmed());
                }
            }
            (if kind == "AT_SEQUENCE_NUMBER" { position.saturating_sub(1) } else { position }, false)
        }
        other => {
            return Err(validation_error(format!(
                "Value '{other}' at 'shardIteratorType' failed to satisfy constraint: Member must satisfy enum value set: [AFTER_SEQUENCE_NUMBER, LATEST, AT_SEQUENCE_NUMBER, TRIM_HORIZON]"
            )));
        }
    };
    let iterator = Iterator { arn: arn.to_owned(), shard: generation, after, horizon, issued_ms: now };
    Ok(json!({ "ShardIterator": iterator.text() }))
}

fn expired(issued_ms: i64, now: i64, lifetime_ms: i64) -> DynamoError {
    let at = |ms: i64| {
        chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default().format("%a %b %d %H:%M:%S UTC %Y").to_string()
    };
    DynamoError::new(
        ErrorKind::ExpiredIterator,
        format!(
            "Iterator expired. The iterator was created at time {} while right now it is {} which is further in the future than the tolerated delay of {lifetime_ms} milliseconds.",
            at(issued_ms),
            at(now)
        ),
    )
}

pub async fn get_records(dynamo: &Dynamo, input: GetRecordsInput) -> Result<Value> {
    let iterator = Iterator::parse(input.shard_iterator.as_deref().unwrap_or_default())?;
    // Validated: 1 to 1000.
    let limit = input.limit.unwrap_or(MAX_RECORDS) as u64;
    let now = now_ms();
    let lifetime_ms = dynamo.runtime.settings.iterator_lifetime().as_millis() as i64;
    if now - iterator.issued_ms > lifetime_ms {
        return Err(expired(iterator.issued_ms, now, lifetime_ms));
    }
    let table = table_of_stream(dynamo, &iterator.arn).await?;
    let lineage = Lineage::of(table.stream.as_ref().ok_or_else(|| not_found(&iterator.arn))?);
    // An iterator is the client's text: one naming a shard not yet opened
    // or issued in the future was not made here.
    if iterator.shard > lineage.generation_at(now) || iterator.issued_ms > now {
        return Err(DynamoError::validation("Invalid ShardIterator"));
    }
    let retention_ms = dynamo.retention_ms();
    if iterator.shard < lineage.first_live(now, retention_ms) {
        return Err(trimmed());
    }
    let shard = lineage.shard_id(iterator.shard);
    let rows = dynamo
        .engine
        .query(
            &table.stream_log(),
            shard.as_bytes(),
            (Bound::Excluded(iterator.after.to_be_bytes().to_vec()), Bound::Unbounded),
            false,
            limit as usize,
        )
        .await?;
    let fetched = rows.len();
    let mut after = iterator.after;
    let mut horizon = iterator.horizon;
    let mut records = Vec::with_capacity(rows.len());
    let mut bytes = 0;
    let mut stopped_early = false;
    for row in rows {
        let sequence = position_of(&row);
        let mut change: Value = serde_json::from_slice(&row.value)
            .map_err(|error| DynamoError::internal(format!("stream record is unreadable: {error}")))?;
        let created = created_secs(&change);
        if created * 1000 < now - retention_ms {
            // Past the retention: a reader at the trim horizon moves past
            // it; one that stood on it has lost data.
            if horizon {
                after = sequence;
                continue;
            }
            return Err(trimmed());
        }
        // A gap is a record still being committed (CQL engine): stop before
        // it, unless what follows is old enough that the gap is a batch
        // that was aborted and will never fill.
        if sequence != after + 1 && now / 1000 - created < GAP_PATIENCE_SECS {
            stopped_early = true;
            break;
        }
        bytes += row.value.len();
        if bytes > MAX_RECORDS_BYTES && !records.is_empty() {
            stopped_early = true;
            break;
        }
        after = sequence;
        horizon = false;
        let event_name = change.get("eventName").cloned().unwrap_or(Value::Null);
        let identity = change.get("userIdentity").cloned();
        if let Some(fields) = change.as_object_mut() {
            fields.remove("eventName");
            fields.remove("userIdentity");
            fields.insert("SequenceNumber".into(), json!(lineage.sequence(iterator.shard, sequence)));
        }
        let event_id = u128::from_str_radix(&table.id, 16).unwrap_or(0)
            ^ lineage.sequence(iterator.shard, sequence).parse::<u128>().unwrap_or(0);
        let mut record = json!({
            "eventID": format!("{event_id:032x}"),
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
    let mut response = json!({ "Records": records });
    // A closed shard read to its end has no next iterator: its child
    // follows. The shard is sealed first, so no write still in flight can
    // land in it behind the reader; one that committed before the seal is
    // read on the next call.
    let drained = !stopped_early && fetched < limit as usize;
    let finished = drained && lineage.is_closed(iterator.shard, now) && dynamo.seal(&table, &shard, after).await?;
    if !finished {
        let next = Iterator { arn: iterator.arn.clone(), shard: iterator.shard, after, horizon, issued_ms: now };
        response["NextShardIterator"] = json!(next.text());
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use std::{sync::Arc, time::Duration};

    use serde_json::json;

    use super::*;
    use crate::{
        dynamodb::{
            Action, keys,
            mutation::{Actor, item_writes},
            settings::Settings,
            value::item_from_json,
        },
        engine::{Engine, embedded::EmbeddedEngine},
        records::RecordStore,
    };

    async fn dynamo(directory: &tempfile::TempDir) -> Dynamo {
        let database = redb::Database::create(directory.path().join("data.redb")).unwrap();
        let engine: Arc<dyn Engine> = Arc::new(EmbeddedEngine::new(Arc::new(database)));
        let records = RecordStore::open(engine.clone()).await.unwrap();
        Dynamo::new(records, engine, "us-east-1".into(), "000000000000".into())
            .with_settings(Settings { shard_secs: 1, ..Settings::default() })
    }

    /// DynamoDB's reference: a shard with an ending sequence number "is
    /// closed and can no longer receive more data". A write built while the
    /// shard was open, committed after a reader finished it, must not land
    /// in it behind that reader: it is refused and built again.
    #[tokio::test]
    async fn a_late_commit_never_lands_in_a_shard_its_reader_left() {
        let directory = tempfile::tempdir().unwrap();
        let dynamo = dynamo(&directory).await;
        dynamo
            .execute(
                Action::CreateTable,
                json!({"TableName": "late", "BillingMode": "PAY_PER_REQUEST",
                    "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
                    "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                    "StreamSpecification": {"StreamEnabled": true, "StreamViewType": "KEYS_ONLY"}}),
            )
            .await
            .unwrap();
        let table = dynamo.table_named("late").await.unwrap();
        let item = item_from_json(&json!({"pk": {"S": "a"}})).unwrap();
        let key = keys::of_item(&table, &item).unwrap();
        // Built in the first shard, not yet committed.
        let late = item_writes(&table, &key, None, Some(&item), Expect::Version(0), Actor::User).unwrap();
        let arn = table.stream_arn("us-east-1", "000000000000").unwrap();
        let lineage = Lineage::of(table.stream.as_ref().unwrap());
        let first = lineage.shard_id(0);
        // Wait until the first shard is closed, then read it to its end.
        while !lineage.is_closed(0, now_ms()) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let iterator = dynamo
            .execute(
                Action::GetShardIterator,
                json!({"StreamArn": arn, "ShardId": first, "ShardIteratorType": "TRIM_HORIZON"}),
            )
            .await
            .unwrap()["ShardIterator"]
            .clone();
        let read = dynamo.execute(Action::GetRecords, json!({"ShardIterator": iterator})).await.unwrap();
        assert_eq!(read["Records"], json!([]));
        assert!(read.get("NextShardIterator").is_none(), "the reader is done with the closed shard");
        // The late commit is refused (its writer builds it again, into the
        // shard now open) ...
        assert!(matches!(dynamo.engine.write(late).await, Err(EngineError::VersionMismatch { .. })));
        // ... and the closed shard stays empty.
        assert_eq!(dynamo.shard_extent(&table, &first).await.unwrap(), None);
        // A write built now goes to the open shard and is read there.
        dynamo.execute(Action::PutItem, json!({"TableName": "late", "Item": {"pk": {"S": "a"}}})).await.unwrap();
        let open = lineage.shard_id(lineage.generation_at(now_ms()));
        assert!(dynamo.shard_extent(&table, &open).await.unwrap().is_some());
    }
}
