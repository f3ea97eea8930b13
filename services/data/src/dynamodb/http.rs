//! The DynamoDB JSON protocol front (`X-Amz-Target: DynamoDB_20120810.<Action>`,
//! `application/x-amz-json-1.0`): SigV4-checked, parsed into an [`Action`],
//! executed, and answered with DynamoDB's error shapes.

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use nubo_host::sigv4::{AuthError, Credentials};

use super::{
    Action, Dynamo,
    error::{DynamoError, ErrorKind},
};

const TARGET_PREFIX: &str = "DynamoDB_20120810.";
const STREAMS_TARGET_PREFIX: &str = "DynamoDBStreams_20120810.";
/// The largest request body read (a 25-item batch of 400 KB items, and more).
const MAX_BODY: usize = 16 * 1024 * 1024;

pub fn routes(routes: &mut web::ServiceConfig, dynamo: Dynamo, credentials: Credentials) {
    routes
        .app_data(web::Data::new(dynamo))
        .app_data(web::Data::new(credentials))
        .app_data(web::PayloadConfig::new(MAX_BODY))
        .default_service(web::to(handle));
}

fn respond(status: StatusCode, body: &serde_json::Value) -> HttpResponse {
    let body = body.to_string();
    HttpResponse::build(status)
        .content_type("application/x-amz-json-1.0")
        .insert_header(("x-amzn-RequestId", nubo_host::http::request_id()))
        .insert_header(("x-amz-crc32", crc32(body.as_bytes()).to_string()))
        .body(body)
}

fn error(error: &DynamoError) -> HttpResponse {
    let status = StatusCode::from_u16(error.kind.status()).unwrap_or(StatusCode::BAD_REQUEST);
    respond(status, &error.body())
}

fn auth_error(auth: &AuthError) -> DynamoError {
    let kind = match auth {
        AuthError::Missing => ErrorKind::MissingAuthenticationToken,
        AuthError::Incomplete(_) => ErrorKind::IncompleteSignature,
        AuthError::UnknownKey => ErrorKind::UnrecognizedClient,
        AuthError::Mismatch | AuthError::Expired { .. } => ErrorKind::InvalidSignature,
    };
    DynamoError::new(kind, auth.to_string())
}

/// CRC-32 (IEEE) of the body, which DynamoDB sends as `x-amz-crc32` and
/// some SDKs verify.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for byte in bytes {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xedb8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

async fn handle(
    request: HttpRequest,
    body: web::Bytes,
    dynamo: web::Data<Dynamo>,
    credentials: web::Data<Credentials>,
) -> HttpResponse {
    if let Err(auth) = nubo_host::http::verify_sigv4(&credentials, &request, &body, true) {
        return error(&auth_error(&auth));
    }
    let target = request.headers().get("x-amz-target").and_then(|value| value.to_str().ok()).unwrap_or("");
    let action = match (target.strip_prefix(TARGET_PREFIX), target.strip_prefix(STREAMS_TARGET_PREFIX)) {
        (Some(name), _) => Action::parse(name),
        (_, Some(name)) => Action::parse_streams(name),
        _ => None,
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
        Ok(response) => respond(StatusCode::OK, &response),
        Err(failure) => {
            tracing::debug!(?action, error = %failure, "dynamodb request refused");
            error(&failure)
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(super::crc32(b"123456789"), 0xcbf4_3926);
    }
}
