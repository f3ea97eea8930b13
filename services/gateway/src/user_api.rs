//! The user API front: requests to `{endpoint}/...` find their API (by the
//! `{apiId}.execute-api.` host or the `/{apiId}` path prefix), their stage
//! and route, and go to the route's Lambda integration over gRPC.

use std::{collections::BTreeMap, time::Duration};

use actix_web::{HttpRequest, HttpResponse, web};
use bytes::Bytes;
use nubo_proto::{ErrorCode, clients::FunctionsClient, functions::InvokeRequest};

use crate::{
    apis::Apis,
    error::user_api_error,
    model::Api,
    proxy::{self, RequestFacts},
    routing,
};

/// API Gateway's limit on a request payload (10 MB).
pub const MAX_BODY: usize = 10 * 1024 * 1024;

#[derive(Debug, Clone)]
pub struct UserApis {
    pub apis: Apis,
    pub functions: FunctionsClient,
    pub account_id: String,
    pub authorizers: crate::authorizers::Authorizers,
    /// REST APIs (v1), served by [`crate::rest::serve`].
    pub rest: crate::rest::Rest,
}

pub fn routes(routes: &mut web::ServiceConfig, user_apis: UserApis) {
    routes
        .app_data(web::Data::new(user_apis))
        .app_data(web::PayloadConfig::new(MAX_BODY))
        .default_service(web::to(handle));
}

/// Splits the API id off a request: from an `{id}.execute-api.` host, or
/// from the first path segment. Returns the id and the remaining path.
fn api_id_of<'a>(host: &'a str, path: &'a str) -> Option<(&'a str, &'a str)> {
    if let Some((id, _)) = host.split_once(".execute-api.") {
        return Some((id, path));
    }
    let rest = path.strip_prefix('/')?;
    let (id, remaining) = match rest.find('/') {
        Some(slash) => (&rest[..slash], &rest[slash..]),
        None => (rest, "/"),
    };
    (!id.is_empty()).then_some((id, remaining))
}

/// Picks the stage a path addresses: a named stage as the first segment,
/// otherwise `$default`. Returns the stage and the path routes see.
fn stage_of<'a>(api: &'a Api, path: &'a str) -> Option<(&'a crate::model::Stage, &'a str)> {
    let first = path.trim_start_matches('/').split('/').next().unwrap_or("");
    if let Some(stage) = api.stages.iter().find(|stage| stage.stage_name != "$default" && stage.stage_name == first) {
        let rest = &path.trim_start_matches('/')[first.len()..];
        return Some((stage, if rest.is_empty() { "/" } else { rest }));
    }
    api.stage("$default").map(|stage| (stage, path))
}

/// The function an integration URI names: a Lambda ARN, or API Gateway's
/// `arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{arn}/invocations`.
pub fn function_of(integration_uri: &str) -> &str {
    integration_uri
        .split_once("/functions/")
        .and_then(|(_, rest)| rest.strip_suffix("/invocations"))
        .unwrap_or(integration_uri)
}

async fn handle(request: HttpRequest, body: Bytes, state: web::Data<UserApis>) -> HttpResponse {
    let not_found = || user_api_error(404, "Not Found");
    // The Host header itself: `connection_info` would honour a client's
    // X-Forwarded-Host and let it pick another API.
    let host =
        request.headers().get(actix_web::http::header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("").to_owned();
    let path = request.path().to_owned();
    if let Some((url_id, url_path)) = crate::function_urls::url_of(&host, &path) {
        return crate::function_urls::handle(&request, &body, &state, url_id, url_path, &host).await;
    }
    if let Some((rest_id, stage_path)) = crate::rest::serve::user_request_of(&path) {
        return crate::rest::serve::handle(&request, &body, &state, rest_id, &stage_path, &host).await;
    }
    let Some((api_id, api_path)) = api_id_of(&host, &path) else { return not_found() };
    let api = match state.apis.for_request(api_id).await {
        Ok(Some(api)) => api,
        // Not an HTTP API: perhaps a REST API.
        Ok(None) => return crate::rest::serve::handle(&request, &body, &state, api_id, api_path, &host).await,
        Err(error) => {
            tracing::error!(api = api_id, %error, "cannot load api");
            return user_api_error(500, "Internal Server Error");
        }
    };
    let Some((stage, route_path)) = stage_of(&api, api_path) else { return not_found() };
    let method = request.method().as_str();
    let Some(matched) = routing::select(api.routes.iter().map(|route| route.route_key.as_str()), method, route_path)
    else {
        return not_found();
    };
    let Some(route) = api.routes.iter().find(|route| route.route_key == matched.route_key) else { return not_found() };
    let Some(integration) = route.target.strip_prefix("integrations/").and_then(|id| api.integration(id)) else {
        return not_found();
    };

    let request_id = nubo_host::front::request_id();
    let headers = proxy::request_headers(&request);
    let source_ip = request.peer_addr().map(|addr| addr.ip().to_string()).unwrap_or_default();
    let raw_path = if stage.stage_name == "$default" {
        api_path.to_owned()
    } else {
        format!("/{}{route_path}", stage.stage_name).replace("//", "/")
    };
    let resource = matched.route_key.split_once(' ').map(|(_, path)| path).unwrap_or("/{proxy+}");
    let protocol = match request.version() {
        actix_web::http::Version::HTTP_2 => "HTTP/2.0",
        actix_web::http::Version::HTTP_10 => "HTTP/1.0",
        _ => "HTTP/1.1",
    };
    let empty = BTreeMap::new();
    let facts = RequestFacts {
        method,
        raw_path: &raw_path,
        raw_query: request.query_string(),
        headers,
        body: &body,
        source_ip,
        protocol,
        api_id,
        account_id: &state.account_id,
        domain_name: host.split(':').next().unwrap_or(&host),
        stage: &stage.stage_name,
        route_key: matched.route_key,
        resource,
        path_parameters: &matched.path_parameters,
        stage_variables: if stage.stage_variables.is_empty() { &empty } else { &stage.stage_variables },
        request_id: &request_id,
        now: chrono::Utc::now(),
    };
    let identity = match state.authorizers.authorize_route(&api, route, &request, &facts).await {
        Ok(identity) => identity,
        Err(refusal) => return refusal.response(),
    };
    let version_one = integration.payload_format_version == "1.0";
    let mut event = if version_one { proxy::event_v1(&facts) } else { proxy::event_v2(&facts) };
    identity.annotate(&mut event);

    let invoke = state.functions.invoke(InvokeRequest {
        function: function_of(&integration.integration_uri).to_owned(),
        payload: event.to_string().into_bytes(),
        ..Default::default()
    });
    let invoked = match tokio::time::timeout(Duration::from_millis(integration.timeout_in_millis), invoke).await {
        Err(_) => return user_api_error(503, "Service Unavailable"),
        Ok(Err(error)) => {
            tracing::warn!(api = api_id, route = matched.route_key, %error, "integration failed");
            return match error.code {
                ErrorCode::Throttled => user_api_error(429, "Too Many Requests"),
                ErrorCode::Unavailable => user_api_error(503, "Service Unavailable"),
                _ => user_api_error(500, "Internal Server Error"),
            };
        }
        Ok(Ok(invoked)) => invoked,
    };
    if !invoked.function_error.is_empty() {
        tracing::info!(api = api_id, route = matched.route_key, request_id = %invoked.request_id, "function failed");
        return user_api_error(500, "Internal Server Error");
    }
    let mapped = if version_one { proxy::response_v1(&invoked.payload) } else { proxy::response_v2(&invoked.payload) };
    match mapped {
        Ok(response) => response.into_http([("apigw-requestid".to_owned(), request_id)]),
        Err(malformed) => {
            tracing::info!(api = api_id, reason = %malformed.0, "malformed lambda proxy response");
            user_api_error(500, "Internal Server Error")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_ids_come_from_host_or_path() {
        assert_eq!(api_id_of("abc.execute-api.localhost:8080", "/x"), Some(("abc", "/x")));
        assert_eq!(api_id_of("127.0.0.1:8080", "/abc/hello/world"), Some(("abc", "/hello/world")));
        assert_eq!(api_id_of("127.0.0.1:8080", "/abc"), Some(("abc", "/")));
        assert_eq!(api_id_of("127.0.0.1:8080", "/"), None);
    }

    #[test]
    fn integration_uris_name_functions() {
        let arn = "arn:aws:lambda:us-east-1:000000000000:function:echo";
        assert_eq!(function_of(arn), arn);
        assert_eq!(
            function_of(&format!("arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{arn}/invocations")),
            arn
        );
    }
}
