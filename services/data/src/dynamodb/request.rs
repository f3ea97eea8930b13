//! Reading members of a DynamoDB JSON request with DynamoDB's validation
//! messages.

use serde_json::Value;

use super::error::{DynamoError, Result};

/// A parsed request body.
#[derive(Debug)]
pub struct Request {
    pub body: Value,
}

/// A `1 validation error detected: ...` message.
pub fn validation_error(detail: impl AsRef<str>) -> DynamoError {
    DynamoError::validation(format!("1 validation error detected: {}", detail.as_ref()))
}

fn null_member(member: &str) -> DynamoError {
    validation_error(format!("Value null at '{member}' failed to satisfy constraint: Member must not be null"))
}

impl Request {
    pub fn new(body: Value) -> Self {
        Self { body }
    }

    fn get(&self, name: &str) -> Option<&Value> {
        self.body.get(name).filter(|value| !value.is_null())
    }

    pub fn member(&self, name: &str) -> Option<&Value> {
        self.get(name)
    }

    /// A required string; `member` is the lower-camel name AWS reports.
    pub fn required_str(&self, name: &str, member: &str) -> Result<&str> {
        match self.get(name) {
            None => Err(null_member(member)),
            Some(Value::String(text)) => Ok(text),
            Some(_) => {
                Err(DynamoError::new(super::error::ErrorKind::Serialization, format!("{name} must be a string")))
            }
        }
    }

    pub fn optional_str(&self, name: &str) -> Result<Option<&str>> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(text)) => Ok(Some(text)),
            Some(_) => {
                Err(DynamoError::new(super::error::ErrorKind::Serialization, format!("{name} must be a string")))
            }
        }
    }

    pub fn required_array(&self, name: &str, member: &str) -> Result<&[Value]> {
        match self.get(name) {
            None => Err(null_member(member)),
            Some(Value::Array(items)) => Ok(items),
            Some(_) => Err(DynamoError::new(super::error::ErrorKind::Serialization, format!("{name} must be a list"))),
        }
    }

    pub fn required_object(&self, name: &str, member: &str) -> Result<&Value> {
        match self.get(name) {
            None => Err(null_member(member)),
            Some(value @ Value::Object(_)) => Ok(value),
            Some(_) => Err(DynamoError::new(super::error::ErrorKind::Serialization, format!("{name} must be a map"))),
        }
    }

    pub fn optional_bool(&self, name: &str) -> Result<bool> {
        match self.get(name) {
            None => Ok(false),
            Some(Value::Bool(flag)) => Ok(*flag),
            Some(_) => {
                Err(DynamoError::new(super::error::ErrorKind::Serialization, format!("{name} must be a boolean")))
            }
        }
    }

    /// An optional integer at least `minimum`.
    pub fn optional_u64(&self, name: &str, member: &str, minimum: u64) -> Result<Option<u64>> {
        match self.get(name) {
            None => Ok(None),
            Some(value) => {
                let number = value.as_i64().ok_or_else(|| {
                    DynamoError::new(super::error::ErrorKind::Serialization, format!("{name} must be an integer"))
                })?;
                if number < minimum as i64 {
                    return Err(validation_error(format!(
                        "Value '{number}' at '{member}' failed to satisfy constraint: Member must have value greater than or equal to {minimum}"
                    )));
                }
                Ok(Some(number as u64))
            }
        }
    }

    /// An enum member, checked against its allowed values.
    pub fn optional_enum(&self, name: &str, member: &str, allowed: &[&str]) -> Result<Option<&str>> {
        match self.optional_str(name)? {
            Some(value) if !allowed.contains(&value) => Err(validation_error(format!(
                "Value '{value}' at '{member}' failed to satisfy constraint: Member must satisfy enum value set: [{}]",
                allowed.join(", ")
            ))),
            other => Ok(other),
        }
    }
}
