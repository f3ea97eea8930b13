//! What a `Logins` map names and how its tokens are checked.
//!
//! A login's key names a provider: a user pool, as
//! `cognito-idp.{region}.amazonaws.com/{userPoolId}` (what AWS's SDKs
//! build) or as nubo's issuer without its scheme,
//! `localhost:9229/{userPoolId}` (what Amplify builds from the token's
//! `iss`); both reach the same identity. The key
//! `cognito-identity.amazonaws.com` (or nubo's identity issuer without its
//! scheme) carries one of the identity pool's own OpenID tokens.
//!
//! A user pool's ID token is accepted when it is an RS256 JWT signed by a
//! key of that pool's ring, its `iss` is nubo's issuer for that pool, it
//! has not expired (no leeway), it is an ID token and its `aud` is a
//! client id the identity pool registered for that provider. The messages
//! are Cognito Identity's.

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};

use crate::{error::CognitoError, ids, tokens::unverified_claims};

/// The name AWS gives its own OpenID tokens' provider.
pub const IDENTITY_PROVIDER: &str = "cognito-identity.amazonaws.com";

fn refused(reason: &str) -> CognitoError {
    CognitoError::not_authorized(format!("Invalid login token. {reason}"))
}

pub fn unsupported_provider() -> CognitoError {
    CognitoError::not_authorized("Token is not from a supported provider of this identity pool.")
}

/// Where nubo's tokens come from, to read provider names against.
#[derive(Debug, Clone)]
pub struct Issuers {
    pub region: String,
    /// The base of user pool issuers (`iss` is `{base}/{userPoolId}`).
    pub base: String,
}

/// What a provider name (a `Logins` key or a `ProviderName`) names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Named {
    /// A user pool, by id.
    UserPool(String),
    /// The identity pools' own OpenID tokens.
    Identity,
}

/// An issuer URL without its scheme, as Amplify names providers.
fn without_scheme(url: &str) -> &str {
    url.split_once("://").map_or(url, |(_, rest)| rest)
}

impl Issuers {
    pub fn new(region: &str, base: &str) -> Self {
        Self { region: region.to_owned(), base: base.trim_end_matches('/').to_owned() }
    }

    /// `iss` of a user pool's tokens.
    pub fn user_pool(&self, pool_id: &str) -> String {
        format!("{}/{pool_id}", self.base)
    }

    /// `iss` of every identity pool's OpenID tokens.
    pub fn identity(&self) -> String {
        format!("{}/cognito-identity", self.base)
    }

    /// The name Cognito gives a user pool provider, whichever form it
    /// was given in.
    pub fn canonical(&self, pool_id: &str) -> String {
        format!("cognito-idp.{}.amazonaws.com/{pool_id}", self.region)
    }

    pub fn parse(&self, name: &str) -> Option<Named> {
        if name == IDENTITY_PROVIDER || name == without_scheme(&self.identity()) {
            return Some(Named::Identity);
        }
        let aws = format!("cognito-idp.{}.amazonaws.com/", self.region);
        let own = format!("{}/", without_scheme(&self.base));
        let pool_id = name.strip_prefix(&aws).or_else(|| name.strip_prefix(&own))?;
        ids::is_pool_id(pool_id).then(|| Named::UserPool(pool_id.to_owned()))
    }
}

/// A token's `kid`, read before its pool's keys are fetched; its `alg`
/// must be RS256, the only one nubo signs with.
pub fn key_id(token: &str) -> Result<String, CognitoError> {
    let header =
        jsonwebtoken::decode_header(token).map_err(|_| refused("Not a valid OpenId Connect identity token."))?;
    if header.alg != Algorithm::RS256 {
        return Err(refused("Couldn't verify signed token."));
    }
    header.kid.ok_or_else(|| refused("Couldn't verify signed token."))
}

/// The claims of a token before its signature is checked, and its
/// issuer: which keys to check it with.
pub fn claimed_issuer(token: &str) -> Result<(Map<String, Value>, String), CognitoError> {
    let claims = unverified_claims(token).ok_or_else(|| refused("Not a valid OpenId Connect identity token."))?;
    let iss = claims.get("iss").and_then(Value::as_str).unwrap_or_default().to_owned();
    Ok((claims, iss))
}

/// What a checked token must be.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    pub issuer: &'a str,
    /// The audiences accepted (client ids, or the identity pool id).
    pub audiences: &'a [String],
    /// `token_use` the token must carry, if any.
    pub token_use: Option<&'a str>,
    /// Seconds since the epoch.
    pub now: i64,
}

/// Checks a token's issuer, signature, expiry, use and audience, in the
/// order Cognito Identity reports them; the claims if it passes.
/// `key` is the verifying key its `kid` names, `None` if there is none.
pub fn check(
    token: &str,
    key: Option<&DecodingKey>,
    expected: Expected<'_>,
) -> Result<Map<String, Value>, CognitoError> {
    let (unverified, iss) = claimed_issuer(token)?;
    if iss != expected.issuer {
        return Err(refused("Issuer doesn't match providerName"));
    }
    if !unverified.contains_key("aud") {
        return Err(refused("Missing a required claim: aud"));
    }
    let key = key.ok_or_else(|| refused("Couldn't verify signed token."))?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.leeway = 0;
    validation.required_spec_claims.clear();
    let claims = jsonwebtoken::decode::<Map<String, Value>>(token, key, &validation)
        .map_err(|_| refused("Couldn't verify signed token."))?
        .claims;
    let exp = claims.get("exp").and_then(Value::as_i64).ok_or_else(|| refused("Missing a required claim: exp"))?;
    if expected.now >= exp {
        return Err(refused(&format!("Token expired: {} >= {exp}", expected.now)));
    }
    if let Some(token_use) = expected.token_use
        && claims.get("token_use").and_then(Value::as_str) != Some(token_use)
    {
        return Err(refused("Not a valid OpenId Connect identity token."));
    }
    let audiences: Vec<&str> = match claims.get("aud") {
        Some(Value::String(aud)) => vec![aud],
        Some(Value::Array(auds)) => auds.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if !audiences.iter().any(|aud| expected.audiences.iter().any(|accepted| accepted == aud)) {
        return Err(unsupported_provider());
    }
    if claims.get("sub").and_then(Value::as_str).is_none_or(str::is_empty) {
        return Err(refused("Missing a required claim: sub"));
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::Header;
    use serde_json::json;

    use super::*;
    use crate::keys::{Ring, StoredRing, generate, parse};

    fn new_ring() -> Ring {
        parse(&StoredRing { keys: vec![generate(0).expect("a key")] }).expect("a ring")
    }

    fn sign(ring: &Ring, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(ring.active_kid.clone());
        jsonwebtoken::encode(&header, claims, &ring.signing).expect("signed")
    }

    const ISS: &str = "http://localhost:9229/us-east-1_abcdefghi";
    const NOW: i64 = 1_800_000_000;

    fn claims() -> Value {
        json!({ "sub": "4b1e", "iss": ISS, "aud": "client-a", "token_use": "id", "exp": NOW + 3600, "iat": NOW })
    }

    fn expected(audiences: &[String]) -> Expected<'_> {
        Expected { issuer: ISS, audiences, token_use: Some("id"), now: NOW }
    }

    fn message(result: Result<Map<String, Value>, CognitoError>) -> String {
        let error = result.expect_err("refused");
        assert_eq!(error.code, "NotAuthorizedException");
        error.message
    }

    #[test]
    fn a_valid_id_token_passes_with_its_claims() {
        let ring = new_ring();
        let token = sign(&ring, &claims());
        assert_eq!(key_id(&token).unwrap(), ring.active_kid);
        let key = ring.verifying.get(&ring.active_kid);
        let clients = vec!["client-b".to_owned(), "client-a".to_owned()];
        let claims = check(&token, key, expected(&clients)).expect("accepted");
        assert_eq!(claims["sub"], "4b1e");
    }

    #[test]
    fn tampered_foreign_expired_and_misaddressed_tokens_are_refused() {
        let ring = new_ring();
        let key = ring.verifying.get(&ring.active_kid);
        let clients = vec!["client-a".to_owned()];

        // A payload rewritten under the old signature.
        let token = sign(&ring, &claims());
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        let mut forged = claims();
        forged["sub"] = json!("someone-else");
        parts[1] = base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, forged.to_string());
        assert_eq!(
            message(check(&parts.join("."), key, expected(&clients))),
            "Invalid login token. Couldn't verify signed token."
        );
        // Signed by another pool's key.
        let other = new_ring();
        let foreign = sign(&other, &claims());
        assert_eq!(
            message(check(&foreign, key, expected(&clients))),
            "Invalid login token. Couldn't verify signed token."
        );
        // No key for its kid.
        assert_eq!(
            message(check(&token, None, expected(&clients))),
            "Invalid login token. Couldn't verify signed token."
        );
        // Expired: exactly at `exp` is too late already.
        let mut stale = claims();
        stale["exp"] = json!(NOW);
        assert_eq!(
            message(check(&sign(&ring, &stale), key, expected(&clients))),
            format!("Invalid login token. Token expired: {NOW} >= {NOW}")
        );
        // Another issuer than the provider the login names.
        let mut elsewhere = claims();
        elsewhere["iss"] = json!("http://localhost:9229/us-east-1_zzzzzzzzz");
        assert_eq!(
            message(check(&sign(&ring, &elsewhere), key, expected(&clients))),
            "Invalid login token. Issuer doesn't match providerName"
        );
        // An access token: no `aud`.
        let mut access = claims();
        access.as_object_mut().unwrap().remove("aud");
        access["token_use"] = json!("access");
        assert_eq!(
            message(check(&sign(&ring, &access), key, expected(&clients))),
            "Invalid login token. Missing a required claim: aud"
        );
        // An ID token of a client the identity pool does not trust.
        let other_client = vec!["client-b".to_owned()];
        assert_eq!(
            message(check(&token, key, expected(&other_client))),
            "Token is not from a supported provider of this identity pool."
        );
        // Not a JWT, and `alg: none`.
        assert_eq!(
            message(check("not-a-token", key, expected(&clients))),
            "Invalid login token. Not a valid OpenId Connect identity token."
        );
        let none = format!(
            "{}.{}.",
            base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, r#"{"alg":"none","kid":"k"}"#),
            parts[1]
        );
        assert!(key_id(&none).is_err());
    }

    #[test]
    fn provider_names_in_either_form_reach_the_same_pool() {
        let issuers = Issuers::new("us-east-1", "http://localhost:9229/");
        let pool = Named::UserPool("us-east-1_abcdefghi".into());
        assert_eq!(issuers.parse("cognito-idp.us-east-1.amazonaws.com/us-east-1_abcdefghi"), Some(pool.clone()));
        assert_eq!(issuers.parse("localhost:9229/us-east-1_abcdefghi"), Some(pool));
        assert_eq!(issuers.parse("cognito-idp.eu-west-1.amazonaws.com/us-east-1_abcdefghi"), None, "another region");
        assert_eq!(issuers.parse("accounts.google.com"), None);
        assert_eq!(issuers.parse("localhost:9229/not a pool"), None);
        assert_eq!(issuers.parse("cognito-identity.amazonaws.com"), Some(Named::Identity));
        assert_eq!(issuers.parse("localhost:9229/cognito-identity"), Some(Named::Identity));
        assert_eq!(issuers.user_pool("us-east-1_abcdefghi"), "http://localhost:9229/us-east-1_abcdefghi");
        assert_eq!(issuers.canonical("us-east-1_x"), "cognito-idp.us-east-1.amazonaws.com/us-east-1_x");
        assert_eq!(issuers.identity(), "http://localhost:9229/cognito-identity");
    }
}
