//! `ReturnConsumedCapacity`, with the arithmetic of DynamoDB's "Read/write
//! capacity mode": write units per 1 KB, read units per 4 KB, half for an
//! eventually consistent read, a missing item still billed, double for
//! transactions, each index billed apart.

use serde_json::json;

use crate::harness::TestDynamo;

fn item(pk: &str, bytes: usize) -> serde_json::Value {
    json!({"pk": {"S": pk}, "data": {"S": "x".repeat(bytes)}})
}

#[tokio::test]
async fn writes_cost_a_unit_per_kilobyte() {
    let dynamo = TestDynamo::new().await;
    dynamo.table("things", false).await;
    let put = dynamo
        .ok("PutItem", json!({"TableName": "things", "Item": item("a", 1500), "ReturnConsumedCapacity": "TOTAL"}))
        .await;
    assert_eq!(put["ConsumedCapacity"], json!({"TableName": "things", "CapacityUnits": 2.0}));
    // Overwriting with a small item costs the larger of before and after.
    let put = dynamo
        .ok("PutItem", json!({"TableName": "things", "Item": item("a", 10), "ReturnConsumedCapacity": "INDEXES"}))
        .await;
    assert_eq!(
        put["ConsumedCapacity"],
        json!({"TableName": "things", "CapacityUnits": 2.0, "Table": {"CapacityUnits": 2.0}})
    );
    let none = dynamo
        .ok("PutItem", json!({"TableName": "things", "Item": item("b", 10), "ReturnConsumedCapacity": "NONE"}))
        .await;
    assert!(none.get("ConsumedCapacity").is_none());
}

#[tokio::test]
async fn reads_cost_a_unit_per_four_kilobytes_halved_when_eventual() {
    let dynamo = TestDynamo::new().await;
    dynamo.table("things", false).await;
    dynamo.ok("PutItem", json!({"TableName": "things", "Item": item("a", 5000)})).await;
    let units = |key: &str, consistent: bool| {
        let dynamo = &dynamo;
        let key = key.to_owned();
        async move {
            dynamo
                .ok(
                    "GetItem",
                    json!({"TableName": "things", "Key": {"pk": {"S": key}}, "ConsistentRead": consistent, "ReturnConsumedCapacity": "TOTAL"}),
                )
                .await["ConsumedCapacity"]["CapacityUnits"]
                .as_f64()
                .unwrap()
        }
    };
    assert_eq!(units("a", true).await, 2.0);
    assert_eq!(units("a", false).await, 1.0);
    assert_eq!(units("missing", true).await, 1.0, "a read of a missing item is still billed");
    assert_eq!(units("missing", false).await, 0.5);
}

#[tokio::test]
async fn batches_list_one_entry_per_table_and_transactions_double() {
    let dynamo = TestDynamo::new().await;
    dynamo.table("first", false).await;
    dynamo.table("second", false).await;
    let written = dynamo
        .ok(
            "BatchWriteItem",
            json!({"RequestItems": {
                "first": [{"PutRequest": {"Item": item("a", 10)}}, {"PutRequest": {"Item": item("b", 2000)}}],
                "second": [{"PutRequest": {"Item": item("c", 10)}}],
            }, "ReturnConsumedCapacity": "TOTAL"}),
        )
        .await;
    assert_eq!(
        written["ConsumedCapacity"],
        json!([{"TableName": "first", "CapacityUnits": 3.0}, {"TableName": "second", "CapacityUnits": 1.0}])
    );
    let read = dynamo
        .ok(
            "BatchGetItem",
            json!({"RequestItems": {"first": {"Keys": [{"pk": {"S": "a"}}, {"pk": {"S": "nope"}}]}}, "ReturnConsumedCapacity": "TOTAL"}),
        )
        .await;
    assert_eq!(read["ConsumedCapacity"], json!([{"TableName": "first", "CapacityUnits": 1.0}]));
    let transaction = dynamo
        .ok(
            "TransactWriteItems",
            json!({"TransactItems": [{"Put": {"TableName": "second", "Item": item("d", 10)}}], "ReturnConsumedCapacity": "TOTAL"}),
        )
        .await;
    assert_eq!(
        transaction["ConsumedCapacity"],
        json!([{"TableName": "second", "CapacityUnits": 2.0, "ReadCapacityUnits": 0.0, "WriteCapacityUnits": 2.0}])
    );
}

#[tokio::test]
async fn each_global_index_written_is_billed_apart() {
    let dynamo = TestDynamo::new().await;
    dynamo
        .ok(
            "CreateTable",
            json!({
                "TableName": "indexed",
                "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "g", "AttributeType": "S"}],
                "GlobalSecondaryIndexes": [{"IndexName": "by-g", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}], "Projection": {"ProjectionType": "ALL"}}],
                "BillingMode": "PAY_PER_REQUEST",
            }),
        )
        .await;
    let put = dynamo
        .ok(
            "PutItem",
            json!({"TableName": "indexed", "Item": {"pk": {"S": "a"}, "g": {"S": "one"}}, "ReturnConsumedCapacity": "INDEXES"}),
        )
        .await;
    assert_eq!(
        put["ConsumedCapacity"],
        json!({"TableName": "indexed", "CapacityUnits": 2.0, "Table": {"CapacityUnits": 1.0}, "GlobalSecondaryIndexes": {"by-g": {"CapacityUnits": 1.0}}})
    );
    // Moving the item to another index key deletes one entry and writes one.
    let put = dynamo
        .ok(
            "PutItem",
            json!({"TableName": "indexed", "Item": {"pk": {"S": "a"}, "g": {"S": "two"}}, "ReturnConsumedCapacity": "INDEXES"}),
        )
        .await;
    assert_eq!(put["ConsumedCapacity"]["GlobalSecondaryIndexes"]["by-g"]["CapacityUnits"], json!(2.0));
    let query = dynamo
        .ok(
            "Query",
            json!({"TableName": "indexed", "IndexName": "by-g", "KeyConditionExpression": "g = :g",
                   "ExpressionAttributeValues": {":g": {"S": "two"}}, "ReturnConsumedCapacity": "INDEXES"}),
        )
        .await;
    assert_eq!(
        query["ConsumedCapacity"],
        json!({"TableName": "indexed", "CapacityUnits": 0.5, "Table": {"CapacityUnits": 0.0}, "GlobalSecondaryIndexes": {"by-g": {"CapacityUnits": 0.5}}})
    );
}
