//! What the auth suites share: codes read from nubo's message file, and
//! tokens checked the way a relying party checks them (the pool's JWKS
//! fetched over HTTP, `jsonwebtoken` verifying).

use std::{path::Path, time::Duration};

use base64::Engine as _;
use serde_json::Value;

/// Every message nubo has sent (codes, invitations), oldest first, from
/// `{state}/auth/messages.jsonl`.
pub fn messages(state_dir: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(state_dir.join("auth/messages.jsonl")).unwrap_or_default();
    text.lines().filter_map(|line| serde_json::from_str(line).ok()).collect()
}

/// The newest code sent to `username` for `purpose` (`SignUp`,
/// `ForgotPassword`, `VerifyUserAttribute`, `AdminCreateUser`, ...),
/// waiting a little for it to be written.
pub async fn latest_code(state_dir: &Path, username: &str, purpose: &str) -> String {
    for _ in 0..50 {
        let found = messages(state_dir).into_iter().rev().find(|message| {
            message["purpose"] == purpose && (message["username"] == username || message["destination"] == username)
        });
        if let Some(message) = found {
            return message["code"].as_str().unwrap_or_default().to_owned();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no {purpose} message for {username} in {:?}", messages(state_dir));
}

/// A token's claims, unverified: for reading what a test then verifies.
pub fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWT");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).expect("base64url");
    serde_json::from_slice(&bytes).expect("JSON claims")
}

/// Verifies `token` against the JWKS at `{issuer}/.well-known/jwks.json`
/// (RS256, the issuer, expiry) and returns its claims.
pub async fn verify(token: &str, issuer: &str) -> Result<Value, String> {
    let jwks: jsonwebtoken::jwk::JwkSet = reqwest::get(format!("{issuer}/.well-known/jwks.json"))
        .await
        .map_err(|error| error.to_string())?
        .json()
        .await
        .map_err(|error| error.to_string())?;
    let header = jsonwebtoken::decode_header(token).map_err(|error| error.to_string())?;
    let kid = header.kid.ok_or("no kid")?;
    let jwk = jwks.find(&kid).ok_or_else(|| format!("kid {kid} is not in the JWKS"))?;
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).map_err(|error| error.to_string())?;
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_issuer(&[issuer]);
    validation.validate_aud = false;
    jsonwebtoken::decode::<Value>(token, &key, &validation).map(|data| data.claims).map_err(|error| error.to_string())
}

/// Cognito's `SECRET_HASH`: Base64(HMAC-SHA256(secret, username + client id)).
pub fn secret_hash(secret: &str, username: &str, client_id: &str) -> String {
    use hmac::Mac as _;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("any key");
    mac.update(username.as_bytes());
    mac.update(client_id.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}
