//! Decoding a request body into an input struct. A member of the wrong
//! JSON type is DynamoDB's `SerializationException`, worded as its JSON
//! deserializer words it (`NUMBER_VALUE cannot be converted to String`,
//! `Start of structure or map found where not expected`, ...): serde
//! reports where decoding stopped and what it expected, and the body says
//! what was found there.

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::dynamodb::error::{DynamoError, ErrorKind, Result};

/// What a struct member expected, as serde names it in its message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expected {
    String,
    Boolean,
    Integer,
    List,
    Structure,
}

fn expected_of(message: &str) -> Expected {
    let expected = message.rsplit("expected ").next().unwrap_or(message);
    if expected.contains("string") {
        Expected::String
    } else if expected.contains("bool") {
        Expected::Boolean
    } else if ["i8", "i16", "i32", "i64", "u8", "u16", "u32", "u64", "usize", "integer"]
        .iter()
        .any(|kind| expected.contains(kind))
    {
        Expected::Integer
    } else if expected.contains("sequence") {
        Expected::List
    } else {
        Expected::Structure
    }
}

/// The value at a serde path in the body, if any.
fn value_at<'a>(body: &'a Value, path: &serde_path_to_error::Path) -> Option<&'a Value> {
    let mut current = body;
    for segment in path.iter() {
        current = match segment {
            serde_path_to_error::Segment::Map { key } => current.get(key)?,
            serde_path_to_error::Segment::Seq { index } => current.get(index)?,
            _ => return None,
        };
    }
    Some(current)
}

fn scalar_name(value: &Value) -> &'static str {
    match value {
        Value::Bool(true) => "TRUE_VALUE",
        Value::Bool(false) => "FALSE_VALUE",
        Value::Number(number) if number.is_f64() => "DECIMAL_VALUE",
        Value::Number(_) => "NUMBER_VALUE",
        _ => "STRING_VALUE",
    }
}

/// DynamoDB's message for `found` where `expected` was wanted.
fn message(expected: Expected, found: &Value) -> String {
    let java = match expected {
        Expected::String => "String",
        Expected::Boolean => "Boolean",
        Expected::Integer => "Integer",
        Expected::List | Expected::Structure => "",
    };
    match (expected, found) {
        (Expected::List | Expected::Structure, Value::Bool(_) | Value::Number(_) | Value::String(_)) => {
            "Unexpected field type".to_owned()
        }
        (Expected::List, Value::Object(_)) | (_, Value::Object(_)) => {
            "Start of structure or map found where not expected".to_owned()
        }
        (Expected::Structure, Value::Array(_)) => "Start of list found where not expected".to_owned(),
        (_, Value::Array(_)) => format!("Unrecognized collection type class java.lang.{java}"),
        (Expected::Boolean, Value::String(_)) => "Unexpected token received from parser".to_owned(),
        (_, scalar) => format!("{} cannot be converted to {java}", scalar_name(scalar)),
    }
}

/// Decodes `body` into `T`, or answers DynamoDB's SerializationException.
pub fn decode<T: DeserializeOwned>(body: &Value) -> Result<T> {
    serde_path_to_error::deserialize(body).map_err(|error| {
        let text = error.inner().to_string();
        let text = match value_at(body, error.path()) {
            Some(found) if text.starts_with("invalid type") => message(expected_of(&text), found),
            // A number out of range, or anything else serde refuses.
            _ => text,
        };
        DynamoError::new(ErrorKind::Serialization, text)
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(rename_all = "PascalCase")]
    #[allow(dead_code)]
    struct Sample {
        table_name: Option<String>,
        limit: Option<i64>,
        consistent_read: Option<bool>,
        attributes_to_get: Option<Vec<String>>,
        key: Option<serde_json::Map<String, Value>>,
    }

    fn refused(body: Value) -> String {
        let error = decode::<Sample>(&body).unwrap_err();
        assert_eq!(error.kind, ErrorKind::Serialization);
        error.message().to_owned()
    }

    #[test]
    fn wrong_types_are_worded_as_dynamodb_words_them() {
        assert_eq!(refused(json!({"TableName": 5})), "NUMBER_VALUE cannot be converted to String");
        assert_eq!(refused(json!({"TableName": true})), "TRUE_VALUE cannot be converted to String");
        assert_eq!(refused(json!({"TableName": {}})), "Start of structure or map found where not expected");
        assert_eq!(refused(json!({"TableName": []})), "Unrecognized collection type class java.lang.String");
        assert_eq!(refused(json!({"Limit": "5"})), "STRING_VALUE cannot be converted to Integer");
        assert_eq!(refused(json!({"ConsistentRead": 1})), "NUMBER_VALUE cannot be converted to Boolean");
        assert_eq!(refused(json!({"AttributesToGet": "a"})), "Unexpected field type");
        assert_eq!(refused(json!({"AttributesToGet": [1]})), "NUMBER_VALUE cannot be converted to String");
        assert_eq!(refused(json!({"Key": []})), "Start of list found where not expected");
    }

    #[test]
    fn unknown_and_null_members_are_ignored() {
        let sample: Sample = decode(&json!({"TableName": null, "Whatever": 1})).unwrap();
        assert!(sample.table_name.is_none());
    }
}
