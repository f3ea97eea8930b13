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
    let range = Some(name) == table.range_key.as_deref();
    let size = encode(value).len();
    if range && size > 1024 {
        return Err(DynamoError::invalid_parameter(
            "Aggregated size of all range keys has exceeded the size limit of 1024 bytes",
        ));
    }
    if !range && size > 2048 {
        // Sic: DynamoDB's message has no space before the number.
        return Err(DynamoError::invalid_parameter("Size of hashkey has exceeded the maximum size limit of2048 bytes"));
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

/// Order-preserving, self-delimiting form of a key component, so several
/// can be concatenated and still sort component by component: `0x00`
/// becomes `0x00 0xff`, and `0x00 0x01` ends the component.
pub fn escape(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + 2);
    for byte in bytes {
        out.push(*byte);
        if *byte == 0 {
            out.push(0xff);
        }
    }
    out.extend_from_slice(&[0x00, 0x01]);
    out
}

/// The engine partition of an index entry: the value itself for one
/// partition attribute (as entries were always written), the escaped
/// values one after another for several (multi-attribute keys).
pub fn index_partition(values: &[&AttributeValue]) -> Vec<u8> {
    match values {
        [single] => encode(single),
        several => several.iter().flat_map(|value| escape(&encode(value))).collect(),
    }
}

/// How an item came to be written, which words DynamoDB's message for an
/// empty index key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// A whole item (PutItem, BatchWriteItem, a transaction's Put).
    Item,
    /// The result of an update expression or `AttributeUpdates`.
    Update,
}

/// The key attributes of `index` that `item` holds must be of their
/// defined type and, for strings and binaries, not empty.
fn check_entry(table: &Table, index: &super::table::Index, item: &Item, written: Written) -> Result<()> {
    for name in index.key_names() {
        let Some(value) = item.get(name) else { continue };
        let kind = table.attribute_type(name).unwrap_or(ScalarType::S);
        if !matches_type(value, kind) {
            return Err(DynamoError::invalid_parameter(format!(
                "Type mismatch for Index Key {name} Expected: {} Actual: {} IndexName: {}",
                kind.name(),
                type_name(value),
                index.name
            )));
        }
        let empty = match value {
            AttributeValue::S(text) if text.is_empty() => "string",
            AttributeValue::B(bytes) if bytes.is_empty() => "binary",
            _ => continue,
        };
        let cause = match written {
            Written::Item => "A value specified for a secondary index key is not supported.",
            Written::Update => {
                "The update expression attempted to update a secondary index key to a value that is not supported."
            }
        };
        return Err(DynamoError::validation(format!(
            "One or more parameter values are not valid. {cause} The AttributeValue for a key attribute cannot contain an empty {empty} value. IndexName: {}, IndexKey: {name}",
            index.name
        )));
    }
    Ok(())
}

/// Checks every index key `item` holds, index by index in name order: of
/// several indexes an attribute keys, DynamoDB names the first by name.
pub fn check_index_keys(table: &Table, item: &Item, written: Written) -> Result<()> {
    let mut indexes: Vec<&super::table::Index> = table.indexes.iter().collect();
    indexes.sort_by(|a, b| a.name.cmp(&b.name));
    indexes.into_iter().try_for_each(|index| check_entry(table, index, item, written))
}

/// The engine key of an item's entry in `index`, or `None` when the item
/// lacks one of the index's key attributes (a sparse index skips it). The
/// clustering key is the index's sort values, each escaped, then the table
/// key, so entries sort by the index key, attribute by attribute, and stay
/// unique.
pub fn of_index_entry(table: &Table, index: &super::table::Index, item: &Item) -> Result<Option<Key>> {
    if index.key_names().iter().any(|name| !item.contains_key(*name)) {
        return Ok(None);
    }
    check_entry(table, index, item, Written::Item)?;
    let base = of_item(table, item)?;
    let mut clustering = Vec::new();
    for name in index.range_keys() {
        clustering.extend(escape(&encode(&item[name])));
    }
    clustering.extend(escape(&base.partition));
    clustering.extend(base.clustering);
    let partition: Vec<&AttributeValue> = index.hash_keys().into_iter().map(|name| &item[name]).collect();
    Ok(Some(Key { partition: index_partition(&partition), clustering }))
}

/// The attributes an `ExclusiveStartKey` / `LastEvaluatedKey` of an index
/// carries: the index keys and the table keys.
pub fn attributes_of_entry(table: &Table, index: &super::table::Index, item: &Item) -> Item {
    let mut names: Vec<&str> = table.key_names();
    names.extend(index.key_names());
    names.into_iter().filter_map(|name| item.get(name).map(|v| (name.to_owned(), v.clone()))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaped_components_keep_their_order_when_concatenated() {
        let mut keys = [
            [escape(b"a"), escape(b"z")].concat(),
            [escape(b"ab"), escape(b"a")].concat(),
            [escape(b"a\0"), escape(b"a")].concat(),
            [escape(b""), escape(b"zz")].concat(),
        ];
        keys.sort();
        assert_eq!(keys[0], [escape(b""), escape(b"zz")].concat());
        assert_eq!(keys[1], [escape(b"a"), escape(b"z")].concat());
        assert_eq!(keys[2], [escape(b"a\0"), escape(b"a")].concat());
        assert_eq!(keys[3], [escape(b"ab"), escape(b"a")].concat());
    }
}
