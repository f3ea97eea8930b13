//! Typed requests: members of the wrong JSON type are DynamoDB's
//! SerializationException, broken constraints its `N validation errors
//! detected` message with lower-camel member names.

use serde_json::json;

use crate::harness::TestDynamo;

#[tokio::test]
async fn a_wrong_json_type_is_a_serialization_exception() {
    let dynamo = TestDynamo::new().await;
    let (kind, message) = dynamo.fails("GetItem", json!({"TableName": 12, "Key": {}})).await;
    assert_eq!(kind, "SerializationException");
    assert_eq!(message, "NUMBER_VALUE cannot be converted to String");
    let (kind, message) = dynamo.fails("Query", json!({"TableName": "things", "Limit": "ten"})).await;
    assert_eq!(kind, "SerializationException");
    assert_eq!(message, "STRING_VALUE cannot be converted to Integer");
}

#[tokio::test]
async fn every_broken_constraint_is_listed() {
    let dynamo = TestDynamo::new().await;
    let (kind, message) = dynamo
        .fails("PutItem", json!({"TableName": "things", "ReturnValues": "SOME", "ReturnConsumedCapacity": "ALL"}))
        .await;
    assert_eq!(kind, "ValidationException");
    assert_eq!(
        message,
        "3 validation errors detected: Value null at 'item' failed to satisfy constraint: Member must not be null; \
         Value 'SOME' at 'returnValues' failed to satisfy constraint: Member must satisfy enum value set: [ALL_NEW, UPDATED_OLD, ALL_OLD, NONE, UPDATED_NEW]; \
         Value 'ALL' at 'returnConsumedCapacity' failed to satisfy constraint: Member must satisfy enum value set: [INDEXES, TOTAL, NONE]"
    );
    let (_, message) =
        dynamo.fails("Scan", json!({"TableName": "things", "Limit": 0, "Segment": -1, "TotalSegments": 1})).await;
    assert_eq!(
        message,
        "2 validation errors detected: Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1; \
         Value '-1' at 'segment' failed to satisfy constraint: Member must have value greater than or equal to 0"
    );
}

#[tokio::test]
async fn unknown_members_are_ignored_as_dynamodb_ignores_them() {
    let dynamo = TestDynamo::new().await;
    dynamo.table("things", false).await;
    dynamo.ok("PutItem", json!({"TableName": "things", "Item": {"pk": {"S": "a"}}, "SomethingNewer": true})).await;
}

#[tokio::test]
async fn transactions_check_their_members() {
    let dynamo = TestDynamo::new().await;
    let (_, message) = dynamo
        .fails(
            "TransactWriteItems",
            json!({"TransactItems": [{"ConditionCheck": {"TableName": "things", "Key": {"pk": {"S": "a"}}}}]}),
        )
        .await;
    assert_eq!(
        message,
        "1 validation error detected: Value null at 'transactItems.1.member.conditionCheck.conditionExpression' failed to satisfy constraint: Member must not be null"
    );
    // DynamoDB shows the empty list it was given.
    for action in ["TransactGetItems", "TransactWriteItems"] {
        let (_, message) = dynamo.fails(action, json!({"TransactItems": []})).await;
        assert_eq!(
            message,
            "1 validation error detected: Value '[]' at 'transactItems' failed to satisfy constraint: Member must have length greater than or equal to 1"
        );
    }
}

#[tokio::test]
async fn a_missing_enabled_does_not_disable_time_to_live() {
    let dynamo = TestDynamo::new().await;
    dynamo.table("things", false).await;
    dynamo
        .ok(
            "UpdateTimeToLive",
            json!({"TableName": "things", "TimeToLiveSpecification": {"AttributeName": "expires", "Enabled": true}}),
        )
        .await;
    let (kind, message) = dynamo
        .fails(
            "UpdateTimeToLive",
            json!({"TableName": "things", "TimeToLiveSpecification": {"AttributeName": "expires"}}),
        )
        .await;
    assert_eq!(kind, "ValidationException");
    assert_eq!(
        message,
        "1 validation error detected: Value null at 'timeToLiveSpecification.enabled' failed to satisfy constraint: Member must not be null"
    );
    let described = dynamo.ok("DescribeTimeToLive", json!({"TableName": "things"})).await;
    assert_eq!(described["TimeToLiveDescription"]["TimeToLiveStatus"], json!("ENABLED"));
    let (kind, message) = dynamo
        .fails(
            "UpdateTimeToLive",
            json!({"TableName": "things", "TimeToLiveSpecification": {"AttributeName": "expires", "Enabled": "maybe"}}),
        )
        .await;
    assert_eq!((kind.as_str(), message.as_str()), ("SerializationException", "Unexpected token received from parser"));
}
