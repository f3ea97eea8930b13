//! DynamoDB's errors: the `__type` names and messages AWS answers with,
//! rendered in the JSON protocol's shape by the front.

use serde_json::Value;

/// The error kinds DynamoDB answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    Validation,
    ResourceNotFound,
    ResourceInUse,
    ConditionalCheckFailed,
    TransactionCanceled,
    IdempotentParameterMismatch,
    ItemCollectionSizeLimitExceeded,
    Serialization,
    UnknownOperation,
    InternalServerError,
    ExpiredIterator,
    TrimmedDataAccess,
    TableNotFound,
}

impl ErrorKind {
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::Validation => "ValidationException",
            ErrorKind::ResourceNotFound => "ResourceNotFoundException",
            ErrorKind::ResourceInUse => "ResourceInUseException",
            ErrorKind::ConditionalCheckFailed => "ConditionalCheckFailedException",
            ErrorKind::TransactionCanceled => "TransactionCanceledException",
            ErrorKind::IdempotentParameterMismatch => "IdempotentParameterMismatchException",
            ErrorKind::ItemCollectionSizeLimitExceeded => "ItemCollectionSizeLimitExceededException",
            ErrorKind::Serialization => "SerializationException",
            ErrorKind::UnknownOperation => "UnknownOperationException",
            ErrorKind::InternalServerError => "InternalServerError",
            ErrorKind::ExpiredIterator => "ExpiredIteratorException",
            ErrorKind::TrimmedDataAccess => "TrimmedDataAccessException",
            ErrorKind::TableNotFound => "TableNotFoundException",
        }
    }

    /// The namespace DynamoDB prefixes `__type` with.
    pub fn namespace(self) -> &'static str {
        match self {
            ErrorKind::Validation | ErrorKind::Serialization | ErrorKind::UnknownOperation => {
                "com.amazon.coral.validate"
            }
            _ => "com.amazonaws.dynamodb.v20120810",
        }
    }

    pub fn status(self) -> u16 {
        match self {
            ErrorKind::InternalServerError => 500,
            _ => 400,
        }
    }
}

/// A DynamoDB error: its kind, message, and for some kinds a payload
/// (`Item` of a failed condition, `CancellationReasons`).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}: {message}", kind.name())]
pub struct DynamoError {
    pub kind: ErrorKind,
    message: String,
    pub extra: Option<(&'static str, Value)>,
}

pub type Result<T> = std::result::Result<T, DynamoError>;

impl DynamoError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into(), extra: None }
    }

    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Validation, message)
    }

    /// A parameter rule broken, in DynamoDB's wording.
    pub fn invalid_parameter(message: impl AsRef<str>) -> Self {
        Self::validation(format!("One or more parameter values were invalid: {}", message.as_ref()))
    }

    pub fn not_found() -> Self {
        Self::new(ErrorKind::ResourceNotFound, "Requested resource not found")
    }

    pub fn condition_failed() -> Self {
        Self::new(ErrorKind::ConditionalCheckFailed, "The conditional request failed")
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InternalServerError, message)
    }

    pub fn with(mut self, member: &'static str, value: Value) -> Self {
        self.extra = Some((member, value));
        self
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    /// The error as the front kit renders it: `__type` with DynamoDB's
    /// namespace, `message`, and the extra member of some kinds.
    pub fn to_aws(&self) -> nubo_host::front::AwsError {
        let mut aws = nubo_host::front::AwsError::new(
            self.kind.status(),
            format!("{}#{}", self.kind.namespace(), self.kind.name()),
            self.message.clone(),
        );
        if let Some((member, value)) = &self.extra {
            aws = aws.with(member, value.clone());
        }
        aws
    }
}
