//! Route selection for WebSocket messages: the API's route selection
//! expression (`$request.body.action`, or a template such as
//! `${request.body.service}/${request.body.action}`) evaluated against the
//! message's JSON body. A message that is not JSON, lacks the selected
//! member, or selects a key with no route goes to `$default`, as API
//! Gateway routes it.

use serde_json::Value;

/// The route key `expression` selects for `body`, among `route_keys`.
pub fn route_key<'a>(expression: &str, body: &str, route_keys: impl IntoIterator<Item = &'a str>) -> String {
    let selected = serde_json::from_str::<Value>(body).ok().and_then(|json| evaluate(expression, &json));
    match selected {
        Some(key) if route_keys.into_iter().any(|route| route == key) => key,
        _ => "$default".to_owned(),
    }
}

/// The expression's value for `json`, or `None` when a member is missing.
fn evaluate(expression: &str, json: &Value) -> Option<String> {
    // The bare form names one member: `$request.body.action`.
    if let Some(path) = expression.strip_prefix("$request.body.") {
        return member(json, path);
    }
    // The template form: literal text around `${request.body.x}` parts.
    let mut out = String::new();
    let mut rest = expression;
    let mut found = false;
    while let Some(start) = rest.find("${") {
        found = true;
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}')? + start;
        let path = rest[start + 2..end].strip_prefix("request.body.")?;
        out.push_str(&member(json, path)?);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    found.then_some(out)
}

/// A dotted member path's value as route keys spell it: strings as they
/// are, numbers and booleans in their JSON text.
fn member(json: &Value, path: &str) -> Option<String> {
    let value = path.split('.').try_fold(json, |value, name| value.get(name))?;
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(_) | Value::Bool(_) => Some(value.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROUTES: [&str; 4] = ["$connect", "$default", "sendmessage", "chat/join"];

    #[test]
    fn a_member_selects_its_route() {
        assert_eq!(route_key("$request.body.action", r#"{"action":"sendmessage"}"#, ROUTES), "sendmessage");
        assert_eq!(route_key("$request.body.m.kind", r#"{"m":{"kind":"sendmessage"}}"#, ROUTES), "sendmessage");
    }

    #[test]
    fn anything_else_goes_to_default() {
        for body in ["not json", r#"{"other":1}"#, r#"{"action":"unknown"}"#, r#"{"action":{"a":1}}"#, ""] {
            assert_eq!(route_key("$request.body.action", body, ROUTES), "$default", "{body}");
        }
    }

    #[test]
    fn templates_join_members() {
        let expression = "${request.body.service}/${request.body.action}";
        assert_eq!(route_key(expression, r#"{"service":"chat","action":"join"}"#, ROUTES), "chat/join");
        assert_eq!(route_key(expression, r#"{"service":"chat"}"#, ROUTES), "$default");
    }
}
