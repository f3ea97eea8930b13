//! The identity pools' OpenID tokens (GetOpenIdToken), nubo's counterpart
//! of the tokens AWS issues as `https://cognito-identity.amazonaws.com`.
//!
//! One issuer serves every identity pool, as AWS's does: `iss` is
//! `{issuer}/cognito-identity` (`{issuer}` is the auth service's
//! configured issuer base, `http://localhost:9229` by default), `aud` the
//! identity pool id, `sub` the identity id, and `amr` says how the
//! identity signed in: `["unauthenticated"]`, or `["authenticated",
//! "{provider}", "{provider}:CognitoSignIn:{sub}"]` for a user pool
//! login. Tokens live ten minutes.
//!
//! Each identity pool signs with its own RS256 key ring, kept in data
//! beside the user pools' rings and rotated on the same schedule; deleting
//! the pool deletes its keys, so its tokens stop verifying. Every pool's
//! published keys are served together at
//! `{issuer}/cognito-identity/.well-known/jwks_uri` (AWS's path), named by
//! the discovery document at
//! `{issuer}/cognito-identity/.well-known/openid-configuration`.

use actix_web::{HttpResponse, web};
use jsonwebtoken::{Algorithm, Header};
use serde_json::{Map, Value, json};

use super::{
    logins::{self, Expected},
    model::{IdentityPool, RING_PREFIX, ring_id},
};
use crate::{
    Cognito,
    error::{CognitoError, Result},
    keys::StoredRing,
    store::KEYS,
};

/// How long an OpenID token lives, as Cognito Identity documents.
pub const TOKEN_SECONDS: i64 = 600;

pub fn routes(routes: &mut web::ServiceConfig) {
    routes
        .route("/cognito-identity/.well-known/jwks_uri", web::get().to(jwks))
        .route("/cognito-identity/.well-known/jwks.json", web::get().to(jwks))
        .route("/cognito-identity/.well-known/openid-configuration", web::get().to(discovery));
}

impl Cognito {
    /// Signs an OpenID token for `identity_id` of `pool`.
    pub(crate) async fn open_id_token(&self, pool: &IdentityPool, identity_id: &str, amr: &[String]) -> Result<String> {
        let ring = self.tokens.keys().ring(&ring_id(&pool.id)).await?;
        let now = chrono::Utc::now().timestamp();
        let mut claims = Map::new();
        claims.insert("sub".into(), json!(identity_id));
        claims.insert("aud".into(), json!(pool.id));
        claims.insert("amr".into(), json!(amr));
        claims.insert("iss".into(), json!(self.issuers().identity()));
        claims.insert("exp".into(), json!(now + TOKEN_SECONDS));
        claims.insert("iat".into(), json!(now));
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(ring.active_kid.clone());
        jsonwebtoken::encode(&header, &claims, &ring.signing)
            .map_err(|error| CognitoError::internal(format!("cannot sign a token: {error}")))
    }

    /// Checks one of `pool`'s own OpenID tokens (a `Logins` entry for
    /// `cognito-identity.amazonaws.com`): its claims if it passes.
    pub(crate) async fn verify_open_id_token(&self, pool: &IdentityPool, token: &str) -> Result<Map<String, Value>> {
        let kid = logins::key_id(token)?;
        let issuer = self.issuers().identity();
        let (_, claimed) = logins::claimed_issuer(token)?;
        let key = if claimed == issuer {
            self.tokens.keys().verifying_key(&ring_id(&pool.id), &kid).await?.map(|(_, key)| key)
        } else {
            None
        };
        let audiences = [pool.id.clone()];
        let expected =
            Expected { issuer: &issuer, audiences: &audiences, token_use: None, now: chrono::Utc::now().timestamp() };
        logins::check(token, key.as_ref(), expected)
    }
}

async fn jwks(cognito: web::Data<Cognito>) -> HttpResponse {
    let rings = match cognito.store.all::<StoredRing>(KEYS, RING_PREFIX).await {
        Ok(rings) => rings,
        Err(error) => return HttpResponse::ServiceUnavailable().json(json!({ "message": error.message })),
    };
    let keys: Vec<Value> = rings
        .iter()
        .flat_map(|(_, ring)| &ring.keys)
        .map(|key| json!({ "alg": "RS256", "e": key.e, "kid": key.kid, "kty": "RSA", "n": key.n, "use": "sig" }))
        .collect();
    HttpResponse::Ok().insert_header(("cache-control", "max-age=300")).json(json!({ "keys": keys }))
}

async fn discovery(cognito: web::Data<Cognito>) -> HttpResponse {
    let issuer = cognito.issuers().identity();
    HttpResponse::Ok().json(json!({
        "issuer": issuer,
        "jwks_uri": format!("{issuer}/.well-known/jwks_uri"),
        "response_types_supported": ["id_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "claims_supported": ["sub", "aud", "iss", "exp", "iat", "amr"],
    }))
}
