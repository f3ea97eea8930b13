//! COGNITO_USER_POOLS authorizers: a token is accepted when one of the
//! authorizer's user pools (`providerARNs`) issued it. Each pool's issuer
//! is whatever nubo's own Cognito (`nubo-auth`) names in the pool's
//! discovery document, asked at the auth service's address — never the
//! token's own `iss`, which anyone can write — and the signature is then
//! checked by the shared JWT verifier against that issuer's JWKS.

use std::time::Duration;

use serde_json::Value;

/// How long a pool's issuer is trusted before the auth service is asked again.
const ISSUER_TTL: Duration = Duration::from_secs(15 * 60);
/// Pools whose issuers are kept at once.
const MAX_POOLS: u64 = 10_000;

#[derive(Clone)]
pub struct CognitoIssuers {
    /// The auth service's public HTTP address (`http://host:port`).
    auth_url: String,
    http: reqwest::Client,
    /// Pool id → issuer; failures are not kept.
    issuers: moka::sync::Cache<String, String>,
}

impl std::fmt::Debug for CognitoIssuers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CognitoIssuers").field("auth_url", &self.auth_url).finish()
    }
}

/// The pool id a provider ARN names (`arn:aws:cognito-idp:{region}:{account}:userpool/{poolId}`).
pub fn pool_id_of(provider_arn: &str) -> Option<&str> {
    provider_arn.rsplit_once(":userpool/").map(|(_, id)| id).filter(|id| !id.is_empty() && !id.contains('/'))
}

impl CognitoIssuers {
    pub fn new(auth_url: String, http: reqwest::Client) -> Self {
        let issuers = moka::sync::Cache::builder().max_capacity(MAX_POOLS).time_to_live(ISSUER_TTL).build();
        Self { auth_url: auth_url.trim_end_matches('/').to_owned(), http, issuers }
    }

    /// The issuer of `pool_id`'s tokens, from the pool's discovery document.
    pub async fn issuer(&self, pool_id: &str) -> Result<String, String> {
        if let Some(issuer) = self.issuers.get(pool_id) {
            return Ok(issuer);
        }
        let url = format!("{}/{pool_id}/.well-known/openid-configuration", self.auth_url);
        let response = self
            .http
            .get(&url)
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .and_then(|response| response.error_for_status())
            .map_err(|error| format!("{url}: {error}"))?;
        let body = response.bytes().await.map_err(|error| format!("{url}: {error}"))?;
        let document: Value = serde_json::from_slice(&body).map_err(|error| format!("{url}: {error}"))?;
        let issuer =
            document.get("issuer").and_then(Value::as_str).ok_or_else(|| format!("{url} names no issuer"))?.to_owned();
        self.issuers.insert(pool_id.to_owned(), issuer.clone());
        Ok(issuer)
    }
}

/// The `iss` a token claims, read without verifying anything: it only
/// picks which of the authorizer's pools to verify against.
pub fn claimed_issuer(token: &str) -> Option<String> {
    use base64::Engine as _;
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let claims: Value = serde_json::from_slice(&bytes).ok()?;
    claims.get("iss").and_then(Value::as_str).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;

    use super::*;

    #[test]
    fn provider_arns_name_pools() {
        assert_eq!(
            pool_id_of("arn:aws:cognito-idp:us-east-1:000000000000:userpool/us-east-1_abc"),
            Some("us-east-1_abc")
        );
        assert_eq!(pool_id_of("arn:aws:cognito-idp:us-east-1:000000000000:userpool/"), None);
        assert_eq!(pool_id_of("us-east-1_abc"), None);
    }

    #[test]
    fn the_claimed_issuer_is_read_unverified() {
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"iss":"http://localhost:1/p"}"#);
        assert_eq!(claimed_issuer(&format!("h.{payload}.s")).as_deref(), Some("http://localhost:1/p"));
        assert_eq!(claimed_issuer("garbage"), None);
    }
}
