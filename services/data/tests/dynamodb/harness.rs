//! One DynamoDB per test, on an embedded engine in its own directory.

use std::sync::Arc;

use nubo_data::{
    dynamodb::{Action, Dynamo, error::DynamoError, settings::Settings},
    engine::{Engine, embedded::EmbeddedEngine},
    records::RecordStore,
};
use serde_json::Value;

pub struct TestDynamo {
    pub dynamo: Dynamo,
    pub engine: Arc<dyn Engine>,
    // Dropped last: the database file lives here.
    _directory: tempfile::TempDir,
}

impl TestDynamo {
    pub async fn new() -> Self {
        Self::with_settings(Settings::default()).await
    }

    /// A DynamoDB with other timings (streams, statistics).
    pub async fn with_settings(settings: Settings) -> Self {
        let directory = tempfile::tempdir().expect("a temporary directory");
        let database = redb::Database::create(directory.path().join("data.redb")).expect("a database");
        let engine: Arc<dyn Engine> = Arc::new(EmbeddedEngine::new(Arc::new(database)));
        let records = RecordStore::open(engine.clone()).await.expect("the records store");
        let dynamo =
            Dynamo::new(records, engine.clone(), "us-east-1".into(), "000000000000".into()).with_settings(settings);
        Self { dynamo, engine, _directory: directory }
    }

    /// Runs `action` by its wire name (`"PutItem"`, or a Streams action).
    pub async fn call(&self, action: &str, body: Value) -> Result<Value, DynamoError> {
        let parsed = Action::parse(action)
            .or_else(|| Action::parse_streams(action))
            .unwrap_or_else(|| panic!("{action} is not an action"));
        self.dynamo.execute(parsed, body).await
    }

    /// Runs `action` and expects it to succeed.
    pub async fn ok(&self, action: &str, body: Value) -> Value {
        match self.call(action, body).await {
            Ok(output) => output,
            Err(error) => panic!("{action} failed: {error:?}"),
        }
    }

    /// Runs `action` and expects DynamoDB's error: its type (the part of
    /// `__type` after `#`) and message.
    pub async fn fails(&self, action: &str, body: Value) -> (String, String) {
        match self.call(action, body).await {
            Ok(output) => panic!("{action} succeeded where it must fail: {output}"),
            Err(error) => (error.kind.name().to_owned(), error.message().to_owned()),
        }
    }

    /// A table with a string partition key `pk` (and a string sort key
    /// `sk` when `sort` is set), on demand.
    pub async fn table(&self, name: &str, sort: bool) {
        let mut schema = vec![serde_json::json!({"AttributeName": "pk", "KeyType": "HASH"})];
        let mut attributes = vec![serde_json::json!({"AttributeName": "pk", "AttributeType": "S"})];
        if sort {
            schema.push(serde_json::json!({"AttributeName": "sk", "KeyType": "RANGE"}));
            attributes.push(serde_json::json!({"AttributeName": "sk", "AttributeType": "S"}));
        }
        self.ok(
            "CreateTable",
            serde_json::json!({
                "TableName": name,
                "KeySchema": schema,
                "AttributeDefinitions": attributes,
                "BillingMode": "PAY_PER_REQUEST",
            }),
        )
        .await;
    }
}
