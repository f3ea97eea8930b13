//! The cluster credential: a shared secret every internal gRPC call carries
//! as `authorization: Bearer <token>`, so only nubo's own services reach the
//! internal plane. Clients attach it with [`ClusterToken`] (a tonic
//! interceptor); servers check it in `nubo_host::grpc`.

use std::sync::Arc;

use tonic::{
    metadata::{Ascii, MetadataValue},
    service::Interceptor,
    transport::Channel,
};

/// The metadata key the credential travels in.
pub const METADATA_KEY: &str = "authorization";

/// The shared secret of one deployment. Cloning is cheap; `Debug` never
/// prints the secret.
#[derive(Clone)]
pub struct ClusterToken {
    secret: Arc<str>,
    header: MetadataValue<Ascii>,
}

impl std::fmt::Debug for ClusterToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClusterToken(..)")
    }
}

/// Why a string cannot be a cluster token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the cluster token must be at least 16 characters long")]
    TooShort,
    #[error("the cluster token must be printable ASCII without spaces")]
    NotPrintable,
}

impl ClusterToken {
    /// The shortest secret accepted: guessing 16 printable characters is
    /// out of reach, and an operator's `openssl rand -hex 16` fits.
    pub const MIN_LEN: usize = 16;

    pub fn new(secret: &str) -> Result<Self, TokenError> {
        if secret.len() < Self::MIN_LEN {
            return Err(TokenError::TooShort);
        }
        if !secret.bytes().all(|byte| byte.is_ascii_graphic()) {
            return Err(TokenError::NotPrintable);
        }
        let header = format!("Bearer {secret}").parse().map_err(|_| TokenError::NotPrintable)?;
        Ok(Self { secret: secret.into(), header })
    }

    /// The secret itself, for keys derived from it (STS session tokens).
    pub fn secret(&self) -> &str {
        &self.secret
    }

    /// Whether a received `authorization` value carries this token, compared
    /// in time independent of where the first difference is.
    pub fn admits(&self, authorization: Option<&[u8]>) -> bool {
        let expected = self.header.as_bytes();
        let Some(received) = authorization else { return false };
        if received.len() != expected.len() {
            return false;
        }
        received.iter().zip(expected).fold(0u8, |difference, (a, b)| difference | (a ^ b)) == 0
    }
}

impl Interceptor for ClusterToken {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        request.metadata_mut().insert(METADATA_KEY, self.header.clone());
        Ok(request)
    }
}

/// A channel to another service that presents the cluster credential on
/// every call: what every typed client is built on.
pub type Link = tonic::service::interceptor::InterceptedService<Channel, ClusterToken>;

/// Wraps a channel so its calls carry `token`.
pub fn link(channel: Channel, token: ClusterToken) -> Link {
    tonic::service::interceptor::InterceptedService::new(channel, token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_bearer_value_is_admitted() {
        let token = ClusterToken::new("0123456789abcdef").unwrap();
        assert!(token.admits(Some(b"Bearer 0123456789abcdef")));
        assert!(!token.admits(Some(b"Bearer 0123456789abcdeF")));
        assert!(!token.admits(Some(b"Bearer 0123456789abcde")));
        assert!(!token.admits(Some(b"0123456789abcdef")));
        assert!(!token.admits(None));
    }

    #[test]
    fn short_or_unprintable_secrets_are_refused() {
        assert_eq!(ClusterToken::new("short").unwrap_err(), TokenError::TooShort);
        assert_eq!(ClusterToken::new("0123456789 abcdef").unwrap_err(), TokenError::NotPrintable);
    }
}
