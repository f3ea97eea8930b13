//! The Lambda API front (REST-JSON under `/2015-03-31`), written with the
//! host's front kit: each request is parsed into an [`Operation`],
//! SigV4-checked once, and dispatched with one `match` to [`Lambda`].

use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine as _;
use bytes::Bytes;
use nubo_host::front::{AwsFront, Protocol};
use serde::de::DeserializeOwned;

use crate::{
    error::{LambdaError, Result},
    lambda::{CodeInput, CreateFunctionInput, InvocationType, InvokeOutcome, Lambda},
    model::ConfigurationInput,
    versions::PublishInput,
};

/// The largest request body read (a 50 MB zip, base64-encoded, plus JSON).
pub const MAX_BODY: usize = 70 * 1024 * 1024;

/// One Lambda API operation, with its path parameters.
#[derive(Debug, PartialEq, Eq)]
pub enum Operation {
    CreateFunction,
    ListFunctions,
    GetFunction(String),
    /// GET (or HEAD) of GetFunction's `Code.Location`, which carries its
    /// own signature instead of SigV4 ([`crate::code_url`]).
    DownloadFunctionPackage(String),
    GetFunctionConfiguration(String),
    UpdateFunctionCode(String),
    UpdateFunctionConfiguration(String),
    DeleteFunction(String),
    Invoke(String),
    PublishVersion(String),
    ListVersionsByFunction(String),
    CreateAlias(String),
    ListAliases(String),
    GetAlias(String, String),
    UpdateAlias(String, String),
    DeleteAlias(String, String),
    AddPermission(String),
    GetPolicy(String),
    RemovePermission(String, String),
    PutFunctionConcurrency(String),
    GetFunctionConcurrency(String),
    DeleteFunctionConcurrency(String),
    TagResource(String),
    UntagResource(String),
    ListTags(String),
    GetAccountSettings,
    PutFunctionEventInvokeConfig(String),
    UpdateFunctionEventInvokeConfig(String),
    GetFunctionEventInvokeConfig(String),
    DeleteFunctionEventInvokeConfig(String),
    ListFunctionEventInvokeConfigs(String),
    CreateEventSourceMapping,
    ListEventSourceMappings,
    GetEventSourceMapping(String),
    UpdateEventSourceMapping(String),
    DeleteEventSourceMapping(String),
    PublishLayerVersion(String),
    ListLayerVersions(String),
    GetLayerVersion(String, String),
    DeleteLayerVersion(String, String),
    ListLayers,
    CreateFunctionUrlConfig(String),
    GetFunctionUrlConfig(String),
    UpdateFunctionUrlConfig(String),
    DeleteFunctionUrlConfig(String),
    ListFunctionUrlConfigs(String),
}

impl nubo_host::front::Operation for Operation {
    fn name(&self) -> &'static str {
        match self {
            Operation::CreateFunction => "CreateFunction",
            Operation::ListFunctions => "ListFunctions",
            Operation::GetFunction(_) => "GetFunction",
            Operation::DownloadFunctionPackage(_) => "DownloadFunctionPackage",
            Operation::GetFunctionConfiguration(_) => "GetFunctionConfiguration",
            Operation::UpdateFunctionCode(_) => "UpdateFunctionCode",
            Operation::UpdateFunctionConfiguration(_) => "UpdateFunctionConfiguration",
            Operation::DeleteFunction(_) => "DeleteFunction",
            Operation::Invoke(_) => "Invoke",
            Operation::PublishVersion(_) => "PublishVersion",
            Operation::ListVersionsByFunction(_) => "ListVersionsByFunction",
            Operation::CreateAlias(_) => "CreateAlias",
            Operation::ListAliases(_) => "ListAliases",
            Operation::GetAlias(..) => "GetAlias",
            Operation::UpdateAlias(..) => "UpdateAlias",
            Operation::DeleteAlias(..) => "DeleteAlias",
            Operation::AddPermission(_) => "AddPermission",
            Operation::GetPolicy(_) => "GetPolicy",
            Operation::RemovePermission(..) => "RemovePermission",
            Operation::PutFunctionConcurrency(_) => "PutFunctionConcurrency",
            Operation::GetFunctionConcurrency(_) => "GetFunctionConcurrency",
            Operation::DeleteFunctionConcurrency(_) => "DeleteFunctionConcurrency",
            Operation::TagResource(_) => "TagResource",
            Operation::UntagResource(_) => "UntagResource",
            Operation::ListTags(_) => "ListTags",
            Operation::GetAccountSettings => "GetAccountSettings",
            Operation::PutFunctionEventInvokeConfig(_) => "PutFunctionEventInvokeConfig",
            Operation::UpdateFunctionEventInvokeConfig(_) => "UpdateFunctionEventInvokeConfig",
            Operation::GetFunctionEventInvokeConfig(_) => "GetFunctionEventInvokeConfig",
            Operation::DeleteFunctionEventInvokeConfig(_) => "DeleteFunctionEventInvokeConfig",
            Operation::ListFunctionEventInvokeConfigs(_) => "ListFunctionEventInvokeConfigs",
            Operation::CreateEventSourceMapping => "CreateEventSourceMapping",
            Operation::ListEventSourceMappings => "ListEventSourceMappings",
            Operation::GetEventSourceMapping(_) => "GetEventSourceMapping",
            Operation::UpdateEventSourceMapping(_) => "UpdateEventSourceMapping",
            Operation::DeleteEventSourceMapping(_) => "DeleteEventSourceMapping",
            Operation::PublishLayerVersion(_) => "PublishLayerVersion",
            Operation::ListLayerVersions(_) => "ListLayerVersions",
            Operation::GetLayerVersion(..) => "GetLayerVersion",
            Operation::DeleteLayerVersion(..) => "DeleteLayerVersion",
            Operation::ListLayers => "ListLayers",
            Operation::CreateFunctionUrlConfig(_) => "CreateFunctionUrlConfig",
            Operation::GetFunctionUrlConfig(_) => "GetFunctionUrlConfig",
            Operation::UpdateFunctionUrlConfig(_) => "UpdateFunctionUrlConfig",
            Operation::DeleteFunctionUrlConfig(_) => "DeleteFunctionUrlConfig",
            Operation::ListFunctionUrlConfigs(_) => "ListFunctionUrlConfigs",
        }
    }
}

impl Operation {
    /// Recognises an operation from its method and (raw) path. Each
    /// family of operations lives under the API version it was added in.
    pub fn parse(method: &str, path: &str) -> Option<Self> {
        let segments: Vec<String> =
            path.split('/').filter(|s| !s.is_empty()).map(nubo_host::sigv4::percent_decode).collect();
        let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
        let owned = |value: &&str| (*value).to_owned();
        Some(match (method, segments.as_slice()) {
            ("GET", ["2016-08-19", "account-settings"]) => Operation::GetAccountSettings,
            ("POST", ["2017-03-31", "tags", arn]) => Operation::TagResource(owned(arn)),
            ("GET", ["2017-03-31", "tags", arn]) => Operation::ListTags(owned(arn)),
            ("DELETE", ["2017-03-31", "tags", arn]) => Operation::UntagResource(owned(arn)),
            ("PUT", ["2017-10-31", "functions", name, "concurrency"]) => Operation::PutFunctionConcurrency(owned(name)),
            ("DELETE", ["2017-10-31", "functions", name, "concurrency"]) => {
                Operation::DeleteFunctionConcurrency(owned(name))
            }
            ("GET", ["2019-09-30", "functions", name, "concurrency"]) => Operation::GetFunctionConcurrency(owned(name)),
            (method, ["2019-09-25", "functions", name, "event-invoke-config", rest @ ..]) => match (method, rest) {
                ("PUT", []) => Operation::PutFunctionEventInvokeConfig(owned(name)),
                ("POST", []) => Operation::UpdateFunctionEventInvokeConfig(owned(name)),
                ("GET", []) => Operation::GetFunctionEventInvokeConfig(owned(name)),
                ("DELETE", []) => Operation::DeleteFunctionEventInvokeConfig(owned(name)),
                ("GET", ["list"]) => Operation::ListFunctionEventInvokeConfigs(owned(name)),
                _ => return None,
            },
            ("GET", ["2018-10-31", "layers"]) => Operation::ListLayers,
            ("POST", ["2021-10-31", "functions", name, "url"]) => Operation::CreateFunctionUrlConfig(owned(name)),
            ("GET", ["2021-10-31", "functions", name, "url"]) => Operation::GetFunctionUrlConfig(owned(name)),
            ("PUT", ["2021-10-31", "functions", name, "url"]) => Operation::UpdateFunctionUrlConfig(owned(name)),
            ("DELETE", ["2021-10-31", "functions", name, "url"]) => Operation::DeleteFunctionUrlConfig(owned(name)),
            ("GET", ["2021-10-31", "functions", name, "urls"]) => Operation::ListFunctionUrlConfigs(owned(name)),
            ("POST", ["2018-10-31", "layers", name, "versions"]) => Operation::PublishLayerVersion(owned(name)),
            ("GET", ["2018-10-31", "layers", name, "versions"]) => Operation::ListLayerVersions(owned(name)),
            ("GET", ["2018-10-31", "layers", name, "versions", version]) => {
                Operation::GetLayerVersion(owned(name), owned(version))
            }
            ("DELETE", ["2018-10-31", "layers", name, "versions", version]) => {
                Operation::DeleteLayerVersion(owned(name), owned(version))
            }
            ("POST", ["2015-03-31", "event-source-mappings"]) => Operation::CreateEventSourceMapping,
            ("GET", ["2015-03-31", "event-source-mappings"]) => Operation::ListEventSourceMappings,
            ("GET", ["2015-03-31", "event-source-mappings", uuid]) => Operation::GetEventSourceMapping(owned(uuid)),
            ("PUT", ["2015-03-31", "event-source-mappings", uuid]) => Operation::UpdateEventSourceMapping(owned(uuid)),
            ("DELETE", ["2015-03-31", "event-source-mappings", uuid]) => {
                Operation::DeleteEventSourceMapping(owned(uuid))
            }
            (method, ["2015-03-31", "functions", rest @ ..]) => match (method, rest) {
                ("POST", []) => Operation::CreateFunction,
                ("GET", []) => Operation::ListFunctions,
                ("GET", [name]) => Operation::GetFunction(owned(name)),
                ("DELETE", [name]) => Operation::DeleteFunction(owned(name)),
                ("GET" | "HEAD", [name, "package"]) => Operation::DownloadFunctionPackage(owned(name)),
                ("GET", [name, "configuration"]) => Operation::GetFunctionConfiguration(owned(name)),
                ("PUT", [name, "configuration"]) => Operation::UpdateFunctionConfiguration(owned(name)),
                ("PUT", [name, "code"]) => Operation::UpdateFunctionCode(owned(name)),
                ("POST", [name, "invocations"]) => Operation::Invoke(owned(name)),
                ("POST", [name, "versions"]) => Operation::PublishVersion(owned(name)),
                ("GET", [name, "versions"]) => Operation::ListVersionsByFunction(owned(name)),
                ("POST", [name, "aliases"]) => Operation::CreateAlias(owned(name)),
                ("GET", [name, "aliases"]) => Operation::ListAliases(owned(name)),
                ("GET", [name, "aliases", alias]) => Operation::GetAlias(owned(name), owned(alias)),
                ("PUT", [name, "aliases", alias]) => Operation::UpdateAlias(owned(name), owned(alias)),
                ("DELETE", [name, "aliases", alias]) => Operation::DeleteAlias(owned(name), owned(alias)),
                ("POST", [name, "policy"]) => Operation::AddPermission(owned(name)),
                ("GET", [name, "policy"]) => Operation::GetPolicy(owned(name)),
                ("DELETE", [name, "policy", statement]) => Operation::RemovePermission(owned(name), owned(statement)),
                _ => return None,
            },
            _ => return None,
        })
    }
}

/// The Lambda front: REST-JSON, signed as `lambda` with five minutes of
/// clock skew, as Lambda allows.
pub fn front(context: &nubo_host::Context) -> AwsFront {
    AwsFront::new(Protocol::RestJson, context.policy("lambda", 5), context.credentials.clone(), MAX_BODY)
}

/// The front of the CloudWatch Logs requests this port also answers.
#[derive(Clone)]
pub struct LogsFront(pub AwsFront);

pub fn routes(routes: &mut web::ServiceConfig, lambda: Lambda, front: AwsFront, logs: AwsFront) {
    routes
        .app_data(web::Data::new(lambda))
        .app_data(web::Data::new(front))
        .app_data(web::Data::new(LogsFront(logs)))
        .default_service(web::to(handle));
}

async fn handle(
    request: HttpRequest,
    payload: web::Payload,
    lambda: web::Data<Lambda>,
    front: web::Data<AwsFront>,
    logs: web::Data<LogsFront>,
) -> Result<HttpResponse> {
    use nubo_host::front::Operation as _;
    // CloudWatch Logs calls, for functions' log groups, come by target.
    if let Some(action) = header(&request, "x-amz-target").and_then(crate::logs_api::Action::from_target) {
        let Ok(action) = action else {
            let unknown = nubo_host::front::AwsError::new(400, "UnknownOperationException", "");
            return Ok(Protocol::AwsJson11.render(&unknown));
        };
        nubo_host::front::name_operation(&request, action.name());
        return Ok(crate::logs_api::serve(&request, payload, action, &lambda, &logs.0).await);
    }
    let operation = Operation::parse(request.method().as_str(), request.path());
    if let Some(operation) = &operation {
        nubo_host::front::name_operation(&request, operation.name());
    }
    if let Some(Operation::DownloadFunctionPackage(function)) = &operation {
        return Ok(crate::code_url::serve(&request, function, &lambda).await);
    }
    let body = match front.authenticate(&request, payload).await {
        Ok(signed) => {
            tracing::debug!(principal = %signed.principal.arn, path = request.path(), "request authenticated");
            signed.body
        }
        Err(error) => return Ok(front.error(&error)),
    };
    let operation = operation.ok_or(LambdaError::UnknownOperation)?;
    let pairs = web::Query::<Vec<(String, String)>>::from_query(request.query_string())
        .map(web::Query::into_inner)
        .unwrap_or_default();
    let query: std::collections::HashMap<String, String> = pairs.iter().cloned().collect();
    let qualifier = query.get("Qualifier").map(String::as_str);
    match operation {
        Operation::CreateFunction => {
            let input: CreateFunctionInput = parse_json(&body)?;
            Ok(HttpResponse::Created().json(lambda.configuration(&lambda.create_function(input).await?)))
        }
        Operation::ListFunctions => {
            let max_items = query.get("MaxItems").map(|v| v.parse::<u32>()).transpose().map_err(|_| {
                LambdaError::InvalidParameterValue("MaxItems must be a number between 1 and 10000".into())
            })?;
            let (functions, next) = lambda.list_functions(query.get("Marker").map(String::as_str), max_items).await?;
            let mut page = serde_json::json!({
                "Functions": functions.iter().map(|function| lambda.configuration(function)).collect::<Vec<_>>(),
            });
            if let Some(next) = next {
                page["NextMarker"] = next.into();
            }
            Ok(HttpResponse::Ok().json(page))
        }
        Operation::DownloadFunctionPackage(_) => Err(LambdaError::UnknownOperation),
        Operation::GetFunction(name) => {
            let function = lambda.get_function(&qualified(&name, &query)).await?;
            // Under the address the caller used (the edge or this port).
            let base = format!("{}://{}", request.connection_info().scheme(), request.connection_info().host());
            let location = lambda.code_urls.location(
                &base,
                &function.name,
                &function.version,
                &function.code_sha256,
                chrono::Utc::now().timestamp(),
            );
            Ok(HttpResponse::Ok().json(serde_json::json!({
                "Configuration": lambda.configuration(&function),
                "Code": { "RepositoryType": "S3", "Location": location },
                "Tags": function.tags,
            })))
        }
        Operation::GetFunctionConfiguration(name) => {
            let function = lambda.get_function(&qualified(&name, &query)).await?;
            Ok(HttpResponse::Ok().json(lambda.configuration(&function)))
        }
        Operation::UpdateFunctionConfiguration(name) => {
            #[derive(serde::Deserialize)]
            #[serde(rename_all = "PascalCase")]
            struct Input {
                #[serde(flatten)]
                configuration: ConfigurationInput,
                revision_id: Option<String>,
            }
            let input: Input = parse_json(&body)?;
            let updated = lambda.update_configuration(&name, input.configuration, input.revision_id.as_deref()).await?;
            Ok(HttpResponse::Ok().json(lambda.configuration(&updated)))
        }
        Operation::UpdateFunctionCode(name) => {
            #[derive(serde::Deserialize)]
            #[serde(rename_all = "PascalCase")]
            struct Input {
                #[serde(flatten)]
                code: CodeInput,
                revision_id: Option<String>,
            }
            let input: Input = parse_json(&body)?;
            let updated = lambda.update_code(&name, input.code, input.revision_id.as_deref()).await?;
            Ok(HttpResponse::Ok().json(lambda.configuration(&updated)))
        }
        Operation::DeleteFunction(name) => {
            lambda.delete_function(&qualified(&name, &query)).await?;
            Ok(HttpResponse::NoContent().finish())
        }
        Operation::Invoke(name) => invoke(&request, &lambda, &qualified(&name, &query), body).await,
        Operation::PublishVersion(name) => {
            let input: PublishInput = parse_json_or_default(&body)?;
            Ok(HttpResponse::Created().json(lambda.configuration(&lambda.publish_version(&name, input).await?)))
        }
        Operation::ListVersionsByFunction(name) => {
            let (versions, next) =
                lambda.list_versions(&name, query.get("Marker").map(String::as_str), max_items(&query)?).await?;
            let versions: Vec<_> = versions.iter().map(|version| lambda.configuration(version)).collect();
            Ok(HttpResponse::Ok().json(with_marker(serde_json::json!({ "Versions": versions }), next)))
        }
        Operation::CreateAlias(name) => {
            let alias = lambda.create_alias(&name, parse_json(&body)?).await?;
            Ok(HttpResponse::Created().json(lambda.alias_configuration(&alias)))
        }
        Operation::ListAliases(name) => {
            let (aliases, next) = lambda
                .list_aliases(
                    &name,
                    query.get("FunctionVersion").map(String::as_str),
                    query.get("Marker").map(String::as_str),
                    max_items(&query)?,
                )
                .await?;
            let aliases: Vec<_> = aliases.iter().map(|alias| lambda.alias_configuration(alias)).collect();
            Ok(HttpResponse::Ok().json(with_marker(serde_json::json!({ "Aliases": aliases }), next)))
        }
        Operation::GetAlias(name, alias) => {
            Ok(HttpResponse::Ok().json(lambda.alias_configuration(&lambda.get_alias(&name, &alias).await?)))
        }
        Operation::UpdateAlias(name, alias) => {
            let updated = lambda.update_alias(&name, &alias, parse_json(&body)?).await?;
            Ok(HttpResponse::Ok().json(lambda.alias_configuration(&updated)))
        }
        Operation::DeleteAlias(name, alias) => {
            lambda.delete_alias(&name, &alias).await?;
            Ok(HttpResponse::NoContent().finish())
        }
        Operation::AddPermission(name) => {
            let statement = lambda.add_permission(&name, qualifier, parse_json(&body)?).await?;
            Ok(HttpResponse::Created().json(serde_json::json!({ "Statement": statement.to_string() })))
        }
        Operation::GetPolicy(name) => Ok(HttpResponse::Ok().json(lambda.policy(&name, qualifier).await?)),
        Operation::RemovePermission(name, statement) => {
            lambda.remove_permission(&name, qualifier, &statement).await?;
            Ok(HttpResponse::NoContent().finish())
        }
        Operation::PutFunctionConcurrency(name) => {
            #[derive(serde::Deserialize)]
            #[serde(rename_all = "PascalCase")]
            struct Input {
                reserved_concurrent_executions: i64,
            }
            let input: Input = parse_json(&body)?;
            let reserved = lambda.put_concurrency(&name, input.reserved_concurrent_executions).await?;
            Ok(HttpResponse::Ok().json(serde_json::json!({ "ReservedConcurrentExecutions": reserved })))
        }
        Operation::GetFunctionConcurrency(name) => {
            Ok(HttpResponse::Ok().json(match lambda.get_concurrency(&name).await? {
                Some(reserved) => serde_json::json!({ "ReservedConcurrentExecutions": reserved }),
                None => serde_json::json!({}),
            }))
        }
        Operation::DeleteFunctionConcurrency(name) => {
            lambda.delete_concurrency(&name).await?;
            Ok(HttpResponse::NoContent().finish())
        }
        Operation::TagResource(arn) => {
            #[derive(serde::Deserialize)]
            #[serde(rename_all = "PascalCase")]
            struct Input {
                tags: std::collections::BTreeMap<String, String>,
            }
            let input: Input = parse_json(&body)?;
            lambda.tag_resource(&arn, input.tags).await?;
            Ok(HttpResponse::NoContent().finish())
        }
        Operation::UntagResource(arn) => {
            let keys: Vec<String> =
                pairs.into_iter().filter(|(name, _)| name == "tagKeys").map(|(_, value)| value).collect();
            lambda.untag_resource(&arn, &keys).await?;
            Ok(HttpResponse::NoContent().finish())
        }
        Operation::ListTags(arn) => {
            Ok(HttpResponse::Ok().json(serde_json::json!({ "Tags": lambda.list_tags(&arn).await? })))
        }
        Operation::GetAccountSettings => Ok(HttpResponse::Ok().json(lambda.account_settings().await?)),
        Operation::PutFunctionEventInvokeConfig(name) => Ok(HttpResponse::Ok()
            .json(lambda.put_event_invoke_config(&name, qualifier, parse_json_or_default(&body)?, true).await?)),
        Operation::UpdateFunctionEventInvokeConfig(name) => Ok(HttpResponse::Ok()
            .json(lambda.put_event_invoke_config(&name, qualifier, parse_json_or_default(&body)?, false).await?)),
        Operation::GetFunctionEventInvokeConfig(name) => {
            Ok(HttpResponse::Ok().json(lambda.get_event_invoke_config(&name, qualifier).await?))
        }
        Operation::DeleteFunctionEventInvokeConfig(name) => {
            lambda.delete_event_invoke_config(&name, qualifier).await?;
            Ok(HttpResponse::NoContent().finish())
        }
        Operation::CreateFunctionUrlConfig(name) => {
            Ok(HttpResponse::Created().json(lambda.create_url(&name, qualifier, parse_json(&body)?).await?))
        }
        Operation::GetFunctionUrlConfig(name) => Ok(HttpResponse::Ok().json(lambda.get_url(&name, qualifier).await?)),
        Operation::UpdateFunctionUrlConfig(name) => {
            Ok(HttpResponse::Ok().json(lambda.update_url(&name, qualifier, parse_json(&body)?).await?))
        }
        Operation::DeleteFunctionUrlConfig(name) => {
            lambda.delete_url(&name, qualifier).await?;
            Ok(HttpResponse::NoContent().finish())
        }
        Operation::ListFunctionUrlConfigs(name) => {
            Ok(HttpResponse::Ok().json(serde_json::json!({ "FunctionUrlConfigs": lambda.list_urls(&name).await? })))
        }
        Operation::PublishLayerVersion(name) => {
            let layer = lambda.publish_layer_version(&name, parse_json(&body)?).await?;
            Ok(HttpResponse::Created().json(lambda.layer_version_value(&layer)))
        }
        Operation::ListLayerVersions(name) => {
            let versions = lambda.list_layer_versions(&name).await?;
            let versions: Vec<_> = versions.iter().map(|layer| lambda.layer_version_value(layer)).collect();
            Ok(HttpResponse::Ok().json(serde_json::json!({ "LayerVersions": versions })))
        }
        Operation::GetLayerVersion(name, version) => {
            let layer = lambda.layer_version(&name, layer_version_number(&version)?).await?;
            Ok(HttpResponse::Ok().json(lambda.layer_version_value(&layer)))
        }
        Operation::DeleteLayerVersion(name, version) => {
            lambda.delete_layer_version(&name, layer_version_number(&version)?).await?;
            Ok(HttpResponse::NoContent().finish())
        }
        Operation::ListLayers => {
            let layers: Vec<_> = lambda
                .list_layers()
                .await?
                .iter()
                .map(|layer| {
                    let latest = lambda.layer_version_value(layer);
                    serde_json::json!({ "LayerName": layer.name, "LayerArn": latest["LayerArn"], "LatestMatchingVersion": latest })
                })
                .collect();
            Ok(HttpResponse::Ok().json(serde_json::json!({ "Layers": layers })))
        }
        Operation::CreateEventSourceMapping => {
            Ok(HttpResponse::Accepted().json(lambda.create_mapping(parse_json(&body)?).await?))
        }
        Operation::ListEventSourceMappings => {
            let mappings = lambda
                .list_mappings(
                    query.get("FunctionName").map(String::as_str),
                    query.get("EventSourceArn").map(String::as_str),
                )
                .await?;
            Ok(HttpResponse::Ok().json(serde_json::json!({ "EventSourceMappings": mappings })))
        }
        Operation::GetEventSourceMapping(uuid) => Ok(HttpResponse::Ok().json(lambda.get_mapping(&uuid).await?)),
        Operation::UpdateEventSourceMapping(uuid) => {
            Ok(HttpResponse::Accepted().json(lambda.update_mapping(&uuid, parse_json(&body)?).await?))
        }
        Operation::DeleteEventSourceMapping(uuid) => {
            Ok(HttpResponse::Accepted().json(lambda.delete_mapping(&uuid).await?))
        }
        Operation::ListFunctionEventInvokeConfigs(name) => {
            let configs = lambda.list_event_invoke_configs(&name).await?;
            Ok(HttpResponse::Ok().json(serde_json::json!({ "FunctionEventInvokeConfigs": configs })))
        }
    }
}

fn layer_version_number(version: &str) -> Result<u64> {
    version.parse().map_err(|_| {
        LambdaError::Validation(format!(
            "1 validation error detected: Value '{version}' at 'versionNumber' failed to satisfy constraint: Member must be a number"
        ))
    })
}

fn max_items(query: &std::collections::HashMap<String, String>) -> Result<Option<u32>> {
    query
        .get("MaxItems")
        .map(|value| value.parse::<u32>())
        .transpose()
        .map_err(|_| LambdaError::InvalidParameterValue("MaxItems must be a number between 1 and 10000".into()))
}

fn with_marker(mut page: serde_json::Value, next: Option<String>) -> serde_json::Value {
    if let Some(next) = next {
        page["NextMarker"] = next.into();
    }
    page
}

/// A JSON body that may be empty (PublishVersion's is optional).
fn parse_json_or_default<T: DeserializeOwned + Default>(body: &[u8]) -> Result<T> {
    if body.iter().all(u8::is_ascii_whitespace) { Ok(T::default()) } else { parse_json(body) }
}

/// `name` with the `Qualifier` query parameter appended, as a reference.
fn qualified(name: &str, query: &std::collections::HashMap<String, String>) -> String {
    match query.get("Qualifier") {
        Some(qualifier) if !name.contains(':') || name.starts_with("arn:") && name.split(':').count() == 7 => {
            format!("{name}:{qualifier}")
        }
        _ => name.to_owned(),
    }
}

fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T> {
    serde_json::from_slice(body).map_err(|error| match error.classify() {
        serde_json::error::Category::Data => LambdaError::InvalidParameterValue(error.to_string()),
        _ => LambdaError::InvalidRequestContent(error.to_string()),
    })
}

fn header<'a>(request: &'a HttpRequest, name: &str) -> Option<&'a str> {
    request.headers().get(name).and_then(|value| value.to_str().ok())
}

async fn invoke(request: &HttpRequest, lambda: &Lambda, reference: &str, body: Bytes) -> Result<HttpResponse> {
    let invocation_type = match header(request, "x-amz-invocation-type").unwrap_or("RequestResponse") {
        "RequestResponse" => InvocationType::RequestResponse,
        "Event" => InvocationType::Event,
        "DryRun" => InvocationType::DryRun,
        other => {
            return Err(LambdaError::Validation(format!(
                "1 validation error detected: Value '{other}' at 'invocationType' failed to satisfy constraint: Member must satisfy enum value set: [Event, RequestResponse, DryRun]"
            )));
        }
    };
    let tail_logs = match header(request, "x-amz-log-type").unwrap_or("None") {
        "None" => false,
        "Tail" => true,
        other => {
            return Err(LambdaError::Validation(format!(
                "1 validation error detected: Value '{other}' at 'logType' failed to satisfy constraint: Member must satisfy enum value set: [Tail, None]"
            )));
        }
    };
    let client_context = match header(request, "x-amz-client-context") {
        Some(encoded) => {
            let decoded = base64::engine::general_purpose::STANDARD.decode(encoded).map_err(|_| {
                LambdaError::InvalidRequestContent("Client context must be a valid Base64-encoded JSON object.".into())
            })?;
            Some(String::from_utf8_lossy(&decoded).into_owned())
        }
        None => None,
    };
    match lambda.invoke(reference, invocation_type, body, client_context, tail_logs).await? {
        InvokeOutcome::DryRun => Ok(HttpResponse::NoContent().finish()),
        InvokeOutcome::Queued(request_id) => {
            Ok(HttpResponse::Accepted().insert_header(("x-amzn-RequestId", request_id)).finish())
        }
        InvokeOutcome::Completed(invoked) => {
            let mut response = HttpResponse::Ok();
            response
                .content_type("application/json")
                .insert_header(("x-amzn-RequestId", invoked.request_id.clone()))
                .insert_header(("X-Amz-Executed-Version", invoked.executed_version.clone()));
            if let Some(function_error) = &invoked.function_error {
                response.insert_header(("X-Amz-Function-Error", function_error.clone()));
            }
            if let Some(log_result) = &invoked.log_result {
                response.insert_header(("X-Amz-Log-Result", log_result.clone()));
            }
            Ok(response.body(invoked.payload))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_are_recognised_from_method_and_path() {
        assert_eq!(Operation::parse("POST", "/2015-03-31/functions"), Some(Operation::CreateFunction));
        assert_eq!(Operation::parse("GET", "/2015-03-31/functions/"), Some(Operation::ListFunctions));
        assert_eq!(Operation::parse("GET", "/2015-03-31/functions/echo"), Some(Operation::GetFunction("echo".into())));
        assert_eq!(
            Operation::parse(
                "POST",
                "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Aecho/invocations"
            ),
            Some(Operation::Invoke("arn:aws:lambda:us-east-1:000000000000:function:echo".into()))
        );
        assert_eq!(
            Operation::parse("PUT", "/2015-03-31/functions/echo/code"),
            Some(Operation::UpdateFunctionCode("echo".into()))
        );
        assert_eq!(
            Operation::parse("GET", "/2015-03-31/functions/echo/policy"),
            Some(Operation::GetPolicy("echo".into()))
        );
        assert_eq!(
            Operation::parse(
                "DELETE",
                "/2017-03-31/tags/arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Aecho"
            ),
            Some(Operation::UntagResource("arn:aws:lambda:us-east-1:000000000000:function:echo".into()))
        );
        assert_eq!(
            Operation::parse("GET", "/2019-09-30/functions/echo/concurrency"),
            Some(Operation::GetFunctionConcurrency("echo".into()))
        );
        assert_eq!(Operation::parse("GET", "/2016-08-19/account-settings/"), Some(Operation::GetAccountSettings));
        assert_eq!(Operation::parse("PATCH", "/2015-03-31/functions/echo/aliases/live"), None);
        assert_eq!(Operation::parse("GET", "/2016-01-01/other"), None);
    }

    #[test]
    fn qualifiers_from_the_query_join_plain_names() {
        let query = [("Qualifier".to_string(), "$LATEST".to_string())].into_iter().collect();
        assert_eq!(qualified("echo", &query), "echo:$LATEST");
        assert_eq!(qualified("echo:prod", &query), "echo:prod");
    }
}
