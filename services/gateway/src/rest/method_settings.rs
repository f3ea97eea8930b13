//! A REST stage's `methodSettings`, kept as UpdateStage writes them: one
//! entry per patch path under the method key, `*/*/throttling/rateLimit`
//! or `~1items~1{id}/GET/throttling/burstLimit` (the resource path with
//! `/` written `~1`, then the method). Here they are read for throttling
//! — a method's own setting, else the stage's `*/*` — and shown in the
//! management API's `MethodSetting` shape.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::model::RouteSettings;

/// The method key of a resource path and method (`~1items/GET`).
pub fn method_key(resource_path: &str, http_method: &str) -> String {
    format!("{}/{http_method}", resource_path.replace('~', "~0").replace('/', "~1"))
}

/// The stored settings are strings from patch values; numbers and
/// booleans read as such.
fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(number) => number.as_f64(),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    }
}

fn setting<'a>(settings: &'a BTreeMap<String, Value>, key: &str, name: &str) -> Option<&'a Value> {
    settings.get(&format!("{key}/{name}"))
}

/// The throttling that applies to one method of a stage: each limit from
/// the method's own settings, else from `*/*`; none set means only the
/// account's limits apply.
pub fn throttling_for(settings: &BTreeMap<String, Value>, resource_path: &str, http_method: &str) -> RouteSettings {
    let own = method_key(resource_path, http_method);
    let find = |name: &str| setting(settings, &own, name).or_else(|| setting(settings, "*/*", name)).and_then(number);
    RouteSettings {
        throttling_rate_limit: find("throttling/rateLimit"),
        throttling_burst_limit: find("throttling/burstLimit").map(|burst| burst.max(0.0) as i64),
        ..Default::default()
    }
}

/// The `MethodSetting` member each patch path sets, and how its value reads.
const MEMBERS: &[(&str, &str, Kind)] = &[
    ("metrics/enabled", "metricsEnabled", Kind::Bool),
    ("logging/loglevel", "loggingLevel", Kind::Text),
    ("logging/dataTrace", "dataTraceEnabled", Kind::Bool),
    ("throttling/burstLimit", "throttlingBurstLimit", Kind::Integer),
    ("throttling/rateLimit", "throttlingRateLimit", Kind::Float),
    ("caching/enabled", "cachingEnabled", Kind::Bool),
    ("caching/ttlInSeconds", "cacheTtlInSeconds", Kind::Integer),
    ("caching/dataEncrypted", "cacheDataEncrypted", Kind::Bool),
    ("caching/requireAuthorizationForCacheControl", "requireAuthorizationForCacheControl", Kind::Bool),
    ("caching/unauthorizedCacheControlHeaderStrategy", "unauthorizedCacheControlHeaderStrategy", Kind::Text),
];

#[derive(Clone, Copy)]
enum Kind {
    Bool,
    Integer,
    Float,
    Text,
}

/// `{"*/*": {"throttlingRateLimit": 10.0, ...}, "~1items/GET": {...}}`.
pub fn to_json(settings: &BTreeMap<String, Value>) -> Value {
    let mut methods: Map<String, Value> = Map::new();
    for (path, value) in settings {
        let Some((key, member, kind)) = MEMBERS.iter().find_map(|(suffix, member, kind)| {
            path.strip_suffix(suffix).and_then(|key| key.strip_suffix('/')).map(|key| (key, *member, *kind))
        }) else {
            continue;
        };
        let shown = match kind {
            Kind::Bool => json!(value.as_bool().unwrap_or_else(|| value.as_str() == Some("true"))),
            Kind::Integer => json!(number(value).unwrap_or_default() as i64),
            Kind::Float => json!(number(value).unwrap_or_default()),
            Kind::Text => json!(value.as_str().map_or_else(|| value.to_string(), str::to_owned)),
        };
        if let Some(method) = methods.entry(key.to_owned()).or_insert_with(|| json!({})).as_object_mut() {
            method.insert(member.to_owned(), shown);
        }
    }
    Value::Object(methods)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> BTreeMap<String, Value> {
        pairs.iter().map(|(key, value)| ((*key).to_owned(), json!(value))).collect()
    }

    #[test]
    fn a_method_takes_its_own_limits_else_the_stages() {
        let stored = settings(&[
            ("*/*/throttling/rateLimit", "10"),
            ("*/*/throttling/burstLimit", "20"),
            ("~1items~1{id}/GET/throttling/burstLimit", "2"),
        ]);
        let own = throttling_for(&stored, "/items/{id}", "GET");
        assert_eq!((own.throttling_rate_limit, own.throttling_burst_limit), (Some(10.0), Some(2)));
        let other = throttling_for(&stored, "/items", "GET");
        assert_eq!((other.throttling_rate_limit, other.throttling_burst_limit), (Some(10.0), Some(20)));
        let none = throttling_for(&BTreeMap::new(), "/", "GET");
        assert_eq!((none.throttling_rate_limit, none.throttling_burst_limit), (None, None));
    }

    #[test]
    fn settings_show_in_the_method_setting_shape() {
        let stored = settings(&[
            ("*/*/throttling/rateLimit", "1.5"),
            ("*/*/throttling/burstLimit", "3"),
            ("*/*/metrics/enabled", "true"),
            ("~1items/GET/logging/loglevel", "INFO"),
        ]);
        assert_eq!(
            to_json(&stored),
            json!({
                "*/*": { "throttlingRateLimit": 1.5, "throttlingBurstLimit": 3, "metricsEnabled": true },
                "~1items/GET": { "loggingLevel": "INFO" },
            })
        );
        assert_eq!(method_key("/items/{id}", "GET"), "~1items~1{id}/GET");
    }
}
