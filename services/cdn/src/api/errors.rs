//! CloudFront's errors: each store failure under the name and status
//! CloudFront gives it, and the few constructors the operations share.
//! They are rendered once, by the front's `Protocol::RestXml`.

use nubo_host::front::AwsError;
use nubo_proto::ErrorCode;

use crate::{model::Kind, store::StoreError};

pub type Result<T> = std::result::Result<T, AwsError>;

/// `InvalidArgument`: CloudFront's answer for most bad values.
pub fn invalid_argument(message: impl Into<String>) -> AwsError {
    AwsError::new(400, "InvalidArgument", message)
}

/// `MalformedInput`: a body that is not the document the operation takes.
pub fn malformed(message: impl Into<String>) -> AwsError {
    AwsError::new(400, "MalformedInput", message)
}

/// An error of a given name with status 400.
pub fn bad(code: &'static str, message: impl Into<String>) -> AwsError {
    AwsError::new(400, code, message)
}

pub fn missing_if_match() -> AwsError {
    bad("InvalidIfMatchVersion", "The If-Match version is missing or not valid for the resource.")
}

/// What a kind's `Name` held by another resource is called.
fn name_taken(kind: Kind) -> &'static str {
    match kind {
        Kind::CachePolicy => "CachePolicyAlreadyExists",
        Kind::OriginRequestPolicy => "OriginRequestPolicyAlreadyExists",
        Kind::ResponseHeadersPolicy => "ResponseHeadersPolicyAlreadyExists",
        Kind::KeyGroup => "KeyGroupAlreadyExists",
        Kind::OriginAccessControl => "OriginAccessControlAlreadyExists",
        Kind::PublicKey => "PublicKeyAlreadyExists",
        Kind::Distribution => "DistributionAlreadyExists",
    }
}

/// What a resource still in use is called when it is deleted.
pub fn in_use(kind: Kind) -> AwsError {
    let (code, message) = match kind {
        Kind::CachePolicy => (
            "CachePolicyInUse",
            "Cannot delete the cache policy because it is attached to one or more cache behaviors.",
        ),
        Kind::OriginRequestPolicy => (
            "OriginRequestPolicyInUse",
            "Cannot delete the origin request policy because it is attached to one or more cache behaviors.",
        ),
        Kind::ResponseHeadersPolicy => (
            "ResponseHeadersPolicyInUse",
            "Cannot delete the response headers policy because it is attached to one or more cache behaviors.",
        ),
        Kind::PublicKey => ("PublicKeyInUse", "The specified public key is in use by one or more key groups."),
        Kind::KeyGroup => {
            ("ResourceInUse", "Cannot delete the key group because it is in use by one or more distributions.")
        }
        Kind::OriginAccessControl => (
            "OriginAccessControlInUse",
            "Cannot delete the origin access control because it's in use by one or more distributions.",
        ),
        Kind::Distribution => {
            ("DistributionNotDisabled", "The distribution you are trying to delete has not been disabled.")
        }
    };
    AwsError::new(409, code, message)
}

impl From<StoreError> for AwsError {
    fn from(error: StoreError) -> Self {
        let message = error.to_string();
        match error {
            StoreError::NotFound(kind, _) => AwsError::new(404, kind.missing_error(), message),
            StoreError::NoSuchInvalidation(_) => AwsError::new(404, "NoSuchInvalidation", message),
            StoreError::PreconditionFailed => AwsError::new(412, "PreconditionFailed", message),
            StoreError::CallerReferenceUsed(kind, _) => AwsError::new(409, name_taken(kind), message),
            StoreError::InvalidationBatchAlreadyExists => AwsError::new(409, "InvalidationBatchAlreadyExists", message),
            StoreError::CnameAlreadyExists(_) => AwsError::new(409, "CNAMEAlreadyExists", message),
            StoreError::NameTaken(kind, _) => AwsError::new(409, name_taken(kind), message),
            StoreError::InUse(kind) => in_use(kind),
            StoreError::Contended => AwsError::new(
                503,
                "ServiceUnavailable",
                "The request was rejected because CloudFront was still processing a prior request; try again.",
            ),
            StoreError::Remote(remote) => {
                tracing::warn!(error = %remote, "the data service failed a CloudFront request");
                match remote.code {
                    ErrorCode::Throttled => AwsError::new(400, "Throttling", "Rate exceeded"),
                    ErrorCode::Unavailable => {
                        AwsError::new(503, "ServiceUnavailable", "The service is unavailable. Please try again later.")
                    }
                    _ => internal(),
                }
            }
            StoreError::Corrupt(_) => {
                tracing::error!(%error, "a CloudFront record could not be read");
                internal()
            }
        }
    }
}

pub fn internal() -> AwsError {
    AwsError::new(500, "InternalFailure", "The request processing has failed because of an unknown error.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_failures_are_named_as_cloudfront_names_them() {
        let named = |error: StoreError| {
            let error = AwsError::from(error);
            (error.status, error.code.to_string())
        };
        assert_eq!(named(StoreError::NotFound(Kind::Distribution, "E1".into())), (404, "NoSuchDistribution".into()));
        assert_eq!(named(StoreError::NotFound(Kind::CachePolicy, "x".into())), (404, "NoSuchCachePolicy".into()));
        assert_eq!(named(StoreError::NotFound(Kind::KeyGroup, "x".into())), (404, "NoSuchResource".into()));
        assert_eq!(named(StoreError::PreconditionFailed), (412, "PreconditionFailed".into()));
        assert_eq!(
            named(StoreError::CallerReferenceUsed(Kind::Distribution, "E1".into())),
            (409, "DistributionAlreadyExists".into())
        );
        assert_eq!(named(StoreError::CnameAlreadyExists("a".into())), (409, "CNAMEAlreadyExists".into()));
        assert_eq!(
            named(StoreError::NameTaken(Kind::CachePolicy, "p".into())),
            (409, "CachePolicyAlreadyExists".into())
        );
        assert_eq!(named(StoreError::InvalidationBatchAlreadyExists), (409, "InvalidationBatchAlreadyExists".into()));
        assert_eq!(in_use(Kind::Distribution).code, "DistributionNotDisabled");
        assert_eq!(in_use(Kind::KeyGroup).status, 409);
    }
}
