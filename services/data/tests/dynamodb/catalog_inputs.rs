//! The catalog, Streams and backup operations check their inputs as
//! DynamoDB's service model states them, before looking anything up.

use serde_json::json;

use crate::harness::TestDynamo;

#[tokio::test]
async fn create_table_lists_its_broken_constraints() {
    let dynamo = TestDynamo::new().await;
    let (kind, message) = dynamo.fails("CreateTable", json!({"TableName": "abc;"})).await;
    assert_eq!(kind, "ValidationException");
    assert_eq!(
        message,
        "3 validation errors detected: Value null at 'attributeDefinitions' failed to satisfy constraint: Member must not be null; \
         Value 'abc;' at 'tableName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+; \
         Value null at 'keySchema' failed to satisfy constraint: Member must not be null"
    );
    let (kind, message) = dynamo.fails("CreateTable", json!({"TableName": "abc", "KeySchema": {}})).await;
    assert_eq!(kind, "SerializationException");
    assert_eq!(message, "Start of structure or map found where not expected");
}

#[tokio::test]
async fn describe_and_delete_check_the_name_before_the_catalog() {
    let dynamo = TestDynamo::new().await;
    for action in ["DescribeTable", "DeleteTable", "DescribeTimeToLive", "DescribeContinuousBackups"] {
        let (_, message) = dynamo.fails(action, json!({})).await;
        assert_eq!(
            message,
            "1 validation error detected: Value null at 'tableName' failed to satisfy constraint: Member must not be null",
            "{action}"
        );
    }
    let (kind, _) = dynamo.fails("DescribeTable", json!({"TableName": "missing"})).await;
    assert_eq!(kind, "ResourceNotFoundException");
}

#[tokio::test]
async fn list_tables_bounds_its_limit() {
    let dynamo = TestDynamo::new().await;
    let (_, message) = dynamo.fails("ListTables", json!({"Limit": 0})).await;
    assert_eq!(
        message,
        "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1"
    );
    dynamo.table("one", false).await;
    dynamo.table("two", false).await;
    let page = dynamo.ok("ListTables", json!({"Limit": 1})).await;
    assert_eq!(page["TableNames"], json!(["one"]));
    assert_eq!(page["LastEvaluatedTableName"], "one");
}

#[tokio::test]
async fn streams_actions_check_their_members() {
    let dynamo = TestDynamo::new().await;
    let (_, message) = dynamo.fails("GetShardIterator", json!({"ShardIteratorType": "NEWEST"})).await;
    assert_eq!(
        message,
        "3 validation errors detected: Value null at 'streamArn' failed to satisfy constraint: Member must not be null; \
         Value null at 'shardId' failed to satisfy constraint: Member must not be null; \
         Value 'NEWEST' at 'shardIteratorType' failed to satisfy constraint: Member must satisfy enum value set: [TRIM_HORIZON, LATEST, AT_SEQUENCE_NUMBER, AFTER_SEQUENCE_NUMBER]"
    );
    let (_, message) = dynamo.fails("GetRecords", json!({"ShardIterator": "x", "Limit": 1001})).await;
    assert_eq!(
        message,
        "1 validation error detected: Value '1001' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 1000"
    );
}

#[tokio::test]
async fn a_recovery_period_out_of_range_is_refused() {
    let dynamo = TestDynamo::new().await;
    dynamo.table("things", false).await;
    let (_, message) = dynamo
        .fails(
            "UpdateContinuousBackups",
            json!({"TableName": "things", "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": true, "RecoveryPeriodInDays": 36}}),
        )
        .await;
    assert_eq!(
        message,
        "1 validation error detected: Value '36' at 'pointInTimeRecoverySpecification.recoveryPeriodInDays' failed to satisfy constraint: Member must have value less than or equal to 35"
    );
    let (kind, _) = dynamo
        .fails(
            "UpdateContinuousBackups",
            json!({"TableName": "things", "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": true, "RecoveryPeriodInDays": 7.5}}),
        )
        .await;
    assert_eq!(kind, "SerializationException");
    let done = dynamo
        .ok(
            "UpdateContinuousBackups",
            json!({"TableName": "things", "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": true, "RecoveryPeriodInDays": 7}}),
        )
        .await;
    assert_eq!(done["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]["RecoveryPeriodInDays"], 7);
}

#[tokio::test]
async fn update_table_adds_updates_and_drops_a_global_index() {
    let dynamo = TestDynamo::new().await;
    dynamo
        .ok(
            "CreateTable",
            json!({"TableName": "things", "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
                "ProvisionedThroughput": {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}}),
        )
        .await;
    dynamo.ok("PutItem", json!({"TableName": "things", "Item": {"pk": {"S": "a"}, "owner": {"S": "ann"}}})).await;
    let created = dynamo
        .ok(
            "UpdateTable",
            json!({"TableName": "things",
                "AttributeDefinitions": [{"AttributeName": "owner", "AttributeType": "S"}],
                "GlobalSecondaryIndexUpdates": [{"Create": {"IndexName": "byOwner",
                    "KeySchema": [{"AttributeName": "owner", "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "KEYS_ONLY"},
                    "ProvisionedThroughput": {"ReadCapacityUnits": 2, "WriteCapacityUnits": 3}}}]}),
        )
        .await;
    assert_eq!(created["TableDescription"]["GlobalSecondaryIndexes"][0]["IndexName"], "byOwner");
    // The items already there are backfilled into the new index.
    let found = dynamo
        .ok(
            "Query",
            json!({"TableName": "things", "IndexName": "byOwner", "KeyConditionExpression": "#o = :o",
                "ExpressionAttributeNames": {"#o": "owner"}, "ExpressionAttributeValues": {":o": {"S": "ann"}}}),
        )
        .await;
    assert_eq!(found["Count"], 1);
    let updated = dynamo
        .ok(
            "UpdateTable",
            json!({"TableName": "things", "GlobalSecondaryIndexUpdates": [{"Update": {"IndexName": "byOwner",
                "ProvisionedThroughput": {"ReadCapacityUnits": 7, "WriteCapacityUnits": 8}}}]}),
        )
        .await;
    let throughput = &updated["TableDescription"]["GlobalSecondaryIndexes"][0]["ProvisionedThroughput"];
    assert_eq!(
        (throughput["ReadCapacityUnits"].as_u64(), throughput["WriteCapacityUnits"].as_u64()),
        (Some(7), Some(8))
    );
    // An index throughput must give both units.
    let (_, message) = dynamo
        .fails(
            "UpdateTable",
            json!({"TableName": "things", "GlobalSecondaryIndexUpdates": [{"Update": {"IndexName": "byOwner",
                "ProvisionedThroughput": {"ReadCapacityUnits": 7}}}]}),
        )
        .await;
    assert_eq!(
        message,
        "1 validation error detected: Value null at 'globalSecondaryIndexUpdates.1.member.update.provisionedThroughput.writeCapacityUnits' failed to satisfy constraint: Member must not be null"
    );
    let dropped = dynamo
        .ok(
            "UpdateTable",
            json!({"TableName": "things", "GlobalSecondaryIndexUpdates": [{"Delete": {"IndexName": "byOwner"}}]}),
        )
        .await;
    assert!(dropped["TableDescription"].get("GlobalSecondaryIndexes").is_none());
    let (kind, _) = dynamo
        .fails(
            "Query",
            json!({"TableName": "things", "IndexName": "byOwner", "KeyConditionExpression": "#o = :o",
                "ExpressionAttributeNames": {"#o": "owner"}, "ExpressionAttributeValues": {":o": {"S": "ann"}}}),
        )
        .await;
    assert_eq!(kind, "ValidationException");
}

#[tokio::test]
async fn tags_are_added_removed_and_bounded_at_fifty() {
    let dynamo = TestDynamo::new().await;
    dynamo.table("things", false).await;
    let arn = "arn:aws:dynamodb:us-east-1:000000000000:table/things";
    let tags: Vec<serde_json::Value> = (0..50).map(|i| json!({"Key": format!("k{i}"), "Value": "v"})).collect();
    dynamo.ok("TagResource", json!({"ResourceArn": arn, "Tags": tags})).await;
    let (kind, message) =
        dynamo.fails("TagResource", json!({"ResourceArn": arn, "Tags": [{"Key": "one-more", "Value": "v"}]})).await;
    assert_eq!(kind, "ValidationException");
    assert_eq!(message, "Number of Tags exceed the current limit for the provided ResourceArn");
    // Nothing of the refused request was kept.
    let listed = dynamo.ok("ListTagsOfResource", json!({"ResourceArn": arn})).await;
    assert_eq!(listed["Tags"].as_array().map(Vec::len), Some(50));
    dynamo.ok("UntagResource", json!({"ResourceArn": arn, "TagKeys": ["k0", "k1", "absent"]})).await;
    let listed = dynamo.ok("ListTagsOfResource", json!({"ResourceArn": arn})).await;
    assert_eq!(listed["Tags"].as_array().map(Vec::len), Some(48));
    let (_, message) = dynamo.fails("UntagResource", json!({"ResourceArn": arn})).await;
    assert_eq!(
        message,
        "1 validation error detected: Value null at 'tagKeys' failed to satisfy constraint: Member must not be null"
    );
}
