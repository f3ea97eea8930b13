//! The error vocabulary shared by every service. A service's domain error
//! maps to an [`ErrorCode`]; the code travels over gRPC as a `tonic::Code`
//! and becomes an HTTP status at each AWS front end.

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
        }
    }
}

/// An error returned by another service over gRPC.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{service}: {message}")]
pub struct RemoteError {
    pub service: &'static str,
    pub code: ErrorCode,
    pub message: String,
}

impl RemoteError {
    pub fn from_status(service: &'static str, status: &tonic::Status) -> Self {
        Self { service, code: ErrorCode::from_grpc(status.code()), message: status.message().to_owned() }
    }
}

impl From<RemoteError> for tonic::Status {
    fn from(error: RemoteError) -> Self {
        tonic::Status::new(error.code.grpc(), error.message)
    }
}

/// Builds the gRPC status for a domain error.
pub fn status(code: ErrorCode, message: impl Into<String>) -> tonic::Status {
    tonic::Status::new(code.grpc(), message)
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
        ] {
            assert_eq!(ErrorCode::from_grpc(code.grpc()), code);
        }
    }
}
