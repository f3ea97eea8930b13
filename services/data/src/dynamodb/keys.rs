//! Item keys: checking key attributes against a table's schema and
//! encoding them into the engine's byte keys, whose order is DynamoDB's
//! (UTF-8 bytes for strings, numeric for numbers, bytes for binary).

use super::{
    error::{DynamoError, Result},
    table::{ScalarType, Table},
    value::{AttributeValue, Item, type_name},
};
use crate::engine::Key;

/// The engine bytes of one key value.
pub fn encode(value: &AttributeValue) -> Vec<u8> {
    match value {
        AttributeValue::S(text) => text.as_bytes().to_vec(),
        AttributeValue::N(number) => number.sort_key(),
        AttributeValue::B(bytes) => bytes.clone(),
        _ => Vec::new(),
    }
}

fn matches_type(value: &AttributeValue, kind: ScalarType) -> bool {
    matches!(
        (value, kind),
        (AttributeValue::S(_), ScalarType::S)
            | (AttributeValue::N(_), ScalarType::N)
            | (AttributeValue::B(_), ScalarType::B)
    )
}

fn check_value(table: &Table, name: &str, value: &AttributeValue) -> Result<()> {
    let kind = table.attribute_type(name).unwrap_or(ScalarType::S);
    if !matches_type(value, kind) {
        return Err(DynamoError::invalid_parameter(format!(
            "Type mismatch for key {name} expected: {} actual: {}",
            kind.name(),
            type_name(value)
        )));
    }
    let empty = match value {
        AttributeValue::S(text) => text.is_empty(),
        AttributeValue::B(bytes) => bytes.is_empty(),
        _ => false,
    };
    if empty {
        return Err(DynamoError::validation(format!(
            "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty {} value. Key: {name}",
            if matches!(value, AttributeValue::S(_)) { "string" } else { "binary" }
        )));
    }
    let limit = if Some(name) == table.range_key.as_deref() { 1024 } else { 2048 };
    if encode(value).len() > limit {
        return Err(DynamoError::validation(format!(
            "One or more parameter values were invalid: Size of {} key exceeded the maximum allowed size of {limit} bytes",
            if limit == 1024 { "range" } else { "hashkey" }
        )));
    }
    Ok(())
}

fn key_from(hash: &AttributeValue, range: Option<&AttributeValue>) -> Key {
    Key { partition: encode(hash), clustering: range.map(encode).unwrap_or_default() }
}

/// The key of a whole item (PutItem), with DynamoDB's messages.
pub fn of_item(table: &Table, item: &Item) -> Result<Key> {
    for name in table.key_names() {
        let value = item
            .get(name)
            .ok_or_else(|| DynamoError::invalid_parameter(format!("Missing the key {name} in the item")))?;
        check_value(table, name, value)?;
    }
    let range = table.range_key.as_ref().and_then(|name| item.get(name));
    Ok(key_from(&item[&table.hash_key], range))
}

/// The key given as a request's `Key`: exactly the key attributes.
pub fn of_key(table: &Table, key: &Item) -> Result<Key> {
    let names = table.key_names();
    if key.len() != names.len() || !names.iter().all(|name| key.contains_key(*name)) {
        return Err(DynamoError::validation("The provided key element does not match the schema"));
    }
    for name in &names {
        check_value(table, name, &key[*name])?;
    }
    let range = table.range_key.as_ref().and_then(|name| key.get(name));
    Ok(key_from(&key[&table.hash_key], range))
}

/// The key attributes of an item, as `LastEvaluatedKey` shows them.
pub fn attributes_of(table: &Table, item: &Item) -> Item {
    table.key_names().into_iter().filter_map(|name| item.get(name).map(|v| (name.to_owned(), v.clone()))).collect()
}
