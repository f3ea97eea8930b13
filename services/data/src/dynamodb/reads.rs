//! Query and Scan: reading pages of rows from the engine, then filtering
//! and projecting them, with DynamoDB's `Limit` (rows read, before the
//! filter), its 1 MB page size and `LastEvaluatedKey` pagination.

use std::ops::Bound;

use serde_json::{Value, json};

use super::{
    Dynamo,
    capacity::{Consumed, Mode, read_units},
    error::{DynamoError, Result},
    expr::{
        ExpressionKind, Placeholders,
        ast::{Comparator, Condition, Operand, Path, PathElement},
        eval::{matches, project},
        parser::parse_condition,
    },
    input::{
        items::AttributeMap,
        legacy::Conditions,
        reads::{QueryInput, ScanInput},
    },
    items::{item_of, placeholders, read_projection},
    keys, legacy,
    mutation::decode_item,
    table::{Index, Projection, Table},
    value::{AttributeValue, Item, item_size, item_to_json},
};
use crate::engine::{Key, Row, Segment, prefix_end};

/// The most item data one page reads (1 MB).
const MAX_PAGE_BYTES: usize = 1024 * 1024;
/// Rows fetched from the engine per round trip.
const CHUNK: usize = 128;

/// The members Query and Scan share, borrowed from either input.
struct Common<'a> {
    index_name: Option<&'a str>,
    filter_expression: Option<&'a str>,
    /// `QueryFilter` or `ScanFilter`.
    filter: Option<&'a Conditions>,
    conditional_operator: Option<&'a str>,
    projection_expression: Option<&'a str>,
    attributes_to_get: Option<&'a Vec<String>>,
    select: Option<&'a str>,
    limit: Option<i64>,
    consistent: bool,
    start: Option<&'a AttributeMap>,
    mode: Mode,
}

/// The shared options of Query and Scan.
struct ReadOptions {
    /// The index read instead of the table, if any.
    index: Option<Index>,
    filter: Option<Condition>,
    /// Whether the filter came from `QueryFilter` / `ScanFilter`.
    legacy_filter: bool,
    projection: Option<Vec<Path>>,
    count_only: bool,
    limit: Option<usize>,
    start: Option<Item>,
    consistent: bool,
    mode: Mode,
}

fn read_options(common: &Common, table: &Table, placeholders: &mut Placeholders) -> Result<ReadOptions> {
    let index =
        match common.index_name {
            Some(name) => Some(table.index(name).cloned().ok_or_else(|| {
                DynamoError::validation(format!("The table does not have the specified index: {name}"))
            })?),
            None => None,
        };
    if let Some(index) = &index {
        if index.global && common.consistent {
            return Err(DynamoError::validation("Consistent reads are not supported on global secondary indexes"));
        }
        if common.select == Some("ALL_ATTRIBUTES") && index.projection != Projection::All {
            return Err(DynamoError::invalid_parameter(format!(
                "Select type ALL_ATTRIBUTES is not supported for {} secondary index {} because its projection type is not ALL",
                if index.global { "global" } else { "local" },
                index.name
            )));
        }
    }
    let filter = match (common.filter_expression, common.filter) {
        (Some(text), _) => Some(parse_condition(ExpressionKind::Filter, text, placeholders)?),
        (None, Some(conditions)) => legacy::filter(conditions, common.conditional_operator)?,
        (None, None) => None,
    };
    let projection = read_projection(common.projection_expression, common.attributes_to_get, placeholders)?;
    let projection_member = if common.attributes_to_get.is_some() { "AttributesToGet" } else { "ProjectionExpression" };
    match (common.select, &projection) {
        (Some("SPECIFIC_ATTRIBUTES"), None) => {
            return Err(DynamoError::validation(
                "Must specify the AttributesToGet or ProjectionExpression when choosing to get SPECIFIC_ATTRIBUTES",
            ));
        }
        (Some(select @ ("ALL_ATTRIBUTES" | "COUNT")), Some(_)) => {
            return Err(DynamoError::validation(format!(
                "Cannot specify the {projection_member} when choosing to get {select}"
            )));
        }
        (Some("ALL_PROJECTED_ATTRIBUTES"), _) if index.is_none() => {
            return Err(DynamoError::validation(
                "ALL_PROJECTED_ATTRIBUTES can be used only when Querying using an IndexName",
            ));
        }
        _ => {}
    }
    let start = common.start.map(|start| item_of(Some(start))).transpose()?;
    if let Some(start) = &start {
        start_key(table, index.as_ref(), start).map_err(|error| {
            DynamoError::validation(format!("The provided starting key is invalid: {}", error.message()))
        })?;
    }
    Ok(ReadOptions {
        index,
        filter,
        legacy_filter: common.filter_expression.is_none() && common.filter.is_some(),
        projection,
        count_only: common.select == Some("COUNT"),
        limit: common.limit.map(|limit| limit as usize),
        start,
        consistent: common.consistent,
        mode: common.mode,
    })
}

/// The engine key an `ExclusiveStartKey` names, in the table or the index.
fn start_key(table: &Table, index: Option<&Index>, start: &Item) -> Result<Key> {
    match index {
        None => keys::of_key(table, start),
        Some(index) => {
            keys::of_key(table, &keys::attributes_of(table, start))?;
            keys::of_index_entry(table, index, start)?
                .ok_or_else(|| DynamoError::validation("The provided key element does not match the schema"))
        }
    }
}

/// Runs the read loop over `fetch`, which returns the next rows after a key.
async fn read_pages<F, Fut>(table: &Table, options: ReadOptions, mut fetch: F) -> Result<Value>
where
    F: FnMut(Option<Key>, usize) -> Fut,
    Fut: std::future::Future<Output = Result<Vec<Row>>>,
{
    let mut items = Vec::new();
    let (mut count, mut scanned, mut bytes) = (0usize, 0usize, 0usize);
    let mut after = match &options.start {
        Some(start) => Some(start_key(table, options.index.as_ref(), start)?),
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
                last_evaluated = Some(match &options.index {
                    Some(index) => keys::attributes_of_entry(table, index, &item),
                    None => keys::attributes_of(table, &item),
                });
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
    // A page is billed on the bytes it read, before the filter, at least
    // the minimum of one read.
    let mut consumed = Consumed::default();
    consumed.read(table, options.index.as_ref(), read_units(bytes, options.consistent));
    if let Some(consumed) = consumed.one(table, options.mode) {
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

/// A Query's key condition, split along the key schema.
struct KeyMatch {
    /// The values of the partition attributes, in key-schema order.
    partition: Vec<AttributeValue>,
    /// The sort attributes given by equality before the last one conditioned
    /// (multi-attribute sort keys), in key-schema order.
    sort_prefix: Vec<AttributeValue>,
    /// The condition on the last sort attribute conditioned.
    sort: Option<SortCondition>,
}

/// Splits a key condition along the key schema: every partition attribute
/// by equality; sort attributes left to right without a gap, equality on
/// all but the last, which may take any sort condition.
fn key_condition(table: &Table, hash_keys: &[&str], range_keys: &[&str], condition: &Condition) -> Result<KeyMatch> {
    let mut parts = Vec::new();
    flatten(condition, &mut parts);
    let names: Vec<&str> = hash_keys.iter().chain(range_keys).copied().collect();
    let mut found: Vec<Option<SortCondition>> = names.iter().map(|_| None).collect();
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
        let Some(position) = names.iter().position(|key| *key == name) else {
            // DynamoDB names the first key attribute still without a condition.
            let missing = names.iter().zip(&found).find(|(_, given)| given.is_none()).map_or(name, |(key, _)| *key);
            return Err(DynamoError::validation(format!("Query condition missed key schema element: {missing}")));
        };
        if found[position].is_some() {
            return Err(DynamoError::validation("KeyConditionExpressions must only contain one condition per key"));
        }
        found[position] = Some(sort_condition);
    }
    let check_type = |name: &str, value: &AttributeValue| -> Result<()> {
        let expected = table.attribute_type(name).map(|kind| kind.name());
        if expected != Some(super::value::type_name(value)) {
            return Err(DynamoError::invalid_parameter("Condition parameter type does not match schema type"));
        }
        Ok(())
    };
    let mut found = found.into_iter();
    let mut partition = Vec::with_capacity(hash_keys.len());
    for (name, given) in hash_keys.iter().zip(found.by_ref()) {
        match given {
            Some(SortCondition::Compare(Comparator::Eq, value)) => {
                check_type(name, &value)?;
                partition.push(value);
            }
            Some(_) => return Err(unsupported()),
            None => return Err(DynamoError::validation(format!("Query condition missed key schema element: {name}"))),
        }
    }
    let sorts: Vec<(&str, Option<SortCondition>)> = range_keys.iter().copied().zip(found).collect();
    let conditioned = sorts.iter().rposition(|(_, given)| given.is_some()).map_or(0, |last| last + 1);
    if let Some((skipped, _)) = sorts[..conditioned].iter().find(|(_, given)| given.is_none()) {
        return Err(DynamoError::validation(format!("Query condition missed key schema element: {skipped}")));
    }
    let mut sort_prefix = Vec::new();
    let mut sort = None;
    for (position, (name, given)) in sorts.into_iter().take(conditioned).enumerate() {
        let Some(given) = given else { continue };
        if position + 1 < conditioned {
            // Only the last sort attribute conditioned may take a range.
            let SortCondition::Compare(Comparator::Eq, value) = given else { return Err(unsupported()) };
            check_type(name, &value)?;
            sort_prefix.push(value);
            continue;
        }
        match &given {
            SortCondition::Compare(Comparator::Ne, _) => return Err(unsupported()),
            SortCondition::Compare(_, value) => check_type(name, value)?,
            SortCondition::Between(low, high) => {
                check_type(name, low)?;
                check_type(name, high)?;
            }
            SortCondition::BeginsWith(prefix) => {
                if matches!(prefix, AttributeValue::N(_)) {
                    return Err(ExpressionKind::KeyCondition.invalid(
                        "Incorrect operand type for operator or function; operator or function: begins_with, operand type: N",
                    ));
                }
                check_type(name, prefix)?;
            }
        }
        sort = Some(given);
    }
    Ok(KeyMatch { partition, sort_prefix, sort })
}

/// Puts the escaped sort values given by equality before both bounds, and
/// keeps an open side within them.
fn within_prefix(prefix: &[u8], bounds: (Bound<Vec<u8>>, Bound<Vec<u8>>)) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
    if prefix.is_empty() {
        return bounds;
    }
    let joined = |bytes: Vec<u8>| [prefix, bytes.as_slice()].concat();
    let lower = match bounds.0 {
        Bound::Included(bytes) => Bound::Included(joined(bytes)),
        Bound::Excluded(bytes) => Bound::Excluded(joined(bytes)),
        Bound::Unbounded => Bound::Included(prefix.to_vec()),
    };
    let upper = match bounds.1 {
        Bound::Included(bytes) => Bound::Included(joined(bytes)),
        Bound::Excluded(bytes) => Bound::Excluded(joined(bytes)),
        Bound::Unbounded => prefix_end(prefix),
    };
    (lower, upper)
}

fn sort_bounds(sort: Option<&SortCondition>, escaped: bool) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
    // Index entries start with the escaped range value (see
    // `keys::of_index_entry`): bounds move to the edges of its prefix.
    let at = |value: &AttributeValue| if escaped { keys::escape(&keys::encode(value)) } else { keys::encode(value) };
    let after_all = |value: &AttributeValue| match prefix_end(&at(value)) {
        Bound::Excluded(end) => Bound::Included(end),
        other => other,
    };
    let lower_included = |value: &AttributeValue| Bound::Included(at(value));
    let lower_excluded = |value: &AttributeValue| if escaped { after_all(value) } else { Bound::Excluded(at(value)) };
    let upper_included =
        |value: &AttributeValue| if escaped { prefix_end(&at(value)) } else { Bound::Included(at(value)) };
    let upper_excluded = |value: &AttributeValue| Bound::Excluded(at(value));
    match sort {
        None => (Bound::Unbounded, Bound::Unbounded),
        Some(SortCondition::Compare(comparator, value)) => match comparator {
            Comparator::Eq => (lower_included(value), upper_included(value)),
            Comparator::Lt => (Bound::Unbounded, upper_excluded(value)),
            Comparator::Le => (Bound::Unbounded, upper_included(value)),
            Comparator::Gt => (lower_excluded(value), Bound::Unbounded),
            Comparator::Ge => (lower_included(value), Bound::Unbounded),
            Comparator::Ne => (Bound::Unbounded, Bound::Unbounded),
        },
        Some(SortCondition::Between(low, high)) => (lower_included(low), upper_included(high)),
        Some(SortCondition::BeginsWith(prefix)) => {
            let mut bytes = at(prefix);
            if escaped {
                // A prefix of the value, not the whole value: drop the terminator.
                bytes.truncate(bytes.len() - 2);
            }
            let end = prefix_end(&bytes);
            (Bound::Included(bytes), end)
        }
    }
}

/// A Query's filter may not use the key attributes of what it reads.
fn check_filter_keys(key_names: &[&str], condition: Option<&Condition>, legacy_filter: bool) -> Result<()> {
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
            && key_names.contains(&name.as_str())
        {
            return Err(DynamoError::validation(format!(
                "{} can only contain non-primary key attributes: Primary key attribute: {name}",
                if legacy_filter { "QueryFilter" } else { "Filter Expression" }
            )));
        }
    }
    Ok(())
}

pub async fn query(dynamo: &Dynamo, input: QueryInput) -> Result<Value> {
    // `KeyConditions` beside a filter or projection expression is allowed:
    // only with `KeyConditionExpression` does it mix the two styles.
    legacy::check_exclusive(
        &[
            ("ProjectionExpression", input.projection_expression.is_some()),
            ("FilterExpression", input.filter_expression.is_some()),
            ("KeyConditionExpression", input.key_condition_expression.is_some()),
        ],
        &[
            ("AttributesToGet", input.attributes_to_get.is_some()),
            ("QueryFilter", input.query_filter.is_some()),
            ("ConditionalOperator", input.conditional_operator.is_some()),
            ("KeyConditions", input.key_conditions.is_some() && input.key_condition_expression.is_some()),
        ],
        input.expression_attribute_names.is_some(),
        input.expression_attribute_values.is_some(),
    )?;
    if input.key_conditions.is_none() && input.key_condition_expression.is_none() {
        return Err(DynamoError::validation(
            "Either the KeyConditions or KeyConditionExpression parameter must be specified in the request.",
        ));
    }
    let mut placeholders =
        placeholders(input.expression_attribute_names.as_ref(), input.expression_attribute_values.as_ref())?;
    let expression = input
        .key_condition_expression
        .as_deref()
        .map(|text| parse_condition(ExpressionKind::KeyCondition, text, &mut placeholders))
        .transpose()?;
    let table = dynamo.table_named(input.table_name.as_deref().unwrap_or_default()).await?;
    let common = Common {
        index_name: input.index_name.as_deref(),
        filter_expression: input.filter_expression.as_deref(),
        filter: input.query_filter.as_ref(),
        conditional_operator: input.conditional_operator.as_deref(),
        projection_expression: input.projection_expression.as_deref(),
        attributes_to_get: input.attributes_to_get.as_ref(),
        select: input.select.as_deref(),
        limit: input.limit,
        consistent: input.consistent_read.unwrap_or(false),
        start: input.exclusive_start_key.as_ref(),
        mode: Mode::of(input.return_consumed_capacity.as_deref()),
    };
    let options = read_options(&common, &table, &mut placeholders)?;
    placeholders.check_all_used()?;
    let (hash_keys, range_keys, engine_table) = match &options.index {
        Some(index) => (index.hash_keys(), index.range_keys(), index.id.clone()),
        None => (vec![table.hash_key.as_str()], table.range_key.iter().map(String::as_str).collect(), table.id.clone()),
    };
    let condition = match (expression, &input.key_conditions) {
        (Some(condition), _) => condition,
        (None, Some(conditions)) => legacy::key_conditions(conditions, &hash_keys, &range_keys)?,
        (None, None) => unreachable!("checked above"),
    };
    check_filter_keys(
        &[hash_keys.as_slice(), range_keys.as_slice()].concat(),
        options.filter.as_ref(),
        options.legacy_filter,
    )?;
    let KeyMatch { partition, sort_prefix, sort } = key_condition(&table, &hash_keys, &range_keys, &condition)?;
    let partition = keys::index_partition(&partition.iter().collect::<Vec<_>>());
    if let Some(start) = &options.start
        && start_key(&table, options.index.as_ref(), start)?.partition != partition
    {
        // DynamoDB words a start key of another partition by whether the
        // query also bounds the sort key.
        return Err(DynamoError::validation(if sort.is_some() {
            "The query can return at most one row and cannot be restarted"
        } else {
            "The provided starting key is outside query boundaries based on provided conditions"
        }));
    }
    let forward = input.scan_index_forward.unwrap_or(true);
    let escaped = options.index.as_ref().is_some_and(|index| index.range_key.is_some());
    let prefix: Vec<u8> = sort_prefix.iter().flat_map(|value| keys::escape(&keys::encode(value))).collect();
    let bounds = within_prefix(&prefix, sort_bounds(sort.as_ref(), escaped));
    if let Some(start) = &options.start {
        let clustering = start_key(&table, options.index.as_ref(), start)?.clustering;
        let above = match &bounds.0 {
            Bound::Included(low) => clustering >= *low,
            Bound::Excluded(low) => clustering > *low,
            Bound::Unbounded => true,
        };
        let below = match &bounds.1 {
            Bound::Included(high) => clustering <= *high,
            Bound::Excluded(high) => clustering < *high,
            Bound::Unbounded => true,
        };
        if !above || !below {
            return Err(DynamoError::validation("The provided starting key does not match the range key predicate"));
        }
    }
    let engine = dynamo.engine.clone();
    let id = engine_table;
    read_pages(&table, options, |after, limit| {
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

pub async fn scan(dynamo: &Dynamo, input: ScanInput) -> Result<Value> {
    legacy::check_exclusive(
        &[
            ("ProjectionExpression", input.projection_expression.is_some()),
            ("FilterExpression", input.filter_expression.is_some()),
        ],
        &[
            ("AttributesToGet", input.attributes_to_get.is_some()),
            ("ScanFilter", input.scan_filter.is_some()),
            ("ConditionalOperator", input.conditional_operator.is_some()),
        ],
        input.expression_attribute_names.is_some(),
        input.expression_attribute_values.is_some(),
    )?;
    let mut placeholders =
        placeholders(input.expression_attribute_names.as_ref(), input.expression_attribute_values.as_ref())?;
    let table = dynamo.table_named(input.table_name.as_deref().unwrap_or_default()).await?;
    let common = Common {
        index_name: input.index_name.as_deref(),
        filter_expression: input.filter_expression.as_deref(),
        filter: input.scan_filter.as_ref(),
        conditional_operator: input.conditional_operator.as_deref(),
        projection_expression: input.projection_expression.as_deref(),
        attributes_to_get: input.attributes_to_get.as_ref(),
        select: input.select.as_deref(),
        limit: input.limit,
        consistent: input.consistent_read.unwrap_or(false),
        start: input.exclusive_start_key.as_ref(),
        mode: Mode::of(input.return_consumed_capacity.as_deref()),
    };
    let options = read_options(&common, &table, &mut placeholders)?;
    placeholders.check_all_used()?;
    let (segment, total) = (input.segment, input.total_segments);
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
            if segment >= total {
                return Err(DynamoError::validation(format!(
                    "The Segment parameter is zero-based and must be less than parameter TotalSegments: Segment: {segment} is not less than TotalSegments: {total}"
                )));
            }
            Segment { segment: segment as u32, total: total as u32 }
        }
    };
    let engine = dynamo.engine.clone();
    let id = options.index.as_ref().map_or_else(|| table.id.clone(), |index| index.id.clone());
    read_pages(&table, options, |after, limit| {
        let (engine, id) = (engine.clone(), id.clone());
        async move { Ok(engine.scan(&id, segment, after, limit).await?) }
    })
    .await
}
