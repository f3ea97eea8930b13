//! The DynamoDB API through `aws-sdk-dynamodb`: tables, items, condition
//! and update expressions, Query and Scan with pagination, batches, exact
//! numbers, DynamoDB's errors, a concurrent counter and a crash under load.

use std::collections::HashMap;

use aws_sdk_dynamodb::{
    Client,
    error::ProvideErrorMetadata,
    types::{
        AttributeDefinition, AttributeValue as AV, BillingMode, KeySchemaElement, KeyType, PutRequest, ReturnValue,
        ReturnValuesOnConditionCheckFailure, ScalarAttributeType, Select, WriteRequest,
    },
};
use nubo_e2e::{Nubo, ServiceName, dynamodb_client};

fn s(text: &str) -> AV {
    AV::S(text.into())
}

fn n(text: &str) -> AV {
    AV::N(text.into())
}

/// Creates `name` with a string hash key `pk` and, if given, a range key `sk`.
async fn create_table(client: &Client, name: &str, range: Option<ScalarAttributeType>) {
    let mut request = client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder().attribute_name("pk").attribute_type(ScalarAttributeType::S).build().unwrap(),
        )
        .key_schema(KeySchemaElement::builder().attribute_name("pk").key_type(KeyType::Hash).build().unwrap());
    if let Some(kind) = range {
        request = request
            .attribute_definitions(
                AttributeDefinition::builder().attribute_name("sk").attribute_type(kind).build().unwrap(),
            )
            .key_schema(KeySchemaElement::builder().attribute_name("sk").key_type(KeyType::Range).build().unwrap());
    }
    request.send().await.unwrap_or_else(|error| panic!("CreateTable {name}: {error:?}"));
}

fn check(error: &impl ProvideErrorMetadata, code: &str, message: &str) {
    assert_eq!(error.code(), Some(code), "{:?}", error.message());
    assert_eq!(error.message(), Some(message));
}

async fn nubo() -> (tempfile::TempDir, Nubo, Client) {
    let state = tempfile::tempdir().unwrap();
    let nubo = Nubo::up_with(&state.path().join("state"), &[]).await;
    let client = dynamodb_client(&nubo.http_url(ServiceName::Data));
    (state, nubo, client)
}

#[tokio::test(flavor = "multi_thread")]
async fn tables_are_created_listed_described_and_deleted() {
    let (_state, nubo, client) = nubo().await;
    create_table(&client, "alpha", None).await;
    create_table(&client, "beta", Some(ScalarAttributeType::N)).await;
    let described = client.describe_table().table_name("beta").send().await.unwrap();
    let table = described.table().unwrap();
    assert_eq!(table.table_status().unwrap().as_str(), "ACTIVE");
    assert_eq!(table.key_schema().len(), 2);
    assert_eq!(table.table_arn(), Some("arn:aws:dynamodb:us-east-1:000000000000:table/beta"));

    let first = client.list_tables().limit(1).send().await.unwrap();
    assert_eq!(first.table_names(), ["alpha"]);
    let rest = client
        .list_tables()
        .exclusive_start_table_name(first.last_evaluated_table_name().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(rest.table_names(), ["beta"]);
    assert_eq!(rest.last_evaluated_table_name(), None);

    let again = client
        .create_table()
        .table_name("alpha")
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder().attribute_name("pk").attribute_type(ScalarAttributeType::S).build().unwrap(),
        )
        .key_schema(KeySchemaElement::builder().attribute_name("pk").key_type(KeyType::Hash).build().unwrap())
        .send()
        .await
        .unwrap_err();
    assert_eq!(again.code(), Some("ResourceInUseException"));
    assert_eq!(again.message(), Some("Table already exists: alpha"));

    let undefined = client
        .create_table()
        .table_name("gamma")
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("other")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(KeySchemaElement::builder().attribute_name("pk").key_type(KeyType::Hash).build().unwrap())
        .send()
        .await
        .unwrap_err();
    assert_eq!(undefined.code(), Some("ValidationException"));
    assert!(undefined.message().unwrap().contains("Some index key attributes are not defined in AttributeDefinitions"));

    client.put_item().table_name("alpha").item("pk", s("a")).send().await.unwrap();
    client.delete_table().table_name("alpha").send().await.unwrap();
    let gone = client.describe_table().table_name("alpha").send().await.unwrap_err();
    assert_eq!(gone.code(), Some("ResourceNotFoundException"));
    assert_eq!(gone.message(), Some("Requested resource not found: Table: alpha not found"));
    create_table(&client, "alpha", None).await;
    let empty = client.scan().table_name("alpha").send().await.unwrap();
    assert_eq!(empty.count(), 0, "a re-created table starts empty");

    // Through the AWS edge as well.
    let edge = dynamodb_client(&nubo.edge_url());
    assert_eq!(edge.list_tables().send().await.unwrap().table_names().len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn items_with_conditions_and_return_values() {
    let (_state, _nubo, client) = nubo().await;
    create_table(&client, "items", None).await;
    let put = client
        .put_item()
        .table_name("items")
        .item("pk", s("a"))
        .item("big", n("12345678901234567890123456789012345678"))
        .item("tiny", n("0.1"))
        .condition_expression("attribute_not_exists(pk)")
        .send()
        .await
        .unwrap();
    assert!(put.attributes().is_none());

    let refused = client
        .put_item()
        .table_name("items")
        .item("pk", s("a"))
        .condition_expression("attribute_not_exists(pk)")
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
        .send()
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Some("ConditionalCheckFailedException"));
    let service_error = refused.into_service_error();
    let aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(failure) = service_error
    else {
        panic!("not a conditional check failure: {service_error:?}")
    };
    assert_eq!(failure.item().unwrap()["big"], n("12345678901234567890123456789012345678"));

    let item = client.get_item().table_name("items").key("pk", s("a")).consistent_read(true).send().await.unwrap();
    assert_eq!(item.item().unwrap()["big"], n("12345678901234567890123456789012345678"), "38 digits, exactly");
    let projected =
        client.get_item().table_name("items").key("pk", s("a")).projection_expression("tiny").send().await.unwrap();
    assert_eq!(projected.item().unwrap().len(), 1);

    let updated = client
        .update_item()
        .table_name("items")
        .key("pk", s("a"))
        .update_expression("SET tiny = tiny + :two, tags = :tags, l = list_append(if_not_exists(l, :empty), :one_list) ADD visits :one REMOVE big")
        .expression_attribute_values(":two", n("0.2"))
        .expression_attribute_values(":tags", AV::Ss(vec!["x".into(), "y".into()]))
        .expression_attribute_values(":empty", AV::L(vec![]))
        .expression_attribute_values(":one_list", AV::L(vec![n("1")]))
        .expression_attribute_values(":one", n("1"))
        .return_values(ReturnValue::UpdatedNew)
        .send()
        .await
        .unwrap();
    let attributes = updated.attributes().unwrap();
    assert_eq!(attributes["tiny"], n("0.3"), "decimal arithmetic, never floats");
    assert_eq!(attributes["visits"], n("1"));
    assert_eq!(attributes["l"], AV::L(vec![n("1")]));
    assert!(!attributes.contains_key("big"));

    let deleted = client
        .update_item()
        .table_name("items")
        .key("pk", s("a"))
        .update_expression("DELETE tags :x")
        .expression_attribute_values(":x", AV::Ss(vec!["x".into()]))
        .return_values(ReturnValue::AllNew)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.attributes().unwrap()["tags"], AV::Ss(vec!["y".into()]));

    let old = client
        .delete_item()
        .table_name("items")
        .key("pk", s("a"))
        .return_values(ReturnValue::AllOld)
        .send()
        .await
        .unwrap();
    assert_eq!(old.attributes().unwrap()["visits"], n("1"));
    assert!(client.get_item().table_name("items").key("pk", s("a")).send().await.unwrap().item().is_none());

    // UpdateItem creates the item when missing.
    client
        .update_item()
        .table_name("items")
        .key("pk", s("new"))
        .update_expression("SET #c = :one")
        .expression_attribute_names("#c", "count")
        .expression_attribute_values(":one", n("1"))
        .send()
        .await
        .unwrap();
    let created = client.get_item().table_name("items").key("pk", s("new")).send().await.unwrap();
    assert_eq!(created.item().unwrap()["count"], n("1"));
}

#[tokio::test(flavor = "multi_thread")]
async fn queries_scans_and_batches_paginate() {
    let (_state, _nubo, client) = nubo().await;
    create_table(&client, "series", Some(ScalarAttributeType::N)).await;
    let mut batch = Vec::new();
    for i in 0..25 {
        batch.push(
            WriteRequest::builder()
                .put_request(
                    PutRequest::builder()
                        .item("pk", s(if i % 5 == 0 { "other" } else { "main" }))
                        .item("sk", n(&format!("{}", i * 10 - 100)))
                        .item("even", AV::Bool(i % 2 == 0))
                        .build()
                        .unwrap(),
                )
                .build(),
        );
    }
    let written = client.batch_write_item().request_items("series", batch).send().await.unwrap();
    assert!(written.unprocessed_items().is_none_or(HashMap::is_empty));

    // Numeric sort keys sort numerically, negatives included, in pages.
    let mut keys = Vec::new();
    let mut start = None;
    let mut pages = 0;
    loop {
        let page = client
            .query()
            .table_name("series")
            .key_condition_expression("pk = :p")
            .expression_attribute_values(":p", s("main"))
            .limit(7)
            .set_exclusive_start_key(start)
            .send()
            .await
            .unwrap();
        pages += 1;
        keys.extend(page.items().iter().map(|item| item["sk"].as_n().unwrap().parse::<i64>().unwrap()));
        start = page.last_evaluated_key().cloned();
        if start.is_none() {
            break;
        }
    }
    assert_eq!(pages, 3);
    let mut expected: Vec<i64> = (0..25).filter(|i| i % 5 != 0).map(|i| i * 10 - 100).collect();
    assert_eq!(keys, expected);

    let window = client
        .query()
        .table_name("series")
        .key_condition_expression("pk = :p AND sk BETWEEN :low AND :high")
        .filter_expression("even = :yes")
        .expression_attribute_values(":p", s("main"))
        .expression_attribute_values(":low", n("-80"))
        .expression_attribute_values(":high", n("40"))
        .expression_attribute_values(":yes", AV::Bool(true))
        .scan_index_forward(false)
        .send()
        .await
        .unwrap();
    let window_keys: Vec<&str> = window.items().iter().map(|item| item["sk"].as_n().unwrap().as_str()).collect();
    assert_eq!(
        window_keys,
        ["40", "20", "-20", "-40", "-60", "-80"]
            .iter()
            .copied()
            .filter(|k| k.parse::<i64>().unwrap() % 20 == 0)
            .collect::<Vec<_>>()
    );
    assert_eq!(window.scanned_count(), 11);

    let counted = client
        .query()
        .table_name("series")
        .key_condition_expression("pk = :p")
        .expression_attribute_values(":p", s("other"))
        .select(Select::Count)
        .send()
        .await
        .unwrap();
    assert_eq!((counted.count(), counted.items().len()), (5, 0));

    // Parallel scan segments cover the table exactly once.
    let mut seen = Vec::new();
    for segment in 0..3 {
        let mut start = None;
        loop {
            let page = client
                .scan()
                .table_name("series")
                .segment(segment)
                .total_segments(3)
                .limit(4)
                .set_exclusive_start_key(start)
                .send()
                .await
                .unwrap();
            seen.extend(page.items().iter().map(|item| item["sk"].as_n().unwrap().parse::<i64>().unwrap()));
            start = page.last_evaluated_key().cloned();
            if start.is_none() {
                break;
            }
        }
    }
    seen.sort();
    expected = (0..25).map(|i| i * 10 - 100).collect();
    assert_eq!(seen, expected);

    let fetched = client
        .batch_get_item()
        .request_items(
            "series",
            aws_sdk_dynamodb::types::KeysAndAttributes::builder()
                .keys(HashMap::from([("pk".to_string(), s("main")), ("sk".to_string(), n("-90"))]))
                .keys(HashMap::from([("pk".to_string(), s("main")), ("sk".to_string(), n("12345"))]))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(fetched.responses().unwrap()["series"].len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_requests_get_dynamodb_errors() {
    let (_state, _nubo, client) = nubo().await;
    create_table(&client, "strict", Some(ScalarAttributeType::S)).await;
    let missing_key = client.put_item().table_name("strict").item("pk", s("a")).send().await.unwrap_err();
    check(
        &missing_key,
        "ValidationException",
        "One or more parameter values were invalid: Missing the key sk in the item",
    );
    let mismatch =
        client.put_item().table_name("strict").item("pk", s("a")).item("sk", n("1")).send().await.unwrap_err();
    check(
        &mismatch,
        "ValidationException",
        "One or more parameter values were invalid: Type mismatch for key sk expected: S actual: N",
    );
    let wrong_key = client.get_item().table_name("strict").key("pk", s("a")).send().await.unwrap_err();
    check(&wrong_key, "ValidationException", "The provided key element does not match the schema");
    let no_table = client.get_item().table_name("nope").key("pk", s("a")).send().await.unwrap_err();
    check(&no_table, "ResourceNotFoundException", "Requested resource not found");
    let syntax = client
        .update_item()
        .table_name("strict")
        .key("pk", s("a"))
        .key("sk", s("b"))
        .update_expression("SET a = :v SET b = :v")
        .expression_attribute_values(":v", n("1"))
        .send()
        .await
        .unwrap_err();
    check(
        &syntax,
        "ValidationException",
        "Invalid UpdateExpression: The \"SET\" section can only be used once in an update expression;",
    );
    let unused = client
        .put_item()
        .table_name("strict")
        .item("pk", s("a"))
        .item("sk", s("b"))
        .expression_attribute_values(":unused", n("1"))
        .send()
        .await
        .unwrap_err();
    check(
        &unused,
        "ValidationException",
        "ExpressionAttributeValues can only be specified when using expressions: ConditionExpression is null",
    );
    let precise = client
        .put_item()
        .table_name("strict")
        .item("pk", s("a"))
        .item("sk", s("b"))
        .item("n", n("1.00000000000000000000000000000000000000001"))
        .send()
        .await
        .unwrap_err();
    check(&precise, "ValidationException", "Attempting to store more than 38 significant digits in a Number");
    let huge = client
        .put_item()
        .table_name("strict")
        .item("pk", s("a"))
        .item("sk", s("b"))
        .item("blob", s(&"x".repeat(410 * 1024)))
        .send()
        .await
        .unwrap_err();
    check(&huge, "ValidationException", "Item size has exceeded the maximum allowed size");
    let key_condition = client
        .query()
        .table_name("strict")
        .key_condition_expression("sk = :v")
        .expression_attribute_values(":v", s("b"))
        .send()
        .await
        .unwrap_err();
    check(&key_condition, "ValidationException", "Query condition missed key schema element: pk");
    let outside = client
        .query()
        .table_name("strict")
        .key_condition_expression("pk = :p AND sk > :v")
        .expression_attribute_values(":p", s("a"))
        .expression_attribute_values(":v", s("m"))
        .exclusive_start_key("pk", s("a"))
        .exclusive_start_key("sk", s("b"))
        .send()
        .await
        .unwrap_err();
    check(&outside, "ValidationException", "The provided starting key does not match the range key predicate");
    // A legacy condition is served, never ignored: the item exists, so
    // `Exists: false` fails as its ConditionExpression would.
    client.put_item().table_name("strict").item("pk", s("a")).item("sk", s("b")).send().await.expect("a plain put");
    let legacy = client
        .put_item()
        .table_name("strict")
        .item("pk", s("a"))
        .item("sk", s("b"))
        .expected("pk", aws_sdk_dynamodb::types::ExpectedAttributeValue::builder().exists(false).build())
        .send()
        .await
        .unwrap_err();
    assert_eq!(legacy.code(), Some("ConditionalCheckFailedException"), "{:?}", legacy.message());
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_conditional_increments_lose_nothing() {
    let (_state, nubo, client) = nubo().await;
    create_table(&client, "counter", None).await;
    client.put_item().table_name("counter").item("pk", s("c")).item("n", n("0")).send().await.unwrap();
    let url = nubo.http_url(ServiceName::Data);
    let mut workers = Vec::new();
    for _ in 0..8 {
        let client = dynamodb_client(&url);
        workers.push(tokio::spawn(async move {
            for _ in 0..200 {
                loop {
                    let current = client
                        .get_item()
                        .table_name("counter")
                        .key("pk", s("c"))
                        .consistent_read(true)
                        .send()
                        .await
                        .unwrap();
                    let old = current.item().unwrap()["n"].as_n().unwrap().clone();
                    let result = client
                        .update_item()
                        .table_name("counter")
                        .key("pk", s("c"))
                        .update_expression("SET n = n + :one")
                        .condition_expression("n = :old")
                        .expression_attribute_values(":one", n("1"))
                        .expression_attribute_values(":old", AV::N(old))
                        .send()
                        .await;
                    match result {
                        Ok(_) => break,
                        Err(error) if error.code() == Some("ConditionalCheckFailedException") => continue,
                        Err(error) => panic!("{error:?}"),
                    }
                }
            }
        }));
    }
    for worker in workers {
        worker.await.unwrap();
    }
    let total = client.get_item().table_name("counter").key("pk", s("c")).consistent_read(true).send().await.unwrap();
    assert_eq!(total.item().unwrap()["n"], n("1600"));
}

#[tokio::test(flavor = "multi_thread")]
async fn acknowledged_writes_survive_kill_9() {
    let (_state, nubo, client) = nubo().await;
    create_table(&client, "durable", None).await;
    let url = nubo.http_url(ServiceName::Data);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let written = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut writers = Vec::new();
    for writer in 0..4 {
        let client = dynamodb_client(&url);
        let stopped = stopped.clone();
        let written = written.clone();
        writers.push(tokio::spawn(async move {
            let mut acknowledged = Vec::new();
            for i in 0.. {
                if *stopped.borrow() {
                    break;
                }
                let key = format!("{writer}-{i}");
                match client
                    .put_item()
                    .table_name("durable")
                    .item("pk", s(&key))
                    .item("v", n(&i.to_string()))
                    .send()
                    .await
                {
                    Ok(_) => {
                        acknowledged.push(key);
                        written.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                    // The crash cuts requests off; only acknowledged ones count.
                    Err(_) => break,
                }
            }
            acknowledged
        }));
    }
    // The crash comes once the load is under way, however fast the engine
    // (the CQL one on a busy machine is slower than the embedded one).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while written.load(std::sync::atomic::Ordering::Relaxed) < 100 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let nubo = nubo.crash_and_restart().await;
    stop.send(true).unwrap();
    let mut acknowledged = Vec::new();
    for writer in writers {
        acknowledged.extend(writer.await.unwrap());
    }
    assert!(acknowledged.len() > 20, "the load was real: {} writes", acknowledged.len());
    let client = dynamodb_client(&nubo.http_url(ServiceName::Data));
    for key in &acknowledged {
        let item = client.get_item().table_name("durable").key("pk", s(key)).send().await.unwrap();
        assert!(item.item().is_some(), "acknowledged write {key} was lost");
    }
}
