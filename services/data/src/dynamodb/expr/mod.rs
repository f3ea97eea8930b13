//! DynamoDB expressions: condition, filter, key condition, projection and
//! update expressions. [`lexer`] splits text into tokens, [`parser`] builds
//! the [`ast`] with placeholders substituted, [`eval`] evaluates conditions
//! and projections against items, and [`update`] applies update actions.
//! Errors carry DynamoDB's exact wording, so clients can match on them.

pub mod ast;
pub mod eval;
pub mod lexer;
pub mod parser;
pub mod update;

use std::collections::{BTreeMap, BTreeSet};

use super::{
    error::{DynamoError, Result},
    value::{AttributeValue, item_from_json},
};

/// Which expression is being parsed, for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpressionKind {
    Condition,
    Filter,
    KeyCondition,
    Projection,
    Update,
}

impl ExpressionKind {
    pub fn label(self) -> &'static str {
        match self {
            ExpressionKind::Condition => "ConditionExpression",
            ExpressionKind::Filter => "FilterExpression",
            ExpressionKind::KeyCondition => "KeyConditionExpression",
            ExpressionKind::Projection => "ProjectionExpression",
            ExpressionKind::Update => "UpdateExpression",
        }
    }

    pub fn invalid(self, detail: impl AsRef<str>) -> DynamoError {
        DynamoError::validation(format!("Invalid {}: {}", self.label(), detail.as_ref()))
    }
}

/// `ExpressionAttributeNames` and `ExpressionAttributeValues` of a request,
/// and which of them its expressions used.
#[derive(Debug, Default)]
pub struct Placeholders {
    names: BTreeMap<String, String>,
    values: BTreeMap<String, AttributeValue>,
    used_names: BTreeSet<String>,
    used_values: BTreeSet<String>,
}

impl Placeholders {
    /// The placeholders of a typed request, checked as [`Self::from_request`] checks them.
    pub fn from_parts(
        names: Option<&BTreeMap<String, String>>,
        values: Option<&serde_json::Map<String, serde_json::Value>>,
    ) -> Result<Self> {
        let mut body = serde_json::Map::new();
        if let Some(names) = names {
            body.insert("ExpressionAttributeNames".into(), serde_json::json!(names));
        }
        if let Some(values) = values {
            body.insert("ExpressionAttributeValues".into(), serde_json::Value::Object(values.clone()));
        }
        Self::from_request(&serde_json::Value::Object(body))
    }

    /// Reads the placeholders of a request body, checking their syntax.
    pub fn from_request(body: &serde_json::Value) -> Result<Self> {
        let mut placeholders = Placeholders::default();
        if let Some(names) = body.get("ExpressionAttributeNames").filter(|v| !v.is_null()) {
            let names =
                names.as_object().ok_or_else(|| DynamoError::validation("ExpressionAttributeNames must be a map"))?;
            if names.is_empty() {
                return Err(DynamoError::validation("ExpressionAttributeNames must not be empty"));
            }
            for (key, value) in names {
                if !key.starts_with('#') || key.len() < 2 {
                    return Err(DynamoError::validation(format!(
                        "ExpressionAttributeNames contains invalid key: Syntax error; key: \"{key}\""
                    )));
                }
                let value = value
                    .as_str()
                    .ok_or_else(|| DynamoError::validation("ExpressionAttributeNames values must be strings"))?;
                if value.is_empty() {
                    return Err(DynamoError::validation(format!(
                        "ExpressionAttributeNames contains invalid value: Empty attribute name; key: \"{key}\""
                    )));
                }
                placeholders.names.insert(key.clone(), value.to_owned());
            }
        }
        if let Some(values) = body.get("ExpressionAttributeValues").filter(|v| !v.is_null()) {
            if values.as_object().is_some_and(|v| v.is_empty()) {
                return Err(DynamoError::validation("ExpressionAttributeValues must not be empty"));
            }
            for key in values.as_object().map(|v| v.keys()).into_iter().flatten() {
                if !key.starts_with(':') || key.len() < 2 {
                    return Err(DynamoError::validation(format!(
                        "ExpressionAttributeValues contains invalid key: Syntax error; key: \"{key}\""
                    )));
                }
            }
            placeholders.values = item_from_json(values).map_err(|error| {
                DynamoError::validation(format!(
                    "ExpressionAttributeValues contains invalid value: {} for key",
                    error.message()
                ))
            })?;
        }
        Ok(placeholders)
    }

    pub fn with(names: &[(&str, &str)], values: &[(&str, AttributeValue)]) -> Self {
        Placeholders {
            names: names.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
            values: values.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect(),
            ..Default::default()
        }
    }

    fn name(&mut self, kind: ExpressionKind, placeholder: &str) -> Result<String> {
        let name = self.names.get(placeholder).cloned().ok_or_else(|| {
            kind.invalid(format!(
                "An expression attribute name used in the document path is not defined; attribute name: {placeholder}"
            ))
        })?;
        self.used_names.insert(placeholder.to_owned());
        Ok(name)
    }

    fn value(&mut self, kind: ExpressionKind, placeholder: &str) -> Result<AttributeValue> {
        let value = self.values.get(placeholder).cloned().ok_or_else(|| {
            kind.invalid(format!(
                "An expression attribute value used in expression is not defined; attribute value: {placeholder}"
            ))
        })?;
        self.used_values.insert(placeholder.to_owned());
        Ok(value)
    }

    /// Fails if a placeholder was given that no expression used.
    pub fn check_all_used(&self) -> Result<()> {
        let unused_names: Vec<&str> =
            self.names.keys().filter(|k| !self.used_names.contains(*k)).map(String::as_str).collect();
        if !unused_names.is_empty() {
            return Err(DynamoError::validation(format!(
                "Value provided in ExpressionAttributeNames unused in expressions: keys: {{{}}}",
                unused_names.join(", ")
            )));
        }
        let unused_values: Vec<&str> =
            self.values.keys().filter(|k| !self.used_values.contains(*k)).map(String::as_str).collect();
        if !unused_values.is_empty() {
            return Err(DynamoError::validation(format!(
                "Value provided in ExpressionAttributeValues unused in expressions: keys: {{{}}}",
                unused_values.join(", ")
            )));
        }
        Ok(())
    }
}
