//! Two auth replicas over one data service, each its own `nubo serve`
//! process as compose runs them: any replica takes any step of a sign-in,
//! verifies the other's tokens, and a revocation or sign-out made through
//! one holds on the other at once.

use aws_sdk_cognitoidentityprovider::{
    error::ProvideErrorMetadata,
    types::{AttributeType, AuthFlowType, ChallengeNameType, ExplicitAuthFlowsType},
};
use nubo_e2e::{Ports, Process, ServiceName, credentials, try_wait_healthy};

const KEY: &str = "AKIDAUTHREPLICAS";
const SECRET: &str = "replica-secret";
const ISSUER: &str = "http://auth.replicas.test";

fn refused_with<T: std::fmt::Debug, E: ProvideErrorMetadata + std::fmt::Debug>(result: Result<T, E>) -> String {
    let error = result.expect_err("refused");
    format!("{}: {}", error.code().unwrap_or(""), error.message().unwrap_or(""))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_revocation_through_one_replica_holds_on_the_other() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, SECRET).unwrap();
    std::fs::write(dir.path().join("cluster-token"), "cluster-token-0123456789").unwrap();
    let common = |name: &str| -> Vec<(String, String)> {
        vec![
            ("NUBO_BIND_HOST".into(), "127.0.0.1".into()),
            ("NUBO_STATE_DIR".into(), dir.path().join(name).to_str().unwrap().into()),
            ("NUBO_CREDENTIALS__ACCESS_KEY_ID".into(), KEY.into()),
            ("NUBO_CREDENTIALS__SECRET_ACCESS_KEY_FILE".into(), secret.to_str().unwrap().into()),
            ("NUBO_CLUSTER__TOKEN_FILE".into(), dir.path().join("cluster-token").to_str().unwrap().into()),
        ]
    };
    let data_ports = Ports::free(ServiceName::Data);
    let mut data_env = common("data");
    data_env.extend(data_ports.env(ServiceName::Data));
    data_env.push(("NUBO_DATA__ENGINE".into(), "embedded".into()));
    let mut data = Process::spawn(&["serve", "--services", "data"], &data_env, dir.path().join("data.log"));
    try_wait_healthy(&mut data, &format!("http://127.0.0.1:{}", data_ports.http)).await.expect("data starts");

    let mut replicas = Vec::new();
    for name in ["auth-a", "auth-b"] {
        let ports = Ports::free(ServiceName::Auth);
        let mut env = common(name);
        env.extend(ports.env(ServiceName::Auth));
        env.push(("NUBO_LINKS__DATA".into(), format!("http://127.0.0.1:{}", data_ports.grpc)));
        env.push(("NUBO_AUTH__ISSUER".into(), ISSUER.into()));
        let mut process =
            Process::spawn(&["serve", "--services", "auth"], &env, dir.path().join(format!("{name}.log")));
        let url = format!("http://127.0.0.1:{}", ports.http);
        try_wait_healthy(&mut process, &url).await.expect("auth starts");
        replicas.push((process, nubo_e2e::cognito_client_with(&url, credentials(KEY, SECRET))));
    }
    let (a, b) = (&replicas[0].1, &replicas[1].1);

    let pool = a.create_user_pool().pool_name("replicated").send().await.unwrap().user_pool.unwrap().id.unwrap();
    let client = b
        .create_user_pool_client()
        .user_pool_id(&pool)
        .client_name("app")
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowUserPasswordAuth)
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowRefreshTokenAuth)
        .send()
        .await
        .unwrap()
        .user_pool_client
        .unwrap()
        .client_id
        .unwrap();
    a.admin_create_user()
        .user_pool_id(&pool)
        .username("ida")
        .temporary_password("Temporary-Pass-1")
        .user_attributes(AttributeType::builder().name("email").value("ida@example.com").build().unwrap())
        .send()
        .await
        .unwrap();

    // A challenge started on one replica is answered on the other.
    let started = a
        .initiate_auth()
        .client_id(&client)
        .auth_flow(AuthFlowType::UserPasswordAuth)
        .auth_parameters("USERNAME", "ida")
        .auth_parameters("PASSWORD", "Temporary-Pass-1")
        .send()
        .await
        .unwrap();
    assert_eq!(started.challenge_name(), Some(&ChallengeNameType::NewPasswordRequired));
    let done = b
        .respond_to_auth_challenge()
        .client_id(&client)
        .challenge_name(ChallengeNameType::NewPasswordRequired)
        .session(started.session().unwrap())
        .challenge_responses("USERNAME", "ida")
        .challenge_responses("NEW_PASSWORD", "Permanent-Pass-2")
        .send()
        .await
        .unwrap();
    let tokens = done.authentication_result().unwrap();
    let (access, refresh) = (tokens.access_token().unwrap(), tokens.refresh_token().unwrap());
    assert_eq!(a.get_user().access_token(access).send().await.unwrap().username(), "ida");

    let refresh_on = |replica: &aws_sdk_cognitoidentityprovider::Client| {
        replica
            .initiate_auth()
            .client_id(&client)
            .auth_flow(AuthFlowType::RefreshTokenAuth)
            .auth_parameters("REFRESH_TOKEN", refresh)
            .send()
    };
    let refreshed = refresh_on(b).await.unwrap();
    let refreshed_access = refreshed.authentication_result().unwrap().access_token().unwrap().to_owned();
    assert_eq!(
        jsonwebtoken::decode_header(&refreshed_access).unwrap().kid,
        jsonwebtoken::decode_header(access).unwrap().kid,
        "one pool, one signing key, whichever replica signs"
    );

    // Revoked through A: refused by B at once, and by A.
    a.revoke_token().client_id(&client).token(refresh).send().await.unwrap();
    assert_eq!(refused_with(refresh_on(b).await), "NotAuthorizedException: Refresh Token has been revoked");
    assert_eq!(refused_with(refresh_on(a).await), "NotAuthorizedException: Refresh Token has been revoked");
    assert_eq!(
        refused_with(b.get_user().access_token(&refreshed_access).send().await),
        "NotAuthorizedException: Access Token has been revoked"
    );

    // Signed out through B: A refuses the tokens of every session.
    let again = a
        .initiate_auth()
        .client_id(&client)
        .auth_flow(AuthFlowType::UserPasswordAuth)
        .auth_parameters("USERNAME", "ida")
        .auth_parameters("PASSWORD", "Permanent-Pass-2")
        .send()
        .await
        .unwrap();
    let access = again.authentication_result().unwrap().access_token().unwrap().to_owned();
    b.admin_user_global_sign_out().user_pool_id(&pool).username("ida").send().await.unwrap();
    assert_eq!(
        refused_with(a.get_user().access_token(&access).send().await),
        "NotAuthorizedException: Access Token has been revoked"
    );
}
