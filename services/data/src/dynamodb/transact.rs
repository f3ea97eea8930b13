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
    error::{DynamoError, ErrorKind, Result},
    expr::{
        ExpressionKind, Placeholders,
        ast::{Condition, Path, Update},
        eval::{matches, project},
        parser::{parse_condition, parse_projection, parse_update},
        update::apply,
    },
    items::check_size,
    keys,
    mutation::{Actor, decode_item, item_writes},
    request::{Request, validation_error},
    table::Table,
    value::{Item, item_from_json, item_to_json},
};
use crate::{
    engine::{Change, EngineError, Expect, Key, Write},
    records::RecordStore,
};

const MAX_TRANSACTION_ITEMS: usize = 100;
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

fn plan(dynamo_tables: &[Table], entry: &Value) -> Result<Planned> {
    let kinds = ["ConditionCheck", "Put", "Delete", "Update"];
    let present: Vec<&str> =
        kinds.iter().copied().filter(|kind| entry.get(*kind).is_some_and(|v| !v.is_null())).collect();
    let [kind] = present.as_slice() else {
        return Err(DynamoError::validation("TransactItems can only contain one of Check, Put, Update or Delete"));
    };
    let body = &entry[*kind];
    let request = Request::new(body.clone());
    let name = request.required_str("TableName", "tableName")?;
    let table = dynamo_tables.iter().find(|table| table.name == name).cloned().ok_or_else(DynamoError::not_found)?;
    let mut placeholders = Placeholders::from_request(body)?;
    let condition = request
        .optional_str("ConditionExpression")?
        .map(|text| parse_condition(ExpressionKind::Condition, text, &mut placeholders))
        .transpose()?;
    let (key, key_item, operation) = match *kind {
        "Put" => {
            let item = item_from_json(request.required_object("Item", "item")?)?;
            check_size(&item)?;
            (keys::of_item(&table, &item)?, keys::attributes_of(&table, &item), Operation::Put(item))
        }
        _ => {
            let key_item = item_from_json(request.required_object("Key", "key")?)?;
            let key = keys::of_key(&table, &key_item)?;
            let operation = match *kind {
                "Delete" => Operation::Delete,
                "Update" => Operation::Update(Some(parse_update(
                    request.required_str("UpdateExpression", "updateExpression")?,
                    &mut placeholders,
                )?)),
                _ => {
                    if condition.is_none() {
                        return Err(validation_error(
                            "Value null at 'transactItems.1.member.conditionCheck.conditionExpression' failed to satisfy constraint: Member must not be null",
                        ));
                    }
                    Operation::Check
                }
            };
            (key, key_item, operation)
        }
    };
    placeholders.check_all_used()?;
    let return_old_on_failure = request.optional_str("ReturnValuesOnConditionCheckFailure")? == Some("ALL_OLD");
    Ok(Planned { table, key, key_item, operation, condition, return_old_on_failure })
}

async fn tables_of(dynamo: &Dynamo, entries: &[Value], member: &[&str]) -> Result<Vec<Table>> {
    let mut names = BTreeSet::new();
    for entry in entries {
        for kind in member {
            if let Some(name) = entry.get(*kind).and_then(|body| body.get("TableName")).and_then(Value::as_str) {
                names.insert(name.to_owned());
            }
        }
    }
    let mut tables = Vec::new();
    for name in names {
        tables.push(dynamo.find_table(&name).await?.ok_or_else(DynamoError::not_found)?);
    }
    Ok(tables)
}

fn check_count(entries: &[Value]) -> Result<()> {
    if entries.is_empty() || entries.len() > MAX_TRANSACTION_ITEMS {
        return Err(validation_error(format!(
            "Value at 'transactItems' failed to satisfy constraint: Member must have length {} {}",
            if entries.is_empty() { "greater than or equal to" } else { "less than or equal to" },
            if entries.is_empty() { 1 } else { MAX_TRANSACTION_ITEMS }
        )));
    }
    Ok(())
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

pub async fn write(dynamo: &Dynamo, request: &Request) -> Result<Value> {
    let entries = request.required_array("TransactItems", "transactItems")?;
    check_count(entries)?;
    let token = request.optional_str("ClientRequestToken")?;
    let mut canonical = request.body.clone();
    if let Some(body) = canonical.as_object_mut() {
        body.remove("ClientRequestToken");
    }
    let digest = hex::encode(Sha256::digest(canonical.to_string().as_bytes()));
    if let Some(token) = token
        && (token.is_empty() || token.len() > 36)
    {
        return Err(validation_error(
            "Value at 'clientRequestToken' failed to satisfy constraint: Member must have length less than or equal to 36",
        ));
    }
    let tables = tables_of(dynamo, entries, &["ConditionCheck", "Put", "Delete", "Update"]).await?;
    let planned = entries.iter().map(|entry| plan(&tables, entry)).collect::<Result<Vec<_>>>()?;
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
            Ok(_) => return Ok(json!({})),
            Err(EngineError::VersionMismatch { .. }) => backoff.wait().await,
            Err(error) => return Err(error.into()),
        }
    }
    Err(DynamoError::new(
        ErrorKind::TransactionCanceled,
        "Transaction cancelled, please refer cancellation reasons for specific reasons [TransactionConflict]",
    ))
}

pub async fn get(dynamo: &Dynamo, request: &Request) -> Result<Value> {
    let entries = request.required_array("TransactItems", "transactItems")?;
    check_count(entries)?;
    let tables = tables_of(dynamo, entries, &["Get"]).await?;
    let mut reads: Vec<(Table, Key, Option<Vec<Path>>)> = Vec::new();
    for entry in entries {
        let body = entry
            .get("Get")
            .filter(|v| !v.is_null())
            .ok_or_else(|| DynamoError::validation("TransactItems entries must contain a Get"))?;
        let request = Request::new(body.clone());
        let name = request.required_str("TableName", "tableName")?;
        let table = tables.iter().find(|table| table.name == name).cloned().ok_or_else(DynamoError::not_found)?;
        let key = keys::of_key(&table, &item_from_json(request.required_object("Key", "key")?)?)?;
        let mut placeholders = Placeholders::from_request(body)?;
        let paths = request
            .optional_str("ProjectionExpression")?
            .map(|text| parse_projection(text, &mut placeholders))
            .transpose()?;
        placeholders.check_all_used()?;
        reads.push((table, key, paths));
    }
    let rows =
        dynamo.engine.get_many(reads.iter().map(|(table, key, _)| (table.id.clone(), key.clone())).collect()).await?;
    let mut responses = Vec::with_capacity(rows.len());
    for ((_, _, paths), row) in reads.iter().zip(rows) {
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
    Ok(json!({ "Responses": responses }))
}
