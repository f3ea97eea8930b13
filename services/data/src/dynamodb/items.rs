//! PutItem, GetItem, UpdateItem, DeleteItem. Conditional writes read the
//! row, decide, and write with compare-and-set on the row's version,
//! retrying when another writer got there first: a condition is always
//! evaluated on the version it is applied to.

use serde_json::{Value, json};

use super::mutation::{Actor, Outcome, decode_item, item_writes, needs_old_item, read_modify_write};
use super::{
    Dynamo,
    capacity::{Consumed, Mode, read_units},
    error::{DynamoError, Result},
    expr::{
        ExpressionKind, Placeholders,
        ast::{Condition, Path},
        eval::{matches, project},
        parser::{parse_condition, parse_projection, parse_update},
        update::apply,
    },
    input::{
        items::{AttributeMap, DeleteItemInput, GetItemInput, NameMap, PutItemInput, UpdateItemInput},
        legacy::Expected,
    },
    keys, legacy,
    value::{Item, item_from_json, item_size, item_to_json},
};
use crate::engine::Expect;

/// DynamoDB's largest item (400 KB).
pub const MAX_ITEM_BYTES: usize = 400 * 1024;

pub fn check_size(item: &Item) -> Result<()> {
    if item_size(item) > MAX_ITEM_BYTES {
        return Err(DynamoError::validation("Item size has exceeded the maximum allowed size"));
    }
    Ok(())
}

/// An attribute-value map member (`Item`, `Key`) as an item.
pub fn item_of(map: Option<&AttributeMap>) -> Result<Item> {
    item_from_json(&Value::Object(map.cloned().unwrap_or_default()))
}

/// The placeholders of a request.
pub fn placeholders(names: Option<&NameMap>, values: Option<&AttributeMap>) -> Result<Placeholders> {
    Placeholders::from_parts(names, values)
}

/// A write's condition: its `ConditionExpression`, or its legacy `Expected`.
pub fn write_condition(
    expression: Option<&str>,
    expected: Option<&Expected>,
    operator: Option<&str>,
    placeholders: &mut Placeholders,
) -> Result<Option<Condition>> {
    match (expression, expected) {
        (Some(text), _) => parse_condition(ExpressionKind::Condition, text, placeholders).map(Some),
        (None, Some(expected)) => legacy::expected(expected, operator),
        (None, None) => Ok(None),
    }
}

/// A read's projection: its `ProjectionExpression`, or `AttributesToGet`.
pub fn read_projection(
    expression: Option<&str>,
    attributes: Option<&Vec<String>>,
    placeholders: &mut Placeholders,
) -> Result<Option<Vec<Path>>> {
    match (expression, attributes) {
        (Some(text), _) => parse_projection(text, placeholders).map(Some),
        (None, Some(names)) => legacy::attributes_to_get(names).map(Some),
        (None, None) => Ok(None),
    }
}

/// The conditional-check failure, with the item when the caller asked.
pub fn condition_failed(wants_item: bool, old: Option<&Item>) -> DynamoError {
    let error = DynamoError::condition_failed();
    match old {
        Some(item) if wants_item => error.with("Item", item_to_json(item)),
        _ => error,
    }
}

/// PutItem and DeleteItem return old attributes or nothing.
fn check_old_or_none(returns: Option<&str>) -> Result<&str> {
    match returns.unwrap_or("NONE") {
        value @ ("NONE" | "ALL_OLD") => Ok(value),
        _ => Err(DynamoError::validation("ReturnValues can only be ALL_OLD or NONE")),
    }
}

fn attributes(response: &mut Value, item: Option<Item>) {
    if let Some(item) = item.filter(|item| !item.is_empty()) {
        response["Attributes"] = item_to_json(&item);
    }
}

fn with_capacity(mut response: Value, consumed: Option<Value>) -> Value {
    if let Some(consumed) = consumed {
        response["ConsumedCapacity"] = consumed;
    }
    response
}

pub async fn put(dynamo: &Dynamo, input: PutItemInput) -> Result<Value> {
    legacy::check_exclusive(
        &[("ConditionExpression", input.condition_expression.is_some())],
        &[("Expected", input.expected.is_some())],
        input.expression_attribute_names.is_some(),
        input.expression_attribute_values.is_some(),
    )?;
    let item = item_of(input.item.as_ref())?;
    let returns = check_old_or_none(input.return_values.as_deref())?;
    check_size(&item)?;
    let mut placeholders =
        placeholders(input.expression_attribute_names.as_ref(), input.expression_attribute_values.as_ref())?;
    let condition = write_condition(
        input.condition_expression.as_deref(),
        input.expected.as_ref(),
        input.conditional_operator.as_deref(),
        &mut placeholders,
    )?;
    placeholders.check_all_used()?;
    let table = dynamo.table_named(input.table_name.as_deref().unwrap_or_default()).await?;
    let key = keys::of_item(&table, &item)?;
    let mode = Mode::of(input.return_consumed_capacity.as_deref());
    let wants_item = input.return_values_on_condition_check_failure.as_deref() == Some("ALL_OLD");

    let outcome = if condition.is_none() && returns == "NONE" && !needs_old_item(&table) && !mode.wanted() {
        // Nothing depends on the old item: one blind write.
        dynamo.engine.write(item_writes(&table, &key, None, Some(&item), Expect::Anything, Actor::User)?).await?;
        Outcome { old: None, new: Some(item) }
    } else {
        read_modify_write(dynamo, &table, &key, Actor::User, |old| {
            if let Some(condition) = &condition
                && !matches(old.unwrap_or(&Item::new()), condition)
            {
                return Err(condition_failed(wants_item, old));
            }
            Ok(Some(item.clone()))
        })
        .await?
    };
    let mut consumed = Consumed::default();
    consumed.write(&table, outcome.old.as_ref(), outcome.new.as_ref());
    let mut response = json!({});
    if returns == "ALL_OLD" {
        attributes(&mut response, outcome.old);
    }
    Ok(with_capacity(response, consumed.one(&table, mode)))
}

pub async fn get(dynamo: &Dynamo, input: GetItemInput) -> Result<Value> {
    legacy::check_exclusive(
        &[("ProjectionExpression", input.projection_expression.is_some())],
        &[("AttributesToGet", input.attributes_to_get.is_some())],
        input.expression_attribute_names.is_some(),
        false,
    )?;
    let key_item = item_of(input.key.as_ref())?;
    let mut placeholders = placeholders(input.expression_attribute_names.as_ref(), None)?;
    let paths =
        read_projection(input.projection_expression.as_deref(), input.attributes_to_get.as_ref(), &mut placeholders)?;
    placeholders.check_all_used()?;
    let table = dynamo.table_named(input.table_name.as_deref().unwrap_or_default()).await?;
    let key = keys::of_key(&table, &key_item)?;
    let consistent = input.consistent_read.unwrap_or(false);
    let row = dynamo.engine.get(&table.id, &key).await?;
    let mut response = json!({});
    let mut size = 0;
    if let Some(row) = row {
        let item = decode_item(&row.value)?;
        size = item_size(&item);
        let item = match &paths {
            Some(paths) => project(&item, paths),
            None => item,
        };
        response["Item"] = item_to_json(&item);
    }
    let mut consumed = Consumed::default();
    consumed.read(&table, None, read_units(size, consistent));
    Ok(with_capacity(response, consumed.one(&table, Mode::of(input.return_consumed_capacity.as_deref()))))
}

pub async fn delete(dynamo: &Dynamo, input: DeleteItemInput) -> Result<Value> {
    legacy::check_exclusive(
        &[("ConditionExpression", input.condition_expression.is_some())],
        &[("Expected", input.expected.is_some())],
        input.expression_attribute_names.is_some(),
        input.expression_attribute_values.is_some(),
    )?;
    let key_item = item_of(input.key.as_ref())?;
    let returns = check_old_or_none(input.return_values.as_deref())?;
    let mut placeholders =
        placeholders(input.expression_attribute_names.as_ref(), input.expression_attribute_values.as_ref())?;
    let condition = write_condition(
        input.condition_expression.as_deref(),
        input.expected.as_ref(),
        input.conditional_operator.as_deref(),
        &mut placeholders,
    )?;
    placeholders.check_all_used()?;
    let table = dynamo.table_named(input.table_name.as_deref().unwrap_or_default()).await?;
    let key = keys::of_key(&table, &key_item)?;
    let wants_item = input.return_values_on_condition_check_failure.as_deref() == Some("ALL_OLD");
    let outcome = read_modify_write(dynamo, &table, &key, Actor::User, |old| {
        if let Some(condition) = &condition
            && !matches(old.unwrap_or(&Item::new()), condition)
        {
            return Err(condition_failed(wants_item, old));
        }
        Ok(None)
    })
    .await?;
    let mut consumed = Consumed::default();
    consumed.write(&table, outcome.old.as_ref(), None);
    let mut response = json!({});
    if returns == "ALL_OLD" {
        attributes(&mut response, outcome.old);
    }
    Ok(with_capacity(response, consumed.one(&table, Mode::of(input.return_consumed_capacity.as_deref()))))
}

pub async fn update(dynamo: &Dynamo, input: UpdateItemInput) -> Result<Value> {
    legacy::check_exclusive(
        &[
            ("UpdateExpression", input.update_expression.is_some()),
            ("ConditionExpression", input.condition_expression.is_some()),
        ],
        &[("AttributeUpdates", input.attribute_updates.is_some()), ("Expected", input.expected.is_some())],
        input.expression_attribute_names.is_some(),
        input.expression_attribute_values.is_some(),
    )?;
    let key_item = item_of(input.key.as_ref())?;
    let mut placeholders =
        placeholders(input.expression_attribute_names.as_ref(), input.expression_attribute_values.as_ref())?;
    let legacy_updates = input.attribute_updates.as_ref().map(legacy::attribute_updates).transpose()?;
    let update = match (&input.update_expression, legacy_updates) {
        (Some(text), _) => Some(parse_update(text, &mut placeholders)?),
        (None, updates) => updates,
    };
    let condition = write_condition(
        input.condition_expression.as_deref(),
        input.expected.as_ref(),
        input.conditional_operator.as_deref(),
        &mut placeholders,
    )?;
    placeholders.check_all_used()?;
    let table = dynamo.table_named(input.table_name.as_deref().unwrap_or_default()).await?;
    let key = keys::of_key(&table, &key_item)?;
    let returns = input.return_values.as_deref().unwrap_or("NONE");
    let wants_item = input.return_values_on_condition_check_failure.as_deref() == Some("ALL_OLD");
    let is_legacy = input.attribute_updates.is_some();
    let key_names = table.key_names();
    let outcome = read_modify_write(dynamo, &table, &key, Actor::User, |old| {
        if let Some(condition) = &condition
            && !matches(old.unwrap_or(&Item::new()), condition)
        {
            return Err(condition_failed(wants_item, old));
        }
        let base = old.cloned().unwrap_or_else(|| key_item.clone());
        let new = match &update {
            Some(update) => apply(&base, update, &key_names).map_err(|error| legacy_wording(is_legacy, error))?,
            None => base,
        };
        check_size(&new)?;
        keys::check_index_keys(&table, &new, keys::Written::Update)?;
        Ok(Some(new))
    })
    .await?;
    let updated_paths: Vec<Path> =
        update.as_ref().map(|u| u.paths().into_iter().cloned().collect()).unwrap_or_default();
    let mut consumed = Consumed::default();
    consumed.write(&table, outcome.old.as_ref(), outcome.new.as_ref());
    let mut response = json!({});
    match returns {
        "ALL_OLD" => attributes(&mut response, outcome.old),
        "ALL_NEW" => attributes(&mut response, outcome.new.clone()),
        "UPDATED_OLD" => attributes(&mut response, outcome.old.map(|old| project(&old, &updated_paths))),
        "UPDATED_NEW" => attributes(&mut response, outcome.new.as_ref().map(|new| project(new, &updated_paths))),
        _ => {}
    }
    Ok(with_capacity(response, consumed.one(&table, Mode::of(input.return_consumed_capacity.as_deref()))))
}

/// `AttributeUpdates` that meet an attribute of another type fail with
/// their own message, not the update expression's.
fn legacy_wording(is_legacy: bool, error: DynamoError) -> DynamoError {
    if is_legacy && error.message() == "An operand in the update expression has an incorrect data type" {
        DynamoError::validation("Type mismatch for attribute to update")
    } else {
        error
    }
}
