//! `/oauth2/token` (RFC 6749 §3.2: the `authorization_code`,
//! `refresh_token` and `client_credentials` grants) and `/oauth2/revoke`
//! (RFC 7009), with RFC 6749 §5.2's JSON errors. A client authenticates
//! with HTTP Basic or with `client_secret` in the body, never both
//! (§2.3.1); a failed authentication is `invalid_client` with 401, and
//! `WWW-Authenticate` when Basic was tried.

use actix_web::{HttpRequest, HttpResponse, http::StatusCode};
use jsonwebtoken::{Algorithm, Header};
use serde_json::{Value, json};

use super::{
    Site,
    request::{self, ParamError, Params},
    scopes,
};
use crate::{
    Cognito, api::flows::RefreshSecret, error::CognitoError, model::AppClient, tokens::Session as TokenSession,
};

/// One refused token or revocation request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    pub status: StatusCode,
    pub error: &'static str,
    pub description: String,
    /// `WWW-Authenticate`, for a failed Basic authentication.
    pub challenge: Option<&'static str>,
}

impl OAuthError {
    fn new(error: &'static str, description: impl Into<String>) -> Self {
        Self { status: StatusCode::BAD_REQUEST, error, description: description.into(), challenge: None }
    }

    fn invalid_request(description: impl Into<String>) -> Self {
        Self::new("invalid_request", description)
    }

    fn invalid_client(basic: bool, description: impl Into<String>) -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            error: "invalid_client",
            description: description.into(),
            challenge: basic.then_some("Basic realm=\"cognito\""),
        }
    }

    fn internal(error: &CognitoError) -> Self {
        tracing::warn!(error = %error, "a token request failed");
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            error: "server_error",
            description: "An internal error occurred, try again.".into(),
            challenge: None,
        }
    }

    pub fn response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        with_token_headers(&mut response);
        if let Some(challenge) = self.challenge {
            response.insert_header(("www-authenticate", challenge));
        }
        response.json(json!({ "error": self.error, "error_description": self.description }))
    }
}

impl From<ParamError> for OAuthError {
    fn from(error: ParamError) -> Self {
        Self::invalid_request(error.0)
    }
}

/// RFC 6749 §5.1's no-caching headers, and Cognito's
/// `Access-Control-Allow-Origin: *`, so a browser app redeems its code.
fn with_token_headers(response: &mut actix_web::HttpResponseBuilder) {
    response
        .insert_header(("cache-control", "no-store"))
        .insert_header(("pragma", "no-cache"))
        .insert_header(("access-control-allow-origin", "*"));
}

/// CORS preflight of the endpoints a browser app calls itself (token,
/// revocation, userInfo), which answer any origin.
pub fn preflight(methods: &'static str) -> HttpResponse {
    HttpResponse::NoContent()
        .insert_header(("access-control-allow-origin", "*"))
        .insert_header(("access-control-allow-methods", methods))
        .insert_header(("access-control-allow-headers", "authorization, content-type"))
        .insert_header(("access-control-max-age", "600"))
        .finish()
}

fn is_form(request: &HttpRequest) -> bool {
    request
        .headers()
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|kind| kind.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"))
}

/// How a request presented its client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Presented {
    pub client_id: String,
    pub secret: Option<String>,
    pub basic: bool,
}

/// The client a request names and the secret it presents (RFC 6749
/// §2.3.1: Basic, or `client_id`/`client_secret` in the body, not both).
pub fn presented_client(authorization: Option<&str>, params: &Params) -> Result<Presented, OAuthError> {
    let body_id = params.get("client_id");
    let body_secret = params.get("client_secret");
    match authorization {
        Some(header) if header.trim_start().to_ascii_lowercase().starts_with("basic") => {
            let (id, secret) =
                request::basic_credentials(header).map_err(|error| OAuthError::invalid_client(true, error.0))?;
            if body_secret.is_some() {
                return Err(OAuthError::invalid_request("the client authenticated both by Basic and by client_secret"));
            }
            if body_id.is_some_and(|body_id| body_id != id) {
                return Err(OAuthError::invalid_request("client_id is not the client of the Authorization header"));
            }
            Ok(Presented { client_id: id, secret: Some(secret), basic: true })
        }
        Some(_) => Err(OAuthError::invalid_client(false, "the Authorization header is not Basic credentials")),
        None => {
            let id = body_id.ok_or_else(|| OAuthError::invalid_request("client_id is required"))?;
            Ok(Presented { client_id: id.to_owned(), secret: body_secret.map(str::to_owned), basic: false })
        }
    }
}

impl Cognito {
    /// The client of the request, if it proves to be that client: the
    /// secret of a client with one; nothing for a public client.
    async fn authenticated_client(
        &self,
        site: &Site,
        request: &HttpRequest,
        params: &Params,
    ) -> Result<AppClient, OAuthError> {
        let authorization = request.headers().get("authorization").map(|value| value.to_str().unwrap_or(""));
        let presented = presented_client(authorization, params)?;
        let client = match self.client_of(&site.pool.id, &presented.client_id).await {
            Ok(client) => client,
            Err(error) if error.code == "InternalErrorException" => return Err(OAuthError::internal(&error)),
            Err(_) => return Err(OAuthError::invalid_client(presented.basic, "the client does not exist")),
        };
        match (&client.secret, &presented.secret) {
            (Some(expected), Some(given))
                if bool::from(subtle::ConstantTimeEq::ct_eq(expected.as_bytes(), given.as_bytes())) =>
            {
                Ok(client)
            }
            (None, None) => Ok(client),
            (None, Some(given)) if given.is_empty() => Ok(client),
            (None, Some(_)) => Err(OAuthError::invalid_client(presented.basic, "the client has no secret")),
            _ => Err(OAuthError::invalid_client(presented.basic, "client authentication failed")),
        }
    }
}

/// `POST /oauth2/token`.
pub async fn token(
    cognito: &Cognito,
    site: &Site,
    request: &HttpRequest,
    form: Result<Params, ParamError>,
) -> HttpResponse {
    match grant(cognito, site, request, form).await {
        Ok(body) => {
            let mut response = HttpResponse::Ok();
            with_token_headers(&mut response);
            response.json(body)
        }
        Err(error) => error.response(),
    }
}

async fn grant(
    cognito: &Cognito,
    site: &Site,
    request: &HttpRequest,
    form: Result<Params, ParamError>,
) -> Result<Value, OAuthError> {
    if !is_form(request) {
        return Err(OAuthError::invalid_request("the body must be application/x-www-form-urlencoded"));
    }
    let params = form?;
    let grant_type = params.required("grant_type")?;
    if !matches!(grant_type, "authorization_code" | "refresh_token" | "client_credentials") {
        return Err(OAuthError::new(
            "unsupported_grant_type",
            format!(
                "grant_type {grant_type} is not supported: authorization_code, refresh_token or client_credentials"
            ),
        ));
    }
    let client = cognito.authenticated_client(site, request, &params).await?;
    let allowed = |flow: &str| client.oauth_enabled && client.oauth_flows.iter().any(|f| f == flow);
    match grant_type {
        "authorization_code" => {
            if !allowed("code") {
                return Err(OAuthError::new("unauthorized_client", "the client is not allowed the code grant"));
            }
            authorization_code(cognito, site, &client, &params).await
        }
        "refresh_token" => refresh_token(cognito, site, &client, &params).await,
        _ => {
            if !allowed("client_credentials") {
                return Err(OAuthError::new(
                    "unauthorized_client",
                    "the client is not allowed the client_credentials grant",
                ));
            }
            client_credentials(cognito, site, &client, &params).await
        }
    }
}

async fn authorization_code(
    cognito: &Cognito,
    site: &Site,
    client: &AppClient,
    params: &Params,
) -> Result<Value, OAuthError> {
    let code = params.required("code")?;
    let redeemed = cognito
        .redeem_code(code, &client.id, params.get("redirect_uri"), params.get("code_verifier"))
        .await
        .map_err(|error| OAuthError::internal(&error))?;
    let grant = redeemed.map_err(|refused| OAuthError::new("invalid_grant", refused.description()))?;
    let pool = &site.pool;
    let invalid_user = || OAuthError::new("invalid_grant", "the user of this code can no longer sign in");
    let user = cognito
        .find_user(pool, &grant.username)
        .await
        .map_err(|error| OAuthError::internal(&error))?
        .map(|found| found.value)
        .filter(|user| user.sub == grant.sub && user.enabled && user.tokens_valid_after <= grant.issued)
        .ok_or_else(invalid_user)?;
    let overrides = cognito
        .pre_token_generation(pool, client, &user, "TokenGeneration_HostedAuth", &grant.scopes, &json!({}))
        .await
        .map_err(|error| OAuthError::new("invalid_request", error.message))?;
    let (grant_id, refresh) = cognito
        .tokens
        .grant(pool, client, &user, grant.auth_time, &grant.scopes, None)
        .await
        .map_err(|error| OAuthError::internal(&error))?;
    let session = TokenSession {
        pool,
        client,
        user: &user,
        auth_time: grant.auth_time,
        origin_jti: grant_id,
        scopes: grant.scopes.clone(),
        nonce: grant.nonce.clone(),
        overrides: overrides.as_ref(),
    };
    let issued = cognito.tokens.issue(&session, Some(refresh)).await.map_err(|error| OAuthError::internal(&error))?;
    Ok(tokens_json(&issued, &grant.scopes))
}

/// Cognito's token response; an ID token only when `openid` was granted.
fn tokens_json(issued: &crate::tokens::Issued, scopes: &[String]) -> Value {
    let mut body = json!({
        "access_token": issued.access_token,
        "expires_in": issued.expires_in,
        "token_type": "Bearer",
    });
    if scopes.iter().any(|scope| scope == scopes::OPENID) {
        body["id_token"] = json!(issued.id_token);
    }
    if let Some(refresh) = &issued.refresh_token {
        body["refresh_token"] = json!(refresh);
    }
    body
}

async fn refresh_token(
    cognito: &Cognito,
    site: &Site,
    client: &AppClient,
    params: &Params,
) -> Result<Value, OAuthError> {
    let token = params.required("refresh_token")?;
    // The grant's scopes are the original request's: RFC 6749 §6 lets a
    // refresh narrow them, which Cognito does not do, so `scope` is ignored.
    let grant = cognito.tokens.grant_of(token).await.map_err(|error| OAuthError::internal(&error))?;
    let scopes = grant.map(|(_, grant, _)| grant.scopes).unwrap_or_default();
    // The client is authenticated already; the refresh checks the token.
    let issued = cognito
        .refresh(&site.pool, client, token, RefreshSecret::Secret(client.secret.as_deref()), true)
        .await
        .map_err(|error| match error.code {
            "InternalErrorException" => OAuthError::internal(&error),
            _ => OAuthError::new("invalid_grant", error.message),
        })?;
    Ok(tokens_json(&issued, &scopes))
}

/// A machine-to-machine access token, as Cognito makes one: the client
/// is its own subject, the granted custom scopes its `scope`.
async fn client_credentials(
    cognito: &Cognito,
    site: &Site,
    client: &AppClient,
    params: &Params,
) -> Result<Value, OAuthError> {
    let defined = cognito.custom_scopes(&site.pool.id).await.map_err(|error| OAuthError::internal(&error))?;
    let granted = scopes::for_client(params.get("scope"), &client.oauth_scopes, &defined)
        .map_err(|error| OAuthError::new("invalid_scope", error.0))?;
    let ring = cognito.tokens.keys().ring(&site.pool.id).await.map_err(|error| OAuthError::internal(&error))?;
    let now = chrono::Utc::now().timestamp();
    let claims = json!({
        "sub": client.id,
        "token_use": "access",
        "scope": granted.join(" "),
        "auth_time": now,
        "iss": cognito.tokens.issuer(&site.pool.id),
        "exp": now + client.access_token_seconds as i64,
        "iat": now,
        "version": 2,
        "jti": uuid::Uuid::new_v4().to_string(),
        "client_id": client.id,
    });
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(ring.active_kid.clone());
    let token = jsonwebtoken::encode(&header, &claims, &ring.signing)
        .map_err(|error| OAuthError::internal(&CognitoError::internal(format!("cannot sign a token: {error}"))))?;
    Ok(json!({ "access_token": token, "expires_in": client.access_token_seconds, "token_type": "Bearer" }))
}

/// `POST /oauth2/revoke` (RFC 7009): revokes a refresh token and every
/// access token refreshed from it. An unknown token is not an error
/// (§2.2); an access or ID token is `unsupported_token_type`, as Cognito
/// revokes refresh tokens only.
pub async fn revoke(
    cognito: &Cognito,
    site: &Site,
    request: &HttpRequest,
    form: Result<Params, ParamError>,
) -> HttpResponse {
    let revoked = async {
        if !is_form(request) {
            return Err(OAuthError::invalid_request("the body must be application/x-www-form-urlencoded"));
        }
        let params = form?;
        let client = cognito.authenticated_client(site, request, &params).await?;
        let token = params.required("token")?;
        if !client.enable_token_revocation {
            return Err(OAuthError::new("unauthorized_client", "token revocation is not enabled for this client"));
        }
        if token.matches('.').count() == 2 {
            return Err(OAuthError::new("unsupported_token_type", "only refresh tokens can be revoked"));
        }
        match cognito.tokens.grant_of(token).await.map_err(|error| OAuthError::internal(&error))? {
            Some((grant_id, grant, _)) if grant.client_id == client.id && grant.pool_id == site.pool.id => {
                cognito.tokens.revoke(&grant_id).await.map_err(|error| OAuthError::internal(&error))?;
                Ok(())
            }
            Some(_) => Err(OAuthError::new("invalid_request", "the token was not issued to this client")),
            None => Ok(()),
        }
    };
    match revoked.await {
        Ok(()) => {
            let mut response = HttpResponse::Ok();
            with_token_headers(&mut response);
            response.finish()
        }
        Err(error) => error.response(),
    }
}

#[cfg(test)]
mod tests {
    use base64::{Engine as _, engine::general_purpose::STANDARD};

    use super::*;

    #[test]
    fn a_client_presents_itself_one_way() {
        let body = Params::parse(b"client_id=abc&client_secret=s").unwrap();
        assert_eq!(
            presented_client(None, &body).unwrap(),
            Presented { client_id: "abc".into(), secret: Some("s".into()), basic: false }
        );
        let basic = format!("Basic {}", STANDARD.encode("abc:s"));
        let only_id = Params::parse(b"client_id=abc").unwrap();
        assert!(presented_client(Some(&basic), &only_id).unwrap().basic);
        // Both ways at once: RFC 6749 §2.3.
        assert_eq!(presented_client(Some(&basic), &body).unwrap_err().error, "invalid_request");
        let other = Params::parse(b"client_id=xyz").unwrap();
        assert_eq!(presented_client(Some(&basic), &other).unwrap_err().error, "invalid_request");
        let broken = presented_client(Some("Basic ###"), &Params::default()).unwrap_err();
        assert_eq!(
            (broken.error, broken.status, broken.challenge.is_some()),
            ("invalid_client", StatusCode::UNAUTHORIZED, true)
        );
        assert_eq!(presented_client(Some("Bearer x"), &body).unwrap_err().error, "invalid_client");
        assert_eq!(presented_client(None, &Params::default()).unwrap_err().error, "invalid_request");
    }
}
