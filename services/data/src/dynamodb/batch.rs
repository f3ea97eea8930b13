//! BatchGetItem and BatchWriteItem. A batch write is applied in one
//! engine transaction, so it never half-succeeds and `UnprocessedItems`
//! stays empty; a batch read returns every item it was asked for.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use super::{
    Dynamo,
    error::{DynamoError, Result},
    expr::{Placeholders, eval::project},
    items::{check_size, projection},
    keys,
    mutation::{decode_item, write_items},
    request::Request,
    table::check_table_name,
    value::{item_from_json, item_to_json},
};

/// DynamoDB's limits on one batch.
const MAX_BATCH_GET_KEYS: usize = 100;
const MAX_BATCH_WRITES: usize = 25;
const MAX_BATCH_GET_BYTES: usize = 16 * 1024 * 1024;

fn request_items(request: &Request) -> Result<&Map<String, Value>> {
    let items = request.required_object("RequestItems", "requestItems")?;
    let items = items.as_object().ok_or_else(|| DynamoError::validation("RequestItems must be a map"))?;
    if items.is_empty() {
        return Err(super::request::validation_error(
            "Value '{}' at 'requestItems' failed to satisfy constraint: Member must have length greater than or equal to 1",
        ));
    }
    for name in items.keys() {
        check_table_name(name, "requestItems")?;
    }
    Ok(items)
}

pub async fn get(dynamo: &Dynamo, request: &Request) -> Result<Value> {
    let items = request_items(request)?;
    let total: usize = items.values().map(|t| t.get("Keys").and_then(Value::as_array).map_or(0, Vec::len)).sum();
    if total > MAX_BATCH_GET_KEYS {
        return Err(DynamoError::validation("Too many items requested for the BatchGetItem call"));
    }
    let mut responses = Map::new();
    let mut unprocessed = Map::new();
    let mut bytes = 0;
    for (name, spec) in items {
        let table = dynamo.find_table(name).await?.ok_or_else(DynamoError::not_found)?;
        let spec_request = Request::new(spec.clone());
        let keys_json = spec_request.required_array("Keys", "keys")?;
        if keys_json.is_empty() {
            return Err(super::request::validation_error(
                "Value '[]' at 'requestItems.1.member.keys' failed to satisfy constraint: Member must have length greater than or equal to 1",
            ));
        }
        let mut placeholders = Placeholders::from_request(spec)?;
        let paths = projection(&spec_request, &mut placeholders)?;
        placeholders.check_all_used()?;
        let mut seen = BTreeSet::new();
        let mut found = Vec::new();
        let mut left_over = Vec::new();
        for key_json in keys_json {
            let key = keys::of_key(&table, &item_from_json(key_json)?)?;
            if !seen.insert(key.clone()) {
                return Err(DynamoError::validation("Provided list of item keys contains duplicates"));
            }
            // Past DynamoDB's 16 MB per answer, keys come back unprocessed.
            if bytes > MAX_BATCH_GET_BYTES {
                left_over.push(key_json.clone());
                continue;
            }
            if let Some(row) = dynamo.engine.get(&table.id, &key).await? {
                bytes += row.value.len();
                let item = decode_item(&row.value)?;
                let item = match &paths {
                    Some(paths) => project(&item, paths),
                    None => item,
                };
                found.push(item_to_json(&item));
            }
        }
        responses.insert(name.clone(), Value::Array(found));
        if !left_over.is_empty() {
            let mut rest = spec.clone();
            rest["Keys"] = Value::Array(left_over);
            unprocessed.insert(name.clone(), rest);
        }
    }
    Ok(json!({ "Responses": responses, "UnprocessedKeys": unprocessed }))
}

pub async fn write(dynamo: &Dynamo, request: &Request) -> Result<Value> {
    let items = request_items(request)?;
    if items.values().any(|t| t.as_array().is_some_and(|operations| operations.len() > MAX_BATCH_WRITES)) {
        return Err(super::request::validation_error(format!(
            "Value '{}' at 'requestItems' failed to satisfy constraint: Map value must satisfy constraint: [Member must have length less than or equal to {MAX_BATCH_WRITES}, Member must have length greater than or equal to 1]",
            Value::Object(items.clone())
        )));
    }
    let total: usize = items.values().map(|t| t.as_array().map_or(0, Vec::len)).sum();
    if total > MAX_BATCH_WRITES {
        return Err(DynamoError::validation("Too many items requested for the BatchWriteItem call"));
    }
    let mut writes = Vec::new();
    for (name, operations) in items {
        let table = dynamo.find_table(name).await?.ok_or_else(DynamoError::not_found)?;
        let operations =
            operations.as_array().ok_or_else(|| DynamoError::validation("RequestItems values must be lists"))?;
        let mut seen = BTreeSet::new();
        for operation in operations {
            let put = operation.get("PutRequest").filter(|v| !v.is_null());
            let delete = operation.get("DeleteRequest").filter(|v| !v.is_null());
            let (key, value) = match (put, delete) {
                (Some(put), None) => {
                    let item = item_from_json(put.get("Item").unwrap_or(&Value::Null))?;
                    let key = keys::of_item(&table, &item)?;
                    check_size(&item)?;
                    (key, Some(item))
                }
                (None, Some(delete)) => {
                    (keys::of_key(&table, &item_from_json(delete.get("Key").unwrap_or(&Value::Null))?)?, None)
                }
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
    write_items(dynamo, writes).await?;
    Ok(json!({ "UnprocessedItems": {} }))
}
