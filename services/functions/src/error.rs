//! The functions service's errors and their Lambda API shapes. Conversion
//! to the wire happens here and nowhere else.

use actix_web::{HttpResponse, ResponseError, http::StatusCode};
use nubo_host::front::{AwsError, Protocol};
use nubo_proto::{ErrorCode, RemoteError};

#[derive(Debug, Clone, thiserror::Error)]
pub enum LambdaError {
    #[error("Function not found: {0}")]
    FunctionNotFound(String),
    /// Another kind of resource (an alias, a policy statement) is missing;
    /// the message is Lambda's whole sentence.
    #[error("{0}")]
    ResourceNotFound(String),
    #[error("Function already exist: {0}")]
    FunctionExists(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    PreconditionFailed(String),
    #[error("{0}")]
    InvalidParameterValue(String),
    #[error("{0}")]
    Validation(String),
    #[error("Could not parse request body into json: {0}")]
    InvalidRequestContent(String),
    #[error("{0}")]
    RequestTooLarge(String),
    /// Throttled; the `Reason` Lambda gives.
    #[error("Rate Exceeded.")]
    TooManyRequests(&'static str),
    #[error("The resource you requested does not exist.")]
    UnknownOperation,
    /// An AWS error another service answered with, re-raised as it is.
    #[error("{}", .0.message)]
    Remote(RemoteError),
    #[error("{0}")]
    Service(String),
}

pub type Result<T> = std::result::Result<T, LambdaError>;

impl LambdaError {
    pub fn aws_code(&self) -> &'static str {
        match self {
            LambdaError::FunctionNotFound(_) | LambdaError::ResourceNotFound(_) | LambdaError::UnknownOperation => {
                "ResourceNotFoundException"
            }
            LambdaError::FunctionExists(_) | LambdaError::Conflict(_) => "ResourceConflictException",
            LambdaError::InvalidParameterValue(_) => "InvalidParameterValueException",
            LambdaError::PreconditionFailed(_) => "PreconditionFailedException",
            LambdaError::Validation(_) => "ValidationException",
            LambdaError::InvalidRequestContent(_) => "InvalidRequestContentException",
            LambdaError::RequestTooLarge(_) => "RequestTooLargeException",
            LambdaError::TooManyRequests(_) => "TooManyRequestsException",
            LambdaError::Remote(_) => "ServiceException",
            LambdaError::Service(_) => "ServiceException",
        }
    }

    pub fn code(&self) -> ErrorCode {
        match self {
            LambdaError::FunctionNotFound(_) | LambdaError::ResourceNotFound(_) | LambdaError::UnknownOperation => {
                ErrorCode::NotFound
            }
            LambdaError::FunctionExists(_) => ErrorCode::AlreadyExists,
            LambdaError::Conflict(_) | LambdaError::PreconditionFailed(_) => ErrorCode::ConditionFailed,
            LambdaError::InvalidParameterValue(_)
            | LambdaError::Validation(_)
            | LambdaError::InvalidRequestContent(_)
            | LambdaError::RequestTooLarge(_) => ErrorCode::InvalidArgument,
            LambdaError::TooManyRequests(_) => ErrorCode::Throttled,
            LambdaError::Remote(remote) => remote.code,
            LambdaError::Service(_) => ErrorCode::Internal,
        }
    }

    fn status(&self) -> u16 {
        match self {
            LambdaError::Remote(remote) => remote.code.http_status(),
            LambdaError::RequestTooLarge(_) => 413,
            LambdaError::PreconditionFailed(_) => 412,
            LambdaError::Service(_) => 500,
            other => other.code().http_status(),
        }
    }
}

impl From<RemoteError> for LambdaError {
    fn from(error: RemoteError) -> Self {
        match error.code {
            // An answer in AWS's terms (a missing object, a refused
            // condition) is the caller's to see.
            ErrorCode::InvalidArgument
            | ErrorCode::NotFound
            | ErrorCode::AlreadyExists
            | ErrorCode::ConditionFailed
                if error.aws_name.is_some() =>
            {
                LambdaError::Remote(error)
            }
            _ => {
                tracing::error!(%error, "dependency failed");
                LambdaError::Service(format!("{} is unavailable: {}", error.service, error.message))
            }
        }
    }
}

impl From<LambdaError> for tonic::Status {
    fn from(error: LambdaError) -> Self {
        match error {
            LambdaError::Remote(remote) => remote.into(),
            other => nubo_proto::aws_status(other.code(), other.aws_code(), other.to_string()),
        }
    }
}

impl From<&LambdaError> for AwsError {
    fn from(error: &LambdaError) -> Self {
        if let LambdaError::Remote(remote) = error
            && let Some(name) = &remote.aws_name
        {
            return AwsError::new(remote.code.http_status(), name.clone(), remote.message.clone());
        }
        let mut aws = AwsError::new(error.status(), error.aws_code(), error.to_string())
            .with("Type", if error.status() >= 500 { "Service" } else { "User" });
        if let LambdaError::TooManyRequests(reason) = error {
            aws = aws.with("Reason", *reason);
        }
        aws
    }
}

impl ResponseError for LambdaError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        Protocol::RestJson.render(&AwsError::from(self))
    }
}
