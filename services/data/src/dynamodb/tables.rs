//! CreateTable, DescribeTable, ListTables, DeleteTable.

use serde_json::{Value, json};

use super::{
    Dynamo, TABLES,
    error::{DynamoError, ErrorKind, Result},
    request::Request,
    table::{self, Table},
};
use crate::records::RecordError;

fn now() -> f64 {
    chrono::Utc::now().timestamp_millis() as f64 / 1000.0
}

pub async fn create(dynamo: &Dynamo, request: &Request) -> Result<Value> {
    let table = table::from_create_request(request, uuid::Uuid::new_v4().simple().to_string(), now())?;
    // The engine table first: a crash before the catalog write leaves an
    // unused engine table, never a catalog entry without rows to hold.
    dynamo.engine.create_table(&table.id).await?;
    let value = serde_json::to_vec(&table).map_err(|error| DynamoError::internal(error.to_string()))?;
    let name = table.name.clone();
    let created = dynamo.catalog(move |records| match records.put(TABLES, &name, &value, Some(0)) {
        Ok(_) => Ok(true),
        Err(RecordError::VersionMismatch { .. }) => Ok(false),
        Err(error) => Err(error),
    });
    if !created.await? {
        dynamo.engine.drop_table(&table.id).await?;
        return Err(DynamoError::new(ErrorKind::ResourceInUse, format!("Table already exists: {}", table.name)));
    }
    tracing::info!(table = %table.name, "table created");
    Ok(json!({ "TableDescription": table.describe(&dynamo.region, &dynamo.account_id, "ACTIVE") }))
}

fn missing(name: &str) -> DynamoError {
    DynamoError::new(ErrorKind::ResourceNotFound, format!("Requested resource not found: Table: {name} not found"))
}

pub async fn describe(dynamo: &Dynamo, request: &Request) -> Result<Value> {
    let name = request.required_str("TableName", "tableName")?;
    table::check_table_name(name, "tableName")?;
    let table = dynamo.find_table(name).await?.ok_or_else(|| missing(name))?;
    Ok(json!({ "Table": table.describe(&dynamo.region, &dynamo.account_id, "ACTIVE") }))
}

pub async fn delete(dynamo: &Dynamo, request: &Request) -> Result<Value> {
    let name = request.required_str("TableName", "tableName")?.to_owned();
    table::check_table_name(&name, "tableName")?;
    let table = dynamo.find_table(&name).await?.ok_or_else(|| missing(&name))?;
    let catalog_name = name.clone();
    dynamo.catalog(move |records| records.delete(TABLES, &catalog_name, None)).await?;
    dynamo.engine.drop_table(&table.id).await?;
    tracing::info!(table = %name, "table deleted");
    Ok(json!({ "TableDescription": table.describe(&dynamo.region, &dynamo.account_id, "DELETING") }))
}

pub async fn list(dynamo: &Dynamo, request: &Request) -> Result<Value> {
    let limit = request.optional_u64("Limit", "limit", 1)?.unwrap_or(100);
    if limit > 100 {
        return Err(super::request::validation_error(format!(
            "Value '{limit}' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 100"
        )));
    }
    let start = request.optional_str("ExclusiveStartTableName")?.unwrap_or("").to_owned();
    let (records, more) = dynamo.catalog(move |records| records.list(TABLES, "", &start, limit as usize)).await?;
    let names: Vec<String> = records
        .iter()
        .filter_map(|record| serde_json::from_slice::<Table>(&record.value).ok().map(|table| table.name))
        .collect();
    let mut response = json!({ "TableNames": names });
    if more && let Some(last) = names.last() {
        response["LastEvaluatedTableName"] = json!(last);
    }
    Ok(response)
}
