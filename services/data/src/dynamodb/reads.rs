//! Query and Scan: reading pages of rows from the engine, then filtering
//! and projecting them, with DynamoDB's `Limit` (rows read, before the
//! filter), its 1 MB page size and `LastEvaluatedKey` pagination.

use std::ops::Bound;

use serde_json::{Value, json};

use super::{
    Dynamo,
    error::{DynamoError, Result},
    expr::{
        ExpressionKind, Placeholders,
        ast::{Comparator, Condition, Operand, Path, PathElement},
        eval::{matches, project},
        parser::parse_condition,
    },
    items::{consumed, decode_item, projection},
    keys,
    request::{Request, validation_error},
    table::Table,
    value::{AttributeValue, Item, item_from_json, item_size, item_to_json},
};
use crate::engine::{Key, Row, Segment};

/// The most item data one page reads (1 MB).
const MAX_PAGE_BYTES: usize = 1024 * 1024;
/// Rows fetched from the engine per round trip.
const CHUNK: usize = 128;

/// The shared options of Query and Scan.
struct ReadOptions {
    filter: Option<Condition>,
    projection: Option<Vec<Path>>,
    count_only: bool,
    limit: Option<usize>,
    start: Option<Item>,
}

fn read_options(request: &Request, table: &Table, placeholders: &mut Placeholders) -> Result<ReadOptions> {
    if let Some(index) = request.optional_str("IndexName")? {
        return Err(DynamoError::validation(format!("The table does not have the specified index: {index}")));
    }
    let filter = request
        .optional_str("FilterExpression")?
        .map(|text| parse_condition(ExpressionKind::Filter, text, placeholders))
        .transpose()?;
    let projection = projection(request, placeholders)?;
    let select = request.optional_enum(
        "Select",
        "select",
        &["ALL_ATTRIBUTES", "ALL_PROJECTED_ATTRIBUTES", "SPECIFIC_ATTRIBUTES", "COUNT"],
    )?;
    match (select, &projection) {
        (Some("SPECIFIC_ATTRIBUTES"), None) => {
            return Err(DynamoError::validation(
                "Must specify the AttributesToGet or ProjectionExpression when choosing to get SPECIFIC_ATTRIBUTES",
            ));
        }
        (Some("ALL_ATTRIBUTES") | Some("COUNT"), Some(_)) => {
            return Err(DynamoError::validation(format!(
                "Cannot specify the ProjectionExpression when choosing to get {}",
                select.unwrap_or_default()
            )));
        }
        (Some("ALL_PROJECTED_ATTRIBUTES"), _) => {
            return Err(DynamoError::validation(
                "ALL_PROJECTED_ATTRIBUTES can be used only when Querying using an IndexName",
            ));
        }
        _ => {}
    }
    let limit = request.optional_u64("Limit", "limit", 1)?.map(|limit| limit as usize);
    let start = request.member("ExclusiveStartKey").map(item_from_json).transpose()?;
    if let Some(start) = &start {
        keys::of_key(table, start).map_err(|error| {
            DynamoError::validation(format!("The provided starting key is invalid: {}", error.message()))
        })?;
    }
    Ok(ReadOptions { filter, projection, count_only: select == Some("COUNT"), limit, start })
}

/// Runs the read loop over `fetch`, which returns the next rows after a key.
async fn read_pages<F, Fut>(request: &Request, table: &Table, options: ReadOptions, mut fetch: F) -> Result<Value>
where
    F: FnMut(Option<Key>, usize) -> Fut,
    Fut: std::future::Future<Output = Result<Vec<Row>>>,
{
    let mut items = Vec::new();
    let (mut count, mut scanned, mut bytes) = (0usize, 0usize, 0usize);
    let mut after = match &options.start {
        Some(start) => Some(keys::of_key(table, start)?),
        None => None,
    };
    let mut last_evaluated = None;
    loop {
        let wanted = options.limit.map_or(CHUNK, |limit| (limit - scanned).min(CHUNK));
        let rows = fetch(after.clone(), wanted).await?;
        let exhausted = rows.len() < wanted;
        for row in rows {
            let item = decode_item(&row.value)?;
            scanned += 1;
            bytes += item_size(&item);
            after = Some(row.key.clone());
            if options.filter.as_ref().is_none_or(|filter| matches(&item, filter)) {
                count += 1;
                if !options.count_only {
                    let item = match &options.projection {
                        Some(paths) => project(&item, paths),
                        None => item.clone(),
                    };
                    items.push(item_to_json(&item));
                }
            }
            let full = options.limit.is_some_and(|limit| scanned >= limit) || bytes >= MAX_PAGE_BYTES;
            if full {
                last_evaluated = Some(keys::attributes_of(table, &item));
                break;
            }
        }
        if last_evaluated.is_some() || exhausted {
            break;
        }
    }
    let mut response = json!({ "Count": count, "ScannedCount": scanned });
    if !options.count_only {
        response["Items"] = Value::Array(items);
    }
    if let Some(key) = last_evaluated {
        response["LastEvaluatedKey"] = item_to_json(&key);
    }
    let units = (bytes.div_ceil(4096).max(1)) as f64 * if request.optional_bool("ConsistentRead")? { 1.0 } else { 0.5 };
    if let Some(consumed) = consumed(request, table, units)? {
        response["ConsumedCapacity"] = consumed;
    }
    Ok(response)
}

/// A condition on the sort key, as a Query allows it.
#[derive(Debug)]
enum SortCondition {
    Compare(Comparator, AttributeValue),
    Between(AttributeValue, AttributeValue),
    BeginsWith(AttributeValue),
}

fn flatten<'a>(condition: &'a Condition, into: &mut Vec<&'a Condition>) {
    match condition {
        Condition::And(left, right) => {
            flatten(left, into);
            flatten(right, into);
        }
        other => into.push(other),
    }
}

fn top_level_name(path: &Path) -> Option<&str> {
    match path.as_slice() {
        [PathElement::Name(name)] => Some(name),
        _ => None,
    }
}

fn unsupported() -> DynamoError {
    DynamoError::validation("Query key condition not supported")
}

fn flip(comparator: Comparator) -> Comparator {
    match comparator {
        Comparator::Lt => Comparator::Gt,
        Comparator::Le => Comparator::Ge,
        Comparator::Gt => Comparator::Lt,
        Comparator::Ge => Comparator::Le,
        other => other,
    }
}

/// Splits a key condition into the partition value and the sort condition.
fn key_condition(table: &Table, condition: &Condition) -> Result<(AttributeValue, Option<SortCondition>)> {
    let mut parts = Vec::new();
    flatten(condition, &mut parts);
    let mut hash = None;
    let mut sort = None;
    for part in parts {
        let (name, sort_condition) = match part {
            Condition::Compare(Operand::Path(path), comparator, Operand::Value(value)) => {
                (top_level_name(path).ok_or_else(unsupported)?, SortCondition::Compare(*comparator, value.clone()))
            }
            Condition::Compare(Operand::Value(value), comparator, Operand::Path(path)) => (
                top_level_name(path).ok_or_else(unsupported)?,
                SortCondition::Compare(flip(*comparator), value.clone()),
            ),
            Condition::Between(Operand::Path(path), Operand::Value(low), Operand::Value(high)) => {
                (top_level_name(path).ok_or_else(unsupported)?, SortCondition::Between(low.clone(), high.clone()))
            }
            Condition::BeginsWith(Operand::Path(path), Operand::Value(prefix)) => {
                (top_level_name(path).ok_or_else(unsupported)?, SortCondition::BeginsWith(prefix.clone()))
            }
            _ => return Err(unsupported()),
        };
        let slot = if name == table.hash_key {
            &mut hash
        } else if Some(name) == table.range_key.as_deref() {
            &mut sort
        } else {
            return Err(DynamoError::validation(format!(
                "Query condition missed key schema element: {}",
                if hash.is_none() { table.hash_key.as_str() } else { table.range_key.as_deref().unwrap_or(name) }
            )));
        };
        if slot.is_some() {
            return Err(DynamoError::validation("KeyConditionExpressions must only contain one condition per key"));
        }
        *slot = Some(sort_condition);
    }
    let hash_value = match hash {
        Some(SortCondition::Compare(Comparator::Eq, value)) => value,
        Some(_) => return Err(unsupported()),
        None => {
            return Err(DynamoError::validation(format!(
                "Query condition missed key schema element: {}",
                table.hash_key
            )));
        }
    };
    let check_type = |name: &str, value: &AttributeValue| -> Result<()> {
        let expected = table.attribute_type(name).map(|kind| kind.name());
        if expected != Some(super::value::type_name(value)) {
            return Err(DynamoError::invalid_parameter("Condition parameter type does not match schema type"));
        }
        Ok(())
    };
    check_type(&table.hash_key, &hash_value)?;
    if let (Some(sort), Some(range)) = (&sort, &table.range_key) {
        match sort {
            SortCondition::Compare(Comparator::Ne, _) => return Err(unsupported()),
            SortCondition::Compare(_, value) => check_type(range, value)?,
            SortCondition::Between(low, high) => {
                check_type(range, low)?;
                check_type(range, high)?;
            }
            SortCondition::BeginsWith(prefix) => {
                if matches!(prefix, AttributeValue::N(_)) {
                    return Err(ExpressionKind::KeyCondition.invalid(
                        "Incorrect operand type for operator or function; operator or function: begins_with, operand type: N",
                    ));
                }
                check_type(range, prefix)?;
            }
        }
    }
    Ok((hash_value, sort))
}

/// The smallest byte string greater than every string starting with `prefix`.
fn prefix_end(prefix: &[u8]) -> Bound<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return Bound::Excluded(end);
        }
    }
    Bound::Unbounded
}

fn sort_bounds(sort: Option<&SortCondition>) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
    match sort {
        None => (Bound::Unbounded, Bound::Unbounded),
        Some(SortCondition::Compare(comparator, value)) => {
            let bytes = keys::encode(value);
            match comparator {
                Comparator::Eq => (Bound::Included(bytes.clone()), Bound::Included(bytes)),
                Comparator::Lt => (Bound::Unbounded, Bound::Excluded(bytes)),
                Comparator::Le => (Bound::Unbounded, Bound::Included(bytes)),
                Comparator::Gt => (Bound::Excluded(bytes), Bound::Unbounded),
                Comparator::Ge => (Bound::Included(bytes), Bound::Unbounded),
                Comparator::Ne => (Bound::Unbounded, Bound::Unbounded),
            }
        }
        Some(SortCondition::Between(low, high)) => {
            (Bound::Included(keys::encode(low)), Bound::Included(keys::encode(high)))
        }
        Some(SortCondition::BeginsWith(prefix)) => {
            let bytes = keys::encode(prefix);
            let end = prefix_end(&bytes);
            (Bound::Included(bytes), end)
        }
    }
}

fn check_filter_keys(table: &Table, condition: Option<&Condition>, kind: &str) -> Result<()> {
    fn operand<'a>(operand: &'a Operand, into: &mut Vec<&'a Path>) {
        if let Operand::Path(path) | Operand::Size(path) = operand {
            into.push(path);
        }
    }
    fn paths<'a>(condition: &'a Condition, into: &mut Vec<&'a Path>) {
        match condition {
            Condition::Compare(a, _, b) | Condition::BeginsWith(a, b) | Condition::Contains(a, b) => {
                operand(a, into);
                operand(b, into);
            }
            Condition::Between(a, b, c) => {
                operand(a, into);
                operand(b, into);
                operand(c, into);
            }
            Condition::In(a, list) => {
                operand(a, into);
                for candidate in list {
                    operand(candidate, into);
                }
            }
            Condition::AttributeExists(path) | Condition::AttributeNotExists(path) => into.push(path),
            Condition::AttributeType(path, kind) => {
                into.push(path);
                operand(kind, into);
            }
            Condition::And(a, b) | Condition::Or(a, b) => {
                paths(a, into);
                paths(b, into);
            }
            Condition::Not(a) => paths(a, into),
        }
    }
    let Some(condition) = condition else { return Ok(()) };
    let mut found = Vec::new();
    paths(condition, &mut found);
    for path in found {
        if let Some(PathElement::Name(name)) = path.first()
            && table.key_names().contains(&name.as_str())
        {
            return Err(DynamoError::validation(format!(
                "{kind} can only contain non-primary key attributes: Primary key attribute: {name}"
            )));
        }
    }
    Ok(())
}

pub async fn query(dynamo: &Dynamo, request: &Request) -> Result<Value> {
    let table = dynamo.table(request).await?;
    let mut placeholders = Placeholders::from_request(&request.body)?;
    let Some(text) = request.optional_str("KeyConditionExpression")? else {
        return Err(DynamoError::validation(
            "Either the KeyConditions or KeyConditionExpression parameter must be specified in the request.",
        ));
    };
    let condition = parse_condition(ExpressionKind::KeyCondition, text, &mut placeholders)?;
    let options = read_options(request, &table, &mut placeholders)?;
    placeholders.check_all_used()?;
    check_filter_keys(&table, options.filter.as_ref(), "Filter Expression")?;
    let (hash, sort) = key_condition(&table, &condition)?;
    let partition = keys::encode(&hash);
    if let Some(start) = &options.start
        && keys::of_key(&table, start)?.partition != partition
    {
        return Err(DynamoError::validation("The provided starting key does not match the range key predicate"));
    }
    let forward = request.member("ScanIndexForward").and_then(Value::as_bool).unwrap_or(true);
    let bounds = sort_bounds(sort.as_ref());
    let engine = dynamo.engine.clone();
    let id = table.id.clone();
    read_pages(request, &table, options, |after, limit| {
        let mut bounds = bounds.clone();
        // Continue after the last row read, in the direction of the query.
        if let Some(after) = after {
            if forward {
                bounds.0 = Bound::Excluded(after.clustering);
            } else {
                bounds.1 = Bound::Excluded(after.clustering);
            }
        }
        let (engine, id, partition) = (engine.clone(), id.clone(), partition.clone());
        async move { Ok(engine.query(&id, &partition, bounds, !forward, limit).await?) }
    })
    .await
}

pub async fn scan(dynamo: &Dynamo, request: &Request) -> Result<Value> {
    let table = dynamo.table(request).await?;
    let mut placeholders = Placeholders::from_request(&request.body)?;
    let options = read_options(request, &table, &mut placeholders)?;
    placeholders.check_all_used()?;
    let segment = request.optional_u64("Segment", "segment", 0)?;
    let total = request.optional_u64("TotalSegments", "totalSegments", 1)?;
    let segment = match (segment, total) {
        (None, None) => Segment { segment: 0, total: 1 },
        (Some(_), None) => {
            return Err(DynamoError::validation(
                "The TotalSegments parameter is required but was not present in the request when Segment parameter is present",
            ));
        }
        (None, Some(_)) => {
            return Err(DynamoError::validation(
                "The Segment parameter is required but was not present in the request when parameter TotalSegments is present",
            ));
        }
        (Some(segment), Some(total)) => {
            if total > 1_000_000 {
                return Err(validation_error(format!(
                    "Value '{total}' at 'totalSegments' failed to satisfy constraint: Member must have value less than or equal to 1000000"
                )));
            }
            if segment >= total {
                return Err(DynamoError::validation(format!(
                    "The Segment parameter is zero-based and must be less than parameter TotalSegments: Segment: {segment} is not less than TotalSegments: {total}"
                )));
            }
            Segment { segment: segment as u32, total: total as u32 }
        }
    };
    let engine = dynamo.engine.clone();
    let id = table.id.clone();
    read_pages(request, &table, options, |after, limit| {
        let (engine, id) = (engine.clone(), id.clone());
        async move { Ok(engine.scan(&id, segment, after, limit).await?) }
    })
    .await
}
