//! HTTP API definitions (API Gateway v2) as stored and as the management
//! API shows them. One API, with its routes, integrations and stages, is one
//! record in the data service, so a change to it is one atomic write.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Api {
    pub api_id: String,
    pub name: String,
    pub protocol_type: String,
    pub description: String,
    pub version: String,
    pub route_selection_expression: String,
    pub api_key_selection_expression: String,
    pub disable_execute_api_endpoint: bool,
    pub created_date: String,
    pub tags: BTreeMap<String, String>,
    pub routes: Vec<Route>,
    pub integrations: Vec<Integration>,
    pub stages: Vec<Stage>,
    #[serde(default)]
    pub authorizers: Vec<crate::authorizers::Authorizer>,
    /// WebSocket routes' responses (`$default`): a route with one sends its
    /// integration's reply back on the socket.
    #[serde(default)]
    pub route_responses: Vec<crate::websocket::route_responses::RouteResponse>,
    /// The API's `CorsConfiguration`, answered by the gateway ([`crate::cors`]).
    #[serde(default)]
    pub cors_configuration: Option<Cors>,
    /// Deployments, each a snapshot of the API a stage without auto-deploy
    /// serves ([`crate::stages`]).
    #[serde(default)]
    pub deployments: Vec<Deployment>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Route {
    pub route_id: String,
    pub route_key: String,
    /// `integrations/{integrationId}`, or empty when the route has none.
    pub target: String,
    pub authorization_type: String,
    /// The authorizer of a `JWT` or `CUSTOM` route.
    #[serde(default)]
    pub authorizer_id: String,
    /// Scopes a JWT route asks for; a token needs one of them.
    #[serde(default)]
    pub authorization_scopes: Vec<String>,
    /// WebSocket APIs: which route response a reply goes to (`$default`).
    #[serde(default)]
    pub route_response_selection_expression: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Integration {
    pub integration_id: String,
    pub integration_type: String,
    pub integration_uri: String,
    pub integration_method: String,
    pub payload_format_version: String,
    pub timeout_in_millis: u64,
    #[serde(default)]
    pub description: String,
    /// `append:header.x` / `overwrite:path` / ... → a value expression
    /// ([`crate::parameter_mapping`]).
    #[serde(default)]
    pub request_parameters: BTreeMap<String, String>,
    /// Status code → mapping key → value expression.
    #[serde(default)]
    pub response_parameters: BTreeMap<String, BTreeMap<String, String>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Stage {
    pub stage_name: String,
    pub auto_deploy: bool,
    pub stage_variables: BTreeMap<String, String>,
    pub created_date: String,
    pub last_updated_date: String,
    /// The deployment served when the stage does not auto-deploy.
    #[serde(default)]
    pub deployment_id: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub access_log_settings: Option<AccessLogSettings>,
    #[serde(default)]
    pub default_route_settings: RouteSettings,
    /// Route key → its settings over the stage's default.
    #[serde(default)]
    pub route_settings: BTreeMap<String, RouteSettings>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

/// An API's CORS configuration, stored and shown in the management API's
/// member names.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Cors {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_credentials: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_headers: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_methods: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_origins: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expose_headers: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age: Option<i64>,
}

/// A stage's access log: where (a log group ARN) and in which format.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessLogSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
}

/// A stage's route settings (default or per route key).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_trace_enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detailed_metrics_enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logging_level: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throttling_burst_limit: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throttling_rate_limit: Option<f64>,
}

impl RouteSettings {
    /// `self` with the members `over` sets laid over it.
    pub fn overlaid(&self, over: &RouteSettings) -> RouteSettings {
        RouteSettings {
            data_trace_enabled: over.data_trace_enabled.or(self.data_trace_enabled),
            detailed_metrics_enabled: over.detailed_metrics_enabled.or(self.detailed_metrics_enabled),
            logging_level: over.logging_level.clone().or_else(|| self.logging_level.clone()),
            throttling_burst_limit: over.throttling_burst_limit.or(self.throttling_burst_limit),
            throttling_rate_limit: over.throttling_rate_limit.or(self.throttling_rate_limit),
        }
    }
}

/// A deployment: the API as it was when deployed (routes, integrations,
/// CORS and whatever else the API holds but its stages and deployments).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Deployment {
    pub deployment_id: String,
    pub description: String,
    pub created_date: String,
    /// Made by a change to an auto-deploying stage's API.
    pub auto_deployed: bool,
    pub snapshot: Box<Api>,
}

impl Deployment {
    pub fn to_json(&self) -> Value {
        json!({
            "deploymentId": self.deployment_id,
            "description": self.description,
            "createdDate": self.created_date,
            "autoDeployed": self.auto_deployed,
            "deploymentStatus": "DEPLOYED",
        })
    }
}

/// Generates the 10-character lowercase identifiers API Gateway uses.
pub fn new_id() -> String {
    use rand::Rng as _;
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..10).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char).collect()
}

/// API Gateway's timestamp format: `2024-01-31T12:00:00Z`.
pub fn timestamp() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

impl Api {
    /// The `Api` shape of the management API.
    pub fn to_json(&self, endpoint: &str) -> Value {
        let endpoint = &crate::websocket::endpoint_of(self, endpoint);
        json!({
            "apiId": self.api_id,
            "name": self.name,
            "protocolType": self.protocol_type,
            "apiEndpoint": endpoint,
            "description": self.description,
            "version": self.version,
            "routeSelectionExpression": self.route_selection_expression,
            "apiKeySelectionExpression": self.api_key_selection_expression,
            "disableExecuteApiEndpoint": self.disable_execute_api_endpoint,
            "createdDate": self.created_date,
            "tags": self.tags,
            "corsConfiguration": self.cors_configuration,
        })
    }

    pub fn integration(&self, id: &str) -> Option<&Integration> {
        self.integrations.iter().find(|integration| integration.integration_id == id)
    }

    pub fn stage(&self, name: &str) -> Option<&Stage> {
        self.stages.iter().find(|stage| stage.stage_name == name)
    }
}

impl Route {
    pub fn to_json(&self) -> Value {
        let mut route = json!({
            "routeId": self.route_id,
            "routeKey": self.route_key,
            "authorizationType": self.authorization_type,
            "apiKeyRequired": false,
        });
        if !self.target.is_empty() {
            route["target"] = json!(self.target);
        }
        if !self.authorizer_id.is_empty() {
            route["authorizerId"] = json!(self.authorizer_id);
        }
        if !self.authorization_scopes.is_empty() {
            route["authorizationScopes"] = json!(self.authorization_scopes);
        }
        if !self.route_response_selection_expression.is_empty() {
            route["routeResponseSelectionExpression"] = json!(self.route_response_selection_expression);
        }
        route
    }
}

impl Integration {
    pub fn to_json(&self) -> Value {
        json!({
            "integrationId": self.integration_id,
            "integrationType": self.integration_type,
            "integrationUri": self.integration_uri,
            "integrationMethod": self.integration_method,
            "payloadFormatVersion": self.payload_format_version,
            "timeoutInMillis": self.timeout_in_millis,
            "connectionType": "INTERNET",
            "description": self.description,
            "requestParameters": self.request_parameters,
            "responseParameters": self.response_parameters,
        })
    }
}

impl Stage {
    pub fn to_json(&self) -> Value {
        json!({
            "stageName": self.stage_name,
            "autoDeploy": self.auto_deploy,
            "stageVariables": self.stage_variables,
            "createdDate": self.created_date,
            "lastUpdatedDate": self.last_updated_date,
            "deploymentId": (!self.deployment_id.is_empty()).then_some(&self.deployment_id),
            "description": self.description,
            "accessLogSettings": self.access_log_settings,
            "defaultRouteSettings": self.default_route_settings.overlaid(&RouteSettings {
                detailed_metrics_enabled: Some(self.default_route_settings.detailed_metrics_enabled.unwrap_or(false)),
                ..RouteSettings::default()
            }),
            "routeSettings": self.route_settings,
            "tags": self.tags,
        })
    }
}
