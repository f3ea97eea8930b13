//! REST API definitions (API Gateway v1) as stored. Resources, methods,
//! integrations and their responses serialize in the management API's own
//! camelCase shape, so one serde definition serves both the record and the
//! wire; the API itself, deployments and stages carry what only the store
//! needs and are shown through `to_json`. Every field has a default, so
//! records written before a field existed still read.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// One REST API: its resource tree (the draft), deployments (frozen copies
/// of the tree) and the stages that serve them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub struct RestApi {
    pub id: String,
    pub name: String,
    pub description: String,
    pub version: String,
    /// Seconds since the epoch, as the v1 API's timestamps are.
    pub created_date: i64,
    pub binary_media_types: Vec<String>,
    pub minimum_compression_size: Option<i64>,
    pub api_key_source: String,
    pub endpoint_types: Vec<String>,
    pub policy: Option<String>,
    pub disable_execute_api_endpoint: bool,
    pub tags: BTreeMap<String, String>,
    pub root_resource_id: String,
    pub resources: Vec<Resource>,
    pub deployments: Vec<Deployment>,
    pub stages: Vec<Stage>,
    pub authorizers: Vec<Authorizer>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub struct Resource {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path_part: Option<String>,
    pub path: String,
    #[serde(rename = "resourceMethods", skip_serializing_if = "BTreeMap::is_empty")]
    pub methods: BTreeMap<String, Method>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub struct Method {
    pub http_method: String,
    pub authorization_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorizer_id: Option<String>,
    pub api_key_required: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_validator_id: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub request_parameters: BTreeMap<String, bool>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub request_models: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub authorization_scopes: Vec<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub method_responses: BTreeMap<String, MethodResponse>,
    #[serde(rename = "methodIntegration", skip_serializing_if = "Option::is_none")]
    pub integration: Option<Integration>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub struct MethodResponse {
    pub status_code: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub response_parameters: BTreeMap<String, bool>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub response_models: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub struct Integration {
    /// `AWS_PROXY`, `HTTP_PROXY` or `MOCK`.
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_method: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    pub connection_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credentials: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub request_parameters: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub request_templates: BTreeMap<String, String>,
    pub passthrough_behavior: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_handling: Option<String>,
    pub timeout_in_millis: u64,
    pub cache_namespace: String,
    pub cache_key_parameters: Vec<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub integration_responses: BTreeMap<String, IntegrationResponse>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub struct IntegrationResponse {
    pub status_code: String,
    /// A regular expression over the backend's status (HTTP, MOCK) or
    /// error message (Lambda); none marks the default response.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selection_pattern: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub response_parameters: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub response_templates: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_handling: Option<String>,
}

/// A frozen copy of the resource tree, what a stage serves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub struct Deployment {
    pub id: String,
    pub description: String,
    pub created_date: i64,
    pub resources: Vec<Resource>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub struct Stage {
    pub stage_name: String,
    pub deployment_id: String,
    pub description: String,
    pub variables: BTreeMap<String, String>,
    pub tracing_enabled: bool,
    pub cache_cluster_enabled: bool,
    pub tags: BTreeMap<String, String>,
    pub method_settings: BTreeMap<String, Value>,
    pub created_date: i64,
    pub last_updated_date: i64,
    /// Absent rather than null, so UpdateStage can patch its members.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_log_settings: Option<crate::model::AccessLogSettings>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub struct Authorizer {
    pub id: String,
    pub name: String,
    /// `TOKEN`, `REQUEST` or `COGNITO_USER_POOLS`.
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(rename = "providerARNs", skip_serializing_if = "Vec::is_empty")]
    pub provider_arns: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorizer_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorizer_credentials: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity_source: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity_validation_expression: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorizer_result_ttl_in_seconds: Option<i64>,
}

/// An API key: account-wide, one record each.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub struct ApiKey {
    pub id: String,
    pub value: String,
    pub name: String,
    pub description: String,
    pub customer_id: Option<String>,
    pub enabled: bool,
    pub created_date: i64,
    pub last_updated_date: i64,
    pub stage_keys: Vec<String>,
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub struct ThrottleSettings {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub burst_limit: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub struct QuotaSettings {
    pub limit: u64,
    pub offset: u64,
    /// `DAY`, `WEEK` or `MONTH`.
    pub period: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub struct ApiStage {
    pub api_id: String,
    pub stage: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub throttle: BTreeMap<String, ThrottleSettings>,
}

/// A usage plan with the keys it holds (`CreateUsagePlanKey`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub struct UsagePlan {
    pub id: String,
    pub name: String,
    pub description: String,
    pub api_stages: Vec<ApiStage>,
    pub throttle: Option<ThrottleSettings>,
    pub quota: Option<QuotaSettings>,
    pub product_code: Option<String>,
    pub tags: BTreeMap<String, String>,
    pub key_ids: Vec<String>,
}

/// Generates the 10-character lowercase identifiers API Gateway uses; a
/// resource or authorizer id is the first `length` of them.
pub fn new_id(length: usize) -> String {
    let mut id = crate::model::new_id();
    id.truncate(length);
    id
}

pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

impl RestApi {
    /// The `RestApi` shape of the management API.
    pub fn to_json(&self) -> Value {
        let mut api = json!({
            "id": self.id,
            "name": self.name,
            "createdDate": self.created_date,
            "apiKeySource": self.api_key_source,
            "endpointConfiguration": { "types": self.endpoint_types },
            "disableExecuteApiEndpoint": self.disable_execute_api_endpoint,
            "rootResourceId": self.root_resource_id,
            "tags": self.tags,
        });
        if !self.description.is_empty() {
            api["description"] = json!(self.description);
        }
        if !self.version.is_empty() {
            api["version"] = json!(self.version);
        }
        if !self.binary_media_types.is_empty() {
            api["binaryMediaTypes"] = json!(self.binary_media_types);
        }
        if let Some(size) = self.minimum_compression_size {
            api["minimumCompressionSize"] = json!(size);
        }
        if let Some(policy) = &self.policy {
            api["policy"] = json!(policy);
        }
        api
    }

    pub fn resource(&self, id: &str) -> Option<&Resource> {
        self.resources.iter().find(|resource| resource.id == id)
    }

    pub fn resource_mut(&mut self, id: &str) -> Option<&mut Resource> {
        self.resources.iter_mut().find(|resource| resource.id == id)
    }

    pub fn stage(&self, name: &str) -> Option<&Stage> {
        self.stages.iter().find(|stage| stage.stage_name == name)
    }

    pub fn deployment(&self, id: &str) -> Option<&Deployment> {
        self.deployments.iter().find(|deployment| deployment.id == id)
    }

    pub fn authorizer(&self, id: &str) -> Option<&Authorizer> {
        self.authorizers.iter().find(|authorizer| authorizer.id == id)
    }

    /// A new API with its root resource `/`.
    pub fn new(name: String) -> Self {
        let root = Resource { id: new_id(10), path: "/".into(), ..Default::default() };
        Self {
            id: crate::model::new_id(),
            name,
            created_date: now(),
            api_key_source: "HEADER".into(),
            endpoint_types: vec!["EDGE".into()],
            root_resource_id: root.id.clone(),
            resources: vec![root],
            ..Default::default()
        }
    }
}

impl Resource {
    pub fn to_json(&self, embed_methods: bool) -> Value {
        let mut value = serde_json::to_value(self).unwrap_or(Value::Null);
        if !embed_methods && let Some(methods) = value.get_mut("resourceMethods").and_then(Value::as_object_mut) {
            // Without `embed=methods` AWS lists the methods with empty bodies.
            for method in methods.values_mut() {
                *method = json!({});
            }
        }
        value
    }
}

impl Deployment {
    pub fn to_json(&self) -> Value {
        let mut value = json!({ "id": self.id, "createdDate": self.created_date });
        if !self.description.is_empty() {
            value["description"] = json!(self.description);
        }
        value
    }
}

impl Stage {
    pub fn to_json(&self) -> Value {
        let mut value = json!({
            "stageName": self.stage_name,
            "deploymentId": self.deployment_id,
            "cacheClusterEnabled": self.cache_cluster_enabled,
            "cacheClusterStatus": "NOT_AVAILABLE",
            "methodSettings": super::method_settings::to_json(&self.method_settings),
            "tracingEnabled": self.tracing_enabled,
            "createdDate": self.created_date,
            "lastUpdatedDate": self.last_updated_date,
            "tags": self.tags,
        });
        if !self.description.is_empty() {
            value["description"] = json!(self.description);
        }
        if !self.variables.is_empty() {
            value["variables"] = json!(self.variables);
        }
        if let Some(settings) = &self.access_log_settings {
            value["accessLogSettings"] = json!(settings);
        }
        value
    }
}

impl ApiKey {
    /// The `ApiKey` shape; the value only when asked for (`includeValue`).
    pub fn to_json(&self, include_value: bool) -> Value {
        let mut value = json!({
            "id": self.id,
            "name": self.name,
            "enabled": self.enabled,
            "createdDate": self.created_date,
            "lastUpdatedDate": self.last_updated_date,
            "stageKeys": self.stage_keys,
            "tags": self.tags,
        });
        if include_value {
            value["value"] = json!(self.value);
        }
        if !self.description.is_empty() {
            value["description"] = json!(self.description);
        }
        if let Some(customer) = &self.customer_id {
            value["customerId"] = json!(customer);
        }
        value
    }
}

impl UsagePlan {
    pub fn to_json(&self) -> Value {
        let mut value = json!({
            "id": self.id,
            "name": self.name,
            "apiStages": self.api_stages,
            "tags": self.tags,
        });
        if !self.description.is_empty() {
            value["description"] = json!(self.description);
        }
        if let Some(throttle) = &self.throttle {
            value["throttle"] = json!(throttle);
        }
        if let Some(quota) = &self.quota {
            value["quota"] = json!(quota);
        }
        if let Some(code) = &self.product_code {
            value["productCode"] = json!(code);
        }
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_patch_their_access_log_settings() {
        let operation = |path: &str, value: &str| super::super::patch::PatchOperation {
            op: "replace".into(),
            path: path.into(),
            value: Some(value.into()),
        };
        let operations = [
            operation("/accessLogSettings/format", "$context.requestId $context.status"),
            operation("/accessLogSettings/destinationArn", "arn:aws:logs:us-east-1:000000000000:log-group:g"),
        ];
        let patched: Stage =
            super::super::patch::apply(&Stage::default(), &operations, &["accessLogSettings"], &[]).unwrap();
        let settings = patched.access_log_settings.clone().unwrap();
        assert_eq!(settings.format.as_deref(), Some("$context.requestId $context.status"));
        assert_eq!(
            patched.to_json()["accessLogSettings"]["destinationArn"],
            "arn:aws:logs:us-east-1:000000000000:log-group:g"
        );
        assert!(Stage::default().to_json().get("accessLogSettings").is_none());
    }

    #[test]
    fn a_new_api_has_its_root_resource() {
        let api = RestApi::new("pets".into());
        assert_eq!(api.id.len(), 10);
        assert_eq!(api.resource(&api.root_resource_id).map(|root| root.path.as_str()), Some("/"));
        assert_eq!(api.to_json()["apiKeySource"], "HEADER");
    }

    #[test]
    fn methods_serialize_in_the_wire_shape() {
        let method = Method {
            http_method: "GET".into(),
            authorization_type: "NONE".into(),
            integration: Some(Integration { kind: "MOCK".into(), ..Default::default() }),
            ..Default::default()
        };
        let value = serde_json::to_value(&method).unwrap();
        assert_eq!(value["httpMethod"], "GET");
        assert_eq!(value["methodIntegration"]["type"], "MOCK");
        assert!(value.get("authorizerId").is_none());
    }

    #[test]
    fn old_records_read_with_defaults() {
        let api: RestApi = serde_json::from_str(r#"{"id":"abc","name":"n"}"#).unwrap();
        assert!(api.resources.is_empty());
        assert!(api.binary_media_types.is_empty());
    }
}
