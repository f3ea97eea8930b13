//! How items reach the engine: the binary row encoding (JSON rows written
//! before it still read), table definitions seen fresh after a change,
//! concurrent writers through group commit, and writes racing DeleteTable.

use nubo_data::engine::{EngineError, Expect, Key, Write};
use serde_json::json;

use crate::harness::TestDynamo;

async fn table_id(dynamo: &TestDynamo, name: &str) -> String {
    let described = dynamo.ok("DescribeTable", json!({"TableName": name})).await;
    described["Table"]["TableId"].as_str().expect("a table id").to_owned()
}

fn row_key(pk: &str) -> Key {
    Key { partition: pk.as_bytes().to_vec(), clustering: Vec::new() }
}

#[tokio::test]
async fn items_are_stored_binary_and_json_rows_still_read() {
    let dynamo = TestDynamo::new().await;
    dynamo.table("things", false).await;
    let id = table_id(&dynamo, "things").await;
    dynamo.ok("PutItem", json!({"TableName": "things", "Item": {"pk": {"S": "a"}, "n": {"N": "1"}}})).await;
    let row = dynamo.engine.get(&id, &row_key("a")).await.unwrap().expect("the row");
    assert_eq!(row.value[0], 0x01, "a tagged binary row");

    // A row as the JSON encoding left it.
    let legacy = json!({"pk": {"S": "old"}, "l": {"L": [{"S": "x"}, {"NULL": true}]}}).to_string();
    dynamo.engine.write(vec![Write::put(&id, row_key("old"), legacy.into_bytes(), Expect::Anything)]).await.unwrap();
    let read = dynamo.ok("GetItem", json!({"TableName": "things", "Key": {"pk": {"S": "old"}}})).await;
    assert_eq!(read["Item"]["l"], json!({"L": [{"S": "x"}, {"NULL": true}]}));
    // Updated, it is rewritten in the binary encoding.
    dynamo
        .ok(
            "UpdateItem",
            json!({"TableName": "things", "Key": {"pk": {"S": "old"}}, "UpdateExpression": "SET n = :n",
                   "ExpressionAttributeValues": {":n": {"N": "2"}}}),
        )
        .await;
    assert_eq!(dynamo.engine.get(&id, &row_key("old")).await.unwrap().unwrap().value[0], 0x01);
}

#[tokio::test]
async fn a_changed_table_definition_is_seen_by_the_next_request() {
    let dynamo = TestDynamo::new().await;
    dynamo.table("things", false).await;
    dynamo.ok("PutItem", json!({"TableName": "things", "Item": {"pk": {"S": "a"}, "g": {"S": "x"}}})).await;
    dynamo
        .ok(
            "UpdateTable",
            json!({"TableName": "things",
                   "AttributeDefinitions": [{"AttributeName": "g", "AttributeType": "S"}],
                   "GlobalSecondaryIndexUpdates": [{"Create": {"IndexName": "by-g",
                       "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                       "Projection": {"ProjectionType": "ALL"}}}]}),
        )
        .await;
    // The write after the change keys the new index: it read the new
    // definition, not a cached old one.
    dynamo.ok("PutItem", json!({"TableName": "things", "Item": {"pk": {"S": "b"}, "g": {"S": "y"}}})).await;
    let query = json!({"TableName": "things", "IndexName": "by-g", "KeyConditionExpression": "g = :g",
                       "ExpressionAttributeValues": {":g": {"S": "y"}}});
    let mut found = json!(0);
    for _ in 0..100 {
        found = dynamo.ok("Query", query.clone()).await["Count"].clone();
        if found == json!(1) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(found, json!(1));
    dynamo.ok("DeleteTable", json!({"TableName": "things"})).await;
    let (kind, _) = dynamo.fails("GetItem", json!({"TableName": "things", "Key": {"pk": {"S": "a"}}})).await;
    assert_eq!(kind, "ResourceNotFoundException", "a deleted table is not served from the cache");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_counters_lose_no_update() {
    let dynamo = std::sync::Arc::new(TestDynamo::new().await);
    dynamo.table("counters", false).await;
    let mut writers = Vec::new();
    for _ in 0..8 {
        let dynamo = dynamo.clone();
        writers.push(tokio::spawn(async move {
            for _ in 0..50 {
                dynamo
                    .ok(
                        "UpdateItem",
                        json!({"TableName": "counters", "Key": {"pk": {"S": "c"}}, "UpdateExpression": "ADD n :one",
                               "ExpressionAttributeValues": {":one": {"N": "1"}}}),
                    )
                    .await;
            }
        }));
    }
    for writer in writers {
        writer.await.unwrap();
    }
    let read = dynamo.ok("GetItem", json!({"TableName": "counters", "Key": {"pk": {"S": "c"}}})).await;
    assert_eq!(read["Item"]["n"], json!({"N": "400"}));
}

#[tokio::test]
async fn a_write_after_delete_table_does_not_bring_the_table_back() {
    let dynamo = TestDynamo::new().await;
    dynamo.table("things", false).await;
    let id = table_id(&dynamo, "things").await;
    dynamo.ok("DeleteTable", json!({"TableName": "things"})).await;
    // A writer that read the definition before the delete commits after it.
    let late = dynamo.engine.write(vec![Write::put(&id, row_key("a"), vec![0x01, 0], Expect::Anything)]).await;
    assert_eq!(late, Err(EngineError::NoSuchTable));
    assert_eq!(dynamo.engine.get(&id, &row_key("a")).await, Err(EngineError::NoSuchTable));
}
