//! Global secondary indexes with multi-attribute keys: up to four
//! partition-key and four sort-key attributes, in CreateTable and
//! UpdateTable, and the Query rules over them (every partition attribute
//! by equality; sort attributes left to right, equality on all but the
//! last, which may take a range).

use serde_json::{Value, json};

use crate::harness::TestDynamo;

fn index(name: &str, hash: &[&str], range: &[&str]) -> Value {
    let schema: Vec<Value> = hash
        .iter()
        .map(|attribute| json!({"AttributeName": attribute, "KeyType": "HASH"}))
        .chain(range.iter().map(|attribute| json!({"AttributeName": attribute, "KeyType": "RANGE"})))
        .collect();
    json!({"IndexName": name, "KeySchema": schema, "Projection": {"ProjectionType": "ALL"}})
}

fn definitions(names: &[(&str, &str)]) -> Value {
    json!(names.iter().map(|(name, kind)| json!({"AttributeName": name, "AttributeType": kind})).collect::<Vec<_>>())
}

/// `matches` keyed by tournament and region, sorted by round (a number)
/// then bracket.
async fn tournament_table(dynamo: &TestDynamo) {
    dynamo
        .ok(
            "CreateTable",
            json!({
                "TableName": "matches",
                "KeySchema": [{"AttributeName": "matchId", "KeyType": "HASH"}],
                "AttributeDefinitions": definitions(&[
                    ("matchId", "S"), ("tournamentId", "S"), ("regionCode", "S"), ("roundNo", "N"), ("bracketSide", "S"),
                ]),
                "BillingMode": "PAY_PER_REQUEST",
                "GlobalSecondaryIndexes": [index("by-tournament", &["tournamentId", "regionCode"], &["roundNo", "bracketSide"])],
            }),
        )
        .await;
    for (id, tournament, region, round, bracket) in [
        ("m1", "WINTER", "EU", "1", "upper"),
        ("m2", "WINTER", "EU", "2", "lower"),
        ("m3", "WINTER", "EU", "2", "upper"),
        ("m4", "WINTER", "EU", "10", "upper"),
        ("m5", "WINTER", "NA", "1", "upper"),
        ("m6", "SUMMER", "EU", "1", "upper"),
    ] {
        dynamo
            .ok(
                "PutItem",
                json!({"TableName": "matches", "Item": {
                    "matchId": {"S": id}, "tournamentId": {"S": tournament}, "regionCode": {"S": region},
                    "roundNo": {"N": round}, "bracketSide": {"S": bracket},
                }}),
            )
            .await;
    }
    // Missing one partition attribute: the sparse index leaves it out.
    dynamo
        .ok(
            "PutItem",
            json!({"TableName": "matches", "Item": {
                "matchId": {"S": "m7"}, "tournamentId": {"S": "WINTER"}, "roundNo": {"N": "1"}, "bracketSide": {"S": "upper"},
            }}),
        )
        .await;
}

async fn query_ids(dynamo: &TestDynamo, condition: &str, values: Value, forward: bool) -> Vec<String> {
    let answer = dynamo
        .ok(
            "Query",
            json!({
                "TableName": "matches",
                "IndexName": "by-tournament",
                "KeyConditionExpression": condition,
                "ExpressionAttributeValues": values,
                "ScanIndexForward": forward,
            }),
        )
        .await;
    answer["Items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|item| item["matchId"]["S"].as_str().expect("an id").to_owned())
        .collect()
}

#[tokio::test]
async fn describe_table_shows_every_key_attribute_in_schema_order() {
    let dynamo = TestDynamo::new().await;
    tournament_table(&dynamo).await;
    let described = dynamo.ok("DescribeTable", json!({"TableName": "matches"})).await;
    assert_eq!(
        described["Table"]["GlobalSecondaryIndexes"][0]["KeySchema"],
        json!([
            {"AttributeName": "tournamentId", "KeyType": "HASH"},
            {"AttributeName": "regionCode", "KeyType": "HASH"},
            {"AttributeName": "roundNo", "KeyType": "RANGE"},
            {"AttributeName": "bracketSide", "KeyType": "RANGE"},
        ])
    );
}

#[tokio::test]
async fn four_and_four_attributes_are_the_most_an_index_takes() {
    let dynamo = TestDynamo::new().await;
    let names = ["a", "b", "c", "d", "e", "f", "g", "h", "i"];
    let attributes: Vec<(&str, &str)> = std::iter::once(("pk", "S")).chain(names.iter().map(|n| (*n, "S"))).collect();
    let create = |index: Value, used: usize| {
        json!({
            "TableName": "wide",
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
            "AttributeDefinitions": definitions(&attributes[..used + 1]),
            "BillingMode": "PAY_PER_REQUEST",
            "GlobalSecondaryIndexes": [index],
        })
    };
    let (kind, message) = dynamo.fails("CreateTable", create(index("idx", &names[..5], &[]), 5)).await;
    assert_eq!(kind, "ValidationException");
    assert_eq!(
        message,
        "One or more parameter values were invalid: The KeySchema exceeds the maximum allowed number of HASH key attributes"
    );
    let (_, message) = dynamo.fails("CreateTable", create(index("idx", &names[..1], &names[1..6]), 6)).await;
    assert_eq!(
        message,
        "One or more parameter values were invalid: The KeySchema exceeds the maximum allowed number of RANGE key attributes"
    );
    let (_, message) = dynamo.fails("CreateTable", create(index("idx", &names[..4], &names[4..9]), 9)).await;
    assert!(message.contains("Member must have length less than or equal to 8"), "{message}");
    dynamo.ok("CreateTable", create(index("idx", &names[..4], &names[4..8]), 8)).await;
}

#[tokio::test]
async fn a_key_schema_out_of_order_or_repeating_an_attribute_is_refused() {
    let dynamo = TestDynamo::new().await;
    let create = |schema: Value| {
        json!({
            "TableName": "shapes",
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
            "AttributeDefinitions": definitions(&[("pk", "S"), ("a", "S"), ("b", "S"), ("c", "S")]),
            "BillingMode": "PAY_PER_REQUEST",
            "GlobalSecondaryIndexes": [{"IndexName": "idx", "KeySchema": schema, "Projection": {"ProjectionType": "ALL"}}],
        })
    };
    let element = |name: &str, kind: &str| json!({"AttributeName": name, "KeyType": kind});
    let cases = [
        (
            json!([element("a", "RANGE"), element("b", "HASH")]),
            "Invalid KeySchema: The first KeySchemaElement is not a HASH key type",
        ),
        (
            json!([element("a", "HASH"), element("b", "RANGE"), element("c", "HASH")]),
            "One or more parameter values were invalid: All HASH key attributes must precede RANGE key attributes in the KeySchema",
        ),
        (
            json!([element("a", "HASH"), element("b", "HASH"), element("a", "RANGE")]),
            "The KeySchema contains multiple key attributes with the same name",
        ),
        (
            json!([element("a", "HASH"), element("a", "RANGE")]),
            "Both the Hash Key and the Range Key element in the KeySchema have the same name",
        ),
    ];
    for (schema, expected) in cases {
        let (kind, message) = dynamo.fails("CreateTable", create(schema)).await;
        assert_eq!((kind.as_str(), message.as_str()), ("ValidationException", expected));
    }
    // An attribute of the index left out of AttributeDefinitions.
    let (_, message) = dynamo
        .fails(
            "CreateTable",
            json!({
                "TableName": "shapes",
                "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                "AttributeDefinitions": definitions(&[("pk", "S"), ("a", "S")]),
                "BillingMode": "PAY_PER_REQUEST",
                "GlobalSecondaryIndexes": [index("idx", &["a", "b"], &[])],
            }),
        )
        .await;
    assert!(message.starts_with("One or more parameter values were invalid: Some index key attributes are not defined in AttributeDefinitions. Keys: [b]"), "{message}");
}

#[tokio::test]
async fn a_local_index_keeps_one_sort_attribute() {
    let dynamo = TestDynamo::new().await;
    let (kind, message) = dynamo
        .fails(
            "CreateTable",
            json!({
                "TableName": "local",
                "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                "AttributeDefinitions": definitions(&[("pk", "S"), ("sk", "S"), ("a", "S")]),
                "BillingMode": "PAY_PER_REQUEST",
                "LocalSecondaryIndexes": [index("lsi", &["pk"], &["sk", "a"])],
            }),
        )
        .await;
    assert_eq!(kind, "ValidationException");
    assert!(message.contains("Member must have length less than or equal to 2"), "{message}");
}

#[tokio::test]
async fn every_partition_attribute_is_needed_by_equality() {
    let dynamo = TestDynamo::new().await;
    tournament_table(&dynamo).await;
    let ids = query_ids(
        &dynamo,
        "tournamentId = :t AND regionCode = :r",
        json!({":t": {"S": "WINTER"}, ":r": {"S": "EU"}}),
        true,
    )
    .await;
    // Numeric order of round (2 < 10), then bracket; m7 lacks region.
    assert_eq!(ids, ["m1", "m2", "m3", "m4"]);
    let (kind, message) = dynamo
        .fails(
            "Query",
            json!({"TableName": "matches", "IndexName": "by-tournament",
                "KeyConditionExpression": "tournamentId = :t", "ExpressionAttributeValues": {":t": {"S": "WINTER"}}}),
        )
        .await;
    assert_eq!(
        (kind.as_str(), message.as_str()),
        ("ValidationException", "Query condition missed key schema element: regionCode")
    );
    let (_, message) = dynamo
        .fails(
            "Query",
            json!({"TableName": "matches", "IndexName": "by-tournament",
                "KeyConditionExpression": "tournamentId = :t AND begins_with(regionCode, :r)",
                "ExpressionAttributeValues": {":t": {"S": "WINTER"}, ":r": {"S": "E"}}}),
        )
        .await;
    assert_eq!(message, "Query key condition not supported");
}

#[tokio::test]
async fn sort_attributes_are_conditioned_left_to_right() {
    let dynamo = TestDynamo::new().await;
    tournament_table(&dynamo).await;
    let values = |round: &str, bracket: &str| {
        let mut values = json!({":t": {"S": "WINTER"}, ":r": {"S": "EU"}, ":round": {"N": round}});
        if !bracket.is_empty() {
            values[":b"] = json!({"S": bracket});
        }
        values
    };
    let partition = "tournamentId = :t AND regionCode = :r";
    let ids = query_ids(&dynamo, &format!("{partition} AND roundNo = :round"), values("2", ""), true).await;
    assert_eq!(ids, ["m2", "m3"]);
    let ids = query_ids(&dynamo, &format!("{partition} AND roundNo = :round"), values("2", ""), false).await;
    assert_eq!(ids, ["m3", "m2"]);
    let ids = query_ids(
        &dynamo,
        &format!("{partition} AND roundNo = :round AND bracketSide > :b"),
        values("2", "lower"),
        true,
    )
    .await;
    assert_eq!(ids, ["m3"]);
    let ids = query_ids(
        &dynamo,
        &format!("bracketSide = :b AND roundNo = :round AND {partition}"),
        values("2", "upper"),
        true,
    )
    .await;
    assert_eq!(ids, ["m3"], "the conditions' order in the expression does not matter");
    let ids = query_ids(
        &dynamo,
        &format!("{partition} AND roundNo = :round AND begins_with(bracketSide, :b)"),
        values("2", "up"),
        true,
    )
    .await;
    assert_eq!(ids, ["m3"]);
    let ids = query_ids(&dynamo, &format!("{partition} AND roundNo >= :round"), values("2", ""), true).await;
    assert_eq!(ids, ["m2", "m3", "m4"]);
    let ids = query_ids(
        &dynamo,
        &format!("{partition} AND roundNo BETWEEN :round AND :b"),
        json!({":t": {"S": "WINTER"}, ":r": {"S": "EU"}, ":round": {"N": "1"}, ":b": {"N": "2"}}),
        true,
    )
    .await;
    assert_eq!(ids, ["m1", "m2", "m3"]);

    // Skipping the first sort attribute, or a range before the last.
    let refused = |condition: String, values: Value| {
        json!({"TableName": "matches", "IndexName": "by-tournament", "KeyConditionExpression": condition,
            "ExpressionAttributeValues": values})
    };
    let (kind, message) = dynamo
        .fails(
            "Query",
            refused(
                format!("{partition} AND bracketSide = :b"),
                json!({":t": {"S": "WINTER"}, ":r": {"S": "EU"}, ":b": {"S": "upper"}}),
            ),
        )
        .await;
    assert_eq!(
        (kind.as_str(), message.as_str()),
        ("ValidationException", "Query condition missed key schema element: roundNo")
    );
    let (_, message) = dynamo
        .fails("Query", refused(format!("{partition} AND roundNo > :round AND bracketSide = :b"), values("1", "upper")))
        .await;
    assert_eq!(message, "Query key condition not supported");
    let (_, message) = dynamo
        .fails(
            "Query",
            refused(
                format!("{partition} AND roundNo = :round"),
                json!({":t": {"S": "WINTER"}, ":r": {"S": "EU"}, ":round": {"S": "2"}}),
            ),
        )
        .await;
    assert_eq!(
        message,
        "One or more parameter values were invalid: Condition parameter type does not match schema type"
    );
    let (_, message) = dynamo
        .fails(
            "Query",
            json!({"TableName": "matches", "IndexName": "by-tournament",
                "KeyConditionExpression": partition, "FilterExpression": "bracketSide = :b",
                "ExpressionAttributeValues": {":t": {"S": "WINTER"}, ":r": {"S": "EU"}, ":b": {"S": "upper"}}}),
        )
        .await;
    assert_eq!(
        message,
        "Filter Expression can only contain non-primary key attributes: Primary key attribute: bracketSide"
    );
}

#[tokio::test]
async fn pages_resume_from_a_last_evaluated_key_with_every_index_attribute() {
    let dynamo = TestDynamo::new().await;
    tournament_table(&dynamo).await;
    let mut start = Value::Null;
    let mut ids = Vec::new();
    loop {
        let mut request = json!({"TableName": "matches", "IndexName": "by-tournament", "Limit": 1,
            "KeyConditionExpression": "tournamentId = :t AND regionCode = :r",
            "ExpressionAttributeValues": {":t": {"S": "WINTER"}, ":r": {"S": "EU"}}});
        if !start.is_null() {
            request["ExclusiveStartKey"] = start.clone();
        }
        let page = dynamo.ok("Query", request).await;
        ids.extend(page["Items"].as_array().expect("items").iter().map(|item| item["matchId"]["S"].clone()));
        start = page["LastEvaluatedKey"].clone();
        if start.is_null() {
            break;
        }
        let mut keys: Vec<&String> = start.as_object().expect("a key").keys().collect();
        keys.sort();
        assert_eq!(keys, ["bracketSide", "matchId", "regionCode", "roundNo", "tournamentId"]);
    }
    assert_eq!(ids, ["m1", "m2", "m3", "m4"]);
}

#[tokio::test]
async fn an_index_added_by_update_table_covers_existing_items_and_changes() {
    let dynamo = TestDynamo::new().await;
    dynamo.table("people", false).await;
    for (pk, org, team, level) in [("p1", "acme", "web", "3"), ("p2", "acme", "web", "1"), ("p3", "acme", "ops", "2")] {
        dynamo
            .ok(
                "PutItem",
                json!({"TableName": "people", "Item": {"pk": {"S": pk}, "org": {"S": org}, "team": {"S": team}, "grade": {"N": level}}}),
            )
            .await;
    }
    dynamo
        .ok(
            "UpdateTable",
            json!({
                "TableName": "people",
                "AttributeDefinitions": definitions(&[("org", "S"), ("team", "S"), ("grade", "N")]),
                "GlobalSecondaryIndexUpdates": [{"Create": index("by-team", &["org", "team"], &["grade"])}],
            }),
        )
        .await;
    let query = || {
        json!({"TableName": "people", "IndexName": "by-team",
            "KeyConditionExpression": "org = :o AND team = :t",
            "ExpressionAttributeValues": {":o": {"S": "acme"}, ":t": {"S": "web"}}})
    };
    let ids = |answer: &Value| -> Vec<String> {
        answer["Items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|item| item["pk"]["S"].as_str().unwrap_or("").to_owned())
            .collect()
    };
    assert_eq!(ids(&dynamo.ok("Query", query()).await), ["p2", "p1"]);
    // A change of one partition attribute moves the entry.
    dynamo
        .ok(
            "UpdateItem",
            json!({"TableName": "people", "Key": {"pk": {"S": "p1"}}, "UpdateExpression": "SET team = :t",
                "ExpressionAttributeValues": {":t": {"S": "ops"}}}),
        )
        .await;
    assert_eq!(ids(&dynamo.ok("Query", query()).await), ["p2"]);
    let described = dynamo.ok("DescribeTable", json!({"TableName": "people"})).await;
    assert_eq!(described["Table"]["GlobalSecondaryIndexes"][0]["KeySchema"].as_array().map(Vec::len), Some(3));
}
