//! Typed requests: one input struct per operation, decoded from the JSON
//! body with serde and then checked by a validation pass that words its
//! findings as DynamoDB does (`1 validation error detected: Value ... at
//! '...' failed to satisfy constraint: ...`).
//!
//! DynamoDB ignores members it does not know (an SDK newer than the
//! service sends them), so the structs accept unknown members; a member of
//! the wrong JSON type is a `SerializationException` in the wording of
//! DynamoDB's deserializer (see [`decode`]). A null member is an absent one.

pub mod backups;
pub mod batch;
pub mod catalog;
pub mod decode;
pub mod items;
pub mod legacy;
pub mod reads;
pub mod streams;
pub mod tables;
pub mod transact;

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::error::{DynamoError, Result};

/// An operation's input: decoded, then validated.
pub trait Input: DeserializeOwned {
    /// Records every constraint the input breaks.
    fn validate(&self, violations: &mut Violations);
}

/// Decodes and validates an operation's input.
pub fn parse<T: Input>(body: &Value) -> Result<T> {
    let input: T = decode::decode(body)?;
    let mut violations = Violations::default();
    input.validate(&mut violations);
    violations.finish()?;
    Ok(input)
}

/// The constraint violations found in one request, in the order found.
#[derive(Debug, Default)]
pub struct Violations {
    found: Vec<String>,
    /// A rule DynamoDB checks before the constraint list (table-name length).
    first: Option<DynamoError>,
}

/// DynamoDB reports at most this many violations in one message.
const MAX_REPORTED: usize = 10;

/// How a value appears in a violation: strings bare, lists bracketed,
/// maps as JSON.
pub fn describe(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Array(items) => format!("[{}]", items.iter().map(describe).collect::<Vec<_>>().join(", ")),
        other => other.to_string(),
    }
}

impl Violations {
    /// One broken constraint on the value at `member` (`None`: null).
    pub fn push(&mut self, value: Option<String>, member: &str, constraint: impl AsRef<str>) {
        if self.found.len() >= MAX_REPORTED {
            return;
        }
        let value = value.map_or_else(|| "null".to_owned(), |value| format!("'{value}'"));
        self.found.push(format!("Value {value} at '{member}' failed to satisfy constraint: {}", constraint.as_ref()));
    }

    pub fn not_null<T>(&mut self, value: &Option<T>, member: &str) {
        if value.is_none() {
            self.push(None, member, "Member must not be null");
        }
    }

    pub fn one_of(&mut self, value: Option<&str>, member: &str, allowed: &[&str]) {
        if let Some(value) = value
            && !allowed.contains(&value)
        {
            self.push(
                Some(value.to_owned()),
                member,
                format!("Member must satisfy enum value set: [{}]", allowed.join(", ")),
            );
        }
    }

    /// A table or index name: `[a-zA-Z0-9_.-]+`, 3 to 255 characters.
    pub fn name(&mut self, value: Option<&str>, member: &str) {
        let Some(name) = value else { return };
        if !name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-')) {
            self.push(Some(name.to_owned()), member, "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+");
        }
        self.length(Some(name.len()), name, member, 3, 255);
    }

    /// The `TableName` member: DynamoDB answers a bad length on its own,
    /// before any other constraint.
    pub fn table_name(&mut self, value: Option<&str>, member: &str) {
        self.not_null(&value, member);
        if let Some(name) = value
            && (name.len() < 3 || name.len() > 255)
        {
            self.first.get_or_insert_with(|| {
                DynamoError::validation("TableName must be at least 3 characters long and at most 255 characters long")
            });
            return;
        }
        self.name(value, member);
    }

    /// A length (of a string, list or map) within `min..=max`.
    pub fn length(&mut self, length: Option<usize>, shown: &str, member: &str, min: usize, max: usize) {
        let Some(length) = length else { return };
        if length < min {
            self.push(
                Some(shown.to_owned()),
                member,
                format!("Member must have length greater than or equal to {min}"),
            );
        }
        if length > max {
            self.push(Some(shown.to_owned()), member, format!("Member must have length less than or equal to {max}"));
        }
    }

    pub fn at_least(&mut self, value: Option<i64>, member: &str, min: i64) {
        if let Some(value) = value
            && value < min
        {
            self.push(
                Some(value.to_string()),
                member,
                format!("Member must have value greater than or equal to {min}"),
            );
        }
    }

    pub fn at_most(&mut self, value: Option<i64>, member: &str, max: i64) {
        if let Some(value) = value
            && value > max
        {
            self.push(Some(value.to_string()), member, format!("Member must have value less than or equal to {max}"));
        }
    }

    pub fn is_empty(&self) -> bool {
        self.found.is_empty() && self.first.is_none()
    }

    /// `Ok` when nothing was found, else DynamoDB's message.
    pub fn finish(self) -> Result<()> {
        if let Some(first) = self.first {
            return Err(first);
        }
        match self.found.len() {
            0 => Ok(()),
            1 => Err(DynamoError::validation(format!("1 validation error detected: {}", self.found[0]))),
            count => {
                Err(DynamoError::validation(format!("{count} validation errors detected: {}", self.found.join("; "))))
            }
        }
    }
}

/// The `ReturnConsumedCapacity` values, in DynamoDB's order.
pub const RETURN_CONSUMED_CAPACITY: &[&str] = &["INDEXES", "TOTAL", "NONE"];
/// The `ReturnItemCollectionMetrics` values.
pub const RETURN_ITEM_COLLECTION_METRICS: &[&str] = &["SIZE", "NONE"];
/// The `ReturnValues` values, in DynamoDB's order.
pub const RETURN_VALUES: &[&str] = &["ALL_NEW", "UPDATED_OLD", "ALL_OLD", "NONE", "UPDATED_NEW"];
/// The `ReturnValuesOnConditionCheckFailure` values.
pub const RETURN_VALUES_ON_FAILURE: &[&str] = &["ALL_OLD", "NONE"];
/// The `ConditionalOperator` values.
pub const CONDITIONAL_OPERATORS: &[&str] = &["OR", "AND"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_violation_and_several_are_worded_as_dynamodb() {
        let mut one = Violations::default();
        one.not_null(&None::<String>, "tableName");
        assert_eq!(
            one.finish().unwrap_err().message(),
            "1 validation error detected: Value null at 'tableName' failed to satisfy constraint: Member must not be null"
        );
        let mut two = Violations::default();
        two.not_null(&None::<String>, "key");
        two.one_of(Some("SOME"), "returnValues", RETURN_VALUES);
        assert_eq!(
            two.finish().unwrap_err().message(),
            "2 validation errors detected: Value null at 'key' failed to satisfy constraint: Member must not be null; \
             Value 'SOME' at 'returnValues' failed to satisfy constraint: Member must satisfy enum value set: \
             [ALL_NEW, UPDATED_OLD, ALL_OLD, NONE, UPDATED_NEW]"
        );
    }

    #[test]
    fn a_short_table_name_is_answered_alone() {
        let mut violations = Violations::default();
        violations.table_name(Some("ab"), "tableName");
        violations.not_null(&None::<String>, "key");
        assert_eq!(
            violations.finish().unwrap_err().message(),
            "TableName must be at least 3 characters long and at most 255 characters long"
        );
    }

    #[test]
    fn a_bad_table_name_breaks_its_pattern() {
        let mut violations = Violations::default();
        violations.table_name(Some("a b c"), "tableName");
        assert_eq!(
            violations.finish().unwrap_err().message(),
            "1 validation error detected: Value 'a b c' at 'tableName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"
        );
    }

    #[test]
    fn at_most_ten_violations_are_reported() {
        let mut violations = Violations::default();
        for _ in 0..12 {
            violations.not_null(&None::<String>, "key");
        }
        assert!(violations.finish().unwrap_err().message().starts_with("10 validation errors detected"));
    }
}
