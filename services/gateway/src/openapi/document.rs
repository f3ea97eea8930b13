//! An OpenAPI document as API Gateway reads it: OpenAPI 3 or Swagger 2,
//! JSON or YAML, read into typed structs of only what API Gateway takes
//! from it (paths and operations, security schemes, and the
//! `x-amazon-apigateway-*` extensions). `serde_yaml` reads both syntaxes
//! (JSON is YAML) and `serde_path_to_error` names where a member is wrong;
//! the `openapiv3` crate was not used because it reads OpenAPI 3.0 only,
//! and API Gateway takes Swagger 2 as well, with extensions that crate
//! would keep as untyped JSON anyway.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use crate::error::GatewayError;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Document {
    pub openapi: Option<String>,
    pub swagger: Option<String>,
    pub info: Info,
    /// Each path's members, read as operations by [`Document::operations`].
    pub paths: BTreeMap<String, BTreeMap<String, Value>>,
    pub components: Components,
    #[serde(rename = "securityDefinitions")]
    pub security_definitions: BTreeMap<String, SecurityScheme>,
    #[serde(rename = "x-amazon-apigateway-binary-media-types")]
    pub binary_media_types: Vec<String>,
    #[serde(rename = "x-amazon-apigateway-api-key-source")]
    pub api_key_source: Option<String>,
    #[serde(rename = "x-amazon-apigateway-cors")]
    pub cors: Option<Cors>,
    /// Swagger 2's path before every path.
    #[serde(rename = "basePath")]
    pub base_path: Option<String>,
    /// OpenAPI 3's servers: where API Gateway finds the base path.
    pub servers: Vec<Server>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Server {
    pub url: String,
    pub variables: BTreeMap<String, ServerVariable>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ServerVariable {
    pub default: String,
}

/// How an import reads the document's base path (the `basepath` query
/// parameter of ImportApi, ReimportApi, ImportRestApi and PutRestApi).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BasePath {
    /// As if there were none (the default).
    Ignore,
    /// Before every path: `/a/b` and `/e` make `/a/b/e`.
    Prepend,
    /// Its first part is the stage's place, the rest goes before every
    /// path: `/a/b` and `/e` make `/b/e`.
    Split,
}

impl BasePath {
    pub fn parse(mode: Option<&str>) -> Result<Self, GatewayError> {
        match mode.map(str::to_ascii_lowercase).as_deref() {
            None | Some("ignore") => Ok(BasePath::Ignore),
            Some("prepend") => Ok(BasePath::Prepend),
            Some("split") => Ok(BasePath::Split),
            Some(other) => {
                Err(GatewayError::BadRequest(format!("Invalid basepath {other}: expected ignore, prepend or split")))
            }
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Info {
    pub title: Option<String>,
    pub version: Option<String>,
    pub description: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Components {
    #[serde(rename = "securitySchemes")]
    pub security_schemes: BTreeMap<String, SecurityScheme>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct SecurityScheme {
    #[serde(rename = "type")]
    pub kind: String,
    pub name: Option<String>,
    #[serde(rename = "in")]
    pub location: Option<String>,
    #[serde(rename = "x-amazon-apigateway-authtype")]
    pub auth_type: Option<String>,
    #[serde(rename = "x-amazon-apigateway-authorizer")]
    pub authorizer: Option<AuthorizerExtension>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct AuthorizerExtension {
    #[serde(rename = "type")]
    pub kind: String,
    pub authorizer_uri: Option<String>,
    pub authorizer_credentials: Option<String>,
    pub identity_source: Option<Value>,
    pub identity_validation_expression: Option<String>,
    pub authorizer_result_ttl_in_seconds: Option<i64>,
    #[serde(rename = "providerARNs")]
    pub provider_arns: Vec<String>,
    pub jwt_configuration: Option<Value>,
    pub authorizer_payload_format_version: Option<String>,
    pub enable_simple_responses: Option<bool>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Cors {
    pub allow_origins: Vec<String>,
    pub allow_methods: Vec<String>,
    pub allow_headers: Vec<String>,
    pub expose_headers: Vec<String>,
    pub allow_credentials: Option<bool>,
    pub max_age: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Operation {
    #[serde(rename = "operationId")]
    pub operation_id: Option<String>,
    pub security: Vec<BTreeMap<String, Vec<String>>>,
    pub responses: BTreeMap<String, Value>,
    #[serde(rename = "x-amazon-apigateway-integration")]
    pub integration: Option<IntegrationExtension>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct IntegrationExtension {
    #[serde(rename = "type")]
    pub kind: String,
    pub http_method: Option<String>,
    pub uri: Option<String>,
    pub payload_format_version: Option<String>,
    pub timeout_in_millis: Option<u64>,
    pub connection_type: Option<String>,
    pub credentials: Option<String>,
    pub passthrough_behavior: Option<String>,
    pub content_handling: Option<String>,
    pub request_parameters: BTreeMap<String, String>,
    /// HTTP APIs: status code → mapping key → value expression.
    pub response_parameters: BTreeMap<String, BTreeMap<String, String>>,
    pub request_templates: BTreeMap<String, String>,
    pub cache_namespace: Option<String>,
    pub cache_key_parameters: Vec<String>,
    /// Keyed by selection pattern; `default` is the default response.
    pub responses: BTreeMap<String, IntegrationResponseExtension>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct IntegrationResponseExtension {
    pub status_code: Option<Value>,
    pub response_parameters: BTreeMap<String, String>,
    pub response_templates: BTreeMap<String, String>,
    pub content_handling: Option<String>,
}

/// The HTTP methods a path item may hold, and API Gateway's `ANY`.
const OPERATIONS: &[(&str, &str)] = &[
    ("get", "GET"),
    ("put", "PUT"),
    ("post", "POST"),
    ("delete", "DELETE"),
    ("patch", "PATCH"),
    ("head", "HEAD"),
    ("options", "OPTIONS"),
    ("x-amazon-apigateway-any-method", "ANY"),
];

/// A malformed document: AWS's message, with where the error is.
pub fn invalid(location: &str, detail: impl std::fmt::Display) -> GatewayError {
    GatewayError::BadRequest(format!("Invalid OpenAPI input. Error at {location}: {detail}"))
}

fn located<T: serde::de::DeserializeOwned>(value: Value, prefix: &str) -> Result<T, GatewayError> {
    serde_path_to_error::deserialize(value).map_err(|error| {
        let inner = error.path().to_string();
        let location = match (prefix.is_empty(), inner == ".") {
            (true, _) => inner,
            (false, true) => prefix.to_owned(),
            (false, false) => format!("{prefix}.{inner}"),
        };
        invalid(&location, error.inner())
    })
}

impl Document {
    /// Reads a JSON or YAML document, naming the line and column of a
    /// syntax error and the member of a misplaced value.
    pub fn parse(body: &[u8]) -> Result<Self, GatewayError> {
        let text = std::str::from_utf8(body).map_err(|error| invalid("the document", error))?;
        if text.trim().is_empty() {
            return Err(invalid("the document", "the definition is empty"));
        }
        let value: Value = serde_yaml::from_str(text).map_err(|error| match error.location() {
            Some(at) => invalid(&format!("line {}, column {}", at.line(), at.column()), error),
            None => invalid("the document", error),
        })?;
        if !value.is_object() {
            return Err(invalid("the document", "the definition is not an object"));
        }
        let document: Document = located(value, "")?;
        match (&document.openapi, &document.swagger) {
            (Some(version), _) if version.starts_with("3.") => {}
            (None, Some(version)) if version == "2.0" => {}
            _ => return Err(invalid("openapi", "expected an OpenAPI 3 or Swagger 2.0 definition")),
        }
        Ok(document)
    }

    /// The document's base path, found as API Gateway finds it: Swagger
    /// 2's `basePath`; in OpenAPI 3, the first server's `basePath`
    /// variable, or else the path of its `url` beyond `/`.
    pub fn base_path(&self) -> Option<String> {
        let found = match &self.base_path {
            Some(path) => path.clone(),
            None => {
                let variable = self.servers.iter().find_map(|server| server.variables.get("basePath"));
                match variable {
                    Some(variable) => variable.default.clone(),
                    None => {
                        let url = &self.servers.first()?.url;
                        let after_scheme = url.split_once("://").map_or(url.as_str(), |(_, rest)| rest);
                        let path = after_scheme.find('/').map_or("", |at| &after_scheme[at..]);
                        path.to_owned()
                    }
                }
            }
        };
        let trimmed = found.trim_matches('/');
        (!trimmed.is_empty() && !trimmed.contains('{')).then(|| format!("/{trimmed}"))
    }

    /// A document path as the import places it under `mode`.
    pub fn placed(&self, path: &str, mode: BasePath) -> String {
        let base = match (mode, self.base_path()) {
            (BasePath::Ignore, _) | (_, None) => return path.to_owned(),
            (BasePath::Prepend, Some(base)) => base,
            (BasePath::Split, Some(base)) => match base[1..].split_once('/') {
                Some((_stage, rest)) => format!("/{rest}"),
                None => return path.to_owned(),
            },
        };
        if path == "/" { base } else { format!("{base}{path}") }
    }

    /// Every operation: path, method (`ANY` for the any-method extension)
    /// and what it says, in path order.
    pub fn operations(&self) -> Result<Vec<(String, &'static str, Operation)>, GatewayError> {
        let mut operations = Vec::new();
        for (path, item) in &self.paths {
            for (member, value) in item {
                let Some((_, method)) = OPERATIONS.iter().find(|(name, _)| name.eq_ignore_ascii_case(member)) else {
                    continue;
                };
                let location = format!("paths.{path}.{member}");
                // serde reads a struct from a sequence too; a document's
                // objects must be objects.
                if !value.is_object() {
                    return Err(invalid(&location, "expected an object"));
                }
                if let Some(extension) = value.get("x-amazon-apigateway-integration")
                    && !extension.is_object()
                {
                    return Err(invalid(&format!("{location}.x-amazon-apigateway-integration"), "expected an object"));
                }
                let operation: Operation = located(value.clone(), &location)?;
                operations.push((path.clone(), *method, operation));
            }
        }
        Ok(operations)
    }

    pub fn security_schemes(&self) -> BTreeMap<String, SecurityScheme> {
        let mut schemes = self.security_definitions.clone();
        schemes.extend(self.components.security_schemes.clone());
        schemes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_and_json_read_alike() {
        let yaml = "openapi: 3.0.1\ninfo:\n  title: t\npaths:\n  /a:\n    get:\n      x-amazon-apigateway-integration:\n        type: mock\n";
        let json = r#"{"openapi":"3.0.1","info":{"title":"t"},"paths":{"/a":{"get":{"x-amazon-apigateway-integration":{"type":"mock"}}}}}"#;
        for text in [yaml, json] {
            let document = Document::parse(text.as_bytes()).unwrap();
            let operations = document.operations().unwrap();
            assert_eq!(operations.len(), 1);
            assert_eq!(operations[0].1, "GET");
            assert_eq!(operations[0].2.integration.as_ref().unwrap().kind, "mock");
        }
    }

    #[test]
    fn base_paths_are_found_and_placed_as_api_gateway_places_them() {
        let swagger = Document::parse(b"swagger: '2.0'\nbasePath: /a/b/c\npaths: {}\n").unwrap();
        assert_eq!(swagger.base_path().as_deref(), Some("/a/b/c"));
        assert_eq!(swagger.placed("/e", BasePath::Ignore), "/e");
        assert_eq!(swagger.placed("/e", BasePath::Prepend), "/a/b/c/e");
        assert_eq!(swagger.placed("/e", BasePath::Split), "/b/c/e");
        let variable = "openapi: 3.0.1\nservers:\n  - url: https://x.example/{basePath}\n    variables:\n      basePath: { default: /v1 }\npaths: {}\n";
        let variable = Document::parse(variable.as_bytes()).unwrap();
        assert_eq!(variable.base_path().as_deref(), Some("/v1"));
        assert_eq!(variable.placed("/e", BasePath::Split), "/e");
        let url =
            Document::parse(b"openapi: 3.0.1\nservers: [{ url: 'https://x.example/api/v2/' }]\npaths: {}\n").unwrap();
        assert_eq!(url.base_path().as_deref(), Some("/api/v2"));
        assert_eq!(url.placed("/", BasePath::Prepend), "/api/v2");
        let none = Document::parse(b"openapi: 3.0.1\nservers: [{ url: 'https://x.example/' }]\npaths: {}\n").unwrap();
        assert_eq!(none.base_path(), None);
        assert_eq!(none.placed("/e", BasePath::Prepend), "/e");
        assert!(BasePath::parse(Some("sideways")).is_err());
        assert_eq!(BasePath::parse(None).unwrap(), BasePath::Ignore);
    }

    #[test]
    fn errors_name_their_location() {
        let message =
            |text: &str| Document::parse(text.as_bytes()).and_then(|d| d.operations()).unwrap_err().to_string();
        assert!(
            message("openapi: 3.0.1\npaths: [unclosed").contains("line 2"),
            "{}",
            message("openapi: 3.0.1\npaths: [unclosed")
        );
        let wrong_type = r#"{"openapi":"3.0.1","paths":{"/a":{"get":{"x-amazon-apigateway-integration":{"timeoutInMillis":"soon"}}}}}"#;
        let text = message(wrong_type);
        assert!(text.starts_with("Invalid OpenAPI input."), "{text}");
        assert!(text.contains("paths./a.get.x-amazon-apigateway-integration.timeoutInMillis"), "{text}");
        assert!(message(r#"{"openapi":"1.0"}"#).contains("openapi"));
        let listed = r#"{"openapi":"3.0.1","paths":{"/a":{"get":{"x-amazon-apigateway-integration":["mock"]}}}}"#;
        assert!(message(listed).contains("paths./a.get.x-amazon-apigateway-integration: expected an object"));
        assert!(message(r#"{"openapi":"3.0.1","paths":{"/a":{"get":[1]}}}"#).contains("paths./a.get: expected"));
        assert!(message("").contains("empty"));
        assert!(message("just text").contains("not an object"));
    }
}
