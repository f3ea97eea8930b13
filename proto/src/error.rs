//! The error vocabulary shared by every service. A service's domain error
//! maps to an [`ErrorCode`]; the code travels over gRPC as a `tonic::Code`
//! and becomes an HTTP status at each AWS front end. The AWS error name
//! travels beside it as structured metadata ([`AWS_ERROR_KEY`]), so a caller
//! re-raises the same AWS error without parsing the message.

/// What went wrong, independent of the protocol that reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// The request is malformed or names an impossible value.
    InvalidArgument,
    /// The named resource does not exist.
    NotFound,
    /// The resource exists already.
    AlreadyExists,
    /// A compare-and-set or condition did not hold.
    ConditionFailed,
    /// Too many requests; the caller should back off.
    Throttled,
    /// The service or one it depends on cannot answer now.
    Unavailable,
    /// The operation is not supported.
    Unimplemented,
    /// A bug or an unexpected failure on our side.
    Internal,
    /// The caller did not present the cluster credential.
    Unauthenticated,
}

impl ErrorCode {
    /// The gRPC status code that carries this error between services.
    pub fn grpc(self) -> tonic::Code {
        match self {
            Self::InvalidArgument => tonic::Code::InvalidArgument,
            Self::NotFound => tonic::Code::NotFound,
            Self::AlreadyExists => tonic::Code::AlreadyExists,
            Self::ConditionFailed => tonic::Code::FailedPrecondition,
            Self::Throttled => tonic::Code::ResourceExhausted,
            Self::Unavailable => tonic::Code::Unavailable,
            Self::Unimplemented => tonic::Code::Unimplemented,
            Self::Internal => tonic::Code::Internal,
            Self::Unauthenticated => tonic::Code::Unauthenticated,
        }
    }

    /// The inverse of [`ErrorCode::grpc`]; transport failures read as
    /// `Unavailable`.
    pub fn from_grpc(code: tonic::Code) -> Self {
        match code {
            tonic::Code::InvalidArgument | tonic::Code::OutOfRange => Self::InvalidArgument,
            tonic::Code::NotFound => Self::NotFound,
            tonic::Code::AlreadyExists => Self::AlreadyExists,
            tonic::Code::FailedPrecondition | tonic::Code::Aborted => Self::ConditionFailed,
            tonic::Code::ResourceExhausted => Self::Throttled,
            tonic::Code::Unavailable | tonic::Code::DeadlineExceeded | tonic::Code::Cancelled => Self::Unavailable,
            tonic::Code::Unimplemented => Self::Unimplemented,
            tonic::Code::Unauthenticated | tonic::Code::PermissionDenied => Self::Unauthenticated,
            _ => Self::Internal,
        }
    }

    /// The HTTP status an AWS front end answers with for this error.
    pub fn http_status(self) -> u16 {
        match self {
            Self::InvalidArgument => 400,
            Self::NotFound => 404,
            Self::AlreadyExists | Self::ConditionFailed => 409,
            Self::Throttled => 429,
            Self::Unavailable => 503,
            Self::Unimplemented => 501,
            Self::Internal => 500,
            Self::Unauthenticated => 403,
        }
    }
}

/// The gRPC metadata key that carries the AWS error name of a failed call
/// (`ResourceNotFoundException`), beside the code and the plain message.
pub const AWS_ERROR_KEY: &str = "nubo-aws-error";

/// An error returned by another service over gRPC.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{service}: {message}")]
pub struct RemoteError {
    pub service: &'static str,
    pub code: ErrorCode,
    /// The AWS error name the remote service answered with, if it is one.
    pub aws_name: Option<String>,
    /// The message as the remote service wrote it, for the AWS error body.
    pub message: String,
}

impl RemoteError {
    pub fn from_status(service: &'static str, status: &tonic::Status) -> Self {
        let aws_name = status
            .metadata()
            .get(AWS_ERROR_KEY)
            .and_then(|value| value.to_str().ok())
            .filter(|name| !name.is_empty())
            .map(str::to_owned);
        Self { service, code: ErrorCode::from_grpc(status.code()), aws_name, message: status.message().to_owned() }
    }

    /// A failure of this side of the call (an unreadable answer, a local
    /// write), reported as the remote service's.
    pub fn internal(service: &'static str, message: impl Into<String>) -> Self {
        Self { service, code: ErrorCode::Internal, aws_name: None, message: message.into() }
    }
}

impl From<RemoteError> for tonic::Status {
    fn from(error: RemoteError) -> Self {
        match &error.aws_name {
            Some(name) => aws_status(error.code, name, error.message),
            None => status(error.code, error.message),
        }
    }
}

/// Builds the gRPC status for a domain error that has no AWS name.
pub fn status(code: ErrorCode, message: impl Into<String>) -> tonic::Status {
    tonic::Status::new(code.grpc(), message)
}

/// Builds the gRPC status for an AWS error: the code, the AWS error name as
/// metadata, and the message as AWS would word it.
pub fn aws_status(code: ErrorCode, aws_name: &str, message: impl Into<String>) -> tonic::Status {
    let mut status = tonic::Status::new(code.grpc(), message);
    // AWS error names are ASCII identifiers; anything else is left out
    // rather than failing the whole answer.
    if let Ok(value) = aws_name.parse() {
        status.metadata_mut().insert(AWS_ERROR_KEY, value);
    }
    status
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_survives_the_grpc_round_trip() {
        for code in [
            ErrorCode::InvalidArgument,
            ErrorCode::NotFound,
            ErrorCode::AlreadyExists,
            ErrorCode::ConditionFailed,
            ErrorCode::Throttled,
            ErrorCode::Unavailable,
            ErrorCode::Unimplemented,
            ErrorCode::Internal,
            ErrorCode::Unauthenticated,
        ] {
            assert_eq!(ErrorCode::from_grpc(code.grpc()), code);
        }
    }

    #[test]
    fn the_aws_error_name_crosses_the_wire_as_metadata() {
        let status = aws_status(ErrorCode::NotFound, "ResourceNotFoundException", "Function not found: x");
        let error = RemoteError::from_status("functions", &status);
        assert_eq!(error.code, ErrorCode::NotFound);
        assert_eq!(error.aws_name.as_deref(), Some("ResourceNotFoundException"));
        assert_eq!(error.message, "Function not found: x");
        let again = RemoteError::from_status("functions", &tonic::Status::from(error));
        assert_eq!(again.aws_name.as_deref(), Some("ResourceNotFoundException"));
    }
}
