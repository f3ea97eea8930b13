//! REST APIs on the user-API port: `{apiId}.execute-api.{domain}/{stage}/...`,
//! `/{apiId}/{stage}/...`, and LocalStack's
//! `/restapis/{apiId}/{stage}/_user_request_/...`. A request takes its
//! stage's deployment, the resource and method it matches, the method's
//! API key check and usage plan, then the integration: a Lambda proxy
//! (payload 1.0, the REST shape), an HTTP proxy, or a MOCK answered from
//! its templates. Errors are API Gateway's gateway responses, with their
//! `x-amzn-ErrorType`.

use std::{collections::BTreeMap, time::Duration};

use actix_web::{HttpRequest, HttpResponse, http::StatusCode};
use base64::Engine as _;
use bytes::Bytes;
use nubo_proto::functions::InvokeRequest;
use serde_json::{Value, json};

use super::{
    authorize,
    matching::{self, Matched},
    media,
    model::{Integration, RestApi, Stage},
    template::{self, Scope},
    usage::{self, Refusal},
};
use crate::{
    access_log,
    authorizers::Identity,
    proxy::{self, RequestFacts},
    request_context::RequestContext,
    stages::substitute_stage_variables,
    user_api::UserApis,
};

/// The API id and the `/{stage}/...` path of a `_user_request_` URL.
pub fn user_request_of(path: &str) -> Option<(&str, String)> {
    let rest = path.strip_prefix("/restapis/")?;
    let (api_id, rest) = rest.split_once('/')?;
    let (stage, rest) = rest.split_once("/_user_request_")?;
    if api_id.is_empty() || stage.is_empty() || stage.contains('/') {
        return None;
    }
    let rest = if rest.is_empty() { "/" } else { rest };
    Some((api_id, format!("/{stage}{rest}")))
}

/// A gateway response: API Gateway's fixed JSON body and error type.
pub(super) fn gateway_response(status: u16, error_type: &str, message: &str, request_id: &str) -> HttpResponse {
    HttpResponse::build(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .insert_header(("x-amzn-requestid", request_id.to_owned()))
        .insert_header(("x-amzn-errortype", error_type.to_owned()))
        .content_type("application/json")
        .body(json!({ "message": message }).to_string())
}

fn missing_token(request_id: &str) -> HttpResponse {
    gateway_response(403, "MissingAuthenticationTokenException", "Missing Authentication Token", request_id)
}

fn internal_error(status: u16, request_id: &str) -> HttpResponse {
    gateway_response(status, "InternalServerErrorException", "Internal server error", request_id)
}

/// Answers a request to REST API `api_id`, whose path after the id is
/// `/{stage}/...`, and writes the stage's access log line when it has one.
pub async fn handle(
    request: &HttpRequest,
    body: &Bytes,
    state: &UserApis,
    api_id: &str,
    stage_path: &str,
    host: &str,
) -> HttpResponse {
    let started = std::time::Instant::now();
    let mut log = None;
    let response = respond(request, body, state, api_id, stage_path, host, &mut log).await;
    if let Some(mut line) = log {
        let elapsed = started.elapsed();
        line.context.status = response.status().as_u16();
        line.context.response_latency_ms = elapsed.as_millis() as u64;
        if let actix_web::body::BodySize::Sized(size) = actix_web::body::MessageBody::size(response.body()) {
            line.context.response_length = size as usize;
        }
        let error_type = response.headers().get("x-amzn-errortype").and_then(|value| value.to_str().ok());
        if let Some(kind) = error_type {
            line.context.error_message = kind.to_owned();
        }
        let route = if line.context.route_key.is_empty() { "-".into() } else { line.context.route_key.clone() };
        state.metrics.observe(
            crate::route_metrics::RouteLabels {
                api: line.context.api_id.clone(),
                stage: line.context.stage.clone(),
                route,
                status: line.context.status,
            },
            elapsed.as_secs_f64(),
            None,
            error_type == Some("TooManyRequestsException"),
        );
        if let Some((group, format)) = line.log {
            state.access_log.record(group, format.render(&line.context));
        }
    }
    response
}

/// What is known of a request to a stage, for its metrics and access log.
struct AccessLine {
    /// The stage's log group and format, when it logs.
    log: Option<(String, access_log::Format)>,
    context: RequestContext,
}

impl AccessLine {
    /// The line of a request to `stage`.
    fn of(stage: &Stage, request: &HttpRequest, api_id: &str, account_id: &str, host: &str, request_id: &str) -> Self {
        let log = stage.access_log_settings.as_ref().and_then(|settings| {
            let (destination, format) = (settings.destination_arn.as_deref()?, settings.format.as_deref()?);
            Some((access_log::group_directory(destination), access_log::Format::parse(format).ok()?))
        });
        let header = |name: &str| request.headers().get(name).and_then(|value| value.to_str().ok()).unwrap_or_default();
        let context = RequestContext {
            request_id: request_id.to_owned(),
            account_id: account_id.to_owned(),
            api_id: api_id.to_owned(),
            stage: stage.stage_name.clone(),
            domain_name: host.split(':').next().unwrap_or(host).to_owned(),
            http_method: request.method().to_string(),
            path: request.path().to_owned(),
            protocol: format!("{:?}", request.version()),
            source_ip: request.peer_addr().map(|addr| addr.ip().to_string()).unwrap_or_default(),
            user_agent: header("user-agent").to_owned(),
            request_time: chrono::Utc::now(),
            ..Default::default()
        };
        Self { log, context }
    }
}

async fn respond(
    request: &HttpRequest,
    body: &Bytes,
    state: &UserApis,
    api_id: &str,
    stage_path: &str,
    host: &str,
    log: &mut Option<AccessLine>,
) -> HttpResponse {
    let request_id = nubo_host::front::request_id();
    let api = match state.rest.store.api_for_request(api_id).await {
        Ok(Some(api)) => api,
        Ok(None) => return crate::error::user_api_error(404, "Not Found"),
        Err(error) => {
            tracing::error!(api = api_id, %error, "cannot load rest api");
            return internal_error(500, &request_id);
        }
    };
    let trimmed = stage_path.trim_start_matches('/');
    let (stage_name, rest) = trimmed.split_once('/').map_or((trimmed, ""), |(stage, rest)| (stage, rest));
    let resource_path = format!("/{rest}");
    let Some(stage) = api.stage(stage_name) else {
        return gateway_response(403, "ForbiddenException", "Forbidden", &request_id);
    };
    *log = Some(AccessLine::of(stage, request, api_id, &state.account_id, host, &request_id));
    let Some(deployment) = api.deployment(&stage.deployment_id) else { return missing_token(&request_id) };
    let method = request.method().as_str();
    let Some(matched) = matching::select(&deployment.resources, method, &resource_path) else {
        return missing_token(&request_id);
    };
    if let Some(line) = log.as_mut() {
        line.context.route_key = format!("{} {}", matched.method.http_method, matched.resource.path);
    }
    let settings = super::method_settings::throttling_for(
        &stage.method_settings,
        &matched.resource.path,
        &matched.method.http_method,
    );
    let throttle_key = format!("{} {}", matched.method.http_method, matched.resource.path);
    if state.throttle.admit(api_id, stage_name, &throttle_key, &settings).is_err() {
        return gateway_response(429, "TooManyRequestsException", "Too Many Requests", &request_id);
    }
    let headers = proxy::request_headers(request);
    let Some(integration) = matched.method.integration.as_ref() else {
        return internal_error(500, &request_id);
    };
    let mut api_key = None;
    let mut context = Context {
        request,
        body,
        api: &api,
        stage,
        matched: &matched,
        headers: &headers,
        resource_path: &resource_path,
        host,
        request_id: &request_id,
        account_id: &state.account_id,
        api_key: None,
    };
    let authorized = match authorize::authorize(&context, state).await {
        Ok(authorized) => authorized,
        Err(refused) => return refused,
    };

    if matched.method.api_key_required {
        let snapshot = match state.rest.store.usage_for_request().await {
            Ok(snapshot) => snapshot,
            Err(error) => {
                tracing::error!(api = api_id, %error, "cannot load api keys");
                return internal_error(500, &request_id);
            }
        };
        let presented = match api.api_key_source.as_str() {
            "AUTHORIZER" => authorized.usage_key.as_deref(),
            _ => context.header("x-api-key"),
        };
        let admitted = usage::check_key(&snapshot, presented, api_id, stage_name).and_then(|(key, plan)| {
            let method_key = format!("{}/{}", matched.resource.path, matched.method.http_method);
            let method_throttle = plan
                .api_stages
                .iter()
                .find(|s| s.api_id == api_id && s.stage == stage_name)
                .and_then(|s| s.throttle.get(&method_key));
            state.rest.limits.admit(plan, key, method_throttle, chrono::Utc::now()).map(|()| key.clone())
        });
        match admitted {
            Ok(key) => api_key = Some(key),
            Err(Refusal::Forbidden) => return gateway_response(403, "ForbiddenException", "Forbidden", &request_id),
            Err(Refusal::Throttled) => {
                return gateway_response(429, "TooManyRequestsException", "Too Many Requests", &request_id);
            }
            Err(Refusal::QuotaExceeded) => {
                return gateway_response(429, "LimitExceededException", "Limit Exceeded", &request_id);
            }
        }
    }
    context.api_key = api_key.as_ref().map(|key| (key.value.as_str(), key.id.as_str()));
    match integration.kind.as_str() {
        "AWS_PROXY" => lambda_proxy(&context, integration, state, &authorized.identity).await,
        "HTTP_PROXY" => http_proxy(&context, integration, state).await,
        "MOCK" => mock(&context, integration, &authorized.identity),
        other => {
            tracing::warn!(api = api_id, integration = other, "integration type is not served");
            internal_error(500, &request_id)
        }
    }
}

/// What authorizers and integrations need to know of the request.
pub(super) struct Context<'a> {
    pub(super) request: &'a HttpRequest,
    pub(super) body: &'a Bytes,
    pub(super) api: &'a RestApi,
    pub(super) stage: &'a Stage,
    pub(super) matched: &'a Matched<'a>,
    pub(super) headers: &'a [(String, String)],
    /// The path under the stage (`/items/42`).
    pub(super) resource_path: &'a str,
    pub(super) host: &'a str,
    pub(super) request_id: &'a str,
    pub(super) account_id: &'a str,
    /// The key value and id the request presented, when the method asked.
    pub(super) api_key: Option<(&'a str, &'a str)>,
}

impl Context<'_> {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
    }

    fn domain_name(&self) -> &str {
        self.host.split(':').next().unwrap_or(self.host)
    }
}

/// The payload 1.0 event of a REST API, built by [`proxy::event_v1`] and
/// brought to the REST shape: no `version`, `path` under the stage,
/// the resource's id and path, the full `identity`, the body encoded
/// by `binaryMediaTypes`, and what the authorizer said of the caller.
pub(super) fn rest_event(context: &Context<'_>, identity: &Identity) -> Value {
    let stage_path = format!("/{}{}", context.stage.stage_name, context.resource_path);
    let protocol = match context.request.version() {
        actix_web::http::Version::HTTP_2 => "HTTP/2.0",
        actix_web::http::Version::HTTP_10 => "HTTP/1.0",
        _ => "HTTP/1.1",
    };
    let facts = RequestFacts {
        method: context.request.method().as_str(),
        raw_path: context.resource_path,
        raw_query: context.request.query_string(),
        headers: context.headers.to_vec(),
        body: &[],
        source_ip: context.request.peer_addr().map(|addr| addr.ip().to_string()).unwrap_or_default(),
        protocol,
        api_id: &context.api.id,
        account_id: context.account_id,
        domain_name: context.domain_name(),
        stage: &context.stage.stage_name,
        route_key: &context.matched.resource.id,
        resource: &context.matched.resource.path,
        path_parameters: &context.matched.path_parameters,
        stage_variables: &context.stage.variables,
        request_id: context.request_id,
        now: chrono::Utc::now(),
    };
    let mut event = proxy::event_v1(&facts);
    let binary = media::is_binary(&context.api.binary_media_types, context.header("content-type"));
    let (body, is_base64) = match (context.body.is_empty(), binary) {
        (true, _) => (Value::Null, false),
        (false, true) => (json!(base64::engine::general_purpose::STANDARD.encode(context.body)), true),
        (false, false) => (json!(String::from_utf8_lossy(context.body)), false),
    };
    event["body"] = body;
    event["isBase64Encoded"] = json!(is_base64);
    let user_agent = context.header("user-agent");
    let (api_key, api_key_id) = context.api_key.map_or((Value::Null, Value::Null), |(v, id)| (json!(v), json!(id)));
    let request_context = &mut event["requestContext"];
    request_context["path"] = json!(stage_path);
    request_context["resourceId"] = json!(context.matched.resource.id);
    request_context["resourcePath"] = json!(context.matched.resource.path);
    request_context["identity"] = json!({
        "cognitoIdentityPoolId": null,
        "accountId": null,
        "cognitoIdentityId": null,
        "caller": null,
        "apiKey": api_key,
        "apiKeyId": api_key_id,
        "sourceIp": facts.source_ip,
        "principalOrgId": null,
        "accessKey": null,
        "cognitoAuthenticationType": null,
        "cognitoAuthenticationProvider": null,
        "userArn": null,
        "userAgent": user_agent,
        "user": null,
    });
    // A REST event has an `authorizer` only when an authorizer spoke (not
    // HTTP APIs' placeholder); `annotate` tells the payload formats apart
    // by `version`, which the REST shape then drops.
    if let Some(request_context) = event["requestContext"].as_object_mut() {
        request_context.remove("authorizer");
    }
    identity.annotate(&mut event);
    if let Some(object) = event.as_object_mut() {
        object.remove("version");
    }
    stringify_authorizer_context(&mut event);
    event
}

/// A REST integration sees a Lambda authorizer's context values as
/// strings (`7` arrives as `"7"`, `true` as `"true"`), as API Gateway
/// hands them on; only its own `integrationLatency` stays a number.
fn stringify_authorizer_context(event: &mut Value) {
    let Some(authorizer) = event["requestContext"].get_mut("authorizer").and_then(Value::as_object_mut) else {
        return;
    };
    for (key, value) in authorizer.iter_mut() {
        if key != "integrationLatency" && (value.is_number() || value.is_boolean()) {
            *value = Value::String(value.to_string());
        }
    }
}

async fn lambda_proxy(
    context: &Context<'_>,
    integration: &Integration,
    state: &UserApis,
    identity: &Identity,
) -> HttpResponse {
    let event = rest_event(context, identity);
    let uri = substitute_stage_variables(integration.uri.as_deref().unwrap_or_default(), &context.stage.variables);
    let function = function_of(&uri).to_owned();
    let invoke = state.functions.invoke(InvokeRequest {
        function,
        payload: event.to_string().into_bytes(),
        ..Default::default()
    });
    let timeout = Duration::from_millis(integration.timeout_in_millis.max(50));
    let invoked = match tokio::time::timeout(timeout, invoke).await {
        Err(_) => {
            return gateway_response(
                504,
                "InternalServerErrorException",
                "Endpoint request timed out",
                context.request_id,
            );
        }
        Ok(Err(error)) => {
            tracing::warn!(api = %context.api.id, %error, "lambda integration failed");
            return internal_error(500, context.request_id);
        }
        Ok(Ok(invoked)) => invoked,
    };
    if !invoked.function_error.is_empty() {
        tracing::info!(api = %context.api.id, request_id = %invoked.request_id, "function failed");
        return internal_error(502, context.request_id);
    }
    // A base64 body is decoded only for a binary `Accept`; otherwise the
    // client gets the base64 text, as API Gateway sends it.
    let decode = media::is_binary(&context.api.binary_media_types, media::first_accepted(context.header("accept")));
    let payload = if decode {
        invoked.payload
    } else {
        match serde_json::from_slice::<Value>(&invoked.payload) {
            Ok(mut result) if result.get("isBase64Encoded").and_then(Value::as_bool) == Some(true) => {
                result["isBase64Encoded"] = json!(false);
                result.to_string().into_bytes()
            }
            _ => invoked.payload,
        }
    };
    match proxy::response_v1(&payload) {
        Ok(response) => response.into_http([("x-amzn-requestid".to_owned(), context.request_id.to_owned())]),
        Err(malformed) => {
            tracing::info!(api = %context.api.id, reason = %malformed.0, "malformed lambda proxy response");
            internal_error(502, context.request_id)
        }
    }
}

/// The function an integration URI names (see [`crate::user_api`]).
pub(super) fn function_of(uri: &str) -> &str {
    uri.split_once("/functions/").and_then(|(_, rest)| rest.strip_suffix("/invocations")).unwrap_or(uri)
}

/// Headers that belong to one connection and are never relayed.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
];

/// The endpoint URL: `{name}` placeholders filled from the path parameters
/// the integration maps (`integration.request.path.x` ←
/// `method.request.path.y`), or the same-named ones, then the query.
fn endpoint_url(
    integration: &Integration,
    path_parameters: &BTreeMap<String, String>,
    stage_variables: &BTreeMap<String, String>,
    query: &str,
) -> String {
    let mut url = substitute_stage_variables(integration.uri.as_deref().unwrap_or_default(), stage_variables);
    let mut values: BTreeMap<String, String> = path_parameters.clone();
    for (target, source) in &integration.request_parameters {
        if let (Some(name), Some(from)) =
            (target.strip_prefix("integration.request.path."), source.strip_prefix("method.request.path."))
            && let Some(value) = path_parameters.get(from)
        {
            values.insert(name.to_owned(), value.clone());
        }
    }
    for (name, value) in &values {
        let encoded = nubo_host::sigv4::uri_encode(value, false);
        url = url.replace(&format!("{{{name}+}}"), &encoded).replace(&format!("{{{name}}}"), &encoded);
    }
    if !query.is_empty() {
        url.push(if url.contains('?') { '&' } else { '?' });
        url.push_str(query);
    }
    url
}

async fn http_proxy(context: &Context<'_>, integration: &Integration, state: &UserApis) -> HttpResponse {
    let url = endpoint_url(
        integration,
        &context.matched.path_parameters,
        &context.stage.variables,
        context.request.query_string(),
    );
    let method = match integration.http_method.as_deref() {
        Some("ANY") | None => context.request.method().as_str(),
        Some(method) => method,
    };
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap_or(reqwest::Method::GET);
    let mut outgoing = state.rest.http.request(method, &url);
    for (name, value) in context.headers {
        if !HOP_BY_HOP.contains(&name.as_str()) {
            outgoing = outgoing.header(name.as_str(), value.as_str());
        }
    }
    outgoing = outgoing
        .header("x-amzn-apigateway-api-id", context.api.id.as_str())
        .timeout(Duration::from_millis(integration.timeout_in_millis.max(50)))
        .body(context.body.clone());
    let answer = match outgoing.send().await {
        Ok(answer) => answer,
        Err(error) if error.is_timeout() => {
            return gateway_response(
                504,
                "InternalServerErrorException",
                "Endpoint request timed out",
                context.request_id,
            );
        }
        Err(error) => {
            tracing::warn!(api = %context.api.id, %error, "http integration failed");
            return internal_error(502, context.request_id);
        }
    };
    let status = StatusCode::from_u16(answer.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut response = HttpResponse::build(status);
    for (name, value) in answer.headers() {
        if !HOP_BY_HOP.contains(&name.as_str()) {
            response.append_header((name.as_str(), value.as_bytes()));
        }
    }
    response.insert_header(("x-amzn-requestid", context.request_id.to_owned()));
    match answer.bytes().await {
        Ok(body) => response.body(body),
        Err(error) => {
            tracing::warn!(api = %context.api.id, %error, "http integration body broke off");
            internal_error(502, context.request_id)
        }
    }
}

/// The template for a content type: the exact one, else `application/json`,
/// as API Gateway falls back.
fn template_for<'a>(templates: &'a BTreeMap<String, String>, content_type: Option<&str>) -> Option<&'a String> {
    let essence = content_type.and_then(|ct| ct.split(';').next()).map(|ct| ct.trim().to_ascii_lowercase());
    essence
        .as_deref()
        .and_then(|ct| templates.get(ct))
        .or_else(|| templates.get("application/json"))
        .or_else(|| templates.values().next().filter(|_| templates.len() == 1))
}

/// The status a MOCK integration's request template selects: its
/// `statusCode`, 200 without a template.
fn mock_status(rendered: Option<&str>) -> Result<u16, ()> {
    let Some(rendered) = rendered.map(str::trim).filter(|text| !text.is_empty()) else { return Ok(200) };
    let value: Value = serde_json::from_str(rendered).map_err(drop)?;
    match value.get("statusCode") {
        Some(Value::Number(number)) => number.as_u64().and_then(|n| u16::try_from(n).ok()).ok_or(()),
        Some(Value::String(text)) => text.parse().map_err(drop),
        _ => Ok(200),
    }
}

/// The integration response a backend status selects: the first whose
/// `selectionPattern` matches the whole status, else the default one.
pub fn select_response<'a>(
    integration: &'a Integration,
    status: &str,
) -> Option<&'a super::model::IntegrationResponse> {
    let patterned = integration.integration_responses.values().find(|response| {
        response.selection_pattern.as_deref().is_some_and(|pattern| {
            regex::Regex::new(&format!("^(?:{pattern})$")).is_ok_and(|regex| regex.is_match(status))
        })
    });
    patterned.or_else(|| {
        integration
            .integration_responses
            .values()
            .find(|response| response.selection_pattern.as_deref().is_none_or(str::is_empty))
    })
}

/// `$context.authorizer.*` of a template: the principal and context a
/// Lambda authorizer gave, or a user pool token's claims.
fn authorizer_variables(identity: &Identity) -> Vec<(String, String)> {
    let text = |value: &Value| value.as_str().map_or_else(|| value.to_string(), str::to_owned);
    match identity {
        Identity::Lambda { principal_id, context } => principal_id
            .iter()
            .map(|id| ("authorizer.principalId".to_owned(), id.clone()))
            .chain(context.iter().map(|(key, value)| (format!("authorizer.{key}"), text(value))))
            .collect(),
        Identity::Jwt(token) => token
            .claims
            .iter()
            .map(|(name, value)| (format!("authorizer.claims.{name}"), crate::authorizers::claim_text(value)))
            .collect(),
        Identity::Iam(principal) => vec![
            ("identity.accessKey".to_owned(), principal.access_key_id.clone()),
            ("identity.userArn".to_owned(), principal.arn.clone()),
        ],
        Identity::Anonymous => Vec::new(),
    }
}

fn mock(context: &Context<'_>, integration: &Integration, identity: &Identity) -> HttpResponse {
    let body_text = String::from_utf8_lossy(context.body);
    let query = context
        .request
        .query_string()
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (nubo_host::sigv4::percent_decode(key), nubo_host::sigv4::percent_decode(value))
        })
        .collect();
    let scope = Scope {
        context: [
            ("requestId", context.request_id.to_owned()),
            ("stage", context.stage.stage_name.clone()),
            ("apiId", context.api.id.clone()),
            ("httpMethod", context.request.method().to_string()),
            ("resourcePath", context.matched.resource.path.clone()),
            ("resourceId", context.matched.resource.id.clone()),
            ("accountId", context.account_id.to_owned()),
            ("domainName", context.domain_name().to_owned()),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .chain(authorizer_variables(identity))
        .collect(),
        stage_variables: &context.stage.variables,
        path_parameters: &context.matched.path_parameters,
        query,
        headers: context.headers,
        body: &body_text,
    };
    let request_template = template_for(&integration.request_templates, context.header("content-type"));
    let rendered = request_template.map(|template| template::render(template, &scope));
    let Ok(status) = mock_status(rendered.as_deref()) else {
        tracing::info!(api = %context.api.id, "mock request template did not give a status code");
        return internal_error(500, context.request_id);
    };
    let Some(selected) = select_response(integration, &status.to_string()) else {
        tracing::info!(api = %context.api.id, status, "no integration response matches");
        return internal_error(500, context.request_id);
    };
    let status = selected.status_code.parse::<u16>().ok().and_then(|s| StatusCode::from_u16(s).ok());
    let Some(status) = status else { return internal_error(500, context.request_id) };
    let mut response = HttpResponse::build(status);
    for (target, source) in &selected.response_parameters {
        let Some(name) = target.strip_prefix("method.response.header.") else { continue };
        // Literals are quoted; other sources (a mock has no backend
        // headers) give nothing.
        if let Some(literal) = source.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')) {
            response.insert_header((name, literal));
        }
    }
    response.insert_header(("x-amzn-requestid", context.request_id.to_owned()));
    let accept = media::first_accepted(context.header("accept")).filter(|accept| *accept != "*/*");
    let (content_type, body) = match template_for(&selected.response_templates, accept) {
        Some(template) => {
            let content_type = selected
                .response_templates
                .iter()
                .find(|(_, candidate)| *candidate == template)
                .map(|(content_type, _)| content_type.clone())
                .unwrap_or_else(|| "application/json".into());
            (content_type, template::render(template, &scope))
        }
        None => ("application/json".to_owned(), String::new()),
    };
    response.content_type(content_type).body(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rest::model::IntegrationResponse;

    #[test]
    fn user_request_urls_name_api_and_stage() {
        assert_eq!(user_request_of("/restapis/abc/prod/_user_request_/items/1"), Some(("abc", "/prod/items/1".into())));
        assert_eq!(user_request_of("/restapis/abc/prod/_user_request_"), Some(("abc", "/prod/".into())));
        assert_eq!(user_request_of("/restapis/abc/prod/items"), None);
        assert_eq!(user_request_of("/abc/prod/items"), None);
    }

    fn responses(pairs: &[(&str, Option<&str>)]) -> Integration {
        Integration {
            kind: "MOCK".into(),
            integration_responses: pairs
                .iter()
                .map(|(status, pattern)| {
                    let response = IntegrationResponse {
                        status_code: (*status).into(),
                        selection_pattern: pattern.map(str::to_owned),
                        ..Default::default()
                    };
                    ((*status).to_owned(), response)
                })
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn the_backend_status_selects_the_integration_response() {
        let integration = responses(&[("200", None), ("404", Some("4\\d{2}")), ("500", Some("5\\d{2}"))]);
        assert_eq!(select_response(&integration, "200").unwrap().status_code, "200");
        assert_eq!(select_response(&integration, "404").unwrap().status_code, "404");
        assert_eq!(select_response(&integration, "503").unwrap().status_code, "500");
        // The pattern must match the whole status.
        assert_eq!(select_response(&integration, "4040").unwrap().status_code, "200");
        assert!(select_response(&responses(&[("500", Some("5\\d{2}"))]), "200").is_none());
    }

    #[test]
    fn integrations_see_authorizer_context_values_as_strings() {
        let mut event = json!({ "requestContext": { "authorizer": {
            "principalId": "user-1", "n": 7, "yes": true, "tier": "gold", "integrationLatency": 0,
        } } });
        stringify_authorizer_context(&mut event);
        assert_eq!(
            event["requestContext"]["authorizer"],
            json!({ "principalId": "user-1", "n": "7", "yes": "true", "tier": "gold", "integrationLatency": 0 })
        );
    }

    #[test]
    fn templates_see_what_the_authorizer_said() {
        let lambda = Identity::Lambda {
            principal_id: Some("user-1".into()),
            context: json!({ "tier": "gold", "n": 3 }).as_object().unwrap().clone(),
        };
        let variables: BTreeMap<String, String> = authorizer_variables(&lambda).into_iter().collect();
        assert_eq!(variables["authorizer.principalId"], "user-1");
        assert_eq!((variables["authorizer.tier"].as_str(), variables["authorizer.n"].as_str()), ("gold", "3"));
        let token = crate::authorizers::jwt::VerifiedToken {
            claims: json!({ "sub": "abc", "cognito:groups": ["a", "b"] }).as_object().unwrap().clone(),
            scopes: Vec::new(),
        };
        let variables: BTreeMap<String, String> = authorizer_variables(&Identity::Jwt(token)).into_iter().collect();
        assert_eq!(variables["authorizer.claims.sub"], "abc");
        assert_eq!(variables["authorizer.claims.cognito:groups"], "[a b]");
        assert!(authorizer_variables(&Identity::Anonymous).is_empty());
    }

    #[test]
    fn mock_templates_give_the_status() {
        assert_eq!(mock_status(None), Ok(200));
        assert_eq!(mock_status(Some(r#"{"statusCode": 404}"#)), Ok(404));
        assert_eq!(mock_status(Some(r#"{"statusCode": "500"}"#)), Ok(500));
        assert!(mock_status(Some("not json")).is_err());
    }

    #[test]
    fn endpoint_urls_take_mapped_parameters() {
        let integration = Integration {
            uri: Some("http://upstream/base/{path}".into()),
            request_parameters: [(
                "integration.request.path.path".to_string(),
                "method.request.path.proxy".to_string(),
            )]
            .into(),
            ..Default::default()
        };
        let parameters: BTreeMap<String, String> = [("proxy".to_string(), "a b/c".to_string())].into();
        assert_eq!(
            endpoint_url(&integration, &parameters, &BTreeMap::new(), "x=1"),
            "http://upstream/base/a%20b/c?x=1"
        );
        let staged = Integration { uri: Some("http://${stageVariables.host}/v/{path}".into()), ..integration };
        let variables: BTreeMap<String, String> = [("host".to_string(), "backend:81".to_string())].into();
        assert_eq!(endpoint_url(&staged, &parameters, &variables, ""), "http://backend:81/v/a%20b/c");
    }

    #[test]
    fn templates_fall_back_to_json() {
        let templates: BTreeMap<String, String> =
            [("application/json".to_string(), "j".to_string()), ("text/plain".to_string(), "t".to_string())].into();
        assert_eq!(template_for(&templates, Some("text/plain; charset=utf-8")).unwrap(), "t");
        assert_eq!(template_for(&templates, Some("application/xml")).unwrap(), "j");
        assert_eq!(template_for(&templates, None).unwrap(), "j");
    }
}
