//! The v1 API's `patchOperations` (`Update*` calls): JSON-Patch-like
//! operations whose paths name a member in the resource's wire shape
//! (`/name`, `/variables/stage`, `/binaryMediaTypes/image~1png`), with
//! every value sent as a string. They are applied to the wire form and
//! read back, so a bad path or value is refused before anything is stored.

use serde::{Deserialize, Serialize, de::DeserializeOwned};
use serde_json::{Map, Value};

use crate::error::{GatewayError, Result};

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PatchOperation {
    pub op: String,
    pub path: String,
    #[serde(default)]
    pub value: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PatchInput {
    #[serde(default)]
    pub patch_operations: Vec<PatchOperation>,
}

fn invalid_path(operation: &PatchOperation) -> GatewayError {
    GatewayError::BadRequest(format!("Invalid patch path '{}' specified for op '{}'", operation.path, operation.op))
}

/// A path's segments with `~1` and `~0` undone.
fn segments(path: &str) -> Vec<String> {
    path.trim_start_matches('/').split('/').map(|segment| segment.replace("~1", "/").replace("~0", "~")).collect()
}

/// A string value given the type of the member it replaces.
fn typed(value: &str, like: Option<&Value>) -> Value {
    match like {
        Some(Value::Bool(_)) => value.parse::<bool>().map(Value::Bool).unwrap_or_else(|_| Value::String(value.into())),
        Some(Value::Number(_)) => serde_json::from_str::<serde_json::Number>(value)
            .map(Value::Number)
            .unwrap_or_else(|_| Value::String(value.into())),
        _ => Value::String(value.into()),
    }
}

/// Applies one operation to a JSON object. `lists` names the members that
/// are lists of strings whose path ends in the value (`/binaryMediaTypes/x`).
pub fn apply_one(target: &mut Value, operation: &PatchOperation, lists: &[&str]) -> Result<()> {
    let parts = segments(&operation.path);
    if parts.is_empty() || parts[0].is_empty() {
        return Err(invalid_path(operation));
    }
    let object = target.as_object_mut().ok_or_else(|| invalid_path(operation))?;
    if lists.contains(&parts[0].as_str()) && parts.len() == 2 {
        let list = object.entry(parts[0].clone()).or_insert_with(|| Value::Array(Vec::new()));
        let Some(items) = list.as_array_mut() else { return Err(invalid_path(operation)) };
        let item = Value::String(parts[1].clone());
        match operation.op.as_str() {
            "add" => {
                if !items.contains(&item) {
                    items.push(item);
                }
            }
            "remove" => items.retain(|existing| existing != &item),
            "replace" => {
                let replacement = Value::String(operation.value.clone().unwrap_or_default());
                for existing in items.iter_mut() {
                    if existing == &item {
                        *existing = replacement.clone();
                    }
                }
            }
            _ => return Err(invalid_path(operation)),
        }
        return Ok(());
    }
    let (last, parents) = parts.split_last().ok_or_else(|| invalid_path(operation))?;
    let mut current = object;
    for parent in parents {
        let next = current.entry(parent.clone()).or_insert_with(|| Value::Object(Map::new()));
        current = next.as_object_mut().ok_or_else(|| invalid_path(operation))?;
    }
    match operation.op.as_str() {
        "add" | "replace" => {
            let value = operation.value.as_deref().unwrap_or_default();
            let converted = typed(value, current.get(last));
            current.insert(last.clone(), converted);
        }
        "remove" => {
            current.remove(last);
        }
        _ => {
            return Err(GatewayError::BadRequest(format!(
                "Invalid patch operation specified. Must be 'add'|'remove'|'replace', was '{}'",
                operation.op
            )));
        }
    }
    Ok(())
}

/// Applies every operation to `value`'s wire form; refuses members that
/// are not `allowed` (by first path segment) and values that do not read
/// back as `T`.
pub fn apply<T: Serialize + DeserializeOwned>(
    value: &T,
    operations: &[PatchOperation],
    allowed: &[&str],
    lists: &[&str],
) -> Result<T> {
    let mut wire = serde_json::to_value(value).map_err(|error| GatewayError::Service(error.to_string()))?;
    for operation in operations {
        let first = segments(&operation.path).into_iter().next().unwrap_or_default();
        if !allowed.contains(&first.as_str()) {
            return Err(invalid_path(operation));
        }
        apply_one(&mut wire, operation, lists)?;
    }
    serde_path_to_error::deserialize(wire).map_err(|error| {
        GatewayError::BadRequest(format!("Invalid patch value for {}: {}", error.path(), error.inner()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn op(op: &str, path: &str, value: Option<&str>) -> PatchOperation {
        PatchOperation { op: op.into(), path: path.into(), value: value.map(str::to_owned) }
    }

    #[test]
    fn values_take_the_type_of_the_member() {
        let mut target = json!({ "enabled": false, "limit": 1, "name": "a" });
        apply_one(&mut target, &op("replace", "/enabled", Some("true")), &[]).unwrap();
        apply_one(&mut target, &op("replace", "/limit", Some("5")), &[]).unwrap();
        apply_one(&mut target, &op("replace", "/name", Some("b")), &[]).unwrap();
        assert_eq!(target, json!({ "enabled": true, "limit": 5, "name": "b" }));
    }

    #[test]
    fn list_members_take_the_value_from_the_path() {
        let mut target = json!({});
        apply_one(&mut target, &op("add", "/binaryMediaTypes/image~1png", None), &["binaryMediaTypes"]).unwrap();
        apply_one(&mut target, &op("add", "/binaryMediaTypes/*~1*", None), &["binaryMediaTypes"]).unwrap();
        apply_one(&mut target, &op("remove", "/binaryMediaTypes/image~1png", None), &["binaryMediaTypes"]).unwrap();
        assert_eq!(target, json!({ "binaryMediaTypes": ["*/*"] }));
    }

    #[test]
    fn nested_maps_are_made_on_the_way() {
        let mut target = json!({});
        apply_one(&mut target, &op("replace", "/variables/color", Some("blue")), &[]).unwrap();
        assert_eq!(target, json!({ "variables": { "color": "blue" } }));
        assert!(apply_one(&mut target, &op("move", "/x", None), &[]).is_err());
        assert!(apply_one(&mut target, &op("add", "", None), &[]).is_err());
    }
}
