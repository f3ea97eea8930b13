//! Identity sources: where an authorizer finds what it checks. HTTP APIs
//! write them `$request.header.Authorization`, `$request.querystring.token`,
//! `$context.routeKey`, `$stageVariables.key`; REST APIs write
//! `method.request.header.Authorization` (and `stageVariables.x`,
//! `context.x`); WebSocket APIs `route.request.header.x`. All name the same
//! four places, so one parser serves every front.

use std::collections::BTreeMap;

use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentitySource {
    /// A request header, by its lowercased name (header names are
    /// case-insensitive).
    Header(String),
    /// A query string parameter (names are case-sensitive).
    Query(String),
    /// A context variable: a dotted path into the event's `requestContext`.
    Context(String),
    StageVariable(String),
}

/// What identity sources are read from.
#[derive(Debug, Clone, Copy)]
pub struct RequestView<'a> {
    /// Header names lowercased, as [`crate::proxy::request_headers`] gives them.
    pub headers: &'a [(String, String)],
    pub raw_query: &'a str,
    pub stage_variables: &'a BTreeMap<String, String>,
    /// The `requestContext` of the event the request makes.
    pub context: &'a Value,
}

impl IdentitySource {
    /// Parses one selection expression, or `None` when it names no place
    /// a request has.
    pub fn parse(expression: &str) -> Option<Self> {
        let expression = expression.trim();
        let request = expression
            .strip_prefix("$request.")
            .or_else(|| expression.strip_prefix("method.request."))
            .or_else(|| expression.strip_prefix("route.request."));
        let named = |name: &str| (!name.is_empty()).then(|| name.to_owned());
        if let Some(rest) = request {
            if let Some(name) = rest.strip_prefix("header.") {
                return named(name).map(|name| IdentitySource::Header(name.to_ascii_lowercase()));
            }
            if let Some(name) = rest.strip_prefix("querystring.") {
                return named(name).map(IdentitySource::Query);
            }
            return None;
        }
        if let Some(name) = expression.strip_prefix("$context.").or_else(|| expression.strip_prefix("context.")) {
            return named(name).map(IdentitySource::Context);
        }
        if let Some(name) =
            expression.strip_prefix("$stageVariables.").or_else(|| expression.strip_prefix("stageVariables."))
        {
            return named(name).map(IdentitySource::StageVariable);
        }
        None
    }

    /// The source's value in a request; `None` when absent or empty, which
    /// API Gateway refuses with 401 before calling any authorizer.
    pub fn value(&self, request: &RequestView<'_>) -> Option<String> {
        let found = match self {
            IdentitySource::Header(name) => {
                let values: Vec<&str> =
                    request.headers.iter().filter(|(header, _)| header == name).map(|(_, v)| v.as_str()).collect();
                (!values.is_empty()).then(|| values.join(","))
            }
            IdentitySource::Query(name) => {
                let values: Vec<String> = crate::proxy::query_pairs(request.raw_query)
                    .into_iter()
                    .filter(|(key, _)| key == name)
                    .map(|(_, value)| value)
                    .collect();
                (!values.is_empty()).then(|| values.join(","))
            }
            IdentitySource::Context(path) => {
                let mut at = request.context;
                for part in path.split('.') {
                    at = at.get(part)?;
                }
                match at {
                    Value::String(text) => Some(text.clone()),
                    Value::Null | Value::Object(_) | Value::Array(_) => None,
                    other => Some(other.to_string()),
                }
            }
            IdentitySource::StageVariable(name) => request.stage_variables.get(name).cloned(),
        };
        found.filter(|value| !value.trim().is_empty())
    }
}

/// The values of every source in order, or `None` if any is missing.
pub fn values(sources: &[String], request: &RequestView<'_>) -> Option<Vec<String>> {
    sources.iter().map(|source| IdentitySource::parse(source)?.value(request)).collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn every_front_spelling_parses() {
        assert_eq!(
            IdentitySource::parse("$request.header.Authorization"),
            Some(IdentitySource::Header("authorization".into()))
        );
        assert_eq!(
            IdentitySource::parse("method.request.header.X-Token"),
            Some(IdentitySource::Header("x-token".into()))
        );
        assert_eq!(
            IdentitySource::parse("route.request.querystring.Token"),
            Some(IdentitySource::Query("Token".into()))
        );
        assert_eq!(IdentitySource::parse("$context.routeKey"), Some(IdentitySource::Context("routeKey".into())));
        assert_eq!(IdentitySource::parse("stageVariables.k"), Some(IdentitySource::StageVariable("k".into())));
        for bad in ["header.x", "$request.header.", "$request.body.x", "", "$stageVariables."] {
            assert_eq!(IdentitySource::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn values_come_from_the_request_and_missing_ones_refuse() {
        let headers = vec![("x-token".to_string(), "a".to_string()), ("x-token".to_string(), "b".to_string())];
        let stage: BTreeMap<String, String> = [("k".to_string(), "v".to_string())].into();
        let context = json!({ "routeKey": "GET /x", "http": { "sourceIp": "1.2.3.4" } });
        let view =
            RequestView { headers: &headers, raw_query: "t=1&t=2&e=", stage_variables: &stage, context: &context };
        let sources: Vec<String> = [
            "$request.header.X-Token",
            "$request.querystring.t",
            "$context.http.sourceIp",
            "$stageVariables.k",
            "$context.routeKey",
        ]
        .map(String::from)
        .into();
        assert_eq!(values(&sources, &view).unwrap(), ["a,b", "1,2", "1.2.3.4", "v", "GET /x"]);
        for missing in ["$request.header.other", "$request.querystring.e", "$context.nothing", "$stageVariables.x"] {
            assert_eq!(values(&[missing.to_string()], &view), None, "{missing}");
        }
    }
}
