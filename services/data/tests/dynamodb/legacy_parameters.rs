//! The legacy (pre-expression) parameters, as DynamoDB's developer guide
//! ("Legacy conditional parameters") documents them: `Expected`,
//! `AttributeUpdates`, `AttributesToGet`, `KeyConditions`, `QueryFilter`,
//! `ScanFilter` and `ConditionalOperator`.

use serde_json::json;

use crate::harness::TestDynamo;

async fn with_items() -> TestDynamo {
    let dynamo = TestDynamo::new().await;
    dynamo.table("things", true).await;
    for (sk, n) in [("a", 1), ("b", 2), ("c", 3)] {
        dynamo
            .ok(
                "PutItem",
                json!({"TableName": "things", "Item": {"pk": {"S": "p"}, "sk": {"S": sk}, "n": {"N": n.to_string()}}}),
            )
            .await;
    }
    dynamo
}

#[tokio::test]
async fn expected_guards_a_put() {
    let dynamo = with_items().await;
    let put = |expected: serde_json::Value| json!({"TableName": "things", "Item": {"pk": {"S": "p"}, "sk": {"S": "a"}, "n": {"N": "9"}}, "Expected": expected});
    let (kind, message) = dynamo.fails("PutItem", put(json!({"pk": {"Exists": false}}))).await;
    assert_eq!(
        (kind.as_str(), message.as_str()),
        ("ConditionalCheckFailedException", "The conditional request failed")
    );
    dynamo.ok("PutItem", put(json!({"n": {"Value": {"N": "1"}}}))).await;
    dynamo.ok("PutItem", put(json!({"n": {"ComparisonOperator": "GT", "AttributeValueList": [{"N": "5"}]}}))).await;
    let read = dynamo.ok("GetItem", json!({"TableName": "things", "Key": {"pk": {"S": "p"}, "sk": {"S": "a"}}})).await;
    assert_eq!(read["Item"]["n"], json!({"N": "9"}));
}

#[tokio::test]
async fn conditional_operator_or_passes_when_one_holds() {
    let dynamo = with_items().await;
    dynamo
        .ok(
            "DeleteItem",
            json!({
                "TableName": "things",
                "Key": {"pk": {"S": "p"}, "sk": {"S": "b"}},
                "Expected": {"n": {"Value": {"N": "7"}}, "missing": {"Exists": false}},
                "ConditionalOperator": "OR",
            }),
        )
        .await;
}

#[tokio::test]
async fn attribute_updates_put_add_and_delete() {
    let dynamo = with_items().await;
    let key = json!({"pk": {"S": "p"}, "sk": {"S": "a"}});
    let updated = dynamo
        .ok(
            "UpdateItem",
            json!({
                "TableName": "things",
                "Key": key,
                "AttributeUpdates": {
                    "n": {"Action": "ADD", "Value": {"N": "10"}},
                    "tags": {"Action": "ADD", "Value": {"SS": ["x", "y"]}},
                    "name": {"Value": {"S": "first"}},
                    "list": {"Action": "ADD", "Value": {"L": [{"S": "one"}]}},
                },
                "ReturnValues": "ALL_NEW",
            }),
        )
        .await;
    assert_eq!(updated["Attributes"]["n"], json!({"N": "11"}));
    assert_eq!(updated["Attributes"]["name"], json!({"S": "first"}));
    assert_eq!(updated["Attributes"]["list"], json!({"L": [{"S": "one"}]}));
    let updated = dynamo
        .ok(
            "UpdateItem",
            json!({
                "TableName": "things",
                "Key": key,
                "AttributeUpdates": {
                    "tags": {"Action": "DELETE", "Value": {"SS": ["x"]}},
                    "name": {"Action": "DELETE"},
                },
                "ReturnValues": "ALL_NEW",
            }),
        )
        .await;
    assert_eq!(updated["Attributes"]["tags"], json!({"SS": ["y"]}));
    assert!(updated["Attributes"].get("name").is_none());
    let (_, message) = dynamo
        .fails(
            "UpdateItem",
            json!({"TableName": "things", "Key": key, "AttributeUpdates": {"name": {"Action": "ADD", "Value": {"N": "1"}}, "n": {"Action": "ADD", "Value": {"SS": ["z"]}}}}),
        )
        .await;
    assert_eq!(message, "Type mismatch for attribute to update");
}

#[tokio::test]
async fn key_conditions_and_query_filter_select_items() {
    let dynamo = with_items().await;
    let result = dynamo
        .ok(
            "Query",
            json!({
                "TableName": "things",
                "KeyConditions": {
                    "pk": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "p"}]},
                    "sk": {"ComparisonOperator": "GE", "AttributeValueList": [{"S": "b"}]},
                },
                "QueryFilter": {"n": {"ComparisonOperator": "LT", "AttributeValueList": [{"N": "3"}]}},
                "AttributesToGet": ["sk"],
            }),
        )
        .await;
    assert_eq!(result["Items"], json!([{"sk": {"S": "b"}}]));
    assert_eq!(result["ScannedCount"], json!(2));
    let (_, message) = dynamo
        .fails(
            "Query",
            json!({"TableName": "things", "KeyConditions": {"pk": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "p"}]}},
                   "QueryFilter": {"sk": {"ComparisonOperator": "NOT_NULL"}}}),
        )
        .await;
    assert_eq!(message, "QueryFilter can only contain non-primary key attributes: Primary key attribute: sk");
}

#[tokio::test]
async fn scan_filter_with_every_kind_of_operator() {
    let dynamo = with_items().await;
    let count = |filter: serde_json::Value| {
        let dynamo = &dynamo;
        async move {
            dynamo.ok("Scan", json!({"TableName": "things", "ScanFilter": filter})).await["Count"].as_u64().unwrap()
        }
    };
    assert_eq!(
        count(json!({"n": {"ComparisonOperator": "BETWEEN", "AttributeValueList": [{"N": "2"}, {"N": "3"}]}})).await,
        2
    );
    assert_eq!(
        count(json!({"n": {"ComparisonOperator": "IN", "AttributeValueList": [{"N": "1"}, {"N": "3"}]}})).await,
        2
    );
    assert_eq!(count(json!({"n": {"ComparisonOperator": "NE", "AttributeValueList": [{"N": "1"}]}})).await, 2);
    assert_eq!(
        count(json!({"sk": {"ComparisonOperator": "BEGINS_WITH", "AttributeValueList": [{"S": "a"}]}})).await,
        1
    );
    assert_eq!(count(json!({"missing": {"ComparisonOperator": "NULL"}})).await, 3);
    assert_eq!(
        count(json!({"missing": {"ComparisonOperator": "NOT_CONTAINS", "AttributeValueList": [{"S": "x"}]}})).await,
        3
    );
}

#[tokio::test]
async fn mixing_styles_is_refused_with_dynamodb_message() {
    let dynamo = with_items().await;
    let (kind, message) = dynamo
        .fails(
            "PutItem",
            json!({"TableName": "things", "Item": {"pk": {"S": "p"}, "sk": {"S": "z"}},
                   "Expected": {"pk": {"Exists": false}}, "ConditionExpression": "attribute_not_exists(pk)"}),
        )
        .await;
    assert_eq!(kind, "ValidationException");
    assert_eq!(
        message,
        "Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {Expected} Expression parameters: {ConditionExpression}"
    );
    let (_, message) = dynamo
        .fails(
            "GetItem",
            json!({"TableName": "things", "Key": {"pk": {"S": "p"}, "sk": {"S": "a"}}, "AttributesToGet": ["n", "n"]}),
        )
        .await;
    assert_eq!(message, "One or more parameter values were invalid: Duplicate value in attribute name: n");
    let (_, message) = dynamo
        .fails(
            "Scan",
            json!({"TableName": "things", "ScanFilter": {"n": {"ComparisonOperator": "LIKE", "AttributeValueList": []}}}),
        )
        .await;
    assert_eq!(
        message,
        "1 validation error detected: Value 'LIKE' at 'scanFilter.n.member.comparisonOperator' failed to satisfy constraint: Member must satisfy enum value set: [IN, NULL, BETWEEN, LT, NOT_CONTAINS, EQ, GT, NOT_NULL, NE, LE, BEGINS_WITH, GE, CONTAINS]"
    );
}
