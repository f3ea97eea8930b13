//! OpenAPI for HTTP APIs (v2): ImportApi (`PUT /v2/apis`) and ReimportApi
//! (`PUT /v2/apis/{apiId}`) turn a document's operations into routes with
//! their `x-amazon-apigateway-integration`s, its security schemes'
//! `x-amazon-apigateway-authorizer`s into authorizers; ExportApi
//! (`GET /v2/apis/{apiId}/exports/OAS30`) writes the API back as OpenAPI
//! 3.0 in JSON or YAML. Stages are not part of a document: an import makes
//! none, a reimport keeps the API's. `x-amazon-apigateway-cors` is the
//! API's CORS configuration; an integration's `requestParameters` and
//! `responseParameters` are its parameter mappings. Operations whose
//! integrations are identical in every member share one integration, as
//! API Gateway makes them; any difference makes two.

use std::collections::BTreeMap;

use actix_web::HttpResponse;
use serde::Deserialize;
use serde_json::{Value, json};

use super::document::{BasePath, Document, IntegrationExtension, SecurityScheme};
use crate::{
    error::{GatewayError, Result},
    model::{Api, Integration, Route, new_id, timestamp},
    rest::{api::Operation, operations::Call},
    routing::RouteKey,
};

/// ImportApi's and ReimportApi's JSON body: the document as a string.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct ImportInput {
    body: Option<String>,
}

pub async fn run(call: Call<'_>, operation: Operation) -> Result<HttpResponse> {
    let management = call.management;
    match operation {
        Operation::ImportApi => {
            let document = document_of(&call)?;
            let name = document.info.title.clone().filter(|t| !t.trim().is_empty()).ok_or_else(|| {
                GatewayError::BadRequest("Errors found during import:\n\tThe API name (info.title) is required".into())
            })?;
            let mut api: Api = serde_json::from_value(json!({
                "api_id": new_id(),
                "name": name,
                "protocol_type": "HTTP",
                "description": document.info.description.clone().unwrap_or_default(),
                "version": document.info.version.clone().unwrap_or_default(),
                "route_selection_expression": "${request.method} ${request.path}",
                "api_key_selection_expression": "$request.header.x-api-key",
                "disable_execute_api_endpoint": false,
                "created_date": timestamp(),
                "tags": {},
                "routes": [],
                "integrations": [],
                "stages": [],
            }))
            .map_err(|error| GatewayError::Service(error.to_string()))?;
            apply(&mut api, &document, base_path_of(&call)?)?;
            management.apis.put(&api, 0).await?;
            tracing::info!(api = %api.api_id, "http api imported");
            Ok(HttpResponse::Created().json(api.to_json(&management.endpoints.api(&api.api_id))))
        }
        Operation::ReimportApi(id) => {
            let document = document_of(&call)?;
            let mut versioned = management.apis.get(&id).await?;
            if versioned.api.protocol_type != "HTTP" {
                return Err(GatewayError::BadRequest("ReimportApi is supported only for HTTP APIs".into()));
            }
            apply(&mut versioned.api, &document, base_path_of(&call)?)?;
            if let Some(title) = document.info.title.clone().filter(|t| !t.trim().is_empty()) {
                versioned.api.name = title;
            }
            management.apis.put(&versioned.api, versioned.version).await?;
            Ok(HttpResponse::Created().json(versioned.api.to_json(&management.endpoints.api(&id))))
        }
        Operation::ExportApi(id, specification) => {
            if specification != "OAS30" {
                return Err(GatewayError::BadRequest(format!(
                    "Invalid specification {specification}: only OAS30 is supported"
                )));
            }
            let api = management.apis.get(&id).await?.api;
            let include_extensions = call.query("includeExtensions").as_deref() != Some("false");
            let document = export(&api, include_extensions);
            match call.query("outputType").as_deref().unwrap_or("JSON") {
                "JSON" => Ok(HttpResponse::Ok().content_type("application/json").body(document.to_string())),
                "YAML" => {
                    let yaml =
                        serde_yaml::to_string(&document).map_err(|error| GatewayError::Service(error.to_string()))?;
                    Ok(HttpResponse::Ok().content_type("application/yaml").body(yaml))
                }
                other => Err(GatewayError::BadRequest(format!("Invalid outputType {other}: expected JSON or YAML"))),
            }
        }
        _ => Err(GatewayError::Service("misrouted OpenAPI call".into())),
    }
}

fn document_of(call: &Call<'_>) -> Result<Document> {
    let input: ImportInput = call.input()?;
    let body = input.body.ok_or_else(|| GatewayError::BadRequest("Invalid input: body is required".into()))?;
    let document = Document::parse(body.as_bytes())?;
    // Every operation is read before anything else is checked, so a
    // misplaced member is reported with its location first.
    document.operations()?;
    Ok(document)
}

fn base_path_of(call: &Call<'_>) -> Result<BasePath> {
    BasePath::parse(call.query("basepath").as_deref())
}

fn import_error(context: &str, error: impl std::fmt::Display) -> GatewayError {
    GatewayError::BadRequest(format!("Errors found during import:\n\t{context}: {error}"))
}

/// The route key of a document path and method (`/$default` is `$default`).
fn route_key(path: &str, method: &str) -> String {
    if path == "/$default" || path == "$default" { "$default".into() } else { format!("{method} {path}") }
}

/// Replaces the API's routes, integrations, authorizers and CORS
/// configuration by the document's, its paths placed under `base_path`.
pub fn apply(api: &mut Api, document: &Document, base_path: BasePath) -> Result<()> {
    let schemes = document.security_schemes();
    let mut authorizers = Vec::new();
    let mut authorizer_ids = BTreeMap::new();
    for (name, scheme) in &schemes {
        let Some(authorizer) = authorizer_from(name, scheme)? else { continue };
        authorizer_ids.insert(name.clone(), (authorizer.authorizer_id.clone(), authorizer.authorizer_type.clone()));
        authorizers.push(authorizer);
    }
    let mut routes = Vec::new();
    let mut integrations: Vec<Integration> = Vec::new();
    for (path, method, operation) in document.operations()? {
        let path = if path == "/$default" { path } else { document.placed(&path, base_path) };
        let key = route_key(&path, method);
        let context = format!("Unable to create route {key}");
        RouteKey::parse(&key).map_err(|error| import_error(&context, error))?;
        let target = match &operation.integration {
            Some(extension) => {
                let integration = integration_from(extension).map_err(|error| import_error(&context, error))?;
                // Operations whose integrations are the same in every
                // member share one record.
                let existing = integrations.iter().find(|known| same_integration(known, &integration));
                let id = match existing {
                    Some(known) => known.integration_id.clone(),
                    None => {
                        let id = integration.integration_id.clone();
                        integrations.push(integration);
                        id
                    }
                };
                format!("integrations/{id}")
            }
            None => String::new(),
        };
        let mut authorization_type = "NONE".to_owned();
        let mut authorizer_id = String::new();
        let mut scopes = Vec::new();
        for requirement in &operation.security {
            for (name, requested) in requirement {
                let (id, kind) = authorizer_ids
                    .get(name)
                    .ok_or_else(|| import_error(&context, format!("security scheme {name} has no authorizer")))?;
                authorization_type = if kind == "JWT" { "JWT".into() } else { "CUSTOM".into() };
                authorizer_id = id.clone();
                scopes = requested.clone();
            }
        }
        let route: Route = serde_json::from_value(json!({
            "route_id": new_id()[..7].to_owned(),
            "route_key": key,
            "target": target,
            "authorization_type": authorization_type,
            "authorizer_id": authorizer_id,
            "authorization_scopes": scopes,
        }))
        .map_err(|error| GatewayError::Service(error.to_string()))?;
        if routes.iter().any(|known: &Route| known.route_key == route.route_key) {
            return Err(import_error(&context, "a route with the same key already exists"));
        }
        routes.push(route);
    }
    let cors = match &document.cors {
        Some(cors) if cors.allow_origins.is_empty() && cors.allow_credentials == Some(true) => {
            return Err(import_error("Unable to apply CORS", "allowCredentials needs allowOrigins"));
        }
        Some(cors) => Some(cors_configuration(cors).map_err(|error| import_error("Unable to apply CORS", error))?),
        None => None,
    };
    api.cors_configuration = cors;
    api.routes = routes;
    api.integrations = integrations;
    api.authorizers = authorizers;
    if let Some(description) = &document.info.description {
        api.description = description.clone();
    }
    if let Some(version) = &document.info.version {
        api.version = version.clone();
    }
    Ok(())
}

/// Whether two integrations are one: equal in every member but their ids.
fn same_integration(known: &Integration, new: &Integration) -> bool {
    Integration { integration_id: String::new(), ..known.clone() }
        == Integration { integration_id: String::new(), ..new.clone() }
}

/// `x-amazon-apigateway-cors` as the API's CorsConfiguration, checked as
/// CreateApi checks one.
fn cors_configuration(cors: &super::document::Cors) -> Result<crate::model::Cors> {
    let listed = |values: &Vec<String>| (!values.is_empty()).then(|| values.clone());
    crate::cors::checked(crate::model::Cors {
        allow_credentials: cors.allow_credentials,
        allow_headers: listed(&cors.allow_headers),
        allow_methods: listed(&cors.allow_methods),
        allow_origins: listed(&cors.allow_origins),
        expose_headers: listed(&cors.expose_headers),
        max_age: cors.max_age,
    })
}

fn integration_from(extension: &IntegrationExtension) -> Result<Integration> {
    let kind = extension.kind.to_ascii_uppercase();
    if kind != "AWS_PROXY" && kind != "HTTP_PROXY" {
        return Err(GatewayError::BadRequest(format!(
            "Unsupported integration type {kind}: HTTP APIs take AWS_PROXY and HTTP_PROXY integrations"
        )));
    }
    let uri = extension
        .uri
        .clone()
        .filter(|uri| !uri.is_empty())
        .ok_or_else(|| GatewayError::BadRequest("Integration uri is required".into()))?;
    let payload_format_version = extension
        .payload_format_version
        .clone()
        .unwrap_or_else(|| if kind == "AWS_PROXY" { "2.0".into() } else { "1.0".into() });
    if payload_format_version != "1.0" && payload_format_version != "2.0" {
        return Err(GatewayError::BadRequest(format!("Invalid payload format version {payload_format_version}")));
    }
    let timeout_in_millis = extension.timeout_in_millis.unwrap_or(30_000);
    if !(50..=30_000).contains(&timeout_in_millis) {
        return Err(GatewayError::BadRequest("Timeout must be between 50 and 30000 milliseconds".into()));
    }
    // Parameter mappings, through CreateIntegration's own checks.
    for (key, value) in &extension.request_parameters {
        crate::parameter_mapping::check_request(key, value)?;
    }
    for (status, parameters) in &extension.response_parameters {
        if status.len() != 3 || !status.bytes().all(|b| b.is_ascii_digit()) {
            return Err(GatewayError::BadRequest(format!("Invalid status code {status} in responseParameters")));
        }
        for (key, value) in parameters {
            crate::parameter_mapping::check_response(key, value)?;
        }
    }
    serde_json::from_value(json!({
        "integration_id": new_id()[..7].to_owned(),
        "integration_type": kind,
        "integration_uri": uri,
        "integration_method": extension.http_method.clone().unwrap_or_else(|| "POST".into()).to_ascii_uppercase(),
        "payload_format_version": payload_format_version,
        "timeout_in_millis": timeout_in_millis,
        "request_parameters": extension.request_parameters,
        "response_parameters": extension.response_parameters,
    }))
    .map_err(|error| GatewayError::Service(error.to_string()))
}

/// A security scheme's authorizer: `jwt` (with `jwtConfiguration`) or a
/// Lambda `request` authorizer, through CreateAuthorizer's own rules.
fn authorizer_from(name: &str, scheme: &SecurityScheme) -> Result<Option<crate::authorizers::Authorizer>> {
    let Some(extension) = &scheme.authorizer else { return Ok(None) };
    let kind = match extension.kind.to_ascii_lowercase().as_str() {
        "jwt" => "JWT",
        "request" => "REQUEST",
        other => {
            return Err(import_error(
                &format!("Unable to create authorizer {name}"),
                format!("unsupported authorizer type {other}: HTTP APIs take jwt and request authorizers"),
            ));
        }
    };
    let identity_source = match &extension.identity_source {
        Some(Value::String(source)) => vec![source.clone()],
        Some(Value::Array(sources)) => sources.iter().filter_map(|s| s.as_str().map(str::to_owned)).collect(),
        _ if kind == "JWT" => vec!["$request.header.Authorization".to_owned()],
        _ => Vec::new(),
    };
    let input = json!({
        "name": name,
        "authorizerType": kind,
        "identitySource": identity_source,
        "jwtConfiguration": extension.jwt_configuration,
        "authorizerUri": extension.authorizer_uri,
        "authorizerPayloadFormatVersion": extension.authorizer_payload_format_version,
        "authorizerResultTtlInSeconds": extension.authorizer_result_ttl_in_seconds,
        "enableSimpleResponses": extension.enable_simple_responses,
        "authorizerCredentialsArn": extension.authorizer_credentials,
        "identityValidationExpression": extension.identity_validation_expression,
    });
    let input = serde_json::from_value(strip_nulls(input))
        .map_err(|error| import_error(&format!("Unable to create authorizer {name}"), error))?;
    crate::authorizers::Authorizer::create(new_id()[..6].to_owned(), input)
        .map(Some)
        .map_err(|error| import_error(&format!("Unable to create authorizer {name}"), error))
}

fn strip_nulls(mut value: Value) -> Value {
    if let Some(object) = value.as_object_mut() {
        object.retain(|_, member| !member.is_null());
    }
    value
}

/// The API as an OpenAPI 3.0 document.
pub fn export(api: &Api, include_extensions: bool) -> Value {
    let mut paths = serde_json::Map::new();
    for route in &api.routes {
        let (method, path) = match route.route_key.split_once(' ') {
            Some((method, path)) => (method.to_ascii_lowercase(), path.to_owned()),
            None => ("any".to_owned(), "/$default".to_owned()),
        };
        let member = if method == "any" { "x-amazon-apigateway-any-method".to_owned() } else { method };
        let mut operation = json!({ "responses": { "default": { "description": "Default response" } } });
        let parameters: Vec<Value> = path
            .split('/')
            .filter_map(|part| part.strip_prefix('{').and_then(|p| p.strip_suffix('}')))
            .map(|name| {
                json!({ "name": name.trim_end_matches('+'), "in": "path", "required": true, "schema": { "type": "string" } })
            })
            .collect();
        if !parameters.is_empty() {
            operation["parameters"] = json!(parameters);
        }
        if include_extensions
            && let Some(integration) = route.target.strip_prefix("integrations/").and_then(|id| api.integration(id))
        {
            let mut extension = json!({
                "type": integration.integration_type.to_ascii_lowercase(),
                "httpMethod": integration.integration_method,
                "uri": integration.integration_uri,
                "payloadFormatVersion": integration.payload_format_version,
                "timeoutInMillis": integration.timeout_in_millis,
                "connectionType": "INTERNET",
            });
            if !integration.request_parameters.is_empty() {
                extension["requestParameters"] = json!(integration.request_parameters);
            }
            if !integration.response_parameters.is_empty() {
                extension["responseParameters"] = json!(integration.response_parameters);
            }
            operation["x-amazon-apigateway-integration"] = extension;
        }
        if !route.authorizer_id.is_empty()
            && let Some(authorizer) = api.authorizers.iter().find(|a| a.authorizer_id == route.authorizer_id)
        {
            operation["security"] = json!([{ authorizer.name.clone(): route.authorization_scopes }]);
        }
        let item = paths.entry(path).or_insert_with(|| json!({}));
        item[member] = operation;
    }
    let mut document = json!({
        "openapi": "3.0.1",
        "info": { "title": api.name, "version": if api.version.is_empty() { api.created_date.clone() } else { api.version.clone() } },
        "paths": paths,
    });
    if !api.description.is_empty() {
        document["info"]["description"] = json!(api.description);
    }
    if include_extensions {
        document["x-amazon-apigateway-importexport-version"] = json!("1.0");
        if let Some(cors) = &api.cors_configuration {
            document["x-amazon-apigateway-cors"] = json!(cors);
        }
        let mut schemes = serde_json::Map::new();
        for authorizer in &api.authorizers {
            let mut extension = json!({
                "type": authorizer.authorizer_type.to_ascii_lowercase(),
                "identitySource": authorizer.identity_source.join(","),
            });
            if let Some(jwt) = &authorizer.jwt_configuration {
                extension["jwtConfiguration"] = json!({ "issuer": jwt.issuer, "audience": jwt.audience });
            }
            if !authorizer.authorizer_uri.is_empty() {
                extension["authorizerUri"] = json!(authorizer.authorizer_uri);
                extension["authorizerPayloadFormatVersion"] = json!(authorizer.authorizer_payload_format_version);
            }
            schemes.insert(
                authorizer.name.clone(),
                json!({ "type": "oauth2", "x-amazon-apigateway-authorizer": extension }),
            );
        }
        if !schemes.is_empty() {
            document["components"] = json!({ "securitySchemes": schemes });
        }
    }
    document
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOCUMENT: &str = r#"
openapi: 3.0.1
info: { title: imported, version: "2" }
components:
  securitySchemes:
    jwt:
      type: oauth2
      x-amazon-apigateway-authorizer:
        type: jwt
        identitySource: $request.header.Authorization
        jwtConfiguration: { issuer: "https://issuer.example", audience: [app] }
paths:
  /items/{id}:
    get:
      security: [{ jwt: [read] }]
      x-amazon-apigateway-integration:
        type: aws_proxy
        httpMethod: POST
        uri: arn:aws:lambda:us-east-1:000000000000:function:items
        payloadFormatVersion: "2.0"
  /$default:
    x-amazon-apigateway-any-method:
      x-amazon-apigateway-integration:
        type: aws_proxy
        uri: arn:aws:lambda:us-east-1:000000000000:function:items
        payloadFormatVersion: "2.0"
"#;

    fn empty_api() -> Api {
        serde_json::from_value(json!({
            "api_id": "abc", "name": "n", "protocol_type": "HTTP", "description": "", "version": "",
            "route_selection_expression": "", "api_key_selection_expression": "",
            "disable_execute_api_endpoint": false, "created_date": "", "tags": {},
            "routes": [], "integrations": [], "stages": [],
        }))
        .unwrap()
    }

    #[test]
    fn documents_become_routes_integrations_and_authorizers() {
        let mut api = empty_api();
        apply(&mut api, &Document::parse(DOCUMENT.as_bytes()).unwrap(), BasePath::Ignore).unwrap();
        let keys: Vec<&str> = api.routes.iter().map(|r| r.route_key.as_str()).collect();
        assert_eq!(keys, ["$default", "GET /items/{id}"]);
        assert_eq!(api.integrations.len(), 1, "one integration shared");
        let get = &api.routes[1];
        assert_eq!(
            (get.authorization_type.as_str(), get.authorization_scopes.as_slice()),
            ("JWT", &["read".to_owned()][..])
        );
        assert_eq!(api.authorizers[0].authorizer_type, "JWT");

        let exported = export(&api, true);
        assert_eq!(exported["paths"]["/items/{id}"]["get"]["x-amazon-apigateway-integration"]["type"], "aws_proxy");
        assert_eq!(
            exported["paths"]["/$default"]["x-amazon-apigateway-any-method"]["responses"]["default"]["description"],
            "Default response"
        );
        // What is exported imports again to the same routes.
        let mut again = empty_api();
        let text = exported.to_string();
        apply(&mut again, &Document::parse(text.as_bytes()).unwrap(), BasePath::Ignore).unwrap();
        let again_keys: Vec<&str> = again.routes.iter().map(|r| r.route_key.as_str()).collect();
        assert_eq!(again_keys, keys);
    }

    const MAPPED: &str = r#"
openapi: 3.0.1
info: { title: mapped, version: "1" }
servers:
  - url: https://api.example/{basePath}
    variables: { basePath: { default: /v1 } }
x-amazon-apigateway-cors:
  allowOrigins: ["https://app.example"]
  allowMethods: [GET, POST]
  maxAge: 300
paths:
  /a:
    get:
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: GET
        uri: http://backend.example/a
        payloadFormatVersion: "1.0"
        requestParameters: { "append:header.x-from": "$context.requestId" }
        responseParameters: { "200": { "overwrite:header.x-seen": "yes" } }
  /b:
    get:
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: GET
        uri: http://backend.example/a
        payloadFormatVersion: "1.0"
  /c:
    get:
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: GET
        uri: http://backend.example/a
        payloadFormatVersion: "1.0"
"#;

    #[test]
    fn cors_parameters_and_base_paths_are_kept_and_exported() {
        let mut api = empty_api();
        apply(&mut api, &Document::parse(MAPPED.as_bytes()).unwrap(), BasePath::Prepend).unwrap();
        let keys: Vec<&str> = api.routes.iter().map(|r| r.route_key.as_str()).collect();
        assert_eq!(keys, ["GET /v1/a", "GET /v1/b", "GET /v1/c"]);
        let cors = api.cors_configuration.as_ref().unwrap();
        assert_eq!(cors.allow_origins.as_deref(), Some(&["https://app.example".to_owned()][..]));
        assert_eq!(cors.max_age, Some(300));
        // `/a` maps parameters and `/b` does not: two integrations; `/b`
        // and `/c` are the same in every member: one.
        assert_eq!(api.integrations.len(), 2);
        assert_eq!(api.routes[1].target, api.routes[2].target);
        assert_ne!(api.routes[0].target, api.routes[1].target);
        let mapped = api.integration(api.routes[0].target.trim_start_matches("integrations/")).unwrap();
        assert_eq!(mapped.request_parameters["append:header.x-from"], "$context.requestId");
        assert_eq!(mapped.response_parameters["200"]["overwrite:header.x-seen"], "yes");

        let exported = export(&api, true);
        assert_eq!(exported["x-amazon-apigateway-cors"]["allowMethods"], json!(["GET", "POST"]));
        let extension = &exported["paths"]["/v1/a"]["get"]["x-amazon-apigateway-integration"];
        assert_eq!(extension["requestParameters"]["append:header.x-from"], "$context.requestId");
        assert_eq!(extension["responseParameters"]["200"]["overwrite:header.x-seen"], "yes");
        // And back: the same configuration and mappings.
        let mut again = empty_api();
        apply(&mut again, &Document::parse(exported.to_string().as_bytes()).unwrap(), BasePath::Ignore).unwrap();
        assert_eq!(again.cors_configuration, api.cors_configuration);
        assert_eq!(again.integrations.len(), 2);
    }

    #[test]
    fn bad_mappings_and_cors_are_refused() {
        let bad_mapping = MAPPED.replace("append:header.x-from", "append:header.host");
        assert!(apply(&mut empty_api(), &Document::parse(bad_mapping.as_bytes()).unwrap(), BasePath::Ignore).is_err());
        let bad_cors = MAPPED.replace("maxAge: 300", "maxAge: 100000");
        let error = apply(&mut empty_api(), &Document::parse(bad_cors.as_bytes()).unwrap(), BasePath::Ignore)
            .unwrap_err()
            .to_string();
        assert!(error.contains("CORS"), "{error}");
    }

    #[test]
    fn bad_routes_and_integrations_are_refused_with_their_route() {
        let text = r#"{"openapi":"3.0.1","info":{"title":"t"},"paths":{"/a":{"get":{"x-amazon-apigateway-integration":{"type":"mock"}}}}}"#;
        let error = apply(&mut empty_api(), &Document::parse(text.as_bytes()).unwrap(), BasePath::Ignore)
            .unwrap_err()
            .to_string();
        assert!(error.contains("Unable to create route GET /a"), "{error}");
    }
}
