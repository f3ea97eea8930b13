//! A request body's members, read with Cognito's validation messages.

use serde_json::{Map, Value};

use crate::error::{CognitoError, Result};

/// The JSON object of one request.
#[derive(Debug, Clone, Default)]
pub struct Input(pub Map<String, Value>);

/// `UserPoolId` → `userPoolId`, as Cognito names members in messages.
fn camel(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn wrong_type(name: &str) -> CognitoError {
    CognitoError::serialization(format!("Unexpected value type for member {name}"))
}

impl Input {
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name).filter(|value| !value.is_null())
    }

    pub fn str(&self, name: &str) -> Result<Option<&str>> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(value)) => Ok(Some(value)),
            Some(_) => Err(wrong_type(name)),
        }
    }

    pub fn required(&self, name: &str) -> Result<&str> {
        self.str(name)?.ok_or_else(|| {
            CognitoError::invalid_parameter(format!(
                "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
                camel(name)
            ))
        })
    }

    /// A required string that must also be non-empty.
    pub fn required_nonempty(&self, name: &str) -> Result<&str> {
        let value = self.required(name)?;
        if value.is_empty() {
            return Err(CognitoError::validation(&camel(name), "Member must have length greater than or equal to 1"));
        }
        Ok(value)
    }

    pub fn bool(&self, name: &str) -> Result<Option<bool>> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Bool(value)) => Ok(Some(*value)),
            Some(_) => Err(wrong_type(name)),
        }
    }

    pub fn i64(&self, name: &str) -> Result<Option<i64>> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Number(number)) => number.as_i64().map(Some).ok_or_else(|| wrong_type(name)),
            Some(_) => Err(wrong_type(name)),
        }
    }

    pub fn strings(&self, name: &str) -> Result<Option<Vec<String>>> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| item.as_str().map(str::to_owned).ok_or_else(|| wrong_type(name)))
                .collect::<Result<Vec<_>>>()
                .map(Some),
            Some(_) => Err(wrong_type(name)),
        }
    }

    pub fn object(&self, name: &str) -> Result<Option<Input>> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Object(members)) => Ok(Some(Input(members.clone()))),
            Some(_) => Err(wrong_type(name)),
        }
    }

    pub fn objects(&self, name: &str) -> Result<Vec<Input>> {
        match self.get(name) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| item.as_object().map(|members| Input(members.clone())).ok_or_else(|| wrong_type(name)))
                .collect(),
            Some(_) => Err(wrong_type(name)),
        }
    }

    /// A map of strings (`ClientMetadata`, `AuthParameters`, ...).
    pub fn string_map(&self, name: &str) -> Result<std::collections::BTreeMap<String, String>> {
        match self.get(name) {
            None => Ok(Default::default()),
            Some(Value::Object(members)) => members
                .iter()
                .map(|(key, value)| value.as_str().map(|v| (key.clone(), v.to_owned())).ok_or_else(|| wrong_type(name)))
                .collect(),
            Some(_) => Err(wrong_type(name)),
        }
    }

    /// `[{"Name": ..., "Value": ...}]`, as user attributes are sent.
    pub fn attributes(&self, name: &str) -> Result<Vec<(String, String)>> {
        self.objects(name)?
            .iter()
            .map(|attribute| {
                let attribute_name = attribute.required("Name")?.to_owned();
                let value = attribute.str("Value")?.unwrap_or_default().to_owned();
                Ok((attribute_name, value))
            })
            .collect()
    }

    /// `MaxResults`/`Limit` within `1..=max`, `default` when absent.
    pub fn limit(&self, name: &str, default: u32, max: u32) -> Result<u32> {
        match self.i64(name)? {
            None => Ok(default),
            Some(value) if value >= 1 && value <= i64::from(max) => Ok(value as u32),
            Some(_) => Err(CognitoError::validation(
                &camel(name),
                &format!("Member must have value less than or equal to {max}"),
            )),
        }
    }
}
