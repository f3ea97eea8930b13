//! DynamoDB's legacy (pre-expression) parameters through real clients:
//! `KeyConditions`, `QueryFilter`, `ScanFilter`, `Expected`,
//! `AttributeUpdates`, `AttributesToGet` and `ConditionalOperator`, as the
//! API reference documents them, and the refusal of a request that mixes
//! them with expressions. Through `aws-sdk-dynamodb`, then boto3's client
//! (as older scripts and mappers call it). Runs on the CQL engine too.

use aws_sdk_dynamodb::{
    Client,
    error::ProvideErrorMetadata,
    types::{
        AttributeAction, AttributeDefinition, AttributeValue as AV, AttributeValueUpdate, BillingMode,
        ComparisonOperator as Op, Condition, ConditionalOperator, ExpectedAttributeValue, KeySchemaElement, KeyType,
        ReturnValue, ScalarAttributeType, Select,
    },
};
use nubo_e2e::{Nubo, ServiceName, dynamodb_client};
use serde_json::{Value, json};

fn s(text: &str) -> AV {
    AV::S(text.into())
}

fn n(number: &str) -> AV {
    AV::N(number.into())
}

fn condition(operator: Op, values: &[AV]) -> Condition {
    Condition::builder().comparison_operator(operator).set_attribute_value_list(Some(values.to_vec())).build().unwrap()
}

async fn nubo() -> (tempfile::TempDir, Nubo, Client) {
    let state = tempfile::tempdir().unwrap();
    let nubo = Nubo::up(&state.path().join("state")).await;
    let client = dynamodb_client(&nubo.http_url(ServiceName::Data));
    (state, nubo, client)
}

/// The `music` table of the API reference's examples (`Artist`,
/// `SongTitle`), with five songs.
async fn music(client: &Client) {
    client
        .create_table()
        .table_name("music")
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(KeySchemaElement::builder().attribute_name("Artist").key_type(KeyType::Hash).build().unwrap())
        .key_schema(KeySchemaElement::builder().attribute_name("SongTitle").key_type(KeyType::Range).build().unwrap())
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("Artist")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("SongTitle")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    for (artist, title, year, genre, tags) in [
        ("Acme Band", "Happy Day", "1995", Some("Rock"), &["live", "single"][..]),
        ("Acme Band", "Sad Night", "2004", Some("Jazz"), &["studio"][..]),
        ("Acme Band", "Sunny Morning", "2012", None, &["live"][..]),
        ("Acme Band", "Still Here", "1988", Some("Rock"), &["studio", "single"][..]),
        ("No One You Know", "Call Me Today", "2001", Some("Country"), &["live"][..]),
    ] {
        let mut put = client
            .put_item()
            .table_name("music")
            .item("Artist", s(artist))
            .item("SongTitle", s(title))
            .item("Year", n(year))
            .item("Tags", AV::Ss(tags.iter().map(|tag| tag.to_string()).collect()));
        if let Some(genre) = genre {
            put = put.item("Genre", s(genre));
        }
        put.send().await.unwrap();
    }
}

fn titles(items: &[std::collections::HashMap<String, AV>]) -> Vec<String> {
    let mut titles: Vec<String> =
        items.iter().map(|item| item["SongTitle"].as_s().cloned().unwrap_or_default()).collect();
    titles.sort();
    titles
}

#[tokio::test(flavor = "multi_thread")]
async fn key_conditions_and_query_filter_select_as_documented() {
    let (_state, _nubo, client) = nubo().await;
    music(&client).await;
    // EQ on the partition key and BEGINS_WITH on the sort key.
    let found = client
        .query()
        .table_name("music")
        .key_conditions("Artist", condition(Op::Eq, &[s("Acme Band")]))
        .key_conditions("SongTitle", condition(Op::BeginsWith, &[s("S")]))
        .send()
        .await
        .unwrap();
    assert_eq!(titles(found.items()), ["Sad Night", "Still Here", "Sunny Morning"]);
    // BETWEEN is inclusive at both ends; the sort order is the sort key's.
    let found = client
        .query()
        .table_name("music")
        .key_conditions("Artist", condition(Op::Eq, &[s("Acme Band")]))
        .key_conditions("SongTitle", condition(Op::Between, &[s("Happy Day"), s("Still Here")]))
        .scan_index_forward(false)
        .send()
        .await
        .unwrap();
    let order: Vec<&str> = found.items().iter().map(|item| item["SongTitle"].as_s().unwrap().as_str()).collect();
    assert_eq!(order, ["Still Here", "Sad Night", "Happy Day"]);
    // A QueryFilter applies after the read: Count is what passed it,
    // ScannedCount what the key conditions matched.
    let found = client
        .query()
        .table_name("music")
        .key_conditions("Artist", condition(Op::Eq, &[s("Acme Band")]))
        .query_filter("Year", condition(Op::Ge, &[n("2000")]))
        .query_filter("Genre", condition(Op::Eq, &[s("Jazz")]))
        .conditional_operator(ConditionalOperator::Or)
        .attributes_to_get("SongTitle")
        .attributes_to_get("Year")
        .send()
        .await
        .unwrap();
    assert_eq!(titles(found.items()), ["Sad Night", "Sunny Morning"]);
    assert_eq!((found.count(), found.scanned_count()), (2, 4));
    for item in found.items() {
        let mut names: Vec<&str> = item.keys().map(String::as_str).collect();
        names.sort();
        assert_eq!(names, ["SongTitle", "Year"], "AttributesToGet returns only what it names");
    }
    // Select COUNT counts without items.
    let counted = client
        .query()
        .table_name("music")
        .key_conditions("Artist", condition(Op::Eq, &[s("No One You Know")]))
        .select(Select::Count)
        .send()
        .await
        .unwrap();
    assert_eq!(counted.count(), 1);
    assert!(counted.items().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn scan_filter_evaluates_each_comparison_operator() {
    let (_state, _nubo, client) = nubo().await;
    music(&client).await;
    let scan = |filters: Vec<(&'static str, Condition)>, operator: Option<ConditionalOperator>| {
        let client = client.clone();
        async move {
            let mut request = client.scan().table_name("music").set_conditional_operator(operator);
            for (name, condition) in filters {
                request = request.scan_filter(name, condition);
            }
            titles(request.send().await.unwrap().items())
        }
    };
    assert_eq!(scan(vec![("Genre", condition(Op::Null, &[]))], None).await, ["Sunny Morning"]);
    assert_eq!(scan(vec![("Genre", condition(Op::NotNull, &[]))], None).await.len(), 4);
    assert_eq!(
        scan(vec![("Genre", condition(Op::In, &[s("Jazz"), s("Country")]))], None).await,
        ["Call Me Today", "Sad Night"]
    );
    assert_eq!(scan(vec![("Tags", condition(Op::Contains, &[s("single")]))], None).await, ["Happy Day", "Still Here"]);
    assert_eq!(scan(vec![("Tags", condition(Op::NotContains, &[s("live")]))], None).await, ["Sad Night", "Still Here"]);
    assert_eq!(scan(vec![("Year", condition(Op::Lt, &[n("1990")]))], None).await, ["Still Here"]);
    assert_eq!(scan(vec![("Genre", condition(Op::Ne, &[s("Rock")]))], None).await.len(), 3);
    // AND is the default; OR passes an item that meets either.
    let both = vec![("Genre", condition(Op::Eq, &[s("Rock")])), ("Year", condition(Op::Gt, &[n("1990")]))];
    assert_eq!(scan(both.clone(), None).await, ["Happy Day"]);
    assert_eq!(scan(both, Some(ConditionalOperator::Or)).await.len(), 5);
}

#[tokio::test(flavor = "multi_thread")]
async fn expected_guards_puts_and_deletes() {
    let (_state, _nubo, client) = nubo().await;
    music(&client).await;
    let fresh = |title: &str| {
        client
            .put_item()
            .table_name("music")
            .item("Artist", s("New Artist"))
            .item("SongTitle", s(title))
            .expected("Artist", ExpectedAttributeValue::builder().exists(false).build())
    };
    fresh("First").send().await.unwrap();
    let refused = fresh("First").send().await.unwrap_err().into_service_error();
    assert_eq!(refused.code(), Some("ConditionalCheckFailedException"), "{:?}", refused.message());
    assert_eq!(refused.message(), Some("The conditional request failed"));
    // The older `Value` form (Exists defaults to true) and the operator form.
    let delete = |expected: ExpectedAttributeValue| {
        client
            .delete_item()
            .table_name("music")
            .key("Artist", s("Acme Band"))
            .key("SongTitle", s("Happy Day"))
            .expected("Year", expected)
    };
    let wrong = delete(ExpectedAttributeValue::builder().value(n("1996")).build()).send().await.unwrap_err();
    assert_eq!(wrong.into_service_error().code(), Some("ConditionalCheckFailedException"));
    delete(
        ExpectedAttributeValue::builder()
            .comparison_operator(Op::Between)
            .attribute_value_list(n("1990"))
            .attribute_value_list(n("1999"))
            .build(),
    )
    .send()
    .await
    .unwrap();
    let gone = client
        .get_item()
        .table_name("music")
        .key("Artist", s("Acme Band"))
        .key("SongTitle", s("Happy Day"))
        .send()
        .await
        .unwrap();
    assert!(gone.item().is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn attribute_updates_put_add_and_delete_as_documented() {
    let (_state, _nubo, client) = nubo().await;
    music(&client).await;
    let update = |updates: Vec<(&str, AttributeValueUpdate)>| {
        let mut request = client
            .update_item()
            .table_name("music")
            .key("Artist", s("Acme Band"))
            .key("SongTitle", s("Happy Day"))
            .return_values(ReturnValue::AllNew);
        for (name, action) in updates {
            request = request.attribute_updates(name, action);
        }
        request.send()
    };
    let action = |action: AttributeAction, value: Option<AV>| {
        AttributeValueUpdate::builder().action(action).set_value(value).build()
    };
    let done = update(vec![
        ("Genre", action(AttributeAction::Put, Some(s("Pop")))),
        ("Plays", action(AttributeAction::Add, Some(n("3")))),
        ("Tags", action(AttributeAction::Add, Some(AV::Ss(vec!["remastered".into()])))),
        ("Year", action(AttributeAction::Delete, None)),
    ])
    .await
    .unwrap();
    let item = done.attributes().unwrap();
    assert_eq!(item["Genre"], s("Pop"));
    // ADD to a missing number starts from 0.
    assert_eq!(item["Plays"], n("3"));
    let mut tags = item["Tags"].as_ss().unwrap().clone();
    tags.sort();
    assert_eq!(tags, ["live", "remastered", "single"]);
    assert!(!item.contains_key("Year"), "DELETE without a value removes the attribute");
    // DELETE with a set takes those elements out; ADD adds to a number.
    let done = update(vec![
        ("Tags", action(AttributeAction::Delete, Some(AV::Ss(vec!["live".into(), "single".into()])))),
        ("Plays", action(AttributeAction::Add, Some(n("-1")))),
    ])
    .await
    .unwrap();
    let item = done.attributes().unwrap();
    assert_eq!(item["Tags"], AV::Ss(vec!["remastered".into()]));
    assert_eq!(item["Plays"], n("2"));
    // An update of a missing item creates it, with the key and the updates.
    let created = client
        .update_item()
        .table_name("music")
        .key("Artist", s("Someone"))
        .key("SongTitle", s("Brand New"))
        .attribute_updates("Plays", action(AttributeAction::Add, Some(n("1"))))
        .return_values(ReturnValue::AllNew)
        .send()
        .await
        .unwrap();
    assert_eq!(created.attributes().unwrap().len(), 3);
    // An update guarded by Expected on a value it no longer has.
    let refused = client
        .update_item()
        .table_name("music")
        .key("Artist", s("Someone"))
        .key("SongTitle", s("Brand New"))
        .attribute_updates("Plays", action(AttributeAction::Add, Some(n("1"))))
        .expected("Plays", ExpectedAttributeValue::builder().value(n("5")).build())
        .send()
        .await
        .unwrap_err();
    assert_eq!(refused.into_service_error().code(), Some("ConditionalCheckFailedException"));
}

#[tokio::test(flavor = "multi_thread")]
async fn mixing_styles_and_wrong_argument_counts_are_refused() {
    let (_state, _nubo, client) = nubo().await;
    music(&client).await;
    let mixed = client
        .query()
        .table_name("music")
        .key_conditions("Artist", condition(Op::Eq, &[s("Acme Band")]))
        .key_condition_expression("Artist = :a")
        .expression_attribute_values(":a", s("Acme Band"))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(mixed.code(), Some("ValidationException"));
    assert_eq!(
        mixed.message(),
        Some(
            "Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {KeyConditions} Expression parameters: {KeyConditionExpression}"
        )
    );
    let mixed = client
        .update_item()
        .table_name("music")
        .key("Artist", s("Acme Band"))
        .key("SongTitle", s("Happy Day"))
        .attribute_updates(
            "Genre",
            AttributeValueUpdate::builder().action(AttributeAction::Put).value(s("Pop")).build(),
        )
        .update_expression("SET Genre = :g")
        .expression_attribute_values(":g", s("Pop"))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(
        mixed.message(),
        Some(
            "Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {AttributeUpdates} Expression parameters: {UpdateExpression}"
        )
    );
    let mixed = client
        .get_item()
        .table_name("music")
        .key("Artist", s("Acme Band"))
        .key("SongTitle", s("Happy Day"))
        .attributes_to_get("Year")
        .projection_expression("Genre")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(
        mixed.message(),
        Some(
            "Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {AttributesToGet} Expression parameters: {ProjectionExpression}"
        )
    );
    let short = client
        .scan()
        .table_name("music")
        .scan_filter("Year", condition(Op::Between, &[n("1990")]))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(short.code(), Some("ValidationException"));
    assert_eq!(
        short.message(),
        Some(
            "One or more parameter values were invalid: Invalid number of argument(s) for the BETWEEN ComparisonOperator"
        )
    );
    let extra = client
        .scan()
        .table_name("music")
        .scan_filter("Genre", condition(Op::NotNull, &[s("Rock")]))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(
        extra.message(),
        Some(
            "One or more parameter values were invalid: Invalid number of argument(s) for the NOT_NULL ComparisonOperator"
        )
    );
    let missed = client
        .query()
        .table_name("music")
        .key_conditions("SongTitle", condition(Op::Eq, &[s("Happy Day")]))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(missed.message(), Some("Query condition missed key schema element: Artist"));
}

#[tokio::test(flavor = "multi_thread")]
async fn boto3_serves_the_legacy_parameters() {
    let (state, nubo, _client) = nubo().await;
    let output = std::process::Command::new("python3")
        .arg(nubo_e2e::fixture("dynamodb/boto3_legacy.py"))
        .arg(nubo.http_url(ServiceName::Data))
        .env_clear()
        .env("PATH", nubo_e2e::path_with_python_tools())
        .env("HOME", state.path())
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let answer: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(answer["query"], json!(["b", "c"]));
    assert_eq!(answer["query_counts"], json!([1, 2]));
    assert_eq!(answer["scan_or"], json!(["a", "c"]));
    assert_eq!(answer["projected"], json!(["sk"]));
    assert_eq!(answer["put_twice"], json!("ConditionalCheckFailedException"));
    assert_eq!(answer["updated"], json!({"n": "7", "tags": ["x", "y"]}));
    assert_eq!(answer["mixed"]["Code"], json!("ValidationException"));
    assert_eq!(
        answer["mixed"]["Message"],
        json!(
            "Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {ScanFilter} Expression parameters: {FilterExpression}"
        )
    );
    assert_eq!(
        answer["arity"]["Message"],
        json!("One or more parameter values were invalid: Invalid number of argument(s) for the EQ ComparisonOperator")
    );
}
