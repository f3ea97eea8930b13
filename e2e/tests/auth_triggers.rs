//! Cognito's Lambda triggers, run through nubo's functions: one Python
//! function (`fixtures/auth/triggers`) is every trigger of a pool, and
//! each test sees what its trigger changed.

use aws_sdk_cognitoidentityprovider::{
    Client,
    error::ProvideErrorMetadata,
    types::{
        AttributeType, AuthFlowType, ChallengeNameType, ExplicitAuthFlowsType, LambdaConfigType,
        PreTokenGenerationLambdaVersionType, PreTokenGenerationVersionConfigType, VerifiedAttributeType,
    },
};
use nubo_e2e::{
    Nubo,
    auth::{claims, latest_code, messages},
    cognito_client, lambda_client,
};
use nubo_host::ServiceName;

const PASSWORD: &str = "Correct-Horse-9";
const FUNCTION: &str = "cognito-triggers";

fn attribute(name: &str, value: &str) -> AttributeType {
    AttributeType::builder().name(name).value(value).build().unwrap()
}

async fn pool_with_triggers(nubo: &Nubo) -> (Client, String, String) {
    let lambda = lambda_client(&nubo.http_url(ServiceName::Functions));
    let created = lambda
        .create_function()
        .function_name(FUNCTION)
        .runtime(aws_sdk_lambda::types::Runtime::Python312)
        .role("arn:aws:iam::000000000000:role/cognito-triggers")
        .handler("app.handler")
        .code(
            aws_sdk_lambda::types::FunctionCode::builder()
                .zip_file(aws_sdk_lambda::primitives::Blob::new(nubo_e2e::package("auth/triggers")))
                .build(),
        )
        .send()
        .await
        .unwrap();
    let arn = created.function_arn().unwrap().to_owned();
    let cognito = cognito_client(&nubo.http_url(ServiceName::Auth));
    let triggers = LambdaConfigType::builder()
        .pre_sign_up(&arn)
        .post_confirmation(&arn)
        .pre_authentication(&arn)
        .custom_message(&arn)
        .define_auth_challenge(&arn)
        .create_auth_challenge(&arn)
        .verify_auth_challenge_response(&arn)
        .pre_token_generation_config(
            PreTokenGenerationVersionConfigType::builder()
                .lambda_version(PreTokenGenerationLambdaVersionType::V20)
                .lambda_arn(&arn)
                .build()
                .unwrap(),
        )
        .build();
    let pool = cognito
        .create_user_pool()
        .pool_name("triggered")
        .auto_verified_attributes(VerifiedAttributeType::Email)
        .lambda_config(triggers)
        .schema(
            aws_sdk_cognitoidentityprovider::types::SchemaAttributeType::builder()
                .name("tier")
                .attribute_data_type(aws_sdk_cognitoidentityprovider::types::AttributeDataType::String)
                .build(),
        )
        .send()
        .await
        .unwrap()
        .user_pool
        .unwrap()
        .id
        .unwrap();
    let client = cognito
        .create_user_pool_client()
        .user_pool_id(&pool)
        .client_name("app")
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowUserPasswordAuth)
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowCustomAuth)
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowRefreshTokenAuth)
        .send()
        .await
        .unwrap()
        .user_pool_client
        .unwrap()
        .client_id
        .unwrap();
    (cognito, pool, client)
}

async fn sign_up(cognito: &Client, client: &str, username: &str, email: &str) -> Result<bool, (String, String)> {
    cognito
        .sign_up()
        .client_id(client)
        .username(username)
        .password(PASSWORD)
        .user_attributes(attribute("email", email))
        .user_attributes(attribute("given_name", "Tess"))
        .send()
        .await
        .map(|output| output.user_confirmed())
        .map_err(|error| (error.code().unwrap_or("").to_owned(), error.message().unwrap_or("").to_owned()))
}

async fn password_sign_in(
    cognito: &Client,
    client: &str,
    username: &str,
) -> Result<(String, String), (String, String)> {
    let output = cognito
        .initiate_auth()
        .client_id(client)
        .auth_flow(AuthFlowType::UserPasswordAuth)
        .auth_parameters("USERNAME", username)
        .auth_parameters("PASSWORD", PASSWORD)
        .send()
        .await
        .map_err(|error| (error.code().unwrap_or("").to_owned(), error.message().unwrap_or("").to_owned()))?;
    let tokens = output.authentication_result().unwrap();
    Ok((tokens.id_token().unwrap().to_owned(), tokens.access_token().unwrap().to_owned()))
}

#[tokio::test]
async fn each_trigger_changes_what_it_should() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let nubo = Nubo::up(&state).await;
    let (cognito, pool, client) = pool_with_triggers(&nubo).await;

    // Pre sign-up: refuses one address, confirms and verifies another.
    let refused = sign_up(&cognito, &client, "blocked", "blocked@example.com").await.unwrap_err();
    assert_eq!(refused.0, "UserLambdaValidationException");
    assert!(
        refused.1.contains("PreSignUp failed with error sign-ups from blocked addresses are refused"),
        "{refused:?}"
    );
    assert!(sign_up(&cognito, &client, "auto", "auto@auto.example").await.unwrap(), "the trigger confirmed the user");
    let user = cognito.admin_get_user().user_pool_id(&pool).username("auto").send().await.unwrap();
    assert!(user.user_attributes().iter().any(|a| a.name() == "email_verified" && a.value() == Some("true")));

    // Custom message: the code goes out in the trigger's words.
    assert!(!sign_up(&cognito, &client, "tess", "tess@example.com").await.unwrap());
    let code = latest_code(&state, "tess", "SignUp").await;
    let sent = messages(&state).into_iter().rev().find(|m| m["username"] == "tess").unwrap();
    assert_eq!(sent["text"], format!("Welcome aboard! Your code is {code}"));

    // Post confirmation: a failing function fails the confirmation.
    assert!(!sign_up(&cognito, &client, "postfail", "postfail@example.com").await.unwrap());
    let code_of_postfail = latest_code(&state, "postfail", "SignUp").await;
    let failed = cognito
        .confirm_sign_up()
        .client_id(&client)
        .username("postfail")
        .confirmation_code(&code_of_postfail)
        .send()
        .await;
    let error = failed.unwrap_err();
    assert_eq!(error.code(), Some("UserLambdaValidationException"));
    assert!(error.message().unwrap().contains("post confirmation saw postfail@example.com"));
    cognito.confirm_sign_up().client_id(&client).username("tess").confirmation_code(&code).send().await.unwrap();

    // Pre token generation (event version 2): claims added, suppressed,
    // groups overridden, a scope added; `iss` stays the pool's.
    let (id, access) = password_sign_in(&cognito, &client, "tess").await.unwrap();
    let (id, access) = (claims(&id), claims(&access));
    assert_eq!(id["department"], "research");
    assert!(id.get("given_name").is_none(), "suppressed: {id}");
    assert!(id["iss"].as_str().unwrap().ends_with(&pool), "a trigger cannot change iss: {id}");
    assert_eq!(id["cognito:groups"], serde_json::json!(["from-trigger"]));
    assert_eq!(access["tenant"], "t-1");
    assert_eq!(access["scope"], "aws.cognito.signin.user.admin suite/extra");

    // Pre authentication: refuses a banned user before any token.
    cognito
        .admin_update_user_attributes()
        .user_pool_id(&pool)
        .username("tess")
        .user_attributes(attribute("custom:tier", "banned"))
        .send()
        .await
        .unwrap();
    let refused = password_sign_in(&cognito, &client, "tess").await.unwrap_err();
    assert_eq!(refused.0, "UserLambdaValidationException");
    assert!(refused.1.contains("banned users may not sign in"), "{refused:?}");
}

#[tokio::test]
async fn custom_auth_runs_the_three_challenge_triggers() {
    let dir = tempfile::tempdir().unwrap();
    let nubo = Nubo::up(&dir.path().join("state")).await;
    let (cognito, _pool, client) = pool_with_triggers(&nubo).await;
    assert!(sign_up(&cognito, &client, "quiz", "quiz@auto.example").await.unwrap());
    let start = || {
        cognito
            .initiate_auth()
            .client_id(&client)
            .auth_flow(AuthFlowType::CustomAuth)
            .auth_parameters("USERNAME", "quiz")
            .send()
    };

    let challenge = start().await.unwrap();
    assert_eq!(challenge.challenge_name(), Some(&ChallengeNameType::CustomChallenge));
    assert_eq!(challenge.challenge_parameters().unwrap()["question"], "2+2");
    let answer = |session: &str, answer: &str| {
        cognito
            .respond_to_auth_challenge()
            .client_id(&client)
            .challenge_name(ChallengeNameType::CustomChallenge)
            .session(session)
            .challenge_responses("USERNAME", "quiz")
            .challenge_responses("ANSWER", answer)
            .send()
    };
    let right = answer(challenge.session().unwrap(), "4").await.unwrap();
    let tokens = right.authentication_result().expect("a right answer issues tokens");
    assert_eq!(claims(tokens.id_token().unwrap())["cognito:username"], "quiz");

    // Three wrong answers and the define trigger fails the sign-in.
    let mut session = start().await.unwrap().session().unwrap().to_owned();
    for _ in 0..2 {
        let next = answer(&session, "5").await.unwrap();
        assert_eq!(next.challenge_name(), Some(&ChallengeNameType::CustomChallenge), "another try");
        session = next.session().unwrap().to_owned();
    }
    let failed = answer(&session, "5").await.unwrap_err();
    assert_eq!(failed.code(), Some("NotAuthorizedException"));

    // A session is good for its own challenge only.
    let (code, _) = match answer("not-a-session", "4").await {
        Err(error) => (error.code().unwrap_or("").to_owned(), ()),
        Ok(_) => panic!("a forged session is refused"),
    };
    assert_eq!(code, "NotAuthorizedException");
}
