//! The DynamoDB JSON API front (`X-Amz-Target: DynamoDB_20120810.<Action>`).
//! Requests are SigV4-checked and parsed into an action; actions this
//! service does not serve yet are answered as DynamoDB answers an unknown
//! operation.

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use nubo_host::sigv4::Credentials;

const TARGET_PREFIX: &str = "DynamoDB_20120810.";

pub fn routes(routes: &mut web::ServiceConfig, credentials: Credentials) {
    routes.app_data(web::Data::new(credentials)).default_service(web::to(handle));
}

/// An error in the DynamoDB JSON protocol shape.
fn error(status: StatusCode, code: &str, message: &str) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("application/x-amz-json-1.0")
        .insert_header(("x-amzn-RequestId", nubo_host::http::request_id()))
        .json(serde_json::json!({
            "__type": format!("com.amazonaws.dynamodb.v20120810#{code}"),
            "message": message,
        }))
}

async fn handle(request: HttpRequest, body: web::Bytes, credentials: web::Data<Credentials>) -> HttpResponse {
    if let Err(auth) = nubo_host::http::verify_sigv4(&credentials, &request, &body, true) {
        let status = StatusCode::from_u16(auth.http_status()).unwrap_or(StatusCode::FORBIDDEN);
        return error(status, auth.aws_code(), &auth.to_string());
    }
    let target = request.headers().get("x-amz-target").and_then(|value| value.to_str().ok()).unwrap_or("");
    let action = target.strip_prefix(TARGET_PREFIX).unwrap_or(target);
    tracing::debug!(action, "dynamodb request");
    error(StatusCode::BAD_REQUEST, "UnknownOperationException", "")
}
