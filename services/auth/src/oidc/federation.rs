//! Sign-in through an external OIDC identity provider (an `OIDC`
//! provider of CreateIdentityProvider), with the `openidconnect` crate as
//! the relying party:
//! 1. `/oauth2/authorize` with `identity_provider` (or `idp_identifier`,
//!    or the login page's "Sign in with ..." link) discovers the
//!    provider's endpoints from `oidc_issuer` and sends the browser to
//!    it with PKCE, a nonce and a sealed `state` holding the app's
//!    authorization request; a cookie marks the browser it started in;
//! 2. `/oauth2/idpresponse` opens the state, checks the browser, exchanges
//!    the code, verifies the ID token against the provider's JWKS (issuer,
//!    audience, expiry, signature, nonce, `at_hash`), and reads the
//!    provider's userInfo (`attributes_request_method`, GET by default);
//! 3. the claims become the pool user `{ProviderName}_{sub}` through the
//!    provider's `AttributeMapping` (pool attribute → provider claim;
//!    `username` is `sub` unless mapped), created with status
//!    `EXTERNAL_PROVIDER` and Cognito's `identities` attribute, or updated
//!    on each later sign-in, as Cognito does;
//! 4. the app's own request is answered as after any sign-in.
//!
//! The provider's metadata is discovered for each sign-in (twice: at the
//! start and at the response); nothing is cached between sign-ins.

use std::{collections::BTreeMap, time::Duration};

use actix_web::{HttpRequest, HttpResponse, http::StatusCode};
use openidconnect::{
    AccessTokenHash, AdditionalClaims, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet,
    EndpointNotSet, EndpointSet, IssuerUrl, Nonce, OAuth2TokenResponse as _, PkceCodeChallenge, PkceCodeVerifier,
    RedirectUrl, Scope, SubjectIdentifier, TokenResponse as _,
    core::{CoreAuthenticationFlow, CoreClient, CoreGenderClaim, CoreProviderMetadata},
    reqwest,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::{
    Endpoint, Site,
    authorize::{AuthRequest, Refusal, is_registered},
    hosted::Hosted,
    pages,
    request::Params,
    session::{self, IDP_COOKIE},
};
use crate::{
    Cognito,
    api::{clients::IdentityProvider, users::alias_key},
    error::{CognitoError, Result},
    model::{Failures, Mfa, User, UserPool, UserStatus, is_standard_attribute, now},
    store,
    tokens::unverified_claims,
    triggers::{Event, user_attributes},
};

const STATE_PURPOSE: &str = "idp-state";
/// How long a sign-in may stay at the identity provider.
const STATE_SECONDS: i64 = 600;

/// The HTTP client the provider reaches identity providers with. It
/// follows no redirects (openidconnect's advice against SSRF) and gives
/// up on a slow provider.
#[derive(Debug, Clone)]
pub struct Outbound {
    http: Option<reqwest::Client>,
}

impl Default for Outbound {
    fn default() -> Self {
        Self::new()
    }
}

impl Outbound {
    pub fn new() -> Self {
        let built = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(15))
            .build();
        match built {
            Ok(http) => Self { http: Some(http) },
            Err(error) => {
                tracing::warn!(%error, "no HTTP client: sign-in through identity providers is unavailable");
                Self { http: None }
            }
        }
    }

    fn http(&self) -> std::result::Result<&reqwest::Client, String> {
        self.http.as_ref().ok_or_else(|| "nubo has no HTTP client to reach identity providers".to_owned())
    }
}

/// What `openidconnect::CoreClient::from_provider_metadata` makes.
type IdpClient =
    CoreClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointMaybeSet, EndpointMaybeSet>;

/// A sign-in at an identity provider, sealed into its `state`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct IdpState {
    pool_id: String,
    provider: String,
    request: AuthRequest,
    nonce: String,
    verifier: String,
    /// The value of the browser's `cognito-idp` cookie.
    binding: String,
}

/// Every claim of a userInfo answer, not only the standard ones.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct AnyClaims {
    #[serde(flatten)]
    claims: Map<String, Value>,
}

impl AdditionalClaims for AnyClaims {}

/// An error and its causes, as one line.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// A claim as an attribute value: strings as they are, booleans and
/// numbers as text, anything else as JSON.
fn claim_text(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(text) => Some(text.clone()),
        Value::Bool(flag) => Some(flag.to_string()),
        Value::Number(number) => Some(number.to_string()),
        other => Some(other.to_string()),
    }
}

/// The pool user name of a provider's user: `{ProviderName}_{claim}`,
/// the claim being what `username` maps to (`sub` by default).
pub fn federated_username(
    provider: &str,
    mapping: &BTreeMap<String, String>,
    claims: &Map<String, Value>,
) -> std::result::Result<String, String> {
    let claim = mapping.get("username").map_or("sub", String::as_str);
    let value = claims
        .get(claim)
        .and_then(claim_text)
        .filter(|value| !value.is_empty())
        .ok_or_else(|| format!("the identity provider sent no {claim} claim for the user name"))?;
    let username = format!("{provider}_{value}");
    if username.chars().count() > 128 || username.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("the identity provider's {claim} does not make a valid user name"));
    }
    Ok(username)
}

/// The pool attributes `mapping` makes of `claims`: those the pool's
/// schema has, `sub`, `username` and `identities` aside.
pub fn mapped_attributes(
    pool: &UserPool,
    mapping: &BTreeMap<String, String>,
    claims: &Map<String, Value>,
) -> Vec<(String, String)> {
    mapping
        .iter()
        .filter(|(attribute, _)| !matches!(attribute.as_str(), "username" | "sub" | "identities"))
        .filter(|(attribute, _)| {
            is_standard_attribute(attribute) || pool.custom_attributes.iter().any(|c| &c.name == *attribute)
        })
        .filter_map(|(attribute, claim)| claims.get(claim).and_then(claim_text).map(|v| (attribute.clone(), v)))
        .collect()
}

impl Cognito {
    /// A relying party for `provider`, its endpoints discovered.
    async fn idp_client(
        &self,
        outbound: &Outbound,
        provider: &IdentityProvider,
        redirect: &str,
    ) -> std::result::Result<IdpClient, String> {
        if provider.provider_type != "OIDC" {
            return Err(format!(
                "{} is a {} provider: nubo signs in through OIDC providers only",
                provider.name, provider.provider_type
            ));
        }
        let detail = |name: &str| provider.details.get(name).filter(|value| !value.is_empty());
        let issuer = detail("oidc_issuer").ok_or("the provider has no oidc_issuer")?;
        let issuer = IssuerUrl::new(issuer.clone()).map_err(|error| format!("oidc_issuer is not a URL: {error}"))?;
        let metadata = CoreProviderMetadata::discover_async(issuer.clone(), outbound.http()?)
            .await
            .map_err(|error| format!("cannot discover {}: {}", issuer.as_str(), chain(&error)))?;
        let client_id = detail("client_id").ok_or("the provider has no client_id")?;
        let redirect = RedirectUrl::new(redirect.to_owned()).map_err(|error| error.to_string())?;
        Ok(CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(client_id.clone()),
            detail("client_secret").map(|secret| ClientSecret::new(secret.clone())),
        )
        .set_redirect_uri(redirect))
    }

    /// Sends the browser to `provider_name`'s authorization endpoint.
    pub(crate) async fn start_federation(
        &self,
        outbound: &Outbound,
        site: &Site,
        http_request: &HttpRequest,
        request: &AuthRequest,
        provider_name: &str,
    ) -> HttpResponse {
        let hosted = Hosted { cognito: self, outbound, site, request: http_request };
        let provider = match self.identity_provider(&site.pool.id, provider_name).await {
            Ok(provider) => provider,
            Err(error) if error.code == "InternalErrorException" => return hosted.refusal(Refusal::Internal(error)),
            Err(error) => return hosted.refusal(Refusal::to_client(request, "invalid_request", error.message)),
        };
        let client = match self.idp_client(outbound, &provider, &site.url(Endpoint::IdpResponse)).await {
            Ok(client) => client,
            Err(message) => {
                tracing::warn!(provider = %provider.name, error = %message, "an identity provider is unreachable");
                return hosted.refusal(Refusal::to_client(request, "temporarily_unavailable", message));
            }
        };
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let nonce = Nonce::new_random();
        let binding = session::random_value();
        let state = IdpState {
            pool_id: site.pool.id.clone(),
            provider: provider.name.clone(),
            request: request.clone(),
            nonce: nonce.secret().clone(),
            verifier: verifier.secret().clone(),
            binding: binding.clone(),
        };
        let sealed = self.sealer.seal(STATE_PURPOSE, STATE_SECONDS, &state);
        let scopes = provider.details.get("authorize_scopes").cloned().unwrap_or_default();
        let scopes = scopes
            .split([' ', ','])
            .filter(|scope| !scope.is_empty() && *scope != "openid")
            .map(|scope| Scope::new(scope.to_owned()));
        let (url, _, _) = client
            .authorize_url(CoreAuthenticationFlow::AuthorizationCode, move || CsrfToken::new(sealed), move || nonce)
            .add_scopes(scopes)
            .set_pkce_challenge(challenge)
            .url();
        pages::redirect(url.as_str(), &[session::set_cookie(site, IDP_COOKIE, &binding, STATE_SECONDS)])
    }

    /// `/oauth2/idpresponse`: the provider's answer, then the app's.
    pub(crate) async fn finish_federation(&self, hosted: &Hosted<'_>, params: &Params) -> HttpResponse {
        let site = hosted.site;
        let bad = |message: &str| pages::error(StatusCode::BAD_REQUEST, "invalid_request", message);
        let state = params
            .get("state")
            .and_then(|sealed| self.sealer.open::<IdpState>(STATE_PURPOSE, sealed))
            .filter(|state| state.pool_id == site.pool.id);
        let Some(state) = state else {
            return bad(
                "The state of this sign-in is not valid: it was changed, it has expired, or it is another site's.",
            );
        };
        if !session::presented(&session::cookie_values(hosted.request, IDP_COOKIE), &state.binding) {
            return bad("This sign-in was not started in this browser.");
        }
        let request = &state.request;
        let client = match self.client_of(&site.pool.id, &request.client_id).await {
            Ok(client) => client,
            Err(error) => return bad(&error.message),
        };
        if !is_registered(&request.redirect_uri, &client.callback_urls)
            || !client.identity_providers.contains(&state.provider)
        {
            return bad("The app no longer signs in through this identity provider.");
        }
        let back = |error: &'static str, message: String| hosted.refusal(Refusal::to_client(request, error, message));
        if let Some(error) = params.get("error") {
            // The provider refused (RFC 6749 §4.1.2.1): the app is told so.
            let description = params.get("error_description").unwrap_or(error);
            return back(error_code(error), format!("{}: {description}", state.provider));
        }
        let Some(code) = params.get("code") else { return bad("The identity provider sent no code.") };
        let claims = match self.provider_claims(hosted, &state, code).await {
            Ok(claims) => claims,
            Err(message) => {
                tracing::info!(provider = %state.provider, error = %message, "a federated sign-in failed");
                return back("invalid_request", message);
            }
        };
        let provider = match self.identity_provider(&site.pool.id, &state.provider).await {
            Ok(provider) => provider,
            Err(error) => return back("invalid_request", error.message),
        };
        let user = match self.federated_user(&site.pool, &client.id, &provider, &claims).await {
            Ok(user) => user,
            Err(error) if error.code == "InternalErrorException" => return hosted.refusal(Refusal::Internal(error)),
            Err(error) => return back("invalid_request", error.message),
        };
        hosted.finish(&client, request, &user, &[session::clear_cookie(site, IDP_COOKIE)]).await
    }

    /// The code exchanged, the ID token verified, and the user's claims:
    /// the ID token's, with the userInfo answer's over them.
    async fn provider_claims(
        &self,
        hosted: &Hosted<'_>,
        state: &IdpState,
        code: &str,
    ) -> std::result::Result<Map<String, Value>, String> {
        let provider = self.identity_provider(&hosted.site.pool.id, &state.provider).await.map_err(|e| e.message)?;
        let redirect = hosted.site.url(Endpoint::IdpResponse);
        let client = self.idp_client(hosted.outbound, &provider, &redirect).await?;
        let http = hosted.outbound.http()?;
        let response = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|error| error.to_string())?
            .set_pkce_verifier(PkceCodeVerifier::new(state.verifier.clone()))
            .request_async(http)
            .await
            .map_err(|error| format!("the identity provider refused the code: {}", chain(&error)))?;
        let id_token = response.id_token().ok_or("the identity provider sent no ID token")?;
        let verifier = client.id_token_verifier();
        let verified = id_token
            .claims(&verifier, &Nonce::new(state.nonce.clone()))
            .map_err(|error| format!("the identity provider's ID token is not valid: {}", chain(&error)))?;
        if let Some(expected) = verified.access_token_hash() {
            let algorithm = id_token.signing_alg().map_err(|error| error.to_string())?;
            let key = id_token.signing_key(&verifier).map_err(|error| error.to_string())?;
            let actual = AccessTokenHash::from_token(response.access_token(), algorithm, key)
                .map_err(|error| error.to_string())?;
            if actual != *expected {
                return Err("the identity provider's access token does not match its ID token's at_hash".into());
            }
        }
        let subject = verified.subject().clone();
        // The token verified: its payload, every claim of it, can be read.
        let mut claims = unverified_claims(&id_token.to_string()).ok_or("the ID token's payload is not JSON")?;
        if client.user_info_url().is_some() {
            let method = provider.details.get("attributes_request_method").map_or("GET", String::as_str);
            let extra =
                self.provider_user_info(hosted.outbound, &client, response.access_token(), &subject, method).await?;
            for (name, value) in extra {
                if name != "sub" {
                    claims.insert(name, value);
                }
            }
        }
        Ok(claims)
    }

    /// The provider's userInfo answer for `subject`.
    async fn provider_user_info(
        &self,
        outbound: &Outbound,
        client: &IdpClient,
        token: &openidconnect::AccessToken,
        subject: &SubjectIdentifier,
        method: &str,
    ) -> std::result::Result<Map<String, Value>, String> {
        let http = outbound.http()?;
        let unreadable = |error: String| format!("the identity provider's userInfo cannot be read: {error}");
        if method.eq_ignore_ascii_case("POST") {
            let url = client.user_info_url().ok_or("no userInfo endpoint")?;
            let answer = http
                .post(url.url().clone())
                .bearer_auth(token.secret())
                .send()
                .await
                .and_then(reqwest::Response::error_for_status)
                .map_err(|error| unreadable(chain(&error)))?;
            let body = answer.bytes().await.map_err(|error| unreadable(chain(&error)))?;
            let claims: Map<String, Value> =
                serde_json::from_slice(&body).map_err(|error| unreadable(error.to_string()))?;
            if claims.get("sub").and_then(Value::as_str) != Some(subject.as_str()) {
                return Err(unreadable("its sub is not the ID token's".into()));
            }
            return Ok(claims);
        }
        let claims: openidconnect::UserInfoClaims<AnyClaims, CoreGenderClaim> = client
            .user_info(token.clone(), Some(subject.clone()))
            .map_err(|error| unreadable(error.to_string()))?
            .request_async(http)
            .await
            .map_err(|error| unreadable(chain(&error)))?;
        match serde_json::to_value(&claims) {
            Ok(Value::Object(claims)) => Ok(claims),
            _ => Err(unreadable("not a JSON object".into())),
        }
    }

    /// The pool user for a provider's user: created on the first sign-in,
    /// its mapped attributes brought up to date on every one.
    async fn federated_user(
        &self,
        pool: &UserPool,
        client_id: &str,
        provider: &IdentityProvider,
        claims: &Map<String, Value>,
    ) -> Result<User> {
        let username = federated_username(&provider.name, &provider.attribute_mapping, claims)
            .map_err(CognitoError::invalid_parameter)?;
        let subject = claims.get("sub").and_then(claim_text).unwrap_or_default();
        let attributes = mapped_attributes(pool, &provider.attribute_mapping, claims);
        Self::check_attributes(pool, &attributes, true)?;
        let users = store::users(&pool.id);
        let key = Self::user_key(pool, &username);
        for _ in 0..3 {
            if let Some(found) = self.store.get::<User>(&users, &key).await? {
                if !found.value.enabled {
                    return Err(CognitoError::not_authorized("User is disabled."));
                }
                // A local user who happens to have the federated name is not
                // the provider's user: never sign in as it.
                if found.value.status != UserStatus::ExternalProvider {
                    return Err(CognitoError::not_authorized(
                        "A user of this pool already has the name a federated user would get.",
                    ));
                }
                return self
                    .update_user(pool, &found.value.username, |user| {
                        for (name, value) in &attributes {
                            user.attributes.insert(name.clone(), value.clone());
                        }
                        Ok(())
                    })
                    .await;
            }
            let sub = uuid::Uuid::new_v4().to_string();
            let created = now();
            let identities = json!([{
                "userId": subject,
                "providerName": provider.name,
                "providerType": provider.provider_type,
                "issuer": null,
                "primary": "true",
                "dateCreated": ((created * 1000.0) as i64).to_string(),
            }]);
            let mut values: BTreeMap<String, String> = attributes.iter().cloned().collect();
            values.insert("sub".into(), sub.clone());
            values.insert("identities".into(), identities.to_string());
            let user = User {
                username: username.clone(),
                sub: sub.clone(),
                attributes: values,
                enabled: true,
                status: UserStatus::ExternalProvider,
                created,
                modified: created,
                password: None,
                codes: BTreeMap::new(),
                groups: Default::default(),
                mfa: Mfa::default(),
                failures: Failures::default(),
                tokens_valid_after: 0.0,
                codes_sent: Vec::new(),
            };
            self.triggers
                .run(Event {
                    pool,
                    trigger: "PreSignUp",
                    source: "PreSignUp_ExternalProvider",
                    client_id: Some(client_id),
                    username: &user.username,
                    request: json!({ "userAttributes": user_attributes(&user), "validationData": {}, "clientMetadata": {} }),
                    response: json!({ "autoConfirmUser": false, "autoVerifyEmail": false, "autoVerifyPhone": false }),
                })
                .await?;
            if self.store.create(&users, &key, &user).await? {
                self.store.create(&store::aliases(&pool.id), &alias_key("sub", &sub), &user.username).await?;
                return Ok(user);
            }
            // Another sign-in of the same user made it first: update that.
        }
        Err(CognitoError::too_many_requests("Too many concurrent sign-ins of one user; try again."))
    }
}

fn error_code(error: &str) -> &'static str {
    match error {
        "temporarily_unavailable" => "temporarily_unavailable",
        "server_error" => "server_error",
        _ => "access_denied",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> Map<String, Value> {
        json!({ "sub": "abc-123", "email": "a@example.com", "email_verified": true, "nickname": 7, "name": null })
            .as_object()
            .cloned()
            .unwrap_or_default()
    }

    #[test]
    fn federated_users_are_named_after_their_provider() {
        let mut mapping = BTreeMap::new();
        assert_eq!(federated_username("Corp", &mapping, &claims()).unwrap(), "Corp_abc-123");
        mapping.insert("username".to_owned(), "email".to_owned());
        assert_eq!(federated_username("Corp", &mapping, &claims()).unwrap(), "Corp_a@example.com");
        mapping.insert("username".to_owned(), "missing".to_owned());
        assert!(federated_username("Corp", &mapping, &claims()).is_err());
        let spaced = json!({ "sub": "a b" }).as_object().cloned().unwrap_or_default();
        assert!(federated_username("Corp", &BTreeMap::new(), &spaced).is_err());
    }

    #[test]
    fn the_mapping_names_pool_attributes_by_provider_claims() {
        let pool: UserPool = serde_json::from_value(json!({
            "id": "us-east-1_x", "name": "p", "created": 0.0, "modified": 0.0,
            "password_policy": { "minimum_length": 8, "require_uppercase": true, "require_lowercase": true,
                "require_numbers": true, "require_symbols": true },
            "username_attributes": [], "alias_attributes": [], "auto_verified_attributes": [],
            "case_sensitive": false, "mfa": "Off", "software_token_mfa": false, "custom_attributes": [],
            "required_attributes": [], "admin_create_user_only": false, "temporary_password_days": 7,
            "deletion_protection": false, "tags": {}, "domain": null, "settings": {}
        }))
        .unwrap();
        let mapping: BTreeMap<String, String> = [
            ("email", "email"),
            ("email_verified", "email_verified"),
            ("nickname", "nickname"),
            ("name", "name"),
            ("custom:unknown", "email"),
            ("username", "sub"),
        ]
        .into_iter()
        .map(|(a, c)| (a.to_owned(), c.to_owned()))
        .collect();
        let mapped = mapped_attributes(&pool, &mapping, &claims());
        assert_eq!(
            mapped,
            vec![
                ("email".to_owned(), "a@example.com".to_owned()),
                ("email_verified".to_owned(), "true".to_owned()),
                ("nickname".to_owned(), "7".to_owned()),
            ]
        );
    }
}
