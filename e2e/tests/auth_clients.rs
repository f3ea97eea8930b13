//! Cognito sign-in with clients nobody here wrote: Amplify JS v6
//! (`aws-amplify/auth`, with `Auth.Cognito.userPoolEndpoint` pointed at
//! nubo), amazon-cognito-identity-js and pycognito, run under Node and
//! Python from `fixtures/auth/clients/`. Each signs in with USER_SRP_AUTH,
//! refreshes, and is refused a wrong password; TOTP codes come from otplib
//! and pyotp. Every token a client gets back is verified here against the
//! pool's JWKS, with the claims Cognito sets.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use aws_sdk_cognitoidentityprovider::types::{
    ExplicitAuthFlowsType, FeatureType, PasswordPolicyType, RefreshTokenRotationType, SoftwareTokenMfaConfigType,
    UserPoolMfaType, UserPoolPolicyType, UsernameAttributeType, VerifiedAttributeType,
};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, jwk::JwkSet};
use nubo_e2e::{Nubo, ServiceName, auth_clients, cognito_client, fixture, python_tools};
use serde_json::Value;

const PASSWORD: &str = "Correct-Horse-9";

/// A pool and its app clients, as the scripts are told them.
struct Pool {
    id: String,
    /// No secret (Amplify and identity-js cannot use one).
    public_client: String,
    /// With a secret, for pycognito.
    secret_client: Option<(String, String)>,
}

/// Creates a pool with a password policy, email verified automatically,
/// TOTP optional, and its clients.
async fn pool(
    cognito: &aws_sdk_cognitoidentityprovider::Client,
    name: &str,
    email_usernames: bool,
    rotation: bool,
) -> Pool {
    let policy = PasswordPolicyType::builder()
        .minimum_length(10)
        .require_uppercase(true)
        .require_lowercase(true)
        .require_numbers(true)
        .require_symbols(false)
        .build();
    let mut create = cognito
        .create_user_pool()
        .pool_name(name)
        .auto_verified_attributes(VerifiedAttributeType::Email)
        .policies(UserPoolPolicyType::builder().password_policy(policy).build());
    if email_usernames {
        create = create.username_attributes(UsernameAttributeType::Email);
    }
    let id = create.send().await.unwrap().user_pool().unwrap().id().unwrap().to_owned();
    cognito
        .set_user_pool_mfa_config()
        .user_pool_id(&id)
        .mfa_configuration(UserPoolMfaType::Optional)
        .software_token_mfa_configuration(SoftwareTokenMfaConfigType::builder().enabled(true).build())
        .send()
        .await
        .unwrap();
    let client = |secret: bool| {
        let mut create = cognito
            .create_user_pool_client()
            .user_pool_id(&id)
            .client_name(if secret { "server" } else { "spa" })
            .explicit_auth_flows(ExplicitAuthFlowsType::AllowUserSrpAuth)
            .explicit_auth_flows(ExplicitAuthFlowsType::AllowRefreshTokenAuth)
            .explicit_auth_flows(ExplicitAuthFlowsType::AllowUserAuth)
            .generate_secret(secret);
        if rotation {
            // No grace: a client that kept using the old refresh token
            // after a rotation would be refused.
            create = create.refresh_token_rotation(
                RefreshTokenRotationType::builder()
                    .feature(FeatureType::Enabled)
                    .retry_grace_period_seconds(0)
                    .build()
                    .unwrap(),
            );
        }
        async move {
            let created = create.send().await.unwrap();
            let client = created.user_pool_client().unwrap();
            (client.client_id().unwrap().to_owned(), client.client_secret().map(str::to_owned))
        }
    };
    let (public_client, _) = client(false).await;
    let (secret_id, secret) = client(true).await;
    Pool { id, public_client, secret_client: secret.map(|secret| (secret_id, secret)) }
}

/// A confirmed user with a permanent password, made by an administrator.
async fn user(cognito: &aws_sdk_cognitoidentityprovider::Client, pool: &Pool, username: &str) {
    cognito
        .admin_create_user()
        .user_pool_id(&pool.id)
        .username(username)
        .message_action(aws_sdk_cognitoidentityprovider::types::MessageActionType::Suppress)
        .send()
        .await
        .unwrap();
    cognito
        .admin_set_user_password()
        .user_pool_id(&pool.id)
        .username(username)
        .password(PASSWORD)
        .permanent(true)
        .send()
        .await
        .unwrap();
}

/// The scripts' directory for this test: the fixture's files beside a
/// link to the installed `node_modules`, which Node resolves from there.
fn scripts(dir: &Path) -> PathBuf {
    let staged = dir.join("clients");
    std::fs::create_dir_all(&staged).unwrap();
    for entry in std::fs::read_dir(fixture("auth/clients")).unwrap().flatten() {
        std::fs::copy(entry.path(), staged.join(entry.file_name())).unwrap();
    }
    std::os::unix::fs::symlink(auth_clients(), staged.join("node_modules")).unwrap();
    staged
}

/// Runs one client script with its settings; returns the JSON it printed.
fn run(mut command: Command, settings: &[(&str, &str)]) -> Value {
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        // boto3 under pycognito reads these; the calls it makes are public.
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .envs(settings.iter().copied());
    let output = command.output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let result: Value = stdout
        .lines()
        .rev()
        .find_map(|line| serde_json::from_str(line).ok())
        .unwrap_or_else(|| panic!("{command:?} printed no JSON\nstdout: {stdout}\nstderr: {stderr}"));
    assert!(output.status.success() && result["ok"] == true, "{command:?} failed: {result:#}\nstderr: {stderr}");
    result
}

fn node(staged: &Path, script: &str, settings: &[(&str, &str)]) -> Value {
    let mut command = Command::new("node");
    command.arg(staged.join(script)).current_dir(staged);
    run(command, settings)
}

fn python(script: &str, settings: &[(&str, &str)]) -> Value {
    let mut command = Command::new(python_tools().join("python"));
    command.arg(fixture("auth/clients").join(script));
    run(command, settings)
}

/// What a pool's tokens are checked against: its JWKS, fetched from
/// `{issuer}/.well-known/jwks.json` as an app's back end does.
struct Verifier {
    issuer: String,
    keys: JwkSet,
}

impl Verifier {
    async fn new(nubo: &Nubo, pool_id: &str) -> Self {
        let issuer = format!("{}/{pool_id}", issuer_base(nubo));
        let keys = reqwest::get(format!("{issuer}/.well-known/jwks.json")).await.unwrap().json().await.unwrap();
        Self { issuer, keys }
    }

    fn verify(&self, token: &str, audience: Option<&str>) -> serde_json::Map<String, Value> {
        let header = jsonwebtoken::decode_header(token).unwrap();
        assert_eq!(header.alg, Algorithm::RS256);
        let kid = header.kid.expect("a kid");
        let jwk = self.keys.find(&kid).unwrap_or_else(|| panic!("kid {kid} is not in the pool's JWKS"));
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[&self.issuer]);
        match audience {
            Some(audience) => validation.set_audience(&[audience]),
            None => validation.validate_aud = false,
        }
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        jsonwebtoken::decode::<serde_json::Map<String, Value>>(token, &DecodingKey::from_jwk(jwk).unwrap(), &validation)
            .unwrap_or_else(|error| panic!("the token does not verify: {error}"))
            .claims
    }

    /// Checks an ID token as Cognito makes it: `aud` the client, `token_use`
    /// `id`, `cognito:username`; returns its claims.
    fn id_token(&self, token: &str, client_id: &str, username: &str) -> serde_json::Map<String, Value> {
        let claims = self.verify(token, Some(client_id));
        assert_eq!(claims["token_use"], "id", "{claims:?}");
        assert_eq!(claims["aud"], client_id);
        assert_eq!(claims["iss"], self.issuer);
        assert_eq!(claims["cognito:username"], username, "{claims:?}");
        assert!(!claims.contains_key("client_id"), "an ID token names its client in aud: {claims:?}");
        claims
    }

    /// Checks an access token: `client_id`, no `aud`, `token_use` `access`,
    /// `username`, the user's own scope.
    fn access_token(&self, token: &str, client_id: &str, username: &str) -> serde_json::Map<String, Value> {
        let claims = self.verify(token, None);
        assert_eq!(claims["token_use"], "access", "{claims:?}");
        assert_eq!(claims["client_id"], client_id);
        assert!(!claims.contains_key("aud"), "an access token has no aud: {claims:?}");
        assert_eq!(claims["iss"], self.issuer);
        assert_eq!(claims["username"], username, "{claims:?}");
        assert_eq!(claims["scope"], "aws.cognito.signin.user.admin");
        claims
    }

    /// Both tokens of one sign-in, which share their `sub` and `origin_jti`.
    fn tokens(&self, tokens: &Value, client_id: &str, username: &str) -> serde_json::Map<String, Value> {
        let id = self.id_token(tokens["idToken"].as_str().expect("an ID token"), client_id, username);
        let access = self.access_token(tokens["accessToken"].as_str().expect("an access token"), client_id, username);
        assert_eq!(id["sub"], access["sub"]);
        assert_eq!(id["origin_jti"], access["origin_jti"]);
        id
    }
}

/// Tokens' issuer base: nubo's default, `http://localhost:{auth port}`.
fn issuer_base(nubo: &Nubo) -> String {
    format!("http://localhost:{}", nubo.ports[&ServiceName::Auth].http)
}

/// How many times the auth service answered `operation` with 200.
async fn served(nubo: &Nubo, operation: &str) -> u64 {
    let metrics =
        reqwest::get(format!("{}/metrics", nubo.http_url(ServiceName::Auth))).await.unwrap().text().await.unwrap();
    let label = format!("operation=\"{operation}\",status=\"200\"");
    metrics
        .lines()
        .filter(|line| line.starts_with("nubo_auth_http_requests_total{") && line.contains(&label))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

fn messages(state: &Path) -> String {
    state.join("auth/messages.jsonl").to_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn amplify_signs_up_signs_in_with_srp_and_refreshes() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let nubo = Nubo::up(&state).await;
    let endpoint = nubo.http_url(ServiceName::Auth);
    let cognito = cognito_client(&endpoint);
    let staged = scripts(dir.path());

    // Email addresses as user names; rotating refresh tokens, no grace.
    let pool = pool(&cognito, "amplify", true, true).await;
    let verifier = Verifier::new(&nubo, &pool.id).await;
    let email = "ada@example.com";
    let result = node(
        &staged,
        "amplify.mjs",
        &[
            ("NUBO_COGNITO_ENDPOINT", &endpoint),
            ("NUBO_POOL_ID", &pool.id),
            ("NUBO_CLIENT_ID", &pool.public_client),
            ("NUBO_USERNAME", email),
            ("NUBO_EMAIL", email),
            ("NUBO_PASSWORD", PASSWORD),
            ("NUBO_MESSAGES", &messages(&state)),
        ],
    );
    assert_eq!(result["weakPassword"]["name"], "InvalidPasswordException", "{:#}", result["weakPassword"]);
    assert_eq!(result["signUp"]["nextStep"]["signUpStep"], "CONFIRM_SIGN_UP", "{:#}", result["signUp"]);
    assert_eq!(result["signUp"]["nextStep"]["codeDeliveryDetails"]["deliveryMedium"], "EMAIL");
    assert_eq!(result["confirmSignUp"]["isSignUpComplete"], true, "{:#}", result["confirmSignUp"]);
    assert_eq!(result["wrongPassword"]["name"], "NotAuthorizedException", "{:#}", result["wrongPassword"]);
    assert_eq!(result["signIn"]["isSignedIn"], true, "{:#}", result["signIn"]);
    assert_eq!(result["signIn"]["nextStep"]["signInStep"], "DONE");

    // The user's name in a pool of email user names is its sub.
    let sub = result["signUp"]["userId"].as_str().expect("signUp's userId").to_owned();
    let first = verifier.tokens(&result["session"], &pool.public_client, &sub);
    assert_eq!(first["sub"], sub.as_str());
    assert_eq!(first["email"], email);
    assert_eq!(first["email_verified"], true);
    assert_eq!(result["session"]["userSub"], sub.as_str());

    // forceRefresh: new tokens that verify, of the same sign-in.
    let refreshed = verifier.tokens(&result["refreshed"], &pool.public_client, &sub);
    assert_ne!(result["refreshed"]["idToken"], result["session"]["idToken"], "forceRefresh kept the ID token");
    assert_ne!(result["refreshed"]["accessToken"], result["session"]["accessToken"]);
    assert_ne!(refreshed["jti"], first["jti"]);
    assert_eq!(refreshed["auth_time"], first["auth_time"], "a refresh keeps the sign-in's time");
    // The second refresh used the rotated refresh token (the first one
    // was spent with no grace).
    let again = verifier.tokens(&result["refreshedAgain"], &pool.public_client, &sub);
    assert_ne!(again["jti"], refreshed["jti"]);
    assert_ne!(again["origin_jti"], first["origin_jti"], "rotation makes a new grant");
    assert_eq!(served(&nubo, "GetTokensFromRefreshToken").await, 2, "Amplify refreshes with GetTokensFromRefreshToken");
    assert_eq!(result["afterSignOut"], serde_json::json!({}), "signOut forgets the tokens");
    assert_eq!(served(&nubo, "RevokeToken").await, 1, "Amplify's signOut revokes the refresh token");

    // autoSignIn after confirmSignUp, through USER_AUTH with the Session
    // ConfirmSignUp answers with: signed in without the password again.
    let email = "ada.auto@example.com";
    let result = node(
        &staged,
        "amplify.mjs",
        &[
            ("NUBO_FLOW", "auto-sign-in"),
            ("NUBO_COGNITO_ENDPOINT", &endpoint),
            ("NUBO_POOL_ID", &pool.id),
            ("NUBO_CLIENT_ID", &pool.public_client),
            ("NUBO_USERNAME", email),
            ("NUBO_EMAIL", email),
            ("NUBO_PASSWORD", PASSWORD),
            ("NUBO_MESSAGES", &messages(&state)),
        ],
    );
    assert_eq!(result["confirmSignUp"]["nextStep"]["signUpStep"], "COMPLETE_AUTO_SIGN_IN", "{result:#}");
    assert_eq!(result["autoSignIn"]["isSignedIn"], true, "{:#}", result["autoSignIn"]);
    let sub = result["signUp"]["userId"].as_str().unwrap();
    assert_eq!(verifier.tokens(&result["session"], &pool.public_client, sub)["email"], email);

    // Amplify's TOTP path, for a user of a pool of plain user names.
    let plain = self::pool(&cognito, "amplify-totp", false, false).await;
    user(&cognito, &plain, "grace").await;
    let result = node(
        &staged,
        "amplify.mjs",
        &[
            ("NUBO_FLOW", "totp"),
            ("NUBO_COGNITO_ENDPOINT", &endpoint),
            ("NUBO_POOL_ID", &plain.id),
            ("NUBO_CLIENT_ID", &plain.public_client),
            ("NUBO_USERNAME", "grace"),
            ("NUBO_PASSWORD", PASSWORD),
        ],
    );
    assert_eq!(result["signIn"]["isSignedIn"], true, "{:#}", result["signIn"]);
    assert!(result["setupUri"].as_str().unwrap().starts_with("otpauth://totp/"), "{}", result["setupUri"]);
    assert_eq!(result["preference"]["preferred"], "TOTP", "{:#}", result["preference"]);
    assert_eq!(result["challenge"]["nextStep"]["signInStep"], "CONFIRM_SIGN_IN_WITH_TOTP_CODE", "{:#}", result);
    assert_eq!(result["confirmSignIn"]["isSignedIn"], true, "{:#}", result["confirmSignIn"]);
    Verifier::new(&nubo, &plain.id).await.tokens(&result["session"], &plain.public_client, "grace");
    let mfa = cognito.admin_get_user().user_pool_id(&plain.id).username("grace").send().await.unwrap();
    assert_eq!(mfa.preferred_mfa_setting(), Some("SOFTWARE_TOKEN_MFA"));
}

#[tokio::test(flavor = "multi_thread")]
async fn cognito_identity_js_signs_in_with_srp_and_refreshes() {
    let dir = tempfile::tempdir().unwrap();
    let nubo = Nubo::up(&dir.path().join("state")).await;
    let endpoint = nubo.http_url(ServiceName::Auth);
    let cognito = cognito_client(&endpoint);
    let staged = scripts(dir.path());

    for (name, email_usernames, username) in [("plain", false, "linus"), ("email", true, "lin@example.com")] {
        let pool = pool(&cognito, name, email_usernames, false).await;
        user(&cognito, &pool, username).await;
        let internal = cognito
            .admin_get_user()
            .user_pool_id(&pool.id)
            .username(username)
            .send()
            .await
            .unwrap()
            .username()
            .to_owned();
        let result = node(
            &staged,
            "identity-js.mjs",
            &[
                ("NUBO_COGNITO_ENDPOINT", &endpoint),
                ("NUBO_POOL_ID", &pool.id),
                ("NUBO_CLIENT_ID", &pool.public_client),
                ("NUBO_USERNAME", username),
                ("NUBO_PASSWORD", PASSWORD),
            ],
        );
        assert_eq!(result["wrongPassword"]["code"], "NotAuthorizedException", "{name}: {:#}", result["wrongPassword"]);
        // identity-js goes on as USER_ID_FOR_SRP names the user.
        assert_eq!(result["username"], internal.as_str(), "{name}");
        let verifier = Verifier::new(&nubo, &pool.id).await;
        let first = verifier.tokens(&result["signIn"], &pool.public_client, &internal);
        let refreshed = verifier.tokens(&result["refreshed"], &pool.public_client, &internal);
        assert_ne!(
            result["refreshed"]["idToken"], result["signIn"]["idToken"],
            "{name}: refreshSession kept the token"
        );
        assert_eq!(refreshed["origin_jti"], first["origin_jti"], "{name}: a refresh without rotation keeps the grant");
        assert_eq!(result["refreshed"]["refreshToken"], result["signIn"]["refreshToken"]);
        assert_eq!(result["attributes"]["sub"], first["sub"], "{name}: GetUser with the access token");
        if email_usernames {
            assert_eq!(result["attributes"]["email"], username);
        }
    }
    assert_eq!(served(&nubo, "GetTokensFromRefreshToken").await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn pycognito_signs_in_with_a_secret_client_and_a_pyotp_code() {
    let dir = tempfile::tempdir().unwrap();
    let nubo = Nubo::up(&dir.path().join("state")).await;
    let cognito = cognito_client(&nubo.http_url(ServiceName::Auth));
    let pool = pool(&cognito, "pycognito", false, false).await;
    let (client_id, secret) = pool.secret_client.clone().expect("a client secret");
    // pycognito checks tokens against `{endpoint}/{pool id}` as the issuer,
    // so it is pointed at the auth service by the issuer's name.
    let endpoint = issuer_base(&nubo);
    let verifier = Verifier::new(&nubo, &pool.id).await;

    user(&cognito, &pool, "pat").await;
    let settings = [
        ("NUBO_COGNITO_ENDPOINT", endpoint.as_str()),
        ("NUBO_POOL_ID", &pool.id),
        ("NUBO_CLIENT_ID", &client_id),
        ("NUBO_CLIENT_SECRET", &secret),
        ("NUBO_USERNAME", "pat"),
        ("NUBO_PASSWORD", PASSWORD),
    ];
    let result = python("pycognito_flows.py", &settings);
    assert_eq!(result["wrongPassword"]["name"], "NotAuthorizedException", "{:#}", result["wrongPassword"]);
    let first = verifier.tokens(&result["signIn"], &client_id, "pat");
    assert_eq!(result["claims"]["id"]["jti"], first["jti"], "pycognito verified the same token");
    let renewed = verifier.tokens(&result["renewed"], &client_id, "pat");
    assert_ne!(renewed["jti"], first["jti"]);
    assert_eq!(renewed["origin_jti"], first["origin_jti"], "renew_access_token refreshes the same grant");
    let direct = verifier.tokens(&result["awsSrp"], &client_id, "pat");
    assert_ne!(direct["origin_jti"], first["origin_jti"], "AWSSRP signs in afresh");

    // A TOTP user: set up with pyotp's code, then signed in with another.
    user(&cognito, &pool, "tess").await;
    let settings =
        [&settings[..4], &[("NUBO_USERNAME", "tess"), ("NUBO_PASSWORD", PASSWORD), ("NUBO_FLOW", "totp")]].concat();
    let result = python("pycognito_flows.py", &settings);
    assert_eq!(result["verified"], true, "{result:#}");
    assert_eq!(result["challenge"], "SOFTWARE_TOKEN_MFA", "{result:#}");
    assert_eq!(result["wrongCode"]["name"], "CodeMismatchException", "{:#}", result["wrongCode"]);
    verifier.tokens(&result["signIn"], &client_id, "tess");
}

#[tokio::test(flavor = "multi_thread")]
async fn confirm_sign_up_session_signs_in_once() {
    use aws_sdk_cognitoidentityprovider::{error::ProvideErrorMetadata as _, types::AuthFlowType};
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let nubo = Nubo::up(&state).await;
    let cognito = cognito_client(&nubo.http_url(ServiceName::Auth));
    let pool = pool(&cognito, "sessions", true, false).await;
    let email = "once@example.com";
    let signed_up = cognito
        .sign_up()
        .client_id(&pool.public_client)
        .username(email)
        .password(PASSWORD)
        .user_attributes(
            aws_sdk_cognitoidentityprovider::types::AttributeType::builder()
                .name("email")
                .value(email)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let early = cognito
        .initiate_auth()
        .client_id(&pool.public_client)
        .auth_flow(AuthFlowType::UserAuth)
        .auth_parameters("USERNAME", email)
        .session(signed_up.session().expect("SignUp's Session"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(early.code(), Some("NotAuthorizedException"), "an unconfirmed user: {early:?}");

    let line = std::fs::read_to_string(messages(&state)).unwrap();
    let message: Value = serde_json::from_str(line.lines().last().unwrap()).unwrap();
    let confirmed = cognito
        .confirm_sign_up()
        .client_id(&pool.public_client)
        .username(email)
        .confirmation_code(message["code"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    let session = confirmed.session().expect("ConfirmSignUp's Session");
    let sign_in = || {
        cognito
            .initiate_auth()
            .client_id(&pool.public_client)
            .auth_flow(AuthFlowType::UserAuth)
            .auth_parameters("USERNAME", email)
            .session(session)
            .send()
    };
    let tokens = sign_in().await.unwrap();
    let result = tokens.authentication_result().expect("tokens, no challenge");
    let verifier = Verifier::new(&nubo, &pool.id).await;
    verifier.id_token(result.id_token().unwrap(), &pool.public_client, signed_up.user_sub());
    let again = sign_in().await.unwrap_err();
    assert_eq!(again.code(), Some("NotAuthorizedException"), "the session signs in once: {again:?}");
}
