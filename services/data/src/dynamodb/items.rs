//! PutItem, GetItem, UpdateItem, DeleteItem. Conditional writes read the
//! row, decide, and write with compare-and-set on the row's version,
//! retrying when another writer got there first: a condition is always
//! evaluated on the version it is applied to.

use serde_json::{Value, json};

use super::mutation::{Actor, Outcome, decode_item, item_writes, needs_old_item, read_modify_write};
use super::{
    Dynamo,
    error::{DynamoError, ErrorKind, Result},
    expr::{
        ExpressionKind, Placeholders,
        ast::{Condition, Path},
        eval::{matches, project},
        parser::{parse_condition, parse_projection, parse_update},
        update::apply,
    },
    keys,
    request::Request,
    table::Table,
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

/// The optional `ConditionExpression` of a request.
pub fn condition(request: &Request, placeholders: &mut Placeholders) -> Result<Option<Condition>> {
    request
        .optional_str("ConditionExpression")?
        .map(|text| parse_condition(ExpressionKind::Condition, text, placeholders))
        .transpose()
}

/// `ConsumedCapacity` when the request asks for it.
pub fn consumed(request: &Request, table: &Table, units: f64) -> Result<Option<Value>> {
    match request.optional_enum("ReturnConsumedCapacity", "returnConsumedCapacity", &["INDEXES", "TOTAL", "NONE"])? {
        Some("INDEXES") | Some("TOTAL") => Ok(Some(json!({ "TableName": table.name, "CapacityUnits": units }))),
        _ => Ok(None),
    }
}

fn write_units(item: Option<&Item>) -> f64 {
    (item.map(item_size).unwrap_or(0).div_ceil(1024).max(1)) as f64
}

/// The conditional-check failure, with the item when the caller asked.
pub fn condition_failed(request: &Request, old: Option<&Item>) -> Result<DynamoError> {
    let error = DynamoError::condition_failed();
    let wants_item = request.optional_enum(
        "ReturnValuesOnConditionCheckFailure",
        "returnValuesOnConditionCheckFailure",
        &["ALL_OLD", "NONE"],
    )? == Some("ALL_OLD");
    Ok(match old {
        Some(item) if wants_item => error.with("Item", item_to_json(item)),
        _ => error,
    })
}

fn return_values<'a>(request: &'a Request, allowed: &[&str]) -> Result<&'a str> {
    let value = request.optional_str("ReturnValues")?.unwrap_or("NONE");
    if !allowed.contains(&value) {
        // In the order DynamoDB lists them.
        let all = ["ALL_NEW", "UPDATED_OLD", "ALL_OLD", "NONE", "UPDATED_NEW"];
        if !all.contains(&value) {
            return Err(super::request::validation_error(format!(
                "Value '{value}' at 'returnValues' failed to satisfy constraint: Member must satisfy enum value set: [{}]",
                all.join(", ")
            )));
        }
        return Err(DynamoError::validation("ReturnValues can only be ALL_OLD or NONE"));
    }
    Ok(value)
}

fn attributes(response: &mut Value, item: Option<Item>) {
    if let Some(item) = item.filter(|item| !item.is_empty()) {
        response["Attributes"] = item_to_json(&item);
    }
}

pub async fn put(dynamo: &Dynamo, request: &Request) -> Result<Value> {
    let table = dynamo.table(request).await?;
    let item = item_from_json(request.required_object("Item", "item")?)?;
    let key = keys::of_item(&table, &item)?;
    check_size(&item)?;
    let mut placeholders = Placeholders::from_request(&request.body)?;
    let condition = condition(request, &mut placeholders)?;
    placeholders.check_all_used()?;
    let returns = return_values(request, &["NONE", "ALL_OLD"])?;

    let outcome = if condition.is_none() && returns == "NONE" && !needs_old_item(&table) {
        // Nothing depends on the old item: one blind write.
        dynamo.engine.write(item_writes(&table, &key, None, Some(&item), Expect::Anything, Actor::User)?).await?;
        Outcome { old: None, new: Some(item) }
    } else {
        read_modify_write(dynamo, &table, &key, Actor::User, |old| {
            if let Some(condition) = &condition
                && !matches(old.unwrap_or(&Item::new()), condition)
            {
                return Err(condition_failed(request, old)?);
            }
            Ok(Some(item.clone()))
        })
        .await?
    };
    let mut response = json!({});
    if returns == "ALL_OLD" {
        attributes(&mut response, outcome.old);
    }
    if let Some(consumed) = consumed(request, &table, write_units(outcome.new.as_ref()))? {
        response["ConsumedCapacity"] = consumed;
    }
    Ok(response)
}

/// The projection of a read request, if any.
pub fn projection(request: &Request, placeholders: &mut Placeholders) -> Result<Option<Vec<Path>>> {
    request.optional_str("ProjectionExpression")?.map(|text| parse_projection(text, placeholders)).transpose()
}

pub async fn get(dynamo: &Dynamo, request: &Request) -> Result<Value> {
    let table = dynamo.table(request).await?;
    let key = keys::of_key(&table, &item_from_json(request.required_object("Key", "key")?)?)?;
    let mut placeholders = Placeholders::from_request(&request.body)?;
    let paths = projection(request, &mut placeholders)?;
    placeholders.check_all_used()?;
    let consistent = request.optional_bool("ConsistentRead")?;
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
    let units = (size.div_ceil(4096).max(1)) as f64 * if consistent { 1.0 } else { 0.5 };
    if let Some(consumed) = consumed(request, &table, units)? {
        response["ConsumedCapacity"] = consumed;
    }
    Ok(response)
}

pub async fn delete(dynamo: &Dynamo, request: &Request) -> Result<Value> {
    let table = dynamo.table(request).await?;
    let key = keys::of_key(&table, &item_from_json(request.required_object("Key", "key")?)?)?;
    let mut placeholders = Placeholders::from_request(&request.body)?;
    let condition = condition(request, &mut placeholders)?;
    placeholders.check_all_used()?;
    let returns = return_values(request, &["NONE", "ALL_OLD"])?;
    let outcome = read_modify_write(dynamo, &table, &key, Actor::User, |old| {
        if let Some(condition) = &condition
            && !matches(old.unwrap_or(&Item::new()), condition)
        {
            return Err(condition_failed(request, old)?);
        }
        Ok(None)
    })
    .await?;
    let mut response = json!({});
    if returns == "ALL_OLD" {
        attributes(&mut response, outcome.old.clone());
    }
    if let Some(consumed) = consumed(request, &table, write_units(outcome.old.as_ref()))? {
        response["ConsumedCapacity"] = consumed;
    }
    Ok(response)
}

pub async fn update(dynamo: &Dynamo, request: &Request) -> Result<Value> {
    let table = dynamo.table(request).await?;
    let key_item = item_from_json(request.required_object("Key", "key")?)?;
    let key = keys::of_key(&table, &key_item)?;
    let mut placeholders = Placeholders::from_request(&request.body)?;
    let update =
        request.optional_str("UpdateExpression")?.map(|text| parse_update(text, &mut placeholders)).transpose()?;
    let condition = condition(request, &mut placeholders)?;
    placeholders.check_all_used()?;
    if request.member("AttributeUpdates").is_some() {
        return Err(DynamoError::new(
            ErrorKind::Validation,
            "The legacy AttributeUpdates parameter is not supported; use UpdateExpression",
        ));
    }
    let returns = return_values(request, &["NONE", "ALL_OLD", "UPDATED_OLD", "ALL_NEW", "UPDATED_NEW"])?;
    let key_names = table.key_names();
    let outcome = read_modify_write(dynamo, &table, &key, Actor::User, |old| {
        if let Some(condition) = &condition
            && !matches(old.unwrap_or(&Item::new()), condition)
        {
            return Err(condition_failed(request, old)?);
        }
        let base = old.cloned().unwrap_or_else(|| key_item.clone());
        let new = match &update {
            Some(update) => apply(&base, update, &key_names)?,
            None => base,
        };
        check_size(&new)?;
        Ok(Some(new))
    })
    .await?;
    let updated_paths: Vec<Path> =
        update.as_ref().map(|u| u.paths().into_iter().cloned().collect()).unwrap_or_default();
    let mut response = json!({});
    match returns {
        "ALL_OLD" => attributes(&mut response, outcome.old),
        "ALL_NEW" => attributes(&mut response, outcome.new.clone()),
        "UPDATED_OLD" => attributes(&mut response, outcome.old.map(|old| project(&old, &updated_paths))),
        "UPDATED_NEW" => attributes(&mut response, outcome.new.as_ref().map(|new| project(new, &updated_paths))),
        _ => {}
    }
    if let Some(consumed) = consumed(request, &table, write_units(outcome.new.as_ref()))? {
        response["ConsumedCapacity"] = consumed;
    }
    Ok(response)
}
