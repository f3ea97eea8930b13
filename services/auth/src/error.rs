//! Cognito's errors: a `__type` from the service's own list and a message
//! worded as Cognito words it, so code that matches either keeps working.

use nubo_host::front::AwsError;
use nubo_proto::RemoteError;

/// One refused request, as Cognito answers it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct CognitoError {
    pub code: &'static str,
    pub message: String,
}

macro_rules! kinds {
    ($($function:ident => $code:literal,)*) => {
        impl CognitoError {
            $(
                pub fn $function(message: impl Into<String>) -> Self {
                    Self { code: $code, message: message.into() }
                }
            )*
        }
    };
}

kinds! {
    invalid_parameter => "InvalidParameterException",
    not_found => "ResourceNotFoundException",
    user_not_found => "UserNotFoundException",
    username_exists => "UsernameExistsException",
    alias_exists => "AliasExistsException",
    group_exists => "GroupExistsException",
    not_authorized => "NotAuthorizedException",
    user_not_confirmed => "UserNotConfirmedException",
    password_reset_required => "PasswordResetRequiredException",
    code_mismatch => "CodeMismatchException",
    expired_code => "ExpiredCodeException",
    invalid_password => "InvalidPasswordException",
    limit_exceeded => "LimitExceededException",
    too_many_requests => "TooManyRequestsException",
    too_many_failed_attempts => "TooManyFailedAttemptsException",
    invalid_configuration => "InvalidUserPoolConfigurationException",
    unsupported_token_type => "UnsupportedTokenTypeException",
    unsupported_operation => "UnsupportedOperationException",
    scope_does_not_exist => "ScopeDoesNotExistException",
    duplicate_provider => "DuplicateProviderException",
    software_token_not_found => "SoftwareTokenMFANotFoundException",
    enable_software_token => "EnableSoftwareTokenMFAException",
    invalid_lambda_response => "InvalidLambdaResponseException",
    lambda_validation => "UserLambdaValidationException",
    unexpected_lambda => "UnexpectedLambdaException",
    concurrent_modification => "ConcurrentModificationException",
    unknown_operation => "UnknownOperationException",
    serialization => "SerializationException",
    internal => "InternalErrorException",
}

impl CognitoError {
    /// The HTTP status Cognito sends with this error: 500 for its own
    /// failures, 400 for everything the caller did.
    pub fn status(&self) -> u16 {
        if self.code == "InternalErrorException" { 500 } else { 400 }
    }

    pub fn to_aws(&self) -> AwsError {
        AwsError::new(self.status(), self.code, self.message.clone())
    }

    /// The pool's `ResourceNotFoundException`.
    pub fn no_pool(pool_id: &str) -> Self {
        Self::not_found(format!("User pool {pool_id} does not exist."))
    }

    pub fn no_client(client_id: &str) -> Self {
        Self::not_found(format!("User pool client {client_id} does not exist."))
    }

    pub fn no_user() -> Self {
        Self::user_not_found("User does not exist.")
    }

    /// A wrong password, and what a missing user says when existence
    /// errors are prevented.
    pub fn incorrect_credentials() -> Self {
        Self::not_authorized("Incorrect username or password.")
    }

    /// A missing, ill-formed or out-of-date field in the request body,
    /// with Cognito's `1 validation error detected` wording.
    pub fn validation(field: &str, constraint: &str) -> Self {
        Self::invalid_parameter(format!(
            "1 validation error detected: Value at '{field}' failed to satisfy constraint: {constraint}"
        ))
    }
}

impl From<RemoteError> for CognitoError {
    /// Data unreachable or failing: Cognito's own fault, never the caller's.
    fn from(error: RemoteError) -> Self {
        tracing::warn!(%error, "a data call failed");
        Self::internal("An internal error occurred, try again.")
    }
}

pub type Result<T, E = CognitoError> = std::result::Result<T, E>;
