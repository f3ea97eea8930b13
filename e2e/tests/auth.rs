//! Cognito user pools through `aws-sdk-cognitoidentityprovider` against
//! `nubo up`: pools, clients, the user lifecycle, sign-in and its
//! challenges, refresh, revocation, groups in tokens, and every refusal
//! worded as Cognito words it (`fixtures/auth/expected_errors.tsv`).

use std::collections::BTreeMap;

use aws_sdk_cognitoidentityprovider::{
    Client,
    error::ProvideErrorMetadata,
    types::{
        AttributeDataType, AttributeType, AuthFlowType, ChallengeNameType, ExplicitAuthFlowsType, MessageActionType,
        PasswordPolicyType, PreventUserExistenceErrorTypes, SchemaAttributeType, UserPoolPolicyType,
        UsernameAttributeType, VerifiedAttributeType,
    },
};
use nubo_e2e::{
    Nubo,
    auth::{claims, latest_code, secret_hash, verify},
    cognito_client,
};
use nubo_host::ServiceName;

const PASSWORD: &str = "Correct-Horse-9";

/// `(code, message)` of a refused call.
fn refused<T: std::fmt::Debug, E: ProvideErrorMetadata + std::fmt::Debug>(result: Result<T, E>) -> (String, String) {
    let error = result.expect_err("the call is refused");
    (error.code().unwrap_or("").to_owned(), error.message().unwrap_or("").to_owned())
}

/// The expected refusals, by case, with `{client}`, `{pool}` and `{group}`
/// filled in.
struct Expected(BTreeMap<String, (String, String)>);

impl Expected {
    fn load() -> Self {
        let text = std::fs::read_to_string(nubo_e2e::fixture("auth/expected_errors.tsv")).unwrap();
        let cases = text
            .lines()
            .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
            .map(|line| {
                let fields: Vec<&str> = line.split('\t').collect();
                assert!(fields.len() == 4 && !fields[3].is_empty(), "each case names its source: {line}");
                (fields[0].to_owned(), (fields[1].to_owned(), fields[2].to_owned()))
            })
            .collect();
        Self(cases)
    }

    fn check(&self, case: &str, got: (String, String), fill: &[(&str, &str)]) {
        let (code, message) = self.0.get(case).unwrap_or_else(|| panic!("no expected error for {case}"));
        let mut message = message.clone();
        for (name, value) in fill {
            message = message.replace(&format!("{{{name}}}"), value);
        }
        assert_eq!(got, (code.clone(), message), "{case}");
    }
}

struct Pool {
    id: String,
    client_id: String,
    secret: Option<String>,
}

async fn pool(cognito: &Client, email_usernames: bool, secret: bool, prevent: bool) -> Pool {
    let mut create = cognito
        .create_user_pool()
        .pool_name("suite")
        .policies(
            UserPoolPolicyType::builder()
                .password_policy(
                    PasswordPolicyType::builder()
                        .minimum_length(10)
                        .require_uppercase(true)
                        .require_lowercase(true)
                        .require_numbers(true)
                        .require_symbols(true)
                        .build(),
                )
                .build(),
        )
        .auto_verified_attributes(VerifiedAttributeType::Email)
        .schema(SchemaAttributeType::builder().name("tier").attribute_data_type(AttributeDataType::String).build());
    if email_usernames {
        create = create.username_attributes(UsernameAttributeType::Email);
    }
    let pool = create.send().await.unwrap().user_pool.unwrap();
    let id = pool.id.unwrap();
    let client = cognito
        .create_user_pool_client()
        .user_pool_id(&id)
        .client_name("app")
        .generate_secret(secret)
        .prevent_user_existence_errors(if prevent {
            PreventUserExistenceErrorTypes::Enabled
        } else {
            PreventUserExistenceErrorTypes::Legacy
        })
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowUserPasswordAuth)
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowAdminUserPasswordAuth)
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowUserSrpAuth)
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowRefreshTokenAuth)
        .send()
        .await
        .unwrap()
        .user_pool_client
        .unwrap();
    Pool { id, client_id: client.client_id.unwrap(), secret: client.client_secret }
}

fn attribute(name: &str, value: &str) -> AttributeType {
    AttributeType::builder().name(name).value(value).build().unwrap()
}

/// A confirmed user with a permanent password.
async fn user(cognito: &Client, pool: &Pool, username: &str, email: &str) {
    cognito
        .admin_create_user()
        .user_pool_id(&pool.id)
        .username(username)
        .user_attributes(attribute("email", email))
        .user_attributes(attribute("email_verified", "true"))
        .message_action(MessageActionType::Suppress)
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

async fn password_sign_in(
    cognito: &Client,
    pool: &Pool,
    username: &str,
    password: &str,
) -> Result<aws_sdk_cognitoidentityprovider::operation::initiate_auth::InitiateAuthOutput, String> {
    let mut request = cognito
        .initiate_auth()
        .client_id(&pool.client_id)
        .auth_flow(AuthFlowType::UserPasswordAuth)
        .auth_parameters("USERNAME", username)
        .auth_parameters("PASSWORD", password);
    if let Some(secret) = &pool.secret {
        request = request.auth_parameters("SECRET_HASH", secret_hash(secret, username, &pool.client_id));
    }
    request.send().await.map_err(|error| format!("{}: {}", error.code().unwrap_or(""), error.message().unwrap_or("")))
}

fn issuer(nubo: &Nubo, pool: &Pool) -> String {
    format!("http://localhost:{}/{}", nubo.ports[&ServiceName::Auth].http, pool.id)
}

#[tokio::test]
async fn pools_and_clients_are_managed_as_cognito_manages_them() {
    let dir = tempfile::tempdir().unwrap();
    let nubo = Nubo::up(&dir.path().join("state")).await;
    let cognito = cognito_client(&nubo.http_url(ServiceName::Auth));
    let pool = pool(&cognito, false, true, false).await;

    let described = cognito.describe_user_pool().user_pool_id(&pool.id).send().await.unwrap().user_pool.unwrap();
    assert_eq!(described.name(), Some("suite"));
    let policy = described.policies().unwrap().password_policy().unwrap();
    assert_eq!(policy.minimum_length(), Some(10));
    assert!(described.schema_attributes().iter().any(|a| a.name() == Some("custom:tier")));
    assert!(described.arn().unwrap().ends_with(&format!(":userpool/{}", pool.id)));
    assert_eq!(described.auto_verified_attributes(), &[VerifiedAttributeType::Email]);

    // Browsers call Cognito directly: a preflight is answered, and every
    // answer allows any origin.
    let http = reqwest::Client::new();
    let preflight = http
        .request(reqwest::Method::OPTIONS, nubo.http_url(ServiceName::Auth))
        .header("origin", "http://app.localhost:3000")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type,x-amz-target,x-amz-user-agent")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), 200);
    assert_eq!(preflight.headers()["access-control-allow-origin"], "*");
    assert!(preflight.headers()["access-control-allow-headers"].to_str().unwrap().contains("x-amz-target"));
    let refused_call = http
        .post(nubo.http_url(ServiceName::Auth))
        .header("content-type", "application/x-amz-json-1.1")
        .header("x-amz-target", "AWSCognitoIdentityProviderService.InitiateAuth")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(refused_call.headers()["access-control-allow-origin"], "*");

    let listed = cognito.list_user_pools().max_results(10).send().await.unwrap();
    assert!(listed.user_pools().iter().any(|p| p.id() == Some(pool.id.as_str())));

    let client = cognito
        .describe_user_pool_client()
        .user_pool_id(&pool.id)
        .client_id(&pool.client_id)
        .send()
        .await
        .unwrap()
        .user_pool_client
        .unwrap();
    assert_eq!(client.client_secret(), pool.secret.as_deref());
    assert_eq!(client.client_id().map(str::len), Some(26));
    let updated = cognito
        .update_user_pool_client()
        .user_pool_id(&pool.id)
        .client_id(&pool.client_id)
        .client_name("renamed")
        .access_token_validity(2)
        .send()
        .await
        .unwrap()
        .user_pool_client
        .unwrap();
    assert_eq!(updated.client_name(), Some("renamed"));
    assert_eq!(updated.client_secret(), pool.secret.as_deref(), "an update keeps the secret");
    let clients = cognito.list_user_pool_clients().user_pool_id(&pool.id).send().await.unwrap();
    assert_eq!(clients.user_pool_clients().len(), 1);

    cognito.create_user_pool_domain().user_pool_id(&pool.id).domain("suite-login").send().await.unwrap();
    let domain = cognito.describe_user_pool_domain().domain("suite-login").send().await.unwrap();
    assert_eq!(domain.domain_description().unwrap().user_pool_id(), Some(pool.id.as_str()));

    // Deletion protection holds until it is turned off.
    cognito
        .update_user_pool()
        .user_pool_id(&pool.id)
        .deletion_protection(aws_sdk_cognitoidentityprovider::types::DeletionProtectionType::Active)
        .send()
        .await
        .unwrap();
    let (code, _) = refused(cognito.delete_user_pool().user_pool_id(&pool.id).send().await);
    assert_eq!(code, "InvalidParameterException");
    cognito.update_user_pool().user_pool_id(&pool.id).send().await.unwrap();
    cognito.delete_user_pool_client().user_pool_id(&pool.id).client_id(&pool.client_id).send().await.unwrap();
    cognito.delete_user_pool_domain().user_pool_id(&pool.id).domain("suite-login").send().await.unwrap();
    cognito.delete_user_pool().user_pool_id(&pool.id).send().await.unwrap();
    let expected = Expected::load();
    expected.check(
        "unknown_pool",
        refused(cognito.describe_user_pool().user_pool_id(&pool.id).send().await),
        &[("pool", &pool.id)],
    );
}

#[tokio::test]
async fn an_invited_user_sets_a_password_and_the_admin_calls_manage_it() {
    let dir = tempfile::tempdir().unwrap();
    let nubo = Nubo::up(&dir.path().join("state")).await;
    let cognito = cognito_client(&nubo.http_url(ServiceName::Auth));
    let pool = pool(&cognito, false, false, false).await;

    // An invitation carries a temporary password; signing in with it asks
    // for a new one.
    cognito
        .admin_create_user()
        .user_pool_id(&pool.id)
        .username("alice")
        .user_attributes(attribute("email", "alice@example.com"))
        .user_attributes(attribute("given_name", "Alice"))
        .user_attributes(attribute("custom:tier", "gold"))
        .desired_delivery_mediums(aws_sdk_cognitoidentityprovider::types::DeliveryMediumType::Email)
        .send()
        .await
        .unwrap();
    let temporary = latest_code(&dir.path().join("state"), "alice", "AdminCreateUser").await;
    let started = cognito
        .admin_initiate_auth()
        .user_pool_id(&pool.id)
        .client_id(&pool.client_id)
        .auth_flow(AuthFlowType::AdminUserPasswordAuth)
        .auth_parameters("USERNAME", "alice")
        .auth_parameters("PASSWORD", &temporary)
        .send()
        .await
        .unwrap();
    assert_eq!(started.challenge_name(), Some(&ChallengeNameType::NewPasswordRequired));
    let user_attributes: serde_json::Value =
        serde_json::from_str(&started.challenge_parameters().unwrap()["userAttributes"]).unwrap();
    assert_eq!(user_attributes["given_name"], "Alice");
    let answered = cognito
        .admin_respond_to_auth_challenge()
        .user_pool_id(&pool.id)
        .client_id(&pool.client_id)
        .challenge_name(ChallengeNameType::NewPasswordRequired)
        .challenge_responses("USERNAME", "alice")
        .challenge_responses("NEW_PASSWORD", PASSWORD)
        .session(started.session().unwrap())
        .send()
        .await
        .unwrap();
    assert!(answered.authentication_result().unwrap().id_token().is_some());
    let got = cognito.admin_get_user().user_pool_id(&pool.id).username("alice").send().await.unwrap();
    assert_eq!(got.user_status().map(|s| s.as_str()), Some("CONFIRMED"));

    // Attributes, ListUsers filters, disable and enable, delete.
    cognito
        .admin_update_user_attributes()
        .user_pool_id(&pool.id)
        .username("alice")
        .user_attributes(attribute("family_name", "Liddell"))
        .send()
        .await
        .unwrap();
    user(&cognito, &pool, "bob", "bob@example.com").await;
    let list = |filter: &str| {
        let request = cognito.list_users().user_pool_id(&pool.id).filter(filter);
        async move {
            let users = request.send().await.unwrap().users.unwrap_or_default();
            users.into_iter().filter_map(|u| u.username).collect::<Vec<_>>()
        }
    };
    assert_eq!(list("email = \"bob@example.com\"").await, ["bob"]);
    assert_eq!(list("family_name ^= \"Lid\"").await, ["alice"]);
    assert_eq!(list("username ^= \"a\"").await, ["alice"]);
    assert_eq!(list("cognito:user_status = \"CONFIRMED\"").await, ["alice", "bob"]);
    let paged = cognito.list_users().user_pool_id(&pool.id).limit(1).send().await.unwrap();
    assert_eq!(paged.users().len(), 1);
    let rest = cognito
        .list_users()
        .user_pool_id(&pool.id)
        .pagination_token(paged.pagination_token().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(rest.users()[0].username(), Some("bob"));
    let (code, message) = refused(cognito.list_users().user_pool_id(&pool.id).filter("email ~ x").send().await);
    assert_eq!((code.as_str(), message.as_str()), ("InvalidParameterException", "Error while parsing filter."));

    let expected = Expected::load();
    cognito.admin_disable_user().user_pool_id(&pool.id).username("bob").send().await.unwrap();
    assert_eq!(list("status = \"Disabled\"").await, ["bob"]);
    expected.check(
        "disabled_user",
        refused(password_sign_in(&cognito, &pool, "bob", PASSWORD).await.map_err(SdkText)),
        &[],
    );
    cognito.admin_enable_user().user_pool_id(&pool.id).username("bob").send().await.unwrap();
    password_sign_in(&cognito, &pool, "bob", PASSWORD).await.unwrap();
    expected.check(
        "username_exists",
        refused(cognito.admin_create_user().user_pool_id(&pool.id).username("bob").send().await),
        &[],
    );
    cognito.admin_delete_user().user_pool_id(&pool.id).username("bob").send().await.unwrap();
    expected.check(
        "unknown_user_legacy",
        refused(password_sign_in(&cognito, &pool, "bob", PASSWORD).await.map_err(SdkText)),
        &[],
    );
}

/// A refusal already rendered as `code: message`, for [`refused`].
#[derive(Debug)]
struct SdkText(String);

impl ProvideErrorMetadata for SdkText {
    fn meta(&self) -> &aws_sdk_cognitoidentityprovider::error::ErrorMetadata {
        unimplemented!("only code and message are read")
    }

    fn code(&self) -> Option<&str> {
        self.0.split_once(": ").map(|(code, _)| code)
    }

    fn message(&self) -> Option<&str> {
        self.0.split_once(": ").map(|(_, message)| message)
    }
}

#[tokio::test]
async fn sign_up_sign_in_refresh_and_revoke() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let nubo = Nubo::up(&state).await;
    let cognito = cognito_client(&nubo.http_url(ServiceName::Auth));
    let pool = pool(&cognito, true, true, false).await;
    let secret = pool.secret.clone().unwrap();
    let hash = |username: &str| secret_hash(&secret, username, &pool.client_id);
    let expected = Expected::load();
    let email = "carol@example.com";

    let signed_up = cognito
        .sign_up()
        .client_id(&pool.client_id)
        .secret_hash(hash(email))
        .username(email)
        .password(PASSWORD)
        .user_attributes(attribute("given_name", "Carol"))
        .send()
        .await
        .unwrap();
    assert!(!signed_up.user_confirmed());
    let delivery = signed_up.code_delivery_details().unwrap();
    assert_eq!(delivery.destination(), Some("c***@e***"));
    let sub = signed_up.user_sub().to_owned();
    expected.check(
        "unconfirmed_user",
        refused(password_sign_in(&cognito, &pool, email, PASSWORD).await.map_err(SdkText)),
        &[],
    );
    expected.check(
        "email_exists",
        refused(
            cognito
                .sign_up()
                .client_id(&pool.client_id)
                .secret_hash(hash(email))
                .username(email)
                .password(PASSWORD)
                .send()
                .await,
        ),
        &[],
    );
    expected.check(
        "wrong_code",
        refused(
            cognito
                .confirm_sign_up()
                .client_id(&pool.client_id)
                .secret_hash(hash(email))
                .username(email)
                .confirmation_code("000000")
                .send()
                .await,
        ),
        &[],
    );
    let code = latest_code(&state, &sub, "SignUp").await;
    cognito
        .confirm_sign_up()
        .client_id(&pool.client_id)
        .secret_hash(hash(email))
        .username(email)
        .confirmation_code(&code)
        .send()
        .await
        .unwrap();
    expected.check(
        "confirmed_twice",
        refused(
            cognito
                .confirm_sign_up()
                .client_id(&pool.client_id)
                .secret_hash(hash(email))
                .username(email)
                .confirmation_code(&code)
                .send()
                .await,
        ),
        &[],
    );

    let signed_in = password_sign_in(&cognito, &pool, email, PASSWORD).await.unwrap();
    let tokens = signed_in.authentication_result().unwrap();
    let issuer = issuer(&nubo, &pool);
    let id = verify(tokens.id_token().unwrap(), &issuer).await.unwrap();
    assert_eq!(id["token_use"], "id");
    assert_eq!(id["sub"], sub.as_str());
    assert_eq!(id["cognito:username"], sub.as_str(), "with email user names, the user name is the sub");
    assert_eq!(id["email"], email);
    assert_eq!(id["email_verified"], true);
    assert_eq!(id["given_name"], "Carol");
    assert_eq!(id["aud"], pool.client_id.as_str());
    let access = verify(tokens.access_token().unwrap(), &issuer).await.unwrap();
    assert_eq!(access["token_use"], "access");
    assert_eq!(access["client_id"], pool.client_id.as_str());
    assert!(access.get("aud").is_none(), "Cognito's access tokens have no aud");
    assert_eq!(access["scope"], "aws.cognito.signin.user.admin");
    assert_eq!(access["username"], sub.as_str());
    assert_eq!(access["origin_jti"], id["origin_jti"]);
    assert_eq!(tokens.expires_in(), 3600);

    let me = cognito.get_user().access_token(tokens.access_token().unwrap()).send().await.unwrap();
    assert_eq!(me.username(), sub);
    assert!(me.user_attributes().iter().any(|a| a.name() == "email" && a.value() == Some(email)));

    // A refresh keeps the refresh token (no rotation) and the auth time.
    let refresh_token = tokens.refresh_token().unwrap().to_owned();
    let refreshed = cognito
        .initiate_auth()
        .client_id(&pool.client_id)
        .auth_flow(AuthFlowType::RefreshTokenAuth)
        .auth_parameters("REFRESH_TOKEN", &refresh_token)
        .auth_parameters("SECRET_HASH", hash(&sub))
        .send()
        .await
        .unwrap();
    let refreshed = refreshed.authentication_result().unwrap();
    assert!(refreshed.refresh_token().is_none(), "no new refresh token without rotation");
    let again = verify(refreshed.id_token().unwrap(), &issuer).await.unwrap();
    assert_eq!(again["auth_time"], id["auth_time"]);
    assert_ne!(again["jti"], id["jti"]);

    // GetTokensFromRefreshToken, then RevokeToken: the refresh token and
    // the access tokens it made stop working.
    let fetched = cognito
        .get_tokens_from_refresh_token()
        .client_id(&pool.client_id)
        .client_secret(&secret)
        .refresh_token(&refresh_token)
        .send()
        .await
        .unwrap();
    let fetched_access = fetched.authentication_result().unwrap().access_token().unwrap().to_owned();
    cognito
        .revoke_token()
        .client_id(&pool.client_id)
        .client_secret(&secret)
        .token(&refresh_token)
        .send()
        .await
        .unwrap();
    expected.check(
        "revoked_refresh",
        refused(
            cognito
                .get_tokens_from_refresh_token()
                .client_id(&pool.client_id)
                .client_secret(&secret)
                .refresh_token(&refresh_token)
                .send()
                .await,
        ),
        &[],
    );
    expected.check("signed_out_access", refused(cognito.get_user().access_token(&fetched_access).send().await), &[]);

    // GlobalSignOut ends every session of the user.
    let second = password_sign_in(&cognito, &pool, email, PASSWORD).await.unwrap();
    let second = second.authentication_result().unwrap();
    let third = password_sign_in(&cognito, &pool, email, PASSWORD).await.unwrap();
    let third = third.authentication_result().unwrap();
    cognito.global_sign_out().access_token(third.access_token().unwrap()).send().await.unwrap();
    expected.check(
        "signed_out_access",
        refused(cognito.get_user().access_token(second.access_token().unwrap()).send().await),
        &[],
    );
    let (code, message) = refused(
        cognito
            .initiate_auth()
            .client_id(&pool.client_id)
            .auth_flow(AuthFlowType::RefreshTokenAuth)
            .auth_parameters("REFRESH_TOKEN", second.refresh_token().unwrap())
            .auth_parameters("SECRET_HASH", hash(&sub))
            .send()
            .await,
    );
    assert_eq!((code.as_str(), message.as_str()), ("NotAuthorizedException", "Refresh Token has been revoked"));

    // A forgotten password, reset by a code; the code works once.
    cognito.forgot_password().client_id(&pool.client_id).secret_hash(hash(email)).username(email).send().await.unwrap();
    let reset = latest_code(&state, &sub, "ForgotPassword").await;
    let new_password = "Another-Horse-7";
    cognito
        .confirm_forgot_password()
        .client_id(&pool.client_id)
        .secret_hash(hash(email))
        .username(email)
        .confirmation_code(&reset)
        .password(new_password)
        .send()
        .await
        .unwrap();
    expected.check(
        "reused_code",
        refused(
            cognito
                .confirm_forgot_password()
                .client_id(&pool.client_id)
                .secret_hash(hash(email))
                .username(email)
                .confirmation_code(&reset)
                .password(PASSWORD)
                .send()
                .await,
        ),
        &[],
    );
    expected.check(
        "wrong_password",
        refused(password_sign_in(&cognito, &pool, email, PASSWORD).await.map_err(SdkText)),
        &[],
    );
    let fresh = password_sign_in(&cognito, &pool, email, new_password).await.unwrap();
    let access = fresh.authentication_result().unwrap().access_token().unwrap();
    cognito
        .change_password()
        .access_token(access)
        .previous_password(new_password)
        .proposed_password(PASSWORD)
        .send()
        .await
        .unwrap();
    password_sign_in(&cognito, &pool, email, PASSWORD).await.unwrap();

    // The secret hash is checked whenever the client has a secret.
    let (code, message) = refused(
        cognito
            .initiate_auth()
            .client_id(&pool.client_id)
            .auth_flow(AuthFlowType::UserPasswordAuth)
            .auth_parameters("USERNAME", email)
            .auth_parameters("PASSWORD", PASSWORD)
            .send()
            .await,
    );
    expected.check("missing_secret_hash", (code, message), &[("client", &pool.client_id)]);
    let (code, message) = refused(
        cognito
            .initiate_auth()
            .client_id(&pool.client_id)
            .auth_flow(AuthFlowType::UserPasswordAuth)
            .auth_parameters("USERNAME", email)
            .auth_parameters("PASSWORD", PASSWORD)
            .auth_parameters("SECRET_HASH", hash("someone-else"))
            .send()
            .await,
    );
    expected.check("wrong_secret_hash", (code, message), &[("client", &pool.client_id)]);
}

#[tokio::test]
async fn groups_reach_the_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let nubo = Nubo::up(&dir.path().join("state")).await;
    let cognito = cognito_client(&nubo.http_url(ServiceName::Auth));
    let pool = pool(&cognito, false, false, false).await;
    user(&cognito, &pool, "dave", "dave@example.com").await;
    for (group, precedence) in [("admins", 1), ("readers", 5)] {
        let role = format!("arn:aws:iam::000000000000:role/{group}");
        cognito
            .create_group()
            .user_pool_id(&pool.id)
            .group_name(group)
            .precedence(precedence)
            .role_arn(role)
            .send()
            .await
            .unwrap();
        cognito
            .admin_add_user_to_group()
            .user_pool_id(&pool.id)
            .username("dave")
            .group_name(group)
            .send()
            .await
            .unwrap();
    }
    Expected::load().check(
        "group_exists",
        refused(cognito.create_group().user_pool_id(&pool.id).group_name("admins").send().await),
        &[("group", "admins")],
    );
    let signed_in = password_sign_in(&cognito, &pool, "dave", PASSWORD).await.unwrap();
    let tokens = signed_in.authentication_result().unwrap();
    for token in [tokens.id_token().unwrap(), tokens.access_token().unwrap()] {
        assert_eq!(claims(token)["cognito:groups"], serde_json::json!(["admins", "readers"]));
    }
    let id = claims(tokens.id_token().unwrap());
    assert_eq!(
        id["cognito:roles"],
        serde_json::json!(["arn:aws:iam::000000000000:role/admins", "arn:aws:iam::000000000000:role/readers"])
    );
    assert_eq!(id["cognito:preferred_role"], "arn:aws:iam::000000000000:role/admins", "the lowest precedence wins");
    let groups = cognito.admin_list_groups_for_user().user_pool_id(&pool.id).username("dave").send().await.unwrap();
    assert_eq!(groups.groups().len(), 2);
    let members = cognito.list_users_in_group().user_pool_id(&pool.id).group_name("readers").send().await.unwrap();
    assert_eq!(members.users()[0].username(), Some("dave"));
    let group = cognito.get_group().user_pool_id(&pool.id).group_name("readers").send().await.unwrap();
    assert_eq!(group.group().unwrap().precedence(), Some(5));
    cognito
        .admin_remove_user_from_group()
        .user_pool_id(&pool.id)
        .username("dave")
        .group_name("readers")
        .send()
        .await
        .unwrap();
    cognito.delete_group().user_pool_id(&pool.id).group_name("admins").send().await.unwrap();
    assert_eq!(cognito.list_groups().user_pool_id(&pool.id).send().await.unwrap().groups().len(), 1);
    let signed_in = password_sign_in(&cognito, &pool, "dave", PASSWORD).await.unwrap();
    let id = claims(signed_in.authentication_result().unwrap().id_token().unwrap());
    assert!(id.get("cognito:groups").is_none(), "no groups, no claim: {id}");
}

#[tokio::test]
async fn refusals_are_worded_as_cognito_words_them() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let nubo = Nubo::up(&state).await;
    let cognito = cognito_client(&nubo.http_url(ServiceName::Auth));
    let expected = Expected::load();
    let prevented = pool(&cognito, false, false, true).await;
    let pool = pool(&cognito, false, false, false).await;

    for (case, password) in [
        ("short_password", "Sh0rt!"),
        ("no_uppercase", "lowercase-only-1"),
        ("no_lowercase", "UPPERCASE-ONLY-1"),
        ("no_number", "No-Numbers-Here"),
        ("no_symbol", "NoSymbolsHere1"),
    ] {
        let result = cognito.sign_up().client_id(&pool.client_id).username("erin").password(password).send().await;
        expected.check(case, refused(result), &[]);
    }
    expected.check(
        "unknown_user_prevented",
        refused(password_sign_in(&cognito, &prevented, "nobody", PASSWORD).await.map_err(SdkText)),
        &[],
    );
    expected.check(
        "unknown_client",
        refused(
            cognito
                .initiate_auth()
                .client_id("nosuchclient0000000000000")
                .auth_flow(AuthFlowType::UserPasswordAuth)
                .auth_parameters("USERNAME", "x")
                .auth_parameters("PASSWORD", "y")
                .send()
                .await,
        ),
        &[("client", "nosuchclient0000000000000")],
    );

    // Five wrong passwords are free; the sixth attempt meets a lockout,
    // even with the right password.
    user(&cognito, &pool, "frank", "frank@example.com").await;
    for _ in 0..5 {
        assert!(password_sign_in(&cognito, &pool, "frank", "Wrong-Password-1").await.is_err());
    }
    expected.check(
        "lockout",
        refused(password_sign_in(&cognito, &pool, "frank", PASSWORD).await.map_err(SdkText)),
        &[],
    );
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    password_sign_in(&cognito, &pool, "frank", PASSWORD).await.expect("the first lockout lasts a second");

    // Guesses sent all at once meet the lockout too: each is counted
    // before its password is checked.
    user(&cognito, &pool, "gus", "gus@example.com").await;
    let guesses: Vec<_> = (0..12)
        .map(|n| {
            let (cognito, client_id) = (cognito.clone(), pool.client_id.clone());
            tokio::spawn(async move {
                let guess = Pool { id: String::new(), client_id, secret: None };
                password_sign_in(&cognito, &guess, "gus", &format!("Wrong-Password-{n}")).await.unwrap_err()
            })
        })
        .collect();
    let mut locked = 0;
    for guess in guesses {
        if guess.await.unwrap() == "NotAuthorizedException: Password attempts exceeded" {
            locked += 1;
        }
    }
    assert!(locked >= 6, "at most five parallel guesses are free, {locked} of 12 were locked out");

    // A token naming a pool that does not exist is refused, and makes no
    // keys for it.
    let signed_in = password_sign_in(&cognito, &pool, "frank", PASSWORD).await.unwrap();
    let real = signed_in.authentication_result().unwrap().access_token().unwrap().to_owned();
    let mut forged = claims(&real);
    let fake_pool = "us-east-1_NoSuchOne";
    forged["iss"] = serde_json::json!(format!("http://localhost:{}/{fake_pool}", nubo.ports[&ServiceName::Auth].http));
    let parts: Vec<&str> = real.split('.').collect();
    use base64::Engine as _;
    let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(forged.to_string());
    let forged = format!("{}.{payload}.{}", parts[0], parts[2]);
    let (code, message) = refused(cognito.get_user().access_token(&forged).send().await);
    assert_eq!((code.as_str(), message.as_str()), ("NotAuthorizedException", "Invalid Access Token"));
    let jwks =
        reqwest::get(format!("{}/{fake_pool}/.well-known/jwks.json", nubo.http_url(ServiceName::Auth))).await.unwrap();
    assert_eq!(jwks.status(), 404);

    // A code survives five wrong guesses, then must be asked for again.
    cognito
        .sign_up()
        .client_id(&pool.client_id)
        .username("gina")
        .password(PASSWORD)
        .user_attributes(attribute("email", "gina@example.com"))
        .send()
        .await
        .unwrap();
    for _ in 0..5 {
        let wrong = cognito
            .confirm_sign_up()
            .client_id(&pool.client_id)
            .username("gina")
            .confirmation_code("999999")
            .send()
            .await;
        assert_eq!(refused(wrong).0, "CodeMismatchException");
    }
    let code = latest_code(&state, "gina", "SignUp").await;
    let result =
        cognito.confirm_sign_up().client_id(&pool.client_id).username("gina").confirmation_code(&code).send().await;
    expected.check("exhausted_code", refused(result), &[]);
    // The right password of an unconfirmed user is no failed attempt: it
    // never leads to a lockout.
    for _ in 0..7 {
        let unconfirmed = password_sign_in(&cognito, &pool, "gina", PASSWORD).await.map_err(SdkText);
        expected.check("unconfirmed_user", refused(unconfirmed), &[]);
    }

    let srp_only = cognito
        .create_user_pool_client()
        .user_pool_id(&pool.id)
        .client_name("srp-only")
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowUserSrpAuth)
        .send()
        .await
        .unwrap()
        .user_pool_client
        .unwrap();
    let srp_only = Pool { id: pool.id.clone(), client_id: srp_only.client_id.unwrap(), secret: None };
    expected.check(
        "flow_not_enabled",
        refused(password_sign_in(&cognito, &srp_only, "frank", PASSWORD).await.map_err(SdkText)),
        &[],
    );

    // Every case in the table was exercised by some test of this file.
    let source = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/auth.rs")).unwrap();
    for case in expected.0.keys() {
        assert!(source.contains(&format!("\"{case}\"")), "{case} is never checked");
    }
}

#[tokio::test]
async fn a_token_signed_before_a_key_rotation_still_verifies_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let nubo = Nubo::up_with(&dir.path().join("state"), &[("NUBO_AUTH__KEY_ROTATION_SECONDS", "2")]).await;
    let cognito = cognito_client(&nubo.http_url(ServiceName::Auth));
    let pool = pool(&cognito, false, false, false).await;
    user(&cognito, &pool, "hana", "hana@example.com").await;
    let issuer = issuer(&nubo, &pool);

    let before = password_sign_in(&cognito, &pool, "hana", PASSWORD).await.unwrap();
    let before = before.authentication_result().unwrap().access_token().unwrap().to_owned();
    let kid_before = jsonwebtoken::decode_header(&before).unwrap().kid.unwrap();
    // A replica re-reads its ring at most every five seconds.
    let mut kid_after = kid_before.clone();
    for _ in 0..40 {
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        let after = password_sign_in(&cognito, &pool, "hana", PASSWORD).await.unwrap();
        let token = after.authentication_result().unwrap().access_token().unwrap().to_owned();
        kid_after = jsonwebtoken::decode_header(&token).unwrap().kid.unwrap();
        if kid_after != kid_before {
            verify(&token, &issuer).await.expect("the new key is published");
            break;
        }
    }
    assert_ne!(kid_after, kid_before, "the key rotated");
    verify(&before, &issuer).await.expect("the retired key is still published");
    cognito.get_user().access_token(&before).send().await.expect("and still accepted");
}

#[tokio::test]
async fn boto3_and_the_cli_drive_the_same_api() {
    let state = tempfile::tempdir().unwrap();
    let nubo = Nubo::up(state.path()).await;
    let boto = std::process::Command::new("python3")
        .arg(nubo_e2e::fixture("auth/boto3_cognito.py"))
        .arg(nubo.http_url(ServiceName::Auth))
        .env_clear()
        .env("PATH", nubo_e2e::path_with_python_tools())
        .env("HOME", state.path())
        .output()
        .unwrap();
    assert!(boto.status.success(), "{}", String::from_utf8_lossy(&boto.stderr));
    let answer: serde_json::Value = serde_json::from_slice(&boto.stdout).unwrap();
    assert_eq!(answer["username"], "user3");
    assert_eq!(answer["refreshed"], true);
    let listed: Vec<String> = (0..7).map(|n| format!("user{n}")).collect();
    assert_eq!(answer["listed"], serde_json::json!(listed), "the paginator walks every page once");
    assert_eq!(answer["refused"]["code"], "NotAuthorizedException");
    assert_eq!(answer["refused"]["message"], "Incorrect username or password.");

    // The CLI through the edge, as `AWS_ENDPOINT_URL` users have it.
    let cli = |args: &[&str]| -> serde_json::Value {
        let output = nubo_e2e::aws_cli(state.path(), Some(&nubo.edge_url())).args(args).output().unwrap();
        assert!(output.status.success(), "aws {args:?}: {}", String::from_utf8_lossy(&output.stderr));
        serde_json::from_slice(&output.stdout).unwrap_or(serde_json::Value::Null)
    };
    let pool_id = answer["pool_id"].as_str().unwrap();
    let pools = cli(&["cognito-idp", "list-user-pools", "--max-results", "10"]);
    assert_eq!(pools["UserPools"][0]["Id"], pool_id);
    let users = cli(&["cognito-idp", "list-users", "--user-pool-id", pool_id, "--filter", "username = \"user5\""]);
    assert_eq!(users["Users"][0]["Username"], "user5");
    let signed_in = cli(&[
        "cognito-idp",
        "initiate-auth",
        "--client-id",
        answer["client_id"].as_str().unwrap(),
        "--auth-flow",
        "USER_PASSWORD_AUTH",
        "--auth-parameters",
        "USERNAME=user5,PASSWORD=Boto3-password",
    ]);
    let access = signed_in["AuthenticationResult"]["AccessToken"].as_str().unwrap();
    let me = cli(&["cognito-idp", "get-user", "--access-token", access]);
    assert_eq!(me["Username"], "user5");
}

#[tokio::test]
async fn refresh_token_rotation_replaces_the_token_and_refuses_the_old_one() {
    use aws_sdk_cognitoidentityprovider::types::{FeatureType, RefreshTokenRotationType};
    let dir = tempfile::tempdir().unwrap();
    let nubo = Nubo::up(&dir.path().join("state")).await;
    let cognito = cognito_client(&nubo.http_url(ServiceName::Auth));
    let base = pool(&cognito, false, false, false).await;
    user(&cognito, &base, "ivan", "ivan@example.com").await;
    let rotating = cognito
        .create_user_pool_client()
        .user_pool_id(&base.id)
        .client_name("rotating")
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowUserPasswordAuth)
        .refresh_token_rotation(
            RefreshTokenRotationType::builder()
                .feature(FeatureType::Enabled)
                .retry_grace_period_seconds(0)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap()
        .user_pool_client
        .unwrap();
    let rotating = Pool { id: base.id.clone(), client_id: rotating.client_id.unwrap(), secret: None };
    let signed_in = password_sign_in(&cognito, &rotating, "ivan", PASSWORD).await.unwrap();
    let first = signed_in.authentication_result().unwrap().refresh_token().unwrap().to_owned();
    let rotate = |token: String| {
        let request = cognito.get_tokens_from_refresh_token().client_id(&rotating.client_id).refresh_token(token);
        async move { request.send().await }
    };
    let rotated = rotate(first.clone()).await.unwrap();
    let second =
        rotated.authentication_result().unwrap().refresh_token().expect("rotation issues a new one").to_owned();
    assert_ne!(second, first);
    let (code, message) = refused(rotate(first.clone()).await);
    assert_eq!((code.as_str(), message.as_str()), ("NotAuthorizedException", "Refresh Token has been revoked"));
    rotate(second.clone()).await.expect("the new token refreshes");
    let (code, _) = refused(
        cognito
            .initiate_auth()
            .client_id(&rotating.client_id)
            .auth_flow(AuthFlowType::RefreshTokenAuth)
            .auth_parameters("REFRESH_TOKEN", &second)
            .send()
            .await,
    );
    assert_eq!(code, "InvalidParameterException", "rotation is completed with GetTokensFromRefreshToken only");
}

#[tokio::test]
async fn a_users_own_calls_and_the_rest_of_the_admin_api() {
    use aws_sdk_cognitoidentityprovider::types::{ResourceServerScopeType, SoftwareTokenMfaSettingsType};
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let nubo = Nubo::up(&state).await;
    let cognito = cognito_client(&nubo.http_url(ServiceName::Auth));
    let pool = pool(&cognito, false, false, false).await;

    // ResendConfirmationCode sends a new code; the old one no longer works.
    cognito
        .sign_up()
        .client_id(&pool.client_id)
        .username("mia")
        .password(PASSWORD)
        .user_attributes(attribute("email", "mia@example.com"))
        .send()
        .await
        .unwrap();
    let first = latest_code(&state, "mia", "SignUp").await;
    let resent = cognito.resend_confirmation_code().client_id(&pool.client_id).username("mia").send().await.unwrap();
    assert_eq!(resent.code_delivery_details().unwrap().attribute_name(), Some("email"));
    let second = latest_code(&state, "mia", "ResendCode").await;
    if first != second {
        let stale =
            cognito.confirm_sign_up().client_id(&pool.client_id).username("mia").confirmation_code(&first).send().await;
        assert_eq!(refused(stale).0, "CodeMismatchException");
    }
    cognito
        .confirm_sign_up()
        .client_id(&pool.client_id)
        .username("mia")
        .confirmation_code(&second)
        .send()
        .await
        .unwrap();
    let signed_in = password_sign_in(&cognito, &pool, "mia", PASSWORD).await.unwrap();
    let access = signed_in.authentication_result().unwrap().access_token().unwrap().to_owned();

    // A changed email is unverified until its code comes back.
    let updated = cognito
        .update_user_attributes()
        .access_token(&access)
        .user_attributes(attribute("email", "mia@new.example"))
        .user_attributes(attribute("nickname", "m"))
        .send()
        .await
        .unwrap();
    assert_eq!(updated.code_delivery_details_list().len(), 1);
    let value = |user: &aws_sdk_cognitoidentityprovider::operation::get_user::GetUserOutput, name: &str| {
        user.user_attributes().iter().find(|a| a.name() == name).and_then(|a| a.value().map(str::to_owned))
    };
    let me = cognito.get_user().access_token(&access).send().await.unwrap();
    assert_eq!(value(&me, "email").as_deref(), Some("mia@new.example"));
    assert_eq!(value(&me, "email_verified").as_deref(), Some("false"));
    cognito.get_user_attribute_verification_code().access_token(&access).attribute_name("email").send().await.unwrap();
    let code = latest_code(&state, "mia", "VerifyUserAttribute").await;
    cognito.verify_user_attribute().access_token(&access).attribute_name("email").code(&code).send().await.unwrap();
    let me = cognito.get_user().access_token(&access).send().await.unwrap();
    assert_eq!(value(&me, "email_verified").as_deref(), Some("true"));
    cognito.delete_user_attributes().access_token(&access).user_attribute_names("nickname").send().await.unwrap();
    let me = cognito.get_user().access_token(&access).send().await.unwrap();
    assert_eq!(value(&me, "nickname"), None);
    let (code, _) = refused(
        cognito
            .update_user_attributes()
            .access_token(&access)
            .user_attributes(attribute("email_verified", "true"))
            .send()
            .await,
    );
    assert_eq!(code, "InvalidParameterException", "a user cannot verify its own attributes");

    // The administrator's versions.
    cognito
        .admin_delete_user_attributes()
        .user_pool_id(&pool.id)
        .username("mia")
        .user_attribute_names("nickname")
        .send()
        .await
        .unwrap();
    let (code, _) = refused(
        cognito
            .admin_set_user_mfa_preference()
            .user_pool_id(&pool.id)
            .username("mia")
            .software_token_mfa_settings(SoftwareTokenMfaSettingsType::builder().enabled(true).build())
            .send()
            .await,
    );
    assert_eq!(code, "InvalidParameterException", "no verified software token yet");
    cognito.admin_reset_user_password().user_pool_id(&pool.id).username("mia").send().await.unwrap();
    let error = password_sign_in(&cognito, &pool, "mia", PASSWORD).await.unwrap_err();
    assert_eq!(error, "PasswordResetRequiredException: Password reset required for the user");
    let reset = latest_code(&state, "mia", "ForgotPassword").await;
    cognito
        .confirm_forgot_password()
        .client_id(&pool.client_id)
        .username("mia")
        .confirmation_code(&reset)
        .password("Reset-Password-3")
        .send()
        .await
        .unwrap();
    let signed_in = password_sign_in(&cognito, &pool, "mia", "Reset-Password-3").await.unwrap();
    let access = signed_in.authentication_result().unwrap().access_token().unwrap().to_owned();
    cognito.delete_user().access_token(&access).send().await.unwrap();
    let (code, _) = refused(cognito.admin_get_user().user_pool_id(&pool.id).username("mia").send().await);
    assert_eq!(code, "UserNotFoundException");

    // Resource servers, groups updated, tags, MFA configuration, domains.
    let scope = ResourceServerScopeType::builder().scope_name("read").scope_description("read it").build().unwrap();
    cognito
        .create_resource_server()
        .user_pool_id(&pool.id)
        .identifier("https://api.example")
        .name("api")
        .scopes(scope)
        .send()
        .await
        .unwrap();
    let write = ResourceServerScopeType::builder().scope_name("write").scope_description("write it").build().unwrap();
    cognito
        .update_resource_server()
        .user_pool_id(&pool.id)
        .identifier("https://api.example")
        .name("api")
        .scopes(write)
        .send()
        .await
        .unwrap();
    let described = cognito
        .describe_resource_server()
        .user_pool_id(&pool.id)
        .identifier("https://api.example")
        .send()
        .await
        .unwrap();
    assert_eq!(described.resource_server().unwrap().scopes()[0].scope_name(), "write");
    assert_eq!(
        cognito
            .list_resource_servers()
            .user_pool_id(&pool.id)
            .max_results(10)
            .send()
            .await
            .unwrap()
            .resource_servers()
            .len(),
        1
    );
    cognito.delete_resource_server().user_pool_id(&pool.id).identifier("https://api.example").send().await.unwrap();
    cognito.create_group().user_pool_id(&pool.id).group_name("staff").send().await.unwrap();
    let group = cognito
        .update_group()
        .user_pool_id(&pool.id)
        .group_name("staff")
        .description("the staff")
        .send()
        .await
        .unwrap();
    assert_eq!(group.group().unwrap().description(), Some("the staff"));
    let arn = cognito.describe_user_pool().user_pool_id(&pool.id).send().await.unwrap().user_pool.unwrap().arn.unwrap();
    cognito.tag_resource().resource_arn(&arn).tags("team", "auth").tags("stage", "test").send().await.unwrap();
    cognito.untag_resource().resource_arn(&arn).tag_keys("stage").send().await.unwrap();
    let tags = cognito.list_tags_for_resource().resource_arn(&arn).send().await.unwrap();
    assert_eq!(tags.tags().unwrap().len(), 1);
    let mfa = cognito.get_user_pool_mfa_config().user_pool_id(&pool.id).send().await.unwrap();
    assert_eq!(mfa.mfa_configuration().map(|m| m.as_str()), Some("OFF"));
    cognito.create_user_pool_domain().user_pool_id(&pool.id).domain("mia-login").send().await.unwrap();
    let updated = cognito
        .update_user_pool_domain()
        .user_pool_id(&pool.id)
        .domain("mia-login")
        .managed_login_version(2)
        .send()
        .await
        .unwrap();
    assert_eq!(updated.managed_login_version(), Some(2));
    let (code, _) =
        refused(cognito.create_user_pool_domain().user_pool_id(&pool.id).domain("has-cognito-in-it").send().await);
    assert_eq!(code, "InvalidParameterException");
}
