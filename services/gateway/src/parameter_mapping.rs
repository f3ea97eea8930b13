//! Parameter mapping for HTTP APIs: an integration's `requestParameters`
//! change the request sent to it (`append:`, `overwrite:` and `remove:` of
//! `header.{name}` and `querystring.{name}`, `overwrite:path`), and its
//! `responseParameters`, per status code, change the response (headers and
//! `overwrite:statuscode`). Values are static text with `$request.*`,
//! `$response.*`, `$context.*` and `$stageVariables.*` references in it,
//! written bare (`$request.header.x`) or braced (`${request.header.x}`).

use crate::error::{GatewayError, Result};

/// What a mapping does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Append,
    Overwrite,
    Remove,
}

/// What a mapping changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target<'a> {
    /// Lower-cased.
    Header(String),
    QueryString(&'a str),
    Path,
    StatusCode,
}

/// A parsed mapping key.
pub fn parse_key(key: &str) -> Option<(Action, Target<'_>)> {
    let (action, target) = key.split_once(':')?;
    let action = match action {
        "append" => Action::Append,
        "overwrite" => Action::Overwrite,
        "remove" => Action::Remove,
        _ => return None,
    };
    let target = match target {
        "path" => Target::Path,
        "statuscode" => Target::StatusCode,
        _ => match target.split_once('.')? {
            ("header", name) if !name.is_empty() => Target::Header(name.to_ascii_lowercase()),
            ("querystring", name) if !name.is_empty() => Target::QueryString(name),
            _ => return None,
        },
    };
    Some((action, target))
}

fn invalid(key: &str) -> GatewayError {
    GatewayError::BadRequest(format!(
        "Invalid mapping expression specified: Validation Result: warnings : [], errors : [Invalid mapping expression specified: {key}]"
    ))
}

/// Headers API Gateway does not let a mapping change.
fn reserved_header(name: &str) -> bool {
    matches!(name, "host" | "content-length" | "connection" | "transfer-encoding" | "upgrade" | "te" | "expect")
        || name.starts_with("x-amz-")
        || name.starts_with("x-amzn-")
        || name.starts_with("apigw-")
}

fn check_value(key: &str, value: &str, sources: &[&str]) -> Result<()> {
    if value.is_empty() {
        return Err(invalid(key));
    }
    for reference in references(value) {
        if !sources.iter().any(|source| reference.starts_with(source)) {
            return Err(invalid(value));
        }
    }
    Ok(())
}

/// Checks one request mapping as CreateIntegration does.
pub fn check_request(key: &str, value: &str) -> Result<()> {
    match parse_key(key) {
        Some((_, Target::Header(name))) if !reserved_header(&name) => {}
        Some((_, Target::QueryString(_))) | Some((Action::Overwrite, Target::Path)) => {}
        _ => return Err(invalid(key)),
    }
    check_value(key, value, &["request.", "context.", "stageVariables."])
}

/// Checks one response mapping.
pub fn check_response(key: &str, value: &str) -> Result<()> {
    match parse_key(key) {
        Some((_, Target::Header(name))) if !reserved_header(&name) => {}
        Some((Action::Overwrite, Target::StatusCode)) => {}
        _ => return Err(invalid(key)),
    }
    check_value(key, value, &["response.", "context.", "stageVariables."])
}

fn is_reference_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')
}

/// Where a bare reference after `$` ends; 0 when none starts there (a
/// reference starts with a letter, so `$5` stays text).
fn reference_end(after: &str) -> usize {
    if !after.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return 0;
    }
    after.find(|c: char| !is_reference_char(c)).unwrap_or(after.len())
}

/// The references in a value, without `$`/`${}`.
fn references(value: &str) -> Vec<&str> {
    let mut found = Vec::new();
    let mut rest = value;
    while let Some(start) = rest.find('$') {
        let after = &rest[start + 1..];
        if let Some(braced) = after.strip_prefix('{')
            && let Some(end) = braced.find('}')
        {
            found.push(&braced[..end]);
            rest = &braced[end + 1..];
            continue;
        }
        let end = reference_end(after);
        if end > 0 {
            found.push(after[..end].trim_end_matches('.'));
        }
        rest = &after[end..];
    }
    found
}

/// Resolves a reference such as `request.header.x` (no `$`), or `None`
/// when it names nothing, which maps to an empty value.
pub trait Resolve {
    fn resolve(&self, reference: &str) -> Option<String>;
}

/// A value with its references resolved.
pub fn evaluate(value: &str, resolver: &dyn Resolve) -> String {
    if !value.contains('$') {
        return value.to_owned();
    }
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(start) = rest.find('$') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        if let Some(braced) = after.strip_prefix('{')
            && let Some(end) = braced.find('}')
        {
            out.push_str(&resolver.resolve(&braced[..end]).unwrap_or_default());
            rest = &braced[end + 1..];
            continue;
        }
        let end = reference_end(after);
        if end == 0 {
            out.push('$');
        } else {
            let reference = after[..end].trim_end_matches('.');
            out.push_str(&resolver.resolve(reference).unwrap_or_default());
            out.push_str(&after[reference.len()..end]);
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// A value at a simple JSON path (`a.b.0.c`, the part after `body.`) in a
/// JSON body; strings bare, anything else as JSON text.
pub fn json_path(body: &[u8], path: &str) -> Option<String> {
    let mut value: serde_json::Value = serde_json::from_slice(body).ok()?;
    for step in path.split('.').filter(|step| !step.is_empty()) {
        value = match value {
            serde_json::Value::Object(mut map) => map.remove(step)?,
            serde_json::Value::Array(mut items) => {
                let index: usize = step.parse().ok()?;
                (index < items.len()).then(|| items.swap_remove(index))?
            }
            _ => return None,
        };
    }
    Some(match value {
        serde_json::Value::String(text) => text,
        other => other.to_string(),
    })
}

/// Applies a header or query mapping to name/value pairs.
pub fn apply_pairs(pairs: &mut Vec<(String, String)>, action: Action, name: &str, value: String, fold_case: bool) {
    let same = |existing: &str| if fold_case { existing.eq_ignore_ascii_case(name) } else { existing == name };
    match action {
        Action::Remove => pairs.retain(|(existing, _)| !same(existing)),
        Action::Overwrite => {
            pairs.retain(|(existing, _)| !same(existing));
            pairs.push((name.to_owned(), value));
        }
        Action::Append => match pairs.iter_mut().find(|(existing, _)| same(existing)) {
            // Appended to the first value, as API Gateway joins them.
            Some((_, existing)) => {
                existing.push(',');
                existing.push_str(&value);
            }
            None => pairs.push((name.to_owned(), value)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed;
    impl Resolve for Fixed {
        fn resolve(&self, reference: &str) -> Option<String> {
            match reference {
                "request.header.x-user" => Some("ann".into()),
                "context.requestId" => Some("rid".into()),
                "stageVariables.env" => Some("prod".into()),
                _ => None,
            }
        }
    }

    #[test]
    fn keys_parse_into_actions_and_targets() {
        assert_eq!(parse_key("append:header.X-A"), Some((Action::Append, Target::Header("x-a".into()))));
        assert_eq!(parse_key("remove:querystring.q"), Some((Action::Remove, Target::QueryString("q"))));
        assert_eq!(parse_key("overwrite:path"), Some((Action::Overwrite, Target::Path)));
        assert_eq!(parse_key("overwrite:statuscode"), Some((Action::Overwrite, Target::StatusCode)));
        assert_eq!(parse_key("replace:header.a"), None);
        assert_eq!(parse_key("append:header."), None);
    }

    #[test]
    fn values_resolve_bare_and_braced_references() {
        assert_eq!(evaluate("$request.header.x-user", &Fixed), "ann");
        assert_eq!(evaluate("user-${request.header.x-user}/$context.requestId", &Fixed), "user-ann/rid");
        assert_eq!(evaluate("/v1/$stageVariables.env.", &Fixed), "/v1/prod.");
        assert_eq!(evaluate("static", &Fixed), "static");
        assert_eq!(evaluate("cost $5 and $request.header.none", &Fixed), "cost $5 and ");
    }

    #[test]
    fn mappings_are_checked_by_side() {
        assert!(check_request("append:header.x-id", "$context.requestId").is_ok());
        assert!(check_request("overwrite:path", "/v1/$request.path.proxy").is_ok());
        assert!(check_request("overwrite:header.host", "x").is_err());
        assert!(check_request("overwrite:statuscode", "200").is_err());
        assert!(check_request("append:header.x", "$response.header.y").is_err());
        assert!(check_response("overwrite:statuscode", "204").is_ok());
        assert!(check_response("append:header.x", "$response.header.y").is_ok());
        assert!(check_response("overwrite:path", "/").is_err());
    }

    #[test]
    fn pairs_append_overwrite_and_remove() {
        let mut pairs = vec![("a".to_string(), "1".to_string())];
        apply_pairs(&mut pairs, Action::Append, "A", "2".into(), true);
        assert_eq!(pairs, [("a".to_string(), "1,2".to_string())]);
        apply_pairs(&mut pairs, Action::Overwrite, "a", "3".into(), true);
        assert_eq!(pairs, [("a".to_string(), "3".to_string())]);
        apply_pairs(&mut pairs, Action::Remove, "a", String::new(), true);
        assert!(pairs.is_empty());
    }

    #[test]
    fn json_paths_reach_into_bodies() {
        let body = br#"{"user":{"name":"ann","ids":[1,2]}}"#;
        assert_eq!(json_path(body, "user.name").as_deref(), Some("ann"));
        assert_eq!(json_path(body, "user.ids.1").as_deref(), Some("2"));
        assert_eq!(json_path(body, "user.none"), None);
        assert_eq!(json_path(b"not json", "a"), None);
    }
}
