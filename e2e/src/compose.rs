//! Reading `compose.yaml` the way `docker compose` would for the parts the
//! tests check: YAML merge keys, `${VAR}`, `${VAR:-default}` and
//! `${VAR:?message}` interpolation, and each service's settings.

use std::{collections::BTreeMap, path::Path};

use serde_yaml::Value;

/// The parsed file, with merge keys applied.
pub fn load() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../compose.yaml");
    let text = std::fs::read_to_string(&path).expect("compose.yaml is readable");
    let mut value: Value = serde_yaml::from_str(&text).expect("compose.yaml is valid YAML");
    value.apply_merge().expect("merge keys resolve");
    value
}

/// Substitutes `${...}` references as compose does; `Err` carries the
/// message of a `${VAR:?message}` whose variable is unset.
pub fn interpolate(text: &str, vars: &BTreeMap<String, String>) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find('}').ok_or_else(|| format!("unterminated reference in {text}"))?;
        let reference = &after[..end];
        let value = if let Some((name, default)) = reference.split_once(":-") {
            vars.get(name).filter(|v| !v.is_empty()).cloned().unwrap_or_else(|| default.to_owned())
        } else if let Some((name, message)) = reference.split_once(":?") {
            vars.get(name).filter(|v| !v.is_empty()).cloned().ok_or_else(|| format!("{name}: {message}"))?
        } else {
            vars.get(reference).cloned().unwrap_or_default()
        };
        out.push_str(&value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// One service's `environment`, interpolated with `vars`.
pub fn environment(
    compose: &Value,
    service: &str,
    vars: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, String> {
    let Some(environment) = compose["services"][service]["environment"].as_mapping() else {
        return Ok(BTreeMap::new());
    };
    environment
        .iter()
        .map(|(key, value)| {
            let key = key.as_str().ok_or("a variable name")?.to_owned();
            let raw = match value {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                other => return Err(format!("{key} has a non-scalar value {other:?}")),
            };
            Ok((key, interpolate(&raw, vars)?))
        })
        .collect()
}

/// A sequence of strings (`command`, `healthcheck.test`).
pub fn strings(value: &Value) -> Vec<String> {
    value
        .as_sequence()
        .map(|items| items.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpolation_follows_compose() {
        let vars: BTreeMap<String, String> = [("SET".to_string(), "yes".to_string())].into();
        assert_eq!(interpolate("a ${SET} b", &vars).unwrap(), "a yes b");
        assert_eq!(interpolate("${UNSET:-fallback}", &vars).unwrap(), "fallback");
        assert_eq!(interpolate("${SET:?needed}", &vars).unwrap(), "yes");
        assert_eq!(interpolate("${UNSET:?needed}", &vars).unwrap_err(), "UNSET: needed");
    }
}
