//! The Lambda proxy events of WebSocket routes, shaped as API Gateway
//! sends them: `CONNECT` with the handshake's headers and query,
//! `MESSAGE` with the frame's body, `DISCONNECT` with the close code and
//! reason. Every event's `requestContext` names the connection, route,
//! stage, API and domain, and the times of the connection and request.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

/// What every event of one connection shares.
#[derive(Debug, Clone)]
pub struct ConnectionFacts {
    pub connection_id: String,
    pub api_id: String,
    pub stage: String,
    pub domain_name: String,
    /// Milliseconds since the Unix epoch.
    pub connected_at: i64,
    pub source_ip: String,
    pub user_agent: Option<String>,
    /// The `$connect` authorizer's context, carried on every event.
    pub authorizer: Option<Value>,
}

/// One event's own facts.
#[derive(Debug, Clone)]
pub enum EventKind<'a> {
    Connect {
        /// The handshake's headers in arrival order, names as sent.
        headers: &'a [(String, String)],
        query: &'a [(String, String)],
    },
    Message {
        message_id: &'a str,
        body: &'a str,
        is_base64: bool,
    },
    Disconnect {
        status_code: u16,
        reason: &'a str,
    },
}

/// API Gateway's `requestTime`: `13/Dec/2020:10:17:47 +0000`.
fn request_time(now: chrono::DateTime<chrono::Utc>) -> String {
    now.format("%d/%b/%Y:%H:%M:%S +0000").to_string()
}

/// The event for `route_key` of `kind` on the connection `facts`.
pub fn event(
    facts: &ConnectionFacts,
    route_key: &str,
    kind: &EventKind<'_>,
    request_id: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Value {
    let event_type = match kind {
        EventKind::Connect { .. } => "CONNECT",
        EventKind::Message { .. } => "MESSAGE",
        EventKind::Disconnect { .. } => "DISCONNECT",
    };
    let mut identity = json!({ "sourceIp": facts.source_ip });
    if let Some(agent) = &facts.user_agent {
        identity["userAgent"] = json!(agent);
    }
    let mut context = json!({
        "routeKey": route_key,
        "eventType": event_type,
        "extendedRequestId": request_id,
        "requestTime": request_time(now),
        "messageDirection": "IN",
        "stage": facts.stage,
        "connectedAt": facts.connected_at,
        "requestTimeEpoch": now.timestamp_millis(),
        "identity": identity,
        "requestId": request_id,
        "domainName": facts.domain_name,
        "connectionId": facts.connection_id,
        "apiId": facts.api_id,
    });
    if let Some(authorizer) = &facts.authorizer {
        context["authorizer"] = authorizer.clone();
    }
    let mut event = Map::new();
    match kind {
        EventKind::Connect { headers, query } => {
            let (single, multi) = header_maps(headers.iter().map(|(name, value)| (name.as_str(), value.as_str())));
            event.insert("headers".into(), single);
            event.insert("multiValueHeaders".into(), multi);
            if !query.is_empty() {
                let (single, multi) = header_maps(query.iter().map(|(name, value)| (name.as_str(), value.as_str())));
                event.insert("queryStringParameters".into(), single);
                event.insert("multiValueQueryStringParameters".into(), multi);
            }
            event.insert("isBase64Encoded".into(), json!(false));
        }
        EventKind::Message { message_id, body, is_base64 } => {
            context["messageId"] = json!(message_id);
            event.insert("body".into(), json!(body));
            event.insert("isBase64Encoded".into(), json!(is_base64));
        }
        EventKind::Disconnect { status_code, reason } => {
            context["disconnectStatusCode"] = json!(status_code);
            context["disconnectReason"] = json!(reason);
            // The headers API Gateway sends with `$disconnect`: the host
            // and the fields it keeps from the handshake.
            let host = facts.domain_name.as_str();
            let headers = [("Host", host), ("x-api-key", ""), ("X-Forwarded-For", ""), ("x-restapi", "")];
            let (single, multi) = header_maps(headers);
            event.insert("headers".into(), single);
            event.insert("multiValueHeaders".into(), multi);
            event.insert("isBase64Encoded".into(), json!(false));
        }
    }
    event.insert("requestContext".into(), context);
    Value::Object(event)
}

/// The stage's variables on an event, as API Gateway passes them to a
/// WebSocket route's Lambda proxy integration: `stageVariables`, present
/// only when the stage has some.
pub fn add_stage_variables(event: &mut Value, variables: &BTreeMap<String, String>) {
    if let Some(event) = event.as_object_mut()
        && !variables.is_empty()
    {
        event.insert("stageVariables".into(), json!(variables));
    }
}

/// The single-value (last value wins, as API Gateway's v1 map) and
/// multi-value maps of a list of pairs.
fn header_maps<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> (Value, Value) {
    let mut single = Map::new();
    let mut multi: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut order = Vec::new();
    for (name, value) in pairs {
        single.insert(name.to_owned(), json!(value));
        let values = multi.entry(name.to_owned()).or_default();
        if values.is_empty() {
            order.push(name.to_owned());
        }
        values.push(value.to_owned());
    }
    let mut multi_map = Map::new();
    for name in order {
        multi_map.insert(name.clone(), json!(multi.remove(&name).unwrap_or_default()));
    }
    (Value::Object(single), Value::Object(multi_map))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;

    use super::*;

    fn facts() -> ConnectionFacts {
        ConnectionFacts {
            connection_id: "WyHPAfymhcwCENw=".into(),
            api_id: "myapiid123".into(),
            stage: "dev".into(),
            domain_name: "myapiid123.execute-api.localhost".into(),
            connected_at: 1_607_854_667_185,
            source_ip: "203.0.113.0".into(),
            user_agent: None,
            authorizer: None,
        }
    }

    fn now() -> chrono::DateTime<chrono::Utc> {
        chrono::Utc.timestamp_millis_opt(1_607_854_667_186).unwrap()
    }

    #[test]
    fn a_connect_event_has_the_handshake() {
        let headers = vec![
            ("Host".to_owned(), "myapiid123.execute-api.localhost".to_owned()),
            ("Sec-WebSocket-Version".to_owned(), "13".to_owned()),
        ];
        let query = vec![("token".to_owned(), "abc".to_owned())];
        let event =
            event(&facts(), "$connect", &EventKind::Connect { headers: &headers, query: &query }, "XfGLw=", now());
        assert_eq!(
            event,
            json!({
                "headers": { "Host": "myapiid123.execute-api.localhost", "Sec-WebSocket-Version": "13" },
                "multiValueHeaders": { "Host": ["myapiid123.execute-api.localhost"], "Sec-WebSocket-Version": ["13"] },
                "queryStringParameters": { "token": "abc" },
                "multiValueQueryStringParameters": { "token": ["abc"] },
                "isBase64Encoded": false,
                "requestContext": {
                    "routeKey": "$connect",
                    "eventType": "CONNECT",
                    "extendedRequestId": "XfGLw=",
                    "requestTime": "13/Dec/2020:10:17:47 +0000",
                    "messageDirection": "IN",
                    "stage": "dev",
                    "connectedAt": 1_607_854_667_185_i64,
                    "requestTimeEpoch": 1_607_854_667_186_i64,
                    "identity": { "sourceIp": "203.0.113.0" },
                    "requestId": "XfGLw=",
                    "domainName": "myapiid123.execute-api.localhost",
                    "connectionId": "WyHPAfymhcwCENw=",
                    "apiId": "myapiid123",
                }
            })
        );
    }

    #[test]
    fn a_message_event_has_its_body_and_id() {
        let kind = EventKind::Message { message_id: "m1", body: r#"{"action":"x"}"#, is_base64: false };
        let event = event(&facts(), "x", &kind, "r1", now());
        assert_eq!(event["body"], r#"{"action":"x"}"#);
        assert_eq!(event["requestContext"]["messageId"], "m1");
        assert_eq!(event["requestContext"]["eventType"], "MESSAGE");
        assert!(event.get("headers").is_none());
    }

    #[test]
    fn stage_variables_are_added_when_the_stage_has_some() {
        let kind = EventKind::Message { message_id: "m1", body: "x", is_base64: false };
        let mut message = event(&facts(), "x", &kind, "r1", now());
        add_stage_variables(&mut message, &BTreeMap::new());
        assert!(message.get("stageVariables").is_none());
        let variables: BTreeMap<String, String> = [("table".to_owned(), "t1".to_owned())].into();
        add_stage_variables(&mut message, &variables);
        assert_eq!(message["stageVariables"], json!({ "table": "t1" }));
    }

    #[test]
    fn a_disconnect_event_has_the_close() {
        let kind = EventKind::Disconnect { status_code: 1005, reason: "Client-side close frame status not set" };
        let event = event(&facts(), "$disconnect", &kind, "r2", now());
        assert_eq!(event["requestContext"]["disconnectStatusCode"], 1005);
        assert_eq!(event["requestContext"]["disconnectReason"], "Client-side close frame status not set");
        assert_eq!(event["headers"]["Host"], "myapiid123.execute-api.localhost");
        assert!(event["requestContext"].get("messageId").is_none());
    }
}
