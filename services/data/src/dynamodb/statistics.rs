//! `ItemCount` and `TableSizeBytes` (per table and per index), as
//! DescribeTable reports them: counted by a background pass over every
//! table, again once a count is older than the settings' interval
//! (DynamoDB refreshes its figures about every six hours), and kept in the
//! records so a restart reports the last count.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{
    Dynamo, TABLES,
    error::{DynamoError, Result},
    mutation::decode_item,
    table::Table,
    value::item_size,
};
use crate::engine::Segment;

/// The records namespace of the counts, by table name.
const STATISTICS: &str = "dynamodb.statistics.v1";
/// Rows read per engine round trip while counting.
const CHUNK: usize = 512;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Count {
    pub items: u64,
    pub bytes: u64,
}

/// One count of a table and its indexes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Statistics {
    /// The table counted (a table re-created under the name is another).
    pub table_id: String,
    /// When, in epoch milliseconds.
    pub counted_ms: i64,
    pub table: Count,
    #[serde(default)]
    pub indexes: BTreeMap<String, Count>,
}

impl Dynamo {
    /// Counts the rows of one engine table and the size of their items.
    async fn count(&self, id: &str) -> Result<Count> {
        let mut count = Count::default();
        let mut after = None;
        loop {
            let rows = self.engine.scan(id, Segment { segment: 0, total: 1 }, after.clone(), CHUNK).await?;
            let Some(last) = rows.last() else { return Ok(count) };
            after = Some(last.key.clone());
            for row in &rows {
                count.items += 1;
                count.bytes += decode_item(&row.value).map(|item| item_size(&item) as u64).unwrap_or(0);
            }
        }
    }

    async fn statistics_of(&self, table: &Table) -> Result<Option<Statistics>> {
        let Some(record) = self.records.get(STATISTICS, &table.name).await? else { return Ok(None) };
        let statistics: Statistics = serde_json::from_slice(&record.value)
            .map_err(|error| DynamoError::internal(format!("stored statistics are unreadable: {error}")))?;
        Ok((statistics.table_id == table.id).then_some(statistics))
    }

    /// Counts every table whose count is missing or older than the
    /// interval; returns how many were counted.
    pub async fn refresh_statistics(&self) -> Result<usize> {
        let interval_ms = self.runtime.settings.statistics_secs as i64 * 1000;
        let records = self.records.list_all(TABLES).await?;
        let tables: Vec<Table> =
            records.iter().filter_map(|record| serde_json::from_slice(&record.value).ok()).collect();
        let mut counted = 0;
        for table in tables {
            let now = chrono::Utc::now().timestamp_millis();
            if self.statistics_of(&table).await?.is_some_and(|known| now - known.counted_ms < interval_ms) {
                continue;
            }
            let mut statistics = Statistics {
                table_id: table.id.clone(),
                counted_ms: now,
                table: self.count(&table.id).await?,
                ..Default::default()
            };
            for index in &table.indexes {
                statistics.indexes.insert(index.name.clone(), self.count(&index.id).await?);
            }
            let value = serde_json::to_vec(&statistics).map_err(|error| DynamoError::internal(error.to_string()))?;
            self.records.put(STATISTICS, &table.name, &value, None).await?;
            counted += 1;
        }
        Ok(counted)
    }

    /// Puts the last count into a `TableDescription`.
    pub(super) async fn add_statistics(&self, table: &Table, description: &mut Value) -> Result<()> {
        let Some(statistics) = self.statistics_of(table).await? else { return Ok(()) };
        description["ItemCount"] = json!(statistics.table.items);
        description["TableSizeBytes"] = json!(statistics.table.bytes);
        for member in ["GlobalSecondaryIndexes", "LocalSecondaryIndexes"] {
            for index in description.get_mut(member).and_then(Value::as_array_mut).into_iter().flatten() {
                let name = index["IndexName"].as_str().unwrap_or_default().to_owned();
                if let Some(count) = statistics.indexes.get(&name) {
                    index["ItemCount"] = json!(count.items);
                    index["IndexSizeBytes"] = json!(count.bytes);
                }
            }
        }
        Ok(())
    }
}
