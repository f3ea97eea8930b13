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
};

/// The largest request body read (a 50 MB zip, base64-encoded, plus JSON).
pub const MAX_BODY: usize = 70 * 1024 * 1024;

/// One Lambda API operation, with its path parameters.
#[derive(Debug, PartialEq, Eq)]
pub enum Operation {
    CreateFunction,
    ListFunctions,
    GetFunction(String),
    GetFunctionConfiguration(String),
    UpdateFunctionCode(String),
    UpdateFunctionConfiguration(String),
    DeleteFunction(String),
    Invoke(String),
}

impl nubo_host::front::Operation for Operation {
    fn name(&self) -> &'static str {
        match self {
            Operation::CreateFunction => "CreateFunction",
            Operation::ListFunctions => "ListFunctions",
            Operation::GetFunction(_) => "GetFunction",
            Operation::GetFunctionConfiguration(_) => "GetFunctionConfiguration",
            Operation::UpdateFunctionCode(_) => "UpdateFunctionCode",
            Operation::UpdateFunctionConfiguration(_) => "UpdateFunctionConfiguration",
            Operation::DeleteFunction(_) => "DeleteFunction",
            Operation::Invoke(_) => "Invoke",
        }
    }
}

impl Operation {
    /// Recognises an operation from its method and (decoded) path.
    pub fn parse(method: &str, path: &str) -> Option<Self> {
        let path = path.strip_prefix("/2015-03-31/functions")?;
        let segments: Vec<&str> = path.trim_matches('/').split('/').filter(|s| !s.is_empty()).collect();
        let name = |index: usize| segments.get(index).map(|s| nubo_host::sigv4::percent_decode(s));
        Some(match (method, segments.len(), segments.get(1).copied()) {
            ("POST", 0, _) => Operation::CreateFunction,
            ("GET", 0, _) => Operation::ListFunctions,
            ("GET", 1, _) => Operation::GetFunction(name(0)?),
            ("DELETE", 1, _) => Operation::DeleteFunction(name(0)?),
            ("GET", 2, Some("configuration")) => Operation::GetFunctionConfiguration(name(0)?),
            ("PUT", 2, Some("configuration")) => Operation::UpdateFunctionConfiguration(name(0)?),
            ("PUT", 2, Some("code")) => Operation::UpdateFunctionCode(name(0)?),
            ("POST", 2, Some("invocations")) => Operation::Invoke(name(0)?),
            _ => return None,
        })
    }
}

/// The Lambda front: REST-JSON, signed as `lambda` with five minutes of
/// clock skew, as Lambda allows.
pub fn front(context: &nubo_host::Context) -> AwsFront {
    AwsFront::new(Protocol::RestJson, context.policy("lambda", 5), context.credentials.clone(), MAX_BODY)
}

pub fn routes(routes: &mut web::ServiceConfig, lambda: Lambda, front: AwsFront) {
    routes.app_data(web::Data::new(lambda)).app_data(web::Data::new(front)).default_service(web::to(handle));
}

async fn handle(
    request: HttpRequest,
    payload: web::Payload,
    lambda: web::Data<Lambda>,
    front: web::Data<AwsFront>,
) -> Result<HttpResponse> {
    use nubo_host::front::Operation as _;
    let operation = Operation::parse(request.method().as_str(), request.path());
    if let Some(operation) = &operation {
        nubo_host::front::name_operation(&request, operation.name());
    }
    let body = match front.authenticate(&request, payload).await {
        Ok(signed) => {
            tracing::debug!(principal = %signed.principal.arn, path = request.path(), "request authenticated");
            signed.body
        }
        Err(error) => return Ok(front.error(&error)),
    };
    let operation = operation.ok_or(LambdaError::UnknownOperation)?;
    let query = web::Query::<std::collections::HashMap<String, String>>::from_query(request.query_string())
        .map(web::Query::into_inner)
        .unwrap_or_default();
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
        Operation::GetFunction(name) => {
            let function = lambda.get_function(&qualified(&name, &query)).await?;
            Ok(HttpResponse::Ok().json(serde_json::json!({
                "Configuration": lambda.configuration(&function),
                "Code": {
                    "RepositoryType": "S3",
                    "Location": format!("s3://{}/{}", function.code_bucket, function.code_key),
                },
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
    }
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
        InvokeOutcome::Queued => {
            Ok(HttpResponse::Accepted().insert_header(("x-amzn-RequestId", nubo_host::front::request_id())).finish())
        }
        InvokeOutcome::Completed(invoked) => {
            let mut response = HttpResponse::Ok();
            response
                .content_type("application/json")
                .insert_header(("x-amzn-RequestId", invoked.request_id.clone()))
                .insert_header(("X-Amz-Executed-Version", "$LATEST"));
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
        assert_eq!(Operation::parse("GET", "/2015-03-31/functions/echo/policy"), None);
        assert_eq!(Operation::parse("GET", "/2016-01-01/other"), None);
    }

    #[test]
    fn qualifiers_from_the_query_join_plain_names() {
        let query = [("Qualifier".to_string(), "$LATEST".to_string())].into_iter().collect();
        assert_eq!(qualified("echo", &query), "echo:$LATEST");
        assert_eq!(qualified("echo:prod", &query), "echo:prod");
    }
}
