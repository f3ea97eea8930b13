//! Loads a serde configuration struct from an optional TOML file overlaid
//! with `NUBO_*` variables taken from an injected map (never read from the
//! process here), so tests and the binary configure services the same way.
//!
//! `NUBO_STATE_DIR=/x` sets `state_dir`; a double underscore descends into a
//! section: `NUBO_GATEWAY__HTTP_PORT=8080` sets `gateway.http_port`. A
//! variable ending in `_FILE` names a file whose trimmed content is the
//! value, for secrets mounted by an orchestrator. Values are read as TOML
//! scalars when they spell one (`8080`, `true`), so a string that looks like
//! a number is written quoted: `NUBO_X='"1234"'`.

use std::{collections::BTreeMap, path::Path};

use serde::de::DeserializeOwned;
use toml::{Table, Value};

/// The prefix of every configuration variable.
pub const ENV_PREFIX: &str = "NUBO_";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("config file {path} is not valid TOML: {source}")]
    Parse { path: String, source: toml::de::Error },
    #[error("{variable}: cannot read {path}: {source}")]
    SecretFile { variable: String, path: String, source: std::io::Error },
    #[error("{variable} conflicts with another setting of `{key}`")]
    Conflict { variable: String, key: String },
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

/// Reads `file` (if any), applies the `NUBO_*` entries of `env`, and
/// deserializes the result; unknown keys are errors when `T` denies them.
pub fn load<T: DeserializeOwned>(file: Option<&Path>, env: &BTreeMap<String, String>) -> Result<T, ConfigError> {
    let mut root = match file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|source| ConfigError::Read { path: path.display().to_string(), source })?;
            text.parse::<Table>().map_err(|source| ConfigError::Parse { path: path.display().to_string(), source })?
        }
        None => Table::new(),
    };
    for (variable, raw) in env {
        let Some(name) = variable.strip_prefix(ENV_PREFIX) else { continue };
        let (name, value) = match name.strip_suffix("_FILE") {
            Some(name) => {
                let content = std::fs::read_to_string(raw).map_err(|source| ConfigError::SecretFile {
                    variable: variable.clone(),
                    path: raw.clone(),
                    source,
                })?;
                (name, Value::String(content.trim().to_owned()))
            }
            None => (name, parse_scalar(raw)),
        };
        let path: Vec<String> = name.split("__").map(str::to_ascii_lowercase).collect();
        insert(&mut root, &path, value).map_err(|key| ConfigError::Conflict { variable: variable.clone(), key })?;
    }
    Value::Table(root).try_into().map_err(|error: toml::de::Error| ConfigError::Invalid(error.message().to_owned()))
}

/// Reads an environment value as the TOML scalar it spells (`8080`, `true`),
/// or as a string.
fn parse_scalar(raw: &str) -> Value {
    match format!("v = {raw}").parse::<Table>() {
        Ok(mut table) => match table.remove("v") {
            Some(value @ (Value::Integer(_) | Value::Boolean(_) | Value::Float(_) | Value::Array(_))) => value,
            _ => Value::String(raw.to_owned()),
        },
        Err(_) => Value::String(raw.to_owned()),
    }
}

fn insert(table: &mut Table, path: &[String], value: Value) -> Result<(), String> {
    let (head, rest) = path.split_first().ok_or_else(String::new)?;
    if rest.is_empty() {
        table.insert(head.clone(), value);
        return Ok(());
    }
    let entry = table.entry(head.clone()).or_insert_with(|| Value::Table(Table::new()));
    match entry {
        Value::Table(inner) => insert(inner, rest, value),
        _ => Err(path.join(".")),
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize, Default, PartialEq)]
    #[serde(deny_unknown_fields, default)]
    struct Sample {
        state_dir: String,
        gateway: Section,
    }

    #[derive(Debug, Deserialize, Default, PartialEq)]
    #[serde(deny_unknown_fields, default)]
    struct Section {
        http_port: u16,
        secret: String,
        enabled: bool,
    }

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn environment_overrides_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("nubo.toml");
        std::fs::write(&file, "state_dir = \"/a\"\n[gateway]\nhttp_port = 1\n").unwrap();
        let loaded: Sample =
            load(Some(&file), &env(&[("NUBO_GATEWAY__HTTP_PORT", "8080"), ("NUBO_GATEWAY__ENABLED", "true")])).unwrap();
        assert_eq!(loaded.state_dir, "/a");
        assert_eq!(loaded.gateway.http_port, 8080);
        assert!(loaded.gateway.enabled);
    }

    #[test]
    fn secrets_come_from_files_and_other_variables_are_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("secret");
        std::fs::write(&secret, "s3cr3t\n").unwrap();
        let loaded: Sample =
            load(None, &env(&[("NUBO_GATEWAY__SECRET_FILE", secret.to_str().unwrap()), ("HOME", "/root")])).unwrap();
        assert_eq!(loaded.gateway.secret, "s3cr3t");
    }

    #[test]
    fn unknown_keys_and_bad_types_are_reported() {
        let error = load::<Sample>(None, &env(&[("NUBO_GATEWAY__HTTP_PROT", "1")])).unwrap_err();
        assert!(error.to_string().contains("http_prot"), "{error}");
        let error = load::<Sample>(None, &env(&[("NUBO_GATEWAY__HTTP_PORT", "eighty")])).unwrap_err();
        assert!(error.to_string().contains("invalid"), "{error}");
    }

    #[test]
    fn a_value_cannot_also_be_a_section() {
        let error = load::<Sample>(None, &env(&[("NUBO_STATE_DIR", "x"), ("NUBO_STATE_DIR__DEEP", "y")])).unwrap_err();
        assert!(matches!(error, ConfigError::Conflict { .. }), "{error}");
    }
}
