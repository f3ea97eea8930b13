//! Lambda proxy integration: the request becomes an event in API Gateway's
//! payload format 1.0 or 2.0, and the function's result becomes the HTTP
//! response by the rules of that format.

use std::collections::BTreeMap;

use base64::Engine as _;
use bytes::Bytes;
use serde_json::{Map, Value, json};

/// What the gateway knows of a request when it builds an event.
#[derive(Debug)]
pub struct RequestFacts<'a> {
    pub method: &'a str,
    /// The path the client sent, stage prefix included (`rawPath`).
    pub raw_path: &'a str,
    pub raw_query: &'a str,
    pub headers: Vec<(String, String)>,
    pub body: &'a [u8],
    pub source_ip: String,
    pub protocol: &'a str,
    pub api_id: &'a str,
    pub account_id: &'a str,
    pub domain_name: &'a str,
    pub stage: &'a str,
    pub route_key: &'a str,
    /// The route's resource path for payload 1.0 (`/items/{id}`).
    pub resource: &'a str,
    pub path_parameters: &'a BTreeMap<String, String>,
    pub stage_variables: &'a BTreeMap<String, String>,
    pub request_id: &'a str,
    pub now: chrono::DateTime<chrono::Utc>,
}

/// Content types API Gateway passes as text; anything else is base64.
fn is_text(content_type: Option<&str>) -> bool {
    let Some(content_type) = content_type else { return true };
    let content_type = content_type.to_ascii_lowercase();
    content_type.starts_with("text/")
        || ["json", "xml", "javascript", "x-www-form-urlencoded", "graphql", "yaml"]
            .iter()
            .any(|kind| content_type.contains(kind))
}

fn body_fields(facts: &RequestFacts<'_>) -> (Value, bool) {
    if facts.body.is_empty() {
        return (Value::Null, false);
    }
    let content_type = facts.headers.iter().find(|(name, _)| name == "content-type").map(|(_, value)| value.as_str());
    match std::str::from_utf8(facts.body) {
        Ok(text) if is_text(content_type) => (json!(text), false),
        _ => (json!(base64::engine::general_purpose::STANDARD.encode(facts.body)), true),
    }
}

pub fn query_pairs(raw_query: &str) -> Vec<(String, String)> {
    raw_query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |s: &str| nubo_host::sigv4::percent_decode(&s.replace('+', " "));
            (decode(key), decode(value))
        })
        .collect()
}

fn map_or_null(map: Map<String, Value>) -> Value {
    if map.is_empty() { Value::Null } else { Value::Object(map) }
}

/// The payload format 2.0 event.
pub fn event_v2(facts: &RequestFacts<'_>) -> Value {
    let mut headers = Map::new();
    let mut cookies = Vec::new();
    for (name, value) in &facts.headers {
        if name == "cookie" {
            cookies.extend(value.split(';').map(|cookie| json!(cookie.trim())));
            continue;
        }
        match headers.get_mut(name) {
            Some(Value::String(existing)) => {
                existing.push(',');
                existing.push_str(value);
            }
            _ => {
                headers.insert(name.clone(), json!(value));
            }
        }
    }
    let mut query = Map::new();
    for (key, value) in query_pairs(facts.raw_query) {
        match query.get_mut(&key) {
            Some(Value::String(existing)) => {
                existing.push(',');
                existing.push_str(&value);
            }
            _ => {
                query.insert(key, json!(value));
            }
        }
    }
    let user_agent =
        facts.headers.iter().find(|(name, _)| name == "user-agent").map(|(_, value)| value.as_str()).unwrap_or("");
    let (body, is_base64) = body_fields(facts);
    let mut event = json!({
        "version": "2.0",
        "routeKey": facts.route_key,
        "rawPath": facts.raw_path,
        "rawQueryString": facts.raw_query,
        "headers": headers,
        "requestContext": {
            "accountId": facts.account_id,
            "apiId": facts.api_id,
            "domainName": facts.domain_name,
            "domainPrefix": facts.domain_name.split('.').next().unwrap_or(facts.api_id),
            "http": {
                "method": facts.method,
                "path": facts.raw_path,
                "protocol": facts.protocol,
                "sourceIp": facts.source_ip,
                "userAgent": user_agent,
            },
            "requestId": facts.request_id,
            "routeKey": facts.route_key,
            "stage": facts.stage,
            "time": facts.now.format("%d/%b/%Y:%H:%M:%S +0000").to_string(),
            "timeEpoch": facts.now.timestamp_millis(),
        },
        "isBase64Encoded": is_base64,
    });
    let fields = [
        ("cookies", if cookies.is_empty() { Value::Null } else { Value::Array(cookies) }),
        ("queryStringParameters", map_or_null(query)),
        ("pathParameters", map_or_null(facts.path_parameters.iter().map(|(k, v)| (k.clone(), json!(v))).collect())),
        ("stageVariables", map_or_null(facts.stage_variables.iter().map(|(k, v)| (k.clone(), json!(v))).collect())),
        ("body", body),
    ];
    for (name, value) in fields {
        if !value.is_null() {
            event[name] = value;
        }
    }
    event
}

/// The payload format 1.0 event (REST API shape).
pub fn event_v1(facts: &RequestFacts<'_>) -> Value {
    let mut headers = Map::new();
    let mut multi_headers: Map<String, Value> = Map::new();
    for (name, value) in &facts.headers {
        headers.insert(name.clone(), json!(value));
        if let Some(values) = multi_headers.entry(name.clone()).or_insert_with(|| json!([])).as_array_mut() {
            values.push(json!(value));
        }
    }
    let mut query = Map::new();
    let mut multi_query: Map<String, Value> = Map::new();
    for (key, value) in query_pairs(facts.raw_query) {
        query.insert(key.clone(), json!(value));
        if let Some(values) = multi_query.entry(key).or_insert_with(|| json!([])).as_array_mut() {
            values.push(json!(value));
        }
    }
    let (body, is_base64) = body_fields(facts);
    let path_parameters: Map<String, Value> =
        facts.path_parameters.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
    let stage_variables: Map<String, Value> =
        facts.stage_variables.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
    json!({
        "version": "1.0",
        "resource": facts.resource,
        "path": facts.raw_path,
        "httpMethod": facts.method,
        "headers": map_or_null(headers),
        "multiValueHeaders": map_or_null(multi_headers),
        "queryStringParameters": map_or_null(query),
        "multiValueQueryStringParameters": map_or_null(multi_query),
        "pathParameters": map_or_null(path_parameters),
        "stageVariables": map_or_null(stage_variables),
        "requestContext": {
            "accountId": facts.account_id,
            "apiId": facts.api_id,
            "domainName": facts.domain_name,
            "domainPrefix": facts.domain_name.split('.').next().unwrap_or(facts.api_id),
            "httpMethod": facts.method,
            "path": facts.raw_path,
            "protocol": facts.protocol,
            "requestId": facts.request_id,
            "extendedRequestId": facts.request_id,
            "requestTime": facts.now.format("%d/%b/%Y:%H:%M:%S +0000").to_string(),
            "requestTimeEpoch": facts.now.timestamp_millis(),
            "resourceId": facts.route_key,
            "resourcePath": facts.resource,
            "stage": facts.stage,
            // Every member AWS's sample has; those an authorizer fills
            // (AWS_IAM) are null until it does.
            "identity": {
                "accessKey": null,
                "accountId": null,
                "caller": null,
                "cognitoAuthenticationProvider": null,
                "cognitoAuthenticationType": null,
                "cognitoIdentityId": null,
                "cognitoIdentityPoolId": null,
                "principalOrgId": null,
                "sourceIp": facts.source_ip,
                "user": null,
                "userAgent": facts.headers.iter().find(|(n, _)| n == "user-agent").map(|(_, v)| v.as_str()),
                "userArn": null,
            },
            // What a route without a JWT authorizer carries in payload 1.0.
            "authorizer": { "claims": null, "scopes": null },
        },
        "body": body,
        "isBase64Encoded": is_base64,
    })
}

/// An HTTP response decided by the integration.
#[derive(Debug, PartialEq, Eq)]
pub struct ProxyResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

impl ProxyResponse {
    /// The response as sent, with `extra` headers set over the function's.
    pub fn into_http(self, extra: impl IntoIterator<Item = (String, String)>) -> actix_web::HttpResponse {
        let status = actix_web::http::StatusCode::from_u16(self.status).unwrap_or(actix_web::http::StatusCode::OK);
        let mut builder = actix_web::HttpResponse::build(status);
        for (name, value) in self.headers {
            builder.append_header((name, value));
        }
        for (name, value) in extra {
            builder.insert_header((name, value));
        }
        builder.body(self.body)
    }
}

/// A request's headers as an event carries them; a value that is not
/// visible ASCII is left out.
pub fn request_headers(request: &actix_web::HttpRequest) -> Vec<(String, String)> {
    request
        .headers()
        .iter()
        .filter_map(|(name, value)| Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned())))
        .collect()
}

/// Why a function's result could not become a response; API Gateway
/// answers 500 `Internal Server Error` for each.
#[derive(Debug, PartialEq, Eq)]
pub struct MalformedResponse(pub String);

fn header_value(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    }
}

fn decode_body(body: &Value, is_base64: bool) -> Result<Bytes, MalformedResponse> {
    match body {
        Value::Null => Ok(Bytes::new()),
        Value::String(text) if is_base64 => base64::engine::general_purpose::STANDARD
            .decode(text)
            .map(Bytes::from)
            .map_err(|_| MalformedResponse("body is not valid base64".into())),
        Value::String(text) => Ok(Bytes::from(text.clone())),
        other => Ok(Bytes::from(other.to_string())),
    }
}

/// Maps a payload 2.0 result. A result without `statusCode` is taken as the
/// body of a 200 JSON response, as API Gateway does.
pub fn response_v2(payload: &[u8]) -> Result<ProxyResponse, MalformedResponse> {
    let value: Value = serde_json::from_slice(payload).map_err(|_| MalformedResponse("result is not JSON".into()))?;
    let Some(object) = value.as_object().filter(|object| object.contains_key("statusCode")) else {
        // A string result is the body itself; anything else, its JSON text.
        let body = match value {
            Value::String(text) => Bytes::from(text),
            _ => Bytes::copy_from_slice(payload),
        };
        return Ok(ProxyResponse {
            status: 200,
            headers: vec![("content-type".into(), "application/json".into())],
            body,
        });
    };
    let status = object["statusCode"]
        .as_u64()
        .filter(|status| (100..=599).contains(status))
        .ok_or_else(|| MalformedResponse("statusCode is not an HTTP status".into()))?;
    let mut headers = Vec::new();
    if let Some(map) = object.get("headers").and_then(Value::as_object) {
        for (name, value) in map {
            headers.push((
                name.clone(),
                header_value(value).ok_or_else(|| MalformedResponse(format!("header {name} is not a scalar")))?,
            ));
        }
    }
    if let Some(cookies) = object.get("cookies").and_then(Value::as_array) {
        for cookie in cookies {
            if let Some(cookie) = cookie.as_str() {
                headers.push(("set-cookie".into(), cookie.to_owned()));
            }
        }
    }
    let is_base64 = object.get("isBase64Encoded").and_then(Value::as_bool).unwrap_or(false);
    let body = decode_body(object.get("body").unwrap_or(&Value::Null), is_base64)?;
    Ok(ProxyResponse { status: status as u16, headers, body })
}

/// Maps a payload 1.0 result, which must carry `statusCode`.
pub fn response_v1(payload: &[u8]) -> Result<ProxyResponse, MalformedResponse> {
    let value: Value = serde_json::from_slice(payload).map_err(|_| MalformedResponse("result is not JSON".into()))?;
    let object = value.as_object().ok_or_else(|| MalformedResponse("result is not an object".into()))?;
    let status = object
        .get("statusCode")
        .and_then(Value::as_u64)
        .filter(|status| (100..=599).contains(status))
        .ok_or_else(|| MalformedResponse("statusCode is missing or invalid".into()))?;
    let mut headers: Vec<(String, String)> = Vec::new();
    if let Some(map) = object.get("multiValueHeaders").and_then(Value::as_object) {
        for (name, values) in map {
            for value in values.as_array().into_iter().flatten() {
                headers.push((
                    name.clone(),
                    header_value(value).ok_or_else(|| MalformedResponse(format!("header {name} is not a scalar")))?,
                ));
            }
        }
    }
    if let Some(map) = object.get("headers").and_then(Value::as_object) {
        for (name, value) in map {
            if !headers.iter().any(|(existing, _)| existing.eq_ignore_ascii_case(name)) {
                headers.push((
                    name.clone(),
                    header_value(value).ok_or_else(|| MalformedResponse(format!("header {name} is not a scalar")))?,
                ));
            }
        }
    }
    let is_base64 = object.get("isBase64Encoded").and_then(Value::as_bool).unwrap_or(false);
    let body = decode_body(object.get("body").unwrap_or(&Value::Null), is_base64)?;
    Ok(ProxyResponse { status: status as u16, headers, body })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts<'a>(params: &'a BTreeMap<String, String>, body: &'a [u8]) -> RequestFacts<'a> {
        RequestFacts {
            method: "GET",
            raw_path: "/hello/world",
            raw_query: "x=1&y=a&y=b&q=a%20b",
            headers: vec![
                ("user-agent".into(), "curl/8".into()),
                ("cookie".into(), "a=1; b=2".into()),
                ("x-multi".into(), "1".into()),
                ("x-multi".into(), "2".into()),
            ],
            body,
            source_ip: "127.0.0.1".into(),
            protocol: "HTTP/1.1",
            api_id: "abc123defg",
            account_id: "000000000000",
            domain_name: "localhost",
            stage: "$default",
            route_key: "$default",
            resource: "/{proxy+}",
            path_parameters: params,
            stage_variables: params,
            request_id: "rid",
            now: chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
        }
    }

    #[test]
    fn v2_events_join_repeated_values_and_split_cookies() {
        let empty = BTreeMap::new();
        let event = event_v2(&facts(&empty, b""));
        assert_eq!(event["rawPath"], "/hello/world");
        assert_eq!(event["queryStringParameters"], json!({ "x": "1", "y": "a,b", "q": "a b" }));
        assert_eq!(event["headers"]["x-multi"], "1,2");
        assert_eq!(event["cookies"], json!(["a=1", "b=2"]));
        assert_eq!(event["requestContext"]["http"]["method"], "GET");
        assert_eq!(event["requestContext"]["http"]["userAgent"], "curl/8");
        assert!(event.get("body").is_none());
        assert!(event.get("pathParameters").is_none());
        assert_eq!(event["isBase64Encoded"], false);
    }

    #[test]
    fn binary_bodies_are_base64() {
        let empty = BTreeMap::new();
        let mut f = facts(&empty, &[0xff, 0x00]);
        f.headers.push(("content-type".into(), "application/octet-stream".into()));
        let event = event_v2(&f);
        assert_eq!(event["body"], "/wA=");
        assert_eq!(event["isBase64Encoded"], true);
    }

    #[test]
    fn v1_events_keep_multi_values() {
        let params: BTreeMap<String, String> = [("proxy".to_string(), "hello/world".to_string())].into();
        let event = event_v1(&facts(&params, b"{}"));
        assert_eq!(event["multiValueQueryStringParameters"]["y"], json!(["a", "b"]));
        assert_eq!(event["queryStringParameters"]["y"], "b");
        assert_eq!(event["pathParameters"]["proxy"], "hello/world");
        assert_eq!(event["body"], "{}");
    }

    #[test]
    fn v2_results_map_to_responses() {
        let mapped =
            response_v2(br#"{"statusCode":201,"headers":{"x-a":"1","x-n":2},"cookies":["s=1"],"body":"hi"}"#).unwrap();
        assert_eq!(mapped.status, 201);
        assert!(mapped.headers.contains(&("x-n".into(), "2".into())));
        assert!(mapped.headers.contains(&("set-cookie".into(), "s=1".into())));
        assert_eq!(mapped.body, "hi");
        let inferred = response_v2(br#"{"hello":"world"}"#).unwrap();
        assert_eq!((inferred.status, inferred.body.as_ref()), (200, br#"{"hello":"world"}"#.as_slice()));
        assert_eq!(response_v2(br#""Hello from Lambda!""#).unwrap().body, "Hello from Lambda!");
        let binary = response_v2(br#"{"statusCode":200,"body":"/wA=","isBase64Encoded":true}"#).unwrap();
        assert_eq!(binary.body.as_ref(), &[0xff, 0x00]);
        assert!(response_v2(br#"{"statusCode":"ok"}"#).is_err());
        assert!(response_v2(b"not json").is_err());
    }

    #[test]
    fn v1_results_need_a_status() {
        let mapped = response_v1(br#"{"statusCode":200,"multiValueHeaders":{"x":["1","2"]},"body":"b"}"#).unwrap();
        assert_eq!(mapped.headers, vec![("x".into(), "1".into()), ("x".into(), "2".into())]);
        assert!(response_v1(br#"{"body":"b"}"#).is_err());
    }
}
