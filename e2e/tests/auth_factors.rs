//! Sign-in beyond the password: `USER_AUTH`'s choice of first factor
//! (password or a code by email), TOTP MFA set up by the user and asked
//! for after the password, and `MFA_SETUP` when the pool requires MFA.
//! Codes come from `totp-rs` (the client tests in auth_clients.rs type
//! theirs with otplib and pyotp, which share nothing with the server).

use aws_sdk_cognitoidentityprovider::{
    Client,
    error::ProvideErrorMetadata,
    types::{
        AttributeType, AuthFactorType, AuthFlowType, ChallengeNameType, ExplicitAuthFlowsType, MessageActionType,
        SignInPolicyType, SoftwareTokenMfaConfigType, SoftwareTokenMfaSettingsType, UserPoolMfaType,
        UserPoolPolicyType,
    },
};
use nubo_e2e::{Nubo, auth::latest_code, cognito_client};
use nubo_host::ServiceName;

const PASSWORD: &str = "Correct-Horse-9";

fn totp_now(secret: &str) -> String {
    let bytes = totp_rs::Secret::Encoded(secret.to_owned()).to_bytes().unwrap();
    totp_rs::TOTP::new_unchecked(totp_rs::Algorithm::SHA1, 6, 1, 30, bytes).generate_current().unwrap()
}

/// The next 30-second step's code: a code is accepted once, so a second
/// use within one step waits for the next.
async fn fresh_totp(secret: &str, used: &mut Vec<String>) -> String {
    loop {
        let code = totp_now(secret);
        if !used.contains(&code) {
            used.push(code.clone());
            return code;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
}

async fn pool_and_client(cognito: &Client, policies: Option<UserPoolPolicyType>) -> (String, String) {
    let pool = cognito
        .create_user_pool()
        .pool_name("factors")
        .set_policies(policies)
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
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowUserAuth)
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowUserPasswordAuth)
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowRefreshTokenAuth)
        .send()
        .await
        .unwrap()
        .user_pool_client
        .unwrap()
        .client_id
        .unwrap();
    (pool, client)
}

async fn user(cognito: &Client, pool: &str, username: &str) {
    cognito
        .admin_create_user()
        .user_pool_id(pool)
        .username(username)
        .user_attributes(
            AttributeType::builder().name("email").value(format!("{username}@example.com")).build().unwrap(),
        )
        .user_attributes(AttributeType::builder().name("email_verified").value("true").build().unwrap())
        .message_action(MessageActionType::Suppress)
        .send()
        .await
        .unwrap();
    cognito
        .admin_set_user_password()
        .user_pool_id(pool)
        .username(username)
        .password(PASSWORD)
        .permanent(true)
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn user_auth_offers_the_pools_first_factors() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let nubo = Nubo::up(&state).await;
    let cognito = cognito_client(&nubo.http_url(ServiceName::Auth));
    let policy = UserPoolPolicyType::builder()
        .sign_in_policy(
            SignInPolicyType::builder()
                .allowed_first_auth_factors(AuthFactorType::Password)
                .allowed_first_auth_factors(AuthFactorType::EmailOtp)
                .build(),
        )
        .build();
    let (pool, client) = pool_and_client(&cognito, Some(policy)).await;
    user(&cognito, &pool, "jo").await;

    // A preferred factor with its proof goes straight to tokens.
    let direct = cognito
        .initiate_auth()
        .client_id(&client)
        .auth_flow(AuthFlowType::UserAuth)
        .auth_parameters("USERNAME", "jo")
        .auth_parameters("PREFERRED_CHALLENGE", "PASSWORD")
        .auth_parameters("PASSWORD", PASSWORD)
        .send()
        .await
        .unwrap();
    assert!(direct.authentication_result().is_some());

    // No preference: the choice, then a code by email.
    let choice = cognito
        .initiate_auth()
        .client_id(&client)
        .auth_flow(AuthFlowType::UserAuth)
        .auth_parameters("USERNAME", "jo")
        .send()
        .await
        .unwrap();
    assert_eq!(choice.challenge_name(), Some(&ChallengeNameType::SelectChallenge));
    let offered: Vec<&str> = choice.available_challenges().iter().map(|c| c.as_str()).collect();
    assert_eq!(offered, ["PASSWORD", "PASSWORD_SRP", "EMAIL_OTP"]);
    let emailed = cognito
        .respond_to_auth_challenge()
        .client_id(&client)
        .challenge_name(ChallengeNameType::SelectChallenge)
        .session(choice.session().unwrap())
        .challenge_responses("USERNAME", "jo")
        .challenge_responses("ANSWER", "EMAIL_OTP")
        .send()
        .await
        .unwrap();
    assert_eq!(emailed.challenge_name(), Some(&ChallengeNameType::EmailOtp));
    assert_eq!(emailed.challenge_parameters().unwrap()["CODE_DELIVERY_DESTINATION"], "j***@e***");
    let code = latest_code(&state, "jo", "Authentication").await;
    let respond = |code: &str| {
        cognito
            .respond_to_auth_challenge()
            .client_id(&client)
            .challenge_name(ChallengeNameType::EmailOtp)
            .session(emailed.session().unwrap())
            .challenge_responses("USERNAME", "jo")
            .challenge_responses("EMAIL_OTP_CODE", code)
            .send()
    };
    let wrong = respond("000000").await.unwrap_err();
    assert_eq!(wrong.code(), Some("CodeMismatchException"));
    let done = respond(&code).await.unwrap();
    assert!(done.authentication_result().unwrap().access_token().is_some());
    assert_eq!(respond(&code).await.unwrap_err().code(), Some("CodeMismatchException"), "a code is spent once");
}

#[tokio::test]
async fn totp_set_up_by_the_user_is_asked_for_after_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let nubo = Nubo::up(&dir.path().join("state")).await;
    let cognito = cognito_client(&nubo.http_url(ServiceName::Auth));
    let (pool, client) = pool_and_client(&cognito, None).await;
    cognito
        .set_user_pool_mfa_config()
        .user_pool_id(&pool)
        .software_token_mfa_configuration(SoftwareTokenMfaConfigType::builder().enabled(true).build())
        .mfa_configuration(UserPoolMfaType::Optional)
        .send()
        .await
        .unwrap();
    user(&cognito, &pool, "kim").await;
    let sign_in = || {
        cognito
            .initiate_auth()
            .client_id(&client)
            .auth_flow(AuthFlowType::UserPasswordAuth)
            .auth_parameters("USERNAME", "kim")
            .auth_parameters("PASSWORD", PASSWORD)
            .send()
    };
    let first = sign_in().await.unwrap();
    let access =
        first.authentication_result().expect("optional MFA, none set up: tokens").access_token().unwrap().to_owned();

    let secret = cognito
        .associate_software_token()
        .access_token(&access)
        .send()
        .await
        .unwrap()
        .secret_code()
        .unwrap()
        .to_owned();
    let mut used = Vec::new();
    let wrong = cognito.verify_software_token().access_token(&access).user_code("000000").send().await.unwrap_err();
    assert_eq!(wrong.code(), Some("EnableSoftwareTokenMFAException"));
    let verified = cognito
        .verify_software_token()
        .access_token(&access)
        .user_code(fresh_totp(&secret, &mut used).await)
        .send()
        .await
        .unwrap();
    assert_eq!(verified.status().map(|s| s.as_str()), Some("SUCCESS"));
    cognito
        .set_user_mfa_preference()
        .access_token(&access)
        .software_token_mfa_settings(SoftwareTokenMfaSettingsType::builder().enabled(true).preferred_mfa(true).build())
        .send()
        .await
        .unwrap();
    let me = cognito.get_user().access_token(&access).send().await.unwrap();
    assert_eq!(me.preferred_mfa_setting(), Some("SOFTWARE_TOKEN_MFA"));
    // A second factor nubo cannot ask for is refused, not recorded.
    let sms = cognito
        .set_user_mfa_preference()
        .access_token(&access)
        .sms_mfa_settings(aws_sdk_cognitoidentityprovider::types::SmsMfaSettingsType::builder().enabled(true).build())
        .send()
        .await
        .unwrap_err();
    assert_eq!(sms.into_service_error().meta().code(), Some("InvalidParameterException"));

    let challenged = sign_in().await.unwrap();
    assert_eq!(challenged.challenge_name(), Some(&ChallengeNameType::SoftwareTokenMfa));
    let answer = |code: String| {
        cognito
            .respond_to_auth_challenge()
            .client_id(&client)
            .challenge_name(ChallengeNameType::SoftwareTokenMfa)
            .session(challenged.session().unwrap())
            .challenge_responses("USERNAME", "kim")
            .challenge_responses("SOFTWARE_TOKEN_MFA_CODE", code)
            .send()
    };
    assert_eq!(answer("123456".into()).await.unwrap_err().code(), Some("CodeMismatchException"));
    let done = answer(fresh_totp(&secret, &mut used).await).await.unwrap();
    assert!(done.authentication_result().is_some());
}

#[tokio::test]
async fn a_pool_that_requires_mfa_has_new_users_set_it_up() {
    let dir = tempfile::tempdir().unwrap();
    let nubo = Nubo::up(&dir.path().join("state")).await;
    let cognito = cognito_client(&nubo.http_url(ServiceName::Auth));
    let (pool, client) = pool_and_client(&cognito, None).await;
    cognito
        .set_user_pool_mfa_config()
        .user_pool_id(&pool)
        .software_token_mfa_configuration(SoftwareTokenMfaConfigType::builder().enabled(true).build())
        .mfa_configuration(UserPoolMfaType::On)
        .send()
        .await
        .unwrap();
    user(&cognito, &pool, "lee").await;
    let setup = cognito
        .initiate_auth()
        .client_id(&client)
        .auth_flow(AuthFlowType::UserPasswordAuth)
        .auth_parameters("USERNAME", "lee")
        .auth_parameters("PASSWORD", PASSWORD)
        .send()
        .await
        .unwrap();
    assert_eq!(setup.challenge_name(), Some(&ChallengeNameType::MfaSetup));
    let associated = cognito.associate_software_token().session(setup.session().unwrap()).send().await.unwrap();
    let secret = associated.secret_code().unwrap();
    let mut used = Vec::new();
    let verified = cognito
        .verify_software_token()
        .session(associated.session().unwrap())
        .user_code(fresh_totp(secret, &mut used).await)
        .send()
        .await
        .unwrap();
    let premature = cognito
        .respond_to_auth_challenge()
        .client_id(&client)
        .challenge_name(ChallengeNameType::MfaSetup)
        .session(setup.session().unwrap())
        .challenge_responses("USERNAME", "lee")
        .send()
        .await;
    assert!(premature.is_err(), "the first session has not verified a factor");
    let done = cognito
        .respond_to_auth_challenge()
        .client_id(&client)
        .challenge_name(ChallengeNameType::MfaSetup)
        .session(verified.session().unwrap())
        .challenge_responses("USERNAME", "lee")
        .send()
        .await
        .unwrap();
    assert!(done.authentication_result().is_some());
}
