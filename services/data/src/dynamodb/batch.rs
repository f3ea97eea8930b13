//! BatchGetItem and BatchWriteItem. A batch write is applied in one
//! engine transaction, so it never half-succeeds and `UnprocessedItems`
//! stays empty; a batch read returns every item it was asked for.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use super::{
    Dynamo,
    capacity::{Consumed, Mode, read_units},
    error::{DynamoError, Result},
    expr::eval::project,
    input::batch::{BatchGetItemInput, BatchWriteItemInput},
    items::{check_size, item_of, placeholders, read_projection},
    keys, legacy,
    mutation::{decode_item, write_items},
    table::check_table_name,
    value::{item_size, item_to_json},
};

/// DynamoDB's limits on one batch.
const MAX_BATCH_GET_KEYS: usize = 100;
const MAX_BATCH_WRITES: usize = super::input::batch::MAX_BATCH_WRITES;
const MAX_BATCH_GET_BYTES: usize = 16 * 1024 * 1024;

pub async fn get(dynamo: &Dynamo, input: BatchGetItemInput) -> Result<Value> {
    let items = input.request_items.unwrap_or_default();
    for name in items.keys() {
        check_table_name(name, "requestItems")?;
    }
    let total: usize = items.values().map(|spec| spec.keys.as_ref().map_or(0, Vec::len)).sum();
    if total > MAX_BATCH_GET_KEYS {
        return Err(DynamoError::validation("Too many items requested for the BatchGetItem call"));
    }
    let mode = Mode::of(input.return_consumed_capacity.as_deref());
    let mut consumed = Consumed::default();
    let mut responses = Map::new();
    let mut unprocessed = Map::new();
    let mut bytes = 0;
    for (name, spec) in &items {
        legacy::check_exclusive(
            &[("ProjectionExpression", spec.projection_expression.is_some())],
            &[("AttributesToGet", spec.attributes_to_get.is_some())],
            spec.expression_attribute_names.is_some(),
            false,
        )?;
        let table = dynamo.find_table(name).await?.ok_or_else(DynamoError::not_found)?;
        let mut placeholders = placeholders(spec.expression_attribute_names.as_ref(), None)?;
        let paths =
            read_projection(spec.projection_expression.as_deref(), spec.attributes_to_get.as_ref(), &mut placeholders)?;
        placeholders.check_all_used()?;
        let consistent = spec.consistent_read.unwrap_or(false);
        let mut seen = BTreeSet::new();
        let mut found = Vec::new();
        let mut left_over = Vec::new();
        for key_json in spec.keys.iter().flatten() {
            let key = keys::of_key(&table, &item_of(Some(key_json))?)?;
            if !seen.insert(key.clone()) {
                return Err(DynamoError::validation("Provided list of item keys contains duplicates"));
            }
            // Past DynamoDB's 16 MB per answer, keys come back unprocessed.
            if bytes > MAX_BATCH_GET_BYTES {
                left_over.push(Value::Object(key_json.clone()));
                continue;
            }
            let mut size = 0;
            if let Some(row) = dynamo.engine.get(&table.id, &key).await? {
                bytes += row.value.len();
                let item = decode_item(&row.value)?;
                size = item_size(&item);
                let item = match &paths {
                    Some(paths) => project(&item, paths),
                    None => item,
                };
                found.push(item_to_json(&item));
            }
            // Each key of a batch is billed as its own read.
            consumed.read(&table, None, read_units(size, consistent));
        }
        responses.insert(name.clone(), Value::Array(found));
        if !left_over.is_empty() {
            let mut rest = spec.clone();
            rest.keys = None;
            let mut rest = serde_json::to_value(rest).unwrap_or_default();
            rest["Keys"] = Value::Array(left_over);
            unprocessed.insert(name.clone(), rest);
        }
    }
    let mut response = json!({ "Responses": responses, "UnprocessedKeys": unprocessed });
    if let Some(list) = consumed.list(mode) {
        response["ConsumedCapacity"] = list;
    }
    Ok(response)
}

pub async fn write(dynamo: &Dynamo, input: BatchWriteItemInput) -> Result<Value> {
    let items = input.request_items.unwrap_or_default();
    for name in items.keys() {
        check_table_name(name, "requestItems")?;
    }
    let total: usize = items.values().map(Vec::len).sum();
    if total > MAX_BATCH_WRITES {
        return Err(DynamoError::validation("Too many items requested for the BatchWriteItem call"));
    }
    let mut writes = Vec::new();
    for (name, operations) in &items {
        let table = dynamo.find_table(name).await?.ok_or_else(DynamoError::not_found)?;
        let mut seen = BTreeSet::new();
        for operation in operations {
            let (key, value) = match (&operation.put_request, &operation.delete_request) {
                (Some(put), None) => {
                    let item = item_of(put.item.as_ref())?;
                    let key = keys::of_item(&table, &item)?;
                    check_size(&item)?;
                    (key, Some(item))
                }
                (None, Some(delete)) => (keys::of_key(&table, &item_of(delete.key.as_ref())?)?, None),
                _ => {
                    return Err(DynamoError::validation(
                        "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes",
                    ));
                }
            };
            if !seen.insert(key.clone()) {
                return Err(DynamoError::validation("Provided list of item keys contains duplicates"));
            }
            writes.push((table.clone(), key, value));
        }
    }
    let mode = Mode::of(input.return_consumed_capacity.as_deref());
    let changes = write_items(dynamo, writes, mode.wanted()).await?;
    let mut response = json!({ "UnprocessedItems": {} });
    if mode.wanted() {
        let mut consumed = Consumed::default();
        for (table, old, new) in &changes {
            consumed.write(table, old.as_ref(), new.as_ref());
        }
        if let Some(list) = consumed.list(mode) {
            response["ConsumedCapacity"] = list;
        }
    }
    Ok(response)
}
