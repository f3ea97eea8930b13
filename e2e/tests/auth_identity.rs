//! Identity pools through `aws-sdk-cognitoidentity`, raw unsigned calls as
//! Amplify makes them, and boto3: a user pool's user signs in, trades the
//! ID token for an identity and temporary credentials, and those
//! credentials sign S3 requests that storage accepts. Bad logins, unknown
//! pools and guests of a pool without guests are refused as Cognito
//! Identity refuses them.

use aws_sdk_cognitoidentity::{
    error::ProvideErrorMetadata as _,
    types::{CognitoIdentityProvider, RoleMapping, RoleMappingType},
};
use aws_sdk_cognitoidentityprovider::types::{AuthFlowType, ExplicitAuthFlowsType, MessageActionType};
use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use nubo_e2e::{
    Nubo, ServiceName, cognito_client, cognito_identity_client, fixture, path_with_python_tools, s3_client,
    s3_client_with, sts_client,
};
use serde_json::{Value, json};

const AUTH_ROLE: &str = "arn:aws:iam::000000000000:role/AppAuthenticated";
const GUEST_ROLE: &str = "arn:aws:iam::000000000000:role/AppGuest";
const PASSWORD: &str = "Correct-Horse-9";

/// A user pool with a user, the app client the identity pool trusts and
/// another one it does not.
struct UserPool {
    pool_id: String,
    client_id: String,
    other_client_id: String,
}

impl UserPool {
    fn provider(&self) -> String {
        format!("cognito-idp.us-east-1.amazonaws.com/{}", self.pool_id)
    }
}

async fn user_pool(nubo: &Nubo, username: &str) -> UserPool {
    let idp = cognito_client(&nubo.http_url(ServiceName::Auth));
    let pool = idp.create_user_pool().pool_name("app-users").send().await.unwrap();
    let pool_id = pool.user_pool().unwrap().id().unwrap().to_owned();
    let mut clients = Vec::new();
    for name in ["web", "other"] {
        let client = idp
            .create_user_pool_client()
            .user_pool_id(&pool_id)
            .client_name(name)
            .explicit_auth_flows(ExplicitAuthFlowsType::AllowAdminUserPasswordAuth)
            .explicit_auth_flows(ExplicitAuthFlowsType::AllowRefreshTokenAuth)
            .send()
            .await
            .unwrap();
        clients.push(client.user_pool_client().unwrap().client_id().unwrap().to_owned());
    }
    idp.admin_create_user()
        .user_pool_id(&pool_id)
        .username(username)
        .message_action(MessageActionType::Suppress)
        .send()
        .await
        .unwrap();
    idp.admin_set_user_password()
        .user_pool_id(&pool_id)
        .username(username)
        .password(PASSWORD)
        .permanent(true)
        .send()
        .await
        .unwrap();
    let other_client_id = clients.pop().unwrap();
    UserPool { pool_id, client_id: clients.pop().unwrap(), other_client_id }
}

/// Signs `username` in through `client_id`: its ID and access tokens.
async fn sign_in(nubo: &Nubo, pool: &UserPool, client_id: &str, username: &str) -> (String, String) {
    let idp = cognito_client(&nubo.http_url(ServiceName::Auth));
    let signed_in = idp
        .admin_initiate_auth()
        .user_pool_id(&pool.pool_id)
        .client_id(client_id)
        .auth_flow(AuthFlowType::AdminUserPasswordAuth)
        .auth_parameters("USERNAME", username)
        .auth_parameters("PASSWORD", PASSWORD)
        .send()
        .await
        .unwrap();
    let result = signed_in.authentication_result().unwrap();
    (result.id_token().unwrap().to_owned(), result.access_token().unwrap().to_owned())
}

fn payload(token: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(token.split('.').nth(1).unwrap()).unwrap()).unwrap()
}

async fn identity_pool(
    identity: &aws_sdk_cognitoidentity::Client,
    pool: &UserPool,
    provider_name: &str,
    guests: bool,
) -> String {
    let created = identity
        .create_identity_pool()
        .identity_pool_name("app identities")
        .allow_unauthenticated_identities(guests)
        .cognito_identity_providers(
            CognitoIdentityProvider::builder()
                .provider_name(provider_name)
                .client_id(&pool.client_id)
                .server_side_token_check(true)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let identity_pool_id = created.identity_pool_id().to_owned();
    identity
        .set_identity_pool_roles()
        .identity_pool_id(&identity_pool_id)
        .roles("authenticated", AUTH_ROLE)
        .roles("unauthenticated", GUEST_ROLE)
        .send()
        .await
        .unwrap();
    identity_pool_id
}

fn as_credentials(issued: &aws_sdk_cognitoidentity::types::Credentials) -> aws_credential_types::Credentials {
    aws_credential_types::Credentials::new(
        issued.access_key_id().unwrap(),
        issued.secret_key().unwrap(),
        Some(issued.session_token().unwrap().to_owned()),
        None,
        "cognito-identity",
    )
}

/// A Cognito Identity call as Amplify's browser client makes it: a plain
/// unsigned POST.
async fn unsigned(endpoint: &str, action: &str, body: Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(endpoint)
        .header("content-type", "application/x-amz-json-1.1")
        .header("x-amz-target", format!("AWSCognitoIdentityService.{action}"))
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_signed_in_user_gets_credentials_that_storage_accepts() {
    let state = tempfile::tempdir().unwrap();
    let nubo = Nubo::up(state.path()).await;
    let auth = nubo.http_url(ServiceName::Auth);
    let edge = nubo.edge_url();
    let pool = user_pool(&nubo, "ada").await;
    let (id_token, _) = sign_in(&nubo, &pool, &pool.client_id, "ada").await;
    let identity = cognito_identity_client(&auth);
    let identity_pool_id = identity_pool(&identity, &pool, &pool.provider(), false).await;
    assert!(identity_pool_id.starts_with("us-east-1:"), "{identity_pool_id}");

    let described = identity.describe_identity_pool().identity_pool_id(&identity_pool_id).send().await.unwrap();
    assert_eq!(described.identity_pool_name(), "app identities");
    assert!(!described.allow_unauthenticated_identities());
    let providers = described.cognito_identity_providers();
    assert_eq!(providers[0].client_id(), Some(pool.client_id.as_str()));
    assert_eq!(providers[0].server_side_token_check(), Some(true));
    let roles = identity.get_identity_pool_roles().identity_pool_id(&identity_pool_id).send().await.unwrap();
    assert_eq!(roles.roles().unwrap()["authenticated"], AUTH_ROLE);

    let id =
        identity.get_id().identity_pool_id(&identity_pool_id).logins(pool.provider(), &id_token).send().await.unwrap();
    let identity_id = id.identity_id().unwrap().to_owned();
    assert!(identity_id.starts_with("us-east-1:"), "{identity_id}");
    // The same user is the same identity, whichever name the login uses:
    // Amplify names the provider by the token's issuer, without a scheme.
    let iss = payload(&id_token)["iss"].as_str().unwrap().to_owned();
    let amplify_name = iss.split_once("://").unwrap().1.to_owned();
    let (second_token, _) = sign_in(&nubo, &pool, &pool.client_id, "ada").await;
    let again = identity
        .get_id()
        .identity_pool_id(&identity_pool_id)
        .logins(&amplify_name, &second_token)
        .send()
        .await
        .unwrap();
    assert_eq!(again.identity_id(), Some(identity_id.as_str()));

    let issued = identity
        .get_credentials_for_identity()
        .identity_id(&identity_id)
        .logins(pool.provider(), &id_token)
        .send()
        .await
        .unwrap();
    assert_eq!(issued.identity_id(), Some(identity_id.as_str()));
    let issued = issued.credentials().unwrap();
    assert!(issued.access_key_id().unwrap().starts_with("ASIA"));
    let lifetime = issued.expiration().unwrap().secs() - chrono_now();
    assert!((3500..=3600).contains(&lifetime), "credentials last an hour, not {lifetime}s");
    let user_credentials = as_credentials(issued);

    // The credentials sign S3 calls storage accepts, on its own port and
    // through the edge: the role session is a principal of the account.
    s3_client(&nubo.http_url(ServiceName::Storage)).create_bucket().bucket("user-uploads").send().await.unwrap();
    let storage = s3_client_with(&nubo.http_url(ServiceName::Storage), user_credentials.clone());
    let key = format!("private/{identity_id}/note.txt");
    storage
        .put_object()
        .bucket("user-uploads")
        .key(&key)
        .body(b"written with identity pool credentials".to_vec().into())
        .send()
        .await
        .unwrap();
    let read = s3_client_with(&edge, user_credentials.clone())
        .get_object()
        .bucket("user-uploads")
        .key(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(read.body.collect().await.unwrap().into_bytes().as_ref(), b"written with identity pool credentials");
    let caller = sts_client(&edge, user_credentials.clone()).get_caller_identity().send().await.unwrap();
    assert_eq!(
        caller.arn(),
        Some("arn:aws:sts::000000000000:assumed-role/AppAuthenticated/CognitoIdentityCredentials")
    );
    // A session token of other credentials does not sign with this key.
    let forged = aws_credential_types::Credentials::new(
        user_credentials.access_key_id(),
        "not-the-secret",
        user_credentials.session_token().map(str::to_owned),
        None,
        "forged",
    );
    let refused = s3_client_with(&nubo.http_url(ServiceName::Storage), forged)
        .get_object()
        .bucket("user-uploads")
        .key(&key)
        .send()
        .await
        .unwrap_err();
    assert_eq!(refused.into_service_error().meta().code(), Some("SignatureDoesNotMatch"));

    // The OpenID token: signed by nubo, for this pool and identity, with
    // its key published beside the issuer.
    let open_id =
        identity.get_open_id_token().identity_id(&identity_id).logins(pool.provider(), &id_token).send().await.unwrap();
    let token = open_id.token().unwrap();
    let claims = payload(token);
    assert_eq!(claims["aud"], identity_pool_id.as_str());
    assert_eq!(claims["sub"], identity_id.as_str());
    assert_eq!(claims["iss"], format!("{}/cognito-identity", iss.rsplit_once('/').unwrap().0));
    assert_eq!(claims["amr"][0], "authenticated");
    assert_eq!(claims["amr"][1], "cognito-idp.us-east-1.amazonaws.com");
    let lifetime = claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap();
    assert_eq!(lifetime, 600);
    let header: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(token.split('.').next().unwrap()).unwrap()).unwrap();
    let discovery: Value = reqwest::get(format!("{auth}/cognito-identity/.well-known/openid-configuration"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(discovery["issuer"], claims["iss"]);
    let jwks: Value = reqwest::get(discovery["jwks_uri"].as_str().unwrap().replace(&iss_base(&iss), &auth))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(jwks["keys"].as_array().unwrap().iter().any(|key| key["kid"] == header["kid"]), "{jwks}");
    // The pool's own OpenID token is itself a login for its identity.
    let by_open_id = identity
        .get_credentials_for_identity()
        .identity_id(&identity_id)
        .logins("cognito-identity.amazonaws.com", token)
        .send()
        .await
        .unwrap();
    assert!(by_open_id.credentials().unwrap().session_token().is_some());

    // Through the edge, unsigned, as Amplify's browser client calls it.
    let (status, body) = unsigned(
        &edge,
        "GetId",
        json!({ "IdentityPoolId": identity_pool_id, "Logins": { amplify_name.clone(): id_token } }),
    )
    .await;
    assert_eq!((status, &body["IdentityId"]), (200, &json!(identity_id)), "{body}");
    let (status, body) = unsigned(
        &edge,
        "GetCredentialsForIdentity",
        json!({ "IdentityId": identity_id, "Logins": { amplify_name: id_token } }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body["Credentials"]["SessionToken"].as_str().is_some_and(|token| !token.is_empty()));
    assert!(body["Credentials"]["Expiration"].is_number(), "{body}");
    // Managing pools through the edge is signed, as `cognito-identity`.
    let listed = cognito_identity_client(&edge).list_identity_pools().max_results(60).send().await.unwrap();
    assert!(listed.identity_pools().iter().any(|listed| listed.identity_pool_id() == Some(identity_pool_id.as_str())));
    let (status, body) = unsigned(&edge, "ListIdentityPools", json!({ "MaxResults": 10 })).await;
    assert_eq!(status, 403, "{body}");
    let described = identity.describe_identity().identity_id(&identity_id).send().await.unwrap();
    assert_eq!(described.logins(), [pool.provider()]);

    // UpdateIdentityPool sets what it is given; roles stay, tags too.
    let arn = format!("arn:aws:cognito-identity:us-east-1:000000000000:identitypool/{identity_pool_id}");
    identity.tag_resource().resource_arn(&arn).tags("team", "web").send().await.unwrap();
    let updated = identity
        .update_identity_pool()
        .identity_pool_id(&identity_pool_id)
        .identity_pool_name("renamed")
        .allow_unauthenticated_identities(true)
        .cognito_identity_providers(
            CognitoIdentityProvider::builder().provider_name(pool.provider()).client_id(&pool.other_client_id).build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(updated.identity_pool_name(), "renamed");
    assert!(updated.allow_unauthenticated_identities());
    assert_eq!(updated.identity_pool_tags().unwrap()["team"], "web");
    let tags = identity.list_tags_for_resource().resource_arn(&arn).send().await.unwrap();
    assert_eq!(tags.tags().unwrap()["team"], "web");
    let roles = identity.get_identity_pool_roles().identity_pool_id(&identity_pool_id).send().await.unwrap();
    assert_eq!(roles.roles().unwrap()["authenticated"], AUTH_ROLE);
    // The first client is no longer trusted: its token is refused.
    let error = identity
        .get_id()
        .identity_pool_id(&identity_pool_id)
        .logins(pool.provider(), &id_token)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(error.code(), Some("NotAuthorizedException"));
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

/// `http://localhost:{port}` of an issuer `http://localhost:{port}/{pool}`.
fn iss_base(iss: &str) -> String {
    iss.rsplit_once('/').unwrap().0.to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_logins_unknown_pools_and_refused_guests_get_cognito_identitys_errors() {
    let state = tempfile::tempdir().unwrap();
    let nubo = Nubo::up(state.path()).await;
    let auth = nubo.http_url(ServiceName::Auth);
    let pool = user_pool(&nubo, "grace").await;
    let (id_token, access_token) = sign_in(&nubo, &pool, &pool.client_id, "grace").await;
    let (other_client_token, _) = sign_in(&nubo, &pool, &pool.other_client_id, "grace").await;
    let identity = cognito_identity_client(&auth);
    let identity_pool_id = identity_pool(&identity, &pool, &pool.provider(), false).await;
    let get_id =
        |token: String| identity.get_id().identity_pool_id(&identity_pool_id).logins(pool.provider(), token).send();
    let refusal = |error: &dyn aws_sdk_cognitoidentity::error::ProvideErrorMetadata| {
        (error.code().unwrap_or_default().to_owned(), error.message().unwrap_or_default().to_owned())
    };

    // A payload rewritten under the original signature.
    let mut parts: Vec<String> = id_token.split('.').map(str::to_owned).collect();
    let mut claims = payload(&id_token);
    claims["sub"] = json!("00000000-0000-0000-0000-000000000000");
    parts[1] = URL_SAFE_NO_PAD.encode(claims.to_string());
    let error = get_id(parts.join(".")).await.unwrap_err().into_service_error();
    assert_eq!(
        refusal(&error),
        ("NotAuthorizedException".into(), "Invalid login token. Couldn't verify signed token.".into())
    );
    // A signature that is not the token's.
    let mut parts: Vec<String> = id_token.split('.').map(str::to_owned).collect();
    parts[2] = other_client_token.split('.').nth(2).unwrap().to_owned();
    let error = get_id(parts.join(".")).await.unwrap_err().into_service_error();
    assert_eq!(error.code(), Some("NotAuthorizedException"));
    // A valid token of a client the identity pool does not trust.
    let error = get_id(other_client_token).await.unwrap_err().into_service_error();
    assert_eq!(
        refusal(&error),
        ("NotAuthorizedException".into(), "Token is not from a supported provider of this identity pool.".into())
    );
    // An access token is no identity token.
    let error = get_id(access_token).await.unwrap_err().into_service_error();
    assert_eq!(
        refusal(&error),
        ("NotAuthorizedException".into(), "Invalid login token. Missing a required claim: aud".into())
    );
    // A token of this pool under another user pool's provider name.
    let error = identity
        .get_id()
        .identity_pool_id(&identity_pool_id)
        .logins("cognito-idp.us-east-1.amazonaws.com/us-east-1_Elsewhere", &id_token)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(error.code(), Some("NotAuthorizedException"));

    // This pool takes no guests.
    let error = identity.get_id().identity_pool_id(&identity_pool_id).send().await.unwrap_err().into_service_error();
    assert_eq!(
        refusal(&error),
        ("NotAuthorizedException".into(), "Unauthenticated access is not supported for this identity pool.".into())
    );
    // An authenticated identity's credentials need its login.
    let identity_id = get_id(id_token.clone()).await.unwrap().identity_id().unwrap().to_owned();
    let error = identity
        .get_credentials_for_identity()
        .identity_id(&identity_id)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(error.code(), Some("NotAuthorizedException"));
    assert!(error.message().unwrap().starts_with("Logins don't match."), "{error:?}");

    // Unknown and ill-formed pools and identities.
    let unknown = "us-east-1:00000000-0000-0000-0000-000000000000";
    let error = identity.get_id().identity_pool_id(unknown).send().await.unwrap_err().into_service_error();
    assert_eq!(refusal(&error), ("ResourceNotFoundException".into(), format!("IdentityPool '{unknown}' not found.")));
    let error = identity.get_id().identity_pool_id("us-east-1_NotAnIdentityPool").send().await.unwrap_err();
    assert_eq!(error.into_service_error().code(), Some("InvalidParameterException"));
    let error = identity.get_credentials_for_identity().identity_id(unknown).send().await.unwrap_err();
    assert_eq!(error.into_service_error().code(), Some("ResourceNotFoundException"));
    let error = identity.describe_identity_pool().identity_pool_id(unknown).send().await.unwrap_err();
    assert_eq!(error.into_service_error().code(), Some("ResourceNotFoundException"));

    // A deleted pool's identities get nothing more.
    identity.delete_identity_pool().identity_pool_id(&identity_pool_id).send().await.unwrap();
    let error = identity
        .get_credentials_for_identity()
        .identity_id(&identity_id)
        .logins(pool.provider(), &id_token)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(error.code(), Some("ResourceNotFoundException"), "{error:?}");

    // A user signed out everywhere: the pool checks tokens server side.
    let identity_pool_id = identity_pool(&identity, &pool, &pool.provider(), false).await;
    cognito_client(&auth)
        .admin_user_global_sign_out()
        .user_pool_id(&pool.pool_id)
        .username("grace")
        .send()
        .await
        .unwrap();
    let error = identity
        .get_id()
        .identity_pool_id(&identity_pool_id)
        .logins(pool.provider(), &id_token)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(error.code(), Some("NotAuthorizedException"), "{error:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn guests_get_the_guest_role_and_keep_their_identity_when_they_sign_in() {
    let state = tempfile::tempdir().unwrap();
    let nubo = Nubo::up(state.path()).await;
    let auth = nubo.http_url(ServiceName::Auth);
    let pool = user_pool(&nubo, "lin").await;
    let identity = cognito_identity_client(&auth);
    // The provider named as Amplify names it, by nubo's issuer.
    let (id_token, _) = sign_in(&nubo, &pool, &pool.client_id, "lin").await;
    let iss = payload(&id_token)["iss"].as_str().unwrap().to_owned();
    let identity_pool_id = identity_pool(&identity, &pool, iss.split_once("://").unwrap().1, true).await;

    let guest = identity.get_id().identity_pool_id(&identity_pool_id).send().await.unwrap();
    let guest_id = guest.identity_id().unwrap().to_owned();
    let issued = identity.get_credentials_for_identity().identity_id(&guest_id).send().await.unwrap();
    let caller = sts_client(&nubo.edge_url(), as_credentials(issued.credentials().unwrap()))
        .get_caller_identity()
        .send()
        .await
        .unwrap();
    assert_eq!(caller.arn(), Some("arn:aws:sts::000000000000:assumed-role/AppGuest/CognitoIdentityCredentials"));
    let open_id = identity.get_open_id_token().identity_id(&guest_id).send().await.unwrap();
    assert_eq!(payload(open_id.token().unwrap())["amr"], json!(["unauthenticated"]));

    // The guest signs in: the login is linked to the guest's identity,
    // which from then on is authenticated.
    let issued = identity
        .get_credentials_for_identity()
        .identity_id(&guest_id)
        .logins(pool.provider(), &id_token)
        .send()
        .await
        .unwrap();
    let caller = sts_client(&nubo.edge_url(), as_credentials(issued.credentials().unwrap()))
        .get_caller_identity()
        .send()
        .await
        .unwrap();
    assert_eq!(
        caller.arn(),
        Some("arn:aws:sts::000000000000:assumed-role/AppAuthenticated/CognitoIdentityCredentials")
    );
    let again =
        identity.get_id().identity_pool_id(&identity_pool_id).logins(pool.provider(), &id_token).send().await.unwrap();
    assert_eq!(again.identity_id(), Some(guest_id.as_str()));
    let error = identity.get_credentials_for_identity().identity_id(&guest_id).send().await.unwrap_err();
    assert_eq!(error.into_service_error().code(), Some("NotAuthorizedException"));
    let listed = identity.list_identities().identity_pool_id(&identity_pool_id).max_results(60).send().await.unwrap();
    let identities = listed.identities();
    assert_eq!(identities.len(), 1);
    assert_eq!(identities[0].logins(), [pool.provider()]);

    // A rules mapping sends the user elsewhere; with no rule matching and
    // ambiguity denied, no credentials.
    let rules = |value: &str| {
        aws_sdk_cognitoidentity::types::RulesConfigurationType::builder()
            .rules(
                aws_sdk_cognitoidentity::types::MappingRule::builder()
                    .claim("cognito:username")
                    .match_type(aws_sdk_cognitoidentity::types::MappingRuleMatchType::Equals)
                    .value(value)
                    .role_arn("arn:aws:iam::000000000000:role/Mapped")
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap()
    };
    for (username, expected) in [("lin", Some("Mapped")), ("someone-else", None)] {
        let mapping = RoleMapping::builder()
            .r#type(RoleMappingType::Rules)
            .ambiguous_role_resolution(aws_sdk_cognitoidentity::types::AmbiguousRoleResolutionType::Deny)
            .rules_configuration(rules(username))
            .build()
            .unwrap();
        identity
            .set_identity_pool_roles()
            .identity_pool_id(&identity_pool_id)
            .roles("authenticated", AUTH_ROLE)
            .role_mappings(format!("{}:{}", pool.provider(), pool.client_id), mapping)
            .send()
            .await
            .unwrap();
        let issued = identity
            .get_credentials_for_identity()
            .identity_id(&guest_id)
            .logins(pool.provider(), &id_token)
            .send()
            .await;
        match expected {
            Some(role) => {
                let caller = sts_client(&nubo.edge_url(), as_credentials(issued.unwrap().credentials().unwrap()))
                    .get_caller_identity()
                    .send()
                    .await
                    .unwrap();
                assert_eq!(
                    caller.arn(),
                    Some(format!("arn:aws:sts::000000000000:assumed-role/{role}/CognitoIdentityCredentials").as_str())
                );
            }
            None => assert_eq!(issued.unwrap_err().into_service_error().code(), Some("NotAuthorizedException")),
        }
    }
    // Without an unauthenticated role, guests get no credentials.
    identity
        .set_identity_pool_roles()
        .identity_pool_id(&identity_pool_id)
        .roles("authenticated", AUTH_ROLE)
        .send()
        .await
        .unwrap();
    let guest = identity.get_id().identity_pool_id(&identity_pool_id).send().await.unwrap();
    let error = identity
        .get_credentials_for_identity()
        .identity_id(guest.identity_id().unwrap())
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(error.code(), Some("InvalidIdentityPoolConfigurationException"), "{error:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn boto3_signs_in_through_an_identity_pool_and_uploads() {
    let state = tempfile::tempdir().unwrap();
    let nubo = Nubo::up(state.path()).await;
    s3_client(&nubo.http_url(ServiceName::Storage)).create_bucket().bucket("boto-uploads").send().await.unwrap();
    let boto = std::process::Command::new("python3")
        .arg(fixture("auth/boto3_identity.py"))
        .arg(nubo.http_url(ServiceName::Auth))
        .arg(nubo.edge_url())
        .env_clear()
        .env("PATH", path_with_python_tools())
        .env("HOME", state.path())
        .output()
        .unwrap();
    assert!(boto.status.success(), "{}", String::from_utf8_lossy(&boto.stderr));
    let answer: Value = serde_json::from_slice(&boto.stdout).unwrap();
    assert_eq!(answer["read_back"], "from boto3");
    assert_eq!(answer["caller"], "arn:aws:sts::000000000000:assumed-role/AppAuthenticated/CognitoIdentityCredentials");
    assert_eq!(answer["same_identity"], true);
    assert_eq!(answer["tampered"], "NotAuthorizedException");
    assert_eq!(answer["guest"], "NotAuthorizedException");
    // What boto3 wrote is there for the account's own key too.
    let read = s3_client(&nubo.http_url(ServiceName::Storage))
        .get_object()
        .bucket("boto-uploads")
        .key(answer["key"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(read.body.collect().await.unwrap().into_bytes().as_ref(), b"from boto3");
}
