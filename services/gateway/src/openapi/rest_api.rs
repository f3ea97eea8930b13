//! OpenAPI for REST APIs (v1): ImportRestApi (`POST /restapis?mode=import`)
//! and PutRestApi (`PUT /restapis/{id}?mode=overwrite|merge`) build the
//! resource tree, methods, integrations, method and integration responses
//! and authorizers from a document, through the same rules as the
//! management calls ([`crate::rest::operations`]), so an import is
//! refused where the calls would be, with the path and method named.

use std::collections::BTreeMap;

use actix_web::HttpResponse;

use super::document::{BasePath, Document, Operation as DocumentOperation, SecurityScheme};
use crate::{
    error::{GatewayError, Result},
    rest::{
        api::Operation,
        model::{Authorizer, IntegrationResponse, MethodResponse, RestApi},
        operations::{self, Call, PutIntegrationInput, PutMethodInput},
    },
};

pub async fn run(call: Call<'_>, operation: Operation) -> Result<HttpResponse> {
    match operation {
        Operation::ImportRestApi => {
            let document = Document::parse(call.body)?;
            let name =
                document.info.title.clone().filter(|t| !t.trim().is_empty()).unwrap_or_else(|| "imported".into());
            let mut api = RestApi::new(name);
            apply(&mut api, &document, true, BasePath::parse(call.query("basepath").as_deref())?)?;
            call.store().put_api(&api, 0).await?;
            tracing::info!(api = %api.id, "rest api imported");
            Ok(HttpResponse::Created().json(api.to_json()))
        }
        Operation::PutRestApi(id) => {
            let document = Document::parse(call.body)?;
            let overwrite = match call.query("mode").as_deref() {
                Some("overwrite") => true,
                None | Some("merge") => false,
                Some(other) => {
                    return Err(GatewayError::BadRequest(format!("Invalid mode {other}: expected merge or overwrite")));
                }
            };
            let base_path = BasePath::parse(call.query("basepath").as_deref())?;
            let api = call
                .store()
                .update_api(&id, |api| {
                    apply(api, &document, overwrite, base_path)?;
                    Ok(api.clone())
                })
                .await?;
            Ok(HttpResponse::Ok().json(api.to_json()))
        }
        _ => Err(GatewayError::Service("misrouted OpenAPI call".into())),
    }
}

fn import_error(context: &str, error: GatewayError) -> GatewayError {
    GatewayError::BadRequest(format!("Errors found during import:\n\t{context}: {error}"))
}

/// Applies a document to an API, its paths placed under `base_path`: with
/// `overwrite`, the tree and authorizers are replaced; otherwise methods
/// are added or replaced.
pub fn apply(api: &mut RestApi, document: &Document, overwrite: bool, base_path: BasePath) -> Result<()> {
    let operations = document.operations()?;
    if overwrite {
        api.resources.retain(|resource| resource.parent_id.is_none());
        for root in &mut api.resources {
            root.methods.clear();
        }
        api.authorizers.clear();
        if let Some(title) = document.info.title.clone().filter(|title| !title.trim().is_empty()) {
            api.name = title;
        }
        api.description = document.info.description.clone().unwrap_or_default();
        api.version = document.info.version.clone().unwrap_or_default();
        api.binary_media_types = document.binary_media_types.clone();
    } else {
        for media_type in &document.binary_media_types {
            if !api.binary_media_types.contains(media_type) {
                api.binary_media_types.push(media_type.clone());
            }
        }
    }
    if let Some(source) = &document.api_key_source {
        api.api_key_source = source.to_ascii_uppercase();
    }
    let schemes = document.security_schemes();
    let mut authorizer_ids = BTreeMap::new();
    for (name, scheme) in &schemes {
        let Some(extension) = &scheme.authorizer else { continue };
        let identity_source = match &extension.identity_source {
            Some(serde_json::Value::String(source)) => Some(source.clone()),
            Some(serde_json::Value::Array(sources)) => {
                Some(sources.iter().filter_map(|s| s.as_str()).collect::<Vec<_>>().join(","))
            }
            _ if scheme.kind == "apiKey" => {
                scheme.name.as_ref().map(|header| format!("method.request.header.{header}"))
            }
            _ => None,
        };
        let authorizer = Authorizer {
            name: name.clone(),
            kind: extension.kind.to_ascii_uppercase(),
            provider_arns: extension.provider_arns.clone(),
            auth_type: scheme.auth_type.clone(),
            authorizer_uri: extension.authorizer_uri.clone(),
            authorizer_credentials: extension.authorizer_credentials.clone(),
            identity_source,
            identity_validation_expression: extension.identity_validation_expression.clone(),
            authorizer_result_ttl_in_seconds: extension.authorizer_result_ttl_in_seconds,
            ..Default::default()
        };
        let authorizer = operations::authorizer_from(authorizer)
            .map_err(|error| import_error(&format!("Unable to create authorizer '{name}'"), error))?;
        if let Some(existing) = api.authorizers.iter_mut().find(|existing| existing.name == *name) {
            let id = existing.id.clone();
            *existing = Authorizer { id: id.clone(), ..authorizer };
            authorizer_ids.insert(name.clone(), id);
        } else {
            authorizer_ids.insert(name.clone(), authorizer.id.clone());
            api.authorizers.push(authorizer);
        }
    }
    for (path, method, operation) in operations {
        let path = document.placed(&path, base_path);
        let context = format!("Unable to put method '{method}' on resource at path '{path}'");
        let resource_id = ensure_resource(api, &path).map_err(|error| import_error(&context, error))?;
        put_operation(api, &resource_id, method, operation, &schemes, &authorizer_ids)
            .map_err(|error| import_error(&context, error))?;
    }
    Ok(())
}

/// The id of the resource at `path`, made (with its parents) if missing.
fn ensure_resource(api: &mut RestApi, path: &str) -> Result<String> {
    let mut current = api.root_resource_id.clone();
    for part in path.split('/').filter(|part| !part.is_empty()) {
        let existing = api
            .resources
            .iter()
            .find(|resource| {
                resource.parent_id.as_deref() == Some(current.as_str()) && resource.path_part.as_deref() == Some(part)
            })
            .map(|resource| resource.id.clone());
        current = match existing {
            Some(id) => id,
            None => operations::add_resource(api, &current, part)?.id,
        };
    }
    Ok(current)
}

fn put_operation(
    api: &mut RestApi,
    resource_id: &str,
    method: &str,
    operation: DocumentOperation,
    schemes: &BTreeMap<String, SecurityScheme>,
    authorizer_ids: &BTreeMap<String, String>,
) -> Result<()> {
    let mut input = PutMethodInput {
        authorization_type: Some("NONE".into()),
        operation_name: operation.operation_id.clone(),
        ..Default::default()
    };
    for requirement in &operation.security {
        for (name, scopes) in requirement {
            let scheme = schemes
                .get(name)
                .ok_or_else(|| GatewayError::BadRequest(format!("Invalid security definition reference: {name}")))?;
            if let Some(id) = authorizer_ids.get(name) {
                let kind = scheme.authorizer.as_ref().map(|a| a.kind.to_ascii_uppercase()).unwrap_or_default();
                input.authorization_type =
                    Some(if kind == "COGNITO_USER_POOLS" { "COGNITO_USER_POOLS".into() } else { "CUSTOM".into() });
                input.authorizer_id = Some(id.clone());
                input.authorization_scopes = scopes.clone();
            } else if scheme.auth_type.as_deref() == Some("awsSigv4") {
                input.authorization_type = Some("AWS_IAM".into());
            } else if scheme.kind == "apiKey" {
                input.api_key_required = true;
            }
        }
    }
    if let Some(resource) = api.resource_mut(resource_id) {
        resource.methods.remove(method);
    }
    operations::put_method(api, resource_id, method, input)?;
    let method_responses: BTreeMap<String, MethodResponse> = operation
        .responses
        .keys()
        .filter(|status| status.len() == 3 && status.bytes().all(|b| b.is_ascii_digit()))
        .map(|status| (status.clone(), MethodResponse { status_code: status.clone(), ..Default::default() }))
        .collect();
    let integration = match operation.integration {
        Some(extension) => {
            let mut responses = BTreeMap::new();
            for (pattern, response) in extension.responses {
                let status = match &response.status_code {
                    Some(serde_json::Value::String(status)) => status.clone(),
                    Some(serde_json::Value::Number(status)) => status.to_string(),
                    _ => {
                        return Err(GatewayError::BadRequest(format!(
                            "Integration response '{pattern}' needs a statusCode"
                        )));
                    }
                };
                let response = IntegrationResponse {
                    status_code: status.clone(),
                    selection_pattern: (pattern != "default").then_some(pattern),
                    response_parameters: response.response_parameters,
                    response_templates: response.response_templates,
                    content_handling: response.content_handling,
                };
                responses.insert(status, response);
            }
            Some(operations::integration_from(PutIntegrationInput {
                kind: Some(extension.kind.to_ascii_uppercase()),
                http_method: extension.http_method.map(|m| m.to_ascii_uppercase()),
                uri: extension.uri,
                connection_type: extension.connection_type,
                credentials: extension.credentials,
                request_parameters: extension.request_parameters,
                request_templates: extension.request_templates,
                passthrough_behavior: extension.passthrough_behavior.map(|p| p.to_ascii_uppercase()),
                content_handling: extension.content_handling,
                timeout_in_millis: extension.timeout_in_millis,
                cache_namespace: extension.cache_namespace,
                cache_key_parameters: extension.cache_key_parameters,
                integration_responses: responses,
            })?)
        }
        None => None,
    };
    if let Some(stored) = api.resource_mut(resource_id).and_then(|resource| resource.methods.get_mut(method)) {
        // Every integration response needs its method response.
        let mut method_responses = method_responses;
        if let Some(integration) = &integration {
            for status in integration.integration_responses.keys() {
                method_responses
                    .entry(status.clone())
                    .or_insert_with(|| MethodResponse { status_code: status.clone(), ..Default::default() });
            }
        }
        stored.method_responses = method_responses;
        stored.integration = integration;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PETS: &str = r#"
swagger: "2.0"
info: { title: pets, version: "1" }
x-amazon-apigateway-binary-media-types: ["image/png"]
securityDefinitions:
  api_key: { type: apiKey, name: x-api-key, in: header }
  token:
    type: apiKey
    name: Authorization
    in: header
    x-amazon-apigateway-authtype: custom
    x-amazon-apigateway-authorizer:
      type: token
      authorizerUri: arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:000000000000:function:auth/invocations
paths:
  /pets/{id}:
    get:
      security: [{ token: [] }]
      responses: { "200": { description: ok } }
      x-amazon-apigateway-integration:
        type: aws_proxy
        httpMethod: POST
        uri: arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:000000000000:function:pets/invocations
  /health:
    get:
      security: [{ api_key: [] }]
      x-amazon-apigateway-integration:
        type: mock
        requestTemplates: { application/json: '{"statusCode": 200}' }
        responses:
          default: { statusCode: "200", responseTemplates: { application/json: '{"ok": true}' } }
          "5\\d{2}": { statusCode: 500 }
"#;

    #[test]
    fn swagger_builds_the_tree_methods_and_authorizers() {
        let document = Document::parse(PETS.as_bytes()).unwrap();
        let mut api = RestApi::new("x".into());
        apply(&mut api, &document, true, BasePath::Ignore).unwrap();
        assert_eq!(api.name, "pets");
        assert_eq!(api.binary_media_types, ["image/png"]);
        let paths: Vec<&str> = api.resources.iter().map(|r| r.path.as_str()).collect();
        assert!(paths.contains(&"/pets") && paths.contains(&"/pets/{id}") && paths.contains(&"/health"));
        let pet = api.resources.iter().find(|r| r.path == "/pets/{id}").unwrap();
        let get = &pet.methods["GET"];
        assert_eq!(get.authorization_type, "CUSTOM");
        assert_eq!(get.authorizer_id.as_deref(), Some(api.authorizers[0].id.as_str()));
        assert_eq!(get.integration.as_ref().unwrap().kind, "AWS_PROXY");
        let health = &api.resources.iter().find(|r| r.path == "/health").unwrap().methods["GET"];
        assert!(health.api_key_required);
        let mock = health.integration.as_ref().unwrap();
        assert_eq!(mock.integration_responses["500"].selection_pattern.as_deref(), Some("5\\d{2}"));
        assert!(health.method_responses.contains_key("500"));
        // Overwriting with the same document leaves the same tree.
        apply(&mut api, &document, true, BasePath::Ignore).unwrap();
        assert_eq!(api.resources.len(), 4);
    }

    #[test]
    fn merge_adds_and_overwrite_replaces_under_the_base_path() {
        let mut api = RestApi::new("x".into());
        apply(&mut api, &Document::parse(PETS.as_bytes()).unwrap(), true, BasePath::Ignore).unwrap();
        let extra = "swagger: '2.0'\nbasePath: /v2\npaths:\n  /extra:\n    post:\n      x-amazon-apigateway-integration: { type: mock, requestTemplates: { application/json: '{\"statusCode\": 200}' } }\n";
        let extra = Document::parse(extra.as_bytes()).unwrap();
        apply(&mut api, &extra, false, BasePath::Prepend).unwrap();
        let paths: Vec<&str> = api.resources.iter().map(|r| r.path.as_str()).collect();
        assert!(paths.contains(&"/v2/extra") && paths.contains(&"/pets/{id}"), "{paths:?}");
        assert_eq!(api.authorizers.len(), 1, "merge keeps the authorizers");
        apply(&mut api, &extra, true, BasePath::Ignore).unwrap();
        let paths: Vec<&str> = api.resources.iter().map(|r| r.path.as_str()).collect();
        assert_eq!(paths, ["/", "/extra"]);
        assert!(api.authorizers.is_empty());
    }

    #[test]
    fn refused_integrations_name_path_and_method() {
        let text = r#"{"openapi":"3.0.1","info":{"title":"t"},"paths":{"/x":{"post":{"x-amazon-apigateway-integration":{"type":"http_proxy","httpMethod":"POST","uri":"ftp://nowhere"}}}}}"#;
        let document = Document::parse(text.as_bytes()).unwrap();
        let error = apply(&mut RestApi::new("t".into()), &document, true, BasePath::Ignore).unwrap_err().to_string();
        assert!(error.starts_with("Errors found during import:"), "{error}");
        assert!(error.contains("'POST' on resource at path '/x'"), "{error}");
    }
}
