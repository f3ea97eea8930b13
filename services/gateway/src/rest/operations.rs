//! The v1 management operations, one function per family: REST APIs,
//! resources, methods and their responses, integrations and theirs,
//! deployments and stages, authorizers, API keys, usage plans and tags.
//! Each reads the API's record, changes it, and writes it back with
//! compare-and-set ([`RestStore::update_api`]).

use std::collections::BTreeMap;

use actix_web::{HttpRequest, HttpResponse};
use serde::{Deserialize, de::DeserializeOwned};
use serde_json::{Value, json};

use super::{
    api::{Operation, query_value},
    model::{
        ApiKey, ApiStage, Authorizer, Deployment, Integration, IntegrationResponse, Method, MethodResponse,
        QuotaSettings, Resource, RestApi, Stage, ThrottleSettings, UsagePlan, new_id, now,
    },
    patch::{self, PatchInput},
    store::RestStore,
};
use crate::{
    error::{GatewayError, Result},
    management::Management,
};

/// One management call being answered.
#[derive(Clone, Copy)]
pub struct Call<'a> {
    pub request: &'a HttpRequest,
    pub body: &'a [u8],
    pub management: &'a Management,
}

impl Call<'_> {
    pub fn store(&self) -> &RestStore {
        &self.management.rest.store
    }

    pub fn query(&self, name: &str) -> Option<String> {
        query_value(self.request.query_string(), name)
    }

    pub fn input<T: DeserializeOwned>(&self) -> Result<T> {
        parse_json(self.body)
    }
}

pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T> {
    let body = if body.is_empty() { b"{}".as_slice() } else { body };
    let mut reader = serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(&mut reader).map_err(|error| {
        GatewayError::BadRequest(format!("Invalid request body at '{}': {}", error.path(), error.inner()))
    })
}

fn not_found(what: &str) -> GatewayError {
    GatewayError::NotFound(format!("Invalid {what} identifier specified"))
}

fn bad(message: impl Into<String>) -> GatewayError {
    GatewayError::BadRequest(message.into())
}

fn created(value: Value) -> Result<HttpResponse> {
    Ok(HttpResponse::Created().json(value))
}

fn ok(value: Value) -> Result<HttpResponse> {
    Ok(HttpResponse::Ok().json(value))
}

fn accepted() -> Result<HttpResponse> {
    Ok(HttpResponse::Accepted().finish())
}

fn no_content() -> Result<HttpResponse> {
    Ok(HttpResponse::NoContent().finish())
}

/// A list page in the v1 shape (`{"item": [...], "position": "..."}`):
/// `position` is the index of the next item, `limit` at most 500.
fn page(call: &Call<'_>, items: Vec<Value>) -> Result<HttpResponse> {
    let start: usize = call.query("position").and_then(|p| p.parse().ok()).unwrap_or(0);
    let limit: usize = call.query("limit").and_then(|l| l.parse().ok()).unwrap_or(500).clamp(1, 500);
    let end = (start + limit).min(items.len());
    let mut body = json!({ "item": items.get(start.min(end)..end).unwrap_or_default() });
    if end < items.len() {
        body["position"] = json!(end.to_string());
    }
    ok(body)
}

const METHODS: &[&str] = &["GET", "PUT", "POST", "DELETE", "PATCH", "HEAD", "OPTIONS", "ANY"];

fn check_http_method(method: &str) -> Result<()> {
    if METHODS.contains(&method) { Ok(()) } else { Err(bad(format!("Invalid HttpMethod specified: {method}"))) }
}

fn check_status_code(status: &str) -> Result<()> {
    let valid = status.len() == 3
        && status.bytes().all(|b| b.is_ascii_digit())
        && (b'1'..=b'5').contains(&status.as_bytes()[0]);
    if valid { Ok(()) } else { Err(bad(format!("Invalid status code specified: {status}"))) }
}

pub async fn run(call: Call<'_>, operation: Operation) -> Result<HttpResponse> {
    use Operation::*;
    let store = call.store();
    match operation {
        CreateRestApi => create_rest_api(&call).await,
        GetRestApis => {
            let apis = store.apis.list().await?;
            page(&call, apis.iter().map(RestApi::to_json).collect())
        }
        GetRestApi(id) => ok(store.api(&id).await?.value.to_json()),
        UpdateRestApi(id) => {
            let input: PatchInput = call.input()?;
            let api = store.update_api(&id, |api| update_rest_api(api, &input)).await?;
            ok(api.to_json())
        }
        DeleteRestApi(id) => {
            store.delete_api(&id).await?;
            accepted()
        }
        GetResources(id) => {
            let api = store.api(&id).await?.value;
            let embed = call.query("embed").is_some_and(|embed| embed.split(',').any(|e| e == "methods"));
            page(&call, api.resources.iter().map(|resource| resource.to_json(embed)).collect())
        }
        GetResource(id, resource_id) => {
            let api = store.api(&id).await?.value;
            let resource = api.resource(&resource_id).ok_or_else(|| not_found("Resource"))?;
            ok(resource.to_json(call.query("embed").is_some()))
        }
        CreateResource(id, parent_id) => {
            #[derive(Deserialize)]
            #[serde(rename_all = "camelCase")]
            struct Input {
                path_part: Option<String>,
            }
            let input: Input = call.input()?;
            let path_part = input.path_part.unwrap_or_default();
            let resource = store.update_api(&id, |api| add_resource(api, &parent_id, &path_part)).await?;
            created(resource.to_json(false))
        }
        UpdateResource(id, resource_id) => {
            let input: PatchInput = call.input()?;
            let resource = store
                .update_api(&id, |api| {
                    let resource = api.resource(&resource_id).ok_or_else(|| not_found("Resource"))?.clone();
                    let patched: Resource = patch::apply(&resource, &input.patch_operations, &["pathPart"], &[])?;
                    let part = patched.path_part.clone().unwrap_or_default();
                    let parent =
                        resource.parent_id.clone().ok_or_else(|| bad("The root resource cannot be renamed"))?;
                    delete_resource(api, &resource_id)?;
                    let mut renamed = add_resource(api, &parent, &part)?;
                    // The renamed resource keeps its id and methods.
                    let fresh_id = renamed.id.clone();
                    renamed.id = resource_id.clone();
                    renamed.methods = resource.methods.clone();
                    if let Some(stored) = api.resource_mut(&fresh_id) {
                        *stored = renamed.clone();
                    }
                    Ok(renamed)
                })
                .await?;
            ok(resource.to_json(true))
        }
        DeleteResource(id, resource_id) => {
            store.update_api(&id, |api| delete_resource(api, &resource_id)).await?;
            accepted()
        }
        PutMethod(id, resource_id, http_method) => {
            let input: PutMethodInput = call.input()?;
            let method = store.update_api(&id, |api| put_method(api, &resource_id, &http_method, input)).await?;
            created(serde_json::to_value(method).unwrap_or_default())
        }
        GetMethod(id, resource_id, http_method) => {
            let api = store.api(&id).await?.value;
            ok(serde_json::to_value(method_of(&api, &resource_id, &http_method)?).unwrap_or_default())
        }
        UpdateMethod(id, resource_id, http_method) => {
            let input: PatchInput = call.input()?;
            let method = store
                .update_api(&id, |api| {
                    let method = method_mut(api, &resource_id, &http_method)?;
                    let allowed = [
                        "authorizationType",
                        "authorizerId",
                        "apiKeyRequired",
                        "operationName",
                        "requestValidatorId",
                        "requestParameters",
                        "requestModels",
                        "authorizationScopes",
                    ];
                    *method = patch::apply(method, &input.patch_operations, &allowed, &["authorizationScopes"])?;
                    Ok(method.clone())
                })
                .await?;
            ok(serde_json::to_value(method).unwrap_or_default())
        }
        DeleteMethod(id, resource_id, http_method) => {
            store
                .update_api(&id, |api| {
                    let resource = api.resource_mut(&resource_id).ok_or_else(|| not_found("Resource"))?;
                    resource.methods.remove(&http_method).map(drop).ok_or_else(|| not_found("Method"))
                })
                .await?;
            no_content()
        }
        PutMethodResponse(id, resource_id, http_method, status) => {
            check_status_code(&status)?;
            #[derive(Deserialize, Default)]
            #[serde(rename_all = "camelCase", default)]
            struct Input {
                response_parameters: BTreeMap<String, bool>,
                response_models: BTreeMap<String, String>,
            }
            let input: Input = call.input()?;
            let response = MethodResponse {
                status_code: status.clone(),
                response_parameters: input.response_parameters,
                response_models: input.response_models,
            };
            let stored = response.clone();
            store
                .update_api(&id, |api| {
                    method_mut(api, &resource_id, &http_method)?.method_responses.insert(status, stored);
                    Ok(())
                })
                .await?;
            created(serde_json::to_value(response).unwrap_or_default())
        }
        GetMethodResponse(id, resource_id, http_method, status) => {
            let api = store.api(&id).await?.value;
            let method = method_of(&api, &resource_id, &http_method)?;
            let response = method.method_responses.get(&status).ok_or_else(|| not_found("Response status code"))?;
            ok(serde_json::to_value(response).unwrap_or_default())
        }
        UpdateMethodResponse(id, resource_id, http_method, status) => {
            let input: PatchInput = call.input()?;
            let response = store
                .update_api(&id, |api| {
                    let method = method_mut(api, &resource_id, &http_method)?;
                    let response =
                        method.method_responses.get_mut(&status).ok_or_else(|| not_found("Response status code"))?;
                    *response = patch::apply(
                        response,
                        &input.patch_operations,
                        &["responseParameters", "responseModels"],
                        &[],
                    )?;
                    Ok(response.clone())
                })
                .await?;
            ok(serde_json::to_value(response).unwrap_or_default())
        }
        DeleteMethodResponse(id, resource_id, http_method, status) => {
            store
                .update_api(&id, |api| {
                    let method = method_mut(api, &resource_id, &http_method)?;
                    method.method_responses.remove(&status).map(drop).ok_or_else(|| not_found("Response status code"))
                })
                .await?;
            no_content()
        }
        PutIntegration(id, resource_id, http_method) => {
            let input: PutIntegrationInput = call.input()?;
            let integration = integration_from(input)?;
            let stored = integration.clone();
            store
                .update_api(&id, |api| {
                    method_mut(api, &resource_id, &http_method)?.integration = Some(stored);
                    Ok(())
                })
                .await?;
            created(serde_json::to_value(integration).unwrap_or_default())
        }
        GetIntegration(id, resource_id, http_method) => {
            let api = store.api(&id).await?.value;
            let method = method_of(&api, &resource_id, &http_method)?;
            let integration = method.integration.as_ref().ok_or_else(|| not_found("Integration"))?;
            ok(serde_json::to_value(integration).unwrap_or_default())
        }
        UpdateIntegration(id, resource_id, http_method) => {
            let input: PatchInput = call.input()?;
            let integration = store
                .update_api(&id, |api| {
                    let method = method_mut(api, &resource_id, &http_method)?;
                    let integration = method.integration.as_mut().ok_or_else(|| not_found("Integration"))?;
                    let allowed = [
                        "type",
                        "httpMethod",
                        "uri",
                        "connectionType",
                        "credentials",
                        "requestParameters",
                        "requestTemplates",
                        "passthroughBehavior",
                        "contentHandling",
                        "timeoutInMillis",
                        "cacheNamespace",
                        "cacheKeyParameters",
                    ];
                    *integration =
                        patch::apply(integration, &input.patch_operations, &allowed, &["cacheKeyParameters"])?;
                    Ok(integration.clone())
                })
                .await?;
            ok(serde_json::to_value(integration).unwrap_or_default())
        }
        DeleteIntegration(id, resource_id, http_method) => {
            store
                .update_api(&id, |api| {
                    let method = method_mut(api, &resource_id, &http_method)?;
                    method.integration.take().map(drop).ok_or_else(|| not_found("Integration"))
                })
                .await?;
            no_content()
        }
        PutIntegrationResponse(id, resource_id, http_method, status) => {
            check_status_code(&status)?;
            #[derive(Deserialize, Default)]
            #[serde(rename_all = "camelCase", default)]
            struct Input {
                selection_pattern: Option<String>,
                response_parameters: BTreeMap<String, String>,
                response_templates: BTreeMap<String, String>,
                content_handling: Option<String>,
            }
            let input: Input = call.input()?;
            if let Some(pattern) = &input.selection_pattern {
                regex::Regex::new(pattern)
                    .map_err(|_| bad(format!("Invalid selection pattern specified: {pattern}")))?;
            }
            let response = IntegrationResponse {
                status_code: status.clone(),
                selection_pattern: input.selection_pattern.filter(|pattern| !pattern.is_empty()),
                response_parameters: input.response_parameters,
                response_templates: input.response_templates,
                content_handling: input.content_handling,
            };
            let stored = response.clone();
            store
                .update_api(&id, |api| {
                    let method = method_mut(api, &resource_id, &http_method)?;
                    if !method.method_responses.contains_key(&status) {
                        return Err(not_found("Response status code"));
                    }
                    let integration = method.integration.as_mut().ok_or_else(|| not_found("Integration"))?;
                    integration.integration_responses.insert(status, stored);
                    Ok(())
                })
                .await?;
            created(serde_json::to_value(response).unwrap_or_default())
        }
        GetIntegrationResponse(id, resource_id, http_method, status) => {
            let api = store.api(&id).await?.value;
            let method = method_of(&api, &resource_id, &http_method)?;
            let integration = method.integration.as_ref().ok_or_else(|| not_found("Integration"))?;
            let response =
                integration.integration_responses.get(&status).ok_or_else(|| not_found("Response status code"))?;
            ok(serde_json::to_value(response).unwrap_or_default())
        }
        UpdateIntegrationResponse(id, resource_id, http_method, status) => {
            let input: PatchInput = call.input()?;
            let response = store
                .update_api(&id, |api| {
                    let method = method_mut(api, &resource_id, &http_method)?;
                    let integration = method.integration.as_mut().ok_or_else(|| not_found("Integration"))?;
                    let response = integration
                        .integration_responses
                        .get_mut(&status)
                        .ok_or_else(|| not_found("Response status code"))?;
                    let allowed = ["selectionPattern", "responseParameters", "responseTemplates", "contentHandling"];
                    *response = patch::apply(response, &input.patch_operations, &allowed, &[])?;
                    Ok(response.clone())
                })
                .await?;
            ok(serde_json::to_value(response).unwrap_or_default())
        }
        DeleteIntegrationResponse(id, resource_id, http_method, status) => {
            store
                .update_api(&id, |api| {
                    let method = method_mut(api, &resource_id, &http_method)?;
                    let integration = method.integration.as_mut().ok_or_else(|| not_found("Integration"))?;
                    integration
                        .integration_responses
                        .remove(&status)
                        .map(drop)
                        .ok_or_else(|| not_found("Response status code"))
                })
                .await?;
            no_content()
        }
        CreateDeployment(id) => {
            #[derive(Deserialize, Default)]
            #[serde(rename_all = "camelCase", default)]
            struct Input {
                stage_name: Option<String>,
                stage_description: Option<String>,
                description: Option<String>,
                variables: BTreeMap<String, String>,
            }
            let input: Input = call.input()?;
            let deployment = store
                .update_api(&id, |api| {
                    let deployment = deploy(api, input.description.clone().unwrap_or_default())?;
                    if let Some(stage_name) = input.stage_name.clone().filter(|name| !name.is_empty()) {
                        check_stage_name(&stage_name)?;
                        let at = now();
                        match api.stages.iter_mut().find(|stage| stage.stage_name == stage_name) {
                            Some(stage) => {
                                stage.deployment_id = deployment.id.clone();
                                stage.variables.extend(input.variables.clone());
                                stage.last_updated_date = at;
                            }
                            None => api.stages.push(Stage {
                                stage_name,
                                deployment_id: deployment.id.clone(),
                                description: input.stage_description.clone().unwrap_or_default(),
                                variables: input.variables.clone(),
                                created_date: at,
                                last_updated_date: at,
                                ..Default::default()
                            }),
                        }
                    }
                    Ok(deployment)
                })
                .await?;
            created(deployment.to_json())
        }
        GetDeployments(id) => {
            let api = store.api(&id).await?.value;
            page(&call, api.deployments.iter().map(Deployment::to_json).collect())
        }
        GetDeployment(id, deployment_id) => {
            let api = store.api(&id).await?.value;
            ok(api.deployment(&deployment_id).ok_or_else(|| not_found("Deployment"))?.to_json())
        }
        DeleteDeployment(id, deployment_id) => {
            store
                .update_api(&id, |api| {
                    if api.deployment(&deployment_id).is_none() {
                        return Err(not_found("Deployment"));
                    }
                    if api.stages.iter().any(|stage| stage.deployment_id == deployment_id) {
                        return Err(bad("Active stages pointing to this deployment must be moved or deleted"));
                    }
                    api.deployments.retain(|deployment| deployment.id != deployment_id);
                    Ok(())
                })
                .await?;
            accepted()
        }
        CreateStage(id) => {
            #[derive(Deserialize, Default)]
            #[serde(rename_all = "camelCase", default)]
            struct Input {
                stage_name: Option<String>,
                deployment_id: Option<String>,
                description: Option<String>,
                variables: BTreeMap<String, String>,
                tracing_enabled: bool,
                cache_cluster_enabled: bool,
                tags: BTreeMap<String, String>,
            }
            let input: Input = call.input()?;
            let stage_name =
                input.stage_name.filter(|name| !name.is_empty()).ok_or_else(|| bad("Stage name is required"))?;
            check_stage_name(&stage_name)?;
            let deployment_id =
                input.deployment_id.filter(|id| !id.is_empty()).ok_or_else(|| bad("Deployment id is required"))?;
            let stage = store
                .update_api(&id, |api| {
                    if api.deployment(&deployment_id).is_none() {
                        return Err(not_found("Deployment"));
                    }
                    if api.stage(&stage_name).is_some() {
                        return Err(GatewayError::Conflict("Stage already exists".into()));
                    }
                    let at = now();
                    let stage = Stage {
                        stage_name: stage_name.clone(),
                        deployment_id: deployment_id.clone(),
                        description: input.description.clone().unwrap_or_default(),
                        variables: input.variables.clone(),
                        tracing_enabled: input.tracing_enabled,
                        cache_cluster_enabled: input.cache_cluster_enabled,
                        tags: input.tags.clone(),
                        method_settings: BTreeMap::new(),
                        created_date: at,
                        last_updated_date: at,
                        access_log_settings: None,
                    };
                    api.stages.push(stage.clone());
                    Ok(stage)
                })
                .await?;
            created(stage.to_json())
        }
        GetStages(id) => {
            let api = store.api(&id).await?.value;
            // GetStages answers `{"item": [...]}` without paging.
            ok(json!({ "item": api.stages.iter().map(Stage::to_json).collect::<Vec<_>>() }))
        }
        GetStage(id, name) => {
            let api = store.api(&id).await?.value;
            ok(api.stage(&name).ok_or_else(|| not_found("Stage"))?.to_json())
        }
        UpdateStage(id, name) => {
            let input: PatchInput = call.input()?;
            let stage = store
                .update_api(&id, |api| {
                    let deployments: Vec<String> = api.deployments.iter().map(|d| d.id.clone()).collect();
                    let stage = api
                        .stages
                        .iter_mut()
                        .find(|stage| stage.stage_name == name)
                        .ok_or_else(|| not_found("Stage"))?;
                    let mut patched = stage.clone();
                    for operation in &input.patch_operations {
                        let first = operation.path.trim_start_matches('/').split('/').next().unwrap_or("");
                        match first {
                            "description"
                            | "deploymentId"
                            | "variables"
                            | "tracingEnabled"
                            | "cacheClusterEnabled"
                            | "accessLogSettings" => {
                                patched = patch::apply(&patched, std::slice::from_ref(operation), &[first], &[])?;
                            }
                            // `/{resource path}/{method}/{setting}`, e.g. `/*/*/throttling/rateLimit`.
                            _ => {
                                let key = operation.path.trim_start_matches('/').to_owned();
                                match operation.op.as_str() {
                                    "remove" => {
                                        patched.method_settings.remove(&key);
                                    }
                                    _ => {
                                        patched.method_settings.insert(key, json!(operation.value));
                                    }
                                }
                            }
                        }
                    }
                    if !deployments.contains(&patched.deployment_id) {
                        return Err(not_found("Deployment"));
                    }
                    if let Some(format) = patched.access_log_settings.as_ref().and_then(|s| s.format.as_deref()) {
                        crate::access_log::Format::parse(format)?;
                    }
                    patched.last_updated_date = now();
                    *stage = patched.clone();
                    Ok(patched)
                })
                .await?;
            ok(stage.to_json())
        }
        DeleteStage(id, name) => {
            store
                .update_api(&id, |api| {
                    let before = api.stages.len();
                    api.stages.retain(|stage| stage.stage_name != name);
                    if api.stages.len() == before { Err(not_found("Stage")) } else { Ok(()) }
                })
                .await?;
            accepted()
        }
        CreateAuthorizer(id) => {
            let input: Authorizer = call.input()?;
            let authorizer = authorizer_from(input)?;
            let stored = authorizer.clone();
            store
                .update_api(&id, |api| {
                    if api.authorizers.iter().any(|existing| existing.name == stored.name) {
                        return Err(GatewayError::Conflict(format!(
                            "Authorizer with name '{}' already exists",
                            stored.name
                        )));
                    }
                    api.authorizers.push(stored);
                    Ok(())
                })
                .await?;
            created(serde_json::to_value(authorizer).unwrap_or_default())
        }
        GetAuthorizers(id) => {
            let api = store.api(&id).await?.value;
            page(&call, api.authorizers.iter().map(|a| serde_json::to_value(a).unwrap_or_default()).collect())
        }
        GetAuthorizer(id, authorizer_id) => {
            let api = store.api(&id).await?.value;
            let authorizer = api.authorizer(&authorizer_id).ok_or_else(|| not_found("Authorizer"))?;
            ok(serde_json::to_value(authorizer).unwrap_or_default())
        }
        UpdateAuthorizer(id, authorizer_id) => {
            let input: PatchInput = call.input()?;
            let authorizer = store
                .update_api(&id, |api| {
                    let authorizer = api
                        .authorizers
                        .iter_mut()
                        .find(|authorizer| authorizer.id == authorizer_id)
                        .ok_or_else(|| not_found("Authorizer"))?;
                    let allowed = [
                        "name",
                        "type",
                        "providerARNs",
                        "authType",
                        "authorizerUri",
                        "authorizerCredentials",
                        "identitySource",
                        "identityValidationExpression",
                        "authorizerResultTtlInSeconds",
                    ];
                    *authorizer = patch::apply(authorizer, &input.patch_operations, &allowed, &["providerARNs"])?;
                    Ok(authorizer.clone())
                })
                .await?;
            ok(serde_json::to_value(authorizer).unwrap_or_default())
        }
        DeleteAuthorizer(id, authorizer_id) => {
            store
                .update_api(&id, |api| {
                    let in_use = api
                        .resources
                        .iter()
                        .flat_map(|r| r.methods.values())
                        .any(|method| method.authorizer_id.as_deref() == Some(authorizer_id.as_str()));
                    if in_use {
                        return Err(GatewayError::Conflict("Cannot delete authorizer, is referenced in method".into()));
                    }
                    let before = api.authorizers.len();
                    api.authorizers.retain(|authorizer| authorizer.id != authorizer_id);
                    if api.authorizers.len() == before { Err(not_found("Authorizer")) } else { Ok(()) }
                })
                .await?;
            accepted()
        }
        CreateApiKey => create_api_key(&call).await,
        GetApiKeys => {
            let include = call.query("includeValues").as_deref() == Some("true");
            let name_query = call.query("name");
            let keys = store.keys.list().await?;
            let items = keys
                .iter()
                .filter(|key| name_query.as_ref().is_none_or(|prefix| key.name.starts_with(prefix.as_str())))
                .map(|key| key.to_json(include))
                .collect();
            page(&call, items)
        }
        GetApiKey(key_id) => {
            let key = store.keys.get(&key_id).await?.ok_or_else(|| not_found("API Key"))?.value;
            ok(key.to_json(call.query("includeValue").as_deref() == Some("true")))
        }
        UpdateApiKey(key_id) => {
            let input: PatchInput = call.input()?;
            let versioned = store.keys.get(&key_id).await?.ok_or_else(|| not_found("API Key"))?;
            let mut key: ApiKey = patch::apply(
                &versioned.value,
                &input.patch_operations,
                &["name", "description", "enabled", "customerId"],
                &[],
            )?;
            key.last_updated_date = now();
            store.keys.put(&key_id, &key, versioned.version).await?;
            store.invalidate_usage();
            ok(key.to_json(false))
        }
        DeleteApiKey(key_id) => {
            if !store.keys.delete(&key_id).await? {
                return Err(not_found("API Key"));
            }
            store.invalidate_usage();
            accepted()
        }
        CreateUsagePlan => create_usage_plan(&call).await,
        GetUsagePlans => {
            let key_id = call.query("keyId");
            let plans = store.plans.list().await?;
            let items = plans
                .iter()
                .filter(|plan| key_id.as_ref().is_none_or(|key| plan.key_ids.contains(key)))
                .map(UsagePlan::to_json)
                .collect();
            page(&call, items)
        }
        GetUsagePlan(plan_id) => ok(usage_plan(store, &plan_id).await?.value.to_json()),
        UpdateUsagePlan(plan_id) => {
            let input: PatchInput = call.input()?;
            let versioned = usage_plan(store, &plan_id).await?;
            let mut plan = versioned.value.clone();
            for operation in &input.patch_operations {
                update_usage_plan(&mut plan, operation)?;
            }
            store.plans.put(&plan_id, &plan, versioned.version).await?;
            store.invalidate_usage();
            call.management.rest.limits.forget_plan(&plan_id);
            ok(plan.to_json())
        }
        DeleteUsagePlan(plan_id) => {
            if !store.plans.delete(&plan_id).await? {
                return Err(not_found("Usage Plan"));
            }
            store.invalidate_usage();
            call.management.rest.limits.forget_plan(&plan_id);
            accepted()
        }
        CreateUsagePlanKey(plan_id) => {
            #[derive(Deserialize, Default)]
            #[serde(rename_all = "camelCase", default)]
            struct Input {
                key_id: Option<String>,
                key_type: Option<String>,
            }
            let input: Input = call.input()?;
            let key_id = input.key_id.filter(|id| !id.is_empty()).ok_or_else(|| bad("API Key id is required"))?;
            if input.key_type.as_deref().unwrap_or("API_KEY") != "API_KEY" {
                return Err(bad("Invalid key type specified: keyType must be API_KEY"));
            }
            let key = store.keys.get(&key_id).await?.ok_or_else(|| not_found("API Key"))?.value;
            let versioned = usage_plan(store, &plan_id).await?;
            let mut plan = versioned.value;
            if plan.key_ids.contains(&key_id) {
                return Err(GatewayError::Conflict(format!(
                    "Usage Plan {plan_id} cannot be added because API Key {key_id} already exists in the usage plan"
                )));
            }
            plan.key_ids.push(key_id);
            store.plans.put(&plan_id, &plan, versioned.version).await?;
            store.invalidate_usage();
            created(usage_plan_key(&key))
        }
        GetUsagePlanKeys(plan_id) => {
            let plan = usage_plan(store, &plan_id).await?.value;
            let mut items = Vec::new();
            for key_id in &plan.key_ids {
                if let Some(key) = store.keys.get(key_id).await? {
                    items.push(usage_plan_key(&key.value));
                }
            }
            page(&call, items)
        }
        GetUsagePlanKey(plan_id, key_id) => {
            let plan = usage_plan(store, &plan_id).await?.value;
            if !plan.key_ids.contains(&key_id) {
                return Err(not_found("Usage Plan Key"));
            }
            let key = store.keys.get(&key_id).await?.ok_or_else(|| not_found("API Key"))?.value;
            ok(usage_plan_key(&key))
        }
        DeleteUsagePlanKey(plan_id, key_id) => {
            let versioned = usage_plan(store, &plan_id).await?;
            let mut plan = versioned.value;
            let before = plan.key_ids.len();
            plan.key_ids.retain(|id| id != &key_id);
            if plan.key_ids.len() == before {
                return Err(not_found("Usage Plan Key"));
            }
            store.plans.put(&plan_id, &plan, versioned.version).await?;
            store.invalidate_usage();
            accepted()
        }
        GetTags(arn) => ok(json!({ "tags": tags(&call, &arn, None).await? })),
        TagResource(arn) => {
            #[derive(Deserialize, Default)]
            #[serde(default)]
            struct Input {
                tags: BTreeMap<String, String>,
            }
            let input: Input = call.input()?;
            tags(&call, &arn, Some(TagChange::Add(input.tags))).await?;
            no_content()
        }
        UntagResource(arn) => {
            let keys: Vec<String> = call
                .request
                .query_string()
                .split('&')
                .filter_map(|pair| pair.strip_prefix("tagKeys="))
                .map(nubo_host::sigv4::percent_decode)
                .collect();
            tags(&call, &arn, Some(TagChange::Remove(keys))).await?;
            no_content()
        }
        ImportRestApi | PutRestApi(_) | GetExport(..) | ImportApi | ReimportApi(_) | ExportApi(..) => {
            Err(GatewayError::Service("misrouted OpenAPI call".into()))
        }
    }
}

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct CreateRestApiInput {
    name: Option<String>,
    description: Option<String>,
    version: Option<String>,
    binary_media_types: Vec<String>,
    minimum_compression_size: Option<i64>,
    api_key_source: Option<String>,
    endpoint_configuration: Option<EndpointConfiguration>,
    policy: Option<String>,
    tags: BTreeMap<String, String>,
    disable_execute_api_endpoint: bool,
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
struct EndpointConfiguration {
    types: Vec<String>,
}

async fn create_rest_api(call: &Call<'_>) -> Result<HttpResponse> {
    let input: CreateRestApiInput = call.input()?;
    let name =
        input.name.filter(|name| !name.trim().is_empty()).ok_or_else(|| bad("Invalid REST API name specified"))?;
    let mut api = RestApi::new(name);
    api.description = input.description.unwrap_or_default();
    api.version = input.version.unwrap_or_default();
    api.binary_media_types = input.binary_media_types;
    api.minimum_compression_size = input.minimum_compression_size;
    if let Some(source) = input.api_key_source {
        check_api_key_source(&source)?;
        api.api_key_source = source;
    }
    if let Some(endpoint) = input.endpoint_configuration.filter(|endpoint| !endpoint.types.is_empty()) {
        api.endpoint_types = endpoint.types;
    }
    api.policy = input.policy;
    api.tags = input.tags;
    api.disable_execute_api_endpoint = input.disable_execute_api_endpoint;
    call.store().put_api(&api, 0).await?;
    tracing::info!(api = %api.id, name = %api.name, "rest api created");
    created(api.to_json())
}

fn check_api_key_source(source: &str) -> Result<()> {
    match source {
        "HEADER" | "AUTHORIZER" => Ok(()),
        other => Err(bad(format!("Invalid API Key source specified: {other}"))),
    }
}

fn update_rest_api(api: &mut RestApi, input: &PatchInput) -> Result<RestApi> {
    // The stored shape differs from the wire one only in the endpoint
    // configuration, which is not patched here.
    let allowed = [
        "name",
        "description",
        "version",
        "binaryMediaTypes",
        "minimumCompressionSize",
        "apiKeySource",
        "policy",
        "disableExecuteApiEndpoint",
    ];
    let patched: RestApi = patch::apply(&*api, &input.patch_operations, &allowed, &["binaryMediaTypes"])?;
    check_api_key_source(&patched.api_key_source)?;
    *api = patched;
    Ok(api.clone())
}

/// Whether a path part is a literal (`a-zA-Z0-9._-`) or `{name}`/`{name+}`.
pub fn valid_path_part(part: &str) -> bool {
    let literal = |text: &str| {
        !text.is_empty() && text.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    };
    match part.strip_prefix('{').and_then(|rest| rest.strip_suffix('}')) {
        Some(name) => literal(name.strip_suffix('+').unwrap_or(name)),
        None => literal(part),
    }
}

fn is_variable(part: &str) -> bool {
    part.starts_with('{')
}

/// Adds a child of `parent_id`, with AWS's rules: one name per parent,
/// one variable part among siblings, nothing under a greedy `{name+}`.
pub fn add_resource(api: &mut RestApi, parent_id: &str, path_part: &str) -> Result<Resource> {
    let parent = api.resource(parent_id).ok_or_else(|| not_found("Resource"))?.clone();
    if !valid_path_part(path_part) {
        return Err(bad(
            "Resource's path part only allow a-zA-Z0-9._- and curly braces at the beginning and the end and an optional plus sign before the closing brace.",
        ));
    }
    if parent.path_part.as_deref().is_some_and(|part| part.ends_with("+}")) {
        return Err(bad("Cannot create a child of a resource with a greedy path variable"));
    }
    for sibling in api.resources.iter().filter(|r| r.parent_id.as_deref() == Some(parent_id)) {
        let sibling_part = sibling.path_part.as_deref().unwrap_or_default();
        if sibling_part == path_part {
            return Err(GatewayError::Conflict(format!(
                "Another resource with the same parent already has this name: {path_part}"
            )));
        }
        if is_variable(sibling_part) && is_variable(path_part) {
            return Err(bad(format!(
                "A sibling ({}) of this resource already has a variable path part -- only one is allowed",
                sibling.id
            )));
        }
    }
    let path = if parent.path == "/" { format!("/{path_part}") } else { format!("{}/{path_part}", parent.path) };
    let resource = Resource {
        id: new_id(6),
        parent_id: Some(parent_id.to_owned()),
        path_part: Some(path_part.to_owned()),
        path,
        methods: BTreeMap::new(),
    };
    api.resources.push(resource.clone());
    Ok(resource)
}

/// Deletes a resource and everything under it.
fn delete_resource(api: &mut RestApi, resource_id: &str) -> Result<()> {
    let resource = api.resource(resource_id).ok_or_else(|| not_found("Resource"))?;
    if resource.parent_id.is_none() {
        return Err(bad("Cannot delete the root resource"));
    }
    let mut doomed = vec![resource_id.to_owned()];
    let mut index = 0;
    while index < doomed.len() {
        let current = doomed[index].clone();
        doomed.extend(
            api.resources.iter().filter(|r| r.parent_id.as_deref() == Some(current.as_str())).map(|r| r.id.clone()),
        );
        index += 1;
    }
    api.resources.retain(|resource| !doomed.contains(&resource.id));
    Ok(())
}

fn method_of<'a>(api: &'a RestApi, resource_id: &str, http_method: &str) -> Result<&'a Method> {
    let resource = api.resource(resource_id).ok_or_else(|| not_found("Resource"))?;
    resource.methods.get(http_method).ok_or_else(|| not_found("Method"))
}

fn method_mut<'a>(api: &'a mut RestApi, resource_id: &str, http_method: &str) -> Result<&'a mut Method> {
    let resource = api.resource_mut(resource_id).ok_or_else(|| not_found("Resource"))?;
    resource.methods.get_mut(http_method).ok_or_else(|| not_found("Method"))
}

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct PutMethodInput {
    pub authorization_type: Option<String>,
    pub authorizer_id: Option<String>,
    pub api_key_required: bool,
    pub operation_name: Option<String>,
    pub request_validator_id: Option<String>,
    pub request_parameters: BTreeMap<String, bool>,
    pub request_models: BTreeMap<String, String>,
    pub authorization_scopes: Vec<String>,
}

pub const AUTHORIZATION_TYPES: &[&str] = &["NONE", "AWS_IAM", "CUSTOM", "COGNITO_USER_POOLS"];

pub fn put_method(api: &mut RestApi, resource_id: &str, http_method: &str, input: PutMethodInput) -> Result<Method> {
    check_http_method(http_method)?;
    let authorization_type = input.authorization_type.unwrap_or_default();
    if !AUTHORIZATION_TYPES.contains(&authorization_type.as_str()) {
        return Err(bad(format!("Invalid authorization type specified: {authorization_type}")));
    }
    if matches!(authorization_type.as_str(), "CUSTOM" | "COGNITO_USER_POOLS") {
        let id = input.authorizer_id.as_deref().unwrap_or_default();
        let authorizer = api.authorizer(id).ok_or_else(|| bad("Invalid authorizer ID specified"))?;
        let fits = (authorization_type == "COGNITO_USER_POOLS") == (authorizer.kind == "COGNITO_USER_POOLS");
        if !fits {
            return Err(bad(format!(
                "Authorizer {id} of type {} cannot be used with authorization type {authorization_type}",
                authorizer.kind
            )));
        }
    }
    let resource = api.resource_mut(resource_id).ok_or_else(|| not_found("Resource"))?;
    if resource.methods.contains_key(http_method) {
        return Err(GatewayError::Conflict("Method already exists for this resource".into()));
    }
    let method = Method {
        http_method: http_method.to_owned(),
        authorization_type,
        authorizer_id: input.authorizer_id.filter(|_| true),
        api_key_required: input.api_key_required,
        operation_name: input.operation_name,
        request_validator_id: input.request_validator_id,
        request_parameters: input.request_parameters,
        request_models: input.request_models,
        authorization_scopes: input.authorization_scopes,
        method_responses: BTreeMap::new(),
        integration: None,
    };
    resource.methods.insert(http_method.to_owned(), method.clone());
    Ok(method)
}

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct PutIntegrationInput {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub http_method: Option<String>,
    pub uri: Option<String>,
    pub connection_type: Option<String>,
    pub credentials: Option<String>,
    pub request_parameters: BTreeMap<String, String>,
    pub request_templates: BTreeMap<String, String>,
    pub passthrough_behavior: Option<String>,
    pub content_handling: Option<String>,
    pub timeout_in_millis: Option<u64>,
    pub cache_namespace: Option<String>,
    pub cache_key_parameters: Vec<String>,
    /// Only in OpenAPI imports: the integration responses come along.
    pub integration_responses: BTreeMap<String, IntegrationResponse>,
}

/// Validates an integration the way PutIntegration does.
pub fn integration_from(input: PutIntegrationInput) -> Result<Integration> {
    let kind = input.kind.unwrap_or_default();
    match kind.as_str() {
        "AWS_PROXY" | "HTTP_PROXY" | "MOCK" => {}
        "AWS" | "HTTP" => {
            return Err(bad(format!(
                "Unsupported integration type {kind}: nubo serves AWS_PROXY, HTTP_PROXY and MOCK integrations"
            )));
        }
        other => return Err(bad(format!("Invalid integration type specified: {other}"))),
    }
    let http_method = input.http_method.filter(|method| !method.is_empty());
    let uri = input.uri.filter(|uri| !uri.is_empty());
    if kind != "MOCK" {
        let method = http_method.as_deref().ok_or_else(|| bad("Enumeration value for HttpMethod must be non-empty"))?;
        check_http_method(method)?;
        let uri = uri.as_deref().ok_or_else(|| bad("Invalid HTTP endpoint specified for URI"))?;
        if kind == "HTTP_PROXY" && !(uri.starts_with("http://") || uri.starts_with("https://")) {
            return Err(bad("Invalid HTTP endpoint specified for URI"));
        }
        if kind == "AWS_PROXY" && !uri.contains(":lambda:") {
            return Err(bad(
                "Integrations of type 'AWS_PROXY' currently only supports Lambda function and Firehose stream invocations.",
            ));
        }
    }
    let timeout_in_millis = input.timeout_in_millis.unwrap_or(29_000);
    if !(50..=29_000).contains(&timeout_in_millis) {
        return Err(bad("Timeout should be between 50 ms and 29000 ms"));
    }
    let passthrough_behavior = input.passthrough_behavior.unwrap_or_else(|| "WHEN_NO_MATCH".into());
    if !matches!(passthrough_behavior.as_str(), "WHEN_NO_MATCH" | "WHEN_NO_TEMPLATES" | "NEVER") {
        return Err(bad(format!("Invalid passthrough behavior specified: {passthrough_behavior}")));
    }
    for response in input.integration_responses.values() {
        if let Some(pattern) = &response.selection_pattern {
            regex::Regex::new(pattern).map_err(|_| bad(format!("Invalid selection pattern specified: {pattern}")))?;
        }
    }
    Ok(Integration {
        kind,
        http_method,
        uri,
        connection_type: input.connection_type.unwrap_or_else(|| "INTERNET".into()),
        credentials: input.credentials,
        request_parameters: input.request_parameters,
        request_templates: input.request_templates,
        passthrough_behavior,
        content_handling: input.content_handling,
        timeout_in_millis,
        cache_namespace: input.cache_namespace.unwrap_or_default(),
        cache_key_parameters: input.cache_key_parameters,
        integration_responses: input.integration_responses,
    })
}

/// Freezes the draft tree into a new deployment.
pub fn deploy(api: &mut RestApi, description: String) -> Result<Deployment> {
    if api.resources.iter().all(|resource| resource.methods.is_empty()) {
        return Err(bad("The REST API doesn't contain any methods"));
    }
    let deployment = Deployment { id: new_id(6), description, created_date: now(), resources: api.resources.clone() };
    api.deployments.push(deployment.clone());
    Ok(deployment)
}

fn check_stage_name(name: &str) -> Result<()> {
    let valid = !name.is_empty()
        && name.len() <= 128
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if valid { Ok(()) } else { Err(bad("Stage name only allows a-zA-Z0-9_")) }
}

pub fn authorizer_from(input: Authorizer) -> Result<Authorizer> {
    if input.name.trim().is_empty() {
        return Err(bad("Invalid authorizer name specified"));
    }
    match input.kind.as_str() {
        "TOKEN" | "REQUEST" => {
            if input.authorizer_uri.as_deref().is_none_or(str::is_empty) {
                return Err(bad("Authorizer URI is required for authorizers of type TOKEN and REQUEST"));
            }
        }
        "COGNITO_USER_POOLS" => {
            if input.provider_arns.is_empty() {
                return Err(bad("ProviderARNs need to be specified for COGNITO_USER_POOLS type authorizers"));
            }
        }
        other => return Err(bad(format!("Invalid authorizer type specified: {other}"))),
    }
    let identity_source = match (&input.identity_source, input.kind.as_str()) {
        (Some(source), _) => Some(source.clone()),
        (None, "TOKEN" | "COGNITO_USER_POOLS") => Some("method.request.header.Authorization".into()),
        (None, _) => None,
    };
    Ok(Authorizer {
        id: new_id(6),
        identity_source,
        authorizer_result_ttl_in_seconds: Some(input.authorizer_result_ttl_in_seconds.unwrap_or(300)),
        ..input
    })
}

async fn create_api_key(call: &Call<'_>) -> Result<HttpResponse> {
    #[derive(Deserialize, Default)]
    #[serde(rename_all = "camelCase", default)]
    struct StageKey {
        rest_api_id: String,
        stage_name: String,
    }
    #[derive(Deserialize, Default)]
    #[serde(rename_all = "camelCase", default)]
    struct Input {
        name: Option<String>,
        description: Option<String>,
        enabled: bool,
        value: Option<String>,
        customer_id: Option<String>,
        stage_keys: Vec<StageKey>,
        tags: BTreeMap<String, String>,
    }
    let input: Input = call.input()?;
    let value = match input.value {
        Some(value) if value.len() < 20 => {
            return Err(bad("API Key value should be at least 20 characters"));
        }
        Some(value) => value,
        None => {
            use rand::Rng as _;
            const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
            let mut rng = rand::rng();
            (0..40).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char).collect()
        }
    };
    let store = call.store();
    if store.keys.list().await?.iter().any(|key| key.value == value) {
        return Err(GatewayError::Conflict("API Key already exists".into()));
    }
    let at = now();
    let key = ApiKey {
        id: crate::model::new_id(),
        name: input.name.unwrap_or_default(),
        description: input.description.unwrap_or_default(),
        enabled: input.enabled,
        value,
        customer_id: input.customer_id,
        created_date: at,
        last_updated_date: at,
        stage_keys: input.stage_keys.iter().map(|key| format!("{}/{}", key.rest_api_id, key.stage_name)).collect(),
        tags: input.tags,
    };
    store.keys.put(&key.id, &key, 0).await?;
    store.invalidate_usage();
    created(key.to_json(true))
}

async fn usage_plan(store: &RestStore, plan_id: &str) -> Result<super::store::Versioned<UsagePlan>> {
    store.plans.get(plan_id).await?.ok_or_else(|| not_found("Usage Plan"))
}

fn usage_plan_key(key: &ApiKey) -> Value {
    json!({ "id": key.id, "type": "API_KEY", "value": key.value, "name": key.name })
}

fn check_throttle(throttle: &ThrottleSettings) -> Result<()> {
    if throttle.rate_limit.is_some_and(|rate| rate < 0.0 || !rate.is_finite()) {
        return Err(bad("Rate limit must be a non-negative number"));
    }
    Ok(())
}

fn check_quota(quota: &QuotaSettings) -> Result<()> {
    if !matches!(quota.period.as_str(), "DAY" | "WEEK" | "MONTH") {
        return Err(bad(format!("Invalid quota period specified: {}", quota.period)));
    }
    Ok(())
}

async fn create_usage_plan(call: &Call<'_>) -> Result<HttpResponse> {
    #[derive(Deserialize, Default)]
    #[serde(rename_all = "camelCase", default)]
    struct Input {
        name: Option<String>,
        description: Option<String>,
        api_stages: Vec<ApiStage>,
        throttle: Option<ThrottleSettings>,
        quota: Option<QuotaSettings>,
        tags: BTreeMap<String, String>,
    }
    let input: Input = call.input()?;
    let name = input.name.filter(|name| !name.trim().is_empty()).ok_or_else(|| bad("Usage Plan name is required"))?;
    if let Some(throttle) = &input.throttle {
        check_throttle(throttle)?;
    }
    if let Some(quota) = &input.quota {
        check_quota(quota)?;
    }
    for stage in &input.api_stages {
        check_api_stage(call.store(), stage).await?;
    }
    let plan = UsagePlan {
        id: new_id(6),
        name,
        description: input.description.unwrap_or_default(),
        api_stages: input.api_stages,
        throttle: input.throttle,
        quota: input.quota,
        product_code: None,
        tags: input.tags,
        key_ids: Vec::new(),
    };
    call.store().plans.put(&plan.id, &plan, 0).await?;
    call.store().invalidate_usage();
    created(plan.to_json())
}

async fn check_api_stage(store: &RestStore, stage: &ApiStage) -> Result<()> {
    let api = store.apis.get(&stage.api_id).await?.ok_or_else(|| not_found("API"))?.value;
    if api.stage(&stage.stage).is_none() {
        return Err(bad(format!("Invalid stage identifier specified: {}", stage.stage)));
    }
    Ok(())
}

/// UpdateUsagePlan's paths: `/name`, `/description`, `/throttle/*`,
/// `/quota/*`, `/apiStages` (add or remove `apiId:stage`).
fn update_usage_plan(plan: &mut UsagePlan, operation: &patch::PatchOperation) -> Result<()> {
    let value = operation.value.clone().unwrap_or_default();
    let number = |text: &str| text.parse::<f64>().map_err(|_| bad(format!("Invalid number specified: {text}")));
    match (operation.op.as_str(), operation.path.as_str()) {
        ("replace", "/name") => plan.name = value,
        ("replace", "/description") => plan.description = value,
        ("replace", "/throttle/rateLimit") => plan.throttle.get_or_insert_default().rate_limit = Some(number(&value)?),
        ("replace", "/throttle/burstLimit") => {
            plan.throttle.get_or_insert_default().burst_limit = Some(number(&value)? as u32)
        }
        ("remove", "/throttle") => plan.throttle = None,
        ("replace", "/quota/limit") => plan.quota.get_or_insert_with(default_quota).limit = number(&value)? as u64,
        ("replace", "/quota/offset") => plan.quota.get_or_insert_with(default_quota).offset = number(&value)? as u64,
        ("replace", "/quota/period") => {
            let quota = plan.quota.get_or_insert_with(default_quota);
            quota.period = value;
            check_quota(quota)?;
        }
        ("remove", "/quota") => plan.quota = None,
        ("add", "/apiStages") => {
            let (api_id, stage) = value.split_once(':').ok_or_else(|| bad("Invalid API stage specified"))?;
            plan.api_stages.push(ApiStage { api_id: api_id.into(), stage: stage.into(), throttle: BTreeMap::new() });
        }
        ("remove", "/apiStages") => {
            plan.api_stages.retain(|stage| format!("{}:{}", stage.api_id, stage.stage) != value);
        }
        _ => {
            return Err(bad(format!("Invalid patch path '{}' specified for op '{}'", operation.path, operation.op)));
        }
    }
    Ok(())
}

fn default_quota() -> QuotaSettings {
    QuotaSettings { limit: 0, offset: 0, period: "DAY".into() }
}

enum TagChange {
    Add(BTreeMap<String, String>),
    Remove(Vec<String>),
}

/// Reads or changes the tags of the resource an ARN names
/// (`arn:aws:apigateway:{region}::/restapis/{id}[/stages/{name}]`,
/// `/apikeys/{id}`, `/usageplans/{id}`).
async fn tags(call: &Call<'_>, arn: &str, change: Option<TagChange>) -> Result<BTreeMap<String, String>> {
    let invalid = || bad(format!("Invalid ARN specified in the request: {arn}"));
    let resource_path = arn.split_once("::").map(|(_, path)| path).ok_or_else(invalid)?;
    let parts: Vec<&str> = resource_path.split('/').filter(|p| !p.is_empty()).collect();
    let apply = |tags: &mut BTreeMap<String, String>, change: Option<&TagChange>| match change {
        Some(TagChange::Add(added)) => tags.extend(added.clone()),
        Some(TagChange::Remove(keys)) => tags.retain(|key, _| !keys.contains(key)),
        None => {}
    };
    let store = call.store();
    match parts.as_slice() {
        ["restapis", api_id] => {
            let api_id = (*api_id).to_owned();
            store
                .update_api(&api_id, |api| {
                    apply(&mut api.tags, change.as_ref());
                    Ok(api.tags.clone())
                })
                .await
        }
        ["restapis", api_id, "stages", stage_name] => {
            let (api_id, stage_name) = ((*api_id).to_owned(), (*stage_name).to_owned());
            store
                .update_api(&api_id, |api| {
                    let stage = api
                        .stages
                        .iter_mut()
                        .find(|stage| stage.stage_name == stage_name)
                        .ok_or_else(|| not_found("Stage"))?;
                    apply(&mut stage.tags, change.as_ref());
                    Ok(stage.tags.clone())
                })
                .await
        }
        ["apikeys", key_id] => {
            let versioned = store.keys.get(key_id).await?.ok_or_else(|| not_found("API Key"))?;
            let mut key = versioned.value;
            if change.is_some() {
                apply(&mut key.tags, change.as_ref());
                store.keys.put(key_id, &key, versioned.version).await?;
            }
            Ok(key.tags)
        }
        ["usageplans", plan_id] => {
            let versioned = usage_plan(store, plan_id).await?;
            let mut plan = versioned.value;
            if change.is_some() {
                apply(&mut plan.tags, change.as_ref());
                store.plans.put(plan_id, &plan, versioned.version).await?;
            }
            Ok(plan.tags)
        }
        _ => Err(invalid()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api_with_tree() -> (RestApi, String) {
        let mut api = RestApi::new("t".into());
        let root = api.root_resource_id.clone();
        let items = add_resource(&mut api, &root, "items").unwrap();
        (api, items.id)
    }

    #[test]
    fn resources_follow_the_sibling_rules() {
        let (mut api, items) = api_with_tree();
        let root = api.root_resource_id.clone();
        assert!(matches!(add_resource(&mut api, &root, "items"), Err(GatewayError::Conflict(_))));
        let id = add_resource(&mut api, &items, "{id}").unwrap();
        assert_eq!(id.path, "/items/{id}");
        assert!(matches!(add_resource(&mut api, &items, "{other}"), Err(GatewayError::BadRequest(_))));
        assert!(matches!(add_resource(&mut api, &root, "a b"), Err(GatewayError::BadRequest(_))));
        let greedy = add_resource(&mut api, &root, "{proxy+}").unwrap();
        assert!(add_resource(&mut api, &greedy.id, "x").is_err());
    }

    #[test]
    fn deleting_a_resource_deletes_its_subtree() {
        let (mut api, items) = api_with_tree();
        add_resource(&mut api, &items, "{id}").unwrap();
        delete_resource(&mut api, &items).unwrap();
        assert_eq!(api.resources.len(), 1);
        let root = api.root_resource_id.clone();
        assert!(delete_resource(&mut api, &root).is_err());
    }

    #[test]
    fn methods_need_their_authorizer() {
        let (mut api, items) = api_with_tree();
        let input = |kind: &str, authorizer: Option<&str>| PutMethodInput {
            authorization_type: Some(kind.into()),
            authorizer_id: authorizer.map(str::to_owned),
            ..Default::default()
        };
        assert!(put_method(&mut api, &items, "GET", input("CUSTOM", Some("nope"))).is_err());
        assert!(put_method(&mut api, &items, "FETCH", input("NONE", None)).is_err());
        assert!(put_method(&mut api, &items, "GET", input("SOMETIMES", None)).is_err());
        put_method(&mut api, &items, "GET", input("NONE", None)).unwrap();
        assert!(matches!(put_method(&mut api, &items, "GET", input("NONE", None)), Err(GatewayError::Conflict(_))));
    }

    #[test]
    fn integrations_are_validated() {
        let input = |kind: &str, uri: Option<&str>| PutIntegrationInput {
            kind: Some(kind.into()),
            http_method: Some("POST".into()),
            uri: uri.map(str::to_owned),
            ..Default::default()
        };
        assert!(integration_from(input("MOCK", None)).is_ok());
        assert!(integration_from(input("HTTP_PROXY", Some("ftp://x"))).is_err());
        assert!(integration_from(input("AWS_PROXY", Some("arn:aws:s3:::bucket"))).is_err());
        assert!(integration_from(input("AWS", Some("arn:aws:apigateway:us-east-1:lambda:path/x"))).is_err());
        let lambda = integration_from(input("AWS_PROXY", Some("arn:aws:apigateway:us-east-1:lambda:path/x"))).unwrap();
        assert_eq!((lambda.timeout_in_millis, lambda.passthrough_behavior.as_str()), (29_000, "WHEN_NO_MATCH"));
    }

    #[test]
    fn a_deployment_needs_a_method() {
        let (mut api, items) = api_with_tree();
        assert!(deploy(&mut api, String::new()).is_err());
        put_method(
            &mut api,
            &items,
            "GET",
            PutMethodInput { authorization_type: Some("NONE".into()), ..Default::default() },
        )
        .unwrap();
        let deployment = deploy(&mut api, "first".into()).unwrap();
        assert_eq!(deployment.resources.len(), 2);
    }

    #[test]
    fn usage_plans_patch_their_limits() {
        let mut plan = UsagePlan::default();
        let op = |op: &str, path: &str, value: &str| patch::PatchOperation {
            op: op.into(),
            path: path.into(),
            value: Some(value.into()),
        };
        update_usage_plan(&mut plan, &op("replace", "/throttle/rateLimit", "5")).unwrap();
        update_usage_plan(&mut plan, &op("replace", "/quota/limit", "100")).unwrap();
        assert_eq!(plan.throttle.as_ref().and_then(|t| t.rate_limit), Some(5.0));
        assert_eq!(plan.quota.as_ref().map(|q| q.limit), Some(100));
        assert!(update_usage_plan(&mut plan, &op("replace", "/quota/period", "YEAR")).is_err());
        assert!(update_usage_plan(&mut plan, &op("replace", "/nothing", "1")).is_err());
    }
}
