//! GetExport (`GET /restapis/{id}/stages/{stage}/exports/{oas30|swagger}`):
//! the stage's deployment as an OpenAPI 3.0 or Swagger 2.0 document, with
//! API Gateway's extensions when `extensions` asks for them
//! (`integrations`, `authorizers`, or `apigateway` for both) — the same
//! `x-amazon-apigateway-*` members the importer
//! ([`crate::openapi::rest_api`]) reads, so an export imports back into
//! the same API. JSON by default, YAML for `Accept: application/yaml`.

use std::collections::BTreeMap;

use actix_web::HttpResponse;
use serde_json::{Map, Value, json};

use super::{
    model::{Authorizer, Integration, Method, Resource, RestApi, Stage},
    operations::Call,
};
use crate::error::{GatewayError, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Specification {
    OpenApi3,
    Swagger2,
}

impl Specification {
    pub fn parse(export_type: &str) -> Result<Self> {
        match export_type {
            "oas30" => Ok(Specification::OpenApi3),
            "swagger" => Ok(Specification::Swagger2),
            other => Err(GatewayError::BadRequest(format!("Invalid export type specified: {other}"))),
        }
    }
}

/// Which extensions the `extensions` parameter asks for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Extensions {
    pub integrations: bool,
    pub authorizers: bool,
}

impl Extensions {
    pub fn parse(parameter: Option<&str>) -> Self {
        let mut extensions = Extensions::default();
        for name in parameter.unwrap_or_default().split(',').map(str::trim) {
            match name {
                "integrations" => extensions.integrations = true,
                "authorizers" => extensions.authorizers = true,
                "apigateway" | "postman" => {
                    extensions.integrations = true;
                    extensions.authorizers = true;
                }
                _ => {}
            }
        }
        extensions
    }
}

pub async fn run(call: Call<'_>, api_id: &str, stage_name: &str, export_type: &str) -> Result<HttpResponse> {
    let specification = Specification::parse(export_type)?;
    let api = call.store().api(api_id).await?.value;
    let stage =
        api.stage(stage_name).ok_or_else(|| GatewayError::NotFound("Invalid stage identifier specified".into()))?;
    let deployment = api
        .deployment(&stage.deployment_id)
        .ok_or_else(|| GatewayError::NotFound("Invalid deployment identifier specified".into()))?;
    let extensions = Extensions::parse(call.query("extensions").as_deref());
    let endpoint = call.management.endpoints.api(&api.id);
    let document = export(&api, stage, &deployment.resources, specification, extensions, &endpoint);
    let accept = call.request.headers().get("accept").and_then(|value| value.to_str().ok()).unwrap_or_default();
    let yaml = accept.contains("application/yaml");
    let name = match specification {
        Specification::OpenApi3 => "oas30",
        Specification::Swagger2 => "swagger",
    };
    let (content_type, extension, body) = if yaml {
        let text = serde_yaml::to_string(&document).map_err(|error| GatewayError::Service(error.to_string()))?;
        ("application/yaml", "yaml", text)
    } else {
        ("application/json", "json", serde_json::to_string_pretty(&document).unwrap_or_default())
    };
    let disposition =
        format!("attachment; filename=\"{name}_{}.{extension}\"", chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ"));
    Ok(HttpResponse::Ok().content_type(content_type).insert_header(("content-disposition", disposition)).body(body))
}

/// The security scheme names of the schemes API Gateway itself defines.
const SIGV4: &str = "sigv4";
const API_KEY: &str = "api_key";

fn schema(specification: Specification, parameter: Value) -> Value {
    let mut parameter = parameter;
    match specification {
        Specification::OpenApi3 => parameter["schema"] = json!({ "type": "string" }),
        Specification::Swagger2 => parameter["type"] = json!("string"),
    }
    parameter
}

/// The parameters of a method: its path's `{name}`s, then the query
/// strings and headers its request parameters name.
fn parameters(specification: Specification, path: &str, method: &Method) -> Vec<Value> {
    let mut parameters: Vec<Value> = path
        .split('/')
        .filter_map(|part| part.strip_prefix('{').and_then(|part| part.strip_suffix('}')))
        .map(|name| {
            schema(specification, json!({ "name": name.trim_end_matches('+'), "in": "path", "required": true }))
        })
        .collect();
    for (expression, required) in &method.request_parameters {
        let place = [("method.request.querystring.", "query"), ("method.request.header.", "header")]
            .into_iter()
            .find_map(|(prefix, place)| expression.strip_prefix(prefix).map(|name| (name, place)));
        if let Some((name, place)) = place {
            parameters.push(schema(specification, json!({ "name": name, "in": place, "required": required })));
        }
    }
    parameters
}

fn integration_extension(integration: &Integration) -> Value {
    let mut responses = Map::new();
    for response in integration.integration_responses.values() {
        let key = response.selection_pattern.clone().unwrap_or_else(|| "default".into());
        let mut member = json!({ "statusCode": response.status_code });
        if !response.response_parameters.is_empty() {
            member["responseParameters"] = json!(response.response_parameters);
        }
        if !response.response_templates.is_empty() {
            member["responseTemplates"] = json!(response.response_templates);
        }
        if let Some(handling) = &response.content_handling {
            member["contentHandling"] = json!(handling);
        }
        responses.insert(key, member);
    }
    let mut extension = json!({
        "type": integration.kind.to_ascii_lowercase(),
        "passthroughBehavior": integration.passthrough_behavior.to_ascii_lowercase(),
        "timeoutInMillis": integration.timeout_in_millis,
    });
    let optional = [
        ("httpMethod", integration.http_method.clone()),
        ("uri", integration.uri.clone()),
        ("credentials", integration.credentials.clone()),
        ("contentHandling", integration.content_handling.clone()),
        ("connectionType", Some(integration.connection_type.clone()).filter(|c| !c.is_empty())),
        ("cacheNamespace", Some(integration.cache_namespace.clone()).filter(|c| !c.is_empty())),
    ];
    for (name, value) in optional {
        if let Some(value) = value {
            extension[name] = json!(value);
        }
    }
    if !integration.request_parameters.is_empty() {
        extension["requestParameters"] = json!(integration.request_parameters);
    }
    if !integration.request_templates.is_empty() {
        extension["requestTemplates"] = json!(integration.request_templates);
    }
    if !integration.cache_key_parameters.is_empty() {
        extension["cacheKeyParameters"] = json!(integration.cache_key_parameters);
    }
    if !responses.is_empty() {
        extension["responses"] = Value::Object(responses);
    }
    extension
}

fn operation(
    specification: Specification,
    api: &RestApi,
    resource: &Resource,
    method: &Method,
    extensions: Extensions,
    used_schemes: &mut BTreeMap<String, Value>,
) -> Value {
    let responses: Map<String, Value> = method
        .method_responses
        .keys()
        .map(|status| (status.clone(), json!({ "description": format!("{status} response") })))
        .collect();
    let mut operation = json!({ "responses": responses });
    if let Some(name) = &method.operation_name {
        operation["operationId"] = json!(name);
    }
    let parameters = parameters(specification, &resource.path, method);
    if !parameters.is_empty() {
        operation["parameters"] = json!(parameters);
    }
    let mut security = Vec::new();
    match method.authorization_type.as_str() {
        "AWS_IAM" => {
            used_schemes.insert(
                SIGV4.into(),
                json!({ "type": "apiKey", "name": "Authorization", "in": "header", "x-amazon-apigateway-authtype": "awsSigv4" }),
            );
            security.push(json!({ SIGV4: [] }));
        }
        "CUSTOM" | "COGNITO_USER_POOLS" => {
            if let Some(authorizer) = method.authorizer_id.as_deref().and_then(|id| api.authorizer(id)) {
                used_schemes.insert(authorizer.name.clone(), security_scheme(authorizer, extensions.authorizers));
                security.push(json!({ authorizer.name.clone(): method.authorization_scopes }));
            }
        }
        _ => {}
    }
    if method.api_key_required {
        used_schemes.insert(API_KEY.into(), json!({ "type": "apiKey", "name": "x-api-key", "in": "header" }));
        security.push(json!({ API_KEY: [] }));
    }
    if !security.is_empty() {
        operation["security"] = json!(security);
    }
    if extensions.integrations
        && let Some(integration) = &method.integration
    {
        operation["x-amazon-apigateway-integration"] = integration_extension(integration);
    }
    operation
}

/// An authorizer as a security scheme: an `apiKey` scheme on the header
/// its identity source names, with the authorizer extension when asked.
fn security_scheme(authorizer: &Authorizer, with_extension: bool) -> Value {
    let header = authorizer
        .identity_source
        .as_deref()
        .and_then(|source| source.split(',').find_map(|s| s.trim().strip_prefix("method.request.header.")))
        .unwrap_or("Authorization");
    let auth_type = if authorizer.kind == "COGNITO_USER_POOLS" { "cognito_user_pools" } else { "custom" };
    let mut scheme = json!({
        "type": "apiKey",
        "name": header,
        "in": "header",
        "x-amazon-apigateway-authtype": authorizer.auth_type.clone().unwrap_or_else(|| auth_type.into()),
    });
    if with_extension {
        let mut extension = json!({ "type": authorizer.kind.to_ascii_lowercase() });
        let optional = [
            ("authorizerUri", authorizer.authorizer_uri.clone()),
            ("authorizerCredentials", authorizer.authorizer_credentials.clone()),
            ("identitySource", authorizer.identity_source.clone()),
            ("identityValidationExpression", authorizer.identity_validation_expression.clone()),
        ];
        for (name, value) in optional {
            if let Some(value) = value {
                extension[name] = json!(value);
            }
        }
        if let Some(ttl) = authorizer.authorizer_result_ttl_in_seconds {
            extension["authorizerResultTtlInSeconds"] = json!(ttl);
        }
        if !authorizer.provider_arns.is_empty() {
            extension["providerARNs"] = json!(authorizer.provider_arns);
        }
        scheme["x-amazon-apigateway-authorizer"] = extension;
    }
    scheme
}

/// The document of `resources` (a deployment's tree) served by `stage`
/// at `endpoint` (`{public url}/{apiId}`).
pub fn export(
    api: &RestApi,
    stage: &Stage,
    resources: &[Resource],
    specification: Specification,
    extensions: Extensions,
    endpoint: &str,
) -> Value {
    let mut schemes = BTreeMap::new();
    let mut paths = Map::new();
    let mut ordered: Vec<&Resource> = resources.iter().filter(|resource| !resource.methods.is_empty()).collect();
    ordered.sort_by(|a, b| a.path.cmp(&b.path));
    for resource in ordered {
        let mut item = Map::new();
        for (http_method, method) in &resource.methods {
            let member = if http_method == "ANY" {
                "x-amazon-apigateway-any-method".to_owned()
            } else {
                http_method.to_ascii_lowercase()
            };
            item.insert(member, operation(specification, api, resource, method, extensions, &mut schemes));
        }
        paths.insert(resource.path.clone(), Value::Object(item));
    }
    let mut info = json!({ "title": api.name, "version": if api.version.is_empty() { chrono::DateTime::from_timestamp(stage.last_updated_date.max(stage.created_date), 0).unwrap_or_default().format("%Y-%m-%dT%H:%M:%SZ").to_string() } else { api.version.clone() } });
    if !api.description.is_empty() {
        info["description"] = json!(api.description);
    }
    let base_path = format!("/{}", stage.stage_name);
    let mut document = match specification {
        Specification::OpenApi3 => json!({
            "openapi": "3.0.1",
            "info": info,
            "servers": [{ "url": format!("{endpoint}/{{basePath}}"), "variables": { "basePath": { "default": stage.stage_name } } }],
            "paths": paths,
        }),
        Specification::Swagger2 => {
            let (scheme, rest) = endpoint.split_once("://").unwrap_or(("https", endpoint));
            let (host, prefix) = rest.split_once('/').map_or((rest, String::new()), |(h, p)| (h, format!("/{p}")));
            json!({
                "swagger": "2.0",
                "info": info,
                "host": host,
                "basePath": format!("{prefix}{base_path}"),
                "schemes": [scheme],
                "paths": paths,
            })
        }
    };
    if !schemes.is_empty() {
        let schemes: Map<String, Value> = schemes.into_iter().collect();
        match specification {
            Specification::OpenApi3 => document["components"] = json!({ "securitySchemes": schemes }),
            Specification::Swagger2 => document["securityDefinitions"] = Value::Object(schemes),
        }
    }
    if extensions.integrations && !api.binary_media_types.is_empty() {
        document["x-amazon-apigateway-binary-media-types"] = json!(api.binary_media_types);
    }
    document
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        openapi::{
            document::{BasePath, Document},
            rest_api,
        },
        rest::{
            model::IntegrationResponse,
            operations::{PutMethodInput, add_resource, put_method},
        },
    };

    fn sample() -> RestApi {
        let mut api = RestApi::new("pets".into());
        api.authorizers.push(Authorizer {
            id: "au1".into(),
            name: "token".into(),
            kind: "TOKEN".into(),
            authorizer_uri: Some("arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:000000000000:function:auth/invocations".into()),
            identity_source: Some("method.request.header.X-Token".into()),
            identity_validation_expression: Some("allow-.*".into()),
            authorizer_result_ttl_in_seconds: Some(60),
            ..Default::default()
        });
        let root = api.root_resource_id.clone();
        let pets = add_resource(&mut api, &root, "pets").unwrap().id;
        let pet = add_resource(&mut api, &pets, "{id}").unwrap().id;
        let input = |kind: &str, authorizer: Option<&str>| PutMethodInput {
            authorization_type: Some(kind.into()),
            authorizer_id: authorizer.map(str::to_owned),
            ..Default::default()
        };
        put_method(&mut api, &pet, "GET", input("CUSTOM", Some("au1"))).unwrap();
        put_method(&mut api, &pets, "POST", input("AWS_IAM", None)).unwrap();
        let mut health = input("NONE", None);
        health.api_key_required = true;
        put_method(&mut api, &root, "GET", health).unwrap();
        let lambda = Integration {
            kind: "AWS_PROXY".into(),
            http_method: Some("POST".into()),
            uri: Some("arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:000000000000:function:pets/invocations".into()),
            passthrough_behavior: "WHEN_NO_MATCH".into(),
            timeout_in_millis: 29_000,
            ..Default::default()
        };
        let mock = Integration {
            kind: "MOCK".into(),
            passthrough_behavior: "WHEN_NO_MATCH".into(),
            timeout_in_millis: 29_000,
            request_templates: [("application/json".to_string(), r#"{"statusCode": 200}"#.to_string())].into(),
            integration_responses: [(
                "200".to_string(),
                IntegrationResponse { status_code: "200".into(), ..Default::default() },
            )]
            .into(),
            ..Default::default()
        };
        for resource in &mut api.resources {
            for (name, method) in &mut resource.methods {
                method.integration = Some(if resource.path == "/" { mock.clone() } else { lambda.clone() });
                if name == "GET" && resource.path == "/" {
                    method.method_responses.insert("200".into(), Default::default());
                }
            }
        }
        api.stages.push(Stage { stage_name: "prod".into(), created_date: 1_700_000_000, ..Default::default() });
        api
    }

    #[test]
    fn both_specifications_carry_paths_security_and_integrations() {
        let api = sample();
        let all = Extensions::parse(Some("apigateway"));
        let oas = export(&api, &api.stages[0], &api.resources, Specification::OpenApi3, all, "http://gw/abc");
        assert_eq!(oas["openapi"], "3.0.1");
        assert_eq!(oas["servers"][0]["variables"]["basePath"]["default"], "prod");
        let get = &oas["paths"]["/pets/{id}"]["get"];
        assert_eq!(get["security"], json!([{ "token": [] }]));
        assert_eq!(
            get["parameters"][0],
            json!({ "name": "id", "in": "path", "required": true, "schema": { "type": "string" } })
        );
        assert_eq!(get["x-amazon-apigateway-integration"]["type"], "aws_proxy");
        let schemes = &oas["components"]["securitySchemes"];
        assert_eq!(schemes["token"]["x-amazon-apigateway-authorizer"]["identityValidationExpression"], "allow-.*");
        assert_eq!(schemes["sigv4"]["x-amazon-apigateway-authtype"], "awsSigv4");
        assert_eq!(oas["paths"]["/"]["get"]["security"], json!([{ "api_key": [] }]));

        let swagger = export(&api, &api.stages[0], &api.resources, Specification::Swagger2, all, "http://gw:8/abc");
        assert_eq!((swagger["host"].as_str(), swagger["basePath"].as_str()), (Some("gw:8"), Some("/abc/prod")));
        assert_eq!(swagger["securityDefinitions"]["token"]["name"], "X-Token");
        assert_eq!(swagger["paths"]["/pets/{id}"]["get"]["parameters"][0]["type"], "string");

        let bare = export(&api, &api.stages[0], &api.resources, Specification::OpenApi3, Extensions::default(), "x");
        assert!(bare["paths"]["/pets/{id}"]["get"].get("x-amazon-apigateway-integration").is_none());
        assert!(bare["components"]["securitySchemes"]["token"].get("x-amazon-apigateway-authorizer").is_none());
    }

    #[test]
    fn an_export_imports_back_into_the_same_methods() {
        let api = sample();
        for specification in [Specification::OpenApi3, Specification::Swagger2] {
            let all = Extensions::parse(Some("integrations,authorizers"));
            let document = export(&api, &api.stages[0], &api.resources, specification, all, "http://gw/abc");
            let parsed = Document::parse(document.to_string().as_bytes()).unwrap();
            let mut imported = RestApi::new("other".into());
            rest_api::apply(&mut imported, &parsed, true, BasePath::Ignore).unwrap();
            let shape = |api: &RestApi| {
                let mut methods: Vec<(String, String, String, bool, Option<String>)> = api
                    .resources
                    .iter()
                    .flat_map(|resource| {
                        resource.methods.values().map(|method| {
                            (
                                resource.path.clone(),
                                method.http_method.clone(),
                                method.authorization_type.clone(),
                                method.api_key_required,
                                method.integration.as_ref().and_then(|i| i.uri.clone()),
                            )
                        })
                    })
                    .collect();
                methods.sort();
                methods
            };
            assert_eq!(shape(&imported), shape(&api), "{specification:?}");
            assert_eq!(imported.authorizers[0].identity_validation_expression.as_deref(), Some("allow-.*"));
        }
    }

    #[test]
    fn unknown_export_types_are_refused() {
        assert!(Specification::parse("raml").is_err());
        assert_eq!(Extensions::parse(None), Extensions::default());
    }
}
