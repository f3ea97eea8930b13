//! S3's errors, by name, with the messages S3 sends. Each is an
//! [`AwsError`]; `Resource` and `RequestId` are added where it is rendered.

use nubo_host::front::AwsError;

use crate::{blobs::BlobError, catalog::CatalogError};

pub fn no_such_bucket(bucket: &str) -> AwsError {
    AwsError::new(404, "NoSuchBucket", "The specified bucket does not exist").with("BucketName", bucket)
}

pub fn no_such_key(key: &str) -> AwsError {
    AwsError::new(404, "NoSuchKey", "The specified key does not exist.").with("Key", key)
}

pub fn no_such_version(key: &str, version_id: &str) -> AwsError {
    AwsError::new(404, "NoSuchVersion", "The specified version does not exist.")
        .with("Key", key)
        .with("VersionId", version_id)
}

pub fn no_such_upload(upload_id: &str) -> AwsError {
    AwsError::new(
        404,
        "NoSuchUpload",
        "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.",
    )
    .with("UploadId", upload_id)
}

pub fn access_denied() -> AwsError {
    AwsError::new(403, "AccessDenied", "Access Denied")
}

pub fn invalid_argument(message: impl Into<String>, name: &str, value: &str) -> AwsError {
    AwsError::new(400, "InvalidArgument", message).with("ArgumentName", name).with("ArgumentValue", value)
}

pub fn invalid_request(message: impl Into<String>) -> AwsError {
    AwsError::new(400, "InvalidRequest", message)
}

pub fn precondition_failed(condition: &str) -> AwsError {
    AwsError::new(412, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold")
        .with("Condition", condition)
}

pub fn bad_digest(algorithm: &str) -> AwsError {
    if algorithm == "MD5" {
        AwsError::new(400, "BadDigest", "The Content-MD5 you specified did not match what we received.")
    } else {
        AwsError::new(400, "BadDigest", format!("The {algorithm} you specified did not match the calculated checksum."))
    }
}

pub fn not_implemented(what: &str) -> AwsError {
    AwsError::new(501, "NotImplemented", "A header you provided implies functionality that is not implemented")
        .with("Header", what)
}

pub fn conflict() -> AwsError {
    AwsError::new(
        409,
        "ConditionalRequestConflict",
        "The conditional request cannot succeed due to a conflicting operation against this resource.",
    )
}

/// The server's own failure: logged here, reported as S3 reports one.
pub fn internal(error: impl std::fmt::Display) -> AwsError {
    tracing::error!(%error, "storage failure");
    AwsError::new(500, "InternalError", "We encountered an internal error. Please try again.")
}

/// A failed S3 operation: the AWS error to render and any headers S3 sends
/// with it (a delete marker's). The catalog's and the blob store's failures
/// convert into S3's `InternalError`, so `?` works across the layers.
#[derive(Debug)]
pub struct S3Error(pub AwsError, pub Vec<(&'static str, String)>);

pub type S3Result<T> = Result<T, S3Error>;

impl From<AwsError> for S3Error {
    fn from(error: AwsError) -> Self {
        S3Error(error, Vec::new())
    }
}

impl From<CatalogError> for S3Error {
    fn from(error: CatalogError) -> Self {
        S3Error(internal(error), Vec::new())
    }
}

impl From<BlobError> for S3Error {
    fn from(error: BlobError) -> Self {
        S3Error(internal(error), Vec::new())
    }
}
