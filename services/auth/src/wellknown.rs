//! Each pool's public documents: its JWKS at
//! `/{poolId}/.well-known/jwks.json` (what any JWT library and the gateway's
//! authorizers verify tokens with) and its OIDC discovery document at
//! `/{poolId}/.well-known/openid-configuration`.

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::Cognito;

pub fn routes(routes: &mut web::ServiceConfig) {
    routes
        .route("/{pool_id}/.well-known/jwks.json", web::get().to(jwks))
        .route("/{pool_id}/.well-known/openid-configuration", web::get().to(discovery));
}

fn not_found(pool_id: &str) -> HttpResponse {
    HttpResponse::NotFound().json(json!({ "message": format!("User pool {pool_id} does not exist.") }))
}

async fn jwks(pool_id: web::Path<String>, cognito: web::Data<Cognito>) -> HttpResponse {
    if cognito.pool(&pool_id).await.is_err() {
        return not_found(&pool_id);
    }
    match cognito.tokens.keys().ring(&pool_id).await {
        Ok(ring) => HttpResponse::Ok().insert_header(("cache-control", "max-age=300")).json(&ring.jwks),
        Err(error) => HttpResponse::ServiceUnavailable().json(json!({ "message": error.message })),
    }
}

async fn discovery(pool_id: web::Path<String>, cognito: web::Data<Cognito>) -> HttpResponse {
    let Ok(pool) = cognito.pool(&pool_id).await else { return not_found(&pool_id) };
    let issuer = cognito.tokens.issuer(&pool.id);
    // The OAuth endpoints (`oidc`) are served once the pool has a domain,
    // on `{domain}.auth.localhost` and under the issuer's path; the path
    // form is named here because it needs no DNS.
    let base = cognito.oauth_base(&pool);
    HttpResponse::Ok().json(json!({
        "issuer": issuer,
        "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
        "authorization_endpoint": format!("{base}/oauth2/authorize"),
        "token_endpoint": format!("{base}/oauth2/token"),
        "userinfo_endpoint": format!("{base}/oauth2/userInfo"),
        "revocation_endpoint": format!("{base}/oauth2/revoke"),
        "end_session_endpoint": format!("{base}/logout"),
        "response_types_supported": ["code", "token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "scopes_supported": ["openid", "email", "phone", "profile"],
        "code_challenge_methods_supported": ["S256"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "email", "email_verified", "cognito:username", "cognito:groups"],
    }))
}

impl Cognito {
    /// Where the pool's OAuth endpoints are reached: the issuer's base
    /// with the pool's path, `/{poolId}/oauth2/...` on this port (the
    /// same endpoints answer on the pool's domain, see `oidc`).
    pub fn oauth_base(&self, pool: &crate::model::UserPool) -> String {
        self.tokens.issuer(&pool.id)
    }
}
