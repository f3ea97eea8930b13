//! Time to Live: a background sweep deletes items whose TTL attribute, a
//! number of epoch seconds, lies in the past. Deletions go through the
//! same compare-and-set path as any write, re-checking expiry on the
//! version they delete, and appear in streams as the service's.

use super::{
    Dynamo, TABLES,
    error::Result,
    mutation::{Actor, decode_item, read_modify_write},
    table::Table,
    value::{AttributeValue, Item},
};
use crate::engine::Segment;

fn expired(item: &Item, attribute: &str, now: &super::number::Number) -> bool {
    matches!(item.get(attribute), Some(AttributeValue::N(at)) if at <= now)
}

impl Dynamo {
    /// Deletes every expired item of every table with TTL enabled; returns
    /// how many were deleted.
    pub async fn expire_items(&self) -> Result<usize> {
        let records = self.records.list_all(TABLES).await?;
        let tables: Vec<Table> =
            records.iter().filter_map(|record| serde_json::from_slice(&record.value).ok()).collect();
        let now: super::number::Number = chrono::Utc::now().timestamp().to_string().parse()?;
        let mut deleted = 0;
        for table in tables {
            let Some(attribute) = table.ttl_attribute.clone() else { continue };
            let mut after = None;
            loop {
                let rows = self.engine.scan(&table.id, Segment { segment: 0, total: 1 }, after.clone(), 256).await?;
                let Some(last) = rows.last() else { break };
                after = Some(last.key.clone());
                for row in rows {
                    if !decode_item(&row.value).is_ok_and(|item| expired(&item, &attribute, &now)) {
                        continue;
                    }
                    let outcome = read_modify_write(self, &table, &row.key, Actor::TimeToLive, |current| {
                        Ok(current.filter(|item| !expired(item, &attribute, &now)).cloned())
                    })
                    .await;
                    match outcome {
                        Ok(outcome) if outcome.old.is_some() && outcome.new.is_none() => deleted += 1,
                        Ok(_) => {}
                        // One item's failure does not stop the sweep.
                        Err(error) => tracing::warn!(table = %table.name, %error, "could not expire an item"),
                    }
                }
            }
        }
        Ok(deleted)
    }
}
