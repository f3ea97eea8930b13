//! Applying an update expression to an item, with DynamoDB's rules: every
//! operand is read from the item as it was before the update, nested paths
//! need their parents, `ADD`/`DELETE` work on numbers and sets only.

use super::{
    ExpressionKind,
    ast::{Path, PathElement, SetOperand, SetValue, Update},
    eval::resolve,
};
use crate::dynamodb::{
    error::{DynamoError, Result},
    value::{AttributeValue, Item, type_name},
};

fn invalid_path() -> DynamoError {
    DynamoError::validation("The document path provided in the update expression is invalid for update")
}

fn wrong_type() -> DynamoError {
    DynamoError::validation("An operand in the update expression has an incorrect data type")
}

fn missing_attribute() -> DynamoError {
    DynamoError::validation("The provided expression refers to an attribute that does not exist in the item")
}

fn set_operand(item: &Item, operand: &SetOperand) -> Result<AttributeValue> {
    match operand {
        SetOperand::Value(value) => Ok(value.clone()),
        SetOperand::Path(path) => resolve(item, path).cloned().ok_or_else(missing_attribute),
        SetOperand::IfNotExists(path, fallback) => match resolve(item, path) {
            Some(value) => Ok(value.clone()),
            None => set_operand(item, fallback),
        },
        SetOperand::ListAppend(first, second) => match (set_operand(item, first)?, set_operand(item, second)?) {
            (AttributeValue::L(mut first), AttributeValue::L(second)) => {
                first.extend(second);
                Ok(AttributeValue::L(first))
            }
            _ => Err(wrong_type()),
        },
    }
}

fn set_value(item: &Item, value: &SetValue) -> Result<AttributeValue> {
    match value {
        SetValue::Operand(operand) => set_operand(item, operand),
        SetValue::Plus(left, right) | SetValue::Minus(left, right) => {
            match (set_operand(item, left)?, set_operand(item, right)?) {
                (AttributeValue::N(a), AttributeValue::N(b)) => {
                    Ok(AttributeValue::N(if matches!(value, SetValue::Plus(..)) {
                        a.checked_add(&b)?
                    } else {
                        a.checked_sub(&b)?
                    }))
                }
                _ => Err(wrong_type()),
            }
        }
    }
}

/// Where a path's last element lives: its parent container.
fn parent_mut<'a>(item: &'a mut Item, path: &Path) -> Result<Option<&'a mut AttributeValue>> {
    let mut elements = path[..path.len() - 1].iter();
    let Some(PathElement::Name(first)) = elements.next() else { return Ok(None) };
    let Some(mut current) = item.get_mut(first) else { return Err(invalid_path()) };
    for element in elements {
        current = match (element, current) {
            (PathElement::Name(name), AttributeValue::M(map)) => map.get_mut(name).ok_or_else(invalid_path)?,
            (PathElement::Index(index), AttributeValue::L(list)) => list.get_mut(*index).ok_or_else(invalid_path)?,
            _ => return Err(invalid_path()),
        };
    }
    Ok(Some(current))
}

fn put(item: &mut Item, path: &Path, value: AttributeValue) -> Result<()> {
    if path.len() == 1 {
        let PathElement::Name(name) = &path[0] else { return Err(invalid_path()) };
        item.insert(name.clone(), value);
        return Ok(());
    }
    let parent = parent_mut(item, path)?.ok_or_else(invalid_path)?;
    match (path.last(), parent) {
        (Some(PathElement::Name(name)), AttributeValue::M(map)) => {
            map.insert(name.clone(), value);
        }
        (Some(PathElement::Index(index)), AttributeValue::L(list)) => {
            // An index past the end appends, as in DynamoDB.
            if *index < list.len() {
                list[*index] = value;
            } else {
                list.push(value);
            }
        }
        _ => return Err(invalid_path()),
    }
    Ok(())
}

fn remove(item: &mut Item, path: &Path) -> Result<()> {
    if path.len() == 1 {
        if let PathElement::Name(name) = &path[0] {
            item.remove(name);
        }
        return Ok(());
    }
    let Ok(Some(parent)) = parent_mut(item, path) else { return Ok(()) };
    match (path.last(), parent) {
        (Some(PathElement::Name(name)), AttributeValue::M(map)) => {
            map.remove(name);
        }
        (Some(PathElement::Index(index)), AttributeValue::L(list)) if *index < list.len() => {
            list.remove(*index);
        }
        _ => {}
    }
    Ok(())
}

/// Applies `update` to `item` (empty for a new item); `key_names` may not
/// be touched.
pub fn apply(item: &Item, update: &Update, key_names: &[&str]) -> Result<Item> {
    for path in update.paths() {
        if let Some(PathElement::Name(name)) = path.first()
            && key_names.contains(&name.as_str())
        {
            return Err(DynamoError::invalid_parameter(format!(
                "Cannot update attribute {name}. This attribute is part of the key"
            )));
        }
    }
    // Every operand is evaluated against the item before the update.
    let set_values: Vec<AttributeValue> =
        update.set.iter().map(|(_, value)| set_value(item, value)).collect::<Result<_>>()?;
    let mut updated = item.clone();
    for ((path, _), value) in update.set.iter().zip(set_values) {
        put(&mut updated, path, value)?;
    }
    // Removing list elements shifts later ones: remove from the end.
    let mut removals: Vec<&Path> = update.remove.iter().collect();
    removals.sort_by(|a, b| b.cmp(a));
    for path in removals {
        remove(&mut updated, path)?;
    }
    for (path, value) in &update.add {
        let added = match (resolve(item, path), value) {
            (None, AttributeValue::N(_) | AttributeValue::Ss(_) | AttributeValue::Ns(_) | AttributeValue::Bs(_)) => {
                value.clone()
            }
            (Some(AttributeValue::N(current)), AttributeValue::N(delta)) => {
                AttributeValue::N(current.checked_add(delta)?)
            }
            (Some(AttributeValue::Ss(current)), AttributeValue::Ss(more)) => {
                AttributeValue::Ss(current.union(more).cloned().collect())
            }
            (Some(AttributeValue::Bs(current)), AttributeValue::Bs(more)) => {
                AttributeValue::Bs(current.union(more).cloned().collect())
            }
            (Some(AttributeValue::Ns(current)), AttributeValue::Ns(more)) => {
                let mut union = current.clone();
                union.extend(more.iter().cloned());
                union.sort();
                union.dedup();
                AttributeValue::Ns(union)
            }
            (_, AttributeValue::N(_) | AttributeValue::Ss(_) | AttributeValue::Ns(_) | AttributeValue::Bs(_)) => {
                return Err(wrong_type());
            }
            (_, other) => {
                return Err(ExpressionKind::Update.invalid(format!(
                    "Incorrect operand type for operator or function; operator: ADD, operand type: {}",
                    type_long_name(other)
                )));
            }
        };
        put(&mut updated, path, added)?;
    }
    for (path, value) in &update.delete {
        let remaining = match (resolve(item, path), value) {
            (None, AttributeValue::Ss(_) | AttributeValue::Ns(_) | AttributeValue::Bs(_)) => continue,
            (Some(AttributeValue::Ss(current)), AttributeValue::Ss(gone)) => {
                let left: std::collections::BTreeSet<String> = current.difference(gone).cloned().collect();
                (!left.is_empty()).then_some(AttributeValue::Ss(left))
            }
            (Some(AttributeValue::Bs(current)), AttributeValue::Bs(gone)) => {
                let left: std::collections::BTreeSet<Vec<u8>> = current.difference(gone).cloned().collect();
                (!left.is_empty()).then_some(AttributeValue::Bs(left))
            }
            (Some(AttributeValue::Ns(current)), AttributeValue::Ns(gone)) => {
                let left: Vec<_> = current.iter().filter(|n| !gone.contains(n)).cloned().collect();
                (!left.is_empty()).then_some(AttributeValue::Ns(left))
            }
            (_, AttributeValue::Ss(_) | AttributeValue::Ns(_) | AttributeValue::Bs(_)) => return Err(wrong_type()),
            (_, other) => {
                return Err(ExpressionKind::Update.invalid(format!(
                    "Incorrect operand type for operator or function; operator: DELETE, operand type: {}",
                    type_long_name(other)
                )));
            }
        };
        match remaining {
            Some(value) => put(&mut updated, path, value)?,
            None => remove(&mut updated, path)?,
        }
    }
    Ok(updated)
}

/// The long type names DynamoDB uses in some messages.
fn type_long_name(value: &AttributeValue) -> &'static str {
    match type_name(value) {
        "S" => "STRING",
        "N" => "NUMBER",
        "B" => "BINARY",
        "BOOL" => "BOOLEAN",
        "NULL" => "NULL",
        "L" => "LIST",
        "M" => "MAP",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dynamodb::{
        expr::{Placeholders, parser::parse_update},
        value::{item_from_json, item_to_json},
    };

    fn run(item: serde_json::Value, expression: &str, values: serde_json::Value) -> Result<serde_json::Value> {
        let values = item_from_json(&values).unwrap();
        let values: Vec<(&str, AttributeValue)> = values.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
        let mut placeholders = Placeholders::with(&[], &values);
        let update = parse_update(expression, &mut placeholders)?;
        apply(&item_from_json(&item).unwrap(), &update, &["id"]).map(|item| item_to_json(&item))
    }

    #[test]
    fn set_arithmetic_functions_and_nesting() {
        let updated = run(
            serde_json::json!({ "n": { "N": "1" }, "l": { "L": [{ "N": "1" }] }, "m": { "M": {} } }),
            "SET n = n + :one, l = list_append(l, :more), fresh = if_not_exists(fresh, :one), m.k = :one, copied = if_not_exists(n, :one)",
            serde_json::json!({ ":one": { "N": "1" }, ":more": { "L": [{ "N": "2" }] } }),
        )
        .unwrap();
        assert_eq!(updated["n"], serde_json::json!({ "N": "2" }));
        assert_eq!(updated["l"], serde_json::json!({ "L": [{ "N": "1" }, { "N": "2" }] }));
        assert_eq!(updated["fresh"], serde_json::json!({ "N": "1" }));
        assert_eq!(updated["m"], serde_json::json!({ "M": { "k": { "N": "1" } } }));
        assert_eq!(updated["copied"], serde_json::json!({ "N": "1" }), "operands see the item before the update");
    }

    #[test]
    fn remove_add_delete() {
        let updated = run(
            serde_json::json!({ "l": { "L": [{ "N": "0" }, { "N": "1" }, { "N": "2" }] }, "s": { "SS": ["a", "b"] }, "gone": { "S": "x" }, "c": { "N": "5" } }),
            "REMOVE l[0], l[2], gone ADD c :two, added :two, s :c DELETE s :a",
            serde_json::json!({ ":two": { "N": "2" }, ":c": { "SS": ["c"] }, ":a": { "SS": ["a"] } }),
        );
        let error = updated.unwrap_err();
        assert!(
            error.message().contains("Two document paths overlap"),
            "ADD and DELETE of s overlap: {}",
            error.message()
        );
        let updated = run(
            serde_json::json!({ "l": { "L": [{ "N": "0" }, { "N": "1" }, { "N": "2" }] }, "s": { "SS": ["a", "b"] }, "gone": { "S": "x" }, "c": { "N": "5" } }),
            "REMOVE l[0], l[2], gone ADD c :two, added :two DELETE s :a",
            serde_json::json!({ ":two": { "N": "2" }, ":a": { "SS": ["a", "b"] } }),
        )
        .unwrap();
        assert_eq!(updated["l"], serde_json::json!({ "L": [{ "N": "1" }] }));
        assert!(updated.get("gone").is_none());
        assert_eq!(updated["c"], serde_json::json!({ "N": "7" }));
        assert_eq!(updated["added"], serde_json::json!({ "N": "2" }));
        assert!(updated.get("s").is_none(), "an emptied set disappears");
    }

    #[test]
    fn errors_use_dynamodb_wording() {
        let message = |item: serde_json::Value, expression: &str, values: serde_json::Value| {
            run(item, expression, values).unwrap_err().message().to_owned()
        };
        let one = serde_json::json!({ ":one": { "N": "1" } });
        assert_eq!(
            message(serde_json::json!({}), "SET n = n + :one", one.clone()),
            "The provided expression refers to an attribute that does not exist in the item"
        );
        assert_eq!(
            message(serde_json::json!({ "s": { "S": "x" } }), "SET n = s + :one", one.clone()),
            "An operand in the update expression has an incorrect data type"
        );
        assert_eq!(
            message(serde_json::json!({}), "SET a.b = :one", one.clone()),
            "The document path provided in the update expression is invalid for update"
        );
        assert_eq!(
            message(serde_json::json!({}), "SET id = :one", one.clone()),
            "One or more parameter values were invalid: Cannot update attribute id. This attribute is part of the key"
        );
        assert_eq!(
            message(serde_json::json!({}), "ADD a :s", serde_json::json!({ ":s": { "S": "x" } })),
            "Invalid UpdateExpression: Incorrect operand type for operator or function; operator: ADD, operand type: STRING"
        );
    }
}
