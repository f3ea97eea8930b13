//! The legacy (pre-expression) parameters, translated into the expression
//! AST so one evaluator serves both: `Expected` and `QueryFilter` /
//! `ScanFilter` become a [`Condition`], `KeyConditions` a key condition,
//! `AttributeUpdates` an [`Update`], `AttributesToGet` a projection. The
//! checks and messages are DynamoDB's ("Legacy conditional parameters" in
//! its developer guide, and the `Condition` / `ExpectedAttributeValue`
//! shapes of its API reference).

use super::{
    error::{DynamoError, Result},
    expr::ast::{Comparator, Condition, Operand, Path, PathElement, SetOperand, SetValue, Update},
    expr::eval::compare,
    input::legacy::{AttributeUpdates, Conditions, Expected},
    value::{AttributeValue, type_name},
};

fn invalid(message: impl AsRef<str>) -> DynamoError {
    DynamoError::invalid_parameter(message)
}

/// DynamoDB's refusal of a request mixing both styles, and of expression
/// placeholders without expressions. `expressions` and `legacy` pair each
/// member's name with whether the request gives it; `ProjectionExpression`
/// uses no values, so it does not make `ExpressionAttributeValues` legal.
pub fn check_exclusive(
    expressions: &[(&str, bool)],
    legacy: &[(&str, bool)],
    names_given: bool,
    values_given: bool,
) -> Result<()> {
    let used: Vec<&str> = expressions.iter().filter(|(_, given)| *given).map(|(name, _)| *name).collect();
    let old: Vec<&str> = legacy.iter().filter(|(_, given)| *given).map(|(name, _)| *name).collect();
    if !used.is_empty() && !old.is_empty() {
        return Err(DynamoError::validation(format!(
            "Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {{{}}} Expression parameters: {{{}}}",
            old.join(", "),
            used.join(", ")
        )));
    }
    if names_given && used.is_empty() {
        return Err(DynamoError::validation("ExpressionAttributeNames can only be specified when using expressions"));
    }
    let value_expressions: Vec<&str> =
        expressions.iter().map(|(name, _)| *name).filter(|name| *name != "ProjectionExpression").collect();
    let any_value_expression = expressions.iter().any(|(name, given)| *given && *name != "ProjectionExpression");
    if values_given && !value_expressions.is_empty() && !any_value_expression {
        return Err(DynamoError::validation(format!(
            "ExpressionAttributeValues can only be specified when using expressions: {} {} null",
            value_expressions.join(" and "),
            if value_expressions.len() > 1 { "are" } else { "is" }
        )));
    }
    Ok(())
}

/// How many values each operator takes (`None`: one or more).
fn arity(operator: &str) -> Option<usize> {
    match operator {
        "NULL" | "NOT_NULL" => Some(0),
        "BETWEEN" => Some(2),
        "IN" => None,
        _ => Some(1),
    }
}

/// The value types each operator accepts in its `AttributeValueList`.
fn accepted_types(operator: &str) -> &'static [&'static str] {
    match operator {
        "EQ" | "NE" => &["S", "N", "B", "SS", "NS", "BS"],
        "BEGINS_WITH" => &["S", "B"],
        "NULL" | "NOT_NULL" => &[],
        _ => &["S", "N", "B"],
    }
}

fn parse_values(values: &[serde_json::Value]) -> Result<Vec<AttributeValue>> {
    values.iter().map(AttributeValue::from_json).collect()
}

/// Checks an operator's values: their number, one type, types the
/// operator accepts, and a BETWEEN range in order.
fn check_values(operator: &str, values: &[AttributeValue], check_types: bool) -> Result<()> {
    let count_ok = match arity(operator) {
        Some(expected) => values.len() == expected,
        None => !values.is_empty(),
    };
    if !count_ok {
        return Err(invalid(format!("Invalid number of argument(s) for the {operator} ComparisonOperator")));
    }
    if let Some(first) = values.first()
        && values.iter().any(|value| type_name(value) != type_name(first))
    {
        return Err(invalid("AttributeValues inside AttributeValueList must be of same type"));
    }
    if check_types {
        for value in values {
            if !accepted_types(operator).contains(&type_name(value)) {
                return Err(invalid(format!(
                    "ComparisonOperator {operator} is not valid for {} AttributeValue type",
                    type_name(value)
                )));
            }
        }
    }
    if operator == "BETWEEN" && compare(&values[0], &values[1]) == Some(std::cmp::Ordering::Greater) {
        return Err(DynamoError::validation(
            "The BETWEEN condition was provided a range where the lower bound is greater than the upper bound",
        ));
    }
    Ok(())
}

fn path_of(name: &str) -> Path {
    vec![PathElement::Name(name.to_owned())]
}

/// One `attribute OPERATOR values` comparison as a condition; the values
/// were checked against the operator's arity.
fn comparison(name: &str, operator: &str, values: Vec<AttributeValue>) -> Condition {
    let path = || Operand::Path(path_of(name));
    let mut values = values.into_iter().map(Operand::Value);
    let mut value = || values.next().unwrap_or(Operand::Value(AttributeValue::Null));
    match operator {
        "NULL" => Condition::AttributeNotExists(path_of(name)),
        "NOT_NULL" => Condition::AttributeExists(path_of(name)),
        "CONTAINS" => Condition::Contains(path(), value()),
        "NOT_CONTAINS" => Condition::Not(Box::new(Condition::Contains(path(), value()))),
        "BEGINS_WITH" => Condition::BeginsWith(path(), value()),
        "BETWEEN" => {
            let low = value();
            Condition::Between(path(), low, value())
        }
        "IN" => {
            let first = value();
            Condition::In(path(), std::iter::once(first).chain(values).collect())
        }
        other => {
            let comparator = match other {
                "NE" => Comparator::Ne,
                "LT" => Comparator::Lt,
                "LE" => Comparator::Le,
                "GT" => Comparator::Gt,
                "GE" => Comparator::Ge,
                _ => Comparator::Eq,
            };
            Condition::Compare(path(), comparator, value())
        }
    }
}

/// Joins conditions with `ConditionalOperator` (AND unless OR).
fn join(conditions: Vec<Condition>, operator: Option<&str>) -> Option<Condition> {
    conditions.into_iter().reduce(|left, right| match operator {
        Some("OR") => Condition::Or(Box::new(left), Box::new(right)),
        _ => Condition::And(Box::new(left), Box::new(right)),
    })
}

/// `Expected` as a condition on the item.
pub fn expected(expected: &Expected, operator: Option<&str>) -> Result<Option<Condition>> {
    let mut conditions = Vec::with_capacity(expected.len());
    for (name, entry) in expected {
        if entry.value.is_some() && entry.attribute_value_list.is_some() {
            return Err(invalid(format!("Value and AttributeValueList cannot be used together for Attribute: {name}")));
        }
        if let Some(comparison_operator) = &entry.comparison_operator {
            if entry.exists.is_some() {
                return Err(invalid(format!(
                    "Exists and ComparisonOperator cannot be used together for Attribute: {name}"
                )));
            }
            let values = match (&entry.attribute_value_list, &entry.value) {
                (Some(list), _) => parse_values(list)?,
                (None, Some(value)) => vec![AttributeValue::from_json(value)?],
                (None, None) if arity(comparison_operator) == Some(0) => Vec::new(),
                (None, None) => {
                    return Err(invalid(format!(
                        "Value or AttributeValueList must be used with ComparisonOperator: {comparison_operator} for Attribute: {name}"
                    )));
                }
            };
            check_values(comparison_operator, &values, false)?;
            conditions.push(comparison(name, comparison_operator, values));
            continue;
        }
        if entry.attribute_value_list.is_some() {
            return Err(invalid(format!(
                "AttributeValueList can only be used with a ComparisonOperator for Attribute: {name}"
            )));
        }
        match (entry.exists, &entry.value) {
            (Some(false), None) => conditions.push(Condition::AttributeNotExists(path_of(name))),
            (Some(false), Some(_)) => {
                return Err(invalid(format!("Value cannot be used when Exists is false for Attribute: {name}")));
            }
            (exists, None) => {
                return Err(invalid(format!(
                    "Value must be provided when Exists is {} for Attribute: {name}",
                    if exists.is_some() { "true" } else { "null" }
                )));
            }
            (_, Some(value)) => conditions.push(comparison(name, "EQ", vec![AttributeValue::from_json(value)?])),
        }
    }
    Ok(join(conditions, operator))
}

fn conditions_of(conditions: &Conditions) -> Result<Vec<(String, String, Vec<AttributeValue>)>> {
    let mut parsed = Vec::with_capacity(conditions.len());
    for (name, entry) in conditions {
        // The operator's presence is a constraint checked with the input.
        let operator = entry.comparison_operator.clone().unwrap_or_default();
        let values = parse_values(entry.attribute_value_list.as_deref().unwrap_or_default())?;
        check_values(&operator, &values, true)?;
        parsed.push((name.clone(), operator, values));
    }
    Ok(parsed)
}

/// `QueryFilter` or `ScanFilter` as a filter condition.
pub fn filter(conditions: &Conditions, operator: Option<&str>) -> Result<Option<Condition>> {
    let parsed = conditions_of(conditions)?;
    Ok(join(parsed.into_iter().map(|(name, op, values)| comparison(&name, &op, values)).collect(), operator))
}

/// `KeyConditions` as a key condition on the `hash` (and `range`) key
/// attributes, checked with DynamoDB's rules for them.
pub fn key_conditions(conditions: &Conditions, hash: &[&str], range: &[&str]) -> Result<Condition> {
    let parsed = conditions_of(conditions)?;
    let most = hash.len() + range.len();
    if parsed.is_empty() || parsed.len() > most.max(2) {
        return Err(DynamoError::validation("Conditions can be of length 1 or 2 only"));
    }
    if range.is_empty() && parsed.len() > hash.len() {
        return Err(DynamoError::validation("Query key condition not supported"));
    }
    for key in hash.iter().chain(range) {
        let Some((_, operator, _)) = parsed.iter().find(|(name, _, _)| name == key) else {
            if hash.contains(key) || parsed.len() > hash.len() {
                return Err(DynamoError::validation(format!("Query condition missed key schema element: {key}")));
            }
            continue;
        };
        if ["NULL", "NOT_NULL", "NE", "CONTAINS", "NOT_CONTAINS", "IN"].contains(&operator.as_str()) {
            return Err(DynamoError::validation("Attempted conditional constraint is not an indexable operation"));
        }
    }
    let conditions = parsed.into_iter().map(|(name, op, values)| comparison(&name, &op, values)).collect();
    join(conditions, None).ok_or_else(|| DynamoError::validation("Conditions can be of length 1 or 2 only"))
}

/// `AttributesToGet` as projection paths.
pub fn attributes_to_get(names: &[String]) -> Result<Vec<Path>> {
    let mut seen = std::collections::BTreeSet::new();
    for name in names {
        if !seen.insert(name.as_str()) {
            return Err(invalid(format!("Duplicate value in attribute name: {name}")));
        }
    }
    Ok(names.iter().map(|name| path_of(name)).collect())
}

/// `AttributeUpdates` as update actions. `ADD` of a list appends to it,
/// which update expressions spell `list_append(if_not_exists(...))`.
pub fn attribute_updates(updates: &AttributeUpdates) -> Result<Update> {
    let mut update = Update::default();
    for (name, entry) in updates {
        let action = entry.action.as_deref().unwrap_or("PUT");
        let value = entry.value.as_ref().map(AttributeValue::from_json).transpose()?;
        let path = path_of(name);
        match (action, value) {
            ("DELETE", None) => update.remove.push(path),
            (_, None) => return Err(invalid("Only DELETE action is allowed when no attribute value is specified")),
            ("DELETE", Some(value)) => {
                if !matches!(value, AttributeValue::Ss(_) | AttributeValue::Ns(_) | AttributeValue::Bs(_)) {
                    return Err(invalid(format!(
                        "DELETE action with value is not supported for the type {}",
                        type_name(&value)
                    )));
                }
                update.delete.push((path, value));
            }
            ("ADD", Some(AttributeValue::L(list))) => {
                let existing =
                    SetOperand::IfNotExists(path.clone(), Box::new(SetOperand::Value(AttributeValue::L(vec![]))));
                let appended =
                    SetOperand::ListAppend(Box::new(existing), Box::new(SetOperand::Value(AttributeValue::L(list))));
                update.set.push((path, SetValue::Operand(appended)));
            }
            ("ADD", Some(value)) => {
                if !matches!(
                    value,
                    AttributeValue::N(_) | AttributeValue::Ss(_) | AttributeValue::Ns(_) | AttributeValue::Bs(_)
                ) {
                    return Err(invalid(format!("ADD action is not supported for the type {}", type_name(&value))));
                }
                update.add.push((path, value));
            }
            (_, Some(value)) => update.set.push((path, SetValue::Operand(SetOperand::Value(value)))),
        }
    }
    Ok(update)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::dynamodb::{expr::eval::matches, value::item_from_json};

    fn parsed<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> T {
        serde_json::from_value(value).unwrap()
    }

    fn item() -> crate::dynamodb::value::Item {
        item_from_json(&json!({"a": {"N": "5"}, "s": {"S": "hello"}, "tags": {"SS": ["x", "y"]}})).unwrap()
    }

    #[test]
    fn every_operator_evaluates_as_dynamodb_documents_it() {
        let holds = |operator: &str, values: serde_json::Value, attribute: &str| {
            let conditions: Conditions =
                parsed(json!({ attribute: {"ComparisonOperator": operator, "AttributeValueList": values} }));
            matches(&item(), &filter(&conditions, None).unwrap().unwrap())
        };
        assert!(holds("EQ", json!([{"N": "5"}]), "a"));
        assert!(!holds("EQ", json!([{"S": "5"}]), "a"), "a different type never equals");
        assert!(holds("NE", json!([{"N": "6"}]), "a"));
        assert!(holds("NE", json!([{"N": "6"}]), "missing"));
        assert!(holds("LT", json!([{"N": "6"}]), "a") && holds("LE", json!([{"N": "5"}]), "a"));
        assert!(holds("GT", json!([{"N": "4"}]), "a") && holds("GE", json!([{"N": "5"}]), "a"));
        assert!(holds("NOT_NULL", json!([]), "a") && holds("NULL", json!([]), "missing"));
        assert!(holds("CONTAINS", json!([{"S": "ell"}]), "s") && holds("CONTAINS", json!([{"S": "x"}]), "tags"));
        assert!(holds("NOT_CONTAINS", json!([{"S": "z"}]), "tags"));
        assert!(holds("BEGINS_WITH", json!([{"S": "he"}]), "s"));
        assert!(holds("IN", json!([{"N": "1"}, {"N": "5"}]), "a"));
        assert!(holds("BETWEEN", json!([{"N": "1"}, {"N": "5"}]), "a"));
        assert!(!holds("BETWEEN", json!([{"N": "6"}, {"N": "9"}]), "a"));
    }

    #[test]
    fn operator_arguments_are_checked() {
        let refused = |operator: &str, values: serde_json::Value| {
            let conditions: Conditions =
                parsed(json!({"a": {"ComparisonOperator": operator, "AttributeValueList": values}}));
            filter(&conditions, None).unwrap_err().message().to_owned()
        };
        assert_eq!(
            refused("EQ", json!([])),
            "One or more parameter values were invalid: Invalid number of argument(s) for the EQ ComparisonOperator"
        );
        assert_eq!(
            refused("NULL", json!([{"N": "1"}])),
            "One or more parameter values were invalid: Invalid number of argument(s) for the NULL ComparisonOperator"
        );
        assert_eq!(
            refused("IN", json!([{"N": "1"}, {"S": "1"}])),
            "One or more parameter values were invalid: AttributeValues inside AttributeValueList must be of same type"
        );
        assert_eq!(
            refused("BEGINS_WITH", json!([{"N": "1"}])),
            "One or more parameter values were invalid: ComparisonOperator BEGINS_WITH is not valid for N AttributeValue type"
        );
        assert_eq!(
            refused("BETWEEN", json!([{"N": "5"}, {"N": "1"}])),
            "The BETWEEN condition was provided a range where the lower bound is greater than the upper bound"
        );
    }

    #[test]
    fn expected_follows_exists_and_value() {
        let condition = |value: serde_json::Value| expected(&parsed(value), None);
        let present = condition(json!({"a": {"Value": {"N": "5"}}})).unwrap().unwrap();
        assert!(matches(&item(), &present));
        let absent = condition(json!({"missing": {"Exists": false}})).unwrap().unwrap();
        assert!(matches(&item(), &absent));
        let message = |value| condition(value).unwrap_err().message().to_owned();
        assert_eq!(
            message(json!({"a": {"Exists": true}})),
            "One or more parameter values were invalid: Value must be provided when Exists is true for Attribute: a"
        );
        assert_eq!(
            message(json!({"a": {}})),
            "One or more parameter values were invalid: Value must be provided when Exists is null for Attribute: a"
        );
        assert_eq!(
            message(json!({"a": {"Exists": false, "Value": {"N": "1"}}})),
            "One or more parameter values were invalid: Value cannot be used when Exists is false for Attribute: a"
        );
        assert_eq!(
            message(json!({"a": {"Exists": true, "ComparisonOperator": "EQ"}})),
            "One or more parameter values were invalid: Exists and ComparisonOperator cannot be used together for Attribute: a"
        );
        assert_eq!(
            message(json!({"a": {"ComparisonOperator": "GT"}})),
            "One or more parameter values were invalid: Value or AttributeValueList must be used with ComparisonOperator: GT for Attribute: a"
        );
        assert_eq!(
            message(json!({"a": {"AttributeValueList": [{"N": "1"}]}})),
            "One or more parameter values were invalid: AttributeValueList can only be used with a ComparisonOperator for Attribute: a"
        );
    }

    #[test]
    fn conditional_operator_or_needs_one_condition() {
        let either: Expected = parsed(json!({"a": {"Value": {"N": "1"}}, "s": {"Value": {"S": "hello"}}}));
        assert!(matches(&item(), &expected(&either, Some("OR")).unwrap().unwrap()));
        assert!(!matches(&item(), &expected(&either, None).unwrap().unwrap()));
    }

    #[test]
    fn mixing_styles_is_refused() {
        let error = check_exclusive(&[("ConditionExpression", true)], &[("Expected", true)], false, false).unwrap_err();
        assert_eq!(
            error.message(),
            "Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {Expected} Expression parameters: {ConditionExpression}"
        );
        let error = check_exclusive(&[("ConditionExpression", false)], &[], false, true).unwrap_err();
        assert_eq!(
            error.message(),
            "ExpressionAttributeValues can only be specified when using expressions: ConditionExpression is null"
        );
        let error = check_exclusive(&[("ProjectionExpression", false)], &[], true, false).unwrap_err();
        assert_eq!(error.message(), "ExpressionAttributeNames can only be specified when using expressions");
    }

    #[test]
    fn attribute_updates_become_update_actions() {
        let updates: AttributeUpdates = parsed(json!({
            "p": {"Value": {"S": "x"}},
            "n": {"Action": "ADD", "Value": {"N": "1"}},
            "gone": {"Action": "DELETE"},
            "l": {"Action": "ADD", "Value": {"L": [{"S": "z"}]}},
        }));
        let update = attribute_updates(&updates).unwrap();
        assert_eq!(update.set.len(), 2);
        assert_eq!(update.add.len(), 1);
        assert_eq!(update.remove, vec![path_of("gone")]);
        let refused = |value: serde_json::Value| attribute_updates(&parsed(value)).unwrap_err().message().to_owned();
        assert_eq!(
            refused(json!({"a": {"Action": "PUT"}})),
            "One or more parameter values were invalid: Only DELETE action is allowed when no attribute value is specified"
        );
        assert_eq!(
            refused(json!({"a": {"Action": "DELETE", "Value": {"S": "x"}}})),
            "One or more parameter values were invalid: DELETE action with value is not supported for the type S"
        );
        assert_eq!(
            refused(json!({"a": {"Action": "ADD", "Value": {"S": "x"}}})),
            "One or more parameter values were invalid: ADD action is not supported for the type S"
        );
    }

    #[test]
    fn key_conditions_follow_query_rules() {
        let refused = |value: serde_json::Value, range: Vec<&str>| {
            key_conditions(&parsed(value), &["pk"], range.as_slice()).unwrap_err().message().to_owned()
        };
        assert_eq!(
            refused(json!({"pk": {"ComparisonOperator": "NE", "AttributeValueList": [{"S": "a"}]}}), vec![]),
            "Attempted conditional constraint is not an indexable operation"
        );
        assert_eq!(
            refused(json!({"other": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "a"}]}}), vec![]),
            "Query condition missed key schema element: pk"
        );
        assert_eq!(refused(json!({}), vec![]), "Conditions can be of length 1 or 2 only");
        assert!(
            key_conditions(
                &parsed(json!({
                    "pk": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "a"}]},
                    "sk": {"ComparisonOperator": "BEGINS_WITH", "AttributeValueList": [{"S": "b"}]},
                })),
                &["pk"],
                &["sk"],
            )
            .is_ok()
        );
    }
}
