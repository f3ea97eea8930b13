//! The user API front: requests to `{endpoint}/...` find their API (by a
//! custom domain's API mapping, the `{apiId}.execute-api.` host or the
//! `/{apiId}` path prefix), their stage (which serves its deployment) and
//! route, pass CORS and throttling, and go to the route's integration — a
//! Lambda function over gRPC, or an HTTP URL ([`crate::http_proxy`]). Every
//! answer, the gateway's own errors included, then gets the integration's
//! response mappings and the API's CORS headers, and is counted per route
//! and written to the stage's access log.

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use actix_web::{HttpRequest, HttpResponse, web};
use bytes::Bytes;
use nubo_proto::{ErrorCode, clients::FunctionsClient, functions::InvokeRequest};

use crate::{
    access_log::{self, AccessLog},
    apis::Apis,
    cors,
    domains::Domains,
    http_proxy,
    model::{Api, Integration, Stage},
    parameter_mapping::{self, Action, Resolve, Target},
    proxy::{self, RequestFacts},
    request_context::RequestContext,
    route_metrics::{RouteLabels, RouteMetrics},
    routing, stages,
    throttle::Throttle,
};

/// API Gateway's limit on a request payload (10 MB).
pub const MAX_BODY: usize = 10 * 1024 * 1024;
/// API Gateway's limit on a request line and headers together (10 KiB).
pub const MAX_HEADER_BYTES: usize = 10 * 1024;

#[derive(Debug, Clone)]
pub struct UserApis {
    pub apis: Apis,
    pub functions: FunctionsClient,
    pub account_id: String,
    pub authorizers: crate::authorizers::Authorizers,
    pub domains: Domains,
    /// Pooled connections to `HTTP_PROXY` upstreams.
    pub http: reqwest::Client,
    pub throttle: Throttle,
    pub access_log: AccessLog,
    pub metrics: RouteMetrics,
    /// REST APIs (v1), served by [`crate::rest::serve`].
    pub rest: crate::rest::Rest,
}

/// Called once per HTTP worker: each gets its own upstream pool, so an
/// `HTTP_PROXY` connection's task runs on the worker that uses it and a
/// response never waits for a wake-up from another thread.
pub fn routes(routes: &mut web::ServiceConfig, mut user_apis: UserApis) {
    user_apis.http = http_proxy::client();
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

/// Whether a host is an address or `localhost`, never a custom domain.
fn is_plain_host(host: &str) -> bool {
    let name = host.rsplit_once(':').filter(|(_, port)| port.parse::<u16>().is_ok()).map_or(host, |(name, _)| name);
    name.eq_ignore_ascii_case("localhost") || name.parse::<std::net::IpAddr>().is_ok() || name.starts_with('[')
}

/// Where a request goes: the API, the path left after the API's prefix,
/// and the stage when a custom domain's mapping names it.
struct Located {
    api_id: String,
    api_path: String,
    mapped_stage: Option<String>,
}

async fn locate(state: &UserApis, host: &str, path: &str) -> Option<Located> {
    if !host.contains(".execute-api.")
        && !is_plain_host(host)
        && let Some(domain) = state.domains.for_request(host).await
    {
        let (mapping, rest) = domain.mapping_for(path)?;
        return Some(Located {
            api_id: mapping.api_id.clone(),
            api_path: rest.to_owned(),
            mapped_stage: Some(mapping.stage.clone()),
        });
    }
    let (api_id, api_path) = api_id_of(host, path)?;
    Some(Located { api_id: api_id.to_owned(), api_path: api_path.to_owned(), mapped_stage: None })
}

/// A response body: whole, or an upstream's, still streaming.
enum ReplyBody {
    Full(Bytes),
    Upstream(reqwest::Response),
}

/// A response before the gateway's finishing (mappings, CORS, request id).
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: ReplyBody,
    /// The gateway's answer to a CORS preflight, its headers final.
    preflight: bool,
}

impl Reply {
    /// The gateway's own answer, in API Gateway's `{"message": ...}` shape.
    fn error(status: u16, message: &str, context: &mut RequestContext) -> Self {
        context.error_message = message.to_owned();
        Reply {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: ReplyBody::Full(Bytes::from(serde_json::json!({ "message": message }).to_string())),
            preflight: false,
        }
    }
}

/// The values a mapping can name, for one request (and its response).
struct MappingValues<'a> {
    request: &'a HttpRequest,
    body: &'a [u8],
    route_path: &'a str,
    path_parameters: &'a BTreeMap<String, String>,
    stage_variables: &'a BTreeMap<String, String>,
    context: &'a RequestContext,
}

impl Resolve for MappingValues<'_> {
    fn resolve(&self, reference: &str) -> Option<String> {
        let (source, name) = reference.split_once('.').unwrap_or((reference, ""));
        match source {
            "context" => self.context.get(name),
            "stageVariables" => self.stage_variables.get(name).cloned(),
            "request" => {
                let (part, name) = name.split_once('.').unwrap_or((name, ""));
                match part {
                    "header" => {
                        let values: Vec<&str> =
                            self.request.headers().get_all(name).filter_map(|value| value.to_str().ok()).collect();
                        (!values.is_empty()).then(|| values.join(","))
                    }
                    "querystring" => self
                        .request
                        .query_string()
                        .split('&')
                        .filter_map(|pair| pair.split_once('=').or(Some((pair, ""))))
                        .find(|(key, _)| nubo_host::sigv4::percent_decode(key) == name)
                        .map(|(_, value)| nubo_host::sigv4::percent_decode(&value.replace('+', " "))),
                    "path" if name.is_empty() => Some(self.route_path.to_owned()),
                    "path" => self.path_parameters.get(name).cloned(),
                    "body" => parameter_mapping::json_path(self.body, name),
                    _ => None,
                }
            }
            _ => None,
        }
    }
}

fn protocol_of(request: &HttpRequest) -> &'static str {
    match request.version() {
        actix_web::http::Version::HTTP_2 => "HTTP/2.0",
        actix_web::http::Version::HTTP_10 => "HTTP/1.0",
        _ => "HTTP/1.1",
    }
}

/// Whether a path holds a `.` or `..` segment, plain or percent-encoded.
fn has_dot_segment(path: &str) -> bool {
    path.split('/').any(|segment| {
        let decoded = segment.to_ascii_lowercase().replace("%2e", ".");
        decoded == "." || decoded == ".."
    })
}

fn header_bytes(request: &HttpRequest) -> usize {
    let target = request.uri().path_and_query().map_or(1, |target| target.as_str().len());
    let line = request.method().as_str().len() + target + 12;
    line + request.headers().iter().map(|(name, value)| name.as_str().len() + value.len() + 4).sum::<usize>()
}

async fn handle(request: HttpRequest, body: Bytes, state: web::Data<UserApis>) -> HttpResponse {
    let started = Instant::now();
    // Named, so the metrics layer does not search the route table for a
    // pattern the default service never has.
    nubo_host::front::name_operation(&request, "UserRequest");
    // The Host header itself: `connection_info` would honour a client's
    // X-Forwarded-Host and let it pick another API.
    let host =
        request.headers().get(actix_web::http::header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("").to_owned();
    let path = request.path();
    // A `.` or `..` segment would be resolved by an HTTP_PROXY upstream
    // after routing chose a route (and its authorizer) for the unresolved
    // path: such paths are refused before anything is matched.
    if has_dot_segment(path) {
        return crate::error::user_api_error(400, "Bad Request");
    }
    if let Some((url_id, url_path)) = crate::function_urls::url_of(&host, path) {
        return crate::function_urls::handle(&request, &body, &state, url_id, url_path, &host).await;
    }
    if let Some((rest_id, stage_path)) = crate::rest::serve::user_request_of(path) {
        return crate::rest::serve::handle(&request, &body, &state, rest_id, &stage_path, &host).await;
    }
    let mut context = RequestContext {
        request_id: nubo_host::front::request_id(),
        account_id: state.account_id.clone(),
        domain_name: host.split(':').next().unwrap_or(&host).to_owned(),
        http_method: request.method().as_str().to_owned(),
        path: path.to_owned(),
        protocol: protocol_of(&request).to_owned(),
        source_ip: request.peer_addr().map(|addr| addr.ip().to_string()).unwrap_or_default(),
        user_agent: request
            .headers()
            .get(actix_web::http::header::USER_AGENT)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("")
            .to_owned(),
        request_time: chrono::Utc::now(),
        origin: request.headers().get("origin").and_then(|value| value.to_str().ok()).map(str::to_owned),
        ..RequestContext::default()
    };
    let Some(located) = locate(&state, &host, path).await else {
        return finish(&state, None, None, Reply::error(404, "Not Found", &mut context), &mut context, started, None)
            .await;
    };
    context.api_id = located.api_id.clone();
    let api = match state.apis.for_request(&located.api_id).await {
        Ok(Some(api)) => api,
        // Not an HTTP API: perhaps a REST API.
        Ok(None) if located.mapped_stage.is_none() => {
            return crate::rest::serve::handle(&request, &body, &state, &located.api_id, &located.api_path, &host)
                .await;
        }
        Ok(None) => {
            return finish(
                &state,
                None,
                None,
                Reply::error(404, "Not Found", &mut context),
                &mut context,
                started,
                None,
            )
            .await;
        }
        Err(error) => {
            tracing::error!(api = %located.api_id, %error, "cannot load api");
            let reply = Reply::error(500, "Internal Server Error", &mut context);
            return finish(&state, None, None, reply, &mut context, started, None).await;
        }
    };
    let staged = match &located.mapped_stage {
        Some(name) => api.stage(name).map(|stage| (stage, located.api_path.as_str())),
        None => stage_of(&api, &located.api_path),
    };
    let Some((stage, route_path)) = staged else {
        return finish(&state, None, None, Reply::error(404, "Not Found", &mut context), &mut context, started, None)
            .await;
    };
    context.stage = stage.stage_name.clone();
    let Some(served) = stages::served(&api, stage) else {
        let reply = Reply::error(404, "Not Found", &mut context);
        return finish(&state, None, Some(stage), reply, &mut context, started, None).await;
    };
    let (reply, integration, integration_time) =
        serve(&state, &request, &body, served, stage, &located, route_path, &mut context).await;
    finish(&state, Some((served, integration)), Some(stage), reply, &mut context, started, integration_time).await
}

/// Routes, throttles and integrates one request of a served definition.
#[allow(clippy::too_many_arguments)]
async fn serve<'a>(
    state: &UserApis,
    request: &HttpRequest,
    body: &Bytes,
    served: &'a Api,
    stage: &Stage,
    located: &Located,
    route_path: &str,
    context: &mut RequestContext,
) -> (Reply, Option<&'a Integration>, Option<Duration>) {
    let method = request.method().as_str();
    let header = |name: &str| request.headers().get(name).and_then(|value| value.to_str().ok());
    if let Some(cors) = &served.cors_configuration
        && cors::is_preflight(method, header("origin"), header("access-control-request-method"))
    {
        let headers = cors::preflight_headers(cors, header("origin").unwrap_or(""));
        let headers = headers.into_iter().map(|(name, value)| (name.to_owned(), value)).collect();
        return (Reply { status: 204, headers, body: ReplyBody::Full(Bytes::new()), preflight: true }, None, None);
    }
    if header_bytes(request) > MAX_HEADER_BYTES {
        return (Reply::error(431, "Request Header Fields Too Large", context), None, None);
    }
    let Some(matched) = routing::select(served.routes.iter().map(|route| route.route_key.as_str()), method, route_path)
    else {
        return (Reply::error(404, "Not Found", context), None, None);
    };
    context.route_key = matched.route_key.to_owned();
    // The URL keeps the values as the client encoded them (an `HTTP_PROXY`
    // URI gets them as sent); events and mappings see them decoded, as API
    // Gateway puts them in `pathParameters`.
    let encoded = matched.path_parameters.values().any(|value| value.contains('%'));
    let raw_path_parameters = encoded.then(|| matched.path_parameters.clone());
    let mut matched = matched;
    decode_path_parameters(&mut matched.path_parameters);
    let Some(route) = served.routes.iter().find(|route| route.route_key == matched.route_key) else {
        return (Reply::error(404, "Not Found", context), None, None);
    };
    let Some(integration) = route.target.strip_prefix("integrations/").and_then(|id| served.integration(id)) else {
        return (Reply::error(404, "Not Found", context), None, None);
    };
    let settings = stages::route_settings(stage, matched.route_key);
    if state.throttle.admit(&located.api_id, &stage.stage_name, matched.route_key, &settings).is_err() {
        return (Reply::error(429, "Too Many Requests", context), Some(integration), None);
    }
    // The route's authorizer runs before any integration, HTTP_PROXY ones
    // included.
    let identity = if matches!(route.authorization_type.as_str(), "" | "NONE") {
        // An open route needs no request facts for an authorizer.
        crate::authorizers::Identity::Anonymous
    } else {
        let raw_path = raw_path_of(stage, located, route_path, context);
        let empty = BTreeMap::new();
        let facts = request_facts(state, request, body, stage, located, &matched, &raw_path, context, &empty);
        match state.authorizers.authorize_route(served, route, request, &facts).await {
            Ok(identity) => identity,
            Err(refusal) => {
                let reply = Reply::error(refusal.status(), refusal.message(), context);
                return (reply, Some(integration), None);
            }
        }
    };
    let called = Instant::now();
    let reply = match integration.integration_type.as_str() {
        "HTTP_PROXY" => {
            let parameters =
                (raw_path_parameters.as_ref().unwrap_or(&matched.path_parameters), &matched.path_parameters);
            forward(state, request, body, integration, stage, parameters, route_path, context).await
        }
        _ => invoke(state, request, body, integration, stage, located, &matched, route_path, &identity, context).await,
    };
    let elapsed = called.elapsed();
    context.integration_latency_ms = Some(elapsed.as_millis() as u64);
    (reply, Some(integration), Some(elapsed))
}

/// Percent-decodes path parameter values in place, as API Gateway hands
/// them to integrations (`/items/a%20b` gives `{"id": "a b"}`; a `+` stays
/// a `+`, as it means nothing special in a path).
fn decode_path_parameters(parameters: &mut BTreeMap<String, String>) {
    for value in parameters.values_mut() {
        if value.contains('%') {
            *value = nubo_host::sigv4::percent_decode(value);
        }
    }
}

/// The path the client sent, stage prefix included (`rawPath`).
fn raw_path_of(stage: &Stage, located: &Located, route_path: &str, context: &RequestContext) -> String {
    // A custom domain's rawPath is the whole path; the `/{apiId}` prefix of
    // nubo's path-style endpoint is not part of the API's path.
    if located.mapped_stage.is_some() {
        context.path.clone()
    } else if stage.stage_name == "$default" {
        located.api_path.clone()
    } else {
        format!("/{}{route_path}", stage.stage_name).replace("//", "/")
    }
}

/// The request as the proxy events and the authorizers see it.
#[allow(clippy::too_many_arguments)]
fn request_facts<'x>(
    state: &'x UserApis,
    request: &'x HttpRequest,
    body: &'x Bytes,
    stage: &'x Stage,
    located: &'x Located,
    matched: &'x routing::Matched<'_>,
    raw_path: &'x str,
    context: &'x RequestContext,
    empty: &'x BTreeMap<String, String>,
) -> RequestFacts<'x> {
    let resource = matched.route_key.split_once(' ').map(|(_, path)| path).unwrap_or("/{proxy+}");
    RequestFacts {
        method: request.method().as_str(),
        raw_path,
        raw_query: request.query_string(),
        headers: proxy::request_headers(request),
        body,
        source_ip: context.source_ip.clone(),
        protocol: protocol_of(request),
        api_id: &located.api_id,
        account_id: &state.account_id,
        domain_name: &context.domain_name,
        stage: &stage.stage_name,
        route_key: matched.route_key,
        resource,
        path_parameters: &matched.path_parameters,
        stage_variables: if stage.stage_variables.is_empty() { empty } else { &stage.stage_variables },
        request_id: &context.request_id,
        now: context.request_time,
    }
}

#[allow(clippy::too_many_arguments)]
async fn forward(
    state: &UserApis,
    request: &HttpRequest,
    body: &Bytes,
    integration: &Integration,
    stage: &Stage,
    (raw_path_parameters, path_parameters): (&BTreeMap<String, String>, &BTreeMap<String, String>),
    route_path: &str,
    context: &mut RequestContext,
) -> Reply {
    let values =
        MappingValues { request, body, route_path, path_parameters, stage_variables: &stage.stage_variables, context };
    let outgoing = http_proxy::Outgoing {
        method: request.method().as_str(),
        query: request.query_string(),
        headers: proxy::request_headers(request),
        body: body.clone(),
        path_parameters: raw_path_parameters,
        stage_variables: &stage.stage_variables,
        source_ip: &context.source_ip,
        host: &context.domain_name,
    };
    let prepared = http_proxy::prepare(integration, &outgoing, &values);
    let timeout = Duration::from_millis(integration.timeout_in_millis);
    match http_proxy::send(&state.http, outgoing.method, prepared, body.clone(), timeout).await {
        Ok(response) => {
            let status = response.status().as_u16();
            context.integration_status = Some(status);
            let headers = response
                .headers()
                .iter()
                .filter(|(name, _)| !http_proxy::hop_by_hop(name.as_str()))
                .filter_map(|(name, value)| Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned())))
                .collect();
            Reply { status, headers, body: ReplyBody::Upstream(response), preflight: false }
        }
        Err(http_proxy::ProxyFailure::TimedOut) => {
            context.integration_error = "The integration did not answer in time".into();
            Reply::error(503, "Service Unavailable", context)
        }
        Err(http_proxy::ProxyFailure::Unreachable(error)) => {
            tracing::info!(api = %context.api_id, route = %context.route_key, %error, "http integration unreachable");
            context.integration_error = error;
            Reply::error(500, "Internal Server Error", context)
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn invoke(
    state: &UserApis,
    request: &HttpRequest,
    body: &Bytes,
    integration: &Integration,
    stage: &Stage,
    located: &Located,
    matched: &routing::Matched<'_>,
    route_path: &str,
    identity: &crate::authorizers::Identity,
    context: &mut RequestContext,
) -> Reply {
    let raw_path = raw_path_of(stage, located, route_path, context);
    let empty = BTreeMap::new();
    let facts = request_facts(state, request, body, stage, located, matched, &raw_path, context, &empty);
    let version_one = integration.payload_format_version == "1.0";
    let mut event = if version_one { proxy::event_v1(&facts) } else { proxy::event_v2(&facts) };
    identity.annotate(&mut event);
    let function =
        stages::substitute_stage_variables(function_of(&integration.integration_uri), &stage.stage_variables);
    let invoke = state.functions.invoke(InvokeRequest {
        function,
        payload: event.to_string().into_bytes(),
        ..Default::default()
    });
    let invoked = match tokio::time::timeout(Duration::from_millis(integration.timeout_in_millis), invoke).await {
        Err(_) => {
            context.integration_error = "The integration did not answer in time".into();
            return Reply::error(503, "Service Unavailable", context);
        }
        Ok(Err(error)) => {
            tracing::warn!(api = %located.api_id, route = matched.route_key, %error, "integration failed");
            context.integration_error = error.to_string();
            return match error.code {
                ErrorCode::Throttled => Reply::error(429, "Too Many Requests", context),
                ErrorCode::Unavailable => Reply::error(503, "Service Unavailable", context),
                _ => Reply::error(500, "Internal Server Error", context),
            };
        }
        Ok(Ok(invoked)) => invoked,
    };
    context.integration_status = Some(200);
    if !invoked.function_error.is_empty() {
        tracing::info!(api = %located.api_id, route = matched.route_key, request_id = %invoked.request_id, "function failed");
        context.integration_error = invoked.function_error.clone();
        return Reply::error(500, "Internal Server Error", context);
    }
    let mapped = if version_one { proxy::response_v1(&invoked.payload) } else { proxy::response_v2(&invoked.payload) };
    match mapped {
        Ok(response) => Reply {
            status: response.status,
            headers: response.headers,
            body: ReplyBody::Full(response.body),
            preflight: false,
        },
        Err(malformed) => {
            tracing::info!(api = %located.api_id, reason = %malformed.0, "malformed lambda proxy response");
            context.integration_error = malformed.0;
            Reply::error(500, "Internal Server Error", context)
        }
    }
}

/// Applies the integration's response mappings for the reply's status.
async fn map_response(reply: &mut Reply, integration: &Integration, stage: &Stage, context: &RequestContext) {
    let Some(mappings) = integration.response_parameters.get(&reply.status.to_string()) else { return };
    // Only a mapping that reads the body makes the gateway wait for it.
    if mappings.values().any(|value| value.contains("response.body"))
        && let ReplyBody::Upstream(_) = &reply.body
        && let ReplyBody::Upstream(response) = std::mem::replace(&mut reply.body, ReplyBody::Full(Bytes::new()))
    {
        reply.body = ReplyBody::Full(response.bytes().await.unwrap_or_default());
    }
    let body = match &reply.body {
        ReplyBody::Full(bytes) => bytes.clone(),
        ReplyBody::Upstream(_) => Bytes::new(),
    };
    let original = reply.headers.clone();
    let resolver = ResponseValues { context, stage_variables: &stage.stage_variables, headers: &original, body: &body };
    for (key, value) in mappings {
        let Some((action, target)) = parameter_mapping::parse_key(key) else { continue };
        let value = parameter_mapping::evaluate(value, &resolver);
        match target {
            Target::Header(name) => parameter_mapping::apply_pairs(&mut reply.headers, action, &name, value, true),
            Target::StatusCode if action == Action::Overwrite => {
                if let Ok(status) = value.trim().parse::<u16>()
                    && (100..=599).contains(&status)
                {
                    reply.status = status;
                }
            }
            _ => {}
        }
    }
}

/// The values a response mapping can name.
struct ResponseValues<'a> {
    context: &'a RequestContext,
    stage_variables: &'a BTreeMap<String, String>,
    headers: &'a [(String, String)],
    body: &'a [u8],
}

impl Resolve for ResponseValues<'_> {
    fn resolve(&self, reference: &str) -> Option<String> {
        let (source, name) = reference.split_once('.').unwrap_or((reference, ""));
        match source {
            "context" => self.context.get(name),
            "stageVariables" => self.stage_variables.get(name).cloned(),
            "response" => match name.split_once('.').unwrap_or((name, "")) {
                ("header", header) => {
                    self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(header)).map(|(_, v)| v.clone())
                }
                ("body", path) => parameter_mapping::json_path(self.body, path),
                _ => None,
            },
            _ => None,
        }
    }
}

/// Turns a reply into the response sent: response mappings, CORS, the
/// request id; then counts it and writes its access log line.
async fn finish(
    state: &UserApis,
    served: Option<(&Api, Option<&Integration>)>,
    stage: Option<&Stage>,
    mut reply: Reply,
    context: &mut RequestContext,
    started: Instant,
    integration_time: Option<Duration>,
) -> HttpResponse {
    if let (Some((_, Some(integration))), Some(stage)) = (served, stage)
        && !integration.response_parameters.is_empty()
    {
        map_response(&mut reply, integration, stage, context).await;
    }
    if let Some((api, _)) = served
        && let Some(cors_configuration) = &api.cors_configuration
        && !reply.preflight
    {
        reply.headers.retain(|(name, _)| !cors::is_cors_header(name));
        for (name, value) in cors::response_headers(cors_configuration, context.origin.as_deref()) {
            reply.headers.push((name.to_owned(), value));
        }
    }
    let status = actix_web::http::StatusCode::from_u16(reply.status).unwrap_or(actix_web::http::StatusCode::OK);
    let mut builder = HttpResponse::build(status);
    for (name, value) in &reply.headers {
        builder.append_header((name.as_str(), value.as_str()));
    }
    builder.insert_header(("apigw-requestid", context.request_id.as_str()));
    let response = match reply.body {
        ReplyBody::Full(bytes) => {
            context.response_length = bytes.len();
            builder.body(bytes)
        }
        ReplyBody::Upstream(upstream) => {
            context.response_length = upstream.content_length().unwrap_or(0) as usize;
            // A body of known length streams as that length, not chunked.
            if let Some(length) = upstream.content_length() {
                builder.no_chunking(length);
            }
            builder.streaming(upstream.bytes_stream())
        }
    };
    context.status = reply.status;
    let elapsed = started.elapsed();
    context.response_latency_ms = elapsed.as_millis() as u64;
    if let Some(stage) = stage {
        state.metrics.observe(
            RouteLabels {
                api: context.api_id.clone(),
                stage: stage.stage_name.clone(),
                route: if context.route_key.is_empty() { "-".into() } else { context.route_key.clone() },
                status: reply.status,
            },
            elapsed.as_secs_f64(),
            integration_time.map(|time| time.as_secs_f64()),
            reply.status == 429 && context.error_message == "Too Many Requests",
        );
        if let Some(settings) = &stage.access_log_settings
            && let (Some(destination), Some(format)) = (&settings.destination_arn, &settings.format)
            && let Some(format) = state.access_log.format(format)
        {
            state.access_log.record(access_log::group_directory(destination), format.render(context));
        }
    }
    response
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

#[cfg(test)]
mod path_parameter_tests {
    use super::*;

    #[test]
    fn path_parameters_are_percent_decoded() {
        let mut parameters: BTreeMap<String, String> = [
            ("id".to_owned(), "a%20b%2Fc".to_owned()),
            ("plus".to_owned(), "x+y".to_owned()),
            ("utf8".to_owned(), "caf%C3%A9".to_owned()),
            ("bad".to_owned(), "100%".to_owned()),
            ("proxy".to_owned(), "one/t%77o".to_owned()),
        ]
        .into();
        decode_path_parameters(&mut parameters);
        assert_eq!(parameters["id"], "a b/c");
        assert_eq!(parameters["plus"], "x+y");
        assert_eq!(parameters["utf8"], "café");
        assert_eq!(parameters["bad"], "100%");
        assert_eq!(parameters["proxy"], "one/two");
    }
}

#[cfg(test)]
mod dot_segment_tests {
    use super::has_dot_segment;

    #[test]
    fn dot_segments_are_found_plain_and_encoded() {
        for path in ["/x/../admin", "/./a", "/a/%2e%2e/b", "/a/.%2E", "/a/%2e", "/.."] {
            assert!(has_dot_segment(path), "{path}");
        }
        for path in ["/", "/a.b/c", "/...", "/a/..b", "/%2e%2e%2e"] {
            assert!(!has_dot_segment(path), "{path}");
        }
    }
}
