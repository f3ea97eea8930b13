//! Function URLs, answered on the user-API port: by host
//! (`{urlId}.lambda-url.{region}.localhost`) or, with no DNS, by path
//! (`/lambda-url/{urlId}/...`). The functions service says what a URL
//! serves; the request becomes a payload 2.0 event as Lambda builds it for
//! function URLs (route `$default`, the URL id as API id and domain
//! prefix), with the URL's CORS settings applied here.

use actix_web::{HttpRequest, HttpResponse, http::StatusCode};
use bytes::Bytes;
use nubo_proto::{ErrorCode, functions::InvokeRequest};
use serde_json::{Value, json};

use crate::{
    proxy::{self, RequestFacts},
    user_api::UserApis,
};

/// The URL id and the path a function URL request addresses, if it is one.
pub fn url_of<'a>(host: &'a str, path: &'a str) -> Option<(&'a str, &'a str)> {
    if let Some((id, _)) = host.split_once(".lambda-url.") {
        return Some((id, path));
    }
    let rest = path.strip_prefix("/lambda-url/")?;
    let (id, remaining) = match rest.find('/') {
        Some(slash) => (&rest[..slash], &rest[slash..]),
        None => (rest, "/"),
    };
    (!id.is_empty()).then_some((id, remaining))
}

fn message(status: u16, text: &str) -> HttpResponse {
    HttpResponse::build(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .content_type("application/json")
        .body(json!({ "Message": text }).to_string())
}

/// The CORS headers a URL's settings give a request from `origin`.
fn cors_headers(cors: &Value, origin: Option<&str>, preflight: bool) -> Vec<(String, String)> {
    let list = |name: &str| -> Vec<String> {
        cors.get(name)
            .and_then(Value::as_array)
            .map(|values| values.iter().filter_map(Value::as_str).map(str::to_owned).collect())
            .unwrap_or_default()
    };
    let Some(origin) = origin else { return Vec::new() };
    let origins = list("AllowOrigins");
    let allowed = if origins.iter().any(|allowed| allowed == "*") {
        "*".to_owned()
    } else if origins.iter().any(|allowed| allowed.eq_ignore_ascii_case(origin)) {
        origin.to_owned()
    } else {
        return Vec::new();
    };
    let mut headers = vec![("access-control-allow-origin".to_owned(), allowed)];
    if cors.get("AllowCredentials").and_then(Value::as_bool) == Some(true) {
        headers.push(("access-control-allow-credentials".into(), "true".into()));
    }
    let expose = list("ExposeHeaders");
    if !expose.is_empty() {
        headers.push(("access-control-expose-headers".into(), expose.join(",")));
    }
    if preflight {
        let methods = list("AllowMethods");
        if !methods.is_empty() {
            headers.push(("access-control-allow-methods".into(), methods.join(",")));
        }
        let allow_headers = list("AllowHeaders");
        if !allow_headers.is_empty() {
            headers.push(("access-control-allow-headers".into(), allow_headers.join(",")));
        }
        if let Some(age) = cors.get("MaxAge").and_then(Value::as_i64) {
            headers.push(("access-control-max-age".into(), age.to_string()));
        }
    }
    headers
}

pub async fn handle(
    request: &HttpRequest,
    body: &Bytes,
    state: &UserApis,
    url_id: &str,
    path: &str,
    host: &str,
) -> HttpResponse {
    let url = match state.functions.function_url(url_id).await {
        Ok(url) => url,
        Err(error) if error.code == ErrorCode::NotFound => return message(404, "Not Found"),
        Err(error) => {
            tracing::error!(url = url_id, %error, "cannot load a function url");
            return message(502, "Internal Server Error");
        }
    };
    if url.auth_type != "NONE" {
        // AWS_IAM URLs need a signature checked against IAM, which nubo
        // does not have yet.
        return message(403, "Forbidden");
    }
    let cors: Value = serde_json::from_str(&url.cors_json).unwrap_or(Value::Null);
    let origin = request.headers().get("origin").and_then(|value| value.to_str().ok());
    let preflight = request.method() == actix_web::http::Method::OPTIONS
        && request.headers().contains_key("access-control-request-method")
        && !cors.is_null();
    if preflight {
        let mut response = HttpResponse::Ok();
        for (name, value) in cors_headers(&cors, origin, true) {
            response.insert_header((name, value));
        }
        return response.finish();
    }

    let request_id = nubo_host::front::request_id();
    let headers = proxy::request_headers(request);
    let empty = Default::default();
    let facts = RequestFacts {
        method: request.method().as_str(),
        raw_path: path,
        raw_query: request.query_string(),
        headers,
        body,
        source_ip: request.peer_addr().map(|addr| addr.ip().to_string()).unwrap_or_default(),
        protocol: "HTTP/1.1",
        api_id: url_id,
        // An AuthType NONE URL is called anonymously.
        account_id: "anonymous",
        domain_name: host.split(':').next().unwrap_or(host),
        stage: "$default",
        route_key: "$default",
        resource: "/",
        path_parameters: &empty,
        stage_variables: &empty,
        request_id: &request_id,
        now: chrono::Utc::now(),
    };
    let event = proxy::event_v2(&facts);
    let invoked = state
        .functions
        .invoke(InvokeRequest {
            function: url.function.clone(),
            qualifier: url.qualifier.clone(),
            payload: event.to_string().into_bytes(),
            ..Default::default()
        })
        .await;
    let invoked = match invoked {
        Ok(invoked) => invoked,
        Err(error) if error.code == ErrorCode::Throttled => return message(429, "Too Many Requests"),
        Err(error) => {
            tracing::warn!(url = url_id, %error, "function url invocation failed");
            return message(502, "Internal Server Error");
        }
    };
    if !invoked.function_error.is_empty() {
        return message(502, "Internal Server Error");
    }
    match proxy::response_v2(&invoked.payload) {
        Ok(response) => {
            let mut extra = cors_headers(&cors, origin, false);
            extra.push(("x-amzn-requestid".into(), invoked.request_id));
            response.into_http(extra)
        }
        Err(malformed) => {
            tracing::info!(url = url_id, reason = %malformed.0, "malformed function url response");
            message(502, "Internal Server Error")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_found_by_host_or_path() {
        assert_eq!(url_of("abc.lambda-url.us-east-1.localhost:8080", "/x"), Some(("abc", "/x")));
        assert_eq!(url_of("127.0.0.1:8080", "/lambda-url/abc/x/y"), Some(("abc", "/x/y")));
        assert_eq!(url_of("127.0.0.1:8080", "/lambda-url/abc"), Some(("abc", "/")));
        assert_eq!(url_of("127.0.0.1:8080", "/abc/x"), None);
    }

    #[test]
    fn cors_answers_only_allowed_origins() {
        let cors = json!({ "AllowOrigins": ["https://app.example"], "AllowMethods": ["GET"], "MaxAge": 60 });
        let headers = cors_headers(&cors, Some("https://app.example"), true);
        assert!(headers.contains(&("access-control-allow-origin".into(), "https://app.example".into())));
        assert!(headers.contains(&("access-control-max-age".into(), "60".into())));
        assert!(cors_headers(&cors, Some("https://evil.example"), true).is_empty());
    }
}
