//! The API Gateway v2 management API (`/v2/apis...`, REST-JSON with
//! camelCase members), the subset `aws apigatewayv2` and the SDKs use to
//! define HTTP APIs, written with the host's front kit: parsed into an
//! [`Operation`], SigV4-checked once (signed as `apigateway`), and
//! dispatched with one `match`.

use std::collections::BTreeMap;

use actix_web::{HttpRequest, HttpResponse, web};
use nubo_host::front::{AwsFront, Protocol};
use serde::{Deserialize, de::DeserializeOwned};
use serde_json::json;

use crate::{
    apis::Apis,
    error::{GatewayError, Result},
    model::{Api, Integration, Route, Stage, new_id, timestamp},
    routing::RouteKey,
};

/// Where user APIs are reached: `{public_url}/{apiId}`.
#[derive(Debug, Clone)]
pub struct Endpoints {
    pub public_url: String,
}

impl Endpoints {
    pub fn api(&self, api_id: &str) -> String {
        format!("{}/{api_id}", self.public_url.trim_end_matches('/'))
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum Operation {
    CreateApi,
    GetApis,
    GetApi(String),
    DeleteApi(String),
    CreateRoute(String),
    GetRoutes(String),
    GetRoute(String, String),
    DeleteRoute(String, String),
    CreateIntegration(String),
    GetIntegrations(String),
    GetIntegration(String, String),
    DeleteIntegration(String, String),
    CreateStage(String),
    GetStages(String),
    GetStage(String, String),
    DeleteStage(String, String),
    CreateAuthorizer(String),
    GetAuthorizers(String),
    GetAuthorizer(String, String),
    UpdateAuthorizer(String, String),
    DeleteAuthorizer(String, String),
    UpdateApi(String),
    DeleteCorsConfiguration(String),
    UpdateRoute(String, String),
    UpdateIntegration(String, String),
    UpdateStage(String, String),
    CreateDeployment(String),
    GetDeployments(String),
    GetDeployment(String, String),
    UpdateDeployment(String, String),
    DeleteDeployment(String, String),
    CreateDomainName,
    GetDomainNames,
    GetDomainName(String),
    DeleteDomainName(String),
    CreateApiMapping(String),
    GetApiMappings(String),
    GetApiMapping(String, String),
    UpdateApiMapping(String, String),
    DeleteApiMapping(String, String),
    /// The resource ARN, decoded.
    TagResource(String),
    UntagResource(String),
    GetTags(String),
}

impl nubo_host::front::Operation for Operation {
    fn name(&self) -> &'static str {
        match self {
            Operation::CreateApi => "CreateApi",
            Operation::GetApis => "GetApis",
            Operation::GetApi(_) => "GetApi",
            Operation::DeleteApi(_) => "DeleteApi",
            Operation::CreateRoute(_) => "CreateRoute",
            Operation::GetRoutes(_) => "GetRoutes",
            Operation::GetRoute(..) => "GetRoute",
            Operation::DeleteRoute(..) => "DeleteRoute",
            Operation::CreateIntegration(_) => "CreateIntegration",
            Operation::GetIntegrations(_) => "GetIntegrations",
            Operation::GetIntegration(..) => "GetIntegration",
            Operation::DeleteIntegration(..) => "DeleteIntegration",
            Operation::CreateStage(_) => "CreateStage",
            Operation::GetStages(_) => "GetStages",
            Operation::GetStage(..) => "GetStage",
            Operation::DeleteStage(..) => "DeleteStage",
            Operation::CreateAuthorizer(_) => "CreateAuthorizer",
            Operation::GetAuthorizers(_) => "GetAuthorizers",
            Operation::GetAuthorizer(..) => "GetAuthorizer",
            Operation::UpdateAuthorizer(..) => "UpdateAuthorizer",
            Operation::DeleteAuthorizer(..) => "DeleteAuthorizer",
            Operation::UpdateApi(_) => "UpdateApi",
            Operation::DeleteCorsConfiguration(_) => "DeleteCorsConfiguration",
            Operation::UpdateRoute(..) => "UpdateRoute",
            Operation::UpdateIntegration(..) => "UpdateIntegration",
            Operation::UpdateStage(..) => "UpdateStage",
            Operation::CreateDeployment(_) => "CreateDeployment",
            Operation::GetDeployments(_) => "GetDeployments",
            Operation::GetDeployment(..) => "GetDeployment",
            Operation::UpdateDeployment(..) => "UpdateDeployment",
            Operation::DeleteDeployment(..) => "DeleteDeployment",
            Operation::CreateDomainName => "CreateDomainName",
            Operation::GetDomainNames => "GetDomainNames",
            Operation::GetDomainName(_) => "GetDomainName",
            Operation::DeleteDomainName(_) => "DeleteDomainName",
            Operation::CreateApiMapping(_) => "CreateApiMapping",
            Operation::GetApiMappings(_) => "GetApiMappings",
            Operation::GetApiMapping(..) => "GetApiMapping",
            Operation::UpdateApiMapping(..) => "UpdateApiMapping",
            Operation::DeleteApiMapping(..) => "DeleteApiMapping",
            Operation::TagResource(_) => "TagResource",
            Operation::UntagResource(_) => "UntagResource",
            Operation::GetTags(_) => "GetTags",
        }
    }
}

impl Operation {
    pub fn parse(method: &str, path: &str) -> Option<Self> {
        if let Some(arn) = path.strip_prefix("/v2/tags/") {
            let arn = nubo_host::sigv4::percent_decode(arn);
            return Some(match method {
                "POST" => Operation::TagResource(arn),
                "DELETE" => Operation::UntagResource(arn),
                "GET" => Operation::GetTags(arn),
                _ => return None,
            });
        }
        if let Some(rest) = path.strip_prefix("/v2/domainnames") {
            return crate::domains::parse_operation(method, rest);
        }
        let rest = path.strip_prefix("/v2/apis")?;
        let segments: Vec<String> =
            rest.split('/').filter(|s| !s.is_empty()).map(nubo_host::sigv4::percent_decode).collect();
        let s: Vec<&str> = segments.iter().map(String::as_str).collect();
        let owned = |value: &str| value.to_owned();
        Some(match (method, s.as_slice()) {
            ("POST", []) => Operation::CreateApi,
            ("GET", []) => Operation::GetApis,
            ("GET", [api]) => Operation::GetApi(owned(api)),
            ("DELETE", [api]) => Operation::DeleteApi(owned(api)),
            ("POST", [api, "routes"]) => Operation::CreateRoute(owned(api)),
            ("GET", [api, "routes"]) => Operation::GetRoutes(owned(api)),
            ("GET", [api, "routes", id]) => Operation::GetRoute(owned(api), owned(id)),
            ("DELETE", [api, "routes", id]) => Operation::DeleteRoute(owned(api), owned(id)),
            ("POST", [api, "integrations"]) => Operation::CreateIntegration(owned(api)),
            ("GET", [api, "integrations"]) => Operation::GetIntegrations(owned(api)),
            ("GET", [api, "integrations", id]) => Operation::GetIntegration(owned(api), owned(id)),
            ("DELETE", [api, "integrations", id]) => Operation::DeleteIntegration(owned(api), owned(id)),
            ("POST", [api, "stages"]) => Operation::CreateStage(owned(api)),
            ("GET", [api, "stages"]) => Operation::GetStages(owned(api)),
            ("GET", [api, "stages", name]) => Operation::GetStage(owned(api), owned(name)),
            ("DELETE", [api, "stages", name]) => Operation::DeleteStage(owned(api), owned(name)),
            ("POST", [api, "authorizers"]) => Operation::CreateAuthorizer(owned(api)),
            ("GET", [api, "authorizers"]) => Operation::GetAuthorizers(owned(api)),
            ("GET", [api, "authorizers", id]) => Operation::GetAuthorizer(owned(api), owned(id)),
            ("PATCH", [api, "authorizers", id]) => Operation::UpdateAuthorizer(owned(api), owned(id)),
            ("DELETE", [api, "authorizers", id]) => Operation::DeleteAuthorizer(owned(api), owned(id)),
            ("PATCH", [api]) => Operation::UpdateApi(owned(api)),
            ("DELETE", [api, "cors"]) => Operation::DeleteCorsConfiguration(owned(api)),
            ("PATCH", [api, "routes", id]) => Operation::UpdateRoute(owned(api), owned(id)),
            ("PATCH", [api, "integrations", id]) => Operation::UpdateIntegration(owned(api), owned(id)),
            ("PATCH", [api, "stages", name]) => Operation::UpdateStage(owned(api), owned(name)),
            ("POST", [api, "deployments"]) => Operation::CreateDeployment(owned(api)),
            ("GET", [api, "deployments"]) => Operation::GetDeployments(owned(api)),
            ("GET", [api, "deployments", id]) => Operation::GetDeployment(owned(api), owned(id)),
            ("PATCH", [api, "deployments", id]) => Operation::UpdateDeployment(owned(api), owned(id)),
            ("DELETE", [api, "deployments", id]) => Operation::DeleteDeployment(owned(api), owned(id)),
            _ => return None,
        })
    }
}

/// Shared state of the management handlers.
#[derive(Debug, Clone)]
pub struct Management {
    pub apis: Apis,
    pub domains: crate::domains::Domains,
    /// REST APIs (v1), API keys and usage plans.
    pub rest: crate::rest::Rest,
    pub endpoints: Endpoints,
    pub front: AwsFront,
    pub region: String,
}

/// The largest management request read.
const MAX_BODY: usize = 6 * 1024 * 1024;

/// The management front: REST-JSON, signed as `apigateway`, five minutes
/// of clock skew.
pub fn front(context: &nubo_host::Context) -> AwsFront {
    AwsFront::new(Protocol::RestJson, context.policy("apigateway", 5), context.credentials.clone(), MAX_BODY)
}

pub(crate) fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T> {
    let body = if body.is_empty() { b"{}".as_slice() } else { body };
    serde_json::from_slice(body).map_err(|error| GatewayError::BadRequest(format!("Invalid request body: {error}")))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateApiInput {
    name: Option<String>,
    protocol_type: Option<String>,
    target: Option<String>,
    route_key: Option<String>,
    description: Option<String>,
    version: Option<String>,
    route_selection_expression: Option<String>,
    #[serde(default)]
    disable_execute_api_endpoint: bool,
    #[serde(default)]
    tags: BTreeMap<String, String>,
    cors_configuration: Option<crate::model::Cors>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateRouteInput {
    route_key: Option<String>,
    target: Option<String>,
    authorization_type: Option<String>,
    authorizer_id: Option<String>,
    #[serde(default)]
    authorization_scopes: Vec<String>,
    route_response_selection_expression: Option<String>,
}

/// CreateIntegration's members; UpdateIntegration takes the same, each
/// optional.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateIntegrationInput {
    pub integration_type: Option<String>,
    pub integration_uri: Option<String>,
    pub integration_method: Option<String>,
    pub payload_format_version: Option<String>,
    pub timeout_in_millis: Option<u64>,
    pub description: Option<String>,
    pub request_parameters: Option<BTreeMap<String, String>>,
    pub response_parameters: Option<BTreeMap<String, BTreeMap<String, String>>>,
}

/// CreateStage's members; UpdateStage takes the same but the name.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateStageInput {
    pub stage_name: Option<String>,
    pub auto_deploy: Option<bool>,
    pub stage_variables: Option<BTreeMap<String, String>>,
    pub deployment_id: Option<String>,
    pub description: Option<String>,
    pub access_log_settings: Option<crate::model::AccessLogSettings>,
    pub default_route_settings: Option<crate::model::RouteSettings>,
    pub route_settings: Option<BTreeMap<String, crate::model::RouteSettings>>,
    pub tags: Option<BTreeMap<String, String>>,
}

pub(crate) fn required(value: Option<String>, member: &str) -> Result<String> {
    value
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| GatewayError::BadRequest(format!("Invalid input: {member} is required")))
}

/// Answers one management call whose raw body the edge has read.
pub async fn handle(
    request: HttpRequest,
    raw: bytes::Bytes,
    management: web::Data<Management>,
) -> Result<HttpResponse> {
    use nubo_host::front::Operation as _;
    if let Some(operation) =
        crate::websocket::route_responses::Operation::parse(request.method().as_str(), request.path())
    {
        return crate::websocket::route_responses::handle(&request, raw, &management, operation).await;
    }
    // REST APIs (v1) and OpenAPI import and export have their own front.
    if let Some(rest) =
        crate::rest::api::Operation::parse(request.method().as_str(), request.path(), request.query_string())
    {
        return Ok(crate::rest::api::handle(request, raw, &management, rest).await);
    }
    let operation = Operation::parse(request.method().as_str(), request.path());
    if let Some(operation) = &operation {
        nubo_host::front::name_operation(&request, operation.name());
    }
    let body = match management.front.verify_body(&request, raw) {
        Ok(signed) => {
            tracing::debug!(principal = %signed.principal.arn, path = request.path(), "request authenticated");
            signed.body
        }
        Err(refused) => return Ok(management.front.error(&refused)),
    };
    let operation =
        operation.ok_or_else(|| GatewayError::NotFound("The resource you requested does not exist.".into()))?;
    let apis = &management.apis;
    let items = |items: Vec<serde_json::Value>| HttpResponse::Ok().json(json!({ "items": items }));
    match operation {
        Operation::CreateApi => create_api(&management, parse_json(&body)?).await,
        Operation::GetApis => {
            let all = apis.list().await?;
            Ok(items(all.iter().map(|api| api.to_json(&management.endpoints.api(&api.api_id))).collect()))
        }
        Operation::GetApi(id) => {
            let api = apis.get(&id).await?.api;
            Ok(HttpResponse::Ok().json(api.to_json(&management.endpoints.api(&id))))
        }
        Operation::DeleteApi(id) => {
            apis.delete(&id).await?;
            Ok(HttpResponse::NoContent().finish())
        }
        Operation::CreateRoute(id) => {
            let input: CreateRouteInput = parse_json(&body)?;
            let route_key = required(input.route_key, "routeKey")?;
            let route = update(apis, &id, |api| {
                crate::websocket::check_route_key(api, &route_key)?;
                if api.routes.iter().any(|route| route.route_key == route_key) {
                    return Err(GatewayError::Conflict(format!(
                        "Unable to create route {route_key}. A route with the same key already exists."
                    )));
                }
                let target = input.target.clone().unwrap_or_default();
                check_target(api, &target)?;
                let route = Route {
                    route_id: new_id()[..7].to_owned(),
                    route_key: route_key.clone(),
                    target,
                    authorization_type: input.authorization_type.clone().unwrap_or_else(|| "NONE".into()),
                    authorizer_id: input.authorizer_id.clone().unwrap_or_default(),
                    authorization_scopes: input.authorization_scopes.clone(),
                    route_response_selection_expression: input
                        .route_response_selection_expression
                        .clone()
                        .unwrap_or_default(),
                };
                crate::authorizers::management::check_route(api, &route)?;
                api.routes.push(route.clone());
                Ok(route)
            })
            .await?;
            Ok(HttpResponse::Created().json(route.to_json()))
        }
        Operation::GetRoutes(id) => Ok(items(apis.get(&id).await?.api.routes.iter().map(Route::to_json).collect())),
        Operation::GetRoute(id, route_id) => {
            let api = apis.get(&id).await?.api;
            let route =
                api.routes.iter().find(|r| r.route_id == route_id).ok_or_else(|| not_found("Route", &route_id))?;
            Ok(HttpResponse::Ok().json(route.to_json()))
        }
        Operation::DeleteRoute(id, route_id) => {
            update(apis, &id, |api| {
                let before = api.routes.len();
                api.routes.retain(|route| route.route_id != route_id);
                if api.routes.len() == before { Err(not_found("Route", &route_id)) } else { Ok(()) }
            })
            .await?;
            Ok(HttpResponse::NoContent().finish())
        }
        Operation::CreateIntegration(id) => {
            let input: CreateIntegrationInput = parse_json(&body)?;
            let integration = integration_from(input)?;
            let integration = update(apis, &id, |api| {
                api.integrations.push(integration.clone());
                Ok(integration.clone())
            })
            .await?;
            Ok(HttpResponse::Created().json(integration.to_json()))
        }
        Operation::GetIntegrations(id) => {
            Ok(items(apis.get(&id).await?.api.integrations.iter().map(Integration::to_json).collect()))
        }
        Operation::GetIntegration(id, integration_id) => {
            let api = apis.get(&id).await?.api;
            let integration =
                api.integration(&integration_id).ok_or_else(|| not_found("Integration", &integration_id))?;
            Ok(HttpResponse::Ok().json(integration.to_json()))
        }
        Operation::DeleteIntegration(id, integration_id) => {
            update(apis, &id, |api| {
                let target = format!("integrations/{integration_id}");
                if api.routes.iter().any(|route| route.target == target) {
                    return Err(GatewayError::Conflict(format!(
                        "Unable to delete integration {integration_id}: it is the target of a route"
                    )));
                }
                let before = api.integrations.len();
                api.integrations.retain(|integration| integration.integration_id != integration_id);
                if api.integrations.len() == before { Err(not_found("Integration", &integration_id)) } else { Ok(()) }
            })
            .await?;
            Ok(HttpResponse::NoContent().finish())
        }
        Operation::CreateStage(id) => {
            let input: CreateStageInput = parse_json(&body)?;
            let stage_name = required(input.stage_name.clone(), "stageName")?;
            if stage_name != "$default"
                && !stage_name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(GatewayError::BadRequest(format!("Stage name {stage_name} is invalid")));
            }
            let stage = update(apis, &id, |api| {
                if api.stage(&stage_name).is_some() {
                    return Err(GatewayError::Conflict(format!("Stage already exist: {stage_name}")));
                }
                let now = timestamp();
                let mut stage = Stage {
                    stage_name: stage_name.clone(),
                    created_date: now.clone(),
                    last_updated_date: now,
                    ..Stage::default()
                };
                crate::stages::apply_stage_input(api, &mut stage, &input)?;
                api.stages.push(stage.clone());
                Ok(stage)
            })
            .await?;
            Ok(HttpResponse::Created().json(stage.to_json()))
        }
        Operation::GetStages(id) => Ok(items(apis.get(&id).await?.api.stages.iter().map(Stage::to_json).collect())),
        Operation::GetStage(id, name) => {
            let api = apis.get(&id).await?.api;
            let stage = api.stage(&name).ok_or_else(|| not_found("Stage", &name))?;
            Ok(HttpResponse::Ok().json(stage.to_json()))
        }
        Operation::DeleteStage(id, name) => {
            update(apis, &id, |api| {
                let before = api.stages.len();
                api.stages.retain(|stage| stage.stage_name != name);
                if api.stages.len() == before { Err(not_found("Stage", &name)) } else { Ok(()) }
            })
            .await?;
            Ok(HttpResponse::NoContent().finish())
        }
        Operation::CreateAuthorizer(id) => crate::authorizers::management::create(apis, &id, &body).await,
        Operation::GetAuthorizers(id) => crate::authorizers::management::list(apis, &id).await,
        Operation::GetAuthorizer(id, authorizer) => crate::authorizers::management::get(apis, &id, &authorizer).await,
        Operation::UpdateAuthorizer(id, authorizer) => {
            crate::authorizers::management::patch(apis, &id, &authorizer, &body).await
        }
        Operation::DeleteAuthorizer(id, authorizer) => {
            crate::authorizers::management::delete(apis, &id, &authorizer).await
        }
        Operation::UpdateApi(id) => crate::updates::update_api(&management, &id, parse_json(&body)?).await,
        Operation::DeleteCorsConfiguration(id) => crate::updates::delete_cors(apis, &id).await,
        Operation::UpdateRoute(id, route_id) => {
            crate::updates::update_route(apis, &id, &route_id, parse_json(&body)?).await
        }
        Operation::UpdateIntegration(id, integration_id) => {
            crate::updates::update_integration(apis, &id, &integration_id, parse_json(&body)?).await
        }
        Operation::UpdateStage(id, name) => crate::stages::update_stage(apis, &id, &name, parse_json(&body)?).await,
        Operation::CreateDeployment(id) => crate::stages::create_deployment(apis, &id, parse_json(&body)?).await,
        Operation::GetDeployments(id) => {
            Ok(items(apis.get(&id).await?.api.deployments.iter().map(crate::model::Deployment::to_json).collect()))
        }
        Operation::GetDeployment(id, deployment_id) => crate::stages::get_deployment(apis, &id, &deployment_id).await,
        Operation::UpdateDeployment(id, deployment_id) => {
            crate::stages::update_deployment(apis, &id, &deployment_id, parse_json(&body)?).await
        }
        Operation::DeleteDeployment(id, deployment_id) => {
            crate::stages::delete_deployment(apis, &id, &deployment_id).await
        }
        Operation::CreateDomainName
        | Operation::GetDomainNames
        | Operation::GetDomainName(_)
        | Operation::DeleteDomainName(_)
        | Operation::CreateApiMapping(_)
        | Operation::GetApiMappings(_)
        | Operation::GetApiMapping(..)
        | Operation::UpdateApiMapping(..)
        | Operation::DeleteApiMapping(..) => crate::domains::handle(&management, operation, &body).await,
        Operation::TagResource(arn) => crate::tags::tag(&management, &arn, parse_json(&body)?).await,
        Operation::UntagResource(arn) => crate::tags::untag(&management, &arn, request.query_string()).await,
        Operation::GetTags(arn) => crate::tags::get(&management, &arn).await,
    }
}

pub(crate) fn not_found(kind: &str, id: &str) -> GatewayError {
    GatewayError::NotFound(format!("Invalid {kind} identifier specified {id}"))
}

pub(crate) fn check_target(api: &Api, target: &str) -> Result<()> {
    if target.is_empty() {
        return Ok(());
    }
    let id = target.strip_prefix("integrations/").unwrap_or("");
    if api.integration(id).is_none() {
        return Err(GatewayError::BadRequest(format!("Invalid target specified {target}")));
    }
    Ok(())
}

fn integration_from(input: CreateIntegrationInput) -> Result<Integration> {
    let integration_type = required(input.integration_type.clone(), "integrationType")?;
    let mut integration = Integration {
        integration_id: new_id()[..7].to_owned(),
        integration_type,
        timeout_in_millis: 30_000,
        ..Integration::default()
    };
    crate::updates::apply_integration_input(&mut integration, input)?;
    Ok(integration)
}

/// Reads an API, applies `change`, and writes it back with compare-and-set.
pub(crate) async fn update<T>(apis: &Apis, api_id: &str, change: impl FnOnce(&mut Api) -> Result<T>) -> Result<T> {
    let mut versioned = apis.get(api_id).await?;
    let result = change(&mut versioned.api)?;
    apis.put(&versioned.api, versioned.version).await?;
    Ok(result)
}

async fn create_api(management: &Management, input: CreateApiInput) -> Result<HttpResponse> {
    let name = required(input.name, "name")?;
    let protocol_type = required(input.protocol_type, "protocolType")?;
    match protocol_type.as_str() {
        "HTTP" => {}
        "WEBSOCKET" => crate::websocket::check_new_api(&input.route_selection_expression, &input.target)?,
        other => {
            return Err(GatewayError::BadRequest(format!("Invalid protocolType {other}: expected HTTP or WEBSOCKET")));
        }
    }
    if input.route_key.is_some() && input.target.is_none() {
        return Err(GatewayError::BadRequest("RouteKey can only be specified together with Target".into()));
    }
    let now = timestamp();
    let mut api = Api {
        api_id: new_id(),
        name,
        protocol_type,
        description: input.description.unwrap_or_default(),
        version: input.version.unwrap_or_default(),
        route_selection_expression: input
            .route_selection_expression
            .unwrap_or_else(|| "${request.method} ${request.path}".into()),
        api_key_selection_expression: "$request.header.x-api-key".into(),
        disable_execute_api_endpoint: input.disable_execute_api_endpoint,
        created_date: now.clone(),
        tags: input.tags,
        routes: Vec::new(),
        integrations: Vec::new(),
        stages: Vec::new(),
        authorizers: Vec::new(),
        route_responses: Vec::new(),
        cors_configuration: input.cors_configuration.map(crate::cors::checked).transpose()?,
        deployments: Vec::new(),
    };
    // Quick create: a target gets a Lambda proxy integration, a route
    // (`$default` unless named) and an auto-deployed `$default` stage.
    if let Some(target) = input.target {
        let route_key = input.route_key.unwrap_or_else(|| "$default".into());
        RouteKey::parse(&route_key)?;
        if !target.starts_with("arn:") || !target.contains(":lambda:") && !target.contains("lambda:path") {
            return Err(GatewayError::BadRequest(format!(
                "Invalid target {target}: quick create takes a Lambda function ARN"
            )));
        }
        let integration = Integration {
            integration_id: new_id()[..7].to_owned(),
            integration_type: "AWS_PROXY".into(),
            integration_uri: target,
            integration_method: "POST".into(),
            payload_format_version: "2.0".into(),
            timeout_in_millis: 30_000,
            ..Integration::default()
        };
        api.routes.push(Route {
            route_id: new_id()[..7].to_owned(),
            route_key,
            target: format!("integrations/{}", integration.integration_id),
            authorization_type: "NONE".into(),
            authorizer_id: String::new(),
            authorization_scopes: Vec::new(),
            route_response_selection_expression: String::new(),
        });
        api.integrations.push(integration);
        api.stages.push(Stage {
            stage_name: "$default".into(),
            auto_deploy: true,
            created_date: now.clone(),
            last_updated_date: now,
            ..Stage::default()
        });
    }
    management.apis.put(&api, 0).await?;
    tracing::info!(api = %api.api_id, name = %api.name, region = %management.region, "api created");
    Ok(HttpResponse::Created().json(api.to_json(&management.endpoints.api(&api.api_id))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_are_recognised() {
        assert_eq!(Operation::parse("POST", "/v2/apis"), Some(Operation::CreateApi));
        assert_eq!(Operation::parse("GET", "/v2/apis/abc"), Some(Operation::GetApi("abc".into())));
        assert_eq!(
            Operation::parse("DELETE", "/v2/apis/abc/stages/%24default"),
            Some(Operation::DeleteStage("abc".into(), "$default".into()))
        );
        assert_eq!(Operation::parse("PUT", "/v2/apis/abc"), None);
        assert_eq!(Operation::parse("GET", "/v1/apis"), None);
    }
}
