//! Point-in-time recovery settings, DescribeEndpoints, DescribeLimits and
//! the periodically counted `ItemCount` / `TableSizeBytes`.

use nubo_data::dynamodb::settings::Settings;
use serde_json::json;

use crate::harness::TestDynamo;

#[tokio::test]
async fn point_in_time_recovery_is_recorded_and_reported() {
    let dynamo = TestDynamo::new().await;
    dynamo.table("ledger", false).await;
    let described = dynamo.ok("DescribeContinuousBackups", json!({"TableName": "ledger"})).await;
    assert_eq!(
        described["ContinuousBackupsDescription"],
        json!({"ContinuousBackupsStatus": "ENABLED", "PointInTimeRecoveryDescription": {"PointInTimeRecoveryStatus": "DISABLED"}})
    );
    let updated = dynamo
        .ok(
            "UpdateContinuousBackups",
            json!({"TableName": "ledger", "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": true, "RecoveryPeriodInDays": 7}}),
        )
        .await;
    let recovery = &updated["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"];
    assert_eq!(recovery["PointInTimeRecoveryStatus"], json!("ENABLED"));
    assert_eq!(recovery["RecoveryPeriodInDays"], json!(7));
    assert!(recovery["EarliestRestorableDateTime"].as_f64() <= recovery["LatestRestorableDateTime"].as_f64());
    let described = dynamo.ok("DescribeContinuousBackups", json!({"TableName": "ledger"})).await;
    assert_eq!(
        described["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]["RecoveryPeriodInDays"],
        json!(7)
    );

    let (kind, message) = dynamo
        .fails(
            "UpdateContinuousBackups",
            json!({"TableName": "ledger", "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": false, "RecoveryPeriodInDays": 7}}),
        )
        .await;
    assert_eq!(kind, "ValidationException");
    assert_eq!(message, "Invalid Request: Cannot specify RecoveryPeriodInDays when disabling point-in-time recovery.");
    let (_, message) = dynamo
        .fails(
            "UpdateContinuousBackups",
            json!({"TableName": "ledger", "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": true, "RecoveryPeriodInDays": 36}}),
        )
        .await;
    assert_eq!(
        message,
        "1 validation error detected: Value '36' at 'pointInTimeRecoverySpecification.recoveryPeriodInDays' failed to satisfy constraint: Member must have value less than or equal to 35"
    );
    dynamo
        .ok(
            "UpdateContinuousBackups",
            json!({"TableName": "ledger", "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": false}}),
        )
        .await;
    let described = dynamo.ok("DescribeContinuousBackups", json!({"TableName": "ledger"})).await;
    assert_eq!(
        described["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"],
        json!("DISABLED")
    );

    let (kind, message) = dynamo.fails("DescribeContinuousBackups", json!({"TableName": "missing"})).await;
    assert_eq!((kind.as_str(), message.as_str()), ("TableNotFoundException", "Table not found: missing"));
}

#[tokio::test]
async fn endpoints_and_limits_answer_in_dynamodbs_shape() {
    let dynamo = TestDynamo::new().await;
    let endpoints = dynamo.ok("DescribeEndpoints", json!({})).await;
    assert_eq!(endpoints["Endpoints"][0]["CachePeriodInMinutes"], json!(1440));
    assert!(endpoints["Endpoints"][0]["Address"].is_string());
    let limits = dynamo.ok("DescribeLimits", json!({})).await;
    for member in [
        "AccountMaxReadCapacityUnits",
        "AccountMaxWriteCapacityUnits",
        "TableMaxReadCapacityUnits",
        "TableMaxWriteCapacityUnits",
    ] {
        assert!(limits[member].as_u64().is_some_and(|units| units > 0), "{member}");
    }
}

#[tokio::test]
async fn item_count_and_size_are_counted_by_the_periodic_pass() {
    let dynamo = TestDynamo::with_settings(Settings { statistics_secs: 0, ..Settings::default() }).await;
    dynamo
        .ok(
            "CreateTable",
            json!({
                "TableName": "counted",
                "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "tag", "AttributeType": "S"}],
                "BillingMode": "PAY_PER_REQUEST",
                "GlobalSecondaryIndexes": [{"IndexName": "by-tag", "KeySchema": [{"AttributeName": "tag", "KeyType": "HASH"}], "Projection": {"ProjectionType": "KEYS_ONLY"}}],
            }),
        )
        .await;
    for (pk, tag) in [("a", Some("x")), ("bb", None), ("ccc", Some("y"))] {
        let mut item = json!({"pk": {"S": pk}, "note": {"S": "0123456789"}});
        if let Some(tag) = tag {
            item["tag"] = json!({"S": tag});
        }
        dynamo.ok("PutItem", json!({"TableName": "counted", "Item": item})).await;
    }
    let before = dynamo.ok("DescribeTable", json!({"TableName": "counted"})).await;
    assert_eq!(before["Table"]["ItemCount"], json!(0), "not counted yet");
    assert_eq!(dynamo.dynamo.refresh_statistics().await.expect("a count"), 1);
    let after = dynamo.ok("DescribeTable", json!({"TableName": "counted"})).await;
    assert_eq!(after["Table"]["ItemCount"], json!(3));
    // Each item: "pk" + its value, "note" + 10 bytes, and "tag" + 1 where set.
    let expected = (2 + 1 + 4 + 10) + (2 + 2 + 4 + 10) + (2 + 3 + 4 + 10) + 2 * (3 + 1);
    assert_eq!(after["Table"]["TableSizeBytes"], json!(expected));
    assert_eq!(after["Table"]["GlobalSecondaryIndexes"][0]["ItemCount"], json!(2));
}
