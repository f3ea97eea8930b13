//! The authorization request (RFC 6749 §4.1.1 and §4.2.1, OIDC Core
//! §3.1.2.1), checked once when it arrives and carried sealed through the
//! hosted pages, and how a finished sign-in answers it.
//!
//! As Cognito does (and RFC 6749 §4.1.2.1 asks), a request whose client
//! or redirect URI cannot be trusted goes to the error page; any other
//! fault goes back to the redirect URI with `error` and `state`.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{
    Site,
    codes::{self, CodeGrant},
    request::Params,
    scopes,
};
use crate::{
    Cognito,
    api::clients::IdentityProvider,
    error::{CognitoError, Result},
    model::{AppClient, User},
    store,
    tokens::Session as TokenSession,
};

/// The local directory's name in `SupportedIdentityProviders`.
pub const COGNITO: &str = "COGNITO";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ResponseType {
    /// The authorization code grant.
    Code,
    /// The implicit grant: tokens in the redirect's fragment.
    Token,
}

impl ResponseType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Code => "code",
            Self::Token => "token",
        }
    }
}

/// A checked authorization request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuthRequest {
    pub client_id: String,
    pub redirect_uri: String,
    pub response_type: ResponseType,
    /// The scopes granted: those asked for, or all the client allows.
    pub scopes: Vec<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    /// An S256 PKCE challenge.
    pub code_challenge: Option<String>,
    /// The identity provider to go straight to (`identity_provider`, or
    /// the provider an `idp_identifier` names).
    pub identity_provider: Option<String>,
    /// `login` (always show the form) or `none` (never show it).
    pub prompt: Option<String>,
}

impl AuthRequest {
    /// The request as query parameters again, for the links between pages.
    pub fn query(&self) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        query.append_pair("response_type", self.response_type.as_str());
        query.append_pair("client_id", &self.client_id);
        query.append_pair("redirect_uri", &self.redirect_uri);
        query.append_pair("scope", &self.scopes.join(" "));
        for (name, value) in [("state", &self.state), ("nonce", &self.nonce)] {
            if let Some(value) = value {
                query.append_pair(name, value);
            }
        }
        if let Some(challenge) = &self.code_challenge {
            query.append_pair("code_challenge", challenge);
            query.append_pair("code_challenge_method", "S256");
        }
        query.finish()
    }

    /// The same request, sent to `provider` instead.
    pub fn query_with_provider(&self, provider: &str) -> String {
        let mut query = self.query();
        query.push_str("&identity_provider=");
        query.extend(url::form_urlencoded::byte_serialize(provider.as_bytes()));
        query
    }
}

/// Why an authorization request cannot go on.
#[derive(Debug)]
pub enum Refusal {
    /// No redirect URI to trust: the domain's error page.
    Page {
        error: &'static str,
        description: String,
    },
    /// Back to the client, RFC 6749 §4.1.2.1 (in the query) or §4.2.2.1
    /// (in the fragment, for the implicit grant).
    Client {
        request: Box<ClientTarget>,
        error: &'static str,
        description: String,
    },
    Internal(CognitoError),
}

/// Where a refusal goes back to.
#[derive(Debug, Clone)]
pub struct ClientTarget {
    pub redirect_uri: String,
    pub response_type: ResponseType,
    pub state: Option<String>,
}

impl From<CognitoError> for Refusal {
    fn from(error: CognitoError) -> Self {
        Refusal::Internal(error)
    }
}

impl Refusal {
    pub fn to_client(request: &AuthRequest, error: &'static str, description: impl Into<String>) -> Self {
        Refusal::Client {
            request: Box::new(ClientTarget {
                redirect_uri: request.redirect_uri.clone(),
                response_type: request.response_type,
                state: request.state.clone(),
            }),
            error,
            description: description.into(),
        }
    }
}

/// RFC 6749 §3.1.2.3 and Cognito: the redirect URI is compared with the
/// client's CallbackURLs exactly, character for character; an absolute
/// URI without a fragment, or nothing matches.
pub fn is_registered(redirect_uri: &str, callbacks: &[String]) -> bool {
    let Ok(parsed) = url::Url::parse(redirect_uri) else { return false };
    parsed.fragment().is_none() && !parsed.cannot_be_a_base() && callbacks.iter().any(|c| c == redirect_uri)
}

/// `redirect_uri` with `pairs` added: to its query for the code grant,
/// as its fragment for the implicit grant.
pub fn client_redirect(redirect_uri: &str, response_type: ResponseType, pairs: &[(&str, &str)]) -> String {
    let Ok(mut url) = url::Url::parse(redirect_uri) else { return redirect_uri.to_owned() };
    match response_type {
        ResponseType::Code => {
            let mut query = url.query_pairs_mut();
            for (name, value) in pairs {
                query.append_pair(name, value);
            }
        }
        ResponseType::Token => {
            let mut fragment = url::form_urlencoded::Serializer::new(String::new());
            for (name, value) in pairs {
                fragment.append_pair(name, value);
            }
            url.set_fragment(Some(&fragment.finish()));
        }
    }
    url.into()
}

/// The PKCE parameters of a request: an S256 challenge or none.
/// Cognito accepts only S256; a challenge without a method is `plain`
/// by RFC 7636 §4.3, so it is refused too.
pub fn pkce(challenge: Option<&str>, method: Option<&str>) -> std::result::Result<Option<String>, String> {
    match (challenge, method) {
        (None, None) => Ok(None),
        (None, Some(_)) => Err("code_challenge_method is given without code_challenge".into()),
        (Some(_), None) => Err("code_challenge_method is required: only S256 is supported".into()),
        (Some(_), Some(method)) if method != "S256" => {
            Err(format!("code_challenge_method {method} is not supported: only S256 is"))
        }
        (Some(challenge), Some(_)) if !codes::is_challenge(challenge) => {
            Err("code_challenge is not a base64url SHA-256 digest".into())
        }
        (Some(challenge), Some(_)) => Ok(Some(challenge.to_owned())),
    }
}

impl Cognito {
    /// Checks an authorization request against its client.
    pub(crate) async fn authorization_request(
        &self,
        site: &Site,
        params: &Params,
    ) -> std::result::Result<(AppClient, AuthRequest), Refusal> {
        let page = |error: &'static str, description: String| Refusal::Page { error, description };
        let client_id = params
            .get("client_id")
            .ok_or_else(|| page("invalid_request", "The parameter client_id is required.".into()))?;
        let client = match self.client_of(&site.pool.id, client_id).await {
            Ok(client) => client,
            Err(error) if error.code == "InternalErrorException" => return Err(Refusal::Internal(error)),
            Err(_) => return Err(page("invalid_request", format!("The client {client_id} does not exist."))),
        };
        let redirect_uri = params
            .get("redirect_uri")
            .ok_or_else(|| page("invalid_request", "The parameter redirect_uri is required.".into()))?;
        if !is_registered(redirect_uri, &client.callback_urls) {
            return Err(page("redirect_mismatch", "redirect_uri is not one of the client's callback URLs.".into()));
        }
        let back = |response_type: ResponseType, error: &'static str, description: String| Refusal::Client {
            request: Box::new(ClientTarget {
                redirect_uri: redirect_uri.to_owned(),
                response_type,
                state: params.get("state").map(str::to_owned),
            }),
            error,
            description,
        };
        let response_type = match params.get("response_type") {
            Some("code") => ResponseType::Code,
            Some("token") => ResponseType::Token,
            Some(other) => {
                return Err(back(
                    ResponseType::Code,
                    "unsupported_response_type",
                    format!("response_type {other} is not supported: code or token"),
                ));
            }
            None => {
                return Err(back(ResponseType::Code, "invalid_request", "response_type is required".into()));
            }
        };
        let flow = match response_type {
            ResponseType::Code => "code",
            ResponseType::Token => "implicit",
        };
        if !client.oauth_enabled || !client.oauth_flows.iter().any(|allowed| allowed == flow) {
            return Err(back(
                response_type,
                "unauthorized_client",
                format!("the client is not allowed the {flow} grant"),
            ));
        }
        let scopes = scopes::for_user(params.get("scope"), &client.oauth_scopes)
            .map_err(|error| back(response_type, "invalid_scope", error.0))?;
        let code_challenge = match response_type {
            ResponseType::Code => pkce(params.get("code_challenge"), params.get("code_challenge_method"))
                .map_err(|description| back(response_type, "invalid_request", description))?,
            ResponseType::Token => None,
        };
        let identity_provider = match (params.get("identity_provider"), params.get("idp_identifier")) {
            (Some(name), _) => Some(name.to_owned()),
            (None, Some(identifier)) => Some(
                self.provider_by_identifier(&site.pool.id, identifier)
                    .await?
                    .ok_or_else(|| {
                        back(
                            response_type,
                            "invalid_request",
                            format!("no identity provider has the identifier {identifier}"),
                        )
                    })?
                    .name,
            ),
            (None, None) => None,
        };
        if let Some(provider) = &identity_provider
            && !client.identity_providers.iter().any(|supported| supported == provider)
        {
            return Err(back(
                response_type,
                "invalid_request",
                format!("{provider} is not a supported identity provider of this client"),
            ));
        }
        let request = AuthRequest {
            client_id: client.id.clone(),
            redirect_uri: redirect_uri.to_owned(),
            response_type,
            scopes,
            state: params.get("state").map(str::to_owned),
            nonce: params.get("nonce").map(str::to_owned),
            code_challenge,
            identity_provider,
            prompt: params.get("prompt").filter(|prompt| matches!(*prompt, "login" | "none")).map(str::to_owned),
        };
        Ok((client, request))
    }

    async fn provider_by_identifier(&self, pool_id: &str, identifier: &str) -> Result<Option<IdentityProvider>> {
        let providers = self.store.all::<IdentityProvider>(&store::providers(pool_id), "").await?;
        Ok(providers.into_iter().map(|(_, provider)| provider).find(|p| p.identifiers.iter().any(|i| i == identifier)))
    }

    /// The answer to a request whose user has signed in: a code, or (the
    /// implicit grant) the tokens themselves; the location to send the
    /// browser to.
    pub(crate) async fn complete_authorization(
        &self,
        site: &Site,
        client: &AppClient,
        request: &AuthRequest,
        user: &User,
        auth_time: i64,
    ) -> Result<String> {
        let state = request.state.as_deref();
        match request.response_type {
            ResponseType::Code => {
                let grant = CodeGrant {
                    pool_id: site.pool.id.clone(),
                    client_id: client.id.clone(),
                    username: user.username.clone(),
                    sub: user.sub.clone(),
                    redirect_uri: request.redirect_uri.clone(),
                    challenge: request.code_challenge.clone(),
                    scopes: request.scopes.clone(),
                    nonce: request.nonce.clone(),
                    auth_time,
                    issued: 0.0,
                    expires: 0.0,
                };
                let code = self.issue_code(grant).await?;
                let mut pairs = vec![("code", code.as_str())];
                pairs.extend(state.map(|state| ("state", state)));
                Ok(client_redirect(&request.redirect_uri, ResponseType::Code, &pairs))
            }
            ResponseType::Token => {
                let overrides = self
                    .pre_token_generation(
                        &site.pool,
                        client,
                        user,
                        "TokenGeneration_HostedAuth",
                        &request.scopes,
                        &json!({}),
                    )
                    .await?;
                // No refresh token in the implicit grant, so no grant
                // record: the tokens' origin is their own.
                let session = TokenSession {
                    pool: &site.pool,
                    client,
                    user,
                    auth_time,
                    origin_jti: uuid::Uuid::new_v4().to_string(),
                    scopes: request.scopes.clone(),
                    nonce: request.nonce.clone(),
                    overrides: overrides.as_ref(),
                };
                let issued = self.tokens.issue(&session, None).await?;
                let expires_in = issued.expires_in.to_string();
                let mut pairs = vec![("access_token", issued.access_token.as_str())];
                if request.scopes.iter().any(|scope| scope == scopes::OPENID) {
                    pairs.push(("id_token", issued.id_token.as_str()));
                }
                pairs.extend([("token_type", "Bearer"), ("expires_in", expires_in.as_str())]);
                pairs.extend(state.map(|state| ("state", state)));
                Ok(client_redirect(&request.redirect_uri, ResponseType::Token, &pairs))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uris_match_exactly() {
        let callbacks = vec!["http://localhost/callback".to_owned(), "https://app.example.com/cb?x=1".to_owned()];
        assert!(is_registered("http://localhost/callback", &callbacks));
        assert!(is_registered("https://app.example.com/cb?x=1", &callbacks));
        for other in [
            "http://localhost/callback/",
            "http://localhost/Callback",
            "http://LOCALHOST/callback",
            "http://localhost:80/callback",
            "http://localhost/callback?x=1",
            "https://localhost/callback",
            "https://app.example.com/cb",
            "http://localhost/callback#frag",
            "/callback",
            "",
        ] {
            assert!(!is_registered(other, &callbacks), "{other}");
        }
        // A registered URI with a fragment never matches (Cognito refuses to
        // register one, but an old record could hold one).
        assert!(!is_registered("http://localhost/a#b", &["http://localhost/a#b".to_owned()]));
    }

    #[test]
    fn answers_go_in_the_query_or_the_fragment() {
        let code =
            client_redirect("http://localhost/cb?keep=1", ResponseType::Code, &[("code", "c"), ("state", "a b")]);
        assert_eq!(code, "http://localhost/cb?keep=1&code=c&state=a+b");
        let tokens = client_redirect("http://localhost/cb", ResponseType::Token, &[("access_token", "t")]);
        assert_eq!(tokens, "http://localhost/cb#access_token=t");
    }

    #[test]
    fn pkce_takes_s256_only() {
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert_eq!(pkce(None, None), Ok(None));
        assert_eq!(pkce(Some(challenge), Some("S256")), Ok(Some(challenge.to_owned())));
        assert!(pkce(Some(challenge), Some("plain")).unwrap_err().contains("plain"));
        assert!(pkce(Some(challenge), None).is_err());
        assert!(pkce(None, Some("S256")).is_err());
        assert!(pkce(Some("short"), Some("S256")).is_err());
    }

    #[test]
    fn a_request_round_trips_through_its_query() {
        let request = AuthRequest {
            client_id: "client".into(),
            redirect_uri: "http://localhost/cb".into(),
            response_type: ResponseType::Code,
            scopes: vec!["openid".into(), "email".into()],
            state: Some("s&t".into()),
            nonce: None,
            code_challenge: Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into()),
            identity_provider: None,
            prompt: None,
        };
        let params = Params::parse(request.query().as_bytes()).unwrap();
        assert_eq!(params.get("state"), Some("s&t"));
        assert_eq!(params.get("scope"), Some("openid email"));
        assert_eq!(params.get("code_challenge_method"), Some("S256"));
        let with = Params::parse(request.query_with_provider("My IdP").as_bytes()).unwrap();
        assert_eq!(with.get("identity_provider"), Some("My IdP"));
    }
}
