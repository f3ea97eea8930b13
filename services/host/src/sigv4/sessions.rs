//! Temporary credentials, as STS issues them, without a session store.
//!
//! A session token is a sealed claim: the access key id it belongs to, the
//! principal it stands for and its expiry, with an HMAC under a key derived
//! from the cluster credential. The secret access key is an HMAC of the
//! access key id under the same key. Every replica of every service holds
//! the cluster credential, so each can check a temporary key on its own,
//! and a token only ever verifies together with the key it was issued with.

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use rand::Rng as _;
use serde::{Deserialize, Serialize};

use super::{
    AuthError,
    canonical::hmac,
    principals::{Principal, PrincipalKind},
};

/// What every temporary access key id starts with, as AWS's do.
pub const ACCESS_KEY_PREFIX: &str = "ASIA";
/// The version tag of the token format.
const TOKEN_PREFIX: &str = "nubo1.";

/// Issues and checks temporary credentials.
#[derive(Clone)]
pub struct Sessions {
    key: [u8; 32],
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sessions(..)")
    }
}

/// A key pair with its session token and expiry, as STS answers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemporaryCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
    pub expiration: DateTime<Utc>,
}

/// The claims a token seals.
#[derive(Serialize, Deserialize)]
struct Claims {
    /// The access key id the token belongs to.
    k: String,
    n: String,
    a: String,
    u: String,
    c: String,
    /// The kind of principal: `root`, `user` or `role`.
    t: String,
    /// Expiry, seconds since the epoch.
    e: i64,
}

impl Sessions {
    /// Sessions keyed by the cluster credential, so all replicas agree.
    pub fn new(cluster_secret: &str) -> Self {
        Self { key: hmac(cluster_secret.as_bytes(), b"nubo sts session tokens v1") }
    }

    /// Issues credentials that authenticate as `principal` until `expiration`.
    pub fn issue(&self, principal: &Principal, expiration: DateTime<Utc>) -> TemporaryCredentials {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        let mut rng = rand::rng();
        let mut access_key_id = String::from(ACCESS_KEY_PREFIX);
        access_key_id.extend((0..16).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char));
        let claims = Claims {
            k: access_key_id.clone(),
            n: principal.name.clone(),
            a: principal.arn.clone(),
            u: principal.user_id.clone(),
            c: principal.account_id.clone(),
            t: match principal.kind {
                PrincipalKind::Root => "root",
                PrincipalKind::User => "user",
                PrincipalKind::AssumedRole => "role",
            }
            .to_owned(),
            e: expiration.timestamp(),
        };
        // Serializing a struct of strings and a number cannot fail.
        let payload = serde_json::to_vec(&claims).unwrap_or_default();
        let seal = hmac(&self.key, &payload);
        let session_token =
            format!("{TOKEN_PREFIX}{}.{}", URL_SAFE_NO_PAD.encode(&payload), URL_SAFE_NO_PAD.encode(seal));
        TemporaryCredentials {
            secret_access_key: self.secret_of(&access_key_id),
            access_key_id,
            session_token,
            expiration,
        }
    }

    fn secret_of(&self, access_key_id: &str) -> String {
        let mut message = b"secret ".to_vec();
        message.extend_from_slice(access_key_id.as_bytes());
        base64::engine::general_purpose::STANDARD.encode(&hmac(&self.key, &message)[..30])
    }

    /// The secret and principal of a temporary key, if `token` was issued
    /// with it by a replica of this deployment and has not expired.
    pub(super) fn open(
        &self,
        access_key_id: &str,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<(String, Principal), AuthError> {
        let sealed = token.strip_prefix(TOKEN_PREFIX).ok_or(AuthError::InvalidToken)?;
        let (payload, seal) = sealed.split_once('.').ok_or(AuthError::InvalidToken)?;
        let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| AuthError::InvalidToken)?;
        let seal = URL_SAFE_NO_PAD.decode(seal).map_err(|_| AuthError::InvalidToken)?;
        let expected = hmac(&self.key, &payload);
        if seal.len() != expected.len() || seal.iter().zip(expected).fold(0u8, |d, (a, b)| d | (a ^ b)) != 0 {
            return Err(AuthError::InvalidToken);
        }
        let claims: Claims = serde_json::from_slice(&payload).map_err(|_| AuthError::InvalidToken)?;
        if claims.k != access_key_id {
            return Err(AuthError::InvalidToken);
        }
        if now.timestamp() >= claims.e {
            return Err(AuthError::ExpiredToken);
        }
        let principal = Principal {
            name: claims.n,
            arn: claims.a,
            user_id: claims.u,
            account_id: claims.c,
            kind: match claims.t.as_str() {
                "root" => PrincipalKind::Root,
                "role" => PrincipalKind::AssumedRole,
                _ => PrincipalKind::User,
            },
            access_key_id: access_key_id.to_owned(),
            temporary: true,
        };
        Ok((self.secret_of(access_key_id), principal))
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;

    #[test]
    fn a_token_opens_only_with_its_own_key_and_before_it_expires() {
        let sessions = Sessions::new("0123456789abcdef0123");
        let now = Utc::now();
        let user = Principal::user("000000000000", "alice", "AKIDALICE");
        let issued = sessions.issue(&user, now + Duration::hours(1));
        assert!(issued.access_key_id.starts_with("ASIA"));
        let (secret, principal) = sessions.open(&issued.access_key_id, &issued.session_token, now).unwrap();
        assert_eq!(secret, issued.secret_access_key);
        assert_eq!(principal.arn, "arn:aws:iam::000000000000:user/alice");

        let other = sessions.issue(&user, now + Duration::hours(1));
        assert_eq!(sessions.open(&other.access_key_id, &issued.session_token, now), Err(AuthError::InvalidToken));
        assert_eq!(
            sessions.open(&issued.access_key_id, &issued.session_token, now + Duration::hours(2)),
            Err(AuthError::ExpiredToken)
        );
        let foreign = Sessions::new("another cluster secret");
        assert_eq!(foreign.open(&issued.access_key_id, &issued.session_token, now), Err(AuthError::InvalidToken));
        // Claims rewritten (a longer expiry, another name) under the old seal.
        let sealed = issued.session_token.strip_prefix(TOKEN_PREFIX).unwrap();
        let (payload, seal) = sealed.split_once('.').unwrap();
        let mut claims: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
        claims["n"] = "root".into();
        claims["a"] = "arn:aws:iam::000000000000:root".into();
        let forged = format!("{TOKEN_PREFIX}{}.{seal}", URL_SAFE_NO_PAD.encode(claims.to_string()));
        assert_eq!(sessions.open(&issued.access_key_id, &forged, now), Err(AuthError::InvalidToken));
    }
}
