//! CreateTable, DescribeTable, ListTables, DeleteTable, UpdateTable (with
//! global secondary index backfill), the Time to Live settings and tags.

use serde_json::{Value, json};

use super::{
    Dynamo, TABLES,
    error::{DynamoError, ErrorKind, Result},
    input::{
        catalog::{ListTablesInput, ListTagsOfResourceInput, ProvisionedThroughput, TableNameInput, UpdateTableInput},
        tables::{TagResourceInput, UntagResourceInput},
    },
    mutation::{Actor, read_modify_write},
    request::{Request, validation_error},
    table::{self, Table},
};
use crate::{engine::Segment, records::RecordError};

fn now() -> f64 {
    chrono::Utc::now().timestamp_millis() as f64 / 1000.0
}

/// Every engine table a DynamoDB table uses: rows, indexes, stream log.
fn engine_tables(table: &Table) -> Vec<String> {
    let mut ids = vec![table.id.clone()];
    ids.extend(table.indexes.iter().map(|index| index.id.clone()));
    if table.stream.is_some() {
        ids.push(table.stream_log());
    }
    ids
}

pub async fn create(dynamo: &Dynamo, request: &Request) -> Result<Value> {
    let mut table = table::from_create_request(request, uuid::Uuid::new_v4().simple().to_string(), now())?;
    dynamo.fix_shard_lifetime(&mut table.stream);
    // Engine tables first: a crash before the catalog write leaves unused
    // engine tables, never a catalog entry without rows to hold.
    for id in engine_tables(&table) {
        dynamo.engine.create_table(&id).await?;
    }
    let value = serde_json::to_vec(&table).map_err(|error| DynamoError::internal(error.to_string()))?;
    let created = match dynamo.records.put(TABLES, &table.name, &value, Some(0)).await {
        Ok(_) => true,
        Err(RecordError::VersionMismatch { .. }) => false,
        Err(error) => return Err(error.into()),
    };
    if !created {
        for id in engine_tables(&table) {
            dynamo.engine.drop_table(&id).await?;
        }
        return Err(DynamoError::new(ErrorKind::ResourceInUse, format!("Table already exists: {}", table.name)));
    }
    tracing::info!(table = %table.name, "table created");
    Ok(json!({ "TableDescription": table.describe(&dynamo.region, &dynamo.account_id, "ACTIVE") }))
}

fn missing_index(name: &str) -> DynamoError {
    DynamoError::new(ErrorKind::ResourceNotFound, format!("Requested resource not found: Index: {name} not found"))
}

fn missing(name: &str) -> DynamoError {
    DynamoError::new(ErrorKind::ResourceNotFound, format!("Requested resource not found: Table: {name} not found"))
}

async fn named_table(dynamo: &Dynamo, input: &TableNameInput) -> Result<Table> {
    dynamo.find_table(input.name()).await?.ok_or_else(|| missing(input.name()))
}

pub async fn describe(dynamo: &Dynamo, input: TableNameInput) -> Result<Value> {
    let table = named_table(dynamo, &input).await?;
    let mut description = table.describe(&dynamo.region, &dynamo.account_id, "ACTIVE");
    dynamo.add_statistics(&table, &mut description).await?;
    Ok(json!({ "Table": description }))
}

pub async fn delete(dynamo: &Dynamo, input: TableNameInput) -> Result<Value> {
    let table = named_table(dynamo, &input).await?;
    dynamo.records.delete(TABLES, &table.name, None).await?;
    for id in engine_tables(&table) {
        dynamo.engine.drop_table(&id).await?;
    }
    tracing::info!(table = %table.name, "table deleted");
    Ok(json!({ "TableDescription": table.describe(&dynamo.region, &dynamo.account_id, "DELETING") }))
}

pub async fn list(dynamo: &Dynamo, input: ListTablesInput) -> Result<Value> {
    // Validated: 1 to 100.
    let limit = input.limit.unwrap_or(100) as usize;
    let start = input.exclusive_start_table_name.as_deref().unwrap_or("");
    let (records, more) = dynamo.records.list(TABLES, "", start, limit).await?;
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

/// Replaces a table's catalog entry, if nobody changed it meanwhile.
async fn save(dynamo: &Dynamo, table: &Table, version: u64) -> Result<()> {
    let value = serde_json::to_vec(table).map_err(|error| DynamoError::internal(error.to_string()))?;
    let saved = match dynamo.records.put(TABLES, &table.name, &value, Some(version)).await {
        Ok(_) => true,
        Err(RecordError::VersionMismatch { .. }) => false,
        Err(error) => return Err(error.into()),
    };
    if saved {
        Ok(())
    } else {
        Err(DynamoError::new(
            ErrorKind::ResourceInUse,
            format!("Attempt to change a resource which is still in use: Table is being updated: {}", table.name),
        ))
    }
}

/// A table with the version of its catalog entry.
async fn versioned(dynamo: &Dynamo, request: &Request) -> Result<(Table, u64)> {
    let name = request.required_str("TableName", "tableName")?.to_owned();
    table::check_table_name(&name, "tableName")?;
    let record = dynamo.records.get(TABLES, &name).await?.ok_or_else(|| missing(&name))?;
    let table = serde_json::from_slice(&record.value).map_err(|error| DynamoError::internal(error.to_string()))?;
    Ok((table, record.version))
}

/// The type an `AttributeType` names (validated: one of S, N, B).
fn scalar_type(name: Option<&str>) -> table::ScalarType {
    match name {
        Some("N") => table::ScalarType::N,
        Some("B") => table::ScalarType::B,
        _ => table::ScalarType::S,
    }
}

/// Throughput units, validated present and at least 1.
fn units(throughput: &ProvisionedThroughput) -> (u64, u64) {
    let read = throughput.read_capacity_units.unwrap_or(1).max(1) as u64;
    let write = throughput.write_capacity_units.unwrap_or(1).max(1) as u64;
    (read, write)
}

/// UpdateTable. `request` is the same body as `input`: an index to
/// create is parsed from it by the table definition's parser, as
/// CreateTable's are.
pub async fn update(dynamo: &Dynamo, input: UpdateTableInput, request: &Request) -> Result<Value> {
    let (mut table, version) = versioned(dynamo, request).await?;
    let mut backfill = Vec::new();
    let mut dropped = Vec::new();
    let mut changed = false;

    for definition in input.attribute_definitions.iter().flatten() {
        let name = definition.attribute_name.as_deref().unwrap_or_default();
        let kind = scalar_type(definition.attribute_type.as_deref());
        match table.attribute_type(name) {
            Some(existing) if existing != kind => {
                return Err(DynamoError::invalid_parameter(format!(
                    "Cannot change the type of attribute {name} from {} to {}",
                    existing.name(),
                    kind.name()
                )));
            }
            Some(_) => {}
            None => table.attributes.push((name.to_owned(), kind)),
        }
    }

    let raw_updates = request.member("GlobalSecondaryIndexUpdates").and_then(Value::as_array);
    for (position, update) in input.global_secondary_index_updates.iter().flatten().enumerate() {
        let raw_create = raw_updates.and_then(|raw| raw.get(position)).and_then(|raw| raw.get("Create"));
        if let (Some(_), Some(create)) = (&update.create, raw_create) {
            let index =
                table::parse_index(create, true, &table.hash_key, table.range_key.is_some(), table.pay_per_request)?;
            if table.index(&index.name).is_some() {
                return Err(DynamoError::invalid_parameter(format!(
                    "Attempting to create an index which already exists: {}",
                    index.name
                )));
            }
            for key in index.key_names() {
                if table.attribute_type(key).is_none() {
                    return Err(DynamoError::invalid_parameter(format!(
                        "Some index key attributes are not defined in AttributeDefinitions. Keys: [{key}], AttributeDefinitions: [{}]",
                        table.attributes.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(", ")
                    )));
                }
            }
            dynamo.engine.create_table(&index.id).await?;
            backfill.push(index.name.clone());
            table.indexes.push(index);
            changed = true;
        } else if let Some(delete) = &update.delete {
            let name = delete.index_name.as_deref().unwrap_or_default();
            let position = table
                .indexes
                .iter()
                .position(|index| index.global && index.name == name)
                .ok_or_else(|| missing_index(name))?;
            dropped.push(table.indexes.remove(position).id);
            changed = true;
        } else if let Some(change) = &update.update {
            let name = change.index_name.as_deref().unwrap_or_default();
            let index = table
                .indexes
                .iter_mut()
                .find(|index| index.global && index.name == name)
                .ok_or_else(|| missing_index(name))?;
            if let Some(throughput) = &change.provisioned_throughput {
                (index.read_capacity, index.write_capacity) = units(throughput);
            }
            changed = true;
        }
    }

    if let Some(throughput) = &input.provisioned_throughput {
        (table.read_capacity, table.write_capacity) = units(throughput);
        changed = true;
    }
    match input.billing_mode.as_deref() {
        Some("PAY_PER_REQUEST") => {
            table.pay_per_request = true;
            changed = true;
        }
        Some("PROVISIONED") => {
            table.pay_per_request = false;
            changed = true;
        }
        _ => {}
    }
    if request.member("StreamSpecification").is_some() {
        let mut stream = table::parse_stream(request, now())?;
        dynamo.fix_shard_lifetime(&mut stream);
        match (&table.stream, &stream) {
            (Some(_), Some(_)) => {
                return Err(DynamoError::validation(format!(
                    "Table already has an enabled stream: TableName: {}",
                    table.name
                )));
            }
            (None, None) => {
                return Err(DynamoError::validation(format!(
                    "Table has no stream to disable: TableName: {}",
                    table.name
                )));
            }
            (None, Some(_)) => dynamo.engine.create_table(&format!("{}.stream", table.id)).await?,
            (Some(_), None) => dropped.push(table.stream_log()),
        }
        table.stream = stream;
        changed = true;
    }
    if !changed {
        return Err(DynamoError::validation(
            // DynamoDB's current wording, which names every member it can update.
            "At least one of ProvisionedThroughput, BillingMode, UpdateStreamEnabled, GlobalSecondaryIndexUpdates, SSESpecification, ReplicaUpdates, MultiAccountReplicaReady, ReplicaTransitRoleArn, MultiRegionConsistency, DeletionProtectionEnabled, OnDemandThroughput, WarmThroughput or TableClass is required",
        ));
    }
    // The catalog changes before the backfill: writes from now on keep the
    // new index up to date, and the backfill covers what came before.
    save(dynamo, &table, version).await?;
    for id in dropped {
        dynamo.engine.drop_table(&id).await?;
    }
    if !backfill.is_empty() {
        backfill_indexes(dynamo, &table).await?;
        // A write that read the table before the index existed may commit
        // after the first pass went by its item: pass again, shortly.
        let (dynamo, table) = (dynamo.clone(), table.clone());
        tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            if let Err(error) = backfill_indexes(&dynamo, &table).await {
                tracing::warn!(table = %table.name, %error, "second index backfill pass failed");
            }
        });
    }
    Ok(json!({ "TableDescription": table.describe(&dynamo.region, &dynamo.account_id, "ACTIVE") }))
}

/// Writes index entries for every existing item. Each item is rewritten
/// with compare-and-set, so a concurrent write wins over a stale entry.
async fn backfill_indexes(dynamo: &Dynamo, table: &Table) -> Result<()> {
    let mut after = None;
    loop {
        let rows = dynamo.engine.scan(&table.id, Segment { segment: 0, total: 1 }, after.clone(), 256).await?;
        let Some(last) = rows.last() else { return Ok(()) };
        after = Some(last.key.clone());
        for row in &rows {
            // Rewriting an item as it is writes its index entries; a stream
            // sees no change (`old == new` emits no record). An item whose
            // attributes cannot key the index is left out of it.
            if let Err(error) =
                read_modify_write(dynamo, table, &row.key, Actor::User, |current| Ok(current.cloned())).await
            {
                tracing::warn!(table = %table.name, error = %error, "an item was left out of a new index");
            }
        }
    }
}

pub async fn update_ttl(dynamo: &Dynamo, request: &Request) -> Result<Value> {
    let (mut table, version) = versioned(dynamo, request).await?;
    let specification = request.required_object("TimeToLiveSpecification", "timeToLiveSpecification")?;
    let attribute = specification.get("AttributeName").and_then(Value::as_str).unwrap_or_default();
    let enabled = specification.get("Enabled").and_then(Value::as_bool).unwrap_or(false);
    if attribute.is_empty() {
        return Err(validation_error(
            "Value null at 'timeToLiveSpecification.attributeName' failed to satisfy constraint: Member must not be null",
        ));
    }
    match (&table.ttl_attribute, enabled) {
        (Some(_), true) => return Err(DynamoError::validation("TimeToLive is already enabled")),
        (None, false) => return Err(DynamoError::validation("TimeToLive is already disabled")),
        (Some(current), false) if current != attribute => {
            return Err(DynamoError::validation(format!(
                "TimeToLive is active on a different AttributeName: current AttributeName is {current}"
            )));
        }
        _ => {}
    }
    table.ttl_attribute = enabled.then(|| attribute.to_owned());
    save(dynamo, &table, version).await?;
    Ok(json!({ "TimeToLiveSpecification": { "AttributeName": attribute, "Enabled": enabled } }))
}

pub async fn describe_ttl(dynamo: &Dynamo, input: TableNameInput) -> Result<Value> {
    let table = named_table(dynamo, &input).await?;
    Ok(json!({ "TimeToLiveDescription": match &table.ttl_attribute {
        Some(attribute) => json!({ "TimeToLiveStatus": "ENABLED", "AttributeName": attribute }),
        None => json!({ "TimeToLiveStatus": "DISABLED" }),
    } }))
}

/// The table a resource ARN names (`arn:aws:dynamodb:{region}:{account}:table/{name}`).
async fn table_of_arn(dynamo: &Dynamo, arn: &str) -> Result<(Table, u64)> {
    let name = arn
        .strip_prefix(&format!("arn:aws:dynamodb:{}:{}:table/", dynamo.region, dynamo.account_id))
        .filter(|rest| !rest.contains('/'))
        .ok_or_else(|| {
            DynamoError::validation(format!("Invalid TableArn: Invalid ResourceArn provided as input {arn}"))
        })?;
    let record = dynamo.records.get(TABLES, name).await?.ok_or_else(|| {
        DynamoError::new(
            ErrorKind::ResourceNotFound,
            format!("Requested resource not found: ResourcArn: {arn} not found"),
        )
    })?;
    let table = serde_json::from_slice(&record.value).map_err(|error| DynamoError::internal(error.to_string()))?;
    Ok((table, record.version))
}

/// The most tags a table holds.
const MAX_TAGS: usize = 50;

pub async fn tag(dynamo: &Dynamo, input: TagResourceInput) -> Result<Value> {
    // Validated: the ARN and every tag's key (1 to 128) and value (to 256).
    let (mut table, version) = table_of_arn(dynamo, input.resource_arn.as_deref().unwrap_or_default()).await?;
    for tag in input.tags.iter().flatten() {
        table.tags.insert(tag.key.clone().unwrap_or_default(), tag.value.clone().unwrap_or_default());
    }
    if table.tags.len() > MAX_TAGS {
        return Err(DynamoError::validation("Number of Tags exceed the current limit for the provided ResourceArn"));
    }
    save(dynamo, &table, version).await?;
    Ok(json!({}))
}

pub async fn untag(dynamo: &Dynamo, input: UntagResourceInput) -> Result<Value> {
    let (mut table, version) = table_of_arn(dynamo, input.resource_arn.as_deref().unwrap_or_default()).await?;
    for key in input.tag_keys.iter().flatten() {
        table.tags.remove(key);
    }
    save(dynamo, &table, version).await?;
    Ok(json!({}))
}

pub async fn list_tags(dynamo: &Dynamo, input: ListTagsOfResourceInput) -> Result<Value> {
    let (table, _) = table_of_arn(dynamo, input.resource_arn.as_deref().unwrap_or_default()).await?;
    let tags: Vec<Value> = table.tags.iter().map(|(key, value)| json!({ "Key": key, "Value": value })).collect();
    Ok(json!({ "Tags": tags }))
}
