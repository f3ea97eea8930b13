//! Each pool's OAuth 2.0 / OpenID Connect provider and hosted UI, served
//! once the pool has a domain (CreateUserPoolDomain), in two forms:
//! - on the domain, `{domain}.auth.localhost` (routed by `Host`, whatever
//!   the port), as Cognito serves `{domain}.auth.{region}.amazoncognito.com`;
//! - under the pool's path on the auth port, `/{poolId}/oauth2/...`, which
//!   needs no DNS; the discovery document names this form.
//!
//! A request is parsed once into a `Target` (how the pool is addressed,
//! and the `Endpoint`), then dispatched with one `match`:
//! - `authorize`: the authorization request every sign-in carries,
//!   checked once (client, exact redirect URI, response type, scopes,
//!   PKCE), and how a finished sign-in answers it (a code or tokens);
//! - `hosted`: the HTML pages (login, sign-up and its confirmation, new
//!   password, TOTP, logout, the error page), built by `pages`;
//! - `session`: the domain's sealed session cookie and CSRF protection;
//! - `codes`: authorization codes and their PKCE proof;
//! - `token`: the token and revocation endpoints; `userinfo`;
//! - `federation`: sign-in through an external OIDC identity provider;
//! - `scopes`, `request`: scope rules and the parsers of untrusted input.
//!
//! Cognito's documented behaviour is followed where it says something
//! (named in comments as Cognito's); otherwise RFC 6749 (OAuth 2.0),
//! RFC 7636 (PKCE), RFC 7009 (revocation), RFC 6750 (Bearer) and OpenID
//! Connect Core.

pub mod authorize;
pub mod codes;
pub mod federation;
mod hosted;
mod pages;
pub mod request;
pub mod scopes;
mod session;
mod token;
mod userinfo;

use actix_web::{
    HttpRequest, HttpResponse,
    guard::{self, GuardContext},
    http::{Method, StatusCode, header},
    web,
};
use serde_json::json;

pub use self::federation::Outbound;
use crate::{Cognito, api::clients::DomainRecord, error::CognitoError, ids, model::UserPool, store::DOMAINS};

/// Form bodies of the hosted UI and the token endpoint are small.
const MAX_BODY: usize = 64 * 1024;

/// How a request names its pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    /// `/{poolId}/...` on the auth port.
    Path(String),
    /// `Host: {domain}.auth.localhost`.
    Domain(String),
}

/// The endpoints of a pool's domain, by Cognito's paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Authorize,
    Token,
    UserInfo,
    Revoke,
    IdpResponse,
    Login,
    Signup,
    ConfirmUser,
    NewPassword,
    Mfa,
    Logout,
    Error,
}

impl Endpoint {
    const ALL: [(&'static str, Endpoint); 12] = [
        ("/oauth2/authorize", Endpoint::Authorize),
        ("/oauth2/token", Endpoint::Token),
        ("/oauth2/userInfo", Endpoint::UserInfo),
        ("/oauth2/revoke", Endpoint::Revoke),
        ("/oauth2/idpresponse", Endpoint::IdpResponse),
        ("/login", Endpoint::Login),
        ("/signup", Endpoint::Signup),
        ("/confirmUser", Endpoint::ConfirmUser),
        ("/newPassword", Endpoint::NewPassword),
        ("/mfa", Endpoint::Mfa),
        ("/logout", Endpoint::Logout),
        ("/error", Endpoint::Error),
    ];

    fn of_path(path: &str) -> Option<Self> {
        Self::ALL.iter().find(|(known, _)| *known == path).map(|(_, endpoint)| *endpoint)
    }

    pub fn path(self) -> &'static str {
        Self::ALL.iter().find(|(_, endpoint)| *endpoint == self).map_or("/", |(path, _)| path)
    }

    /// The operation name `/metrics` counts requests by.
    fn name(self) -> &'static str {
        match self {
            Self::Authorize => "OAuth2Authorize",
            Self::Token => "OAuth2Token",
            Self::UserInfo => "OAuth2UserInfo",
            Self::Revoke => "OAuth2Revoke",
            Self::IdpResponse => "OAuth2IdpResponse",
            Self::Login => "HostedLogin",
            Self::Signup => "HostedSignup",
            Self::ConfirmUser => "HostedConfirmUser",
            Self::NewPassword => "HostedNewPassword",
            Self::Mfa => "HostedMfa",
            Self::Logout => "HostedLogout",
            Self::Error => "HostedError",
        }
    }

    /// The methods the endpoint answers.
    fn methods(self) -> &'static [Method] {
        match self {
            Self::Token => &[Method::POST, Method::OPTIONS],
            Self::Revoke => &[Method::POST, Method::OPTIONS],
            Self::UserInfo => &[Method::GET, Method::POST, Method::OPTIONS],
            Self::Login | Self::Signup => &[Method::GET, Method::POST],
            Self::ConfirmUser | Self::NewPassword | Self::Mfa => &[Method::POST],
            Self::Authorize | Self::IdpResponse | Self::Logout | Self::Error => &[Method::GET],
        }
    }

    /// Whether it answers machines in JSON rather than people in HTML.
    fn is_api(self) -> bool {
        matches!(self, Self::Token | Self::UserInfo | Self::Revoke)
    }
}

/// What a request is for: its pool's address and, on a pool's domain,
/// the endpoint (`None`: a path the domain does not serve).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub address: Address,
    pub endpoint: Option<Endpoint>,
}

impl Target {
    /// Reads a request's `Host` and path. `None`: not this module's (the
    /// Cognito API, `/.well-known`, health and metrics).
    pub fn parse(host: Option<&str>, path: &str) -> Option<Self> {
        if let Some(domain) = host.and_then(request::domain_of_host) {
            return Some(Self { address: Address::Domain(domain), endpoint: Endpoint::of_path(path) });
        }
        let rest = path.strip_prefix('/')?;
        let (pool_id, endpoint_path) = rest.split_at(rest.find('/')?);
        if !ids::is_pool_id(pool_id) {
            return None;
        }
        let endpoint = Endpoint::of_path(endpoint_path)?;
        Some(Self { address: Address::Path(pool_id.to_owned()), endpoint: Some(endpoint) })
    }

    fn of(head: &actix_web::dev::RequestHead) -> Option<Self> {
        let host = head.headers.get(header::HOST).and_then(|value| value.to_str().ok());
        Self::parse(host, head.uri.path())
    }
}

/// The pool a request reached, and where its pages are.
#[derive(Debug, Clone)]
pub struct Site {
    pub pool: UserPool,
    /// `/{poolId}` in the path form, empty on the pool's domain.
    pub prefix: String,
    /// `{scheme}://{host}`, as the request reached this service.
    pub origin: String,
    /// Cookies are marked `Secure` when the pages are served over HTTPS.
    pub secure: bool,
}

impl Site {
    /// An endpoint's path on this site.
    pub fn path(&self, endpoint: Endpoint) -> String {
        format!("{}{}", self.prefix, endpoint.path())
    }

    /// An endpoint's absolute URL on this site.
    pub fn url(&self, endpoint: Endpoint) -> String {
        format!("{}{}", self.origin, self.path(endpoint))
    }

    /// The path cookies of this site are scoped to.
    pub fn cookie_path(&self) -> &str {
        if self.prefix.is_empty() { "/" } else { &self.prefix }
    }
}

/// Registers the module's one route: every request `Target::parse` takes.
pub fn routes(routes: &mut web::ServiceConfig) {
    routes.app_data(web::Data::new(Outbound::new())).service(
        web::resource("/{tail:.*}")
            .guard(guard::fn_guard(|context: &GuardContext<'_>| Target::of(context.head()).is_some()))
            .app_data(web::PayloadConfig::new(MAX_BODY))
            .to(handle),
    );
}

/// Answers one request of a pool's domain.
async fn handle(
    request: HttpRequest,
    body: web::Bytes,
    cognito: web::Data<Cognito>,
    outbound: web::Data<Outbound>,
) -> HttpResponse {
    let Some(target) = Target::of(request.head()) else { return pages::not_found() };
    let Some(endpoint) = target.endpoint else { return pages::not_found() };
    nubo_host::front::name_operation(&request, endpoint.name());
    if !endpoint.methods().contains(request.method()) {
        let allow: Vec<&str> = endpoint.methods().iter().map(Method::as_str).collect();
        return HttpResponse::MethodNotAllowed().insert_header((header::ALLOW, allow.join(", "))).finish();
    }
    let site = match cognito.site(&target.address, &request).await {
        Ok(site) => site,
        Err(failure) if endpoint.is_api() => return failure.json(),
        Err(failure) => return failure.page(),
    };
    let query = request::Params::parse(request.query_string().as_bytes());
    let form = if request.method() == Method::POST { request::Params::parse(&body) } else { Ok(Default::default()) };
    let hosted = hosted::Hosted { cognito: &cognito, outbound: &outbound, site: &site, request: &request };
    match endpoint {
        Endpoint::Authorize => hosted.authorize(query).await,
        Endpoint::Login if request.method() == Method::GET => hosted.login_page(query).await,
        Endpoint::Login => hosted.login(form).await,
        Endpoint::Signup if request.method() == Method::GET => hosted.signup_page(query).await,
        Endpoint::Signup => hosted.signup(form).await,
        Endpoint::ConfirmUser => hosted.confirm(form).await,
        Endpoint::NewPassword => hosted.new_password(form).await,
        Endpoint::Mfa => hosted.mfa(form).await,
        Endpoint::Logout => hosted.logout(query).await,
        Endpoint::Error => hosted.error_page(query),
        Endpoint::IdpResponse => hosted.idp_response(query).await,
        Endpoint::Token | Endpoint::Revoke if request.method() == Method::OPTIONS => token::preflight("POST, OPTIONS"),
        Endpoint::UserInfo if request.method() == Method::OPTIONS => token::preflight("GET, POST, OPTIONS"),
        Endpoint::Token => token::token(&cognito, &site, &request, form).await,
        Endpoint::Revoke => token::revoke(&cognito, &site, &request, form).await,
        Endpoint::UserInfo => userinfo::user_info(&cognito, &site, &request).await,
    }
}

/// A request that reached no usable pool.
#[derive(Debug)]
struct NoSite {
    status: StatusCode,
    message: String,
}

impl NoSite {
    fn page(&self) -> HttpResponse {
        pages::error(self.status, "invalid_request", &self.message)
    }

    fn json(&self) -> HttpResponse {
        HttpResponse::build(self.status)
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(json!({ "error": "invalid_request", "error_description": self.message }))
    }
}

impl Cognito {
    /// The pool and site an address names. Cognito serves these endpoints
    /// only for a pool with a domain, so the path form needs one too.
    async fn site(&self, address: &Address, request: &HttpRequest) -> Result<Site, NoSite> {
        let missing = |message: String| NoSite { status: StatusCode::NOT_FOUND, message };
        let internal =
            |error: CognitoError| NoSite { status: StatusCode::INTERNAL_SERVER_ERROR, message: error.message };
        let (pool, prefix) = match address {
            Address::Path(pool_id) => {
                let pool = match self.pool(pool_id).await {
                    Ok(pool) => pool,
                    Err(error) if error.code == "InternalErrorException" => return Err(internal(error)),
                    Err(error) => return Err(missing(error.message)),
                };
                if pool.domain.is_none() {
                    return Err(missing(format!(
                        "User pool {pool_id} has no domain: its hosted UI and OAuth endpoints are served once it has one."
                    )));
                }
                (pool, format!("/{pool_id}"))
            }
            Address::Domain(domain) => {
                let record = self.store.get::<DomainRecord>(DOMAINS, domain).await.map_err(internal)?;
                let Some(record) = record else {
                    return Err(missing(format!("No user pool has the domain {domain}.")));
                };
                let pool = self.pool(&record.value.pool_id).await.map_err(|error| missing(error.message))?;
                (pool, String::new())
            }
        };
        let info = request.connection_info();
        let secure = info.scheme() == "https";
        let origin = format!("{}://{}", info.scheme(), info.host());
        Ok(Site { pool, prefix, origin, secure })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_routed_by_host_or_by_the_pools_path() {
        let domain = Target::parse(Some("shop.auth.localhost:9229"), "/oauth2/authorize").unwrap();
        assert_eq!(domain.address, Address::Domain("shop".into()));
        assert_eq!(domain.endpoint, Some(Endpoint::Authorize));
        // A domain's unknown path is still the domain's (a 404 page).
        let unknown = Target::parse(Some("shop.auth.localhost"), "/nothing").unwrap();
        assert_eq!(unknown.endpoint, None);
        let path = Target::parse(Some("localhost:9229"), "/us-east-1_abc123/oauth2/token").unwrap();
        assert_eq!(path.address, Address::Path("us-east-1_abc123".into()));
        assert_eq!(path.endpoint, Some(Endpoint::Token));
        assert_eq!(Target::parse(None, "/us-east-1_abc123/logout").map(|t| t.endpoint), Some(Some(Endpoint::Logout)));
        // Not ours: the Cognito API, the well-known documents, health.
        for path in [
            "/",
            "/health",
            "/us-east-1_abc123/.well-known/jwks.json",
            "/us-east-1_abc123/oauth2/other",
            "/not-a-pool/oauth2/token",
            "/us-east-1_abc123",
            "//oauth2/token",
        ] {
            assert_eq!(Target::parse(Some("localhost:9229"), path), None, "{path}");
        }
        for (path, endpoint) in Endpoint::ALL {
            assert_eq!(Endpoint::of_path(path), Some(endpoint));
            assert_eq!(endpoint.path(), path);
        }
    }
}
