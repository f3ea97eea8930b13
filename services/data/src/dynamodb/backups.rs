//! Point-in-time recovery settings (DescribeContinuousBackups,
//! UpdateContinuousBackups), recorded on the table and reported in
//! DynamoDB's shapes, and the account facts DescribeEndpoints and
//! DescribeLimits answer. nubo keeps the setting; it takes no backups.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{
    Dynamo, TABLES,
    error::{DynamoError, ErrorKind, Result},
    input::{backups::UpdateContinuousBackupsInput, catalog::TableNameInput},
    table::Table,
};
use crate::records::RecordError;

/// The recovery period DynamoDB keeps when none is given (its longest).
const DEFAULT_RECOVERY_DAYS: u64 = super::input::backups::MAX_RECOVERY_DAYS as u64;

/// A table's point-in-time recovery, when enabled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PointInTimeRecovery {
    /// When it was enabled, in epoch seconds.
    pub enabled_at: f64,
    pub recovery_days: u64,
}

fn now() -> f64 {
    chrono::Utc::now().timestamp_millis() as f64 / 1000.0
}

fn table_not_found(name: &str) -> DynamoError {
    DynamoError::new(ErrorKind::TableNotFound, format!("Table not found: {name}"))
}

async fn versioned(dynamo: &Dynamo, name: &str) -> Result<(Table, u64)> {
    let record = dynamo.records.get(TABLES, name).await?.ok_or_else(|| table_not_found(name))?;
    let table = serde_json::from_slice(&record.value).map_err(|error| DynamoError::internal(error.to_string()))?;
    Ok((table, record.version))
}

fn description(table: &Table) -> Value {
    let recovery = match &table.point_in_time_recovery {
        Some(recovery) => {
            let now = now();
            json!({
                "PointInTimeRecoveryStatus": "ENABLED",
                "RecoveryPeriodInDays": recovery.recovery_days,
                "EarliestRestorableDateTime": recovery.enabled_at.max(now - recovery.recovery_days as f64 * 86_400.0),
                "LatestRestorableDateTime": now,
            })
        }
        None => json!({ "PointInTimeRecoveryStatus": "DISABLED" }),
    };
    json!({ "ContinuousBackupsStatus": "ENABLED", "PointInTimeRecoveryDescription": recovery })
}

pub async fn describe(dynamo: &Dynamo, input: TableNameInput) -> Result<Value> {
    let (table, _) = versioned(dynamo, input.name()).await?;
    Ok(json!({ "ContinuousBackupsDescription": description(&table) }))
}

pub async fn update(dynamo: &Dynamo, input: UpdateContinuousBackupsInput) -> Result<Value> {
    // Validated: the specification and its flag are present, the period
    // is 1 to 35 days.
    let specification = input.point_in_time_recovery_specification.clone().unwrap_or_default();
    let enabled = specification.point_in_time_recovery_enabled.unwrap_or_default();
    let days = specification.recovery_period_in_days.map(|days| days as u64);
    if !enabled && days.is_some() {
        return Err(DynamoError::validation(
            "Invalid Request: Cannot specify RecoveryPeriodInDays when disabling point-in-time recovery.",
        ));
    }
    let (mut table, version) = versioned(dynamo, input.name()).await?;
    table.point_in_time_recovery = enabled.then(|| PointInTimeRecovery {
        // Enabling again keeps the restorable window it has.
        enabled_at: table.point_in_time_recovery.as_ref().map_or_else(now, |recovery| recovery.enabled_at),
        recovery_days: days.unwrap_or(DEFAULT_RECOVERY_DAYS),
    });
    let value = serde_json::to_vec(&table).map_err(|error| DynamoError::internal(error.to_string()))?;
    match dynamo.records.put(TABLES, &table.name, &value, Some(version)).await {
        Ok(_) => Ok(json!({ "ContinuousBackupsDescription": description(&table) })),
        Err(RecordError::VersionMismatch { .. }) => Err(DynamoError::new(
            ErrorKind::ResourceInUse,
            format!("Attempt to change a resource which is still in use: Table is being updated: {}", table.name),
        )),
        Err(error) => Err(error.into()),
    }
}

/// DynamoDB's regional endpoint; the HTTP front answers with the address
/// the client called instead.
pub fn endpoints(dynamo: &Dynamo) -> Value {
    json!({ "Endpoints": [{ "Address": format!("dynamodb.{}.amazonaws.com", dynamo.region), "CachePeriodInMinutes": 1440 }] })
}

/// DynamoDB's default account and table quotas of provisioned capacity.
pub fn limits() -> Value {
    json!({
        "AccountMaxReadCapacityUnits": 80000,
        "AccountMaxWriteCapacityUnits": 80000,
        "TableMaxReadCapacityUnits": 40000,
        "TableMaxWriteCapacityUnits": 40000,
    })
}
