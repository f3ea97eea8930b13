//! The management API's Update* calls on an API and its parts (UpdateApi,
//! UpdateRoute, UpdateIntegration, DeleteCorsConfiguration): every member
//! given replaces the stored one, the result is checked as a create would
//! check it, and the API is written back with compare-and-set.

use std::collections::BTreeMap;

use actix_web::HttpResponse;
use serde::Deserialize;

use crate::{
    apis::Apis,
    error::{GatewayError, Result},
    management::{CreateIntegrationInput, Management, check_target, not_found, update},
    model::{Cors, Integration},
    parameter_mapping,
    routing::RouteKey,
};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateApiInput {
    name: Option<String>,
    description: Option<String>,
    version: Option<String>,
    route_selection_expression: Option<String>,
    disable_execute_api_endpoint: Option<bool>,
    cors_configuration: Option<Cors>,
}

pub async fn update_api(management: &Management, api_id: &str, input: UpdateApiInput) -> Result<HttpResponse> {
    let cors = input.cors_configuration.map(crate::cors::checked).transpose()?;
    let api = update(&management.apis, api_id, |api| {
        if let Some(name) = input.name.filter(|name| !name.trim().is_empty()) {
            api.name = name;
        }
        if let Some(description) = input.description {
            api.description = description;
        }
        if let Some(version) = input.version {
            api.version = version;
        }
        if let Some(expression) = input.route_selection_expression {
            api.route_selection_expression = expression;
        }
        if let Some(disable) = input.disable_execute_api_endpoint {
            api.disable_execute_api_endpoint = disable;
        }
        if cors.is_some() {
            api.cors_configuration = cors;
        }
        Ok(api.clone())
    })
    .await?;
    Ok(HttpResponse::Ok().json(api.to_json(&management.endpoints.api(api_id))))
}

pub async fn delete_cors(apis: &Apis, api_id: &str) -> Result<HttpResponse> {
    update(apis, api_id, |api| {
        api.cors_configuration.take().map(|_| ()).ok_or_else(|| not_found("CorsConfiguration", api_id))
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateRouteInput {
    route_key: Option<String>,
    target: Option<String>,
    authorization_type: Option<String>,
}

pub async fn update_route(apis: &Apis, api_id: &str, route_id: &str, input: UpdateRouteInput) -> Result<HttpResponse> {
    if let Some(key) = &input.route_key {
        RouteKey::parse(key)?;
    }
    let route = update(apis, api_id, |api| {
        if let Some(target) = &input.target {
            check_target(api, target)?;
        }
        if let Some(key) = &input.route_key
            && api.routes.iter().any(|route| &route.route_key == key && route.route_id != route_id)
        {
            return Err(GatewayError::Conflict(format!(
                "Unable to update route {key}. A route with the same key already exists."
            )));
        }
        let route = api
            .routes
            .iter_mut()
            .find(|route| route.route_id == route_id)
            .ok_or_else(|| not_found("Route", route_id))?;
        if let Some(key) = input.route_key {
            route.route_key = key;
        }
        if let Some(target) = input.target {
            route.target = target;
        }
        if let Some(authorization_type) = input.authorization_type {
            route.authorization_type = authorization_type;
        }
        Ok(route.clone())
    })
    .await?;
    Ok(HttpResponse::Ok().json(route.to_json()))
}

pub async fn update_integration(
    apis: &Apis,
    api_id: &str,
    integration_id: &str,
    input: CreateIntegrationInput,
) -> Result<HttpResponse> {
    let integration = update(apis, api_id, |api| {
        let integration = api
            .integrations
            .iter_mut()
            .find(|integration| integration.integration_id == integration_id)
            .ok_or_else(|| not_found("Integration", integration_id))?;
        let mut changed = integration.clone();
        apply_integration_input(&mut changed, input)?;
        *integration = changed.clone();
        Ok(changed)
    })
    .await?;
    Ok(HttpResponse::Ok().json(integration.to_json()))
}

/// The integration types HTTP APIs serve here.
const TYPES: &[&str] = &["AWS_PROXY", "HTTP_PROXY"];
const METHODS: &[&str] = &["ANY", "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

/// Lays the members of a create or update over `integration` and checks
/// the result whole.
pub(crate) fn apply_integration_input(integration: &mut Integration, input: CreateIntegrationInput) -> Result<()> {
    let bad = |message: String| Err(GatewayError::BadRequest(message));
    if let Some(kind) = input.integration_type {
        integration.integration_type = kind;
    }
    if !TYPES.contains(&integration.integration_type.as_str()) {
        return bad(format!(
            "Unsupported integration type {}: nubo serves AWS_PROXY (Lambda) and HTTP_PROXY integrations",
            integration.integration_type
        ));
    }
    let http = integration.integration_type == "HTTP_PROXY";
    if let Some(uri) = input.integration_uri {
        integration.integration_uri = uri;
    }
    if integration.integration_uri.trim().is_empty() {
        return bad("Invalid input: integrationUri is required".into());
    }
    if http && !is_http_url(&integration.integration_uri) {
        return bad(format!(
            "Invalid HTTP endpoint specified for URI {}: it must be an http or https URL",
            integration.integration_uri
        ));
    }
    if let Some(method) = input.integration_method {
        integration.integration_method = method.to_ascii_uppercase();
    }
    if integration.integration_method.is_empty() {
        if http {
            return bad("Enumeration value for HttpMethod must be non-empty".into());
        }
        integration.integration_method = "POST".into();
    }
    if !METHODS.contains(&integration.integration_method.as_str()) {
        return bad(format!("Invalid HttpMethod {}", integration.integration_method));
    }
    if let Some(version) = input.payload_format_version {
        integration.payload_format_version = version;
    }
    if integration.payload_format_version.is_empty() {
        integration.payload_format_version = if http { "1.0".into() } else { "2.0".into() };
    }
    match (http, integration.payload_format_version.as_str()) {
        (_, "1.0") | (false, "2.0") => {}
        (true, _) => return bad("Unsupported payload format version for HTTP_PROXY integrations: use 1.0".into()),
        (false, other) => return bad(format!("Invalid payload format version {other}")),
    }
    if let Some(timeout) = input.timeout_in_millis {
        integration.timeout_in_millis = timeout;
    }
    if !(50..=30_000).contains(&integration.timeout_in_millis) {
        return bad("Timeout must be between 50 and 30000 milliseconds".into());
    }
    if let Some(description) = input.description {
        integration.description = description;
    }
    if let Some(parameters) = input.request_parameters {
        merge(&mut integration.request_parameters, parameters);
    }
    for (key, value) in &integration.request_parameters {
        parameter_mapping::check_request(key, value)?;
    }
    if let Some(by_status) = input.response_parameters {
        for (status, parameters) in by_status {
            let entry = integration.response_parameters.entry(status).or_default();
            merge(entry, parameters);
        }
        integration.response_parameters.retain(|_, parameters| !parameters.is_empty());
    }
    for (status, parameters) in &integration.response_parameters {
        if !status.parse::<u16>().is_ok_and(|status| (200..=599).contains(&status)) {
            return bad(format!("Invalid status code {status} in responseParameters: expected 200 to 599"));
        }
        for (key, value) in parameters {
            parameter_mapping::check_response(key, value)?;
        }
    }
    Ok(())
}

/// Sets each mapping given; an empty value removes its key, as UpdateIntegration
/// takes it.
fn merge(stored: &mut BTreeMap<String, String>, given: BTreeMap<String, String>) {
    for (key, value) in given {
        if value.is_empty() {
            stored.remove(&key);
        } else {
            stored.insert(key, value);
        }
    }
}

fn is_http_url(uri: &str) -> bool {
    let rest = uri.strip_prefix("http://").or_else(|| uri.strip_prefix("https://"));
    rest.is_some_and(|rest| !rest.is_empty() && !rest.starts_with('/'))
}
