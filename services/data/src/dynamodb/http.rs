//! The DynamoDB JSON protocol front (`X-Amz-Target: DynamoDB_20120810.<Action>`,
//! `application/x-amz-json-1.0`), written with the host's front kit: parsed
//! into an [`Action`], SigV4-checked once (signed as `dynamodb`, 15 minutes
//! of skew), executed, and answered in the awsJson 1.0 shape.

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use nubo_host::front::{AwsFront, Operation as _, Protocol};

use super::{
    Action, Dynamo,
    error::{DynamoError, ErrorKind},
};

const TARGET_PREFIX: &str = "DynamoDB_20120810.";
const STREAMS_TARGET_PREFIX: &str = "DynamoDBStreams_20120810.";
/// The largest request body read (a 25-item batch of 400 KB items, and more).
const MAX_BODY: usize = 16 * 1024 * 1024;

/// The DynamoDB front of a deployment.
pub fn front(context: &nubo_host::Context) -> AwsFront {
    AwsFront::new(Protocol::AwsJson10, context.policy("dynamodb", 15), context.credentials.clone(), MAX_BODY)
}

pub fn routes(routes: &mut web::ServiceConfig, dynamo: Dynamo, front: AwsFront) {
    routes.app_data(web::Data::new(dynamo)).app_data(web::Data::new(front)).default_service(web::to(handle));
}

fn respond(body: &serde_json::Value) -> HttpResponse {
    let body = body.to_string();
    HttpResponse::build(StatusCode::OK)
        .content_type("application/x-amz-json-1.0")
        .insert_header(("x-amzn-RequestId", nubo_host::front::request_id()))
        // Some SDKs check the CRC-32 of the body DynamoDB sends beside it.
        .insert_header(("x-amz-crc32", crc32fast::hash(body.as_bytes()).to_string()))
        .body(body)
}

fn error(error: &DynamoError) -> HttpResponse {
    Protocol::AwsJson10.render(&error.to_aws())
}

async fn handle(
    request: HttpRequest,
    payload: web::Payload,
    dynamo: web::Data<Dynamo>,
    front: web::Data<AwsFront>,
) -> HttpResponse {
    let target = request.headers().get("x-amz-target").and_then(|value| value.to_str().ok()).unwrap_or("");
    let action = match (target.strip_prefix(TARGET_PREFIX), target.strip_prefix(STREAMS_TARGET_PREFIX)) {
        (Some(name), _) => Action::parse(name),
        (_, Some(name)) => Action::parse_streams(name),
        _ => None,
    };
    if let Some(action) = action {
        nubo_host::front::name_operation(&request, action.name());
    }
    let body = match front.authenticate(&request, payload).await {
        Ok(signed) => {
            tracing::debug!(principal = %signed.principal.arn, path = request.path(), "request authenticated");
            signed.body
        }
        Err(refused) => return front.error(&refused),
    };
    let Some(action) = action else {
        return error(&DynamoError::new(ErrorKind::UnknownOperation, ""));
    };
    let parsed = if body.is_empty() { Ok(serde_json::json!({})) } else { serde_json::from_slice(&body) };
    let body = match parsed {
        Ok(body @ serde_json::Value::Object(_)) => body,
        Ok(_) | Err(_) => {
            return error(&DynamoError::new(
                ErrorKind::Serialization,
                "Start of structure or map found where not expected",
            ));
        }
    };
    match dynamo.execute(action, body).await {
        Ok(response) => respond(&response),
        Err(failure) => {
            tracing::debug!(?action, error = %failure, "dynamodb request refused");
            error(&failure)
        }
    }
}
