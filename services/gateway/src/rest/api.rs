//! The API Gateway v1 management API (`/restapis...`, `/apikeys`,
//! `/usageplans`, `/tags/...`; REST-JSON, signed as `apigateway`) and the
//! v2 OpenAPI calls (ImportApi, ReimportApi, ExportApi): parsed into an
//! [`Operation`], SigV4-checked once by the management front, dispatched
//! with one `match` to the handlers in [`super::operations`] and
//! [`crate::openapi`].

use actix_web::{HttpRequest, HttpResponse};
use bytes::Bytes;

use crate::{error::Result, management::Management};

/// One v1 management call, or a v2 OpenAPI call, with its path members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operation {
    CreateRestApi,
    ImportRestApi,
    GetRestApis,
    GetRestApi(String),
    UpdateRestApi(String),
    PutRestApi(String),
    DeleteRestApi(String),
    GetResources(String),
    GetResource(String, String),
    CreateResource(String, String),
    UpdateResource(String, String),
    DeleteResource(String, String),
    PutMethod(String, String, String),
    GetMethod(String, String, String),
    UpdateMethod(String, String, String),
    DeleteMethod(String, String, String),
    PutMethodResponse(String, String, String, String),
    GetMethodResponse(String, String, String, String),
    UpdateMethodResponse(String, String, String, String),
    DeleteMethodResponse(String, String, String, String),
    PutIntegration(String, String, String),
    GetIntegration(String, String, String),
    UpdateIntegration(String, String, String),
    DeleteIntegration(String, String, String),
    PutIntegrationResponse(String, String, String, String),
    GetIntegrationResponse(String, String, String, String),
    UpdateIntegrationResponse(String, String, String, String),
    DeleteIntegrationResponse(String, String, String, String),
    CreateDeployment(String),
    GetDeployments(String),
    GetDeployment(String, String),
    DeleteDeployment(String, String),
    CreateStage(String),
    GetStages(String),
    GetStage(String, String),
    UpdateStage(String, String),
    DeleteStage(String, String),
    GetExport(String, String, String),
    CreateAuthorizer(String),
    GetAuthorizers(String),
    GetAuthorizer(String, String),
    UpdateAuthorizer(String, String),
    DeleteAuthorizer(String, String),
    CreateApiKey,
    GetApiKeys,
    GetApiKey(String),
    UpdateApiKey(String),
    DeleteApiKey(String),
    CreateUsagePlan,
    GetUsagePlans,
    GetUsagePlan(String),
    UpdateUsagePlan(String),
    DeleteUsagePlan(String),
    CreateUsagePlanKey(String),
    GetUsagePlanKeys(String),
    GetUsagePlanKey(String, String),
    DeleteUsagePlanKey(String, String),
    GetTags(String),
    TagResource(String),
    UntagResource(String),
    /// v2: `PUT /v2/apis`.
    ImportApi,
    /// v2: `PUT /v2/apis/{apiId}`.
    ReimportApi(String),
    /// v2: `GET /v2/apis/{apiId}/exports/{specification}`.
    ExportApi(String, String),
}

impl nubo_host::front::Operation for Operation {
    fn name(&self) -> &'static str {
        use Operation::*;
        match self {
            CreateRestApi => "CreateRestApi",
            ImportRestApi => "ImportRestApi",
            GetRestApis => "GetRestApis",
            GetRestApi(_) => "GetRestApi",
            UpdateRestApi(_) => "UpdateRestApi",
            PutRestApi(_) => "PutRestApi",
            DeleteRestApi(_) => "DeleteRestApi",
            GetResources(_) => "GetResources",
            GetResource(..) => "GetResource",
            CreateResource(..) => "CreateResource",
            UpdateResource(..) => "UpdateResource",
            DeleteResource(..) => "DeleteResource",
            PutMethod(..) => "PutMethod",
            GetMethod(..) => "GetMethod",
            UpdateMethod(..) => "UpdateMethod",
            DeleteMethod(..) => "DeleteMethod",
            PutMethodResponse(..) => "PutMethodResponse",
            GetMethodResponse(..) => "GetMethodResponse",
            UpdateMethodResponse(..) => "UpdateMethodResponse",
            DeleteMethodResponse(..) => "DeleteMethodResponse",
            PutIntegration(..) => "PutIntegration",
            GetIntegration(..) => "GetIntegration",
            UpdateIntegration(..) => "UpdateIntegration",
            DeleteIntegration(..) => "DeleteIntegration",
            PutIntegrationResponse(..) => "PutIntegrationResponse",
            GetIntegrationResponse(..) => "GetIntegrationResponse",
            UpdateIntegrationResponse(..) => "UpdateIntegrationResponse",
            DeleteIntegrationResponse(..) => "DeleteIntegrationResponse",
            CreateDeployment(_) => "CreateDeployment",
            GetDeployments(_) => "GetDeployments",
            GetDeployment(..) => "GetDeployment",
            DeleteDeployment(..) => "DeleteDeployment",
            CreateStage(_) => "CreateStage",
            GetStages(_) => "GetStages",
            GetStage(..) => "GetStage",
            UpdateStage(..) => "UpdateStage",
            DeleteStage(..) => "DeleteStage",
            GetExport(..) => "GetExport",
            CreateAuthorizer(_) => "CreateAuthorizer",
            GetAuthorizers(_) => "GetAuthorizers",
            GetAuthorizer(..) => "GetAuthorizer",
            UpdateAuthorizer(..) => "UpdateAuthorizer",
            DeleteAuthorizer(..) => "DeleteAuthorizer",
            CreateApiKey => "CreateApiKey",
            GetApiKeys => "GetApiKeys",
            GetApiKey(_) => "GetApiKey",
            UpdateApiKey(_) => "UpdateApiKey",
            DeleteApiKey(_) => "DeleteApiKey",
            CreateUsagePlan => "CreateUsagePlan",
            GetUsagePlans => "GetUsagePlans",
            GetUsagePlan(_) => "GetUsagePlan",
            UpdateUsagePlan(_) => "UpdateUsagePlan",
            DeleteUsagePlan(_) => "DeleteUsagePlan",
            CreateUsagePlanKey(_) => "CreateUsagePlanKey",
            GetUsagePlanKeys(_) => "GetUsagePlanKeys",
            GetUsagePlanKey(..) => "GetUsagePlanKey",
            DeleteUsagePlanKey(..) => "DeleteUsagePlanKey",
            GetTags(_) => "GetTags",
            TagResource(_) => "TagResource",
            UntagResource(_) => "UntagResource",
            ImportApi => "ImportApi",
            ReimportApi(_) => "ReimportApi",
            ExportApi(..) => "ExportApi",
        }
    }
}

/// The value of a query parameter, percent-decoded.
pub fn query_value(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (key == name).then(|| nubo_host::sigv4::percent_decode(&value.replace('+', " ")))
    })
}

impl Operation {
    /// The call a request makes, or `None` when the path is not one of these.
    pub fn parse(method: &str, path: &str, query: &str) -> Option<Self> {
        use Operation::*;
        let segments: Vec<String> =
            path.split('/').filter(|s| !s.is_empty()).map(nubo_host::sigv4::percent_decode).collect();
        let s: Vec<&str> = segments.iter().map(String::as_str).collect();
        let o = |value: &str| value.to_owned();
        let mode = query_value(query, "mode");
        Some(match (method, s.as_slice()) {
            ("PUT", ["v2", "apis"]) => ImportApi,
            ("PUT", ["v2", "apis", api]) => ReimportApi(o(api)),
            ("GET", ["v2", "apis", api, "exports", spec]) => ExportApi(o(api), o(spec)),
            ("POST", ["restapis"]) if mode.as_deref() == Some("import") => ImportRestApi,
            ("POST", ["restapis"]) => CreateRestApi,
            ("GET", ["restapis"]) => GetRestApis,
            ("GET", ["restapis", api]) => GetRestApi(o(api)),
            ("PATCH", ["restapis", api]) => UpdateRestApi(o(api)),
            ("PUT", ["restapis", api]) => PutRestApi(o(api)),
            ("DELETE", ["restapis", api]) => DeleteRestApi(o(api)),
            ("GET", ["restapis", api, "resources"]) => GetResources(o(api)),
            ("GET", ["restapis", api, "resources", id]) => GetResource(o(api), o(id)),
            ("POST", ["restapis", api, "resources", parent]) => CreateResource(o(api), o(parent)),
            ("PATCH", ["restapis", api, "resources", id]) => UpdateResource(o(api), o(id)),
            ("DELETE", ["restapis", api, "resources", id]) => DeleteResource(o(api), o(id)),
            (verb, ["restapis", api, "resources", id, "methods", http]) => {
                let (api, id, http) = (o(api), o(id), o(http));
                match verb {
                    "PUT" => PutMethod(api, id, http),
                    "GET" => GetMethod(api, id, http),
                    "PATCH" => UpdateMethod(api, id, http),
                    "DELETE" => DeleteMethod(api, id, http),
                    _ => return None,
                }
            }
            (verb, ["restapis", api, "resources", id, "methods", http, "responses", status]) => {
                let (api, id, http, status) = (o(api), o(id), o(http), o(status));
                match verb {
                    "PUT" => PutMethodResponse(api, id, http, status),
                    "GET" => GetMethodResponse(api, id, http, status),
                    "PATCH" => UpdateMethodResponse(api, id, http, status),
                    "DELETE" => DeleteMethodResponse(api, id, http, status),
                    _ => return None,
                }
            }
            (verb, ["restapis", api, "resources", id, "methods", http, "integration"]) => {
                let (api, id, http) = (o(api), o(id), o(http));
                match verb {
                    "PUT" => PutIntegration(api, id, http),
                    "GET" => GetIntegration(api, id, http),
                    "PATCH" => UpdateIntegration(api, id, http),
                    "DELETE" => DeleteIntegration(api, id, http),
                    _ => return None,
                }
            }
            (verb, ["restapis", api, "resources", id, "methods", http, "integration", "responses", status]) => {
                let (api, id, http, status) = (o(api), o(id), o(http), o(status));
                match verb {
                    "PUT" => PutIntegrationResponse(api, id, http, status),
                    "GET" => GetIntegrationResponse(api, id, http, status),
                    "PATCH" => UpdateIntegrationResponse(api, id, http, status),
                    "DELETE" => DeleteIntegrationResponse(api, id, http, status),
                    _ => return None,
                }
            }
            ("POST", ["restapis", api, "deployments"]) => CreateDeployment(o(api)),
            ("GET", ["restapis", api, "deployments"]) => GetDeployments(o(api)),
            ("GET", ["restapis", api, "deployments", id]) => GetDeployment(o(api), o(id)),
            ("DELETE", ["restapis", api, "deployments", id]) => DeleteDeployment(o(api), o(id)),
            ("POST", ["restapis", api, "stages"]) => CreateStage(o(api)),
            ("GET", ["restapis", api, "stages"]) => GetStages(o(api)),
            ("GET", ["restapis", api, "stages", name]) => GetStage(o(api), o(name)),
            ("PATCH", ["restapis", api, "stages", name]) => UpdateStage(o(api), o(name)),
            ("DELETE", ["restapis", api, "stages", name]) => DeleteStage(o(api), o(name)),
            ("GET", ["restapis", api, "stages", name, "exports", kind]) => GetExport(o(api), o(name), o(kind)),
            ("POST", ["restapis", api, "authorizers"]) => CreateAuthorizer(o(api)),
            ("GET", ["restapis", api, "authorizers"]) => GetAuthorizers(o(api)),
            ("GET", ["restapis", api, "authorizers", id]) => GetAuthorizer(o(api), o(id)),
            ("PATCH", ["restapis", api, "authorizers", id]) => UpdateAuthorizer(o(api), o(id)),
            ("DELETE", ["restapis", api, "authorizers", id]) => DeleteAuthorizer(o(api), o(id)),
            ("POST", ["apikeys"]) => CreateApiKey,
            ("GET", ["apikeys"]) => GetApiKeys,
            ("GET", ["apikeys", id]) => GetApiKey(o(id)),
            ("PATCH", ["apikeys", id]) => UpdateApiKey(o(id)),
            ("DELETE", ["apikeys", id]) => DeleteApiKey(o(id)),
            ("POST", ["usageplans"]) => CreateUsagePlan,
            ("GET", ["usageplans"]) => GetUsagePlans,
            ("GET", ["usageplans", id]) => GetUsagePlan(o(id)),
            ("PATCH", ["usageplans", id]) => UpdateUsagePlan(o(id)),
            ("DELETE", ["usageplans", id]) => DeleteUsagePlan(o(id)),
            ("POST", ["usageplans", id, "keys"]) => CreateUsagePlanKey(o(id)),
            ("GET", ["usageplans", id, "keys"]) => GetUsagePlanKeys(o(id)),
            ("GET", ["usageplans", id, "keys", key]) => GetUsagePlanKey(o(id), o(key)),
            ("DELETE", ["usageplans", id, "keys", key]) => DeleteUsagePlanKey(o(id), o(key)),
            // The ARN holds slashes, encoded or not: everything after `/tags/`.
            (verb, ["tags", ..]) => {
                let arn = nubo_host::sigv4::percent_decode(path.strip_prefix("/tags/")?);
                match verb {
                    "GET" => GetTags(arn),
                    "PUT" => TagResource(arn),
                    "DELETE" => UntagResource(arn),
                    _ => return None,
                }
            }
            _ => return None,
        })
    }
}

/// Answers a call [`Operation::parse`] recognised: SigV4-checked by the
/// management front, then run. `raw` is the body as it arrived.
pub async fn handle(request: HttpRequest, raw: Bytes, management: &Management, operation: Operation) -> HttpResponse {
    use nubo_host::front::Operation as _;
    nubo_host::front::name_operation(&request, operation.name());
    let body = match management.front.verify_body(&request, raw) {
        Ok(signed) => signed.body,
        Err(refused) => return management.front.error(&refused),
    };
    let call = super::operations::Call { request: &request, body: &body, management };
    match run(call, operation).await {
        Ok(response) => response,
        Err(error) => actix_web::ResponseError::error_response(&error),
    }
}

async fn run(call: super::operations::Call<'_>, operation: Operation) -> Result<HttpResponse> {
    match operation {
        Operation::ImportApi | Operation::ReimportApi(_) | Operation::ExportApi(..) => {
            crate::openapi::http_api::run(call, operation).await
        }
        Operation::GetExport(api, stage, kind) => super::export::run(call, &api, &stage, &kind).await,
        Operation::ImportRestApi | Operation::PutRestApi(_) => crate::openapi::rest_api::run(call, operation).await,
        operation => super::operations::run(call, operation).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_paths_are_recognised() {
        use Operation::*;
        assert_eq!(Operation::parse("POST", "/restapis", ""), Some(CreateRestApi));
        assert_eq!(Operation::parse("POST", "/restapis", "mode=import&failonwarnings=false"), Some(ImportRestApi));
        assert_eq!(
            Operation::parse("PUT", "/restapis/a/resources/r/methods/GET/integration/responses/200", ""),
            Some(PutIntegrationResponse("a".into(), "r".into(), "GET".into(), "200".into()))
        );
        assert_eq!(Operation::parse("POST", "/usageplans/p/keys", ""), Some(CreateUsagePlanKey("p".into())));
        assert_eq!(
            Operation::parse("GET", "/tags/arn%3Aaws%3Aapigateway%3Aus-east-1%3A%3A%2Frestapis%2Fabc", ""),
            Some(GetTags("arn:aws:apigateway:us-east-1::/restapis/abc".into()))
        );
        assert_eq!(Operation::parse("PUT", "/v2/apis", ""), Some(ImportApi));
        assert_eq!(
            Operation::parse("GET", "/v2/apis/abc/exports/OAS30", ""),
            Some(ExportApi("abc".into(), "OAS30".into()))
        );
        // HTTP API calls stay with the v2 front.
        assert_eq!(Operation::parse("GET", "/v2/apis/abc", ""), None);
        assert_eq!(Operation::parse("POST", "/v2/apis", ""), None);
    }
}
