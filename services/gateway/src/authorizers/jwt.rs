//! JWT verification the way API Gateway's JWT authorizers do it: the
//! issuer's keys come from its OpenID discovery document (`jwks_uri`), are
//! cached per issuer, and are fetched again when a token names a `kid` the
//! cache lacks — at most once per [`MIN_REFETCH`], so a stream of tokens
//! with made-up key ids cannot turn the gateway against the issuer. Only
//! RSA signatures are accepted (as AWS documents), which also shuts out
//! `alg: none` and the HS256-signed-with-the-public-key confusion.

use std::{
    sync::{Arc, RwLock},
    time::{Duration, Instant},
};

use jsonwebtoken::{Algorithm, DecodingKey, Validation, errors::ErrorKind, jwk::JwkSet};
use serde_json::{Map, Value};

/// How long fetched keys serve before the issuer is asked again.
pub const KEYS_TTL: Duration = Duration::from_secs(15 * 60);
/// The shortest time between two fetches for one issuer when tokens name
/// unknown keys.
pub const MIN_REFETCH: Duration = Duration::from_secs(2);
/// How long a discovery or JWKS fetch may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// Issuers whose keys are kept at once.
const MAX_ISSUERS: u64 = 1_000;

/// Why a token was refused; every kind answers 401 `Unauthorized`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    #[error("the token is not a JWT")]
    Malformed,
    #[error("the token's algorithm {0} is not an RSA signature")]
    Algorithm(String),
    #[error("no key {0:?} in the issuer's JWKS")]
    UnknownKey(Option<String>),
    #[error("the signature does not verify")]
    Signature,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token's issuer is not the authorizer's")]
    Issuer,
    #[error("the token's audience is not the authorizer's")]
    Audience,
    #[error("the issuer's keys cannot be fetched: {0}")]
    Keys(String),
}

/// A verified token's claims and the scopes it grants.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedToken {
    pub claims: Map<String, Value>,
    /// From `scope` (space-separated) or `scp`.
    pub scopes: Vec<String>,
}

#[derive(Default)]
struct IssuerKeys {
    fetched: RwLock<Option<(Instant, Arc<JwkSet>)>>,
    /// Held while fetching, so concurrent requests wait for one fetch.
    fetching: tokio::sync::Mutex<()>,
}

/// Verifies tokens against their issuers' published keys.
#[derive(Clone)]
pub struct JwtVerifier {
    http: reqwest::Client,
    issuers: moka::sync::Cache<String, Arc<IssuerKeys>>,
}

impl std::fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtVerifier").field("issuers", &self.issuers.entry_count()).finish()
    }
}

impl Default for JwtVerifier {
    fn default() -> Self {
        Self::new()
    }
}

/// The RSA family: the only algorithms API Gateway's JWT authorizers take.
const RSA: &[Algorithm] =
    &[Algorithm::RS256, Algorithm::RS384, Algorithm::RS512, Algorithm::PS256, Algorithm::PS384, Algorithm::PS512];

impl JwtVerifier {
    pub fn new() -> Self {
        let http = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .redirect(reqwest::redirect::Policy::limited(3))
            .build()
            .unwrap_or_default();
        Self { http, issuers: moka::sync::Cache::builder().max_capacity(MAX_ISSUERS).build() }
    }

    /// Checks `token` as issued by `issuer` for one of `audiences` (an
    /// empty list accepts any): signature, `iss`, `exp`, `nbf`, then `aud`
    /// — or `client_id` when the token has no `aud`, as Cognito access
    /// tokens have it.
    pub async fn verify(&self, token: &str, issuer: &str, audiences: &[String]) -> Result<VerifiedToken, JwtError> {
        // `decode_header` knows no `none` algorithm: such a token fails here.
        let header = jsonwebtoken::decode_header(token).map_err(|_| JwtError::Malformed)?;
        if !RSA.contains(&header.alg) {
            return Err(JwtError::Algorithm(format!("{:?}", header.alg)));
        }
        let kid = header.kid.clone().ok_or(JwtError::UnknownKey(None))?;
        let jwk = self.key(issuer, &kid).await?;
        if jwk.common.key_algorithm.is_some_and(|alg| format!("{alg:?}") != format!("{:?}", header.alg)) {
            return Err(JwtError::Algorithm(format!("{:?}", header.alg)));
        }
        let key = DecodingKey::from_jwk(&jwk).map_err(|_| JwtError::Signature)?;
        let mut validation = Validation::new(header.alg);
        validation.leeway = 0;
        validation.validate_nbf = true;
        validation.validate_aud = false;
        validation.set_issuer(&[issuer]);
        validation.set_required_spec_claims(&["exp", "iss"]);
        let claims = jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation)
            .map_err(|error| match error.kind() {
                ErrorKind::ExpiredSignature => JwtError::Expired,
                ErrorKind::ImmatureSignature => JwtError::NotYetValid,
                ErrorKind::InvalidIssuer | ErrorKind::MissingRequiredClaim(_) => JwtError::Issuer,
                ErrorKind::InvalidSignature | ErrorKind::InvalidKeyFormat | ErrorKind::InvalidAlgorithm => {
                    JwtError::Signature
                }
                _ => JwtError::Malformed,
            })?
            .claims;
        if !audiences.is_empty() && !audience_matches(&claims, audiences) {
            return Err(JwtError::Audience);
        }
        let scopes = scopes_of(&claims);
        Ok(VerifiedToken { claims, scopes })
    }

    /// The issuer's key `kid`, fetching the JWKS when it is stale or lacks it.
    async fn key(&self, issuer: &str, kid: &str) -> Result<jsonwebtoken::jwk::Jwk, JwtError> {
        let keys = self.issuers.get_with(issuer.to_owned(), || Arc::new(IssuerKeys::default()));
        let cached = || keys.fetched.read().ok().and_then(|fetched| fetched.clone());
        let usable = |fetched: &Option<(Instant, Arc<JwkSet>)>| match fetched {
            Some((at, set)) if at.elapsed() < KEYS_TTL => set.find(kid).cloned(),
            _ => None,
        };
        if let Some(jwk) = usable(&cached()) {
            return Ok(jwk);
        }
        let _fetching = keys.fetching.lock().await;
        // Another request may have fetched while this one waited.
        let before = cached();
        if let Some(jwk) = usable(&before) {
            return Ok(jwk);
        }
        if let Some((at, set)) = &before
            && at.elapsed() < MIN_REFETCH
        {
            // Fetched a moment ago and the key is not there: not again yet.
            return set.find(kid).cloned().ok_or_else(|| JwtError::UnknownKey(Some(kid.to_owned())));
        }
        let set = Arc::new(self.fetch(issuer).await?);
        if let Ok(mut fetched) = keys.fetched.write() {
            *fetched = Some((Instant::now(), set.clone()));
        }
        set.find(kid).cloned().ok_or_else(|| JwtError::UnknownKey(Some(kid.to_owned())))
    }

    async fn get(&self, url: &str) -> Result<bytes::Bytes, JwtError> {
        let failed = |error: reqwest::Error| JwtError::Keys(format!("{url}: {error}"));
        let response = self.http.get(url).send().await.and_then(|r| r.error_for_status()).map_err(failed)?;
        response.bytes().await.map_err(failed)
    }

    async fn fetch(&self, issuer: &str) -> Result<JwkSet, JwtError> {
        let discovery = format!("{}/.well-known/openid-configuration", issuer.trim_end_matches('/'));
        let document = self.get(&discovery).await?;
        let document: Value = serde_json::from_slice(&document)
            .map_err(|error| JwtError::Keys(format!("{discovery} is not JSON: {error}")))?;
        let jwks_uri = document
            .get("jwks_uri")
            .and_then(Value::as_str)
            .ok_or_else(|| JwtError::Keys(format!("{discovery} names no jwks_uri")))?;
        let body = self.get(jwks_uri).await?;
        parse_jwks(&body).map_err(|error| JwtError::Keys(format!("{jwks_uri}: {error}")))
    }
}

/// A JWKS, keeping the keys this crate can read and dropping the rest (an
/// issuer may publish key types beside its RSA keys).
fn parse_jwks(body: &[u8]) -> Result<JwkSet, String> {
    let document: Value = serde_json::from_slice(body).map_err(|error| error.to_string())?;
    let keys = document.get("keys").and_then(Value::as_array).ok_or("no keys array")?;
    let keys = keys.iter().filter_map(|key| serde_json::from_value(key.clone()).ok()).collect();
    Ok(JwkSet { keys })
}

fn audience_matches(claims: &Map<String, Value>, audiences: &[String]) -> bool {
    let accepted = |value: &str| audiences.iter().any(|audience| audience == value);
    match claims.get("aud") {
        Some(Value::String(aud)) => accepted(aud),
        Some(Value::Array(auds)) => auds.iter().filter_map(Value::as_str).any(accepted),
        Some(_) => false,
        None => claims.get("client_id").and_then(Value::as_str).is_some_and(accepted),
    }
}

fn scopes_of(claims: &Map<String, Value>) -> Vec<String> {
    match claims.get("scope").or_else(|| claims.get("scp")) {
        Some(Value::String(scopes)) => scopes.split_whitespace().map(str::to_owned).collect(),
        Some(Value::Array(scopes)) => scopes.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn claims(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn audience_is_aud_or_else_client_id() {
        let audiences = vec!["app".to_string()];
        assert!(audience_matches(&claims(json!({ "aud": "app" })), &audiences));
        assert!(audience_matches(&claims(json!({ "aud": ["x", "app"] })), &audiences));
        assert!(!audience_matches(&claims(json!({ "aud": "other", "client_id": "app" })), &audiences));
        assert!(audience_matches(&claims(json!({ "client_id": "app" })), &audiences));
        assert!(!audience_matches(&claims(json!({ "client_id": "other" })), &audiences));
        assert!(!audience_matches(&claims(json!({})), &audiences));
    }

    #[test]
    fn scopes_come_from_scope_or_scp() {
        assert_eq!(scopes_of(&claims(json!({ "scope": "a b  c" }))), ["a", "b", "c"]);
        assert_eq!(scopes_of(&claims(json!({ "scp": ["x"] }))), ["x"]);
        assert!(scopes_of(&claims(json!({}))).is_empty());
    }

    #[test]
    fn unreadable_keys_are_skipped() {
        let set = parse_jwks(br#"{"keys":[{"kty":"weird"},{"kty":"RSA","kid":"k","n":"AQAB","e":"AQAB"}]}"#).unwrap();
        assert_eq!(set.keys.len(), 1);
        assert!(parse_jwks(b"{}").is_err());
    }

    #[tokio::test]
    async fn tokens_without_rsa_signatures_are_refused_before_any_fetch() {
        let verifier = JwtVerifier::new();
        // alg none, and HS256 (which a confused verifier would check with
        // the RSA public key as an HMAC secret).
        let none = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiIxIn0.";
        assert_eq!(verifier.verify(none, "http://127.0.0.1:9/x", &[]).await, Err(JwtError::Malformed));
        let hs = jsonwebtoken::encode(
            &jsonwebtoken::Header::new(Algorithm::HS256),
            &json!({ "sub": "1" }),
            &jsonwebtoken::EncodingKey::from_secret(b"public key text"),
        )
        .unwrap();
        assert!(matches!(verifier.verify(&hs, "http://127.0.0.1:9/x", &[]).await, Err(JwtError::Algorithm(_))));
        assert_eq!(verifier.verify("not a token", "http://127.0.0.1:9/x", &[]).await, Err(JwtError::Malformed));
    }
}
