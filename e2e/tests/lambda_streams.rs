//! Event source mappings from DynamoDB streams, through `aws-sdk-lambda`
//! and `aws-sdk-dynamodb`: every change of many writes reaches the
//! function in order per item, a filter drops what it should, a poison
//! record blocks its shard under the default retry setting, and updating
//! the mapping to bisect isolates it and sends it to the on-failure
//! destination. Functions print what they receive; the test reads nubo's
//! log.

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    StreamSpecification, StreamViewType,
};
use aws_sdk_lambda::{
    Client,
    error::ProvideErrorMetadata,
    primitives::Blob,
    types::{DestinationConfig, EventSourcePosition, Filter, FilterCriteria, FunctionCode, OnFailure, Runtime},
};
use nubo_e2e::{Nubo, ROLE, ServiceName, dynamodb_client, lambda_client, package_of};

/// Prints one line per record: its item, value and sequence number; fails
/// on a record marked as poison.
const CONSUMER: &str = r#"
def handler(event, context):
    for record in event["Records"]:
        image = record["dynamodb"]["NewImage"]
        print("SEEN", image["id"]["S"], image["n"]["N"], record["dynamodb"]["SequenceNumber"], record["eventName"])
        if image.get("poison", {}).get("BOOL"):
            raise Exception("poison " + image["id"]["S"])
"#;
const DLQ: &str = "import json\ndef handler(event, context):\n    print('DLQ ' + json.dumps(event))\n";

async fn create_function(lambda: &Client, name: &str, code: &str) -> String {
    lambda
        .create_function()
        .function_name(name)
        .runtime(Runtime::Python312)
        .role(ROLE)
        .handler("app.handler")
        .code(FunctionCode::builder().zip_file(Blob::new(package_of(&[("app.py", code)]))).build())
        .send()
        .await
        .unwrap_or_else(|error| panic!("CreateFunction {name}: {error:?}"))
        .function_arn()
        .unwrap()
        .to_owned()
}

/// A table keyed by `id` with a stream of new and old images; its stream ARN.
async fn create_table(dynamodb: &aws_sdk_dynamodb::Client, name: &str) -> String {
    let created = dynamodb
        .create_table()
        .table_name(name)
        .attribute_definitions(
            AttributeDefinition::builder().attribute_name("id").attribute_type(ScalarAttributeType::S).build().unwrap(),
        )
        .key_schema(KeySchemaElement::builder().attribute_name("id").key_type(KeyType::Hash).build().unwrap())
        .billing_mode(BillingMode::PayPerRequest)
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::NewAndOldImages)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    created.table_description().unwrap().latest_stream_arn().unwrap().to_owned()
}

async fn put(dynamodb: &aws_sdk_dynamodb::Client, table: &str, id: &str, n: u32, extra: &[(&str, AttributeValue)]) {
    let mut request = dynamodb
        .put_item()
        .table_name(table)
        .item("id", AttributeValue::S(id.into()))
        .item("n", AttributeValue::N(n.to_string()));
    for (name, value) in extra {
        request = request.item(*name, value.clone());
    }
    request.send().await.unwrap();
}

/// The `SEEN` lines of nubo's log: (item, value, sequence number).
fn seen(nubo: &Nubo) -> Vec<(String, u32, String)> {
    nubo.process
        .log()
        .lines()
        .filter_map(|line| {
            let rest = line.split_once("SEEN ")?.1;
            let mut words = rest.split_whitespace();
            Some((words.next()?.to_owned(), words.next()?.parse().ok()?, words.next()?.to_owned()))
        })
        .collect()
}

async fn wait_until(what: &str, nubo: &Nubo, done: impl Fn(&Nubo) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done(nubo) {
        assert!(Instant::now() < deadline, "{what}\n{}", nubo.process.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_change_arrives_in_order_per_item_and_filters_drop_the_rest() {
    let state = tempfile::tempdir().unwrap();
    let nubo = Nubo::up(&state.path().join("state")).await;
    let lambda = lambda_client(&nubo.http_url(ServiceName::Functions));
    let dynamodb = dynamodb_client(&nubo.http_url(ServiceName::Data));
    create_function(&lambda, "consumer", CONSUMER).await;
    let stream = create_table(&dynamodb, "orders").await;

    let missing = lambda
        .create_event_source_mapping()
        .function_name("consumer")
        .event_source_arn(&stream)
        .send()
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Some("InvalidParameterValueException"), "a stream mapping needs a starting position");
    let bad_filter = lambda
        .create_event_source_mapping()
        .function_name("consumer")
        .event_source_arn(&stream)
        .starting_position(EventSourcePosition::TrimHorizon)
        .filter_criteria(FilterCriteria::builder().filters(Filter::builder().pattern("[1]").build()).build())
        .send()
        .await
        .unwrap_err();
    assert_eq!(bad_filter.code(), Some("InvalidParameterValueException"));

    // Items a..d are kept, item e is filtered out.
    let keep = r#"{"eventName": ["INSERT", "MODIFY"], "dynamodb": {"NewImage": {"kind": {"S": ["keep"]}}}}"#;
    let mapping = lambda
        .create_event_source_mapping()
        .function_name("consumer")
        .event_source_arn(&stream)
        .starting_position(EventSourcePosition::TrimHorizon)
        .batch_size(50)
        .filter_criteria(FilterCriteria::builder().filters(Filter::builder().pattern(keep).build()).build())
        .send()
        .await
        .unwrap();
    let uuid = mapping.uuid().unwrap().to_owned();
    assert_eq!(mapping.state(), Some("Creating"));
    assert_eq!(mapping.maximum_retry_attempts(), Some(-1), "Lambda's default: retry until the record expires");

    for n in 1..=100u32 {
        for id in ["a", "b", "c", "d", "e"] {
            let kind = if id == "e" { "drop" } else { "keep" };
            put(&dynamodb, "orders", id, n, &[("kind", AttributeValue::S(kind.into()))]).await;
        }
    }
    wait_until("400 changes delivered", &nubo, |nubo| seen(nubo).len() >= 400).await;
    let seen = seen(&nubo);
    assert_eq!(seen.len(), 400, "each change once");
    let mut per_item: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    for (id, n, _) in &seen {
        per_item.entry(id.clone()).or_default().push(*n);
    }
    assert!(!per_item.contains_key("e"), "the filter drops item e");
    for (id, values) in &per_item {
        assert_eq!(values, &(1..=100).collect::<Vec<_>>(), "item {id}'s changes in order");
    }
    let sequences: Vec<u128> = seen.iter().map(|(_, _, sequence)| sequence.parse().unwrap()).collect();
    assert!(sequences.windows(2).all(|pair| pair[0] < pair[1]), "the shard in stream order");

    let read = lambda.get_event_source_mapping().uuid(&uuid).send().await.unwrap();
    assert_eq!(read.state(), Some("Enabled"));
    assert_eq!(read.last_processing_result(), Some("OK"));
    let listed = lambda.list_event_source_mappings().function_name("consumer").send().await.unwrap();
    assert_eq!(listed.event_source_mappings().len(), 1);
    lambda.delete_event_source_mapping().uuid(&uuid).send().await.unwrap();
    let gone = lambda.get_event_source_mapping().uuid(&uuid).send().await.unwrap_err();
    assert_eq!(gone.code(), Some("ResourceNotFoundException"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_poison_record_blocks_its_shard_until_bisection_isolates_it() {
    let state = tempfile::tempdir().unwrap();
    let nubo = Nubo::up(&state.path().join("state")).await;
    let lambda = lambda_client(&nubo.http_url(ServiceName::Functions));
    let dynamodb = dynamodb_client(&nubo.http_url(ServiceName::Data));
    create_function(&lambda, "consumer", CONSUMER).await;
    let dlq = create_function(&lambda, "dlq", DLQ).await;
    let stream = create_table(&dynamodb, "jobs").await;
    let mapping = lambda
        .create_event_source_mapping()
        .function_name("consumer")
        .event_source_arn(&stream)
        .starting_position(EventSourcePosition::Latest)
        .batch_size(10)
        .maximum_batching_window_in_seconds(1)
        .send()
        .await
        .unwrap();
    let uuid = mapping.uuid().unwrap().to_owned();

    put(&dynamodb, "jobs", "r1", 1, &[]).await;
    put(&dynamodb, "jobs", "r2", 2, &[]).await;
    put(&dynamodb, "jobs", "bad", 3, &[("poison", AttributeValue::Bool(true))]).await;
    put(&dynamodb, "jobs", "r3", 4, &[]).await;
    put(&dynamodb, "jobs", "r4", 5, &[]).await;

    // Under the default settings the batch is retried for ever: r3 and r4,
    // behind the poison record, never arrive.
    wait_until("the failing batch is retried", &nubo, |nubo| {
        seen(nubo).iter().filter(|(id, ..)| id == "bad").count() >= 3
    })
    .await;
    assert!(!seen(&nubo).iter().any(|(id, ..)| id == "r3" || id == "r4"), "the shard is blocked");
    let blocked = lambda.get_event_source_mapping().uuid(&uuid).send().await.unwrap();
    assert_eq!(blocked.last_processing_result(), Some("No records processed"));

    lambda
        .update_event_source_mapping()
        .uuid(&uuid)
        .bisect_batch_on_function_error(true)
        .maximum_retry_attempts(1)
        .destination_config(
            DestinationConfig::builder().on_failure(OnFailure::builder().destination(&dlq).build()).build(),
        )
        .send()
        .await
        .unwrap();
    wait_until("r3 and r4 arrive once the poison record is isolated", &nubo, |nubo| {
        let seen = seen(nubo);
        seen.iter().any(|(id, ..)| id == "r3")
            && seen.iter().any(|(id, ..)| id == "r4")
            && nubo.process.log().contains("DLQ ")
    })
    .await;
    let log = nubo.process.log();
    let record: serde_json::Value = serde_json::from_str(
        log.lines()
            .find_map(|line| line.split_once("DLQ "))
            .map(|(_, record)| record.trim_end_matches(|c: char| c != '}'))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(record["requestContext"]["condition"], "RetryAttemptsExhausted");
    assert_eq!(record["responseContext"]["functionError"], "Unhandled");
    let info = &record["DDBStreamBatchInfo"];
    assert_eq!(info["batchSize"], 1, "only the poison record: {record}");
    assert_eq!(info["streamArn"], stream.as_str());
    assert_eq!(info["startSequenceNumber"], info["endSequenceNumber"]);
    let order: Vec<String> = seen(&nubo).into_iter().map(|(id, ..)| id).filter(|id| id == "r3" || id == "r4").collect();
    assert_eq!(order.first().map(String::as_str), Some("r3"), "r3 before r4: {order:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn changes_reach_the_function_across_shard_changes_and_iterator_lifetimes() {
    let state = tempfile::tempdir().unwrap();
    // Shards of 2 s and iterators of 2 s: the follower hands over from
    // shard to child several times and outlives many iterators.
    let nubo = Nubo::up_with(
        &state.path().join("state"),
        &[("NUBO_DATA__DYNAMODB__SHARD_SECS", "2"), ("NUBO_DATA__DYNAMODB__ITERATOR_SECS", "2")],
    )
    .await;
    let lambda = lambda_client(&nubo.http_url(ServiceName::Functions));
    let dynamodb = dynamodb_client(&nubo.http_url(ServiceName::Data));
    create_function(&lambda, "consumer", CONSUMER).await;
    let stream = create_table(&dynamodb, "ledger").await;
    lambda
        .create_event_source_mapping()
        .function_name("consumer")
        .event_source_arn(&stream)
        .starting_position(EventSourcePosition::TrimHorizon)
        .batch_size(10)
        .send()
        .await
        .unwrap();
    for round in 1..=4u32 {
        for id in ["a", "b"] {
            put(&dynamodb, "ledger", id, round, &[]).await;
        }
        // Idle longer than an iterator lives, into the next shard.
        tokio::time::sleep(Duration::from_millis(2500)).await;
    }
    wait_until("8 changes delivered", &nubo, |nubo| seen(nubo).len() >= 8).await;
    let seen = seen(&nubo);
    assert_eq!(seen.len(), 8, "each change once: {seen:?}");
    for id in ["a", "b"] {
        let values: Vec<u32> = seen.iter().filter(|(item, _, _)| item == id).map(|(_, n, _)| *n).collect();
        assert_eq!(values, [1, 2, 3, 4], "item {id}'s changes in order");
    }
}
