//! Event filtering for event source mappings: the `FilterCriteria`
//! patterns Lambda takes, in EventBridge's pattern syntax. A record is
//! delivered when it matches any of the mapping's patterns; a pattern
//! matches when every field it names matches. A field's pattern is a list
//! of alternatives: a literal (string, number, boolean, null) or one of
//! `{"prefix": s}`, `{"suffix": s}`, `{"anything-but": v | [v..]}`,
//! `{"numeric": [op, n, (op, n)]}`, `{"exists": bool}`.

use serde_json::Value;

use crate::error::{LambdaError, Result};

/// One parsed pattern (kept as JSON; checked when parsed).
#[derive(Debug, Clone, PartialEq)]
pub struct Pattern(Value);

impl Pattern {
    /// Parses a pattern as Lambda receives it: a JSON text.
    pub fn parse(text: &str) -> Result<Self> {
        let invalid =
            |why: &str| LambdaError::InvalidParameterValue(format!("Invalid filter pattern definition: {why}"));
        let value: Value = serde_json::from_str(text).map_err(|_| invalid("not a JSON object"))?;
        if !value.is_object() {
            return Err(invalid("not a JSON object"));
        }
        check(&value).map_err(|why| invalid(&why))?;
        Ok(Self(value))
    }

    pub fn matches(&self, record: &Value) -> bool {
        matches_object(&self.0, Some(record))
    }
}

fn check(pattern: &Value) -> std::result::Result<(), String> {
    let Some(fields) = pattern.as_object() else { return Err("a field's pattern must be an object or a list".into()) };
    for (name, field) in fields {
        match field {
            Value::Object(_) => check(field)?,
            Value::Array(alternatives) => {
                for alternative in alternatives {
                    if let Value::Object(rule) = alternative {
                        let Some((kind, _)) = rule.iter().next().filter(|_| rule.len() == 1) else {
                            return Err(format!("{name}: a rule has exactly one operator"));
                        };
                        if !["prefix", "suffix", "anything-but", "numeric", "exists"].contains(&kind.as_str()) {
                            return Err(format!("{name}: unknown operator {kind}"));
                        }
                    }
                }
            }
            _ => return Err(format!("{name}: a field's pattern must be an object or a list")),
        }
    }
    Ok(())
}

fn matches_object(pattern: &Value, value: Option<&Value>) -> bool {
    let Some(fields) = pattern.as_object() else { return false };
    fields.iter().all(|(name, field)| {
        let inner = value.and_then(|value| value.get(name));
        match field {
            Value::Object(_) => matches_object(field, inner),
            Value::Array(alternatives) => alternatives.iter().any(|alternative| matches_value(alternative, inner)),
            _ => false,
        }
    })
}

fn matches_value(rule: &Value, value: Option<&Value>) -> bool {
    let Value::Object(rule) = rule else {
        return match value {
            // A list in the record matches if any element does.
            Some(Value::Array(elements)) => elements.iter().any(|element| element == rule),
            Some(value) => value == rule,
            None => false,
        };
    };
    let Some((operator, operand)) = rule.iter().next() else { return false };
    match operator.as_str() {
        "exists" => operand.as_bool() == Some(value.is_some()),
        "prefix" => text(value).zip(operand.as_str()).is_some_and(|(text, prefix)| text.starts_with(prefix)),
        "suffix" => text(value).zip(operand.as_str()).is_some_and(|(text, suffix)| text.ends_with(suffix)),
        "anything-but" => match value {
            None => false,
            Some(value) => match operand {
                Value::Array(excluded) => !excluded.contains(value),
                excluded => value != excluded,
            },
        },
        "numeric" => number(value).is_some_and(|number| numeric(operand, number)),
        _ => false,
    }
}

fn text(value: Option<&Value>) -> Option<&str> {
    value?.as_str()
}

/// A number, or a DynamoDB number (a decimal string).
fn number(value: Option<&Value>) -> Option<f64> {
    match value? {
        Value::Number(number) => number.as_f64(),
        Value::String(text) => text.parse().ok(),
        _ => None,
    }
}

fn numeric(conditions: &Value, number: f64) -> bool {
    let Some(conditions) = conditions.as_array() else { return false };
    conditions.chunks(2).all(|pair| match (pair.first().and_then(Value::as_str), pair.get(1).and_then(Value::as_f64)) {
        (Some("="), Some(bound)) => number == bound,
        (Some("<"), Some(bound)) => number < bound,
        (Some("<="), Some(bound)) => number <= bound,
        (Some(">"), Some(bound)) => number > bound,
        (Some(">="), Some(bound)) => number >= bound,
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn record(event: &str, status: &str, count: &str) -> Value {
        json!({ "eventName": event, "dynamodb": { "NewImage": { "status": { "S": status }, "count": { "N": count } } } })
    }

    #[test]
    fn patterns_match_dynamodb_records_field_by_field() {
        let pattern = Pattern::parse(
            r#"{"eventName": ["INSERT", "MODIFY"], "dynamodb": {"NewImage": {"status": {"S": ["active"]}}}}"#,
        )
        .unwrap();
        assert!(pattern.matches(&record("INSERT", "active", "1")));
        assert!(!pattern.matches(&record("REMOVE", "active", "1")));
        assert!(!pattern.matches(&record("INSERT", "closed", "1")));
        let numeric =
            Pattern::parse(r#"{"dynamodb": {"NewImage": {"count": {"N": [{"numeric": [">", 0, "<=", 5]}]}}}}"#)
                .unwrap();
        assert!(numeric.matches(&record("INSERT", "x", "5")));
        assert!(!numeric.matches(&record("INSERT", "x", "6")));
        let rules = Pattern::parse(r#"{"eventName": [{"anything-but": ["REMOVE"]}], "dynamodb": {"NewImage": {"status": {"S": [{"prefix": "act"}]}}}}"#).unwrap();
        assert!(rules.matches(&record("MODIFY", "active", "1")));
        assert!(!rules.matches(&record("REMOVE", "active", "1")));
        let absent = Pattern::parse(r#"{"dynamodb": {"OldImage": [{"exists": false}]}}"#).unwrap();
        assert!(absent.matches(&record("INSERT", "x", "1")));
    }

    #[test]
    fn malformed_patterns_are_refused() {
        for bad in ["[]", "not json", r#"{"a": 1}"#, r#"{"a": [{"regex": "x"}]}"#] {
            assert!(Pattern::parse(bad).is_err(), "{bad}");
        }
    }
}
