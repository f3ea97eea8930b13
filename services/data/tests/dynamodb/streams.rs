//! DynamoDB Streams over the stream log: no record for a write that
//! changes nothing, iterators that expire, records trimmed after the
//! retention, and shards that close and hand over to a child shard.

use std::time::Duration;

use nubo_data::dynamodb::settings::Settings;
use serde_json::{Value, json};

use crate::harness::TestDynamo;

/// A table `events` with a NEW_AND_OLD_IMAGES stream; returns its ARN.
async fn streamed_table(dynamo: &TestDynamo) -> String {
    let created = dynamo
        .ok(
            "CreateTable",
            json!({
                "TableName": "events",
                "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
                "BillingMode": "PAY_PER_REQUEST",
                "StreamSpecification": {"StreamEnabled": true, "StreamViewType": "NEW_AND_OLD_IMAGES"},
            }),
        )
        .await;
    created["TableDescription"]["LatestStreamArn"].as_str().expect("a stream").to_owned()
}

async fn put(dynamo: &TestDynamo, pk: &str, n: &str) {
    dynamo.ok("PutItem", json!({"TableName": "events", "Item": {"pk": {"S": pk}, "n": {"N": n}}})).await;
}

async fn shards(dynamo: &TestDynamo, arn: &str) -> Vec<Value> {
    let described = dynamo.ok("DescribeStream", json!({"StreamArn": arn})).await;
    described["StreamDescription"]["Shards"].as_array().expect("shards").clone()
}

async fn iterator(dynamo: &TestDynamo, arn: &str, shard: &str, kind: &str, sequence: Option<&str>) -> String {
    let mut request = json!({"StreamArn": arn, "ShardId": shard, "ShardIteratorType": kind});
    if let Some(sequence) = sequence {
        request["SequenceNumber"] = json!(sequence);
    }
    dynamo.ok("GetShardIterator", request).await["ShardIterator"].as_str().expect("an iterator").to_owned()
}

/// Every record of a shard from its trim horizon, and whether the shard
/// ended (no next iterator).
async fn read_shard(dynamo: &TestDynamo, arn: &str, shard: &str) -> (Vec<Value>, bool) {
    let mut next = iterator(dynamo, arn, shard, "TRIM_HORIZON", None).await;
    let mut records = Vec::new();
    for _ in 0..10 {
        let page = dynamo.ok("GetRecords", json!({"ShardIterator": next})).await;
        let found = page["Records"].as_array().expect("records").clone();
        let empty = found.is_empty();
        records.extend(found);
        match page["NextShardIterator"].as_str() {
            None => return (records, true),
            Some(_) if empty => return (records, false),
            Some(iterator) => next = iterator.to_owned(),
        }
    }
    (records, false)
}

#[tokio::test]
async fn a_write_that_changes_nothing_writes_no_record() {
    let dynamo = TestDynamo::new().await;
    let arn = streamed_table(&dynamo).await;
    put(&dynamo, "a", "1").await;
    // The same item again, and updates that leave it as it is.
    put(&dynamo, "a", "1").await;
    dynamo
        .ok(
            "UpdateItem",
            json!({"TableName": "events", "Key": {"pk": {"S": "a"}}, "UpdateExpression": "SET n = :n",
                "ExpressionAttributeValues": {":n": {"N": "1.0"}}}),
        )
        .await;
    dynamo
        .ok(
            "UpdateItem",
            json!({"TableName": "events", "Key": {"pk": {"S": "a"}}, "UpdateExpression": "REMOVE absentAttribute"}),
        )
        .await;
    dynamo
        .ok(
            "UpdateItem",
            json!({"TableName": "events", "Key": {"pk": {"S": "a"}}, "UpdateExpression": "SET n = :n",
                "ExpressionAttributeValues": {":n": {"N": "2"}}}),
        )
        .await;
    let shard = shards(&dynamo, &arn).await[0]["ShardId"].as_str().expect("a shard").to_owned();
    let (records, _) = read_shard(&dynamo, &arn, &shard).await;
    let events: Vec<&str> = records.iter().map(|record| record["eventName"].as_str().unwrap_or("")).collect();
    assert_eq!(events, ["INSERT", "MODIFY"]);
    assert_eq!(records[1]["dynamodb"]["OldImage"]["n"], json!({"N": "1"}));
}

#[tokio::test]
async fn an_iterator_expires_after_its_lifetime() {
    let dynamo = TestDynamo::with_settings(Settings { iterator_secs: 1, ..Settings::default() }).await;
    let arn = streamed_table(&dynamo).await;
    put(&dynamo, "a", "1").await;
    let shard = shards(&dynamo, &arn).await[0]["ShardId"].as_str().expect("a shard").to_owned();
    let stale = iterator(&dynamo, &arn, &shard, "TRIM_HORIZON", None).await;
    let fresh = dynamo.ok("GetRecords", json!({"ShardIterator": stale})).await;
    assert_eq!(fresh["Records"].as_array().map(Vec::len), Some(1));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (kind, message) = dynamo.fails("GetRecords", json!({"ShardIterator": stale})).await;
    assert_eq!(kind, "ExpiredIteratorException");
    assert!(message.starts_with("Iterator expired. The iterator was created at time "), "{message}");
    assert!(message.ends_with("which is further in the future than the tolerated delay of 1000 milliseconds."));
    // A new iterator after the last record read goes on from there.
    let sequence = fresh["Records"][0]["dynamodb"]["SequenceNumber"].as_str().expect("a sequence number");
    put(&dynamo, "b", "2").await;
    let after = iterator(&dynamo, &arn, &shard, "AFTER_SEQUENCE_NUMBER", Some(sequence)).await;
    let page = dynamo.ok("GetRecords", json!({"ShardIterator": after})).await;
    assert_eq!(page["Records"][0]["dynamodb"]["Keys"]["pk"], json!({"S": "b"}));
}

#[tokio::test]
async fn records_past_the_retention_are_trimmed() {
    let dynamo = TestDynamo::with_settings(Settings { stream_retention_secs: 1, ..Settings::default() }).await;
    let arn = streamed_table(&dynamo).await;
    put(&dynamo, "a", "1").await;
    let shard = shards(&dynamo, &arn).await[0]["ShardId"].as_str().expect("a shard").to_owned();
    let (records, _) = read_shard(&dynamo, &arn, &shard).await;
    let sequence = records[0]["dynamodb"]["SequenceNumber"].as_str().expect("a sequence number").to_owned();
    let at_record = iterator(&dynamo, &arn, &shard, "AT_SEQUENCE_NUMBER", Some(&sequence)).await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let (kind, message) = dynamo
        .fails(
            "GetShardIterator",
            json!({"StreamArn": arn, "ShardId": shard, "ShardIteratorType": "AT_SEQUENCE_NUMBER", "SequenceNumber": sequence}),
        )
        .await;
    assert_eq!(
        (kind.as_str(), message.as_str()),
        ("TrimmedDataAccessException", "The data you are trying to access has been trimmed")
    );
    let (kind, _) = dynamo.fails("GetRecords", json!({"ShardIterator": at_record})).await;
    assert_eq!(kind, "TrimmedDataAccessException");
    // From the trim horizon, the trimmed record is simply gone.
    put(&dynamo, "b", "2").await;
    let (records, _) = read_shard(&dynamo, &arn, &shard).await;
    let keys: Vec<&Value> = records.iter().map(|record| &record["dynamodb"]["Keys"]["pk"]).collect();
    assert_eq!(keys, [&json!({"S": "b"})]);
}

#[tokio::test]
async fn a_shard_closes_and_its_child_takes_the_records_that_follow() {
    let dynamo = TestDynamo::with_settings(Settings { shard_secs: 1, ..Settings::default() }).await;
    let arn = streamed_table(&dynamo).await;
    put(&dynamo, "a", "1").await;
    let first = shards(&dynamo, &arn).await[0]["ShardId"].as_str().expect("a shard").to_owned();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    put(&dynamo, "a", "2").await;
    // The first shard closes once its grace (at most its lifetime) is over.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let listed = shards(&dynamo, &arn).await;
    assert_eq!(listed[0]["ShardId"], json!(first));
    let ending = listed[0]["SequenceNumberRange"]["EndingSequenceNumber"].as_str().expect("a closed shard").to_owned();
    let child =
        listed.iter().find(|shard| shard["ParentShardId"] == json!(first)).expect("a child of the first shard").clone();
    let child_id = child["ShardId"].as_str().expect("an id").to_owned();
    assert!(child_id > first, "shard ids sort by age");

    let (records, ended) = read_shard(&dynamo, &arn, &first).await;
    assert!(ended, "a closed shard read to its end has no next iterator");
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["dynamodb"]["SequenceNumber"], json!(ending));
    let (records, _) = read_shard(&dynamo, &arn, &child_id).await;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["eventName"], json!("MODIFY"));
    let later = records[0]["dynamodb"]["SequenceNumber"].as_str().expect("a sequence").parse::<u128>().expect("digits");
    assert!(later > ending.parse::<u128>().expect("digits"), "sequence numbers grow across shards");
    // Only closed shards carry an ending sequence number.
    let last = shards(&dynamo, &arn).await.last().cloned().expect("a shard");
    assert!(last["SequenceNumberRange"].get("EndingSequenceNumber").is_none());
}

#[tokio::test]
async fn a_shard_past_the_retention_is_dropped_whole() {
    let dynamo =
        TestDynamo::with_settings(Settings { shard_secs: 1, stream_retention_secs: 1, ..Settings::default() }).await;
    let arn = streamed_table(&dynamo).await;
    put(&dynamo, "a", "1").await;
    let first = shards(&dynamo, &arn).await[0]["ShardId"].as_str().expect("a shard").to_owned();
    let table = dynamo.ok("DescribeTable", json!({"TableName": "events"})).await;
    let log = format!("{}.stream", table["Table"]["TableId"].as_str().expect("an id"));
    let rows = |dynamo: &TestDynamo| {
        let (engine, log, first) = (dynamo.engine.clone(), log.clone(), first.clone());
        async move {
            engine
                .query(&log, first.as_bytes(), (std::ops::Bound::Unbounded, std::ops::Bound::Unbounded), false, 10)
                .await
                .expect("a query")
                .len()
        }
    };
    assert_eq!(rows(&dynamo).await, 1);
    // The shard ends after 1 s; its grace and the retention take 2 s more.
    tokio::time::sleep(Duration::from_millis(3200)).await;
    assert_eq!(dynamo.dynamo.trim_streams().await.expect("a trim"), 1);
    assert_eq!(rows(&dynamo).await, 0);
    let (kind, _) = dynamo
        .fails("GetShardIterator", json!({"StreamArn": arn, "ShardId": first, "ShardIteratorType": "TRIM_HORIZON"}))
        .await;
    assert_eq!(kind, "ResourceNotFoundException");
    assert!(shards(&dynamo, &arn).await.iter().all(|shard| shard["ShardId"] != json!(first)));
}

/// DynamoDB's reference: LATEST starts "just after the most recent stream
/// record in the shard"; TRIM_HORIZON at the oldest.
#[tokio::test]
async fn a_latest_iterator_reads_only_what_follows_it() {
    let dynamo = TestDynamo::new().await;
    let arn = streamed_table(&dynamo).await;
    let shard = shards(&dynamo, &arn).await[0]["ShardId"].as_str().expect("a shard").to_owned();
    // On a shard with no record yet, LATEST sees the first one written after it.
    let early = iterator(&dynamo, &arn, &shard, "LATEST", None).await;
    put(&dynamo, "a", "1").await;
    put(&dynamo, "b", "2").await;
    let latest = iterator(&dynamo, &arn, &shard, "LATEST", None).await;
    let page = dynamo.ok("GetRecords", json!({"ShardIterator": latest})).await;
    assert_eq!(page["Records"], json!([]), "nothing follows the most recent record yet");
    put(&dynamo, "c", "3").await;
    let next = page["NextShardIterator"].as_str().expect("an open shard has a next iterator");
    let page = dynamo.ok("GetRecords", json!({"ShardIterator": next})).await;
    let keys: Vec<&str> = page["Records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["dynamodb"]["Keys"]["pk"]["S"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["c"]);
    let page = dynamo.ok("GetRecords", json!({"ShardIterator": early})).await;
    assert_eq!(page["Records"].as_array().unwrap().len(), 3);
    let (all, _) = read_shard(&dynamo, &arn, &shard).await;
    assert_eq!(all.len(), 3);
}

/// A reader that finishes a closed shard is told so (no next iterator)
/// only when nothing is left in it; the next shard then holds what
/// follows.
#[tokio::test]
async fn a_finished_shard_hands_every_later_record_to_its_child() {
    let dynamo = TestDynamo::with_settings(Settings { shard_secs: 1, ..Settings::default() }).await;
    let arn = streamed_table(&dynamo).await;
    put(&dynamo, "a", "1").await;
    let first = shards(&dynamo, &arn).await[0]["ShardId"].as_str().expect("a shard").to_owned();
    tokio::time::sleep(Duration::from_millis(2200)).await;
    let (records, ended) = read_shard(&dynamo, &arn, &first).await;
    assert!(ended, "a closed shard read to its end has no next iterator");
    assert_eq!(records.len(), 1);
    put(&dynamo, "b", "2").await;
    // The first shard is sealed: what follows is in a later shard only.
    let (again, _) = read_shard(&dynamo, &arn, &first).await;
    assert_eq!(again.len(), 1);
    let mut later = Vec::new();
    for shard in shards(&dynamo, &arn).await.iter().skip(1) {
        later.extend(read_shard(&dynamo, &arn, shard["ShardId"].as_str().unwrap()).await.0);
    }
    assert_eq!(later.len(), 1);
    assert_eq!(later[0]["dynamodb"]["Keys"]["pk"]["S"], "b");
}
