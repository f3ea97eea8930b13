//! TransactWriteItems and TransactGetItems. A write transaction reads every
//! item it touches as of one moment, evaluates every condition, and commits
//! all changes in one atomic engine write with compare-and-set on each
//! item's version, starting over if anything changed meanwhile. A repeated
//! `ClientRequestToken` with the same request succeeds without applying it
//! again, for ten minutes.

use std::collections::BTreeSet;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{
    Dynamo,
    capacity::{Consumed, Mode, read_units},
    error::{DynamoError, ErrorKind, Result},
    expr::{
        ExpressionKind,
        ast::{Condition, Path, Update},
        eval::{matches, project},
        parser::{parse_condition, parse_projection, parse_update},
        update::apply,
    },
    input::transact::{TransactAction, TransactGetItemsInput, TransactWriteItem, TransactWriteItemsInput},
    items::{check_size, item_of, placeholders},
    keys,
    mutation::{Actor, decode_item, item_writes},
    table::Table,
    value::{Item, item_size, item_to_json},
};
use crate::{
    engine::{Change, EngineError, Expect, Key, Write},
    records::RecordStore,
};

const MAX_ATTEMPTS: usize = 1_000;
/// How long a client request token is remembered.
const TOKEN_LIFETIME_SECS: i64 = 600;
const TOKENS: &str = "dynamodb.transaction-tokens.v1";

enum Operation {
    Check,
    Put(Item),
    Delete,
    Update(Option<Update>),
}

struct Planned {
    table: Table,
    key: Key,
    key_item: Item,
    operation: Operation,
    condition: Option<Condition>,
    return_old_on_failure: bool,
}

fn plan(dynamo_tables: &[Table], entry: &TransactWriteItem) -> Result<Planned> {
    let actions = entry.actions();
    let [(kind, action)] = actions.as_slice() else {
        return Err(DynamoError::validation("TransactItems can only contain one of Check, Put, Update or Delete"));
    };
    let action: &TransactAction = action;
    let name = action.table_name.as_deref().unwrap_or_default();
    let table = dynamo_tables.iter().find(|table| table.name == name).cloned().ok_or_else(DynamoError::not_found)?;
    let mut placeholders =
        placeholders(action.expression_attribute_names.as_ref(), action.expression_attribute_values.as_ref())?;
    let condition = action
        .condition_expression
        .as_deref()
        .map(|text| parse_condition(ExpressionKind::Condition, text, &mut placeholders))
        .transpose()?;
    let (key, key_item, operation) = match *kind {
        "Put" => {
            let item = item_of(action.item.as_ref())?;
            check_size(&item)?;
            (keys::of_item(&table, &item)?, keys::attributes_of(&table, &item), Operation::Put(item))
        }
        _ => {
            let key_item = item_of(action.key.as_ref())?;
            let key = keys::of_key(&table, &key_item)?;
            let operation = match *kind {
                "Delete" => Operation::Delete,
                "Update" => Operation::Update(Some(parse_update(
                    action.update_expression.as_deref().unwrap_or_default(),
                    &mut placeholders,
                )?)),
                _ => Operation::Check,
            };
            (key, key_item, operation)
        }
    };
    placeholders.check_all_used()?;
    let return_old_on_failure = action.return_values_on_condition_check_failure.as_deref() == Some("ALL_OLD");
    Ok(Planned { table, key, key_item, operation, condition, return_old_on_failure })
}

async fn tables_of<'a>(dynamo: &Dynamo, names: impl Iterator<Item = &'a str>) -> Result<Vec<Table>> {
    let names: BTreeSet<&str> = names.collect();
    let mut tables = Vec::new();
    for name in names {
        tables.push(dynamo.find_table(name).await?.ok_or_else(DynamoError::not_found)?);
    }
    Ok(tables)
}

/// What is stored of a token: the request digest while it is fresh, and
/// the version of its record (0 when there is none) for compare-and-set.
async fn remembered(dynamo: &Dynamo, token: &str) -> Result<(Option<String>, u64)> {
    let Some(record) = dynamo.records.get(TOKENS, token).await? else { return Ok((None, 0)) };
    let stored: Value = serde_json::from_slice(&record.value).unwrap_or(Value::Null);
    let fresh = stored
        .get("at")
        .and_then(Value::as_i64)
        .is_some_and(|at| chrono::Utc::now().timestamp() - at < TOKEN_LIFETIME_SECS);
    let digest = stored.get("digest").and_then(Value::as_str).filter(|_| fresh).map(str::to_owned);
    Ok((digest, record.version))
}

pub async fn write(dynamo: &Dynamo, input: TransactWriteItemsInput) -> Result<Value> {
    let token = input.client_request_token.clone();
    let token = token.as_deref();
    // The token's request is remembered by a digest of the rest of it.
    let mut canonical = input.clone();
    canonical.client_request_token = None;
    let digest = hex::encode(Sha256::digest(serde_json::to_string(&canonical).unwrap_or_default().as_bytes()));
    let entries = input.transact_items.unwrap_or_default();
    let tables = tables_of(
        dynamo,
        entries.iter().flat_map(|entry| entry.actions()).filter_map(|(_, action)| action.table_name.as_deref()),
    )
    .await?;
    let planned = entries.iter().map(|entry| plan(&tables, entry)).collect::<Result<Vec<_>>>()?;
    let mode = Mode::of(input.return_consumed_capacity.as_deref());
    let mut targets = BTreeSet::new();
    for item in &planned {
        if !targets.insert((item.table.id.clone(), item.key.clone())) {
            return Err(DynamoError::validation("Transaction request cannot include multiple operations on one item"));
        }
    }

    let mut backoff = crate::engine::backoff::Backoff::new();
    for _ in 0..MAX_ATTEMPTS {
        // The token is checked on every attempt and written in the same
        // atomic write as the transaction: of two concurrent duplicates one
        // commits, and the other then finds the token and succeeds unapplied.
        let mut token_write = None;
        if let Some(token) = token {
            match remembered(dynamo, token).await? {
                (Some(stored), _) if stored == digest => return Ok(json!({})),
                (Some(_), _) => {
                    return Err(DynamoError::new(
                        ErrorKind::IdempotentParameterMismatch,
                        "Request parameters do not match the original request for this client request token",
                    ));
                }
                (None, version) => {
                    let value = json!({ "digest": digest, "at": chrono::Utc::now().timestamp() }).to_string();
                    token_write = Some(RecordStore::write_of(TOKENS, token, value.into_bytes(), version)?);
                }
            }
        }
        let rows =
            dynamo.engine.get_many(planned.iter().map(|p| (p.table.id.clone(), p.key.clone())).collect()).await?;
        let mut reasons = Vec::with_capacity(planned.len());
        let mut writes = Vec::new();
        let mut failed = false;
        let mut consumed = Consumed::default();
        for (item, row) in planned.iter().zip(rows) {
            let old = row.as_ref().map(|row| decode_item(&row.value)).transpose()?;
            let expect = Expect::Version(row.map_or(0, |row| row.version));
            if let Some(condition) = &item.condition
                && !matches(old.as_ref().unwrap_or(&Item::new()), condition)
            {
                failed = true;
                let mut reason =
                    json!({ "Code": "ConditionalCheckFailed", "Message": "The conditional request failed" });
                if item.return_old_on_failure
                    && let Some(old) = &old
                {
                    reason["Item"] = item_to_json(old);
                }
                reasons.push(reason);
                continue;
            }
            let new = match &item.operation {
                Operation::Check => {
                    // A condition check is billed as a consistent read.
                    consumed.read(&item.table, None, read_units(old.as_ref().map_or(0, item_size), true));
                    writes.push(Write {
                        table: item.table.id.clone(),
                        key: item.key.clone(),
                        change: Change::Check,
                        expect,
                    });
                    reasons.push(json!({ "Code": "None" }));
                    continue;
                }
                Operation::Put(new) => Some(new.clone()),
                Operation::Delete => None,
                Operation::Update(update) => {
                    let base = old.clone().unwrap_or_else(|| item.key_item.clone());
                    let updated = match update {
                        Some(update) => apply(&base, update, &item.table.key_names()),
                        None => Ok(base),
                    };
                    match updated.and_then(|new| check_size(&new).map(|()| new)) {
                        Ok(new) => Some(new),
                        Err(error) => {
                            failed = true;
                            reasons.push(json!({ "Code": "ValidationError", "Message": error.message() }));
                            continue;
                        }
                    }
                }
            };
            consumed.write(&item.table, old.as_ref(), new.as_ref());
            writes.extend(item_writes(&item.table, &item.key, old.as_ref(), new.as_ref(), expect, Actor::User)?);
            reasons.push(json!({ "Code": "None" }));
        }
        if failed {
            let codes: Vec<&str> = reasons.iter().map(|r| r["Code"].as_str().unwrap_or("None")).collect();
            return Err(DynamoError::new(
                ErrorKind::TransactionCanceled,
                format!(
                    "Transaction cancelled, please refer cancellation reasons for specific reasons [{}]",
                    codes.join(", ")
                ),
            )
            .with("CancellationReasons", Value::Array(reasons)));
        }
        writes.extend(token_write);
        match dynamo.engine.write(writes).await {
            Ok(_) => {
                let mut response = json!({});
                if let Some(list) = consumed.doubled().list(mode) {
                    response["ConsumedCapacity"] = list;
                }
                return Ok(response);
            }
            Err(EngineError::VersionMismatch { .. }) => backoff.wait().await,
            Err(error) => return Err(error.into()),
        }
    }
    Err(DynamoError::new(
        ErrorKind::TransactionCanceled,
        "Transaction cancelled, please refer cancellation reasons for specific reasons [TransactionConflict]",
    ))
}

pub async fn get(dynamo: &Dynamo, input: TransactGetItemsInput) -> Result<Value> {
    let entries = input.transact_items.unwrap_or_default();
    let gets: Vec<_> = entries.iter().filter_map(|entry| entry.get.as_ref()).collect();
    let tables = tables_of(dynamo, gets.iter().filter_map(|get| get.table_name.as_deref())).await?;
    let mut reads: Vec<(Table, Key, Option<Vec<Path>>)> = Vec::new();
    for get in gets {
        let name = get.table_name.as_deref().unwrap_or_default();
        let table = tables.iter().find(|table| table.name == name).cloned().ok_or_else(DynamoError::not_found)?;
        let key = keys::of_key(&table, &item_of(get.key.as_ref())?)?;
        let mut placeholders = placeholders(get.expression_attribute_names.as_ref(), None)?;
        let paths =
            get.projection_expression.as_deref().map(|text| parse_projection(text, &mut placeholders)).transpose()?;
        placeholders.check_all_used()?;
        reads.push((table, key, paths));
    }
    let rows =
        dynamo.engine.get_many(reads.iter().map(|(table, key, _)| (table.id.clone(), key.clone())).collect()).await?;
    let mut responses = Vec::with_capacity(rows.len());
    let mut consumed = Consumed::default();
    for ((table, _, paths), row) in reads.iter().zip(rows) {
        let size = match &row {
            Some(row) => item_size(&decode_item(&row.value)?),
            None => 0,
        };
        consumed.read(table, None, read_units(size, true));
        match row {
            Some(row) => {
                let item = decode_item(&row.value)?;
                let item = match paths {
                    Some(paths) => project(&item, paths),
                    None => item,
                };
                responses.push(json!({ "Item": item_to_json(&item) }));
            }
            None => responses.push(json!({})),
        }
    }
    let mut response = json!({ "Responses": responses });
    if let Some(list) = consumed.doubled().list(Mode::of(input.return_consumed_capacity.as_deref())) {
        response["ConsumedCapacity"] = list;
    }
    Ok(response)
}
