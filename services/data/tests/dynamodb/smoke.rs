//! The harness itself: a write is read back, a missing table is DynamoDB's
//! ResourceNotFoundException.

use serde_json::json;

use crate::harness::TestDynamo;

#[tokio::test]
async fn an_item_put_is_read_back() {
    let dynamo = TestDynamo::new().await;
    dynamo.table("things", false).await;
    dynamo.ok("PutItem", json!({"TableName": "things", "Item": {"pk": {"S": "a"}, "n": {"N": "1"}}})).await;
    let read = dynamo.ok("GetItem", json!({"TableName": "things", "Key": {"pk": {"S": "a"}}})).await;
    assert_eq!(read["Item"]["n"], json!({"N": "1"}));
}

#[tokio::test]
async fn a_missing_table_is_resource_not_found() {
    let dynamo = TestDynamo::new().await;
    let (kind, message) = dynamo.fails("GetItem", json!({"TableName": "nope", "Key": {"pk": {"S": "a"}}})).await;
    assert_eq!(kind, "ResourceNotFoundException");
    assert_eq!(message, "Requested resource not found");
}
