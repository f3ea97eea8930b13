//! The gateway's errors: management API errors in API Gateway's REST-JSON
//! shape, and the fixed messages user APIs answer with.

use actix_web::{HttpResponse, ResponseError, http::StatusCode};
use nubo_host::front::{AwsError, Protocol};
use nubo_proto::RemoteError;

#[derive(Debug, Clone, thiserror::Error)]
pub enum GatewayError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Service(String),
}

pub type Result<T> = std::result::Result<T, GatewayError>;

impl GatewayError {
    fn code(&self) -> &'static str {
        match self {
            GatewayError::NotFound(_) => "NotFoundException",
            GatewayError::BadRequest(_) => "BadRequestException",
            GatewayError::Conflict(_) => "ConflictException",
            GatewayError::Service(_) => "InternalServerErrorException",
        }
    }

    fn status(&self) -> u16 {
        match self {
            GatewayError::NotFound(_) => 404,
            GatewayError::BadRequest(_) => 400,
            GatewayError::Conflict(_) => 409,
            GatewayError::Service(_) => 500,
        }
    }
}

impl From<RemoteError> for GatewayError {
    fn from(error: RemoteError) -> Self {
        tracing::error!(%error, "dependency failed");
        GatewayError::Service(format!("{} is unavailable", error.service))
    }
}

impl ResponseError for GatewayError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        Protocol::RestJson.render(&AwsError::new(self.status(), self.code(), self.to_string()))
    }
}

/// The fixed JSON bodies user APIs answer with when no integration does.
pub fn user_api_error(status: u16, message: &str) -> HttpResponse {
    HttpResponse::build(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .insert_header(("apigw-requestid", nubo_host::front::request_id()))
        .json(serde_json::json!({ "message": message }))
}
