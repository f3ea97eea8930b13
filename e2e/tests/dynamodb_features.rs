//! DynamoDB beyond single items, through the AWS SDKs: transactions with
//! idempotency and cancellation reasons, secondary indexes (a GSI added by
//! UpdateTable and backfilled, an LSI, sparse and projected entries), Time
//! to Live expiry, streams with old and new images, and tags.

use std::collections::HashMap;

use aws_sdk_dynamodb::{
    Client,
    error::ProvideErrorMetadata,
    types::{
        AttributeDefinition, AttributeValue as AV, BillingMode, ConditionCheck, CreateGlobalSecondaryIndexAction,
        Delete, GlobalSecondaryIndexUpdate, KeySchemaElement, KeyType, LocalSecondaryIndex, Projection, ProjectionType,
        Put, ReturnValuesOnConditionCheckFailure, ScalarAttributeType, StreamSpecification, StreamViewType, Tag,
        TimeToLiveSpecification, TransactGetItem, TransactWriteItem, Update,
    },
};
use aws_sdk_dynamodbstreams::types::ShardIteratorType;
use nubo_e2e::{Nubo, ServiceName, dynamodb_client, dynamodb_streams_client};

fn s(text: &str) -> AV {
    AV::S(text.into())
}

fn n(text: &str) -> AV {
    AV::N(text.into())
}

fn definition(name: &str, kind: ScalarAttributeType) -> AttributeDefinition {
    AttributeDefinition::builder().attribute_name(name).attribute_type(kind).build().unwrap()
}

fn key(name: &str, kind: KeyType) -> KeySchemaElement {
    KeySchemaElement::builder().attribute_name(name).key_type(kind).build().unwrap()
}

async fn simple_table(client: &Client, name: &str) {
    client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(definition("pk", ScalarAttributeType::S))
        .key_schema(key("pk", KeyType::Hash))
        .send()
        .await
        .unwrap();
}

async fn nubo() -> (tempfile::TempDir, Nubo, Client) {
    let state = tempfile::tempdir().unwrap();
    let nubo = Nubo::up_with(&state.path().join("state"), &[("NUBO_DATA__TTL_SWEEP_SECS", "1")]).await;
    let client = dynamodb_client(&nubo.http_url(ServiceName::Data));
    (state, nubo, client)
}

#[tokio::test(flavor = "multi_thread")]
async fn transactions_apply_all_or_nothing() {
    let (_state, _nubo, client) = nubo().await;
    simple_table(&client, "accounts").await;
    for (name, balance) in [("alice", "100"), ("bob", "0")] {
        client.put_item().table_name("accounts").item("pk", s(name)).item("balance", n(balance)).send().await.unwrap();
    }
    let transfer = |amount: &str| {
        client
            .transact_write_items()
            .transact_items(
                TransactWriteItem::builder()
                    .update(
                        Update::builder()
                            .table_name("accounts")
                            .key("pk", s("alice"))
                            .update_expression("SET balance = balance - :a")
                            .condition_expression("balance >= :a")
                            .expression_attribute_values(":a", n(amount))
                            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
                            .build()
                            .unwrap(),
                    )
                    .build(),
            )
            .transact_items(
                TransactWriteItem::builder()
                    .update(
                        Update::builder()
                            .table_name("accounts")
                            .key("pk", s("bob"))
                            .update_expression("SET balance = balance + :a")
                            .expression_attribute_values(":a", n(amount))
                            .build()
                            .unwrap(),
                    )
                    .build(),
            )
    };
    transfer("30").client_request_token("transfer-1").send().await.unwrap();
    // The same token and request: accepted, not applied twice.
    transfer("30").client_request_token("transfer-1").send().await.unwrap();
    let mismatch = transfer("31").client_request_token("transfer-1").send().await.unwrap_err();
    assert_eq!(mismatch.code(), Some("IdempotentParameterMismatchException"));

    let refused = transfer("500").send().await.unwrap_err();
    assert_eq!(refused.code(), Some("TransactionCanceledException"));
    assert_eq!(
        refused.message(),
        Some(
            "Transaction cancelled, please refer cancellation reasons for specific reasons [ConditionalCheckFailed, None]"
        )
    );
    let aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(
        canceled,
    ) = refused.into_service_error()
    else {
        panic!("not a cancellation")
    };
    let reasons = canceled.cancellation_reasons();
    assert_eq!(reasons[0].code(), Some("ConditionalCheckFailed"));
    assert_eq!(reasons[0].item().unwrap()["balance"], n("70"));
    assert_eq!(reasons[1].code(), Some("None"));

    let both = client
        .transact_get_items()
        .transact_items(
            TransactGetItem::builder()
                .get(
                    aws_sdk_dynamodb::types::Get::builder()
                        .table_name("accounts")
                        .key("pk", s("alice"))
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .transact_items(
            TransactGetItem::builder()
                .get(
                    aws_sdk_dynamodb::types::Get::builder().table_name("accounts").key("pk", s("bob")).build().unwrap(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let balances: Vec<&AV> = both.responses().iter().map(|r| &r.item().unwrap()["balance"]).collect();
    assert_eq!(balances, [&n("70"), &n("30")], "applied exactly once, the refused transfer not at all");

    // Checks, puts and deletes in one transaction; one failing check cancels all.
    let mixed = client
        .transact_write_items()
        .transact_items(
            TransactWriteItem::builder()
                .put(Put::builder().table_name("accounts").item("pk", s("carol")).build().unwrap())
                .build(),
        )
        .transact_items(
            TransactWriteItem::builder()
                .delete(Delete::builder().table_name("accounts").key("pk", s("bob")).build().unwrap())
                .build(),
        )
        .transact_items(
            TransactWriteItem::builder()
                .condition_check(
                    ConditionCheck::builder()
                        .table_name("accounts")
                        .key("pk", s("alice"))
                        .condition_expression("balance = :v")
                        .expression_attribute_values(":v", n("1"))
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(mixed.code(), Some("TransactionCanceledException"));
    let carol = client.get_item().table_name("accounts").key("pk", s("carol")).send().await.unwrap();
    assert!(carol.item().is_none(), "nothing of a cancelled transaction is applied");
    assert!(client.get_item().table_name("accounts").key("pk", s("bob")).send().await.unwrap().item().is_some());

    let twice = client
        .transact_write_items()
        .transact_items(
            TransactWriteItem::builder()
                .put(Put::builder().table_name("accounts").item("pk", s("x")).build().unwrap())
                .build(),
        )
        .transact_items(
            TransactWriteItem::builder()
                .delete(Delete::builder().table_name("accounts").key("pk", s("x")).build().unwrap())
                .build(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(twice.message(), Some("Transaction request cannot include multiple operations on one item"));
}

#[tokio::test(flavor = "multi_thread")]
async fn secondary_indexes_are_maintained_and_backfilled() {
    let (_state, _nubo, client) = nubo().await;
    client
        .create_table()
        .table_name("orders")
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(definition("pk", ScalarAttributeType::S))
        .attribute_definitions(definition("sk", ScalarAttributeType::S))
        .attribute_definitions(definition("total", ScalarAttributeType::N))
        .key_schema(key("pk", KeyType::Hash))
        .key_schema(key("sk", KeyType::Range))
        .local_secondary_indexes(
            LocalSecondaryIndex::builder()
                .index_name("by-total")
                .key_schema(key("pk", KeyType::Hash))
                .key_schema(key("total", KeyType::Range))
                .projection(Projection::builder().projection_type(ProjectionType::KeysOnly).build())
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let orders = [
        ("ann", "o1", "30", Some("shipped")),
        ("ann", "o2", "10", None),
        ("ann", "o3", "20", Some("open")),
        ("ben", "o4", "5", Some("open")),
    ];
    for (customer, order, total, status) in orders {
        let mut put = client
            .put_item()
            .table_name("orders")
            .item("pk", s(customer))
            .item("sk", s(order))
            .item("total", n(total))
            .item("note", s("n"));
        if let Some(status) = status {
            put = put.item("status", s(status));
        }
        put.send().await.unwrap();
    }

    let by_total = client
        .query()
        .table_name("orders")
        .index_name("by-total")
        .key_condition_expression("pk = :c AND #t > :min")
        .expression_attribute_names("#t", "total")
        .expression_attribute_values(":c", s("ann"))
        .expression_attribute_values(":min", n("10"))
        .send()
        .await
        .unwrap();
    let found: Vec<(&str, usize)> =
        by_total.items().iter().map(|i| (i["sk"].as_s().unwrap().as_str(), i.len())).collect();
    assert_eq!(found, [("o3", 3), ("o1", 3)], "sorted by the index key, KEYS_ONLY projection");

    // A GSI added later is backfilled, sparse, and kept up to date.
    client
        .update_table()
        .table_name("orders")
        .attribute_definitions(definition("status", ScalarAttributeType::S))
        .global_secondary_index_updates(
            GlobalSecondaryIndexUpdate::builder()
                .create(
                    CreateGlobalSecondaryIndexAction::builder()
                        .index_name("by-status")
                        .key_schema(key("status", KeyType::Hash))
                        .key_schema(key("total", KeyType::Range))
                        .projection(
                            Projection::builder()
                                .projection_type(ProjectionType::Include)
                                .non_key_attributes("note")
                                .build(),
                        )
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let described = client.describe_table().table_name("orders").send().await.unwrap();
    assert_eq!(described.table().unwrap().global_secondary_indexes()[0].index_status().unwrap().as_str(), "ACTIVE");
    let query_status = |status: &str| {
        client
            .query()
            .table_name("orders")
            .index_name("by-status")
            .key_condition_expression("#s = :s")
            .expression_attribute_names("#s", "status")
            .expression_attribute_values(":s", s(status))
    };
    let open = query_status("open").send().await.unwrap();
    let open_orders: Vec<&str> = open.items().iter().map(|i| i["sk"].as_s().unwrap().as_str()).collect();
    assert_eq!(open_orders, ["o4", "o3"]);
    assert!(open.items()[0].contains_key("note") && open.items()[0].contains_key("pk"));

    client
        .update_item()
        .table_name("orders")
        .key("pk", s("ann"))
        .key("sk", s("o3"))
        .update_expression("SET #s = :shipped")
        .expression_attribute_names("#s", "status")
        .expression_attribute_values(":shipped", s("shipped"))
        .send()
        .await
        .unwrap();
    client.delete_item().table_name("orders").key("pk", s("ben")).key("sk", s("o4")).send().await.unwrap();
    assert_eq!(query_status("open").send().await.unwrap().count(), 0);
    let shipped = query_status("shipped").send().await.unwrap();
    assert_eq!(shipped.items().iter().map(|i| i["sk"].as_s().unwrap().as_str()).collect::<Vec<_>>(), ["o3", "o1"]);

    let all_attributes = client
        .query()
        .table_name("orders")
        .index_name("by-status")
        .key_condition_expression("#s = :s")
        .expression_attribute_names("#s", "status")
        .expression_attribute_values(":s", s("shipped"))
        .select(aws_sdk_dynamodb::types::Select::AllAttributes)
        .send()
        .await
        .unwrap_err();
    assert_eq!(all_attributes.code(), Some("ValidationException"));
    let unknown = client
        .query()
        .table_name("orders")
        .index_name("nope")
        .key_condition_expression("pk = :c")
        .expression_attribute_values(":c", s("ann"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(unknown.message(), Some("The table does not have the specified index: nope"));
}

#[tokio::test(flavor = "multi_thread")]
async fn streams_record_changes_with_images_and_ttl_expires_items() {
    let (_state, nubo, client) = nubo().await;
    client
        .create_table()
        .table_name("events")
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(definition("pk", ScalarAttributeType::S))
        .key_schema(key("pk", KeyType::Hash))
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
    client
        .update_time_to_live()
        .table_name("events")
        .time_to_live_specification(
            TimeToLiveSpecification::builder().attribute_name("expires").enabled(true).build().unwrap(),
        )
        .send()
        .await
        .unwrap();
    let ttl = client.describe_time_to_live().table_name("events").send().await.unwrap();
    assert_eq!(ttl.time_to_live_description().unwrap().time_to_live_status().unwrap().as_str(), "ENABLED");

    client.put_item().table_name("events").item("pk", s("a")).item("v", n("1")).send().await.unwrap();
    client.put_item().table_name("events").item("pk", s("a")).item("v", n("2")).send().await.unwrap();
    client.delete_item().table_name("events").key("pk", s("a")).send().await.unwrap();
    // The item that never expires first: the expiry of the other may come
    // as soon as it is written, and its REMOVE must be the last record.
    client
        .put_item()
        .table_name("events")
        .item("pk", s("future"))
        .item("expires", n("99999999999"))
        .send()
        .await
        .unwrap();
    let past = (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() - 60).to_string();
    client.put_item().table_name("events").item("pk", s("old")).item("expires", n(&past)).send().await.unwrap();

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let gone = client.get_item().table_name("events").key("pk", s("old")).send().await.unwrap().item().is_none();
        if gone {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the expired item was never deleted");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(client.get_item().table_name("events").key("pk", s("future")).send().await.unwrap().item().is_some());

    let streams = dynamodb_streams_client(&nubo.http_url(ServiceName::Data));
    let listed = streams.list_streams().table_name("events").send().await.unwrap();
    let arn = listed.streams()[0].stream_arn().unwrap().to_owned();
    let description = streams.describe_stream().stream_arn(&arn).send().await.unwrap();
    let shard = description.stream_description().unwrap().shards()[0].shard_id().unwrap().to_owned();
    let iterator = streams
        .get_shard_iterator()
        .stream_arn(&arn)
        .shard_id(&shard)
        .shard_iterator_type(ShardIteratorType::TrimHorizon)
        .send()
        .await
        .unwrap();
    let records = streams.get_records().shard_iterator(iterator.shard_iterator().unwrap()).send().await.unwrap();
    let events: Vec<&str> = records.records().iter().map(|r| r.event_name().unwrap().as_str()).collect();
    assert_eq!(events, ["INSERT", "MODIFY", "REMOVE", "INSERT", "INSERT", "REMOVE"]);
    let modify = records.records()[1].dynamodb().unwrap();
    assert_eq!(modify.old_image().unwrap()["v"], aws_sdk_dynamodbstreams::types::AttributeValue::N("1".into()));
    assert_eq!(modify.new_image().unwrap()["v"], aws_sdk_dynamodbstreams::types::AttributeValue::N("2".into()));
    let removed = records.records()[2].dynamodb().unwrap();
    assert!(removed.new_image().is_none() && removed.old_image().is_some());
    let expiry = &records.records()[5];
    assert_eq!(
        expiry.user_identity().unwrap().principal_id(),
        Some("dynamodb.amazonaws.com"),
        "TTL deletions are the service's"
    );
    let sequences: Vec<&str> =
        records.records().iter().map(|r| r.dynamodb().unwrap().sequence_number().unwrap()).collect();
    assert!(sequences.windows(2).all(|w| w[0] < w[1]), "{sequences:?}");

    // The next iterator continues where the last read stopped.
    client.put_item().table_name("events").item("pk", s("b")).send().await.unwrap();
    let more = streams.get_records().shard_iterator(records.next_shard_iterator().unwrap()).send().await.unwrap();
    assert_eq!(more.records().len(), 1);
    assert_eq!(
        more.records()[0].dynamodb().unwrap().keys().unwrap()["pk"],
        aws_sdk_dynamodbstreams::types::AttributeValue::S("b".into())
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn tags_are_kept_per_table() {
    let (_state, _nubo, client) = nubo().await;
    simple_table(&client, "tagged").await;
    let arn = client
        .describe_table()
        .table_name("tagged")
        .send()
        .await
        .unwrap()
        .table()
        .unwrap()
        .table_arn()
        .unwrap()
        .to_owned();
    client
        .tag_resource()
        .resource_arn(&arn)
        .tags(Tag::builder().key("team").value("data").build().unwrap())
        .tags(Tag::builder().key("tier").value("gold").build().unwrap())
        .send()
        .await
        .unwrap();
    client.untag_resource().resource_arn(&arn).tag_keys("tier").send().await.unwrap();
    let tags = client.list_tags_of_resource().resource_arn(&arn).send().await.unwrap();
    let found: HashMap<&str, &str> = tags.tags().iter().map(|t| (t.key(), t.value())).collect();
    assert_eq!(found, HashMap::from([("team", "data")]));
}
