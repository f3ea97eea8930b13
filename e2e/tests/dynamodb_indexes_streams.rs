//! DynamoDB's newer and wire-level behaviour through real clients:
//! global indexes with multi-attribute keys (`aws-sdk-dynamodb` and boto3),
//! streams whose shards close and hand over to children and whose
//! iterators expire (`aws-sdk-dynamodbstreams`), and the HTTP front's gzip
//! both ways and CORS (raw signed requests). Runs on the CQL engine too
//! (`make test-cql`).

use std::{io::Read as _, time::Duration};

use aws_sdk_dynamodb::{
    Client,
    error::ProvideErrorMetadata,
    types::{
        AttributeDefinition, AttributeValue as AV, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType,
        Projection, ProjectionType, ScalarAttributeType, StreamSpecification, StreamViewType,
    },
};
use aws_sdk_dynamodbstreams::types::ShardIteratorType;
use nubo_e2e::{Nubo, ServiceName, Signing, dynamodb_client, dynamodb_streams_client, sign_request};
use serde_json::{Value, json};

fn s(text: &str) -> AV {
    AV::S(text.into())
}

fn definition(name: &str, kind: ScalarAttributeType) -> AttributeDefinition {
    AttributeDefinition::builder().attribute_name(name).attribute_type(kind).build().unwrap()
}

fn key(name: &str, kind: KeyType) -> KeySchemaElement {
    KeySchemaElement::builder().attribute_name(name).key_type(kind).build().unwrap()
}

async fn nubo(settings: &[(&str, &str)]) -> (tempfile::TempDir, Nubo, Client) {
    let state = tempfile::tempdir().unwrap();
    let nubo = Nubo::up_with(&state.path().join("state"), settings).await;
    let client = dynamodb_client(&nubo.http_url(ServiceName::Data));
    (state, nubo, client)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_multi_attribute_index_is_created_and_queried_through_the_sdk() {
    let (_state, _nubo, client) = nubo(&[]).await;
    client
        .create_table()
        .table_name("scores")
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key("id", KeyType::Hash))
        .attribute_definitions(definition("id", ScalarAttributeType::S))
        .attribute_definitions(definition("game", ScalarAttributeType::S))
        .attribute_definitions(definition("season", ScalarAttributeType::S))
        .attribute_definitions(definition("level", ScalarAttributeType::N))
        .attribute_definitions(definition("player", ScalarAttributeType::S))
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name("by-game")
                .key_schema(key("game", KeyType::Hash))
                .key_schema(key("season", KeyType::Hash))
                .key_schema(key("level", KeyType::Range))
                .key_schema(key("player", KeyType::Range))
                .projection(Projection::builder().projection_type(ProjectionType::All).build())
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    for (id, level, player) in [("1", "3", "zoe"), ("2", "3", "amy"), ("3", "12", "bob"), ("4", "1", "cy")] {
        client
            .put_item()
            .table_name("scores")
            .item("id", s(id))
            .item("game", s("chess"))
            .item("season", s("s1"))
            .item("level", AV::N(level.into()))
            .item("player", s(player))
            .send()
            .await
            .unwrap();
    }
    let described = client.describe_table().table_name("scores").send().await.unwrap();
    let index = &described.table().unwrap().global_secondary_indexes()[0];
    let schema: Vec<(&str, &str)> =
        index.key_schema().iter().map(|element| (element.attribute_name(), element.key_type().as_str())).collect();
    assert_eq!(schema, [("game", "HASH"), ("season", "HASH"), ("level", "RANGE"), ("player", "RANGE")]);

    let query = |condition: &str| {
        client
            .query()
            .table_name("scores")
            .index_name("by-game")
            .key_condition_expression(condition)
            .expression_attribute_names("#level", "level")
            .expression_attribute_values(":g", s("chess"))
            .expression_attribute_values(":s", s("s1"))
            .expression_attribute_values(":l", AV::N("3".into()))
    };
    let ids = |items: &[std::collections::HashMap<String, AV>]| -> Vec<String> {
        items.iter().map(|item| item["id"].as_s().unwrap().clone()).collect()
    };
    let level_three = query("game = :g AND season = :s AND #level = :l").send().await.unwrap();
    assert_eq!(ids(level_three.items()), ["2", "1"], "sorted by player within the level");
    let from_three = query("game = :g AND season = :s AND #level >= :l").send().await.unwrap();
    assert_eq!(ids(from_three.items()), ["2", "1", "3"], "levels sort as numbers");
    let refused = client
        .query()
        .table_name("scores")
        .index_name("by-game")
        .key_condition_expression("game = :g AND season = :s AND player = :p")
        .expression_attribute_values(":g", s("chess"))
        .expression_attribute_values(":s", s("s1"))
        .expression_attribute_values(":p", s("amy"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Some("ValidationException"));
    assert_eq!(refused.message(), Some("Query condition missed key schema element: level"));
}

#[tokio::test(flavor = "multi_thread")]
async fn stream_shards_close_hand_over_and_iterators_expire() {
    let (_state, nubo, client) =
        nubo(&[("NUBO_DATA__DYNAMODB__SHARD_SECS", "2"), ("NUBO_DATA__DYNAMODB__ITERATOR_SECS", "3")]).await;
    let streams = dynamodb_streams_client(&nubo.http_url(ServiceName::Data));
    let created = client
        .create_table()
        .table_name("feed")
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key("pk", KeyType::Hash))
        .attribute_definitions(definition("pk", ScalarAttributeType::S))
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::NewImage)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let arn = created.table_description().unwrap().latest_stream_arn().unwrap().to_owned();
    client.put_item().table_name("feed").item("pk", s("first")).send().await.unwrap();
    tokio::time::sleep(Duration::from_millis(2200)).await;
    client.put_item().table_name("feed").item("pk", s("second")).send().await.unwrap();
    // The first shard closes once its grace (its lifetime, here) is over.
    tokio::time::sleep(Duration::from_millis(2200)).await;

    let described = streams.describe_stream().stream_arn(&arn).send().await.unwrap();
    let shards = described.stream_description().unwrap().shards().to_vec();
    assert!(shards.len() >= 2, "{shards:?}");
    let first = &shards[0];
    assert!(first.sequence_number_range().unwrap().ending_sequence_number().is_some(), "the first shard is closed");
    let child =
        shards.iter().find(|shard| shard.parent_shard_id() == first.shard_id()).expect("the first shard's child");

    let mut keys = Vec::new();
    for shard in [first, child] {
        let iterator = streams
            .get_shard_iterator()
            .stream_arn(&arn)
            .shard_id(shard.shard_id().unwrap())
            .shard_iterator_type(ShardIteratorType::TrimHorizon)
            .send()
            .await
            .unwrap();
        let page = streams.get_records().shard_iterator(iterator.shard_iterator().unwrap()).send().await.unwrap();
        keys.extend(
            page.records()
                .iter()
                .map(|record| record.dynamodb().unwrap().keys().unwrap()["pk"].as_s().unwrap().clone()),
        );
        if shard.shard_id() == first.shard_id() {
            assert!(page.next_shard_iterator().is_none(), "a closed shard read to its end hands over");
        }
    }
    assert_eq!(keys, ["first", "second"]);

    // An iterator unused past its lifetime is refused with DynamoDB's error.
    let iterator = streams
        .get_shard_iterator()
        .stream_arn(&arn)
        .shard_id(child.shard_id().unwrap())
        .shard_iterator_type(ShardIteratorType::Latest)
        .send()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(3200)).await;
    let expired = streams.get_records().shard_iterator(iterator.shard_iterator().unwrap()).send().await.unwrap_err();
    assert!(expired.as_service_error().is_some_and(|error| error.is_expired_iterator_exception()), "{expired:?}");
}

/// A signed DynamoDB call made by hand, to control its encodings.
async fn raw_call(
    url: &str,
    target: &str,
    body: &[u8],
    extra: &[(&str, &str)],
    signed_extra: &[(&str, &str)],
) -> reqwest::Response {
    let host = url.trim_start_matches("http://").to_owned();
    let mut headers =
        vec![("host", host.as_str()), ("content-type", "application/x-amz-json-1.0"), ("x-amz-target", target)];
    headers.extend_from_slice(signed_extra);
    let signature = sign_request(
        "POST",
        &format!("{url}/"),
        &headers,
        body,
        &Signing { service: "dynamodb", ..Default::default() },
    );
    let mut request = reqwest::Client::builder().no_gzip().build().unwrap().post(format!("{url}/")).body(body.to_vec());
    for (name, value) in headers.iter().filter(|(name, _)| *name != "host").chain(extra) {
        request = request.header(*name, *value);
    }
    for (name, value) in signature {
        request = request.header(name, value);
    }
    request.send().await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn gzip_bodies_both_ways_and_cors_for_browsers() {
    let (_state, nubo, client) = nubo(&[]).await;
    let url = nubo.http_url(ServiceName::Data);
    client
        .create_table()
        .table_name("notes")
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key("pk", KeyType::Hash))
        .attribute_definitions(definition("pk", ScalarAttributeType::S))
        .send()
        .await
        .unwrap();
    // A gzipped request body, signed as sent.
    let item = json!({"TableName": "notes", "Item": {"pk": {"S": "big"}, "text": {"S": "z".repeat(4000)}}}).to_string();
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut encoder, item.as_bytes()).unwrap();
    let gzipped = encoder.finish().unwrap();
    let put = raw_call(&url, "DynamoDB_20120810.PutItem", &gzipped, &[], &[("content-encoding", "gzip")]).await;
    assert_eq!(put.status(), 200, "{}", put.text().await.unwrap());

    // A large answer comes gzipped for a client that accepts it, with the
    // CRC-32 of the bytes sent.
    let scan = json!({"TableName": "notes"}).to_string();
    let answer = raw_call(&url, "DynamoDB_20120810.Scan", scan.as_bytes(), &[("accept-encoding", "gzip")], &[]).await;
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.headers()["content-encoding"], "gzip");
    let crc: u32 = answer.headers()["x-amz-crc32"].to_str().unwrap().parse().unwrap();
    let bytes = answer.bytes().await.unwrap();
    assert_eq!(crc, crc32fast::hash(&bytes));
    let mut text = String::new();
    flate2::read::GzDecoder::new(&bytes[..]).read_to_string(&mut text).unwrap();
    let scanned: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(scanned["Items"][0]["text"]["S"].as_str().map(str::len), Some(4000));
    let small = raw_call(&url, "DynamoDB_20120810.ListTables", b"{}", &[("accept-encoding", "gzip")], &[]).await;
    assert!(small.headers().get("content-encoding").is_none(), "small answers are sent as they are");

    // A browser's preflight, then its call.
    let preflight = reqwest::Client::new()
        .request(reqwest::Method::OPTIONS, format!("{url}/"))
        .header("origin", "http://app.localhost")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "authorization,content-type,x-amz-date,x-amz-target")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), 200);
    assert_eq!(preflight.headers()["access-control-allow-origin"], "*");
    assert!(preflight.headers()["access-control-allow-methods"].to_str().unwrap().contains("POST"));
    assert_eq!(
        preflight.headers()["access-control-allow-headers"],
        "authorization,content-type,x-amz-date,x-amz-target"
    );
    let called =
        raw_call(&url, "DynamoDB_20120810.ListTables", b"{}", &[("origin", "http://app.localhost")], &[]).await;
    assert_eq!(called.status(), 200);
    assert_eq!(called.headers()["access-control-allow-origin"], "*");
    let exposed = called.headers()["access-control-expose-headers"].to_str().unwrap().to_ascii_lowercase();
    assert!(exposed.contains("x-amzn-requestid") && exposed.contains("x-amz-crc32"), "{exposed}");
}

#[tokio::test(flavor = "multi_thread")]
async fn boto3_queries_a_multi_attribute_index_and_reads_the_new_settings() {
    let (state, nubo, _client) = nubo(&[]).await;
    let output = std::process::Command::new("python3")
        .arg(nubo_e2e::fixture("dynamodb/boto3_indexes_streams.py"))
        .arg(nubo.http_url(ServiceName::Data))
        .env_clear()
        .env("PATH", nubo_e2e::path_with_python_tools())
        .env("HOME", state.path())
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let answer: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(answer["day"], json!(["o1", "o2"]));
    assert_eq!(answer["big"], json!(["o2"]));
    assert_eq!(answer["refused"]["Code"], json!("ValidationException"));
    assert_eq!(answer["refused"]["Message"], json!("Query condition missed key schema element: shop"));
    assert_eq!(answer["recovery"], json!("ENABLED"));
    assert_eq!(answer["records"], json!(["o1", "o2", "o3"]));
    assert!(answer["limits"].as_u64().is_some());
}
