//! DynamoDB semantics, written once above the storage [`Engine`]: the
//! tables catalog, items and their keys, expressions, and one function per
//! action. The HTTP front ([`http`]) parses a request into an [`Action`] and
//! calls [`Dynamo::execute`].

pub mod capacity;
pub mod error;
pub mod expr;
pub mod http;
pub mod input;
pub mod keys;
pub mod number;
pub mod request;
pub mod settings;
pub mod table;
pub mod value;

mod backups;
mod batch;
mod item_codec;
mod items;
mod legacy;
mod mutation;
mod reads;
mod shards;
mod statistics;
mod streams;
mod table_cache;
mod tables;
mod transact;
mod ttl;

use std::sync::Arc;

use serde_json::Value;

use crate::{
    engine::{Engine, EngineError},
    records::{RecordError, RecordStore},
};
use error::{DynamoError, Result};
use request::Request;
use table::Table;

/// The DynamoDB actions this service answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    CreateTable,
    DescribeTable,
    ListTables,
    DeleteTable,
    PutItem,
    GetItem,
    UpdateItem,
    DeleteItem,
    Query,
    Scan,
    BatchGetItem,
    BatchWriteItem,
    TransactWriteItems,
    TransactGetItems,
    UpdateTable,
    UpdateTimeToLive,
    DescribeTimeToLive,
    TagResource,
    UntagResource,
    ListTagsOfResource,
    ListStreams,
    DescribeStream,
    GetShardIterator,
    GetRecords,
    DescribeContinuousBackups,
    UpdateContinuousBackups,
    DescribeEndpoints,
    DescribeLimits,
}

/// The actions of the `DynamoDB_20120810` target, by name.
const ACTIONS: &[(&str, Action)] = &[
    ("CreateTable", Action::CreateTable),
    ("DescribeTable", Action::DescribeTable),
    ("ListTables", Action::ListTables),
    ("DeleteTable", Action::DeleteTable),
    ("PutItem", Action::PutItem),
    ("GetItem", Action::GetItem),
    ("UpdateItem", Action::UpdateItem),
    ("DeleteItem", Action::DeleteItem),
    ("Query", Action::Query),
    ("Scan", Action::Scan),
    ("BatchGetItem", Action::BatchGetItem),
    ("BatchWriteItem", Action::BatchWriteItem),
    ("TransactWriteItems", Action::TransactWriteItems),
    ("TransactGetItems", Action::TransactGetItems),
    ("UpdateTable", Action::UpdateTable),
    ("UpdateTimeToLive", Action::UpdateTimeToLive),
    ("DescribeTimeToLive", Action::DescribeTimeToLive),
    ("TagResource", Action::TagResource),
    ("UntagResource", Action::UntagResource),
    ("ListTagsOfResource", Action::ListTagsOfResource),
    ("DescribeContinuousBackups", Action::DescribeContinuousBackups),
    ("UpdateContinuousBackups", Action::UpdateContinuousBackups),
    ("DescribeEndpoints", Action::DescribeEndpoints),
    ("DescribeLimits", Action::DescribeLimits),
];

/// The actions of the `DynamoDBStreams_20120810` target, by name.
const STREAM_ACTIONS: &[(&str, Action)] = &[
    ("ListStreams", Action::ListStreams),
    ("DescribeStream", Action::DescribeStream),
    ("GetShardIterator", Action::GetShardIterator),
    ("GetRecords", Action::GetRecords),
];

impl Action {
    /// Recognises a DynamoDB Streams action from the `X-Amz-Target` suffix.
    pub fn parse_streams(name: &str) -> Option<Self> {
        STREAM_ACTIONS.iter().find(|(known, _)| *known == name).map(|(_, action)| *action)
    }

    /// Recognises an action from the `X-Amz-Target` suffix.
    pub fn parse(name: &str) -> Option<Self> {
        ACTIONS.iter().find(|(known, _)| *known == name).map(|(_, action)| *action)
    }
}

impl nubo_host::front::Operation for Action {
    fn name(&self) -> &'static str {
        ACTIONS.iter().chain(STREAM_ACTIONS).find(|(_, action)| action == self).map_or("Unknown", |(name, _)| name)
    }
}

/// The records namespace of table definitions.
const TABLES: &str = "dynamodb.tables.v1";

/// The DynamoDB service state: the catalog and the engine under it.
#[derive(Debug, Clone)]
pub struct Dynamo {
    records: RecordStore,
    engine: Arc<dyn Engine>,
    region: String,
    account_id: String,
    runtime: Arc<settings::Runtime>,
    /// Parsed table definitions, checked against the catalog's version.
    tables: Arc<table_cache::TableCache>,
}

impl From<EngineError> for DynamoError {
    fn from(error: EngineError) -> Self {
        match error {
            EngineError::NoSuchTable => DynamoError::not_found(),
            other => {
                tracing::error!(error = %other, "engine failure");
                DynamoError::internal("Internal server error")
            }
        }
    }
}

impl From<RecordError> for DynamoError {
    fn from(error: RecordError) -> Self {
        tracing::error!(%error, "catalog failure");
        DynamoError::internal("Internal server error")
    }
}

impl Dynamo {
    pub fn new(records: RecordStore, engine: Arc<dyn Engine>, region: String, account_id: String) -> Self {
        Self {
            records,
            engine,
            region,
            account_id,
            runtime: settings::Runtime::new(settings::Settings::default()),
            tables: Default::default(),
        }
    }

    /// The same service with other timings (streams, statistics).
    pub fn with_settings(mut self, settings: settings::Settings) -> Self {
        self.runtime = settings::Runtime::new(settings);
        self
    }

    pub async fn execute(&self, action: Action, body: Value) -> Result<Value> {
        let request = Request::new(body);
        let body = &request.body;
        match action {
            Action::CreateTable => {
                input::parse::<input::catalog::CreateTableInput>(body)?;
                tables::create(self, &request).await
            }
            Action::DescribeTable => tables::describe(self, input::parse(body)?).await,
            Action::ListTables => tables::list(self, input::parse(body)?).await,
            Action::DeleteTable => tables::delete(self, input::parse(body)?).await,
            Action::PutItem => items::put(self, input::parse(body)?).await,
            Action::GetItem => items::get(self, input::parse(body)?).await,
            Action::UpdateItem => items::update(self, input::parse(body)?).await,
            Action::DeleteItem => items::delete(self, input::parse(body)?).await,
            Action::Query => reads::query(self, input::parse(body)?).await,
            Action::Scan => reads::scan(self, input::parse(body)?).await,
            Action::BatchGetItem => batch::get(self, input::parse(body)?).await,
            Action::BatchWriteItem => batch::write(self, input::parse(body)?).await,
            Action::TransactWriteItems => transact::write(self, input::parse(body)?).await,
            Action::TransactGetItems => transact::get(self, input::parse(body)?).await,
            Action::UpdateTable => tables::update(self, input::parse(body)?, &request).await,
            Action::UpdateTimeToLive => {
                input::parse::<input::tables::UpdateTimeToLiveInput>(body)?;
                tables::update_ttl(self, &request).await
            }
            Action::DescribeTimeToLive => tables::describe_ttl(self, input::parse(body)?).await,
            Action::TagResource => tables::tag(self, input::parse(body)?).await,
            Action::UntagResource => tables::untag(self, input::parse(body)?).await,
            Action::ListTagsOfResource => tables::list_tags(self, input::parse(body)?).await,
            Action::ListStreams => streams::list(self, input::parse(body)?).await,
            Action::DescribeStream => streams::describe(self, input::parse(body)?).await,
            Action::GetShardIterator => streams::get_shard_iterator(self, input::parse(body)?).await,
            Action::GetRecords => streams::get_records(self, input::parse(body)?).await,
            Action::DescribeContinuousBackups => backups::describe(self, input::parse(body)?).await,
            Action::UpdateContinuousBackups => backups::update(self, input::parse(body)?).await,
            Action::DescribeEndpoints => Ok(backups::endpoints(self)),
            Action::DescribeLimits => Ok(backups::limits()),
        }
    }

    /// The table of a typed request (its name already checked), or
    /// DynamoDB's not-found error.
    async fn table_named(&self, name: &str) -> Result<Table> {
        self.find_table(name).await?.ok_or_else(DynamoError::not_found)
    }

    async fn find_table(&self, name: &str) -> Result<Option<Table>> {
        let Some(record) = self.records.get(TABLES, name).await? else {
            self.tables.forget(name);
            return Ok(None);
        };
        if let Some(table) = self.tables.get(name, record.version) {
            return Ok(Some(Table::clone(&table)));
        }
        let table: Table = serde_json::from_slice(&record.value)
            .map_err(|error| DynamoError::internal(format!("stored table is unreadable: {error}")))?;
        self.tables.put(name, record.version, Arc::new(table.clone()));
        Ok(Some(table))
    }
}
