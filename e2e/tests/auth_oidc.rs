//! A user pool's OIDC provider and hosted UI, driven as apps drive them:
//! an `openidconnect` client discovers the pool, sends a browser through
//! the hosted login page, redeems the code with PKCE, verifies the ID
//! token, refreshes it and reads userInfo. The browser is reqwest,
//! following no redirect and keeping its own cookies (by path, as a
//! browser does); it reads the login form out of the HTML. Then the
//! refusals RFC 6749 and Cognito promise, the domain's `Host` form,
//! sign-up and a forced password change, and a pool that signs its users
//! in through another pool as its OIDC identity provider.

use std::collections::BTreeMap;

use aws_sdk_cognitoidentityprovider::{
    Client,
    types::{
        AttributeType, AuthFlowType, ExplicitAuthFlowsType, IdentityProviderTypeType, MessageActionType, OAuthFlowType,
        ResourceServerScopeType, SoftwareTokenMfaConfigType, SoftwareTokenMfaSettingsType, UserPoolMfaType,
        VerifiedAttributeType,
    },
};
use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use nubo_e2e::{Nubo, ServiceName, cognito_client};
use openidconnect::{
    AuthorizationCode, ClientId, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse as _, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope, TokenResponse as _,
    core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata, CoreUserInfoClaims},
    url::Url,
};
use serde_json::Value;
use totp_rs::{Algorithm, Secret, TOTP};

const PASSWORD: &str = "Correct-Horse-9";
const CALLBACK: &str = "http://localhost/callback";
const SIGNED_OUT: &str = "http://localhost/signed-out";

/// A browser: no redirect followed, cookies kept by name and path.
struct Browser {
    http: reqwest::Client,
    /// (name, path) → value.
    cookies: BTreeMap<(String, String), String>,
    /// A `Host` to send instead of the URL's.
    host: Option<String>,
}

/// One answer, read whole.
struct Answer {
    status: u16,
    location: Option<String>,
    body: String,
}

impl Browser {
    fn new() -> Self {
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Self { http, cookies: BTreeMap::new(), host: None }
    }

    fn on_host(host: &str) -> Self {
        Self { host: Some(host.to_owned()), ..Self::new() }
    }

    fn cookie_header(&self, url: &Url) -> String {
        self.cookies
            .iter()
            .filter(|((_, path), _)| url.path().starts_with(path.as_str()))
            .map(|((name, _), value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn cookie(&self, name: &str) -> Option<&String> {
        self.cookies.iter().find(|((n, _), _)| n == name).map(|(_, value)| value)
    }

    async fn send(&mut self, request: reqwest::RequestBuilder, url: &Url) -> Answer {
        let mut request = request.header("cookie", self.cookie_header(url));
        if let Some(host) = &self.host {
            request = request.header("host", host);
        }
        let response = request.send().await.unwrap();
        for set in response.headers().get_all("set-cookie") {
            let set = set.to_str().unwrap();
            let mut parts = set.split(';').map(str::trim);
            let (name, value) = parts.next().unwrap().split_once('=').unwrap();
            let mut path = "/".to_owned();
            let mut removed = false;
            for part in parts {
                if let Some(p) = part.strip_prefix("Path=") {
                    path = p.to_owned();
                }
                removed |= part == "Max-Age=0";
            }
            if removed {
                self.cookies.remove(&(name.to_owned(), path));
            } else {
                self.cookies.insert((name.to_owned(), path), value.to_owned());
            }
        }
        let status = response.status().as_u16();
        let location = response.headers().get("location").map(|l| url.join(l.to_str().unwrap()).unwrap().to_string());
        Answer { status, location, body: response.text().await.unwrap() }
    }

    async fn get(&mut self, url: &str) -> Answer {
        let url = Url::parse(url).unwrap();
        self.send(self.http.get(url.clone()), &url).await
    }

    async fn post(&mut self, url: &str, fields: &[(String, String)]) -> Answer {
        let url = Url::parse(url).unwrap();
        self.send(self.http.post(url.clone()).form(fields), &url).await
    }

    /// Submits the page's form with `fields` added to its hidden ones.
    async fn submit(&mut self, page_url: &str, page: &Answer, fields: &[(&str, &str)]) -> Answer {
        let form = HtmlForm::of(&page.body);
        let mut all = form.hidden;
        all.extend(fields.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())));
        let action = Url::parse(page_url).unwrap().join(&form.action).unwrap();
        self.post(action.as_str(), &all).await
    }

    /// Through `/oauth2/authorize` and the login form: where the browser
    /// is sent back to.
    async fn sign_in(&mut self, authorize: &str, username: &str, password: &str) -> String {
        let login = self.get(authorize).await;
        assert_eq!(login.status, 302, "{}", login.body);
        let login_url = login.location.unwrap();
        assert!(login_url.contains("/login?"), "{login_url}");
        let page = self.get(&login_url).await;
        assert_eq!(page.status, 200, "{}", page.body);
        let done = self.submit(&login_url, &page, &[("username", username), ("password", password)]).await;
        assert_eq!(done.status, 302, "{}", done.body);
        done.location.unwrap()
    }
}

/// The first form of a page: its action and hidden fields.
struct HtmlForm {
    action: String,
    hidden: Vec<(String, String)>,
}

fn unescape(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&apos;", "'")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

fn attribute(tag: &str, name: &str) -> Option<String> {
    let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    let end = tag[start..].find('"')? + start;
    Some(unescape(&tag[start..end]))
}

impl HtmlForm {
    fn of(html: &str) -> Self {
        let start = html.find("<form").unwrap_or_else(|| panic!("no form in {html}"));
        let end = html[start..].find("</form>").unwrap() + start;
        let form = &html[start..end];
        let action = attribute(&form[..form.find('>').unwrap()], "action").unwrap();
        let hidden = form
            .split("<input")
            .skip(1)
            .map(|rest| &rest[..rest.find('>').unwrap()])
            .filter(|tag| tag.contains("type=\"hidden\""))
            .map(|tag| (attribute(tag, "name").unwrap(), attribute(tag, "value").unwrap()))
            .collect();
        Self { action, hidden }
    }
}

fn query_of(location: &str) -> BTreeMap<String, String> {
    Url::parse(location).unwrap().query_pairs().into_owned().collect()
}

fn fragment_of(location: &str) -> BTreeMap<String, String> {
    let fragment = Url::parse(location).unwrap().fragment().unwrap_or_default().to_owned();
    openidconnect::url::form_urlencoded::parse(fragment.as_bytes()).into_owned().collect()
}

fn payload(jwt: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(jwt.split('.').nth(1).unwrap()).unwrap()).unwrap()
}

fn http() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// `nubo up`, its Cognito client, and the auth port as tokens name it.
async fn stack(state: &tempfile::TempDir) -> (Nubo, Client, String) {
    let nubo = Nubo::up(&state.path().join("state")).await;
    let cognito = cognito_client(&nubo.http_url(ServiceName::Auth));
    let base = format!("http://localhost:{}", nubo.ports[&ServiceName::Auth].http);
    (nubo, cognito, base)
}

async fn pool_with_domain(cognito: &Client, name: &str, domain: &str) -> String {
    let pool = cognito
        .create_user_pool()
        .pool_name(name)
        .auto_verified_attributes(VerifiedAttributeType::Email)
        .send()
        .await
        .unwrap();
    let pool_id = pool.user_pool().unwrap().id().unwrap().to_owned();
    cognito.create_user_pool_domain().user_pool_id(&pool_id).domain(domain).send().await.unwrap();
    pool_id
}

/// An app client with the code grant (and `flows`), `scopes`, the
/// callback and sign-out URLs, and the pool's own users.
async fn app_client(
    cognito: &Client,
    pool_id: &str,
    name: &str,
    secret: bool,
    flows: &[OAuthFlowType],
    scopes: &[&str],
) -> (String, Option<String>) {
    let mut request = cognito
        .create_user_pool_client()
        .user_pool_id(pool_id)
        .client_name(name)
        .generate_secret(secret)
        .allowed_o_auth_flows_user_pool_client(true)
        .callback_urls(CALLBACK)
        .logout_urls(SIGNED_OUT)
        .supported_identity_providers("COGNITO");
    for flow in flows {
        request = request.allowed_o_auth_flows(flow.clone());
    }
    for scope in scopes {
        request = request.allowed_o_auth_scopes(*scope);
    }
    let client = request.send().await.unwrap();
    let client = client.user_pool_client().unwrap();
    (client.client_id().unwrap().to_owned(), client.client_secret().map(str::to_owned))
}

async fn user(cognito: &Client, pool_id: &str, username: &str, email: &str) -> String {
    let created = cognito
        .admin_create_user()
        .user_pool_id(pool_id)
        .username(username)
        .user_attributes(AttributeType::builder().name("email").value(email).build().unwrap())
        .user_attributes(AttributeType::builder().name("email_verified").value("true").build().unwrap())
        .message_action(MessageActionType::Suppress)
        .send()
        .await
        .unwrap();
    cognito
        .admin_set_user_password()
        .user_pool_id(pool_id)
        .username(username)
        .password(PASSWORD)
        .permanent(true)
        .send()
        .await
        .unwrap();
    let attributes = created.user().unwrap().attributes();
    attributes.iter().find(|a| a.name() == "sub").unwrap().value().unwrap().to_owned()
}

/// A plain authorize URL for the code grant.
fn authorize_url(base: &str, client_id: &str, extra: &str) -> String {
    format!(
        "{base}/oauth2/authorize?response_type=code&client_id={client_id}&redirect_uri={CALLBACK}&scope=openid+email&state=s1{extra}"
    )
}

async fn token_request(
    url: &str,
    host: Option<&str>,
    basic: Option<(&str, &str)>,
    fields: &[(&str, &str)],
) -> (u16, Value) {
    let mut request = http().post(url).form(fields);
    if let Some(host) = host {
        request = request.header("host", host);
    }
    if let Some((id, secret)) = basic {
        request = request.basic_auth(id, Some(secret));
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

#[tokio::test(flavor = "multi_thread")]
async fn an_openidconnect_client_signs_in_through_the_hosted_ui() {
    let state = tempfile::tempdir().unwrap();
    let (nubo, cognito, base) = stack(&state).await;
    let pool_id = pool_with_domain(&cognito, "shop", "shop-oidc").await;
    let scopes = ["openid", "email", "profile", "aws.cognito.signin.user.admin"];
    let (web, _) =
        app_client(&cognito, &pool_id, "web", false, &[OAuthFlowType::Code, OAuthFlowType::Implicit], &scopes).await;
    let sub = user(&cognito, &pool_id, "alice", "alice@example.com").await;
    let issuer = format!("{base}/{pool_id}");
    let http = http();

    // Discovery, as any OIDC client starts.
    let metadata = CoreProviderMetadata::discover_async(IssuerUrl::new(issuer.clone()).unwrap(), &http).await.unwrap();
    assert_eq!(metadata.token_endpoint().unwrap().as_str(), format!("{issuer}/oauth2/token"));
    assert_eq!(metadata.userinfo_endpoint().unwrap().as_str(), format!("{issuer}/oauth2/userInfo"));
    let client = CoreClient::from_provider_metadata(metadata, ClientId::new(web.clone()), None)
        .set_redirect_uri(RedirectUrl::new(CALLBACK.into()).unwrap());

    // Authorization code with PKCE, through the login form.
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, csrf, nonce) = client
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("profile".into()))
        .set_pkce_challenge(challenge)
        .url();
    let mut browser = Browser::new();
    let back = browser.sign_in(url.as_str(), "alice", PASSWORD).await;
    assert!(back.starts_with(CALLBACK), "{back}");
    let answer = query_of(&back);
    assert_eq!(answer.get("state"), Some(csrf.secret()), "state comes back as sent");
    let code = answer["code"].clone();
    let session = browser.cookie("cognito").expect("a session cookie on the domain").clone();
    assert!(!session.is_empty());

    let tokens = client
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .unwrap();
    let id_token = tokens.id_token().expect("an ID token for the openid scope");
    let claims = id_token.claims(&client.id_token_verifier(), &nonce).unwrap();
    assert_eq!(claims.subject().as_str(), sub);
    assert_eq!(claims.email().map(|e| e.as_str()), Some("alice@example.com"));
    assert_eq!(payload(&id_token.to_string())["cognito:username"], "alice");
    let access = payload(tokens.access_token().secret());
    let granted: Vec<&str> = access["scope"].as_str().unwrap().split(' ').collect();
    assert_eq!(granted, ["openid", "email", "profile"], "{access}");
    assert_eq!(access["token_use"], "access");
    assert_eq!(access["client_id"], web);

    // userInfo through the client, and Cognito's shape on the wire.
    let info: CoreUserInfoClaims = client
        .user_info(tokens.access_token().clone(), Some(claims.subject().clone()))
        .unwrap()
        .request_async(&http)
        .await
        .unwrap();
    assert_eq!(info.email().map(|e| e.as_str()), Some("alice@example.com"));
    assert_eq!(info.email_verified(), Some(true));
    let raw: Value = http
        .get(format!("{issuer}/oauth2/userInfo"))
        .bearer_auth(tokens.access_token().secret())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(raw["email_verified"], "true", "{raw}");
    assert_eq!(raw["username"], "alice");
    assert_eq!(raw["sub"], sub);

    // Refresh: new tokens, the ID token still verifying (without a nonce).
    let refresh = tokens.refresh_token().expect("a refresh token").clone();
    let refreshed = client.exchange_refresh_token(&refresh).unwrap().request_async(&http).await.unwrap();
    let again = refreshed.id_token().expect("a refreshed ID token");
    let again = again.claims(&client.id_token_verifier(), |_: Option<&Nonce>| Ok(())).unwrap();
    assert_eq!(again.subject().as_str(), sub);
    assert_ne!(refreshed.access_token().secret(), tokens.access_token().secret());

    // The session cookie skips the form on a second authorize.
    let second = browser.get(&format!("{}&prompt=consent", authorize_url(&issuer, &web, ""))).await;
    assert_eq!(second.status, 302);
    let second = second.location.unwrap();
    assert!(second.starts_with(CALLBACK) && query_of(&second).contains_key("code"), "{second}");
    // prompt=login shows the form anyway.
    let forced = browser.get(&authorize_url(&issuer, &web, "&prompt=login")).await;
    assert!(forced.location.unwrap().contains("/login?"));

    // The implicit grant, allowed to this client: tokens in the fragment.
    let implicit = browser
        .get(&format!(
            "{issuer}/oauth2/authorize?response_type=token&client_id={web}&redirect_uri={CALLBACK}&scope=openid&state=i1&nonce=n1"
        ))
        .await;
    let fragment = fragment_of(&implicit.location.unwrap());
    assert_eq!(fragment.get("state").map(String::as_str), Some("i1"));
    assert_eq!(fragment.get("token_type").map(String::as_str), Some("Bearer"));
    assert_eq!(payload(&fragment["id_token"])["nonce"], "n1");
    assert!(!fragment.contains_key("refresh_token"));

    // Revocation (RFC 7009), then the refresh token is refused.
    let (status, _) = token_request(
        &format!("{issuer}/oauth2/revoke"),
        None,
        None,
        &[("token", refresh.secret()), ("client_id", &web)],
    )
    .await;
    assert_eq!(status, 200);
    let (status, refused) = token_request(
        &format!("{issuer}/oauth2/token"),
        None,
        None,
        &[("grant_type", "refresh_token"), ("client_id", &web), ("refresh_token", refresh.secret())],
    )
    .await;
    assert_eq!((status, refused["error"].as_str()), (400, Some("invalid_grant")), "{refused}");

    // Logout clears the session, then the form is needed again.
    let out = browser.get(&format!("{issuer}/logout?client_id={web}&logout_uri={SIGNED_OUT}")).await;
    assert_eq!((out.status, out.location.as_deref()), (302, Some(SIGNED_OUT)));
    assert!(browser.cookie("cognito").is_none());
    let after = browser.get(&authorize_url(&issuer, &web, "")).await;
    assert!(after.location.unwrap().contains("/login?"));
    // Logout with redirect_uri: back to the login page for a new sign-in.
    let restart = browser
        .get(&format!("{issuer}/logout?client_id={web}&redirect_uri={CALLBACK}&response_type=code&scope=openid"))
        .await;
    assert!(restart.location.unwrap().contains("/login?"));

    // The domain's form: the same endpoints by `Host`, at the root.
    let port = nubo.ports[&ServiceName::Auth].http;
    let host = format!("shop-oidc.auth.localhost:{port}");
    let root = format!("http://127.0.0.1:{port}");
    let mut on_domain = Browser::on_host(&host);
    let back = on_domain.sign_in(&authorize_url(&root, &web, ""), "alice", PASSWORD).await;
    assert!(on_domain.cookies.keys().all(|(_, path)| path == "/"), "{:?}", on_domain.cookies);
    let code = query_of(&back)["code"].clone();
    let (status, tokens) = token_request(
        &format!("{root}/oauth2/token"),
        Some(&host),
        None,
        &[("grant_type", "authorization_code"), ("client_id", &web), ("code", &code), ("redirect_uri", CALLBACK)],
    )
    .await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(payload(tokens["id_token"].as_str().unwrap())["iss"], issuer);
    let info = http
        .get(format!("{root}/oauth2/userInfo"))
        .header("host", &host)
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(info.status().as_u16(), 200);
    // An unknown domain, and an unknown path on a known one.
    let unknown = http.get(format!("{root}/oauth2/authorize")).header("host", format!("nobody.auth.localhost:{port}"));
    assert_eq!(unknown.send().await.unwrap().status().as_u16(), 404);
    let missing = http.get(format!("{root}/nothing")).header("host", &host).send().await.unwrap();
    assert_eq!(missing.status().as_u16(), 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_requests_are_refused_as_rfc_6749_and_cognito_answer() {
    let state = tempfile::tempdir().unwrap();
    let (_nubo, cognito, base) = stack(&state).await;
    let pool_id = pool_with_domain(&cognito, "refusals", "refusals").await;
    let issuer = format!("{base}/{pool_id}");
    let (web, _) = app_client(&cognito, &pool_id, "web", false, &[OAuthFlowType::Code], &["openid", "email"]).await;
    let (server, secret) =
        app_client(&cognito, &pool_id, "server", true, &[OAuthFlowType::Code], &["openid", "email"]).await;
    let secret = secret.unwrap();
    user(&cognito, &pool_id, "alice", "alice@example.com").await;
    let token_url = format!("{issuer}/oauth2/token");

    // A redirect URI not registered: Cognito's error page, no redirect.
    let mut browser = Browser::new();
    let evil = browser
        .get(&format!(
            "{issuer}/oauth2/authorize?response_type=code&client_id={web}&redirect_uri=http://localhost/evil"
        ))
        .await;
    assert_eq!((evil.status, evil.location.as_deref()), (400, None));
    assert!(evil.body.contains("redirect_mismatch"), "{}", evil.body);
    // A client of another pool, or none, is the error page too.
    let nobody = browser.get(&authorize_url(&issuer, "nobody", "")).await;
    assert_eq!((nobody.status, nobody.location.as_deref()), (400, None));

    // Other faults go back to the app with `error` and `state`.
    let challenge = URL_SAFE_NO_PAD.encode([7u8; 32]);
    for (extra, error) in [
        (format!("&code_challenge={challenge}&code_challenge_method=plain"), "invalid_request"),
        (format!("&code_challenge={challenge}"), "invalid_request"),
        ("&scope=phone".to_owned(), "invalid_scope"),
    ] {
        let url = authorize_url(&issuer, &web, &extra).replace("&scope=openid+email", "");
        let refused = browser.get(&url).await;
        let location = refused.location.unwrap_or_else(|| panic!("{extra}: {}", refused.body));
        assert!(location.starts_with(CALLBACK), "{location}");
        let answer = query_of(&location);
        assert_eq!((answer["error"].as_str(), answer["state"].as_str()), (error, "s1"), "{extra}");
    }
    let unsupported =
        browser.get(&authorize_url(&issuer, &web, "").replace("response_type=code", "response_type=id_token")).await;
    assert_eq!(query_of(&unsupported.location.unwrap())["error"], "unsupported_response_type");
    // The implicit grant is not this client's.
    let implicit =
        browser.get(&authorize_url(&issuer, &web, "").replace("response_type=code", "response_type=token")).await;
    assert_eq!(fragment_of(&implicit.location.unwrap())["error"], "unauthorized_client");

    // A login form whose sealed token was changed, or that comes from
    // another browser, is refused.
    let login = browser.get(&authorize_url(&issuer, &web, "")).await.location.unwrap();
    let page = browser.get(&login).await;
    let mut form = HtmlForm::of(&page.body);
    let token = &mut form.hidden[0].1;
    let flipped = if token.ends_with('A') { 'B' } else { 'A' };
    token.pop();
    token.push(flipped);
    let mut fields = form.hidden.clone();
    fields.extend([("username".to_owned(), "alice".to_owned()), ("password".to_owned(), PASSWORD.to_owned())]);
    let action = Url::parse(&login).unwrap().join(&form.action).unwrap().to_string();
    let tampered = browser.post(&action, &fields).await;
    assert_eq!((tampered.status, tampered.location.as_deref()), (400, None), "{}", tampered.body);
    let elsewhere = Browser::new().submit(&login, &page, &[("username", "alice"), ("password", PASSWORD)]).await;
    assert_eq!(elsewhere.status, 400, "{}", elsewhere.body);
    // A wrong password is the login page again, with Cognito's message.
    let wrong = browser.submit(&login, &page, &[("username", "alice"), ("password", "Wrong-Horse-9")]).await;
    assert_eq!(wrong.status, 400);
    assert!(wrong.body.contains("Incorrect username or password."), "{}", wrong.body);

    // A code with PKCE: a wrong verifier, then the right one, then again.
    let verifier = PkceCodeVerifier::new("v".repeat(50));
    let challenge = PkceCodeChallenge::from_code_verifier_sha256(&verifier);
    let url =
        authorize_url(&issuer, &web, &format!("&code_challenge={}&code_challenge_method=S256", challenge.as_str()));
    let code = query_of(&browser.sign_in(&url, "alice", PASSWORD).await)["code"].clone();
    let redeem = |verifier: String, redirect: &'static str| {
        let (code, web, token_url) = (code.clone(), web.clone(), token_url.clone());
        async move {
            token_request(
                &token_url,
                None,
                None,
                &[
                    ("grant_type", "authorization_code"),
                    ("client_id", &web),
                    ("code", &code),
                    ("redirect_uri", redirect),
                    ("code_verifier", &verifier),
                ],
            )
            .await
        }
    };
    let (status, body) = redeem("w".repeat(50), CALLBACK).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");
    let (status, body) = redeem(verifier.secret().clone(), "http://localhost/other").await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");
    let (status, body) = redeem(verifier.secret().clone(), CALLBACK).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    let (status, body) = redeem(verifier.secret().clone(), CALLBACK).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "a code is spent once: {body}");

    // Two redemptions of one code at once: exactly one wins.
    let code = query_of(&browser.get(&authorize_url(&issuer, &web, "")).await.location.unwrap())["code"].clone();
    let race = |code: String| {
        let (web, token_url) = (web.clone(), token_url.clone());
        async move {
            let fields = [
                ("grant_type", "authorization_code"),
                ("client_id", web.as_str()),
                ("code", code.as_str()),
                ("redirect_uri", CALLBACK),
            ];
            token_request(&token_url, None, None, &fields).await.0
        }
    };
    let (first, second) = tokio::join!(race(code.clone()), race(code));
    let mut statuses = [first, second];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 400], "one concurrent redemption wins");

    // Client authentication: a wrong secret by Basic or in the body.
    let code = query_of(&browser.get(&authorize_url(&issuer, &server, "")).await.location.unwrap())["code"].clone();
    let fields = [("grant_type", "authorization_code"), ("code", code.as_str()), ("redirect_uri", CALLBACK)];
    let (status, body) = token_request(&token_url, None, Some((&server, "not-the-secret")), &fields).await;
    assert_eq!((status, body["error"].as_str()), (401, Some("invalid_client")), "{body}");
    let response = http().post(&token_url).basic_auth(&server, Some("nope")).form(&fields).send().await.unwrap();
    assert!(response.headers().get("www-authenticate").is_some());
    let mut in_body = fields.to_vec();
    in_body.extend([("client_id", server.as_str()), ("client_secret", "nope")]);
    let (status, body) = token_request(&token_url, None, None, &in_body).await;
    assert_eq!((status, body["error"].as_str()), (401, Some("invalid_client")), "{body}");
    // The right secret still redeems the code (the failures did not spend it).
    let (status, body) = token_request(&token_url, None, Some((&server, &secret)), &fields).await;
    assert_eq!(status, 200, "{body}");

    // A browser app may call the token endpoint from its own origin.
    let preflight = http().request(reqwest::Method::OPTIONS, &token_url).send().await.unwrap();
    assert_eq!(preflight.status().as_u16(), 204);
    assert_eq!(preflight.headers()["access-control-allow-origin"], "*");
    let get = http().get(&token_url).send().await.unwrap();
    assert_eq!(get.status().as_u16(), 405);

    // Malformed token requests.
    let (status, body) = token_request(&token_url, None, None, &[("client_id", &web)]).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_request")));
    let (status, body) =
        token_request(&token_url, None, None, &[("grant_type", "password"), ("client_id", &web)]).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("unsupported_grant_type")));
    let (status, body) =
        token_request(&token_url, None, Some((&server, &secret)), &[("grant_type", "client_credentials")]).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("unauthorized_client")));
    let json = http().post(&token_url).json(&serde_json::json!({ "grant_type": "x" })).send().await.unwrap();
    assert_eq!(json.status().as_u16(), 400);
    let repeated = http().post(&token_url).header("content-type", "application/x-www-form-urlencoded");
    let repeated = repeated.body("grant_type=a&grant_type=b").send().await.unwrap();
    assert_eq!(repeated.status().as_u16(), 400);

    // client_credentials with a resource server's scope; a standard one refused.
    let scope = ResourceServerScopeType::builder().scope_name("read").scope_description("read").build().unwrap();
    cognito
        .create_resource_server()
        .user_pool_id(&pool_id)
        .identifier("shop")
        .name("shop")
        .scopes(scope)
        .send()
        .await
        .unwrap();
    let m2m = cognito
        .create_user_pool_client()
        .user_pool_id(&pool_id)
        .client_name("m2m")
        .generate_secret(true)
        .allowed_o_auth_flows_user_pool_client(true)
        .allowed_o_auth_flows(OAuthFlowType::ClientCredentials)
        .allowed_o_auth_scopes("shop/read")
        .send()
        .await
        .unwrap();
    let m2m = m2m.user_pool_client().unwrap();
    let (m2m_id, m2m_secret) = (m2m.client_id().unwrap(), m2m.client_secret().unwrap());
    let (status, body) = token_request(
        &token_url,
        None,
        Some((m2m_id, m2m_secret)),
        &[("grant_type", "client_credentials"), ("scope", "shop/read")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let machine = body;
    let access = payload(machine["access_token"].as_str().unwrap());
    assert_eq!((access["scope"].as_str(), access["sub"].as_str()), (Some("shop/read"), Some(m2m_id)));
    assert!(machine.get("id_token").is_none() && machine.get("refresh_token").is_none());
    let (status, body) = token_request(
        &token_url,
        None,
        Some((m2m_id, m2m_secret)),
        &[("grant_type", "client_credentials"), ("scope", "openid")],
    )
    .await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_scope")), "{body}");
    // A machine's token reads no userInfo (it has no `openid` scope: RFC
    // 6750's insufficient_scope); garbage is no token at all.
    let machine = machine["access_token"].as_str().unwrap().to_owned();
    for (token, status) in [(machine.as_str(), 403), ("garbage", 401)] {
        let info = http().get(format!("{issuer}/oauth2/userInfo")).bearer_auth(token).send().await.unwrap();
        assert_eq!(info.status().as_u16(), status);
    }
    let anonymous = http().get(format!("{issuer}/oauth2/userInfo")).send().await.unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);
    assert!(anonymous.headers().get("www-authenticate").is_some());

    // A logout_uri not registered: the error page, the session kept.
    let out = browser.get(&format!("{issuer}/logout?client_id={web}&logout_uri=http://localhost/elsewhere")).await;
    assert_eq!((out.status, out.location.as_deref()), (400, None));
    assert!(out.body.contains("redirect_mismatch"));
    assert!(browser.cookie("cognito").is_some());

    // A tampered state at the IdP response endpoint.
    let forged = browser.get(&format!("{issuer}/oauth2/idpresponse?code=abc&state=not-sealed")).await;
    assert_eq!((forged.status, forged.location.as_deref()), (400, None));
    assert!(forged.body.contains("state"), "{}", forged.body);

    // Bad query strings are refused, not guessed at.
    for query in ["client_id=a&client_id=b", "client_id=%zz", "client_id=%00"] {
        let bad = browser.get(&format!("{issuer}/oauth2/authorize?{query}")).await;
        assert_eq!(bad.status, 400, "{query}");
    }
    // A pool without a domain serves no hosted UI.
    let bare = cognito.create_user_pool().pool_name("bare").send().await.unwrap();
    let bare = bare.user_pool().unwrap().id().unwrap().to_owned();
    let none = browser.get(&authorize_url(&format!("{base}/{bare}"), &web, "")).await;
    assert_eq!(none.status, 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_hosted_ui_signs_up_and_changes_temporary_passwords() {
    let state = tempfile::tempdir().unwrap();
    let (_nubo, cognito, base) = stack(&state).await;
    let pool_id = pool_with_domain(&cognito, "signups", "signups").await;
    let issuer = format!("{base}/{pool_id}");
    let (web, secret) = app_client(&cognito, &pool_id, "web", true, &[OAuthFlowType::Code], &["openid", "email"]).await;
    let secret = secret.unwrap();
    let mut browser = Browser::new();

    // Sign-up: the form, the code sent through the pool's sender, the
    // confirmation form, then back to the app signed in.
    let login = browser.get(&authorize_url(&issuer, &web, "")).await.location.unwrap();
    let page = browser.get(&login).await;
    let signup = Url::parse(&login).unwrap().join(&attribute_of_link(&page.body, "Sign up")).unwrap().to_string();
    let form = browser.get(&signup).await;
    assert_eq!(form.status, 200, "{}", form.body);
    let weak = browser
        .submit(&signup, &form, &[("username", "carol"), ("email", "carol@example.com"), ("password", "weak")])
        .await;
    assert_eq!(weak.status, 400);
    assert!(weak.body.contains("Password"), "{}", weak.body);
    let sent = browser
        .submit(&signup, &form, &[("username", "carol"), ("email", "carol@example.com"), ("password", PASSWORD)])
        .await;
    assert_eq!(sent.status, 200, "{}", sent.body);
    assert!(sent.body.contains("c***@e***"), "{}", sent.body);
    let messages = std::fs::read_to_string(state.path().join("state/auth/messages.jsonl")).unwrap();
    let message: Value = serde_json::from_str(messages.lines().next_back().unwrap()).unwrap();
    assert_eq!((message["username"].as_str(), message["purpose"].as_str()), (Some("carol"), Some("SignUp")));
    let confirm_url = Url::parse(&signup).unwrap().join(&HtmlForm::of(&sent.body).action).unwrap().to_string();
    let wrong = browser.submit(&confirm_url, &sent, &[("code", "000000")]).await;
    assert_eq!(wrong.status, 400);
    let done = browser.submit(&confirm_url, &sent, &[("code", message["code"].as_str().unwrap())]).await;
    assert_eq!(done.status, 302, "{}", done.body);
    let code = query_of(&done.location.unwrap())["code"].clone();
    let (status, tokens) = token_request(
        &format!("{issuer}/oauth2/token"),
        None,
        Some((&web, &secret)),
        &[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", CALLBACK)],
    )
    .await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(payload(tokens["id_token"].as_str().unwrap())["cognito:username"], "carol");
    let carol = cognito.admin_get_user().user_pool_id(&pool_id).username("carol").send().await.unwrap();
    assert_eq!(carol.user_status().unwrap().as_str(), "CONFIRMED");

    // A temporary password: the new-password form, then signed in.
    cognito
        .admin_create_user()
        .user_pool_id(&pool_id)
        .username("dave")
        .temporary_password("Temporary-Pass-1")
        .message_action(MessageActionType::Suppress)
        .send()
        .await
        .unwrap();
    let mut fresh = Browser::new();
    let login = fresh.get(&authorize_url(&issuer, &web, "")).await.location.unwrap();
    let page = fresh.get(&login).await;
    let change = fresh.submit(&login, &page, &[("username", "dave"), ("password", "Temporary-Pass-1")]).await;
    assert_eq!(change.status, 200, "{}", change.body);
    assert!(change.body.contains("new password"), "{}", change.body);
    let done = fresh.submit(&login, &change, &[("password", "Brand-New-Pass-2")]).await;
    assert_eq!(done.status, 302, "{}", done.body);
    assert!(query_of(&done.location.unwrap()).contains_key("code"));
    let dave = cognito.admin_get_user().user_pool_id(&pool_id).username("dave").send().await.unwrap();
    assert_eq!(dave.user_status().unwrap().as_str(), "CONFIRMED");
    // A disabled user is refused by the hosted UI as by the API.
    cognito.admin_disable_user().user_pool_id(&pool_id).username("dave").send().await.unwrap();
    let mut third = Browser::new();
    let login = third.get(&authorize_url(&issuer, &web, "")).await.location.unwrap();
    let page = third.get(&login).await;
    let disabled = third.submit(&login, &page, &[("username", "dave"), ("password", "Brand-New-Pass-2")]).await;
    assert_eq!(disabled.status, 400);
    assert!(disabled.body.contains("User is disabled."), "{}", disabled.body);

    // A sign-up left unconfirmed: signing in sends a new code and shows
    // the confirmation form, as Cognito's hosted UI does.
    let mut fourth = Browser::new();
    let login = fourth.get(&authorize_url(&issuer, &web, "")).await.location.unwrap();
    let page = fourth.get(&login).await;
    let signup = Url::parse(&login).unwrap().join(&attribute_of_link(&page.body, "Sign up")).unwrap().to_string();
    let form = fourth.get(&signup).await;
    let fields = [("username", "frank"), ("email", "frank@example.com"), ("password", PASSWORD)];
    assert_eq!(fourth.submit(&signup, &form, &fields).await.status, 200);
    let page = fourth.get(&login).await;
    let asked = fourth.submit(&login, &page, &[("username", "frank"), ("password", PASSWORD)]).await;
    assert_eq!(asked.status, 200, "{}", asked.body);
    let messages = std::fs::read_to_string(state.path().join("state/auth/messages.jsonl")).unwrap();
    let message: Value = serde_json::from_str(messages.lines().next_back().unwrap()).unwrap();
    assert_eq!((message["username"].as_str(), message["purpose"].as_str()), (Some("frank"), Some("ResendCode")));
    let done = fourth.submit(&login, &asked, &[("code", message["code"].as_str().unwrap())]).await;
    assert_eq!(done.status, 302, "{}", done.body);
    assert!(query_of(&done.location.unwrap()).contains_key("code"));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_hosted_ui_asks_for_a_totp_code_when_mfa_is_on() {
    let state = tempfile::tempdir().unwrap();
    let (_nubo, cognito, base) = stack(&state).await;
    let pool_id = pool_with_domain(&cognito, "mfa", "mfa-ui").await;
    let issuer = format!("{base}/{pool_id}");
    let (web, _) = app_client(&cognito, &pool_id, "web", false, &[OAuthFlowType::Code], &["openid", "email"]).await;
    user(&cognito, &pool_id, "erin", "erin@example.com").await;

    // Erin sets up an authenticator app through the API.
    let api = cognito
        .create_user_pool_client()
        .user_pool_id(&pool_id)
        .client_name("api")
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowUserPasswordAuth)
        .send()
        .await
        .unwrap();
    let api = api.user_pool_client().unwrap().client_id().unwrap().to_owned();
    let signed_in = cognito
        .initiate_auth()
        .client_id(&api)
        .auth_flow(AuthFlowType::UserPasswordAuth)
        .auth_parameters("USERNAME", "erin")
        .auth_parameters("PASSWORD", PASSWORD)
        .send()
        .await
        .unwrap();
    let access = signed_in.authentication_result().unwrap().access_token().unwrap().to_owned();
    let secret = cognito.associate_software_token().access_token(&access).send().await.unwrap();
    let secret = Secret::Encoded(secret.secret_code().unwrap().to_owned()).to_bytes().unwrap();
    let totp = TOTP::new_unchecked(Algorithm::SHA1, 6, 1, 30, secret);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let code = totp.generate(now);
    cognito.verify_software_token().access_token(&access).user_code(&code).send().await.unwrap();
    let settings = SoftwareTokenMfaSettingsType::builder().enabled(true).preferred_mfa(true).build();
    cognito.set_user_mfa_preference().access_token(&access).software_token_mfa_settings(settings).send().await.unwrap();
    cognito
        .set_user_pool_mfa_config()
        .user_pool_id(&pool_id)
        .software_token_mfa_configuration(SoftwareTokenMfaConfigType::builder().enabled(true).build())
        .mfa_configuration(UserPoolMfaType::Optional)
        .send()
        .await
        .unwrap();

    let mut browser = Browser::new();
    let login = browser.get(&authorize_url(&issuer, &web, "")).await.location.unwrap();
    let page = browser.get(&login).await;
    let asked = browser.submit(&login, &page, &[("username", "erin"), ("password", PASSWORD)]).await;
    assert_eq!(asked.status, 200, "{}", asked.body);
    assert!(asked.body.contains("authenticator app"), "{}", asked.body);
    let wrong = browser.submit(&login, &asked, &[("code", "000000")]).await;
    assert_eq!(wrong.status, 400);
    // The code of the next step: the one just used for setup is spent.
    let next = totp.generate(now + 30);
    let done = browser.submit(&login, &asked, &[("code", &next)]).await;
    assert_eq!(done.status, 302, "{}", done.body);
    assert!(query_of(&done.location.unwrap()).contains_key("code"));
    // Its form cannot be submitted twice: the code's step is spent.
    let replay = browser.submit(&login, &asked, &[("code", &next)]).await;
    assert_eq!(replay.status, 400);
}

/// The `href` of the link whose text is `text`.
fn attribute_of_link(html: &str, text: &str) -> String {
    let at = html.find(&format!(">{text}</a>")).unwrap_or_else(|| panic!("no {text} link in {html}"));
    let start = html[..at].rfind("<a ").unwrap();
    attribute(&html[start..at], "href").unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pool_signs_in_through_another_pool_as_its_oidc_provider() {
    let state = tempfile::tempdir().unwrap();
    let (_nubo, cognito, base) = stack(&state).await;

    // The identity provider: a pool of its own, with a confidential client
    // whose callback is the app pool's idpresponse endpoint.
    let idp_pool = pool_with_domain(&cognito, "corp", "corp-idp").await;
    let app_pool = pool_with_domain(&cognito, "app", "app-rp").await;
    let idp_issuer = format!("{base}/{idp_pool}");
    let app_issuer = format!("{base}/{app_pool}");
    let relying = cognito
        .create_user_pool_client()
        .user_pool_id(&idp_pool)
        .client_name("app pool")
        .generate_secret(true)
        .allowed_o_auth_flows_user_pool_client(true)
        .allowed_o_auth_flows(OAuthFlowType::Code)
        .allowed_o_auth_scopes("openid")
        .allowed_o_auth_scopes("email")
        .callback_urls(format!("{app_issuer}/oauth2/idpresponse"))
        .supported_identity_providers("COGNITO")
        .send()
        .await
        .unwrap();
    let relying = relying.user_pool_client().unwrap();
    let bob_sub = user(&cognito, &idp_pool, "bob", "bob@corp.example").await;

    cognito
        .create_identity_provider()
        .user_pool_id(&app_pool)
        .provider_name("Corp")
        .provider_type(IdentityProviderTypeType::Oidc)
        .provider_details("client_id", relying.client_id().unwrap())
        .provider_details("client_secret", relying.client_secret().unwrap())
        .provider_details("authorize_scopes", "openid email")
        .provider_details("oidc_issuer", &idp_issuer)
        .provider_details("attributes_request_method", "GET")
        .attribute_mapping("email", "email")
        .attribute_mapping("username", "sub")
        .send()
        .await
        .unwrap();
    let app = cognito
        .create_user_pool_client()
        .user_pool_id(&app_pool)
        .client_name("app")
        .allowed_o_auth_flows_user_pool_client(true)
        .allowed_o_auth_flows(OAuthFlowType::Code)
        .allowed_o_auth_scopes("openid")
        .allowed_o_auth_scopes("email")
        .callback_urls(CALLBACK)
        .supported_identity_providers("COGNITO")
        .supported_identity_providers("Corp")
        .send()
        .await
        .unwrap();
    let app = app.user_pool_client().unwrap().client_id().unwrap().to_owned();

    // The app's login page offers the provider; its link goes there.
    let mut browser = Browser::new();
    let login = browser.get(&authorize_url(&app_issuer, &app, "&nonce=app-nonce")).await.location.unwrap();
    let page = browser.get(&login).await;
    let link = Url::parse(&login).unwrap().join(&attribute_of_link(&page.body, "Sign in with Corp")).unwrap();
    let to_idp = browser.get(link.as_str()).await;
    assert_eq!(to_idp.status, 302, "{}", to_idp.body);
    let idp_authorize = to_idp.location.unwrap();
    assert!(idp_authorize.starts_with(&format!("{idp_issuer}/oauth2/authorize?")), "{idp_authorize}");
    let sent = query_of(&idp_authorize);
    assert_eq!(sent["code_challenge_method"], "S256");
    assert!(sent.contains_key("nonce") && sent["scope"].contains("email"), "{sent:?}");

    // Bob signs in at the provider, which sends him back to the app pool.
    let idp_response = browser.sign_in(&idp_authorize, "bob", PASSWORD).await;
    assert!(idp_response.starts_with(&format!("{app_issuer}/oauth2/idpresponse?")), "{idp_response}");
    // The same answer from another browser is refused.
    let stolen = Browser::new().get(&idp_response).await;
    assert_eq!(stolen.status, 400, "{}", stolen.body);
    let back = browser.get(&idp_response).await;
    assert_eq!(back.status, 302, "{}", back.body);
    let back = back.location.unwrap();
    assert!(back.starts_with(CALLBACK), "{back}");
    let answer = query_of(&back);
    assert_eq!(answer["state"], "s1");

    let (status, tokens) = token_request(
        &format!("{app_issuer}/oauth2/token"),
        None,
        None,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", &app),
            ("code", &answer["code"]),
            ("redirect_uri", CALLBACK),
        ],
    )
    .await;
    assert_eq!(status, 200, "{tokens}");
    let id = payload(tokens["id_token"].as_str().unwrap());
    let username = format!("Corp_{bob_sub}");
    assert_eq!(id["cognito:username"], username.as_str(), "{id}");
    assert_eq!(id["email"], "bob@corp.example");
    assert_eq!(id["nonce"], "app-nonce");
    assert_eq!(id["iss"], app_issuer);
    assert_eq!(id["identities"][0]["providerName"], "Corp", "{id}");
    assert_eq!(id["identities"][0]["userId"], bob_sub.as_str());
    let federated = cognito.admin_get_user().user_pool_id(&app_pool).username(&username).send().await.unwrap();
    assert_eq!(federated.user_status().unwrap().as_str(), "EXTERNAL_PROVIDER");
    let email = federated.user_attributes().iter().find(|a| a.name() == "email").unwrap();
    assert_eq!(email.value(), Some("bob@corp.example"));

    // Straight to the provider with identity_provider=: the provider's own
    // session (its cookie) signs Bob in without a form this time.
    let direct = browser.get(&authorize_url(&app_issuer, &app, "&identity_provider=Corp&prompt=login")).await;
    let at_idp = browser.get(&direct.location.unwrap()).await;
    assert_eq!(at_idp.status, 302);
    let again = browser.get(&at_idp.location.unwrap()).await;
    assert!(again.location.unwrap().starts_with(CALLBACK));

    // A client that does not list the provider is refused it.
    let (other, _) = app_client(&cognito, &app_pool, "other", false, &[OAuthFlowType::Code], &["openid"]).await;
    let refused = browser
        .get(&authorize_url(&app_issuer, &other, "&identity_provider=Corp").replace("openid+email", "openid"))
        .await;
    let refused = query_of(&refused.location.unwrap());
    assert_eq!(refused["error"], "invalid_request", "{refused:?}");
    assert!(refused["error_description"].contains("Corp"));
}
