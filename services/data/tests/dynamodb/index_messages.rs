//! Index-related refusals, worded as DynamoDB words them: index key values
//! of the wrong type or empty, duplicated attribute definitions, queries
//! on a missing table or a missing index, and an empty transaction.

use serde_json::{Value, json};

use crate::harness::TestDynamo;

/// A table keyed by `pk`, with the global index `byOwner` on `owner` (S)
/// and `byRank` on `rank` (N), and the local index `byDate` on `date` (S).
async fn indexed(dynamo: &TestDynamo) {
    let index = |name: &str, keys: Value| json!({"IndexName": name, "KeySchema": keys, "Projection": {"ProjectionType": "ALL"}});
    dynamo
        .ok(
            "CreateTable",
            json!({
                "TableName": "things",
                "BillingMode": "PAY_PER_REQUEST",
                "AttributeDefinitions": [
                    {"AttributeName": "pk", "AttributeType": "S"},
                    {"AttributeName": "sk", "AttributeType": "S"},
                    {"AttributeName": "owner", "AttributeType": "S"},
                    {"AttributeName": "rank", "AttributeType": "N"},
                    {"AttributeName": "date", "AttributeType": "S"},
                ],
                "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                "GlobalSecondaryIndexes": [
                    index("byOwner", json!([{"AttributeName": "owner", "KeyType": "HASH"}])),
                    index("byRank", json!([{"AttributeName": "rank", "KeyType": "HASH"}, {"AttributeName": "owner", "KeyType": "RANGE"}])),
                ],
                "LocalSecondaryIndexes": [
                    index("byDate", json!([{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "date", "KeyType": "RANGE"}])),
                ],
            }),
        )
        .await;
}

/// The item `pk = a, sk = 1` with the attributes of `extra` (an object).
fn item(extra: Value) -> Value {
    let mut item = serde_json::Map::new();
    item.insert("pk".into(), json!({"S": "a"}));
    item.insert("sk".into(), json!({"S": "1"}));
    if let Value::Object(extra) = extra {
        item.extend(extra);
    }
    Value::Object(item)
}

#[tokio::test]
async fn an_empty_string_or_binary_index_key_is_refused() {
    let dynamo = TestDynamo::new().await;
    indexed(&dynamo).await;
    let (kind, message) =
        dynamo.fails("PutItem", json!({"TableName": "things", "Item": item(json!({"date": {"S": ""}}))})).await;
    assert_eq!(kind, "ValidationException");
    assert_eq!(
        message,
        "One or more parameter values are not valid. A value specified for a secondary index key is not supported. \
         The AttributeValue for a key attribute cannot contain an empty string value. IndexName: byDate, IndexKey: date"
    );
    // Nothing was written.
    let found = dynamo.ok("GetItem", json!({"TableName": "things", "Key": item(json!({}))})).await;
    assert!(found.get("Item").is_none());
}

#[tokio::test]
async fn of_several_indexes_an_attribute_keys_the_first_by_name_is_named() {
    let dynamo = TestDynamo::new().await;
    indexed(&dynamo).await;
    // `owner` keys byOwner and byRank; byOwner comes first by name.
    let (_, message) = dynamo
        .fails("PutItem", json!({"TableName": "things", "Item": item(json!({"owner": {"S": ""}, "rank": {"N": "1"}}))}))
        .await;
    assert!(message.ends_with("IndexName: byOwner, IndexKey: owner"), "{message}");
}

#[tokio::test]
async fn an_update_that_empties_an_index_key_gets_the_update_wording() {
    let dynamo = TestDynamo::new().await;
    indexed(&dynamo).await;
    let (kind, message) = dynamo
        .fails(
            "UpdateItem",
            json!({"TableName": "things", "Key": item(json!({})), "UpdateExpression": "SET #o = :e",
                "ExpressionAttributeNames": {"#o": "owner"}, "ExpressionAttributeValues": {":e": {"S": ""}}}),
        )
        .await;
    assert_eq!(kind, "ValidationException");
    assert_eq!(
        message,
        "One or more parameter values are not valid. The update expression attempted to update a secondary index key to a value that is not supported. \
         The AttributeValue for a key attribute cannot contain an empty string value. IndexName: byOwner, IndexKey: owner"
    );
}

#[tokio::test]
async fn an_index_key_of_another_type_or_null_is_a_type_mismatch() {
    let dynamo = TestDynamo::new().await;
    indexed(&dynamo).await;
    for (value, actual) in [(json!({"N": "5"}), "N"), (json!({"NULL": true}), "NULL"), (json!({"SS": ["x"]}), "SS")] {
        let (kind, message) =
            dynamo.fails("PutItem", json!({"TableName": "things", "Item": item(json!({"owner": value}))})).await;
        assert_eq!(kind, "ValidationException");
        assert_eq!(
            message,
            format!(
                "One or more parameter values were invalid: Type mismatch for Index Key owner Expected: S Actual: {actual} IndexName: byOwner"
            )
        );
    }
    // The sort key of a global index is checked though its item lacks the
    // partition key (the item is then left out of that index).
    let (_, message) =
        dynamo.fails("PutItem", json!({"TableName": "things", "Item": item(json!({"rank": {"S": "high"}}))})).await;
    assert_eq!(
        message,
        "One or more parameter values were invalid: Type mismatch for Index Key rank Expected: N Actual: S IndexName: byRank"
    );
    // An item without the index's attributes is simply not in the index.
    dynamo.ok("PutItem", json!({"TableName": "things", "Item": item(json!({"other": {"S": ""}}))})).await;
}

#[tokio::test]
async fn an_attribute_defined_twice_is_refused() {
    let dynamo = TestDynamo::new().await;
    let (kind, message) = dynamo
        .fails(
            "CreateTable",
            json!({
                "TableName": "twice",
                "BillingMode": "PAY_PER_REQUEST",
                "AttributeDefinitions": [
                    {"AttributeName": "pk", "AttributeType": "S"},
                    {"AttributeName": "x", "AttributeType": "S"},
                    {"AttributeName": "x", "AttributeType": "N"},
                ],
                "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                "GlobalSecondaryIndexes": [{"IndexName": "byX", "KeySchema": [{"AttributeName": "x", "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "ALL"}}],
            }),
        )
        .await;
    assert_eq!(kind, "ValidationException");
    assert_eq!(message, "Attribute Name is duplicated: x");
}

#[tokio::test]
async fn a_query_on_an_index_of_a_missing_table_is_not_found() {
    let dynamo = TestDynamo::new().await;
    let (kind, message) = dynamo
        .fails(
            "Query",
            json!({"TableName": "missing", "IndexName": "byOwner", "KeyConditionExpression": "#o = :o",
                "ExpressionAttributeNames": {"#o": "owner"}, "ExpressionAttributeValues": {":o": {"S": "x"}}}),
        )
        .await;
    assert_eq!(kind, "ResourceNotFoundException");
    assert_eq!(message, "Requested resource not found");
}

#[tokio::test]
async fn a_query_on_a_missing_index_names_it() {
    let dynamo = TestDynamo::new().await;
    indexed(&dynamo).await;
    let (kind, message) = dynamo
        .fails(
            "Query",
            json!({"TableName": "things", "IndexName": "byNothing", "KeyConditionExpression": "#o = :o",
                "ExpressionAttributeNames": {"#o": "owner"}, "ExpressionAttributeValues": {":o": {"S": "x"}}}),
        )
        .await;
    assert_eq!(kind, "ValidationException");
    assert_eq!(message, "The table does not have the specified index: byNothing");
}

#[tokio::test]
async fn a_query_on_a_global_index_reads_its_entries() {
    let dynamo = TestDynamo::new().await;
    indexed(&dynamo).await;
    for (sk, owner) in [("1", "ann"), ("2", "bob"), ("3", "ann")] {
        dynamo
            .ok(
                "PutItem",
                json!({"TableName": "things", "Item": {"pk": {"S": "a"}, "sk": {"S": sk}, "owner": {"S": owner}}}),
            )
            .await;
    }
    let found = dynamo
        .ok(
            "Query",
            json!({"TableName": "things", "IndexName": "byOwner", "KeyConditionExpression": "#o = :o",
                "ExpressionAttributeNames": {"#o": "owner"}, "ExpressionAttributeValues": {":o": {"S": "ann"}}}),
        )
        .await;
    assert_eq!(found["Count"], 2);
}

#[tokio::test]
async fn the_stream_messages_name_the_table() {
    let dynamo = TestDynamo::new().await;
    dynamo.table("plain", false).await;
    let (_, message) = dynamo
        .fails("UpdateTable", json!({"TableName": "plain", "StreamSpecification": {"StreamEnabled": false}}))
        .await;
    assert_eq!(message, "Table has no stream to disable: TableName: plain");
    let enable =
        json!({"TableName": "plain", "StreamSpecification": {"StreamEnabled": true, "StreamViewType": "KEYS_ONLY"}});
    dynamo.ok("UpdateTable", enable.clone()).await;
    let (_, message) = dynamo.fails("UpdateTable", enable).await;
    assert_eq!(message, "Table already has an enabled stream: TableName: plain");
}

#[tokio::test]
async fn an_update_table_that_changes_nothing_names_what_it_could_change() {
    let dynamo = TestDynamo::new().await;
    dynamo.table("plain", false).await;
    let (kind, message) = dynamo.fails("UpdateTable", json!({"TableName": "plain"})).await;
    assert_eq!(kind, "ValidationException");
    assert_eq!(
        message,
        "At least one of ProvisionedThroughput, BillingMode, UpdateStreamEnabled, GlobalSecondaryIndexUpdates, \
         SSESpecification, ReplicaUpdates, MultiAccountReplicaReady, ReplicaTransitRoleArn, MultiRegionConsistency, \
         DeletionProtectionEnabled, OnDemandThroughput, WarmThroughput or TableClass is required"
    );
}
